"""The resemblyzer diarizer (``--diarizer resemblyzer``): recap's first embedded backend, kept as a named
alternative and as the baseline of ``bench/diarize.py``.

webrtcvad finds speech; resemblyzer's bundled speaker encoder embeds 1.6 s windows every 0.25 s (0.5 s past
10 minutes); the windows are clustered (spectral clustering of the pruned cosine affinity; the number of
speakers from the largest eigengap in [min, max], the show notes' speaker count as a soft prior). Labels are
smoothed over time, then cut into turns on the speech regions.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from pipeline.audio.decode import DecodedAudio, Progress
from pipeline.audio.turns import SpeakerCount, Turn
from pipeline.errors import DependencyMissing

log = logging.getLogger(__name__)

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


_ENCODER: dict[str, Any] = {}


def encoder() -> Any:
    if "resemblyzer" not in _ENCODER:
        try:
            from resemblyzer import VoiceEncoder
        except ImportError as exc:
            raise DependencyMissing(f"the embedded diarizer needs resemblyzer ({exc})",
                                    hint="`make install`, or pip install 'recap[embedded]' and "
                                         "pip install --no-deps resemblyzer; or use --diarizer embedded/none") from None
        _ENCODER["resemblyzer"] = VoiceEncoder("cpu", verbose=False)
    return _ENCODER["resemblyzer"]


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


def window_embeddings(audio: DecodedAudio, progress: Progress | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mask per 10 ms frame, window start frames, embeddings) over the whole recording, block by block."""
    import torch
    from resemblyzer.audio import wav_to_mel_spectrogram

    enc = encoder()
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


def normalise(x: np.ndarray) -> np.ndarray:
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


def estimate_speakers(ev: np.ndarray, count: SpeakerCount) -> int:
    """Number of speakers from the largest eigengap in [min, max]; the prior wins when its gap is
    at least half the largest."""
    lo, hi = max(1, count.min), min(count.max, len(ev) - 1)
    gaps = {k: float(ev[k] - ev[k - 1]) for k in range(lo, hi + 1)}
    best = max(gaps, key=lambda k: gaps[k])
    if count.prior in gaps and gaps[count.prior] >= 0.5 * gaps[best]:
        best = count.prior
    log.info("diarize: eigengaps %s -> %d speakers", {k: round(v, 3) for k, v in gaps.items()}, best)
    return best


def cluster(emb: np.ndarray, count: SpeakerCount, max_points: int = 2000, prune: float = 0.15,
            hop: float = HOP) -> np.ndarray:
    """Spectral clustering of window embeddings; the number of speakers comes from the eigengap
    unless given. Windows beyond ``max_points`` are assigned to the nearest centroid."""
    from sklearn.cluster import KMeans

    n = len(emb)
    if n < 4 or count.num == 1 or count.max == 1:
        return np.zeros(n, dtype=int)
    emb = normalise(emb)
    idx = np.linspace(0, n - 1, min(n, max_points)).round().astype(int)
    sub = emb[idx]
    ev, vec = _eigengap(sub, prune, min_keep=int(round(NEIGHBOUR_SECONDS / hop)))
    k = min(count.num, len(sub)) if count.num else estimate_speakers(ev, count)
    if k == 1:
        return np.zeros(n, dtype=int)
    x = normalise(vec[:, :k])
    labels = KMeans(k, n_init=10, random_state=0).fit_predict(x)
    cents = normalise(np.stack([sub[labels == j].mean(0) for j in range(k)]))
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


def diarize_resemblyzer(audio: DecodedAudio, count: SpeakerCount, progress: Progress | None) -> list[Turn]:
    mask, starts, emb = window_embeddings(audio, progress)
    if len(emb) == 0:
        log.info("diarize: no speech found")
        return []
    labels = _smooth(cluster(emb, count, hop=_hop(audio.duration)))
    turns = turns_from_windows(mask, starts, labels)
    if progress:
        progress("diarize", audio.duration, audio.duration)
    log.info("diarize: %d turns, %d speakers", len(turns), len({t.speaker for t in turns}))
    return turns
