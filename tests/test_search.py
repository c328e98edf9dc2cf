"""The search index (pipeline/site/search.py, its tokenizer in pipeline/site/tokens.py) and its browser
side (templates/static/search.js).

The incremental update must leave exactly the index a full build would write; an interrupted or
damaged index is rebuilt; the JavaScript tokenizer agrees with the Python one; the browser finds a
word added by an incremental update and no longer finds a removed one."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from pipeline.site.search import INDEX_DIR, STATE, SearchDoc, Section, check_index, update_index
from pipeline.site.tokens import Tokenizer
from tests.conftest import served, wait_js, watched_page

REPO = Path(__file__).resolve().parent.parent


def _pages(docs: dict[str, list[SearchDoc]], calls: list[str] | None = None) -> dict:
    """page path -> (hash, documents function); the hash is the documents' text, as a page's inputs would be."""
    def fn(path):
        def docs_fn():
            if calls is not None:
                calls.append(path)
            return docs[path]
        return docs_fn

    return {path: (json.dumps([[d.url, d.title, d.type, [vars(s) for s in d.sections]] for d in ds]), fn(path))
            for path, ds in docs.items()}


def _paper(pid: str, title: str, abstract: str) -> SearchDoc:
    return SearchDoc(f"papers/{pid}/", title, "paper", [Section(abstract)])


def _passage(slug: str, lines: list[str]) -> SearchDoc:
    return SearchDoc(f"episodes/{slug}/", f"{slug} · 0:00", "episode",
                     [Section(text, f"t-{i * 10}", f"0:{i * 10:02d} · Host") for i, text in enumerate(lines)])


def _corpus() -> dict[str, list[SearchDoc]]:
    return {
        "papers/dpo/index.html": [_paper("dpo", "Direct Preference Optimization",
                                         "Your language model is secretly a reward model. Preferences, policies.")],
        "papers/qlora/index.html": [_paper("qlora", "QLoRA", "Efficient finetuning of quantized LLMs on one GPU.")],
        "papers/mirage/index.html": [_paper("mirage", "Are Emergent Abilities a Mirage?",
                                            "Emergent abilities appear due to the researcher's choice of metric.")],
        "episodes/ep1/index.html": [SearchDoc("episodes/ep1/", "NeurIPS recap", "episode",
                                              [Section("Orals and posters.")]),
                                    _passage("ep1", ["We talk about Toolformer today.", "And naïve Bayes in Zürich.",
                                                     "Emergent abilities, once more."])],
    }


def _logical(out: Path) -> dict:
    """The index as (term -> {(url, title, tf, length, type)}), independent of document numbers."""
    root = out / INDEX_DIR
    docs = {int(p.stem): json.loads(p.read_bytes()) for p in (root / "d").glob("*.json")}
    index: dict[str, set] = {}
    for shard in (root / "t").glob("*.json"):
        for term, flat in json.loads(shard.read_bytes()).items():
            index[term] = {(docs[flat[i]]["u"], docs[flat[i]]["t"], *flat[i + 1:i + 4]) for i in range(0, len(flat), 4)}
    meta = json.loads((root / "meta.json").read_bytes())
    return {"index": index, "docs": sorted(json.dumps(d, sort_keys=True) for d in docs.values()), "meta": meta}


def test_incremental_update_equals_a_full_build(tmp_path):
    docs = _corpus()
    inc, full = tmp_path / "inc", tmp_path / "full"
    first = update_index(inc, _pages(docs))
    assert first.full and first.docs == 5
    # one abstract edited, one page gone, one page new
    docs["papers/dpo/index.html"] = [_paper("dpo", "Direct Preference Optimization",
                                            "Rewritten: a Bradley-Terry model.")]
    del docs["papers/qlora/index.html"]
    docs["papers/mamba/index.html"] = [_paper("mamba", "Mamba", "Selective state spaces.")]
    calls: list[str] = []
    update = update_index(inc, _pages(docs, calls))
    assert not update.full and update.docs == 2 and update.removed == 2
    assert sorted(calls) == ["papers/dpo/index.html", "papers/mamba/index.html"]  # only the pages that changed
    update_index(full, _pages(docs), full=True)
    assert _logical(inc) == _logical(full)
    assert "secretly" not in _logical(inc)["index"] and "qlora" not in _logical(inc)["index"]
    assert check_index(inc) == []
    # no change: nothing re-tokenized, nothing rewritten
    stamps = {p: p.stat().st_mtime_ns for p in (inc / INDEX_DIR).rglob("*.json")}
    calls.clear()
    assert not update_index(inc, _pages(docs, calls)) and calls == []
    assert stamps == {p: p.stat().st_mtime_ns for p in (inc / INDEX_DIR).rglob("*.json")}


def test_small_edit_rewrites_only_the_shards_of_the_words_it_touched(tmp_path):
    """A re-indexed page keeps its document numbers and lengths sit on a log grid, so a word added to a
    long abstract rewrites that word's shard and the document, not the shards of its other words."""
    from pipeline.site.search import grid_length

    words = [f"{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}quark" for i in range(240)]  # 240 shards
    assert grid_length(242) == grid_length(243)  # title (2 words) + 240 or 241 body words
    docs = _corpus()
    docs["papers/long/index.html"] = [_paper("long", "Long abstract", " ".join(words))]
    inc, full = tmp_path / "inc", tmp_path / "full"
    update_index(inc, _pages(docs))
    stamps = {p: p.stat().st_mtime_ns for p in (inc / INDEX_DIR / "t").glob("*.json")}
    docs["papers/long/index.html"] = [_paper("long", "Long abstract", " ".join(words) + " zeppelin")]
    update = update_index(inc, _pages(docs))
    assert (update.docs, update.shards) == (1, 1)
    rewritten = sorted(p.name for p in (inc / INDEX_DIR / "t").glob("*.json") if stamps.get(p) != p.stat().st_mtime_ns)
    assert rewritten == ["zepp.json"]
    update_index(full, _pages(docs), full=True)
    assert _logical(inc) == _logical(full)


def test_interrupted_or_damaged_index_is_rebuilt(tmp_path):
    docs = _corpus()
    update_index(tmp_path, _pages(docs))
    (tmp_path / STATE).unlink()  # what an interrupted update leaves
    docs["papers/qlora/index.html"] = [_paper("qlora", "QLoRA", "Four-bit NormalFloat.")]
    assert update_index(tmp_path, _pages(docs)).full
    reference = tmp_path / "reference"
    update_index(reference, _pages(docs), full=True)
    assert _logical(tmp_path) == _logical(reference)
    # a document file deleted by hand: the next update that needs it rebuilds in full
    for p in (tmp_path / INDEX_DIR / "d").glob("*.json"):
        if json.loads(p.read_bytes())["u"] == "papers/qlora/":
            p.unlink()
    assert check_index(tmp_path) and "names missing documents" in check_index(tmp_path)[0]
    docs["papers/qlora/index.html"] = [_paper("qlora", "QLoRA", "Paged optimizers.")]
    assert update_index(tmp_path, _pages(docs)).full
    assert check_index(tmp_path) == []


def test_tokenizer_stems_plurals_and_drops_stop_words():
    tok = Tokenizer("en")
    assert tok.terms("The emergent Abilities of LLMs") == ["emergent", "ability", "llm"]
    assert tok.terms("Naïve Bayes, Zürich; GPT-4") == ["naive", "baye", "zurich", "gpt", "4"]
    assert Tokenizer("de").terms("Die Fähigkeiten") == ["die", "fahigkeiten"]  # no English rules


WORDS = ("The emergent Abilities of LLMs: naïve Bayes in Zürich (GPT-4, x², İstanbul, Straße, 日本語 テキスト) "
         "processes classes studies bias gas series agrees toes QLoRA's under_score Ré-sumé 3.14 ÉCOLE")


@pytest.mark.slow
def test_browser_tokenizer_and_incremental_index(tmp_path, browser):
    site = tmp_path / "site"
    (site / "static").mkdir(parents=True)
    shutil.copy(REPO / "templates" / "static" / "search.js", site / "static" / "search.js")
    (site / "index.html").write_text(
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>t</title>'
        '<script src="static/search.js" defer></script></head><body>'
        '<div id="search" data-bundle="/search-index/" data-base="/"><form><input type="search" name="q">'
        '<select name="type"><option value="">everything</option></select><button>Go</button></form>'
        '<p class="search-status"></p><ol class="search-results"></ol><button class="search-more" hidden>More</button>'
        "</div></body></html>", "utf-8")
    docs = _corpus()
    update_index(site, _pages(docs))
    with served(site) as base, watched_page(browser, base) as page:
        page.goto(f"{base}/")
        assert page.evaluate("(t) => window.recapSearchTerms(t)", WORDS) == Tokenizer("en").terms(WORDS)

        def results(query: str) -> list[str]:
            page.goto(f"{base}/?q={query}")
            wait_js(page, "document.querySelector('.search-status').textContent.includes('for')")
            return [page.evaluate("(a) => a.getAttribute('href')", a) for a in page.query_selector_all("a.result-link")]

        assert results("toolformer") == ["/episodes/ep1/#t-0"]  # a transcript moment, at its paragraph
        assert results("emergent abilities")[0] == "/papers/mirage/"  # title words weigh more
        assert results("naive zurich") == ["/episodes/ep1/#t-10"]
        assert results("preference optim") == ["/papers/dpo/"]  # the last word as a prefix
        assert "/papers/dpo/" in results("secretly")
        docs["papers/dpo/index.html"] = [_paper("dpo", "Direct Preference Optimization", "Bradley-Terry, closed form.")]
        update_index(site, _pages(docs))
        page.context.clear_cookies()
        page2 = page.context.new_page()  # a new page: nothing cached from the old index in the script
        page2.goto(f"{base}/?q=bradley")
        wait_js(page2, "document.querySelector('.search-status').textContent.includes('for')")
        assert page2.locator("a.result-link").first.get_attribute("href") == "/papers/dpo/"
        page2.goto(f"{base}/?q=secretly")
        wait_js(page2, "document.querySelector('.search-status').textContent.includes('for')")
        assert page2.locator(".search-status").inner_text() == "No results for “secretly”."
        assert page.errors == [] and page.external == []
