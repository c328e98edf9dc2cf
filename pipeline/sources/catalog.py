"""The paper catalog: read paper sources, deduplicate them into one :class:`Paper` per real paper.

Readers (auto-detected by :func:`read_papers`):

``listing``
    A reading-list page copied as text: ``Title Author, Author, ... YYYY-MM-DD HH:MM:SS`` on one
    line, ``Summary:`` and the abstract after it. The next entry's title is glued to the end of the
    previous abstract with no separator; :func:`_split_glued` finds the seam (see there).
``blog``
    ``Title (https://arxiv.org/abs/NNNN.NNNNN, D Mon YYYY)`` lines (any paper URL; dates also as
    ``Mon D, YYYY`` or ``YYYY-MM-DD``), each followed by a commentary paragraph (kept as a
    :class:`PaperNote`). Other lines (section headings, footers) are not papers.
``daynotes``
    Conference-day posts: one item per paragraph, ``Title. A few sentences... Paper.``. Items whose
    title names a talk ("Invited Talk: ...", "Keynote", "Panel", "Tutorial") are not papers.
``bibtex``
    BibTeX (``bibtexparser``).
``json`` / ``yaml``
    A list of paper tables with :class:`Paper` field names (``title`` required), or ``{"papers": [...]}``.

Ids are stable: the arXiv id when known (``2305.18290``; old-style ``hep-th/9901001`` becomes
``hep-th-9901001``), else ``slugify(title)``. When a paper first stored under a slug id later gains an
arXiv id in a later import, it keeps its slug id (pages, links and people's edits keep working) and
records the arXiv id in ``arxiv``; :func:`find_paper` finds it by either. (Within one import, records
merged together take the arXiv id, whatever the order of the files.)
"""

from __future__ import annotations

import calendar
import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.errors import InputError
from pipeline.ids import check_id, slugify
from pipeline.models import Paper, PaperNote
from pipeline.serialize import check_plain, loads_json, read_input_text

log = logging.getLogger(__name__)

# -- ids and title matching --------------------------------------------------------------------------

_ARXIV_URL = re.compile(r"arxiv\.org/(?:abs|pdf)/([a-z-]+(?:\.[A-Z]{2})?/\d{7}|\d{4}\.\d{4,5})(?:v\d+)?", re.I)
_ARXIV_ID = re.compile(r"^(?:arxiv:)?(\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?$", re.I)


def normalize_arxiv(value: str | None) -> str | None:
    """'arXiv:2305.18290v2' / 'https://arxiv.org/abs/2305.18290' -> '2305.18290'."""
    if not value:
        return None
    value = value.strip()
    m = _ARXIV_URL.search(value) or _ARXIV_ID.match(value)
    return m.group(1) if m else None


def paper_id(title: str, arxiv: str | None = None) -> str:
    """The stable id of a new paper: its arXiv id when known, else a slug of its title."""
    if arxiv:
        return check_id(arxiv.lower().replace("/", "-"), "paper id")
    return slugify(title)


_STOP = {"a", "an", "the", "of", "for", "and", "in", "on", "with", "to", "via", "by", "is", "are", "be", "from"}


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def norm_title(title: str) -> str:
    """Comparable form of a title: ASCII, lower case, no punctuation, light plural stemming."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", text)
    return " ".join(_stem(w) for w in words)


def _content_words(title: str) -> set[str]:
    return {w for w in norm_title(title).split() if w not in _STOP}


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

    na, nb = norm_title(a), norm_title(b)
    if not na or not nb:
        return 0.0
    if na == nb:
        return 100.0
    if _numbers(a) != _numbers(b):
        return 0.0
    score = fuzz.ratio(na, nb)
    # "Title: Subtitle" vs "Title" alone: the main title matches as a whole
    ha, hb = norm_title(a.split(":", 1)[0]), norm_title(b.split(":", 1)[0])
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
    q = norm_title(query)
    for paper in catalog.values():  # exact title, alias, short name
        if norm_title(paper.title) == q:
            return paper
    for paper in catalog.values():
        if any(norm_title(n) == q for n in short_names(paper)):
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
        if len(x.title.split()) <= 3 and any(norm_title(x.title) == norm_title(n) for n in short_names(y)):
            return True
    return False


def _union(*lists: Iterable[str]) -> list[str]:
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
    aliases = _union(old.aliases, new.aliases)
    if title != old.title:
        aliases = _union(aliases, [old.title])  # still findable by the name it was known by
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
        aliases=[a for a in aliases if a.casefold() != title.casefold()],
        notes=notes,
        sources=_union(old.sources, new.sources),
    )


def merge_papers(existing: Mapping[str, Paper], new: Iterable[Paper]) -> dict[str, Paper]:
    """One Paper per real paper: ``new`` records join an existing paper with the same arXiv id,
    else one whose title matches (:func:`title_score` >= :data:`TITLE_MATCH`, or a short name the
    other goes by), else become new papers with :func:`paper_id` ids (a clash gets ``-2``...)."""
    catalog = dict(existing)
    fresh: set[str] = set()  # ids created by this call: free to re-key to an arXiv id
    for paper in new:
        target = None
        if paper.arxiv:
            target = next((p for p in catalog.values() if p.arxiv == paper.arxiv), None)
        if target is None:
            candidates = [p for p in catalog.values() if not (p.arxiv and paper.arxiv) and _same_paper(p, paper)]
            if candidates:
                target = max(candidates, key=lambda p: title_score(p.title, paper.title))
        if target is not None:
            merged = _merge_two(target, paper)
            if target.id in fresh and merged.arxiv and target.id != paper_id(merged.title, merged.arxiv):
                del catalog[target.id]
                fresh.discard(target.id)
                merged = replace(merged, id=paper_id(merged.title, merged.arxiv))
                fresh.add(merged.id)
            catalog[merged.id] = merged
            continue
        pid = paper.id or paper_id(paper.title, paper.arxiv)
        if pid in catalog:
            base, n = pid, 2
            while f"{base}-{n}" in catalog:
                n += 1
            pid = f"{base}-{n}"
        catalog[pid] = replace(paper, id=pid)
        fresh.add(pid)
    return catalog


# -- readers ---------------------------------------------------------------------------------------------

_DATE_LINE = re.compile(r"^(?P<body>.*\S)\s+(?P<date>\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?)\s*$")
_SUMMARY = re.compile(r"^\s*(?:Summary|Abstract)\s*:\s*(?P<rest>.*)$", re.I)
_BLOG_TITLE = re.compile(
    r"^(?P<title>\S.*?)\s*\(\s*(?P<url>(?:https?://)?(?:www\.)?(?:arxiv\.org/(?:abs|pdf)/[^\s,)]+"
    r"|(?:https?://)\S+?))\s*"
    r"(?:,\s*(?P<date>\d{1,2} [A-Z][a-z]{2,8}\.? \d{4}|[A-Z][a-z]{2,8}\.? \d{1,2},? \d{4}|\d{4}-\d\d-\d\d))?"
    r"\s*\)\s*$"
)
# "... Paper." / "[Paper]" / "Paper | Code." : the link words a post ends each item with
_PAPER_END = re.compile(r"(?:\s*[\[(]?\b(?:Paper|Paper link|PDF|arXiv|Code|Project page|Poster|Slides|Video)\b[\])]?"
                        r"\s*[.|,/]?){1,4}\s*$")
_TALK = re.compile(r"^(?:invited talk|keynote|panel|tutorial|opening remarks|closing remarks|test of time)\b", re.I)


def read_papers(path: Path) -> list[Paper]:
    """Read one paper source file (format detected from its content and extension)."""
    path = Path(path)
    text = read_input_text(path, "a paper list")
    fmt = detect_format(path, text)
    reader = {"listing": _read_listing, "blog": _read_blog, "daynotes": _read_daynotes,
              "bibtex": _read_bibtex, "json": _read_json, "yaml": _read_yaml, "shownotes": _read_shownotes}[fmt]
    papers = reader(path, text)
    if not papers:
        raise InputError(path, f"no papers found (read as {fmt})")
    for p in papers:
        p.sources = _union(p.sources, [path.name])
    log.debug("read %d papers from %s (%s)", len(papers), path, fmt)
    return papers


def detect_format(path: Path, text: str) -> str:
    ext = path.suffix.lower()
    head = text.lstrip()
    if ext in (".bib", ".bibtex") or re.match(r"@\w+\s*\{", head):
        return "bibtex"
    if ext == ".json" or head[:1] in "[{":
        return "json"
    if ext in (".yaml", ".yml"):
        return "yaml"
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if any(_SUMMARY.match(ln) for ln in lines) and any(_DATE_LINE.match(ln) for ln in lines):
        return "listing"
    from pipeline.sources.notes import has_papers_section  # notes builds on this module

    if has_papers_section(text):
        return "shownotes"
    if sum(1 for ln in lines if _BLOG_TITLE.match(ln.strip())) >= 1:
        return "blog"
    if any(re.search(r"\b(?:Paper|PDF|arXiv)\b[\])]?\s*[.|]?\s*$", ln) for ln in lines):
        return "daynotes"
    if head.startswith("- ") and re.search(r"^\s*-?\s*title\s*:", text, re.M):
        return "yaml"
    raise InputError(path, "unrecognised paper list format",
                     hint="expected a reading list (title, authors, date; Summary:), arXiv-link blog lines, "
                          "'Title. ... Paper.' day notes, BibTeX, JSON or YAML")


# -- the reading-list format -----------------------------------------------------------------------------


@dataclass
class _Entry:
    head: str  # "<previous abstract tail><title> <authors>"
    date: str
    line: int
    abstract_lines: list[str] = field(default_factory=list)


def _read_listing(path: Path, text: str) -> list[Paper]:
    # an abstract may start on its "Summary:" line: give it a line of its own (keeping line numbers)
    lines: list[str] = []
    numbers: list[int] = []
    for n, line in enumerate(text.split("\n"), 1):
        sm = _SUMMARY.match(line)
        if sm and sm.group("rest").strip():
            lines += ["Summary:", sm.group("rest")]
            numbers += [n, n]
        else:
            lines.append(line)
            numbers.append(n)
    entries: list[_Entry] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        m = _DATE_LINE.match(line)
        nxt = next((j for j in range(i + 1, len(lines)) if lines[j].strip()), None)
        if m and nxt is not None and _SUMMARY.match(lines[nxt]):
            entries.append(_Entry(head=m.group("body"), date=m.group("date"), line=numbers[i]))
            i = nxt + 1
            continue
        if _SUMMARY.match(line):
            raise InputError(path, f"line {numbers[i]}: 'Summary:' without a 'title authors date' line before it "
                                   "(truncated entry?)")
        if m and entries:
            raise InputError(path, f"line {numbers[i]}: entry has no 'Summary:' line after its title, authors and "
                                   "date (truncated entry?)")
        if entries:
            entries[-1].abstract_lines.append(line)
        i += 1
    if not entries:
        raise InputError(path, "no 'title authors date' + 'Summary:' entries found")

    lex = _Lexicon.build(text, [e.head for e in entries])
    # an entry's abstract sits at the start of the next entry's line (rough, but enough to tell
    # which words the paper itself uses)
    own = [" ".join(e.abstract_lines) + " " + (entries[k + 1].head if k + 1 < len(entries) else "")
           for k, e in enumerate(entries)]
    papers: list[Paper] = []
    for k, entry in enumerate(entries):
        before, authors = _split_authors(entry.head, lex, own[k])
        if not authors:
            raise InputError(path, f"line {entry.line}: no author list before the date in "
                                   f"{entry.head[-80:]!r} (truncated entry?)")
        title = before
        if k > 0:
            # the previous abstract ends on this entry's line, glued to this title: split the seam
            prev = entries[k - 1]
            glued = "\n".join(ln for ln in prev.abstract_lines if ln.strip())
            abstract, title = _split_glued((glued + "\n" if glued else "") + before, own[k], lex)
            papers[-1].abstract = " ".join(abstract.split())
            if not papers[-1].abstract:
                raise InputError(path, f"line {prev.line}: entry {papers[-1].title!r} has an empty abstract "
                                       "(truncated entry?)")
        title = " ".join(title.split())
        if not title:
            raise InputError(path, f"line {entry.line}: entry has no title (truncated entry?)")
        papers.append(Paper(id=paper_id(title), title=title, authors=authors, date=_iso(entry.date)))
    last = " ".join(" ".join(entries[-1].abstract_lines).split())
    if not last:
        raise InputError(path, f"line {entries[-1].line}: entry {papers[-1].title!r} has no abstract "
                               "(truncated entry?)")
    if _strong_seam(last):
        glued = _split_glued(last)[1]
        raise InputError(path, f"line {entries[-1].line + 2}: the last abstract ends with {glued[:60]!r}, the start of "
                               "another entry without authors, date or 'Summary:' (truncated entry?)")
    papers[-1].abstract = last
    return papers


def _iso(date: str) -> str:
    return date.replace(" ", "T") if len(date) > 10 else date


@dataclass
class _Lexicon:
    """What the whole listing tells about words: English words (seen in lower case in running
    text, with 5+-letter prefixes so "Conversation" is known from "conversational"), tokens of
    author names (from unambiguous author-list pieces), and how often each word occurs."""

    english: set[str]
    name_tokens: set[str]
    counts: dict[str, int]
    words: int = 0  # distinct lower-case words seen: below ~2,000 the word statistics prove little

    @classmethod
    def build(cls, text: str, heads: list[str]) -> _Lexicon:
        english: set[str] = set()
        lower = set(re.findall(r"\b[a-z][a-z'-]+\b", text))
        for w in lower:
            english.add(w)
            english.update(f"{w[:n]}*" for n in range(5, len(w)))
        names: set[str] = set()
        for head in heads:
            pieces = [p.strip() for p in head.split(",")]
            while len(pieces) > 1 and _name_like(pieces[-1]):
                names.update(pieces.pop().split()[:-1])  # given and middle names
        counts: dict[str, int] = {}
        for w in re.findall(r"[\w'-]+", text):
            counts[w] = counts.get(w, 0) + 1
        return cls(english, names, counts, len(lower))

    def is_english(self, word: str) -> bool:
        w = word.lower().strip(".,;:")
        parts = [p for p in w.split("-") if p]
        if len(parts) > 1:
            return all(self.is_english(p) for p in parts)
        forms = {w, w[:-1] if w.endswith("s") else w, w[:-2] if w.endswith("es") else w}
        if any(f in self.english for f in forms):
            return True
        return len(w) >= 7 and f"{w[:max(5, min(len(w) - 3, 7))]}*" in self.english


_PARTICLES = {"de", "da", "di", "del", "della", "der", "den", "van", "von", "le", "la", "du", "dos", "das",
              "bin", "al", "el", "ibn", "ter", "zu", "y", "mac", "st.", "las", "los", "des", "het", "op", "ten"}
_INITIAL = re.compile(r"^[A-Z]\.(?:-?[A-Z]\.)*$")
_NOUN_SUFFIX = re.compile(r"(?:tions?|sions?|ness|ments?|ities|ity|isms?|ics|ances?|ences?|ures?|ators?|ings)$")


def _name_token(tok: str, *, caps: bool = False) -> bool:
    """Could this token be part of a personal name? (``caps``: allow short all-capital given
    names such as "DJ", only where the whole piece is known to be a name list item)."""
    if tok in _PARTICLES or _INITIAL.match(tok):
        return True
    if caps and re.fullmatch(r"[A-Z]{2}", tok):
        return True
    if not tok[:1].isupper() or any(ch.isdigit() for ch in tok):
        return False
    if re.search(r"[:;?!/()\[\]\"]", tok) or tok.endswith((".", ",")) and not _INITIAL.match(tok):
        return False
    # capitals only at the start of each hyphen/apostrophe part or of a lower-case run
    # (Chun-Fu, O'Neil, McKinnon, DasSarma), never in runs (LLaMA, ChatGPT, AI)
    return all(re.match(r"^(?:[A-Z][a-zà-ÿ\u0100-\u024f]+)*[A-Z]?[a-zà-ÿ\u0100-\u024f]*$", part)
               for part in re.split(r"[-'’]", tok) if part)


def _name_like(piece: str) -> bool:
    toks = piece.split()
    if not 1 <= len(toks) <= 5:
        return False
    if not all(_name_token(t, caps=True) for t in toks[:-1]) or not _name_token(toks[-1]):
        return False
    return toks[-1][:1].isupper()


def _split_authors(head: str, lex: _Lexicon, abstract: str) -> tuple[str, list[str]]:
    """'KAN: Kolmogorov-Arnold Networks Ziming Liu, Yixuan Wang' -> ('KAN: ...Networks', [authors]).

    Going right to left, comma-separated pieces that look like names are authors. The first
    author's name is the end of the leftmost piece: its last two words, widened over initials and
    particles ("Theodore R. Sumers", "Nando de Freitas") and over a third capitalised word that is
    no English word, is not used by this paper's abstract, and is either a given name seen in the
    author lists or (in a listing large enough for word counts to mean something) a word seen
    nowhere else ("Qitian Jason Hu"). Otherwise two words: most names have two.
    """
    pieces = [p.strip() for p in head.split(",")]
    authors_rev: list[str] = []
    while len(pieces) > 1 and _name_like(pieces[-1]):
        authors_rev.append(pieces.pop())
    rest = ", ".join(pieces)
    toks = rest.split()
    if len(toks) < 2:
        return "", []
    n = 2 if _name_token(toks[-2]) else 1
    abstract_words = set(re.findall(r"[a-z][a-z'-]+", abstract.lower()))
    while n < len(toks) - 1 and n < 4:
        cand, inner = toks[-n - 1], toks[-n]
        if inner in _PARTICLES or _INITIAL.match(inner):
            n += 1  # a first name must precede an initial or a particle
            continue
        if (n < 3 and _name_token(cand) and cand not in _PARTICLES and not _INITIAL.match(cand)
                and not lex.is_english(cand) and not _NOUN_SUFFIX.search(cand) and cand.lower() not in abstract_words
                and (cand in lex.name_tokens or (lex.counts.get(cand, 0) <= 1 and lex.words >= 2000))):
            n += 1
            continue
        break
    first = " ".join(toks[-n:])
    title = " ".join(toks[:-n]).strip()
    authors = [first] + authors_rev[::-1]
    return title, authors


_SENT_END = re.compile(r"(?<=[.!?])[\"'’”)\]]*(?=\S)")
_GLUED_CAPS = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z]{2,})|(?<=[)\]}])(?=[A-Z0-9])")


def _plausible_title(title: str) -> bool:
    words = title.split()
    if not 1 <= len(words) <= 40 or len(title) > 300:
        return False
    if re.search(r"[.!?]\s+[A-Z][a-z]+\s+[a-z]+\s+[a-z]+", title):  # contains a sentence break
        return False
    return True


def _split_glued(text: str, own_abstract: str = "", lex: _Lexicon | None = None) -> tuple[str, str]:
    """Split '<abstract><title authors>' where the title follows the abstract with no separator.

    Candidate seams, strongest first: a line break; sentence-final punctuation directly followed by
    a non-space ("MLPs.AutoCodeRover", "ATLAS.Scaling", "+2.66%).Tamil" but not "3.5" or "e.g.,");
    then, only when no such seam leaves a plausible title, a word glued to a capitalised word
    ("smaller LMsSystem 2 Attention", "S-LoRASimplifying", "yarnAI Alignment"). The strong seam
    nearest the end wins, since a title rarely contains one. Weak seams (which titles do contain:
    "GitHub", "LLaMA") are looked for in the glued word only: the last one whose first word the
    paper's own abstract uses as a whole word ("Orca" in "LLaMAOrca"), else one after a closing
    bracket ("}GraphMix"), else one starting an English word ("S-LoRASimplifying"), else the first
    ("dspyTimeGPT-1").
    """
    strong = _strong_seams(text)
    for i in range(1, len(text)):
        if text[i - 1] == "\n":
            strong.append(i)
    for i in sorted(set(strong), reverse=True):
        title = text[i:]
        if _plausible_title(title) and text[:i].strip():
            return text[:i], title
    weak = [i for i in sorted({m.start() for m in _GLUED_CAPS.finditer(text)}, reverse=True)
            if _plausible_title(text[i:]) and text[:i].strip()]
    if weak:
        # the seam is inside the glued word ("discrim-evalLLMLingua:"): look only there
        token_start = text.rfind(" ", 0, weak[0]) + 1
        weak = [i for i in weak if i >= token_start]
        weak = [i for i in weak if not re.search(r"[/\\{}]", text[i:].split(" ", 1)[0])] or weak
        firsts = {i: re.match(r"[A-Za-z][A-Za-z0-9]*", text[i:]) for i in weak}
        for i in weak:
            first = firsts[i]
            if first and re.search(r"(?<![\w-])" + re.escape(first.group()) + r"(?![\w])", own_abstract):
                return text[:i], text[i:]
        for i in weak:
            if text[i - 1] in ")]}":  # "...\url{...}GraphMix", "(see Fig. 2)Deep"
                return text[:i], text[i:]
        if lex is not None:
            for i in weak:
                if firsts[i] and lex.is_english(firsts[i].group()):  # "S-LoRASimplifying"
                    return text[:i], text[i:]
        return text[:weak[-1]], text[weak[-1]:]  # the earliest: abstracts end in lower case or URLs
    # no seam at all: the abstract is empty or the title starts the line
    return "", text


def _strong_seam(text: str) -> bool:
    return any(_plausible_title(text[i:]) and text[i].isupper() for i in _strong_seams(text))


def _strong_seams(text: str) -> list[int]:
    """Positions right after sentence-final punctuation glued to what follows (see _split_glued)."""
    strong: list[int] = []
    for m in _SENT_END.finditer(text):
        i = m.end()
        after = text[i]
        dot = text[m.start() - 2] if m.start() > 1 else ""  # the character before the punctuation
        if dot.isdigit() and after.isdigit():
            continue  # 3.5
        if not (after.isupper() or after.isdigit() or after in "\"'‘“(["
                or re.match(r"[a-z]+[A-Z]", text[i:i + 12])):  # mPLUG, iTransformer
            continue
        if after.isdigit() and re.match(r"\d+(?:[.,]\d+)*\s*(?:%|percent\b|x\b|times\b)", text[i:]):
            continue
        if text[max(0, i - 6):i].lower().endswith(("e.g.", "i.e.", "et al.", "vs.", "cf.")):
            continue
        strong.append(i)
    return strong


# -- the blog format -------------------------------------------------------------------------------------

_MONTHS = {m.lower(): i for i, m in enumerate(calendar.month_abbr) if m}
_MONTHS.update({m.lower(): i for i, m in enumerate(calendar.month_name) if m})


def _blog_date(text: str | None) -> str | None:
    if not text:
        return None
    if re.fullmatch(r"\d{4}-\d\d-\d\d", text):
        return text
    parts = text.replace(".", "").replace(",", "").split()
    day, month, year = parts if parts[0].isdigit() else (parts[1], parts[0], parts[2])  # "29 May 2023" / "May 29, 2023"
    mon = _MONTHS.get(month.lower()) or _MONTHS.get(month[:3].lower())
    return f"{int(year):04d}-{mon:02d}-{int(day):02d}" if mon else None


def _read_blog(path: Path, text: str) -> list[Paper]:
    """Each title line is followed by its commentary: the next paragraph (up to a blank line when
    the post separates paragraphs by blank lines, else the next line). Anything else (section
    headings, the author's footer, comments) belongs to no paper."""
    lines = [ln.strip() for ln in text.split("\n")]
    blank_separated = "\n\n" in text.strip()
    papers: list[Paper] = []
    i = 0
    while i < len(lines):
        m = _BLOG_TITLE.match(lines[i])
        i += 1
        if not m:
            continue
        arxiv = normalize_arxiv(m.group("url"))
        title = m.group("title").strip()
        url = m.group("url") if "://" in m.group("url") else "https://" + m.group("url")
        paper = Paper(id=paper_id(title, arxiv), title=title, arxiv=arxiv,
                      url=f"https://arxiv.org/abs/{arxiv}" if arxiv else url,
                      date=_blog_date(m.group("date")))
        while i < len(lines) and not lines[i]:
            i += 1
        note: list[str] = []
        while i < len(lines) and lines[i] and not _BLOG_TITLE.match(lines[i]):
            note.append(lines[i])
            i += 1
            if not blank_separated:
                break
        if note and not _is_paragraph(" ".join(note)):
            note = []  # a heading, not commentary
        if note:
            paper.notes.append(PaperNote(source=path.name, text=" ".join(note), url=paper.url))
        papers.append(paper)
    return papers


def _is_paragraph(line: str) -> bool:
    """A line of prose (commentary), not a heading: long enough and ends like a sentence."""
    return len(line.split()) >= 8 or line.rstrip().endswith((".", "!", "?", ":", ")"))


# -- the day-notes format --------------------------------------------------------------------------------

_TITLE_END = re.compile(r"(?<=[^\s.])[.?!](?=\s+\S)")


def _read_daynotes(path: Path, text: str) -> list[Paper]:
    # paragraphs: a line starting with punctuation or lower case continues the previous one
    blocks: list[str] = []
    for line in text.split("\n"):
        s = line.strip()
        if not s:
            continue
        if blocks and (s[0] in ".,;:)]" or s[0].islower()):
            blocks[-1] += ("" if s[0] in ".,;:)]" else " ") + s
        else:
            blocks.append(s)
    papers = []
    for block in blocks:
        if not _PAPER_END.search(block):
            continue
        body = _PAPER_END.sub("", block).strip()
        m = _TITLE_END.search(body)
        title = body[: m.start() + (1 if body[m.start()] == "?" else 0)] if m else body
        title = title.strip().rstrip(".")
        desc = body[m.end():].strip() if m else ""
        if _TALK.match(title):
            continue
        if not title:
            continue
        notes = [PaperNote(source=path.name, text=desc)] if desc else []
        papers.append(Paper(id=paper_id(title), title=title, notes=notes))
    return papers


# -- BibTeX, JSON, YAML ----------------------------------------------------------------------------------


def _read_bibtex(path: Path, text: str) -> list[Paper]:
    import bibtexparser
    from bibtexparser.bparser import BibTexParser
    from bibtexparser.customization import convert_to_unicode

    parser = BibTexParser(common_strings=True)
    parser.customization = convert_to_unicode
    try:
        db = bibtexparser.loads(text, parser=parser)
    except Exception as exc:  # bibtexparser raises pyparsing errors of many kinds
        raise InputError(path, f"not valid BibTeX ({str(exc).splitlines()[0][:100]})") from None
    papers = []
    for entry in db.entries:
        title = " ".join(entry.get("title", "").replace("{", "").replace("}", "").split())
        if not title:
            raise InputError(path, f"BibTeX entry {entry.get('ID', '?')!r} has no title")
        authors = [" ".join(_bib_name(a).split()) for a in re.split(r"\s+and\s+", entry.get("author", "")) if a.strip()]
        arxiv = None
        if entry.get("archiveprefix", "").lower() == "arxiv" or "arxiv" in entry.get("journal", "").lower():
            arxiv = normalize_arxiv(entry.get("eprint", "")) or normalize_arxiv(entry.get("journal", "").split()[-1])
        arxiv = arxiv or normalize_arxiv(entry.get("url", ""))
        year, month = entry.get("year"), entry.get("month")
        date = year
        if year and month:
            mon = _MONTHS.get(month.lower()[:3]) or (int(month) if month.isdigit() else None)
            date = f"{year}-{mon:02d}" if mon else year
        papers.append(Paper(
            id=paper_id(title, arxiv), title=title, authors=authors, date=date,
            abstract=" ".join(entry.get("abstract", "").split()), arxiv=arxiv, doi=entry.get("doi"),
            url=entry.get("url"), venue=entry.get("booktitle") or entry.get("journal"),
            aliases=[entry["shorttitle"]] if entry.get("shorttitle") else [],
        ))
    return papers


def _bib_name(name: str) -> str:
    name = name.replace("{", "").replace("}", "")
    if "," in name:
        last, first = name.split(",", 1)
        return f"{first.strip()} {last.strip()}"
    return name


def _read_shownotes(path: Path, text: str) -> list[Paper]:
    """Only the "Papers covered" list of show notes (as a catalog; chapters are ignored)."""
    from pipeline.sources.notes import parse_notes_text

    return parse_notes_text(text, source=path.name).papers


def _read_json(path: Path, text: str) -> list[Paper]:
    try:
        data = loads_json(text)
    except ValueError as exc:
        raise InputError(path, f"not valid JSON ({exc})") from None
    return _from_records(path, data)


def _read_yaml(path: Path, text: str) -> list[Paper]:
    import yaml

    try:
        data = check_plain(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise InputError(path, f"not valid YAML ({str(exc).splitlines()[0]})") from None
    except (RecursionError, ValueError) as exc:
        raise InputError(path, f"not valid YAML ({exc or 'nested too deeply'})") from None
    return _from_records(path, data)


_FIELDS = {"title", "authors", "date", "abstract", "arxiv", "doi", "url", "venue", "aliases", "notes", "id"}


def _from_records(path: Path, data: Any) -> list[Paper]:
    if isinstance(data, dict) and isinstance(data.get("papers"), list):
        data = data["papers"]
    if not isinstance(data, list):
        raise InputError(path, "expected a list of papers (or {\"papers\": [...]})")
    papers = []
    for i, rec in enumerate(data, 1):
        if not isinstance(rec, dict) or not isinstance(rec.get("title"), str) or not rec["title"].strip():
            raise InputError(path, f"paper {i} has no title")
        unknown = sorted(set(rec) - _FIELDS)
        if unknown:
            raise InputError(path, f"paper {i} ({rec['title'][:50]!r}) has unknown field(s) {', '.join(unknown)}",
                             hint=f"use {', '.join(sorted(_FIELDS))}")
        authors = rec.get("authors") or []
        if isinstance(authors, str):
            authors = [a.strip() for a in re.split(r",|\band\b", authors) if a.strip()]
        notes = rec.get("notes") or []
        if isinstance(notes, str):
            notes = [notes]
        arxiv = normalize_arxiv(str(rec.get("arxiv") or "")) or normalize_arxiv(str(rec.get("url") or ""))
        title = " ".join(rec["title"].split())
        date = rec.get("date")
        papers.append(Paper(
            id=paper_id(title, arxiv), title=title, authors=[str(a) for a in authors],
            date=str(date) if date is not None else None, abstract=str(rec.get("abstract") or ""),
            arxiv=arxiv, doi=rec.get("doi"), url=rec.get("url"), venue=rec.get("venue"),
            aliases=[str(a) for a in rec.get("aliases") or []],
            notes=[PaperNote(source=path.name, text=str(n)) if not isinstance(n, dict)
                   else PaperNote(source=str(n.get("source", path.name)), text=str(n.get("text", "")), url=n.get("url"))
                   for n in notes],
        ))
    return papers


# -- import into content/ --------------------------------------------------------------------------------


@dataclass
class ImportReport:
    read: dict[str, int] = field(default_factory=dict)  # file name -> papers read
    added: list[str] = field(default_factory=list)  # new paper ids
    updated: list[str] = field(default_factory=list)  # existing papers that changed
    total: int = 0  # papers in the catalog afterwards

    def summary(self) -> str:
        files = ", ".join(f"{n} from {name}" for name, n in self.read.items())
        return (f"Read {files}; {len(self.added)} new, {len(self.updated)} updated, "
                f"{self.total} papers in the catalog")


def import_papers(project: Any, paths: Iterable[Path]) -> ImportReport:
    """Read every file first (a bad one aborts before anything is written), merge into the
    catalog, then write the new and changed paper records through the ContentStore."""
    store = project.content
    parsed = [(Path(p), read_papers(Path(p))) for p in paths]
    report = ImportReport()
    with store.lock("catalog"):
        existing = store.load_papers()
        catalog = dict(existing)
        for path, papers in parsed:
            report.read[path.name] = len(papers)
            catalog = merge_papers(catalog, papers)
        for pid, paper in catalog.items():
            if pid not in existing:
                report.added.append(pid)
                store.save_paper(paper)
            elif paper != existing[pid]:
                report.updated.append(pid)
                store.save_paper(paper)
    report.total = len(catalog)
    return report
