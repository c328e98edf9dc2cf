"""Batch processing: many recordings on a local process pool or a Ray cluster.

``recap batch`` runs the per-recording job of :mod:`pipeline.jobs.recording` (decode, transcribe, diarize,
attribute: :func:`pipeline.jobs.recording.process_recording`, a plain function of audio + options) on
workers, and writes each result into ``content/`` from the driver only:

* **Executors.** ``local``: a :class:`concurrent.futures.ProcessPoolExecutor` whose workers live for
  the whole batch, so the models :mod:`pipeline.jobs.recording` caches at module level are loaded once per
  worker. ``ray``: one Ray actor per worker (``num_gpus=1`` per actor on a GPU cluster, so each GPU
  keeps its model loaded; ``num_cpus`` on CPU), on a local cluster started for the batch or on an
  existing one joined with ``address``.
* **Isolation.** Each recording is a task of its own. A worker never raises: it returns an
  :class:`Outcome` with the error's one-line message. Failures caused by the input itself
  (``InputError``: a corrupt, empty or non-audio file) are final; others (a model that ran out of
  memory, a worker process or Ray actor that died, which is then replaced) are retried up to
  ``retries`` times. A failure never stops the other recordings.
* **One writer.** Workers don't touch ``content/``. The driver saves each result under the
  episode's lock, through :class:`pipeline.content.ContentStore` (atomic writes, person edits kept),
  then runs the later stages (alignment, summaries), then records a completion marker
  ``content/.recap/batch/<slug>.json`` (audio sha256 + options key). Results are saved in the
  batch's order, so ``content/`` is the same whatever executor ran them and in whatever order.
* **Resume.** A re-run skips every recording whose marker matches the same audio and options, so
  killing a batch and running it again redoes no finished recording (and the stage cache under
  ``.cache/recap`` lets an interrupted recording resume near where it stopped).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import logging
import os
import time
import tomllib
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.config import Project
from pipeline.errors import ConfigError, DependencyMissing, InputError, RecapError
from pipeline.ids import check_id, is_id, slugify

log = logging.getLogger(__name__)

MARKER_DIR = ".recap/batch"
NOT_RETRIED = ("InputError",)  # the input itself is bad: trying again cannot help


# -- what to process -----------------------------------------------------------------------------
@dataclass(frozen=True)
class BatchItem:
    """One recording of a batch (a manifest row or a command-line input)."""

    audio: Path
    slug: str
    title: str | None = None
    notes: Path | None = None
    papers: tuple[Path, ...] = ()


@dataclass(frozen=True)
class BatchOptions:
    """How a batch runs. Immutable defaults; the CLI fills these from its options."""

    executor: str = "local"
    """local (a process pool on this machine) | ray (a Ray cluster)."""
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
    result: Any = None
    error: str = ""
    error_type: str = ""
    detail: str = ""  # traceback text, logged at debug level
    seconds: float = 0.0
    worker: str = ""


@dataclass
class ItemReport:
    item: BatchItem
    status: str = "pending"  # done | skipped | failed
    attempts: int = 0
    duration: float = 0.0  # seconds of audio
    seconds: float = 0.0  # wall time spent on it by workers
    error: str = ""
    worker: str = ""
    options: Any = field(default=None, repr=False)  # this recording's ProcessOptions (hotwords, speakers)
    notes: Any = field(default=None, repr=False)  # its parsed show notes


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


# -- manifests -----------------------------------------------------------------------------------
_COLUMNS = {"audio", "episode", "slug", "title", "notes", "papers"}


def read_manifest(path: Path) -> list[BatchItem]:
    """Rows of ``path`` (TOML ``[[recording]]`` tables, a JSON list, or CSV with a header) as items.

    Columns: ``audio`` (required), ``episode`` (or ``slug``; default: the audio file's stem,
    slugified), ``title``, ``notes``, ``papers`` (a list, or ``;``-separated in CSV). Relative paths
    are relative to the manifest's folder."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise InputError(path, "no such manifest file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"unreadable manifest ({exc})") from None
    suffix = path.suffix.lower()
    rows: Any
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
            rows = data.get("recording", data.get("recordings"))
        elif suffix == ".json":
            data = json.loads(text)
            rows = data.get("recordings") if isinstance(data, dict) else data
        elif suffix in (".csv", ".tsv"):
            rows = list(csv.DictReader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ","))
            for row in rows:
                if row.get("papers"):
                    row["papers"] = [p.strip() for p in row["papers"].split(";") if p.strip()]
        else:
            raise InputError(path, "unknown manifest type", hint="use .toml, .json or .csv")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise InputError(path, f"not a valid {suffix[1:].upper()} manifest ({exc})") from None
    if not isinstance(rows, list) or not rows:
        raise InputError(path, "no recordings listed",
                         hint="TOML: [[recording]] tables; JSON: a list of objects; CSV: a header row with 'audio'")
    items = []
    for n, row in enumerate(rows, start=1):
        where = f"recording {n}"
        if not isinstance(row, dict) or not row.get("audio"):
            raise InputError(path, f"{where}: no 'audio'")
        unknown = {k for k in row if k and k not in _COLUMNS and row[k] not in (None, "")}
        if unknown:
            raise InputError(path, f"{where}: unknown column(s) {', '.join(sorted(unknown))}",
                             hint=f"known: {', '.join(sorted(_COLUMNS))}")
        papers = row.get("papers") or []
        if isinstance(papers, str):
            papers = [papers]
        slug = row.get("episode") or row.get("slug") or None
        items.append(_item(path.parent / row["audio"], slug, row.get("title") or None,
                           path.parent / row["notes"] if row.get("notes") else None,
                           tuple(path.parent / p for p in papers), source=(path, f"{where}: ")))
    return _check_unique(items)


def batch_items(inputs: Sequence[Path], manifest: Path | None) -> list[BatchItem]:
    """The recordings of a ``recap batch`` call: INPUTS or a manifest, not both, not neither."""
    if manifest is not None and inputs:
        raise ConfigError("give either audio files or --manifest, not both")
    if manifest is None and not inputs:
        raise ConfigError("nothing to process: give audio files or --manifest FILE")
    return read_manifest(manifest) if manifest is not None else items_from_paths(inputs)


def items_from_paths(paths: Iterable[Path]) -> list[BatchItem]:
    """Command-line inputs: one recording per file, slug from the file's stem."""
    return _check_unique([_item(Path(p), None, None, None, (), source=(Path(p), "")) for p in paths])


def _item(audio: Path, slug: str | None, title: str | None, notes: Path | None,
          papers: tuple[Path, ...], *, source: tuple[Path, str]) -> BatchItem:
    slug = slug if slug is not None else slugify(audio.stem)
    if not is_id(slug):
        raise InputError(source[0], f"{source[1]}invalid episode slug {slug!r}",
                         hint="use lower-case letters, digits, '.', '-' and '_' only")
    return BatchItem(audio=audio, slug=check_id(slug, "episode slug"), title=title, notes=notes, papers=papers)


def _check_unique(items: list[BatchItem]) -> list[BatchItem]:
    seen: dict[str, BatchItem] = {}
    for it in items:
        if it.slug in seen:
            raise InputError(it.audio, f"episode slug {it.slug!r} is also used by {seen[it.slug].audio}",
                             hint="give each recording its own episode slug in a manifest")
        seen[it.slug] = it
    return items


# -- the worker side -----------------------------------------------------------------------------
def _process_fn() -> Callable[..., Any]:
    from pipeline.jobs.recording import process_recording

    return process_recording


def worker_init(threads: int | None = None) -> None:
    """Run once in each worker process: quiet logging, a fair share of CPU threads, imports done
    up front so the first recording does not pay for them (models load on first use and stay)."""
    if threads:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ.setdefault(var, str(threads))
    logging.getLogger("pipeline").setLevel(logging.ERROR)  # messages come back in the result
    _process_fn()


def run_one(slug: str, audio: Path, options: Any, cache_dir: Path) -> Outcome:
    """Process one recording in a worker. Never raises: errors come back as an :class:`Outcome`
    (exception objects don't always survive pickling, and one bad file must not break the pool)."""
    t0 = time.perf_counter()
    worker = f"{os.uname().nodename}:{os.getpid()}"
    try:
        result = _process_fn()(Path(audio), options, Path(cache_dir))
        return Outcome(slug, True, result=result, seconds=time.perf_counter() - t0, worker=worker)
    except Exception as exc:  # noqa: BLE001 - isolate every failure to its recording
        return Outcome(slug, False, error=_one_line(exc), error_type=type(exc).__name__,
                       detail=traceback.format_exc(), seconds=time.perf_counter() - t0, worker=worker)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, RecapError):
        return exc.format_message()
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:400]


# -- the driver ----------------------------------------------------------------------------------
def options_key(options: Any) -> str:
    """A stable key for processing options (a dataclass): part of the completion marker."""
    data = dataclasses.asdict(options) if dataclasses.is_dataclass(options) else options
    raw = json.dumps(data, sort_keys=True, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()[:16]


def audio_sha256(path: Path, cache_dir: Path | None = None) -> str:
    from pipeline.cache import file_hash

    return file_hash(path, memo_dir=cache_dir)


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


def make_process_options(project: Project, **given: Any) -> Any:
    """The batch's :class:`pipeline.jobs.recording.ProcessOptions`: ``[transcribe]`` config, then the
    command-line values given (model, device, diarizer, language, ...)."""
    from pipeline.jobs.recording import ProcessOptions

    return ProcessOptions.from_config(project.config.transcribe, **given)


def prepare(project: Project, row: ItemReport, base: Any, audio_hash: str) -> None:
    """Driver side, before dispatch: check and import this recording's paper lists and show notes,
    and give it the options ``recap process`` would (catalog hotwords, speaker count from the notes).
    Raises RecapError for bad inputs: the recording fails, the others go on."""
    from dataclasses import replace

    from pipeline.jobs import recording as process

    item = row.item
    if item.papers:
        from pipeline.sources.catalog import import_papers, read_papers

        for p in item.papers:  # a bad file fails here, before anything is imported
            read_papers(Path(p))
        import_papers(project, list(item.papers))
    if item.notes is not None:
        from pipeline.sources.notes import parse_notes

        row.notes = parse_notes(Path(item.notes))
    opts = base
    if not opts.transcribe.hotwords:
        words = process._episode_vocabulary(
            project, item.slug, audio_hash,
            lambda: process.vocabulary(project.content.load_papers().values(), row.notes))
        opts = replace(opts, transcribe=replace(opts.transcribe, hotwords=words))
    if row.notes is not None and opts.diarize.prior_speakers is None:
        names = {s for c in row.notes.chapters for s in c.speakers}
        if names:
            opts = replace(opts, diarize=replace(opts.diarize, prior_speakers=len(names)))
    row.options = opts


def save_result(project: Project, row: ItemReport, result: Any) -> None:
    """Write one worker's result into content/ (driver only, under the episode's lock), then run the
    later stages (show notes, alignment, summaries), which take the lock themselves."""
    from pipeline.jobs.recording import run_later_stages, save_result as save

    item = row.item
    with project.content.lock(item.slug, wait=600):
        save(project, item.slug, result, options=row.options, title=item.title, audio=item.audio,
             locked=True, later=False)
    run_later_stages(project, item.slug, row.notes, item.title)
    for message in getattr(result, "messages", []):
        log.info("%s: %s", item.slug, message)


def _probe_duration(path: Path) -> float:
    from pipeline.audio.decode import probe

    try:
        return probe(path).duration
    except RecapError:  # an unreadable file is reported by its worker, like any other failure
        return 0.0


class Progress:
    """Callbacks the driver calls as the batch advances; the CLI shows them with rich."""

    def start(self, report: BatchReport, total_seconds: float) -> None: ...

    def update(self, item: ItemReport, report: BatchReport) -> None: ...

    def stop(self) -> None: ...


def run_batch(project: Project, items: Sequence[BatchItem], process_options: Any,
              options: BatchOptions = BatchOptions(), progress: Progress | None = None) -> BatchReport:
    """Process ``items`` with ``process_options`` (a :class:`pipeline.jobs.recording.ProcessOptions`).

    Returns a report with one row per item; failures are in the report, not raised."""
    if options.executor not in ("local", "ray"):
        raise ConfigError(f"unknown executor {options.executor!r}: use local or ray")
    if options.retries < 0:
        raise ConfigError("--retries must be 0 or more")
    t0 = time.perf_counter()
    progress = progress or Progress()
    report = BatchReport(items=[ItemReport(item=it) for it in items], executor=options.executor)
    key = options_key(process_options)
    pending: list[ItemReport] = []
    hashes: dict[str, str] = {}
    for row in report.items:
        audio = row.item.audio
        if not audio.is_file():
            row.status, row.error = "failed", InputError(audio, "no such file").format_message()
            continue
        hashes[row.item.slug] = audio_sha256(audio, project.cache_dir)
        row.duration = _probe_duration(audio)
        if not options.force and is_done(project, row.item, hashes[row.item.slug], key):
            row.status = "skipped"
            log.info("skipped %s: already processed from the same audio and options", row.item.slug)
            continue
        try:
            prepare(project, row, process_options, hashes[row.item.slug])
        except RecapError as exc:
            row.status, row.error = "failed", exc.format_message()
            log.warning("%s failed: %s", row.item.slug, row.error)
            continue
        pending.append(row)
    progress.start(report, sum(r.duration for r in report.items))
    for row in report.items:
        if row.status != "pending":
            progress.update(row, report)

    def save(row: ItemReport, outcome: Outcome) -> None:
        try:
            save_result(project, row, outcome.result)
            # written last: a batch killed before this line redoes (from the stage cache) this recording
            project.content.write_text(_marker(row.item.slug), json.dumps(
                {"audio": str(row.item.audio), "audio_sha256": hashes[row.item.slug],
                 "options": key}, indent=1, sort_keys=True) + "\n", force=True)
            row.status, row.error = "done", ""
            log.info("done %s (%.1f s on %s)", row.item.slug, outcome.seconds, outcome.worker)
        except RecapError as exc:
            row.status, row.error = "failed", exc.format_message()
        except Exception as exc:  # noqa: BLE001 - a failed save must not stop the batch
            log.debug("saving %s failed", row.item.slug, exc_info=True)
            row.status, row.error = "failed", _one_line(exc)
        progress.update(row, report)

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
        """Handle one attempt's outcome in the driver; True when the item needs another attempt."""
        row.attempts += 1
        row.seconds += outcome.seconds
        row.worker = outcome.worker
        if outcome.ok:
            finished[row.item.slug] = outcome
        else:
            log.debug("%s failed on %s:\n%s", row.item.slug, outcome.worker, outcome.detail)
            row.error = outcome.error
            retry = outcome.error_type not in NOT_RETRIED and row.attempts <= options.retries
            if retry:
                log.warning("%s failed (attempt %d): %s; retrying", row.item.slug, row.attempts, outcome.error)
                return True
            row.status = "failed"
            log.warning("%s failed: %s", row.item.slug, outcome.error)
            progress.update(row, report)
        flush()
        return False

    try:
        if pending:
            if options.executor == "local":
                _run_local(project, pending, options, land)
            else:
                _run_ray(project, pending, options, land)
    finally:
        progress.stop()
    report.seconds = time.perf_counter() - t0
    return report


def _default_workers(n_items: int) -> int:
    return max(1, min(n_items, (os.cpu_count() or 2) // 2))


def _run_local(project: Project, rows: list[ItemReport], options: BatchOptions,
               land: Callable[[ItemReport, Outcome], bool]) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    workers = options.workers or _default_workers(len(rows))
    threads = max(1, (os.cpu_count() or 1) // workers)
    queue = list(rows)
    ctx = multiprocessing.get_context("spawn")  # no forked copies of the driver's threads or models
    while queue:
        with ProcessPoolExecutor(max_workers=min(workers, len(queue)), mp_context=ctx,
                                 initializer=worker_init, initargs=(threads,)) as pool:
            futures = {pool.submit(run_one, r.item.slug, r.item.audio.resolve(), r.options,
                                   project.cache_dir): r for r in queue}
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
                        outcome = Outcome(row.item.slug, False, error=_one_line(exc), error_type=type(exc).__name__)
                    if land(row, outcome):
                        if broken:
                            queue.append(row)
                        else:
                            futures[pool.submit(run_one, row.item.slug, row.item.audio.resolve(),
                                                row.options, project.cache_dir)] = row


# -- Ray -----------------------------------------------------------------------------------------
def _ray_init(options: BatchOptions, workers_hint: int) -> tuple[Any, bool]:
    """Start or join Ray; returns (ray, True when this call connected the driver)."""
    import sys

    # Both are read when Ray is imported, so they are set first. Ray >= 2.5x has token
    # authentication on: a driver joining by explicit address must say so (the token itself comes
    # from RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token).
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if options.address and options.address != "auto":
        if "ray" in sys.modules and os.environ.get("RAY_AUTH_MODE") is None:
            log.warning("Ray was imported before RAY_AUTH_MODE=token was set: joining %s may fail to "
                        "authenticate", options.address)
        os.environ.setdefault("RAY_AUTH_MODE", "token")
    try:
        import ray
    except ImportError:
        raise DependencyMissing("--executor ray needs Ray", hint="pip install 'recap[ray]'") from None
    if ray.is_initialized():  # the caller connected already (a notebook, a test)
        return ray, False
    try:
        if options.address:
            ray.init(address=options.address, logging_level=logging.WARNING, log_to_driver=False)
        else:
            # "local": always a new cluster for this batch, never one a stale session file points at
            ray.init(address="local", num_cpus=max(workers_hint, 1), include_dashboard=False,
                     logging_level=logging.WARNING, log_to_driver=False)
    except Exception as exc:  # noqa: BLE001 - translate at the edge
        where = options.address or "a local cluster"
        raise DependencyMissing(f"cannot start or join Ray at {where}: {_one_line(exc)}",
                                hint="check `ray status` on the head node; joining by address needs "
                                     "RAY_AUTH_MODE=token and the cluster's token") from None
    return ray, True


def plan_actors(resources: dict[str, float], options: BatchOptions, device: str, n_items: int) -> tuple[int, float, float]:
    """How many Ray actors, with how many CPUs and GPUs each: one actor per GPU (``num_gpus=1``, so
    each GPU holds one copy of the models) when the cluster has GPUs and the device is not "cpu";
    else one per ``cpus_per_worker`` CPUs. ``--workers`` caps it; never more actors than recordings."""
    gpus = options.gpus_per_worker
    if gpus is None:
        gpus = 1.0 if resources.get("GPU", 0) >= 1 and device != "cpu" else 0.0
    if gpus:
        n = int(resources.get("GPU", 0) // gpus)
        cpus = 1.0
    else:
        cpus = options.cpus_per_worker
        n = int(resources.get("CPU", 1) // cpus)
    if options.workers:
        n = min(n, options.workers) if n else options.workers
    return max(1, min(n, n_items)), cpus, gpus


class _RayWorker:
    """A Ray actor: one per worker (per GPU on a GPU cluster), keeping its models loaded."""

    def __init__(self, cache_dir: str, threads: int | None) -> None:
        self.cache_dir = Path(cache_dir)
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError:  # the driver's path does not exist on this node
            self.cache_dir = Path.home() / ".cache" / "recap"
        worker_init(threads)

    def run(self, slug: str, audio: str, suffix: str, data: bytes | None, options: Any) -> Outcome:
        if data is None:
            return run_one(slug, Path(audio), options, self.cache_dir)
        inbox = self.cache_dir / "batch-inbox"
        inbox.mkdir(parents=True, exist_ok=True)
        local = inbox / f"{hashlib.sha256(data).hexdigest()}{suffix}"
        if not local.exists():
            tmp = local.with_name(f".{local.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, local)
        try:
            outcome = run_one(slug, local, options, self.cache_dir)
        finally:
            local.unlink(missing_ok=True)
        outcome.error = outcome.error.replace(str(local), audio)  # name the user's file, not the copy
        return outcome


def _run_ray(project: Project, rows: list[ItemReport], options: BatchOptions,
             land: Callable[[ItemReport, Outcome], bool]) -> None:
    ray, owned = _ray_init(options, options.workers or _default_workers(len(rows)))
    resources = ray.cluster_resources()
    device = rows[0].options.transcribe.device if rows[0].options is not None else "auto"
    n, cpus, gpus = plan_actors(resources, options, device, len(rows))
    log.info("Ray: %d actor(s), %s GPU and %s CPU each (cluster: %s)", n, gpus, cpus,
             {k: v for k, v in resources.items() if k in ("CPU", "GPU")})
    actor_cls = ray.remote(num_cpus=cpus, num_gpus=gpus, max_restarts=1)(_RayWorker)
    threads = max(1, int(cpus))
    actors = [actor_cls.remote(str(project.cache_dir), threads) for _ in range(n)]
    idle = list(actors)
    queue = list(rows)
    running: dict[Any, tuple[ItemReport, Any]] = {}
    payloads: dict[str, Any] = {}

    def submit(row: ItemReport, actor: Any) -> None:
        audio = row.item.audio.resolve()
        if options.ship_audio and row.item.slug not in payloads:
            payloads[row.item.slug] = ray.put(audio.read_bytes())
        ref = actor.run.remote(row.item.slug, str(audio), audio.suffix,
                               payloads.get(row.item.slug), row.options)
        running[ref] = (row, actor)

    try:
        while queue or running:
            while queue and idle:
                submit(queue.pop(0), idle.pop())
            ready, _ = ray.wait(list(running), num_returns=1)
            for ref in ready:
                row, actor = running.pop(ref)
                try:
                    outcome = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - actor died, node lost: run_one itself never raises
                    cause = getattr(exc, "cause", None) or exc
                    outcome = Outcome(row.item.slug, False, error=_one_line(cause), error_type=type(cause).__name__)
                    try:  # replace the actor: its process (or node) may be gone
                        ray.kill(actor)
                    except Exception:  # noqa: BLE001
                        pass
                    actors.remove(actor)
                    actor = actor_cls.remote(str(project.cache_dir), threads)
                    actors.append(actor)
                idle.append(actor)
                if land(row, outcome):
                    queue.append(row)
                else:
                    payloads.pop(row.item.slug, None)
    finally:
        for actor in actors:
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001
                pass
        if owned:  # disconnect; a local cluster stops, one joined by address keeps running
            ray.shutdown()


# -- terminal output (used by the CLI) -----------------------------------------------------------
class RichProgress(Progress):
    """One bar for the whole batch: recordings done/failed, hours of audio done, ETA."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.console = console or Console(stderr=True)
        self._progress: Any = None
        self._task: Any = None
        self._done_seconds = 0.0

    def start(self, report: BatchReport, total_seconds: float) -> None:
        from rich.progress import BarColumn, Progress as RProgress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._progress = RProgress(
            TextColumn("[bold]batch"), BarColumn(), TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=self.console,
            transient=False)
        self._progress.start()
        self._task = self._progress.add_task("batch", total=max(total_seconds, 1.0), status=self._status(report))

    def _status(self, report: BatchReport) -> str:
        done, skipped, failed = report.count("done"), report.count("skipped"), report.count("failed")
        return (f"{done + skipped}/{len(report.items)} done ({skipped} skipped), {failed} failed, "
                f"{self._done_seconds / 3600:.2f} h audio")

    def update(self, item: ItemReport, report: BatchReport) -> None:
        if self._progress is None:
            return
        self._done_seconds += item.duration
        self._progress.update(self._task, completed=self._done_seconds, status=self._status(report))

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()


def summary_table(report: BatchReport) -> Any:
    from rich.table import Table

    from pipeline.timefmt import format_timestamp

    table = Table(title="recap batch")
    for col in ("episode", "audio", "length", "status", "tries", "time", "error"):
        table.add_column(col, overflow="fold")
    for r in report.items:
        style = {"failed": "red", "skipped": "dim"}.get(r.status, "")
        table.add_row(r.item.slug, r.item.audio.name, format_timestamp(r.duration) if r.duration else "-",
                      r.status, str(r.attempts), f"{r.seconds:.1f} s" if r.seconds else "-", r.error, style=style)
    return table
