"""Show notes: the real run-together notes, Markdown notes, chapter-paper links, bad notes."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.sources.notes import apply_notes, parse_notes
from pipeline.sources.papers import import_papers
from tests.conftest import content_snapshot

DEV = "neurips-2023-recap.shownotes-dev.txt"


@pytest.fixture(scope="module")
def dev_notes(seeds):
    return parse_notes(seeds / DEV)


def test_dev_notes_chapters(dev_notes):
    assert dev_notes.title == "NeurIPS 2023 Recap — Best Papers"
    assert [(c.start, c.title, c.speakers, c.kind) for c in dev_notes.chapters] == [
        (79.0, "Word2Vec", ["Jeff Dean", "Greg Corrado"], "talk"),
        (928.0, "Emergence Mirage", ["Rylan Schaeffer"], "talk"),
        (1728.0, "DPO", ["Rafael Rafailov"], "talk"),
        (2496.0, "DPO Poster Session", ["Archit Sharma"], "poster"),
        (3123.0, "Datablations", ["Niklas Muennighoff"], "talk"),
        (3650.0, "QLoRA", ["Tim Dettmers"], "talk"),
    ]


def test_dev_notes_papers(dev_notes):
    papers = dev_notes.papers
    assert [p.title for p in papers] == [
        "Distributed Representations of Words and Phrases and their Compositionality",
        "Are Emergent Abilities of Large Language Models a Mirage?",
        "Direct Preference Optimization: Your Language Model is Secretly a Reward Model",
        "Scaling Data-Constrained Language Models",
        "QLoRA: Efficient Finetuning of Quantized LLMs",
    ]
    w2v = papers[0]
    assert w2v.aliases == ["Word2Vec"]
    assert w2v.authors == ["Tomas Mikolov", "Ilya Sutskever", "Kai Chen", "Greg Corrado", "Jeff Dean"]
    assert papers[2].authors == ["Rafailov et al."]
    for p in papers:
        assert len(p.abstract.split()) > 40, p.title
        assert "* " not in p.abstract and "Papers covered" not in p.abstract
        assert p.sources == [DEV]
    # the DPO abstract's own bullets are part of it; the host's asides become a note
    assert papers[2].abstract.count(".") >= 5
    assert any("Twitter" in n.text for n in papers[2].notes)
    assert any("poster session" in n.text for n in papers[3].notes)


def test_dev_notes_description(dev_notes):
    d = dev_notes.description
    assert "New Orleans" in d and "Mamba" in d
    assert "[0:01:19]" not in d and "Timestamps" not in d and "Papers covered" not in d
    assert "Skip-gram" not in d  # abstracts are not part of the description
    assert "\n\nNeurIPS 2023 took place" in d  # glued paragraphs are separated


MARKDOWN = """# Episode 12: Posters from the hall

Our picks from day two. See **the site** for more.

## Chapters
- 00:00 Intro
(02:30) Voyager poster session (Guanzhi Wang)
- 00:12:30 - LLaVA: a chat with the authors (Haotian Liu & Chunyuan Li)
[1:02:03] Something unrelated entirely
1:10:00 | Wrap-up

## Papers covered
- Voyager: An Open-Ended Embodied Agent with Large Language Models (Wang et al.)
- Visual Instruction Tuning (LLaVA) Haotian Liu · Chunyuan Li · Qingyang Wu · Yong Jae Lee. We present the first attempt to use language-only GPT-4 to generate multimodal language-image instruction-following data.

## Links
Thanks for listening.
"""


def test_markdown_notes(tmp_path: Path):
    p = tmp_path / "notes.md"
    p.write_text(MARKDOWN, "utf-8")
    notes = parse_notes(p)
    assert notes.title == "Episode 12: Posters from the hall"
    assert [(c.start, c.title, c.speakers, c.kind) for c in notes.chapters] == [
        (0.0, "Intro", [], "talk"),
        (150.0, "Voyager poster session", ["Guanzhi Wang"], "poster"),
        (750.0, "LLaVA: a chat with the authors", ["Haotian Liu", "Chunyuan Li"], "talk"),
        (3723.0, "Something unrelated entirely", [], "talk"),
        (4200.0, "Wrap-up", [], "talk"),
    ]
    assert [p.title for p in notes.papers] == [
        "Voyager: An Open-Ended Embodied Agent with Large Language Models", "Visual Instruction Tuning"]
    assert notes.papers[1].aliases == ["LLaVA"] and notes.papers[1].authors[-1] == "Yong Jae Lee"
    assert "Our picks from day two." in notes.description and "Thanks for listening." in notes.description
    assert "Intro" not in notes.description and "Voyager:" not in notes.description


def test_apply_markdown_notes_links_and_unlinked(project, tmp_path: Path):
    p = tmp_path / "notes.md"
    p.write_text(MARKDOWN, "utf-8")
    ep = apply_notes(project, "day-two", parse_notes(p))
    assert ep.title == "Episode 12: Posters from the hall"
    papers = project.content.load_papers()
    by_title = {c.title: c for c in ep.chapters}
    voyager = papers[by_title["Voyager poster session"].paper]
    assert voyager.title.startswith("Voyager") and by_title["Voyager poster session"].kind == "poster"
    assert papers[by_title["LLaVA: a chat with the authors"].paper].title == "Visual Instruction Tuning"
    assert by_title["Intro"].paper is None and by_title["Something unrelated entirely"].paper is None
    assert [c.end for c in ep.chapters] == [150.0, 750.0, 3723.0, 4200.0, None]
    assert set(project.content.load_people()) == {"guanzhi-wang", "haotian-liu", "chunyuan-li"}


def test_apply_dev_notes_after_catalog(project, seeds):
    import_papers(project, [seeds / "paper-listing.txt", seeds / "research-highlights-blog.txt",
                            seeds / "neurips-2023-day5-notes.txt"])
    ep = apply_notes(project, "neurips-2023", parse_notes(seeds / DEV))
    store = project.content
    papers = store.load_papers()
    links = [c.paper for c in ep.chapters]
    assert all(links)
    assert len(set(links)) == 5 and links[2] == links[3]  # the DPO talk and its poster session
    titles = [papers[pid].title for pid in links]
    assert titles[0].startswith("Distributed Representations of Words")
    assert titles[1] == "Are Emergent Abilities of Large Language Models a Mirage?"
    assert titles[2].startswith("Direct Preference Optimization")
    assert titles[4] == "Scaling Data-Constrained Language Models"
    assert titles[5].startswith("QLoRA") and links[5] == "2305.14314"
    assert ep.chapters[3].kind == "poster" and ep.chapters[3].speakers == ["archit-sharma"]
    assert all(c.source == "notes" for c in ep.chapters)
    assert ep.papers == [links[0], links[1], links[2], links[4], links[5]]
    assert store.load_people()["rylan-schaeffer"].name == "Rylan Schaeffer"
    # stored and reloaded the same; each paper exists once
    again = store.load_episode("neurips-2023")
    assert [c.paper for c in again.chapters] == links and again.description.strip() == ep.description.strip()
    for name in ("Direct Preference Optimization", "QLoRA", "Mamba:", "Visual Instruction Tuning", "Voyager:"):
        assert sum(1 for p in papers.values() if p.title.startswith(name)) == 1, name
    # importing the same notes again changes nothing
    before = content_snapshot(store.root)
    apply_notes(project, "neurips-2023", parse_notes(seeds / DEV))
    assert content_snapshot(store.root) == before


def test_notes_without_timestamps(tmp_path: Path):
    p = tmp_path / "plain.md"
    p.write_text("# A title\n\nJust a description, no chapters at 3 pm.\n", "utf-8")
    with pytest.raises(InputError) as exc:
        parse_notes(p)
    assert exc.value.message == (f"{p}: no chapter timestamps found (expected lines like "
                                 "'[0:15:28] Title (Speaker)' or '- 00:12:30 Title')")


def test_short_name_inside_a_chapter_title():
    from pipeline.models import Paper
    from pipeline.sources.notes import NoteChapter, link_chapters

    mamba = Paper(id="mamba", title="Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
                  authors=["Albert Gu", "Tri Dao"])
    dpo = Paper(id="dpo", title="Direct Preference Optimization: Your Language Model is Secretly a Reward Model")
    chapters = [NoteChapter(0, "Chris Ré on Mamba and StripedHyena", ["Chris Ré"]),
                NoteChapter(60, "DPO vs Mamba"),  # two papers named: ambiguous, left unlinked
                NoteChapter(90, "Closing thoughts")]
    assert link_chapters(chapters, [mamba, dpo]) == ["mamba", None, None]


def test_markdown_variants(tmp_path: Path):
    """Bold headings, a prose line ending in "papers", an (Author et al., year) header, an
    acronym in parentheses, a chapter with no speakers and a '*' inside its title."""
    from pipeline.sources.catalog import find_paper
    from pipeline.sources.notes import link_chapters

    p = tmp_path / "ep3.md"
    p.write_text("""Ep 3

We covered three papers
and more.

[0:00:10] Intro
[0:05:00] Invited talk: Chris Ré - Systems for FM (Chris Ré)
[0:20:00] Q* rumours
[0:30:00] STOP poster (Eric Zelikman, Eliana Lorch)

**Papers covered:**
- Self-Taught Optimizer (STOP): Recursively Self-Improving Code Generation (Zelikman et al., 2023). We made up this sentence to stand in for an abstract long enough to be taken as the abstract here.
- Toolformer: Language Models Can Teach Themselves to Use Tools (Schick et al.)
""", "utf-8")
    n = parse_notes(p)
    assert [(c.start, c.speakers, c.kind) for c in n.chapters] == [
        (10.0, [], "talk"), (300.0, ["Chris Ré"], "talk"), (1200.0, [], "talk"),
        (1800.0, ["Eric Zelikman", "Eliana Lorch"], "poster")]
    assert n.chapters[2].title == "Q* rumours"
    stop, toolformer = n.papers
    assert stop.title.startswith("Self-Taught Optimizer (STOP): Recursively") and stop.date == "2023"
    assert stop.authors == ["Zelikman et al."] and stop.abstract.startswith("We made up")
    assert toolformer.authors == ["Schick et al."] and not toolformer.abstract
    assert n.description == "We covered three papers\nand more."
    assert link_chapters(n.chapters, n.papers) == [None, None, None, stop.id]
    assert find_paper({stop.id: stop}, "STOP") is stop


def test_first_line_is_a_title_only_when_it_looks_like_one():
    from pipeline.sources.notes import parse_notes_text

    n = parse_notes_text("This week we talk about posters.\n- 00:00 Intro\n- 05:00 Main\n")
    assert n.title is None and n.description == "This week we talk about posters."
    assert [c.title for c in n.chapters] == ["Intro", "Main"]
    assert parse_notes_text("Episode 4\n\n00:00 Intro\n").title == "Episode 4"


def test_links_by_title_words_abstract_and_short_names():
    """Chapter titles as hosts write them; abstracts here are made up for the test."""
    from pipeline.models import Paper
    from pipeline.sources.notes import NoteChapter, link_chapters

    papers = [
        Paper(id="llava", title="Visual Instruction Tuning", authors=["Liu et al."],
              abstract="We present LLaVA, a large multimodal model trained end to end."),
        Paper(id="tot", title="Tree of Thoughts: Deliberate Problem Solving with Large Language Models"),
        Paper(id="mamba", title="Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
              abstract="Structured state space models (SSMs) are fast."),
        Paper(id="cog", title="Evaluating Cognitive Maps and Planning in Large Language Models with CogEval"),
        Paper(id="dc", title="DataComp: In search of the next generation of multimodal datasets"),
    ]
    chapters = [NoteChapter(0, "LLaVA", ["Haotian Liu"]), NoteChapter(1, "LLaVA Poster Session"),
                NoteChapter(2, "Tree of Thought"), NoteChapter(3, "CogEval"), NoteChapter(4, "State Space Models"),
                NoteChapter(5, "DataComp Poster Session"), NoteChapter(6, "Large Language Models panel")]
    assert link_chapters(chapters, papers) == ["llava", "llava", "tot", "cog", "mamba", "dc", None]


def test_papers_given_by_arxiv_links_are_a_catalog_source(project, tmp_path: Path):
    p = tmp_path / "notes.md"
    p.write_text("# Ep 3\n\n- [00:00:10] Intro\n- [00:05:00] QLoRA with Tim Dettmers\n\n## Papers\n\n"
                 "- [QLoRA: Efficient Finetuning of Quantized LLMs](https://arxiv.org/abs/2305.14314v2)\n"
                 "- Mamba: Linear-Time Sequence Modeling with Selective State Spaces - "
                 "https://arxiv.org/abs/2312.00752 (Albert Gu, Tri Dao)\n"
                 "- [a blog post about it](https://example.org/post)\n", encoding="utf-8")
    notes = parse_notes(p)
    assert [(x.id, x.title, x.arxiv, x.authors) for x in notes.papers] == [
        ("2305.14314", "QLoRA: Efficient Finetuning of Quantized LLMs", "2305.14314", []),
        ("2312.00752", "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", "2312.00752",
         ["Albert Gu", "Tri Dao"])]
    ep = apply_notes(project, "ep3", notes)
    assert ep.chapters[1].paper == "2305.14314"
    assert set(project.content.load_papers()) == {"2305.14314", "2312.00752"}
