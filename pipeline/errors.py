"""One exception hierarchy for recap.

Every error a user can cause is a :class:`RecapError`. It subclasses ``click.ClickException`` so the
CLI prints ``Error: <message>`` on one line and exits non-zero, without a traceback. Library code
raises these; third-party exceptions are translated at the edge where they happen.
Each message names the file (or thing) and says what to do.
"""

from __future__ import annotations

import click


class RecapError(click.ClickException):
    """Base class: a problem the user can fix. Exit code 1."""

    exit_code = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        message = " ".join(message.split())  # always one line
        if hint:
            message = f"{message} ({hint})"
        super().__init__(message)


class InputError(RecapError):
    """An input file (transcript, notes, listing, audio) is unreadable or malformed."""

    def __init__(self, path: object, problem: str, *, hint: str | None = None) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}", hint=hint)


class ContentError(RecapError):
    """Something under content/ is invalid or missing (unknown episode, bad field, unsafe id)."""


class ConfigError(RecapError):
    """recap.toml or command-line options are invalid."""


class ProjectNotFound(RecapError):
    """The current folder is not a recap project."""


class DependencyMissing(RecapError):
    """An optional dependency or system tool is not installed."""


class ModelUnavailable(RecapError):
    """A model could not be loaded (not downloaded, gated, offline)."""


class LockedError(RecapError):
    """Another recap run holds the lock on this episode or project."""


class StageError(RecapError):
    """A pipeline stage failed on otherwise valid input (decoder, model, endpoint)."""


class PublishError(RecapError):
    """A publish target could not be reached or a pre-publish check failed."""


class BatchFailed(RecapError):
    """Some recordings of a batch failed (the others were processed; the table lists each)."""


class BadEntries(InputError):
    """Entries of an input cannot be imported (:attr:`problems`: one line each, with file, line and reason);
    nothing was imported. Exit code 1."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        name, line, problem = (problems[0].split(":", 2) + ["", ""])[:3]
        n = len(problems)
        more = f"; {n} entries cannot be imported" if n > 1 else ""
        super().__init__(name, f"line {line}: {problem.strip()}{more}" if line.isdigit() else f"{line}{more}",
                         hint="nothing was imported; fix them, or import the others with --skip-bad")


class NotReady(RecapError):
    """``recap doctor`` found a required tool or model missing."""


class Interrupted(RecapError):
    """Ctrl-C or SIGTERM: every write is atomic, so content/ and site/ hold the old or the new files."""

    exit_code = 130
