"""Publish mechanics on hand-made site folders: real git (bare repositories), real rsync, real
symlink swaps. The full flow (build, check, deploy through the CLI) is in test_publish_site.py."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from pipeline.config import open_project
from pipeline.errors import ConfigError, PublishError
from pipeline.publish.deploy import deploy
from pipeline.publish.deployers import parse_itemized
from pipeline.publish.targets import PublishOptions, parse_target
from tests.conftest import content_snapshot

BASE = "https://talks.example.org/recap/"


def git(*args: str, cwd: Path | None = None) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def make_site(root: Path, pages: dict[str, str]) -> Path:
    """A site folder holding exactly ``pages`` (path -> text)."""
    import shutil

    shutil.rmtree(root, ignore_errors=True)
    for rel, text in pages.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, "utf-8")
    return root


V1 = {"index.html": "<h1>home</h1>", "episodes/day-1/index.html": "<p>day one</p>",
      "episodes/day-2/index.html": "<p>day two</p>", "papers/dpo/index.html": "<p>DPO</p>",
      "feed.xml": "<rss/>"}
V2 = {**V1, "index.html": "<h1>home v2</h1>", "episodes/day-1/index.html": "<p>day one, fixed</p>",
      "episodes/day-3/index.html": "<p>day three</p>"}
del V2["papers/dpo/index.html"]


# -- targets --------------------------------------------------------------------------------------
@pytest.mark.parametrize("spec, kind, where, branch", [
    ("git:gh-pages", "git", "", "gh-pages"),
    ("git:git@github.com:me/site.git:gh-pages", "git", "git@github.com:me/site.git", "gh-pages"),
    ("git:https://gitlab.example.org/me/site.git:pages", "git", "https://gitlab.example.org/me/site.git", "pages"),
    ("git:../remote.git:main", "git", "{parent}/remote.git", "main"),
    ("dir:public", "dir", "{root}/public", ""),
    ("dir:/srv/www/recap", "dir", "/srv/www/recap", ""),
    ("rsync:web.example.org:/srv/www/recap", "rsync", "web.example.org:/srv/www/recap", ""),
    ("rsync:deploy@web:www", "rsync", "deploy@web:www", ""),
    ("rsync:out/www", "rsync", "{root}/out/www", ""),
])
def test_parse_target(tmp_path, spec, kind, where, branch):
    root = tmp_path / "proj"
    t = parse_target(spec, root)
    assert (t.kind, t.branch) == (kind, branch)
    assert t.where == where.format(root=root, parent=tmp_path.resolve())
    assert str(t) == spec


@pytest.mark.parametrize("spec, message", [
    ("ftp://example.org/", "unknown publish target 'ftp://example.org/': use git:BRANCH, git:REMOTE:BRANCH, "
                           "dir:PATH or rsync:[HOST:]PATH"),
    ("gh-pages", "unknown publish target 'gh-pages': use git:BRANCH, git:REMOTE:BRANCH, dir:PATH or "
                 "rsync:[HOST:]PATH"),
    ("git:", "publish target 'git:' names no branch"),
    ("dir:", "publish target 'dir:' names no path"),
    ("git:/srv/site.git:bad..branch", "publish target 'git:/srv/site.git:bad..branch': 'bad..branch' is not "
                                      "a valid branch name"),
    (None, 'no publish target: set [publish] to = "git:gh-pages" (or dir:PATH, rsync:HOST:PATH) in '
           "recap.toml, or pass --to"),
])
def test_parse_target_errors(tmp_path, spec, message):
    with pytest.raises(ConfigError) as exc:
        parse_target(spec, tmp_path)
    assert exc.value.message == message


def test_parse_itemized_reads_rsync_lines():
    out = "\n".join([
        "cd+++++++++ episodes/day-3/", ">f+++++++++ episodes/day-3/index.html",
        ">fcs....... index.html", ">fc.t...... episodes/day 1/index.html", ".d..t...... ./",
        "*deleting   papers/dpo/index.html", "*deleting   papers/dpo/", "",
        "Number of files: 7 (reg: 4, dir: 3)", "Number of regular files transferred: 3",
    ])
    changes, sent = parse_itemized(out)
    assert changes.added == ["episodes/day-3/index.html"]
    assert changes.changed == ["episodes/day 1/index.html", "index.html"]
    assert changes.removed == ["papers/dpo/index.html"]
    assert sent == ["episodes/day 1/index.html", "episodes/day-3/index.html", "index.html"]


# -- git -----------------------------------------------------------------------------------------
@pytest.fixture
def git_project(project, tmp_path):
    """The project is a git repository whose origin is a real local bare repository."""
    remote = tmp_path / "remote.git"
    git("init", "-q", "--bare", str(remote))
    root = project.root
    git("init", "-q", "-b", "main", cwd=root)
    git("-c", "user.name=Ada", "-c", "user.email=ada@example.org", "add", ".", cwd=root)
    git("-c", "user.name=Ada", "-c", "user.email=ada@example.org", "commit", "-q", "-m", "content", cwd=root)
    git("remote", "add", "origin", str(remote), cwd=root)
    (root / "recap.toml").write_text((root / "recap.toml").read_text() + '\n[publish]\ncname = "talks.example.org"\n')
    return open_project(root), remote


def test_git_publish_keeps_history_and_never_touches_the_work_tree(git_project, tmp_path):
    project, remote = git_project
    root = project.root
    before = (git("rev-parse", "HEAD", cwd=root), git("status", "--porcelain", cwd=root),
              git("branch", "--list", cwd=root))
    site = make_site(tmp_path / "site", V1)
    r1 = deploy(site, project, PublishOptions(to="git:gh-pages"), base_url=BASE)
    assert r1.changes.added == sorted([*V1, ".nojekyll", "CNAME"]) and not r1.changes.removed
    site = make_site(tmp_path / "site", V2)
    dry = deploy(site, project, PublishOptions(to="git:gh-pages", dry_run=True), base_url=BASE)
    assert (dry.changes.added, dry.changes.changed, dry.changes.removed) == (
        ["episodes/day-3/index.html"], ["episodes/day-1/index.html", "index.html"], ["papers/dpo/index.html"])
    assert git("rev-parse", "refs/heads/gh-pages", cwd=remote).strip() == r1.revision  # dry run sent nothing
    r2 = deploy(site, project, PublishOptions(to="git:gh-pages", message="Day 3"), base_url=BASE)
    assert r2.changes == dry.changes
    assert r2.urls() == [BASE, BASE + "episodes/day-1/", BASE + "episodes/day-3/"]
    # A third publish of the same site makes no empty commit.
    r3 = deploy(site, project, PublishOptions(to="git:gh-pages"), base_url=BASE)
    assert not r3.changes and r3.revision == r2.revision

    clone = tmp_path / "clone"
    git("clone", "-q", "-b", "gh-pages", str(remote), str(clone))
    assert git("log", "--format=%H %P %s", cwd=clone).splitlines() == [
        f"{r2.revision} {r1.revision} Day 3", f"{r1.revision}  Publish site"]
    files = {k: v.decode() for k, v in content_snapshot(clone).items() if not k.startswith(".git/")}
    assert files == {**V2, ".nojekyll": "", "CNAME": "talks.example.org\n"}
    # The user's repository: same HEAD, same status, same branches; gh-pages never checked out here.
    assert (git("rev-parse", "HEAD", cwd=root), git("status", "--porcelain", cwd=root),
            git("branch", "--list", cwd=root)) == before


def test_git_publish_builds_on_a_branch_made_elsewhere(tmp_path, project):
    """An existing Pages branch (with someone's history) gets a new commit on top, never a force push."""
    remote = tmp_path / "pages.git"
    git("init", "-q", "--bare", str(remote))
    work = tmp_path / "elsewhere"
    git("init", "-q", "-b", "pages", str(work))
    (work / "old.html").write_text("old")
    git("add", ".", cwd=work)
    git("-c", "user.name=Bo", "-c", "user.email=bo@example.org", "commit", "-q", "-m", "by hand", cwd=work)
    git("push", "-q", str(remote), "pages", cwd=work)
    old = git("rev-parse", "HEAD", cwd=work).strip()
    r = deploy(make_site(tmp_path / "site", V1), project, PublishOptions(to=f"git:{remote}:pages"), base_url=BASE)
    assert r.changes.removed == ["old.html"]
    assert git("rev-parse", f"{r.revision}^", cwd=remote).strip() == old
    assert git("merge-base", "--is-ancestor", old, "pages", cwd=remote) == ""


def test_git_unreachable_remote_and_missing_origin(tmp_path, project):
    site = make_site(tmp_path / "site", V1)
    with pytest.raises(PublishError) as exc:
        deploy(site, project, PublishOptions(to=f"git:{tmp_path}/nowhere.git:gh-pages"))
    assert exc.value.message == (
        f"cannot reach git remote {tmp_path}/nowhere.git: '{tmp_path}/nowhere.git' does not appear to be a "
        "git repository (check the URL and your git/ssh credentials)")
    with pytest.raises(PublishError) as exc:
        deploy(site, project, PublishOptions(to="git:gh-pages"))
    assert exc.value.message == (f"git:gh-pages: {project.root} has no git remote 'origin' "
                                 "(use git:REMOTE:gh-pages to name the repository)")


# -- dir: releases and a symlink swap -------------------------------------------------------------
def test_dir_publish_swaps_a_symlink_and_hard_links_unchanged_files(tmp_path, project):
    live = tmp_path / "www" / "recap"
    live.parent.mkdir()
    opts = PublishOptions(to=f"dir:{live}", keep_releases=2)
    dry = deploy(make_site(tmp_path / "site", V1), project, PublishOptions(to=f"dir:{live}", dry_run=True))
    assert dry.changes.added == sorted(V1) and not live.parent.joinpath("recap.releases").exists()
    r1 = deploy(make_site(tmp_path / "site", V1), project, opts, base_url=BASE)
    assert live.is_symlink() and os.readlink(live) == f"recap.releases/{r1.revision}"
    assert {k: v.decode() for k, v in content_snapshot(live).items()} == V1
    first = live.resolve()

    r2 = deploy(make_site(tmp_path / "site", V2), project, opts, base_url=BASE)
    second = live.resolve()
    assert second != first and {k: v.decode() for k, v in content_snapshot(live).items()} == V2
    assert sorted(r2.transferred) == ["episodes/day-1/index.html", "episodes/day-3/index.html", "index.html"]
    assert r2.changes.removed == ["papers/dpo/index.html"]
    # Unchanged files are the previous release's files (same inode): nothing copied for them.
    for rel in ("episodes/day-2/index.html", "feed.xml"):
        assert (second / rel).stat().st_ino == (first / rel).stat().st_ino
    assert (second / "index.html").stat().st_ino != (first / "index.html").stat().st_ino
    # The old release is intact (a reader who opened it mid-swap still gets a whole site).
    assert {k: v.decode() for k, v in content_snapshot(first).items()} == V1

    v3 = {**V2, "feed.xml": "<rss>3</rss>"}
    deploy(make_site(tmp_path / "site", v3), project, opts, base_url=BASE)
    kept = sorted(p.name for p in (live.parent / "recap.releases").iterdir() if not p.name.startswith("."))
    assert len(kept) == 2 and first.name not in kept and second.name in kept  # pruned to keep_releases
    assert sorted(p.name for p in live.parent.iterdir()) == ["recap", "recap.releases"]  # no temp links left


def test_dir_publish_refuses_a_real_folder(tmp_path, project):
    live = tmp_path / "www"
    (live / "sub").mkdir(parents=True)
    (live / "index.html").write_text("hand-made")
    before = content_snapshot(live)
    with pytest.raises(PublishError) as exc:
        deploy(make_site(tmp_path / "site", V1), project, PublishOptions(to=f"dir:{live}"))
    assert exc.value.message == (
        f"{live} is a real folder: a dir: target is a symlink that recap switches to each new release "
        f"(move {live} away once (recap recreates it), or publish with rsync:{live})")
    assert content_snapshot(live) == before


# -- rsync ----------------------------------------------------------------------------------------
def test_rsync_sends_only_changed_files_and_deletes_removed_ones(tmp_path, project):
    dest = tmp_path / "htdocs"
    opts = PublishOptions(to=f"rsync:{dest}")
    r1 = deploy(make_site(tmp_path / "site", V1), project, opts, base_url=BASE)
    assert r1.transferred == sorted(V1)
    old_mtime = (dest / "episodes/day-2/index.html").stat().st_mtime_ns
    os.utime(dest / "episodes/day-2/index.html", ns=(old_mtime - 10**10, old_mtime - 10**10))
    kept_mtime = (dest / "episodes/day-2/index.html").stat().st_mtime_ns

    site = make_site(tmp_path / "site", V2)  # a fresh folder: every file has a new mtime
    dry = deploy(site, project, PublishOptions(to=f"rsync:{dest}", dry_run=True), base_url=BASE)
    assert {k: v.decode() for k, v in content_snapshot(dest).items()} == V1 and not dry.transferred
    r2 = deploy(site, project, opts, base_url=BASE)
    assert r2.transferred == ["episodes/day-1/index.html", "episodes/day-3/index.html", "index.html"]
    assert (r2.changes.added, r2.changes.changed, r2.changes.removed) == (dry.changes.added, dry.changes.changed,
                                                                          ["papers/dpo/index.html"])
    assert {k: v.decode() for k, v in content_snapshot(dest).items()} == V2
    assert (dest / "episodes/day-2/index.html").stat().st_mtime_ns == kept_mtime  # untouched on the server
    assert deploy(site, project, opts, base_url=BASE).transferred == []


def test_rsync_unreachable_host(tmp_path, project):
    with pytest.raises(PublishError) as exc:
        deploy(make_site(tmp_path / "site", V1), project, PublishOptions(to=f"rsync:{tmp_path}/no/such/dir"))
    assert exc.value.message == f"{tmp_path}/no/such does not exist (create it, then publish again)"


@pytest.fixture
def fake_ssh(tmp_path, monkeypatch):
    """A remote shell for rsync (RSYNC_RSH, as a user's own ssh setup would give) that runs the
    remote side here, so HOST:PATH targets are exercised without a network."""
    script = tmp_path / "fake-ssh"
    script.write_text('#!/bin/sh\nhost="$1"; shift\n'
                      'if [ "$host" = down.example.org ]; then\n'
                      '  echo "ssh: connect to host $host port 22: Connection refused" >&2; exit 255\nfi\n'
                      'exec "$@"\n')
    script.chmod(0o755)
    monkeypatch.setenv("RSYNC_RSH", str(script))


def test_rsync_to_a_host_through_the_users_remote_shell(tmp_path, project, fake_ssh):
    dest = tmp_path / "srv"
    opts = PublishOptions(to=f"rsync:web.example.org:{dest}")
    assert deploy(make_site(tmp_path / "site", V1), project, opts).transferred == sorted(V1)
    r = deploy(make_site(tmp_path / "site", V2), project, opts)
    assert r.transferred == ["episodes/day-1/index.html", "episodes/day-3/index.html", "index.html"]
    assert r.changes.removed == ["papers/dpo/index.html"]
    assert {k: v.decode() for k, v in content_snapshot(dest).items()} == V2

    with pytest.raises(PublishError) as exc:
        deploy(make_site(tmp_path / "site", V1), project, PublishOptions(to=f"rsync:down.example.org:{dest}"))
    assert exc.value.message == (f"rsync:down.example.org:{dest}: cannot reach the host: "
                                 "ssh: connect to host down.example.org port 22: Connection refused")
    assert {k: v.decode() for k, v in content_snapshot(dest).items()} == V2


def test_two_publishes_to_one_folder_do_not_interleave(tmp_path, project):
    from filelock import FileLock

    from pipeline.errors import LockedError

    live = tmp_path / "www"
    deploy(make_site(tmp_path / "site", V1), project, PublishOptions(to=f"dir:{live}"))
    before = content_snapshot(live)
    with FileLock(str(tmp_path / "www.releases" / ".lock")):  # another publish is switching releases
        with pytest.raises(LockedError) as exc:
            deploy(make_site(tmp_path / "site", V2), project, PublishOptions(to=f"dir:{live}"))
    assert exc.value.message == f"another recap publish to {live} is running; wait for it to finish"
    assert content_snapshot(live) == before
