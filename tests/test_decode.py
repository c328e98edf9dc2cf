"""Decoding real files with ffmpeg, and every way an input can be unusable: a clear one-line error,
exit 1, content/ unchanged (silence: a correct empty result)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from pipeline.audio.decode import MIN_SECONDS, SAMPLE_RATE, decode, probe
from pipeline.errors import InputError
from tests.conftest import content_snapshot


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True)


@pytest.fixture(scope="module")
def bad(tmp_path_factory, sample_wav) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    files = {"zero": d / "zero.wav", "text": d / "notes.wav", "trunc": d / "trunc.mp3", "video": d / "video.mp4",
             "short": d / "short.wav", "silence": d / "silence.flac", "mp3": d / "sample.mp3"}
    files["zero"].write_bytes(b"")
    files["text"].write_text("These are my notes, not audio.\n")
    ffmpeg("-i", str(sample_wav), "-b:a", "64k", str(files["mp3"]))
    files["trunc"].write_bytes(files["mp3"].read_bytes()[:60000])  # a download cut off after ~7 s of 30 s
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x64:rate=5", "-t", "2", "-pix_fmt", "yuv420p", str(files["video"]))
    ffmpeg("-i", str(sample_wav), "-t", "0.2", str(files["short"]))
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo", "-t", "4", str(files["silence"]))
    return files


def test_decode_streams_to_16k_mono_and_reuses_the_cache(tmp_path, bad, sample_wav):
    a = decode(bad["mp3"], tmp_path)
    assert a.sr == SAMPLE_RATE and abs(a.duration - 30.0) < 0.1 and not a.silent
    x = a.read(10.0, 11.0)
    assert x.dtype == np.float32 and len(x) == SAMPLE_RATE and 0.01 < np.abs(x).max() <= 1.0
    assert isinstance(a.samples(), np.memmap)
    w = decode(sample_wav, tmp_path)
    # the mp3 and the wav hold the same speech: their loudness envelopes (0.5 s) agree
    def envelope(x: np.ndarray) -> np.ndarray:
        n = len(x) // 8000
        return np.sqrt((x[: n * 8000].reshape(n, 8000) ** 2).mean(axis=1))

    ea, ew = envelope(a.read()), envelope(w.read())
    assert np.corrcoef(ea[:59], ew[:59])[0, 1] > 0.98
    again = decode(bad["mp3"], tmp_path)
    assert again == a  # same cached file, nothing decoded twice


@pytest.mark.parametrize("name, problem", [
    ("zero", "empty file (0 bytes)"),
    ("text", "not a readable audio or video file (Invalid data found when processing input)"),
    ("trunc", "truncated or corrupt: only"),
    ("video", "has no audio stream (found: video)"),
    ("short", f"too short to process (0.20 s of audio; recap needs at least {MIN_SECONDS} s)"),
])
def test_bad_inputs_fail_with_one_line(tmp_path, bad, name, problem):
    with pytest.raises(InputError) as err:
        decode(bad[name], tmp_path)
    assert err.value.message.startswith(f"{bad[name]}: {problem}")
    assert "\n" not in err.value.message


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        probe(tmp_path / "nope.wav")


def test_silence_is_detected(tmp_path, bad):
    a = decode(bad["silence"], tmp_path)
    assert a.silent and abs(a.duration - 4.0) < 0.05


@pytest.mark.parametrize("name", ["zero", "text", "trunc", "video", "short"])
def test_cli_bad_audio_exits_1_and_leaves_content_unchanged(run_cli, project, bad, name):
    root = project.root / "content"
    before = content_snapshot(root)
    res = run_cli("process", bad[name], "--episode", "bad-audio")
    assert res.exit_code == 1
    assert res.output.strip().splitlines()[-1].startswith(f"Error: {bad[name]}: ")
    assert content_snapshot(root) == before


def test_cli_silence_gives_an_empty_episode(run_cli, project, bad):
    res = run_cli("process", bad["silence"], "--episode", "quiet")
    assert res.exit_code == 0, res.output
    assert "no speech found: the recording is silent" in res.output
    ep = project.content.load_episode("quiet")
    assert ep.transcript.utterances == [] and abs(ep.duration - 4.0) < 0.05
