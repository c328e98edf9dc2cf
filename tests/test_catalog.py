"""Paper catalog: the real seed sources read exactly, merged into one Paper per real paper."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.models import Paper
from pipeline.sources.catalog import find_paper, merge_papers, norm_title, title_score
from pipeline.sources.papers import import_papers, read_papers
from tests.conftest import content_snapshot

SOURCES = ("paper-listing.txt", "research-highlights-blog.txt", "neurips-2023-day5-notes.txt")


@pytest.fixture(scope="module")
def listing(seeds) -> list[Paper]:
    return read_papers(seeds / "paper-listing.txt")


@pytest.fixture(scope="module")
def all_sources(seeds) -> dict[str, list[Paper]]:
    return {name: read_papers(seeds / name) for name in SOURCES}


# index, title, number of authors, first author, last author, date, abstract start, abstract end.
# Chosen for the hard seams: titles glued after abstracts ending in a URL without a period
# ("...S-LoRASimplifying", "...dspyTimeGPT-1"), after "LMs" with no period, titles starting with a
# digit-bearing word, three-word and initialled first authors, single authors, "DJ Strouse".
EXPECTED = [
    (0, "KAN: Kolmogorov-Arnold Networks", 8, "Ziming Liu", "Max Tegmark", "2024-05-02", "Inspired by the Kolmogorov-Arnold", "heavily on MLPs."),
    (1, "AutoCodeRover: Autonomous Program Improvement", 4, "Yuntong Zhang", "Abhik Roychoudhury", "2024-04-08", "Researchers have made significant", "be autonomously improved."),
    (2, "RouterBench: A Benchmark for Multi-LLM Routing System", 8, "Qitian Jason Hu", "Shriyash Kaustubh Upadhyay", "2024-03-28", "As the range of", "available at https://github.com/withmartian/routerbench."),
    (4, "Cognitive Architectures for Language Agents", 4, "Theodore R. Sumers", "Thomas L. Griffiths", "2024-03-15", "Recent efforts have augmented", "language-based general intelligence."),
    (8, "The Era of 1-bit LLMs: All Large Language Models are in 1.58 Bits", 10, "Shuming Ma", "Furu Wei", "2024-02-27", "Recent research, such as", "for 1-bit LLMs."),
    (29, "Principled Instructions Are All You Need for Questioning LLaMA-1/2, GPT-3.5/4", 3, "Sondos Mahmoud Bsharat", "Zhiqiang Shen", "2024-01-18", "This paper introduces 26", "available at https://github.com/VILA-Lab/ATLAS."),
    (51, "System 2 Attention (is something you might need too)", 2, "Jason Weston", "Sainbayar Sukhbaatar", "2023-11-20", "Soft attention in Transformer-based", "and decreases sycophancy."),
    (58, "Simplifying Transformer Blocks", 2, "Bobby He", "Thomas Hofmann", "2023-11-03", "A simple design recipe", "15% fewer parameters."),
    (61, "AI Alignment: A Comprehensive Survey", 25, "Jiaming Ji", "Wen Gao", "2023-11-01", "AI alignment aims to", "and other resources."),
    (83, "TimeGPT-1", 2, "Azul Garza", "Max Mergenthaler-Canseco", "2023-10-05", "In this paper, we", "in deep learning."),
    (44, "LLMLingua: Compressing Prompts for Accelerated Inference of Large Language Models", 5, "Huiqiang Jiang", "Lili Qiu", "2023-12-06", "Large language models (LLMs)", "available at https://aka.ms/LLMLingua."),
    (55, "Tamil-Llama: A New Tamil Language Model Based on Llama 2", 1, "Abhinand Balachandran", "Abhinand Balachandran", "2023-11-10", "Language modeling has witnessed", "in language modeling."),
    (77, "Mistral 7B", 18, "Albert Q. Jiang", "William El Sayed", "2023-10-10", "We introduce Mistral 7B", "Apache 2.0 license."),
    (126, "In-context Reinforcement Learning with Algorithm Distillation", 14, "Michael Laskin", "Volodymyr Mnih", "2022-10-25", "We propose Algorithm Distillation", "the source data."),
    (62, "Faith and Fate: Limits of Transformers on Compositionality", 16, "Nouha Dziri", "Yejin Choi", "2023-10-31", "Transformer large language models", "task\\, complexity."),
    (132, "PinnerFormer: Sequence Modeling for User Representation at Pinterest", 4, "Nikil Pancha", "Charles Rosenberg", "2022-05-09", "Sequential models have become", "of Fall 2021."),
    (90, "Efficient Streaming Language Models with Attention Sinks", 5, "Guangxuan Xiao", "Mike Lewis", "2023-09-29", "Deploying Large Language Models", "provided at https://github.com/mit-han-lab/streaming-llm."),
    (114, "DIN-SQL: Decomposed In-Context Learning of Text-to-SQL with Self-Correction", 2, "Mohammadreza Pourreza", "Davood Rafiei", "2023-04-27", "We study the problem", "holdout Spider dataset."),
    (46, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces", 2, "Albert Gu", "Tri Dao", "2023-12-01", "Foundation models, now powering", "and downstream evaluation."),
    (115, "Visual Instruction Tuning", 4, "Haotian Liu", "Yong Jae Lee", "2023-04-17", "Instruction tuning large language", "base publicly available."),
    (67, "Voyager: An Open-Ended Embodied Agent with Large Language Models", 8, "Guanzhi Wang", "Anima Anandkumar", "2023-10-19", "We introduce Voyager, the", "prompts at https://voyager.minedojo.org/."),
    (110, "Direct Preference Optimization: Your Language Model is Secretly a Reward Model", 6, "Rafael Rafailov", "Chelsea Finn", "2023-05-29", "While large-scale unsupervised language", "implement and train."),
    (157, "Learning Factored Representations in a Deep Mixture of Experts", 3, "David Eigen", "Ilya Sutskever", "2014-03-09", "Mixtures of Experts combine", "all expert combinations."),
    (139, "Scaling Scaling Laws with Board Games", 1, "Andy L. Jones", "Andy L. Jones", "2021-04-15", "The largest experiments in", "while maintaining performance."),
    (23, "A decoder-only foundation model for time-series forecasting", 4, "Abhimanyu Das", "Yichen Zhou", "2024-02-04", "Motivated by recent advances", "and temporal granularities."),
    (66, "Eureka: Human-Level Reward Design via Coding Large Language Models", 9, "Yecheng Jason Ma", "Anima Anandkumar", "2023-10-19", "Large Language Models (LLMs)", "at rapid speed."),
    (50, "Orca 2: Teaching Small Language Models How to Reason", 15, "Arindam Mitra", "Ahmed Awadallah", "2023-11-21", "Orca 1 learns from", "of smaller LMs"),
    (40, "Characterizing Large Language Model Geometry Solves Toxicity Detection and Generation", 3, "Randall Balestriero", "Sarath Shekkizhar", "2023-12-11", "Large Language Models~(LLMs) drive", "Code: \\url{https://github.com/RandallBalestriero/SplineLLM}."),
    (81, "The Troubling Emergence of Hallucination in Large Language Models -- An Extensive Definition, Quantification, and Prescriptive Remediations", 8, "Vipula Rawte", "Amitava Das", "2023-10-08", "The recent advancements in", "for mitigating hallucinations."),
    (82, "DSPy: Compiling Declarative Language Model Calls into Self-Improving Pipelines", 13, "Omar Khattab", "Christopher Potts", "2023-10-05", "The ML community is", "available at https://github.com/stanfordnlp/dspy"),
]


def test_listing_has_158_papers(listing):
    assert len(listing) == 158
    assert len({p.title for p in listing}) == 158
    assert all(p.sources == ["paper-listing.txt"] for p in listing)


@pytest.mark.parametrize("row", EXPECTED, ids=[r[1][:30] for r in EXPECTED])
def test_listing_fields(listing, row):
    index, title, n_authors, first, last, date, start, end = row
    p = listing[index]
    assert p.title == title
    assert len(p.authors) == n_authors
    assert p.authors[0] == first and p.authors[-1] == last
    assert p.date.startswith(date) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", p.date)
    assert p.abstract.startswith(start)
    assert p.abstract.endswith(end)


def test_listing_split_is_lossless(listing, seeds):
    """Each 'title authors date' line is exactly: previous abstract + title + authors + date."""
    lines = [ln for ln in (seeds / "paper-listing.txt").read_text("utf-8").split("\n")
             if re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", ln)]
    assert len(lines) == 158
    for k, (paper, line) in enumerate(zip(listing, lines)):
        prev = listing[k - 1].abstract if k else ""
        rebuilt = f"{prev}{paper.title} {', '.join(paper.authors)} {paper.date.replace('T', ' ')}"
        assert re.sub(r"\s+", "", rebuilt) == re.sub(r"\s+", "", line), paper.title


def test_no_abstract_contains_the_next_title(listing):
    for paper, nxt in zip(listing, listing[1:]):
        assert nxt.title not in paper.abstract
        assert paper.abstract and paper.authors
        # an author list never leaks into a title, and names look like names
        assert not re.search(r"\d{4}-\d\d-\d\d", paper.title)
        assert all(1 <= len(a.split()) <= 6 for a in paper.authors)


def test_blog_papers(all_sources):
    blog = all_sources["research-highlights-blog.txt"]
    assert len(blog) == 23
    assert all(re.fullmatch(r"\d{4}\.\d{4,5}", p.arxiv or "") for p in blog)
    assert all(p.id == p.arxiv for p in blog)
    assert all(re.fullmatch(r"2023-\d\d-\d\d", p.date or "") for p in blog)
    assert all(len(p.notes) == 1 and len(p.notes[0].text.split()) > 20 for p in blog)
    dpo = next(p for p in blog if p.arxiv == "2305.18290")
    assert dpo.title.startswith("Direct Preference Optimization") and dpo.date == "2023-05-29"
    # section headings and the footer are not papers, and the last note stops at its paragraph
    assert not any(p.title in ("Computer Vision", "Large Language Models") for p in blog)
    last = blog[-1]
    assert last.title == "Dropout Drops Double Descent"
    assert "Rewritten by" not in last.notes[0].text and "GPT-4 performed" not in last.notes[0].text


def test_day_notes(all_sources):
    day = all_sources["neurips-2023-day5-notes.txt"]
    assert len(day) == 8
    assert not any("Invited Talk" in p.title for p in day)
    titles = [p.title for p in day]
    assert "Is Emergent ability of Large Language Models a mirage?" in titles
    assert "JailBroken: How does LLM Safety Training Fail?" in titles
    assert "Stable and low-precision training for large-scale vision-language models" in titles
    assert all(len(p.notes) == 1 and p.notes[0].text and not p.notes[0].text.endswith("Paper.") for p in day)
    stable = next(p for p in day if p.title.startswith("Stable"))
    assert "beta2=0.999" in stable.notes[0].text  # the item broken over three lines is one note


def test_merge_all_sources_and_notes(all_sources, seeds):
    from pipeline.sources.notes import parse_notes

    catalog: dict[str, Paper] = {}
    for name in SOURCES:
        catalog = merge_papers(catalog, all_sources[name])
    assert len(catalog) == 158 + 23 + 8 - 1  # DPO is in the listing and the blog
    catalog = merge_papers(catalog, parse_notes(seeds / "neurips-2023-recap.shownotes-dev.txt").papers)
    for key in ("direct preference optimization", "qlora", "mamba", "visual instruction tuning", "voyager",
                "emergent abilit"):
        hits = [p for p in catalog.values() if norm_title(key) in norm_title(p.title)
                or any(norm_title(key) in norm_title(a) for a in p.aliases)]
        assert len({p.id for p in hits}) == 1, (key, [p.title for p in hits])
    dpo = find_paper(catalog, "DPO")
    assert dpo is not None and dpo.arxiv == "2305.18290" and len(dpo.authors) == 6
    assert {n.source for n in dpo.notes} >= {"research-highlights-blog.txt"}
    assert set(dpo.sources) >= {"paper-listing.txt", "research-highlights-blog.txt",
                                "neurips-2023-recap.shownotes-dev.txt"}
    mirage = find_paper(catalog, "Are Emergent Abilities of Large Language Models a Mirage?")
    assert mirage is find_paper(catalog, "Is Emergent ability of Large Language Models a mirage?")
    assert mirage.abstract and {n.source for n in mirage.notes} == {"neurips-2023-day5-notes.txt"}
    assert find_paper(catalog, "QLoRA").id == "2305.14314"
    assert find_paper(catalog, "Word2Vec").title.startswith("Distributed Representations of Words")
    assert find_paper(catalog, "Visual Instruction Tuning").authors[0] == "Haotian Liu"
    # distinct papers with similar titles stay apart
    assert find_paper(catalog, "Scaling Laws for Neural Language Models") is not find_paper(
        catalog, "Scaling Laws for Autoregressive Generative Modeling")
    assert find_paper(catalog, "Scaling Data-Constrained Language Models") is not find_paper(
        catalog, "Scaling Laws for Neural Language Models")


def test_title_matching_rules():
    assert title_score("Is Emergent ability of Large Language Models a mirage?",
                       "Are Emergent Abilities of Large Language Models a Mirage?") >= 90
    assert title_score("Llama 2: Open Foundation and Fine-Tuned Chat Models",
                       "Llama 3: Open Foundation and Fine-Tuned Chat Models") == 0
    assert title_score("Scaling Laws for Neural Language Models",
                       "Scaling Laws for Autoregressive Generative Modeling") < 90
    assert title_score("Mixture-of-Experts Meets Instruction Tuning", "Mixture of Experts Meets Instruction Tuning") == 100


def test_slug_id_stays_stable_when_arxiv_id_arrives():
    first = merge_papers({}, [Paper(id="", title="Toy Models of Superposition")])
    assert list(first) == ["toy-models-of-superposition"]
    later = merge_papers(first, [Paper(id="", title="Toy Models of Superposition", arxiv="2209.10652")])
    assert list(later) == ["toy-models-of-superposition"]
    assert later["toy-models-of-superposition"].arxiv == "2209.10652"
    assert find_paper(later, "2209.10652") is later["toy-models-of-superposition"]
    # within one import, the arXiv id wins whatever the order
    both = merge_papers({}, [Paper(id="", title="Toy Models of Superposition"),
                             Paper(id="", title="Toy Models of Superposition", arxiv="2209.10652")])
    assert list(both) == ["2209.10652"]


def test_bibtex_json_yaml(tmp_path: Path):
    bib = tmp_path / "refs.bib"
    bib.write_text(r"""@article{dettmers2023qlora,
  title={{QLoRA}: Efficient Finetuning of Quantized {LLMs}},
  author={Dettmers, Tim and Pagnoni, Artidoro and Holtzman, Ari and Zettlemoyer, Luke},
  journal={arXiv preprint arXiv:2305.14314},
  year={2023}, month=may
}
@inproceedings{mikolov2013,
  title = {Distributed Representations of Words and Phrases and their Compositionality},
  author = {Tomas Mikolov and Ilya Sutskever},
  booktitle = {NeurIPS}, year = 2013, doi = {10.5555/2999792.2999959}
}
""", "utf-8")
    a, b = read_papers(bib)
    assert a.title == "QLoRA: Efficient Finetuning of Quantized LLMs" and a.arxiv == "2305.14314" and a.id == "2305.14314"
    assert a.authors == ["Tim Dettmers", "Artidoro Pagnoni", "Ari Holtzman", "Luke Zettlemoyer"]
    assert a.date == "2023-05" and b.venue == "NeurIPS" and b.doi == "10.5555/2999792.2999959"
    assert a.sources == ["refs.bib"]

    js = tmp_path / "papers.json"
    js.write_text(json.dumps({"papers": [{"title": "Mamba", "arxiv": "arXiv:2312.00752v2", "aliases": ["S6"],
                                          "notes": ["great"]}]}), "utf-8")
    (m,) = read_papers(js)
    assert m.id == "2312.00752" and m.aliases == ["S6"] and m.notes[0].text == "great"

    ym = tmp_path / "papers.yaml"
    ym.write_text("- title: Voyager\n  authors: Guanzhi Wang, Yuqi Xie\n  url: https://arxiv.org/abs/2305.16291\n",
                  "utf-8")
    (v,) = read_papers(ym)
    assert v.arxiv == "2305.16291" and v.authors == ["Guanzhi Wang", "Yuqi Xie"]

    bad = tmp_path / "bad.json"
    bad.write_text('[{"title": "X", "colour": "red"}]', "utf-8")
    with pytest.raises(InputError, match=r"bad.json: paper 1 \('X'\) has unknown field\(s\) colour"):
        read_papers(bad)


def _truncated_listing(seeds: Path, tmp_path: Path) -> Path:
    lines = (seeds / "paper-listing.txt").read_text("utf-8").split("\n")
    path = tmp_path / "listing-cut.txt"
    path.write_text("\n".join(lines[:7]) + "\n" + lines[7][:-70], "utf-8")  # cut inside a title line
    return path


def test_bad_inputs(tmp_path, seeds):
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", "utf-8")
    with pytest.raises(InputError, match="empty.txt: file is empty"):
        read_papers(empty)
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    with pytest.raises(InputError, match="blob.txt: binary file, not a paper list"):
        read_papers(binary)
    with pytest.raises(InputError, match=r"listing-cut.txt: line 8: the last abstract ends with 'Mora: Enabling"):
        read_papers(_truncated_listing(seeds, tmp_path))
    lines = (seeds / "paper-listing.txt").read_text("utf-8").split("\n")
    no_summary = tmp_path / "no-summary.txt"
    no_summary.write_text("\n".join(lines[:4] + lines[5:9]), "utf-8")
    with pytest.raises(InputError, match=r"no-summary.txt: line 4: entry has no 'Summary:' line"):
        read_papers(no_summary)


def test_import_papers_writes_nothing_when_one_file_is_bad(project, seeds, tmp_path):
    before = content_snapshot(project.content.root)
    with pytest.raises(InputError):
        import_papers(project, [seeds / "research-highlights-blog.txt", _truncated_listing(seeds, tmp_path)])
    assert content_snapshot(project.content.root) == before

    report = import_papers(project, [seeds / "research-highlights-blog.txt", seeds / "neurips-2023-day5-notes.txt"])
    assert report.read == {"research-highlights-blog.txt": 23, "neurips-2023-day5-notes.txt": 8}
    assert len(report.added) == 31 and report.total == 31
    again = import_papers(project, [seeds / "research-highlights-blog.txt"])
    assert again.added == [] and again.updated == [] and again.total == 31
    stored = project.content.load_papers()
    assert stored["2305.18290"].notes[0].source == "research-highlights-blog.txt"


SYNTHETIC = """Sort by updated
3D-Mixer: Mixing Points for Fun Alice Zhang, Bob O'Neil 2024-01-02 03:04:05
Summary:
We mix points. It works in 3D.mPLUG-Tiny: Small Multimodal Models Carla de la Cruz, Deng Xiao Ming 2024-01-01 00:00:00
Summary: Tiny models are small. Code is at https://github.com/example/mplug-tinyGraphs Are All You Need Someone Single 2023-12-31 23:59:59
Summary:
Graphs are needed for 12.5% of tasks. We show gains of 3.2 points over the baseline of 42.0
"""


def test_listing_generalises(tmp_path: Path):
    """Invented entries with the hard seams: a title starting with a digit after a sentence, a
    lower-case title start (mPLUG), an abstract ending in a URL without a period, the abstract on
    the Summary line, a three-word first author with particles, a number ending the last abstract."""
    p = tmp_path / "list.txt"
    p.write_text(SYNTHETIC, "utf-8")
    a, b, c = read_papers(p)
    assert (a.title, a.authors, a.abstract) == ("3D-Mixer: Mixing Points for Fun", ["Alice Zhang", "Bob O'Neil"],
                                                "We mix points. It works in 3D.")
    assert (b.title, b.authors) == ("mPLUG-Tiny: Small Multimodal Models", ["Carla de la Cruz", "Deng Xiao Ming"])
    assert b.abstract == "Tiny models are small. Code is at https://github.com/example/mplug-tiny"
    assert (c.title, c.authors, c.date) == ("Graphs Are All You Need", ["Someone Single"], "2023-12-31T23:59:59")
    assert c.abstract.endswith("baseline of 42.0")


@pytest.mark.parametrize(("glued", "own", "abstract_end", "title"), [
    ("We test it (see Fig. 2)Deep Nets Are Cool", "", "(see Fig. 2)", "Deep Nets Are Cool"),
    ("Code at \\url{https://x.io/a}GraphMix: Mixing Graphs", "", "x.io/a}", "GraphMix: Mixing Graphs"),
    ("we fine-tune LLaMAOrca: Progressive Learning", "Orca learns to reason", "LLaMA", "Orca: Progressive Learning"),
    ("see https://github.com/example/repoTimeGPT-1", "", "/repo", "TimeGPT-1"),
    ("It helps.“Do As I Say”: Grounding Language", "", "helps.", "“Do As I Say”: Grounding Language"),
])
def test_seams(glued, own, abstract_end, title):
    from pipeline.sources.paper_text import _split_glued

    abstract, found = _split_glued(glued, own)
    assert abstract.endswith(abstract_end) and found == title


def test_blog_variants(tmp_path: Path):
    p = tmp_path / "post.md"
    p.write_text("My picks\n\nA Made-Up Paper (arxiv.org/abs/2401.01234v2, Jan 5, 2024)\n\n"
                 "We liked it because it is made up and short enough for a test case here.\n\n"
                 "Another One (https://openreview.net/forum?id=abc, 2023-12-10)\n\n"
                 "A second commentary paragraph that spans\ntwo lines of text in this post.\n\nThanks for reading!\n",
                 "utf-8")
    a, b = read_papers(p)
    assert (a.id, a.arxiv, a.date, a.url) == ("2401.01234", "2401.01234", "2024-01-05", "https://arxiv.org/abs/2401.01234")
    assert (b.id, b.arxiv, b.date, b.url) == ("another-one", None, "2023-12-10", "https://openreview.net/forum?id=abc")
    assert b.notes[0].text == "A second commentary paragraph that spans two lines of text in this post."


def test_show_notes_import_as_a_catalog_of_the_papers_covered(seeds, run_cli, project):
    result = run_cli("papers", "import", seeds / "neurips-2023-recap.shownotes-dev.txt")
    assert result.exit_code == 0, result.output
    titles = {p.title for p in project.content.load_papers().values()}
    assert "Scaling Data-Constrained Language Models" in titles
    assert "QLoRA: Efficient Finetuning of Quantized LLMs" in titles
    assert len(titles) == 5
    assert not project.content.episode_slugs()  # a catalog only: no episode, no chapters
