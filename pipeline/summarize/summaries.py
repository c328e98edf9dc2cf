"""Summaries: a short, faithful summary of every chapter (talk, oral, poster interview) and of the episode.

Every summary sentence rests on a moment of the recording (:class:`pipeline.models.SummarySentence`
``start``/``end``), so a reader can check each claim in one click.

Two backends, chosen by :attr:`SummaryOptions.backend` (``[summaries] backend`` in ``recap.toml``):

``extractive`` (offline default)
    1. :func:`pipeline.summarize.sentences.spoken_sentences` rebuilds sentences from transcript lines (whisper
       lines are fragments):
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
    citation like ``[12:34]``; :func:`pipeline.summarize.grounded.verify_citations` drops (and reports) a sentence
    with no
    citation, a citation outside the chapter, a quotation that was never said, or words the cited
    passage does not support. A chapter left with no verified sentence falls back to the extractive
    summary (``method = "extractive"``), so every chapter still gets one.

:func:`summarize_episode` is pure (no I/O besides the embedding/LLM caches); :func:`run_summarize`
loads the episode, runs it and writes it back through the :class:`ContentStore`. A summary a person
edited is kept whole on re-runs (see :func:`run_summarize`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.errors import ContentError
from pipeline.models import Episode, Paper, Person, Summary
from pipeline.summarize.extractive import extractive_summaries
from pipeline.summarize.grounded import llm_chapter_summary, llm_episode_summary, make_client
from pipeline.summarize.options import SummaryOptions, SummaryResult
from pipeline.summarize.sentences import chapter_bounds, spoken_sentences

log = logging.getLogger(__name__)

RECORD_DIR = ".recap/summaries"  # under content/: hashes of the summaries recap generated, per episode


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
        client = client or make_client(opts, cache_dir)
        method = f"llm:{opts.model}"
        utts = episode.transcript.utterances
        llm: list[Summary | None] = []
        for i, (ch, (start, end)) in enumerate(zip(episode.chapters, chapter_bounds(episode))):
            sents = spoken_sentences(utts, start, end)
            kept, bad = (llm_chapter_summary(client, sents, start, end, papers.get(ch.paper or ""), ch.title, opts, i)
                         if sents else ([], []))
            result.dropped += bad
            llm.append(Summary(" ".join(s.text for s in kept), kept, method) if kept else None)
        # only now, when every request has been answered, does anything on the episode change
        for i, (ch, s) in enumerate(zip(episode.chapters, llm)):
            if s is None and opts.fallback:
                s = extractive()[0][i]
                result.fallbacks.append(i)
            ch.summary = s
        episode.summary = llm_episode_summary(client, episode, opts, result)
        if episode.summary is None and (opts.fallback or not episode.chapters):
            episode.summary = extractive()[1]
    for d in result.dropped:
        where = "episode summary" if d.chapter is None else f"chapter {d.chapter + 1}"
        log.warning("%s: dropped an LLM sentence (%s): %s", where, d.reason, d.text[:100])
    result.seconds = time.perf_counter() - t0
    log.debug("summarized %s in %.1f s", episode.slug, result.seconds)
    return result


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
    from pipeline.files import atomic_write
    from pipeline.ids import check_id

    check_id(slug, "episode slug")
    opts = options or SummaryOptions.from_config(project.config.summaries)
    store = project.content
    with store.lock_episode(slug):
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
    for ch, (_, end) in zip(episode.chapters, chapter_bounds(episode)):
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
