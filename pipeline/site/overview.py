"""An episode's "In short", which is also its description in the feeds: what a reader deciding whether
to listen wants, in a few lines.

In order: a summary a person wrote (method "person", edited in content/), else the show notes' own description
(their opening paragraphs), else the LLM's episode summary when one was made, else an overview generated from
the chapters (the talks and who gave them). The extractive episode summary (transcript sentences stitched
together) reads as fragments out of context, so it is not used here; the chapters keep their own summaries.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pipeline.models import Episode
from pipeline.text import STOP_WORDS, words

MAX_WORDS = 70
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_LIST_OR_TIME = re.compile(r"^\s*(?:[-*+]\s|\d+[.)]\s|\[?\(?\d{1,2}:\d{2})")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
_KIND_WORDS = {"talk": ("talk", "talks"), "oral": ("oral", "orals"), "poster": ("poster session", "poster sessions")}


def _plain(markdown: str) -> str:
    text = _MD_LINK.sub(r"\1", markdown)
    text = re.sub(r"[*_`]+", "", text)
    return " ".join(text.split())


def _prose(description: str) -> list[str]:
    """The notes' prose paragraphs, as plain text (no headings, lists or timestamp lines)."""
    out = []
    for block in re.split(r"\n\s*\n", description):
        lines = [ln for ln in block.strip().splitlines() if ln.strip()]
        if lines and not lines[0].lstrip().startswith("#") and not _LIST_OR_TIME.match(lines[0]):
            out.append(_plain(" ".join(lines)))
    return out


def notes_lead(description: str, max_words: int = MAX_WORDS, topic: str = "") -> str:
    """The opening prose of show notes, up to ``max_words`` words cut at a sentence end. It starts at the
    first of the opening paragraphs that names something of ``topic`` (the episode's title and chapter
    titles): an announcement before the description ("We are running a listener survey!") is skipped."""
    paragraphs = _prose(description)
    if not paragraphs:
        return ""
    wanted = {w for w in words(topic) if w not in STOP_WORDS and len(w) > 2}
    start = next((i for i, p in enumerate(paragraphs[:3]) if wanted & set(words(p))), 0)
    out: list[str] = []
    for paragraph in paragraphs[start:]:
        for sentence in _SENTENCE_END.split(paragraph):
            n = len(sentence.split())
            if out and len(out) + n > max_words:
                return " ".join(out)
            out += sentence.split()[: max_words if not out else n]
        if len(out) >= max_words // 2:
            break
    return " ".join(out)


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
    """``{"text", "source"}``; source is "person", "notes", "llm" or "chapters" (text "" when there is
    nothing). A person's summary in content/ is the source of truth and wins over everything generated."""
    if ep.summary is not None and ep.summary.method == "person" and ep.summary.text.strip():
        return {"text": ep.summary.text.strip(), "source": "person"}
    topic = " ".join([ep.title, *(c.title for c in ep.chapters)])
    lead = notes_lead(ep.description, topic=topic) if ep.description else ""
    if lead:
        return {"text": lead, "source": "notes"}
    if ep.summary is not None and ep.summary.method.startswith("llm") and ep.summary.text.strip():
        return {"text": ep.summary.text.strip(), "source": "llm"}
    return {"text": chapters_overview(ep, name), "source": "chapters"}
