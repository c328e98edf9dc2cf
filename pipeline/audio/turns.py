"""Speaker turns: the diarizers' output record, the embedded diarizer's frame-level reconstruction, RTTM.

:func:`reconstruct` turns the chunks' local activity and their speakers' global labels into one
(frames, speakers) activity matrix: each global speaker's score at a frame is the share of the chunks
covering that frame in which it is active; the number of speakers at the frame is the rounded mean of the
chunks' local counts (pyannote's aggregation), and the best-scored speakers up to that count are active.
Overlapped speech therefore stays (two turns cover the same time).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.audio import nets


@dataclass(frozen=True)
class SpeakerCount:
    """What the caller knows about the number of speakers (every backend honours it)."""

    num: int | None = None
    """Exact number (--speakers)."""
    min: int = 1
    max: int = 30
    prior: int | None = None
    """Expected number (the show notes' speakers): a soft preference, not a constraint."""


@dataclass(frozen=True)
class Turn:
    start: float
    end: float
    speaker: str


def to_annotation(turns: Iterable[Turn], uri: str = "recording") -> Any:
    """A ``pyannote.core`` Annotation of the turns (overlapping turns stay separate tracks)."""
    from pyannote.core import Annotation, Segment

    ann = Annotation(uri=uri)
    for i, t in enumerate(turns):
        if t.end > t.start:
            ann[Segment(t.start, t.end), i] = t.speaker
    return ann


def rttm(turns: Iterable[Turn], uri: str, names: dict[str, str] | None = None) -> str:
    """NIST RTTM of the turns (one line per turn, a speaker's touching turns joined), written by pyannote.core."""
    names = names or {}
    renamed = [Turn(t.start, t.end, "_".join((names.get(t.speaker) or t.speaker).split())) for t in turns]
    buf = io.StringIO()
    to_annotation(renamed, uri).support(collar=0.0).write_rttm(buf)
    return buf.getvalue()


def reconstruct(starts: np.ndarray, activity: np.ndarray, owner: np.ndarray, labels: np.ndarray,
                duration: float, max_overlap: int = 2) -> np.ndarray:
    """(G, K) uint8 activity of the K global speakers on the recording's frame grid (``nets.FRAME_STEP``)."""
    k = int(labels.max()) + 1 if len(labels) else 0
    n_frames = activity.shape[1]
    total = int(np.ceil(duration / nets.FRAME_STEP)) + 1
    if k == 0:
        return np.zeros((total, 0), np.uint8)
    offsets = np.round(starts / nets.FRAME_STEP).astype(int)
    total = max(total, int(offsets[-1]) + n_frames)
    score = np.zeros((total, k), np.float32)
    local_count = np.zeros(total, np.float32)
    covered = np.zeros(total, np.float32)
    mapping = np.full((len(starts), 3), -1, int)
    mapping[owner[:, 0], owner[:, 1]] = labels
    for c, off in enumerate(offsets):
        act = activity[c]
        covered[off: off + n_frames] += 1
        local_count[off: off + n_frames] += act.sum(1)
        contrib = np.zeros((n_frames, k), np.float32)
        for s in range(3):
            g = mapping[c, s]
            if g >= 0:
                contrib[:, g] = np.maximum(contrib[:, g], act[:, s])
        score[off: off + n_frames] += contrib
    covered = np.maximum(covered, 1)
    count = np.minimum(np.rint(local_count / covered), max_overlap).astype(int)
    count = np.minimum(count, k)
    order = np.argsort(-score, axis=1, kind="stable")
    out = np.zeros((total, k), np.uint8)
    rows = np.arange(total)
    for rank in range(min(max_overlap, k)):
        on = (count > rank) & (score[rows, order[:, rank]] > 0)
        out[rows[on], order[on, rank]] = 1
    last = int(np.ceil(duration / nets.FRAME_STEP))
    return out[:last]


def _fill_gaps(col: np.ndarray, gap: int) -> np.ndarray:
    col = col.copy()
    on = np.flatnonzero(col)
    if len(on) < 2:
        return col
    jumps = np.flatnonzero(np.diff(on) > 1)
    for j in jumps:
        a, b = on[j], on[j + 1]
        if b - a - 1 <= gap:
            col[a:b] = 1
    return col


def frames_to_turns(frames: np.ndarray, min_gap: float = 0.1, min_turn: float = 0.05) -> list[Turn]:
    """Turns from a (G, K) activity matrix: each speaker's runs of active frames, gaps under ``min_gap``
    closed, runs under ``min_turn`` dropped; SPEAKER_00 is the first voice heard. Sorted by start."""
    spans: list[tuple[float, float, int]] = []
    gap = int(round(min_gap / nets.FRAME_STEP))
    for g in range(frames.shape[1]):
        col = _fill_gaps(frames[:, g], gap)
        d = np.diff(np.concatenate([[0], col.astype(np.int8), [0]]))
        for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)):
            start = a * nets.FRAME_STEP + nets.FRAME_DURATION / 2 - nets.FRAME_STEP / 2
            end = b * nets.FRAME_STEP + nets.FRAME_DURATION / 2 - nets.FRAME_STEP / 2
            if end - start >= min_turn:
                spans.append((max(0.0, start), end, g))
    spans.sort()
    order: dict[int, str] = {}
    return [Turn(round(float(s), 3), round(float(e), 3), order.setdefault(g, f"SPEAKER_{len(order):02d}"))
            for s, e, g in spans]


def speakers(turns: Sequence[Turn]) -> list[str]:
    """Speaker labels in order of first appearance."""
    return list(dict.fromkeys(t.speaker for t in sorted(turns, key=lambda t: t.start)))


DIARIZATION_FILE = "diarization.rttm"
"""The diarizer's own turns, kept beside an episode's transcript (``content/episodes/<slug>/``)."""


def read_rttm(text: str, source: str = "RTTM") -> list[Turn]:
    """Turns of an RTTM text (``SPEAKER`` lines); a malformed line raises ValueError naming it."""
    out: list[Turn] = []
    for n, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if not parts or parts[0] != "SPEAKER":
            continue
        try:
            start, duration = float(parts[3]), float(parts[4])
            out.append(Turn(start, start + duration, parts[7]))
        except (IndexError, ValueError):
            raise ValueError(f"{source}:{n}: not an RTTM SPEAKER line: {line.strip()[:80]!r}") from None
    return out
