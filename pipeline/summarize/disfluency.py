"""Spoken disfluencies out of a transcript sentence, without changing what it says.

:func:`clean_disfluencies` only ever *removes* words (so a cleaned sentence stays grounded in what was
said) and fixes the capitalisation and punctuation around the cut:

* filled pauses: "um", "uh", "er", "erm", "ah", "hmm", "mm";
* fillers when they stand apart from the sentence: "you know", "I mean", "like", "kind of like" set off
  by commas, or opening the sentence ("Like, this is ..."); "like" as a verb or preposition ("we like
  it", "models like GPT-4") is kept because it is not set off by commas;
* opening discourse markers: "So", "And", "And so", "Yeah", "Okay", "Well", "Right", "Now", "Basically";
* the hedges "sort of" and "kind of" (not the nouns: "a kind of model", "what sort of data");
* repeated words and short repeated phrases: "the the", "I think I think", "it's, it's";
* false starts marked by whisper with a dash ("we were-- we are"): the abandoned words go when they are
  short and the speaker restarts.
"""

from __future__ import annotations

import re

_FILLED = r"(?:uh-huh|mm-hmm|u+m+|u+h+|e+r+m*|a+h+|h+m+|m+h?m+)"
# a filled pause left anywhere (after the comma-bounded ones are gone), with its comma
_FILLED_RE = re.compile(rf",?\s*\b{_FILLED}\b(?P<b>[,.]?)\s*", re.I)
# fillers set off by commas in the middle, alone or in a chain: ", you know," ", uh, like,"
_FILLER = rf"(?:you know|i mean|kind of like|sort of like|like|you see|{_FILLED})"
_MID_FILLER = re.compile(rf",\s*(?:{_FILLER}\s*,\s*)*{_FILLER}\s*(?P<b>,|(?=[.?!]))", re.I)
# the same at the start of a sentence: "You know, ..." "I mean, ..." "Like, ..." "Um, so ..."
# (words that can also start a real clause, "Like GPT-4, ...", "You know the answer", count only with a comma)
_LEAD_FILLER = re.compile(rf"^(?:(?:so|and so|and|yeah|yes|okay|ok|now|basically|actually|anyway|alright|all right|"
                          rf"oh|{_FILLED})\s*,?\s+|(?:you know|i mean|like|well|right)\s*,\s*)+", re.I)
# "you know," / "I mean," before a comma, after a word that does not make them literal ("what I mean,")
_COMMA_FILLER = re.compile(r"(?<!\bwhat )(?<!\bif )(?<!\bdo )(?<!\bdid )(?<!\bas )\b(?:you know|i mean),\s*", re.I)
# hedges "sort of" / "kind of", unless a determiner makes them nouns ("a kind of model", "what sort of data")
_HEDGE = re.compile(r"(?<!\ba )(?<!\ban )(?<!\bthe )(?<!\bthis )(?<!\bthat )(?<!\bwhat )(?<!\bwhich )(?<!\bsome )"
                    r"(?<!\bany )(?<!\bsame )(?<!\bone )(?<!\bthese )(?<!\bthose )(?<!\bevery )(?<!\beach )"
                    r"(?<!\bdifferent )\b(?:sort|kind) of\s+(?!a\b|an\b|the\b)", re.I)
# "the the", "it's, it's", "I think I think" (up to three words repeated right after themselves)
_REPEAT = re.compile(r"\b((?:[A-Za-z'’]+\s+){0,2}[A-Za-z'’]+)(?:[,\s]+\1\b)+", re.I)
# a false start: a few words cut off with "--" or "-" before a restart
_FALSE_START = re.compile(r"(?:^|(?<=[,.;:]\s))(?:[\w'’]+\s+){0,3}[\w'’]+\s*(?:--|—|–)\s+", re.I)


def clean_disfluencies(text: str) -> str:
    """Return ``text`` with spoken disfluencies removed (see the module docstring)."""
    s = " ".join(text.split())
    if not s:
        return s
    s = _FALSE_START.sub("", s)
    for _ in range(3):  # fillers can hide repetitions and the other way round
        before = s
        s = _LEAD_FILLER.sub("", s)
        s = _MID_FILLER.sub(lambda m: " " if m.group("b") else "", s)
        s = _FILLED_RE.sub(lambda m: ". " if m.group("b") == "." else " ", s)
        s = _COMMA_FILLER.sub("", s)
        s = _HEDGE.sub("", s)
        s = _REPEAT.sub(r"\1", s)
        if s == before:
            break
    s = re.sub(r"\s+([,.;:?!])", r"\1", s)
    s = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", s)  # ", ," left by a cut
    s = re.sub(r"^[,;:.\s]+", "", s)
    s = re.sub(r",\s*([.?!])$", r"\1", s)
    s = " ".join(s.split())
    if s and s[0].islower():
        s = s[0].upper() + s[1:]
    return s

