"""An episode's "In short", which is also its description in the feeds: what a reader deciding whether
to listen wants, in a few lines.

In order: the show notes' own description (their opening paragraphs), else the LLM's episode summary
when one was made, else an overview generated from the chapters (the talks and who gave them). The
extractive episode summary (transcript sentences stitched together) reads as fragments out of context,
so it is not used here; the chapters keep their own summaries.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pipeline.models import Episode

MAX_WORDS = 70
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_LIST_OR_TIME = re.compile(r"^\s*(?:[-*+]\s|\d+[.)]\s|\[?\(?\d{1,2}:\d{2})")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_KIND_WORDS = {"talk": ("talk", "talks"), "oral": ("oral", "orals"), "poster": ("poster session", "poster sessions")}


def _plain(markdown: str) -> str:
    text = _MD_LINK.sub(r"\1", markdown)
    text = re.sub(r"[*_`]+", "", text)
    return " ".join(text.split())


def notes_lead(description: str, max_words: int = MAX_WORDS) -> str:
    """The opening prose of show notes: paragraphs (no headings, lists or timestamp lines) up to
    ``max_words`` words, cut at a sentence end."""
    words: list[str] = []
    for block in re.split(r"\n\s*\n", description):
        lines = [ln for ln in block.strip().splitlines() if ln.strip()]
        if not lines or lines[0].lstrip().startswith("#") or _LIST_OR_TIME.match(lines[0]):
            if words:
                break
            continue
        for sentence in _SENTENCE_END.split(_plain(" ".join(lines))):
            n = len(sentence.split())
            if words and len(words) + n > max_words:
                return " ".join(words)
            words += sentence.split()[: max_words if not words else n]
        if len(words) >= max_words // 2:
            break
    return " ".join(words)


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def chapters_overview(ep: Episode, name: Callable[[str], str]) -> str:
    """"3 talks and 1 poster session: Word2Vec (Jeff Dean), DPO (Rafael Rafailov) and ..." from the
    chapters' titles and speakers; "" without chapters."""
    chapters = sorted(ep.chapters, key=lambda c: c.start)
    if not chapters:
        return ""
    counts: dict[str, int] = {}
    for ch in chapters:
        counts[ch.kind] = counts.get(ch.kind, 0) + 1
    parts = []
    for kind, n in counts.items():
        one, many = _KIND_WORDS.get(kind, ("chapter", "chapters"))
        parts.append(f"{n} {one if n == 1 else many}")
    items = []
    for ch in chapters[:8]:
        who = [name(s) for s in ch.speakers]
        items.append(f"{ch.title} ({_join(who)})" if who else ch.title)
    more = len(chapters) - len(items)
    listing = _join(items + [f"{more} more"] if more else items)
    return f"{_join(parts)}: {listing}."


def episode_overview(ep: Episode, name: Callable[[str], str]) -> dict:
    """``{"text", "source"}``; source is "notes", "llm" or "chapters" (text "" when there is nothing)."""
    lead = notes_lead(ep.description) if ep.description else ""
    if lead:
        return {"text": lead, "source": "notes"}
    if ep.summary is not None and ep.summary.method.startswith("llm") and ep.summary.text.strip():
        return {"text": ep.summary.text.strip(), "source": "llm"}
    return {"text": chapters_overview(ep, name), "source": "chapters"}
