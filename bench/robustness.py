"""Robustness in numbers: fuzzed inputs per importer, crashes, corrupted files, lost edits, payloads run.

    .venv/bin/python bench/robustness.py [--examples 200] [--kills 6]

1. Every importer (import-transcript, import-notes, papers import) gets ``--examples`` mutated real
   inputs (tests/test_fuzz.py's strategy) through the CLI on a fresh project: counted as accepted,
   refused with one error line, crashed (a traceback), or corrupted (content/ invalid after success,
   or changed after a refusal).
2. ``recap build`` on the hostile project is stopped ``--kills`` times with SIGINT/SIGTERM/SIGKILL at
   seeded random moments: trees left invalid, and re-runs that failed.
3. A person's edits (tests/test_edits.py) through every stage: edits lost.
4. The hostile site: dangerous constructs in the HTML, and payloads that ran in Chromium.
All the "bad" columns should read 0.
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SEEDS = REPO.parent / "shared" / "seeds"


def fuzz_importers(examples: int) -> list[tuple[str, int, int, int, int, int]]:
    import traceback

    from click.testing import CliRunner
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from pipeline.cli import main
    from pipeline.config import init_project
    from tests.conftest import content_snapshot
    from tests.test_fuzz import _seed_sets, check_content_valid, mutated

    seed_sets = _seed_sets(SEEDS)
    rows = []
    for name, kind, command in (("transcripts", "transcript", ["import-transcript", "{}", "--episode", "ep"]),
                                ("show notes", "notes", ["import-notes", "{}", "--episode", "ep"]),
                                ("paper lists", "papers", ["papers", "import", "{}"])):
        counts = {"tried": 0, "accepted": 0, "refused": 0, "crashed": 0, "corrupted": 0}

        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=st.data())
        def one(case):
            suffix, data = case.draw(mutated(seed_sets[kind]))
            counts["tried"] += 1
            with tempfile.TemporaryDirectory(prefix="recap-robust-") as tmp:
                root = Path(tmp) / "proj"
                init_project(root, title="Bench")
                src = Path(tmp) / f"input{suffix}"
                src.write_bytes(data)
                before = content_snapshot(root / "content")
                args = [str(src) if a == "{}" else a for a in command]
                res = CliRunner().invoke(main, ["-C", str(root), *args])
                if res.exception is not None and not isinstance(res.exception, SystemExit):
                    counts["crashed"] += 1
                    print("CRASH", name, "".join(traceback.format_exception(res.exception))[-400:], file=sys.stderr)
                elif res.exit_code == 0:
                    counts["accepted"] += 1
                    try:
                        check_content_valid(root / "content")
                    except Exception:  # noqa: BLE001 - counted, not raised
                        counts["corrupted"] += 1
                else:
                    counts["refused"] += 1
                    errors = [ln for ln in res.output.splitlines() if ln.startswith("Error:")]
                    if len(errors) != 1 or content_snapshot(root / "content") != before:
                        counts["corrupted"] += 1

        one()
        rows.append((name, counts["tried"], counts["accepted"], counts["refused"], counts["crashed"],
                     counts["corrupted"]))
    return rows


def interrupt_builds(kills: int) -> tuple[int, int, int]:
    from tests.test_interrupt import check_tree, run, run_and_stop
    from tests.test_security import build_hostile

    rng = random.Random(8)
    corrupted = failed_reruns = 0
    with tempfile.TemporaryDirectory(prefix="recap-robust-") as tmp:
        root = Path(tmp) / "proj"
        build_hostile(root)
        for i in range(kills):
            sig = (signal.SIGINT, signal.SIGTERM, signal.SIGKILL)[i % 3]
            shutil.rmtree(root / "site", ignore_errors=True)
            run_and_stop(root, ["build", "--full"], sig, rng.uniform(0.8, 3.0))
            try:
                check_tree(root, allow_hidden_tmp=sig == signal.SIGKILL)
            except AssertionError:
                corrupted += 1
            if run(root, "build").returncode != 0:
                failed_reruns += 1
            try:
                check_tree(root)
            except AssertionError:
                corrupted += 1
    return kills, corrupted, failed_reruns


def edits_lost() -> tuple[int, int]:
    """(edits checked, stage runs that lost an edit) through every stage of tests/test_edits.py."""
    import pytest

    from tests import test_edits

    root, papers, edits = test_edits.make_edited_project(Path(tempfile.mkdtemp(prefix="recap-edits-")) / "proj",
                                                         SEEDS)
    from click.testing import CliRunner

    from pipeline.cli import main

    lost = 0
    for _, args in test_edits.STAGES:
        CliRunner().invoke(main, ["-C", str(root), *map(str, args(SEEDS, papers))])
        try:
            test_edits.assert_kept(root, edits)
        except (AssertionError, pytest.fail.Exception):
            lost += 1
    return len(edits) * len(test_edits.STAGES), lost


def payloads() -> tuple[int, int, int, int]:
    """(payloads, pages, dangerous constructs found statically, payloads run in Chromium)."""
    from tests.hostile import PAYLOADS
    from tests.test_security import build_hostile, scan_page, test_no_payload_runs_in_chromium

    with tempfile.TemporaryDirectory(prefix="recap-robust-") as tmp:
        site = build_hostile(Path(tmp) / "proj")
        pages = sorted(site.rglob("*.html"))
        static = sum(len(scan_page(p)) for p in pages)
        try:
            test_no_payload_runs_in_chromium(site)
            ran = 0
        except AssertionError as exc:
            print(exc, file=sys.stderr)
            ran = str(exc).count("__xss") + str(exc).count("alert") or 1
    return len(PAYLOADS), len(pages), static, ran


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=200, help="fuzzed inputs per importer")
    ap.add_argument("--kills", type=int, default=6, help="interrupted builds")
    args = ap.parse_args()
    if not SEEDS.is_dir():
        sys.exit(f"{SEEDS} not found: this benchmark mutates the real seed inputs")
    t0 = time.monotonic()
    rows = fuzz_importers(args.examples)
    print(f"{'importer':<14}{'tried':>7}{'accepted':>10}{'refused':>9}{'crashed':>9}{'corrupted':>11}")
    for name, *nums in rows:
        print(f"{name:<14}" + "".join(f"{n:>{w}}" for n, w in zip(nums, (7, 10, 9, 9, 11))))
    kills, corrupted, failed = interrupt_builds(args.kills)
    print(f"\ninterrupted builds: {kills}, trees left invalid: {corrupted}, re-runs failed: {failed}")
    checked, lost = edits_lost()
    print(f"edits checked across stages: {checked} (5 corrections x 6 stage runs), stage runs that lost one: {lost}")
    n, pages, static, ran = payloads()
    print(f"hostile payloads: {n} on {pages} pages, dangerous constructs in HTML: {static}, "
          f"payloads executed in Chromium: {ran}")
    bad = sum(r[4] + r[5] for r in rows) + corrupted + failed + lost + static + ran
    print(f"\ntotal bad outcomes: {bad} (expected 0); {time.monotonic() - t0:.0f} s")


if __name__ == "__main__":
    main()
