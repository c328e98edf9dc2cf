"""Summaries on the real seed episode (transcript + dev show notes), the disfluency cleaner, sentence
rebuilding, the citation verifier, person-edit keeping and the CLI."""

from __future__ import annotations

import json
import math
import re
import shutil
import time
import tomllib
from collections import Counter

import pytest
import tomli_w

from pipeline.models import Chapter, Episode, Paper, Transcript, Utterance, Word
from pipeline.summarize.disfluency import clean_disfluencies
from pipeline.summarize.grounded import verify_citations
from pipeline.summarize.options import SpokenSentence, SummaryOptions
from pipeline.summarize.sentences import chapter_bounds, spoken_sentences
from pipeline.summarize.summaries import run_summarize, summarize_episode

SLUG = "neurips"


# -- the seed episode, imported with the real importers, summarized once for the module ------------------
@pytest.fixture(scope="module")
def seed_project(tmp_path_factory, seeds):
    from pipeline.config import init_project, open_project
    from pipeline.jobs.episode import align_if_ready
    from pipeline.sources.notes import apply_notes, parse_notes
    from pipeline.sources.transcripts import import_transcript

    root = init_project(tmp_path_factory.mktemp("seed") / "proj", title="Seed")
    project = open_project(root)
    import_transcript(project, seeds / "neurips-2023-recap.transcript.txt", SLUG)
    apply_notes(project, SLUG, parse_notes(seeds / "neurips-2023-recap.shownotes-dev.txt"))
    align_if_ready(project, SLUG)
    t0 = time.perf_counter()
    result = run_summarize(project, SLUG)
    seconds = time.perf_counter() - t0
    return project, result, seconds


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower().replace("’", "'"))


_STOP = set("a an the of for and or but in on at to from by with as is are was were be it its this that we our "
            "you your i they them their there here so not no do does did have has had can will would".split())


def _stems(text: str) -> set[str]:
    return {w[:6] for w in _words(text) if w not in _STOP and len(w) > 2}


def key_terms(paper: Paper, others: list[Paper], k: int = 8) -> set[str]:
    """The paper's most distinctive terms (title words count thrice), against the other covered papers."""
    tf = Counter(w[:6] for w in _words(paper.abstract) if w not in _STOP and len(w) > 3)
    for w in _words(paper.title):
        if w not in _STOP and len(w) > 3:
            tf[w[:6]] += 3
    docs = [_stems(f"{o.title} {o.abstract}") for o in others]
    score = {t: n * math.log((1 + len(docs)) / (1 + sum(t in d for d in docs))) for t, n in tf.items()}
    return {t for t, _ in sorted(score.items(), key=lambda x: (-x[1], x[0]))[:k]}


def test_every_chapter_and_the_episode_get_a_summary(seed_project):
    project, result, seconds = seed_project
    ep = project.content.load_episode(SLUG)  # as stored in content/
    assert len([c for c in ep.chapters if c.source == "notes"]) == 6  # and those found after the notes stop
    for ch, (start, end) in zip(ep.chapters, chapter_bounds(ep)):
        s = ch.summary
        assert s is not None and s.method == "extractive", ch.title
        assert 1 <= len(s.sentences) <= 4
        assert len(s.text.split()) <= 80, (ch.title, s.text)
        assert s.text == " ".join(x.text for x in s.sentences)
        for x in s.sentences:
            assert start - 0.5 <= x.start <= x.end <= end + 60, (ch.title, x)  # a sentence may run past the cut
        assert [x.start for x in s.sentences] == sorted(x.start for x in s.sentences)
    assert ep.summary is not None
    starts = [x.start for x in ep.summary.sentences]
    assert len(starts) == len(ep.chapters) and starts == sorted(starts)
    assert result.seconds > 0  # speed is measured by bench/summary.py, not asserted here


def test_summaries_name_their_topic(seed_project):
    project, _, _ = seed_project
    ep = project.content.load_episode(SLUG)
    papers = project.content.load_papers()
    covered = [papers[p] for p in ep.papers]
    for ch in [c for c in ep.chapters if c.source == "notes"]:  # the noted chapters, each about a paper
        assert ch.paper, ch.title
        paper = papers[ch.paper]
        terms = key_terms(paper, [p for p in covered if p.id != paper.id])
        found = terms & _stems(ch.summary.text)
        assert found, (ch.title, sorted(terms), ch.summary.text)
    by_title = {ch.title.lower(): ch.summary.text.lower() for ch in ep.chapters}
    dpo = [t for k, t in by_title.items() if k.startswith("dpo")]
    assert dpo and all(re.search(r"preference|reward", t) for t in dpo)
    qlora = next(t for k, t in by_title.items() if "qlora" in k)
    assert re.search(r"quantiz|memory|fine-?tun", qlora)


def test_every_extractive_sentence_is_grounded_at_its_time(seed_project):
    project, _, _ = seed_project
    ep = project.content.load_episode(SLUG)
    sentences = [x for ch in ep.chapters for x in ch.summary.sentences] + ep.summary.sentences
    assert len(sentences) >= 12
    for x in sentences:
        said = set()
        for u in ep.transcript.utterances:
            if u.end >= x.start - 0.01 and u.start <= x.end + 0.01:
                said.update(_words(u.text))
        missing = [w for w in _words(x.text) if w not in said]
        assert not missing, (x.text, missing)
        # cleaned: no filled pauses or stuttered words left
        assert not re.search(r"\b(?:um|uh|erm)\b", x.text, re.I), x.text
        assert not re.search(r"\b([a-z]+) \1\b", x.text.lower()), x.text


def test_host_handover_and_greetings_are_not_picked(seed_project):
    project, _, _ = seed_project
    ep = project.content.load_episode(SLUG)
    for ch in [c for c in ep.chapters if c.source == "notes"]:
        for x in ch.summary.sentences:
            assert not x.text.endswith("?")
            assert not re.search(r"\b(thank you|my name is|up next|here is)\b", x.text, re.I), x.text


def test_person_edited_summaries_are_kept_whole_on_reruns(seed_project, tmp_path):
    from pipeline.config import open_project

    project, _, _ = seed_project
    root = tmp_path / "copy"
    shutil.copytree(project.root, root)
    proj = open_project(root)
    path = root / "content" / "episodes" / SLUG / "chapters.toml"
    data = tomllib.loads(path.read_text("utf-8"))
    edited = {"text": "A person's own summary of this talk.", "method": "person",
              "sentences": [{"text": "A person's own summary of this talk.", "start": 1000.0, "end": 1010.0}]}
    data["chapters"][1]["summary"] = edited
    path.write_text(tomli_w.dumps(data), "utf-8")
    meta_path = root / "content" / "episodes" / SLUG / "episode.toml"
    meta = tomllib.loads(meta_path.read_text("utf-8"))
    meta["summary"]["text"] = "My episode summary."
    meta_path.write_text(tomli_w.dumps(meta), "utf-8")
    before = proj.content.load_episode(SLUG)

    shorter = SummaryOptions(max_words=40)  # a re-run that changes every generated summary
    for _ in range(2):  # two runs: an edit must not count as generated after one round-trip
        proj = open_project(root)
        result = run_summarize(proj, SLUG, shorter)
        assert any("chapter 2" in k for k in result.kept) and any("episode summary" in k for k in result.kept)
        assert any("kept your edited summary of chapter 2" in n for n in proj.content.notices)
    after = open_project(root).content.load_episode(SLUG)
    assert after.chapters[1].summary.text == edited["text"]
    assert after.chapters[1].summary.sentences[0].start == 1000.0
    assert after.summary.text == "My episode summary."
    for i in (0, 2, 3, 4, 5):  # the others follow the new options
        assert len(after.chapters[i].summary.text.split()) <= 40
        assert after.chapters[i].summary.text != before.chapters[i].summary.text or \
            len(before.chapters[i].summary.text.split()) <= 40


def test_cli_summarize_and_export(seed_project, tmp_path):
    from click.testing import CliRunner

    from pipeline.cli import main

    project, _, _ = seed_project
    root = tmp_path / "cli"
    shutil.copytree(project.root, root)
    run = CliRunner().invoke(main, ["-C", str(root), "summarize", SLUG], catch_exceptions=False)
    assert run.exit_code == 0, run.output
    done = re.search(rf"Summarized (\d+)/(\d+) chapters of {SLUG}", run.output)
    assert done and done.group(1) == done.group(2) and int(done.group(1)) > 6  # 6 noted + found after them
    out = CliRunner().invoke(main, ["-C", str(root), "export", SLUG, "--format", "summaries"], catch_exceptions=False)
    assert out.exit_code == 0
    data = json.loads(out.stdout)
    assert data["summary"] and len(data["sentences"]) == len(data["chapters"]) > 6
    assert [c["title"] for c in data["chapters"]][:3] == [c.title for c in project.content.load_episode(SLUG).chapters][:3]
    for c in data["chapters"]:
        assert c["summary"] and c["sentences"]
        assert all(c["startTime"] - 0.5 <= s["startTime"] <= s["endTime"] for s in c["sentences"])
    bad = CliRunner().invoke(main, ["-C", str(root), "summarize", "nope"])
    assert bad.exit_code == 1
    assert bad.output.strip() == f"Error: unknown episode 'nope' (known: {SLUG})"
    bad = CliRunner().invoke(main, ["-C", str(root), "summarize", SLUG, "--backend", "llm"])
    assert bad.exit_code == 1 and "needs [summaries] url and model" in bad.output


def test_episode_without_transcript_is_a_clear_error(project):
    project.content.save_episode(Episode(slug="empty", title="Empty", chapters=[Chapter(0.0, "A")]))
    from pipeline.errors import ContentError

    with pytest.raises(ContentError, match="has no transcript to summarize"):
        run_summarize(project, "empty")
    assert not (project.root / "content" / ".recap" / "summaries" / "empty.json").exists()


# -- units ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("said, clean", [
    ("So, um, the the model is, you know, really good.", "The model is really good."),
    ("And so I think I think we, uh, like, trained it.", "I think we trained it."),
    ("We like models like GPT-4.", "We like models like GPT-4."),
    ("It's, it's a reward model that that is implicit.", "It's a reward model that is implicit."),
    ("I mean, the data is, like, repeated four times.", "The data is repeated four times."),
    ("We were-- we are going to show it.", "We are going to show it."),
    ("This kind of model is kind of good.", "This kind of model is good."),
    ("That is what I mean, really.", "That is what I mean, really."),
    ("We trained 4 4 models.", "We trained 4 4 models."),  # numbers are not stutters
    ("Like GPT-4, it is open.", "Like GPT-4, it is open."),  # "like" that means something stays
    ("You know the answer.", "You know the answer."),
    ("Like, you know, it's, uh, basically free.", "It's basically free."),
])
def test_clean_disfluencies(said, clean):
    assert clean_disfluencies(said) == clean


def test_spoken_sentences_rebuild_across_lines_and_split_at_speaker_changes():
    utts = [
        Utterance(10.0, 12.0, "So today we show that the", speaker="T1"),
        Utterance(12.0, 14.5, "loss goes down. And e.g. the", speaker="T1"),
        Utterance(14.5, 16.0, "reward rises", speaker="T1"),
        Utterance(16.0, 17.0, "Really?", speaker="T2"),
        Utterance(17.0, 18.0, "(applause)", speaker="T2", flags=["non-speech"]),
        Utterance(30.0, 31.0, "Out of range.", speaker="T2"),
    ]
    sents = spoken_sentences(utts, 10.0, 20.0)
    assert [s.text for s in sents] == ["So today we show that the loss goes down.", "And e.g. the reward rises",
                                       "Really?"]
    assert (sents[0].start, sents[0].end) == (10.0, 14.5)
    assert (sents[1].start, sents[1].end) == (12.0, 16.0)
    # word timestamps, when present, make the span exact
    words = [Word("Models", 1.0, 1.3), Word("learn.", 1.3, 1.6), Word("Then", 2.0, 2.2), Word("stop.", 2.2, 2.5)]
    sents = spoken_sentences([Utterance(1.0, 2.5, "Models learn. Then stop.", words=words)])
    assert [(s.text, s.start, s.end) for s in sents] == [("Models learn.", 1.0, 1.6), ("Then stop.", 2.0, 2.5)]


_SAID = [SpokenSentence("The reward model is trained on human preference pairs.", 100.0, 106.0),
         SpokenSentence("DPO removes the reinforcement learning loop entirely.", 150.0, 156.0),
         SpokenSentence("It is stable and cheap to train.", 200.0, 204.0)]


def test_verify_citations_keeps_grounded_sentences_with_their_time():
    answer = ("- The reward model learns from human preference pairs [1:41].\n"
              "- DPO removes the reinforcement learning loop [2:30], which makes it stable and cheap [3:21].")
    kept, dropped = verify_citations(answer, _SAID, 90.0, 240.0)
    assert not dropped
    assert [k.text for k in kept] == ["The reward model learns from human preference pairs.",
                                      "DPO removes the reinforcement learning loop, which makes it stable and cheap."]
    assert (kept[0].start, kept[0].end) == (101.0, 106.0)
    assert kept[1].start == 150.0 and kept[1].end == 204.0


def test_verify_citations_drops_and_reports_bad_sentences():
    answer = ("DPO removes the reinforcement learning loop [2:30]. "
              "The reward model uses preference pairs [12:00]. "
              "The authors say \"DPO beats every method on every benchmark\" [2:31]. "
              "Quantum chromodynamics explains galaxy rotation curves [1:45]. "
              "It is stable and cheap to train.")
    kept, dropped = verify_citations(answer, _SAID, 90.0, 240.0, chapter=3)
    assert [k.text for k in kept] == ["DPO removes the reinforcement learning loop."]
    reasons = [d.reason for d in dropped]
    assert reasons[0].startswith("cites [12:00], outside this part (1:30–4:00)")
    assert reasons[1].startswith("quotes 'DPO beats every method")
    assert reasons[2].startswith("not supported by the transcript near [1:45]")
    assert reasons[3] == "no timestamp citation"
    assert all(d.chapter == 3 for d in dropped)
    # a quotation that was said passes
    kept, dropped = verify_citations('They call it "stable and cheap to train" [3:20].', _SAID, 90.0, 240.0)
    assert len(kept) == 1 and not dropped


def test_summarize_episode_is_pure_and_handles_a_chapter_without_paper(tmp_path):
    lines = ["Welcome to the show, thank you all for coming.",
             "Graph neural networks pass messages between neighbouring nodes of a graph.",
             "Each layer aggregates the features of neighbouring nodes with learned weights.",
             "Deep message passing smooths node features until every node looks the same.",
             "Um, we, we propose a residual connection that keeps node features distinct.",
             "Do you have any questions?"]
    utts = [Utterance(10.0 * i, 10.0 * i + 9, t, speaker="T1") for i, t in enumerate(lines)]
    ep = Episode(slug="gnn", title="GNN", transcript=Transcript(utts),
                 chapters=[Chapter(0.0, "Message passing in graph neural networks")])
    result = summarize_episode(ep, {}, SummaryOptions(max_words=40))
    s = ep.chapters[0].summary
    assert result.episode is ep and s is not None and ep.summary is not None
    assert "graph" in s.text.lower() or "node" in s.text.lower()
    assert "Welcome" not in s.text and "?" not in s.text and "Um" not in s.text
    assert len(s.text.split()) <= 40
    # an episode without chapters still gets an episode summary (from the whole transcript)
    whole = Episode(slug="gnn2", title="GNN", transcript=Transcript(utts[1:4]))
    summarize_episode(whole, {}, SummaryOptions())
    assert whole.summary is not None and whole.summary.sentences[0].start == 10.0
