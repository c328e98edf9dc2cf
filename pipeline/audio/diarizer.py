"""The embedded diarizer: pyannote segmentation-3.0 + CAM++ embeddings + agglomerative clustering, on CPU.

The recipe of pyannote.audio's speaker-diarization pipeline, assembled from the networks in
:mod:`pipeline.audio.nets`:

1. **Segmentation**, streamed: 10 s chunks every ``step`` seconds; each chunk's powerset output gives up
   to 3 local speakers per 16.875 ms frame, 2 of them at once (overlapped speech). Only the binarised
   frames (1 byte per frame and local speaker) are kept, never the audio.
2. **Embeddings**: one CAM++ vector per (chunk, local speaker) from that speaker's frames in the chunk where
   it speaks alone (all its frames when that is too short).
3. **Clustering**: agglomerative (centroid linkage on unit vectors) cut at a distance threshold, which
   estimates the number of speakers; ``num_speakers`` / ``min``/``max`` and the show notes' count (a soft
   prior) choose another cut. Clusters with little speech join their nearest large one. Every (chunk,
   speaker) then goes to its nearest centroid, two local speakers of one chunk never to the same one.
4. **Reconstruction** (:mod:`pipeline.audio.turns`): per frame, the chunks' votes for each global speaker
   and the chunks' mean local speaker count give who speaks, overlap included.

Memory grows with the duration only through the binarised frames and embeddings (about 10 MB per hour
at the default step) and the reconstruction's per-frame arrays; clustering sees at most ``max_points``
embeddings (the rest are assigned to the centroids).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from pipeline.audio import nets
from pipeline.audio.decode import DecodedAudio, Progress
from pipeline.audio.turns import SpeakerCount, Turn, frames_to_turns, reconstruct

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DiarizerParams:
    step: float = 2.5
    """Seconds between segmentation chunks (10 s each)."""
    threshold: float = 0.875
    """Centroid-linkage merge distance (euclidean between unit CAM++ vectors) above which clusters stay apart."""
    linkage: str = "average"
    """scipy linkage method (euclidean distances between unit vectors)."""
    min_embed: float = 0.5
    """Seconds of speech a (chunk, speaker) needs for its embedding to take part in clustering."""
    min_cluster_share: float = 0.0015
    """A cluster with less than this share of the clustered speech (or under ``min_cluster_seconds``) joins
    its nearest larger cluster. Matters on long recordings only (30 s clips: 0.15 s): on the 35-minute
    concatenation of bench/diarize.py 0 gave 31 speakers for 23, 0.001 25, 0.0015 23, 0.002 21."""
    min_cluster_seconds: float = 0.0
    min_single_seconds: float = 0.6
    """A cluster of one embedding (one chunk's speaker) needs this much speech: in a 9 s one-voice cut, the
    segmentation's 0.5 s second local speaker made a second speaker. Real short speakers recur in several
    overlapping chunks."""
    single_max_similarity: float = 0.5
    """...and must be this far from every other cluster (cosine below it): in a 9 s one-voice cut the
    segmentation's 1 s second local speaker scored 0.60 against the first."""
    prior_tolerance: float = 0.2
    """The show notes' count wins when its cut lies within this distance of the threshold."""
    max_points: int = 3000
    batch: int = 8


@dataclass
class Chunks:
    """Pass 1's output: binarised local activity and the embeddings of the local speakers."""

    starts: np.ndarray  # (C,) seconds
    activity: np.ndarray  # (C, F, 3) uint8
    emb: np.ndarray  # (N, 192) unit vectors
    owner: np.ndarray  # (N, 2) chunk index, local speaker
    speech: np.ndarray  # (N,) seconds of speech behind each embedding
    duration: float


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Few threads: on 2 shared cores CAM++ ran 10x slower with 2 threads than with 1 under load."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.set_num_threads(before)


def _powerset_to_multilabel(logp: np.ndarray) -> np.ndarray:
    """(B, F, 7) log-probabilities -> (B, F, 3) active local speakers of the most likely class."""
    table = np.zeros((len(nets.POWERSET), 3), dtype=np.uint8)
    for i, speakers in enumerate(nets.POWERSET):
        table[i, list(speakers)] = 1
    return table[logp.argmax(-1)]


def chunk_starts(duration: float, step: float) -> np.ndarray:
    """Start of every 10 s chunk; the last one ends at the recording's end (or starts at 0)."""
    if duration <= nets.CHUNK:
        return np.zeros(1)
    starts = np.arange(0.0, duration - nets.CHUNK, step)
    return np.append(starts, duration - nets.CHUNK)


def _embed(net: object, wave: np.ndarray) -> np.ndarray:
    import torch

    feats = nets.fbank(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)))
    return _unit(net(feats[None])[0].numpy())  # type: ignore[operator]


def _speaker_audio(x: np.ndarray, act: np.ndarray, spk: int, min_embed: float) -> tuple[np.ndarray, float]:
    """Samples of local speaker ``spk`` alone (or with others when alone is under ``min_embed``)."""
    alone = (act[:, spk] == 1) & (act.sum(1) == 1)
    frames = alone if alone.sum() * nets.FRAME_STEP >= min_embed else act[:, spk] == 1
    seconds = float(frames.sum() * nets.FRAME_STEP)
    if seconds == 0:
        return np.zeros(0, np.float32), 0.0
    step = int(round(nets.FRAME_STEP * nets.SAMPLE_RATE))
    per_sample = np.repeat(frames, step)
    per_sample = np.pad(per_sample, (0, max(0, len(x) - len(per_sample))))[: len(x)]
    return x[per_sample], seconds


def segment_and_embed(audio: DecodedAudio, params: DiarizerParams, progress: Progress | None = None) -> Chunks:
    """Pass 1, streamed over the recording ``params.batch`` chunks at a time."""
    import torch

    seg, cam = nets.segmentation(), nets.campplus()
    sr = nets.SAMPLE_RATE
    if audio.sr != sr:
        raise ValueError(f"the diarizer needs {sr} Hz audio, not {audio.sr}")
    total = audio.duration
    starts = chunk_starts(total, params.step)
    size = int(nets.CHUNK * sr)
    frames = nets.num_frames(size)
    activity = np.zeros((len(starts), frames, 3), dtype=np.uint8)
    emb: list[np.ndarray] = []
    owner: list[tuple[int, int]] = []
    speech: list[float] = []
    with _torch_threads(1):
        for b0 in range(0, len(starts), params.batch):
            idx = range(b0, min(len(starts), b0 + params.batch))
            waves = np.zeros((len(idx), size), dtype=np.float32)
            for j, c in enumerate(idx):
                x = np.asarray(audio.read(float(starts[c]), min(total, float(starts[c]) + nets.CHUNK)), np.float32)
                waves[j, : min(size, len(x))] = x[:size]
            logp = seg(torch.from_numpy(waves)[:, None, :]).numpy()
            act = _powerset_to_multilabel(logp)
            activity[b0: b0 + len(idx)] = act
            for j, c in enumerate(idx):
                for s in range(3):
                    if act[j, :, s].sum() * nets.FRAME_STEP < 0.2:
                        continue
                    wave, seconds = _speaker_audio(waves[j], act[j], s, params.min_embed)
                    if len(wave) < 0.2 * sr:
                        continue
                    emb.append(_embed(cam, wave))
                    owner.append((c, s))
                    speech.append(seconds)
            if progress:
                progress("diarize", min(total, float(starts[idx[-1]]) + nets.CHUNK) * 0.9, total)
    return Chunks(starts=starts, activity=activity,
                  emb=np.asarray(emb, np.float32).reshape(-1, 192), owner=np.asarray(owner, int).reshape(-1, 2),
                  speech=np.asarray(speech, np.float32), duration=total)


def _cut(z: np.ndarray, n: int, k: int) -> np.ndarray:
    from scipy.cluster.hierarchy import fcluster

    return fcluster(z, k, criterion="maxclust") - 1 if k < n else np.arange(n)


def _count_at(z: np.ndarray, n: int, threshold: float) -> int:
    return int(n - np.sum(z[:, 2] <= threshold))


def cluster(chunks: Chunks, count: SpeakerCount, params: DiarizerParams) -> np.ndarray:
    """Global speaker index per embedding (-1: none), by agglomerative clustering of the reliable ones."""
    from scipy.cluster.hierarchy import linkage

    n = len(chunks.emb)
    if n == 0:
        return np.zeros(0, int)
    if count.num == 1 or count.max == 1:
        return np.zeros(n, int)
    reliable = np.flatnonzero(chunks.speech >= params.min_embed)
    if len(reliable) < 2:
        return np.zeros(n, int)
    if len(reliable) > params.max_points:  # the longest first, spread over the recording
        keep = np.sort(np.argsort(-chunks.speech[reliable], kind="stable")[: params.max_points])
        reliable = reliable[keep]
    x = chunks.emb[reliable]
    z = linkage(x, method=params.linkage, metric="euclidean")
    m = len(x)
    labels = _cut(z, m, _count_at(z, m, params.threshold))
    labels = _merge_small(x, labels, chunks.speech[reliable], params)
    k = len(set(labels.tolist()))
    wanted = _wanted(z, m, k, count, params)
    if wanted != k:
        labels = _cut(z, m, wanted)
        if count.num is None:
            labels = _merge_small(x, labels, chunks.speech[reliable], params, keep_at_least=max(1, count.min))
    log.info("diarize: %d embeddings clustered into %d speakers (threshold gives %d)", m,
             len(set(labels.tolist())), k)
    return assign(chunks, reliable, labels)


def _wanted(z: np.ndarray, m: int, k: int, count: SpeakerCount, params: DiarizerParams) -> int:
    if count.num is not None:
        return max(1, min(count.num, m))
    lo, hi = max(1, count.min), max(1, min(count.max, m))
    if count.prior is not None and lo <= count.prior <= hi and count.prior != k and count.prior < m:
        height = float(z[m - count.prior - 1, 2])  # the merge that leaves prior clusters
        nxt = float(z[m - count.prior, 2]) if count.prior > 1 else height
        if min(abs(height - params.threshold), abs(nxt - params.threshold)) <= params.prior_tolerance:
            return count.prior
    return min(max(k, lo), hi)


def _merge_small(x: np.ndarray, labels: np.ndarray, speech: np.ndarray, params: DiarizerParams,
                 keep_at_least: int = 1) -> np.ndarray:
    """Clusters with little speech join the nearest cluster with enough (pyannote's min_cluster_size)."""
    labels = labels.copy()
    total = float(speech.sum())
    while True:
        ids = sorted(set(labels.tolist()))
        if len(ids) <= keep_at_least:
            break
        amount = {i: float(speech[labels == i].sum()) for i in ids}
        limit = max(params.min_cluster_seconds, params.min_cluster_share * total)
        members = {i: int(np.sum(labels == i)) for i in ids}
        cents = {i: _unit(x[labels == i].mean(0)) for i in ids}
        nearest = {i: max((float(cents[i] @ cents[j]) for j in ids if j != i), default=-1.0) for i in ids}
        small = [i for i in ids if amount[i] < limit or (members[i] == 1 and (
            amount[i] < params.min_single_seconds or nearest[i] >= params.single_max_similarity))]
        large = [i for i in ids if i not in small]
        if small and not large:  # all weak: the one with most speech stays
            large = [max(small, key=lambda i: amount[i])]
            small.remove(large[0])
        if not small:
            break
        worst = min(small, key=lambda i: amount[i])
        target = large[int(np.argmax([float(cents[i] @ cents[worst]) for i in large]))]
        labels[labels == worst] = target
    remap = {old: new for new, old in enumerate(sorted(set(labels.tolist())))}
    return np.array([remap[v] for v in labels.tolist()], int)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-9)


def assign(chunks: Chunks, members: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each (chunk, local speaker) to a centroid; within a chunk the assignment is one-to-one
    (Hungarian) when there are enough speakers."""
    from scipy.optimize import linear_sum_assignment

    k = int(labels.max()) + 1
    w = chunks.speech[members][:, None]
    cents = np.stack([_unit((chunks.emb[members][labels == j] * w[labels == j]).sum(0)) for j in range(k)])
    sim = chunks.emb @ cents.T
    out = np.argmax(sim, axis=1) if k > 0 else np.zeros(len(chunks.emb), int)
    if k > 1:
        order = np.argsort(chunks.owner[:, 0], kind="stable")
        bounds = np.flatnonzero(np.diff(chunks.owner[order, 0])) + 1
        for group in np.split(order, bounds):
            if 1 < len(group) <= k:
                rows, cols = linear_sum_assignment(-sim[group])
                out[group[rows]] = cols
    return out


def diarize_embedded(audio: DecodedAudio, count: SpeakerCount, params: DiarizerParams = DiarizerParams(),
                     progress: Progress | None = None) -> list[Turn]:
    """Speaker turns of a recording, overlapping where two people speak at once."""
    chunks = segment_and_embed(audio, params, progress)
    if len(chunks.emb) == 0:
        log.info("diarize: no speech found")
        return []
    labels = cluster(chunks, count, params)
    frames = reconstruct(chunks.starts, chunks.activity, chunks.owner, labels, chunks.duration)
    turns = frames_to_turns(frames)
    if progress:
        progress("diarize", audio.duration, audio.duration)
    log.info("diarize: %d turns, %d speakers", len(turns), len({t.speaker for t in turns}))
    return turns


def voice_embedding(wave: np.ndarray, max_seconds: float = 60.0) -> np.ndarray:
    """One CAM++ vector of a speaker's speech (the voice library's embedding for this backend)."""
    with _torch_threads(1):
        return _embed(nets.campplus(), np.asarray(wave[: int(max_seconds * nets.SAMPLE_RATE)], np.float32))
