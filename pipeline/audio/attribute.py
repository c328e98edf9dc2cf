"""Attribute: give each transcribed word the speaker whose turns overlap it most, then build utterances.

Overlapped speech (the embedded diarizer keeps it): a word that turns of several speakers cover goes to the
speaker with the shortest of those turns, so a short reply spoken over a long turn gets its own speaker.
Robustness: a word with no overlapping turn (Whisper timestamps drift into pauses) takes the nearest
turn; a word whose overlap with its speaker is weak and whose neighbours in the same segment agree on
another speaker follows its neighbours (boundary jitter), while a short reply that really overlaps
another speaker's turn ("Hello?") keeps its own speaker. Utterances are split at speaker changes,
pauses longer than ``max_pause``, a change of suspect-segment flags, and sentence ends once longer
than ``max_duration``. Every word keeps its probability.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.audio.diarize import Turn
from pipeline.models import Segment, Transcript, Utterance, Word


@dataclass(frozen=True)
class AttributeOptions:
    max_pause: float = 1.0
    """Start a new utterance after a silence this long (seconds), even with the same speaker."""
    max_duration: float = 30.0
    """Start a new utterance at the next sentence end once an utterance is this long."""
    weak_overlap: float = 0.5
    """A word covered less than this by its speaker's turns may follow its neighbours."""


class TurnIndex:
    """Speaker turns sorted by start, for overlap queries."""

    def __init__(self, turns: Sequence[Turn]) -> None:
        self.turns = sorted((t for t in turns if t.end > t.start), key=lambda t: t.start)
        self.starts = [t.start for t in self.turns]
        self.max_len = max((t.end - t.start for t in self.turns), default=0.0)

    def overlaps(self, start: float, end: float) -> dict[str, float]:
        return {s: ov for s, (ov, _) in self.coverage(start, end).items()}

    def coverage(self, start: float, end: float) -> dict[str, tuple[float, float]]:
        """Speaker -> (seconds of overlap with [start, end], length of the shortest turn overlapping it)."""
        out: dict[str, tuple[float, float]] = {}
        i = bisect.bisect_left(self.starts, start - self.max_len)
        while i < len(self.turns) and self.turns[i].start < end:
            t = self.turns[i]
            ov = min(end, t.end) - max(start, t.start)
            if ov > 0:
                got, shortest = out.get(t.speaker, (0.0, float("inf")))
                out[t.speaker] = (got + ov, min(shortest, t.end - t.start))
            i += 1
        return out

    def nearest(self, time: float) -> str | None:
        if not self.turns:
            return None
        i = bisect.bisect_left(self.starts, time)
        cands = self.turns[max(0, i - 3): i + 2]
        def distance(t: Turn) -> float:
            return 0.0 if t.start <= time <= t.end else min(abs(t.start - time), abs(t.end - time))

        return min(cands, key=distance).speaker


def word_speakers(words: Sequence[tuple[float, float, int]], turns: Sequence[Turn],
                  opts: AttributeOptions = AttributeOptions()) -> list[str | None]:
    """Speaker label for each (start, end, segment index) word."""
    index = TurnIndex(turns)
    labels: list[str | None] = []
    cover: list[float] = []
    for start, end, _ in words:
        end = max(end, start + 0.02)
        cov = index.coverage(start, end)
        if cov:
            # overlapped speech: of the speakers covering the word (nearly) fully, the one with the shortest
            # turn there -- a one-word reply ("Neither did I") under someone's long turn is the reply's
            full = [s for s, (ov, _) in cov.items() if ov >= 0.8 * (end - start)]
            best = (min(full, key=lambda s: cov[s][1]) if len(full) > 1
                    else max(cov, key=lambda s: cov[s][0]))
            labels.append(best)
            cover.append(cov[best][0] / (end - start))
        else:
            labels.append(index.nearest((start + end) / 2))
            cover.append(0.0)
    for i in range(1, len(words) - 1):  # boundary jitter inside one segment
        prev, nxt = labels[i - 1], labels[i + 1]
        same_seg = words[i - 1][2] == words[i][2] == words[i + 1][2]
        if same_seg and prev == nxt and labels[i] != prev and cover[i] < opts.weak_overlap:
            labels[i] = prev
    return labels


def attribute(segments: Sequence[Segment], turns: Sequence[Turn], *, language: str | None = None,
              source: str | None = None, opts: AttributeOptions = AttributeOptions()) -> Transcript:
    """Transcript from the recogniser's segments (their words and flags) and diarization turns."""
    flat: list[tuple[Word, int]] = []
    for si, seg in enumerate(segments):
        for w in seg.words or [Word(seg.text, seg.start, seg.end)]:
            if w.text.strip():
                flat.append((Word(text=w.text, start=float(w.start), end=float(max(w.end, w.start)),
                                  probability=None if w.probability is None else float(w.probability)), si))
    labels = word_speakers([(w.start, w.end, si) for w, si in flat], turns, opts)
    if not turns:
        labels = ["SPEAKER_00"] * len(flat)
    utterances: list[Utterance] = []
    cur: list[Word] = []
    cur_flags: tuple[str, ...] = ()
    cur_speaker: str | None = None

    def close() -> None:
        if cur:
            text = "".join(w.text for w in cur).strip()
            utterances.append(Utterance(start=round(cur[0].start, 3), end=round(cur[-1].end, 3),
                                        text=" ".join(text.split()),
                                        speaker=cur_speaker, words=[_clean(w) for w in cur], flags=list(cur_flags)))

    for (word, si), speaker in zip(flat, labels):
        flags = tuple(segments[si].flags)
        if cur:
            pause = word.start - cur[-1].end
            long_done = cur[-1].end - cur[0].start > opts.max_duration and cur[-1].text.rstrip()[-1:] in ".?!"
            if speaker != cur_speaker or pause > opts.max_pause or flags != cur_flags or long_done:
                close()
                cur = []
        if not cur:
            cur_speaker, cur_flags = speaker, flags
        cur.append(word)
    close()
    return Transcript(utterances=utterances, language=language, source=source)


def _clean(w: Word) -> Word:
    return Word(text=w.text.strip(), start=round(w.start, 3), end=round(w.end, 3),
                probability=None if w.probability is None else round(w.probability, 3))
