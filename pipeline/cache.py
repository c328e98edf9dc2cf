"""Stage cache: expensive outputs kept under ``project.cache_dir`` so a re-run skips finished work.

A stage's output lives in ``<cache>/<stage>/<key>/`` where ``key`` hashes the audio's content hash,
the stage's name and version, and the options that change its output. Writes are atomic, so a run
killed mid-way leaves either a finished entry or none. The transcription stage stores one file per
finished chunk in its entry, which is what lets a killed run resume near where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.content import atomic_write

log = logging.getLogger(__name__)


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
