"""Chapter-to-paper links and timed paper mentions, against a catalog of any size.

:class:`PaperIndex` holds the catalog as an inverted index (BM25 over title, short names and abstract),
a map from short names (aliases, acronyms) to papers and a map from title word trigrams to papers, so a
chapter or a stretch of transcript is compared with a short list, never with every paper.

A chapter is linked to a paper from: the title spoken in the host's lead-in or the opening of the talk
(fuzzy, ASR-tolerant), a short name said in it ("QLoRA", "DPO"), a self-introduced speaker who is an
author, BM25 and the sentence-embedding similarity of the opening against the abstract. A link needs
both a minimum score and a margin over the runner-up: an unknown paper stays unlinked.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from pipeline.align.speakers import same_person
from pipeline.models import Mention, Paper, Utterance
from pipeline.sources.catalog import short_names
from pipeline.text import STOP_WORDS, bm25, norm_title, words

_STOP = STOP_WORDS | frozenset(
    "via we our that this it as at or not can do does you your i my me they them their he she his her its was were "
    "will would so but if then than what which who how when where why all any more most very just like really yeah "
    "okay know think gonna going have has had get got one two also there here about into out up down over only some "
    "such these those model models paper language large learning data using based".split())
"""Function words, talk fillers and the words every ML title uses: no evidence of which paper is meant."""


def tokens(text: str) -> list[str]:
    return [w for w in norm_title(text).split() if w not in _STOP and len(w) > 1]


def _plural_optional(word: str, *, last: bool) -> str:
    """``word`` as a pattern that also takes it without its plural "s" (and the last word with one)."""
    stem = word[:-1] if len(word) > 3 and word[-1] in "sS" else word
    return re.escape(stem) + ("s?" if stem != word or last else "")


def _alias_pattern(alias: str) -> re.Pattern[str] | None:
    """A word-bounded pattern for a short name; acronyms and camel-case names match case-insensitively
    but only where the transcript capitalises them ("QLORA" for "QLoRA"), plain words match exactly."""
    alias = alias.strip()
    if len(alias) < 3 or len(alias.split()) > 4:
        return None
    parts = re.split(r"[\s-]+", alias)
    if len(alias.split()) >= 3:  # a phrase: "Direct Preference Optimization", in any case, and
        # said with or without a plural ending ("the tree of thought paper" for "Tree of Thoughts")
        body = r"[\s-]*".join(_plural_optional(p, last=k == len(parts) - 1) for k, p in enumerate(parts))
        return re.compile(rf"(?<![\w-])(?i:{body})(?![\w-])")
    body = r"[\s-]*".join(re.escape(p) for p in parts)
    upper = sum(ch.isupper() for ch in alias)
    if upper >= 2 or any(ch.isdigit() for ch in alias):
        return re.compile(rf"(?<![\w-])(?=[^\s]*[A-Z])(?i:{body})(?![\w-])")
    if alias[:1].isupper():
        return re.compile(rf"(?<![\w-]){body}(?![\w-])")
    return None  # a lower-case common word is no evidence


@dataclass
class Evidence:
    paper: str
    score: float
    reasons: list[str]


class PaperIndex:
    """The catalog, indexed for shortlisting (see the module docstring)."""

    def __init__(self, papers: dict[str, Paper], *, k1: float = 1.4, b: float = 0.75) -> None:
        self.papers = papers
        self.ids = list(papers)
        self.k1, self.b = k1, b
        self.postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        self.lengths: list[int] = []
        # first word of a short name -> (pattern, alias, paper id): only names whose first word occurs are tried
        self.alias_patterns: dict[str, list[tuple[re.Pattern[str], str, str]]] = defaultdict(list)
        self.trigrams: dict[tuple[str, str, str], set[int]] = defaultdict(set)
        for i, pid in enumerate(self.ids):
            p = papers[pid]
            names = short_names(p)
            head = p.title.split(":", 1)[0].strip()
            if ":" in p.title and 3 <= len(head.split()) <= 6:
                names = [*names, head]  # the main title before a subtitle
            toks = tokens(p.title) * 3 + tokens(" ".join(names)) * 3 + tokens(p.abstract)
            self.lengths.append(len(toks))
            for t, c in Counter(toks).items():
                self.postings[t].append((i, c))
            for alias in names:
                pat = _alias_pattern(alias)
                first = words(alias)
                if pat is not None and first:
                    self.alias_patterns[first[0]].append((pat, alias, pid))
            title_words = norm_title(p.title).split()
            for k in range(len(title_words) - 2):
                tri = tuple(title_words[k:k + 3])
                if sum(w not in _STOP for w in tri) >= 2:
                    self.trigrams[tri].add(i)  # type: ignore[index]
        self.avg = (sum(self.lengths) / len(self.lengths)) if self.lengths else 1.0
        self.n = len(self.ids)

    def bm25(self, text: str) -> dict[str, float]:
        """BM25 score of every paper sharing a word with ``text`` (others score 0)."""
        scores = bm25(tokens(text), self.postings, self.lengths, k1=self.k1, b=self.b)
        return {self.ids[i]: s for i, s in scores.items()}

    def aliases_in(self, text: str) -> list[tuple[str, str, int]]:
        """(paper id, alias, position) of every short name said in ``text``."""
        out = []
        for word in set(words(text)) & self.alias_patterns.keys():
            for pat, alias, pid in self.alias_patterns[word]:
                for m in pat.finditer(text):
                    out.append((pid, alias, m.start()))
        return sorted(out, key=lambda x: x[2])

    def titles_in(self, text: str, *, min_ratio: float = 86.0) -> list[tuple[str, float]]:
        """Papers whose full title is said in ``text`` (fuzzy: ASR turns "Are" into "Our")."""
        from rapidfuzz import fuzz

        words = norm_title(text).split()
        cands: Counter[int] = Counter()
        for k in range(len(words) - 2):
            for i in self.trigrams.get((words[k], words[k + 1], words[k + 2]), ()):
                cands[i] += 1
        norm_text = " ".join(words)
        out = []
        for i, hits in cands.items():
            title = norm_title(self.papers[self.ids[i]].title)
            nwords = len(title.split())
            if nwords < 3 or hits < max(1, min(3, nwords - 2) // 2):
                continue
            ratio = fuzz.partial_ratio(title, norm_text)
            if ratio >= min_ratio:
                out.append((self.ids[i], float(ratio)))
        return out


def author_match(name: str, paper: Paper) -> str | None:
    """The author of ``paper`` that a spoken name (possibly one word, possibly misspelt) refers to."""
    for a in paper.authors:
        if same_person(name, a):
            return a
    return None


def link_chapter(index: PaperIndex, *, lead_in: str, opening: str, body: str, names: list[str],
                 hint: str = "", embed_sim=None, min_score: float = 3.0, margin: float = 1.0,
                 shortlist: int = 15, presented: dict[str, list[str]] | None = None,
                 continues: str | None = None) -> tuple[str | None, float, list[Evidence]]:
    """Pick the paper a chapter is about. ``lead_in`` is the host's introduction before it, ``opening``
    its first minutes, ``body`` all of it, ``names`` its speakers' names, ``hint`` a title from show
    notes; ``embed_sim(text, paper_ids) -> {id: cosine}`` adds content similarity when given;
    ``presented`` (paper id -> people who presented it in an earlier chapter of the episode) counts a
    speaker who presents again (the poster session after the talk) like an author; ``continues`` is
    the paper of the talk before a poster session where nobody new is named, most often the same work.
    Returns (paper id or None, confidence 0-1, the scored shortlist)."""
    head = f"{lead_in} {opening}"
    bm = index.bm25(f"{head} {body[:6000]} {hint}")
    top = sorted(bm.items(), key=lambda kv: -kv[1])[:shortlist]
    best_bm = top[0][1] if top else 1.0
    cands: dict[str, Evidence] = {pid: Evidence(pid, 1.5 * s / best_bm, [f"bm25 {s:.1f}"]) for pid, s in top}

    def ev(pid: str) -> Evidence:
        if pid not in cands:
            cands[pid] = Evidence(pid, 0.0, [])
        return cands[pid]

    for pid, ratio in index.titles_in(head + " " + hint):
        e = ev(pid)
        e.score += 3.0 * (ratio - 80.0) / 20.0 + 1.0
        e.reasons.append(f"title said ({ratio:.0f})")
    seen: set[str] = set()
    for pid, alias, _ in index.aliases_in(head + " " + hint):
        if pid not in seen:
            seen.add(pid)
            ev(pid).score += 2.0
            ev(pid).reasons.append(f"short name {alias!r} in the introduction")
    counts = Counter(pid for pid, _, _ in index.aliases_in(body))
    for pid, c in counts.items():
        e = ev(pid)
        e.score += min(1.5, 0.5 * c)
        e.reasons.append(f"short name x{c}")
    if embed_sim is not None and cands:
        top_ids = [e.paper for e in sorted(cands.values(), key=lambda e: -e.score)[:8]]
        for pid, cos in embed_sim(opening or body[:3000], top_ids).items():
            if cos > 0.3:
                cands[pid].score += 3.0 * (cos - 0.3)
                cands[pid].reasons.append(f"content {cos:.2f}")
    for pid, e in cands.items():
        authors = [a for n in names if (a := author_match(n, index.papers[pid]))]
        if authors and e.score > 0.5:
            e.score += 1.5
            e.reasons.append(f"speaker is an author ({authors[0]})")
    for pid, presenters in (presented or {}).items():
        again = next((p for p in presenters for n in names if same_person(n, p)), None)
        if again is not None and pid in index.papers:
            ev(pid).score += 1.5
            ev(pid).reasons.append(f"presented earlier in the episode ({again})")
    if continues is not None and continues in cands and cands[continues].score > 0.5:
        cands[continues].score += 1.0
        cands[continues].reasons.append("the talk before is about it")
    ranked = sorted(cands.values(), key=lambda e: -e.score)
    if not ranked:
        return None, 0.0, []
    best = ranked[0]
    second = ranked[1].score if len(ranked) > 1 else 0.0
    if best.score >= min_score and best.score - second >= margin:
        conf = 1.0 - math.exp(-(best.score - second) / 2.0) * 0.5 - math.exp(-best.score / 3.0) * 0.5
        return best.paper, round(max(0.0, min(1.0, conf)), 3), ranked
    return None, 0.0, ranked


def find_mentions(index: PaperIndex, utts: list[Utterance], chapter_of, *, window: int = 3) -> list[Mention]:
    """Every place a catalog paper is named: a short name, or its title said in full. ``chapter_of(t)``
    gives the chapter index at time t. One mention per paper per utterance."""
    out: list[Mention] = []
    seen: set[tuple[str, int]] = set()
    n = len(utts)
    for i, u in enumerate(utts):
        for pid, alias, _ in index.aliases_in(u.text):
            if (pid, i) not in seen:
                seen.add((pid, i))
                out.append(Mention(paper=pid, start=u.start, end=u.end, quote=u.text.strip(), speaker=u.speaker,
                                   chapter=chapter_of(u.start), kind="acronym" if alias.isupper() else "name"))
    # titles: said across a few utterances
    step = max(1, window - 1)
    for i in range(0, n, step):
        seg = utts[i:i + window]
        text = " ".join(x.text.strip() for x in seg)
        for pid, ratio in index.titles_in(text, min_ratio=90.0):
            if any((pid, j) in seen for j in range(max(0, i - window), i + window)):
                continue
            seen.add((pid, i))
            out.append(Mention(paper=pid, start=seg[0].start, end=seg[-1].end, quote=text, speaker=seg[0].speaker,
                               chapter=chapter_of(seg[0].start), kind="name", score=round(ratio / 100.0, 3)))
    return sorted(out, key=lambda m: (m.start, m.paper))
