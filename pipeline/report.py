"""The quality report: the passages of an episode most likely wrong, worst first, so an editor fixes
the worst minutes first.

What it looks for (each an :class:`Issue` with a severity in [0, 1] and the moment it is about):

* ``loop``: a repetition loop in the text itself (the same words or sentences three or more times in a
  row, across utterance boundaries too): the classic Whisper failure, whatever produced the transcript;
* ``repetition`` / ``no-speech`` / ``low-confidence``: utterances the ASR stage flagged;
* ``over-silence``: text stretched over a long span with almost no words (music, silence, applause);
* ``low-probability``: utterances whose mean word probability is low;
* ``speaker-change``: words that run across a change of speaker (a turn boundary in the wrong place);
* ``chapter-link``: a chapter linked to a paper with low confidence (a possibly wrong link);
* ``unconfirmed-name``: a speaker named by the voice library that no person has confirmed yet;
* ``unnamed-speaker``: a speaker with a real share of the speech and no name.

Adjacent passages of the same kind are merged, so a bad minute is one line, not twenty. The CLI prints
a report (``recap report``); the site shows it on a hidden page per episode (:mod:`pipeline.site.reports`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.cache import Cache
from pipeline.models import Episode, Person, Utterance
from pipeline.text import words
from pipeline.timefmt import format_timestamp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportOptions:
    loop_min_repeats: int = 3
    """A phrase repeated this many times in a row is a loop (short phrases need one more)."""
    loop_min_tokens: int = 8
    """...and the repeats cover at least this many words ("no, no, no" is speech, not a loop)."""
    loop_max_ngram: int = 20
    low_probability: float = 0.5
    """Mean word probability below which an utterance is doubtful."""
    min_scored_words: int = 3
    sparse_words_per_second: float = 0.35
    """Fewer words per second than this over ``sparse_min_seconds`` is text over silence or music."""
    sparse_min_seconds: float = 12.0
    boundary_tolerance: float = 0.3
    """Seconds a word may spill over a speaker change before it is reported."""
    low_chapter_confidence: float = 0.6
    """Chapter-to-paper links below this confidence are reported."""
    unnamed_min_seconds: float = 60.0
    max_unnamed_listed: int = 5
    """More unnamed speakers than this are reported as one line."""
    foreign_min_seconds: float = 120.0
    """A stretch this long in a chapter attributed to a person who presents another chapter is reported."""
    merge_gap: float = 5.0
    """Passages of the same kind closer than this (seconds) are reported as one."""


@dataclass
class Issue:
    kind: str
    severity: float  # 0..1, higher is worse
    start: float
    end: float
    message: str
    text: str = ""  # an excerpt of the passage
    speaker: str | None = None  # display name or label
    count: int = 1  # how many merged findings

    @property
    def clock(self) -> str:
        return format_timestamp(self.start)


@dataclass
class Report:
    slug: str
    title: str
    duration: float
    issues: list[Issue] = field(default_factory=list)

    def by_kind(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for i in self.issues:
            out[i.kind] = out.get(i.kind, 0) + 1
        return out




def _excerpt(text: str, words: int = 24) -> str:
    parts = text.split()
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


# -- detectors ---------------------------------------------------------------------------------------
def find_loops(utts: list[Utterance], o: ReportOptions) -> list[Issue]:
    """Repeated n-grams in the token stream of the whole transcript (so a loop split over several
    utterances is found too): tokens[i:i+n] repeated k >= loop_min_repeats times in a row."""
    tokens: list[str] = []
    where: list[int] = []
    for ui, u in enumerate(utts):
        if "non-speech" in u.flags:  # "(upbeat music)" lines: sound descriptions, not recognised words
            continue
        for w in words(u.text):
            tokens.append(w)
            where.append(ui)
    issues = []
    n_tok = len(tokens)
    starts = _loop_starts(tokens, o)
    i = 0
    for c in starts:
        if c < i:
            continue
        i = int(c)
        best = None  # (covered tokens, n, repeats)
        for n in range(1, o.loop_max_ngram + 1):
            if i + 2 * n > n_tok:
                break
            if tokens[i + n] != tokens[i]:
                continue
            gram = tokens[i: i + n]
            k = 1
            while tokens[i + k * n: i + (k + 1) * n] == gram:
                k += 1
            need = o.loop_min_repeats + (1 if n <= 2 else 0)
            if k >= need and k * n >= o.loop_min_tokens and (best is None or k * n > best[0]):
                best = (k * n, n, k)
        if best is None:
            continue
        covered, n, k = best
        first, last = utts[where[i]], utts[where[i + covered - 1]]
        phrase = " ".join(tokens[i: i + n])
        issues.append(Issue(kind="loop", severity=min(0.99, 0.9 + 0.01 * k), start=first.start, end=last.end,
                            message=f"repetition loop: {k}× “{_excerpt(phrase, 12)}”",
                            text=_excerpt(" ".join(u.text for u in utts[where[i]: where[i + covered - 1] + 1]), 40),
                            speaker=first.speaker))
        i += covered
    return issues


def _loop_starts(tokens: list[str], o: ReportOptions):
    """Token positions where a loop can start (a superset :func:`find_loops` then checks), found with
    one vectorised pass per n-gram length instead of a Python loop over every token and length: at
    position i, n-grams repeat k times in a row exactly when tokens[j] == tokens[j + n] for the
    (k - 1) * n positions j from i on."""
    import numpy as np

    vocab: dict[str, int] = {}
    ids = np.fromiter((vocab.setdefault(t, len(vocab)) for t in tokens), dtype=np.int64, count=len(tokens))
    cand = np.zeros(len(ids), dtype=bool)
    for n in range(1, o.loop_max_ngram + 1):
        if 2 * n > len(ids):
            break
        eq = ids[:-n] == ids[n:]
        # run[j]: how many equal positions in a row start at j
        idx = np.arange(len(eq))
        next_false = np.where(~eq, idx, len(eq))
        next_false = np.minimum.accumulate(next_false[::-1])[::-1]
        k = 1 + (next_false - idx) // n
        need = o.loop_min_repeats + (1 if n <= 2 else 0)
        cand[: len(eq)] |= (k >= need) & (k * n >= o.loop_min_tokens)
    return np.flatnonzero(cand)


_FLAG_ISSUES = {
    "repetition": (0.85, "the speech recogniser flagged a repetition"),
    "no-speech": (0.8, "text over silence or music (the speech recogniser heard no speech)"),
    "low-confidence": (0.6, "the speech recogniser was not confident"),
}


def flagged(utts: list[Utterance]) -> list[Issue]:
    out = []
    for u in utts:
        for flag in u.flags:
            if flag in _FLAG_ISSUES:
                sev, msg = _FLAG_ISSUES[flag]
                out.append(Issue(kind=flag, severity=sev, start=u.start, end=u.end, message=msg,
                                 text=_excerpt(u.text), speaker=u.speaker))
    return out


def sparse_text(utts: list[Utterance], o: ReportOptions) -> list[Issue]:
    out = []
    for u in utts:
        dur = u.end - u.start
        if "non-speech" in u.flags or "no-speech" in u.flags or dur < o.sparse_min_seconds:
            continue
        n = len(words(u.text))
        if n / dur < o.sparse_words_per_second:
            out.append(Issue(kind="over-silence", severity=0.65, start=u.start, end=u.end,
                             message=f"{n} words over {dur:.0f} s: text over silence or music?",
                             text=_excerpt(u.text), speaker=u.speaker))
    return out


def low_probability(utts: list[Utterance], o: ReportOptions) -> list[Issue]:
    out = []
    for u in utts:
        probs = [w.probability for w in u.words if w.probability is not None]
        if len(probs) < o.min_scored_words:
            continue
        mean = sum(probs) / len(probs)
        if mean < o.low_probability:
            sev = 0.4 + 0.45 * (o.low_probability - mean) / o.low_probability
            out.append(Issue(kind="low-probability", severity=round(sev, 3), start=u.start, end=u.end,
                             message=f"mean word probability {mean:.2f}", text=_excerpt(u.text),
                             speaker=u.speaker))
    return out


def speaker_changes(utts: list[Utterance], o: ReportOptions) -> list[Issue]:
    """Words of one speaker that run into the next speaker's turn (or start before the previous ends)."""
    out = []
    for a, b in zip(utts, utts[1:]):
        if a.speaker is None or b.speaker is None or a.speaker == b.speaker:
            continue
        a_end = max([a.end] + [w.end for w in a.words])
        b_start = min([b.start] + [w.start for w in b.words])
        spill = a_end - b_start
        if spill > o.boundary_tolerance:
            crossing = [w.text for w in a.words if w.end > b_start + o.boundary_tolerance]
            crossing += [w.text for w in b.words if w.start < a_end - o.boundary_tolerance]
            out.append(Issue(kind="speaker-change", severity=round(min(0.7, 0.45 + 0.05 * spill), 3),
                             start=b_start, end=a_end,
                             message=f"words overlap a speaker change by {spill:.1f} s"
                                     + (f": {_excerpt(' '.join(crossing), 8)}" if crossing else ""),
                             text=_excerpt(a.text.split(".")[-1] or a.text, 12) + " | " + _excerpt(b.text, 12),
                             speaker=b.speaker))
    return out


def chapter_links(ep: Episode, papers: dict | None, o: ReportOptions) -> list[Issue]:
    out = []
    for i, c in enumerate(sorted(ep.chapters, key=lambda c: c.start), 1):
        if c.paper and c.source != "person" and c.confidence < o.low_chapter_confidence:
            title = papers[c.paper].title if papers and c.paper in papers else c.paper
            sev = 0.55 + 0.4 * (o.low_chapter_confidence - c.confidence) / o.low_chapter_confidence
            out.append(Issue(kind="chapter-link", severity=round(sev, 3), start=c.start, end=c.end or c.start,
                             message=f"chapter {i} “{c.title}” linked to “{title}” with low confidence "
                                     f"({c.confidence:.2f})", text=c.title))
    return out


def speaker_names(ep: Episode, people: dict[str, Person], proposals: Iterable, o: ReportOptions) -> list[Issue]:
    out = []
    first: dict[str, float] = {}
    spoken: dict[str, float] = {}
    for u in ep.transcript.utterances:
        if u.speaker is not None:
            first.setdefault(u.speaker, u.start)
            spoken[u.speaker] = spoken.get(u.speaker, 0.0) + (u.end - u.start)
    for m in proposals:
        name = people[m.person].name if m.person in people else m.person
        out.append(Issue(kind="unconfirmed-name", severity=round(0.4 + 0.3 * (1 - m.score), 3),
                         start=first.get(m.label, 0.0), end=first.get(m.label, 0.0),
                         message=f"speaker {m.label} named {name} by voice ({m.score:.2f}), not confirmed: "
                                 f"recap voices confirm {ep.slug} {m.label}", speaker=m.label))
    unnamed = [lab for lab, secs in spoken.items() if lab not in ep.speakers and secs >= o.unnamed_min_seconds]
    if len(unnamed) > o.max_unnamed_listed:  # e.g. the per-turn labels of an imported transcript
        secs = sum(spoken[lab] for lab in unnamed)
        at = min(first[lab] for lab in unnamed)
        out.append(Issue(kind="unnamed-speaker", severity=0.3, start=at, end=at,
                         message=f"{len(unnamed)} speaker labels ({secs / 60:.0f} min of speech) have no name: "
                                 f"run `recap align {ep.slug}` or name them under [speakers] in episode.toml"))
        return out
    for label in unnamed:
        out.append(Issue(kind="unnamed-speaker", severity=0.3, start=first[label], end=first[label],
                         message=f"speaker {label} ({spoken[label] / 60:.0f} min of speech) has no name",
                         speaker=label))
    return out


def foreign_speakers(ep: Episode, people: dict[str, Person], o: ReportOptions) -> list[Issue]:
    """Long stretches of a chapter attributed (speaker label -> person) to someone who presents another
    chapter but is not among this one's speakers: most often a new presenter under the label of the talk
    before, or a chapter that runs on past its end."""
    out = []
    chapters = sorted(ep.chapters, key=lambda c: c.start)
    presenters = {pid for c in chapters for pid in c.speakers}
    utts = sorted(ep.transcript.utterances, key=lambda u: u.start)
    for i, c in enumerate(chapters, 1):
        end = c.end if c.end is not None else (chapters[i].start if i < len(chapters) else float("inf"))
        runs: dict[str, list[float]] = {}  # person -> [first start, last end, seconds]
        for u in utts:
            if not (c.start <= u.start < end) or u.speaker not in ep.speakers:
                continue
            pid = ep.speakers[u.speaker]
            person = people.get(pid)
            if pid in c.speakers or pid not in presenters or (person is not None and person.host):
                continue
            run = runs.setdefault(pid, [u.start, u.end, 0.0])
            run[1], run[2] = u.end, run[2] + (u.end - u.start)
        for pid, (a, b, secs) in runs.items():
            if secs < o.foreign_min_seconds:
                continue
            name = people[pid].name if pid in people else pid
            out.append(Issue(kind="speaker-outside-chapter", severity=0.6, start=a, end=b,
                             message=f"{secs / 60:.0f} min of chapter {i} “{c.title}” attributed to {name}, "
                                     f"who presents another chapter but is not among this one's speakers",
                             speaker=name))
    return out


def _merge(issues: list[Issue], gap: float) -> list[Issue]:
    """Join passages of the same kind (and speaker) closer than ``gap`` seconds."""
    out: list[Issue] = []
    mergeable = {"repetition", "no-speech", "low-confidence", "low-probability", "over-silence", "speaker-change"}
    for it in sorted(issues, key=lambda i: (i.kind, i.start)):
        prev = out[-1] if out else None
        if (prev is not None and it.kind in mergeable and prev.kind == it.kind
                and it.start - prev.end <= gap):
            prev.end = max(prev.end, it.end)
            prev.severity = max(prev.severity, it.severity)
            prev.count += 1
            if prev.count == 2:
                prev.message += " (and nearby lines)"
            continue
        out.append(it)
    return out


def transcript_issues(ep: Episode, o: ReportOptions, cache_dir: Path | None = None,
                      transcript_digest: str | None = None) -> list[Issue]:
    """The findings that depend on the transcript alone (loops, flags, sparse text, low probability,
    speaker changes), unmerged. With ``cache_dir`` and the sha256 of the transcript file they are
    kept in the cache (one entry per episode) and reused while that file and the options stay the same (the
    loop finder costs seconds on 50 long episodes; the site build asks for every report on every build)."""
    entry = Cache(cache_dir).entry("report", ep.slug) if cache_dir is not None and transcript_digest else None
    key = f"{FINDINGS_VERSION}|{transcript_digest}|{o!r}"
    if entry is not None:
        cached = entry.get(key)
        if isinstance(cached, list) and all(isinstance(i, Issue) for i in cached):
            return cached
    utts = sorted(ep.transcript.utterances, key=lambda u: u.start)
    issues = (find_loops(utts, o) + flagged(utts) + sparse_text(utts, o) + low_probability(utts, o)
              + speaker_changes(utts, o))
    if entry is not None:
        entry.put(key, issues)
    return issues


FINDINGS_VERSION = 1
"""Bump when the transcript findings change for the same transcript and options."""


def quality_report(ep: Episode, people: dict[str, Person] | None = None, papers: dict | None = None,
                   proposals: Iterable = (), options: ReportOptions = ReportOptions(), *,
                   cache_dir: Path | None = None, transcript_digest: str | None = None) -> Report:
    """Every doubtful passage of ``ep``, worst first (severity, then longer passages, then time).
    ``proposals`` are unconfirmed voice-library matches (:func:`pipeline.audio.voices.unconfirmed`).
    ``cache_dir`` + ``transcript_digest``: see :func:`transcript_issues`."""
    people = people or {}
    o = options
    issues = _merge(transcript_issues(ep, o, cache_dir, transcript_digest), o.merge_gap)
    issues += chapter_links(ep, papers, o) + speaker_names(ep, people, proposals, o) + foreign_speakers(ep, people, o)
    names = {lab: people[pid].name for lab, pid in ep.speakers.items() if pid in people}
    for it in issues:
        if it.speaker in names:
            it.speaker = names[it.speaker]
    issues.sort(key=lambda i: (-round(i.severity, 3), -(i.end - i.start), i.start))
    return Report(slug=ep.slug, title=ep.title, duration=max(ep.duration or 0.0, ep.transcript.duration), issues=issues)


def episode_report(project, slug: str, options: ReportOptions = ReportOptions()) -> Report:
    """The report of a stored episode (with its people, papers and pending voice proposals)."""
    from pipeline.audio.voices import unconfirmed

    store = project.content
    ep = store.load_episode(slug)
    return quality_report(ep, store.load_people(), store.load_papers(), unconfirmed(store, slug), options)
