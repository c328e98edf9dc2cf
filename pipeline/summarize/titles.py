"""Chapter titles written by the LLM backend, for the chapters alignment found in the recording.

Alignment titles a chapter it found (``source = "auto"``) without a paper by key phrases ("GPUs, called rich,
pre-training") or "Talk by NAME". When ``[summaries] backend = "llm"``, :func:`run_titles` asks the endpoint
for a short descriptive title of each such chapter, from its opening sentences (:func:`title_messages`),
and keeps an answer only when it is a plausible title (:func:`clean_title`: one line, 2-10 words, no
"Title:" preamble, quotes or trailing full stop). Nothing else is retitled: a chapter from the notes, a
transcript's heading or a person (``source`` notes / transcript / person), one titled by its paper's
short name, and a title a person edited in ``chapters.toml`` (the content store keeps their edit) stay.
When no server answers, every title stays the key-phrase title and one notice says so: titles are never
worth failing an import or a batch for.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.errors import StageError
from pipeline.models import Episode
from pipeline.summarize.options import SummaryOptions
from pipeline.summarize.sentences import chapter_bounds, spoken_sentences
from pipeline.timefmt import format_timestamp

log = logging.getLogger(__name__)

_SYSTEM = ("You title the chapters of a recorded conference talk or podcast. Answer with the title only: "
           "at most eight words, no quotes, no full stop.")
OPENING_WORDS = 350  # words of the chapter's speech the prompt quotes (its opening says what it is about)


def retitled(episode: Episode) -> list[int]:
    """The chapters an LLM may title: found in the recording, not the intro, not titled by a paper."""
    return [k for k, c in enumerate(episode.chapters) if c.source == "auto" and c.kind != "intro" and not c.paper]


def title_messages(episode: Episode, k: int, people: Mapping[str, Any] | None = None) -> list[dict[str, str]]:
    """The chat messages asking for chapter ``k``'s title: the episode's title, the chapter's speakers,
    its key-phrase title as a hint, and the opening of what is said in it (with times)."""
    c = episode.chapters[k]
    start, end = chapter_bounds(episode)[k]
    words: list[str] = []
    lines = []
    for s in spoken_sentences(episode.transcript.utterances, start, end):
        if len(words) >= OPENING_WORDS:
            break
        words += s.text.split()
        lines.append(f"[{format_timestamp(s.start)}] {s.text}")
    names = [getattr(people.get(s), "name", s) for s in c.speakers] if people else list(c.speakers)
    prompt = (f"Episode: {episode.title}\n"
              + (f"Speakers: {', '.join(names)}\n" if names else "")
              + f"Chapter {k + 1} of {len(episode.chapters)}, from {format_timestamp(start)} to "
                f"{format_timestamp(end)}. Key phrases: {c.title}\n"
              + "What is said at its start:\n" + "\n".join(lines)
              + "\n\nWrite a short descriptive title for this chapter (at most eight words).\nTitle:")
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": prompt}]


def clean_title(answer: str) -> str | None:
    """The title in an LLM answer, or None when it is no plausible title (empty, several lines of prose,
    over ten words, a refusal)."""
    lines = [ln.strip() for ln in answer.strip().splitlines() if ln.strip()]
    if not lines:
        return None
    text = re.sub(r"^(?:#+\s*|\*\*|chapter\s+title\s*:|title\s*:)\s*", "", lines[0], flags=re.I).strip()
    text = text.strip("*\"'“”‘’ ").rstrip(".").strip()
    words = text.split()
    if not 2 <= len(words) <= 10 or len(text) > 90 or re.match(r"(?i)(?:i|sorry|as an ai)\b", text):
        return None
    return text[0].upper() + text[1:]


def llm_titles(episode: Episode, client: Any, opts: SummaryOptions, people: Mapping[str, Any] | None = None,
               ) -> dict[int, str]:
    """Chapter index -> the LLM's title, for :func:`retitled` chapters whose answer :func:`clean_title` keeps."""
    out = {}
    for k in retitled(episode):
        answer = client.complete(title_messages(episode, k, people), max_tokens=min(40, opts.max_tokens))
        title = clean_title(answer)
        if title is not None:
            out[k] = title
        else:
            log.info("chapter %d: the LLM's title %r is no title; keeping %r", k + 1, answer[:60],
                     episode.chapters[k].title)
    return out


def run_titles(project: Any, slug: str, options: SummaryOptions | None = None, *, client: Any = None) -> list[str]:
    """Title episode ``slug``'s found chapters with the LLM backend when ``[summaries] backend = "llm"``
    (see the module docstring); save the episode through the content store. Returns notices (what was
    done, or that the key-phrase titles stay because no server answered)."""
    opts = options or SummaryOptions.from_config(project.config.summaries)
    if opts.backend != "llm":
        return []
    store = project.content
    with store.lock_episode(slug):
        ep = store.load_episode(slug)
        if not retitled(ep) or not ep.transcript.utterances:
            return []
        if client is None:
            from pipeline.summarize.grounded import make_client

            client = make_client(opts, Path(project.cache_dir))
        try:
            titles = llm_titles(ep, client, opts, store.load_people())
        except StageError as exc:  # the endpoint is down or refuses: the key-phrase titles are fine
            note = f"{slug}: chapter titles stay key phrases (the LLM gave none: {exc})"
            log.warning("%s", note)
            return [note]
        for k, title in titles.items():
            ep.chapters[k].title = title
        if titles:
            store.save_episode(ep, parts=("chapters",))
    return [f"{slug}: {len(titles)} of {len(retitled(ep))} found chapters titled by {opts.model}"]
