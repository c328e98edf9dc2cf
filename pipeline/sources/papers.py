"""Paper sources: read any paper list (format detected from its content), import it into the catalog.

Formats: reading lists, arXiv-link blogs and conference-day notes (:mod:`pipeline.sources.paper_text`),
BibTeX, JSON and YAML (:mod:`pipeline.sources.paper_data`), and the "Papers covered" list of show
notes (:mod:`pipeline.sources.notes`). Records of one paper are merged by :mod:`pipeline.sources.catalog`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import BadEntries, InputError
from pipeline.models import Paper
from pipeline.serialize import read_input_text
from pipeline.sources import paper_data, paper_text
from pipeline.sources.catalog import merge_papers, union
from pipeline.sources.notes import has_papers_section, parse_notes_text

log = logging.getLogger(__name__)


def read_papers(path: Path, skipped: list[str] | None = None) -> list[Paper]:
    """Read one paper source file (format detected from its content and extension). With ``skipped``,
    an entry that cannot be imported is appended to it (a line naming the file, line and reason) and the
    others are read; without, it raises :class:`InputError`."""
    path = Path(path)
    text = read_input_text(path, "a paper list")
    fmt = detect_format(path, text)
    readers: dict[str, Callable[[Path, str, list[str] | None], list[Paper]]] = {
        "bibtex": paper_data.read_bibtex, "json": paper_data.read_json, "yaml": paper_data.read_yaml,
        "csv": paper_data.read_csv}
    if fmt in readers:
        papers = readers[fmt](path, text, skipped)
    else:
        papers = {"listing": paper_text.read_listing, "blog": paper_text.read_blog,
                  "daynotes": paper_text.read_daynotes, "shownotes": read_shownotes}[fmt](path, text)
    if not papers:
        first = next((s for s in skipped or [] if ": note: " not in s), None)
        where = re.sub(r"^[^:]*:(\d+): ", r"line \1: ", first) if first else ""
        raise InputError(path, f"no papers found (read as {fmt})" + (f"; {where}" if where else ""))
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
    if paper_data.looks_like_csv(path, text):
        return "csv"
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
                          "'Title. ... Paper.' day notes, BibTeX, JSON, YAML or CSV with a header row")



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
    skipped: list[str] = field(default_factory=list)  # "file:line: entry 'k' not imported: reason"
    notes: list[str] = field(default_factory=list)  # what was left out on purpose (rejected rows)
    titles: dict[str, str] = field(default_factory=dict)  # paper id -> title, of the papers added

    def summary(self) -> str:
        files = ", ".join(f"{n} from {name}" for name, n in self.read.items())
        return (f"Read {files}; {len(self.added)} new, {len(self.updated)} updated, "
                f"{self.total} papers in the catalog")


def import_papers(project: Any, paths: Iterable[Path], *, skip_bad: bool = False,
                  progress: Callable[[str, int, int], None] | None = None) -> ImportReport:
    """Read every file first, merge into the catalog, then write the new and changed paper records
    through the ContentStore in one batch (one durable sync). A file that cannot be read, or entries that
    cannot be imported (:class:`BadEntries`, naming each), abort before anything is written; with
    ``skip_bad`` those entries are left out and listed in :attr:`ImportReport.skipped`.
    ``progress(stage, done, total)`` is called while writing."""
    store = project.content
    report = ImportReport()
    problems: list[str] = []
    parsed = [(Path(p), read_papers(Path(p), problems)) for p in paths]
    report.skipped = [s for s in problems if ": note: " not in s]
    if report.skipped and not skip_bad:
        raise BadEntries(report.skipped)
    report.notes = [s.replace(": note: ", ": ", 1) for s in problems if ": note: " in s]
    with store.lock_catalog():
        existing = store.load_papers()
        catalog = dict(existing)
        for path, papers in parsed:
            report.read[path.name] = len(papers)
            catalog = merge_papers(catalog, papers)
        changed = [p for pid, p in catalog.items() if pid not in existing or p != existing[pid]]
        with store.batch():
            for i, paper in enumerate(changed, 1):
                if paper.id in existing:
                    report.updated.append(paper.id)
                else:
                    report.added.append(paper.id)
                    report.titles[paper.id] = paper.title
                store.save_paper(paper)
                if progress and (i % 100 == 0 or i == len(changed)):
                    progress("writing papers", i, len(changed))
    report.total = len(catalog)
    return report
