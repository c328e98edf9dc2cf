"""Paper lists written for machines: BibTeX, JSON and YAML records."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipeline.errors import InputError
from pipeline.models import Paper, PaperNote
from pipeline.serialize import check_plain, loads_json
from pipeline.sources.catalog import normalize_arxiv, paper_id
from pipeline.timefmt import MONTHS


def read_bibtex(path: Path, text: str) -> list[Paper]:
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
            mon = MONTHS.get(month.lower()[:3]) or (int(month) if month.isdigit() else None)
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



def read_json(path: Path, text: str) -> list[Paper]:
    try:
        data = loads_json(text)
    except ValueError as exc:
        raise InputError(path, f"not valid JSON ({exc})") from None
    return _from_records(path, data)


def read_yaml(path: Path, text: str) -> list[Paper]:
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
