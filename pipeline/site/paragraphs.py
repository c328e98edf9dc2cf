"""An episode's transcript as the pages show it: speaker paragraphs with stable anchors
(``t-<seconds>``), the opening words of each chapter, the names shown for speaker labels.

:func:`episode_text` keeps each episode's result in the project cache (an entry ``site/<slug>``),
keyed by everything it is computed from, so a build reads a transcript only when it (or its
chapters, or its speakers' names) changed.
"""

from __future__ import annotations

import bisect
import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

from pipeline.cache import MISS, Cache
from pipeline.export import voice_name
from pipeline.files import sha256
from pipeline.models import Episode, Person, Utterance
from pipeline.site.templating import RENDER_VERSION

# Transcript paragraphs: one speaker's consecutive lines, split at chapter starts, and split
# after a sentence once a paragraph is this long (seconds), or unconditionally at HARD_LIMIT.
PARAGRAPH_SOFT_LIMIT = 45.0
PARAGRAPH_HARD_LIMIT = 90.0
QUOTE_WORDS = 30


@dataclass
class Paragraph:
    id: str  # stable anchor: "t-<int start>" (suffixed "-2", "-3" if two start in the same second)
    start: float
    end: float
    speaker: str | None  # display name
    text: str
    chapter: int | None  # index into Episode.chapters


@dataclass
class EpisodeText:
    """What the pages need of an episode's transcript: its paragraphs, the opening words of each
    chapter, its length."""

    key: str  # digest of everything the rest is computed from
    paragraphs: list[Paragraph]
    quotes: list[str]  # per chapter of Episode.chapters
    duration: float
    spoken: bool  # has any utterance


def episode_text(ep: Episode, people: dict[str, Person], transcript_digest: str | None,
                 cache_dir: Path | None) -> EpisodeText:
    """``ep``'s :class:`EpisodeText`, from the cache while ``transcript_digest`` (the transcript
    file's), the chapters' times and the speakers' names are unchanged."""
    names = {label: display_speaker(ep, label, people) for label in ep.speakers}
    key = sha256(json.dumps([RENDER_VERSION, PARAGRAPH_SOFT_LIMIT, PARAGRAPH_HARD_LIMIT, QUOTE_WORDS,
                             transcript_digest, [[c.start, c.end] for c in ep.chapters], names]))
    entry = Cache(cache_dir).entry("site", ep.slug)
    cached = entry.get(key)
    if cached is not MISS:
        with contextlib.suppress(ValueError, TypeError):  # an entry of another shape: computed again
            paras, quotes, duration, spoken = cached
            return EpisodeText(key, [Paragraph(*p) for p in paras], quotes, duration, spoken)
    utts = ep.transcript.utterances
    text = EpisodeText(key, make_paragraphs(ep, people), [chapter_quote(utts, c.start, c.end) for c in ep.chapters],
                       ep.transcript.duration, bool(utts))
    entry.put(key, ([tuple(vars(p).values()) for p in text.paragraphs], text.quotes, text.duration, text.spoken))
    return text


def make_paragraphs(ep: Episode, people: dict[str, Person]) -> list[Paragraph]:
    """Group utterances into speaker paragraphs with stable anchors."""
    chapter_starts = sorted((c.start, i) for i, c in enumerate(ep.chapters))
    starts = [s for s, _ in chapter_starts]

    def chapter_of(t: float) -> int | None:
        i = bisect.bisect_right(starts, t + 0.001) - 1
        return chapter_starts[i][1] if i >= 0 else None

    out: list[Paragraph] = []
    cur: list[Utterance] = []

    def flush() -> None:
        if not cur:
            return
        start = cur[0].start
        base_id = f"t-{int(start)}"
        pid, n = base_id, 2
        while out and any(p.id == pid for p in out[-3:]):
            pid, n = f"{base_id}-{n}", n + 1
        text = " ".join(" ".join(u.text.split()) for u in cur).strip()
        out.append(Paragraph(pid, start, max(u.end for u in cur), display_speaker(ep, cur[0].speaker, people),
                             text, chapter_of(start)))
        cur.clear()

    for u in ep.transcript.utterances:
        if not u.text.strip():
            continue
        if cur:
            length = u.start - cur[0].start
            new_chapter = chapter_of(u.start) != chapter_of(cur[0].start)
            sentence_end = cur[-1].text.rstrip().endswith((".", "?", "!"))
            if (u.speaker != cur[0].speaker or new_chapter or length >= PARAGRAPH_HARD_LIMIT
                    or (length >= PARAGRAPH_SOFT_LIMIT and sentence_end)):
                flush()
        cur.append(u)
    flush()
    return out


def display_speaker(ep: Episode, label: str | None, people: dict[str, Person]) -> str | None:
    """The name shown for a speaker label (:func:`pipeline.export.voice_name`: the exports show the same)."""
    return voice_name(ep, label, people)


def shorten(text: str, words: int = QUOTE_WORDS) -> str:
    """The first ``words`` words of ``text`` (whitespace collapsed), with " …" when there were more."""
    parts = " ".join(text.split()).split(" ")
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def chapter_quote(utts: list[Utterance], start: float, end: float | None) -> str:
    """The opening words said from ``start`` (before ``end``), non-speech skipped, shortened."""
    words: list[str] = []
    for u in utts:
        if u.start < start - 0.001 or "non-speech" in u.flags:
            continue
        if end is not None and u.start >= end:
            break
        words += u.text.split()
        if len(words) > QUOTE_WORDS:
            break
    return shorten(" ".join(words))
