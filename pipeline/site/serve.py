"""``recap serve``: preview the site on 127.0.0.1 and rebuild what changed when content/ or
templates/ change (polling file stamps once a second: no extra dependency, works everywhere)."""

from __future__ import annotations

import functools
import gzip
import http.server
import io
import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from pipeline.config import Project

if TYPE_CHECKING:
    from pipeline.site.build import BuildReport

log = logging.getLogger(__name__)


def _stamps(dirs: list[Path]) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for d in dirs:
        if not d.is_dir():
            continue
        for p in d.rglob("*"):
            if ".recap" in p.parts or p.name.startswith(".") or not p.is_file():
                continue
            try:
                st = p.stat()
            except OSError:
                continue
            out[str(p)] = (st.st_mtime_ns, st.st_size)
    return out


class _Handler(http.server.SimpleHTTPRequestHandler):
    """The stdlib's static file handler plus HTTP Range requests (single range), which browsers
    need to seek in audio: without them a player can only play from the start."""

    _remaining: int | None = None  # bytes of the requested range still to send

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        log.debug("serve: " + format, *args)

    def send_head(self) -> BinaryIO | None:
        rng = self.headers.get("Range", "")
        m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
        path = Path(self.translate_path(self.path))
        page = path / "index.html" if path.is_dir() and self.path.split("?")[0].endswith("/") else path
        if not m and page.is_file() and _COMPRESSIBLE.search(page.name) and _accepts_gzip(self.headers):
            return self._send_gzip(page)
        if not m or not path.is_file() or m.group(0) == "bytes=-":
            return super().send_head()
        size = path.stat().st_size
        first, last = m.groups()
        if first:
            start, end = int(first), min(int(last) if last else size - 1, size - 1)
        else:  # the final N bytes
            start, end = max(0, size - int(last)), size - 1
        if start >= size or start > end:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.end_headers()
            return None
        f = open(path, "rb")  # noqa: SIM115 - closed by the base class after copyfile
        f.seek(start)
        self._remaining = end - start + 1
        self.send_response(206)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(self._remaining))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        return f

    def _send_gzip(self, path: Path) -> BinaryIO:
        """A text file gzip-compressed (what a static host does): pages, CSS, scripts, feeds, index shards."""
        body = _gzipped(str(path), path.stat().st_mtime_ns)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        return io.BytesIO(body)

    def copyfile(self, source: Any, outputfile: Any) -> None:
        remaining = self._remaining
        if remaining is None:
            return super().copyfile(source, outputfile)
        self._remaining = None
        try:
            while remaining > 0:
                chunk = source.read(min(65536, remaining))
                if not chunk:
                    break
                outputfile.write(chunk)
                remaining -= len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the browser cancelled a media request: normal while seeking


_COMPRESSIBLE = re.compile(r"\.(?:html|css|js|json|xml|svg|vtt|srt|txt|map)$")


def _accepts_gzip(headers: Any) -> bool:
    return any(part.split(";")[0].strip() == "gzip" for part in headers.get("Accept-Encoding", "").split(","))


@functools.lru_cache(maxsize=512)
def _gzipped(path: str, mtime_ns: int) -> bytes:
    """The gzip of a file, kept while its modification time stays the same."""
    return gzip.compress(Path(path).read_bytes(), compresslevel=6, mtime=0)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # the browser dropped a connection (seeking, navigating away)
        super().handle_error(request, client_address)


def make_server(directory: Path, port: int = 8000, host: str = "127.0.0.1") -> http.server.ThreadingHTTPServer:
    handler = functools.partial(_Handler, directory=str(directory))
    _Handler.extensions_map.update({".js": "text/javascript", ".json": "application/json",
                                    ".vtt": "text/vtt", ".srt": "application/x-subrip",
                                    ".wasm": "application/wasm", ".opus": "audio/ogg"})
    return _Server((host, port), handler)


def serve(project: Project, port: int = 8000, *, base_url: str = "/", interval: float = 1.0,
          on_build: Callable[[BuildReport], object] | None = None, on_ready: Callable[[str], object] | None = None,
          stop: threading.Event | None = None) -> None:
    """Build, serve ``project.site_dir`` at ``http://127.0.0.1:PORT/`` (built for ``base_url``: "/", or
    the address it is served at to check absolute links as published), compressed, and rebuild
    incrementally whenever a file under content/ or templates/ changes. Runs until ``stop`` is set
    or Ctrl-C."""
    from pipeline.site.build import build_site

    report = build_site(project, base_url=base_url)
    if on_build:
        on_build(report)
    server = make_server(project.site_dir, port)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    log.info("Serving %s at %s (Ctrl-C to stop)", project.site_dir, url)
    if on_ready:
        on_ready(url)
    watched = [project.root / "content", *project.template_dirs]
    before = _stamps(watched)
    stop = stop or threading.Event()
    try:
        while not stop.wait(interval):
            now = _stamps(watched)
            if now == before:
                continue
            time.sleep(0.2)  # let an editor finish saving
            before = _stamps(watched)
            try:
                report = build_site(project, base_url=base_url)
            except Exception as exc:  # keep serving the last good site; say what is wrong
                log.error("rebuild failed: %s", exc)
                continue
            if on_build:
                on_build(report)
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
