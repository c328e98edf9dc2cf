"""Files: atomic writes and the digests files are known by. Every module that writes a file uses
:func:`atomic_write`, so a reader (or a run killed mid-way) sees the old file or the new one."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import time
from pathlib import Path
from typing import Any


def atomic_write(path: Path, data: bytes | str, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never a mix.
    ``durable=False`` skips the fsync: for a build's caches, which are recomputed when a crash leaves
    them empty (every cache reader takes an unreadable file for a miss), and whose fsyncs of several
    MB each were a good part of a one-paper build on a busy disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    # the temporary name is known before the file exists, so a Ctrl-C at any point (even inside the call
    # that creates it, where tempfile.mkstemp would not have returned its name yet) still removes it
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def sha256(data: bytes | str) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return hashlib.sha256(raw).hexdigest()


def file_digest(raw: bytes) -> bytes:
    """The digest content files are known by (parse cache, page hashes)."""
    return hashlib.blake2b(raw, digest_size=20).digest()


SETTLE_NS = 2_000_000_000


def stat_signature(st: os.stat_result) -> tuple | None:
    """What identifies a file's bytes without reading them: size, modification and inode change
    times, inode, device; None while the file changed less than 2 s ago (time stamps are coarser than
    a write: a second write in the same tick would keep the signature, as git's "racy" entries)."""
    if time.time_ns() - max(st.st_mtime_ns, st.st_ctime_ns) < SETTLE_NS:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev)


class BatchWriter:
    """Atomic writes of many files from a few threads, without an fsync each: creating files waits on the
    disk, not the CPU (7,000 files were most of importing 3,540 papers). :meth:`close` waits for them all,
    raises the first failure, then makes everything durable with one ``os.sync``. A write of a path
    waits for the one queued before it (:meth:`wait`), so the last one wins."""

    def __init__(self, threads: int = 4) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="recap-write")
        self._pending: dict[Path, Any] = {}

    def write(self, path: Path, data: bytes | str) -> None:
        self.wait(path)
        self._pending[path] = self._pool.submit(atomic_write, path, data, durable=False)

    def wait(self, path: Path) -> None:
        """Let a queued write of ``path`` finish (before it is read or written again)."""
        future = self._pending.pop(path, None)
        if future is not None:
            future.result()

    def close(self, *, sync: bool = True) -> None:
        self._pool.shutdown(wait=True)
        pending, self._pending = self._pending, {}
        for future in pending.values():
            future.result()
        if sync:
            os.sync()
