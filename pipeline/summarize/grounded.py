"""The LLM backend: summaries from an OpenAI-compatible endpoint, each sentence checked against what was said.

Map-reduce over a chapter's timed sentences; every sentence must cite a ``[12:34]`` timestamp, and
:func:`verify_citations` drops (and reports) what the cited passage does not support.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipeline.cache import Cache
from pipeline.models import Episode, Paper, Summary, SummarySentence
from pipeline.summarize.disfluency import clean_disfluencies
from pipeline.summarize.options import DroppedSentence, SpokenSentence, SummaryOptions, SummaryResult
from pipeline.summarize.sentences import content_words, normalize_text, spoken_sentences, word_count
from pipeline.timefmt import format_timestamp, parse_timestamp

_CITE = re.compile(r"\[\s*(\d{1,2}(?::\d{2}){1,2}(?:\.\d+)?)(?:\s*[-–,]\s*(\d{1,2}(?::\d{2}){1,2}(?:\.\d+)?))*\s*\]")
_CITE_ANY = re.compile(r"\[\s*[^\[\]]*?\d:\d\d[^\[\]]*\]")
_QUOTE = re.compile(r"[\"“]([^\"”]{4,})[\"”]")


def _split_answer(answer: str) -> list[str]:
    """LLM answer -> sentences, each with its trailing citation(s); list markers and bold removed."""
    text = re.sub(r"\*\*|__", "", answer)
    text = re.sub(r"(?m)^\s*(?:[-*•]|\d+[.)])\s+", "", text)
    text = " ".join(text.split())
    # a sentence ends after its punctuation, or after a citation that closes it ("... loss [1:02]. Next")
    parts = re.split(r"(?<=[.!?])\s+(?=[\"“A-Z0-9\[])|(?<=\])\s*(?:[.!?]\s*)?(?=[\"“A-Z])", text)
    return [p.strip() for p in parts if p and p.strip(" .")]


def verify_citations(answer: str, sentences: Sequence[SpokenSentence], start: float, end: float, *,
                     min_support: float = 0.3, window: float = 60.0,
                     chapter: int | None = None) -> tuple[list[SummarySentence], list[DroppedSentence]]:
    """Check every sentence of an LLM ``answer`` against the transcript ``sentences`` of ``[start, end]``.

    Kept: sentences that end with a citation like ``[12:34]`` (or ``[1:02:03]``, ``[12:34-12:50]``)
    inside the range, whose quotations ("...") were said in the range, and at least ``min_support`` of
    whose content words occur in the transcript within ``window`` seconds of a cited time. Returns the
    kept sentences (citation removed, timed at the cited moment) and the dropped ones with the reason."""
    kept: list[SummarySentence] = []
    dropped: list[DroppedSentence] = []
    said = normalize_text(" ".join(s.text for s in sentences))
    for part in _split_answer(answer):
        cites = list(_CITE.finditer(part))
        body = _CITE_ANY.sub("", part)
        body = " ".join(re.sub(r"\s+([.,;:!?])", r"\1", body).split()).strip()
        body = re.sub(r"^[\s.,;:]+", "", body)
        if not re.search(r"\w", body):
            continue
        if not body.endswith((".", "!", "?")):
            body += "."

        def drop(reason: str, body: str = body) -> None:
            dropped.append(DroppedSentence(body, reason, chapter))

        if not cites:
            drop("unreadable timestamp" if _CITE_ANY.search(part) else "no timestamp citation")
            continue
        times: list[float] = []
        bad = None
        for m in cites:
            for g in m.groups():
                if g is None:
                    continue
                try:
                    times.append(parse_timestamp(g))
                except ValueError:
                    bad = g
        if bad is not None or not times:
            drop(f"unreadable timestamp [{bad}]")
            continue
        outside = [t for t in times if t < start - 1.0 or t > end + 1.0]
        if outside:
            span = f"{format_timestamp(start)}–{format_timestamp(end)}"
            drop(f"cites [{format_timestamp(outside[0])}], outside this part ({span})")
            continue
        quotes = [q for q in _QUOTE.findall(body) if normalize_text(q)]
        missing = [q for q in quotes if normalize_text(q) not in said and not _fuzzy_in(normalize_text(q), said)]
        if missing:
            drop(f"quotes {missing[0][:40]!r}, which was never said here")
            continue
        near = " ".join(s.text for s in sentences
                        if any(s.start - window <= t <= s.end + window for t in times))
        near_words = set(content_words(near))
        words = content_words(body)
        if words:
            share = sum(1 for w in words if w in near_words) / len(words)
            if share < min_support:
                drop(f"not supported by the transcript near [{format_timestamp(times[0])}] "
                     f"({share:.0%} of its words)")
                continue
        t0 = min(times)
        t1 = max(times)
        ends = [s.end for s in sentences if s.start - 1.0 <= t1 <= s.end + 1.0]
        stop = min(max(ends) if ends else t1 + 10.0, end)
        kept.append(SummarySentence(body, t0, max(stop, t0)))
    return kept, dropped


def _fuzzy_in(needle: str, hay: str) -> bool:
    if len(needle) < 12:
        return False
    from rapidfuzz import fuzz

    return fuzz.partial_ratio(needle, hay) >= 92


_SYSTEM = ("You summarize conference talks faithfully, using only what the transcript says. Write plain "
           "sentences, no lists. End every sentence with the timestamp of the transcript line it rests on, "
           "in square brackets, exactly as written in the transcript, e.g. [12:34]. Never cite a time that "
           "is not in the transcript, and never put words in quotation marks unless they were said.")


def _lines(sentences: Sequence[SpokenSentence]) -> list[str]:
    return [f"[{format_timestamp(s.start)}] {clean_disfluencies(s.text) or s.text}" for s in sentences]


def _chunks(sentences: Sequence[SpokenSentence], words: int) -> list[list[SpokenSentence]]:
    out: list[list[SpokenSentence]] = [[]]
    n = 0
    for s in sentences:
        if out[-1] and n + word_count(s.text) > words:
            out.append([])
            n = 0
        out[-1].append(s)
        n += word_count(s.text)
    return [c for c in out if c]


def _topic_block(paper: Paper | None, title: str) -> str:
    block = f"Talk: {title}\n"
    if paper is not None:
        block += f"Paper: {paper.title}\n"
        if paper.abstract:
            block += f"Abstract: {paper.abstract}\n"
    return block


def llm_chapter_summary(client: Any, sentences: list[SpokenSentence], start: float, end: float, paper: Paper | None,
                        title: str, opts: SummaryOptions,
                        chapter: int | None) -> tuple[list[SummarySentence], list[DroppedSentence]]:
    """Map-reduce: summarize each chunk with citations, verify, then reduce the verified parts."""
    dropped: list[DroppedSentence] = []
    chunks = _chunks(sentences, opts.chunk_words)
    n = max(2, opts.max_sentences)
    partial: list[SummarySentence] = []
    for chunk in chunks:
        prompt = (f"{_topic_block(paper, title)}\nTranscript ({format_timestamp(chunk[0].start)}–"
                  f"{format_timestamp(chunk[-1].end)}):\n" + "\n".join(_lines(chunk)) +
                  f"\n\nSummarize this {'part of the ' if len(chunks) > 1 else ''}talk in at most {n} sentences "
                  f"and {opts.max_words} words. End each sentence with its [timestamp].\nSummary:")
        answer = client.complete([{"role": "system", "content": _SYSTEM}, {"role": "user", "content": prompt}],
                                 max_tokens=opts.max_tokens)
        kept, bad = verify_citations(answer, sentences, start, end, min_support=opts.min_support,
                                     window=opts.support_window, chapter=chapter)
        partial += kept
        dropped += bad
    if len(chunks) == 1 or not partial:
        return _trim(partial, opts), dropped
    notes = "\n".join(f"{s.text[:-1] if s.text.endswith('.') else s.text} [{format_timestamp(s.start)}]."
                      for s in partial)
    prompt = (f"{_topic_block(paper, title)}\nNotes on the parts of the talk, each with its timestamp:\n{notes}\n\n"
              f"Combine them into one summary of at most {n} sentences and {opts.max_words} words. Keep the "
              f"timestamp of the note each sentence comes from.\nSummary:")
    answer = client.complete([{"role": "system", "content": _SYSTEM}, {"role": "user", "content": prompt}],
                             max_tokens=opts.max_tokens)
    kept, bad = verify_citations(answer, sentences, start, end, min_support=opts.min_support,
                                 window=opts.support_window, chapter=chapter)
    dropped += bad
    return _trim(kept or partial, opts), dropped


def _trim(sentences: list[SummarySentence], opts: SummaryOptions) -> list[SummarySentence]:
    out: list[SummarySentence] = []
    total = 0
    for s in sentences:
        if len(out) >= opts.max_sentences or (out and total + word_count(s.text) > opts.max_words):
            break
        out.append(s)
        total += word_count(s.text)
    return out


def make_client(opts: SummaryOptions, cache_dir: Path | None) -> Any:
    from pipeline.summarize.llm import ChatClient

    return ChatClient(opts.url or "", opts.model or "", api_key=os.environ.get(opts.api_key_env) or None,
                      timeout=opts.timeout, retries=opts.retries,
                      cache_dir=Cache(cache_dir).folder("llm"))


def llm_episode_summary(client: Any, episode: Episode, opts: SummaryOptions, result: SummaryResult) -> Summary | None:
    """The episode summary from the chapter summaries (reduce step), verified against the whole episode."""
    notes = []
    for ch in episode.chapters:
        for s in (ch.summary.sentences if ch.summary else []):
            notes.append(f"{ch.title}: {s.text} [{format_timestamp(s.start)}]")
    if not notes:
        return None
    prompt = (f"Episode: {episode.title}\nNotes on its talks, each with its timestamp:\n" + "\n".join(notes) +
              f"\n\nWrite a summary of the episode in at most {max(3, len(episode.chapters))} sentences, "
              f"one per talk, keeping each note's timestamp.\nSummary:")
    answer = client.complete([{"role": "system", "content": _SYSTEM}, {"role": "user", "content": prompt}],
                             max_tokens=opts.max_tokens)
    sents = spoken_sentences(episode.transcript.utterances)
    kept, bad = verify_citations(answer, sents, 0.0, max(episode.transcript.duration, episode.duration or 0.0),
                                 min_support=opts.min_support, window=opts.support_window)
    result.dropped += bad
    if not kept:
        return None
    return Summary(" ".join(s.text for s in kept), kept, f"llm:{opts.model}")
