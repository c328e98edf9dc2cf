"""Transcript import: read the transcript files people already have into a :class:`Transcript`.

Formats (auto-detected, or named with ``fmt``):

``whispercpp``
    whisper.cpp's bracket lines ``[00:15:27.120 --> 00:15:31.320]   - My name is ...``. A leading
    ``- `` (or ``>>``), or a ``[SPEAKER_TURN]`` at the end of the previous line (tinydiarize), marks a
    change of speaker; lines get turn labels ``T001``, ``T002``... so consecutive lines of one turn
    share a ``speaker`` label (who is speaking is worked out later by alignment).
``srt``
    SubRip, parsed with the ``srt`` package. A ``[SPEAKER_00]: `` or ``Name: `` prefix (as
    WhisperX and recap write it) becomes the speaker.
``vtt``
    WebVTT, parsed with ``webvtt-py``; ``<v Name>`` voice tags become the speaker.
``paragraphs``
    speaker-paragraph transcripts as people publish them (Substack/Descript ``[00:01:48] **Name:** text``
    with ``## [00:02:27] Heading`` chapters, ``Name (00:01:02): text``, Otter/Riverside/Zoom ``Name  00:01:02``
    lines, timestamped YouTube copies): :mod:`pipeline.sources.paragraphs`. Names become speakers (and
    people), headings chapters (``source="transcript"``).
``json``
    faster-whisper / WhisperX JSON (a list of segments, or ``{"segments": [...]}``, with optional
    ``words`` and ``speaker``), Podcasting 2.0 JSON transcripts (``startTime``/``endTime``/``body``,
    as ``recap export --format json`` writes) and recap's own ``transcript.json``.

Every problem with the file raises :class:`InputError` naming the file.
"""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path
from typing import Any

from pipeline.errors import InputError
from pipeline.models import Chapter, Episode, Person, Transcript, Utterance, Word
from pipeline.serialize import DataError, from_data, loads_json, read_input_text
from pipeline.timefmt import parse_timestamp

log = logging.getLogger(__name__)

FORMATS = ("whispercpp", "srt", "vtt", "json", "paragraphs")

_BRACKET = re.compile(
    r"^\s*\[\s*(\d{1,3}:\d{2}:\d{2}(?:[.,]\d{1,3})?|\d{1,2}:\d{2}(?:[.,]\d{1,3})?)\s*-->\s*"
    r"(\d{1,3}:\d{2}:\d{2}(?:[.,]\d{1,3})?|\d{1,2}:\d{2}(?:[.,]\d{1,3})?)\s*\]\s?(.*)$"
)
# whisper.cpp marks a new speaker with a leading "- " (sometimes "-Text"); "--" is a dash, "-5" a number.
_TURN_MARK = re.compile(r"^(?:-(?![-\d])|>>)\s*")
# whisper.cpp with tinydiarize (-tdrz) ends a segment with [SPEAKER_TURN] when the next one is another voice
_TURN_END = re.compile(r"\s*\[SPEAKER[ _]TURN\]\s*$", re.I)
_SRT_TAGS = re.compile(r"</?(?:i|b|u|s|font)(?:\s[^<>]*)?>|\{\\an?\d+\}", re.I)  # <i>, <font color=..>, {\an8}
_SRT_TIME = re.compile(r"^\s*\d+:\d{2}:\d{2},\d{1,3}\s*-->", re.M)
# Sound descriptions that are not speech: "(upbeat music)", "[MUSIC]", "*applause*", "♪♪".
_NON_SPEECH = re.compile(r"^\s*(?:\([^()]*\)|\[[^\[\]]*\]|\*[^*]*\*|[♪♫\s]+)\s*$")
# "[SPEAKER_00]: text" (WhisperX) or "Alice Smith: text" (a short name before a colon).
_SPEAKER_PREFIX = re.compile(
    r"^\s*(?:\[([^\]\n]{1,60})\]|([A-Z][\w.'-]*(?: [A-Z][\w.'-]*){0,3}|SPEAKER_\d+)):\s+(.*)$", re.S
)


def read_transcript(path: Path, fmt: str | None = None) -> Transcript:
    """Read a transcript file; ``fmt`` is one of :data:`FORMATS` or None to detect it."""
    return read_transcript_chapters(path, fmt)[0]


def read_transcript_chapters(path: Path, fmt: str | None = None) -> tuple[Transcript, list[Chapter]]:
    """:func:`read_transcript`, with the chapters the transcript itself has (headings), if any."""
    path = Path(path)
    text = read_input_text(path, "a text transcript", normalize_newlines=False)
    if fmt is None:
        fmt = detect_format(path, text)
    if fmt not in FORMATS:
        raise InputError(path, f"unknown transcript format {fmt!r}", hint=f"use one of {', '.join(FORMATS)}")
    chapters: list[Chapter] = []
    if fmt == "paragraphs":
        from pipeline.sources.paragraphs import read_paragraphs

        transcript, chapters = read_paragraphs(path, text)
    else:
        reader = {"whispercpp": _read_whispercpp, "srt": _read_srt, "vtt": _read_vtt, "json": _read_json}[fmt]
        transcript = reader(path, text)
    if not transcript.utterances:
        raise InputError(path, f"no timed lines found (read as {fmt})")
    _check_times(path, transcript)
    log.debug("read %d utterances from %s (%s)", len(transcript.utterances), path, fmt)
    return transcript, chapters


def detect_format(path: Path, text: str) -> str:
    """Guess the format from the content first, then from the extension."""
    head = text.lstrip()[:4096]
    if head.startswith("WEBVTT"):
        return "vtt"
    first_line = head.splitlines()[0] if head else ""
    if head.startswith("{") or (head.startswith("[") and not _BRACKET.match(first_line)):
        return "json"
    for line in head.splitlines()[:20]:
        if _BRACKET.match(line):
            return "whispercpp"
    if _SRT_TIME.search(head):
        return "srt"
    from pipeline.sources.paragraphs import looks_like_paragraphs

    if looks_like_paragraphs(text):
        return "paragraphs"
    ext = path.suffix.lower()
    guess = {".vtt": "vtt", ".srt": "srt", ".json": "json"}.get(ext)
    if guess:
        return guess
    raise InputError(path, "unrecognised transcript format",
                     hint="expected whisper.cpp [start --> end] lines, SRT, WebVTT, Whisper JSON or timed speaker "
                             "paragraphs; or pass --format")


def _check_times(path: Path, transcript: Transcript) -> None:
    for i, u in enumerate(transcript.utterances, 1):
        if u.start < 0 or u.end < u.start:
            raise InputError(path, f"line {i} ends before it starts ({u.start:.3f} -> {u.end:.3f})")


def _flags(text: str) -> list[str]:
    return ["non-speech"] if _NON_SPEECH.match(text) else []


# -- whisper.cpp --------------------------------------------------------------------------------
def _read_whispercpp(path: Path, text: str) -> Transcript:
    utterances: list[Utterance] = []
    turn = 0
    turn_next = False
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _BRACKET.match(line)
        if not m:
            raise InputError(path, f"line {lineno} is not a [start --> end] transcript line: {line.strip()[:60]!r}")
        start, end, body = parse_timestamp(m.group(1)), parse_timestamp(m.group(2)), m.group(3).strip()
        change = _TURN_MARK.match(body)
        changed = change is not None or turn_next
        if change is not None:
            body = body[change.end():].strip()
        turn_next = bool(_TURN_END.search(body))
        body = _TURN_END.sub("", body)
        if changed or turn == 0:
            turn += 1
        utterances.append(Utterance(start=start, end=end, text=body, speaker=f"T{turn:03d}", flags=_flags(body)))
    return Transcript(utterances=utterances, source="whisper.cpp import")


# -- SRT ------------------------------------------------------------------------------------------
def _apply_speaker_prefixes(utterances: list[Utterance]) -> list[Utterance]:
    """Move a ``[SPEAKER_00]: `` prefix into ``speaker``; a bare ``Name: `` prefix only when most
    cues have one (so "Note: ..." in an ordinary subtitle stays text)."""
    matches = [None if u.speaker else _SPEAKER_PREFIX.match(u.text) for u in utterances]
    bare = sum(1 for m in matches if m and m.group(2))
    trust_bare = bare >= 0.5 * max(1, len(utterances))
    for u, m in zip(utterances, matches):
        if m and (m.group(1) or trust_bare):
            u.speaker = (m.group(1) or m.group(2)).strip()
            u.text = m.group(3).strip()
            u.flags = _flags(u.text)
    return [u for u in utterances if u.text]


def _read_srt(path: Path, text: str) -> Transcript:
    import srt

    try:
        subs = list(srt.parse(text))
    except (srt.SRTParseError, ValueError) as exc:
        raise InputError(path, f"not valid SRT ({str(exc).splitlines()[0][:120]})") from None
    utterances = []
    for sub in subs:
        body = " ".join(sub.content.split())
        body = _SRT_TAGS.sub("", body)
        if body:
            utterances.append(Utterance(start=sub.start.total_seconds(), end=sub.end.total_seconds(),
                                        text=body, flags=_flags(body)))
    return Transcript(utterances=_apply_speaker_prefixes(utterances), source="SRT import")


# -- WebVTT ---------------------------------------------------------------------------------------
def _read_vtt(path: Path, text: str) -> Transcript:
    import webvtt
    from webvtt.errors import MalformedCaptionError, MalformedFileError

    try:
        captions = list(webvtt.from_string(text).captions)
    except (MalformedFileError, MalformedCaptionError, ValueError) as exc:
        raise InputError(path, f"not valid WebVTT ({exc})") from None
    utterances = []
    for cap in captions:
        try:
            start, end = parse_timestamp(cap.start), parse_timestamp(cap.end)
        except ValueError:
            raise InputError(path, f"bad cue time {cap.start} --> {cap.end}") from None
        voice = cap.voice
        body = html.unescape(" ".join(cap.text.split()))
        speaker = html.unescape(voice).strip() if voice else None
        if body:
            utterances.append(Utterance(start=start, end=end, text=body, speaker=speaker, flags=_flags(body)))
    return Transcript(utterances=_apply_speaker_prefixes(utterances), source="WebVTT import")


# -- JSON -----------------------------------------------------------------------------------------
def _read_json(path: Path, text: str) -> Transcript:
    try:
        data = loads_json(text)
    except ValueError as exc:
        raise InputError(path, f"not valid JSON ({exc})") from None
    try:
        if isinstance(data, dict) and "utterances" in data:  # recap's own transcript.json
            try:
                return from_data(Transcript, data, where="transcript")
            except DataError as exc:
                raise InputError(path, str(exc)) from None
        if isinstance(data, dict) and "segments" in data:
            segments = data["segments"]
            language = data.get("language") if isinstance(data.get("language"), str) else None
        elif isinstance(data, list):
            segments, language = data, None
        else:
            raise InputError(path, "JSON has no 'segments' or 'utterances' list")
        if not isinstance(segments, list):
            raise InputError(path, "'segments' is not a list")
        utterances = [_segment(path, i, seg) for i, seg in enumerate(segments)]
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(path, f"unexpected JSON transcript structure ({exc})") from None
    return Transcript(utterances=[u for u in utterances if u.text], language=language, source="JSON import")


def _num(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a number of seconds, got {value!r}")
    if not 0 <= value < 1e7:  # also keeps float() of a huge int from overflowing
        raise ValueError(f"time {str(value)[:20]} s is out of range")
    return float(value)


def _segment(path: Path, i: int, seg: Any) -> Utterance:
    if not isinstance(seg, dict):
        raise InputError(path, f"segment {i} is not an object")
    if "startTime" in seg:  # Podcasting 2.0 JSON transcript
        start, end, body = _num(seg["startTime"]), _num(seg.get("endTime", seg["startTime"])), seg.get("body", "")
    else:
        if "start" not in seg or "end" not in seg:
            raise InputError(path, f"segment {i} has no start/end times")
        start, end, body = _num(seg["start"]), _num(seg["end"]), seg.get("text", "")
    words = []
    for w in seg.get("words") or []:
        if not isinstance(w, dict) or "start" not in w or "end" not in w:
            continue  # WhisperX leaves numbers it could not align without times
        prob = w.get("probability", w.get("score"))
        words.append(Word(text=str(w.get("word", w.get("text", ""))), start=_num(w["start"]), end=_num(w["end"]),
                          probability=float(prob) if isinstance(prob, (int, float)) else None))
    speaker = seg.get("speaker")
    if speaker is None and words:
        # WhisperX puts speaker on words too: take the most common one
        labels = [w.get("speaker") for w in seg["words"] if isinstance(w, dict) and w.get("speaker")]
        speaker = max(set(labels), key=labels.count) if labels else None
    body = " ".join(str(body).split())
    return Utterance(start=start, end=end, text=body, speaker=str(speaker) if speaker is not None else None,
                     words=words, flags=_flags(body))


def import_transcript(project: Any, path: Path, slug: str, *, title: str | None = None,
                      fmt: str | None = None) -> Episode:
    """Read ``path`` and store it as episode ``slug``'s transcript (creating the episode when new).
    The file is read completely before anything is written. (Aligning it with the episode's chapters is the
    next stage: :func:`pipeline.jobs.episode.align_if_ready`.)"""
    from pipeline.ids import check_id, slugify

    check_id(slug, "episode slug")
    transcript, headings = read_transcript_chapters(Path(path), fmt)
    store = project.content
    with store.lock_episode(slug, existing=False):
        ep = store.load_episode(slug) if store.has_episode(slug) else Episode(slug=slug, title=title or slug)
        if title:
            ep.title = title
        ep.transcript = transcript
        # chapter headings in the transcript: chapters, unless notes or a person gave them already
        if headings and not any(c.source in ("notes", "person") for c in ep.chapters):
            ep.chapters = headings
        # speakers the transcript names ("Isaac Robinson:") are people; "Speaker 1" is nobody yet
        if transcript.source == "paragraph transcript import":
            people = store.load_people()
            for label in dict.fromkeys(u.speaker for u in transcript.utterances if u.speaker):
                if re.fullmatch(r"(?i)(?:speaker|spk|unknown|guest|host)[ _]?\d*|[A-Z]|SPEAKER_\d+", label):
                    continue
                pid = slugify(label)
                if pid not in people:
                    people[pid] = Person(id=pid, name=label)
                    store.save_person(people[pid])
                ep.speakers.setdefault(label, pid)
        ep.duration = max(ep.duration or 0.0, transcript.duration) or None
        if ep.chapters and ep.chapters[-1].end is None:
            ep.chapters[-1].end = transcript.duration
        store.save_episode(ep, parts=("meta", "chapters", "transcript") if ep.chapters else ("meta", "transcript"))
    log.info("episode %s: %d utterances, %.0f s", slug, len(transcript.utterances), transcript.duration)
    return ep
