"""Publish: build the site for production, check it, and deploy it atomically and incrementally.

The flow of ``recap publish`` (:func:`publish`)::

    parse target -> reach it (fail fast) -> full build with the production base URL into a fresh
    staging folder -> check_site (a problem stops here: the target is untouched) -> deploy -> report

Targets (``[publish] to = ...`` in recap.toml, or ``--to``):

``git:BRANCH`` / ``git:REMOTE:BRANCH``
    Commit the site to BRANCH of the project's ``origin`` (or of REMOTE: a URL, ``user@host:path``
    or a path) as a new commit on top of the branch's previous one, like ``mkdocs gh-deploy`` but
    never forcing away history. Work happens in a scratch bare repository under the cache with a
    temporary index (plumbing: ``add``, ``write-tree``, ``commit-tree``, ``push``); the user's working
    tree and branches are never touched. ``.nojekyll`` and an optional ``CNAME`` are added (Pages).
``dir:PATH``
    A folder served by a web server. Each publish is a release folder ``PATH.releases/<time>/``
    (unchanged files hard-linked from the previous release, changed ones copied), then ``PATH`` (a
    symlink) is switched to it with one ``rename``: readers see the old site or the new one, never a
    mix, even if the publish is killed. Old releases are pruned.
``rsync:[HOST:]PATH``
    ``rsync --checksum --delete-delay --delay-updates``: only files whose content changed are sent,
    all of them are moved into place at the end, pages gone from the build are deleted. Without
    ``--times``, unchanged files keep their modification time on the server (stable Last-Modified).

Credentials come only from the environment and the user's own git/ssh setup (credential helpers,
ssh agent, ``~/.ssh/config``); nothing is read from the project's files.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.config import CONFIG_FILE, is_absolute_url
from pipeline.errors import PublishError
from pipeline.publish.deployers import deployer_for
from pipeline.publish.targets import PublishOptions, PublishReport, parse_target

if TYPE_CHECKING:
    from pipeline.config import Project

log = logging.getLogger(__name__)


# -- the whole flow ------------------------------------------------------------------------------
def publish(project: Project, options: PublishOptions = PublishOptions()) -> PublishReport:
    """Build, check and deploy the project's site. Raises :class:`PublishError` (target untouched)
    when the build has problems or the target cannot be reached."""
    cfg = project.config
    target = parse_target(options.to or cfg.publish.to, project.root)
    base_url = options.base_url or cfg.site.base_url
    if not base_url.endswith("/"):
        base_url += "/"
    if not is_absolute_url(base_url):
        raise PublishError(f"{project.root / CONFIG_FILE}: the base URL {base_url!r} is not an absolute http(s) "
                           "URL, so the podcast feed's links would be relative: set [site] base_url = "
                           '"https://example.org/recap/" (or --base-url)')
    deployer = deployer_for(target, project, options)
    deployer.preflight()
    work = project.cache_dir / "publish"
    work.mkdir(parents=True, exist_ok=True)
    _clean_stale_staging(work)
    staging = Path(tempfile.mkdtemp(prefix=f"staging-{os.getpid()}-", dir=work))
    try:
        build_for_production(project, staging, base_url)
        check_for_production(staging, base_url)
        return deployer.deploy(staging, base_url)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def build_for_production(project: Project, out: Path, base_url: str) -> None:
    """A full build of content/ for ``base_url`` into ``out`` (never the preview ``site/``)."""
    from pipeline.site.build import MANIFEST, build_site
    from pipeline.site.search import STATE

    log.info("Building the site for %s", base_url)
    build_site(project, base_url=base_url, out=out, full=True)
    for bookkeeping in (MANIFEST, STATE):  # the incremental build's, not pages
        (out / bookkeeping).unlink(missing_ok=True)


def check_for_production(site: Path, base_url: str) -> None:
    """Run the site checks; the first problem (and how many there are) stops the publish."""
    from pipeline.publish.check import check_site

    problems = check_site(site, base_url=base_url)
    if problems:
        for p in problems:
            log.debug("check: %s", p)
        n = len(problems)
        raise PublishError(f"the built site failed its checks ({n} problem{'s' if n > 1 else ''}), nothing was "
                           f"published: {problems[0]}")


def deploy(site: Path, project: Project, options: PublishOptions = PublishOptions(),
           base_url: str = "/") -> PublishReport:
    """Deploy an already built and checked ``site`` folder to ``options.to`` (no build, no check).
    Git targets add ``.nojekyll`` (and ``CNAME``) to ``site`` first."""
    deployer = deployer_for(parse_target(options.to or project.config.publish.to, project.root), project, options)
    deployer.preflight()
    return deployer.deploy(site, base_url)


def _clean_stale_staging(work: Path) -> None:
    """Remove staging folders left by killed publishes (their process is gone)."""
    for d in work.glob("staging-*"):
        try:
            pid = int(d.name.split("-")[1])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError):
            shutil.rmtree(d, ignore_errors=True)
        except PermissionError:
            pass
