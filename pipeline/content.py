"""content/: the human-editable source of truth, read and written only through :class:`ContentStore`.

Layout (all plain text, diff-friendly)::

    content/
      episodes/<slug>/episode.toml     title, date, audio, duration, speakers (label -> person), papers, summary
      episodes/<slug>/description.md   show notes text (Markdown)
      episodes/<slug>/chapters.toml    [[chapters]]: start, title, kind, speakers, paper, confidence, summary
      episodes/<slug>/mentions.json    timed paper mentions
      episodes/<slug>/transcript.json  utterances with words
      papers/<id>.toml                 one file per paper
      posters/<id>.toml (+ image)      one file per poster
      people/<id>.toml                 one file per person
      .recap/manifest.json             sha256 of what recap last generated, per file
      .recap/base/...                  the last generated copy of each .toml file (for 3-way merges)
      .recap/base/packed.json          the same for the records of a batch (an import), in one file

Rules: every write is atomic (temporary file + rename). A file a person edited since recap wrote it is
never overwritten: for TOML records recap merges field by field (the person's changed fields win,
fields they did not touch take the new generated value); for other files it keeps the person's
version. Every such decision is reported through :attr:`ContentStore.notices`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.cache import MISS, ParseCache, cache_key
from pipeline.errors import ContentError, LockedError
from pipeline.files import BatchWriter, atomic_write, file_digest, sha256, stat_signature
from pipeline.ids import check_id, is_plain_relpath
from pipeline.models import Chapter, Episode, Mention, Paper, Person, Poster, Transcript
from pipeline.serialize import DataError, from_data, merge3, rebase, to_data, toml_dumps

log = logging.getLogger(__name__)

MANIFEST = ".recap/manifest.json"
BASE_DIR = ".recap/base"
BASE_PACK = ".recap/base/packed.json"
"""The merge bases of records written in a batch, {rel: text}: one file instead of one per record (an
import of 3,540 papers created 7,080 files). A per-record base file, when there is one, is newer."""


def _read_json_map(path: Path, remedy: str) -> dict[str, str]:
    """One of recap's own JSON maps under .recap/ ({} when absent); unreadable: a ContentError saying
    ``remedy`` ("delete it") to start afresh."""
    try:
        return json.loads(path.read_text("utf-8")) if path.exists() else {}
    except (OSError, ValueError) as exc:
        raise ContentError(f"{path}: unreadable ({exc}); {remedy} to start afresh") from exc


class LazyTranscript(Transcript):
    """A :class:`Transcript` read from its file on first use of any of its fields. At conference
    scale (50 transcripts of 1-3 h) reading them took seconds of every site build, though a build
    needs them only for the episodes that changed."""

    def __init__(self, load: Callable[[], Transcript]) -> None:  # noqa: D107 - fields come from load()
        self.__dict__["_load"] = load

    def __getattr__(self, name: str) -> Any:  # called only while the fields are not set
        load = self.__dict__.get("_load")
        if load is None or name.startswith("__"):
            raise AttributeError(name)
        loaded = vars(load())
        del self.__dict__["_load"]
        self.__dict__.update(loaded)
        return getattr(self, name)


def _text(raw: bytes) -> str:
    """UTF-8 with universal newlines, as ``Path.read_text`` gives it."""
    return raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


@dataclass
class ContentStore:
    root: Path
    notices: list[str] = field(default_factory=list)
    cache_dir: Path | None = None
    """Where parsed records are cached (a project's ``.cache/recap/parsed``); None: no cache."""

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self._manifest: dict[str, str] | None = None
        self._parsed: dict[str, ParseCache] = {}
        self.digests: dict[str, str] = {}
        """content-relative path -> blake2b of the bytes of each record file loaded (for page hashes)."""
        self._batch = 0
        self._manifest_dirty = False
        self._writer: BatchWriter | None = None  # in a batch
        self._pack: dict[str, str] | None = None  # BASE_PACK, read when needed
        self._pack_dirty = False

    @contextlib.contextmanager
    def batch(self) -> Iterator[None]:
        """Many writes as one: each file is still written atomically (temporary file, rename), but without
        its own fsync, by a few threads (creating files is most of the cost: it waits on the disk, not the
        CPU), and the manifest is saved once; at the end one ``os.sync`` makes them all durable, then the
        manifest is written. Importing 3,540 papers spent most of its time in 7,000 fsyncs and 7,000
        rewrites of the manifest. A crash mid-way leaves whole files whose manifest entries are missing:
        the next run recognises them as what recap generates (see :meth:`write_text`)."""
        outer = self._batch == 0
        if outer:
            self._writer = BatchWriter()
        self._batch += 1
        try:
            yield
        finally:
            self._batch -= 1
            if outer and self._writer is not None:
                writer, self._writer = self._writer, None
                if self._pack_dirty:
                    writer.write(self.root / BASE_PACK, json.dumps(self._base_pack(), ensure_ascii=False))
                    self._pack_dirty = False
                writer.close(sync=self._manifest_dirty)  # a failed write fails the batch: no manifest then
                if self._manifest_dirty:
                    self._manifest_dirty = False
                    self._save_manifest()

    def _write(self, p: Path, text: str) -> None:
        if self._writer is None:
            atomic_write(p, text)
        else:
            self._writer.write(p, text)

    def _base_pack(self) -> dict[str, str]:
        if self._pack is None:
            self._pack = _read_json_map(self.root / BASE_PACK, "delete it (and .recap/manifest.json)")
        return self._pack

    def _read_base(self, rel: str, base_path: Path) -> dict[str, Any] | None:
        """The merge base of ``rel``: its own base file, else its entry in the batch pack, else None."""
        if base_path.exists():
            return self._read_toml(base_path)
        text = self._base_pack().get(rel)
        return self._read_toml(base_path, text.encode("utf-8")) if text is not None else None

    def _write_base(self, rel: str, base_path: Path, text: str) -> None:
        if self._writer is None:
            self._write(base_path, text)
            return
        self._base_pack()[rel] = text
        self._pack_dirty = True
        if base_path.exists():  # an older base of its own would hide the new one
            base_path.unlink()

    def _wait(self, p: Path) -> None:
        if self._writer is not None:
            self._writer.wait(p)

    def _parse_cache(self, bucket: str) -> ParseCache | None:
        if self.cache_dir is None:
            return None
        if bucket not in self._parsed:
            self._parsed[bucket] = ParseCache(Path(self.cache_dir) / f"{bucket}.pickle")
        return self._parsed[bucket]

    def _record(self, p: Path, cls: Any, parse: Callable[[Path, bytes], Any], bucket: str,
                rel: str | None = None) -> Any:
        """The record in file ``p`` as ``cls``, parsed by ``parse(p, raw)``: from the parse cache
        when the file is unchanged since it was parsed (see :class:`ParseCache`)."""
        cache = self._parse_cache(bucket)
        rel = rel or p.relative_to(self.root).as_posix()
        key = cache_key(rel, cls)
        signature = None
        if cache is not None:
            try:
                signature = stat_signature(os.stat(p))
            except OSError as exc:
                raise ContentError(f"{p}: cannot be read ({exc.strerror or exc})") from exc
            if signature is not None:
                digest, hit = cache.get(key, None, signature)
                if hit is not MISS:
                    self.digests[rel] = digest.hex()
                    return hit
        try:
            raw = p.read_bytes()
        except OSError as exc:
            raise ContentError(f"{p}: cannot be read ({exc.strerror or exc})") from exc
        digest = file_digest(raw)
        self.digests[rel] = digest.hex()
        if cache is not None:
            _, hit = cache.get(key, digest, signature)
            if hit is not MISS:
                return hit
        record = self._load(cls, parse(p, raw), p)
        if cache is not None:
            cache.put(key, digest, record, signature)
        return record

    def _known_digest(self, p: Path, cls: Any, bucket: str) -> None:
        """Record in :attr:`digests` the digest of a file not read now (a lazy transcript), when the
        parse cache holds it for the file's current stat signature: page hashes then need no read of
        50 transcripts per build (0.4 s at conference scale)."""
        cache = self._parse_cache(bucket)
        if cache is None:
            return
        rel = p.relative_to(self.root).as_posix()
        with contextlib.suppress(OSError):
            digest = cache.digest(cache_key(rel, cls), stat_signature(os.stat(p)))
            if digest is not None:
                self.digests[rel] = digest.hex()

    def _save_parse_cache(self, bucket: str, *, prune: bool = True) -> None:
        """Called when a whole folder (or episode) was loaded: entries not looked up are dropped
        (unless ``prune`` is False: only part of it was read)."""
        cache = self._parsed.get(bucket)
        if cache is not None:
            cache.save(prune=prune)

    # -- low level -------------------------------------------------------------------------
    def path(self, rel: str) -> Path:
        """``content/<rel>``, refusing any ``rel`` that could leave content/ (checked on the text:
        absolute, ``..``, empty parts, backslashes)."""
        if not is_plain_relpath(rel):
            raise ContentError(f"refusing to touch {rel!r}: outside content/")
        return self.root / rel

    def manifest(self) -> dict[str, str]:
        if self._manifest is None:
            self._manifest = _read_json_map(self.root / MANIFEST, "delete it")
        return self._manifest

    def _save_manifest(self) -> None:
        if self._batch:
            self._manifest_dirty = True
            return
        text = json.dumps(self.manifest(), indent=1, sort_keys=True) + "\n"
        atomic_write(self.root / MANIFEST, text)

    def edited(self, rel: str) -> bool:
        """True when ``rel`` exists and is not what recap last wrote (a person edited or made it)."""
        p = self.path(rel)
        self._wait(p)
        if not p.exists():
            return False
        recorded = self.manifest().get(rel)
        return recorded is None or recorded != sha256(p.read_bytes())

    def write_text(self, rel: str, text: str, *, force: bool = False) -> bool:
        """Write a generated file, unless a person edited it. Returns True when written."""
        p = self.path(rel)
        self._wait(p)
        # Already what recap generates: record it. This also heals a run killed between writing the
        # file and saving the manifest, which would otherwise leave the file looking edited forever.
        if p.exists() and p.read_bytes() == text.encode("utf-8"):
            if self.manifest().get(rel) != sha256(text):
                self.manifest()[rel] = sha256(text)
                self._save_manifest()
            return False
        if not force and self.edited(rel):
            self.notices.append(f"kept your edited {self.display(rel)} (not overwritten)")
            return False
        self._write(p, text)
        self.manifest()[rel] = sha256(text)
        self._save_manifest()
        return True

    def write_record(self, rel: str, data: dict[str, Any], *, force: bool = False) -> bool:
        """Write a generated TOML record, merging field by field with a person's edits."""
        p = self.path(rel)
        base_path = self.path(f"{BASE_DIR}/{rel}")
        self._wait(base_path)
        final = new_base = data
        if not force and self.edited(rel):
            theirs = self._read_toml(p)
            base = self._read_base(rel, base_path)
            if base is None and p.read_bytes() == toml_dumps(data).encode("utf-8"):
                base = theirs  # what recap generates (a batch killed before it saved its bases): record it
            if base is None:  # a file recap never wrote: the person's file wins whole
                self.notices.append(f"kept your {self.display(rel)} (recap did not write it)")
                return False
            final = merge3(base, data, theirs)
            new_base = rebase(base, data, theirs)
            if final != data or new_base != data:
                self.notices.append(f"kept your edits in {self.display(rel)}")
        text = toml_dumps(final)
        base_text = text if new_base is final else toml_dumps(new_base)
        self._write_base(rel, base_path, base_text)
        if final is data:
            return self.write_text(rel, text, force=True)
        # a merged file keeps counting as edited: record the generated hash, not the merged one
        changed = not p.exists() or p.read_text("utf-8") != text
        if changed:
            self._write(p, text)
        self.manifest()[rel] = sha256(base_text)
        self._save_manifest()
        return changed

    def delete(self, rel: str) -> None:
        p = self.path(rel)
        if p.exists():
            p.unlink()
        self.manifest().pop(rel, None)
        self._save_manifest()

    def display(self, rel: str) -> str:
        return f"content/{rel}"

    def _read_toml(self, p: Path, raw: bytes | None = None) -> dict[str, Any]:
        try:
            return tomllib.loads(_text(p.read_bytes() if raw is None else raw))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ContentError(f"{p}: not valid TOML ({exc})") from exc

    def _read_json(self, p: Path, raw: bytes | None = None) -> Any:
        try:
            return json.loads(_text(p.read_bytes() if raw is None else raw))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ContentError(f"{p}: not valid JSON ({exc})") from exc

    def _load(self, cls: type, data: Any, p: Path) -> Any:
        try:
            return from_data(cls, data, where=cls.__name__)
        except DataError as exc:
            raise ContentError(f"{p}: {exc}") from exc

    # -- episodes ----------------------------------------------------------------------------
    def episode_slugs(self) -> list[str]:
        d = self.root / "episodes"
        if not d.is_dir():
            return []
        return sorted(p.name for p in d.iterdir() if (p / "episode.toml").is_file())

    def has_episode(self, slug: str) -> bool:
        return (self.root / "episodes" / check_id(slug, "episode slug") / "episode.toml").is_file()

    def require_episode(self, slug: str) -> None:
        if not self.has_episode(slug):
            known = ", ".join(self.episode_slugs()) or "none yet"
            raise ContentError(f"unknown episode {slug!r} (known: {known})")

    def load_episode(self, slug: str, *, lazy_transcript: bool = False) -> Episode:
        """The episode in ``content/episodes/<slug>/``. ``lazy_transcript``: its transcript is read
        from disk on first use (a site build needs few of them: see :class:`LazyTranscript`)."""
        self.require_episode(slug)
        d = self.root / "episodes" / slug
        meta = self._read_toml(d / "episode.toml")
        meta["slug"] = slug
        desc = d / "description.md"
        meta["description"] = desc.read_text("utf-8") if desc.exists() else ""
        chapters_path = d / "chapters.toml"
        ep: Episode = self._load(Episode, meta, d / "episode.toml")
        bucket = f"episode-{slug}"
        if chapters_path.exists():
            ep.chapters = self._record(chapters_path, list[Chapter],
                                       lambda p, raw: self._read_toml(p, raw).get("chapters", []), bucket)
        mpath = d / "mentions.json"
        if mpath.exists():
            ep.mentions = self._record(mpath, list[Mention], self._read_json, bucket)
        tpath = d / "transcript.json"
        if tpath.exists() and lazy_transcript:
            ep.transcript = LazyTranscript(lambda: self._load_transcript(tpath, bucket))
            self._known_digest(tpath, Transcript, bucket)
        elif tpath.exists():
            ep.transcript = self._record(tpath, Transcript, self._read_json, bucket)
        self._save_parse_cache(bucket, prune=not lazy_transcript)
        return ep

    def _load_transcript(self, tpath: Path, bucket: str) -> Transcript:
        transcript = self._record(tpath, Transcript, self._read_json, bucket)
        self._save_parse_cache(bucket, prune=False)
        return transcript

    def save_episode(self, ep: Episode, *,
                     parts: tuple[str, ...] = ("meta", "chapters", "mentions", "transcript")) -> None:
        """Save the chosen parts of an episode. Transcript and mentions are JSON (machine-made, large);
        metadata and chapters are TOML records merged with a person's edits."""
        slug = check_id(ep.slug, "episode slug")
        base = f"episodes/{slug}"
        if "meta" in parts:
            meta = to_data(ep)
            for key in ("slug", "description", "chapters", "mentions", "transcript"):
                meta.pop(key, None)
            self.write_record(f"{base}/episode.toml", meta)
            if ep.description:
                self.write_text(f"{base}/description.md", ep.description.rstrip() + "\n")
        if "chapters" in parts:
            self.write_record(f"{base}/chapters.toml", {"chapters": to_data(ep.chapters)})
        if "mentions" in parts:
            self.write_text(f"{base}/mentions.json", _json(to_data(ep.mentions)))
        if "transcript" in parts and ep.transcript.utterances:
            self.write_text(f"{base}/transcript.json", _json(to_data(ep.transcript)))

    # -- papers, posters, people -------------------------------------------------------------
    def _load_dir(self, sub: str, cls: type) -> dict[str, Any]:
        d = self.root / sub
        out: dict[str, Any] = {}
        if not d.is_dir():
            return out
        def parse(p: Path, raw: bytes) -> dict[str, Any]:
            data = self._read_toml(p, raw)
            data.setdefault("id", p.stem)
            if data["id"] != p.stem:
                raise ContentError(f"{p}: id {data['id']!r} does not match the file name")
            return data

        with os.scandir(d) as entries:  # (no Path sorting or stat per file: 3,586 papers)
            names = sorted(e.name for e in entries if e.name.endswith(".toml") and e.is_file())
        for name in names:
            out[name[:-5]] = self._record(d / name, cls, parse, sub, f"{sub}/{name}")
        self._save_parse_cache(sub)
        return out

    def _save_one(self, sub: str, record: Any) -> None:
        check_id(record.id, f"{sub[:-1]} id")
        self.write_record(f"{sub}/{record.id}.toml", to_data(record))

    def load_papers(self) -> dict[str, Paper]:
        return self._load_dir("papers", Paper)

    def save_paper(self, paper: Paper) -> None:
        self._save_one("papers", paper)

    def load_posters(self) -> dict[str, Poster]:
        return self._load_dir("posters", Poster)

    def save_poster(self, poster: Poster) -> None:
        self._save_one("posters", poster)

    def load_people(self) -> dict[str, Person]:
        return self._load_dir("people", Person)

    def save_person(self, person: Person) -> None:
        self._save_one("people", person)

    def poster_image(self, poster: Poster) -> Path | None:
        """The poster's image file in content/posters/ (declared, or <id>.png/.jpg/.webp)."""
        names = [poster.image] if poster.image else [f"{poster.id}.{e}" for e in ("png", "jpg", "jpeg", "webp", "svg")]
        for name in names:
            p = self.path(f"posters/{name}")
            if p.is_file():
                return p
        return None

    # -- locking -------------------------------------------------------------------------------
    # One namespace per kind of thing (.recap/locks/<kind>/...), so an episode named "catalog" and
    # the catalog never share a lock. Callers check their arguments first: a lock file is created only
    # for a run that goes ahead, and released however it ends.
    def lock_episode(self, slug: str, *, wait: float = 0, existing: bool = True) -> contextlib.AbstractContextManager:
        """Hold episode ``slug``'s lock (``existing``: the episode must exist, checked before the lock
        file is made)."""
        check_id(slug, "episode slug")
        if existing:
            self.require_episode(slug)
        return self._lock(f"episodes/{slug}", f"episode {slug!r}", wait)

    def lock_catalog(self, *, wait: float = 0) -> contextlib.AbstractContextManager:
        return self._lock("catalog", "the paper catalog", wait)

    def lock_voices(self, *, wait: float = 30) -> contextlib.AbstractContextManager:
        return self._lock("voices", "the voice library", wait)

    def lock_site(self, *, wait: float = 0) -> contextlib.AbstractContextManager:
        return self._lock("site", "the site", wait)

    @contextlib.contextmanager
    def _lock(self, name: str, what: str, wait: float) -> Iterator[None]:
        """Hold ``.recap/locks/<name>.lock`` for the duration; a second run refuses (or waits ``wait`` s)."""
        from filelock import FileLock, Timeout

        path = self.root / ".recap" / "locks" / f"{name}.lock"
        path.parent.mkdir(parents=True, exist_ok=True)
        lk = FileLock(str(path))
        try:
            lk.acquire(timeout=wait)
        except Timeout:
            raise LockedError(f"another recap run is working on {what} (lock {path}); wait for it to finish") from None
        try:
            yield
        finally:
            lk.release()


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"
