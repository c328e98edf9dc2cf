"""One spelling per person when the sources disagree ("Luca Soldani" in a chapter heading, "Luca Soldaini"
in the description, the title and the catalog).

Every source an episode has writes a person's name its own way: the notes' body text (the description),
the notes' chapter headings, the episode's title, the catalog's author lists, the transcript (the ASR
spells by ear). :func:`preferred_spelling` lets each source vote once for the spelling it writes most
(a bold name counts twice), weighted by how much it is to be trusted on spelling: body text and author
lists (written with care, at length) over a heading or a title (one short line, written fast) over the
ASR. A name is replaced only by a spelling with more support that some written source gives (the
ASR alone never respells a name): "Luca Soldani" from a heading alone loses
to the description's "Luca Soldaini"; the notes' "swyx" still beats the ASR's "Swix", which alone never
outweighs any written source.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from pipeline.models import Person
from pipeline.text import STOP_WORDS, ascii_fold

WEIGHTS = {"body": 2.0, "catalog": 2.0, "title": 1.0, "heading": 1.0, "asr": 0.5}
"""How much each kind of source is trusted on how a name is spelt."""

_UP = r"[A-Z][a-zA-Z'’\-]+"


@dataclass(frozen=True)
class Source:
    kind: str  # a key of WEIGHTS
    text: str = ""  # running text (body, headings one per line, title, transcript)
    names: tuple[str, ...] = ()  # or a list of names as written (catalog authors)


def _sound(word: str) -> str:
    w = re.sub(r"[^a-z]", "", ascii_fold(word)).replace("y", "i").replace("ph", "f").replace("ck", "k")
    return re.sub(r"(.)\1+", r"\1", w)


def variant(a: str, b: str) -> bool:
    """Are ``a`` and ``b`` two spellings of one person's name? Two or more words: the same first name
    (ASCII-folded) and a surname at most two edits apart ("Soldani" ~ "Soldaini", "Schaefer" ~
    "Schaeffer"); one word: the same sound (y and i, ph and f, doubled letters: "Swix" ~ "swyx")."""
    from rapidfuzz.distance import Levenshtein

    wa, wb = ascii_fold(a).split(), ascii_fold(b).split()
    if not wa or len(wa) != len(wb):
        return False
    if len(wa) == 1:
        return len(wa[0]) >= 3 and _sound(wa[0]) == _sound(wb[0])
    if wa[:-1] != wb[:-1]:
        return False
    sa, sb = wa[-1], wb[-1]
    return min(len(sa), len(sb)) >= 3 and Levenshtein.distance(sa, sb) <= min(2, max(1, len(sa) // 4))


@lru_cache(maxsize=8)
def _words(text: str) -> Counter[str]:
    return Counter(re.findall(r"\b[A-Za-z][A-Za-z'-]{2,}\b", text))


def spellings_in(source: Source, name: str) -> Counter[str]:
    """How often ``source`` writes ``name`` or a spelling of it (a name in bold twice)."""
    out: Counter[str] = Counter()
    words = name.split()
    if not words:
        return out
    if source.names:
        for n in dict.fromkeys(source.names):
            if n == name or variant(n, name):
                out[n] += 1
        return out
    if len(words) == 1:  # a handle: any word that sounds the same ("swyx" for "Swix")
        key = _sound(name)
        for w, k in _words(source.text).items():
            if len(w) >= 3 and w.lower() not in STOP_WORDS and _sound(w) == key:
                out[w] += k
        return out
    first = re.escape(words[0])
    pattern = re.compile(rf"(\*\*\s*)?\b({first}(?:\s+{_UP}){{{len(words) - 1}}})\b")
    for m in pattern.finditer(source.text):
        n = " ".join(m.group(2).split())
        if n.lower() in STOP_WORDS or not (n == name or variant(n, name)):
            continue
        out[n] += 2 if m.group(1) else 1
    return out


def preferred_spelling(name: str, sources: list[Source]) -> str:
    """The spelling of ``name`` with the most support among ``sources`` (see the module docstring):
    each source votes for the spelling it writes most (a tie splits its vote), weighted by its kind;
    ``name`` is kept unless another spelling has strictly more support."""
    votes: dict[str, float] = {}
    written: set[str] = set()  # spellings some written source (not the ASR) gives
    for src in sources:
        seen = spellings_in(src, name)
        if not seen:
            continue
        top = max(seen.values())
        best = [n for n, c in seen.items() if c == top]
        for n in best:
            votes[n] = votes.get(n, 0.0) + WEIGHTS[src.kind] / len(best)
            if src.kind != "asr":
                written.add(n)
    # the ASR alone never respells a name: it came from a written source or from a resolution against one
    votes = {n: v for n, v in votes.items() if n in written or n == name}
    if not votes:
        return name
    winner = max(votes, key=lambda n: (votes[n], n == name))
    return winner if votes[winner] > votes.get(name, 0.0) else name


def respell(people: dict[str, Person], ids: Iterable[str], sources: list[Source]) -> list[str]:
    """Give each person of ``ids`` the spelling :func:`preferred_spelling` finds (in place; the spelling
    replaced becomes an alias, so a later episode's "Luca Soldani" still finds them). Returns notes."""
    notes = []
    for pid in dict.fromkeys(ids):
        p = people.get(pid)
        if p is None:
            continue
        best = preferred_spelling(p.name, sources)
        if best != p.name:
            notes.append(f"{p.name!r} spelt {best!r}, as more of the episode's sources write it")
            if p.name not in p.aliases:
                p.aliases.append(p.name)
            p.name = best
    return notes
