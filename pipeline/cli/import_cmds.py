"""Commands that start a project and bring in what exists: init, list, import-transcript, import-notes, papers."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.common import episode_argument, pass_project
from pipeline.config import Project, init_project


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--title", help="Site title (default: the folder's name).")
def init(directory: Path, title: str | None) -> None:
    """Start a new recap project in DIRECTORY."""
    init_project(directory, title)
    click.echo(f"Initialised a recap project in {directory.resolve()}")


@click.command("list")
@pass_project
def list_(project: Project) -> None:
    """Show the episodes and papers in content/."""
    store = project.content
    slugs = store.episode_slugs()
    click.echo(f"Episodes ({len(slugs)}):")
    for slug in slugs:
        ep = store.load_episode(slug)
        click.echo(f"  {slug}  {ep.title}  ({len(ep.chapters)} chapters, {len(ep.transcript.utterances)} utterances)")
    papers = store.load_papers()
    click.echo(f"Papers ({len(papers)}):")
    for pid, paper in sorted(papers.items()):
        click.echo(f"  {pid}  {paper.title}")


@click.command("import-transcript")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@episode_argument()
@click.option("--title", help="Episode title (default: kept, or the slug for a new episode).")
@click.option("--format", "fmt", type=click.Choice(["whispercpp", "srt", "vtt", "json", "paragraphs"]),
              help="Transcript format (default: detected from the content).")
@pass_project
def import_transcript_cmd(project: Project, file: Path, episode: str, title: str | None, fmt: str | None) -> None:
    """Import a transcript FILE (whisper.cpp, SRT, WebVTT, faster-whisper/WhisperX JSON, speaker paragraphs
    as Substack, Descript, Otter, Riverside, Zoom or YouTube give them) into EPISODE; align it
    when the episode has chapters."""
    from pipeline.jobs.episode import align_if_ready
    from pipeline.sources.transcripts import import_transcript

    t = import_transcript(project, file, episode, title=title, fmt=fmt).transcript
    align_if_ready(project, episode)
    click.echo(f"Imported {len(t.utterances)} lines ({t.duration:.2f} s) into episode {episode}")


@click.command("import-notes")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@episode_argument()
@click.option("--title", help="Episode title (default: the notes' first line).")
@pass_project
def import_notes_cmd(project: Project, file: Path, episode: str, title: str | None) -> None:
    """Import show notes FILE into EPISODE: chapters, speakers, papers covered, description; then align them
    with the transcript when there is one."""
    from pipeline.jobs.episode import align_if_ready
    from pipeline.sources.notes import apply_notes, parse_notes

    apply_notes(project, episode, parse_notes(file), title=title)
    ep = align_if_ready(project, episode)
    linked = sum(1 for c in ep.chapters if c.paper)
    click.echo(f"Imported {len(ep.chapters)} chapters ({linked} linked to papers) and "
               f"{len(ep.papers)} papers covered into episode {episode}")


@click.group()
def papers() -> None:
    """The paper catalog."""


@papers.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--skip-bad", is_flag=True,
              help="Import the entries that can be, and list the others (default: import nothing then).")
@pass_project
def papers_import(project: Project, files: tuple[Path, ...], skip_bad: bool) -> None:
    """Import paper lists (reading list, arXiv-link blog, day notes, BibTeX, JSON, YAML, CSV). Entries that
    cannot be imported are named with their line and reason, and nothing is imported (exit code 1) unless
    --skip-bad is given."""
    import sys

    from pipeline.cli.output import ProgressBars
    from pipeline.errors import BadEntries
    from pipeline.sources.papers import import_papers

    try:
        with ProgressBars(enabled=sys.stderr.isatty(), unit="papers") as bars:
            report = import_papers(project, files, skip_bad=skip_bad, progress=bars)
    except BadEntries as exc:
        for line in exc.problems:
            click.echo(f"Cannot import: {line}", err=True)
        raise
    for line in report.notes:
        click.echo(f"Note: {line}", err=True)
    for line in report.skipped:
        click.echo(f"Skipped: {line}", err=True)
    if len(report.added) <= 20:
        for pid in report.added:
            click.echo(f"  new  {pid}  {report.titles.get(pid, '')}")
    click.echo(report.summary())


COMMANDS = (init, list_, import_transcript_cmd, import_notes_cmd, papers)
