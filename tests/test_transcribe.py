"""Transcription: the real bundled tiny.en on pyannote's sample, the vocabulary prompt, chunk
planning, and the guards against loops and text over silence (planted faults)."""

from __future__ import annotations

import re

import jiwer
import numpy as np
import pytest

from pipeline.audio.decode import SAMPLE_RATE, decode
from pipeline.audio.transcribe import (
    PROMPT_TOKENS,
    TranscribeOptions,
    build_hotwords,
    flag_segments,
    max_ngram_repeat,
    plan_chunks,
    transcribe,
)
from pipeline.models import Segment


def norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def stm_text(stm) -> str:
    return " ".join(line.split(None, 5)[5] for line in stm.read_text().splitlines() if line.strip())


def test_real_transcription_of_the_sample(tmp_path, sample_wav, sample_stm):
    audio = decode(sample_wav, tmp_path)
    segments, label = transcribe(audio, TranscribeOptions(), tmp_path)
    assert label.startswith("tiny.en")
    hyp = " ".join(s.text for s in segments)
    assert jiwer.wer(norm(stm_text(sample_stm)), norm(hyp)) <= 0.20
    words = [w for s in segments for w in s.words]
    assert all(type(v) is float for w in words for v in (w.start, w.end, w.probability))  # no numpy floats leak
    assert all(a.start <= b.start for a, b in zip(words, words[1:]))
    assert not any(s.flags for s in segments if "Chicago" in s.text)
    # a second call reuses the finished result: no model work at all
    log = (next((tmp_path / "transcribe").iterdir()) / "log.txt").read_text().splitlines()
    again, _ = transcribe(audio, TranscribeOptions(), tmp_path)
    assert again == segments
    assert (next((tmp_path / "transcribe").iterdir()) / "log.txt").read_text().splitlines() == log


def test_planted_loop_inside_a_segment_is_flagged():
    segs = [Segment(0.0, 9.0, "and then we trained the model and then we trained the model "
                    "and then we trained the model and then we trained the model", avg_logprob=-0.3,
                    no_speech_prob=0.1, compression_ratio=1.2),
            Segment(9.0, 11.0, "No, no, no, that's wrong.", avg_logprob=-0.3, no_speech_prob=0.1, compression_ratio=1.0)]
    flag_segments(segs)
    assert "repetition" in segs[0].flags
    assert segs[1].flags == []  # "no, no, no" is speech, not a loop


def test_planted_loop_across_segments_is_flagged():
    texts = ["Hello?", "Hello?", "Okay then."] + ["Thank you."] * 4 + ["Next question."]
    segs = [Segment(float(i), i + 0.9, t, avg_logprob=-0.2, no_speech_prob=0.05, compression_ratio=1.0)
            for i, t in enumerate(texts)]
    flag_segments(segs)
    assert [("repetition" in s.flags) for s in segs] == [False, False, False, True, True, True, True, False]


def test_text_over_silence_and_low_confidence(tmp_path):
    import subprocess

    wav = tmp_path / "half.wav"
    # 2 s of tone, then 3 s of digital silence
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=frequency=300:duration=2",
                    "-af", "apad=pad_dur=3", str(wav)], check=True)
    audio = decode(wav, tmp_path)
    segs = [Segment(0.2, 1.8, "a real sentence", avg_logprob=-0.4, no_speech_prob=0.1, compression_ratio=1.0),
            Segment(2.5, 4.8, "Thanks for watching!", avg_logprob=-0.5, no_speech_prob=0.2, compression_ratio=1.0),
            Segment(0.5, 1.5, "mumble", avg_logprob=-1.4, no_speech_prob=0.8, compression_ratio=1.0)]
    flag_segments(segs, audio)
    assert segs[0].flags == []
    assert segs[1].flags == ["no-speech"]  # nothing but silence under it
    assert segs[2].flags == ["no-speech", "low-confidence"]


def test_ngram_repeat():
    assert max_ngram_repeat("a b c a b c a b c d".split()) == (3, 3)
    assert max_ngram_repeat([]) == (1, 0)


def test_hotwords_ranked_deduplicated_and_bounded():
    shorts = ["QLoRA", "DPO", "qlora", "Toolformer"] + [f"Acronym{i}" for i in range(200)]
    words = build_hotwords(shorts, ["Tim Dettmers", "Rafael Rafailov"], ["Quantized"])
    assert words[:3] == ("QLoRA", "DPO", "Toolformer")
    assert "qlora" not in words
    cost = sum(1.0 + 0.15 * len(w) for t in words for w in t.split())
    assert cost <= PROMPT_TOKENS and len(words) < 100


def test_chunks_cut_in_quiet_moments(tmp_path, sample_wav):
    import subprocess

    long = tmp_path / "long.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "3", "-i", str(sample_wav), "-c", "copy", str(long)],
                   check=True)
    audio = decode(long, tmp_path)
    chunks = plan_chunks(audio, 25.0)
    assert chunks[0][0] == 0.0 and chunks[-1][1] == pytest.approx(audio.duration)
    assert all(a[1] == b[0] for a, b in zip(chunks, chunks[1:]))
    assert all(15.0 <= b - a <= 40.0 for a, b in chunks[:-1])
    x = audio.read()
    level = float(np.sqrt(np.mean(x ** 2)))
    for _, cut in chunks[:-1]:
        around = x[int((cut - 0.25) * SAMPLE_RATE): int((cut + 0.25) * SAMPLE_RATE)]
        assert np.sqrt(np.mean(around ** 2)) < 0.5 * level  # never in the middle of loud speech
    assert plan_chunks(audio, 25.0) == chunks  # deterministic: a resumed run gets the same plan
