"""Diarize: who spoke when, as speaker turns.

Backends:

* ``embedded`` (offline default): webrtcvad finds speech; resemblyzer's bundled speaker encoder embeds
  1.6 s windows every 0.25 s (0.5 s past 10 minutes); the windows are clustered (spectral clustering of the pruned
  cosine
  affinity; the number of speakers from the largest eigengap in [min, max], the show notes'
  speaker count as a soft prior). Labels are smoothed over time,
  then cut into turns on the speech regions.
* ``pyannote``: the pyannote.audio 4 pipeline (``pyannote/speaker-diarization-community-1`` or a local
  pipeline folder) with a Hugging Face token from the environment, on CUDA when present. Checked
  before any audio work: a missing extra, token or offline model fails at once, saying how to fix it.
* ``none``: one speaker for the whole recording.

Turns are plain :class:`Turn` records (picklable); :func:`to_annotation` gives a ``pyannote.core``
Annotation (RTTM, DER).
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
from pipeline.cache import StageCache
from pipeline.errors import ConfigError, DependencyMissing, ModelUnavailable, StageError

log = logging.getLogger(__name__)

DIARIZE_VERSION = 2
PYANNOTE_MODEL = "pyannote/speaker-diarization-community-1"
WINDOW = 1.6  # seconds per embedding window (resemblyzer's partial utterance)
HOP = 0.25
LONG_HOP = 0.5
"""Window step for recordings over 10 minutes (half the encoder work; turns stay at 10 ms resolution)."""
MIN_SPEECH = 0.8
"""Share of a window that must be speech for its embedding to be used."""
NEIGHBOUR_SECONDS = 3.0
"""Each window keeps at least this much speech (in windows: seconds / hop) of nearest neighbours in the
pruned affinity. With only the fixed share (15%), short recordings (tens of windows) broke into many
small components and the eigengap counted 5-8 speakers in 15 s of two people (bench/speakers.py)."""


@dataclass(frozen=True)
class DiarizeOptions:
    backend: str = "embedded"
    """embedded | pyannote | none"""
    num_speakers: int | None = None
    """Exact number of speakers, when known (--speakers)."""
    min_speakers: int = 1
    max_speakers: int = 8
    prior_speakers: int | None = None
    """Expected number of speakers (e.g. from show notes): a soft preference, not a constraint."""
    pyannote_model: str = PYANNOTE_MODEL
    """Hub id or local folder of a pyannote.audio pipeline."""
    hf_token_env: str = "HF_TOKEN"
    device: str = "auto"


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: str


def to_annotation(turns: Iterable[Turn], uri: str = "recording") -> Any:
    from pyannote.core import Annotation, Segment

    ann = Annotation(uri=uri)
    for i, t in enumerate(turns):
        if t.end > t.start:
            ann[Segment(t.start, t.end), i] = t.speaker
    return ann


def check_options(opts: DiarizeOptions) -> None:
    if opts.backend not in {"embedded", "pyannote", "none"}:
        raise ConfigError(f"--diarizer must be embedded, pyannote or none, not {opts.backend!r}")
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
    turns = _pyannote(audio, opts, progress) if opts.backend == "pyannote" else _embedded(audio, opts, progress)
    cache.save_json([[t.start, t.end, t.speaker] for t in turns])
    return turns


# -- embedded backend ------------------------------------------------------------------------------------
_ENCODER: dict[str, Any] = {}


def _encoder() -> Any:
    if "embedded" not in _ENCODER:
        try:
            from resemblyzer import VoiceEncoder
        except ImportError as exc:
            raise DependencyMissing(f"the embedded diarizer needs resemblyzer ({exc})",
                                    hint="`make install`, or pip install 'recap[embedded]' and "
                                         "pip install --no-deps resemblyzer; or use --diarizer none") from None
        _ENCODER["embedded"] = VoiceEncoder("cpu", verbose=False)
    return _ENCODER["embedded"]


def speech_mask(x: np.ndarray, sr: int = 16000, aggressiveness: int = 2) -> np.ndarray:
    """webrtcvad decision per 10 ms frame (True = speech), gaps < 0.3 s closed, bursts < 0.2 s dropped."""
    import webrtcvad

    vad = webrtcvad.Vad(aggressiveness)
    step = sr // 100  # 10 ms
    n = len(x) // step
    pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16)
    mask = np.zeros(n, dtype=bool)
    for i in range(0, n - 2, 3):  # webrtcvad takes 30 ms frames
        frame = pcm[i * step:(i + 3) * step].tobytes()
        mask[i:i + 3] = vad.is_speech(frame, sr)
    return _clean_mask(mask, close=30, drop=20)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _clean_mask(mask: np.ndarray, close: int, drop: int) -> np.ndarray:
    mask = mask.copy()
    runs = _runs(mask)
    for (_, a1), (b0, _) in zip(runs, runs[1:]):
        if b0 - a1 < close:
            mask[a1:b0] = True
    for a, b in _runs(mask):
        if b - a < drop:
            mask[a:b] = False
    return mask


def _window_embeddings(audio: DecodedAudio, progress: Progress | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mask per 10 ms frame, window start frames, embeddings) over the whole recording, block by block."""
    import torch
    from resemblyzer.audio import wav_to_mel_spectrogram

    enc = _encoder()
    total = audio.duration
    block = 600.0
    masks: list[np.ndarray] = []
    starts: list[int] = []
    embeds: list[np.ndarray] = []
    win, hop = int(WINDOW * 100), int(_hop(total) * 100)
    t = 0.0
    while t < total:
        x = audio.read(t, min(total, t + block + WINDOW))
        m = speech_mask(x[: int(min(block, total - t) * audio.sr)], audio.sr)
        masks.append(m)
        if m.any():
            speech = x[: len(m) * (audio.sr // 100)][np.repeat(m, audio.sr // 100)]
            rms = float(np.sqrt(np.mean(speech ** 2)))
            x = x * (10 ** (-30 / 20) / max(rms, 1e-4))  # speech at -30 dBFS, like resemblyzer's preprocessing
            mel = wav_to_mel_spectrogram(x)
            f0 = int(round(t * 100))
            cand = [s for s in range(0, len(m), hop) if s + win <= len(mel) and m[s:s + win].mean() >= MIN_SPEECH]
            for i in range(0, len(cand), 256):
                batch = np.stack([mel[s:s + win] for s in cand[i:i + 256]])
                with torch.no_grad():
                    embeds.append(enc(torch.from_numpy(batch)).numpy())
                starts.extend(f0 + s for s in cand[i:i + 256])
        t += block
        if progress:
            progress("diarize", min(t, total) * 0.8, total)
    mask = np.concatenate(masks) if masks else np.zeros(0, bool)
    emb = np.concatenate(embeds) if embeds else np.zeros((0, 256), np.float32)
    return mask, np.asarray(starts, dtype=int), emb


def _hop(duration: float) -> float:
    return HOP if duration <= 600 else LONG_HOP


def _normalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)


def _eigengap(emb: np.ndarray, prune: float, min_keep: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues and vectors of the normalised Laplacian of the cosine affinity, pruned to each
    window's ``prune`` share of nearest neighbours, and at least ``min_keep`` of them (the pruning of
    NME-SC, Park et al. 2019)."""
    sim = emb @ emb.T
    n = len(sim)
    keep = min(n - 1, max(2, min_keep, int(round(prune * n))))
    thr = np.sort(sim, axis=1)[:, -keep][:, None]
    aff = np.where(sim >= thr, np.clip(sim, 0, None), 0.0)
    aff = np.maximum(aff, aff.T)
    d = 1.0 / np.sqrt(np.maximum(aff.sum(1), 1e-9))
    lap = np.eye(n) - d[:, None] * aff * d[None, :]
    return np.linalg.eigh(lap)


def estimate_speakers(ev: np.ndarray, opts: DiarizeOptions) -> int:
    """Number of speakers from the largest eigengap in [min, max]; the prior wins when its gap is
    at least half the largest."""
    lo, hi = max(1, opts.min_speakers), min(opts.max_speakers, len(ev) - 1)
    gaps = {k: float(ev[k] - ev[k - 1]) for k in range(lo, hi + 1)}
    best = max(gaps, key=lambda k: gaps[k])
    if opts.prior_speakers in gaps and gaps[opts.prior_speakers] >= 0.5 * gaps[best]:
        best = opts.prior_speakers
    log.info("diarize: eigengaps %s -> %d speakers", {k: round(v, 3) for k, v in gaps.items()}, best)
    return best


def cluster(emb: np.ndarray, opts: DiarizeOptions, max_points: int = 2000, prune: float = 0.15,
            hop: float = HOP) -> np.ndarray:
    """Spectral clustering of window embeddings; the number of speakers comes from the eigengap
    unless given. Windows beyond ``max_points`` are assigned to the nearest centroid."""
    from sklearn.cluster import KMeans

    n = len(emb)
    if n < 4 or opts.num_speakers == 1 or opts.max_speakers == 1:
        return np.zeros(n, dtype=int)
    emb = _normalise(emb)
    idx = np.linspace(0, n - 1, min(n, max_points)).round().astype(int)
    sub = emb[idx]
    ev, vec = _eigengap(sub, prune, min_keep=int(round(NEIGHBOUR_SECONDS / hop)))
    k = min(opts.num_speakers, len(sub)) if opts.num_speakers else estimate_speakers(ev, opts)
    if k == 1:
        return np.zeros(n, dtype=int)
    x = _normalise(vec[:, :k])
    labels = KMeans(k, n_init=10, random_state=0).fit_predict(x)
    cents = _normalise(np.stack([sub[labels == j].mean(0) for j in range(k)]))
    if len(cents) == 1:
        return np.zeros(n, dtype=int)
    return np.argmax(emb @ cents.T, axis=1)


def _smooth(labels: np.ndarray, width: int = 5) -> np.ndarray:
    if len(labels) < width:
        return labels
    half = width // 2
    out = labels.copy()
    for i in range(len(labels)):
        window = labels[max(0, i - half): i + half + 1]
        out[i] = np.bincount(window).argmax()
    return out


def turns_from_windows(mask: np.ndarray, starts: np.ndarray, labels: np.ndarray) -> list[Turn]:
    """Give each 10 ms speech frame the label of the nearest window centre; merge into turns."""
    if len(starts) == 0:
        return []
    centres = starts + int(WINDOW * 100) // 2
    frames = np.flatnonzero(mask)
    pos = np.clip(np.searchsorted(centres, frames), 1, len(centres) - 1)
    nearer_left = (frames - centres[pos - 1]) < (centres[pos] - frames)
    if len(centres) > 1:
        frame_label = np.where(nearer_left, labels[pos - 1], labels[pos])
    else:
        frame_label = np.full(len(frames), labels[0])
    per_frame = np.full(len(mask), -1)
    per_frame[frames] = frame_label
    order: dict[int, str] = {}  # SPEAKER_00 is the first voice heard
    turns: list[Turn] = []
    i = 0
    while i < len(per_frame):
        if per_frame[i] < 0:
            i += 1
            continue
        j = i
        while j < len(per_frame) and per_frame[j] == per_frame[i]:
            j += 1
        lab = order.setdefault(int(per_frame[i]), f"SPEAKER_{len(order):02d}")
        turns.append(Turn(round(i / 100, 2), round(j / 100, 2), lab))
        i = j
    return turns


def _embedded(audio: DecodedAudio, opts: DiarizeOptions, progress: Progress | None) -> list[Turn]:
    mask, starts, emb = _window_embeddings(audio, progress)
    if len(emb) == 0:
        log.info("diarize: no speech found")
        return []
    labels = _smooth(cluster(emb, opts, hop=_hop(audio.duration)))
    turns = turns_from_windows(mask, starts, labels)
    if progress:
        progress("diarize", audio.duration, audio.duration)
    log.info("diarize: %d turns, %d speakers", len(turns), len({t.speaker for t in turns}))
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
    speaker's turns, with the same encoder the diarizer uses (resemblyzer for ``embedded``/``none``,
    pyannote's WeSpeaker ResNet for ``pyannote``). Embeddings of different backends are not comparable."""
    by_speaker: dict[str, list[np.ndarray]] = {}
    used: dict[str, float] = {}
    for t in sorted(turns, key=lambda t: t.end - t.start, reverse=True):  # longest, cleanest turns first
        if used.get(t.speaker, 0.0) >= max_seconds or t.end - t.start < 0.5:
            continue
        seg = np.asarray(samples[int(t.start * sr): int(t.end * sr)], dtype=np.float32)
        if seg.dtype != np.float32 or np.abs(seg).max(initial=0) > 1.5:
            seg = seg / 32768.0
        by_speaker.setdefault(t.speaker, []).append(seg)
        used[t.speaker] = used.get(t.speaker, 0.0) + t.end - t.start
    out: dict[str, np.ndarray] = {}
    for label, parts in sorted(by_speaker.items()):
        wav = np.concatenate(parts)
        if backend == "pyannote":
            vec = _pyannote_embedding(wav, sr)
        else:
            wav = wav * (10 ** (-30 / 20) / max(float(np.sqrt(np.mean(wav ** 2))), 1e-4))
            vec = _encoder().embed_utterance(wav)
        out[label] = _normalise(np.asarray(vec, dtype=np.float32))
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
