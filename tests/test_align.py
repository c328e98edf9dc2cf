"""Alignment on the real seed episode: notes chapters (exact and shifted), chapters found without notes,
links against the seed catalog (and with 3,000 decoys), speaker names, content writes keeping edits."""

from __future__ import annotations

import json
import random
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

from pipeline.align.episode import AlignOptions, align_episode, run_align
from pipeline.jobs.episode import align_if_ready
from pipeline.models import Episode, Paper, Transcript, Utterance
from pipeline.sources.catalog import find_paper, merge_papers
from pipeline.sources.notes import apply_notes, parse_notes
from pipeline.sources.papers import read_papers
from pipeline.sources.transcripts import import_transcript, read_transcript
from pipeline.timefmt import parse_timestamp

LEXICAL = AlignOptions(embeddings=False)
CATALOG_FILES = ["paper-listing.txt", "research-highlights-blog.txt", "neurips-2023-day5-notes.txt"]
NOTES = "neurips-2023-recap.shownotes-dev.txt"
# the dev notes' six chapters: start, the paper by a title it goes by, speakers
DEV = [("0:01:19", "Distributed Representations of Words and Phrases and their Compositionality", ["Jeff Dean", "Greg Corrado"]),
       ("0:15:28", "Are Emergent Abilities of Large Language Models a Mirage?", ["Rylan Schaeffer"]),
       ("0:28:48", "Direct Preference Optimization: Your Language Model is Secretly a Reward Model", ["Rafael Rafailov"]),
       ("0:41:36", "Direct Preference Optimization: Your Language Model is Secretly a Reward Model", ["Archit Sharma"]),
       ("0:52:03", "Scaling Data-Constrained Language Models", ["Niklas Muennighoff"]),
       ("1:00:50", "QLoRA: Efficient Finetuning of Quantized LLMs", ["Tim Dettmers"])]


@pytest.fixture(scope="module")
def catalog(seeds: Path) -> dict[str, Paper]:
    cat: dict[str, Paper] = {}
    for name in CATALOG_FILES:
        cat = merge_papers(cat, read_papers(seeds / name))
    return merge_papers(cat, parse_notes(seeds / NOTES).papers)  # papers covered, as a catalog only


@pytest.fixture(scope="module")
def transcript(seeds: Path) -> Transcript:
    return read_transcript(seeds / "neurips-2023-recap.transcript.txt")


@pytest.fixture(scope="module")
def truth(tmp_path_factory, catalog) -> list[dict]:
    """The truth file, written from the dev notes."""
    rows = []
    for ts, title, speakers in DEV:
        paper = find_paper(catalog, title)
        assert paper is not None, title
        rows.append({"start": parse_timestamp(ts), "paper": paper.id, "speakers": speakers})
    path = tmp_path_factory.mktemp("truth") / "neurips-2023-recap.truth.json"
    path.write_text(json.dumps(rows, indent=1))
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def no_notes(transcript, catalog):
    return align_episode(Episode(slug="recap", title="recap", transcript=transcript), catalog, {}, LEXICAL)


def _label_of(transcript: Transcript, text: str) -> str:
    u = next(u for u in transcript.utterances if u.text.strip() == text)
    assert u.speaker
    return u.speaker


def _label_at(transcript: Transcript, start: float) -> str:
    u = min(transcript.utterances, key=lambda u: abs(u.start - start))
    assert u.speaker
    return u.speaker


def test_with_notes_exact_times_links_and_speakers(project, seeds, truth):
    from pipeline.sources.papers import import_papers

    import_papers(project, [seeds / n for n in CATALOG_FILES])
    import_transcript(project, seeds / "neurips-2023-recap.transcript.txt", "recap")
    apply_notes(project, "recap", parse_notes(seeds / NOTES))
    align_if_ready(project, "recap")
    ep = project.content.load_episode("recap")
    papers = project.content.load_papers()
    people = project.content.load_people()
    assert [c.start for c in ep.chapters if c.source == "notes"] == [t["start"] for t in truth]
    # the notes stop after six chapters: the rest of the episode's chapters are found, not noted
    assert all(c.source == "auto" and c.start > truth[-1]["start"] for c in ep.chapters[len(truth):])
    assert len(ep.chapters) - len(truth) >= 8
    for c, t in zip(ep.chapters, truth):
        # the same paper as the truth's (deduplicated across the seeds: one record)
        assert c.paper is not None and find_paper(papers, papers[t["paper"]].title if t["paper"] in papers else t["paper"]).id == c.paper
    dpo = {c.paper for c in ep.chapters[2:4]}
    assert len(dpo) == 1
    assert ep.chapters[3].kind == "poster"
    t = ep.transcript
    assert people[ep.speakers[_label_of(t, "I'm Jeff.")]].name == "Jeff Dean"
    assert people[ep.speakers[_label_of(t, "And I'm Greg.")]].name == "Greg Corrado"
    # the presenters who introduce themselves at their chapter's start (found by time, 15:27.12 and 52:03.68)
    assert people[ep.speakers[_label_at(t, 927.12)]].name == "Rylan Schaeffer"
    assert people[ep.speakers[_label_at(t, 3123.68)]].name == "Niklas Muennighoff"
    # mentions of the chapters' papers, also outside their own chapter
    mentions = [m for m in ep.mentions if m.paper == ep.chapters[2].paper]
    assert any(m.chapter not in (2, 3) for m in mentions)
    assert all(m.quote and m.speaker for m in mentions)
    # posters
    posters = project.content.load_posters()
    assert [p.paper for p in posters.values() if p.start <= truth[-1]["start"]] == [ep.chapters[3].paper]


def test_notes_shifted_by_an_inserted_ad(transcript, catalog, seeds, truth):
    notes = parse_notes(seeds / NOTES)
    chapters = [replace_chapter(nc) for nc in notes.chapters]
    shifted = Transcript(utterances=[Utterance(0.0, 45.0, "[AD]")] + [
        replace(u, start=u.start + 45.0, end=u.end + 45.0) for u in transcript.utterances])
    ep = Episode(slug="recap", title="recap", transcript=shifted, chapters=chapters)
    result = align_episode(ep, catalog, {}, LEXICAL)
    for c, t in zip(result.chapters, truth):
        assert abs(c.start - (t["start"] + 45.0)) <= 2.0
    assert any("45" in n and "behind" in n for n in result.notes)
    # unshifted: exact, and said so
    exact = align_episode(replace(ep, transcript=transcript), catalog, {}, LEXICAL)
    assert [c.start for c in exact.chapters if c.source == "notes"] == [t["start"] for t in truth]
    assert any("agree" in n for n in exact.notes)


def replace_chapter(nc):
    from pipeline.models import Chapter

    return Chapter(start=nc.start, title=nc.title, kind=nc.kind, source="notes")


def test_without_notes_boundaries(no_notes, truth):
    starts = [c.start for c in no_notes.chapters if c.kind != "intro"]
    hits = [t for t in truth if any(abs(s - t["start"]) <= 30 for s in starts)]
    assert len(hits) >= 5
    spurious = [s for s in starts if s < parse_timestamp("1:12:00") and all(abs(s - t["start"]) > 30 for t in truth)]
    assert len(spurious) <= 2


def test_without_notes_links_and_names(no_notes, truth, catalog):
    people = {p.id: p for p in no_notes.people}
    for c in no_notes.chapters:
        if c.start >= parse_timestamp("1:12:00") or c.kind == "intro":
            continue
        t = min(truth, key=lambda t: abs(t["start"] - c.start))
        assert c.paper in (t["paper"], None), (c.start, c.paper)
    linked = [c for c in no_notes.chapters if c.paper and c.start < parse_timestamp("1:12:00")]
    assert len(linked) >= 4
    names = {people[s].name for c in no_notes.chapters for s in c.speakers if s in people}
    for want in ["Jeff Dean", "Greg Corrado", "Eric Mitchell", "Rafael Rafailov", "Archit Sharma",
                 "Niklas Muennighoff", "Tim Dettmers"]:
        assert want in names
    assert not {"Raphael", "Tim Detmers", "Detmers"} & names
    host = [p for p in people.values() if p.host]
    assert len(host) == 1
    # the host is recognised in several chapters' lead-ins
    assert sum(1 for pid in no_notes.speakers.values() if pid == host[0].id) >= 3


def _decoys(n: int, seed: int = 7) -> list[Paper]:
    rng = random.Random(seed)
    a = ["Adaptive", "Robust", "Scalable", "Efficient", "Hierarchical", "Contrastive", "Bayesian", "Sparse",
         "Federated", "Causal", "Equivariant", "Implicit", "Neural", "Stochastic", "Differentiable", "Graph"]
    b = ["Representation Learning", "Policy Optimization", "Image Segmentation", "Protein Folding", "Speech Recognition",
         "Domain Adaptation", "Point Cloud Registration", "Time Series Forecasting", "Molecule Generation",
         "Anomaly Detection", "Optimal Transport", "Meta-Learning", "Language Modeling", "Active Learning",
         "Reward Modeling", "Weight Quantization", "Instruction Tuning", "Visual Question Answering"]
    c = ["via Diffusion", "with Transformers", "for Low-Resource Settings", "under Distribution Shift", "at Scale",
         "without Labels", "in Partially Observed Environments", "with Provable Guarantees", "from Human Feedback"]
    first = ["Wei", "Anna", "Lukas", "Priya", "Jonas", "Mei", "Carlos", "Sara", "Tim", "Eric", "Greg", "Niklas"]
    last = ["Zhang", "Muller", "Rossi", "Kumar", "Kim", "Garcia", "Novak", "Ito", "Dettmar", "Mitchel", "Smith"]
    out = []
    for i in range(n):
        title = f"{rng.choice(a)} {rng.choice(b)} {rng.choice(c)}"
        if i % 3 == 0:
            title = f"{rng.choice(['Towards', 'On', 'Rethinking', 'Revisiting'])} {title}"
        authors = [f"{rng.choice(first)} {rng.choice(last)}" for _ in range(rng.randint(1, 5))]
        out.append(Paper(id=f"decoy-{i:04d}", title=title, authors=authors))
    return out


def test_decoy_catalog_does_not_add_wrong_links(transcript, catalog, no_notes, truth):
    big = dict(catalog)
    big.update({p.id: p for p in _decoys(3000)})
    result = align_episode(Episode(slug="recap", title="recap", transcript=transcript), big, {}, LEXICAL)

    def precision(res):
        linked = [c for c in res.chapters if c.paper and c.start < parse_timestamp("1:12:00")]
        right = [c for c in linked if c.paper == min(truth, key=lambda t: abs(t["start"] - c.start))["paper"]]
        return len(right) / max(1, len(linked)), len(right)

    p0, n0 = precision(no_notes)
    p1, n1 = precision(result)
    assert p1 >= p0 and n1 >= n0 - 1
    assert not any(c.paper and c.paper.startswith("decoy-") for c in result.chapters)
    assert not any(m.paper.startswith("decoy-") for m in result.mentions)


def test_run_align_keeps_a_persons_edits(project, seeds, run_cli):
    import_transcript(project, seeds / "neurips-2023-recap.transcript.txt", "recap")
    from pipeline.sources.papers import import_papers

    import_papers(project, [seeds / n for n in CATALOG_FILES])
    run_align(project, "recap", LEXICAL)
    path = project.content.path("episodes/recap/chapters.toml")
    data = tomllib.loads(path.read_text())
    k = next(i for i, c in enumerate(data["chapters"]) if c["kind"] != "intro")
    old_title = data["chapters"][k]["title"]
    path.write_text(path.read_text().replace(f'title = "{old_title}"', 'title = "My own title"', 1))
    result = run_cli("align", "recap", "--no-embeddings")
    assert result.exit_code == 0, result.output
    assert "1:21" in result.output and "15:27" in result.output
    again = tomllib.loads(path.read_text())
    assert again["chapters"][k]["title"] == "My own title"
    assert len(again["chapters"]) == len(data["chapters"])


def test_align_unknown_episode_is_one_line_error(run_cli):
    result = run_cli("align", "nope")
    assert result.exit_code == 1
    assert "unknown episode 'nope'" in result.output


def test_notes_chapter_drift_is_kept_and_reported(transcript, catalog, seeds, truth):
    """One chapter's time is 40 s off in notes that otherwise match the recording (the same cut): a
    person's time is kept exactly, and the contradiction reported with where the transcript has it."""
    notes = parse_notes(seeds / NOTES)
    chapters = [replace_chapter(nc) for nc in notes.chapters]
    chapters[4].start += 40.0
    result = align_episode(Episode(slug="recap", title="recap", transcript=transcript, chapters=chapters),
                           catalog, {}, LEXICAL)
    noted = [c for c in result.chapters if c.source == "notes"]
    assert [c.start for c in noted] == [c.start for c in chapters]
    report = [n for n in result.notes if "kept" in n and "suggest" in n]
    assert len(report) == 1 and chapters[4].title in report[0]
    assert [p.status for p in result.placements[:6]] == ["kept"] * 4 + ["kept, contradicted", "kept"]
    assert abs(result.placements[4].moved) < 0.01


def _synthetic(labels: bool) -> tuple[Episode, dict[str, Paper]]:
    """A made-up two-chapter episode with diarization labels spanning it (or no labels at all)."""
    lines: list[tuple[str, str]] = []
    host, a, b = "SPEAKER_00", "SPEAKER_01", "SPEAKER_02"
    lines += [(host, "Welcome to the workshop roundup."), (host, "This is Dana with the highlights of the week.")]
    lines += [(host, f"The first paper looks at expert routing in large mixtures, point {k}.") for k in range(6)]
    lines += [(host, "It won an outstanding paper award."), (host, "So here's Priya Raman.")]
    lines += [(a, "Hi, I'm Priya, and I'm presenting Sparse Mixture Routers.")]
    lines += [(a, f"Our router sends each token to two experts and balances the load, step {k}.") for k in range(40)]
    lines += [(a, "Thank you."), (host, "Routing collapse has been a problem for years and this fixes it."),
              (host, "Later I caught up with the second team at their poster."),
              (host, "Here's a bit of our chat with Lucas Becker.")]
    for k in range(20):
        lines += [(b, f"Our kernels diffuse over molecular graphs to predict binding, result {k}."),
                  (host, f"How does the diffusion kernel scale with molecule size, question {k}?")]
    return _made_up("synth", lines, labels, [
        Paper(id="smr", title="Sparse Mixture Routers: Scaling Experts Without Collapse",
              authors=["Priya Raman", "Ken Ito"], abstract="We route each token to experts with a balanced load."),
        Paper(id="gdk", title="Graph Diffusion Kernels for Molecular Binding", authors=["Lukas Becker", "Ana Ruiz"],
              abstract="Diffusion kernels over molecular graphs predict binding affinity.")])


def _made_up(slug: str, lines: list[tuple[str, str]], labels: bool, papers: list[Paper]) -> tuple[Episode, dict[str, Paper]]:
    """An episode of (speaker label, text) lines, 5 s each (labels dropped when ``labels`` is
    false), and a catalog of ``papers`` among 300 decoys."""
    utts = [Utterance(start=5.0 * i, end=5.0 * i + 4.8, text=t, speaker=s if labels else None)
            for i, (s, t) in enumerate(lines)]
    catalog = {p.id: p for p in [*papers, *_decoys(300)]}
    return Episode(slug=slug, title=slug, transcript=Transcript(utterances=utts)), catalog


@pytest.mark.parametrize("labels", [True, False])
def test_synthetic_episode_with_and_without_diarization(labels):
    ep, papers = _synthetic(labels)
    result = align_episode(ep, papers, {}, LEXICAL)
    talks = [c for c in result.chapters if c.kind != "intro"]
    assert [round(c.start) for c in talks] == [50, 275]
    assert [c.paper for c in talks] == ["smr", "gdk"]
    assert talks[1].kind == "poster" and [p.paper for p in result.posters] == ["gdk"]
    people = {p.id: p for p in result.people}
    assert people[talks[0].speakers[0]].name == "Priya Raman"
    assert people[talks[1].speakers[0]].name == "Lukas Becker"  # spelled as in the catalog
    assert [p.name for p in people.values() if p.host] == ["Dana"]
    if labels:  # the host's label is the host across chapters; each presenter's label is theirs
        assert people[result.speakers["SPEAKER_00"]].name == "Dana"
        assert people[result.speakers["SPEAKER_01"]].name == "Priya Raman"


def test_a_corrected_person_is_reused(project):
    """A person fixes a name once in content/people/; the next alignment keeps and reuses it."""
    ep, papers = _synthetic(True)
    store = project.content
    for p in list(papers.values())[:20]:
        store.save_paper(p)
    store.save_episode(ep)
    first = run_align(project, "synth", LEXICAL)
    host_id = first.speakers["SPEAKER_00"]
    path = store.path(f"people/{host_id}.toml")
    path.write_text(path.read_text().replace('name = "Dana"', 'name = "Dana Whitfield"'))
    second = run_align(project, "synth", LEXICAL)
    assert second.speakers["SPEAKER_00"] == host_id
    assert store.load_people()[host_id].name == "Dana Whitfield"
    assert len([p for p in store.load_people().values() if p.host]) == 1


def test_one_coincident_cue_does_not_shift_the_notes():
    from pipeline.align.chapters import Boundary, reconcile_notes

    # two chapters; a single strong cue 14 s after the second is no evidence of an offset
    cue = Boundary(index=3, start=26.0, score=3.0, cues=["self-introduction"])
    assert reconcile_notes([0.0, 12.0], [cue]).offset == 0.0


def test_self_introductions_with_a_place():
    from pipeline.align.chapters import self_intro_names

    assert self_intro_names("Okay. This is Diane in New Jersey.") == ["Diane"]
    assert self_intro_names("Hi, I'm Tim at the University of Washington.") == ["Tim"]


FULL_NOTES = Path(__file__).parent / "data" / "neurips-2023-recap.shownotes-full.txt"
# the 16 chapters of tests/data's reconstruction of the whole notes (times, titles and speakers as the
# episode's page lists them; the abstracts there are our own stand-ins): start, paper, presenters
FULL = [("0:01:19", "Distributed Representations of Words", ["Jeff Dean", "Greg Corrado"]),
        ("0:15:28", "Are Emergent Abilities", ["Rylan Schaeffer"]),
        ("0:28:48", "Direct Preference Optimization", ["Rafael Rafailov"]),
        ("0:41:36", "Direct Preference Optimization", ["Archit Sharma"]),
        ("0:52:03", "Scaling Data-Constrained", ["Niklas Muennighoff"]),
        ("1:00:50", "QLoRA", ["Tim Dettmers"]),
        ("1:12:23", "DataComp", ["Samir Gadre"]),
        ("1:25:38", "DataComp", ["Samir Gadre", "Alex Dimakis"]),
        ("1:35:25", "Visual Instruction Tuning", ["Haotian Liu"]),
        ("1:47:21", "Visual Instruction Tuning", ["Haotian Liu"]),
        ("1:59:19", "Tree of Thoughts", ["Shunyu Yao"]),
        ("2:11:31", "Tree of Thoughts", ["Shunyu Yao"]),
        ("2:20:09", "Toolformer", ["Jane Dwivedi-Yu"]),
        ("2:32:26", "Voyager", ["Guanzhi Wang"]),
        ("2:45:14", "Evaluating Cognitive Maps", ["Ida Momennejad"]),
        ("2:59:41", "Mamba", ["Chris Ré"])]


def test_whole_notes_past_the_dev_slice(project, seeds):
    """All 16 chapters of the whole episode (the dev slice has 6): times kept or moved a few seconds
    to the transcript's own start, every chapter linked to its paper though half the papers are in no
    catalog but the notes, poster sessions found, and presenters named as the notes spell them even
    when the ASR heard them otherwise ("Shen Yu" is Shunyu Yao, not a catalog author called Shenyu)."""
    from pipeline.sources.papers import import_papers

    import_papers(project, [seeds / n for n in CATALOG_FILES])
    import_transcript(project, seeds / "neurips-2023-recap.transcript.txt", "recap")
    notes = parse_notes(FULL_NOTES)
    assert (len(notes.chapters), len(notes.papers)) == (16, 13)
    apply_notes(project, "recap", notes)
    align_if_ready(project, "recap")
    ep = project.content.load_episode("recap")
    papers, people = project.content.load_papers(), project.content.load_people()
    assert len(ep.chapters) == len(FULL)
    for c, (ts, title, speakers) in zip(ep.chapters, FULL):
        assert abs(c.start - parse_timestamp(ts)) <= 10.0, (c.title, c.start)
        assert c.paper is not None and papers[c.paper].title.startswith(title), (c.title, c.paper)
        named = {people[s].name for s in c.speakers if s in people}
        assert set(speakers) <= named, (c.title, named)
    assert [c.title for c in ep.chapters if c.kind == "poster"] == [
        "DPO Poster Session", "DataComp Poster Session", "LLaVA Poster Session", "Tree of Thought Poster Session"]
    assert not [p for p in people.values() if p.name == "Shenyu Zhang"]
    assert len(project.content.load_posters()) == 4


def _session(labels: bool) -> tuple[Episode, dict[str, Paper]]:
    """A made-up conference session: a chair introduces three talks with the idioms chairs use
    ("our first speaker is", "please welcome", "the floor is yours", "it is my pleasure to introduce"),
    speakers introduce themselves in other ways than the podcast's ("I am ...", "My name is ...",
    or not at all), with questions after each talk."""
    chair, a, b, c, q = "SPEAKER_00", "SPEAKER_01", "SPEAKER_02", "SPEAKER_03", "SPEAKER_04"
    lines: list[tuple[str, str]] = [
        (chair, "Good morning and welcome to the session on efficient inference."),
        (chair, "We have three talks this morning, each followed by a few questions."),
        (chair, "Our first speaker comes from Tsinghua and works on decoding."),
        (chair, "Please welcome Wei Zhang."),
        (a, "Thank you. I am Wei Zhang, and today I will talk about draft trees for speculative decoding.")]
    lines += [(a, f"A small draft model proposes a tree of tokens and the large model verifies it, part {k}.")
              for k in range(36)]
    lines += [(a, "Thank you for your attention."), (chair, "Thank you. We have time for a question."),
              (q, "How deep can the draft tree go before verification gets slower?"),
              (a, "About five levels in our experiments."),
              (chair, "Our next speaker is Anna Novak. The floor is yours.")]
    lines += [(b, "Thanks. So this work is about compressing the key value cache of long prompts.")]
    lines += [(b, f"Keys and values are stored in low precision per channel, and old tokens leave the cache, part {k}.")
              for k in range(36)]
    lines += [(chair, "Thank you Anna."), (q, "Does the eviction hurt retrieval over long documents?"),
              (b, "Only slightly, the retrieval accuracy drops by one point."),
              (chair, "And now it is my pleasure to introduce Carlos Garcia.")]
    lines += [(c, "Hello everyone. My name is Carlos Garcia, and I work on sparse attention for inference.")]
    lines += [(c, f"Our sparse attention kernels skip blocks with low scores on the accelerator, part {k}.")
              for k in range(36)]
    lines += [(chair, "Let's thank all our speakers again.")]
    return _made_up("session", lines, labels, [
        Paper(id="dt", title="Draft Trees: Faster Speculative Decoding", authors=["Wei Zhang", "Mei Ito"],
              abstract="A draft model proposes a tree of tokens that the target model verifies in one pass."),
        Paper(id="kv", title="Compressing the Key Value Cache of Long Prompts", authors=["Anna Novak"],
              abstract="We quantize the key value cache per channel and evict stale entries."),
        Paper(id="sa", title="Block-Sparse Attention Kernels for Inference", authors=["Carlos Garcia", "Sara Kim"],
              abstract="Sparse attention kernels skip low-scoring blocks on the accelerator.")])


@pytest.mark.parametrize("labels", [True, False])
def test_a_chaired_conference_session(labels):
    ep, papers = _session(labels)
    result = align_episode(ep, papers, {}, LEXICAL)
    talks = [c for c in result.chapters if c.kind != "intro"]
    starts = [20, 230, 435]  # the first words of each speaker
    assert [round(c.start) for c in talks] == starts
    assert [c.paper for c in talks] == ["dt", "kv", "sa"]
    people = {p.id: p for p in result.people}
    named = [{people[s].name for s in c.speakers if s in people} for c in talks]
    assert "Wei Zhang" in named[0] and "Anna Novak" in named[1] and "Carlos Garcia" in named[2]


def test_without_notes_a_poster_session_after_its_talk(transcript, catalog):
    """No notes; the catalog knows the papers covered. The DataComp poster session (1:25:37, after
    "so let's give them a listen") is found, linked to the paper of the talk before it (the same
    presenter introduces himself again by first name) and its presenter is the talk's Samir Gadre."""
    covered = merge_papers(catalog, parse_notes(FULL_NOTES).papers)
    result = align_episode(Episode(slug="recap", title="recap", transcript=transcript), covered, {}, LEXICAL)
    people = {p.id: p for p in result.people}
    talk = next(c for c in result.chapters if abs(c.start - parse_timestamp("1:12:23")) <= 5)
    poster = next(c for c in result.chapters if abs(c.start - parse_timestamp("1:25:37")) <= 5)
    assert covered[talk.paper].title.startswith("DataComp") and poster.paper == talk.paper
    assert poster.kind == "poster"
    assert [people[s].name for s in poster.speakers] == ["Samir Gadre"] == [people[s].name for s in talk.speakers]


def test_two_noted_chapters_from_the_start_are_the_same_cut(transcript, catalog, seeds, truth):
    """A recording that starts mid-talk (no cue at 0:00) with notes "0:00 ..., 1:00 ...": the 0:00 start
    agrees with any cut, so the second alone decides; it agrees, so both times are kept exactly (not
    placed as if the notes were on another cut, which lost the first chapter)."""
    notes = parse_notes(seeds / NOTES)
    cut = truth[1]["start"] - 60.0
    utts = [replace(u, start=round(u.start - cut, 2), end=round(u.end - cut, 2))
            for u in transcript.utterances if u.start >= cut]
    chapters = [replace_chapter(nc) for nc in notes.chapters[:2]]
    chapters[0].start, chapters[1].start = 0.0, 60.0
    ep = Episode(slug="recap", title="recap", transcript=Transcript(utterances=utts), chapters=chapters)
    result = align_episode(ep, catalog, {}, LEXICAL)
    assert [c.start for c in result.chapters if c.source == "notes"] == [0.0, 60.0]
    assert any("agree" in n for n in result.notes) and not any("another cut" in n for n in result.notes)
