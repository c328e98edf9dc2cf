"""Golden pages: the repository's own demo project (recap.toml and content/ as committed, so a local
``make demo`` run does not count) built into a temporary folder and compared byte for byte with
tests/golden/. A change to the templates or the rendering shows here as a diff of the pages a
reader gets; when the change is meant, ``make golden`` writes the new pages (then review them with
``git diff tests/golden``)."""

from __future__ import annotations

import difflib
import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "golden"
PAGES = ["index.html", "episodes/two-callers/index.html", "episodes/two-callers/chapters.json",
         "episodes/two-callers/transcript.vtt", "papers/2305.18290/index.html", "people/diane/index.html",
         "posters/index.html", "feed.xml", "sitemap.xml"]
UPDATE = os.environ.get("RECAP_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory) -> Path:
    from pipeline.config import open_project
    from pipeline.site.build import build_site

    root = tmp_path_factory.mktemp("golden") / "demo"
    root.mkdir()
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("the golden pages are built from the committed demo content: needs a git checkout")
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "HEAD", "recap.toml", "content"],
                             capture_output=True, check=True).stdout
    tarfile.open(fileobj=io.BytesIO(archive)).extractall(root, filter="data")
    build_site(open_project(root), search=False)
    return root / "site"


@pytest.mark.parametrize("page", PAGES)
def test_page_is_as_golden(demo_site, page):
    got = (demo_site / page).read_text("utf-8")
    golden = GOLDEN / page
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(got, "utf-8")
    want = golden.read_text("utf-8") if golden.exists() else ""
    if got != want:
        diff = "".join(list(difflib.unified_diff(want.splitlines(True), got.splitlines(True), f"golden/{page}",
                                                 f"built/{page}"))[:60])
        pytest.fail(f"{page} differs from tests/golden (run `make golden` if the change is meant):\n{diff}")


def test_every_golden_page_is_checked():
    kept = sorted(str(p.relative_to(GOLDEN)) for p in GOLDEN.rglob("*") if p.is_file())
    assert kept == sorted(PAGES)
