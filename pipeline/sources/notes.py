"""Show notes: chapters with exact start times, the papers covered, and the episode description.

:func:`parse_notes` reads two shapes of notes, told apart by nothing but their content:

* notes copied from a podcast host's page, everything run together on one line with ``*`` bullets:
  ``Timestamps* [0:01:19] Title (Speaker, Speaker)* [0:15:28] ...Papers covered* Title (Author et
  al.) abstract...* Title (Alias) Author · Author. abstract...``;
* Markdown notes with one chapter per line, the time first: ``- 00:12:30 Title``, ``(12:30) Title``,
  ``[1:02:03] Title (Speaker)``, ``12:30 - Title``, optionally under a ``## Papers`` list.

:func:`apply_notes` turns them into the episode's chapters (``source="notes"``), links each chapter to
the paper it is about, merges the papers covered into the catalog and records the speakers as people.
It only imports: checking the notes' times against the recording is alignment's job.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import InputError
from pipeline.ids import slugify
from pipeline.models import Chapter, Episode, Paper, PaperNote, Person
from pipeline.serialize import read_input_text
from pipeline.sources.catalog import find_paper, merge_papers, short_names
from pipeline.text import WORD, norm_title, root

log = logging.getLogger(__name__)


@dataclass
class NoteChapter:
    start: float  # seconds
    title: str
    speakers: list[str] = field(default_factory=list)  # names as written
    kind: str = "talk"  # "poster" when the title says poster session


@dataclass
class ShowNotes:
    title: str | None = None
    chapters: list[NoteChapter] = field(default_factory=list)
    papers: list[Paper] = field(default_factory=list)
    description: str = ""  # the remaining text, Markdown
    source: str = "show notes"  # file name the notes came from
    date: str | None = None  # a "Date: 2024-01-05" (or "Published:") line: the episode's date


_TS = r"\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?"
# a chapter line: optional bullet, a time in [], () or bare, an optional separator, the title
_CHAPTER = re.compile(
    rf"^\s*(?:[-+*]\s+|\d+[.)]\s+)?(?:\[(?P<a>{_TS})\]|\((?P<b>{_TS})\)|(?P<c>{_TS})(?=[\s\-–—:|]))"
    rf"\s*[-–—:|]?\s*(?P<title>\S.*)$"
)
# "Title - Ada Lovelace and Alan Turing", "Title with Grace Hopper": names after the title
_NAME_RUN = r"[A-Z][\w.'-]+(?:\s+[A-Z][\w.'-]+){1,3}"
_TRAILING_NAMES = re.compile(rf"\s+(?:[-–—]|with|by)\s+({_NAME_RUN}(?:\s*(?:,|&|and)\s*{_NAME_RUN})*)\s*$")
_BY_NAMES = re.compile(rf"\b(?:by|with)\s+({_NAME_RUN}(?:\s*(?:,|&|and)\s*{_NAME_RUN})*)\s*[:–—|]")
_PAPERS_HEADING = re.compile(
    r"(?:^|(?<=\n)|(?<=[)\].!?]))[ \t]*#{0,6}[ \t]*(?:\*\*)?"
    r"(?P<h>Papers(?: covered| discussed| mentioned| referenced)?|"
    r"References|Reading list)[ \t]*:?[ \t]*(?:\*\*)?[ \t]*:?\s*(?=\n|\*\s|-\s|$)",
    re.I,
)
_OTHER_HEADING = re.compile(r"^\s*#{1,6}\s+\S|^\s*(?:Timestamps|Chapters|Links|Show notes|Credits)\s*:?\s*$", re.I)
_BULLET = re.compile(r"(?<!\*)\*(?!\*)\s+")  # "* " (not "**bold**")
_POSTER = re.compile(r"\bposter(?:\s+session)?s?\b", re.I)
_KIND_WORDS = re.compile(
    r"\b(?:poster\s+sessions?|posters?|talks?|oral|interview|keynote|spotlight|q\s*&\s*a|presentation|"
    r"invited|session|best\s+paper(?:\s+award)?)\b", re.I)


def parse_notes(path: Path) -> ShowNotes:
    """Parse a show-notes file. Raises :class:`InputError` when it is empty, binary or has no
    timestamps."""
    path = Path(path)
    text = read_input_text(path, "show notes")
    notes = parse_notes_text(text, source=path.name)
    if not notes.chapters:
        raise InputError(path, "no chapter timestamps found",
                         hint="expected lines like '[0:15:28] Title (Speaker)' or '- 00:12:30 Title'")
    starts = [c.start for c in notes.chapters]
    if starts != sorted(starts):
        raise InputError(path, "chapter timestamps are not in order")
    return notes


def parse_notes_text(text: str, source: str = "show notes") -> ShowNotes:
    """Parse show notes given as text (see the module docstring); ``source`` names them in notes."""
    lines = text.split("\n")
    title = None
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is not None:
        line = lines[first].strip()
        cand = line.lstrip("#").strip()
        alone = first + 1 >= len(lines) or not lines[first + 1].strip()
        heading = line.startswith("#") or (alone and len(cand) <= 120 and not cand.endswith((".", "!", "?", ":")))
        if heading and cand and not _CHAPTER.match(line) and not _BULLET.search(cand):
            title = cand
            lines = lines[first + 1:]
    body = "\n".join(lines)

    # the papers section runs from its heading to the next heading (or the end)
    papers_text = ""
    m = _PAPERS_HEADING.search(body)
    if m and _looks_like_papers(body[m.end():]):
        end = len(body)
        offset = m.end()
        for ln in re.finditer(r"[^\n]*\n?", body[m.end():]):
            if ln.group().strip() and _OTHER_HEADING.match(ln.group()) and ln.start() > 0:
                end = m.end() + ln.start()
                break
        papers_text = body[offset:end]
        body = body[: m.start()] + "\n" + body[end:]

    chapters: list[NoteChapter] = []
    kept: list[str] = []
    for segment in _segments(body):
        ch = _chapter(segment)
        if ch is not None:
            chapters.append(ch)
        else:
            kept.append(segment)
    papers = _papers(papers_text, source)
    date = None
    for i, segment in enumerate(kept):
        dm = _DATE_LINE.match(segment)
        if dm:
            date = dm.group(1)
            kept = kept[:i] + kept[i + 1:]
            break
    description = _description(kept)
    return ShowNotes(title=title, chapters=chapters, papers=papers, description=description, source=source,
                     date=date)


_DATE_LINE = re.compile(r"^\s*(?:Date|Published|Recorded)\s*:\s*(\d{4}-\d{2}-\d{2})\s*$", re.I)


def has_papers_section(text: str) -> bool:
    """True when ``text`` has a "Papers covered"-style heading followed by a list of papers."""
    m = _PAPERS_HEADING.search(text)
    return m is not None and _looks_like_papers(text[m.end():])


def _looks_like_papers(text: str) -> bool:
    return bool(re.search(r"\bet al\b|·|\(\s*\d{4}\s*\)|arxiv\.org", text[:3000], re.I)) or bool(
        re.search(r"^\s*[-*]\s+\S", text[:500], re.M))


def _segments(text: str) -> list[str]:
    """Lines, with a run-together '* [0:01:19] ...* [0:15:28] ...' list split into one per item
    (and a 'Timestamps' heading glued to the prose before it taken off)."""
    out: list[str] = []
    for line in text.split("\n"):
        if len(re.findall(rf"\[{_TS}\]", line)) >= 2 and not _BULLET.search(line):
            # "[0:01:19] Word2Vec (Jeff Dean)[0:15:28] Emergence..." without bullets
            line = re.sub(rf"\s*(?=\[{_TS}\])", "* ", line)
        if _BULLET.search(line) and re.search(rf"\*\s+[\[(]?{_TS}", line):
            lead, *items = _BULLET.split(line)
            out.append(re.sub(r"(?:Timestamps|Chapters)\s*:?\s*$", "", lead, flags=re.I))
            out.extend("- " + item.strip() for item in items)
        else:
            out.append(line)
    return out


def _chapter(segment: str) -> NoteChapter | None:
    from pipeline.timefmt import parse_timestamp

    m = _CHAPTER.match(segment)
    if not m:
        return None
    try:
        start = parse_timestamp(m.group("a") or m.group("b") or m.group("c"))
    except ValueError:
        return None
    title = m.group("title").strip()
    title = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", title)  # [text](url) -> text
    title = re.sub(r"\)\s*[A-Z][\w ]{0,30}$", ")", title) if re.search(r"\)[A-Z]", title) else title
    speakers: list[str] = []
    sm = re.search(r"\s*\(([^()]+)\)\s*$", title)
    if sm and not re.search(r"\d{4}|https?:", sm.group(1)):
        speakers = [s.strip() for s in re.split(r",|&|\band\b|;", sm.group(1)) if s.strip()]
        title = title[: sm.start()].strip()
    else:
        wm = _TRAILING_NAMES.search(title)
        if wm:
            speakers = [s.strip() for s in re.split(r",|&|\band\b", wm.group(1)) if s.strip()]
            title = title[: wm.start()].strip()
        else:  # "Keynote by Luca Soldani: State of Open Models": the names stay in the title
            bm = _BY_NAMES.search(title)
            if bm:
                speakers = [s.strip() for s in re.split(r",|&|\band\b", bm.group(1)) if s.strip()]
    title = title.strip(" -–—:|*")
    kind = "poster" if _POSTER.search(title) else "talk"
    return NoteChapter(start=start, title=title, speakers=speakers, kind=kind)


# -- papers covered -----------------------------------------------------------------------------------

_AUTHORS_PAREN = re.compile(r"\bet al\b|,|&|\band\b", re.I)
_DOT_AUTHORS = re.compile(r"^\s*((?:[^·.\n]{2,60}?\s·\s)+[^·.\n]{2,60}?)\s*(?:\.\s*|$)")


def _paper_header(item: str) -> tuple[Paper, str] | None:
    """'Title (Rafailov et al.). rest' / 'Title (Word2Vec) A · B · C. rest' -> (Paper, rest)."""
    for m in re.finditer(r"\(([^()]{1,80})\)", item):
        title = item[: m.start()].strip()
        paren, after = m.group(1).strip(), item[m.end():]
        if not title or len(title.split()) > 40:
            continue
        authors: list[str] = []
        aliases: list[str] = []
        dots = _DOT_AUTHORS.match(after)
        if _AUTHORS_PAREN.search(paren) and not re.search(r"https?:", paren):
            authors = [a.strip() for a in re.split(r",|&|\band\b", paren) if a.strip()]
            rest = after
        elif dots and len(paren.split()) <= 3:
            aliases = [paren]
            authors = [a.strip() for a in dots.group(1).split("·") if a.strip()]
            rest = after[dots.end():]
        else:
            continue
        if dots and not aliases:
            authors = [a.strip() for a in dots.group(1).split("·") if a.strip()]
            rest = after[dots.end():]
        years = [a for a in authors if re.fullmatch(r"(?:19|20)\d\d", a)]  # "(Schick et al., 2023)"
        authors = [a for a in authors if a not in years]
        rest = re.sub(r"^\s*[.:;,]\s*", "", rest)
        return Paper(id=slugify(title), title=title, authors=authors, aliases=aliases,
                     date=years[0] if years else None), rest
    return None


_ARXIV_URL = re.compile(r"https?://(?:www\.)?arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})(?:v\d+)?(?:\.pdf)?")
_LINKED = re.compile(r"^\[(?P<title>[^\]]{3,300})\]\((?P<url>https?://[^)\s]+)\)\s*(?P<rest>.*)$")
_BARE_LINKED = re.compile(
    rf"^(?P<title>[^\[\]()]{{3,300}}?)[\s:–—-]*[(<]?(?P<url>{_ARXIV_URL.pattern})[)>]?\s*(?P<rest>.*)$")


def _linked_paper(item: str) -> Paper | None:
    """A paper given by its link: "[Title](https://arxiv.org/abs/ID) by A and B", "Title - https://arxiv.org/abs/ID
    (A et al.)". Only arXiv links make a paper (a link elsewhere may be a blog post about it)."""
    m = _LINKED.match(item) or _BARE_LINKED.match(item)
    if not m:
        return None
    arxiv = _ARXIV_URL.match(m.group("url"))
    if arxiv is None:
        return None
    title = " ".join(m.group("title").split()).strip(" .:-–—")
    rest = m.group("rest").strip()
    authors: list[str] = []
    am = re.match(r"^(?:[-–—,:]\s*|by\s+|\()(?P<a>[^()]+?)\)?\s*(?:[.;]|$)", rest)
    if am:
        authors = [a.strip() for a in re.split(r",|&|\band\b|·", am.group("a")) if a.strip()]
        rest = rest[am.end():].strip()
    paper = Paper(id=arxiv.group(1), title=title, authors=authors, arxiv=arxiv.group(1),
                  url=f"https://arxiv.org/abs/{arxiv.group(1)}")
    if len(rest.split()) >= 20:
        paper.abstract = rest
    return paper


_GLUE = re.compile(r"(?<=[a-z)][.!?])(?=[A-Z][a-z])")  # "...and train.See also ..." (paragraphs run together)


def _papers(text: str, source: str) -> list[Paper]:
    if not text.strip():
        return []
    items = [s.strip() for s in re.split(r"(?<!\*)\*(?!\*)\s+|\n\s*[-+]\s+|\n\s*\n", "\n" + text) if s.strip()]
    papers: list[Paper] = []
    bodies: list[list[str]] = []
    for item in items:
        item = re.sub(r"^\s*(?:[-+]|\d+[.)])\s+", "", item)
        linked = _linked_paper(item)
        if linked is not None:  # "[Title](https://arxiv.org/abs/2305.14314) by A and B"
            papers.append(linked)
            bodies.append([])
            continue
        item = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", item)
        head = _paper_header(item)
        if head is not None:
            paper, rest = head
            papers.append(paper)
            bodies.append([rest] if rest.strip() else [])
        elif papers:
            bodies[-1].append(item)
    for paper, chunks in zip(papers, bodies):
        abstract: list[str] = []
        remarks: list[str] = []
        pieces = [part for chunk in chunks for part in _GLUE.split(" ".join(chunk.split())) if part.strip()]
        for chunk in pieces:
            # prose of abstract length belongs to the abstract; short asides are the host's remarks
            (abstract if len(chunk.split()) >= 20 else remarks).append(chunk)
        paper.abstract = " ".join(abstract)
        if remarks:
            paper.notes.append(PaperNote(source=source, text="\n".join(remarks)))
        paper.sources = [source]
        arxiv = re.search(r"arxiv\.org/(?:abs|pdf)/(\d{4}\.\d{4,5})", " ".join(chunks))
        if arxiv:
            paper.arxiv = arxiv.group(1)
    return papers


def _description(segments: list[str]) -> str:
    text = "\n".join(s for s in segments if not re.match(r"^\s*#*\s*(?:Timestamps|Chapters)\s*:?\s*$", s, re.I))
    # a page copied as one line glues paragraphs: "here.NeurIPS 2023 took place" -> two paragraphs
    text = _GLUE.sub("\n\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "\n\n".join(p for p in paragraphs if not is_page_furniture(p)).strip()


_SENTENCE = re.compile(r"[.!?…)\]\"”']\s*$|[.!?]\s+\S")
def is_page_furniture(paragraph: str) -> bool:
    """Text a podcast host's page puts around the notes, copied along with them: a one-line label with
    nothing under it ("Catégories:"), a caption or button of three words or fewer ("Podcast artwork").
    None is a sentence; Markdown headings, lists and links are the notes' own structure and stay. The
    page's title bar ("Show name: tagline - a podcast by Host") stays: it is often the only place the
    hosts' names are spelled, which naming the speakers relies on."""
    line = paragraph.strip()
    if "\n" in line or not line or line.startswith(("#", "-", "*", "+", ">", "[", "!")) or _SENTENCE.search(line):
        return False
    return line.endswith(":") or len(line.split()) <= 3


# -- applying notes to an episode -----------------------------------------------------------------------

_CORE_STOP = {"the", "a", "an", "of", "and", "on", "with", "for", "in"}


def _core_words(title: str) -> list[str]:
    core = _KIND_WORDS.sub(" ", title)
    return [w for w in WORD.findall(core) if w.lower() not in _CORE_STOP]


# words too common in abstracts to tie a chapter to one paper by themselves
_GENERIC = {"model", "models", "language", "languages", "large", "learning", "neural", "network", "networks",
            "training", "paper", "papers", "method", "methods", "results", "tasks", "performance", "data",
            "approach", "systems", "system", "scaling", "deep", "better", "human", "agents", "small"}


def _names_in(name: str, text: str) -> bool:
    """Is the short name a whole word of ``text`` (case-sensitive for acronyms like "DPO")?"""
    if len(name) < 3 or len(name.split()) > 3:
        return False
    flags = 0 if sum(ch.isupper() for ch in name) >= 2 else re.I
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text, flags) is not None


def chapter_paper_score(chapter: NoteChapter, paper: Paper) -> float:
    """How sure we are that ``chapter`` is about ``paper`` (0 = no evidence; >= 2 links them).

    Evidence: the chapter's title (without "poster session", "talk"...) is one of the paper's short
    names (alias, the part before its colon, its acronym: "DPO"); its words are in the paper's title
    ("Emergence Mirage" -> "...Emergent Abilities... a Mirage?"); a rare word of it appears in the
    abstract ("Datablations" in the code URL); a speaker is one of the authors (which alone is not enough).
    """
    words = _core_words(chapter.title)
    if not words:
        return 0.0
    core = " ".join(words)
    text_score = 0.0
    names = short_names(paper)
    if any(norm_title(core) == norm_title(n) for n in names):
        text_score = 3.0
    elif any(_names_in(n, chapter.title) for n in names):
        text_score = 2.5  # "Chris Ré on Mamba and StripedHyena" -> Mamba
    else:
        title_stems = {root(w, 5) for w in WORD.findall(paper.title + " " + " ".join(paper.aliases))}
        hits = sum(1 for w in words if root(w, 5) in title_stems)
        if hits:
            text_score = 3.0 * hits / len(words)
        abstract = paper.abstract.lower()
        rare = [w for w in words if (len(w) >= 5 or re.search(r"[A-Z].*[A-Z]|\d", w))
                and w.lower() not in _GENERIC and re.search(rf"{re.escape(w.lower())}", abstract)]
        if rare and text_score < 2.0:
            text_score = max(text_score, 1.0 + len(rare) / len(words))
    if text_score == 0.0:
        return 0.0
    surnames = {a.replace(" et al.", "").replace(" et al", "").split()[-1].lower() for a in paper.authors if a.split()}
    author = any(s.split()[-1].lower() in surnames for s in chapter.speakers if s.split())
    return text_score + (1.0 if author else 0.0)


def link_chapters(chapters: list[NoteChapter], papers: list[Paper]) -> list[str | None]:
    """For each chapter, the id of the covered paper it is about (or None)."""
    out: list[str | None] = []
    for ch in chapters:
        scored = sorted(((chapter_paper_score(ch, p), i) for i, p in enumerate(papers)), reverse=True)
        best = scored[0] if scored else (0.0, -1)
        second = scored[1][0] if len(scored) > 1 else 0.0
        out.append(papers[best[1]].id if best[0] >= 2.0 and best[0] > second else None)
    return out


def apply_notes(project: Any, slug: str, notes: ShowNotes, *, title: str | None = None) -> Episode:
    """Create or update episode ``slug`` from ``notes``: chapters, speakers as people, papers covered
    merged into the catalog, chapter-paper links, description. (Aligning them with the transcript is the next
    stage: :func:`pipeline.jobs.episode.align_if_ready`.)"""
    from pipeline.ids import check_id

    store = project.content
    check_id(slug, "episode slug")
    with store.lock_episode(slug, existing=False):
        ep = store.load_episode(slug) if store.has_episode(slug) else Episode(slug=slug, title=slug)
        if title:
            ep.title = title
        elif notes.title and (ep.title == slug or not ep.title):
            ep.title = notes.title
        with store.lock_catalog():
            catalog = store.load_papers()
            merged = merge_papers(catalog, notes.papers)
            covered: list[Paper] = []
            for p in notes.papers:
                found = find_paper(merged, p.title)
                if found is not None and found.id not in {c.id for c in covered}:
                    covered.append(found)
            for pid, record in merged.items():
                if pid not in catalog or record != catalog[pid]:
                    store.save_paper(record)
        links = link_chapters(notes.chapters, covered)
        people = store.load_people()
        chapters: list[Chapter] = []
        for i, (nc, paper) in enumerate(zip(notes.chapters, links)):
            ids = []
            for name in nc.speakers:
                pid = slugify(name)
                ids.append(pid)
                if pid not in people:
                    people[pid] = Person(id=pid, name=name)
                    store.save_person(people[pid])
            if paper is None:  # not among the covered papers: the catalog may know it by name
                core = " ".join(_core_words(nc.title))
                hit = find_paper(merged, core) if core else None
                paper = hit.id if hit is not None and any(
                    norm_title(core) == norm_title(n) for n in [hit.title, *short_names(hit)]) else None
            end = notes.chapters[i + 1].start if i + 1 < len(notes.chapters) else (
                ep.transcript.duration or ep.duration or None)
            chapters.append(Chapter(start=nc.start, end=end, title=nc.title, kind=nc.kind, speakers=ids,
                                    paper=paper, source="notes"))
        ep.chapters = chapters
        ep.papers = [p.id for p in covered]
        if notes.description:
            ep.description = notes.description
        if notes.date and not ep.date:
            ep.date = notes.date
        store.save_episode(ep, parts=("meta", "chapters"))
    log.info("episode %s: %d chapters (%d linked to papers), %d papers covered", slug, len(chapters),
             sum(1 for c in chapters if c.paper), len(covered))
    return ep
