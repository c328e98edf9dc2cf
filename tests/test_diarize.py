"""Embedded diarization (the default, and the resemblyzer alternative where named) on recordings other than
pyannote's sample (that one is scored end to end in test_process.py): a synthetic three-voice conversation
and a one-voice monologue made with espeak-ng, scored with pyannote.metrics. The number of speakers is
never given, except where a test says so. Real meetings: tests/test_diarizer.py."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pipeline.audio.decode import decode
from pipeline.audio.diarize import DiarizeOptions, SpeakerCount, Turn, diarize, speaker_embeddings, to_annotation
from pipeline.audio.diarize_resemblyzer import cluster, window_embeddings

VOICES = {"A": ["-v", "en-us+m3", "-p", "25", "-s", "145"], "B": ["-v", "en-gb+f4", "-p", "75", "-s", "165"],
          "C": ["-v", "en-029+m1", "-p", "50", "-s", "125"]}
LINES = [("A", "Good morning everyone, welcome to the show about machine learning research."),
         ("B", "Thank you for having me, I am presenting our paper on efficient fine tuning."),
         ("A", "Tell us what problem you set out to solve in this work."),
         ("B", "Large models are expensive to adapt, so we quantize the base weights to four bits."),
         ("C", "And I helped with the evaluation, which covered many chat benchmarks."),
         ("A", "That sounds great, how does it compare with full fine tuning?"),
         ("C", "It matches sixteen bit performance on most of the tasks we tried."),
         ("B", "Exactly, and it fits on a single consumer graphics card.")]


def conversation(d: Path, name: str, lines, pause: float = 0.6) -> tuple[Path, list[Turn]]:
    """Speak ``lines`` with espeak-ng voices, joined by pauses; return the WAV and reference turns."""
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng missing: run `make install` (system-deps)")
    parts, turns, t = [], [], 0.0
    for i, (spk, text) in enumerate(lines):
        raw, pad = d / f"{name}{i}.wav", d / f"{name}{i}p.wav"
        subprocess.run(["espeak-ng", *VOICES[spk], "-w", str(raw), text], check=True)
        dur = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                                    str(raw)], capture_output=True, text=True, check=True).stdout)
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(raw), "-af", f"apad=pad_dur={pause}", "-ar", "16000",
                        "-ac", "1", str(pad)], check=True)
        turns.append(Turn(t, t + dur, spk))
        t += dur + pause
        parts.append(pad)
    listing = d / f"{name}.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in parts))
    out = d / f"{name}.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), str(out)], check=True)
    return out, turns


@pytest.fixture(scope="module")
def three(tmp_path_factory):
    d = tmp_path_factory.mktemp("three")
    wav, ref = conversation(d, "three", LINES)
    return decode(wav, d / "cache"), ref, d / "cache"


def der(ref: list[Turn], hyp: list[Turn]) -> float:
    from pyannote.metrics.diarization import DiarizationErrorRate

    return DiarizationErrorRate(collar=0.25)(to_annotation(ref, "x"), to_annotation(hyp, "x"))


def test_three_voices_found_without_being_told(three):
    """espeak-ng's voices are one family to CAM++ (the embedded backend's largest merge distance between
    them is 0.72, under its threshold for real voices, 0.875): the resemblyzer backend tells them apart."""
    audio, ref, cache = three
    turns = diarize(audio, DiarizeOptions(backend="resemblyzer"), cache)
    assert len({t.speaker for t in turns}) == 3
    assert der(ref, turns) <= 0.15
    assert turns[0].speaker == "SPEAKER_00" and all(a.end <= b.start + 1e-6 for a, b in zip(turns, turns[1:]))
    rttm = to_annotation(turns, "three")
    assert len(rttm.labels()) == 3


def test_speaker_count_options_and_prior_resemblyzer(three):
    audio, _, cache = three
    _, _, emb = window_embeddings(audio, None)
    assert len(set(cluster(emb, SpeakerCount(num=2)).tolist())) == 2
    assert len(set(cluster(emb, SpeakerCount(max=2)).tolist())) == 2
    assert len(set(cluster(emb, SpeakerCount(prior=3)).tolist())) == 3
    assert len(set(cluster(emb, SpeakerCount(num=1)).tolist())) == 1
    turns = diarize(audio, DiarizeOptions(backend="resemblyzer"), cache)
    assert len({t.speaker for t in turns}) == 3


@pytest.mark.parametrize("backend", ["embedded", "resemblyzer"])
def test_one_voice_is_one_speaker(tmp_path, backend):
    lines = [("A", text) for _, text in LINES[:5]]
    wav, ref = conversation(tmp_path, "mono", lines)
    turns = diarize(decode(wav, tmp_path), DiarizeOptions(backend=backend), tmp_path)
    assert {t.speaker for t in turns} == {"SPEAKER_00"}
    assert der(ref, turns) <= 0.1


def test_voice_embeddings_recognise_the_same_voice(three):
    audio, ref, _ = three
    first = [t for t in ref if t.start < 20]
    second = [t for t in ref if t.start >= 20]
    e1 = speaker_embeddings(audio.samples(), audio.sr, first)
    e2 = speaker_embeddings(audio.read(), audio.sr, second)  # int16 memmap or float32 both work
    assert set(e1) == {"A", "B"} and set(e2) == {"A", "B", "C"}
    for v in [*e1.values(), *e2.values()]:
        assert v.shape == (192,) and abs(np.linalg.norm(v) - 1) < 1e-5
    for spk in ("A", "B"):  # each voice is closest to itself in the other half
        sims = {other: float(e1[spk] @ e2[other]) for other in e2}
        assert max(sims, key=sims.get) == spk


def test_none_backend_is_one_turn(three):
    audio, _, cache = three
    assert diarize(audio, DiarizeOptions(backend="none"), cache) == [Turn(0.0, audio.duration, "SPEAKER_00")]


@pytest.mark.parametrize("cut, speakers", [("second-half", 2), ("one-voice", 1)])
def test_short_cuts_of_real_speech_are_counted_right(sample_wav, sample_rttm, tmp_path, cut, speakers):
    """15 s or less of real speech: the pruned affinity keeps enough neighbours per window that one
    voice is not split into several (the 15%-of-windows rule alone found 6 and 7 here)."""
    rows = [line.split() for line in sample_rttm.read_text().splitlines() if line.strip()]
    ref = [(float(r[3]), float(r[3]) + float(r[4]), r[7]) for r in rows]
    wav = tmp_path / f"{cut}.wav"
    if cut == "second-half":
        args = ["-ss", "15"]
    else:  # the longest turns of the second voice, trimmed clear of the first voice
        keep = "+".join(f"between(t,{s + 0.3:.2f},{e - 0.3:.2f})" for s, e, k in ref if k == ref[-2][2] and e - s > 2)
        args = ["-af", f"aselect='{keep}',asetpts=N/SR/TB"]
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(sample_wav), *args, "-ar", "16000", "-ac", "1", str(wav)],
                   check=True)
    turns = diarize(decode(wav, tmp_path), DiarizeOptions(), tmp_path)
    assert len({t.speaker for t in turns}) == speakers
