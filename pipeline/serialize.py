"""Dataclasses <-> plain data (dicts, lists, str, float, int, bool), in one place.

``to_data`` drops ``None`` and empty collections so stored files stay small and diff-friendly,
turns numpy scalars into Python numbers and rounds times to milliseconds. ``from_data`` rebuilds
nested dataclasses from their type hints and rejects unknown keys with a message naming them, so
a typo in a hand-edited file is reported instead of silently ignored.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from pipeline.errors import InputError

T = TypeVar("T")


def to_data(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {}
        for f in dataclasses.fields(obj):
            value = to_data(getattr(obj, f.name))
            if value is None or value == [] or value == {}:
                continue
            out[f.name] = value
        return out
    if isinstance(obj, dict):
        return {str(k): to_data(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_data(v) for v in obj]
    if isinstance(obj, bool) or obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float) or hasattr(obj, "item"):  # numpy scalars have .item()
        value = obj.item() if hasattr(obj, "item") else obj
        return round(float(value), 3) if isinstance(value, float) else value
    raise TypeError(f"cannot serialise {type(obj).__name__}")


_TOML_ESCAPE = re.compile(r'[\x00-\x08\x0a-\x1f\x7f"\\]')
_TOML_COMPACT = {"\b": "\\b", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _toml_escape(m: re.Match[str]) -> str:
    c = m.group()
    return _TOML_COMPACT.get(c) or f"\\u{ord(c):04x}"


def _toml_scalar(v: Any) -> str | None:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + _TOML_ESCAPE.sub(_toml_escape, v) + '"'
    if isinstance(v, int):
        return str(v)
    return None


def toml_dumps(data: dict[str, Any]) -> str:
    """``tomli_w.dumps(data)``, byte for byte, ~10x faster for the flat records recap writes most (a paper:
    strings, numbers, lists of them): tomli_w escapes strings one character at a time in Python, most of
    importing 3,540 papers. Anything else (tables, floats, arrays of tables) goes to tomli_w."""
    lines = []
    for k, v in data.items():
        if not isinstance(k, str) or not _BARE_KEY.match(k):
            break
        text = _toml_scalar(v)
        if text is None and isinstance(v, list):
            items = [_toml_scalar(x) for x in v]
            if any(t is None for t in items):
                break
            text = "[\n" + ",\n".join(f"    {t}" for t in items) + ",\n]" if items else "[]"
        if text is None:
            break
        lines.append(f"{k} = {text}\n")
    else:
        return "".join(lines)
    import tomli_w

    return tomli_w.dumps(data)


# -- three-way merges of plain data (a person's edits of a generated record) --------------------------

_MISSING = object()


def merge3(base: Any, ours: Any, theirs: Any) -> Any:
    """Three-way merge of plain data: where ``theirs`` (the person's file) differs from ``base``
    (what recap generated last time) the person wins; elsewhere ``ours`` (newly generated) is taken.
    Dicts merge key by key, equal-length lists item by item. A key the person deleted stays deleted."""
    if theirs == base:
        return ours
    if ours == base:
        return theirs
    if isinstance(base, dict) and isinstance(ours, dict) and isinstance(theirs, dict):
        out = {}
        for key in list(ours) + [k for k in theirs if k not in ours]:
            value = merge3(base.get(key, _MISSING), ours.get(key, _MISSING), theirs.get(key, _MISSING))
            if value is not _MISSING:
                out[key] = value
        return out
    if isinstance(base, list) and isinstance(ours, list) and isinstance(theirs, list):
        if len(base) == len(ours) == len(theirs):
            return [merge3(b, o, t) for b, o, t in zip(base, ours, theirs)]
    return theirs


def rebase(base: Any, ours: Any, theirs: Any) -> Any:
    """The next merge base after writing ``merge3(base, ours, theirs)``: ``ours``, except where a stage
    loaded the person's edited value and saved it back (``ours == theirs != base``). There the old base
    stays, so the value keeps counting as the person's edit and a later stage cannot overwrite it."""
    if base is _MISSING or theirs is _MISSING:
        return ours
    if ours == theirs and theirs != base:
        return base
    if isinstance(base, dict) and isinstance(ours, dict) and isinstance(theirs, dict):
        out = {k: rebase(base.get(k, _MISSING), v, theirs.get(k, _MISSING)) for k, v in ours.items()}
        return {k: v for k, v in out.items() if v is not _MISSING}
    if isinstance(base, list) and isinstance(ours, list) and isinstance(theirs, list):
        if len(base) == len(ours) == len(theirs):
            return [rebase(b, o, t) for b, o, t in zip(base, ours, theirs)]
    return ours


class DataError(ValueError):
    """Raised by from_data; the caller adds the file name and turns it into a ContentError."""


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_data(cls: type[T], data: Any, where: str = "") -> T:
    return _convert(cls, data, where or cls.__name__)


def _optional(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)


def _convert(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(args[0], value, where)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise DataError(f"{where}: expected a table, got {type(value).__name__}")
        hints = _hints(tp)
        names = {f.name for f in dataclasses.fields(tp)}
        unknown = sorted(set(value) - names)
        if unknown:
            raise DataError(f"{where}: unknown field(s) {', '.join(unknown)}")
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in value:
                kwargs[f.name] = _convert(hints[f.name], value[f.name], f"{where}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                if not _optional(hints[f.name]):  # to_data drops None: a missing optional is None
                    raise DataError(f"{where}: missing required field {f.name!r}")
                kwargs[f.name] = None
        return tp(**kwargs)
    if origin is list:
        if not isinstance(value, list):
            raise DataError(f"{where}: expected a list, got {type(value).__name__}")
        (item,) = typing.get_args(tp)
        return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise DataError(f"{where}: expected a table, got {type(value).__name__}")
        _, item = typing.get_args(tp)
        return {str(k): _convert(item, v, f"{where}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise DataError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise DataError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise DataError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise DataError(f"{where}: expected text, got {value!r}")
        return value
    raise DataError(f"{where}: unsupported type {tp!r}")


# -- untrusted input files -------------------------------------------------------------------------
def read_input_text(path: Path, kind: str, *, normalize_newlines: bool = True) -> str:
    """The text of an input file (transcript, show notes, paper list) as UTF-8, or an
    :class:`InputError` naming the file: unreadable, empty, binary ("binary file, not <kind>") or not
    UTF-8. A BOM is dropped; CRLF and CR become LF unless ``normalize_newlines`` is false."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror or exc})") from exc
    if not raw.strip():
        raise InputError(path, "file is empty")
    if b"\x00" in raw[:8192]:
        raise InputError(path, f"binary file, not {kind}")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(path, "not UTF-8 text (binary file?)", hint="save it as UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n") if normalize_newlines else text


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def check_plain(data: Any) -> Any:
    """Raise ValueError when parsed data holds what cannot be stored back as UTF-8 JSON/TOML:
    lone surrogates (from ``\\ud800`` escapes) or non-finite floats. Returns ``data``."""
    stack, seen = [data], set()
    while stack:
        item = stack.pop()
        if isinstance(item, (dict, list, tuple)):
            if id(item) in seen:  # YAML anchors can make a structure refer to itself
                raise ValueError("a structure that contains itself")
            seen.add(id(item))
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"invalid Unicode (a lone surrogate) in {item[:40]!r}") from None
        elif isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"number {item} is out of range")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return data


def loads_json(text: str) -> Any:
    """``json.loads`` for untrusted files: every problem (NaN/Infinity, numbers out of range, lone
    surrogates, nesting too deep) is a ValueError, and what it returns can be written back."""
    try:
        data = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    return check_plain(data)
