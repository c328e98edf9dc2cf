"""Shared fixtures: real seed inputs, a fresh project folder, pyannote's real 30 s sample."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
SEEDS = SHARED / "seeds"
SAMPLE_DIR = REPO / ".cache" / "pyannote-sample"

CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by `make install`; never a downloaded browser
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]  # seeking plays audio

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

# Property-based tests (tests/test_fuzz.py): "ci" is the small, reproducible default budget;
# `make fuzz` selects "long" (HYPOTHESIS_PROFILE=long), which also keeps failing examples in .cache/.
try:
    from hypothesis import HealthCheck, settings
    from hypothesis.database import DirectoryBasedExampleDatabase

    _relaxed = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture,
                HealthCheck.filter_too_much]
    settings.register_profile("ci", max_examples=50, deadline=None, derandomize=True, database=None,
                              suppress_health_check=_relaxed)
    settings.register_profile("long", max_examples=1500, deadline=None, suppress_health_check=_relaxed,
                              database=DirectoryBasedExampleDatabase(str(REPO / ".cache" / "hypothesis")))
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # hypothesis is in the [test] extra
    pass


def _require(path: Path, what: str) -> Path:
    if not path.exists():
        pytest.fail(f"{what} missing at {path}: run `make install` (tests never download)")
    return path


def shared(rel: str) -> Path:
    """``../shared/<rel>``: real inputs beside the checkout (tests and benches may read them; the product
    never does). Missing, the test is skipped on a developer's machine and fails in CI (``CI`` set), so a
    clone elsewhere cannot pass with most tests silently gone."""
    path = SHARED / rel
    if not path.exists():
        message = f"../shared/{rel} is not beside this checkout ({path})"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI needs the shared data next to the clone")
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def seeds() -> Path:
    """../shared/seeds: the first real inputs (a paper listing, a 3h20m transcript, show notes...)."""
    return shared("seeds")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data: more real data (AMI meeting clips, the NeurIPS 2023 catalog, a keynote session)."""
    return shared("data")


@pytest.fixture(scope="session")
def sample_wav() -> Path:
    """pyannote.audio's shipped 30 s two-speaker recording (taken from its wheel by make install)."""
    return _require(SAMPLE_DIR / "sample.wav", "pyannote sample.wav")


@pytest.fixture(scope="session")
def sample_rttm() -> Path:
    return _require(SAMPLE_DIR / "sample.rttm", "pyannote sample.rttm")


@pytest.fixture(scope="session")
def sample_stm() -> Path:
    return _require(SAMPLE_DIR / "sample.stm", "pyannote sample.stm")


@pytest.fixture
def project(tmp_path: Path):
    """A fresh, empty recap project folder (like `recap init`)."""
    from pipeline.config import init_project, open_project

    init_project(tmp_path / "proj", title="Test site")
    return open_project(tmp_path / "proj")


@pytest.fixture
def run_cli(project):
    """Invoke the CLI inside ``project`` with click's CliRunner; returns the Result."""
    from click.testing import CliRunner

    from pipeline.cli import main

    def run(*args: str, input: str | None = None):
        return CliRunner().invoke(main, ["-C", str(project.root), *map(str, args)], input=input,
                                  catch_exceptions=False)

    return run


def content_snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes: compare two snapshots to prove nothing changed."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@contextlib.contextmanager
def served(site: Path) -> Iterator[str]:
    """Serve a built site on 127.0.0.1 with recap's own server (it answers Range requests, so audio
    can seek); yields the base URL."""
    from pipeline.site.serve import make_server

    httpd = make_server(site, 0)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright, launched once per test module."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: run `make install` (installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@contextlib.contextmanager
def watched_page(browser, base: str, also_local: tuple[str, ...] = ()) -> Iterator:
    """A fresh page that records dialogs (``alert()`` from injected markup) in ``pg.dialogs``, page
    errors in ``pg.errors`` and every request leaving ``base`` (or ``data:``, ``also_local``) in
    ``pg.external``; the caller asserts on them."""
    context = browser.new_context()
    pg = context.new_page()
    pg.dialogs, pg.errors, pg.external = [], [], []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    local = (base, "data:", *also_local)
    pg.on("request", lambda r: None if r.url.startswith(local) else pg.external.append(r.url))
    try:
        yield pg
    finally:
        context.close()


def wait_js(pg, js: str, timeout: float = 15.0) -> None:
    """Poll a JS expression until true (page.wait_for_function evaluates strings, which the site's
    CSP forbids, as it should)."""
    import time

    end = time.monotonic() + timeout
    while not pg.evaluate(js):
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {js}")
        pg.wait_for_timeout(100)
