"""Where ``recap publish`` sends the site: targets (``git:``, ``dir:``, ``rsync:``), the options and report of a
publish, and what changed between two builds. Plain records and helpers, shared by the deployers
(:mod:`pipeline.publish.deployers`) and the flow (:mod:`pipeline.publish.deploy`)."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import ConfigError

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

SCHEMES = ("git", "dir", "rsync")
NETWORK_TIMEOUT = 600
"""Seconds a git/rsync command that talks to a remote may take before the publish gives up."""


# -- targets ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Target:
    """Where a site goes. ``where`` is the git remote (URL or path), the directory, or rsync's
    ``[HOST:]PATH``; ``branch`` is set for git targets only."""

    kind: str
    where: str
    branch: str = ""
    spec: str = ""
    """The target as the user wrote it (used in messages)."""

    def __str__(self) -> str:
        return self.spec or f"{self.kind}:{self.where}"


def is_remote_url(s: str) -> bool:
    """``scheme://...`` or scp-like ``[user@]host:path`` (git and rsync both read these as remote)."""
    if "://" in s:
        return True
    head, sep, _ = s.partition(":")
    return bool(sep) and "/" not in head and len(head) > 1


def parse_target(spec: str | None, root: Path) -> Target:
    """Read a target spec. Relative local paths are relative to the project ``root``."""
    if not spec:
        raise ConfigError("no publish target: set [publish] to = \"git:gh-pages\" (or dir:PATH, "
                          "rsync:HOST:PATH) in recap.toml, or pass --to")
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in SCHEMES:
        raise ConfigError(f"unknown publish target {spec!r}: use git:BRANCH, git:REMOTE:BRANCH, "
                          "dir:PATH or rsync:[HOST:]PATH")
    if not rest:
        raise ConfigError(f"publish target {spec!r} names no {'branch' if kind == 'git' else 'path'}")
    if kind == "git":
        remote, _, branch = rest.rpartition(":")  # branch names cannot contain ':'
        if not _valid_branch(branch):
            raise ConfigError(f"publish target {spec!r}: {branch!r} is not a valid branch name")
        if remote and not is_remote_url(remote):
            remote = str((root / Path(remote).expanduser()).resolve())
        return Target("git", remote, branch, spec)
    if kind == "dir":
        return Target("dir", str((root / Path(rest).expanduser()).absolute()), spec=spec)
    where = rest if is_remote_url(rest) else str((root / Path(rest).expanduser()).absolute())
    return Target("rsync", where, spec=spec)


def _valid_branch(name: str) -> bool:
    if not name or name.startswith("-"):
        return False
    try:
        r = subprocess.run(["git", "check-ref-format", "--branch", name], capture_output=True)
    except FileNotFoundError:  # no git: the deployer says so
        return True
    return r.returncode == 0


# -- options and report ----------------------------------------------------------------------------
@dataclass(frozen=True)
class PublishOptions:
    """What ``recap publish`` does; ``None`` means "take it from recap.toml"."""

    to: str | None = None
    """Target spec (see the module docstring); default ``[publish] to``."""
    base_url: str | None = None
    """Production base URL the site is built for; default ``[site] base_url``."""
    dry_run: bool = False
    """Build and check, then only list what would be added, changed and removed."""
    message: str | None = None
    """Commit message for git targets; default ``[publish] message``."""
    cname: str | None = None
    """Custom domain written to ``CNAME`` (git targets); default ``[publish] cname``."""
    keep_releases: int | None = None
    """dir targets: how many release folders to keep (the live one included); default
    ``[publish] keep_releases``."""


@dataclass
class Changes:
    """Site-relative paths (``episodes/x/index.html``), sorted."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def counts(self) -> str:
        return f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed"


@dataclass
class PublishReport:
    target: str
    base_url: str
    changes: Changes
    dry_run: bool = False
    transferred: list[str] = field(default_factory=list)
    """Files that actually left for the target (copied, sent by rsync, new in the commit)."""
    revision: str | None = None
    """The new commit (git) or release folder name (dir)."""

    def urls(self) -> list[str]:
        """The home page, then each episode with an added or changed file."""
        slugs = sorted({p.split("/")[1] for p in self.changes.added + self.changes.changed
                        if p.startswith("episodes/") and p.count("/") >= 2})
        return [self.base_url] + [f"{self.base_url}episodes/{s}/" for s in slugs]


# -- helpers --------------------------------------------------------------------------------------
def file_hashes(root: Path) -> dict[str, str]:
    """sha256 of every regular file under ``root``, keyed by its ``/``-separated relative path."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            p = Path(dirpath, name)
            if not p.is_file():
                continue
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            out[p.relative_to(root).as_posix()] = h.hexdigest()
    return out


def compare(old: dict[str, str], new: dict[str, str]) -> Changes:
    return Changes(
        added=sorted(set(new) - set(old)),
        changed=sorted(p for p in set(new) & set(old) if new[p] != old[p]),
        removed=sorted(set(old) - set(new)),
    )


def first_error(stderr: str) -> str:
    """git's first ``fatal:``/``error:`` line, without the prefix (else its last line)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for ln in lines:
        for prefix in ("fatal: ", "error: "):
            if ln.startswith(prefix):
                return ln[len(prefix):]
    return lines[-1] if lines else "no message"
