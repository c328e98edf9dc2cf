"""recap batch on real audio: a real Ray cluster joined by address (token auth) gives the same content/
as the local process pool; a corrupt file is reported and the others land; a batch killed midway
and run again redoes no finished recording.

Recordings: pyannote's real 30 s two-speaker sample and two overlapping cuts of it made with ffmpeg.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import content_snapshot

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent
SLUGS = ["sample", "cut-a", "cut-b"]


@pytest.fixture(scope="module")
def recordings(tmp_path_factory, sample_wav: Path) -> list[Path]:
    d = tmp_path_factory.mktemp("recordings")
    shutil.copy(sample_wav, d / "sample.wav")
    for name, start, length in (("cut-a", 0, 19), ("cut-b", 11, 19)):
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", str(start), "-t", str(length), "-i", str(sample_wav),
                        "-ac", "1", "-ar", "16000", str(d / f"{name}.wav")], check=True)
    (d / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + secrets.token_bytes(4000))
    return [d / "sample.wav", d / "cut-a.wav", d / "cut-b.wav", d / "corrupt.wav"]


def _new_project(root: Path) -> Path:
    from pipeline.config import init_project

    init_project(root, title="Batch")
    return root


def _cli(project: Path, *args: str):
    from click.testing import CliRunner

    from pipeline.cli import main

    return CliRunner().invoke(main, ["-C", str(project), *map(str, args)], catch_exceptions=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_head(tmp_path: Path, monkeypatch):
    """A real Ray head node (`ray start --head --block`) on 127.0.0.1 with token authentication."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:  # not imported here: Ray reads RAY_AUTH_MODE on import
        pytest.skip("ray is not installed (make install adds the ray extra)")
    token = secrets.token_hex(32)
    port = _free_port()
    env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "RAY_USAGE_STATS_ENABLED": "0"}
    log = open(tmp_path / "ray-head.log", "wb")
    ray_tmp = tempfile.mkdtemp(prefix="ray-", dir="/tmp")  # Ray's socket paths must stay under 107 bytes
    head = subprocess.Popen([str(VENV_BIN / "ray"), "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
                             "--port", str(port), "--num-cpus", "2", "--include-dashboard=false",
                             "--disable-usage-stats", "--temp-dir", ray_tmp],
                            env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 90
    while b"Ray runtime started" not in (tmp_path / "ray-head.log").read_bytes():
        if head.poll() is not None or time.time() > deadline:
            pytest.fail(f"ray head did not start:\n{(tmp_path / 'ray-head.log').read_text()[-2000:]}")
        time.sleep(0.5)
    monkeypatch.setenv("RAY_AUTH_TOKEN", token)
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)  # recap sets it when joining by address
    try:
        yield f"127.0.0.1:{port}"
    finally:
        head.send_signal(signal.SIGTERM)  # --block: the head stops its own processes
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(ray_tmp, ignore_errors=True)


def test_ray_cluster_matches_local_pool_and_isolates_a_corrupt_file(tmp_path: Path, recordings, ray_head) -> None:
    local = _new_project(tmp_path / "local")
    res = _cli(local, "batch", *recordings, "--workers", "2")
    assert res.exit_code == 1, res.output
    assert re.search(r"corrupt\.wav: .*(corrupt|not|invalid|decode|audio)", res.output, re.I), res.output
    assert "3 done, 0 skipped, 1 failed" in res.output

    on_ray = _new_project(tmp_path / "ray")
    res = _cli(on_ray, "batch", *recordings, "--executor", "ray", "--address", ray_head, "--retries", "1")
    assert res.exit_code == 1, res.output
    assert "3 done, 0 skipped, 1 failed" in res.output
    assert os.environ.get("RAY_AUTH_MODE") == "token"  # set for the explicit-address join

    from pipeline.config import open_project

    for proj in (local, on_ray):
        store = open_project(proj).content
        assert store.episode_slugs() == sorted(SLUGS)  # the corrupt file left nothing behind
        for slug in SLUGS:
            ep = store.load_episode(slug)
            assert ep.transcript.utterances and len({u.speaker for u in ep.transcript.utterances}) >= 1
    a, b = content_snapshot(local / "content"), content_snapshot(on_ray / "content")
    assert a.keys() == b.keys()
    different = [k for k in a if a[k] != b[k]]
    assert not different, f"ray and local runs differ in {different}"


def test_killed_batch_resumes_without_redoing_finished_recordings(tmp_path: Path, recordings) -> None:
    proj = _new_project(tmp_path / "proj")
    markers = proj / "content" / ".recap" / "batch"
    two = recordings[1:3]  # the two cuts, one after the other
    cmd = [str(VENV_BIN / "recap"), "-C", str(proj), "batch", *map(str, two), "--workers", "1"]
    first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 240
    while not (markers.is_dir() and any(markers.glob("*.json"))):
        assert first.poll() is None, first.stdout.read().decode()
        assert time.time() < deadline, "no recording finished in time"
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)  # the driver and its workers, mid-batch
    first.wait()
    finished = sorted(p.stem for p in markers.glob("*.json"))
    assert finished == ["cut-a"]
    before = {s: (markers / f"{s}.json").read_bytes() for s in finished}

    res = _cli(proj, "-v", "batch", *two, "--workers", "1")
    assert res.exit_code == 0, res.output
    for slug in finished:
        assert f"skipped {slug}: already processed" in res.output
        assert f"done {slug} " not in res.output  # no worker touched it again
        assert (markers / f"{slug}.json").read_bytes() == before[slug]
    assert "done cut-b " in res.output
    assert "1 done, 1 skipped, 0 failed" in res.output
