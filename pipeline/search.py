"""The search index: Pagefind, run offline through the binary the ``pagefind`` PyPI package ships.

Indexed: the pages' ``data-pagefind-body`` regions (episodes, papers, posters, people; each page
says its type with ``data-pagefind-filter="type:..."``), plus one custom record per transcript
paragraph whose URL is the paragraph's anchor (``episodes/<slug>/#t-1528``), so a hit on words said
in an episode opens the episode at that moment. The episode page's own transcript is marked
``data-pagefind-ignore`` so the same words are not indexed twice.

The bundle (index, ``pagefind-ui.js``/``.css``) is written to a fresh folder and swapped in, so a
reader never sees half an index.
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


def index_site(site: Site, out: Path) -> None:
    """(Re)build ``out/pagefind`` from the HTML under ``out`` and the transcript paragraphs."""
    from .render import search_records

    try:
        import pagefind.index  # noqa: F401
    except ImportError as exc:  # pragma: no cover - pagefind is a core dependency
        raise DependencyMissing("the pagefind package is not installed", hint="pip install 'pagefind[extended]'") from exc

    out = Path(out).resolve()
    tmp_name = f".{BUNDLE}.new"
    tmp = out / tmp_name
    shutil.rmtree(tmp, ignore_errors=True)
    records = search_records(site)
    language = site.config.language or "en"

    async def run() -> None:
        config = {"force_language": language, "output_path": str(tmp)}
        service = await _service_class()().launch()
        try:
            index = await service.create_index(config)  # type: ignore[arg-type]
            await index.add_directory(str(out), glob="{episodes,papers,posters,people}/**/*.html")
            for start in range(0, len(records), 200):  # pipelined, in bounded batches
                await asyncio.gather(*(index.add_custom_record(
                    url=r["url"], content=r["content"], language=language, meta=r["meta"], filters=r["filters"])
                    for r in records[start:start + 200]))
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
    log.info("search index: %d transcript paragraphs indexed", len(records))


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
