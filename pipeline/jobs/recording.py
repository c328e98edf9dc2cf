"""The per-recording job, worker side: decode -> transcribe -> diarize -> attribute -> voice vectors.

:func:`process_recording` is a plain, picklable function of (audio, options): it touches only the stage
cache, never ``content/``, so :mod:`pipeline.jobs.batch` runs it in the driver (``recap process``), on
process-pool workers or on Ray actors alike. Loaded models live in module-level caches
(:mod:`pipeline.audio.transcribe`, :mod:`pipeline.audio.diarize`) and are reused across recordings in one
worker. The driver side (checking inputs, writing the result into ``content/``) is :mod:`pipeline.jobs.episode`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.audio.attribute import AttributeOptions, attribute
from pipeline.audio.decode import DecodedAudio, Progress, decode
from pipeline.audio.diarize import PYANNOTE_MODEL, DiarizeOptions, Turn, check_options, diarize, speaker_embeddings
from pipeline.audio.transcribe import TranscribeOptions, transcribe
from pipeline.cache import StageCache
from pipeline.errors import DependencyMissing
from pipeline.models import Transcript

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
                            min_speakers=given.get("min_speakers") or 1, max_speakers=given.get("max_speakers") or 30,
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
    backend = options.diarize.backend if options.diarize.backend in {"pyannote", "resemblyzer"} else "embedded"
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
    return ProcessResult(transcript, turns, decoded.duration, decoded.audio_hash, embeddings, backend, messages,
                         timings)


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
    np.savez(tmp, **emb)  # type: ignore[arg-type]  # numpy's stub types **kwds as bool
    os.replace(tmp, path)
    return emb
