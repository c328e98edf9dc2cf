"""Commands that process recordings: process (one), batch (many), doctor (what this machine can do)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import click

from pipeline.cli.common import RECORDING_KEYS, CliState, episode_argument, pass_project, quiet, recording_options
from pipeline.config import Project
from pipeline.errors import BatchFailed, NotReady, RecapError, StageError

log = logging.getLogger("recap")


@click.command("process")
@click.argument("audio", type=click.Path(dir_okay=False, path_type=Path))
@episode_argument()
@click.option("--title", help="Episode title (default: kept, or the slug for a new episode).")
@click.option("--notes", type=click.Path(dir_okay=False, path_type=Path),
              help="Show notes to import (chapters, papers).")
@click.option("--papers", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Paper lists to import first (repeatable); their names become Whisper's vocabulary.")
@recording_options
@pass_project
def process_cmd(project: Project, audio: Path, episode: str, title: str | None, notes: Path | None,
                papers: tuple[Path, ...], **given: Any) -> None:
    """Transcribe and diarize AUDIO (any audio/video file) into EPISODE, then align and summarize it."""
    from pipeline.cli.output import ProgressBars
    from pipeline.jobs.batch import BatchOptions, run_batch
    from pipeline.jobs.manifest import BatchItem
    from pipeline.jobs.recording import ProcessOptions

    options = ProcessOptions.from_config(project.config.transcribe, **given)
    item = BatchItem(audio=audio, slug=episode, title=title, notes=notes, papers=tuple(papers))
    with ProgressBars(enabled=not quiet()) as bars:
        report = run_batch(project, [item], options, BatchOptions(executor="inline", retries=0, force=True),
                           stage_progress=bars)
    row = report.items[0]
    if row.status == "failed":
        if isinstance(row.exception, RecapError):
            raise row.exception
        raise StageError(row.error or f"processing {audio} failed")
    ep = project.content.load_episode(episode)
    speakers = len({u.speaker for u in ep.transcript.utterances if u.speaker})
    duration = row.result.duration if row.result is not None else row.duration
    click.echo(f"Processed {audio} into episode {episode}: {len(ep.transcript.utterances)} utterances, "
               f"{speakers} speakers, {duration:.1f} s")


@click.command("batch")
@click.argument("inputs", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--manifest", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML/JSON/CSV rows: audio, episode, title, notes, papers (instead of INPUTS).")
@click.option("--papers", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Paper lists to import for every recording (repeatable), besides a manifest's own.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: a process pool on this machine; ray: a Ray cluster.")
@click.option("--workers", type=click.IntRange(1),
              help="Parallel workers (default: local 1 per 2 cores; ray 1 per GPU or CPU).")
@click.option("--address", help="Ray cluster to join, HOST:PORT or auto (default: start a local one).")
@click.option("--retries", type=click.IntRange(0), default=1, show_default=True,
              help="Extra attempts for a recording that failed for a reason other than bad input.")
@click.option("--force", is_flag=True, help="Process recordings even when content/ already has them.")
@recording_options
@pass_project
def batch_cmd(project: Project, inputs: tuple[Path, ...], manifest: Path | None, papers: tuple[Path, ...],
              executor: str, workers: int | None, address: str | None, retries: int, force: bool, **given: Any) -> None:
    """Process many recordings (INPUTS or a --manifest) on a process pool or a Ray cluster."""
    from dataclasses import replace

    from rich.console import Console

    from pipeline.cli.output import BatchBars, summary_table
    from pipeline.jobs.batch import BatchOptions, run_batch
    from pipeline.jobs.manifest import batch_items
    from pipeline.jobs.recording import ProcessOptions

    items = [replace(it, papers=(*papers, *it.papers)) for it in batch_items(inputs, manifest)]
    opts = ProcessOptions.from_config(project.config.transcribe, **{k: given[k] for k in RECORDING_KEYS})
    report = run_batch(project, items, opts, BatchOptions(executor=executor, workers=workers, address=address,
                                                          retries=retries, force=force),
                       progress=None if log.getEffectiveLevel() > logging.INFO else BatchBars())
    Console(width=160).print(summary_table(report))
    for row in report.failed:
        click.echo(f"failed {row.item.slug}: {row.error}")
    click.echo(report.summary())
    if report.failed:
        raise BatchFailed(f"{len(report.failed)} of {len(report.items)} recordings failed (see the table above)")


@click.command("doctor")
@click.pass_obj
def doctor_cmd(state: CliState) -> None:
    """Report what this machine can do (ffmpeg, CUDA, offline models, extras) and how to get the rest."""
    from pipeline.doctor import diagnose

    try:
        project = state.project()
    except RecapError:
        project = None
    checks = diagnose(project)
    for c in checks:
        mark = "ok " if c.ok else ("MISSING" if c.required else "no ")
        click.echo(f"{mark:<7} {c.name}: {c.detail}")
        if not c.ok and c.fix:
            click.echo(f"        -> {c.fix}")
    missing = [c.name for c in checks if c.required and not c.ok]
    if missing:
        raise NotReady(f"recap process cannot run here: {', '.join(missing)} missing (see the lines above)")


COMMANDS = (process_cmd, batch_cmd, doctor_cmd)
