"""Speaker names: from self-introductions, the host's hand-overs, show notes and the catalog's authors.

ASR spells names by ear ("Ryland Schaefer", "Detmers", "Raphael"); :func:`resolve_name` maps a spoken
name to the spelling of a known person (an existing Person, a show-notes speaker, an author of the
chapter's paper, any catalog author) with a phonetic-ish comparison, and keeps the spoken form when
nobody matches. People are reused across episodes by name and aliases.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from pipeline.ids import slugify
from pipeline.models import Person
from pipeline.text import ascii_fold


def _fold(name: str) -> str:
    """Lower-case ASCII with spelling variants folded: ph->f, doubled letters, "et al." dropped."""
    text = ascii_fold(name)
    text = re.sub(r"\bet al\.?", "", text)
    text = re.sub(r"[^a-z ]+", " ", text)
    text = text.replace("ph", "f").replace("ck", "k").replace("ae", "a")
    text = re.sub(r"(.)\1+", r"\1", text)
    return " ".join(text.split())


def same_person(spoken: str, full: str, *, threshold: float = 84.0, strict: bool = False) -> bool:
    """Is the spoken name (one or more words, misspelt by ASR) the person called ``full``?

    Two or more words: the whole names are close ("Ryland Schaefer" ~ "Rylan Schaeffer"), or the
    spoken words are a first name heard as two ("Hao Tian" ~ "Haotian Liu"). One word: it is the first
    name or the surname ("Niklas", "Raphael" ~ "Rafael", "Schaefer"). ``strict``: whole names only,
    for pools as large as every author of a catalog, where a first name alone finds strangers."""
    from rapidfuzz import fuzz

    s, f = _fold(spoken), _fold(full)
    if not s or not f:
        return False
    sw, fw = s.split(), f.split()
    if strict:
        return len(sw) >= 2 and fuzz.ratio(s, f) >= threshold
    if len(sw) >= 2:
        if fuzz.ratio(s, f) >= threshold:
            return True
        # "Hao Tian" ~ "Haotian Liu"; "Tim Detmers" ~ "Tim Dettmers"
        return len(fw) >= 2 and (s.replace(" ", "") == fw[0] or (
            fuzz.ratio(sw[0], fw[0]) >= 90 and fuzz.ratio(sw[-1], fw[-1]) >= threshold))
    word = sw[0]
    if len(word) < 3:
        return False
    # a first name must be the same after folding ("Samir" is not "Samira"); a surname may differ a little
    return word == fw[0] or (len(fw) >= 2 and len(word) >= 4 and fuzz.ratio(word, fw[-1]) >= 88)


def sounds_like(spoken: str, full: str) -> bool:
    """A looser :func:`same_person`, for the few names the show notes give for one chapter: the spoken
    name run together sounds like the first name or the whole name ("Shen Yu" ~ "Shunyu Yao"). Only
    for a pool that small: against every author of a catalog it would find strangers."""
    from rapidfuzz import fuzz

    s, f = _fold(spoken).replace(" ", ""), _fold(full)
    if len(s) < 4 or not f:
        return False
    return fuzz.ratio(s, f.split()[0]) >= 80 or fuzz.ratio(s, f.replace(" ", "")) >= 80


def resolve_name(spoken: str, *pools: Iterable[str], strict: bool = False) -> str | None:
    """The first known full name in ``pools`` (searched in order, most specific first) that the
    spoken name refers to; None when there is none or a pool holds several matching names."""
    for pool in pools:
        hits = list(dict.fromkeys(n for n in pool if same_person(spoken, n, strict=strict)))
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            exact = [h for h in hits if _fold(h) == _fold(spoken)]
            if len(exact) == 1:
                return exact[0]
            return None
    return None


def find_person(people: dict[str, Person], name: str) -> Person | None:
    """An existing person called ``name`` (by name or alias, spelling-folded)."""
    key = _fold(name)
    for p in people.values():
        if _fold(p.name) == key or any(_fold(a) == key for a in p.aliases):
            return p
    return None


def person_for(people: dict[str, Person], name: str, *, spoken: str | None = None, host: bool = False) -> Person:
    """Get or create the Person called ``name`` in ``people`` (updated in place); a different spoken
    spelling becomes an alias, so a later episode's ASR finds the same person."""
    # a full spoken name a person recorded as an alias finds them; a lone first name is too vague
    p = find_person(people, name) or (find_person(people, spoken) if spoken and len(spoken.split()) >= 2 else None)
    if p is None:
        pid = slugify(name)
        base, k = pid, 2
        while pid in people and _fold(people[pid].name) != _fold(name):
            pid, k = f"{base}-{k}", k + 1
        p = people.setdefault(pid, Person(id=pid, name=name))
    if spoken and _fold(spoken) != _fold(p.name) and spoken not in p.aliases and len(spoken.split()) >= 2:
        p.aliases.append(spoken)
    if host:
        p.host = True
    return p
