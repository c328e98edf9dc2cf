"""Voice library on real audio: pyannote's two-speaker sample cut in two halves (ffmpeg) processed as two
episodes; an espeak-ng synthetic voice as the unknown speaker.

The first test runs the whole pipeline (`recap process` on each half: the embedded diarizer's own
speakers and voice vectors). The others take the voice embeddings from the diarizer's encoder
(``pipeline.audio.diarize.speaker_embeddings``, CAM++) over the reference RTTM turns of each half, so
they measure the library's rules, not the clustering."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from pipeline.audio.voices import (
    CAMPPLUS,
    PYANNOTE,
    apply_voice_library,
    forget,
    library,
    load_episode_voices,
    match_voices,
)
from pipeline.models import Episode, Person

SPLIT = 15.0  # the two halves of the 30 s sample


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def voices(sample_wav: Path, sample_rttm: Path, tmp_path_factory) -> dict[str, dict[str, np.ndarray]]:
    """Voice embeddings of each half (labels as in the reference RTTM) and of a synthetic voice."""
    from pipeline.audio.decode import decode
    from pipeline.audio.diarize import Turn, speaker_embeddings

    d = tmp_path_factory.mktemp("voices")
    cache = d / "cache"
    rows = [line.split() for line in sample_rttm.read_text().splitlines() if line.strip()]
    ref = [(float(r[3]), float(r[3]) + float(r[4]), r[7]) for r in rows]
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, lo, hi in (("first", 0.0, SPLIT), ("second", SPLIT, 30.0)):
        wav = d / f"{name}.wav"
        _ffmpeg("-i", str(sample_wav), "-ss", str(lo), "-to", str(hi), str(wav))
        audio = decode(wav, cache)
        turns = [Turn(max(s, lo) - lo, min(e, hi) - lo, k) for s, e, k in ref if min(e, hi) > max(s, lo)]
        out[name] = speaker_embeddings(audio.read(), audio.sr, turns)
    if shutil.which("espeak-ng") is None:
        pytest.fail("espeak-ng missing: run `make system-deps`")
    synth = d / "synth.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(synth),
                    "Hello and welcome to the poster session. Today I present our work on language models "
                    "that learn from human preferences, and why a simple loss is stable to train."], check=True)
    synth16 = d / "synth16.wav"
    _ffmpeg("-i", str(synth), "-ar", "16000", "-ac", "1", str(synth16))
    audio = decode(synth16, cache)
    out["synthetic"] = speaker_embeddings(audio.read(), audio.sr, [Turn(0.0, audio.duration, "SPEAKER_00")])
    return out


def _truth(rttm: Path, lo: float, hi: float, utterances) -> dict[str, str]:
    """Diarizer label -> reference speaker with most overlap, for a cut [lo, hi] of the sample."""
    rows = [line.split() for line in rttm.read_text().splitlines() if line.strip()]
    overlap: dict[tuple[str, str], float] = {}
    for u in utterances:
        for r in rows:
            s, e = float(r[3]) - lo, float(r[3]) + float(r[4]) - lo
            o = min(e, u.end, hi - lo) - max(s, u.start, 0.0)
            if o > 0:
                overlap[(u.speaker, r[7])] = overlap.get((u.speaker, r[7]), 0.0) + o
    best: dict[str, tuple[float, str]] = {}
    for (label, ref), o in overlap.items():
        best[label] = max(best.get(label, (0.0, "")), (o, ref))
    return {label: ref for label, (_, ref) in best.items()}


def test_voice_library_on_the_pipelines_own_speakers(project, run_cli, sample_wav, sample_rttm, tmp_path):
    """Half one is processed and its speaker named (as a person would, in episode.toml); half two is
    processed: the diarizer's speaker with the same voice gets that name, the other voice none."""
    halves = []
    for name, lo, hi in (("one", 0.0, SPLIT), ("two", SPLIT, 30.0)):
        wav = tmp_path / f"{name}.wav"
        _ffmpeg("-i", str(sample_wav), "-ss", str(lo), "-to", str(hi), str(wav))
        halves.append((name, wav, lo, hi))
    store = project.content
    store.save_person(Person(id="diane", name="Diane"))
    (name, wav, lo, hi) = halves[0]
    res = run_cli("-q", "process", str(wav), "--episode", name, "--diarizer", "embedded")
    assert res.exit_code == 0, res.output
    ep = store.load_episode("one")
    truth = _truth(sample_rttm, lo, hi, ep.transcript.utterances)
    diane = [label for label, ref in truth.items() if ref == "speaker90"]
    assert diane, truth
    ep.speakers = {diane[0]: "diane"}
    store.save_episode(ep, parts=("meta",))

    (name, wav, lo, hi) = halves[1]
    res = run_cli("-q", "process", str(wav), "--episode", name, "--diarizer", "embedded")
    assert res.exit_code == 0, res.output
    ep = store.load_episode("two")
    truth = _truth(sample_rttm, lo, hi, ep.transcript.utterances)
    assert sorted(truth.values()) == ["speaker90", "speaker91"], truth  # both voices found in the half
    named = {truth[label]: person for label, person in ep.speakers.items()}
    assert named == {"speaker90": "diane"}  # Diane recognised; Sheila's voice is not given her name
    matches = load_episode_voices(store, "two").matches
    assert [(truth[m.label], m.person, m.status) for m in matches] == [("speaker90", "diane", "proposed")]
    assert matches[0].score >= 0.62


def _episode(project, slug: str, speakers: dict[str, str] | None = None) -> None:
    project.content.save_episode(Episode(slug=slug, title=slug, speakers=speakers or {}))


@pytest.fixture
def named_first(project, voices):
    """Episode one: both speakers named (as alignment or a person would), then the library is applied."""
    store = project.content
    store.save_person(Person(id="alice", name="Alice Example"))
    store.save_person(Person(id="bob", name="Bob Example"))
    _episode(project, "one", {"speaker90": "alice", "speaker91": "bob"})
    assert apply_voice_library(project, "one", voices["first"], CAMPPLUS) == []
    return project


def test_named_speakers_are_recognised_in_the_next_episode(named_first, voices, run_cli):
    project = named_first
    lib = library(project.content)
    assert sorted(lib) == ["alice", "bob"]
    assert [(s.episode, s.label, s.backend, s.confirmed) for s in lib["alice"]] == [("one", "speaker90", CAMPPLUS, False)]
    # the library file is plain, one sample per line
    text = (project.root / "content/voices/alice.json").read_text()
    assert json.loads(text)["person"] == "alice" and len(text.splitlines()) == 6

    _episode(project, "two")
    matches = apply_voice_library(project, "two", voices["second"], CAMPPLUS)
    got = {m.label: m.person for m in matches}
    assert got == {"speaker90": "alice", "speaker91": "bob"}
    assert all(m.status == "proposed" and 0.62 <= m.score <= 1 and m.margin > 0 for m in matches)
    ep = project.content.load_episode("two")
    assert ep.speakers == {"speaker90": "alice", "speaker91": "bob"}

    # a proposal is not a voice sample until confirmed
    assert {s.episode for s in library(project.content)["alice"]} == {"one"}
    res = run_cli("voices", "confirm", "two", "speaker90")
    assert res.exit_code == 0, res.output
    assert "confirmed as alice" in res.output
    alice = library(project.content)["alice"]
    assert [(s.episode, s.confirmed) for s in alice] == [("one", False), ("two", True)]

    # rejected once, never proposed again; the name is taken off
    res = run_cli("voices", "reject", "two", "speaker91")
    assert res.exit_code == 0, res.output
    assert "speaker91" not in project.content.load_episode("two").speakers
    again = apply_voice_library(project, "two", voices["second"], CAMPPLUS)
    assert again == []
    statuses = {(m.label, m.person): m.status for m in load_episode_voices(project.content, "two").matches}
    assert statuses == {("speaker90", "alice"): "confirmed", ("speaker91", "bob"): "rejected"}

    res = run_cli("voices", "list")
    assert "alice: 2 samples (1 confirmed) from one, two" in res.output
    res = run_cli("voices", "forget", "alice", "--episode", "two")
    assert res.output.strip() == "Removed 1 voice sample of alice"
    res = run_cli("voices", "forget", "carol")
    assert res.exit_code == 1 and "no voice samples for 'carol'" in res.output


def test_unknown_voice_gets_no_known_name(named_first, voices):
    project = named_first
    _episode(project, "three")
    mixed = {"SPEAKER_00": voices["synthetic"]["SPEAKER_00"], "SPEAKER_01": voices["second"]["speaker90"]}
    matches = apply_voice_library(project, "three", mixed, CAMPPLUS)
    assert {m.label: m.person for m in matches} == {"SPEAKER_01": "alice"}
    assert "SPEAKER_00" not in project.content.load_episode("three").speakers


def test_a_voice_is_not_given_the_only_known_name(project, voices):
    """With only one person in the library, the other real voice must not be named after them."""
    project.content.save_person(Person(id="alice", name="Alice Example"))
    _episode(project, "one", {"speaker90": "alice"})
    apply_voice_library(project, "one", {"speaker90": voices["first"]["speaker90"]}, CAMPPLUS)
    _episode(project, "two")
    matches = apply_voice_library(project, "two", {"speaker91": voices["second"]["speaker91"],
                                                   "synth": voices["synthetic"]["SPEAKER_00"]}, CAMPPLUS)
    assert matches == []


def test_only_like_embeddings_are_compared(named_first, voices):
    """pyannote's WeSpeaker vectors live in another space: a CAM++ library never matches them."""
    _episode(named_first, "gpu")
    assert apply_voice_library(named_first, "gpu", voices["second"], PYANNOTE) == []
    # and with a library of that backend, the same calibrated rule applies
    known = {"alice": voices["first"]["speaker90"] / np.linalg.norm(voices["first"]["speaker90"])}
    assert [m.person for m in match_voices({"x": voices["second"]["speaker90"]}, known, CAMPPLUS)] == ["alice"]
    assert match_voices({"x": voices["second"]["speaker90"]}, known, "unknown-encoder") == []


def test_hand_edited_library_is_the_starting_point(named_first, voices):
    """Deleting a sample line by hand is respected by the next run (nothing re-added from elsewhere)."""
    p = named_first.root / "content/voices/bob.json"
    p.unlink()
    _episode(named_first, "two")
    matches = apply_voice_library(named_first, "two", voices["second"], CAMPPLUS)
    assert {m.label: m.person for m in matches} == {"speaker90": "alice"}


def test_confirm_unknown_label_is_one_clear_line(named_first, run_cli):
    res = run_cli("voices", "confirm", "one", "nobody")
    assert res.exit_code == 1
    assert res.output.strip().startswith("Error: episode one: speaker 'nobody' has no proposed name")
    res = run_cli("voices", "reject", "missing-episode", "x")
    assert res.exit_code == 1 and "unknown episode 'missing-episode'" in res.output


def test_speakers_named_after_processing_are_enrolled_and_forget_sticks(project, voices):
    """`recap process` stores the voices before alignment names anyone: the names given later (by
    alignment or by editing episode.toml) reach the library when the next recording is processed."""
    store = project.content
    store.save_person(Person(id="alice", name="Alice Example"))
    _episode(project, "one")
    assert apply_voice_library(project, "one", voices["first"], "embedded") == []  # the diarizer's name
    assert library(store) == {}
    ep = store.load_episode("one")
    ep.speakers = {"speaker90": "alice"}  # alignment (or a person) names a speaker afterwards
    store.save_episode(ep, parts=("meta",))
    _episode(project, "two")
    matches = apply_voice_library(project, "two", voices["second"], "embedded")
    assert [(m.label, m.person, m.backend) for m in matches] == [("speaker90", "alice", CAMPPLUS)]
    assert load_episode_voices(store, "one").enrolled == {"speaker90": "alice"}
    # a voice a person removed is not enrolled again from the same episode
    forget(project, "alice")
    _episode(project, "three")
    assert apply_voice_library(project, "three", voices["second"], "embedded") == []
    assert library(store) == {}
