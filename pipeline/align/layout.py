"""The chapter layout of an episode: where chapters start, and why.

* **No notes**: the structural starts :func:`~pipeline.align.chapters.find_boundaries` finds (hand-overs,
  introductions), then every stretch longer than a few sections (``TopicOptions.split_over`` x the target
  length) is split into topic sections (:mod:`pipeline.align.topics`): a keynote has no hand-overs.
* **Notes on the same cut** (their starts agree with the transcript's cues, maybe after one offset):
  every noted time is kept exactly; a start the recording contradicts (no cue near it, one firm cue
  a little away) is kept and reported.
* **Notes on another cut**: every chapter is placed on its own (:mod:`pipeline.align.cuts`), or
  reported not found.
* **Partial notes**: after the last noted chapter, and in gaps between noted chapters longer than a
  talk, chapters are found from the recording (``source="auto"``: found, not noted).

Every notes chapter gets a :class:`~pipeline.align.cuts.Placement` (kept, shifted, moved, not_found;
found chapters too) in the result, with the seconds it moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pipeline.align.chapters import Boundary, find_boundaries, reconcile_notes
from pipeline.align.cuts import CutOptions, Placement, place_notes
from pipeline.align.topics import TopicOptions, topic_sections
from pipeline.models import Chapter, Utterance
from pipeline.timefmt import format_timestamp


@dataclass
class Layout:
    chapters: list[Chapter]
    boundary_of: dict[int, Boundary | None]  # chapter index -> the boundary evidence at its start
    placements: list[Placement] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _index_at(utts: list[Utterance], t: float) -> int:
    return next((i for i, u in enumerate(utts) if u.start >= t - 0.5), len(utts))


def _sections(utts: list[Utterance], starts: list[float], end: float, topics: TopicOptions, *,
              embeddings: bool, cache_dir: Path | None, skip: set[int] | None = None) -> list[Boundary]:
    """Topic sections in every stretch between ``starts`` (sorted) that is longer than the split length;
    ``skip``: stretch indices not to split (a noted chapter's own span)."""
    out: list[Boundary] = []
    bounds = [*starts, end]
    for k in range(len(bounds) - 1):
        a, b = bounds[k], bounds[k + 1]
        if (skip and k in skip) or b - a <= topics.split_over * topics.target:
            continue
        lo, hi = _index_at(utts, a), _index_at(utts, b)
        for s in topic_sections(utts, lo, hi, topics, embeddings=embeddings, cache_dir=cache_dir):
            out.append(Boundary(index=s.index, start=s.start, score=s.confidence,
                                cues=[f"topic section (depth {s.depth:.2f})"]))
    return out


def auto_layout(utts: list[Utterance], candidates: list[Boundary], *, threshold: float, min_gap: float,
                labelled: bool, topics: TopicOptions, embeddings: bool, cache_dir: Path | None) -> Layout:
    """Chapters found from the transcript alone (an "Introduction" before the first one)."""
    found = find_boundaries(candidates, threshold=threshold, min_gap=min_gap, labelled=labelled)
    end = utts[-1].end if utts else 0.0
    # a chapter shorter than the minimum at the very end is a live demo's "here we go", not a talk,
    # unless the evidence is overwhelming
    found = [b for b in found if end - b.start >= min_gap or b.score >= 2 * threshold]
    first = utts[0].start if utts else 0.0
    starts = [first] + [b.start for b in found if b.start > first + 1.0]
    sections = _sections(utts, starts, end, topics, embeddings=embeddings, cache_dir=cache_dir)
    allb = sorted([*found, *sections], key=lambda b: b.start)
    chapters: list[Chapter] = []
    boundary_of: dict[int, Boundary | None] = {}
    if not allb or allb[0].start > 30.0:
        chapters.append(Chapter(start=0.0, title="Introduction", kind="intro", source="auto", confidence=0.5))
        boundary_of[0] = None
    for b in allb:
        boundary_of[len(chapters)] = b
        topic = any(c.startswith("topic section") for c in b.cues)
        chapters.append(Chapter(start=round(b.start, 2), title="", kind="poster" if b.poster else "talk",
                                source="auto", confidence=round(b.score if topic else min(1.0, b.score / 6.0), 3)))
    notes = [f"found {len(found)} chapter starts in the transcript (no show notes)"]
    if sections:
        notes.append(f"found {len(sections)} topic sections inside talks (target {topics.target:.0f} s)")
    return Layout(chapters, boundary_of, [], notes)


def _near(candidates: list[Boundary], t: float, tol: float) -> Boundary | None:
    near = [b for b in candidates if abs(b.start - t) <= tol]
    return max(near, key=lambda b: b.score) if near else None


def notes_layout(utts: list[Utterance], chapters: list[Chapter], candidates: list[Boundary], *,
                 max_offset: float, tolerance: float, threshold: float, min_gap: float, labelled: bool,
                 topics: TopicOptions, embeddings: bool, cache_dir: Path | None,
                 cuts: CutOptions | None = None, names: dict[int, list[str]] | None = None) -> Layout:
    """Chapters from notes (``source="notes"``) and a person's chapters (``"person"``, never moved),
    placed on the recording, with found chapters where the notes say nothing (see the module docstring).
    ``names``: chapter index -> its speakers' names (evidence of where a chapter starts)."""
    cuts = cuts or CutOptions()
    notes: list[str] = []
    placements: list[Placement] = []
    movable = [c for c in chapters if c.source == "notes"]
    rec = reconcile_notes([c.start for c in movable], candidates, max_offset=max_offset, tolerance=tolerance)
    # the same cut when half the noted starts the recording reaches agree with its cues (a transcript of
    # the first minutes only is no other cut); a chapter noted at the very start says nothing either way
    # (every cut starts somewhere), so two chapters "0:00, 0:12" need only the second to agree
    reach = utts[-1].end if utts else 0.0
    in_range = [c for c in movable if tolerance < c.start <= reach]
    same_cut = not in_range or rec.matched >= max(min(2, len(in_range)), (len(in_range) + 1) // 2)
    if same_cut:
        if rec.offset:
            where = "behind" if rec.offset > 0 else "ahead of"
            notes.append(f"notes are {abs(rec.offset):.1f} s {where} the audio: shifted "
                         f"({rec.matched} of {rec.total} chapter starts agree after the shift)")
        elif movable:
            notes.append(f"notes agree with the audio ({rec.matched} of {rec.total} chapter starts confirmed)")
        for k, c in enumerate(movable):
            noted = c.start
            c.start = round(max(0.0, c.start + rec.offset), 2)
            if c.end is not None:
                c.end = round(max(0.0, c.end + rec.offset), 2)
            status = "shifted" if rec.offset else "kept"
            if k in rec.drift:
                status += ", contradicted"
                notes.append(f"chapter {c.title!r} kept at {format_timestamp(c.start)} as noted, though the "
                             f"transcript's cues suggest {format_timestamp(c.start + rec.drift[k])} "
                             f"({rec.drift[k]:+.1f} s)")
            placements.append(Placement(c.title, noted, c.start, status, round(c.start - noted, 2)))
        kept = list(chapters)
    else:
        by_movable = {k: (names or {}).get(chapters.index(c), []) for k, c in enumerate(movable)}
        placed, placements, cut_notes = place_notes(utts, movable, candidates, cuts, by_movable)
        notes += cut_notes
        kept = [c for c in chapters if c.source != "notes"] + placed
    kept.sort(key=lambda c: c.start)
    # where the notes say nothing: after the last noted chapter, and gaps longer than a talk
    end = utts[-1].end if utts else 0.0
    starts = [c.start for c in kept]
    gaps: list[tuple[float, float]] = []
    if starts:
        gaps.append((starts[-1], end))
        gaps += [(a, b) for a, b in zip(starts, starts[1:]) if b - a > cuts.gap_over]
    found: list[Boundary] = []
    for g0, g1 in gaps:
        lo, hi = g0 + min_gap, g1 - min_gap
        if hi <= lo:
            continue
        inside = [x for x in candidates if lo <= x.start <= hi]
        found += find_boundaries(inside, threshold=threshold, min_gap=min_gap, labelled=labelled)
    all_starts = sorted([*starts, *(b.start for b in found)])
    noted_spans = {k for k, t in enumerate(all_starts) if t in starts and k + 1 < len(all_starts)
                   and all_starts[k + 1] in starts}
    sections = _sections(utts, all_starts, end, topics, embeddings=embeddings, cache_dir=cache_dir,
                         skip=noted_spans) if all_starts else []
    for b in sorted([*found, *sections], key=lambda b: b.start):
        topic = any(x.startswith("topic section") for x in b.cues)
        kept.append(Chapter(start=round(b.start, 2), title="", kind="poster" if b.poster else "talk",
                            source="auto", confidence=round(b.score if topic else min(1.0, b.score / 6.0), 3)))
        placements.append(Placement("", b.start, round(b.start, 2), "found", 0.0))
    if found or sections:
        notes.append(f"found {len(found) + len(sections)} chapters where the notes have none "
                     f"(after {format_timestamp(starts[-1])} or in long gaps)")
    kept.sort(key=lambda c: c.start)
    boundary_of: dict[int, Boundary | None] = {}
    extra = {round(b.start, 2): b for b in [*found, *sections]}
    for k, c in enumerate(kept):
        boundary_of[k] = extra.get(c.start) if c.source == "auto" else _near(candidates, c.start, 15.0)
    return Layout(kept, boundary_of, placements, notes)
