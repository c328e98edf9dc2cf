"""Site build at conference scale, side by side with Hugo, in one run.

    python bench/site.py [--work DIR] [--papers 3586] [--episodes 50] [--query TEXT] [--profile]

1. Generates the conference with ``bench/gen_conference.py`` (kept in ``--work`` between runs:
   generation takes ~2 minutes; delete the folder to regenerate).
2. recap: a full ``recap build`` of the whole conference (3,586 papers, 50 episodes of 1-3 h,
   posters, people, search index, feeds), then incremental builds: nothing changed, one paper's
   abstract changed at its end and at its opening, its title changed (the paper is embedded again; medians),
   and a papers-only project (the exact pages Hugo builds) for a like-for-like ratio. Each build runs in a
   subprocess; peak memory is that process tree's ru_maxrss (wait4).
3. Hugo (``/usr/bin/hugo``): the same 3,586 papers as Markdown pages with a minimal theme
   (home, a papers list, one page per paper), generated in a temporary folder.
4. Search payload: the bytes a browser downloads to answer one query, measured in headless
   Chromium (Playwright) on the built site served on 127.0.0.1: every /search-index/ response (and the search
   script) from
   opening the search page to the results being shown.

Targets (issue 7): full build <= 3x Hugo, one-paper rebuild < 2 s, peak memory < 2 GB,
search payload < 300 KB. ``--profile`` writes a cProfile of the full build to ``--work``.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import http.server
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import tomli_w

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

RECAP_SCRIPT = Path(sys.executable).parent / "recap"  # the console script of this venv
RECAP = [sys.executable, str(RECAP_SCRIPT)]
HUGO = shutil.which("hugo") or "/usr/bin/hugo"
PAGES_ONLY = ("import sys; from pipeline.config import open_project; from pipeline.site.build import build_site; "
              "build_site(open_project(sys.argv[1]), search=False)")


CPU_SECONDS: dict[float, float] = {}
"""wall seconds of a run -> CPU seconds (user + system, children included) of the same run."""


def run_measured(cmd: list[str], cwd: Path | None = None) -> tuple[float, float]:
    """Run ``cmd``; return (wall seconds, peak RSS in MB of the process and the children it waited for).
    Its CPU time goes to :data:`CPU_SECONDS` (on a shared machine CPU time is steadier than wall time)."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{out.decode(errors='replace')[-3000:]}")
    CPU_SECONDS[wall] = usage.ru_utime + usage.ru_stime
    return wall, usage.ru_maxrss / 1024


# -- Hugo ----------------------------------------------------------------------------------------
HUGO_LAYOUTS = {
    "_default/baseof.html": """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{{ .Title }} | {{ .Site.Title }}</title><meta name="viewport" content="width=device-width">
</head><body><header><a href="{{ "/" | relURL }}">{{ .Site.Title }}</a></header>
<main>{{ block "main" . }}{{ end }}</main></body></html>
""",
    "_default/single.html": """{{ define "main" }}<article><h1>{{ .Title }}</h1>
<p>{{ delimit .Params.authors ", " }}</p><p><time>{{ .Date.Format "2006-01-02" }}</time>
{{ with .Params.arxiv }} <a href="https://arxiv.org/abs/{{ . }}">arXiv:{{ . }}</a>{{ end }}</p>
{{ .Content }}</article>{{ end }}
""",
    "_default/list.html": """{{ define "main" }}<h1>{{ .Title }}</h1><ul>
{{ range .Pages.ByTitle }}<li><a href="{{ .RelPermalink }}">{{ .Title }}</a> {{ delimit .Params.authors ", " }}</li>
{{ end }}</ul>{{ end }}
""",
    "index.html": """{{ define "main" }}<h1>{{ .Site.Title }}</h1>
<p><a href="{{ "/papers/" | relURL }}">All {{ len (where .Site.RegularPages "Section" "papers") }} papers</a></p>"""
                  """{{ end }}
""",
}


def make_hugo_site(content: Path, dest: Path) -> int:
    """A minimal Hugo site with one Markdown page per paper of ``content/papers``."""
    (dest / "content" / "papers").mkdir(parents=True)
    (dest / "hugo.toml").write_text('baseURL = "http://127.0.0.1/"\ntitle = "NeurIPS 2023"\n'
                                    'disableKinds = ["taxonomy", "term"]\n')
    for rel, text in HUGO_LAYOUTS.items():
        p = dest / "layouts" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    (dest / "content" / "papers" / "_index.md").write_text('+++\ntitle = "Papers"\n+++\n')
    n = 0
    for f in sorted((content / "papers").glob("*.toml")):
        paper = tomllib.loads(f.read_text("utf-8"))
        front = {"title": paper["title"], "date": paper.get("date") or "2023-12-10",
                 "authors": paper.get("authors", []), "arxiv": paper.get("arxiv", "")}
        body = paper.get("abstract", "")
        for note in paper.get("notes", []):
            body += f"\n\n> {note.get('text', '')} ({note.get('source', '')})"
        (dest / "content" / "papers" / f"{f.stem}.md").write_text(f"+++\n{tomli_w.dumps(front)}+++\n\n{body}\n")
        n += 1
    return n


# -- search payload --------------------------------------------------------------------------------
def search_payload(site: Path, query: str) -> tuple[int, int, int, str]:
    """(bytes, bytes if the host gzips text, files, per-kind detail) of the /search-index/ responses
    (and the site's search script) to open the search page and answer ``query``."""
    from playwright.sync_api import sync_playwright

    handler = functools.partial(_QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    search_page = next((p for p in ("search/index.html", "search.html") if (site / p).exists()), None)
    if search_page is None:
        server.shutdown()
        return 0, 0, 0, "no search page in the built site"
    sizes: dict[str, int] = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            page = browser.new_page()

            def on_response(resp):
                if "/search-index/" in resp.url or resp.url.endswith("/static/search.js"):
                    try:
                        sizes[resp.url] = resp.body()
                    except Exception:  # noqa: BLE001 - a cancelled request downloaded nothing
                        pass

            page.on("response", on_response)
            page.goto(f"{base}/{search_page.replace('index.html', '')}", wait_until="networkidle")
            box = page.locator("input[type=search]").first
            box.fill(query)
            box.press("Enter")
            try:
                page.wait_for_selector(".search-results a",
                                       timeout=20000)
            except Exception:  # noqa: BLE001 - measured anyway; reported as what was fetched
                pass
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(1000)
            browser.close()
    finally:
        server.shutdown()
    kinds: dict[str, int] = {}
    gzipped = 0
    for url, body in sizes.items():
        name = Path(urlsplit(url).path).name
        kind = name.rsplit(".", 1)[-1] if "." in name else name
        kinds[kind] = kinds.get(kind, 0) + len(body)
        # js/css/json are plain text that most static hosts gzip; pf_* files are already gzipped
        gzipped += len(gzip.compress(body, 6)) if kind in ("js", "css", "json") else len(body)
    detail = ", ".join(f"{k} {v / 1024:.0f} KB" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1]))
    return sum(kinds.values()), gzipped, len(sizes), detail


def _print_ratios(pages_wall: float, search_wall: float, hugo_wall: float) -> None:
    hugo_cpu = max(CPU_SECONDS[hugo_wall], 1e-3)
    print(f"\nrecap/hugo, same papers, pages (like for like): {pages_wall / hugo_wall:6.2f}x wall, "
          f"{CPU_SECONDS[pages_wall] / hugo_cpu:.2f}x CPU (target <= 3x)")
    print(f"recap/hugo, same papers, pages + search index:  {search_wall / hugo_wall:6.2f}x wall, "
          f"{CPU_SECONDS[search_wall] / hugo_cpu:.2f}x CPU")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # noqa: D401
        pass


def edited_builds(project: Path, build, changes: list[dict], search: bool = True) -> tuple[float, float, str]:
    """Median (wall, peak MB) of builds of ``project``, each after one change (fields of one paper's
    record updated); the record is put back afterwards. The median of a few runs: this machine's wall
    times vary by ~20% from run to run."""
    paper_file = sorted((project / "content" / "papers").glob("*.toml"))[7]
    original = paper_file.read_bytes()
    data = tomllib.loads(original.decode())
    runs = []
    try:
        for change in changes:
            paper_file.write_text(tomli_w.dumps({**data, **{k: v(data) for k, v in change.items()}}), "utf-8")
            runs.append(build(project, search))
    finally:
        paper_file.write_bytes(original)
    wall, rss = sorted(runs)[len(runs) // 2]
    return wall, rss, paper_file.stem


def abstract_edits(n: int) -> list[dict]:
    """``n`` different one-sentence additions to the end of a paper's abstract (past the part the
    paper map embeds: no new embedding)."""
    return [{"abstract": lambda d, i=i: d.get("abstract", "") + f" Revised {i} at {time.time():.0f}."}
            for i in range(n)]


def opening_edits(n: int) -> list[dict]:
    """``n`` different first sentences put before a paper's abstract: the paper is embedded again
    (map place, related papers)."""
    return [{"abstract": lambda d, i=i: f"Revised {i} at {time.time():.0f}. " + d.get("abstract", "")}
            for i in range(n)]


def title_edits(n: int) -> list[dict]:
    """``n`` different title edits: the paper's text for the map and related papers changes, so it is
    embedded again, and every page listing the paper shows the new title."""
    return [{"title": lambda d, i=i: d["title"] + f" (revised {i} at {time.time():.0f})"} for i in range(n)]


def best(n: int, fn) -> tuple[float, float]:
    return min(fn() for _ in range(n))


def median(n: int, fn) -> tuple[float, float]:
    return sorted(fn() for _ in range(n))[n // 2]


# -- main ----------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=REPO / ".cache" / "bench-site")
    ap.add_argument("--papers", type=int, default=3586)
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--query", default="preference optimization")
    ap.add_argument("--profile", action="store_true", help="also profile a full build with cProfile")
    ap.add_argument("--papers-only", action="store_true",
                    help="only Hugo and recap on the papers (skip the 50 episodes: minutes instead of an hour "
                         "on a busy 2-core machine)")
    ap.add_argument("--no-paper-map", action="store_true",
                    help="turn off [site] paper_map (the paper map and related papers embed every paper "
                         "on the first build)")
    args = ap.parse_args()

    from gen_conference import generate

    work = args.work
    conf = work / f"conference-{args.papers}-{args.episodes}"
    if not (conf / "recap.toml").exists():
        t0 = time.perf_counter()
        stats = generate(conf, n_papers=args.papers, n_episodes=args.episodes)
        print(f"generated {stats} in {time.perf_counter() - t0:.0f} s")
    papers_only = work / f"papers-{args.papers}"
    if not (papers_only / "recap.toml").exists():
        from pipeline.config import init_project

        init_project(papers_only, "NeurIPS 2023 papers")
        shutil.copytree(conf / "content" / "papers", papers_only / "content" / "papers", dirs_exist_ok=True)

    for proj in (conf, papers_only):
        cfg = tomllib.loads((proj / "recap.toml").read_text("utf-8"))
        cfg.setdefault("site", {})["paper_map"] = not args.no_paper_map
        (proj / "recap.toml").write_text(tomli_w.dumps(cfg), "utf-8")

    # modules compiled, as an installed package has them (with PYTHONDONTWRITEBYTECODE set, every
    # build would otherwise compile the modules edited since their last .pyc)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "pipeline")], check=True)
    rows: list[tuple[str, float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        hugo_src = Path(tmp) / "hugo"
        n = make_hugo_site(conf / "content", hugo_src)
        hugo_times = []
        for _ in range(2):  # first run warms the file cache for both tools alike
            shutil.rmtree(Path(tmp) / "hugo-out", ignore_errors=True)
            hugo_times.append(run_measured([HUGO, "--quiet", "-s", str(hugo_src), "-d", str(Path(tmp) / "hugo-out")]))
        hugo_wall, hugo_rss = min(hugo_times)
        hugo_pages = sum(1 for _ in (Path(tmp) / "hugo-out").rglob("*.html"))
    rows.append((f"hugo: {n} papers ({hugo_pages} pages)", hugo_wall, hugo_rss))

    def build(project: Path, search: bool = True) -> tuple[float, float]:
        if search:  # the command a user runs
            return run_measured([*RECAP, "-q", "-C", str(project), "build"])
        return run_measured([sys.executable, "-c", PAGES_ONLY, str(project)])

    # Paper embeddings (paper map, related papers) are cached by text under .cache/recap: the first
    # build ever computes them; "full" builds below start from an empty site/ with that cache warm.
    # Both projects hold the same papers, so they share one cache.
    (papers_only / ".cache").mkdir(exist_ok=True)
    if not (conf / ".cache").exists():
        (conf / ".cache").symlink_to((papers_only / ".cache").resolve())
    if not any((papers_only / ".cache").iterdir()):
        shutil.rmtree(papers_only / "site", ignore_errors=True)
        cold_wall, cold_rss = build(papers_only)
        rows.append((f"recap: same {n} papers, first build (cold caches)", cold_wall, cold_rss))
    shutil.rmtree(papers_only / "site", ignore_errors=True)
    # like for like: Hugo builds no search index; best of two, as for Hugo
    pp_wall, pp_rss = best(2, lambda: (shutil.rmtree(papers_only / "site", ignore_errors=True),
                                       build(papers_only, search=False))[1])
    rows.append((f"recap: same {n} papers, full, pages only", pp_wall, pp_rss))
    shutil.rmtree(papers_only / "site", ignore_errors=True)
    po_wall, po_rss = build(papers_only)
    po_pages = sum(1 for _ in (papers_only / "site").rglob("*.html"))
    rows.append((f"recap: same {n} papers, full ({po_pages} pages) + search index", po_wall, po_rss))

    if args.papers_only:
        noop_wall, noop_rss = median(3, lambda: build(papers_only))
        rows.append(("recap: same papers, nothing changed (median of 3)", noop_wall, noop_rss))
        one_wall, one_rss, stem = edited_builds(papers_only, build, abstract_edits(5))
        pages_wall, pages_rss, _ = edited_builds(papers_only, build, abstract_edits(3), search=False)
        rows.append((f"recap: same papers, one abstract changed ({stem}, median of 5)", one_wall, one_rss))
        rows.append(("recap: same papers, one abstract changed, pages only", pages_wall, pages_rss))
        payload, payload_gz, files, kinds = search_payload(papers_only / "site", args.query)
        print(f"\n{'build':58s} {'wall s':>8s} {'CPU s':>8s} {'peak MB':>8s}")
        for name, wall, rss in rows:
            print(f"{name:58s} {wall:8.2f} {CPU_SECONDS.get(wall, 0):8.2f} {rss:8.0f}")
        _print_ratios(pp_wall, po_wall, hugo_wall)
        print(f"one-paper rebuild:            {one_wall:6.2f} s  (target < 2 s; {pages_wall:.2f} s without "
              "re-indexing search)")
        print(f"peak memory (recap):          {max(r[2] for r in rows[1:]):6.0f} MB (target < 2048 MB)")
        print(f"search payload for {args.query!r}: {payload / 1024:6.1f} KB in {files} files "
              f"({payload_gz / 1024:.0f} KB when the host gzips js/css/json) (target < 300 KB)\n  {kinds}")
        return

    shutil.rmtree(conf / "site", ignore_errors=True)
    full_wall, full_rss = build(conf)
    pages = sum(1 for _ in (conf / "site").rglob("*.html"))
    rows.append((f"recap: whole conference, full ({pages} pages)", full_wall, full_rss))
    noop_wall, noop_rss = median(3, lambda: build(conf))
    rows.append(("recap: whole conference, nothing changed (median of 3)", noop_wall, noop_rss))
    one_wall, one_rss, stem = edited_builds(conf, build, abstract_edits(5))
    rows.append((f"recap: one abstract's end changed ({stem}, median of 5)", one_wall, one_rss))
    pages_wall, pages_rss, _ = edited_builds(conf, build, abstract_edits(3), search=False)
    rows.append(("recap: one abstract's end changed, pages only (median of 3)", pages_wall, pages_rss))
    open_wall, open_rss, _ = edited_builds(conf, build, opening_edits(5))
    rows.append(("recap: one abstract's opening changed (embedded again, median of 5)", open_wall, open_rss))
    title_wall, title_rss, _ = edited_builds(conf, build, title_edits(3))
    rows.append(("recap: one title changed (embedded again, median of 3)", title_wall, title_rss))
    build(conf)  # content is back as generated: so is the site

    payload, payload_gz, files, kinds = search_payload(conf / "site", args.query)

    print(f"\n{'build':58s} {'wall s':>8s} {'CPU s':>8s} {'peak MB':>8s}")
    for name, wall, rss in rows:
        print(f"{name:58s} {wall:8.2f} {CPU_SECONDS.get(wall, 0):8.2f} {rss:8.0f}")
    _print_ratios(pp_wall, po_wall, hugo_wall)
    print(f"recap/hugo, whole conference: {full_wall / hugo_wall:6.2f}x   (recap also builds {args.episodes} "
          "episodes with transcripts, posters, people, search index, feeds)")
    print(f"one-paper rebuild:            {one_wall:6.2f} s  (target < 2 s; {pages_wall:.2f} s for the pages "
          f"without the search update; {open_wall:.2f} s when the abstract's opening changes and "
          f"{title_wall:.2f} s when the title does: the paper is embedded again)")
    peak = max(r[2] for r in rows[1:])
    print(f"peak memory (recap):          {peak:6.0f} MB (target < 2048 MB)")
    print(f"search payload for {args.query!r}: {payload / 1024:6.1f} KB in {files} files "
          f"({payload_gz / 1024:.0f} KB when the host gzips js/css/json) (target < 300 KB)\n  {kinds}")

    if args.profile:
        import pstats

        prof = work / "build.prof"
        shutil.rmtree(conf / "site", ignore_errors=True)
        subprocess.run([sys.executable, "-m", "cProfile", "-o", str(prof), str(RECAP_SCRIPT), "-q",
                        "-C", str(conf), "build"], check=True)
        pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
