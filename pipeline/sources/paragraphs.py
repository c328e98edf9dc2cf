"""Speaker-paragraph transcripts, as people publish them: one timed paragraph per turn.

Shapes read (told apart line by line, so one file may mix them):

* Substack / Descript exports: ``[00:01:48] **Isaac Robinson:** Hi, we're ...`` (the colon inside or
  outside the bold), with Markdown chapter headings between paragraphs: ``## [00:02:27] Intros``;
* ``Name (00:01:02): text`` (Rev, Descript);
* ``Name  00:01:02`` alone on a line, the text on the lines after it (Otter, Riverside, Zoom);
* a timestamped copy of a YouTube transcript: ``0:02`` alone on a line (or ``0:02 text``), the text after.

A paragraph ends where the next one starts (the last one after its words, at 2.5 words a second); an
inline ``[00:01:00]`` marker inside a paragraph is a time, not text: the paragraph is split there.
Speakers' names become the utterances' ``speaker`` labels; headings become chapters
(``source="transcript"``). Any line that starts like a timed paragraph but whose time is not one, or a
time earlier than the paragraph before, raises :class:`InputError` naming the file and the line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import InputError
from pipeline.models import Chapter, Transcript, Utterance
from pipeline.timefmt import parse_timestamp

_T = r"\d{1,2}:\d{1,2}(?::\d{1,2})?(?:[.,]\d{1,3})?"
_NAME = r"[A-Z\u00C0-\u024F][\w.'’\-]*(?:\s+[\w.'’\-]+){0,3}"
_SUBSTACK = re.compile(rf"^\s*\[(?P<t>{_T})\]\s*\*\*(?P<name>[^*\n]{{1,60}}?)\s*:?\s*\*\*\s*:?\s*(?P<text>.*)$")
_PAREN = re.compile(rf"^\s*(?P<name>{_NAME})\s*\((?P<t>{_T})\)\s*:\s*(?P<text>.*)$")
_OTTER = re.compile(rf"^\s*(?P<name>{_NAME}?)\s+(?P<t>{_T})\s*$")
_ALONE = re.compile(rf"^\s*\[?(?P<t>{_T})\]?\s*$")
_TIMED_TEXT = re.compile(r"^\s*(?P<t>\d{1,2}:\d{2}(?::\d{2})?)\s+(?P<text>[^\s\d].*)$")
_HEADING = re.compile(rf"^\s*#{{1,6}}\s+(?:\[(?P<t>{_T})\]\s*|(?P<t2>{_T})\s+[-–—]?\s*)?(?P<title>\S.*?)\s*#*\s*$")
_INLINE = re.compile(rf"\s*\[(?P<t>{_T})\]\s*")
# anything that starts like a timed line, to catch a bad time ("[00:6x:00] **Ada:**")
_LOOKS_TIMED = re.compile(r"^\s*(?:#{1,6}\s+)?\[[\d:.,\s]*[^\]\s\d:.,][^\]]*\]\s*\*\*|^\s*\[\d[^\]]*\]\s*\*\*")

_WORDS_PER_SECOND = 2.5


@dataclass
class _Para:
    start: float
    speaker: str | None
    line: int
    parts: list[tuple[float, list[str]]] = field(default_factory=list)  # (start, text pieces)


def looks_like_paragraphs(text: str) -> bool:
    """Do the first lines of ``text`` look like one of the shapes read here?"""
    lines = [ln for ln in text.splitlines()[:200] if ln.strip()]
    hits = sum(1 for ln in lines if _SUBSTACK.match(ln) or _PAREN.match(ln) or _OTTER.match(ln) or _ALONE.match(ln)
               or _TIMED_TEXT.match(ln))
    return hits >= 2


def _time(path: Path, lineno: int, value: str) -> float:
    try:
        return parse_timestamp(value.replace(",", "."))
    except ValueError:
        raise InputError(path, f"line {lineno}: {value!r} is not a time") from None


def read_paragraphs(path: Path, text: str) -> tuple[Transcript, list[Chapter]]:
    """Read a speaker-paragraph transcript (see the module docstring) -> (transcript, heading chapters)."""
    paras: list[_Para] = []
    headings: list[tuple[float | None, str, int]] = []  # (time or None: the next paragraph's, title, line)
    last = -1.0

    def start(lineno: int, t: str, speaker: str | None, first: str) -> None:
        nonlocal last
        at = _time(path, lineno, t)
        if at < last:
            raise InputError(path, f"line {lineno}: {t} is earlier than the paragraph before it")
        last = at
        p = _Para(at, speaker.strip() if speaker else None, lineno, [(at, [])])
        paras.append(p)
        if first.strip():
            _add_text(p, first, lineno)

    def _add_text(p: _Para, body: str, lineno: int) -> None:
        nonlocal last
        pos = 0
        for m in _INLINE.finditer(body):
            piece = body[pos:m.start()].strip()
            if piece:
                p.parts[-1][1].append(piece)
            at = _time(path, lineno, m.group("t"))
            if at < last:
                raise InputError(path, f"line {lineno}: [{m.group('t')}] is earlier than the text before it")
            last = at
            p.parts.append((at, []))
            pos = m.end()
        rest = body[pos:].strip()
        if rest:
            p.parts[-1][1].append(rest)

    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        h = _HEADING.match(line)
        if h:
            t = h.group("t") or h.group("t2")
            if not t and not paras:
                continue  # an untimed heading before any speech is the document's title
            headings.append((_time(path, lineno, t) if t else None, h.group("title").strip(), lineno))
            continue
        m = _SUBSTACK.match(line) or _PAREN.match(line)
        if m:
            start(lineno, m.group("t"), m.group("name"), m.group("text"))
            continue
        if _LOOKS_TIMED.match(line):
            raise InputError(path, f"line {lineno} is not a timed paragraph: {line.strip()[:60]!r}")
        m = _ALONE.match(line)
        if m:
            start(lineno, m.group("t"), None, "")
            continue
        m = _OTTER.match(line)
        if m and len(line.split()) <= 6:
            start(lineno, m.group("t"), m.group("name"), "")
            continue
        m = _TIMED_TEXT.match(line)
        if m and (not paras or paras[-1].speaker is None):
            start(lineno, m.group("t"), None, m.group("text"))
            continue
        if paras:
            _add_text(paras[-1], line, lineno)
        # text before the first timed paragraph (a title, a preamble) is no transcript
    utterances: list[Utterance] = []
    pieces = [(at, " ".join(words), p.speaker) for p in paras for at, words in p.parts]
    pieces = [x for x in pieces if x[1]]
    for k, (at, body, speaker) in enumerate(pieces):
        end = pieces[k + 1][0] if k + 1 < len(pieces) else at + max(1.0, len(body.split()) / _WORDS_PER_SECOND)
        utterances.append(Utterance(start=at, end=max(at, end), text=body, speaker=speaker))
    if not utterances:
        raise InputError(path, "no timed paragraphs found",
                         hint="expected lines like '[00:01:48] **Name:** text', 'Name (00:01:02): text', "
                              "'Name  00:01:02' followed by the text, or a YouTube transcript's '0:02' lines")
    chapters: list[Chapter] = []
    for when, title, lineno in headings:
        if when is None:  # a heading without a time starts at the next paragraph
            when = next((p.start for p in paras if p.line > lineno), None)
            if when is None:
                continue
        chapters.append(Chapter(start=when, title=title, source="transcript"))
    chapters.sort(key=lambda c: c.start)
    for k, c in enumerate(chapters):
        c.end = chapters[k + 1].start if k + 1 < len(chapters) else utterances[-1].end
    return Transcript(utterances=utterances, source="paragraph transcript import"), chapters
