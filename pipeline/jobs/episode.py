"""The per-recording job, driver side: check a recording's inputs, prepare its options, write its result.

For every recording, in this order (:func:`pipeline.jobs.batch.run_batch` calls these; ``recap process`` is
a batch of one):

1. :func:`check_inputs` -- the audio is readable, the show notes and paper lists parse. Nothing is written,
   so a bad input fails before it touches ``content/``.
2. :func:`prepare` -- import the paper lists into the catalog, give the recording the options ``recap process``
   would: Whisper's vocabulary from the catalog and notes (kept per episode, so a re-run reuses the finished
   transcription), the speaker count the notes suggest.
3. (the worker runs :func:`pipeline.jobs.recording.process_recording`)
4. :func:`save_result` -- transcript, duration and audio into the episode (under its lock), the voice library.
5. :func:`later_stages` -- show notes, alignment, summaries: each stage takes the episode's lock itself.

This is the command layer that chains stages: importers only import (:mod:`pipeline.sources`), and
:func:`align_if_ready` is what runs alignment after an import.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from pipeline.audio.decode import probe
from pipeline.audio.transcribe import build_hotwords
from pipeline.audio.turns import DIARIZATION_FILE, rttm
from pipeline.cache import MISS, Cache
from pipeline.errors import InputError
from pipeline.ids import check_id
from pipeline.jobs.manifest import BatchItem
from pipeline.jobs.recording import ProcessOptions, ProcessResult
from pipeline.models import Episode, Paper
from pipeline.sources.catalog import short_names
from pipeline.sources.notes import ShowNotes, apply_notes, parse_notes
from pipeline.sources.papers import import_papers, read_papers

log = logging.getLogger(__name__)


def check_inputs(item: BatchItem) -> tuple[ShowNotes | None, float]:
    """Check everything a recording's job reads before anything is written: the audio (ffprobe), the
    show notes and the paper lists. Returns the parsed notes and the audio's duration in seconds.
    Raises :class:`pipeline.errors.RecapError`."""
    check_id(item.slug, "episode slug")
    if not Path(item.audio).is_file():
        raise InputError(item.audio, "no such file")
    duration = probe(Path(item.audio)).duration
    notes = parse_notes(Path(item.notes)) if item.notes is not None else None
    for p in item.papers:
        read_papers(Path(p))
    return notes, duration


def prepare(project: Any, item: BatchItem, base: ProcessOptions, audio_hash: str,
            notes: ShowNotes | None) -> ProcessOptions:
    """Import the recording's paper lists, then its options: the vocabulary (unless given) and the speaker
    count the show notes suggest (a soft prior, unless the speakers were given)."""
    if item.papers:
        import_papers(project, list(item.papers))
    opts = base
    if not opts.transcribe.hotwords:
        words = episode_vocabulary(project, item.slug, audio_hash,
                                   lambda: vocabulary(project.content.load_papers().values(), notes))
        opts = replace(opts, transcribe=replace(opts.transcribe, hotwords=words))
    if notes is not None and opts.diarize.prior_speakers is None:
        names = {s for c in notes.chapters for s in c.speakers}
        if names:
            opts = replace(opts, diarize=replace(opts.diarize, prior_speakers=len(names)))
    return opts


def vocabulary(papers: Iterable[Paper], notes: ShowNotes | None = None, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """Hotwords for Whisper: the show notes' papers and speakers first, then the whole catalog's
    short names and authors (bounded by :data:`pipeline.audio.transcribe.PROMPT_TOKENS`)."""
    papers = list(papers)
    covered = list(notes.papers) if notes is not None else []
    covered_titles = {p.title.lower() for p in covered}
    first = [p for p in papers if p.title.lower() in covered_titles] + covered
    shorts = [n for p in first for n in short_names(p)]
    speakers = [s for c in (notes.chapters if notes is not None else []) for s in c.speakers]
    authors = [re.sub(r"\s+et\s+al\.?$", "", a) for p in first for a in p.authors[:3]]
    # the whole catalog adds the names its titles spell out ("QLoRA", "Toolformer"), not derived
    # initialisms, then first authors
    catalog = [n for p in papers for n in short_names(p) if n in p.title] + [a for p in papers for a in p.authors[:1]]
    keywords = [w for p in first for w in p.title.replace(":", " ").split() if any(ch.isupper() for ch in w[1:])]
    return build_hotwords([*extra, *shorts], [*speakers, *authors], keywords, catalog)


def episode_vocabulary(project: Any, slug: str, audio_hash: str, make: Callable[[], Iterable[str]]) -> tuple[str, ...]:
    """The vocabulary prompt of this recording's first run, kept (per episode, for this audio) so that a
    re-run after the notes added papers to the catalog reuses the finished transcription instead of redoing
    it. Delete ``.cache/recap/vocabulary/`` to rebuild it from the current catalog."""
    entry = Cache(project.cache_dir).entry("vocabulary", slug)
    words = entry.get(audio_hash)
    if words is MISS:
        words = tuple(make())
        entry.put(audio_hash, words)
    return tuple(words)


def audio_reference(project: Any, slug: str, audio: Path) -> str:
    """``Episode.audio``: the recording's file name inside the episode folder. A recording from
    elsewhere is placed there first (a hard link when possible, else an atomic copy), so content/
    alone rebuilds the site with its player."""
    ep_dir = (project.content.root / "episodes" / slug).resolve()
    src = Path(audio).resolve()
    if src.parent == ep_dir:
        return src.name
    suffix = re.sub(r"[^a-z0-9]", "", src.suffix.lower())[:8]
    dest = ep_dir / (f"recording.{suffix}" if suffix else "recording")
    if dest.exists() and os.path.samefile(src, dest):  # placed by an earlier run (a hard link)
        return dest.name
    ep_dir.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copyfile(src, tmp)
    os.replace(tmp, dest)
    tmp.unlink(missing_ok=True)  # rename() does nothing when both names link to the same file
    return dest.name


def save_result(project: Any, item: BatchItem, result: ProcessResult, *, locked: bool = False) -> Episode:
    """Write ``result`` as episode ``item.slug`` (transcript, duration, audio), then the voice library.
    Takes the episode's lock unless the caller holds it (``locked``)."""
    from pipeline.audio.voices import apply_voice_library

    store = project.content
    slug = item.slug

    def write() -> Episode:
        ep = store.load_episode(slug) if store.has_episode(slug) else Episode(slug=slug, title=item.title or slug)
        if item.title:
            ep.title = item.title
        ep.transcript = result.transcript
        ep.duration = round(result.duration, 3)
        if not re.match(r"https?://", ep.audio or ""):  # keep a public URL set by hand
            ep.audio = audio_reference(project, slug, item.audio)
        store.save_episode(ep, parts=("meta", "transcript"))
        if result.turns:  # the diarizer's turns, for the RTTM export (overlap and untranscribed speech included)
            store.write_text(f"episodes/{slug}/{DIARIZATION_FILE}", rttm(result.turns, slug), force=True)
        return ep

    if locked:
        ep = write()
    else:
        with store.lock_episode(slug, wait=600, existing=False):
            ep = write()
    if result.speaker_embeddings:
        apply_voice_library(project, slug, result.speaker_embeddings, result.embedding_backend)
    for message in result.messages:
        log.info("%s: %s", slug, message)
    return ep


def align_if_ready(project: Any, slug: str) -> Episode:
    """Align episode ``slug`` when it has both a transcript and chapters (after an import); return it as stored."""
    from pipeline.align.episode import run_align

    ep = project.content.load_episode(slug)
    if ep.transcript.utterances and ep.chapters:
        run_align(project, slug)
        titles_if_configured(project, slug)
        ep = project.content.load_episode(slug)
    return ep


def titles_if_configured(project: Any, slug: str) -> list[str]:
    """With ``[summaries] backend = "llm"``: the LLM titles the chapters alignment found (a notice, and the
    key-phrase titles kept, when no server answers); otherwise nothing (:mod:`pipeline.summarize.titles`)."""
    from pipeline.summarize.titles import run_titles

    notes = run_titles(project, slug)
    for note in notes:
        log.info("%s", note)
    return notes


def later_stages(project: Any, slug: str, notes: ShowNotes | None = None, title: str | None = None) -> Episode:
    """After a recording is saved: its show notes, then alignment, then summaries (when it has speech)."""
    from pipeline.align.episode import run_align
    from pipeline.summarize.summaries import run_summarize

    store = project.content
    if notes is not None:
        apply_notes(project, slug, notes, title=title)
    if store.load_episode(slug).transcript.utterances:
        run_align(project, slug)
        titles_if_configured(project, slug)
        run_summarize(project, slug)
    return store.load_episode(slug)
