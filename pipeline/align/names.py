"""People an episode's description names, and what it says about them: evidence for speaker names.

Show notes and video descriptions introduce their speakers ("We were honored to host **Luca Soldaini**,
one of the research leads ... at AI2", "with Dan Fu of Together AI", "a podcast by swyx + Alessio").
:func:`described_people` reads them into :class:`Described` records (name, how often and how prominently
it is written, affiliations); near-identical spellings of one person are merged, the spelling written most
(a name set in bold or as a heading counts twice) wins. Alignment resolves a self-introduction's first
name against them ("I'm Luca" -> Luca Soldaini), names a presenter by their affiliation when the opening of
their talk says it ("to talk to you about Mistral"), and prefers the notes' spelling of a spoken handle to
the ASR's (:func:`spelled_as`: "Swix" -> "swyx").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pipeline.models import Utterance
from pipeline.text import STOP_WORDS, ascii_fold

_UP = r"[A-Z][a-zA-Z'’\-]+"
_PERSON = rf"(?:Dr\.?\s+|Prof\.?\s+)?(?P<name>{_UP}(?:\s+{_UP}){{1,2}})"
_ORG = r"(?:the )?(?P<org>[A-Z][\w&'-]*(?: (?:for |of )?[A-Z][\w&'-]*){0,4})"
_NAME = re.compile(rf"(?P<bold>\*\*\s*|__\s*)?{_PERSON}(?(bold)\s*(?:\*\*|__))")
_AFFIL = re.compile(rf"^\s*(?:\([^()]{{0,60}}\)\s*)?,?\s*(?P<filler>[^.!?\n*()\[\]]{{0,80}}?\s)??(?:of|at|from) {_ORG}")
_AND = re.compile(rf"^\s*(?:,|and|&)\s*(?:\*\*\s*)?{_PERSON}")
# "Luca Soldaini (AI2)", "Sophia Yang (Mistral)": an organisation in brackets right after the name
_PAREN = re.compile(r"^\s*\(\s*(?P<org>[A-Z0-9][\w&.'’-]*(?: [A-Z0-9&][\w&.'’-]*){0,4})\s*\)")
# "Dan Fu, Together AI", "Isaac Robinson, Roboflow": an organisation after a comma, ending the clause
_COMMA = re.compile(rf"^\s*,\s*{_ORG}(?=\s*(?:$|[;|)\]–—,:]|\.(?:\s|$)|\s-\s|\s(?:and|then|on|with)\b))")
_ORG_WORDS = frozenset("ai lab labs inc research university institute foundation group corp company college school "
                       "center centre technologies studio".split())
# capitalised runs that are no person: sentence openers, places and common title words
_NOT_FIRST = STOP_WORDS | frozenset(
    "full our next keynote talk open models state best recap welcome please like subscribe happy notable "
    "podcast episode timestamps papers covered show notes live".split())


@dataclass
class Described:
    name: str
    weight: float = 0.0  # how often and how prominently the description writes it
    orgs: list[str] = field(default_factory=list)
    spellings: dict[str, float] = field(default_factory=dict)
    order: int = -1  # the position among the people the episode's title names (-1: not in the title)


def _person_like(name: str) -> bool:
    ws = name.split()
    return (len(ws) >= 2 and ws[0].lower() not in _NOT_FIRST and ws[-1].lower() not in _NOT_FIRST
            and not any(re.search(r"['’]s$", w) for w in ws)
            # "Together AI", "Allen Institute": an acronym or an organisation word is no person's name
            and not any((w.isupper() and len(w) >= 2) or w.lower() in _ORG_WORDS for w in ws))


def _same(a: str, b: str) -> bool:
    from rapidfuzz import fuzz

    fa, fb = ascii_fold(a), ascii_fold(b)
    return fa.split()[0] == fb.split()[0] and fuzz.ratio(fa, fb) >= 85


def _org_like(org: str) -> bool:
    """An organisation after a comma: one word ("Roboflow"), or one with an acronym or an organisation word
    ("Together AI", "Allen Institute"); not a second person's name ("Dan Fu, Tri Dao")."""
    ws = org.split()
    return len(ws) == 1 or any(w.isupper() or w.lower() in _ORG_WORDS for w in ws)


def _affiliation(rest: str) -> str | None:
    """The organisation written right after a name: "(AI2)", ", Together AI"."""
    m = _PAREN.match(rest)
    if m is not None and not m.group("org").isdigit():
        return m.group("org")
    m = _COMMA.match(rest)
    if m is not None and _org_like(m.group("org")):
        return m.group("org")
    return None


def episode_people(title: str, description: str) -> list[Described]:
    """The people an episode's title and description name: those of the title first, in the title's order
    ("keynote by Luca Soldaini (AI2), then Sophia Yang (Mistral)"), with their :attr:`Described.order`."""
    people = described_people(title)
    for k, d in enumerate(people):
        d.order = k
    for d in described_people(description):
        same = next((x for x in people if _same(x.name, d.name)), None)
        if same is None:
            people.append(d)
            continue
        same.weight += d.weight
        same.orgs += [o for o in d.orgs if o not in same.orgs]
        for name, w in d.spellings.items():
            same.spellings[name] = same.spellings.get(name, 0.0) + w
        same.name = max(same.spellings, key=lambda s: (same.spellings[s], len(s)))
    return people


def described_people(text: str) -> list[Described]:
    """The people ``text`` names (two or three capitalised words, optionally in bold), with their
    affiliations ("NAME of ORG", "NAME, head of devrel at ORG", "A and B of ORG", "NAME (ORG)",
    "NAME, ORG")."""
    found: list[Described] = []

    def add(name: str, weight: float, org: str | None) -> None:
        name = " ".join(name.split())
        if not _person_like(name):
            return
        d = next((d for d in found if _same(d.name, name)), None)
        if d is None:
            d = Described(name)
            found.append(d)
        d.weight += weight
        d.spellings[name] = d.spellings.get(name, 0.0) + weight
        if org and org not in d.orgs:
            d.orgs.append(org)

    for m in _NAME.finditer(text):
        weight = 2.0 if m.group("bold") else 1.0
        names = [m.group("name")]
        rest = text[m.end():]
        # "Luca Soldani and Nathan Lambert of ..." (", Together AI" is an organisation, not a second person)
        while (a := _AND.match(rest)) is not None and _person_like(a.group("name")):
            names.append(a.group("name"))
            rest = rest[a.end():]
        am = _AFFIL.match(rest)
        filler = (am.group("filler") or "") if am else ""
        # "... joined us, with a special appearance from Dr. Sophia Yang of Mistral": not his affiliation
        if am and (re.search(r"\b(?:with|from|and|by)\b", filler) or any(
                _person_like(x.group("name")) for x in _NAME.finditer(filler))):
            am = None
        org = am.group("org").strip() if am else _affiliation(rest)
        if org is None and not m.group("bold"):
            continue  # a capitalised run with nothing saying it is a person
        for n in names:
            add(n, weight, org)
    for d in found:
        # the spelling written most (and most prominently); a tie goes to the longer one
        d.name = max(d.spellings, key=lambda s: (d.spellings[s], len(s)))
    return found


def _sound(word: str) -> str:
    w = ascii_fold(word)
    w = re.sub(r"[^a-z]", "", w).replace("y", "i").replace("ph", "f").replace("ck", "k")
    return re.sub(r"(.)\1+", r"\1", w)


def spelled_as(spoken: str, text: str) -> str | None:
    """How ``text`` (show notes) spells a one-word name the ASR wrote ``spoken``: a word of ``text``
    that sounds the same (y and i, ph and f, doubled letters) and is no common word: "Swix" -> "swyx"."""
    if len(spoken.split()) != 1 or len(spoken) < 3:
        return None
    key = _sound(spoken)
    hits = {w for w in re.findall(r"[A-Za-z][A-Za-z'-]{2,}", text)
            if _sound(w) == key and w.lower() not in STOP_WORDS}
    exact = [w for w in hits if w == spoken]
    if exact:
        return exact[0]
    return next(iter(hits)) if len(hits) == 1 else None


def by_affiliation(opening: str, people: list[Described], exclude: list[str],
                   named: list[str] | None = None) -> Described | None:
    """The one described person whose affiliation a sentence of the opening of a talk names in the first
    person ("I'm super excited to be here to talk to you guys about Mistral", "we're from Roboflow"), none of
    ``exclude``. ``named``: the people named in the chapters before; each is named by affiliation once at
    most, and a person the title lists before one of them is not named after them (the title's order)."""
    done = [d for d in people if any(_same(d.name, n) for n in named or [])]
    last = max((d.order for d in done), default=-1)
    pool = [d for d in people if d.name not in exclude and d not in done and (d.order < 0 or d.order > last)]
    hits: list[Described] = []
    for sentence in re.split(r"(?<=[.!?])\s+", opening):
        if not re.search(r"\b(?:I|I'm|I am|[Ww]e|[Ww]e're|[Ww]e are|[Oo]ur|[Uu]s)\b", sentence):
            continue
        low = ascii_fold(sentence)
        hits += [d for d in pool if d not in hits and any(
            len(o) >= 3 and re.search(rf"\b{re.escape(ascii_fold(o))}\b", low) for o in d.orgs)]
    return hits[0] if len(hits) == 1 else None


def by_label_affiliation(utts: list[Utterance], people: list[Described], named: dict[str, str], *,
                         opening: float = 40.0, min_speech: float = 60.0) -> dict[str, Described]:
    """Speaker labels (diarized voices, transcript turns) that nothing else named (``named``: label ->
    person name), taken in the order they first speak: the one described person whose organisation the
    label's first ``opening`` seconds of speech name in the first person (:func:`by_affiliation`: once per
    person, in the title's order). A label with under ``min_speech`` seconds of speech in all (an audience
    question: "we at Google wondered ...") is named by nobody."""
    first: dict[str, int] = {}
    total: dict[str, float] = {}
    for i, u in enumerate(utts):
        if u.speaker:
            first.setdefault(u.speaker, i)
            total[u.speaker] = total.get(u.speaker, 0.0) + max(0.0, u.end - u.start)
    out: dict[str, Described] = {}
    done: list[str] = []
    for label in sorted(first, key=first.__getitem__):
        if label in named:
            done.append(named[label])
            continue
        if total[label] < min_speech:
            continue
        said, secs = [], 0.0
        for u in utts[first[label]:]:
            if u.speaker == label:
                said.append(u.text.strip())
                secs += max(0.0, u.end - u.start)
                if secs >= opening:
                    break
        d = by_affiliation(" ".join(said), people, [], done)
        if d is not None:
            out[label] = d
            done.append(d.name)
    return out


_NEW_SPEAKER = re.compile(
    r"\b(?:(?:excited|happy|glad|thrilled|honou?red|delighted) to be here|thanks? (?:you )?(?:so much )?for having me|"
    r"my name is|hi,? everyone|hello,? everyone|good (?:morning|afternoon|evening),? everyone)\b", re.I)


def new_speaker(opening: str) -> bool:
    """Does a stretch open the way a new speaker does ("I'm super excited to be here", "thanks for having me")?"""
    return bool(_NEW_SPEAKER.search(opening))


def _among(name: str, ids: list[str]) -> bool:
    """Is the self-introduced ``name`` ("Sheila", "Samir Gadre") one of the people ``ids`` ("sheila")?"""
    from pipeline.ids import slugify

    slug = slugify(name)
    first = slug.split("-")[0]
    return any(i == slug or i == first or i.startswith(first + "-") for i in ids)


def split_labels(utts: list[Utterance], chapter_starts: list[int], fresh: list[bool] | None = None,
                 present: list[list[str]] | None = None) -> tuple[list[Utterance], int]:
    """One person per speaker label within a chapter, and a new presenter never under the label of the
    chapter before: where a chapter's opening has a self-introduction ("My name is Samir") spoken under a
    label that also speaks in the chapter before (turn labels run on when the transcript marks no change;
    diarization merges voices), that label is split from there on (``T124`` -> ``T124-7``).
    ``chapter_starts``: each chapter's first utterance index; ``fresh``: chapters whose notes name presenters
    other than the chapter before's (the label speaking first there is split too); ``present``: each
    chapter's speakers (person ids) as the notes give them: who introduces themselves in a chapter after
    speaking in the one before, as the notes say they did (two callers, a panel), keeps their label.
    Returns (utterances, labels split)."""
    from dataclasses import replace

    from pipeline.align.chapters import self_intro_names

    out = list(utts)
    split = 0
    for k in range(1, len(chapter_starts)):
        lo, prev = chapter_starts[k], chapter_starts[k - 1]
        hi = chapter_starts[k + 1] if k + 1 < len(chapter_starts) else len(out)
        if lo >= len(out):
            continue
        t_end = out[lo].start + 45.0
        for i in range(lo, hi):
            if out[i].start > t_end:
                break
            label = out[i].speaker
            intro = self_intro_names(out[i].text)
            if not label or not (intro or (fresh and fresh[k] and i == lo)):
                continue
            if intro and present and any(_among(n, present[k - 1]) for n in intro):
                break  # a speaker of the chapter before, as the notes say: the same person, not a new one
            if not any(out[j].speaker == label for j in range(prev, lo)):
                break  # a label of its own: nothing to split
            new = f"{label}-{k}"
            for j in range(lo, len(out)):
                if out[j].speaker == label:
                    out[j] = replace(out[j], speaker=new)
            split += 1
            break
    return out, split
