"""A real conference catalog: the 3,540 NeurIPS 2023 papers imported and built, side by side, in one run.

    python bench/catalog.py [--work DIR] [--skip-build] [--skip-quality]

Reads ../shared/data/neurips-2023-papers/ (papers.json + papers-db.json, the same as BibTeX) and prints:

1. import: JSON of 3,540 papers (target <= 3 s) against json.load of the same files; BibTeX against the bare
   bibtexparser parse of the same files (target <= 2x), recap's scanner alone, and pylatexenc's
   latex2text over the same titles and abstracts (the library alternative for the TeX decoding); merge time
   of half the catalog and of all of it (about linear: ~2x);
2. exactness: title, authors and abstract of every paper equal to the source, field by field (exact, or
   equal once TeX accents and escapes outside math are decoded; BibTeX abstracts with TeX's spacing);
   papers added by importing the BibTeX copy after the JSON one (target 0);
3. build: a cold ``recap build`` of the 3,540 papers (empty cache but the int8 model, whose one-time
   export is timed apart) against Hugo building the same papers' pages (target <= 3x, must <= 5x), and a
   one-paper rebuild (target < 2 s);
4. quality: embedding throughput int8 ONNX vs sentence-transformers (float) on NeurIPS papers, and the
   overlap of the top-5 related lists of the seed papers (../shared/seeds) and of NeurIPS papers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ["PYTHONPATH"] = str(REPO)  # subprocesses run this checkout's recap, not the venv's


def _site_bench():
    """bench/site.py (its name is the standard library's ``site``, already imported: load it by path)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_site", REPO / "bench" / "site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


site_bench = _site_bench()
HUGO, make_hugo_site = site_bench.HUGO, site_bench.make_hugo_site

DATA = REPO.parent / "shared" / "data" / "neurips-2023-papers"
SEEDS = REPO.parent / "shared" / "seeds"
JSONS = [DATA / "papers.json", DATA / "papers-db.json"]
BIBS = [DATA / "papers.bib", DATA / "papers-db.bib"]
RECAP = [sys.executable, "-c", "import sys; from pipeline.cli import main; sys.argv[0] = 'recap'; main()"]


def timed(fn, *args, **kw):
    t0 = time.perf_counter()
    out = fn(*args, **kw)
    return time.perf_counter() - t0, out


def new_project(path: Path):
    from pipeline.config import init_project, open_project

    shutil.rmtree(path, ignore_errors=True)
    init_project(path, "NeurIPS 2023")
    return open_project(path)


def row(label: str, value: str, note: str = "") -> None:
    print(f"  {label:<58} {value:>14}  {note}")


# -- 1. import ---------------------------------------------------------------------------------------------
def bench_import(work: Path) -> dict:
    from pipeline.sources.bibtex import parse_bibtex
    from pipeline.sources.catalog import merge_papers
    from pipeline.sources.papers import import_papers, read_papers

    print("\n1. import")
    t_json_load = min(timed(lambda: [json.loads(p.read_text("utf-8")) for p in JSONS])[0] for _ in range(3))
    pj = new_project(work / "json")
    cpu0 = time.process_time()
    t_json, rep_json = timed(import_papers, pj, JSONS)
    row("recap papers import papers.json papers-db.json", f"{t_json:.2f} s",
        f"[{time.process_time() - cpu0:.2f} s CPU] {len(rep_json.added)} papers; json.load {t_json_load:.3f} s; "
        "target <= 3 s")

    import bibtexparser

    texts = [p.read_text("utf-8") for p in BIBS]
    cpu0 = time.process_time()
    t_bp, dbs = timed(lambda: [bibtexparser.loads(t) for t in texts])
    cpu_bp = time.process_time() - cpu0
    t_scan, scanned = timed(lambda: [parse_bibtex(t) for t in texts])
    pb = new_project(work / "bib")
    cpu0 = time.process_time()
    t_bib, rep_bib = timed(import_papers, pb, BIBS)
    cpu_bib = time.process_time() - cpu0
    row(f"bibtexparser {bibtexparser.__version__} bare parse (no decoding)", f"{t_bp:.2f} s",
        f"[{cpu_bp:.2f} s CPU] {sum(len(d.entries) for d in dbs)} entries")
    row("recap's BibTeX scanner alone", f"{t_scan:.2f} s",
        f"{sum(len(e) for e, _ in scanned)} entries, {sum(len(p) for _, p in scanned)} problems")
    row("recap papers import papers.bib papers-db.bib", f"{t_bib:.2f} s",
        f"[{cpu_bib:.2f} s CPU] {t_bib / t_bp:.2f}x the bare bibtexparser parse wall, {cpu_bib / cpu_bp:.2f}x CPU "
        "(target <= 2x)")
    try:
        from pylatexenc.latex2text import LatexNodes2Text

        from pipeline import tex

        conv = LatexNodes2Text(math_mode="verbatim")
        fields = [(e.fields.get(f, ""), f == "title") for es, _ in scanned for e in es for f in ("title", "abstract")]

        def decode_all() -> list[str | None]:
            out: list[str | None] = []
            for text, _ in fields:
                try:
                    out.append(conv.latex_to_text(text))
                except Exception:  # pylatexenc raises on some real abstracts (a \\href without its text)
                    out.append(None)
            return out

        t_py, decoded = timed(decode_all)
        t_own, own = timed(lambda: [tex.decode(t, strip_braces=b) for t, b in fields])
        crashed = sum(d is None for d in decoded)
        differ = sum(d is not None and " ".join(d.split()) != " ".join(o.split()) for d, o in zip(decoded, own))
        row("pylatexenc latex2text (math verbatim), titles + abstracts", f"{t_py:.2f} s",
            f"{crashed} raised, {differ} of {len(fields)} changed beyond accents/escapes (commands, braces dropped)")
        row("recap's tex.decode of the same fields", f"{t_own:.2f} s")
    except ImportError:
        row("pylatexenc", "not installed")

    from pipeline import tex
    from pipeline.sources import catalog

    papers = [p for f in JSONS for p in read_papers(f)]
    half = papers[: len(papers) // 2]

    def merge_cold(ps: list) -> float:  # every title normalised anew, as in an import; CPU s (steadier here)
        catalog._norm.cache_clear()
        tex._math_plain.cache_clear()
        t0 = time.process_time()
        merge_papers({}, ps)
        return time.process_time() - t0

    t_half = min(merge_cold(half) for _ in range(3))
    t_all = min(merge_cold(papers) for _ in range(3))
    row(f"merge {len(half)} papers / {len(papers)} papers (CPU)", f"{t_half:.2f} / {t_all:.2f} s",
        f"x{t_all / max(t_half, 1e-9):.2f} for twice the papers (linear: ~2)")
    return {"json": pj, "bib": pb, "t_json": t_json, "t_bib": t_bib, "t_bp": t_bp}


# -- 2. exactness ------------------------------------------------------------------------------------------
def bench_exact(res: dict) -> None:
    from pipeline import tex
    from pipeline.sources.papers import import_papers

    print("\n2. exactness (field by field against papers.json + papers-db.json)")
    source = {r["url"]: r for f in JSONS for r in json.loads(f.read_text("utf-8"))}
    for name in ("json", "bib"):
        papers = {p.url: p for p in res[name].content.load_papers().values()}
        counts = {"title": [0, 0], "authors": [0, 0], "abstract": [0, 0]}
        for url, rec in source.items():
            p = papers.get(url)
            if p is None:
                continue
            for field, mine, theirs in (("title", p.title, rec["title"]), ("abstract", p.abstract, rec["abstract"]),
                                        ("authors", p.authors, rec["authors"])):
                if mine == theirs:
                    counts[field][0] += 1
                    continue
                if isinstance(theirs, str):
                    want = tex.decode(theirs, strip_braces=field == "title")
                    if name == "bib" or field == "title":  # TeX reads a run of spaces as one
                        mine, want = " ".join(mine.split()), " ".join(want.split())
                    if mine == want:
                        counts[field][1] += 1
        found = sum(1 for u in source if u in papers)
        summary = ", ".join(f"{f} {a + b}/{len(source)} ({a} exact)" for f, (a, b) in counts.items())
        row(f"{name}: papers found {found}/{len(source)}", "", summary)
    before = len(res["json"].content.load_papers())
    rep = import_papers(res["json"], BIBS)
    row("BibTeX copy imported after the JSON one: papers added", f"{len(rep.added)}",
        f"{before} -> {rep.total} papers (target: 0 added)")


# -- 3. build ----------------------------------------------------------------------------------------------
def bench_build(work: Path, project) -> None:
    from pipeline.embed_onnx import model_file

    print("\n3. build (wall seconds; CPU seconds in brackets)")
    root = project.root
    cache = project.cache_dir
    models = work / "models"
    if not model_file(models).exists():
        from pipeline.embed import _folder
        from pipeline.embed_onnx import export_int8

        t_export, _ = timed(export_int8, _folder(), model_file(models))
        row("one-time export of the int8 ONNX model (first build only)", f"{t_export:.1f} s")
    shutil.rmtree(cache, ignore_errors=True)
    shutil.rmtree(root / "site", ignore_errors=True)
    (cache / "models").mkdir(parents=True)
    shutil.copy(model_file(models), cache / "models")
    cold, rss = site_bench.run_measured([*RECAP, "-C", str(root), "build"])
    with tempfile.TemporaryDirectory() as tmp:
        n = make_hugo_site(root / "content", Path(tmp) / "src")
        src = str(Path(tmp) / "src")
        hugo = min(site_bench.run_measured([HUGO, "--quiet", "-s", src, "-d", str(Path(tmp) / f"out{i}")])
                   for i in range(3))
    cpu = site_bench.CPU_SECONDS
    row(f"hugo: {n} papers' pages", f"{hugo[0]:.2f} s", f"[{cpu[hugo[0]]:.1f} s CPU]")
    row("recap build, cold (3,540 papers: pages, related, map, search)", f"{cold:.2f} s",
        f"[{cpu[cold]:.1f} s CPU] {cold / hugo[0]:.1f}x hugo wall, {cpu[cold] / max(cpu[hugo[0]], 1e-3):.1f}x CPU "
        f"(goal <= 3x, must <= 5x); peak {rss:.0f} MB")
    warm, _ = site_bench.run_measured([*RECAP, "-C", str(root), "build"])
    row("recap build, nothing changed", f"{warm:.2f} s", f"[{cpu[warm]:.1f} s CPU]")
    one, _, stem = site_bench.edited_builds(root, lambda p, s: site_bench.run_measured([*RECAP, "-C", str(p), "build"]),
                                            site_bench.opening_edits(3))
    row("recap build after one paper's abstract opening changed", f"{one:.2f} s",
        f"[{cpu[one]:.1f} s CPU] median of 3, re-embeds {stem[:30]} (target < 2 s)")


# -- 4. quality --------------------------------------------------------------------------------------------
def _overlap(a: dict, b: dict) -> float:
    shared = [k for k in a if a[k] and b.get(k)]
    same = [len({x for x, _ in a[k]} & {x for x, _ in b[k]}) / max(len(a[k]), 1) for k in shared]
    return sum(same) / max(len(same), 1)


def bench_quality(work: Path, project) -> None:
    import numpy as np

    from pipeline.site.related import MapOptions, related_papers
    from pipeline.sources.papers import read_papers

    print("\n4. quality of the int8 encoder (same run)")
    papers = project.content.load_papers()
    sample = dict(sorted(papers.items())[:400])
    texts = [f"{p.title}. {p.abstract[:500]}" for p in sample.values()]
    (work / "texts.json").write_text(json.dumps(texts), "utf-8")
    times, vecs = {}, {}
    for backend in ("int8", "float"):  # each in its own process: torch's idle threads would slow ONNX Runtime
        out = work / f"vecs-{backend}.npy"
        script = (f"import json, time, numpy as np; from pipeline.embed import embed_texts; "
                  f"t = json.load(open({str(work / 'texts.json')!r})); embed_texts(t[:40], backend={backend!r}, "
                  f"models_dir={str(work / 'models')!r}); t0 = time.perf_counter(); "
                  f"v = embed_texts(t, backend={backend!r}, models_dir={str(work / 'models')!r}); "
                  f"print(time.perf_counter() - t0); np.save({str(out)!r}, v)")
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        times[backend] = float(result.stdout.split()[-1])
        vecs[backend] = np.load(out)
    cos = (vecs["float"] * vecs["int8"]).sum(1)
    row(f"embed {len(texts)} NeurIPS papers: sentence-transformers / int8 ONNX",
        f"{times['float']:.1f} / {times['int8']:.1f} s",
        f"{times['float'] / times['int8']:.2f}x faster; cosine to float mean {cos.mean():.4f}, min {cos.min():.4f}")
    seeds = {}
    for name in ("paper-listing.txt", "research-highlights-blog.txt", "neurips-2023-day5-notes.txt"):
        for p in read_papers(SEEDS / name):
            seeds.setdefault(p.id, p)
    for label, catalog in (("seed papers", seeds), ("NeurIPS papers", sample)):
        cache = work / f"q-{re.sub(r'[^a-z]', '', label)}"
        shutil.rmtree(cache, ignore_errors=True)
        models = cache / "models"
        models.mkdir(parents=True)
        shutil.copy(work / "models" / os.listdir(work / "models")[0], models)
        float_rel = related_papers(catalog, cache / "f", MapOptions(embedding="float"))
        (cache / "i" / "models").mkdir(parents=True)
        shutil.copy(models / os.listdir(models)[0], cache / "i" / "models")
        int8_rel = related_papers(catalog, cache / "i", MapOptions(embedding="int8"))
        row(f"top-5 related overlap int8 vs float, {len(catalog)} {label}", f"{_overlap(float_rel, int8_rel):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "recap-bench-catalog")
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--skip-quality", action="store_true")
    args = ap.parse_args()
    if not DATA.is_dir():
        sys.exit(f"{DATA} is missing: the NeurIPS 2023 catalog is part of ../shared/data")
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"NeurIPS 2023 catalog from {DATA} (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    res = bench_import(args.work)
    bench_exact(res)
    if not args.skip_build:
        bench_build(args.work, res["bib"])
    if not args.skip_quality:
        bench_quality(args.work, res["bib"])


if __name__ == "__main__":
    main()
