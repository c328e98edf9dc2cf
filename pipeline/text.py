"""Text as recap compares it, in one place: folding, words, stems, stop words and BM25.

Every stage that compares words uses these (titles in the catalog, chapter titles against papers,
transcripts against abstracts, summaries against what was said, the search index). The search index's
tokenizer (:func:`fold`, :data:`WORD`, :func:`plural_stem`, :data:`STOP_WORDS`) is mirrored in the
browser by ``templates/static/search.js``; ``tests/test_search.py`` checks both give the same terms.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence

WORD = re.compile(r"[^\W_]+")
"""A word: a run of letters and digits of any script (no underscores, apostrophes or hyphens)."""


class _Marks(dict[int, int | None]):
    """A ``str.translate`` table that drops combining marks (Unicode category M), filled in as characters
    are met: C-speed for characters seen before, and no scan of all of Unicode up front (building a full
    table took 90 ms of every build that met one accent)."""

    def __missing__(self, code: int) -> int | None:
        value = None if unicodedata.category(chr(code)).startswith("M") else code
        self[code] = value
        return value


_MARKS = _Marks()


def strip_marks(text: str) -> str:
    """``text`` without combining marks (as the browser's ``replace(/\\p{M}/gu, "")``)."""
    return text.translate(_MARKS)


def fold(text: str) -> str:
    """Lower case, accents removed ("Fréchet" -> "frechet"); other scripts kept."""
    if not text.isascii():
        text = strip_marks(unicodedata.normalize("NFKD", text))
    return text.lower()


def ascii_fold(text: str) -> str:
    """Lower-case ASCII: accents removed, anything else outside ASCII dropped (names, titles to compare)."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


def words(text: str) -> list[str]:
    """The words of ``text``, folded."""
    return WORD.findall(fold(text))


@functools.lru_cache(maxsize=1 << 17)
def plural_stem(word: str) -> str:
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


def root(word: str, length: int = 6) -> str:
    """A crude root for loose matching ("trained", "training", "trains" -> "train"): a common ending
    removed when four letters remain, then at most ``length`` letters. For checking that a paraphrase
    rests on what was said, never for display."""
    w = word.lower().replace("’", "'")
    for suffix in ("'s", "ies", "es", "s", "ing", "ed"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            w = w[: -len(suffix)]
            break
    return w[:length]


STOP_WORDS = frozenset("""a an and are as at be but by can could did do does for from had has have he her his how i
if in into is it its me my no not of on or our she so than that the their them then there these they this those to
us was we were what when where which who why will with would you your um uh""".split())
"""English function words: what the search index leaves out, and the base of every other stop list."""

TITLE_STOP = frozenset("a an the of for and in on with to via by is are be from".split())
"""The glue words of titles, which do not count as a title's content words."""


def norm_title(title: str) -> str:
    """Comparable form of a title: ASCII, lower case, no punctuation, plural endings removed."""
    return " ".join(plural_stem(w) for w in re.findall(r"[a-z0-9]+", ascii_fold(title)))


def bm25(query: Iterable[str], postings: Mapping[str, Sequence[tuple[int, int]]], lengths: Sequence[int], *,
         k1: float = 1.4, b: float = 0.75, max_query_tf: int = 3) -> dict[int, float]:
    """Okapi BM25 of every document sharing a term with ``query`` (a list of terms; repeats count, up to
    ``max_query_tf``). ``postings``: term -> (document number, term frequency); ``lengths``: terms per
    document. The site's search (``templates/static/search.js``) ranks with the same formula in the browser."""
    n = len(lengths)
    avg = (sum(lengths) / n) if n else 1.0
    counts: dict[str, int] = {}
    for t in query:
        counts[t] = counts.get(t, 0) + 1
    scores: dict[int, float] = {}
    for t, qf in counts.items():
        plist = postings.get(t)
        if not plist:
            continue
        idf = math.log(1.0 + (n - len(plist) + 0.5) / (len(plist) + 0.5))
        for i, tf in plist:
            denom = tf + k1 * (1 - b + b * lengths[i] / avg)
            scores[i] = scores.get(i, 0.0) + idf * tf * (k1 + 1) / denom * min(qf, max_query_tf)
    return scores
