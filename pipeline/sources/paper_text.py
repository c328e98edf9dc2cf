"""Paper lists written for people, read as text: reading lists, arXiv-link blogs, conference-day notes.

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
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.errors import InputError
from pipeline.models import Paper, PaperNote
from pipeline.sources.catalog import normalize_arxiv, paper_id
from pipeline.timefmt import MONTHS

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


def looks_like_listing(lines: list[str]) -> bool:
    """Reading-list lines: a ``Summary:`` line and a line ending in a date."""
    return any(_SUMMARY.match(ln) for ln in lines) and any(_DATE_LINE.match(ln) for ln in lines)


def looks_like_blog(lines: list[str]) -> bool:
    return any(_BLOG_TITLE.match(ln.strip()) for ln in lines)


def looks_like_daynotes(lines: list[str]) -> bool:
    return any(re.search(r"\b(?:Paper|PDF|arXiv)\b[\])]?\s*[.|]?\s*$", ln) for ln in lines)


# -- the reading-list format -----------------------------------------------------------------------------


@dataclass
class _Entry:
    head: str  # "<previous abstract tail><title> <authors>"
    date: str
    line: int
    abstract_lines: list[str] = field(default_factory=list)


def read_listing(path: Path, text: str) -> list[Paper]:
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
                first = firsts[i]
                if first and lex.is_english(first.group()):  # "S-LoRASimplifying"
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

def _blog_date(text: str | None) -> str | None:
    if not text:
        return None
    if re.fullmatch(r"\d{4}-\d\d-\d\d", text):
        return text
    parts = text.replace(".", "").replace(",", "").split()
    day, month, year = parts if parts[0].isdigit() else (parts[1], parts[0], parts[2])  # "29 May 2023" / "May 29, 2023"
    mon = MONTHS.get(month.lower()) or MONTHS.get(month[:3].lower())
    return f"{int(year):04d}-{mon:02d}-{int(day):02d}" if mon else None


def read_blog(path: Path, text: str) -> list[Paper]:
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


def read_daynotes(path: Path, text: str) -> list[Paper]:
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
