"""Paper lists written for machines: BibTeX, JSON, YAML and CSV records.

Shapes read besides recap's own records (``title, authors, date, abstract, arxiv, doi, url, venue,
aliases, notes``): conference lists as OpenReview and the conference sites give them
(``{title, authors, abstract, url, venue}``), papercopilot-style rows (``id`` = the OpenReview id,
``track``, ``status``, ``author`` joined with ``", "``; their review fields are ignored, rows that were
not accepted are skipped and counted) and CSV with a header row (Mini-Conf's ``UID, title, authors``
with ``|``-separated authors). Titles and abstracts keep their TeX math; accents and escapes outside
math become Unicode (:func:`pipeline.tex.decode`).

Every reader takes ``(path, text, skipped)``: an entry it cannot import is appended to ``skipped`` as one
line naming the file, the line and the reason (the others are imported); a file it cannot read at all
raises :class:`~pipeline.errors.InputError`.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from pipeline import tex
from pipeline.errors import InputError
from pipeline.models import Paper, PaperNote
from pipeline.serialize import check_plain, loads_json
from pipeline.sources.bibtex import parse_bibtex
from pipeline.sources.catalog import normalize_arxiv, normalize_openreview, paper_id
from pipeline.timefmt import MONTHS

ACCEPTED = {"oral": "oral", "spotlight": "spotlight", "poster": "poster", "accept": "poster",
            "accepted": "poster", "highlight": "spotlight", "notable-top-5%": "oral", "notable-top-25%": "spotlight"}
"""Status names of conference lists -> recap's status (oral, spotlight, poster)."""
REFUSED = {"reject", "rejected", "withdraw", "withdrawn", "desk reject", "desk rejected", "desk_reject"}


def _title(raw: str) -> str:
    return " ".join(tex.decode(raw, strip_braces=True).split())


def _abstract(raw: str) -> str:
    return tex.decode(raw)


# -- BibTeX ------------------------------------------------------------------------------------------------


def read_bibtex(path: Path, text: str, skipped: list[str] | None = None) -> list[Paper]:
    entries, problems = parse_bibtex(text)
    for problem in problems:
        if skipped is None:
            raise InputError(path, f"line {problem.describe(path.name).split(':', 1)[1]}")
        skipped.append(problem.describe(path.name))
    papers = []
    for entry in entries:
        f = entry.fields
        title = _title(f.get("title", ""))
        if not title:
            line = f"{path.name}:{entry.line}: entry {entry.key!r} not imported: it has no title"
            if skipped is None:
                raise InputError(path, f"BibTeX entry {entry.key!r} has no title")
            skipped.append(line)
            continue
        authors = [_bib_name(a) for a in _split_and(f.get("author", ""))]
        arxiv = None
        if f.get("archiveprefix", "").lower() == "arxiv" or "arxiv" in f.get("journal", "").lower():
            arxiv = normalize_arxiv(f.get("eprint", "")) or normalize_arxiv((f.get("journal", "").split() or [""])[-1])
        arxiv = arxiv or normalize_arxiv(f.get("url", ""))
        year, month = f.get("year"), f.get("month")
        date = year
        if year and month:
            mon = MONTHS.get(month.lower()[:3]) or (int(month) if month.isdigit() and 1 <= int(month) <= 12 else None)
            date = f"{year}-{mon:02d}" if mon else year
        venue = f.get("booktitle") or f.get("journal")
        papers.append(Paper(
            id=paper_id(title, arxiv), title=title, authors=[a for a in authors if a], date=date,
            abstract=" ".join(_abstract(f.get("abstract", "")).split()), arxiv=arxiv, doi=f.get("doi"),
            url=f.get("url"), venue=_title(venue) if venue else None,
            openreview=normalize_openreview(f.get("openreview") or f.get("url")),
            aliases=[_title(f["shorttitle"])] if f.get("shorttitle") else [],
        ))
    return papers


def _split_and(value: str) -> list[str]:
    """``A and B and {Barnes and Noble}`` -> the names, split on ``and`` outside braces."""
    out, depth, start = [], 0, 0
    for m in re.finditer(r"[{}]|\s+and\s+", value):
        c = m.group()
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif depth == 0:
            out.append(value[start:m.start()])
            start = m.end()
    out.append(value[start:])
    return [s.strip() for s in out if s.strip()]


def _bib_name(name: str) -> str:
    name = tex.decode(name).replace("{", "").replace("}", "")
    if "," in name:
        last, first = name.split(",", 1)
        name = f"{first.strip()} {last.strip()}"
    return " ".join(name.split())


# -- JSON and YAML -----------------------------------------------------------------------------------------


def read_json(path: Path, text: str, skipped: list[str] | None = None) -> list[Paper]:
    try:
        data = loads_json(text)
    except ValueError as exc:
        raise InputError(path, f"not valid JSON ({exc})") from None
    return _from_records(path, data, skipped)


def read_yaml(path: Path, text: str, skipped: list[str] | None = None) -> list[Paper]:
    import yaml

    try:
        data = check_plain(yaml.safe_load(text))
    except yaml.YAMLError as exc:
        raise InputError(path, f"not valid YAML ({str(exc).splitlines()[0]})") from None
    except (RecursionError, ValueError) as exc:
        raise InputError(path, f"not valid YAML ({exc or 'nested too deeply'})") from None
    return _from_records(path, data, skipped)


_FIELDS = {"title", "authors", "date", "abstract", "arxiv", "doi", "url", "venue", "aliases", "notes", "id",
           "track", "status", "openreview"}
_CONFERENCE_KEYS = {"track", "status", "site", "decision", "forum"}
"""A record with one of these is a row of a conference list: its other fields (reviews...) are ignored."""


def _from_records(path: Path, data: Any, skipped: list[str] | None = None) -> list[Paper]:
    if isinstance(data, dict) and isinstance(data.get("papers"), list):
        data = data["papers"]
    elif isinstance(data, dict) and data and all(isinstance(v, dict) and _CONFERENCE_KEYS & set(v)
                                                  for v in data.values()):
        # a conference's metadata by forum URL: {"https://openreview.net/forum?id=..": {track, status, ..}}
        data = [{**v, "url": k, "title": v.get("title") or v.get("neurips_cc_title") or k} for k, v in data.items()]
    if not isinstance(data, list):
        raise InputError(path, "expected a list of papers (or {\"papers\": [...]})")
    papers = []
    refused: dict[str, int] = {}
    for i, rec in enumerate(data, 1):
        if not isinstance(rec, dict) or not isinstance(rec.get("title"), str) or not rec["title"].strip():
            raise InputError(path, f"paper {i} has no title")
        conference = bool(_CONFERENCE_KEYS & set(rec))
        unknown = sorted(set(rec) - _FIELDS)
        if unknown and not conference:
            raise InputError(path, f"paper {i} ({rec['title'][:50]!r}) has unknown field(s) {', '.join(unknown)}",
                             hint=f"use {', '.join(sorted(_FIELDS))}")
        status = str(rec.get("status") or rec.get("decision") or "").strip()
        if status.lower() in REFUSED:
            refused[status] = refused.get(status, 0) + 1
            continue
        papers.append(_record(path, rec, conference))
    if refused and skipped is not None:
        what = ", ".join(f"{n} {s}" for s, n in sorted(refused.items()))
        skipped.append(f"{path.name}: note: {sum(refused.values())} rows not accepted were left out ({what})")
    return papers


def _record(path: Path, rec: dict[str, Any], conference: bool) -> Paper:
    authors: Any = rec.get("authors") or rec.get("author") or []
    if isinstance(authors, str):
        sep = "|" if "|" in authors else ";" if ";" in authors else None
        parts = authors.split(sep) if sep else re.split(r",|\band\b", authors)
        authors = [a.strip() for a in parts if a.strip()]
    authors = [" ".join(str(a).split()) for a in authors]
    notes = rec.get("notes") or []
    if isinstance(notes, str):
        notes = [notes]
    url = rec.get("url") or rec.get("site") or None
    arxiv = normalize_arxiv(str(rec.get("arxiv") or "")) or normalize_arxiv(str(url or ""))
    openreview = normalize_openreview(str(rec.get("openreview") or rec.get("forum") or "")) or (
        normalize_openreview(str(rec["id"])) if conference and rec.get("id") else None) or \
        normalize_openreview(str(url or ""))
    if not url and openreview:
        url = f"https://openreview.net/forum?id={openreview}"
    title = _title(rec["title"])
    date = rec.get("date")
    status = str(rec.get("status") or rec.get("decision") or "").strip().lower()
    track = rec.get("track")
    return Paper(
        id=paper_id(title, arxiv), title=title, authors=authors,
        date=str(date) if date is not None else None, abstract=_abstract(str(rec.get("abstract") or "")),
        arxiv=arxiv, doi=str(rec["doi"]) if rec.get("doi") else None, url=str(url) if url else None,
        venue=str(rec["venue"]) if rec.get("venue") else None,
        track=str(track) if track else None, status=ACCEPTED.get(status, status or None), openreview=openreview,
        aliases=[str(a) for a in rec.get("aliases") or []],
        notes=[PaperNote(source=path.name, text=str(n)) if not isinstance(n, dict)
               else PaperNote(source=str(n.get("source", path.name)), text=str(n.get("text", "")), url=n.get("url"))
               for n in notes],
    )


# -- CSV ---------------------------------------------------------------------------------------------------

_CSV_COLUMNS = {"title": "title", "paper": "title", "authors": "authors", "author": "authors",
                "abstract": "abstract", "url": "url", "link": "url", "site": "url", "pdf_url": None,
                "venue": "venue", "track": "track", "status": "status", "decision": "status",
                "session": None, "sessions": None, "uid": "id", "id": "id", "openreview": "openreview",
                "forum": "openreview", "arxiv": "arxiv", "doi": "doi", "date": "date", "keywords": None}
"""CSV header names (case-insensitive) -> record fields; other columns are ignored."""


def looks_like_csv(path: Path, text: str) -> bool:
    first = text.lstrip("\ufeff").split("\n", 1)[0]
    if path.suffix.lower() in (".csv", ".tsv"):
        return True
    cells = [c.strip().strip('"').lower() for c in first.split(",")]
    return len(cells) >= 2 and ("title" in cells or "paper" in cells)


def read_csv(path: Path, text: str, skipped: list[str] | None = None) -> list[Paper]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise InputError(path, f"not a CSV with a header row ({exc or 'empty'})") from None
    names = [h.strip().strip("\ufeff").lower() for h in header]
    if "title" not in names and "paper" not in names:
        raise InputError(path, "line 1: the header row has no 'title' column",
                         hint="name the columns, e.g. title,authors,abstract,url")
    papers = []
    try:
        for row in reader:
            if not any(c.strip() for c in row):
                continue
            line = reader.line_num
            if len(row) != len(names):
                problem = f"{path.name}:{line}: row not imported: {len(row)} cells for {len(names)} columns"
                if skipped is None:
                    raise InputError(path, f"line {line}: {len(row)} cells for {len(names)} columns")
                skipped.append(problem)
                continue
            rec: dict[str, Any] = {}
            for name, cell in zip(names, row):
                key = _CSV_COLUMNS.get(name)
                if key and cell.strip() and key not in rec:
                    rec[key] = cell.strip()
            if not rec.get("title"):
                if skipped is None:
                    raise InputError(path, f"line {line}: the row has no title")
                skipped.append(f"{path.name}:{line}: row not imported: it has no title")
                continue
            if str(rec.get("status", "")).lower() in REFUSED:
                continue
            papers.append(_record(path, rec, conference=True))
    except csv.Error as exc:
        raise InputError(path, f"line {reader.line_num}: not valid CSV ({exc})") from None
    return papers
