"""The search tokenizer: Unicode NFKD without combining marks, lower case, runs of letters and digits,
stop words dropped, and (for English) plural endings removed (Harman's S-stemmer).

It is defined twice, here and in ``templates/static/search.js``, and both must agree:
``tests/test_search.py`` runs both on the same words. The index records the settings (stemmer, stop
words) it was built with (:mod:`pipeline.site.search`).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

STOP_WORDS = {
    "en": sorted("""a an and are as at be but by can could did do does for from had has have he her his how i if
    in into is it its me my no not of on or our she so than that the their them then there these they this those
    to us was we were what when where which who why will with would you your um uh""".split()),
}

_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Tokenizer:
    """The terms of a text in ``language``: stemmed for English, stop words dropped."""

    language: str = "en"

    @property
    def stem(self) -> str:
        return "en" if self.language.lower().startswith("en") else ""

    @property
    def stop(self) -> list[str]:
        return STOP_WORDS.get(self.stem, [])

    def terms(self, text: str) -> list[str]:
        if not text.isascii():
            text = strip_marks(unicodedata.normalize("NFKD", text))
        stop = _stop_set(self.stem)
        words = [w for w in _WORD.findall(text.lower()) if w not in stop]
        return [s_stem(w) for w in words] if self.stem == "en" else words


class _Marks(dict):
    """A ``str.translate`` table that drops combining marks (Unicode category M), filled in as
    characters are met: C-speed for characters seen before, and no scan of all of Unicode up front
    (building a full table took 90 ms of every build that met one accent)."""

    def __missing__(self, code: int) -> int | None:
        value = None if unicodedata.category(chr(code)).startswith("M") else code
        self[code] = value
        return value


_MARKS = _Marks()


def strip_marks(text: str) -> str:
    """``text`` without combining marks (as the browser's ``replace(/\\p{M}/gu, "")``)."""
    return text.translate(_MARKS)


def _stop_set(stem: str, _cache: dict = {}) -> frozenset:  # noqa: B006 - a per-process cache
    if stem not in _cache:
        _cache[stem] = frozenset(STOP_WORDS.get(stem, []))
    return _cache[stem]


@functools.lru_cache(maxsize=1 << 17)
def s_stem(word: str) -> str:
    """Harman's S-stemmer (plural endings only: conservative, and easy to mirror in JavaScript)."""
    if len(word) < 4 or not word.isalpha():
        return word
    if word.endswith("ies") and not word.endswith(("eies", "aies")):
        return word[:-3] + "y"
    if word.endswith("es") and not word.endswith(("aes", "ees", "oes")):
        return word[:-1]
    if word.endswith("s") and not word.endswith(("us", "ss")):
        return word[:-1]
    return word
