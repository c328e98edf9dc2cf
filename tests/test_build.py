"""Incremental site builds: a change re-renders only the pages that show it, and the caches of
derived data (quality-report findings, related papers, deferred timeline/related HTML) are never
stale. Built on the repository's demo content (one real episode, its people and papers)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipeline.config import open_project
from pipeline.site.build import build_site

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def demo(project):
    """The demo content in a fresh project, built once (pages only: search is task of test_search.py)."""
    shutil.rmtree(project.root / "content", ignore_errors=True)
    shutil.copytree(REPO / "content", project.root / "content", ignore=shutil.ignore_patterns(".recap", "*.lock"))
    build_site(open_project(project.root), search=False)
    return project.root


def _rebuild(root: Path):
    return build_site(open_project(root), search=False)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")


def test_nothing_changed_writes_nothing(demo):
    report = _rebuild(demo)
    assert report.written == [] and report.removed == [] and report.unchanged


def test_one_paper_abstract_rerenders_only_its_page(demo):
    pid = "2305.14314"
    _edit(demo / "content" / "papers" / f"{pid}.toml", 'abstract = ""', 'abstract = "A new abstract."')
    report = _rebuild(demo)
    # the paper map places papers by title + abstract: its page (and others' related lists) may move
    assert f"papers/{pid}/index.html" in report.written
    assert {w for w in report.written if not w.startswith("papers/")} <= {"map/index.html"}

    _edit(demo / "recap.toml", 'description = ""', 'description = ""\npaper_map = false')
    _rebuild(demo)
    _edit(demo / "content" / "papers" / f"{pid}.toml", "A new abstract.", "A newer abstract.")
    report = _rebuild(demo)
    assert report.written == [f"papers/{pid}/index.html"]
    assert "A newer abstract." in (demo / "site" / "papers" / pid / "index.html").read_text("utf-8")


def test_one_paper_title_rerenders_the_pages_that_show_it(demo):
    site_dir = demo / "site"
    pid = "2305.18290"
    showing = {p.relative_to(site_dir).as_posix() for p in site_dir.rglob("*.html")
               if f'/papers/{pid}/"' in p.read_text("utf-8")}
    _edit(demo / "content" / "papers" / f"{pid}.toml", 'title = "Direct Preference Optimization',
          'title = "Direct Preference Optimisation')
    report = _rebuild(demo)
    written = set(report.written)
    assert f"papers/{pid}/index.html" in written and "papers/index.html" in written
    # every page that links the paper shows its title: those, and only pages about it, change
    html = {w for w in written if w.endswith(".html")}
    assert html <= showing | {f"papers/{pid}/index.html"}
    assert "episodes/two-callers/index.html" not in showing or "episodes/two-callers/index.html" in html
    assert "people/diane/index.html" not in html  # her page does not show this paper
    for rel in html:
        assert "Direct Preference Optimisation" in (site_dir / rel).read_text("utf-8")


def test_person_renamed_reaches_the_deferred_timeline(demo):
    """The timeline HTML is rendered only when the episode page is; renaming a speaker must still
    reach it (its inputs include the speakers' names)."""
    page = demo / "site" / "episodes" / "two-callers" / "index.html"
    assert "Diane" in page.read_text("utf-8")
    _edit(demo / "content" / "people" / "diane.toml", 'name = "Diane"', 'name = "Dianne"')
    report = _rebuild(demo)
    assert "episodes/two-callers/index.html" in report.written
    text = page.read_text("utf-8")
    timeline = text[text.index("<svg"): text.index("</svg>")] if "<svg" in text else text
    assert "Dianne" in timeline


def test_report_findings_cache_follows_the_transcript(demo):
    """Editing the transcript (same size, same mtime) yields a new report, not the cached one."""
    import json
    import os

    from pipeline.report import ReportOptions, quality_report

    project = open_project(demo)
    cache = project.cache_dir
    ep = project.content.load_episode("two-callers")
    digest = "d" * 64
    first = quality_report(ep, cache_dir=cache, transcript_digest=digest)
    assert (cache / "report" / "two-callers.pickle").is_file()
    again = quality_report(ep, cache_dir=cache, transcript_digest=digest)
    assert [(i.kind, i.start) for i in again.issues] == [(i.kind, i.start) for i in first.issues]

    # a planted loop in the transcript file: a new digest, so the loop is found
    path = demo / "content" / "episodes" / "two-callers" / "transcript.json"
    st = path.stat()
    data = json.loads(path.read_text("utf-8"))
    utt = data["utterances"][0]
    utt["text"] = " ".join(["we tried it again"] * 6)
    path.write_text(json.dumps(data), "utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    from pipeline.site.model import Site, content_digest

    site = Site(open_project(demo))
    new_digest = content_digest(site, "episodes/two-callers/transcript.json")
    loops = quality_report(site.episodes["two-callers"], cache_dir=cache, transcript_digest=new_digest,
                           options=ReportOptions())
    assert any(i.kind == "loop" for i in loops.issues)
    assert [p.name for p in (cache / "report").iterdir()] == ["two-callers.pickle"]  # one entry per episode
    assert not any(i.kind == "loop" for i in first.issues)

    for f in (cache / "report").rglob("*.pickle"):  # a damaged cache entry is recomputed, not fatal
        f.write_bytes(b"\x80garbage")
    assert quality_report(site.episodes["two-callers"], cache_dir=cache, transcript_digest=new_digest).issues


def test_related_cache_is_keyed_by_the_catalog(tmp_path):
    pytest.importorskip("sentence_transformers")
    from pipeline.cache import Cache
    from pipeline.models import Paper
    from pipeline.site.related import paper_space

    def stored() -> list[str]:
        return sorted(p.name for p in (tmp_path / "viz").glob("related-*"))

    entry = Cache(tmp_path).entry("viz", "related-2-0.0")
    papers = {"a": Paper(id="a", title="Reward models for preference learning"),
              "b": Paper(id="b", title="Direct preference optimization of language models"),
              "c": Paper(id="c", title="Protein folding with diffusion")}
    space = paper_space(papers, tmp_path)
    rel = space.related(2, 0.0)
    assert stored() == ["related-2-0.0.pickle"] and entry.load()[0] == space.key
    assert rel["a"][0][0] == "b"
    papers["d"] = Paper(id="d", title="Preference optimization without a reward model")
    space2 = paper_space(papers, tmp_path)
    rel2 = space2.related(2, 0.0)
    assert set(rel2) == {"a", "b", "c", "d"} and rel2["d"][0][0] in {"a", "b"}
    assert entry.load()[0] == space2.key != space.key  # the new catalog's lists replaced the old ones
    assert stored() == ["related-2-0.0.pickle"]  # not piled up


def test_transcript_edit_reaches_the_episode_page(demo):
    """Paragraphs are cached by the transcript's bytes (``.cache/recap/site/``): a corrected word,
    saved with the same size and mtime, reaches the episode page, its search text and its anchors;
    a chapter moved on the timeline moves the section headings."""
    import json
    import os
    import tomllib

    site_dir = demo / "site"
    path = demo / "content" / "episodes" / "two-callers" / "transcript.json"
    st = path.stat()
    data = json.loads(path.read_text("utf-8"))
    first = data["utterances"][0]
    first["text"] = first["text"].replace("Hello", "Howdy")  # same length: same size, same mtime
    raw = json.dumps(data)
    path.write_text(raw, "utf-8")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    report = _rebuild(demo)
    page = site_dir / "episodes" / "two-callers" / "index.html"
    assert "episodes/two-callers/index.html" in report.written
    assert "Howdy" in page.read_text("utf-8")

    # a chapter start moved: the anchors and headings follow
    chapters = demo / "content" / "episodes" / "two-callers" / "chapters.toml"
    starts = [c["start"] for c in tomllib.loads(chapters.read_text("utf-8"))["chapters"]]
    assert len(starts) >= 2
    before = page.read_text("utf-8")
    _edit(chapters, f"start = {starts[1]}", f"start = {starts[1] + 3.0}")
    report = _rebuild(demo)
    assert "episodes/two-callers/index.html" in report.written
    assert page.read_text("utf-8") != before
    assert _rebuild(demo).written == []  # and then nothing is stale either way


def test_related_lists_updated_in_place_equal_a_full_computation(seeds):
    """After edits, additions and removals, the incremental related lists are the full computation's,
    on real embeddings of the seed catalog (188 papers)."""
    import random

    from pipeline.embed import embed_texts
    from pipeline.site.related import related_from_vectors, update_related
    from pipeline.sources.catalog import merge_papers
    from pipeline.sources.papers import read_papers

    cat: dict = {}
    for name in ["paper-listing.txt", "research-highlights-blog.txt", "neurips-2023-day5-notes.txt"]:
        cat = merge_papers(cat, read_papers(seeds / name))
    ids = sorted(cat)
    texts = {pid: f"{cat[pid].title}. {cat[pid].abstract[:300]}" for pid in ids}
    rng = random.Random(3)
    before = ids[:-3]  # three papers are new after the change
    vecs = embed_texts([texts[i] for i in before])
    hashes = {i: str(hash(texts[i])) for i in before}
    after = [i for i in ids if i not in set(rng.sample(before, 2))]  # two removed
    edited = set(rng.sample(after, 4))  # four rewritten: one takes another paper's text
    new_texts = {i: (texts[after[0]] if i == min(edited) else texts[i] + " Revised.") if i in edited else texts[i]
                 for i in after}
    vecs2 = embed_texts([new_texts[i] for i in after])
    new_hashes = {i: str(hash(new_texts[i])) for i in after}
    for k, min_score in [(5, 0.3), (3, 0.0)]:
        old = related_from_vectors(before, vecs, k, min_score)
        got = update_related(old, hashes, after, new_hashes, vecs2, k, min_score)
        want = related_from_vectors(after, vecs2, k, min_score)
        assert got == want
        assert any(got[i] != old.get(i) for i in after if i not in edited)  # others' lists did change


def test_paper_map_without_the_nlp_extra_names_what_to_install(project, run_cli, monkeypatch):
    """``[site] paper_map`` is on (the default) and the nlp extra is missing (simulated: two of its
    modules are not found): the build fails with DependencyMissing naming what to install and the
    setting that turns the map off, instead of a site silently built without it. Turned off, it builds."""
    import importlib.util

    from pipeline.errors import DependencyMissing

    shutil.rmtree(project.root / "content", ignore_errors=True)
    shutil.copytree(REPO / "content", project.root / "content", ignore=shutil.ignore_patterns(".recap", "*.lock"))
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name in ("sklearn", "tokenizers") else real(name, *args))
    with pytest.raises(DependencyMissing, match=r"nlp extra \(tokenizers, scikit-learn not installed\) "
                                                r"\(pip install 'recap\[nlp\]', or set `\[site\] paper_map = false`"):
        build_site(open_project(project.root), search=False)
    result = run_cli("build")
    assert result.exit_code == 1 and "Error: the paper map" in result.output, result.output

    _edit(project.root / "recap.toml", "[site]\n", "[site]\npaper_map = false\n")
    report = build_site(open_project(project.root), search=False)
    assert "papers/index.html" in report.written and not any(p.startswith("map/") for p in report.written)
    related = (project.root / "site" / "papers" / "2305.18290" / "index.html").read_text("utf-8")
    assert "Related papers" not in related and 'href="/map/"' not in related


def test_generators_are_listed_in_build_order():
    """Every page kind is named in one tuple (no registration by import side effects)."""
    from pipeline.site.generators import GENERATORS

    assert [g.__name__ for g in GENERATORS] == ["episode_pages", "paper_pages", "poster_pages", "person_pages",
                                                "index_pages", "map_pages", "report_pages", "feed_pages",
                                                "static_files"]
