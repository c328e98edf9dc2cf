"""The extractive backend (offline): the sentences that best cover each chapter and its paper.

See :mod:`pipeline.summarize.summaries` for the method.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.cache import Cache
from pipeline.models import Chapter, Episode, Paper, Person, Summary, SummarySentence
from pipeline.summarize.disfluency import clean_disfluencies
from pipeline.summarize.options import SpokenSentence, SummaryOptions
from pipeline.summarize.sentences import chapter_bounds, content_words, normalize_text, spoken_sentences, word_count

_CHATTER = re.compile(
    r"\b(?:thank(?:s| you)|my name is|my name's|i'm here with|welcome|hello|^hi\b|^hey\b|"
    r"hi,? (?:everyone|all|everybody)|"
    r"good (?:morning|afternoon|evening)|up next|next up|you can hear|let's (?:hear|listen|welcome)|"
    r"honou?red|a pleasure|excited to (?:be|present)|i'm presenting|we're presenting|"
    r"(?:today,? )?(?:i|we)(?:'m|'re| am| are| will|'ll)? (?:going to )?(?:present|talk(?:ing)? about)|"
    r"applau|laughter|subscribe|listener survey|show notes|podcast)\w*",
    re.I)
_MIN_CONTENT = 5  # content words: fewer means a sentence that points ("it does the same thing") rather than says


def _host_labels(episode: Episode, people: Mapping[str, Person] | None) -> set[str]:
    if not people:
        return set()
    return {label for label, pid in episode.speakers.items() if pid in people and people[pid].host}


def _is_candidate(cleaned: str, sent: SpokenSentence, opts: SummaryOptions, hosts: set[str],
                  titles: Sequence[str] = ()) -> bool:
    n = word_count(cleaned)
    if n < opts.min_sentence_words or n > opts.max_sentence_words:
        return False
    if len(set(content_words(cleaned))) < _MIN_CONTENT:
        return False
    if titles:  # a sentence that only reads out the paper's title says nothing about it
        from rapidfuzz import fuzz

        if any(fuzz.token_set_ratio(normalize_text(cleaned), normalize_text(t)) >= 85 for t in titles):
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
            cands = [j for j, c in enumerate(cleaned) if word_count(c) >= 4 and not c.endswith("?")]
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
    vecs = embed_texts(all_texts + topic_texts, cache_dir=Cache(cache_dir).folder("summaries"))
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
        picked = _mmr(C, relevance, [word_count(ch.cleaned[j]) for j in ch.candidates], opts)
        if not picked:
            summaries.append(None)
            best.append(None)
            continue
        chosen = [(float(relevance[k]), ch.candidates[k]) for k in picked]
        sentences = [SummarySentence(ch.cleaned[j], ch.sentences[j].start, ch.sentences[j].end)
                     for _, j in sorted(chosen, key=lambda x: ch.sentences[x[1]].start)]
        summaries.append(Summary(text=" ".join(s.text for s in sentences), sentences=sentences, method="extractive"))
        short = [k for k in picked if word_count(ch.cleaned[ch.candidates[k]]) <= opts.episode_sentence_words]
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
