"""What a batch processes: recordings from the command line or a manifest (TOML, JSON or CSV)."""

from __future__ import annotations

import csv
import io
import json
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.errors import ConfigError, InputError
from pipeline.ids import check_id, is_id, slugify


@dataclass(frozen=True)
class BatchItem:
    """One recording of a batch (a manifest row or a command-line input)."""

    audio: Path
    slug: str
    title: str | None = None
    notes: Path | None = None
    papers: tuple[Path, ...] = ()


_COLUMNS = {"audio", "episode", "slug", "title", "notes", "papers"}


def read_manifest(path: Path) -> list[BatchItem]:
    """Rows of ``path`` (TOML ``[[recording]]`` tables, a JSON list, or CSV with a header) as items.

    Columns: ``audio`` (required), ``episode`` (or ``slug``; default: the audio file's stem,
    slugified), ``title``, ``notes``, ``papers`` (a list, or ``;``-separated in CSV). Relative paths
    are relative to the manifest's folder."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise InputError(path, "no such manifest file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"unreadable manifest ({exc})") from None
    suffix = path.suffix.lower()
    rows: Any
    try:
        if suffix == ".toml":
            data = tomllib.loads(text)
            rows = data.get("recording", data.get("recordings"))
        elif suffix == ".json":
            data = json.loads(text)
            rows = data.get("recordings") if isinstance(data, dict) else data
        elif suffix in (".csv", ".tsv"):
            rows = list(csv.DictReader(io.StringIO(text), delimiter="\t" if suffix == ".tsv" else ","))
            for row in rows:
                if row.get("papers"):
                    row["papers"] = [p.strip() for p in row["papers"].split(";") if p.strip()]
        else:
            raise InputError(path, "unknown manifest type", hint="use .toml, .json or .csv")
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise InputError(path, f"not a valid {suffix[1:].upper()} manifest ({exc})") from None
    if not isinstance(rows, list) or not rows:
        raise InputError(path, "no recordings listed",
                         hint="TOML: [[recording]] tables; JSON: a list of objects; CSV: a header row with 'audio'")
    items = []
    for n, row in enumerate(rows, start=1):
        where = f"recording {n}"
        if not isinstance(row, dict) or not row.get("audio"):
            raise InputError(path, f"{where}: no 'audio'")
        unknown = {k for k in row if k and k not in _COLUMNS and row[k] not in (None, "")}
        if unknown:
            raise InputError(path, f"{where}: unknown column(s) {', '.join(sorted(unknown))}",
                             hint=f"known: {', '.join(sorted(_COLUMNS))}")
        papers = row.get("papers") or []
        if isinstance(papers, str):
            papers = [papers]
        slug = row.get("episode") or row.get("slug") or None
        items.append(_item(path.parent / row["audio"], slug, row.get("title") or None,
                           path.parent / row["notes"] if row.get("notes") else None,
                           tuple(path.parent / p for p in papers), source=(path, f"{where}: ")))
    return _check_unique(items)


def batch_items(inputs: Sequence[Path], manifest: Path | None) -> list[BatchItem]:
    """The recordings of a ``recap batch`` call: INPUTS or a manifest, not both, not neither."""
    if manifest is not None and inputs:
        raise ConfigError("give either audio files or --manifest, not both")
    if manifest is None and not inputs:
        raise ConfigError("nothing to process: give audio files or --manifest FILE")
    return read_manifest(manifest) if manifest is not None else items_from_paths(inputs)


def items_from_paths(paths: Iterable[Path]) -> list[BatchItem]:
    """Command-line inputs: one recording per file, slug from the file's stem."""
    return _check_unique([_item(Path(p), None, None, None, (), source=(Path(p), "")) for p in paths])


def _item(audio: Path, slug: str | None, title: str | None, notes: Path | None,
          papers: tuple[Path, ...], *, source: tuple[Path, str]) -> BatchItem:
    slug = slug if slug is not None else slugify(audio.stem)
    if not is_id(slug):
        raise InputError(source[0], f"{source[1]}invalid episode slug {slug!r}",
                         hint="use lower-case letters, digits, '.', '-' and '_' only")
    return BatchItem(audio=audio, slug=check_id(slug, "episode slug"), title=title, notes=notes, papers=papers)


def _check_unique(items: list[BatchItem]) -> list[BatchItem]:
    seen: dict[str, BatchItem] = {}
    for it in items:
        if it.slug in seen:
            raise InputError(it.audio, f"episode slug {it.slug!r} is also used by {seen[it.slug].audio}",
                             hint="give each recording its own episode slug in a manifest")
        seen[it.slug] = it
    return items
