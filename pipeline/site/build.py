"""The incremental build: content/ rendered into the static site (site/), rewriting only what changed.

How a build works (read this before adding a page):

1. :class:`~pipeline.site.model.Site` loads everything once (episodes, papers, posters, people) and
   derives the links between them: every moment a paper is discussed, each person's talks and
   appearances, the transcript paragraphs of each episode with their stable anchors (``t-<seconds>``).
2. Each generator of :data:`pipeline.site.generators.GENERATORS` (one module per page kind) takes the
   ``Site`` and yields :class:`~pipeline.site.model.Page` objects: an output path, the plain data the
   page shows (``inputs``) and a ``render`` callable. To add a page kind, write a generator and add it
   to that tuple, or pass ``generators=(*GENERATORS, mine)`` to :func:`build_site`.
3. A page's hash is the sha256 of its inputs, the templates and the base URL. The manifest
   (``site/.recap-manifest.json``: output path -> hash) says which pages are up to date: those are
   neither rendered nor written. Pages whose content is gone are removed. Two pages writing the same
   path are refused. Each write is atomic (temporary file, then rename); a first build is written
   into a staging folder renamed into place at the end.
4. Pages carry their search documents (``Page.search``, made by :mod:`pipeline.site.searchdocs`); the
   search index (:mod:`pipeline.site.search`) re-tokenizes only the documents of pages whose hash changed.

Blocks of HTML that are costly to render (the speaker timeline, related papers) are
:class:`~pipeline.site.model.Deferred`: hashed by their inputs, rendered only with their page.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.cache import parse_version
from pipeline.config import Project
from pipeline.errors import ContentError
from pipeline.files import atomic_write
from pipeline.ids import is_plain_relpath
from pipeline.site.generators import GENERATORS, sitemap_page
from pipeline.site.model import Deferred, Page, PageGenerator, Site
from pipeline.site.search import DocsFn, write_index

log = logging.getLogger(__name__)

MANIFEST = ".recap-manifest.json"


@dataclass
class BuildReport:
    site_dir: Path
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    indexed: int = 0  # search documents (re)indexed

    @property
    def pages(self) -> int:
        return len(self.written) + len(self.unchanged)

    def summary(self) -> str:
        parts = [f"{len(self.written)} written", f"{len(self.unchanged)} unchanged", f"{len(self.removed)} removed"]
        search = f"; {self.indexed} search documents indexed" if self.indexed else ""
        return f"Site in {self.site_dir}: {self.pages} files ({', '.join(parts)}){search}"


def build_site(project: Project, *, base_url: str | None = None, out: Path | None = None,
               full: bool = False, search: bool = True,
               generators: Sequence[PageGenerator] = GENERATORS) -> BuildReport:
    """Build the site into ``out`` (default ``project.site_dir``), rewriting only what changed.

    ``full`` ignores the manifest and re-renders every page (and re-indexes every search document).
    ``search`` updates the search index with the documents of the pages that changed.
    ``generators``: the page kinds to build, in order (:data:`pipeline.site.generators.GENERATORS`)."""
    # A build allocates millions of small objects that form no cycles (page inputs, postings): with
    # the collector's default threshold (700 allocations) it scanned them over and over, a quarter
    # of a full build at conference scale. Peak memory is the same.
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], 50_000), *threshold[1:])
    out = Path(out) if out is not None else project.site_dir
    try:
        if out.exists():
            return _build(project, base_url, out, full=full, search=search, generators=generators,
                          write=_replace)
        # a first build goes to a staging folder renamed into place at the end: no reader can see a
        # half-built site, so pages are written plainly (an atomic replace per file doubled the time
        # of writing 4,000 pages here)
        staging = out.with_name(f".{out.name}.new")
        shutil.rmtree(staging, ignore_errors=True)
        report = _build(project, base_url, staging, full=full, search=search, generators=generators,
                        write=_write_new)
        staging.rename(out)
        report.site_dir = out
        return report
    finally:
        gc.set_threshold(*threshold)


def collect_pages(site: Site, generators: Sequence[PageGenerator] = GENERATORS) -> list[Page]:
    """Every page the generators make, in order; two pages for one path are refused."""
    pages: list[Page] = []
    owner: dict[str, str] = {}
    for generator in generators:
        for page in generator(site):
            if page.path in owner:
                raise ContentError(f"two pages write {page.path}: {owner[page.path]} and {generator.__name__}; "
                                   "rename one of the records")
            owner[page.path] = generator.__name__
            pages.append(page)
    return pages


def _build(project: Project, base_url: str | None, out: Path, *, full: bool, search: bool,
           generators: Sequence[PageGenerator], write: Callable[[Path, bytes], None]) -> BuildReport:
    out.mkdir(parents=True, exist_ok=True)
    site = Site(project, base_url)
    site_key = f"{site.template_hash}|{site.base_url}|{parse_version()}"  # records by file digest: see content_digest
    report = BuildReport(site_dir=out)
    manifest_path = out / MANIFEST
    old = {} if full else _read_manifest(manifest_path)
    pages = collect_pages(site, generators)
    pages.append(sitemap_page(site, pages))
    new: dict[str, str] = {}
    searchable: dict[str, tuple[str, DocsFn]] = {}
    out_prefix = f"{out}/"
    for page in pages:
        safe_out(out, page.path)
        digest = page_hash(page.inputs, site_key)
        new[page.path] = digest
        if page.search is not None:
            searchable[page.path] = (digest, page.search)
        if old.get(page.path) == digest and os.path.exists(out_prefix + page.path):  # (no Path: 4,482 pages)
            report.unchanged.append(page.path)
            continue
        target = out / page.path
        data = page.render()
        raw = data.encode("utf-8") if isinstance(data, str) else data
        if target.exists() and target.stat().st_size == len(raw) and target.read_bytes() == raw:
            report.unchanged.append(page.path)
            continue
        write(target, raw)
        report.written.append(page.path)
    for rel in sorted(set(old) - set(new)):
        target = safe_out(out, rel)
        if target.exists():
            target.unlink()
            report.removed.append(rel)
        _prune_empty(target.parent, out)
    manifest = json.dumps({"base_url": site.base_url, "pages": new}, indent=0, sort_keys=True) + "\n"
    _replace(manifest_path, manifest.encode())
    if search:
        report.indexed = write_index(out, searchable, site.config.language or "en", full=full).docs
    log.debug("%s", report.summary())
    return report


def _read_manifest(path: Path) -> dict[str, str]:
    """Output path -> page hash of the last build (empty when there is none or it is unreadable)."""
    if not path.exists():
        return {}
    with contextlib.suppress(OSError, ValueError):
        return json.loads(path.read_text("utf-8")).get("pages", {})
    return {}


# -- page hashes -----------------------------------------------------------------------------------
def _plain(obj: Any) -> Any:
    """json.dumps fallback for hashing: dataclasses by their fields (shallow: json recurses),
    numpy scalars by value, :class:`Deferred` HTML by its inputs. Much faster than a full to_data()
    walk on big transcripts."""
    if isinstance(obj, Deferred):
        return {"deferred": obj.inputs}
    if hasattr(obj, "__dataclass_fields__"):
        return obj.__dict__
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def page_hash(inputs: Any, site_key: str) -> str:
    """The hash of a page's inputs under ``site_key`` (templates, base URL, record format)."""
    h = hashlib.sha256(site_key.encode())
    if isinstance(inputs, bytes):
        h.update(inputs)
    else:
        # key order as built (no sort_keys: 2x faster): the same content built the same way hashes the
        # same; a different order only re-renders the page, and an unchanged page is not rewritten
        h.update(json.dumps(inputs, ensure_ascii=False, default=_plain).encode())
    return h.hexdigest()


# -- writes ----------------------------------------------------------------------------------------
def _replace(path: Path, data: bytes) -> None:
    """Atomic replace without fsync: a reader sees the old file or the new one. (The site is
    rebuilt from content/ at will, so durability per file is not worth an fsync per page.)"""
    atomic_write(path, data, durable=False)


def _write_new(path: Path, data: bytes) -> None:
    """A plain write, into a folder no one reads yet (see :func:`build_site`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def safe_out(out: Path, rel: str) -> Path:
    """``out / rel`` when ``rel`` is a plain relative path that stays inside ``out`` (checked on the
    text: page paths are built from checked ids, and resolving each of thousands of paths through the
    file system cost seconds per build)."""
    if not is_plain_relpath(rel):
        raise ContentError(f"refusing to write {rel!r}: outside the site folder {out}")
    return out / rel


def _prune_empty(d: Path, root: Path) -> None:
    root = root.resolve()
    d = d.resolve()
    while d != root and root in d.parents:
        try:
            d.rmdir()
        except OSError:
            return
        d = d.parent
