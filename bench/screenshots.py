"""README screenshots of the built site, taken with the same headless Chromium the tests use.

    make screenshots                      # the seed episode (needs ../shared/seeds), into docs/
    .venv/bin/python bench/screenshots.py --project DIR   # any built recap project

Saves docs/screenshot-episode.png, docs/screenshot-paper.png, docs/screenshot-home.png and
docs/screenshot-episode-phone.png, and prints their paths.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--hide-scrollbars"]


def project_folder(arg: str | None, tmp: Path) -> Path:
    """The project to look at: ``arg``, else the seed project the test suite builds (also bench/lighthouse.py's)."""
    if arg:
        return Path(arg)
    seeds = REPO.parent / "shared" / "seeds"
    if not seeds.is_dir():
        sys.exit("no --project given and ../shared/seeds is missing")
    sys.path.insert(0, str(REPO / "tests"))
    from test_site import make_seed_project  # the test suite's seed project (real importers)

    return make_seed_project(tmp / "seed-project", seeds)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--project", help="a recap project folder (default: the seed episode)")
    ap.add_argument("--out", default=str(REPO / "docs"), help="where to save the PNGs")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    from pipeline.config import open_project
    from pipeline.site.build import build_site
    from pipeline.site.serve import make_server

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = project_folder(args.project, Path(tmp))
        project = open_project(root)
        site = Path(tmp) / "site"
        t0 = time.perf_counter()
        build_site(project, base_url="/", out=site)
        print(f"built in {time.perf_counter() - t0:.1f} s")
        store = project.content
        slug = store.episode_slugs()[0]
        ep = store.load_episode(slug)
        paper = next((c.paper for c in ep.chapters if c.kind == "poster" and c.paper), None) or (ep.papers or [None])[0]
        httpd = make_server(site, 0)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{httpd.server_address[1]}"
        shots = [("home", "/", 1280, 900, None),
                 ("episode", f"/episodes/{slug}/", 1280, 1400, None),
                 ("episode-transcript", f"/episodes/{slug}/#t={int(ep.chapters[-1].start) + 60 if ep.chapters else 60}",
                  1280, 900, None),
                 ("paper", f"/papers/{paper}/", 1280, 1200, None),
                 ("episode-phone", f"/episodes/{slug}/", 390, 844, None)]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            for name, path, w, h, _ in shots:
                page = browser.new_page(viewport={"width": w, "height": h}, device_scale_factor=1)
                page.goto(base + path)
                page.wait_for_timeout(700)
                target = out / f"screenshot-{name}.png"
                page.screenshot(path=str(target))
                print(target)
                page.close()
            browser.close()
        httpd.shutdown()


if __name__ == "__main__":
    main()
