"""Bad audio through the real `recap` executable (tests/test_decode.py covers the decoder and the
CliRunner path for empty, text, truncated, video-only, 0.2 s and short silent files).

Here, as a user would see it in a terminal: an hour of silence (a correct empty episode, no model
run on it), a file that disappears while recap works on it, a missing file, a folder, and a file
name with a newline and a leading dash. Each ends with exit 0 and a correct result, or exit 1 and a
single ``Error: <file>: <problem>`` line; never a traceback; content/ unchanged after a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import content_snapshot as _snapshot
from tests.test_interrupt import check_tree

RECAP = str(Path(sys.executable).with_name("recap"))


def content_snapshot(root: Path) -> dict[str, bytes]:
    """content/ without lock files (an empty .recap/locks/<slug>.lock may stay after a run: not content)."""
    return {k: v for k, v in _snapshot(root).items() if not k.startswith(".recap/locks/")}


def recap(root: Path, *args, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([RECAP, "-C", str(root), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def one_error_line(res: subprocess.CompletedProcess, path: Path) -> str:
    out = res.stdout + res.stderr
    assert "Traceback" not in out, out
    errors = [ln for ln in out.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1, out
    assert str(path).splitlines()[0] in errors[0] or path.name.splitlines()[0] in errors[0], errors[0]
    return errors[0]


def test_an_hour_of_silence_is_an_empty_episode(project, tmp_path):
    silence = tmp_path / "hour.flac"
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono",
                    "-t", "3600", str(silence)], check=True)
    started = time.monotonic()
    res = recap(project.root, "process", silence, "--episode", "quiet-hour")
    took = time.monotonic() - started
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    ep = project.content.load_episode("quiet-hour")
    assert ep.transcript.utterances == [] and abs(ep.duration - 3600) < 1
    assert took < 240, f"an hour of silence took {took:.0f} s: no model should run on it"
    check_tree(project.root)


@pytest.mark.parametrize("kind", ["missing", "folder", "odd-name"])
def test_unusable_paths(project, tmp_path, kind):
    path = {"missing": tmp_path / "nope.wav", "folder": tmp_path, "odd-name": tmp_path / "-odd\nname.wav"}[kind]
    if kind == "odd-name":
        path.write_text("not audio")
    before = content_snapshot(project.root / "content")
    res = recap(project.root, "process", "--episode", "bad", "--", path) if kind == "odd-name" else \
        recap(project.root, "process", path, "--episode", "bad")
    assert res.returncode in (1, 2), res.stdout + res.stderr
    line = one_error_line(res, path)
    assert "\n" not in line
    assert content_snapshot(project.root / "content") == before


@pytest.mark.slow
def test_file_disappearing_mid_run(project, tmp_path, sample_wav):
    """Deleted (and replaced by garbage) while recap decodes or transcribes it: recap either finishes
    from what it already read, or stops with one line; content/ stays valid either way."""
    audio = tmp_path / "talk.wav"
    shutil.copy(sample_wav, audio)
    before = content_snapshot(project.root / "content")
    proc = subprocess.Popen([RECAP, "-C", str(project.root), "process", str(audio), "--episode", "gone"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1.0)
    os.unlink(audio)
    audio.write_bytes(b"RIFF" + os.urandom(2000))  # a different, broken file under the same name
    out, _ = proc.communicate(timeout=600)
    assert "Traceback" not in out, out
    if proc.returncode:
        assert proc.returncode == 1 and [ln for ln in out.splitlines() if ln.startswith("Error:")], out
        assert content_snapshot(project.root / "content") == before
    else:
        assert project.content.load_episode("gone").transcript.utterances
    check_tree(project.root)
    # and the re-run on the now-broken file fails cleanly without touching the episode
    snap = content_snapshot(project.root / "content")
    res = recap(project.root, "process", audio, "--episode", "gone")
    if res.returncode:
        one_error_line(res, audio)
        assert content_snapshot(project.root / "content") == snap
