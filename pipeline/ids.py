"""Safe ids and slugs: the only strings that become file or URL path segments."""

from __future__ import annotations

import re
import unicodedata

from pipeline.errors import ContentError

_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,119}$")


def slugify(text: str, max_len: int = 80) -> str:
    """'Direct Preference Optimization: Your LM…' -> 'direct-preference-optimization-your-lm'."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()
    text = text[:max_len].rstrip("-")
    return text or "untitled"


def check_id(value: str, what: str = "id") -> str:
    """Return ``value`` if it is a safe id (no '/', '..', NUL, upper case or spaces), else raise."""
    if not isinstance(value, str) or not _ID.match(value) or ".." in value:
        raise ContentError(
            f"invalid {what} {value!r}: use lower-case letters, digits, '.', '-' and '_' only",
        )
    return value


def is_plain_relpath(rel: str) -> bool:
    """A ``/``-separated relative path that cannot leave the folder it is joined to (no absolute
    path, ``..``, ``.``, empty part or backslash): checked on the text, without the file system."""
    return bool(rel) and not rel.startswith("/") and "\\" not in rel and all(
        p not in {"", ".", ".."} for p in rel.split("/"))


def is_id(value: str) -> bool:
    return isinstance(value, str) and bool(_ID.match(value)) and ".." not in value
