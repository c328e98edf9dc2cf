"""Chapter boundaries: found from the transcript alone, or taken from show notes and reconciled with it.

A recap episode is a chain of hand-overs: a host talks about a paper, hands over ("here's Jeff Dean
and Greg Corrado", "let's check out ...", "here's a bit of our chat"), and an author starts, usually
with a self-introduction ("Hi, I'm Niklas, and I'm presenting ..."). A chapter starts where the
author starts. :func:`find_boundaries` scores every utterance as a possible start from:

* a **hand-over** by the host in the few seconds before it (strongest when it ends right there);
* a **self-introduction** or an announcement of a talk ("today I present", "this is our paper") at it;
* a **speaker change** (a ``- `` turn marker or a diarization label change) at it;
* a **topic shift**: sentence embeddings of the two minutes after it against the two minutes before.

Candidates over a threshold are kept greedily by score with a minimum chapter length.
:func:`reconcile_notes` finds the offset between show-notes times and the audio by matching the notes'
starts to these candidates (an inserted ad moves every start by the same amount).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np

from pipeline.models import Utterance

log = logging.getLogger(__name__)

_NAME_WORD = r"[A-Z][a-zA-Z'’\-]+"
NAME = rf"{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}}"

# words that follow "I'm" / "here is" with a capital letter but are no name
_NOT_NAMES = {
    "i", "it", "so", "and", "but", "the", "this", "that", "here", "there", "not", "also", "very", "really", "just",
    "going", "gonna", "sorry", "happy", "excited", "glad", "sure", "currently", "now", "today", "yes", "yeah",
    "okay", "ok", "well", "hi", "hello", "thanks", "thank", "from", "a", "an", "our", "my", "we", "you", "he",
    "she", "they", "what", "when", "where", "how", "why", "who", "one", "all", "in", "on", "at", "with", "for",
    "to", "of", "as", "if", "or", "no", "nothing", "let", "up", "next", "again", "actually", "still", "like",
    "interested", "working", "trying", "presenting", "talking", "joined", "back", "done", "good", "great",
    "professor", "doctor", "dr", "phd", "student", "researcher", "audience", "applause", "music", "laughter",
    "neurips", "icml", "iclr", "google", "meta", "microsoft", "openai", "deepmind", "nvidia", "stanford",
    "mit", "princeton", "berkeley", "caltech", "chatgpt", "gpt", "llama", "first", "last", "everyone",
}

_SELF_INTRO = [
    re.compile(rf"\b[Mm]y name(?:'s| is)\s+(?P<name>{NAME})"),
    re.compile(rf"(?:^|[.,!?]\s+|\b[Hh]i,?\s+|\b[Hh]ello,?\s+|\b[Aa]nd\s+|\b[Ss]o\s+)I(?:'?m| am)\s+(?P<name>{NAME})"
               r"(?=\s*(?:[.,;!?]|$|and\b|from\b|in\b|at\b))"),
    re.compile(rf"(?:^|[.,!?]\s+)[Tt]his is\s+(?P<name>{NAME})"
               r"(?=\s*(?:[.,;!?]|$|with\b|from\b|and\b|here\b|in\b|at\b))"),
]
_ANNOUNCE = re.compile(
    r"\b(?:(?:i'?m|we'?re|i am|we are)\s+(?:\w+\s+){0,3}?(?:presenting|to present|talk(?:ing)? about|"
    r"going to (?:be )?(?:present|talk))|today,?\s+(?:i|we)\s+(?:\w+\s+){0,3}?(?:present|talk)|"
    r"this is (?:our|my) (?:\w+\s+){0,2}?(?:paper|work|talk)|joint work with|with my (?:collaborators|colleagues)|"
    r"(?:i'?m|we'?re) (?:very |super |really )?(?:excited|happy|glad) to)",
    re.I,
)
_HANDOVER = [
    # "here's Jeff Dean and Greg Corrado", "here is Schaefer et al."
    (re.compile(rf"\b[Hh]ere(?:'s| is| are)\s+(?P<name>{NAME})"), 2.0),
    # "so here it is", "I think this is it", "here we go"
    (re.compile(r"\b(?:here it is|here they are|here we go|this is it|here you go)\b", re.I), 1.6),
    # "here's the Toolformer oral", "here's the poster session Q&A with Hao Tian", "here's a bit of our chat"
    (re.compile(r"\bhere(?:'s| is| are)\s+(?:the|a|an|our|my)\s+(?:[\w&'-]+\s+){0,5}?(?:oral|talk|session|q\s*&\s*a|"
                r"interview|presentation|chat|conversation|keynote|lecture|spotlight)\b", re.I), 2.0),
    (re.compile(r"\blet'?s (?:check out|hear from|listen to|introduce|turn to|go to|hear)\b", re.I), 1.8),
    # "so let's give them a listen", "have a listen", "let's listen in"
    (re.compile(r"\b(?:give (?:it|them|him|her|this) a listen|(?:take|have) a listen|listen in)\b", re.I), 1.8),
    (re.compile(r"\b(?:you can|you'll|we'll|we're gonna|we are going to|we're going to) (?:now )?hear\b", re.I), 1.6),
    (re.compile(r"\bhear (?:directly )?from\b", re.I), 1.4),
    (re.compile(rf"\b(?:next|following) (?:session|talk|oral|up|speaker)\b.{{0,40}}\bwith\s+(?P<name>{NAME})"), 1.6),
    (re.compile(r"\b(?:caught up with|chatted with|had a chat with|spoke with|sat down with|talked to)\b", re.I), 1.0),
    (re.compile(r"\b(?:up next|next,? we have|next up)\b", re.I), 0.8),
    # a session chair: "please welcome Wei Zhang", "our next speaker is Anna Novak", "the floor is yours",
    # "it is my pleasure to introduce Carlos Garcia"
    (re.compile(rf"\b(?:[Pp]lease (?:help me )?welcome|[Ll]et'?s (?:all )?welcome|[Jj]oin me in welcoming|"
                r"(?:[Gg]ive|[Ll]et'?s give) (?:a |it up for )?(?:(?:warm|big) )?"
                r"(?:welcome|round of applause) (?:to|for))"
                rf"(?:\s+our (?:next |first |last |final )?(?:speaker|presenter)s?,?)?(?:\s+(?P<name>{NAME}))?"), 2.0),
    (re.compile(rf"\b(?:[Oo]ur|[Tt]he) (?:next|first|last|final|following) (?:speaker|presenter)"
                rf"(?: today| this (?:morning|afternoon))? (?:is|will be)\s+(?P<name>{NAME})"), 1.8),
    (re.compile(r"\b(?:without further ado|the (?:floor|stage|mic) is (?:all )?yours|take it away)\b", re.I), 1.8),
    (re.compile(r"\b(?:(?:[Ii]'?d|[Ii] would) like to|(?:[Ii]t'?s|[Ii]t is) (?:my|a) (?:great |real )?"
                r"(?:pleasure|honou?r) to|[Ii]'?m (?:pleased|delighted|honou?red) to) (?:introduce|welcome)\s+"
                r"(?:our (?:next |first )?(?:speaker|presenter),?\s+)?"
                rf"(?P<name>{NAME})"), 1.8),
]
_POSTER_LEAD = re.compile(r"\bposters?\b|\bq\s*&\s*a\b|\b(?:our|a bit of|the) (?:chat|conversation)\b", re.I)
_NONSPEECH = re.compile(r"^\s*[\[(][^\])]*[\])]\s*$")
_GREETING = re.compile(r"^\W*(?:(?:hi|hello|hey|good (?:morning|afternoon|evening))"
                       r"(?:,? (?:everyone|everybody|all|folks|there))?|"
                       r"thank you(?: (?:very much|so much|all|everyone))?|thanks(?: everyone)?|okay|all right|alright|"
                       r"so|yeah|great)\W*$", re.I)
_WITHIN_TALK = re.compile(
    r"\b(?:hand(?:ing)? it (?:over|off) to|turn it over to|back to|pass it (?:over |on )?to)\s+[A-Z]"
)


_ANNOUNCED = re.compile(
    r"\b(?:presenting|present|talk(?:ing)? (?:to you )?about|introduce)\s+(?:to you\s+)?"
    r"(?:our (?:work|paper),?\s+|what\s+)?"
    r"(?P<t>[A-Z][\w'-]*(?:\s+(?:[A-Z][\w'-]*|of|for|and|the|in|on|with|a|to)){0,7})")


def announced_title(text: str) -> str | None:
    """The name of the work a speaker announces: "Today, I'm presenting Visual Instruction Tuning, a
    joint work ..." -> "Visual Instruction Tuning"; "I'm very excited to talk about Tree of Thoughts"."""
    m = _ANNOUNCED.search(text)
    if not m:
        return None
    words = m.group("t").split()
    while words and words[-1].lower() in {"of", "for", "and", "the", "in", "on", "with", "a", "to"}:
        words.pop()
    title = " ".join(words)
    if not words or words[0].lower() in _NOT_NAMES or len(title) < 3:
        return None
    return title


def _is_name(name: str) -> bool:
    words = name.split()
    return bool(words) and words[0].lower() not in _NOT_NAMES and all(len(w) >= 2 for w in words)


def _clean_name(name: str) -> str:
    words = []
    for w in name.split():
        if w.lower() in _NOT_NAMES or w.lower() in {"et", "al"}:
            break
        words.append(w.strip("'’-"))
    return " ".join(words)


def self_intro_names(text: str) -> list[str]:
    """Names people give themselves in ``text``: "My name is Ryland Schaefer", "I'm Jeff.", "this is Swix"."""
    out: list[str] = []
    for pat in _SELF_INTRO:
        for m in pat.finditer(text):
            name = _clean_name(m.group("name"))
            if name and _is_name(name):
                out.append(name)
    return list(dict.fromkeys(out))


def handover_names(text: str) -> list[str]:
    """Names a host hands over to: "here's Jeff Dean and Greg Corrado", "Q&A with Hao Tian"."""
    out: list[str] = []
    for m in re.finditer(rf"\b(?:[Hh]ere(?:'s| is)|with)\s+(?P<a>{NAME})(?:(?:,\s*|\s+and\s+)(?P<b>{NAME}))?", text):
        for g in ("a", "b"):
            if m.group(g):
                name = _clean_name(m.group(g))
                if name and _is_name(name):
                    out.append(name)
    return list(dict.fromkeys(out))


@dataclass
class Boundary:
    """A place where a chapter starts, with the evidence for it."""

    index: int  # utterance index of the first utterance of the chapter
    start: float
    score: float
    cues: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # self-introduced names
    handover: list[str] = field(default_factory=list)  # names the host handed over to
    lead_in: str = ""  # the text before (the host's introduction)
    poster: bool = False  # the lead-in calls it a poster session / Q&A / chat


def span_text(utts: list[Utterance], lo: int, hi: int) -> str:
    return " ".join(u.text.strip() for u in utts[max(lo, 0):max(min(hi, len(utts)), 0)])


def time_window(utts: list[Utterance], i: int, seconds: float, forward: bool) -> tuple[int, int]:
    if forward:
        j = i
        while j < len(utts) and utts[j].start < utts[i].start + seconds:
            j += 1
        return i, j
    j = i
    while j > 0 and utts[j - 1].start > utts[i].start - seconds:
        j -= 1
    return j, i


def lead_in(utts: list[Utterance], i: int, seconds: float = 40.0) -> str:
    """What is said in the ``seconds`` before utterance ``i``: the introduction of what starts there.
    With speaker labels, only the last turn before it (the host's or the chair's), so a session chair's
    "please welcome ..." is not read with the previous talk's questions."""
    lo, _ = time_window(utts, i, seconds, forward=False)
    label = utts[i - 1].speaker if i > 0 else None
    if label is not None:
        j = i - 1
        while j > lo and utts[j - 1].speaker == label:
            j -= 1
        lo = j
    return span_text(utts, lo, i)


def _turn_change(utts: list[Utterance], i: int) -> bool:
    return i > 0 and utts[i].speaker is not None and utts[i].speaker != utts[i - 1].speaker


def _back_up(utts: list[Utterance], i: int, lo: int) -> int:
    """From a self-introduction at ``i`` back to the start of what the speaker says first: greetings,
    thanks and the turn start within a few seconds, never before ``lo``."""
    j = i
    while j - 1 >= lo and utts[i].start - utts[j - 1].start <= 6.0 and not _turn_change(utts, j) and (
            _GREETING.match(utts[j - 1].text) or _NONSPEECH.match(utts[j - 1].text)) and not any(
            p.search(utts[j - 1].text) for p, _ in _HANDOVER):
        j -= 1
    while j < i and _NONSPEECH.match(utts[j].text):
        j += 1
    return j


def topic_shift(utts: list[Utterance], indices: list[int], *, window: float = 60.0,
                cache_dir=None) -> dict[int, float]:
    """Topic shift at each utterance index: 1 - cosine between sentence embeddings of the ``window``
    seconds before it and the ``window`` seconds after it (the model reads about a minute of speech)."""
    from pipeline.embed import embed_texts

    texts: list[str] = []
    for i in indices:
        lo, _ = time_window(utts, i, window, forward=False)
        _, hi = time_window(utts, i, window, forward=True)
        before, after = span_text(utts, lo, i).split(), span_text(utts, i, hi).split()
        # the model reads ~256 word pieces; 100 words on each side keep it fast and local
        texts += [" ".join(before[-100:]) or ".", " ".join(after[:100]) or "."]
    vecs = embed_texts(texts, cache_dir=cache_dir)
    return {i: float(1.0 - vecs[2 * k] @ vecs[2 * k + 1]) for k, i in enumerate(indices)}


def score_candidates(utts: list[Utterance], *, embeddings: bool = True, cache_dir=None) -> list[Boundary]:
    """Every utterance with evidence of a chapter start, scored (see the module docstring)."""
    by_index: dict[int, Boundary] = {}
    weights: dict[tuple[int, str], float] = {}

    def add(i: int, score: float, cue: str) -> Boundary:
        """Evidence of one kind counts once per candidate, at its strongest."""
        b = by_index.get(i)
        if b is None:
            b = by_index[i] = Boundary(index=i, start=utts[i].start, score=0.0)
        if cue not in b.cues:
            b.cues.append(cue)
        had = weights.get((i, cue), 0.0)
        if score > had:
            b.score += score - had
            weights[(i, cue)] = score
        return b

    n = len(utts)
    # 1. hand-overs: the chapter starts at the first speech after the hand-over sentence
    for h, u in enumerate(utts):
        # a sentence may run over two subtitle lines: read the previous one with it
        prev = utts[h - 1].text.strip() + " " if h > 0 and not _turn_change(utts, h) else ""
        joined = prev + u.text.strip()
        for pat, weight in _HANDOVER:
            m = next((m for m in pat.finditer(joined) if m.end() > len(prev)), None)
            if not m:
                continue
            if "name" in pat.groupindex and m.groupdict().get("name") and not _is_name(_clean_name(m.group("name"))):
                continue
            tail = joined[m.end():]
            # the hand-over should close the host's part: at (or near) the end of its utterance
            if len(tail.split()) > 6:
                continue
            j = h + 1
            while j < n and (_NONSPEECH.match(utts[j].text) or utts[j].text.strip() == ""):
                j += 1
            # a turn change soon after is the better place (the host may go on for a sentence or two)
            for k in range(j, min(n, j + 8)):
                if utts[k].start - utts[h].end > 15.0:
                    break
                if _turn_change(utts, k):
                    j = k
                    break
            if j >= n or _WITHIN_TALK.search(joined):
                continue
            b = add(j, weight, "handover")
            named = handover_names(joined[m.start():])
            if m.groupdict().get("name"):  # "please welcome Wei Zhang", "our next speaker is Anna Novak"
                named.insert(0, _clean_name(m.group("name")))
            b.handover += [x for x in named if x not in b.handover]
            break
    # 2. self-introductions and talk announcements
    for i, u in enumerate(utts):
        names = self_intro_names(u.text)
        # "I'm Tim." then "Today, I present QLoRA": the announcement follows within seconds
        _, ahi = time_window(utts, i, 10.0, forward=True)
        announce = any(_ANNOUNCE.search(x.text) for x in utts[i:min(ahi, i + 3)]) if names else bool(
            _ANNOUNCE.search(u.text))
        if not names and not announce:
            continue
        lo = max(0, i - 4)
        j = _back_up(utts, i, lo)
        found = add(j, 1.5, "self-introduction") if names else None
        if announce:
            found = add(j, 0.8, "announcement")
        if names and found is not None:
            found.names += [x for x in names if x not in found.names]
    # a hand-over followed within seconds by the speaker introducing themselves is one start
    for i in sorted(by_index):
        if i not in by_index:
            continue
        b = by_index[i]
        if "handover" not in b.cues or len(b.cues) > 1:
            continue
        later = [c for c in by_index.values() if c.index > i and c.start - b.start <= 15.0
                 and ("self-introduction" in c.cues or "announcement" in c.cues or _turn_change(utts, c.index))]
        if later:
            c = min(later, key=lambda c: c.index)
            c.cues.insert(0, "handover")
            c.score += b.score
            c.handover += [x for x in b.handover if x not in c.handover]
            del by_index[i]
    # 3. speaker changes and topic shifts add to the evidence of existing candidates
    shifts = topic_shift(utts, sorted(by_index), cache_dir=cache_dir) if embeddings and by_index else {}
    for b in by_index.values():
        if _turn_change(utts, b.index):
            b.score += SPEAKER_CHANGE
            b.cues.append("speaker change")
        if b.index in shifts:
            shift = shifts[b.index]
            b.score += 2.0 * shift
            if shift > 0.25:
                b.cues.append(f"topic shift {shift:.2f}")
        b.lead_in = lead_in(utts, b.index)
        near = span_text(utts, time_window(utts, b.index, 20.0, forward=False)[0], b.index)
        b.poster = bool(_POSTER_LEAD.search(near)) and not re.search(r"\bbut first\b", near, re.I)
    return sorted(by_index.values(), key=lambda b: b.index)


SPEAKER_CHANGE = 0.6  # the weight of a speaker change (added in score_candidates)


def find_boundaries(candidates: list[Boundary], *, threshold: float = 2.4, min_gap: float = 150.0,
                    labelled: bool = True) -> list[Boundary]:
    """Chapter starts found from the transcript: candidates at or over ``threshold``, kept greedily
    by score so that no two are closer than ``min_gap`` seconds. Sorted by time. A transcript without
    speaker labels (``labelled=False``) cannot show speaker changes: the threshold drops by their weight."""
    if not labelled:
        threshold -= SPEAKER_CHANGE
    cands = [b for b in candidates if b.score >= threshold and b.start > 0]
    kept: list[Boundary] = []
    for b in sorted(cands, key=lambda b: (-b.score, b.start)):
        if all(abs(b.start - k.start) >= min_gap for k in kept):
            kept.append(b)
    return sorted(kept, key=lambda b: b.start)


@dataclass
class Reconciliation:
    offset: float  # seconds to add to the notes' times
    matched: int  # notes chapters that agree with a transcript candidate after the shift
    total: int
    drift: dict[int, float] = field(default_factory=dict)  # per-chapter correction beyond the offset


def reconcile_notes(note_starts: list[float], candidates: list[Boundary], *, max_offset: float = 600.0,
                    tolerance: float = 4.0, min_score: float = 1.5, drift_window: float = 90.0) -> Reconciliation:
    """The offset that best lines the notes' chapter starts up with the chapter-start candidates found
    in the transcript (votes weighted by candidate score), refined to the median residual."""
    strong = [b for b in candidates if b.score >= min_score]
    if not note_starts or not strong:
        return Reconciliation(0.0, 0, len(note_starts))
    diffs = [(b.start - t, b.score) for t in note_starts for b in strong if abs(b.start - t) <= max_offset]
    if not diffs:
        return Reconciliation(0.0, 0, len(note_starts))

    def support(d: float) -> tuple[float, list[float]]:
        total, resid = 0.0, []
        for t in note_starts:
            near = [(abs(b.start - t - d), b) for b in strong if abs(b.start - t - d) <= tolerance]
            if near:
                dist, b = min(near, key=lambda x: x[0])
                total += b.score * (1.0 - 0.5 * dist / tolerance)
                resid.append(b.start - t)
        return total, resid

    best_d, best_s, best_r = 0.0, -1.0, []
    s0, r0 = support(0.0)
    for d, _ in diffs:
        s, r = support(d)
        if s > best_s + 1e-9:
            best_d, best_s, best_r = d, s, r
    # no shift when the notes already agree about as well as the best shift does
    if s0 >= 0.8 * best_s:
        best_d, best_s, best_r = 0.0, s0, r0
    offset = float(np.median(best_r)) if best_r else best_d
    if abs(offset) < tolerance and s0 >= 0.8 * best_s:
        offset = 0.0
    # one agreeing start is a coincidence, not an offset: a shift needs two, and half the chapters
    if offset and len(best_r) < max(2, (len(note_starts) + 1) // 2):
        offset, best_r = 0.0, r0
    # per-chapter drift (a different cut): a start no cue confirms after the shift, with one clear
    # strong cue (a hand-over or self-introduction) not far from it and no other candidate nearer
    drift: dict[int, float] = {}
    for k, t in enumerate(note_starts):
        t2 = t + offset
        if any(abs(b.start - t2) <= tolerance for b in strong):
            continue
        near = [b for b in candidates if abs(b.start - t2) <= drift_window]
        firm = [b for b in near if b.score >= 2.4 and ("handover" in b.cues or "self-introduction" in b.cues)]
        if len(firm) == 1:
            drift[k] = round(firm[0].start - t2, 2)
    return Reconciliation(round(offset, 2), len(best_r), len(note_starts), drift)
