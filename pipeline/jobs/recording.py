"""The per-recording job: decode -> transcribe -> diarize -> attribute, then write the episode.

* :func:`process_recording` is a plain, picklable function of (audio, options): it touches only the
  stage cache, never ``content/``, so :mod:`pipeline.jobs.batch` runs it on process-pool or Ray workers.
  Loaded models live in module-level caches (:mod:`pipeline.audio.transcribe`, :mod:`pipeline.audio.diarize`)
  and are reused across recordings in one worker.
* :func:`save_result` writes a result into ``content/`` (driver side): transcript and episode
  metadata through the ContentStore, the voice embeddings to the voice library when it exists,
  then show notes and the later stages (alignment, summaries) when they are installed.
* :func:`run_process` is ``recap process``: validate inputs, process, save under the episode lock.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.audio.attribute import AttributeOptions, attribute
from pipeline.cache import StageCache
from pipeline.audio.decode import DecodedAudio, Progress, decode
from pipeline.audio.diarize import PYANNOTE_MODEL, DiarizeOptions, Turn, check_options, diarize, speaker_embeddings
from pipeline.errors import DependencyMissing
from pipeline.ids import check_id
from pipeline.models import Episode, Paper, Transcript
from pipeline.audio.transcribe import TranscribeOptions, build_hotwords, transcribe

log = logging.getLogger(__name__)

VOICES_VERSION = 1


@dataclass(frozen=True)
class ProcessOptions:
    """Everything that decides a recording's result (immutable; part of the cache keys)."""

    transcribe: TranscribeOptions = TranscribeOptions()
    diarize: DiarizeOptions = DiarizeOptions()
    attribute: AttributeOptions = AttributeOptions()

    @classmethod
    def from_config(cls, cfg: Any = None, **given: Any) -> ProcessOptions:
        """Options from a ``[transcribe]`` config section, then the command-line values given
        (``model``, ``device``, ``language``, ``diarizer``, ``speakers``, ``min_speakers``,
        ``max_speakers``, ``chunk_minutes``, ``batch_size``)."""
        def pick(key: str, default: Any) -> Any:
            if given.get(key) is not None:
                return given[key]
            return getattr(cfg, key, default) if cfg is not None else default

        tr = TranscribeOptions(model=pick("model", "auto"), device=pick("device", "auto"),
                               language=pick("language", None))
        if given.get("chunk_minutes"):
            tr = replace(tr, chunk_seconds=float(given["chunk_minutes"]) * 60)
        if given.get("batch_size"):
            tr = replace(tr, batch_size=int(given["batch_size"]))
        di = DiarizeOptions(backend=pick("diarizer", "embedded"), num_speakers=given.get("speakers"),
                            min_speakers=given.get("min_speakers") or 1, max_speakers=given.get("max_speakers") or 8,
                            hf_token_env=pick("hf_token_env", "HF_TOKEN"), device=tr.device,
                            pyannote_model=pick("pyannote_model", PYANNOTE_MODEL))
        return cls(transcribe=tr, diarize=di)


@dataclass
class ProcessResult:
    transcript: Transcript
    turns: list[Turn]
    duration: float
    audio_hash: str
    speaker_embeddings: dict[str, np.ndarray] = field(default_factory=dict)
    """Speaker label -> L2-normalised voice vector (same encoder as the diarizer)."""
    embedding_backend: str = "embedded"
    messages: list[str] = field(default_factory=list)
    """Things the user should know (silent recording, flagged passages)."""
    timings: dict[str, float] = field(default_factory=dict)  # seconds of wall time per stage


def process_recording(audio: Path, options: ProcessOptions = ProcessOptions(), cache_dir: Path = Path(".cache/recap"),
                      progress: Progress | None = None) -> ProcessResult:
    """Decode, transcribe, diarize and attribute one recording (stage cache only; no content/ writes)."""
    check_options(options.diarize)  # a missing pyannote token fails before any audio work
    cache_dir = Path(cache_dir)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    decoded = decode(Path(audio), cache_dir, progress)
    timings["decode"] = time.perf_counter() - t0
    if decoded.silent:
        msg = (f"{audio}: no speech found: the recording is silent (loudest second at "
               f"{max(decoded.peak_dbfs, -120):.0f} dBFS); the transcript is empty")
        log.warning(msg)
        return ProcessResult(Transcript(utterances=[], language=options.transcribe.language, source="silent"), [],
                             decoded.duration, decoded.audio_hash, messages=[msg], timings=timings)
    t0 = time.perf_counter()
    segments, model_label = transcribe(decoded, options.transcribe, cache_dir, progress)
    timings["transcribe"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    turns = diarize(decoded, options.diarize, cache_dir, progress)
    timings["diarize"] = time.perf_counter() - t0
    language = options.transcribe.language or ("en" if model_label.split()[0].endswith(".en") else None)
    transcript = attribute(segments, turns, language=language, source=f"faster-whisper {model_label}",
                           opts=options.attribute)
    t0 = time.perf_counter()
    backend = "pyannote" if options.diarize.backend == "pyannote" else "embedded"
    embeddings = _voices(decoded, turns, backend, cache_dir, options.diarize)
    timings["voices"] = time.perf_counter() - t0
    messages = []
    flagged = [u for u in transcript.utterances if u.flags]
    if flagged:
        kinds = sorted({f for u in flagged for f in u.flags})
        messages.append(f"{len(flagged)} utterances flagged as suspect ({', '.join(kinds)}): see `recap report`")
    if not transcript.utterances:
        messages.append(f"{audio}: no speech was recognised; the transcript is empty")
    for m in messages:
        log.warning(m)
    return ProcessResult(transcript, turns, decoded.duration, decoded.audio_hash, embeddings, backend, messages, timings)


def _voices(decoded: DecodedAudio, turns: Sequence[Turn], backend: str, cache_dir: Path,
            dopts: DiarizeOptions) -> dict[str, np.ndarray]:
    if not turns:
        return {}
    key = {"backend": backend, "turns": [[t.start, t.end, t.speaker] for t in turns]}
    cache = StageCache.open(cache_dir, decoded.audio_hash, "voices", VOICES_VERSION, key)
    path = cache.path("voices.npz")
    if path.is_file():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    try:
        emb = speaker_embeddings(decoded.samples(), decoded.sr, turns, backend=backend)
    except DependencyMissing as exc:
        log.warning("no voice embeddings: %s", exc.message)
        return {}
    cache.dir.mkdir(parents=True, exist_ok=True)
    tmp = cache.path("voices.tmp.npz")
    np.savez(tmp, **emb)
    os.replace(tmp, path)
    return emb


# -- writing into content/ (driver side) -------------------------------------------------------------------------
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
        import shutil

        shutil.copyfile(src, tmp)
    os.replace(tmp, dest)
    tmp.unlink(missing_ok=True)  # rename() does nothing when both names link to the same file
    return dest.name


def vocabulary(papers: Iterable[Paper], notes: Any = None, extra: Sequence[str] = ()) -> tuple[str, ...]:
    """Hotwords for Whisper: the show notes' papers and speakers first, then the whole catalog's
    short names and authors (bounded by :data:`pipeline.audio.transcribe.PROMPT_TOKENS`)."""
    from pipeline.sources.catalog import short_names

    papers = list(papers)
    covered = list(getattr(notes, "papers", []) or [])
    covered_titles = {p.title.lower() for p in covered}
    first = [p for p in papers if p.title.lower() in covered_titles] + covered
    shorts = [n for p in first for n in short_names(p)]
    speakers = [s for c in getattr(notes, "chapters", []) or [] for s in c.speakers]
    authors = [re.sub(r"\s+et\s+al\.?$", "", a) for p in first for a in p.authors[:3]]
    # the whole catalog adds the names its titles spell out ("QLoRA", "Toolformer"), not derived
    # initialisms, then first authors
    catalog = [n for p in papers for n in short_names(p) if n in p.title] + [a for p in papers for a in p.authors[:1]]
    keywords = [w for p in first for w in p.title.replace(":", " ").split() if any(ch.isupper() for ch in w[1:])]
    return build_hotwords([*extra, *shorts], [*speakers, *authors], keywords, catalog)


def save_result(project: Any, slug: str, result: ProcessResult, *, options: ProcessOptions | None = None,
                title: str | None = None, notes: Path | None = None, papers: Sequence[Path] = (),
                audio: Path | None = None, locked: bool = False, later: bool = True) -> Episode:
    """Write ``result`` as episode ``slug`` (transcript, duration, audio), then the voice library,
    and (``later``) show notes, alignment and summaries when present. Takes the episode lock unless
    ``locked`` (then ``later`` must be False: the later stages take the lock themselves)."""
    store = project.content
    check_id(slug, "episode slug")
    if papers:
        from pipeline.sources.catalog import import_papers

        import_papers(project, list(papers))
    parsed_notes = None
    if notes is not None:
        from pipeline.sources.notes import parse_notes

        parsed_notes = parse_notes(Path(notes))

    def write() -> Episode:
        ep = store.load_episode(slug) if store.has_episode(slug) else Episode(slug=slug, title=title or slug)
        if title:
            ep.title = title
        ep.transcript = result.transcript
        ep.duration = round(result.duration, 3)
        if audio is not None and not re.match(r"https?://", ep.audio or ""):  # keep a public URL set by hand
            ep.audio = audio_reference(project, slug, audio)
        store.save_episode(ep, parts=("meta", "transcript"))
        return ep

    if locked:
        ep = write()
    else:
        with store.lock(slug):
            ep = write()
    if result.speaker_embeddings and importlib.util.find_spec("pipeline.audio.voices") is not None:
        from pipeline.audio.voices import apply_voice_library

        apply_voice_library(project, slug, result.speaker_embeddings, result.embedding_backend)
    if later and not locked:
        ep = run_later_stages(project, slug, parsed_notes, title)
    return ep


def run_later_stages(project: Any, slug: str, notes: Any = None, title: str | None = None) -> Episode:
    """Show notes (which run alignment themselves), else alignment; then summaries, when installed."""
    store = project.content
    if notes is not None:
        from pipeline.sources.notes import apply_notes

        apply_notes(project, slug, notes, title=title)
    elif importlib.util.find_spec("pipeline.align.episode") is not None:
        from pipeline.align.episode import run_align

        if store.load_episode(slug).transcript.utterances:
            run_align(project, slug)
    if importlib.util.find_spec("pipeline.summarize.summaries") is not None:
        from pipeline.summarize.summaries import run_summarize

        if store.load_episode(slug).transcript.utterances:
            run_summarize(project, slug)
    return store.load_episode(slug)


def _episode_vocabulary(project: Any, slug: str, audio_hash: str, make: Any) -> tuple[str, ...]:
    """The vocabulary prompt of this recording's first run, kept so that a re-run (after the notes
    added papers to the catalog) reuses the finished transcription instead of redoing it. Delete
    ``.cache/recap/vocabulary/`` to rebuild it from the current catalog."""
    import json

    from pipeline.content import atomic_write

    path = Path(project.cache_dir) / "vocabulary" / f"{slug}-{audio_hash[:24]}.json"
    if path.is_file():
        try:
            return tuple(json.loads(path.read_text("utf-8")))
        except ValueError:
            pass
    words = tuple(make())
    atomic_write(path, json.dumps(list(words)))
    return words


def run_process(project: Any, audio: Path, slug: str, options: ProcessOptions = ProcessOptions(), *,
                title: str | None = None, notes: Path | None = None, papers: Sequence[Path] = (),
                progress: Progress | None = None) -> tuple[Episode, ProcessResult]:
    """``recap process``: check every input first (audio, notes, papers), then process the recording
    under the episode's lock and write it through the ContentStore, then the later stages."""
    from pipeline.audio.decode import probe

    store = project.content
    check_id(slug, "episode slug")
    check_options(options.diarize)
    probe(Path(audio))
    parsed_notes = None
    if notes is not None:
        from pipeline.sources.notes import parse_notes

        parsed_notes = parse_notes(Path(notes))
    if papers:
        from pipeline.sources.catalog import read_papers

        for p in papers:  # a bad file fails here, before any audio work or write
            read_papers(Path(p))
    # everything the audio can fail on is checked before the lock file is created under content/
    decoded = decode(Path(audio), project.cache_dir, progress)
    with store.lock(slug):
        if papers:
            from pipeline.sources.catalog import import_papers

            import_papers(project, list(papers))
        opts = options
        if not opts.transcribe.hotwords:
            words = _episode_vocabulary(project, slug, decoded.audio_hash,
                                        lambda: vocabulary(store.load_papers().values(), parsed_notes))
            opts = replace(opts, transcribe=replace(opts.transcribe, hotwords=words))
        if parsed_notes is not None and opts.diarize.prior_speakers is None:
            names = {s for c in parsed_notes.chapters for s in c.speakers}
            if names:
                opts = replace(opts, diarize=replace(opts.diarize, prior_speakers=len(names)))
        result = process_recording(Path(audio), opts, project.cache_dir, progress)
        ep = save_result(project, slug, result, options=opts, title=title, audio=Path(audio), locked=True,
                         later=False)
    ep = run_later_stages(project, slug, parsed_notes, title)
    return ep, result


class ProgressBars:
    """Rich progress bars on stderr, one per stage, in audio time with an ETA. Use as a context
    manager; the instance is the ``progress(stage, done, total)`` callback."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._bars: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> ProgressBars:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            from pipeline.timefmt import format_timestamp

            class AudioTime(TextColumn):
                def render(self, task: Any) -> Any:
                    from rich.text import Text

                    return Text(f"{format_timestamp(task.completed)} / {format_timestamp(task.total or 0)} audio")

            self._bars = Progress(TextColumn("{task.description:<10}"), BarColumn(), AudioTime(""),
                                  TimeRemainingColumn(), console=Console(stderr=True), transient=False)
            self._bars.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._bars is not None:
            self._bars.__exit__(*exc)

    def __call__(self, stage: str, done: float, total: float) -> None:
        if self._bars is None:
            return
        if stage not in self._tasks:
            self._tasks[stage] = self._bars.add_task(stage, total=max(total, 1e-6))
        self._bars.update(self._tasks[stage], completed=min(done, total), total=max(total, 1e-6))
