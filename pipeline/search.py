"""The search index: Pagefind, run offline through the binary the ``pagefind`` PyPI package ships.

Indexed: the pages' ``data-pagefind-body`` regions (episodes, papers, posters, people; each page
says its type with ``data-pagefind-filter="type:..."``), plus the episodes' transcripts as
*passages*: up to :data:`PASSAGE_PARAGRAPHS` paragraphs of one chapter, given to Pagefind as a small
HTML document whose paragraphs each sit under a heading with the paragraph's anchor id. Pagefind
returns the matching paragraphs of a passage as sub-results, so a hit on words said in an episode
opens the episode at that paragraph (``episodes/<slug>/#t-1528``). One record per paragraph (27k at
conference scale) made the metadata every query downloads 173 KB; passages divide it by about six.
The episode page's own transcript is marked ``data-pagefind-ignore`` so the same words are not
indexed twice.

The browser side is ``templates/static/search.js`` (a small UI on ``pagefind.js``). The bundle is
written to a fresh folder and swapped in, so a reader never sees half an index.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import DependencyMissing, StageError

if TYPE_CHECKING:
    from .render import Site

log = logging.getLogger(__name__)

BUNDLE = "pagefind"


UNUSED = ("pagefind-ui.", "pagefind-component-ui.", "pagefind-modular-ui.", "pagefind-highlight.",
          "pagefind-worker.")
"""Files Pagefind writes that the site never loads (its stock UIs; search.js runs without the worker):
not published."""

PASSAGE_PARAGRAPHS = 6
"""Transcript paragraphs per search record (a passage never spans two chapters)."""


def transcript_passages(site: Site) -> list[tuple[str, str]]:
    """(url, HTML document) of every transcript passage, for Pagefind's ``add_html_file``. Every
    text is escaped: transcripts, titles and names are untrusted."""
    from html import escape

    from .export import site_path
    from .timefmt import format_timestamp

    lang = escape(site.config.language or "en")
    out = []
    for slug, ep in site.episodes.items():
        chapters = {i: c.title for i, c in enumerate(ep.chapters)}
        groups: list[list] = []
        for p in site.paragraphs[slug]:
            if not groups or len(groups[-1]) >= PASSAGE_PARAGRAPHS or p.chapter != groups[-1][0].chapter:
                groups.append([])
            groups[-1].append(p)
        for group in groups:
            first = group[0]
            where = chapters.get(first.chapter) if first.chapter is not None else None
            title = f"{ep.title} · {format_timestamp(first.start)}" + (f" · {where}" if where else "")
            body = "".join(
                f'<h2 id="{escape(p.id)}">{escape(format_timestamp(p.start) + (" · " + p.speaker if p.speaker else ""))}'
                f"</h2><p>{escape(p.text)}</p>" for p in group)
            html = (f'<!doctype html><html lang="{lang}"><head><title>{escape(title)}</title></head><body>'
                    f'<main data-pagefind-body data-pagefind-filter="type:episode" data-pagefind-meta="passage:1">'
                    f'<h1 data-pagefind-meta="title">{escape(title)}</h1>{body}</main></body></html>')
            out.append((f"/{site_path('episode', slug)}?at={first.id}", html))
    return out


def index_site(site: Site, out: Path) -> None:
    """(Re)build ``out/pagefind`` from the HTML under ``out`` and the transcript passages."""
    try:
        import pagefind.index  # noqa: F401
    except ImportError as exc:  # pragma: no cover - pagefind is a core dependency
        raise DependencyMissing("the pagefind package is not installed", hint="pip install 'pagefind[extended]'") from exc

    out = Path(out).resolve()
    tmp_name = f".{BUNDLE}.new"
    tmp = out / tmp_name
    shutil.rmtree(tmp, ignore_errors=True)
    passages = transcript_passages(site)
    language = site.config.language or "en"

    async def run() -> None:
        config = {"force_language": language, "output_path": str(tmp)}
        service = await _service_class()().launch()
        try:
            index = await service.create_index(config)  # type: ignore[arg-type]
            await index.add_directory(str(out), glob="{episodes,papers,posters,people}/**/*.html")
            for start in range(0, len(passages), 200):  # pipelined, in bounded batches
                await asyncio.gather(*(index.add_html_file(url=url, content=html)
                                       for url, html in passages[start:start + 200]))
            await index.write_files(str(tmp))
        finally:
            await service.close()

    try:
        _run_async(run)
    except (OSError, RuntimeError, AssertionError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise StageError(f"search index for {out}: pagefind failed ({exc})",
                         hint="rebuild with `recap build --full`") from exc
    if not (tmp / "pagefind.js").exists():
        shutil.rmtree(tmp, ignore_errors=True)
        raise StageError(f"search index for {out}: pagefind wrote no index", hint="rebuild with `recap build --full`")
    _sync_bundle(tmp, out / BUNDLE)
    log.info("search index: %d transcript passages indexed", len(passages))


def _sync_bundle(new: Path, final: Path) -> None:
    """Move the new bundle into place file by file, entry point last, then drop stale files.

    Pagefind names its index, filter and fragment files by content hash, so after a small change
    almost every file already exists with the same name and bytes: only the new ones are moved in,
    and only the ones no longer used are deleted (removing and rewriting the whole folder cost
    tens of seconds at conference scale). Readers keep using the old entry point until the new
    one, written last, refers to files that are all in place."""
    final.mkdir(parents=True, exist_ok=True)
    entry = "pagefind-entry.json"
    wanted: set[str] = set()
    files = sorted(p for p in new.rglob("*") if p.is_file())
    for src in sorted(files, key=lambda p: p.name == entry):
        if src.name.startswith(UNUSED):
            continue
        rel = src.relative_to(new).as_posix()
        wanted.add(rel)
        dst = final / rel
        if dst.is_file() and dst.stat().st_size == src.stat().st_size and dst.read_bytes() == src.read_bytes():
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
    for old in sorted(final.rglob("*")):
        if old.is_file() and old.relative_to(final).as_posix() not in wanted:
            with contextlib.suppress(OSError):
                old.unlink()
    shutil.rmtree(new, ignore_errors=True)


def _run_async(fn) -> None:
    """asyncio.run(fn()), in a worker thread when this thread already runs an event loop
    (a notebook, Playwright's sync API)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(fn())
        return
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(fn())).result()


def _service_class():
    """The pagefind package's service client, minus the 0.1 s sleep its reader takes before each
    response (which made 400 transcript records take 45 s). The reader awaits the pipe instead."""
    import base64
    import json

    from pagefind.service import PagefindService

    class Service(PagefindService):
        async def _wait_for_responses(self) -> None:
            assert self._backend.stdout is not None
            while True:
                raw = await self._backend.stdout.readuntil(b",")
                resp = json.loads(base64.b64decode(raw[:-1]))
                if not resp:
                    continue
                payload = resp.get("payload") or {}
                message_id = resp.get("message_id")
                if message_id is None and payload.get("original_message"):
                    message_id = json.loads(payload["original_message"]).get("message_id")
                future = self._responses.get(message_id) if message_id is not None else None
                if future is None or future.done():
                    log.debug("pagefind: unexpected response %s", str(resp)[:200])
                    continue
                if payload.get("type") == "Error":
                    future.set_exception(RuntimeError(payload.get("message", "pagefind error")))
                else:
                    future.set_result(payload)

    return Service
