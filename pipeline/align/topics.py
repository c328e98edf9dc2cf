"""Topic sections inside one speaker's talk: where a keynote moves from one subject to the next.

A talk has no hand-overs to find; its sections show as a change of vocabulary and meaning.
:func:`topic_sections` follows TextTiling (Hearst 1997) with sentence embeddings:

1. the stretch is cut into **blocks** of about ``block`` seconds, each starting at a sentence or
   paragraph start (a pause, a line ending in ``.?!``, a turn change): only block starts can be
   chapter starts, so a chapter never starts mid-sentence;
2. every block is encoded **once** (one batch through the shipped MiniLM, cached by text) and
   gets a tf-idf vector over plural-stemmed content words;
3. at each block start the ``window`` blocks before are compared with the ``window`` after (means
   of the vectors, by cumulative sums: no re-encoding per candidate), embedding and tf-idf cosines
   averaged, and lightly smoothed;
4. the **depth** of each valley of that similarity curve (how far it drops below the peaks on both
   sides) scores the candidate; the deepest are kept, at least ``min_section`` apart, about one per
   ``target`` seconds, and none shallower than TextTiling's cut-off (mean - std / 2 of the depths).

:func:`key_phrases` gives a section's title words: its terms with the highest tf-idf against the
rest of the recording, two-word phrases first.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pipeline.models import Utterance
from pipeline.text import STOP_WORDS, plural_stem, words

_SENTENCE_END = re.compile(r"[.?!…]['\")\]]*\s*$")
_NONSPEECH = re.compile(r"^\s*[\[(][^\])]*[\])]\s*$")
_FILLER = frozenset(
    "yeah okay ok um uh like know think really just gonna going sort kind thing things lot actually right "
    "got get want wanna say said also well mean basically pretty good cool much many way stuff little bit "
    "one two three first us you we our they them it's that's there's here now today time year people "
    "thank thanks can could would will also maybe something see look looks make made use using used".split())


# discourse openers (Passonneau & Litman's cue phrases): a sentence that starts a new point of a talk
_OPENER = re.compile(
    r"^\W*(?:(?:so|and|but|now|okay|ok|all right|alright|yeah|well|i think|i guess),?\s+(?:that\s+)?)*"
    r"(?:(?:one|another|the other|the next|the last|the final|the first|the second|a second|a third|the third)\s+"
    r"(?:\w+\s+)?(?:thing|things|trend|trends|topic|point|aspect|part|area|question|theme|piece|issue|problem|step)\b|"
    r"one of the (?:\w+\s+)?(?:things|trends|topics|themes|areas|issues|problems|questions|reasons)\b|"
    r"(?:next|moving on|finally|lastly|last but not least|to (?:wrap|sum) up|in (?:summary|conclusion))\b|"
    r"let'?s (?:talk|move|look|switch|turn|go|dive|get)\b|"
    r"(?:i (?:want|wanted|'d like|would like)|we (?:want|'d like)) to (?:talk|move|switch|turn|shift|show|mention|"
    r"spend)\b|(?:then,?\s+)?(?:just\s+)?(?:a few|two|three|last|a couple of) (?:weeks|months|days) ago\b|"
    r"(?:earlier|later) this year\b|(?:here'?s|this is) (?:my|our) (?:last|final|next) (?:slide|point)\b)",
    re.I)


def opener(text: str) -> bool:
    """Does ``text`` start like a new point of a talk ("One thing that we got in 2024", "Next, ...")?"""
    return bool(_OPENER.match(text))


@dataclass(frozen=True)
class TopicOptions:
    """How topic sections are found (``target`` is the ``[align] section_length`` setting)."""

    target: float = 300.0  # seconds: the typical length of a section
    min_section: float = 120.0  # seconds: no section shorter
    block: float = 8.0  # seconds of speech per block
    window: int = 10  # blocks compared on each side of a candidate
    split_over: float = 5.0  # a stretch longer than this many targets is split into sections
    embedding_weight: float = 0.5  # of the embedding cosine against the tf-idf cosine
    opener_weight: float = 0.35  # added to a valley's depth (0-1) where a sentence opens a new point


@dataclass
class Section:
    """A topic section's start: the utterance index, its time, the valley's depth, a 0-1 confidence."""

    index: int
    start: float
    depth: float
    confidence: float


def sentence_start(utts: list[Utterance], i: int) -> bool:
    """Can a section start at utterance ``i``: after a sentence end, a pause, a sound tag or a turn change."""
    if i <= 0:
        return True
    prev, cur = utts[i - 1], utts[i]
    if _NONSPEECH.match(prev.text) or _NONSPEECH.match(cur.text):
        return not _NONSPEECH.match(cur.text)
    if cur.speaker is not None and cur.speaker != prev.speaker:
        return True
    return cur.start - prev.end >= 0.8 or bool(_SENTENCE_END.search(prev.text.strip()))


def _terms(text: str) -> list[str]:
    return [plural_stem(w) for w in words(text)
            if len(w) > 2 and w not in STOP_WORDS and w not in _FILLER and not w.isdigit()]


def _blocks(utts: list[Utterance], lo: int, hi: int, block: float) -> list[tuple[int, str]]:
    """(first utterance index, text) of consecutive blocks of about ``block`` seconds in [lo, hi)."""
    out: list[tuple[int, list[str]]] = []
    start_t = None
    for i in range(lo, hi):
        u = utts[i]
        if _NONSPEECH.match(u.text):
            continue
        long = start_t is not None and u.start - start_t >= block
        if start_t is None or (long and (sentence_start(utts, i) or u.start - start_t >= 3 * block)):
            out.append((i, []))
            start_t = u.start
        out[-1][1].append(u.text.strip())
    return [(i, " ".join(t)) for i, t in out]


def _window_cosines(vecs, window: int):
    """Cosine between the mean of the ``window`` rows before each gap and the ``window`` rows after it
    (gap g is before row g, for g = 1 .. n-1), with cumulative sums."""
    import numpy as np

    n = len(vecs)
    csum = np.vstack([np.zeros((1, vecs.shape[1]), dtype=np.float64), np.cumsum(vecs, axis=0, dtype=np.float64)])
    g = np.arange(1, n)
    left = csum[g] - csum[np.maximum(0, g - window)]
    right = csum[np.minimum(n, g + window)] - csum[g]
    num = (left * right).sum(axis=1)
    den = np.linalg.norm(left, axis=1) * np.linalg.norm(right, axis=1)
    return np.where(den > 0, num / np.maximum(den, 1e-12), 0.0)


def _tfidf(texts: list[str]):
    import numpy as np

    docs = [Counter(_terms(t)) for t in texts]
    df: Counter[str] = Counter()
    for d in docs:
        df.update(d.keys())
    vocab = {t: k for k, t in enumerate(df)}
    mat = np.zeros((len(docs), max(1, len(vocab))), dtype=np.float32)
    n = len(docs)
    for r, d in enumerate(docs):
        for t, c in d.items():
            mat[r, vocab[t]] = (1.0 + math.log(c)) * math.log((1 + n) / (1 + df[t]))
    return mat


def _depths(sim) -> list[float]:
    """TextTiling's depth of every point of the similarity curve."""
    n = len(sim)
    out = []
    for g in range(n):
        left = g
        while left > 0 and sim[left - 1] >= sim[left]:
            left -= 1
        right = g
        while right < n - 1 and sim[right + 1] >= sim[right]:
            right += 1
        out.append(float(sim[left] - sim[g] + sim[right] - sim[g]))
    return out


def topic_sections(utts: list[Utterance], lo: int, hi: int, options: TopicOptions | None = None, *,
                   embeddings: bool = True, cache_dir: Path | None = None) -> list[Section]:
    """Section starts inside utterances [lo, hi) (the stretch's own start excluded). See the module docstring."""
    import numpy as np

    opts = options or TopicOptions()
    if hi - lo < 2:
        return []
    duration = utts[hi - 1].end - utts[lo].start
    wanted = int(round(duration / opts.target)) - 1
    blocks = _blocks(utts, lo, hi, opts.block)
    if wanted < 1 or len(blocks) < 4:
        return []
    texts = [t for _, t in blocks]
    sim = _window_cosines(_tfidf(texts), opts.window)
    if embeddings:
        from pipeline.embed import embed_texts

        vecs = embed_texts([" ".join(t.split()[:120]) for t in texts], cache_dir=cache_dir)
        w = opts.embedding_weight
        sim = (1.0 - w) * sim + w * _window_cosines(np.asarray(vecs, dtype=np.float64), opts.window)
    if len(sim) >= 3:  # a light smoothing, as TextTiling does
        sim = np.convolve(np.pad(sim, 1, mode="edge"), np.ones(3) / 3.0, mode="valid")
    depth = _depths(sim)
    cutoff = float(np.mean(depth) - np.std(depth) / 2.0) if depth else 0.0
    top = max(depth) if depth else 0.0
    start_t, end_t = utts[lo].start, utts[hi - 1].end
    # each gap's place: the block start, or a sentence opening a new point close to it
    places: list[tuple[float, int, bool]] = []  # (score, utterance index, opener)
    for g, d in enumerate(depth):
        i = blocks[g + 1][0]
        near = [j for j in range(blocks[g][0], blocks[g + 2][0] if g + 2 < len(blocks) else hi)
                if abs(utts[j].start - utts[i].start) <= opts.block and sentence_start(utts, j)
                and opener(utts[j].text)]
        j = min(near, key=lambda j: abs(utts[j].start - utts[i].start)) if near else i
        score = (d / top if top > 0 else 0.0) + (opts.opener_weight if near else 0.0)
        ok = d > max(cutoff, 1e-6) or (near and d > max(cutoff / 2.0, 1e-6))
        places.append((score if ok else -1.0, j, bool(near)))
    kept: list[Section] = []
    for score, i, _ in sorted(places, key=lambda p: -p[0]):
        if len(kept) >= wanted or score < 0:
            break
        t = utts[i].start
        if t - start_t < opts.min_section or end_t - t < opts.min_section:
            continue
        if any(abs(t - k.start) < opts.min_section for k in kept):
            continue
        conf = 0.3 + 0.5 * min(1.0, score)
        kept.append(Section(index=i, start=t, depth=round(score, 4), confidence=round(min(0.9, conf), 3)))
    return sorted(kept, key=lambda s: s.start)


def key_phrases(text: str, background: Counter[str], n_docs: int, *, count: int = 3) -> list[str]:
    """The words of ``text`` that say what it is about, against ``background`` (in how many of the
    recording's ``n_docs`` sections each stemmed term occurs): two-word phrases said at least twice first,
    then single terms, by tf-idf; as said (their most common surface form)."""
    text = re.sub(r"\([^()]{0,40}\)|\[[^\[\]]{0,40}\]|\*[^*]{0,40}\*", " ", text)  # "(upbeat music)", "[APPLAUSE]"
    toks = re.findall(r"[A-Za-z][\w'’-]*", text)
    surface: dict[str, Counter[str]] = {}
    terms: list[str | None] = []
    for w in toks:
        lw = w.lower()
        if len(lw) <= 2 or lw in STOP_WORDS or lw in _FILLER or lw.isdigit() or "'" in lw or "’" in lw:
            terms.append(None)
            continue
        t = plural_stem(lw)
        terms.append(t)
        surface.setdefault(t, Counter())[w if w[1:].islower() is False else lw] += 1

    def idf(t: str) -> float:
        return math.log((1 + n_docs) / (1 + background.get(t, 0))) + 0.1

    uni = Counter(t for t in terms if t)
    bi: Counter[tuple[str, str]] = Counter()
    for a, b in zip(terms, terms[1:]):
        if a and b and a != b:
            bi[(a, b)] += 1
    scored: list[tuple[float, str, tuple[str, ...]]] = []
    for (a, b), c in bi.items():
        if c >= 2:
            scored.append((c * (idf(a) + idf(b)), "", (a, b)))
    for t, c in uni.items():
        if c >= 2:
            scored.append(((1.0 + math.log(c)) * idf(t) * 1.2, "", (t,)))
    scored.sort(key=lambda x: -x[0])
    out: list[str] = []
    used: set[str] = set()
    for _, _, ts in scored:
        if any(t in used for t in ts):
            continue
        used.update(ts)
        out.append(" ".join(surface[t].most_common(1)[0][0] for t in ts))
        if len(out) >= count:
            break
    return out


def section_terms(text: str) -> set[str]:
    """The stemmed content terms of a text (for :func:`key_phrases`' background counts)."""
    return set(_terms(text))


def section_title(text: str, background: Counter[str], n_docs: int) -> str:
    """A short descriptive title from a section's key phrases: "Open source licenses, data"."""
    phrases = key_phrases(text, background, n_docs, count=3)
    if not phrases:
        return ""
    title = ", ".join(phrases)
    return title[:1].upper() + title[1:]
