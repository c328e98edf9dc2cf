"""The search tokenizer: the terms the index stores and a query is split into, from :mod:`pipeline.text`
(words folded: NFKD without combining marks, lower case, runs of letters and digits; stop words dropped;
for English, plural endings removed with Harman's S-stemmer).

It is defined twice, here and in ``templates/static/search.js``, and both must agree:
``tests/test_search.py`` runs both on the same words. The index records the settings it was built with
(stemmer, stop words: :meth:`Tokenizer.stop`) in ``meta.json``, which the browser reads.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.text import STOP_WORDS, plural_stem, words


@dataclass(frozen=True)
class Tokenizer:
    """The terms of a text in ``language``: stemmed for English, stop words dropped."""

    language: str = "en"

    @property
    def stem(self) -> str:
        """The stemmer: "en", or "" (none) for any other language."""
        return "en" if self.language.lower().startswith("en") else ""

    @property
    def stop(self) -> list[str]:
        """The stop words, sorted (as ``meta.json`` lists them): English ones only for English."""
        return sorted(STOP_WORDS) if self.stem == "en" else []

    def terms(self, text: str) -> list[str]:
        if self.stem != "en":
            return words(text)
        return [plural_stem(w) for w in words(text) if w not in STOP_WORDS]
