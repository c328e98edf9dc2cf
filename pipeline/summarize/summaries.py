"""Summaries: a short, faithful summary of every chapter (talk, oral, poster interview) and of the episode.

Every summary sentence rests on a moment of the recording (:class:`pipeline.models.SummarySentence`
``start``/``end``), so a reader can check each claim in one click.

Two backends, chosen by :attr:`SummaryOptions.backend` (``[summaries] backend`` in ``recap.toml``):

``extractive`` (offline default)
    1. :func:`spoken_sentences` rebuilds sentences from transcript lines (whisper lines are fragments):
       words are joined across lines and cut at sentence punctuation, at a change of speaker and at long
       pauses; each sentence keeps the time of its first and last word.
    2. Candidates: sentences of reasonable length that are not questions, fragments, greetings or
       hand-overs ("thank you", "my name is", "up next"), nor said by a speaker marked as the host.
    3. Each candidate is scored by sentence-embedding centrality in its chapter (cosine with the
       mean vector of the chapter's candidates) and by closeness to the chapter's topic (the linked paper's title and
       abstract, else the chapter title), minus how much closer it is to *another* chapter's paper (a
       host introducing the next talk). Sentences are then picked by maximal marginal relevance (a
       redundant sentence loses), within :attr:`SummaryOptions.max_words`.
    4. :func:`pipeline.summarize.disfluency.clean_disfluencies` removes "um", fillers, repeats and false starts;
       it only removes words, so the cleaned sentence is still what was said at its time.
    The episode summary is one sentence per chapter, in order: the chapter's most relevant short
    sentence that does not repeat what an earlier chapter's sentence said (two chapters about one paper).

``llm`` (any OpenAI-compatible endpoint: vLLM, llama.cpp server, Ollama; see :mod:`pipeline.summarize.llm`)
    Map-reduce over the chapter's timed sentences (chunks of :attr:`SummaryOptions.chunk_words`), with
    the linked paper's title and abstract in the prompt. Each sentence must end with a timestamp
    citation like ``[12:34]``; :func:`verify_citations` drops (and reports) a sentence with no
    citation, a citation outside the chapter, a quotation that was never said, or words the cited
    passage does not support. A chapter left with no verified sentence falls back to the extractive
    summary (``method = "extractive"``), so every chapter still gets one.

:func:`summarize_episode` is pure (no I/O besides the embedding/LLM caches); :func:`run_summarize`
loads the episode, runs it and writes it back through the :class:`ContentStore`. A summary a person
edited is kept whole on re-runs (see :func:`run_summarize`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.summarize.disfluency import clean_disfluencies
from pipeline.errors import ConfigError, ContentError
from pipeline.models import Chapter, Episode, Paper, Person, Summary, SummarySentence, Utterance
from pipeline.timefmt import format_timestamp, parse_timestamp

log = logging.getLogger(__name__)

BACKENDS = ("extractive", "llm")
RECORD_DIR = ".recap/summaries"  # under content/: hashes of the summaries recap generated, per episode


@dataclass(frozen=True)
class SummaryOptions:
    """How summaries are made. Defaults are the offline extractive backend; ``[summaries]`` in
    ``recap.toml`` sets backend, url, model, api_key_env and max_words (:meth:`from_config`)."""

    backend: str = "extractive"
    """extractive (offline) | llm (OpenAI-compatible endpoint)"""
    max_words: int = 80
    """At most this many words per chapter summary."""
    max_sentences: int = 4
    """At most this many sentences per chapter summary."""
    min_sentence_words: int = 7
    """Shorter sentences (after cleaning) are fragments, not summary material."""
    max_sentence_words: int = 40
    """Longer sentences are run-ons (whisper without punctuation) and are not picked."""
    topic_weight: float = 0.5
    """Extractive: weight of closeness to the paper's title and abstract against chapter centrality."""
    contrast_weight: float = 1.0
    """Extractive: penalty for being closer to another chapter's paper than to this chapter's."""
    context_weight: float = 1.0
    """Extractive: weight of the topic closeness of the sentences around a candidate (within
    ``context_seconds``), so that picks come from the stretch that is about the paper."""
    context_seconds: float = 120.0
    diversity: float = 0.3
    """Extractive (MMR): weight of the redundancy penalty (similarity to sentences already picked)."""
    episode_sentence_words: int = 35
    """Episode summary: one sentence per chapter, at most this long."""
    # -- llm backend --
    url: str | None = None
    """Base URL of the OpenAI-compatible endpoint, e.g. http://127.0.0.1:8080/v1"""
    model: str | None = None
    """Model name the endpoint serves."""
    api_key_env: str = "RECAP_LLM_API_KEY"
    """Environment variable holding the API key (none needed for a local server)."""
    timeout: float = 120.0
    """Seconds to wait for one LLM response."""
    retries: int = 3
    """Retries of one LLM request after a connection error, timeout, HTTP 429 or 5xx (with backoff)."""
    chunk_words: int = 1500
    """LLM map step: transcript words per request; longer chapters are summarized in parts, then reduced."""
    max_tokens: int = 400
    """LLM: longest answer requested."""
    min_support: float = 0.3
    """LLM: share of a sentence's content words that must occur within ``support_window`` s of its citation."""
    support_window: float = 60.0
    fallback: bool = True
    """LLM: a chapter with no verified sentence gets the extractive summary instead of none."""

    @classmethod
    def from_config(cls, cfg: Any, **overrides: Any) -> SummaryOptions:
        """Options from a :class:`pipeline.config.SummaryConfig`, then the ``overrides`` that are not None."""
        values = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg) if f.name in _FIELDS}
        values.update({k: v for k, v in overrides.items() if v is not None})
        opts = cls(**values)
        opts.check()
        return opts

    def check(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"[summaries] backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if self.max_words < 10:
            raise ConfigError(f"[summaries] max_words must be at least 10, got {self.max_words}")
        if self.backend == "llm" and not (self.url and self.model):
            raise ConfigError("the llm summary backend needs [summaries] url and model in recap.toml "
                              "(or --url and --model), e.g. url = \"http://127.0.0.1:8080/v1\"")


_FIELDS = {f.name for f in dataclasses.fields(SummaryOptions)}


@dataclass
class SpokenSentence:
    """A sentence as said, rebuilt from transcript lines, with the time of its first and last word."""

    text: str
    start: float
    end: float
    speaker: str | None = None


@dataclass
class DroppedSentence:
    """An LLM sentence that failed verification (see :func:`verify_citations`)."""

    text: str
    reason: str
    chapter: int | None = None  # index into Episode.chapters; None for the episode summary


@dataclass
class SummaryResult:
    """What :func:`summarize_episode` did: the episode (with summaries set), dropped LLM sentences,
    chapters that fell back to the extractive backend, and the time it took."""

    episode: Episode
    dropped: list[DroppedSentence] = field(default_factory=list)
    fallbacks: list[int] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # person-edited summaries kept by run_summarize
    seconds: float = 0.0

    def describe(self) -> str:
        ep = self.episode
        done = sum(1 for c in ep.chapters if c.summary)
        words = sum(len(c.summary.text.split()) for c in ep.chapters if c.summary)
        lines = [f"Summarized {done}/{len(ep.chapters)} chapters of {ep.slug} ({words} words)"
                 f"{' and the episode' if ep.summary else ''} in {self.seconds:.1f} s"]
        if self.dropped:
            lines.append(f"dropped {len(self.dropped)} unverified LLM sentence(s):")
            for d in self.dropped:
                where = "episode" if d.chapter is None else f"chapter {d.chapter + 1}"
                lines.append(f"  {where}: {d.reason}: {d.text[:80]!r}")
        if self.fallbacks:
            lines.append("extractive fallback for chapter(s) " + ", ".join(str(i + 1) for i in self.fallbacks))
        return "\n".join(lines)


# -- sentences ---------------------------------------------------------------------------------------------
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


def spoken_sentences(utterances: Sequence[Utterance], start: float = 0.0, end: float = float("inf")) -> list[SpokenSentence]:
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


# -- candidates -------------------------------------------------------------------------------------------
_CHATTER = re.compile(
    r"\b(?:thank(?:s| you)|my name is|my name's|i'm here with|welcome|hello|^hi\b|^hey\b|hi,? (?:everyone|all|everybody)|"
    r"good (?:morning|afternoon|evening)|up next|next up|you can hear|let's (?:hear|listen|welcome)|"
    r"honou?red|a pleasure|excited to (?:be|present)|i'm presenting|we're presenting|"
    r"(?:today,? )?(?:i|we)(?:'m|'re| am| are| will|'ll)? (?:going to )?(?:present|talk(?:ing)? about)|"
    r"applau|laughter|subscribe|listener survey|show notes|podcast)\w*",
    re.I)
_MIN_CONTENT = 5  # content words: fewer means a sentence that points ("it does the same thing") rather than says


def _n_words(text: str) -> int:
    return len(text.split())


def _host_labels(episode: Episode, people: Mapping[str, Person] | None) -> set[str]:
    if not people:
        return set()
    return {label for label, pid in episode.speakers.items() if pid in people and people[pid].host}


def _is_candidate(cleaned: str, sent: SpokenSentence, opts: SummaryOptions, hosts: set[str],
                  titles: Sequence[str] = ()) -> bool:
    n = _n_words(cleaned)
    if n < opts.min_sentence_words or n > opts.max_sentence_words:
        return False
    if len(set(content_words(cleaned))) < _MIN_CONTENT:
        return False
    if titles:  # a sentence that only reads out the paper's title says nothing about it
        from rapidfuzz import fuzz

        if any(fuzz.token_set_ratio(_norm(cleaned), _norm(t)) >= 85 for t in titles):
            return False
    if cleaned.endswith("?") or _CHATTER.search(cleaned):
        return False
    if sent.speaker is not None and sent.speaker in hosts:
        return False
    first = sent.text.lstrip("\"'“‘(-– ")[:1]
    return bool(first) and (first.isupper() or first.isdigit())  # a lowercase start is a cut-off fragment


def _paper_text(paper: Paper) -> str:
    return f"{paper.title}. {paper.abstract}".strip()


@dataclass
class _Chapter:
    index: int
    start: float
    end: float
    sentences: list[SpokenSentence]
    cleaned: list[str]
    candidates: list[int]
    topic: str  # paper id, or "" when the chapter has none


def _prepare(episode: Episode, papers: Mapping[str, Paper], opts: SummaryOptions, hosts: set[str]) -> list[_Chapter]:
    utts = episode.transcript.utterances
    out = []
    for i, (start, end) in enumerate(chapter_bounds(episode)):
        sents = spoken_sentences(utts, start, end)
        cleaned = [clean_disfluencies(s.text) for s in sents]
        paper = papers.get(episode.chapters[i].paper or "")
        titles = [paper.title, *paper.aliases] if paper else []
        cands = [j for j, (s, c) in enumerate(zip(sents, cleaned)) if _is_candidate(c, s, opts, hosts, titles)]
        if not cands:  # a short or chatty chapter: take what there is, questions aside
            cands = [j for j, c in enumerate(cleaned) if _n_words(c) >= 4 and not c.endswith("?")]
        out.append(_Chapter(i, start, end, sents, cleaned, cands, episode.chapters[i].paper or ""))
    return out


def extractive_summaries(episode: Episode, papers: Mapping[str, Paper], opts: SummaryOptions, *,
                         people: Mapping[str, Person] | None = None,
                         cache_dir: Path | None = None) -> tuple[list[Summary | None], Summary | None]:
    """The extractive summary of each chapter of ``episode`` and of the episode (see module docstring)."""
    from pipeline.embed import embed_texts

    hosts = _host_labels(episode, people)
    chapters = _prepare(episode, papers, opts, hosts)
    # topics: the linked paper's title + abstract (and title alone), else the chapter's title
    topic_texts: list[str] = []
    topic_of: list[list[int]] = []
    for ch in chapters:
        paper = papers.get(ch.topic) if ch.topic else None
        texts = [paper.title, _paper_text(paper)] if paper else [episode.chapters[ch.index].title]
        topic_of.append(list(range(len(topic_texts), len(topic_texts) + len(texts))))
        topic_texts += texts
    # one embedding call for the whole episode (batched, cached by text)
    all_texts = [ch.cleaned[j] for ch in chapters for j in ch.candidates]
    vecs = embed_texts(all_texts + topic_texts, cache_dir=cache_dir)
    sent_vecs, topic_vecs = vecs[: len(all_texts)], vecs[len(all_texts):]
    topics = []
    for idx in topic_of:
        v = topic_vecs[idx].mean(axis=0)
        topics.append(v / (np.linalg.norm(v) or 1.0))
    topics_arr = np.array(topics) if topics else np.zeros((0, sent_vecs.shape[1] if len(sent_vecs) else 384))

    summaries: list[Summary | None] = []
    best: list[list[tuple[float, np.ndarray, int, _Chapter]] | None] = []
    offset = 0
    for ch in chapters:
        C = sent_vecs[offset: offset + len(ch.candidates)]  # the candidates stand for the chapter
        offset += len(ch.candidates)
        if not ch.candidates:
            summaries.append(None)
            best.append(None)
            continue
        centroid = C.mean(axis=0)
        centroid /= np.linalg.norm(centroid) or 1.0
        centrality = C @ centroid
        own = C @ topics_arr[ch.index]
        others = [k for k, other in enumerate(chapters) if k != ch.index and (other.topic != ch.topic or not ch.topic)]
        other = (C @ topics_arr[others].T).max(axis=1) if others else np.zeros(len(C))
        # the on-topic stretch: a sentence among others close to the paper beats a stray one (this keeps
        # a summary on its talk when the chapter runs long, e.g. past a talk the notes do not list)
        times = np.array([ch.sentences[j].start for j in ch.candidates])
        near = np.abs(times[:, None] - times[None, :]) <= opts.context_seconds
        local = (near * own[None, :]).sum(axis=1) / near.sum(axis=1)
        relevance = ((1 - opts.topic_weight) * centrality + opts.topic_weight * own
                     + opts.context_weight * (local - local.mean())
                     - opts.contrast_weight * np.maximum(0.0, other - own))
        picked = _mmr(C, relevance, [_n_words(ch.cleaned[j]) for j in ch.candidates], opts)
        if not picked:
            summaries.append(None)
            best.append(None)
            continue
        chosen = [(float(relevance[k]), ch.candidates[k]) for k in picked]
        sentences = [SummarySentence(ch.cleaned[j], ch.sentences[j].start, ch.sentences[j].end)
                     for _, j in sorted(chosen, key=lambda x: ch.sentences[x[1]].start)]
        summaries.append(Summary(text=" ".join(s.text for s in sentences), sentences=sentences, method="extractive"))
        short = [k for k in picked if _n_words(ch.cleaned[ch.candidates[k]]) <= opts.episode_sentence_words]
        best.append([(float(relevance[k]), C[k], ch.candidates[k], ch) for k in short or picked[:1]])

    # the episode: one sentence per chapter, the most relevant one that does not repeat an earlier chapter's
    episode_sentences: list[SummarySentence] = []
    taken: list[np.ndarray] = []
    for options in best:
        if not options:
            continue
        score = [r - opts.diversity * max((float(v @ t) for t in taken), default=0.0) for r, v, _, _ in options]
        _, v, j, ch = options[int(np.argmax(score))]
        taken.append(v)
        episode_sentences.append(SummarySentence(ch.cleaned[j], ch.sentences[j].start, ch.sentences[j].end))
    if not episode.chapters:  # no chapters: the episode summary is the whole transcript's summary
        whole = dataclasses.replace(episode, chapters=[Chapter(start=0.0, title=episode.title)])
        return [], extractive_summaries(whole, papers, opts, people=people, cache_dir=cache_dir)[0][0]
    ep_summary = (Summary(text=" ".join(s.text for s in episode_sentences), sentences=episode_sentences,
                          method="extractive") if episode_sentences else None)
    return summaries, ep_summary


def _mmr(C: np.ndarray, relevance: np.ndarray, words: list[int], opts: SummaryOptions) -> list[int]:
    """Maximal marginal relevance within the word budget: indices into C, in the order picked."""
    picked: list[int] = []
    total = 0
    left = set(range(len(C)))
    while left and len(picked) < opts.max_sentences:
        fits = [k for k in left if total + words[k] <= opts.max_words]
        if not fits:
            break
        if picked:
            redundancy = (C[fits] @ C[picked].T).max(axis=1)
        else:
            redundancy = np.zeros(len(fits))
        scores = (1 - opts.diversity) * relevance[fits] - opts.diversity * redundancy
        k = fits[int(np.argmax(scores))]
        if picked and redundancy[fits.index(k)] > 0.85:  # only near-duplicates remain
            break
        picked.append(k)
        total += words[k]
        left.discard(k)
    return picked


# -- LLM backend --------------------------------------------------------------------------------------------
_CITE = re.compile(r"\[\s*(\d{1,2}(?::\d{2}){1,2}(?:\.\d+)?)(?:\s*[-–,]\s*(\d{1,2}(?::\d{2}){1,2}(?:\.\d+)?))*\s*\]")
_CITE_ANY = re.compile(r"\[\s*[^\[\]]*?\d:\d\d[^\[\]]*\]")
_QUOTE = re.compile(r"[\"“]([^\"”]{4,})[\"”]")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'’-]+|\d+(?:\.\d+)?")
_STOP = set("""a an the of for and or but in on at to from by with as is are was were be been being it its this that these
those they them their there here we our us you your i me my he she his her which who whom what when where why how
not no so than then also can could would should will shall may might must do does did done have has had into about
over under more most very just such each other both all any some only same own too out up down off again further
once because while during before after above below between through against there's it's that's talk paper authors
author speaker presents present presented discusses discussed describes described explains explained shows showed
propose proposes proposed introduce introduces introduced work approach method""".split())


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower().replace("’", "'")).split())


def _stem(word: str) -> str:
    w = word.lower().replace("’", "'")
    for suffix in ("'s", "ies", "es", "s", "ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            w = w[: -len(suffix)]
            break
    return w[:6]


def content_words(text: str) -> list[str]:
    """Stemmed content words (no stop words) of ``text``: what grounding checks compare."""
    return [_stem(w) for w in _WORD.findall(text) if w.lower() not in _STOP and len(w) > 2]


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
    said = _norm(" ".join(s.text for s in sentences))
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
            drop(f"cites [{format_timestamp(outside[0])}], outside this part ({format_timestamp(start)}–{format_timestamp(end)})")
            continue
        quotes = [q for q in _QUOTE.findall(body) if _norm(q)]
        missing = [q for q in quotes if _norm(q) not in said and not _fuzzy_in(_norm(q), said)]
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
        if out[-1] and n + _n_words(s.text) > words:
            out.append([])
            n = 0
        out[-1].append(s)
        n += _n_words(s.text)
    return [c for c in out if c]


def _topic_block(paper: Paper | None, title: str) -> str:
    block = f"Talk: {title}\n"
    if paper is not None:
        block += f"Paper: {paper.title}\n"
        if paper.abstract:
            block += f"Abstract: {paper.abstract}\n"
    return block


def _llm_summary(client: Any, sentences: list[SpokenSentence], start: float, end: float, paper: Paper | None,
                 title: str, opts: SummaryOptions, chapter: int | None) -> tuple[list[SummarySentence], list[DroppedSentence]]:
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
        if len(out) >= opts.max_sentences or (out and total + _n_words(s.text) > opts.max_words):
            break
        out.append(s)
        total += _n_words(s.text)
    return out


def _client(opts: SummaryOptions, cache_dir: Path | None) -> Any:
    from pipeline.summarize.llm import ChatClient

    return ChatClient(opts.url or "", opts.model or "", api_key=os.environ.get(opts.api_key_env) or None,
                      timeout=opts.timeout, retries=opts.retries,
                      cache_dir=(Path(cache_dir) / "llm") if cache_dir is not None else None)


# -- the stage --------------------------------------------------------------------------------------------
def summarize_episode(episode: Episode, papers: Mapping[str, Paper], options: SummaryOptions | None = None, *,
                      people: Mapping[str, Person] | None = None, cache_dir: Path | None = None,
                      client: Any = None) -> SummaryResult:
    """Set ``Chapter.summary`` on every chapter of ``episode`` and ``episode.summary``; return a
    :class:`SummaryResult`. No content is read or written; ``cache_dir`` holds embedding and LLM caches.
    ``client`` is an LLM client with ``complete(messages, max_tokens=...) -> str`` (default:
    :class:`pipeline.summarize.llm.ChatClient` for ``options.url``)."""
    opts = options or SummaryOptions()
    opts.check()
    t0 = time.perf_counter()
    result = SummaryResult(episode=episode)
    if not episode.transcript.utterances:
        raise ContentError(f"episode {episode.slug!r} has no transcript to summarize: "
                           f"run `recap import-transcript FILE --episode {episode.slug}` first")
    fallback: list[tuple[list[Summary | None], Summary | None]] = []

    def extractive() -> tuple[list[Summary | None], Summary | None]:  # computed once, only when needed
        if not fallback:
            fallback.append(extractive_summaries(episode, papers, opts, people=people, cache_dir=cache_dir))
        return fallback[0]

    if opts.backend == "extractive":
        chapters, episode.summary = extractive()
        for ch, s in zip(episode.chapters, chapters):
            ch.summary = s
    else:
        client = client or _client(opts, cache_dir)
        method = f"llm:{opts.model}"
        utts = episode.transcript.utterances
        llm: list[Summary | None] = []
        for i, (ch, (start, end)) in enumerate(zip(episode.chapters, chapter_bounds(episode))):
            sents = spoken_sentences(utts, start, end)
            kept, bad = (_llm_summary(client, sents, start, end, papers.get(ch.paper or ""), ch.title, opts, i)
                         if sents else ([], []))
            result.dropped += bad
            llm.append(Summary(" ".join(s.text for s in kept), kept, method) if kept else None)
        # only now, when every request has been answered, does anything on the episode change
        for i, (ch, s) in enumerate(zip(episode.chapters, llm)):
            if s is None and opts.fallback:
                s = extractive()[0][i]
                result.fallbacks.append(i)
            ch.summary = s
        episode.summary = _llm_episode_summary(client, episode, opts, result)
        if episode.summary is None and (opts.fallback or not episode.chapters):
            episode.summary = extractive()[1]
    for d in result.dropped:
        where = "episode summary" if d.chapter is None else f"chapter {d.chapter + 1}"
        log.warning("%s: dropped an LLM sentence (%s): %s", where, d.reason, d.text[:100])
    result.seconds = time.perf_counter() - t0
    log.debug("summarized %s in %.1f s", episode.slug, result.seconds)
    return result


def _llm_episode_summary(client: Any, episode: Episode, opts: SummaryOptions, result: SummaryResult) -> Summary | None:
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


def summary_hash(summary: Summary | None) -> str | None:
    """A stable hash of a summary as stored (floats rounded like content/ stores them)."""
    if summary is None:
        return None
    from pipeline.serialize import to_data

    return hashlib.sha256(json.dumps(to_data(summary), sort_keys=True).encode("utf-8")).hexdigest()[:20]


def run_summarize(project: Any, slug: str, options: SummaryOptions | None = None) -> SummaryResult:
    """Summarize episode ``slug`` in ``project`` and save its chapters and metadata.

    A summary a person edited (or wrote) is kept whole: recap records the hash of every summary it
    generates in ``content/.recap/summaries/<slug>.json``; a stored summary whose hash is not among them
    was written by a person and is left as it is (a notice says so). Keeping the whole summary, not field
    by field, keeps its text and its timed sentences consistent."""
    from pipeline.content import atomic_write
    from pipeline.ids import check_id

    check_id(slug, "episode slug")
    opts = options or SummaryOptions.from_config(project.config.summaries)
    store = project.content
    with store.lock(slug):
        ep = store.load_episode(slug)
        previous_chapters = {(round(c.start, 1)): c.summary for c in ep.chapters}
        previous_episode = ep.summary
        record_path = store.path(f"{RECORD_DIR}/{slug}.json")
        generated: list[str] = []
        if record_path.exists():
            try:
                generated = list(json.loads(record_path.read_text("utf-8")))
            except (OSError, ValueError) as exc:
                raise ContentError(f"{record_path}: unreadable ({exc}); delete it to start afresh "
                                   "(every existing summary then counts as edited)") from exc
        mine = set(generated)
        result = summarize_episode(ep, store.load_papers(), opts, people=store.load_people(),
                                   cache_dir=project.cache_dir)
        new_hashes = []
        for i, ch in enumerate(ep.chapters):
            old = previous_chapters.get(round(ch.start, 1))
            new_hashes.append(summary_hash(ch.summary))
            if old is not None and summary_hash(old) not in mine and summary_hash(old) != summary_hash(ch.summary):
                ch.summary = old
                result.kept.append(f"kept your edited summary of chapter {i + 1} ({ch.title}) in "
                                   f"{store.display(f'episodes/{slug}/chapters.toml')}")
        new_hashes.append(summary_hash(ep.summary))
        if (previous_episode is not None and summary_hash(previous_episode) not in mine
                and summary_hash(previous_episode) != summary_hash(ep.summary)):
            ep.summary = previous_episode
            result.kept.append(f"kept your edited episode summary in {store.display(f'episodes/{slug}/episode.toml')}")
        # remember what recap generated (newest first, bounded) before writing the summaries themselves
        record = list(dict.fromkeys([h for h in new_hashes if h] + generated))[:500]
        atomic_write(record_path, json.dumps(record, indent=0) + "\n")
        store.save_episode(ep, parts=("meta", "chapters"))
        store.notices.extend(result.kept)
    return result


# -- export -----------------------------------------------------------------------------------------------
SUMMARIES_VERSION = "1.0.0"


def _sentences_json(summary: Summary | None) -> list[dict]:
    if summary is None:
        return []
    return [{"text": s.text, "startTime": round(float(s.start), 3), "endTime": round(float(s.end), 3)}
            for s in summary.sentences]


def summaries_json(episode: Episode) -> dict:
    """The episode's summaries as plain data (``recap export SLUG --format summaries``): the episode
    ``summary`` and its ``sentences``, and ``chapters`` with ``startTime``, ``title``, ``summary``
    and the ``sentences`` (``text``, ``startTime``, ``endTime``) each summary rests on."""
    chapters = []
    for ch, (start, end) in zip(episode.chapters, chapter_bounds(episode)):
        item: dict = {"startTime": round(float(ch.start), 3), "endTime": round(float(end), 3), "title": ch.title}
        if ch.paper:
            item["paper"] = ch.paper
        item["summary"] = ch.summary.text if ch.summary else None
        item["method"] = ch.summary.method if ch.summary else None
        item["sentences"] = _sentences_json(ch.summary)
        chapters.append(item)
    return {
        "version": SUMMARIES_VERSION,
        "episode": episode.slug,
        "title": episode.title,
        "summary": episode.summary.text if episode.summary else None,
        "method": episode.summary.method if episode.summary else None,
        "sentences": _sentences_json(episode.summary),
        "chapters": chapters,
    }
