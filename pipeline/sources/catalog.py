"""The paper catalog's identity rules: ids, title matching, and merging records of one paper.

Ids are stable: the arXiv id when known (``2305.18290``; old-style ``hep-th/9901001`` becomes
``hep-th-9901001``), else ``slugify(title)``. When a paper first stored under a slug id later gains an
arXiv id in a later import, it keeps its slug id (pages, links and people's edits keep working) and
records the arXiv id in ``arxiv``; :func:`find_paper` finds it by either. (Within one import, records
merged together take the arXiv id, whatever the order of the files.)

Reading paper sources is :mod:`pipeline.sources.papers`; this module only compares and merges records.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace

from pipeline import tex
from pipeline.ids import check_id, slugify
from pipeline.models import Paper
from pipeline.text import TITLE_STOP, norm_title

# -- ids and title matching --------------------------------------------------------------------------


@functools.lru_cache(maxsize=1 << 16)
def _norm(title: str) -> str:
    """:func:`norm_title` of the title as a reader sees it (TeX decoded, math as symbols), cached: an import
    compares each title many times."""
    return norm_title(tex.plain(title))


_ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/([a-z-]+(?:\.[A-Z]{2})?/\d{7}|\d{4}\.\d{4,5})(?:v\d+)?", re.I)
_ARXIV_ID = re.compile(r"^(?:arxiv:)?(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$", re.I)


def normalize_arxiv(value: str | None) -> str | None:
    """'arXiv:2305.18290v2' / 'https://arxiv.org/abs/2305.18290' -> '2305.18290'."""
    if not value:
        return None
    value = value.strip()
    m = _ARXIV_URL.search(value) or _ARXIV_ID.match(value)
    return m.group(1) if m else None


_OPENREVIEW_URL = re.compile(r"openreview\.net/(?:forum|pdf)\?(?:.*&)?id=([A-Za-z0-9_-]{6,20})")
_OPENREVIEW_ID = re.compile(r"^[A-Za-z0-9_-]{8,14}$")


def normalize_openreview(value: str | None) -> str | None:
    """'https://openreview.net/forum?id=009LK0vLcY' or '009LK0vLcY' -> '009LK0vLcY'."""
    if not value:
        return None
    value = value.strip()
    m = _OPENREVIEW_URL.search(value)
    if m:
        return m.group(1)
    if _OPENREVIEW_ID.match(value) and re.search(r"[A-Za-z]", value) and re.search(r"\d|[A-Z]", value):
        return value
    return None


def paper_id(title: str, arxiv: str | None = None) -> str:
    """The stable id of a new paper: its arXiv id when known, else a slug of its title as a reader sees
    it (``$\\texttt{TACO}$: ...`` -> ``taco-...``, ``Fr\\'echet`` -> ``frechet``)."""
    if arxiv:
        return check_id(arxiv.lower().replace("/", "-"), "paper id")
    return slugify(tex.plain(title))


def _content_words(title: str) -> set[str]:
    return {w for w in _norm(title).split() if w not in TITLE_STOP}


def _numbers(title: str) -> set[str]:
    return set(re.findall(r"\d+(?:\.\d+)?", title))


def short_names(paper: Paper) -> list[str]:
    """Names a paper goes by: its aliases, an acronym in parentheses in its title, the part before
    a title's colon when short ("QLoRA"), and the acronym of that part ("Direct Preference
    Optimization" -> "DPO")."""
    names = list(paper.aliases)
    # an acronym the title spells out in parentheses: "Self-Taught Optimizer (STOP): ..."
    names += re.findall(r"\(([A-Z][A-Za-z0-9-]*[A-Z][A-Za-z0-9-]*)\)", paper.title)
    head = paper.title.split(":", 1)[0].strip() if ":" in paper.title else ""
    if head and len(head) <= 40:
        if len(head.split()) <= 2:
            names.append(head)
        caps = [w for w in re.split(r"[\s-]+", head) if w[:1].isupper()]
        if len(caps) >= 2 and len(caps) == len(head.split()):
            names.append("".join(w[0] for w in caps))
    return list(dict.fromkeys(n for n in names if n))


TITLE_MATCH = 90.0
"""Minimum rapidfuzz ratio (0-100) between normalised titles to treat two records as one paper."""


def title_score(a: str, b: str) -> float:
    """Similarity of two titles (0-100), 0 when they differ in a number ("Llama 2" vs "Llama 3")
    or one is much shorter than the other without being a prefix of it."""
    from rapidfuzz import fuzz

    na, nb = _norm(a), _norm(b)
    if not na or not nb:
        return 0.0
    if na == nb:
        return 100.0
    if _numbers(a) != _numbers(b):
        return 0.0
    score = fuzz.ratio(na, nb)
    # "Title: Subtitle" vs "Title" alone: the main title matches as a whole
    ha, hb = _norm(a.split(":", 1)[0]), _norm(b.split(":", 1)[0])
    if ":" in a and ":" not in b and ha == nb or ":" in b and ":" not in a and hb == na:
        if len(_content_words(min(a, b, key=len))) >= 3:
            score = max(score, 95.0)
    return float(score)


def find_paper(catalog: Mapping[str, Paper], title_or_alias: str) -> Paper | None:
    """The catalog paper a title, short name, arXiv id or paper id refers to, or None."""
    query = title_or_alias.strip()
    if not query:
        return None
    if query in catalog:
        return catalog[query]
    arxiv = normalize_arxiv(query)
    if arxiv:
        for paper in catalog.values():
            if paper.arxiv == arxiv:
                return paper
    q = _norm(query)
    for paper in catalog.values():  # exact title, alias, short name
        if _norm(paper.title) == q:
            return paper
    for paper in catalog.values():
        if any(_norm(n) == q for n in short_names(paper)):
            return paper
    best, best_score = None, 0.0
    for paper in catalog.values():
        s = title_score(query, paper.title)
        if s > best_score:
            best, best_score = paper, s
    return best if best_score >= TITLE_MATCH else None


# -- merging ---------------------------------------------------------------------------------------------


def _same_paper(a: Paper, b: Paper) -> bool:
    if a.arxiv and b.arxiv:
        return a.arxiv == b.arxiv
    if title_score(a.title, b.title) >= TITLE_MATCH:
        return True
    # a record known only by its short name ("DPO") matches the paper that goes by it
    for x, y in ((a, b), (b, a)):
        if len(x.title.split()) <= 3 and any(_norm(x.title) == _norm(n) for n in short_names(y)):
            return True
    return False


def union(*lists: Iterable[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for items in lists:
        for item in items:
            key = item.casefold()
            if item and key not in seen:
                seen.add(key)
                out.append(item)
    return out


def _merge_two(old: Paper, new: Paper) -> Paper:
    """Keep the old id; take the most complete value of each field; keep every note and source."""
    def longer(a: str | None, b: str | None) -> str | None:
        return b if b and (not a or len(b) > len(a)) else a

    title = old.title
    bare = not (old.abstract or old.authors)  # e.g. a day-notes item: title only, maybe paraphrased
    if len(new.title.split()) > 3 and (len(old.title.split()) <= 3 or len(new.title) > len(old.title) + 10
                                       or bare and (new.abstract or new.authors)):
        title = new.title  # a short name, a truncated or paraphrased title gives way to the full one
    aliases = union(old.aliases, new.aliases)
    if title != old.title:
        aliases = union(aliases, [old.title])  # still findable by the name it was known by
    notes = list(old.notes)
    for note in new.notes:
        if not any(n.source == note.source and n.text == note.text for n in notes):
            notes.append(note)
    return replace(
        old,
        title=title,
        authors=new.authors if len(new.authors) > len(old.authors) else old.authors,
        date=longer(old.date, new.date) if not (old.date and new.date) else old.date,
        abstract=longer(old.abstract, new.abstract) or "",
        arxiv=old.arxiv or new.arxiv,
        doi=old.doi or new.doi,
        url=old.url or new.url,
        venue=old.venue or new.venue,
        track=old.track or new.track,
        status=old.status or new.status,
        openreview=old.openreview or new.openreview,
        aliases=[a for a in aliases if a.casefold() != title.casefold()],
        notes=notes,
        sources=union(old.sources, new.sources),
    )


def _url_key(url: str | None) -> str | None:
    if not url:
        return None
    return re.sub(r"^https?://(www\.)?", "", url.strip()).rstrip("/").lower() or None


def _identities(p: Paper) -> list[tuple[str, str]]:
    """What names a paper for sure: arXiv id, DOI, OpenReview id, URL."""
    keys = [("arxiv", p.arxiv), ("doi", p.doi.lower() if p.doi else None),
            ("openreview", p.openreview or normalize_openreview(p.url)), ("url", _url_key(p.url))]
    return [(k, v) for k, v in keys if v]


class _Index:
    """The catalog looked up by identity (arXiv, DOI, OpenReview id, URL), exact normalised title, short
    name, and by its rarest title words (the candidates for a fuzzy title match): each title is
    normalised once, and a new record is compared with the few papers sharing a rare word, not with all."""

    def __init__(self, catalog: Mapping[str, Paper]) -> None:
        self.ids: dict[tuple[str, str], str] = {}
        self.titles: dict[str, set[str]] = {}
        self.shorts: dict[str, set[str]] = {}
        self.words: dict[str, set[str]] = {}
        self.keys: dict[str, tuple[list[tuple[str, str]], str, list[str], set[str]]] = {}
        for paper in catalog.values():
            self.add(paper)

    def add(self, p: Paper) -> None:
        ident, title = _identities(p), _norm(p.title)
        shorts = [_norm(n) for n in short_names(p)]
        words = _content_words(p.title)
        self.keys[p.id] = (ident, title, shorts, words)
        for k in ident:
            self.ids.setdefault(k, p.id)
        self.titles.setdefault(title, set()).add(p.id)
        for n in shorts:
            self.shorts.setdefault(n, set()).add(p.id)
        for w in words:
            self.words.setdefault(w, set()).add(p.id)

    def remove(self, pid: str) -> None:
        ident, title, shorts, words = self.keys.pop(pid)
        for k in ident:
            if self.ids.get(k) == pid:
                del self.ids[k]
        self.titles[title].discard(pid)
        for n in shorts:
            self.shorts[n].discard(pid)
        for w in words:
            self.words[w].discard(pid)

    def by_identity(self, p: Paper) -> str | None:
        return next((self.ids[k] for k in _identities(p) if k in self.ids), None)

    def candidates(self, p: Paper) -> set[str]:
        title = _norm(p.title)
        found = set(self.titles.get(title, ()))
        words = sorted(_content_words(p.title), key=lambda w: len(self.words.get(w, ())))
        for w in words[:3]:  # a title within TITLE_MATCH shares at least one of its three rarest words
            found |= self.words.get(w, set())
        if len(p.title.split()) <= 3:  # "DPO" is the paper that goes by it
            found |= self.shorts.get(title, set())
        for n in short_names(p):
            found |= self.titles.get(_norm(n), set())
        return found


def _conflict(a: list[tuple[str, str]], b: list[tuple[str, str]]) -> bool:
    """Both records name their paper for sure (same kind of id: :func:`_identities` ``a`` and ``b``), and
    the ids differ: two papers, however alike their titles."""
    kb = dict(b)
    return any(k in kb and v != kb[k] for k, v in a if k in ("arxiv", "doi", "openreview"))


def merge_papers(existing: Mapping[str, Paper], new: Iterable[Paper]) -> dict[str, Paper]:
    """One Paper per real paper: ``new`` records join an existing paper with the same arXiv id, DOI,
    OpenReview id or URL, else one whose title matches (:func:`title_score` >= :data:`TITLE_MATCH`, or a
    short name the other goes by) unless their ids say they differ, else become new papers with
    :func:`paper_id` ids (a clash gets ``-2``...)."""
    catalog = dict(existing)
    index = _Index(catalog)
    fresh: set[str] = set()  # ids created by this call: free to re-key to an arXiv id
    for paper in new:
        tid = index.by_identity(paper)
        target = catalog[tid] if tid else None
        if target is None:
            ident = _identities(paper)
            candidates = [catalog[c] for c in index.candidates(paper) if not _conflict(index.keys[c][0], ident)]
            candidates = [p for p in candidates if _same_paper(p, paper)]
            if candidates:
                target = max(candidates, key=lambda p: (title_score(p.title, paper.title), p.id))
        if target is not None:
            merged = _merge_two(target, paper)
            index.remove(target.id)
            if target.id in fresh and merged.arxiv and target.id != paper_id(merged.title, merged.arxiv):
                del catalog[target.id]
                fresh.discard(target.id)
                merged = replace(merged, id=paper_id(merged.title, merged.arxiv))
                fresh.add(merged.id)
            catalog[merged.id] = merged
            index.add(merged)
            continue
        pid = paper.id or paper_id(paper.title, paper.arxiv)
        if pid in catalog:
            base, n = pid, 2
            while f"{base}-{n}" in catalog:
                n += 1
            pid = f"{base}-{n}"
        catalog[pid] = replace(paper, id=pid)
        index.add(catalog[pid])
        fresh.add(pid)
    return catalog
