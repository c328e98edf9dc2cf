"""Real conference catalogs: BibTeX read exactly (every entry imported or named), TeX decoded outside math,
conference JSON / papercopilot / CSV shapes, identity before similarity, math shown as sanitised MathML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline import tex
from pipeline.errors import InputError
from pipeline.models import Paper
from pipeline.sources.bibtex import parse_bibtex
from pipeline.sources.catalog import merge_papers, paper_id
from pipeline.sources.papers import import_papers, read_papers
from tests.conftest import content_snapshot

TINY_BIB = r"""% three entries: one good (a TeX accent in its title), one with an unbalanced brace, one duplicate key
@inproceedings{song2023frechet,
  title = {Errors-in-variables Fr\'echet Regression with Low-rank Covariate Approximation},
  author = {Dogyoon Song and Kyunghee Han},
  abstract = {Fr\'echet regression in $\mathcal{O}(\rho \log T)$ time \citep{x}; {GAN}s \& more.},
  booktitle = {NeurIPS 2023},
  url = {https://openreview.net/forum?id=Sg3aCpWUQP}
}

@inproceedings{broken2023,
  title = {A Paper With a Typo},
  abstract = {Code at \url{https://example.org/grace}).},
  author = {Ada Lovelace}},
  year = 2023
}

@inproceedings{song2023frechet,
  title = {The Same Key Again},
  author = {Someone Else}
}

@article{open2023,
  title = {An Entry Whose Brace Never Closes},
  abstract = {It starts {here and goes on,
  year = 2023
}
"""


def test_tiny_bibtex_names_every_outcome_and_imports_nothing_unless_asked(run_cli, project, tmp_path):
    bib = tmp_path / "tiny.bib"
    bib.write_text(TINY_BIB, "utf-8")
    problems = ["tiny.bib:10: entry 'broken2023' not imported: unbalanced brace: a '}' ends the entry early "
                "(line 13), before 'year = 2023'",
                "tiny.bib:17: entry 'song2023frechet' not imported: duplicate key (first at line 2)",
                "tiny.bib:22: entry 'open2023' not imported: field 'abstract': unbalanced brace: 1 '{' not closed "
                "(line 24)"]
    before = content_snapshot(project.content.root)
    result = run_cli("papers", "import", bib)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert [ln for ln in lines if ln.startswith("Cannot import: ")] == [f"Cannot import: {p}" for p in problems]
    (error,) = [ln for ln in lines if ln.startswith("Error: ")]
    assert error == ("Error: tiny.bib: line 10: entry 'broken2023' not imported: unbalanced brace: a '}' ends the entry "
                     "early (line 13), before 'year = 2023'; 3 entries cannot be imported (nothing was imported; "
                     "fix them, or import the others with --skip-bad)")
    assert content_snapshot(project.content.root) == before  # nothing half-written

    result = run_cli("papers", "import", "--skip-bad", bib)
    assert result.exit_code == 0, result.output
    out = result.output
    assert [ln for ln in out.splitlines() if ln.startswith("Skipped: ")] == [f"Skipped: {p}" for p in problems]
    pid = "errors-in-variables-frechet-regression-with-low-rank-covariate-approximation"
    assert f"  new  {pid}  Errors-in-variables Fréchet Regression" in out  # the accent decoded, in the id too
    assert "Read 1 from tiny.bib; 1 new" in out
    (paper,) = project.content.load_papers().values()
    assert paper.title == "Errors-in-variables Fréchet Regression with Low-rank Covariate Approximation"
    # outside math: accents and \& decoded; math, \citep and the abstract's braces kept as written
    assert paper.abstract == r"Fréchet regression in $\mathcal{O}(\rho \log T)$ time \citep{x}; {GAN}s & more."
    assert paper.openreview == "Sg3aCpWUQP" and paper.venue == "NeurIPS 2023"


def test_clean_bibtex_exits_0_and_an_unreadable_one_writes_nothing(run_cli, project, tmp_path):
    good = tmp_path / "good.bib"
    good.write_text(TINY_BIB.split("@inproceedings{broken2023")[0], "utf-8")
    result = run_cli("papers", "import", good)
    assert result.exit_code == 0, result.output
    assert "Skipped" not in result.output and "Cannot" not in result.output
    before = content_snapshot(project.content.root)
    bad = tmp_path / "bad.bib"
    bad.write_text("@article{x, title = {never closed\n", "utf-8")
    for args in ((), ("--skip-bad",)):
        result = run_cli("papers", "import", *args, bad)
        assert result.exit_code == 1
        assert "bad.bib: " in result.output and "entry 'x' not imported: field 'title': unbalanced brace: 1 '{' not " \
                                                "closed" in result.output
        assert content_snapshot(project.content.root) == before


def test_bibtex_scanner_details():
    entries, problems = parse_bibtex(
        '@string{conf = "NeurIPS"}\n@comment{ignored}\n'
        '@inproceedings{a, title = "A {B} C", booktitle = conf # " 2023", month = dec, year = 2023}\n'
        '@misc(b, title = {Parens}, note = {x})\n')
    assert [e.key for e in entries] == ["a", "b"] and not problems
    assert entries[0].fields == {"title": "A {B} C", "booktitle": "NeurIPS 2023", "month": "12", "year": "2023"}
    assert entries[0].line == 3 and entries[1].line == 4
    _, problems = parse_bibtex("@article{k, title = {T}, title = {U}}\n@article{m, title = macro}\n")
    assert [(p.line, p.reason) for p in problems] == [(1, "field 'title' given twice"),
                                                      (2, "field 'title': unknown @string macro 'macro'")]


def test_tex_decoding():
    assert tex.decode(r"Errors-in-variables Fr\'echet Regression") == "Errors-in-variables Fréchet Regression"
    assert tex.decode(r"Diversify \& Conquer, 50\% \#1 a\_b") == "Diversify & Conquer, 50% #1 a_b"
    assert tex.decode(r"G{\"u}nnemann, Daum\'{e}, \c{c}a, Stra\ss e, \l{}ódź, \'{\i}") == \
        "Günnemann, Daumé, ça, Straße, łódź, í"
    # math verbatim (the old conversion made "\log" "łog", "\in" "ın", "\rho" "h̊o")
    math = r"$\mathcal{O}(\rho \log T)$ and \(x \in X\) and $$\varphi$$"
    assert tex.decode(math) == math
    assert tex.decode(r"\citep{smith} \emph{lower bound} {\em it}") == r"\citep{smith} \emph{lower bound} {\em it}"
    # case-protecting braces go (titles), a command's argument stays; \$ stays escaped (it would start math)
    assert tex.decode(r"{{QLoRA}: Efficient {LLMs}} \texttt{x} \$5", strip_braces=True) == \
        r"QLoRA: Efficient LLMs \texttt{x} \$5"
    assert tex.decode(r"a \textbraceleft{}b \textemdash{} c") == "a {b — c"
    assert tex.plain(r"$\texttt{TACO}$: Temporal") == "TACO: Temporal"
    assert tex.plain(r"$\varepsilon$-fractional core and $\mathcal{O}(\rho \log T)$") == \
        "ε-fractional core and 𝒪(ρ log T)"
    assert tex.plain(r"a \emph{b} {\em c} \$5 {d}") == "a b c $5 d"
    # ids come from the title as a reader sees it
    assert paper_id(r"$\texttt{TACO}$: Temporal Latent Action") == "taco-temporal-latent-action"
    assert paper_id(r"Errors-in-variables Fr\'echet Regression") == "errors-in-variables-frechet-regression"


def test_mathml_is_sanitised():
    html = tex.to_html(r"Trust Your $\nabla$: <b>bold</b> \emph{x} & $\beta$-Divergence")
    assert html.count('<math alttext="') == 2 and 'xmlns="http://www.w3.org/1998/Math/MathML"' in html
    assert "<mi>∇</mi>" in html or "<mo>∇</mo>" in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<em>x</em>" in html and " &amp; " in html
    evil = tex.to_html(r"$\href{javascript:alert(1)}{x}$ $\text{<script>alert(1)</script>}$ $\style{color:red}{y}$")
    assert "<script" not in evil and "href=" not in evil and "style=" not in evil
    assert evil.count("javascript") == 1 and 'alttext="\\href{javascript:' in evil  # only as escaped text
    assert "<mtext></mtext>" in evil  # latex2mathml wrote a <script> element into <mtext>: dropped
    assert tex.to_html(r"$\frac{a}{b$") == '<code class="tex">$\\frac{a}{b$</code>' or "<math" in tex.to_html(r"$\frac{a}{b$")
    assert tex.to_html(r"$\unknowncommand{<i>}$").startswith(('<code class="tex">$\\unknowncommand{&lt;i&gt;}$', "<math"))
    # only allow-listed elements and attributes survive a hostile MathML tree
    import xml.etree.ElementTree as ET

    from pipeline.tex import _serialize

    tree = ET.fromstring('<math xmlns="http://www.w3.org/1998/Math/MathML"><mi onclick="x()" mathvariant="bold">a'
                         '</mi><maction actiontype="toggle"><mi>b</mi></maction><mtext>&lt;i&gt;</mtext></math>')
    out = _serialize(tree, "$a$")
    assert "onclick" not in out and "maction" not in out and 'mathvariant="bold"' in out
    assert "<mtext>&lt;i&gt;</mtext>" in out


def test_conference_json_shapes(tmp_path):
    conf = tmp_path / "conf.json"
    conf.write_text(json.dumps([{"title": r"Stein $\Pi$-Importance Sampling", "authors": ["Congye Wang", "Wilson Ye Chen"],
                                 "abstract": r"A $\Pi$ \emph{x}.", "url": "https://openreview.net/forum?id=CSbGXyCswu",
                                 "venue": "NeurIPS 2023"}]), "utf-8")
    (p,) = read_papers(conf)
    assert p.title == r"Stein $\Pi$-Importance Sampling" and p.openreview == "CSbGXyCswu" and p.venue == "NeurIPS 2023"
    assert p.id == "stein-importance-sampling"  # from the plain title ("Stein Π-Importance Sampling")
    pc = tmp_path / "nips2023.json"
    pc.write_text(json.dumps([
        {"id": "CSbGXyCswu", "title": "Stein Pi-Importance Sampling", "track": "main", "status": "Spotlight",
         "author": "Congye Wang, Wilson Ye Chen", "rating": "6;7", "keywords": "stein"},
        {"id": "zzzzzzzzz1", "title": "A Rejected Paper", "track": "main", "status": "Reject", "author": "X Y"}]), "utf-8")
    skipped: list[str] = []
    (row,) = read_papers(pc, skipped)
    assert (row.openreview, row.track, row.status) == ("CSbGXyCswu", "main", "spotlight")
    assert row.authors == ["Congye Wang", "Wilson Ye Chen"]
    assert row.url == "https://openreview.net/forum?id=CSbGXyCswu"
    assert skipped == ["nips2023.json: note: 1 rows not accepted were left out (1 Reject)"]
    meta = tmp_path / "meta.json"
    meta.write_text(json.dumps({"https://openreview.net/forum?id=CSbGXyCswu": {
        "openreview": "CSbGXyCswu", "track": "main", "status": "Oral", "neurips_cc_title": "Stein Π-Importance Sampling"}}))
    (m,) = read_papers(meta)
    assert m.status == "oral" and m.openreview == "CSbGXyCswu"
    merged = merge_papers(merge_papers({}, [p]), [row, m])  # one paper: the same OpenReview id
    (one,) = merged.values()
    assert one.id == p.id and one.status == "spotlight" and one.track == "main"


def test_csv_with_a_header_row(tmp_path):
    path = tmp_path / "papers.csv"
    path.write_text('UID,title,authors,abstract,keywords,sessions\n'
                    '1,"Fast, Exact Catalogs",Ada Lovelace|Alan Turing,"An abstract, with commas.",x,Oral 1\n'
                    '2,Too Few Cells\n'
                    '3,,Nobody,No title,,\n', "utf-8")
    skipped: list[str] = []
    (p,) = read_papers(path, skipped)
    assert p.title == "Fast, Exact Catalogs" and p.authors == ["Ada Lovelace", "Alan Turing"]
    assert p.abstract == "An abstract, with commas."
    assert skipped == ["papers.csv:3: row not imported: 2 cells for 6 columns",
                       "papers.csv:4: row not imported: it has no title"]
    with pytest.raises(InputError, match=r"papers.csv: line 3: 2 cells for 6 columns"):
        read_papers(path)


def test_identity_before_similarity():
    a = Paper(id="", title="Reinforcement Learning with Human Feedback at Scale",
              url="https://openreview.net/forum?id=AAAAAAAAAA")
    garbled = Paper(id="", title=r"Reinforcement Learning with Human Feedback at Scale $\textttX$ ł",
                    url="https://openreview.net/forum?id=AAAAAAAAAA")
    other = Paper(id="", title="Reinforcement Learning with Human Feedback at Scale",
                  url="https://openreview.net/forum?id=BBBBBBBBBB")
    cat = merge_papers({}, [a, garbled, other])
    assert len(cat) == 2  # the garbled copy joins by its id; the same title under another id is another paper
    by_doi = merge_papers({}, [Paper(id="", title="One Title", doi="10.1/x"), Paper(id="", title="Quite Another",
                                                                                       doi="10.1/X")])
    assert len(by_doi) == 1
    # fuzzy titles still merge when nothing says otherwise
    fuzzy = merge_papers({}, [Paper(id="", title="Direct Preference Optimization: Your Language Model is Secretly "
                                                   "a Reward Model"),
                              Paper(id="", title="Direct Preference Optimisation: Your Language Model is Secretly "
                                                 "a Reward Model")])
    assert len(fuzzy) == 1


def test_site_shows_math_conference_facts_and_plain_text(project):
    from pipeline.site.build import build_site

    project.content.save_paper(Paper(
        id="a-beta-paper", title=r"Differentially Private Inference through $\beta$-Divergence",
        abstract=r"We bound it by $\mathcal{O}(\rho \log T)$; see \emph{this}.", venue="NeurIPS 2023",
        track="main", status="oral", openreview="Sg3aCpWUQP", url="https://openreview.net/forum?id=Sg3aCpWUQP"))
    build_site(project, search=True)
    page = (project.site_dir / "papers" / "a-beta-paper" / "index.html").read_text("utf-8")
    assert "<h1>Differentially Private Inference through <math" in page
    assert "<title>Differentially Private Inference through β-Divergence · " in page
    assert 'name="description" content="We bound it by 𝒪(ρ log T); see this."' in page
    assert "$\\beta$" not in page.split("<body>")[1].replace('alttext="\\beta"', "")
    assert "Presented as</dt><dd><span class=\"badge status-oral\">Oral</span>" in page
    assert 'href="https://openreview.net/forum?id=Sg3aCpWUQP"' in page and ">OpenReview</a>" in page
    listing = (project.site_dir / "papers" / "index.html").read_text("utf-8")
    assert 'data-title="differentially private inference through β-divergence"' in listing


def test_the_real_neurips_catalog(project, shared_data: Path):
    """All 3,540 NeurIPS 2023 papers from JSON, then the BibTeX copy adds none; fields as in the source."""
    data = shared_data / "neurips-2023-papers"
    jsons, bibs = [data / "papers.json", data / "papers-db.json"], [data / "papers.bib", data / "papers-db.bib"]
    report = import_papers(project, jsons)
    assert len(report.added) == 3540 and not report.skipped
    again = import_papers(project, bibs)
    assert again.added == [] and again.total == 3540 and not again.skipped
    source = {r["url"]: r for f in jsons for r in json.loads(f.read_text("utf-8"))}
    papers = {p.url: p for p in project.content.load_papers().values()}
    assert set(papers) == set(source)
    for url, rec in source.items():
        p = papers[url]
        assert p.title == tex.decode(rec["title"], strip_braces=True), url
        assert p.authors == rec["authors"], url
        assert p.abstract == tex.decode(rec["abstract"]), url
    frechet = papers["https://openreview.net/forum?id=Sg3aCpWUQP"]
    assert frechet.id == "errors-in-variables-frechet-regression-with-low-rank-covariate-approximation"
    assert any(p.id.startswith("taco-temporal-latent") for p in papers.values())


def test_toml_dumps_is_tomli_w_byte_for_byte():
    import tomli_w

    from pipeline.serialize import to_data, toml_dumps

    cases = [{"a": "x\x00\x08\x7f\t\n\r\f\"\\é\u2028 $\\mathcal{O}$"}, {"a": []}, {"a": [1, True, "s", False]},
             {"a": {"b": 1}}, {"a b": 1}, {"a": 1.5}, {"n": [{"x": 1}]}, {}, {"z": -3, "y": ["", "\\"]},
             to_data(Paper(id="x", title="T", authors=["A", "B"], abstract="line\nbreak", status="oral"))]
    for case in cases:
        assert toml_dumps(case) == tomli_w.dumps(case), case


def test_edits_survive_a_batch_import(project, tmp_path):
    """An import writes its records' merge bases in one file: a person's edit still wins field by field."""
    src = tmp_path / "conf.json"
    rec = {"title": "A Catalog Paper", "authors": ["Ada Lovelace"], "abstract": "First.", "venue": "NeurIPS 2023",
           "url": "https://openreview.net/forum?id=CCCCCCCCCC"}
    src.write_text(json.dumps([rec]), "utf-8")
    import_papers(project, [src])
    root = project.content.root
    assert (root / ".recap/base/packed.json").is_file() and not (root / ".recap/base/papers").exists()
    (pid,) = project.content.load_papers()
    path = root / "papers" / f"{pid}.toml"
    path.write_text(path.read_text("utf-8").replace('venue = "NeurIPS 2023"', 'venue = "NeurIPS 2023 (Oral)"'))
    src.write_text(json.dumps([{**rec, "abstract": "First. And a longer second version of the abstract."}]))
    from pipeline.config import open_project

    again = open_project(project.root)
    import_papers(again, [src])
    paper = again.content.load_papers()[pid]
    assert paper.venue == "NeurIPS 2023 (Oral)"  # the person's edit
    assert paper.abstract == "First. And a longer second version of the abstract."  # the new value
    assert "kept your edits in content/papers/" in " ".join(again.content.notices)
