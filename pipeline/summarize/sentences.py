"""Sentences as they were said: rebuilt from transcript lines, with the time of their first and last word."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.models import Episode, Utterance
from pipeline.summarize.options import SpokenSentence
from pipeline.text import STOP_WORDS, root

_ABBREV = {"dr.", "mr.", "mrs.", "ms.", "prof.", "e.g.", "i.e.", "vs.", "etc.", "al.", "fig.", "st.", "no.", "approx."}
_INITIALS = re.compile(r"^(?:(?:[A-Za-z]\.){2,}|[A-Z]\.)$")  # "U.S.", "J." (not a sentence end)
_END = re.compile(r"[.!?…]+[\"'”’)\]]*$")
_PAUSE = 2.0  # seconds of silence that end a sentence even without punctuation
_RUN_ON = 60  # words: a sentence this long is cut at the next line boundary


def chapter_bounds(episode: Episode) -> list[tuple[float, float]]:
    """(start, end) of each chapter: its ``end``, else the next chapter's start, else the transcript's end."""
    duration = max(episode.transcript.duration, episode.duration or 0.0)
    out = []
    for i, ch in enumerate(episode.chapters):
        nxt = episode.chapters[i + 1].start if i + 1 < len(episode.chapters) else None
        end = ch.end if ch.end is not None and ch.end > ch.start else (nxt if nxt is not None else duration)
        out.append((ch.start, max(end, ch.start)))
    return out


def _words_of(u: Utterance) -> list[tuple[str, float, float]]:
    if u.words:
        return [(w.text.strip(), float(w.start), float(w.end)) for w in u.words if w.text.strip()]
    return [(tok, float(u.start), float(u.end)) for tok in u.text.split()]


def spoken_sentences(utterances: Sequence[Utterance], start: float = 0.0,
                     end: float = float("inf")) -> list[SpokenSentence]:
    """Rebuild sentences from the transcript lines that start in ``[start, end)``.

    Lines are fragments: words are joined across lines and cut after sentence punctuation (not after
    "e.g." or initials), at a change of speaker label, at a pause over 2 s and, for unpunctuated
    run-ons, at the first line boundary past 60 words. Times come from word timestamps when the
    transcript has them, else from the lines: a sentence spans the lines it was said in."""
    out: list[SpokenSentence] = []
    cur: list[tuple[str, float, float]] = []
    speaker: str | None = None
    last_end: float | None = None

    def flush() -> None:
        if cur:
            text = " ".join(t for t, _, _ in cur)
            out.append(SpokenSentence(text=text, start=cur[0][1], end=max(e for _, _, e in cur), speaker=speaker))
            cur.clear()

    for u in utterances:
        if u.start < start - 0.5 or u.start >= end or "non-speech" in u.flags:
            continue
        if cur and (u.speaker != speaker or (last_end is not None and u.start - last_end > _PAUSE)
                    or len(cur) >= _RUN_ON):
            flush()
        speaker = u.speaker
        last_end = u.end
        for tok, ws, we in _words_of(u):
            cur.append((tok, ws, we))
            low = tok.lower()
            if _END.search(tok) and low not in _ABBREV and not _INITIALS.match(tok):
                flush()
    flush()
    return out


def word_count(text: str) -> int:
    return len(text.split())


_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’-]+|\d+(?:\.\d+)?")
"""A content token: a word with its hyphens and apostrophes ("fine-tuning", "model's"), or a number ("3.5")."""
_STOP = STOP_WORDS | frozenset("""about above after again against all also any because been before being below
between both done down during each further here it's just may might more most must off once only other out over own
same shall should some such that's there's through too under up very while whom
talk paper author authors speaker approach method work present presents presented propose proposes proposed
introduce introduces introduced describes described discusses discussed explains explained shows showed""".split())
"""Function words, and the words any talk's summary uses ("the paper proposes"): not what a summary rests on."""


def normalize_text(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower().replace("’", "'")).split())


def content_words(text: str) -> list[str]:
    """Stemmed content words (no stop words) of ``text``: what grounding checks compare."""
    return [root(w) for w in _WORD.findall(text) if w.lower() not in _STOP and len(w) > 2]
