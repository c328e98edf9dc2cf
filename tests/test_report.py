"""Quality report: planted faults in the real seed episode come first; each detector on a small case."""

from __future__ import annotations

import dataclasses

import pytest

from pipeline.audio.voices import Match
from pipeline.models import Chapter, Episode, Paper, Person, Transcript, Utterance, Word
from pipeline.report import ReportOptions, find_loops, quality_report


@pytest.fixture
def seeded(project, seeds, run_cli):
    """The seed episode imported through the CLI, with its dev show notes (chapters linked to papers)."""
    assert run_cli("import-transcript", seeds / "neurips-2023-recap.transcript.txt", "--episode", "recap").exit_code == 0
    res = run_cli("import-notes", seeds / "neurips-2023-recap.shownotes-dev.txt", "--episode", "recap")
    assert res.exit_code == 0, res.output
    return project


def _plant(project) -> tuple[float, float]:
    """A sentence loop inserted at ~0:40:00 and a chapter linked to a decoy paper with low confidence."""
    store = project.content
    ep = store.load_episode("recap")
    utts = ep.transcript.utterances
    i = next(k for k, u in enumerate(utts) if u.start >= 2400)
    at = utts[i].start
    loop = [Utterance(start=at + 2 * n, end=at + 2 * n + 2, text="And that is why the model works so well.",
                      speaker=utts[i].speaker) for n in range(6)]
    ep.transcript.utterances = utts[:i] + loop + [
        dataclasses.replace(u, start=u.start + 12, end=u.end + 12) for u in utts[i:]]
    store.save_paper(Paper(id="decoy-paper", title="Underwater Basket Weaving with Graph Networks"))
    chapter = ep.chapters[3]
    chapter.paper, chapter.confidence, chapter.source = "decoy-paper", 0.2, "auto"
    store.save_episode(ep)
    return at, chapter.start


def test_planted_faults_are_listed_first(seeded, run_cli):
    loop_at, chapter_at = _plant(seeded)
    from pipeline.report import episode_report

    report = episode_report(seeded, "recap")
    top = report.issues[:2]
    assert {i.kind for i in top} == {"loop", "chapter-link"}
    loop = next(i for i in top if i.kind == "loop")
    assert loop.start == pytest.approx(loop_at) and loop.end == pytest.approx(loop_at + 12)
    assert "6×" in loop.message
    link = next(i for i in top if i.kind == "chapter-link")
    assert link.start == pytest.approx(chapter_at) and "Underwater Basket Weaving" in link.message
    # the rest of the real episode is not full of loops: the only other loop-like lines are sound tags
    assert [i.kind for i in report.issues].count("loop") == 1

    res = run_cli("report", "recap")
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("│") and ln.split("│")[1].strip()]
    assert "loop" in lines[0] or "chapter-link" in lines[0]
    assert {"loop", "chapter-link"} <= {w for ln in lines[:2] for w in ln.replace("│", " ").split()}
    assert "40:00" in res.output or "40:0" in res.output


def test_report_of_unknown_episode(run_cli):
    res = run_cli("report", "nope")
    assert res.exit_code == 1 and res.output.startswith("Error: unknown episode 'nope'")


def _u(start, end, text, speaker="A", probs=None, flags=()):
    words = []
    if probs is not None:
        toks = text.split()
        step = (end - start) / len(toks)
        words = [Word(t, start + k * step, start + (k + 1) * step, p) for k, (t, p) in enumerate(zip(toks, probs))]
    return Utterance(start=start, end=end, text=text, speaker=speaker, words=words, flags=list(flags))


def test_each_detector():
    utts = [
        _u(0, 4, "Welcome everyone to the show today.", probs=[0.9] * 6),
        _u(4, 8, "we we we we we we we we we we", probs=[0.3] * 10, flags=["repetition"]),
        _u(8, 30, "Thank you.", flags=["no-speech"]),
        _u(30, 34, "mumble quantisation grumble adapters", probs=[0.2, 0.3, 0.25, 0.2]),
        _u(34, 38.5, "so the adapter goes there", speaker="A", probs=[0.9] * 5),
        _u(37.5, 40, "right and then the memory", speaker="B", probs=[0.9] * 5),
        _u(40, 60, "hmm", speaker="B"),
        _u(60, 200, "a long talk " * 200, speaker="C"),
    ]
    ep = Episode(slug="t", title="t", transcript=Transcript(utterances=utts), speakers={"A": "host", "B": "guest"},
                 chapters=[Chapter(start=0, title="Intro", paper="p1", confidence=0.9),
                           Chapter(start=30, title="Talk", paper="p2", confidence=0.3, source="auto"),
                           Chapter(start=60, title="Edited", paper="p3", confidence=0.1, source="person")])
    people = {"host": Person(id="host", name="Hosting Person"), "guest": Person(id="guest", name="Guest")}
    proposals = [Match(label="B", person="guest", score=0.9, margin=0.1, backend="resemblyzer:voice-encoder")]
    report = quality_report(ep, people, {"p2": Paper(id="p2", title="Decoy")}, proposals)
    kinds = [i.kind for i in report.issues]
    assert kinds[0] == "loop"  # the loop found in the text outranks everything
    for kind in ("repetition", "no-speech", "low-probability", "speaker-change", "chapter-link",
                 "unconfirmed-name", "over-silence", "unnamed-speaker"):
        assert kind in kinds, kind
    assert kinds.count("chapter-link") == 1  # the person's own link and the confident one are not reported
    sev = [i.severity for i in report.issues]
    assert sev == sorted(sev, reverse=True)
    change = next(i for i in report.issues if i.kind == "speaker-change")
    assert change.start == pytest.approx(37.5) and change.speaker == "Guest"
    assert next(i for i in report.issues if i.kind == "unnamed-speaker").speaker == "C"


def test_loops_across_utterances_and_not_in_normal_speech():
    o = ReportOptions()
    natural = [_u(0, 3, "no, no, no, that's not it"), _u(3, 6, "very very very good"),
               _u(6, 9, "thank you thank you")]
    assert find_loops(natural, o) == []
    split = [_u(0, 2, "the results are good and"), _u(2, 4, "the results are good and"),
             _u(4, 6, "the results are good and the"), _u(6, 8, "results are good and finally")]
    loops = find_loops(split, o)
    assert len(loops) == 1 and loops[0].start == 0 and loops[0].end == 8 and "4×" in loops[0].message


def test_a_stretch_credited_to_another_chapters_presenter():
    """Ten minutes of the second talk under the first presenter's label are reported; the host's hand-overs
    and each presenter's own talk are not."""
    utts = [Utterance(start=10.0 * k, end=10.0 * k + 9.5, text=f"line {k}", speaker="HOST" if k in (0, 60) else "A")
            for k in range(120)]  # "A" runs on into the second talk (no speaker change marked)
    people = {"ada": Person(id="ada", name="Ada Quill"), "ben": Person(id="ben", name="Ben Ortiz"),
              "host": Person(id="host", name="Hal Host", host=True)}
    ep = Episode(slug="s", title="s", transcript=Transcript(utterances=utts), speakers={"A": "ada", "HOST": "host"},
                 chapters=[Chapter(start=10.0, end=600.0, title="First", speakers=["ada"]),
                           Chapter(start=600.0, end=1200.0, title="Second", speakers=["ben"])])
    issues = [i for i in quality_report(ep, people).issues if i.kind == "speaker-outside-chapter"]
    assert len(issues) == 1
    assert issues[0].start == 610.0 and "chapter 2 “Second” attributed to Ada Quill" in issues[0].message
    ep.speakers = {"HOST": "host"}  # unnamed rather than wrongly named: nothing to report
    assert not [i for i in quality_report(ep, people).issues if i.kind == "speaker-outside-chapter"]
