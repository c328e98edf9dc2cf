"""The `recap` command line: parse options, open the project, call one library function.

Heavy libraries (torch, ctranslate2, pyannote) are imported inside the library functions, so
`recap --help` stays instant. Errors are :class:`pipeline.errors.RecapError` (one line, exit 1).
"""

from __future__ import annotations

import functools
import logging
import signal
import sys
import threading
from pathlib import Path

import click

from pipeline.config import Project, init_project, open_project
from pipeline.errors import RecapError

log = logging.getLogger("recap")


class _Obj:
    def __init__(self, project_dir: Path | None, quiet: bool) -> None:
        self.project_dir = project_dir
        self.quiet = quiet
        self._project: Project | None = None

    def project(self, **overrides: dict) -> Project:
        if self._project is None or overrides:
            self._project = open_project(self.project_dir, overrides or None)
        return self._project


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger("recap")
    root.handlers[:] = [handler]
    root.setLevel(level)
    pipeline_log = logging.getLogger("pipeline")
    pipeline_log.handlers[:] = [handler]
    pipeline_log.setLevel(level)


def pass_project(fn):
    """Give the command the open :class:`Project` as its first argument and report kept edits."""

    @click.pass_obj
    @functools.wraps(fn)
    def wrapper(obj: _Obj, *args, **kwargs):
        project = obj.project()
        try:
            return fn(project, *args, **kwargs)
        finally:
            for notice in project.content.notices:
                log.warning(notice)
            project.content.notices.clear()

    return wrapper


class Interrupted(RecapError):
    """Ctrl-C or SIGTERM: every write is atomic, so content/ and site/ hold the old or the new files."""

    exit_code = 130


def _sigterm(signum, frame) -> None:
    raise KeyboardInterrupt


def _unraisable(args) -> None:
    """A Ctrl-C that lands inside a C callback (llvmlite's object cache, under numba) is printed as
    "Exception ignored" and swallowed; deliver it again so the command still stops cleanly."""
    if isinstance(args.exc_value, KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
        return
    sys.__unraisablehook__(args)


class _Group(click.Group):
    """Turns Ctrl-C and SIGTERM into one line and exit code 130 instead of a traceback."""

    def invoke(self, ctx: click.Context):
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
    ctx.obj = _Obj(project_dir, quiet)


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--title", help="Site title (default: the folder's name).")
def init(directory: Path, title: str | None) -> None:
    """Start a new recap project in DIRECTORY."""
    init_project(directory, title)
    click.echo(f"Initialised a recap project in {directory.resolve()}")


@main.command("list")
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


# -- importers and exporters (pipeline.sources.transcripts, pipeline.sources.notes, pipeline.sources.catalog, pipeline.export) --
@main.command("import-transcript")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--episode", "slug", required=True, help="Episode slug (folder name under content/episodes/).")
@click.option("--title", help="Episode title (default: kept, or the slug for a new episode).")
@click.option("--format", "fmt", type=click.Choice(["whispercpp", "srt", "vtt", "json"]),
              help="Transcript format (default: detected from the content).")
@pass_project
def import_transcript_cmd(project: Project, file: Path, slug: str, title: str | None, fmt: str | None) -> None:
    """Import a transcript (whisper.cpp, SRT, WebVTT, faster-whisper/WhisperX JSON) into an episode."""
    from pipeline.sources.transcripts import import_transcript

    ep = import_transcript(project, file, slug, title=title, fmt=fmt)
    t = ep.transcript
    click.echo(f"Imported {len(t.utterances)} lines ({t.duration:.2f} s) into episode {slug}")


@main.command("import-notes")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--episode", "slug", required=True, help="Episode slug (folder name under content/episodes/).")
@click.option("--title", help="Episode title (default: the notes' first line).")
@pass_project
def import_notes_cmd(project: Project, file: Path, slug: str, title: str | None) -> None:
    """Import show notes: chapters, speakers, papers covered, description."""
    from pipeline.sources.notes import apply_notes, parse_notes

    ep = apply_notes(project, slug, parse_notes(file), title=title)
    linked = sum(1 for c in ep.chapters if c.paper)
    click.echo(f"Imported {len(ep.chapters)} chapters ({linked} linked to papers) and "
               f"{len(ep.papers)} papers covered into episode {slug}")


@main.group()
def papers() -> None:
    """The paper catalog."""


@papers.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@pass_project
def papers_import(project: Project, files: tuple[Path, ...]) -> None:
    """Import paper lists (reading list, arXiv-link blog, day notes, BibTeX, JSON, YAML)."""
    from pipeline.sources.catalog import import_papers

    click.echo(import_papers(project, files).summary())


# -- summaries (pipeline.summarize.summaries) --
@main.command("summarize")
@click.argument("slug")
@click.option("--backend", type=click.Choice(["extractive", "llm"]), help="Default: [summaries] backend.")
@click.option("--url", help="OpenAI-compatible endpoint for --backend llm, e.g. http://127.0.0.1:8080/v1.")
@click.option("--model", help="Model name the endpoint serves (--backend llm).")
@click.option("--max-words", type=click.IntRange(10, 1000), help="Words per chapter summary (default 80).")
@pass_project
def summarize_cmd(project: Project, slug: str, backend: str | None, url: str | None, model: str | None,
                  max_words: int | None) -> None:
    """Summarize each chapter of an episode and the episode, every sentence with its timestamp."""
    from pipeline.summarize.summaries import SummaryOptions, run_summarize

    opts = SummaryOptions.from_config(project.config.summaries, backend=backend, url=url, model=model,
                                      max_words=max_words)
    click.echo(run_summarize(project, slug, opts).describe())


@main.command("export")
@click.argument("slug")
@click.option("--format", "fmt", required=True,
              type=click.Choice(["chapters", "vtt", "srt", "json", "rttm", "summaries"]),
              help="chapters: Podcasting 2.0 JSON chapters; vtt/srt/json/rttm: the transcript; "
                   "summaries: chapter and episode summaries with their timestamps (JSON).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@pass_project
def export_cmd(project: Project, slug: str, fmt: str, output: Path | None) -> None:
    """Write an episode's chapters or transcript in a standard format."""
    from pipeline.content import atomic_write
    from pipeline.export import export_episode

    text = export_episode(project, slug, fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        atomic_write(output, text)
        click.echo(f"Wrote {output}", err=True)


# -- publishing (pipeline.publish.deploy) --
@main.command("publish")
@click.option("--to", "to", metavar="TARGET",
              help="git:BRANCH, git:REMOTE:BRANCH, dir:PATH or rsync:[HOST:]PATH (default: [publish] to).")
@click.option("--base-url", help="Public address the site is built for (default: [site] base_url).")
@click.option("-n", "--dry-run", is_flag=True, help="Build and check, then list what would change; send nothing.")
@click.option("-m", "--message", help="Commit message for git targets (default: [publish] message).")
@pass_project
def publish_cmd(project: Project, to: str | None, base_url: str | None, dry_run: bool, message: str | None) -> None:
    """Build the site for production, check it, and deploy only what changed, atomically."""
    from pipeline.publish.deploy import PublishOptions, publish

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


# -- the static site (pipeline.site.build, pipeline.site.serve) ------------------------------------------------
@main.command("build")
@click.option("--base-url", help="Where the site will be served, e.g. https://example.org/podcast/ (default: [site] base_url).")
@click.option("--full", is_flag=True, help="Re-render every page, ignoring what the last build wrote.")
@pass_project
def build_cmd(project: Project, base_url: str | None, full: bool) -> None:
    """Render content/ into the static site (only the pages whose inputs changed)."""
    from pipeline.site.build import build_site

    report = build_site(project, base_url=base_url, full=full)
    click.echo(report.summary())
    for label, paths in (("written", report.written), ("removed", report.removed)):
        if paths and len(paths) <= 20:
            for p in paths:
                click.echo(f"  {label}: {p}")
    click.echo(f"Preview it with `recap serve`, or publish {report.site_dir} with any static file server")


@main.command("serve")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port on 127.0.0.1.")
@pass_project
def serve_cmd(project: Project, port: int) -> None:
    """Preview the site on http://127.0.0.1:PORT/ and rebuild what changed when content/ or templates/ change."""
    from pipeline.site.serve import serve

    serve(project, port, on_build=lambda r: click.echo(r.summary()))


@main.command("align")
@click.argument("slug")
@click.option("--no-embeddings", is_flag=True, help="Lexical cues only (faster; no sentence embeddings).")
@pass_project
def align_cmd(project: Project, slug: str, no_embeddings: bool) -> None:
    """Find chapters (or check the notes' times), link them to papers, name speakers, find mentions."""
    from pipeline.align.episode import AlignOptions, run_align

    result = run_align(project, slug, AlignOptions(embeddings=not no_embeddings,
                                                   cache_dir=project.cache_dir / "align"))
    from pipeline.timefmt import format_timestamp

    for c in result.chapters:
        click.echo(f"  {format_timestamp(c.start):>8}  {c.kind:6} {c.title}" + (f"  -> {c.paper}" if c.paper else ""))


# -- quality report and voice library (pipeline.report, pipeline.audio.voices) --------------------------------
@main.command("report")
@click.argument("slug")
@click.option("--all", "show_all", is_flag=True, help="List every passage, not only the worst 30.")
@pass_project
def report_cmd(project: Project, slug: str, show_all: bool) -> None:
    """Rank an episode's passages most likely wrong (loops, silence, low confidence, doubtful links, names)."""
    from pipeline.report import episode_report, print_report

    print_report(episode_report(project, slug), limit=None if show_all else 30)


@main.group()
def voices() -> None:
    """The voice library: speakers recognised across episodes (content/voices/)."""


@voices.command("list")
@click.argument("slug", required=False)
@pass_project
def voices_list(project: Project, slug: str | None) -> None:
    """Known voices, or the proposals of episode SLUG."""
    from pipeline.audio.voices import library, load_episode_voices

    store = project.content
    if slug is None:
        lib = library(store)
        if not lib:
            click.echo("No voices yet: they are added when named speakers are processed.")
        for person, samples in lib.items():
            eps = sorted({s.episode for s in samples})
            confirmed = sum(s.confirmed for s in samples)
            click.echo(f"{person}: {len(samples)} samples ({confirmed} confirmed) from {', '.join(eps)}")
        return
    store.require_episode(slug)
    ev = load_episode_voices(store, slug)
    if not ev.matches:
        click.echo(f"{slug}: no voice matches")
    for m in ev.matches:
        click.echo(f"{m.label}: {m.person} (score {m.score:.2f}, margin {m.margin:.2f}) {m.status}")


@voices.command("confirm")
@click.argument("slug")
@click.argument("label")
@click.argument("person", required=False)
@pass_project
def voices_confirm(project: Project, slug: str, label: str, person: str | None) -> None:
    """Confirm the name proposed for speaker LABEL of episode SLUG (or name it PERSON)."""
    from pipeline.audio.voices import confirm

    m = confirm(project, slug, label, person)
    click.echo(f"{slug} {label}: confirmed as {m.person}; the voice joins the library")


@voices.command("reject")
@click.argument("slug")
@click.argument("label")
@pass_project
def voices_reject(project: Project, slug: str, label: str) -> None:
    """Reject the name proposed for speaker LABEL of episode SLUG (it is not proposed again)."""
    from pipeline.audio.voices import reject

    m = reject(project, slug, label)
    click.echo(f"{slug} {label}: rejected {m.person}; it will not be proposed again")


@voices.command("forget")
@click.argument("person")
@click.option("--episode", help="Only the samples from this episode.")
@pass_project
def voices_forget(project: Project, person: str, episode: str | None) -> None:
    """Remove a person's voice samples from the library."""
    from pipeline.audio.voices import forget

    n = forget(project, person, episode)
    click.echo(f"Removed {n} voice sample{'s' if n != 1 else ''} of {person}")


# -- many recordings at once (pipeline.jobs.batch) --------------------------------------------------------
@main.command("batch")
@click.argument("inputs", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--manifest", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML/JSON/CSV rows: audio, episode, title, notes, papers (instead of INPUTS).")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: a process pool on this machine; ray: a Ray cluster.")
@click.option("--workers", type=click.IntRange(1), help="Parallel workers (default: local 1 per 2 cores; ray 1 per GPU or CPU).")
@click.option("--address", help="Ray cluster to join, HOST:PORT or auto (default: start a local one).")
@click.option("--retries", type=click.IntRange(0), default=1, show_default=True,
              help="Extra attempts for a recording that failed for a reason other than bad input.")
@click.option("--force", is_flag=True, help="Process recordings even when content/ already has them.")
@click.option("--model", help="faster-whisper model name or CTranslate2 folder (default: by device).")
@click.option("--device", type=click.Choice(["auto", "cuda", "cpu"]), help="Where to run the models.")
@click.option("--diarizer", type=click.Choice(["embedded", "pyannote", "none"]), help="Speaker diarization backend.")
@click.option("--language", help="Language code, e.g. en (default: detected).")
@pass_project
def batch_cmd(project: Project, inputs: tuple[Path, ...], manifest: Path | None, executor: str,
              workers: int | None, address: str | None, retries: int, force: bool, model: str | None,
              device: str | None, diarizer: str | None, language: str | None) -> None:
    """Process many recordings (INPUTS or a --manifest) on a process pool or a Ray cluster."""
    from rich.console import Console

    from pipeline.jobs.batch import BatchOptions, RichProgress, batch_items, make_process_options, run_batch, summary_table

    items = batch_items(inputs, manifest)
    opts = make_process_options(project, model=model, device=device, diarizer=diarizer, language=language)
    report = run_batch(project, items, opts, BatchOptions(executor=executor, workers=workers, address=address,
                                                          retries=retries, force=force),
                       progress=None if log.getEffectiveLevel() > logging.INFO else RichProgress())
    Console(width=160).print(summary_table(report))
    for row in report.failed:
        click.echo(f"failed {row.item.slug}: {row.error}")
    click.echo(report.summary())
    if report.failed:
        raise SystemExit(1)


# -- audio pipeline (pipeline.jobs.recording, pipeline.doctor) --
@main.command("process")
@click.argument("audio", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--episode", "slug", required=True, help="Episode slug (folder name under content/episodes/).")
@click.option("--title", help="Episode title (default: kept, or the slug for a new episode).")
@click.option("--notes", type=click.Path(dir_okay=False, path_type=Path), help="Show notes to import (chapters, papers).")
@click.option("--papers", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Paper lists to import first (repeatable); their names become Whisper's vocabulary.")
@click.option("--model", help="faster-whisper model name or CTranslate2 folder (default: by device).")
@click.option("--device", type=click.Choice(["auto", "cuda", "cpu"]), help="Where to transcribe (default: auto).")
@click.option("--diarizer", type=click.Choice(["embedded", "pyannote", "none"]), help="Speaker diarization backend.")
@click.option("--speakers", type=click.IntRange(1), help="Exact number of speakers, when known.")
@click.option("--min-speakers", type=click.IntRange(1), help="At least this many speakers.")
@click.option("--max-speakers", type=click.IntRange(1), help="At most this many speakers (default 8).")
@click.option("--language", help="Language code, e.g. en (default: detected).")
@click.option("--chunk-minutes", type=click.FloatRange(0.1), help="Checkpoint every N minutes of audio (default 5).")
@click.option("--batch-size", type=click.IntRange(1), help="Batch size of the batched CUDA pipeline (default 8).")
@pass_project
def process_cmd(project: Project, audio: Path, slug: str, title: str | None, notes: Path | None,
                papers: tuple[Path, ...], **given) -> None:
    """Transcribe and diarize AUDIO (any audio/video file) into episode SLUG, then align and summarize."""
    from pipeline.jobs.recording import ProcessOptions, ProgressBars, run_process

    options = ProcessOptions.from_config(project.config.transcribe, **given)
    with ProgressBars(enabled=not click.get_current_context().obj.quiet) as bars:
        ep, result = run_process(project, audio, slug, options, title=title, notes=notes, papers=papers, progress=bars)
    speakers = len({u.speaker for u in ep.transcript.utterances if u.speaker})
    click.echo(f"Processed {audio} into episode {slug}: {len(ep.transcript.utterances)} utterances, "
               f"{speakers} speakers, {result.duration:.1f} s")


@main.command("doctor")
@click.pass_obj
def doctor_cmd(obj) -> None:
    """Report what this machine can do (ffmpeg, CUDA, offline models, extras) and how to get the rest."""
    from pipeline.doctor import diagnose
    from pipeline.errors import RecapError

    try:
        project = obj.project()
    except RecapError:
        project = None
    checks = diagnose(project)
    for c in checks:
        mark = "ok " if c.ok else ("MISSING" if c.required else "no ")
        click.echo(f"{mark:<7} {c.name}: {c.detail}")
        if not c.ok and c.fix:
            click.echo(f"        -> {c.fix}")
    if any(c.required and not c.ok for c in checks):
        raise click.exceptions.Exit(1)
