"""Paper sources: read any paper list (format detected from its content), import it into the catalog.

Formats: reading lists, arXiv-link blogs and conference-day notes (:mod:`pipeline.sources.paper_text`),
BibTeX, JSON and YAML (:mod:`pipeline.sources.paper_data`), and the "Papers covered" list of show
notes (:mod:`pipeline.sources.notes`). Records of one paper are merged by :mod:`pipeline.sources.catalog`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import InputError
from pipeline.models import Paper
from pipeline.serialize import read_input_text
from pipeline.sources import paper_data, paper_text
from pipeline.sources.catalog import merge_papers, union
from pipeline.sources.notes import has_papers_section, parse_notes_text

log = logging.getLogger(__name__)


def read_papers(path: Path) -> list[Paper]:
    """Read one paper source file (format detected from its content and extension)."""
    path = Path(path)
    text = read_input_text(path, "a paper list")
    fmt = detect_format(path, text)
    reader = {"listing": paper_text.read_listing, "blog": paper_text.read_blog, "daynotes": paper_text.read_daynotes,
              "bibtex": paper_data.read_bibtex, "json": paper_data.read_json, "yaml": paper_data.read_yaml,
              "shownotes": read_shownotes}[fmt]
    papers = reader(path, text)
    if not papers:
        raise InputError(path, f"no papers found (read as {fmt})")
    for p in papers:
        p.sources = union(p.sources, [path.name])
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
    if paper_text.looks_like_listing(lines):
        return "listing"
    if has_papers_section(text):
        return "shownotes"
    if paper_text.looks_like_blog(lines):
        return "blog"
    if paper_text.looks_like_daynotes(lines):
        return "daynotes"
    if head.startswith("- ") and re.search(r"^\s*-?\s*title\s*:", text, re.M):
        return "yaml"
    raise InputError(path, "unrecognised paper list format",
                     hint="expected a reading list (title, authors, date; Summary:), arXiv-link blog lines, "
                          "'Title. ... Paper.' day notes, BibTeX, JSON or YAML")



def read_shownotes(path: Path, text: str) -> list[Paper]:
    """Only the "Papers covered" list of show notes (as a catalog; chapters are ignored)."""
    return parse_notes_text(text, source=path.name).papers



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
    with store.lock_catalog():
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
