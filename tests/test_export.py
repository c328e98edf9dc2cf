"""Exports: VTT/SRT/JSON round-trip through the importer; RTTM via pyannote.core; JSON chapters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.export import to_chapters, to_json, to_rttm, to_srt, to_vtt
from pipeline.models import Chapter, Episode, Paper, Person, Poster, Transcript, Utterance
from pipeline.sources.transcripts import read_transcript

HOSTILE = "<img src=x onerror=alert(1)> & --> </v> [x]: y"


@pytest.fixture(scope="module")
def episode(seeds) -> Episode:
    t = read_transcript(seeds / "neurips-2023-recap.transcript.txt")
    t.utterances = t.utterances[:400]
    t.utterances[3].text = HOSTILE
    ep = Episode(slug="neurips-2023", title="NeurIPS 2023", transcript=t,
                 speakers={"T002": "swyx", "T003": "rylan-schaeffer"})
    return ep


PEOPLE = {"swyx": Person(id="swyx", name="Shawn <swyx> Wang"), "rylan-schaeffer": Person(id="rylan-schaeffer", name="Rylan Schaeffer")}


def _key(t: Transcript):
    return [(round(u.start, 3), round(u.end, 3), u.text) for u in t.utterances]


@pytest.mark.parametrize(("fmt", "writer"), [("vtt", to_vtt), ("srt", to_srt), ("json", to_json)])
def test_round_trip(tmp_path: Path, episode: Episode, fmt: str, writer):
    path = tmp_path / f"out.{fmt}"
    path.write_text(writer(episode, PEOPLE), "utf-8")
    again = read_transcript(path)
    assert _key(again) == _key(episode.transcript)
    # speakers come back as the names written (mapped labels); a bare turn label is no voice
    names = {"T002": "Shawn <swyx> Wang", "T003": "Rylan Schaeffer"}
    expected = [names.get(u.speaker or "") for u in episode.transcript.utterances]
    if fmt == "srt":
        expected = [e.replace("]", ")") if e else e for e in expected]
    assert [u.speaker for u in again.utterances] == expected
    # and without people: the mapped person ids
    path.write_text(writer(episode), "utf-8")
    assert [u.speaker for u in read_transcript(path).utterances] == [
        {"T002": "swyx", "T003": "rylan-schaeffer"}.get(u.speaker or "") for u in episode.transcript.utterances]


@pytest.mark.parametrize("writer", [to_vtt, to_srt, to_json])
def test_no_voice_is_an_internal_label(episode: Episode, writer):
    """Diarizer clusters are "Speaker N", turn labels no voice: a player shows voices as names."""
    import re

    diarized = Episode(slug="d", title="D", speakers={"SPEAKER_01": "swyx"}, transcript=Transcript([
        Utterance(0, 1, "hello", speaker="SPEAKER_00"), Utterance(1, 2, "hi", speaker="SPEAKER_01"),
        Utterance(2, 3, "yes", speaker="SPEAKER_02"), Utterance(3, 4, "turn", speaker="T155"),
        Utterance(4, 5, "split", speaker="SPEAKER_00-1"), Utterance(5, 6, "split turn", speaker="T155-3")]))
    for ep in (episode, diarized):
        text = writer(ep, PEOPLE)
        voices = set(re.findall(r"<v ([^>]*)>", text)) | set(re.findall(r"^\[([^\]]*)\]: ", text, re.M)) | {
            s.get("speaker") for s in (json.loads(text)["segments"] if writer is to_json else []) if s.get("speaker")}
        assert voices and not [v for v in voices if re.match(r"^(T\d+|SPEAKER_\d+)(-\d+)?$", v)], voices
    text = writer(diarized, PEOPLE)
    assert "Speaker 1" in text and "Speaker 3" in text and "Speaker 1 (2)" in text and "Shawn <swyx> Wang" in text.replace("&lt;", "<").replace("&gt;", ">")


def test_vtt_is_escaped(episode: Episode):
    vtt = to_vtt(episode, PEOPLE)
    assert vtt.startswith("WEBVTT\n\n1\n00:00:00.000 --> 00:00:02.580\n")
    assert "<v Shawn &lt;swyx&gt; Wang>Hello, hello" in vtt
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; --&gt; &lt;/v&gt;" in vtt
    assert "<img" not in vtt


def test_json_is_podcasting_transcript(episode: Episode):
    data = json.loads(to_json(episode, PEOPLE))
    assert data["version"] == "1.0.0"
    seg = data["segments"][1]
    assert seg == {"speaker": "Shawn <swyx> Wang", "startTime": 2.58, "endTime": 6.36,
                   "body": "Hello, hello, this is Swix with a special edition"}


def test_rttm(tmp_path: Path, episode: Episode):
    from pyannote.database.util import load_rttm

    text = to_rttm(episode)
    lines = text.splitlines()
    assert lines[0].split()[:5] == ["SPEAKER", "neurips-2023", "1", "2.580", "77.380"]
    path = tmp_path / "x.rttm"
    path.write_text(text, "utf-8")
    ann = load_rttm(str(path))["neurips-2023"]
    labels = {u.speaker for u in episode.transcript.utterances if "non-speech" not in u.flags}
    expected = {"swyx" if lab == "T002" else "rylan-schaeffer" if lab == "T003" else lab for lab in labels}
    assert set(ann.labels()) == expected
    # consecutive lines of one turn are one RTTM turn
    assert len(lines) < len(episode.transcript.utterances) / 3


def test_chapters_json():
    ep = Episode(slug="ep", title="Ep", chapters=[
        Chapter(start=79.0, end=928.0, title="Word2Vec", paper="word2vec"),
        Chapter(start=2496.5, title="DPO Poster Session", kind="poster", paper="2305.18290"),
        Chapter(start=3000, title="Unlinked <b>", paper="missing-paper"),
    ])
    papers = {"word2vec": Paper(id="word2vec", title="W2V"), "2305.18290": Paper(id="2305.18290", title="DPO")}
    posters = {"dpo-poster": Poster(id="dpo-poster", paper="2305.18290", episode="ep", start=2500, image="poster.png"),
               "other": Poster(id="other", paper="2305.18290", episode="another", start=10)}
    data = to_chapters(ep, papers, posters, base_url="/podcast")
    assert data["version"] == "1.2.0"
    assert data["chapters"] == [
        {"startTime": 79.0, "title": "Word2Vec", "endTime": 928.0, "url": "/podcast/papers/word2vec/"},
        {"startTime": 2496.5, "title": "DPO Poster Session", "url": "/podcast/papers/2305.18290/",
         "img": "/podcast/posters/dpo-poster/poster.png"},
        {"startTime": 3000.0, "title": "Unlinked <b>"},
    ]
    assert to_chapters(ep, papers, {})["chapters"][0]["url"] == "/papers/word2vec/"


def test_empty_and_unspeakered():
    ep = Episode(slug="e", title="E", transcript=Transcript([Utterance(0, 1, "a"), Utterance(1, 2, "  ")]))
    assert to_srt(ep) == "1\n00:00:00,000 --> 00:00:01,000\na\n"
    assert to_vtt(ep).endswith("00:00:00.000 --> 00:00:01.000\na\n")
    assert to_rttm(ep) == ""
