"""Shared fixtures: real seed inputs, a fresh project folder, pyannote's real 30 s sample."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO.parent / "shared" / "seeds"
SAMPLE_DIR = REPO / ".cache" / "pyannote-sample"

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


@pytest.fixture(scope="session")
def seeds() -> Path:
    """../shared/seeds: the real inputs (tests may read them; the product never does)."""
    if not SEEDS.is_dir():
        pytest.skip("../shared/seeds is not beside this checkout")
    return SEEDS


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
