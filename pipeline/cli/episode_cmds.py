"""Commands on one stored episode: align, summarize, export, report, and the voice library."""

from __future__ import annotations

from pathlib import Path

import click

from pipeline.cli.common import episode_argument, pass_project
from pipeline.config import Project


@click.command("align")
@episode_argument()
@click.option("--no-embeddings", is_flag=True, help="Lexical cues only (faster; no sentence embeddings).")
@click.option("--section-length", type=click.FloatRange(30.0, 3600.0),
              help="Target seconds of a topic section inside a long talk (default: [align] section_length, 300).")
@pass_project
def align_cmd(project: Project, episode: str, no_embeddings: bool, section_length: float | None) -> None:
    """Find EPISODE's chapters (or check the notes' times), link them to papers, name speakers, find mentions."""
    from pipeline.align.episode import AlignOptions, run_align
    from pipeline.jobs.episode import titles_if_configured
    from pipeline.timefmt import format_timestamp

    length = section_length or project.config.align.section_length
    run_align(project, episode, AlignOptions(embeddings=not no_embeddings, section_length=length,
                                             cache_dir=project.cache_dir / "align"))
    for note in titles_if_configured(project, episode):  # [summaries] backend = "llm": LLM chapter titles
        click.echo(note)
    for c in project.content.load_episode(episode).chapters:
        click.echo(f"  {format_timestamp(c.start):>8}  {c.kind:6} {c.title}" + (f"  -> {c.paper}" if c.paper else ""))


@click.command("summarize")
@episode_argument()
@click.option("--backend", type=click.Choice(["extractive", "llm"]), help="Default: [summaries] backend.")
@click.option("--url", help="OpenAI-compatible endpoint for --backend llm, e.g. http://127.0.0.1:8080/v1.")
@click.option("--llm-model", "--model", "model", help="Model name the endpoint serves (--backend llm).")
@click.option("--max-words", type=click.IntRange(10, 1000), help="Words per chapter summary (default 80).")
@pass_project
def summarize_cmd(project: Project, episode: str, backend: str | None, url: str | None, model: str | None,
                  max_words: int | None) -> None:
    """Summarize each chapter of EPISODE and the episode, every sentence with its timestamp."""
    from pipeline.summarize.options import SummaryOptions
    from pipeline.summarize.summaries import run_summarize

    opts = SummaryOptions.from_config(project.config.summaries, backend=backend, url=url, model=model,
                                      max_words=max_words)
    click.echo(run_summarize(project, episode, opts).describe())


@click.command("export")
@episode_argument()
@click.option("--format", "fmt", required=True,
              type=click.Choice(["chapters", "vtt", "srt", "json", "rttm", "summaries"]),
              help="chapters: Podcasting 2.0 JSON chapters; vtt/srt/json/rttm: the transcript; "
                   "summaries: chapter and episode summaries with their timestamps (JSON).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@pass_project
def export_cmd(project: Project, episode: str, fmt: str, output: Path | None) -> None:
    """Write EPISODE's chapters or transcript in a standard format."""
    from pipeline.export import export_episode
    from pipeline.files import atomic_write

    text = export_episode(project, episode, fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        atomic_write(output, text)
        click.echo(f"Wrote {output}", err=True)


@click.command("report")
@episode_argument()
@click.option("--all", "show_all", is_flag=True, help="List every passage, not only the worst 30.")
@pass_project
def report_cmd(project: Project, episode: str, show_all: bool) -> None:
    """Rank EPISODE's passages most likely wrong (loops, silence, low confidence, doubtful links, names)."""
    from pipeline.cli.output import print_report
    from pipeline.report import episode_report

    print_report(episode_report(project, episode), limit=None if show_all else 30)


@click.group()
def voices() -> None:
    """The voice library: speakers recognised across episodes (content/voices/)."""


@voices.command("list")
@episode_argument(required=False)
@pass_project
def voices_list(project: Project, episode: str | None) -> None:
    """Known voices, or the proposals of EPISODE."""
    from pipeline.audio.voices import library, load_episode_voices

    store = project.content
    if episode is None:
        lib = library(store)
        if not lib:
            click.echo("No voices yet: they are added when named speakers are processed.")
        for person, samples in lib.items():
            eps = sorted({s.episode for s in samples})
            confirmed = sum(s.confirmed for s in samples)
            click.echo(f"{person}: {len(samples)} samples ({confirmed} confirmed) from {', '.join(eps)}")
        return
    store.require_episode(episode)
    ev = load_episode_voices(store, episode)
    if not ev.matches:
        click.echo(f"{episode}: no voice matches")
    for m in ev.matches:
        click.echo(f"{m.label}: {m.person} (score {m.score:.2f}, margin {m.margin:.2f}) {m.status}")


@voices.command("confirm")
@episode_argument()
@click.argument("label")
@click.argument("person", required=False)
@pass_project
def voices_confirm(project: Project, episode: str, label: str, person: str | None) -> None:
    """Confirm the name proposed for speaker LABEL of EPISODE (or name it PERSON)."""
    from pipeline.audio.voices import confirm

    m = confirm(project, episode, label, person)
    click.echo(f"{episode} {label}: confirmed as {m.person}; the voice joins the library")


@voices.command("reject")
@episode_argument()
@click.argument("label")
@pass_project
def voices_reject(project: Project, episode: str, label: str) -> None:
    """Reject the name proposed for speaker LABEL of EPISODE (it is not proposed again)."""
    from pipeline.audio.voices import reject

    m = reject(project, episode, label)
    click.echo(f"{episode} {label}: rejected {m.person}; it will not be proposed again")


@voices.command("forget")
@click.argument("person")
@episode_argument(required=False)
@pass_project
def voices_forget(project: Project, person: str, episode: str | None) -> None:
    """Remove a person's voice samples from the library (only those from EPISODE when given)."""
    from pipeline.audio.voices import forget

    n = forget(project, person, episode)
    click.echo(f"Removed {n} voice sample{'s' if n != 1 else ''} of {person}")


COMMANDS = (align_cmd, summarize_cmd, export_cmd, report_cmd, voices)
