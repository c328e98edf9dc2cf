"""Recordings in bulk: the driver loop that ``recap batch`` and ``recap process`` share.

``recap process`` is a batch of one run in the driver (``executor="inline"``); ``recap batch`` runs the same
per-recording job (:func:`pipeline.jobs.recording.process_recording`, a plain function of audio + options)
on workers, and writes each result into ``content/`` from the driver only:

* **Executors.** ``inline``: in this process, holding the episode's lock for the whole job, with per-stage
  progress. ``local``: a :class:`concurrent.futures.ProcessPoolExecutor` whose workers live for the whole
  batch, so the models :mod:`pipeline.jobs.recording` caches at module level are loaded once per worker.
  ``ray``: one Ray actor per worker (:mod:`pipeline.jobs.ray`).
* **Isolation.** Each recording is a task of its own. A worker never raises: it returns an :class:`Outcome`
  with the error's one-line message. Failures caused by the input itself (``InputError``: a corrupt, empty or
  non-audio file) are final; others (a model that ran out of memory, a worker process or Ray actor that died,
  which is then replaced) are retried up to ``retries`` times. A failure never stops the other recordings.
* **One writer.** Workers don't touch ``content/``. The driver saves each result under the episode's lock,
  through :class:`pipeline.content.ContentStore` (atomic writes, person edits kept), then runs the later
  stages (alignment, summaries), then records a completion marker ``content/.recap/batch/<slug>.json`` (audio
  sha256 + options key). Results are saved in the batch's order, so ``content/`` is the same whatever executor
  ran them and in whatever order.
* **Resume.** A re-run skips every recording whose marker matches the same audio and options (unless
  ``force``), so killing a batch and running it again redoes no finished recording (and the stage cache under
  ``.cache/recap`` lets an interrupted recording resume near where it stopped).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from pipeline.audio.decode import Progress as StageProgress
from pipeline.audio.diarize import check_options
from pipeline.cache import file_hash
from pipeline.config import Project
from pipeline.errors import ConfigError, RecapError
from pipeline.jobs.episode import check_inputs, later_stages, prepare, save_result
from pipeline.jobs.manifest import BatchItem
from pipeline.jobs.recording import ProcessOptions
from pipeline.jobs.tasks import (
    NOT_RETRIED,
    BatchOptions,
    BatchReport,
    ItemReport,
    Land,
    Outcome,
    Progress,
    default_workers,
    one_line,
    run_one,
    worker_init,
)

log = logging.getLogger(__name__)

MARKER_DIR = ".recap/batch"
EXECUTORS = ("inline", "local", "ray")


# -- the driver ----------------------------------------------------------------------------------
def options_key(options: Any) -> str:
    """A stable key for processing options (a dataclass): part of the completion marker."""
    is_record = dataclasses.is_dataclass(options) and not isinstance(options, type)
    data = dataclasses.asdict(options) if is_record else options
    raw = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def _marker(slug: str) -> str:
    return f"{MARKER_DIR}/{slug}.json"


def is_done(project: Project, item: BatchItem, audio_hash: str, key: str) -> bool:
    """True when content/ holds this episode processed from the same audio with the same options."""
    store = project.content
    p = store.path(_marker(item.slug))
    if not (p.is_file() and store.has_episode(item.slug)):
        return False
    try:
        data = json.loads(p.read_text("utf-8"))
    except (OSError, ValueError):
        return False
    return data.get("audio_sha256") == audio_hash and data.get("options") == key


def run_batch(project: Project, items: Sequence[BatchItem], process_options: ProcessOptions,
              options: BatchOptions = BatchOptions(), progress: Progress | None = None,
              stage_progress: StageProgress | None = None) -> BatchReport:
    """Process ``items`` with ``process_options``. Returns a report with one row per item; failures are in
    the report, not raised (``ItemReport.exception`` keeps the error when it is known). ``stage_progress``
    receives each stage's progress of an inline job."""
    if options.executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {options.executor!r}: use {', '.join(EXECUTORS)}")
    if options.retries < 0:
        raise ConfigError("--retries must be 0 or more")
    if process_options is not None:
        check_options(process_options.diarize)  # a missing pyannote token fails before any audio work
    t0 = time.perf_counter()
    progress = progress or Progress()
    report = BatchReport(items=[ItemReport(item=it) for it in items], executor=options.executor)
    key = options_key(process_options)
    hashes: dict[str, str] = {}
    pending: list[ItemReport] = []
    for row in report.items:
        try:
            row.notes, row.duration = check_inputs(row.item)  # nothing written yet: a bad input fails here
            hashes[row.item.slug] = file_hash(row.item.audio, project.cache_dir)
        except RecapError as exc:
            _fail(row, exc)
            continue
        if not options.force and is_done(project, row.item, hashes[row.item.slug], key):
            row.status = "skipped"
            log.info("skipped %s: already processed from the same audio and options", row.item.slug)
            continue
        pending.append(row)
    progress.start(report, sum(r.duration for r in report.items))
    for row in report.items:
        if row.status != "pending":
            progress.update(row, report)

    def save(row: ItemReport, outcome: Outcome, locked: bool = False) -> None:
        assert outcome.result is not None
        try:
            save_result(project, row.item, outcome.result, locked=locked)
            if not locked:
                finish(row, outcome)
        except RecapError as exc:
            _fail(row, exc)
        except Exception as exc:  # noqa: BLE001 - a failed save must not stop the batch
            log.debug("saving %s failed", row.item.slug, exc_info=True)
            row.status, row.error = "failed", one_line(exc)
        progress.update(row, report)

    def finish(row: ItemReport, outcome: Outcome) -> None:
        later_stages(project, row.item.slug, row.notes, row.item.title)
        # written last: a batch killed before this line redoes (from the stage cache) this recording
        project.content.write_text(_marker(row.item.slug), json.dumps(
            {"audio": str(row.item.audio), "audio_sha256": hashes[row.item.slug], "options": key},
            indent=1, sort_keys=True) + "\n", force=True)
        row.status, row.error, row.result = "done", "", outcome.result
        log.info("done %s (%.1f s on %s)", row.item.slug, outcome.seconds, outcome.worker)

    # Results are saved in the batch's order, whatever order workers finish in: later stages read what
    # earlier episodes wrote (people, the voice library), so content/ must not depend on scheduling.
    # A result that arrives early waits here (a killed batch redoes it from the stage cache).
    finished: dict[str, Outcome] = {}
    order = list(pending)

    def flush() -> None:
        while order and (order[0].status == "failed" or order[0].item.slug in finished):
            row = order.pop(0)
            if row.status != "failed":
                save(row, finished.pop(row.item.slug))

    def land(row: ItemReport, outcome: Outcome) -> bool:
        row.attempts += 1
        row.seconds += outcome.seconds
        row.worker = outcome.worker
        if outcome.ok:
            finished[row.item.slug] = outcome
            for message in outcome.result.messages if outcome.result else ():
                log.info("%s: %s", row.item.slug, message)
        else:
            log.debug("%s failed on %s:\n%s", row.item.slug, outcome.worker, outcome.detail)
            row.error, row.exception = outcome.error, outcome.exception
            if outcome.error_type not in NOT_RETRIED and row.attempts <= options.retries:
                log.warning("%s failed (attempt %d): %s; retrying", row.item.slug, row.attempts, outcome.error)
                return True
            row.status = "failed"
            log.warning("%s failed: %s", row.item.slug, outcome.error)
            progress.update(row, report)
        flush()
        return False

    try:
        if options.executor == "inline":
            _run_inline(project, pending, process_options, hashes, options, save, finish, stage_progress)
        else:
            for row in pending:
                try:
                    row.options = prepare(project, row.item, process_options, hashes[row.item.slug], row.notes)
                except RecapError as exc:
                    _fail(row, exc)
                    progress.update(row, report)
            ready = [r for r in pending if r.status == "pending"]
            order[:] = ready
            if ready and options.executor == "local":
                _run_local(project, ready, options, land)
            elif ready:
                from pipeline.jobs.ray import run_ray

                run_ray(project, ready, options, land)
    finally:
        progress.stop()
    report.seconds = time.perf_counter() - t0
    return report


def _fail(row: ItemReport, exc: RecapError) -> None:
    row.status, row.error, row.exception = "failed", exc.format_message(), exc
    log.warning("%s failed: %s", row.item.slug, row.error)


def _run_inline(project: Project, rows: list[ItemReport], base: ProcessOptions, hashes: dict[str, str],
                options: BatchOptions, save: Callable[..., None], finish: Callable[[ItemReport, Outcome], None],
                stage_progress: StageProgress | None) -> None:
    """In this process, one recording at a time, each under its episode's lock from its catalog import to its
    saved transcript (a second ``recap process`` on the same episode refuses meanwhile); the later stages
    take the lock themselves."""
    from pipeline.audio.decode import decode

    for row in rows:
        outcome = None
        try:
            # everything the audio can fail on is found before the lock file is made under content/
            decode(row.item.audio, project.cache_dir, stage_progress)
            with project.content.lock_episode(row.item.slug, existing=False):
                row.options = prepare(project, row.item, base, hashes[row.item.slug], row.notes)
                for _ in range(options.retries + 1):
                    outcome = run_one(row.item.slug, row.item.audio, row.options, project.cache_dir, stage_progress,
                                      keep_exception=True)
                    row.attempts += 1
                    row.seconds += outcome.seconds
                    if outcome.ok or outcome.error_type in NOT_RETRIED:
                        break
                if outcome is not None and outcome.ok:
                    save(row, outcome, locked=True)
                elif outcome is not None:
                    row.status, row.error, row.exception = "failed", outcome.error, outcome.exception
            if outcome is not None and outcome.ok and row.status == "pending":
                finish(row, outcome)
        except RecapError as exc:
            _fail(row, exc)


def _run_local(project: Project, rows: list[ItemReport], options: BatchOptions, land: Land) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    workers = options.workers or default_workers(len(rows))
    threads = max(1, (os.cpu_count() or 1) // workers)
    queue = list(rows)
    ctx = multiprocessing.get_context("spawn")  # no forked copies of the driver's threads or models

    def submit(pool: ProcessPoolExecutor, row: ItemReport) -> Future[Outcome]:
        assert row.options is not None, "prepared before dispatch"
        return pool.submit(run_one, row.item.slug, row.item.audio.resolve(), row.options, project.cache_dir)
    while queue:
        with ProcessPoolExecutor(max_workers=min(workers, len(queue)), mp_context=ctx,
                                 initializer=worker_init, initargs=(threads,)) as pool:
            futures = {submit(pool, r): r for r in queue}
            queue = []
            broken = False
            while futures:
                done, _ = wait(futures, return_when=FIRST_COMPLETED)
                for fut in done:
                    row = futures.pop(fut)
                    try:
                        outcome = fut.result()
                    except BrokenProcessPool:
                        # A worker died (killed, out of memory). The pool is unusable: every recording
                        # in flight counts an attempt and goes to a new pool.
                        broken = True
                        outcome = Outcome(row.item.slug, False, error="a worker process died",
                                          error_type="WorkerDied")
                    except Exception as exc:  # noqa: BLE001
                        outcome = Outcome(row.item.slug, False, error=one_line(exc), error_type=type(exc).__name__)
                    if land(row, outcome):
                        if broken:
                            queue.append(row)
                        else:
                            futures[submit(pool, row)] = row
