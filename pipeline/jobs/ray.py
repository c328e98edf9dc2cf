"""The Ray executor of a batch: one actor per worker (``num_gpus=1`` per actor on a GPU cluster, so each GPU
keeps its model loaded; ``num_cpus`` on CPU), on a local cluster started for the batch or on an existing one
joined with ``address``. Each actor runs :func:`pipeline.jobs.tasks.run_one`, as the local pool's workers do."""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.errors import DependencyMissing
from pipeline.jobs.tasks import BatchOptions, ItemReport, Land, Outcome, default_workers, one_line, run_one, worker_init

if TYPE_CHECKING:  # an actor imports this module to start: nothing heavy before worker_init
    from pipeline.config import Project
    from pipeline.jobs.recording import ProcessOptions

log = logging.getLogger(__name__)


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
        raise DependencyMissing(f"cannot start or join Ray at {where}: {one_line(exc)}",
                                hint="check `ray status` on the head node; joining by address needs "
                                     "RAY_AUTH_MODE=token and the cluster's token") from None
    return ray, True


def plan_actors(resources: dict[str, float], options: BatchOptions, device: str,
                n_items: int) -> tuple[int, float, float]:
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

    def run(self, slug: str, audio: str, suffix: str, data: bytes | None, options: ProcessOptions) -> Outcome:
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


def run_ray(project: Project, rows: list[ItemReport], options: BatchOptions, land: Land) -> None:
    """Run ``rows`` on Ray actors; ``land`` handles each attempt's outcome in the driver."""
    ray, owned = _ray_init(options, options.workers or default_workers(len(rows)))
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
                    outcome = Outcome(row.item.slug, False, error=one_line(cause), error_type=type(cause).__name__)
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
