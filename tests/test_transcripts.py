"""Transcript import: the real whisper.cpp seed, SRT, WebVTT, Whisper JSON, and bad files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.sources.transcripts import read_transcript
from pipeline.timefmt import format_timestamp


@pytest.fixture(scope="module")
def seed_transcript(seeds):
    return read_transcript(seeds / "neurips-2023-recap.transcript.txt")


def test_whispercpp_seed(seed_transcript, seeds):
    t = seed_transcript
    raw = (seeds / "neurips-2023-recap.transcript.txt").read_text("utf-8").split("\n")
    timed = [ln for ln in raw if ln.startswith("[")]
    # the file has 4,873 lines: a blank first and last line around 4,871 timed lines
    assert len(raw) - 1 == 4873 and len(timed) == 4871
    assert len(t.utterances) == len(timed)
    assert t.utterances[-1].end == pytest.approx(12025.98)
    assert format_timestamp(t.utterances[-1].end) == "3:20:25"
    assert t.utterances[0].text == "(upbeat music)" and t.utterances[0].flags == ["non-speech"]
    # times are exact and in order
    assert t.utterances[1].start == pytest.approx(2.58) and t.utterances[1].end == pytest.approx(6.36)
    assert all(a.start <= b.start for a, b in zip(t.utterances, t.utterances[1:]))
    # "- " (or "-Text") starts a new turn; consecutive lines of one turn share the label
    changes = sum(1 for ln in timed if re.match(r"^\[[^\]]+\]\s+-(?![-\d])", ln))
    labels = [u.speaker for u in t.utterances]
    assert len(set(labels)) == changes + 1
    assert labels[1] == labels[2] == "T002" and labels[0] == "T001"
    assert not any(u.text.startswith("-") for u in t.utterances)
    assert sum(1 for a, b in zip(labels, labels[1:]) if a != b) == changes


SRT = """1
00:00:01,000 --> 00:00:02,500
[SPEAKER_00]: Hello <i>there</i>

2
00:00:03,000 --> 00:00:05,250
[SPEAKER_01]: Hi.
Two lines.

3
00:01:05,000 --> 00:01:06,000
Note: no speaker here
"""

VTT = """WEBVTT

NOTE made by hand

00:00:01.000 --> 00:00:02.500
<v Rylan Schaeffer>Emergence &amp; metrics &lt;b&gt;

cue-2
00:00:03.000 --> 00:00:04.000 align:start
<v.host Alessio>Thanks</v>

00:01:00.000 --> 00:01:01.500
no voice
"""


def test_srt(tmp_path: Path):
    p = tmp_path / "a.srt"
    p.write_text(SRT, "utf-8")
    t = read_transcript(p)
    assert [(u.start, u.end, u.speaker, u.text) for u in t.utterances] == [
        (1.0, 2.5, "SPEAKER_00", "Hello there"),
        (3.0, 5.25, "SPEAKER_01", "Hi. Two lines."),
        (65.0, 66.0, None, "Note: no speaker here"),  # a lone "Name:" prefix is text
    ]


def test_vtt_voice_tags(tmp_path: Path):
    p = tmp_path / "a.vtt"
    p.write_text(VTT, "utf-8")
    t = read_transcript(p)
    assert [(u.start, u.end, u.speaker, u.text) for u in t.utterances] == [
        (1.0, 2.5, "Rylan Schaeffer", "Emergence & metrics <b>"),
        (3.0, 4.0, "Alessio", "Thanks"),
        (60.0, 61.5, None, "no voice"),
    ]


def test_faster_whisper_and_whisperx_json(tmp_path: Path):
    fw = tmp_path / "fw.json"
    fw.write_text(json.dumps([
        {"id": 1, "start": 0.0, "end": 2.0, "text": " Hello world.",
         "words": [{"word": " Hello", "start": 0.0, "end": 0.8, "probability": 0.9},
                   {"word": " world.", "start": 0.9, "end": 2.0, "probability": 0.8}]},
    ]), "utf-8")
    t = read_transcript(fw)
    assert t.utterances[0].text == "Hello world." and t.utterances[0].speaker is None
    assert [w.text for w in t.utterances[0].words] == [" Hello", " world."]
    assert t.utterances[0].words[1].probability == pytest.approx(0.8)

    wx = tmp_path / "wx.json"
    wx.write_text(json.dumps({"language": "en", "segments": [
        {"start": 1.0, "end": 3.0, "text": "We call it DPO.",
         "words": [{"word": "We", "start": 1.0, "end": 1.2, "score": 0.7, "speaker": "SPEAKER_01"},
                   {"word": "2023", "score": 0.5},  # WhisperX leaves numbers unaligned
                   {"word": "DPO.", "start": 2.5, "end": 3.0, "score": 0.9, "speaker": "SPEAKER_01"}]},
        {"start": 3.5, "end": 4.0, "text": "Nice.", "speaker": "SPEAKER_00"},
    ]}), "utf-8")
    t = read_transcript(wx)
    assert t.language == "en"
    assert [u.speaker for u in t.utterances] == ["SPEAKER_01", "SPEAKER_00"]
    assert [w.text for w in t.utterances[0].words] == ["We", "DPO."]


def test_own_transcript_json(tmp_path: Path, seed_transcript):
    from pipeline.serialize import to_data

    p = tmp_path / "transcript.json"
    p.write_text(json.dumps(to_data(seed_transcript)), "utf-8")
    again = read_transcript(p)
    assert again.utterances == seed_transcript.utterances


@pytest.mark.parametrize(("content", "message"), [
    (b"", "file is empty"),
    (b"\n  \n", "file is empty"),
    (b"\x00\x01\x02RIFF....WAVEfmt ", "binary file, not a text transcript"),
    (b"\xff\xfe\xfa not utf-8", "not UTF-8 text (binary file?) (save it as UTF-8)"),
    (b"just some words\nand more\n", "unrecognised transcript format (expected whisper.cpp [start --> end] "
                                     "lines, SRT, WebVTT, Whisper JSON or timed speaker paragraphs; or pass --format)"),
    (b"[00:00:01.000 --> 00:00:02.000]  ok\nnot a line\n", "line 2 is not a [start --> end] transcript line: 'not a line'"),
    (b'{"segments": [{"text": "no times"}]}', "segment 0 has no start/end times"),
    (b"WEBVTT\n\n00:00:05.000 --> 00:00:01.000\nbackwards\n", "line 1 ends before it starts (5.000 -> 1.000)"),
])
def test_bad_transcripts(tmp_path: Path, content: bytes, message: str):
    p = tmp_path / "bad.txt"
    p.write_bytes(content)
    with pytest.raises(InputError) as exc:
        read_transcript(p)
    assert exc.value.message == f"{p}: {message}"


def test_whispercpp_turn_markers(tmp_path: Path):
    p = tmp_path / "tdrz.txt"
    p.write_text("[00:00:00.000 --> 00:00:01.000]   Hello there. [SPEAKER_TURN]\n"
                 "[00:00:01.000 --> 00:00:02.000]   Hi!\n"
                 "[00:00:02.000 --> 00:00:03.000]   How are you?\n"
                 "[00:00:03.000 --> 00:00:04.000]  >> Fine.\n"
                 "[00:00:04.000 --> 00:00:05.000]   -- and you\n", "utf-8")
    t = read_transcript(p)
    assert [(u.speaker, u.text) for u in t.utterances] == [
        ("T001", "Hello there."), ("T002", "Hi!"), ("T002", "How are you?"), ("T003", "Fine."), ("T003", "-- and you")]
