"""Commands on the site: build, serve (preview), publish."""

from __future__ import annotations

import click

from pipeline.cli.common import pass_project
from pipeline.config import Project, is_absolute_url


@click.command("build")
@click.option("--base-url",
              help="Where the site will be served, e.g. https://example.org/podcast/ (default: [site] base_url).")
@click.option("--full", is_flag=True, help="Re-render every page, ignoring what the last build wrote.")
@pass_project
def build_cmd(project: Project, base_url: str | None, full: bool) -> None:
    """Render content/ into the static site (only the pages whose inputs changed)."""
    import sys

    from pipeline.cli.output import ProgressBars
    from pipeline.embed import PROGRESS
    from pipeline.site.build import build_site

    url = base_url or project.config.site.base_url
    if not is_absolute_url(url):
        click.echo(f"Warning: the site's base URL is {url!r}: feed, chapter and canonical links are relative, "
                   "which podcast apps and search engines do not follow; set [site] base_url = "
                   '"https://..." in recap.toml (or --base-url) before publishing', err=True)
    with ProgressBars(enabled=sys.stderr.isatty(), unit="papers") as bars:
        token = PROGRESS.set(bars)  # a conference's first build embeds every paper: show it
        try:
            report = build_site(project, base_url=base_url, full=full)
        finally:
            PROGRESS.reset(token)
    click.echo(report.summary())
    for label, paths in (("written", report.written), ("removed", report.removed)):
        if paths and len(paths) <= 20:
            for p in paths:
                click.echo(f"  {label}: {p}")
    click.echo(f"Preview it with `recap serve`, or publish {report.site_dir} with any static file server")


@click.command("serve")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port on 127.0.0.1.")
@click.option("--base-url", default="/", show_default=True,
              help="Build the preview for this address (e.g. http://127.0.0.1:8000/ for absolute feed links).")
@pass_project
def serve_cmd(project: Project, port: int, base_url: str) -> None:
    """Preview the site on http://127.0.0.1:PORT/ and rebuild what changed when content/ or templates/ change."""
    from pipeline.site.serve import serve

    serve(project, port, base_url=base_url, on_build=lambda r: click.echo(r.summary()))


@click.command("publish")
@click.option("--to", "to", metavar="TARGET",
              help="git:BRANCH, git:REMOTE:BRANCH, dir:PATH or rsync:[HOST:]PATH (default: [publish] to).")
@click.option("--base-url", help="Public address the site is built for (default: [site] base_url).")
@click.option("-n", "--dry-run", is_flag=True, help="Build and check, then list what would change; send nothing.")
@click.option("-m", "--message", help="Commit message for git targets (default: [publish] message).")
@pass_project
def publish_cmd(project: Project, to: str | None, base_url: str | None, dry_run: bool, message: str | None) -> None:
    """Build the site for production, check it, and deploy only what changed, atomically."""
    from pipeline.publish.deploy import publish
    from pipeline.publish.targets import PublishOptions

    report = publish(project, PublishOptions(to=to, base_url=base_url, dry_run=dry_run, message=message))
    ch = report.changes
    if dry_run:
        for mark, paths in (("A", ch.added), ("M", ch.changed), ("D", ch.removed)):
            for path in paths:
                click.echo(f"{mark} {path}")
        click.echo(f"Dry run for {report.target}: would publish {ch.counts()}")
        return
    if not ch:
        click.echo(f"{report.target} is up to date: nothing to publish")
        return
    rev = report.revision or ""
    where = f" ({rev[:12] if report.target.startswith('git:') else rev})" if rev else ""
    click.echo(f"Published to {report.target}{where}: {ch.counts()}, {len(report.transferred)} files sent")
    for url in report.urls():
        click.echo(f"  {url}")


COMMANDS = (build_cmd, serve_cmd, publish_cmd)
