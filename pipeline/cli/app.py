"""The `recap` command line: the group, its signal handling, and the list of commands.

Each command parses its options, opens the project and calls one library function; what it shows while it
works lives in :mod:`pipeline.cli.output`. Heavy libraries (torch, ctranslate2, pyannote) are imported inside
the library functions, so `recap --help` stays instant. Every error is a :class:`pipeline.errors.RecapError`
(one line, a non-zero exit code).
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

from pipeline.cli import audio_cmds, episode_cmds, import_cmds, site_cmds
from pipeline.cli.common import CliState
from pipeline.errors import Interrupted


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    for name in ("recap", "pipeline"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level)


def _sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _unraisable(args: Any) -> None:
    """A Ctrl-C that lands inside a C callback (llvmlite's object cache, under numba) is printed as
    "Exception ignored" and swallowed; deliver it again so the command still stops cleanly."""
    if isinstance(args.exc_value, KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
        return
    sys.__unraisablehook__(args)


class _Group(click.Group):
    """Turns Ctrl-C and SIGTERM into one line and exit code 130 instead of a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, _sigterm)  # unwind like Ctrl-C: locks released, temp files removed
            sys.unraisablehook = _unraisable
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted("interrupted; finished files were kept and nothing was left half-written: "
                              "run the same command again to continue") from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "--project", "project_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Project folder (default: the current folder or the nearest parent with recap.toml).")
@click.option("-v", "--verbose", count=True, help="More detail.")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors (for scripts).")
@click.version_option(package_name="recap")
@click.pass_context
def main(ctx: click.Context, project_dir: Path | None, verbose: int, quiet: bool) -> None:
    """recap: turn conference recordings into a searchable, linked static site."""
    _setup_logging(verbose, quiet)
    ctx.obj = CliState(project_dir, quiet)


# In the order `recap --help` lists them (click sorts them by name).
for _command in (*import_cmds.COMMANDS, *audio_cmds.COMMANDS, *episode_cmds.COMMANDS, *site_cmds.COMMANDS):
    main.add_command(_command)
