"""The deployers: one per kind of target (see :mod:`pipeline.publish.deploy` for what each does)."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from pipeline.errors import DependencyMissing, LockedError, PublishError
from pipeline.publish.targets import (
    NETWORK_TIMEOUT,
    Changes,
    PublishOptions,
    PublishReport,
    Target,
    compare,
    file_hashes,
    first_error,
    is_remote_url,
)

if TYPE_CHECKING:
    from pipeline.config import Project

log = logging.getLogger(__name__)


class Deployer(Protocol):
    """One kind of target. ``preflight`` runs before the build (fail fast: unreachable remote,
    unusable folder); ``deploy`` sends a built, checked site, or with ``dry_run`` only compares."""

    def preflight(self) -> None: ...

    def deploy(self, site: Path, base_url: str) -> PublishReport: ...


def deployer_for(target: Target, project: Project, options: PublishOptions) -> Deployer:
    cls: type = {"git": GitDeployer, "dir": DirDeployer, "rsync": RsyncDeployer}[target.kind]
    return cls(target, project, options)


# -- git ------------------------------------------------------------------------------------------
class GitDeployer:
    def __init__(self, target: Target, project: Project, options: PublishOptions) -> None:
        self.target, self.project, self.options = target, project, options
        self.env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
        for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"):
            self.env.pop(var, None)
        self.url = target.where
        self.parent: str | None = None

    def _run(self, *args: str, git_dir: Path | None = None, env: dict | None = None,
             timeout: float | None = None) -> subprocess.CompletedProcess:
        cmd = ["git", *(["--git-dir", str(git_dir)] if git_dir else []), *args]
        try:
            return subprocess.run(cmd, capture_output=True, text=True, env=env or self.env, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise PublishError(f"{self.target}: git {args[0]} took longer than {timeout:.0f} s; "
                               "nothing was published") from None

    def _git(self, *args: str, what: str = "", **kw) -> str:
        """Run git; its stdout, or a PublishError with git's own first error line."""
        r = self._run(*args, **kw)
        if r.returncode != 0:
            raise PublishError(f"{self.target}: {what or 'git ' + args[0]} failed: {first_error(r.stderr)}")
        return r.stdout

    def preflight(self) -> None:
        if shutil.which("git") is None:
            raise DependencyMissing("git is not installed", hint="install git to publish to a git target")
        if not self.url:
            root = self.project.root
            r = self._run("-C", str(root), "remote", "get-url", "--push", "origin")
            if r.returncode != 0:
                raise PublishError(f"{self.target}: {root} has no git remote 'origin'",
                                   hint=f"use git:REMOTE:{self.target.branch} to name the repository")
            self.url = r.stdout.strip()
        ref = f"refs/heads/{self.target.branch}"
        r = self._run("ls-remote", "--heads", self.url, ref, timeout=NETWORK_TIMEOUT)
        if r.returncode != 0:
            raise PublishError(f"cannot reach git remote {self.url}: {first_error(r.stderr)}",
                               hint="check the URL and your git/ssh credentials")
        for line in r.stdout.splitlines():
            sha, _, name = line.partition("\t")
            if name == ref:
                self.parent = sha

    def _scratch(self) -> Path:
        key = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        repo = self.project.cache_dir / "publish" / f"git-{key}.git"
        if not (repo / "HEAD").exists():
            repo.parent.mkdir(parents=True, exist_ok=True)
            self._git("init", "--quiet", "--bare", str(repo))
        return repo

    def _identity(self) -> dict[str, str]:
        """The user's own git identity (project repo, then global); "recap" when there is none."""
        env: dict[str, str] = {}
        for key, var, default in (("user.name", "NAME", "recap"), ("user.email", "EMAIL", "recap@localhost")):
            r = self._run("-C", str(self.project.root), "config", key)
            value = r.stdout.strip() or default
            for who in ("AUTHOR", "COMMITTER"):
                env.setdefault(f"GIT_{who}_{var}", os.environ.get(f"GIT_{who}_{var}") or value)
        return env

    def deploy(self, site: Path, base_url: str) -> PublishReport:
        from filelock import FileLock, Timeout

        repo = self._scratch()
        lock = FileLock(str(repo) + ".lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise LockedError(f"another recap publish to {self.url} is running; wait for it to finish") from None
        try:
            return self._deploy(repo, site, base_url)
        finally:
            lock.release()

    def _deploy(self, repo: Path, site: Path, base_url: str) -> PublishReport:
        cfg = self.project.config.publish
        branch = self.target.branch
        # Pages conventions: no Jekyll processing; a custom domain when configured.
        (site / ".nojekyll").write_bytes(b"")
        cname = self.options.cname or cfg.cname
        if cname:
            (site / "CNAME").write_text(cname.strip() + "\n", "utf-8")
        if self.parent:
            self._git("fetch", "--quiet", "--no-tags", "--depth=1", self.url,
                      f"+refs/heads/{branch}:refs/recap/{branch}", git_dir=repo, what="git fetch",
                      timeout=NETWORK_TIMEOUT)
            self.parent = self._git("rev-parse", "--verify", f"refs/recap/{branch}^{{commit}}", git_dir=repo).strip()
        for stale in repo.glob("index-*"):  # temporary indexes of killed publishes (we hold the lock)
            stale.unlink(missing_ok=True)
        fd, index = tempfile.mkstemp(prefix="index-", dir=repo)
        os.close(fd)
        os.unlink(index)  # git wants to create the index itself
        env = {**self.env, "GIT_INDEX_FILE": index}
        try:
            cfgs = ["-c", "core.autocrlf=false", "-c", "core.safecrlf=false", "-c", "core.fileMode=true"]
            self._git(*cfgs, "--work-tree", str(site), "add", "--all", "--force", ".", git_dir=repo, env=env)
            tree = self._git("write-tree", git_dir=repo, env=env).strip()
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(index)
        changes = self._changes(repo, tree)
        report = PublishReport(str(self.target), base_url, changes, dry_run=self.options.dry_run)
        if self.options.dry_run or (self.parent and not changes):
            report.revision = self.parent
            return report
        message = self.options.message or cfg.message
        args = ["commit-tree", tree, "-m", message] + (["-p", self.parent] if self.parent else [])
        commit = self._git(*args, git_dir=repo, env={**self.env, **self._identity()}).strip()
        # Never --force: if someone else published meanwhile, the push is refused and nothing is lost.
        r = self._run("push", "--quiet", "--porcelain", self.url, f"{commit}:refs/heads/{branch}",
                      git_dir=repo, timeout=NETWORK_TIMEOUT)
        if r.returncode != 0:
            if "rejected" in r.stdout + r.stderr or "non-fast-forward" in r.stdout + r.stderr:
                raise PublishError(f"{self.target}: the remote branch {branch} moved while publishing; "
                                   "nothing was published", hint="run recap publish again")
            raise PublishError(f"{self.target}: git push failed: {first_error(r.stderr)}")
        self._git("update-ref", f"refs/recap/{branch}", commit, git_dir=repo)
        report.revision = commit
        report.transferred = changes.added + changes.changed
        log.info("Pushed %s to %s %s", commit[:12], self.url, branch)
        return report

    def _changes(self, repo: Path, tree: str) -> Changes:
        if not self.parent:
            names = self._git("ls-tree", "-r", "-z", "--name-only", tree, git_dir=repo).split("\0")
            return Changes(added=sorted(n for n in names if n))
        out = self._git("diff-tree", "-r", "-z", "--no-renames", "--name-status", self.parent, tree,
                        git_dir=repo).split("\0")
        ch = Changes()
        for status, path in zip(out[0::2], out[1::2], strict=False):
            {"A": ch.added, "M": ch.changed, "T": ch.changed, "D": ch.removed}.get(status[:1], ch.changed).append(path)
        for lst in (ch.added, ch.changed, ch.removed):
            lst.sort()
        return ch


# -- dir: releases and an atomic symlink swap ------------------------------------------------------
class DirDeployer:
    def __init__(self, target: Target, project: Project, options: PublishOptions) -> None:
        self.target, self.project, self.options = target, project, options
        self.live = Path(target.where)
        self.releases = self.live.with_name(self.live.name + ".releases")

    def preflight(self) -> None:
        live = self.live
        if live.exists() and not live.is_symlink():
            raise PublishError(
                f"{live} is a real folder: a dir: target is a symlink that recap switches to each new "
                "release", hint=f"move {live} away once (recap recreates it), or publish with rsync:{live}")
        if live.is_symlink() and not live.resolve().is_dir():
            raise PublishError(f"{live} is a symlink to {os.readlink(live)}, which is not a folder",
                               hint="remove the broken symlink and publish again")
        if not live.parent.is_dir():
            raise PublishError(f"{live.parent} does not exist", hint="create it, then publish again")
        if not os.access(live.parent, os.W_OK):
            raise PublishError(f"{live.parent} is not writable", hint="check its permissions")

    def current(self) -> Path | None:
        return self.live.resolve() if self.live.is_symlink() else None

    def deploy(self, site: Path, base_url: str) -> PublishReport:
        from filelock import FileLock, Timeout

        if self.options.dry_run:
            current = self.current()
            changes = compare(file_hashes(current) if current else {}, file_hashes(site))
            return PublishReport(str(self.target), base_url, changes, dry_run=True,
                                 revision=current.name if current else None)
        self.releases.mkdir(exist_ok=True)
        lock = FileLock(str(self.releases / ".lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise LockedError(f"another recap publish to {self.live} is running; wait for it to finish") from None
        try:
            return self._deploy(site, base_url)
        finally:
            lock.release()

    def _deploy(self, site: Path, base_url: str) -> PublishReport:
        current = self.current()
        old = file_hashes(current) if current else {}
        new = file_hashes(site)
        changes = compare(old, new)
        report = PublishReport(str(self.target), base_url, changes, revision=current.name if current else None)
        if current and not changes:
            return report
        self._clean_leftovers()
        name = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        tmp = self.releases / f".tmp-{name}"
        tmp.mkdir()
        for rel in sorted(new):
            dst = tmp / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            if current is not None and old.get(rel) == new[rel]:
                try:
                    os.link(current / rel, dst)  # unchanged: share the previous release's file
                    continue
                except OSError:
                    pass
            shutil.copyfile(site / rel, dst)
            os.chmod(dst, 0o644)
            with open(dst, "rb") as fh:
                os.fsync(fh.fileno())
            report.transferred.append(rel)
        release = self.releases / name
        os.rename(tmp, release)  # the release is complete before anything points at it
        link = self.live.with_name(f".{self.live.name}.tmp-{os.getpid()}")
        with contextlib.suppress(FileNotFoundError):
            link.unlink()
        os.symlink(os.path.relpath(release, self.live.parent), link)
        os.replace(link, self.live)  # the switch: one atomic rename
        _fsync_dir(self.live.parent)
        report.revision = name
        log.info("Switched %s to release %s", self.live, name)
        self._prune(keep={release, *( [current] if current else [])})
        return report

    def _clean_leftovers(self) -> None:
        """Half-made releases and temporary links from killed publishes (we hold the lock)."""
        for d in self.releases.glob(".tmp-*"):
            shutil.rmtree(d, ignore_errors=True)
        for link in self.live.parent.glob(f".{self.live.name}.tmp-*"):
            with contextlib.suppress(OSError):
                link.unlink()

    def _prune(self, keep: set[Path]) -> None:
        releases = sorted(p for p in self.releases.iterdir() if p.is_dir() and not p.name.startswith("."))
        keep_n = self.options.keep_releases or self.project.config.publish.keep_releases
        excess = releases[: max(0, len(releases) - max(keep_n, 1))]
        for old in excess:
            if old not in keep:
                shutil.rmtree(old, ignore_errors=True)
                log.debug("Pruned release %s", old.name)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# -- rsync ----------------------------------------------------------------------------------------
_RSYNC_ERRORS = {  # rsync(1) EXIT VALUES; a remote shell that fails ends in 255 or 12 (timing)
    5: "cannot reach the host", 10: "cannot reach the host", 12: "cannot reach the host",
    255: "cannot reach the host", 11: "cannot write on the target", 23: "some files could not be transferred",
    30: "timed out",
}


class RsyncDeployer:
    def __init__(self, target: Target, project: Project, options: PublishOptions) -> None:
        self.target, self.project, self.options = target, project, options

    def preflight(self) -> None:
        if shutil.which("rsync") is None:
            raise DependencyMissing("rsync is not installed", hint="apt-get install rsync")
        if not is_remote_url(self.target.where):
            parent = Path(self.target.where).parent
            if not parent.is_dir():
                raise PublishError(f"{parent} does not exist", hint="create it, then publish again")

    def command(self, site: Path, *, dry_run: bool) -> list[str]:
        return [
            "rsync", "--recursive", "--links", "--perms", "--chmod=D755,F644",
            "--checksum",          # compare content, not build mtimes (a fresh build touches every file)
            "--delete-delay",      # pages gone from the build go, after the transfer
            "--delay-updates",     # every changed file is renamed into place at the end
            "--itemize-changes", "--out-format=%i %n", "--stats",
            *(["--dry-run"] if dry_run else []),
            f"{site}/", self.target.where.rstrip("/") + "/",
        ]

    def deploy(self, site: Path, base_url: str) -> PublishReport:
        cmd = self.command(site, dry_run=self.options.dry_run)
        log.debug("%s", " ".join(cmd))
        started = time.monotonic()
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=NETWORK_TIMEOUT,
                               env={**os.environ, "LC_ALL": "C"})
        except subprocess.TimeoutExpired:
            raise PublishError(f"{self.target}: rsync took longer than {NETWORK_TIMEOUT} s") from None
        if r.returncode != 0:
            what = _RSYNC_ERRORS.get(r.returncode, f"rsync exited with {r.returncode}")
            lines = [ln.strip() for ln in r.stderr.splitlines()
                     if ln.strip() and not ln.lower().startswith("warning:")]
            raise PublishError(f"{self.target}: {what}: {lines[0] if lines else 'no message'}")
        changes, sent = parse_itemized(r.stdout)
        log.debug("rsync: %d files sent in %.1f s", len(sent), time.monotonic() - started)
        dry = self.options.dry_run
        return PublishReport(str(self.target), base_url, changes, dry_run=dry, transferred=[] if dry else sent)


def parse_itemized(out: str) -> tuple[Changes, list[str]]:
    """Read rsync's ``--itemize-changes`` lines (``%i %n``): new files ``>f+++++++++``, updated
    ``>f.st......``/``>fc...``, deletions ``*deleting``. Directories and attribute-only lines are
    not transfers."""
    ch, sent = Changes(), []
    for line in out.splitlines():
        code, _, name = line.partition(" ")
        name = name.strip()
        if code == "*deleting":
            if not name.endswith("/"):
                ch.removed.append(name)
            continue
        if len(code) < 11 or code[1] != "f":
            continue
        if code[0] in "<>":
            sent.append(name)
            (ch.added if code[2:].startswith("+++") else ch.changed).append(name)
    for lst in (ch.added, ch.changed, ch.removed, sent):
        lst.sort()
    return ch, sent
