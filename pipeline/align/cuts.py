"""Show notes from another cut of the recording: each chapter placed on its own, monotonically.

Podcast notes are often timed on another edit (an intro added, pauses cut, a question kept): no one
offset fits. :func:`place_notes` places the notes' chapter sequence on the transcript by dynamic
programming over candidate starts:

* **candidates** for a chapter: sentence starts within ``window`` seconds of its noted time;
* a candidate's **evidence**: the chapter's words (title, speakers) said in the ``after`` seconds from it
  (each weighted by its rarity in the recording, and more the sooner it is said: a chapter starts just
  before its subject is named), less the same words said just before it, plus the transcript's own cues
  there (a hand-over, a self-introduction, a sentence opening a new point);
* the **path**: chapters in the notes' order, at increasing times at least ``min_gap`` apart; a change of
  the notes-to-recording difference between neighbours costs a little (cuts drift slowly); a chapter whose
  best evidence is weak is **not found** (the recording lacks it: a podcast's own intro, a closing), not
  forced somewhere.
"""

from __future__ import annotations

import bisect
import logging
import math
from collections import defaultdict
from dataclasses import dataclass, replace

from pipeline.align.chapters import Boundary
from pipeline.align.topics import opener, sentence_start
from pipeline.models import Chapter, Utterance
from pipeline.text import STOP_WORDS, root, words
from pipeline.timefmt import format_timestamp

log = logging.getLogger(__name__)


@dataclass
class Placement:
    """What alignment did with one notes chapter (or a chapter it found)."""

    title: str
    noted: float  # the notes' time (a found chapter: where it was found)
    placed: float | None  # where it starts in this recording; None: not found
    status: str  # kept | shifted | moved | not_found | found (", contradicted" when kept against the cues)
    moved: float = 0.0  # placed - noted, seconds


@dataclass(frozen=True)
class CutOptions:
    window: float = 420.0  # seconds around a noted time where its chapter is looked for
    after: float = 90.0  # seconds after a candidate start read for the chapter's words
    before: float = 240.0  # seconds before it, where the same words count against it ...
    lead_in: float = 90.0  # ... except in the lead-in just before it
    min_gap: float = 60.0  # seconds between two placed chapters
    snap: float = 75.0  # seconds: a placed start moves forward to a self-introduction or named hand-over this close
    cue_weight: float = 0.4  # of a hand-over or self-introduction at a candidate (its score / 3, at most 1)
    min_evidence: float = 0.3  # below this a chapter is reported not found
    max_candidates: int = 40  # per chapter, the strongest
    near_peak: float = 0.8  # a candidate start needs this share of the chapter's best evidence
    strong: float = 2.0  # summed rarity of the chapter's words said at a start that is full evidence by itself
    drift_cost: float = 0.15  # per minute of change in the notes-to-recording difference between neighbours
    keep_within: float = 10.0  # a placed start this close to the noted time (plus the drift) keeps the noted time
    gap_over: float = 1800.0  # seconds: a gap between noted chapters longer than a talk is searched for chapters
    fuzzy: float = 80.0  # rapidfuzz ratio for a rare word heard differently ("Lachat" ~ "Lachet")


_TITLE_STOP = STOP_WORDS | frozenset(
    "keynote talk session intro introduction welcome part chapter closing remarks recap overview q a qa "
    "questions discussion best moments".split())


def _key(w: str) -> str:
    return root(w, 6)


def _index_terms(utts: list[Utterance]) -> dict[str, list[float]]:
    """Each word root -> the sorted times it is said at."""
    at: dict[str, list[float]] = defaultdict(list)
    for u in utts:
        for w in words(u.text):
            if len(w) > 2 and w not in STOP_WORDS:
                at[_key(w)].append(u.start)
    return at


def _chapter_terms(c: Chapter, names: list[str]) -> list[str]:
    text = " ".join([c.title, *names])
    out = [_key(w) for w in words(text) if len(w) > 2 and w not in _TITLE_STOP and not w.isdigit()]
    return list(dict.fromkeys(out))


def _heard(term: str, at: dict[str, list[float]], fuzzy: float) -> list[float]:
    if term in at:
        return at[term]
    if len(term) < 5:
        return []
    from rapidfuzz import fuzz

    times: list[float] = []
    for k, ts in at.items():
        if abs(len(k) - len(term)) <= 1 and k[0] == term[0] and fuzz.ratio(k, term) >= fuzzy:
            times += ts
    return sorted(times)


def place_notes(utts: list[Utterance], chapters: list[Chapter], candidates: list[Boundary],
                options: CutOptions | None = None, names: dict[int, list[str]] | None = None,
                ) -> tuple[list[Chapter], list[Placement], list[str]]:
    """Place ``chapters`` (notes chapters, in order) on ``utts``; returns the placed chapters (moved
    copies), a :class:`Placement` per input chapter and notes for the log. See the module docstring."""
    opts = options or CutOptions()
    if not utts or not chapters:
        return [], [Placement(c.title, c.start, None, "not_found") for c in chapters], []
    at = _index_terms(utts)
    duration = max(1.0, utts[-1].end - utts[0].start)
    n_min = max(1.0, duration / 60.0)
    starts_idx = [i for i in range(len(utts)) if sentence_start(utts, i) and utts[i].text.strip()]
    times = [utts[i].start for i in starts_idx]
    cue_at: dict[int, tuple[float, set[str]]] = {}  # utterance index -> (cue strength, name roots said there)
    for b in candidates:
        # a named hand-over or a self-introduction is a start; "here we go" in a live demo barely is
        said = {_key(w) for n in [*b.names, *b.handover] for w in words(n) if len(w) > 2}
        strength = min(1.0, b.score / 3.0) * (1.0 if said else 0.4)
        if strength > cue_at.get(b.index, (0.0, set()))[0]:
            cue_at[b.index] = (strength, said)
    per_chapter: list[list[tuple[float, float]]] = []  # (time, evidence)
    for k, c in enumerate(chapters):
        spoken = (names or {}).get(k, [])
        terms = _chapter_terms(c, spoken)
        name_terms = {_key(w) for n in spoken for w in words(n) if len(w) > 2}
        heard = {t: _heard(t, at, opts.fuzzy) for t in terms}
        # rarity: minutes of the recording the word is said in, against its length
        weight = {term: max(0.2, math.log(1.0 + n_min / (1.0 + len({int(x // 60) for x in ts}))))
                  for term, ts in heard.items()}
        for term in name_terms:  # a speaker's name is the strongest sign of a chapter's start
            if term in weight:
                weight[term] *= 2.0
        # a word the recording never has (a name the ASR heard otherwise) counts half against the chapter
        total = sum(w if heard[term] else 0.5 * w for term, w in weight.items()) or 1.0
        lo = bisect.bisect_left(times, c.start - opts.window)
        hi = bisect.bisect_right(times, c.start + opts.window)
        cands: list[tuple[float, float]] = []
        for j in range(lo, hi):
            t = times[j]
            ev = 0.0
            for term, ts in heard.items():
                if not ts:
                    continue
                a = bisect.bisect_left(ts, t)
                if a >= len(ts) or ts[a] - t > opts.after:
                    continue
                n_after = bisect.bisect_right(ts, t + opts.after) - a
                # said in the minutes before, not in the lead-in just before (a host names what comes next)
                n_before = bisect.bisect_left(ts, t - opts.lead_in) - bisect.bisect_left(ts, t - opts.before)
                onset = n_after / (n_after + n_before)  # first said here, not going on from before
                ev += weight[term] * onset * (1.0 - 0.5 * (ts[a] - t) / opts.after)
            # the share of the chapter's words said here, and how much rare evidence that is in itself
            ev = 0.5 * ev / total + 0.5 * min(1.0, ev / opts.strong)
            i = starts_idx[j]
            strength, said = cue_at.get(i, (0.0, set()))
            if said and name_terms:  # someone introduced here: this chapter's speaker, or someone else's start
                strength = strength if said & name_terms else 0.0
            elif said:
                strength *= 0.4  # a chapter naming nobody gains little from someone's introduction
            ev += opts.cue_weight * strength + (0.1 if opener(utts[i].text) else 0.0)
            cands.append((t, ev))
        # a chapter starts at a peak of its own evidence, not anywhere its words are within reach
        peak = max((e for _, e in cands), default=0.0)
        cands = [(t, e) for t, e in cands if e >= opts.near_peak * peak]
        cands = sorted(sorted(cands, key=lambda x: -x[1])[:opts.max_candidates])  # the DP stays small
        per_chapter.append(cands)
        top4 = sorted(cands, key=lambda y: -y[1])[:4]
        log.debug("%s: %s", c.title, [(format_timestamp(x), round(e, 2)) for x, e in top4])

    # dynamic programming: state = (chapter k, its candidate or "not found")
    neg = -1e9
    best: list[list[float]] = []
    back: list[list[tuple[int, int] | None]] = []
    # a running "last placed" state is carried by scanning all earlier chapters' states
    for k, cands in enumerate(per_chapter):
        row, brow = [], []
        for t, ev in cands:
            gain = ev - opts.min_evidence
            score, arg = gain, None
            for k2 in range(k - 1, -1, -1):
                for j2, (t2, _) in enumerate(per_chapter[k2]):
                    if best[k2][j2] <= neg or t2 > t - opts.min_gap:
                        continue
                    d1 = t - chapters[k].start
                    d2 = t2 - chapters[k2].start
                    s = best[k2][j2] + gain - opts.drift_cost * abs(d1 - d2) / 60.0
                    if s > score:
                        score, arg = s, (k2, j2)
            row.append(score if gain > -opts.min_evidence else neg)
            brow.append(arg)
        best.append(row)
        back.append(brow)
    end: tuple[int, int] | None = None
    top = 0.0
    for k, row in enumerate(best):
        for j, s in enumerate(row):
            if s > top:
                top, end = s, (k, j)
    chosen: dict[int, float] = {}
    while end is not None:
        k, j = end
        chosen[k] = per_chapter[k][j][0]
        end = back[k][j]
    # a host names what comes next: a start placed on the lead-in moves to the introduction just after it
    firm = sorted((b for b in candidates if "self-introduction" in b.cues or b.handover), key=lambda b: b.start)
    order = sorted(chosen)
    for n, k in enumerate(order):
        t = chosen[k]
        limit = chosen[order[n + 1]] - opts.min_gap if n + 1 < len(order) else float("inf")
        after = [b for b in firm if t < b.start <= min(t + opts.snap, limit)]
        if after:
            chosen[k] = max(after, key=lambda b: b.score).start
    placed: list[Chapter] = []
    placements: list[Placement] = []
    notes: list[str] = []
    for k, c in enumerate(chapters):
        if k not in chosen:
            placements.append(Placement(c.title, c.start, None, "not_found"))
            notes.append(f"chapter {c.title!r} ({format_timestamp(c.start)} in the notes) not found in "
                         f"this recording")
            continue
        t = chosen[k]
        placed.append(replace(c, start=round(t, 2), end=None, speakers=list(c.speakers)))
        placements.append(Placement(c.title, c.start, round(t, 2), "moved", round(t - c.start, 2)))
    if chosen:
        moves = [p.moved for p in placements if p.placed is not None]
        notes.insert(0, f"notes are on another cut: {len(chosen)} of {len(chapters)} chapters placed one by "
                        f"one (moved {min(moves):+.0f} s to {max(moves):+.0f} s), "
                        f"{len(chapters) - len(chosen)} not found")
    return placed, placements, notes
