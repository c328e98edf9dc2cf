"""The project's cache (``.cache/recap/``): one API for everything recap recomputes rather than stores.

Nothing here is content: deleting ``.cache/recap/`` only costs time. Three kinds of entry, one owner each:

* :class:`StageCache` -- an audio stage's output (decode, transcribe, diarize, voices) in
  ``<cache>/<stage>/<key>/``, the key hashing the audio's content hash, the stage's version and the options
  that change its output. Entries of other options live beside it (a re-run with other options keeps both).
  The transcription stage stores one file per finished chunk in its entry: a killed run resumes there.
* :class:`Entry` -- a named value in a scope (``<cache>/<scope>/<name>.pickle``), stored with the key it was
  computed from: a lookup with another key is a miss, and a store replaces the previous version, so a scope
  holds one version per name (an episode's paragraphs, its report findings, the paper map's layout).
* :class:`ParseCache` -- parsed content records by file digest and stat signature
  (:class:`pipeline.content.ContentStore`).

:meth:`Cache.folder` gives a stage a folder of its own where it keeps a content-addressed store
(embeddings by text hash, LLM answers by request hash) or work trees (publishing).

Writes are atomic (:func:`pipeline.files.atomic_write`): a run killed mid-way leaves a finished entry or none,
and every reader takes an unreadable file for a miss.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import logging
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.files import atomic_write

log = logging.getLogger(__name__)

MISS: Any = object()
"""What a lookup returns when there is no entry (``None`` can be a cached value)."""


@dataclass(frozen=True)
class Cache:
    """The cache folder of a project (``root`` None: nothing is cached)."""

    root: Path | None

    def folder(self, name: str) -> Path | None:
        """``<cache>/<name>/``, a stage's own folder (not created here)."""
        return None if self.root is None else Path(self.root) / name

    def entry(self, scope: str, name: str) -> Entry:
        return Entry(None if self.root is None else Path(self.root) / scope / f"{name}.pickle")

    def stage(self, audio_hash: str, stage: str, version: int, options: dict[str, Any]) -> StageCache:
        if self.root is None:
            raise ValueError("audio stages need a cache folder")
        return StageCache.open(Path(self.root), audio_hash, stage, version, options)


@dataclass(frozen=True)
class Entry:
    """One named value in a scope, stored with the key it was computed from."""

    path: Path | None

    def load(self) -> tuple[Any, Any] | None:
        """(key, value) of the stored version, whatever its key (for incremental updates), or None."""
        if self.path is None:
            return None
        with contextlib.suppress(OSError, EOFError, ValueError, TypeError, AttributeError, ImportError,
                                 IndexError, pickle.UnpicklingError):
            key, value = pickle.loads(self.path.read_bytes())
            return key, value
        return None

    def get(self, key: Any) -> Any:
        """The value stored for ``key``, or :data:`MISS`."""
        stored = self.load()
        return stored[1] if stored is not None and stored[0] == key else MISS

    def put(self, key: Any, value: Any) -> None:
        """Store ``value`` for ``key``, replacing the previous version. No fsync: a crash leaves the old
        version or an unreadable file, and either is a miss."""
        if self.path is None:
            return
        try:
            atomic_write(self.path, pickle.dumps((key, value), pickle.HIGHEST_PROTOCOL), durable=False)
        except OSError as exc:
            log.debug("not cached: %s (%s)", self.path, exc)


def file_hash(path: Path, memo_dir: Path | None = None) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks. With ``memo_dir`` the hash is remembered by
    (resolved path, size, mtime), so a 3-hour recording is hashed once, not on every run."""
    path = Path(path)
    st = path.stat()
    memo_key = hashlib.sha256(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:32]
    memo = memo_dir / "hashes" / memo_key if memo_dir is not None else None
    if memo is not None and memo.is_file():
        return memo.read_text("ascii").strip()
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    if memo is not None:
        atomic_write(memo, digest + "\n")
    return digest


def stage_key(audio_hash: str, stage: str, version: int, options: dict[str, Any]) -> str:
    """A stable key: the same audio, stage version and options give the same key."""
    blob = json.dumps({"audio": audio_hash, "stage": stage, "version": version, "options": options},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


@dataclass
class StageCache:
    """One stage's cache entry: a folder holding JSON/NumPy files."""

    root: Path
    stage: str
    key: str

    @classmethod
    def open(cls, cache_dir: Path, audio_hash: str, stage: str, version: int,
             options: dict[str, Any]) -> StageCache:
        return cls(Path(cache_dir), stage, stage_key(audio_hash, stage, version, options))

    @property
    def dir(self) -> Path:
        return self.root / self.stage / self.key

    def path(self, name: str) -> Path:
        return self.dir / name

    def load_json(self, name: str = "result.json") -> Any | None:
        p = self.path(name)
        if not p.is_file():
            return None
        try:
            return json.loads(p.read_text("utf-8"))
        except (OSError, ValueError):
            log.warning("ignoring unreadable cache file %s", p)
            return None

    def save_json(self, data: Any, name: str = "result.json") -> None:
        atomic_write(self.path(name), json.dumps(data, ensure_ascii=False))

    def append_log(self, line: str, name: str = "log.txt") -> None:
        """Append one line (used to record which chunks were computed, run by run)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.path(name), "a", encoding="utf-8") as fh:
            fh.write(line.rstrip("\n") + "\n")
            fh.flush()
            os.fsync(fh.fileno())


# -- parsed content records --------------------------------------------------------------------------
class ParseCache:
    """Parsed records of one folder (or one episode), keyed by file and by the file's bytes.

    Parsing TOML/JSON and checking it into dataclasses dominated builds at conference scale (3,586
    paper records, 50 three-hour transcripts). An entry holds the digest of the bytes it was parsed
    from and the file's stat signature when it was read (:func:`stat_signature`, as git's index does):
    a file whose signature is unchanged is not read again; any other file is read and its digest
    compared, so an edit is never missed, whatever its time stamps (the signature holds the inode
    change time, which every write moves and ``touch``/``utime`` cannot set back). Each hit is
    unpickled afresh (callers may change what they load). The file is a local cache like
    ``__pycache__`` (a project's ``.cache/``, never content): it is rewritten atomically, only when
    something changed, and keeps only the entries looked up since it was opened, so deleted files leave it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, tuple[bytes, bytes, tuple | None]] = {}
        self.used: dict[str, tuple[bytes, bytes, tuple | None]] = {}
        self.dirty = False
        with contextlib.suppress(OSError, EOFError, ValueError, TypeError, AttributeError, ImportError,
                                 pickle.UnpicklingError):
            data = pickle.loads(path.read_bytes())
            if isinstance(data, dict) and data.get("version") == parse_version():
                self.entries = data["entries"]

    def get(self, key: str, digest: bytes | None, signature: tuple | None = None) -> tuple[bytes, Any]:
        """(digest, record) of the entry parsed from a file whose bytes have this ``digest``
        (:func:`file_digest`), or, with ``digest`` None, whose stat ``signature`` is the one stored;
        (b"", MISS) when there is none."""
        hit = self.entries.get(key)
        if hit is None or (hit[0] != digest if digest is not None else (signature is None or hit[2] != signature)):
            return b"", MISS
        if hit[2] != signature:
            hit = (hit[0], hit[1], signature)
            self.dirty = True
        self.used[key] = hit
        try:
            return hit[0], pickle.loads(hit[1])
        except Exception:  # noqa: BLE001 - a class changed shape since: parse again
            return b"", MISS

    def digest(self, key: str, signature: tuple | None) -> bytes | None:
        """The digest of the file an entry was parsed from, when the file's stat ``signature`` is
        still the stored one (the record itself is not unpickled)."""
        hit = self.entries.get(key)
        return hit[0] if hit is not None and signature is not None and hit[2] == signature else None

    def put(self, key: str, digest: bytes, record: Any, signature: tuple | None = None) -> None:
        self.used[key] = (digest, pickle.dumps(record, pickle.HIGHEST_PROTOCOL), signature)
        self.dirty = True

    def save(self, *, prune: bool = True) -> None:
        """Write the entries looked up since the last save; ``prune=False`` keeps the others too
        (when only part of the folder was read)."""
        keep = self.used if prune else {**self.entries, **self.used}
        if not (self.dirty or set(keep) != set(self.entries)):
            return
        with contextlib.suppress(OSError):
            atomic_write(self.path, pickle.dumps({"version": parse_version(), "entries": keep},
                                                 pickle.HIGHEST_PROTOCOL), durable=False)
        self.entries, self.used, self.dirty = dict(keep), {}, False


def cache_key(rel: str, cls: Any) -> str:
    """A parse-cache entry's key: the content-relative path and the record type read from it."""
    return f"{rel}|{getattr(cls, '__name__', cls)}"


@functools.cache
def parse_version() -> str:
    """Cached records are pickled dataclasses: any change to the models' source (a field added,
    renamed, given a new default) makes every cache entry stale."""
    models = Path(__file__).with_name("models.py").read_bytes()
    return "2:" + hashlib.blake2b(models, digest_size=16).hexdigest()
