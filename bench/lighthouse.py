"""Lighthouse scores (performance, accessibility, best practices, SEO) of the home page, an episode, a
paper and the search page, as `recap serve` serves them (compressed), built for the address they are
served at (a base URL: absolute canonical and feed links).

    make lighthouse                              # the seed project (needs ../shared/seeds)
    .venv/bin/python bench/lighthouse.py --project DIR [--preset desktop]

Lighthouse comes from npm (`make install` puts it in .cache/node) and drives Debian's Chromium.
Prints one line per page and exits 1 when a score is under --min (default 98).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from screenshots import project_folder  # noqa: E402  (bench/ is the script's own folder on sys.path)

LIGHTHOUSE = REPO / ".cache" / "node" / "node_modules" / "lighthouse" / "cli" / "index.js"
CHROMIUM = "/usr/bin/chromium"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
METRICS = ("first-contentful-paint", "largest-contentful-paint", "total-blocking-time", "cumulative-layout-shift",
           "speed-index")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pages(root: Path) -> dict[str, str]:
    from pipeline.config import open_project

    store = open_project(root).content
    episodes = {s: store.load_episode(s, lazy_transcript=True) for s in store.episode_slugs()}
    slug = max(episodes, key=lambda s: len(episodes[s].chapters))
    papers = [pid for e in episodes.values() for pid in [c.paper for c in e.chapters if c.paper] + e.papers]
    paper = papers[0] if papers else sorted(store.load_papers())[0]
    return {"home": "", "episode": f"episodes/{slug}/", "paper": f"papers/{paper}/", "search": "search/?q=preference"}


def _wait(url: str, seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"recap serve did not answer at {url}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", help="a recap project folder (default: the seed project)")
    ap.add_argument("--preset", choices=["mobile", "desktop"], default="mobile",
                    help="Lighthouse's form factor and throttling (default: mobile, its default)")
    ap.add_argument("--min", type=int, default=98, help="the lowest acceptable score")
    ap.add_argument("--out", default=str(REPO / ".cache" / "lighthouse"), help="where the JSON reports go")
    ap.add_argument("--only", nargs="*", help="only these pages (home, episode, paper, search)")
    args = ap.parse_args()
    if not LIGHTHOUSE.is_file():
        sys.exit(f"Lighthouse missing at {LIGHTHOUSE}: run `make install`")
    with tempfile.TemporaryDirectory() as tmp:
        root = project_folder(args.project, Path(tmp))
        port = _free_port()
        base = f"http://127.0.0.1:{port}/"
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        server = subprocess.Popen([sys.executable, "-c", "from pipeline.cli import main; main()", "-C", str(root),
                                   "serve", "--port", str(port), "--base-url", base],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        worst = 100
        try:
            _wait(base)
            reports = Path(args.out)
            reports.mkdir(parents=True, exist_ok=True)
            for name, rel in _pages(root).items():
                if args.only and name not in args.only:
                    continue
                out = reports / f"{name}.json"
                cmd = ["node", str(LIGHTHOUSE), base + rel, "--quiet", "--output=json", f"--output-path={out}",
                       "--only-categories=" + ",".join(CATEGORIES),
                       "--chrome-flags=--headless=new --no-sandbox --disable-gpu"]
                if args.preset == "desktop":
                    cmd.append("--preset=desktop")
                subprocess.run(cmd, check=True, env={**os.environ, "CHROME_PATH": CHROMIUM})
                report = json.loads(out.read_text("utf-8"))
                scores = {c: round(100 * (report["categories"][c]["score"] or 0)) for c in CATEGORIES}
                worst = min(worst, *scores.values())
                failing = [a["id"] for a in report["audits"].values()
                           if a.get("score") is not None and a["score"] < 0.9 and a.get("scoreDisplayMode") == "binary"]
                metrics = {k: report["audits"][k]["displayValue"] for k in METRICS if k in report["audits"]}
                print(f"{name:8} {rel or '/':32} " + "  ".join(f"{c} {v}" for c, v in scores.items())
                      + (f"  (failing: {', '.join(failing)})" if failing else ""), flush=True)
                print("         " + "  ".join(f"{k} {v}" for k, v in metrics.items()), flush=True)
        finally:
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(Path(tmp) / "seed-project", ignore_errors=True)
    if worst < args.min:
        sys.exit(f"lowest score {worst} < {args.min}")


if __name__ == "__main__":
    main()
