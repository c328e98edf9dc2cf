"""What every command shares: the project it runs on, the EPISODE argument, the per-recording options."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from pipeline.config import Project, open_project
from pipeline.errors import ConfigError

log = logging.getLogger("recap")


class CliState:
    """The group's options, shared by every command (``ctx.obj``)."""

    def __init__(self, project_dir: Path | None, quiet: bool) -> None:
        self.project_dir = project_dir
        self.quiet = quiet
        self._project: Project | None = None

    def project(self) -> Project:
        if self._project is None:
            self._project = open_project(self.project_dir)
        return self._project


def pass_project(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Give the command the open :class:`Project` as its first argument and report kept edits."""

    @click.pass_obj
    @functools.wraps(fn)
    def wrapper(state: CliState, *args: Any, **kwargs: Any) -> Any:
        project = state.project()
        try:
            return fn(project, *args, **kwargs)
        finally:
            for notice in project.content.notices:
                log.warning(notice)
            project.content.notices.clear()

    return wrapper


def quiet() -> bool:
    state = click.get_current_context().find_object(CliState)
    return bool(state and state.quiet)


Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def episode_argument(*, required: bool = True) -> Decorator:
    """The positional ``EPISODE`` argument (an episode slug: its folder under content/episodes/), passed to the
    command as ``episode``. ``--episode SLUG``, the older spelling, still works."""
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given, alias = kwargs.pop("episode", None), kwargs.pop("episode_alias", None)
            if given and alias and given != alias:
                raise ConfigError(f"EPISODE {given!r} and --episode {alias!r} differ: give one")
            slug = given or alias
            if required and not slug:
                raise click.UsageError("Missing argument 'EPISODE' (the episode's slug).")
            return fn(*args, episode=slug, **kwargs)

        wrapper = click.option("--episode", "episode_alias", metavar="EPISODE", hidden=True,
                               help="Same as the EPISODE argument.")(wrapper)
        return click.argument("episode", required=False, metavar="EPISODE" if required else "[EPISODE]")(wrapper)

    return deco


_RECORDING_OPTIONS = [
    click.option("--whisper-model", "--model", "model",
                 help="faster-whisper model name or CTranslate2 folder (default: large-v3-turbo on CUDA, the "
                      "bundled tiny.en on CPU)."),
    click.option("--device", type=click.Choice(["auto", "cuda", "cpu"]),
                 help="Where to run the models (default: auto)."),
    click.option("--diarizer", type=click.Choice(["embedded", "resemblyzer", "pyannote", "none"]),
                 help="Speaker diarization backend."),
    click.option("--speakers", type=click.IntRange(1), help="Exact number of speakers, when known."),
    click.option("--min-speakers", type=click.IntRange(1), help="At least this many speakers."),
    click.option("--max-speakers", type=click.IntRange(1), help="At most this many speakers (default 30)."),
    click.option("--language", help="Language code, e.g. en (default: detected)."),
    click.option("--chunk-minutes", type=click.FloatRange(0.1),
                 help="Checkpoint every N minutes of audio (default 5)."),
    click.option("--batch-size", type=click.IntRange(1), help="Batch size of the batched CUDA pipeline (default 8)."),
]
RECORDING_KEYS = ("model", "device", "diarizer", "speakers", "min_speakers", "max_speakers", "language",
                  "chunk_minutes", "batch_size")
"""The keyword arguments :func:`recording_options` adds (for :meth:`ProcessOptions.from_config`)."""


def recording_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The per-recording options of ``recap process`` and ``recap batch`` (one list, so they stay alike)."""
    for option in reversed(_RECORDING_OPTIONS):
        fn = option(fn)
    return fn
