"""A batch's records (options, reports, one attempt's outcome) and the task a worker runs for one recording.

Shared by the driver (:mod:`pipeline.jobs.batch`) and the executors (:mod:`pipeline.jobs.batch`'s process
pool, :mod:`pipeline.jobs.ray`); plain picklable dataclasses, no I/O.
"""

from __future__ import annotations

import logging
import os
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import RecapError
from pipeline.jobs.manifest import BatchItem

if TYPE_CHECKING:  # a worker process imports this module to start: nothing heavy before worker_init (below)
    from pipeline.audio.decode import Progress as StageProgress
    from pipeline.jobs.recording import ProcessOptions, ProcessResult
    from pipeline.sources.notes import ShowNotes

NOT_RETRIED = ("InputError",)  # the input itself is bad: trying again cannot help


@dataclass(frozen=True)
class BatchOptions:
    """How a batch runs. Immutable defaults; the CLI fills these from its options."""

    executor: str = "local"
    """inline (this process: ``recap process``) | local (a process pool on this machine) | ray (a Ray cluster)."""
    workers: int | None = None
    """Parallel workers. Default: local: 1 per 2 CPU cores; ray: 1 per GPU, else 1 per CPU."""
    address: str | None = None
    """Ray cluster to join ("HOST:PORT" or "auto"); None starts a local Ray cluster for the batch."""
    retries: int = 1
    """Extra attempts for a recording that failed for a reason other than bad input."""
    cpus_per_worker: float = 1.0
    """Ray: CPUs reserved per actor when there is no GPU."""
    gpus_per_worker: float | None = None
    """Ray: GPUs per actor. None: 1 when the cluster has GPUs and the device is not "cpu", else 0."""
    ship_audio: bool = True
    """Ray: send the audio bytes through the object store (workers need no shared file system)."""
    force: bool = False
    """Process recordings even when content/ already has them for the same audio and options."""


@dataclass
class Outcome:
    """What a worker returns for one attempt: a result, or the failure's one-line message."""

    slug: str
    ok: bool
    result: ProcessResult | None = None
    error: str = ""
    error_type: str = ""
    detail: str = ""  # traceback text, logged at debug level
    seconds: float = 0.0
    worker: str = ""
    exception: BaseException | None = field(default=None, repr=False)
    """The error itself, inline only (exceptions don't always survive pickling)."""


@dataclass
class ItemReport:
    item: BatchItem
    status: str = "pending"  # done | skipped | failed
    attempts: int = 0
    duration: float = 0.0  # seconds of audio
    seconds: float = 0.0  # wall time spent on it by workers
    error: str = ""
    worker: str = ""
    options: ProcessOptions | None = field(default=None, repr=False)  # this recording's options (hotwords, speakers)
    notes: ShowNotes | None = field(default=None, repr=False)  # its parsed show notes
    result: ProcessResult | None = field(default=None, repr=False)  # kept for a batch of one (recap process)
    exception: BaseException | None = field(default=None, repr=False)  # why it failed, when known


@dataclass
class BatchReport:
    items: list[ItemReport] = field(default_factory=list)
    seconds: float = 0.0
    executor: str = "local"

    @property
    def failed(self) -> list[ItemReport]:
        return [r for r in self.items if r.status == "failed"]

    def count(self, status: str) -> int:
        return sum(1 for r in self.items if r.status == status)

    def summary(self) -> str:
        hours = sum(r.duration for r in self.items if r.status == "done") / 3600
        return (f"recap batch ({self.executor}): {self.count('done')} done, {self.count('skipped')} skipped, "
                f"{len(self.failed)} failed; {hours:.2f} h of audio processed in {self.seconds:.1f} s")


class Progress:
    """Callbacks the driver calls as the batch advances (the CLI shows them)."""

    def start(self, report: BatchReport, total_seconds: float) -> None: ...

    def update(self, item: ItemReport, report: BatchReport) -> None: ...

    def stop(self) -> None: ...


Land = Callable[[ItemReport, Outcome], bool]
"""The driver's handler of one attempt's outcome: True when the recording needs another attempt."""


# -- the worker side -----------------------------------------------------------------------------
def worker_init(threads: int | None = None) -> None:
    """Run once in each worker process: quiet logging, a fair share of CPU threads; models load on
    first use and stay loaded for the worker's next recordings. The thread counts must be set before
    NumPy, CTranslate2 or torch is imported (they read them then): this module imports none of them, and
    with one BLAS thread in every worker a recording is transcribed the same on the pool and on Ray."""
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, str(threads))
    logging.getLogger("pipeline").setLevel(logging.ERROR)  # messages come back in the result


def run_one(slug: str, audio: Path, options: ProcessOptions, cache_dir: Path,
            progress: StageProgress | None = None, *, keep_exception: bool = False) -> Outcome:
    """Process one recording. Never raises: errors come back as an :class:`Outcome` (exception objects
    don't always survive pickling, and one bad file must not break the pool)."""
    from pipeline.jobs.recording import process_recording

    t0 = time.perf_counter()
    worker = f"{os.uname().nodename}:{os.getpid()}"
    try:
        result = process_recording(Path(audio), options, Path(cache_dir), progress)
        return Outcome(slug, True, result=result, seconds=time.perf_counter() - t0, worker=worker)
    except Exception as exc:  # noqa: BLE001 - isolate every failure to its recording
        return Outcome(slug, False, error=one_line(exc), error_type=type(exc).__name__,
                       detail=traceback.format_exc(), seconds=time.perf_counter() - t0, worker=worker,
                       exception=exc if keep_exception else None)


def one_line(exc: BaseException) -> str:
    if isinstance(exc, RecapError):
        return exc.format_message()
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:400]


def default_workers(n_items: int) -> int:
    return max(1, min(n_items, (os.cpu_count() or 2) // 2))
