"""The alignment stage: chapters, chapter-to-paper links, timed mentions, speaker names, poster sessions.

:func:`align_episode` is pure (episode + catalog + people in, :class:`AlignResult` out);
:func:`run_align` loads an episode from content/, runs it and writes the result back through the
:class:`~pipeline.content.ContentStore` (so a person's edits to chapter titles, links and names are kept).

With show-notes chapters (``source="notes"``) their times are checked against the transcript and shifted
when the notes are offset from the recording (an inserted ad); without them chapters are found from the
transcript (:mod:`pipeline.align.chapters`). Links and mentions come from :mod:`pipeline.align.linking`, names from
:mod:`pipeline.align.speakers`. Chapters a person wrote or edited (``source="person"``) are never moved.
"""

from __future__ import annotations

import logging
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pipeline.align.chapters import (
    announced_title,
    handover_names,
    lead_in,
    score_candidates,
    self_intro_names,
    span_text,
    time_window,
)
from pipeline.align.cuts import Placement
from pipeline.align.layout import auto_layout, notes_layout
from pipeline.align.linking import PaperIndex, find_mentions, link_chapter
from pipeline.align.names import (
    by_affiliation,
    by_label_affiliation,
    episode_people,
    new_speaker,
    spelled_as,
    split_labels,
)
from pipeline.align.speakers import person_for, resolve_name, same_person, sounds_like
from pipeline.align.spelling import Source, respell
from pipeline.align.topics import TopicOptions, section_terms, section_title
from pipeline.ids import slugify
from pipeline.models import Chapter, Episode, Mention, Paper, Person, Poster, Transcript, Utterance
from pipeline.sources.catalog import short_names
from pipeline.timefmt import format_timestamp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AlignOptions:
    """Options of the alignment stage."""

    embeddings: bool = True  # sentence embeddings for topic shifts and content-vs-abstract similarity
    boundary_threshold: float = 2.4  # minimum evidence score of a chapter start found without notes
    min_chapter: float = 150.0  # seconds: two found chapter starts are at least this far apart
    link_min_score: float = 3.0  # minimum evidence for a chapter-to-paper link
    link_margin: float = 1.0  # ... and its lead over the runner-up (wrong links are worse than none)
    max_offset: float = 600.0  # seconds: largest notes-vs-audio offset looked for
    offset_tolerance: float = 4.0  # seconds: a notes start and a transcript cue this close agree
    opening: float = 150.0  # seconds of a chapter read as its opening (compared with abstracts)
    section_length: float = 300.0  # seconds: the target length of a topic section inside a long talk
    cache_dir: Path | None = None  # where sentence embeddings are cached


@dataclass
class AlignResult:
    chapters: list[Chapter]
    mentions: list[Mention]
    speakers: dict[str, str]  # speaker label -> person id
    people: list[Person]  # new or updated people
    posters: list[Poster]
    papers: list[str]  # paper ids the episode covers
    notes: list[str] = field(default_factory=list)  # human-readable decisions ("notes are 45.0 s behind ...")
    placements: list[Placement] = field(default_factory=list)  # what happened to each notes chapter
    transcript: Transcript | None = None  # the transcript with split speaker labels, when any were split


_HANDBACK = re.compile(r"\b(?:hand(?:ing)? it (?:over|off|back) to|turn it over to|back to|pass it (?:over |on )?to)\s+"
                       r"(?P<name>[A-Z][a-zA-Z'-]+)")


def _strip_et_al(name: str) -> str:
    return re.sub(r"\s*\bet\.? al\.?\s*$", "", name).strip()


@dataclass
class _ChapterNames:
    """What a chapter's spoken names are resolved against: "I'm Tim" becomes the full name in the notes,
    the paper's authors, an earlier chapter, the people known or the catalog."""

    resolved: list[str]  # names already resolved in this chapter
    notes_names: list[str]
    full_authors: list[str]
    surnames: list[str]  # "Dettmers et al.": only the surname is known
    said_in_full: list[str]  # "here's Jeff Dean and Greg Corrado"
    first_intro: str | None
    earlier_names: list[str]
    people: dict[str, Person]  # read when used: the chapter's loop adds people
    catalog_authors: list[str]
    described: list[str]  # people the episode's description names

    def resolve(self, name: str, at: int | None, depth: int = 0) -> str:
        full = resolve_name(name, self.resolved, self.notes_names, self.full_authors)
        if full is None and at is not None and name == self.first_intro:
            # the chapter's first self-introduction is most likely the presenter the notes name
            close = [n for n in self.notes_names if sounds_like(name, n)]
            full = close[0] if len(close) == 1 else None
        if full is None:  # "My name is Samir" again, in the poster session after his talk
            full = resolve_name(name, self.earlier_names)
        if full is None and len(name.split()) >= 2:
            known = [p.name for p in self.people.values()]
            full = resolve_name(name, known) or resolve_name(name, self.catalog_authors, strict=True)
        if full is None and self.surnames and (len(name.split()) >= 2 or name == self.first_intro):
            full = _with_surname(name, self.surnames, first=name == self.first_intro)
        if full is None and len(name.split()) < 2 and depth == 0:
            longer = resolve_name(name, self.said_in_full)  # "I'm Jeff" after "here's Jeff Dean"
            if longer is not None:
                full = self.resolve(longer, at, 1)
        if full is None:  # "I'm Luca" and a description that hosts "Luca Soldaini"
            full = resolve_name(name, self.described)
        return full or name


def _with_surname(spoken: str, surnames: list[str], *, first: bool) -> str | None:
    """A speaker's full name from what they say and the catalog's surname-only author ("Dettmers et
    al."): "Tim" + "Dettmers" when they are the first to introduce themselves (most often the
    presenting first author: right for "Tim" and "Niklas" in the seed episode, wrong for "Jane" in
    a talk on "Schick et al."; show notes or a person's correction in content/people/ settle it);
    "Ryland Schaefer" -> "Ryland Schaeffer" when the surnames are close."""
    words = spoken.split()
    if len(words) >= 2:
        for s in surnames:
            if same_person(words[-1], f"X {s}"):
                return " ".join([*words[:-1], s])
        return None
    if first and len(surnames) == 1:
        return f"{spoken} {surnames[0]}"
    return None


def _split_labels(utts: list[Utterance], chapters: list[Chapter]) -> tuple[list[Utterance], int]:
    """:func:`~pipeline.align.names.split_labels` at the chapters' starts, with the chapters whose notes
    name presenters other than the chapter before's, and each chapter's speakers."""
    fresh = [k > 0 and bool(c.speakers) and not set(c.speakers) & set(chapters[k - 1].speakers)
             for k, c in enumerate(chapters)]
    return split_labels(utts, [_chapter_range(utts, c.start, c.end)[0] for c in chapters], fresh,
                        [c.speakers for c in chapters])


def _chapter_range(utts: list[Utterance], start: float, end: float | None) -> tuple[int, int]:
    lo = next((i for i, u in enumerate(utts) if u.start >= start - 0.5), len(utts))
    hi = len(utts) if end is None else next((i for i, u in enumerate(utts) if u.start >= end - 0.5), len(utts))
    return lo, max(lo, hi)


def _embed_sim(cache_dir: Path | None, papers: dict[str, Paper]):
    def sim(text: str, ids: list[str]) -> dict[str, float]:
        from pipeline.embed import embed_texts

        docs = [" ".join(f"{papers[p].title}. {papers[p].abstract}".split()[:120]) for p in ids]
        vecs = embed_texts([" ".join(text.split()[:150]), *docs], cache_dir=cache_dir)
        return {p: float(vecs[0] @ vecs[k + 1]) for k, p in enumerate(ids)}

    return sim


def _title(paper: Paper | None, kind: str, names: list[str], start: float, announced: str | None = None) -> str:
    if paper is not None or announced:
        names_ = short_names(paper) if paper is not None else []
        short = names_[0] if names_ else (paper.title if paper is not None else announced)
        return f"{short} poster session" if kind == "poster" else str(short)
    if names:
        return f"Poster session with {names[0]}" if kind == "poster" else f"Talk by {names[0]}"
    return f"{'Poster session' if kind == 'poster' else 'Talk'} at {format_timestamp(start)}"


def _find_host(utts: list[Utterance], chapters: list[Chapter], people: dict[str, Person],
               notes: list[str], description: str = "") -> Person | None:
    """The host: a known host, or whoever introduces themselves before the first chapter."""
    host = next((p for p in people.values() if p.host), None)
    if host is not None:
        return host
    first = next((c.start for c in chapters if c.kind != "intro"), 60.0)
    for u in utts:
        if u.start >= min(first, 120.0):
            break
        names = self_intro_names(u.text)
        if names:
            # the notes' spelling of a handle wins over the ASR's ("this is Swix", notes by "swyx")
            full = (resolve_name(names[0], [p.name for p in people.values()])
                    or spelled_as(names[0], description) or names[0])
            host = person_for(people, full, spoken=names[0], host=True)
            notes.append(f"host: {host.name}")
            return host
    return None


def align_episode(episode: Episode, papers: dict[str, Paper], people: dict[str, Person],
                  options: AlignOptions | None = None) -> AlignResult:
    """Align one episode (pure: the arguments are not modified). See the module docstring."""
    opts = options or AlignOptions()
    people = {k: replace(v, aliases=list(v.aliases)) for k, v in people.items()}
    before = {k: replace(v, aliases=list(v.aliases)) for k, v in people.items()}
    utts = episode.transcript.utterances
    notes: list[str] = []
    chapters = [replace(c, speakers=list(c.speakers)) for c in episode.chapters]
    if not utts:
        notes.append("no transcript: chapters left as they are")
        return AlignResult(
            chapters, list(episode.mentions), dict(episode.speakers), [], [], list(episode.papers), notes
        )

    fixed = [c for c in chapters if c.source in ("notes", "person", "transcript")]
    candidates = score_candidates(utts, embeddings=opts.embeddings, cache_dir=opts.cache_dir)
    index = PaperIndex(papers)
    embed_sim = _embed_sim(opts.cache_dir, papers) if opts.embeddings else None
    labelled = any(u.speaker for u in utts)
    topics = TopicOptions(target=opts.section_length, min_section=min(opts.min_chapter, 0.4 * opts.section_length))
    if fixed:
        layout = notes_layout(utts, chapters, candidates, max_offset=opts.max_offset,
                              tolerance=opts.offset_tolerance, threshold=opts.boundary_threshold,
                              min_gap=opts.min_chapter, labelled=labelled, topics=topics,
                              embeddings=opts.embeddings, cache_dir=opts.cache_dir,
                              names={k: [people[s].name for s in c.speakers if s in people]
                                     for k, c in enumerate(chapters)})
    else:
        layout = auto_layout(utts, candidates, threshold=opts.boundary_threshold, min_gap=opts.min_chapter,
                             labelled=labelled, topics=topics, embeddings=opts.embeddings,
                             cache_dir=opts.cache_dir)
    chapters, boundary_of = layout.chapters, layout.boundary_of
    notes += layout.notes
    duration = episode.transcript.duration or episode.duration
    for k, c in enumerate(chapters):
        if c.source != "person" or c.end is None:
            c.end = chapters[k + 1].start if k + 1 < len(chapters) else duration

    host = _find_host(utts, chapters, people, notes, episode.description)
    utts, split = _split_labels(utts, chapters)
    described = episode_people(episode.title, episode.description)  # an episode's title names its speakers too
    background: Counter[str] = Counter()  # in how many chapters each term is said (for key-phrase titles)
    for c in chapters:
        background.update(section_terms(span_text(utts, *_chapter_range(utts, c.start, c.end))))

    catalog_authors = sorted(
        {n for p in papers.values() for a in p.authors if len((n := _strip_et_al(a)).split()) >= 2}
    )
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    covered: list[str] = list(episode.papers)
    earlier_names: list[str] = []  # people who spoke in the chapters before (not the host)
    presented: dict[str, list[str]] = defaultdict(list)  # paper id -> who presented it in an earlier chapter
    posters: list[Poster] = []
    for k, c in enumerate(chapters):
        lo, hi = _chapter_range(utts, c.start, c.end)
        if lo >= len(utts):
            continue
        b = boundary_of.get(k)
        if b is not None and b.index < lo:  # notes round to the second: "15:28" for speech from 15:27.1
            lo = b.index
        intro = b.lead_in if b is not None else lead_in(utts, lo)
        _, ohi = time_window(utts, lo, opts.opening, forward=True)
        opening = span_text(utts, lo, min(ohi, hi))
        body = span_text(utts, lo, hi)
        # names spoken at the start: self-introductions, co-presenters, the host's hand-over
        spoken: list[tuple[str, int | None]] = []  # (name, utterance index where they introduce themselves)
        _, ihi = time_window(utts, lo, 45.0, forward=True)
        for i in range(lo, min(ihi, hi)):
            for n in self_intro_names(utts[i].text):
                spoken.append((n, i))
            if re.search(r"\bhere with\b|\bjoined by\b", utts[i].text):
                spoken += [(n, None) for n in handover_names(utts[i].text)]
        if b is not None:
            spoken += [(n, None) for n in b.handover]
        if c.kind == "intro":
            spoken = []
        notes_names = [people[s].name for s in c.speakers if s in people]

        # the paper
        paper: Paper | None = papers.get(c.paper) if c.paper else None
        if c.kind != "intro" and (paper is None or c.source == "auto"):
            hint = c.title if c.source == "notes" else ""
            pid, conf, ranked = link_chapter(
                index, lead_in=intro, opening=opening, body=body, names=[n for n, _ in spoken] + notes_names,
                hint=hint, embed_sim=embed_sim, min_score=opts.link_min_score, margin=opts.link_margin,
                presented=presented,
                # a poster session where nobody new is named, after a talk: most likely the same work
                continues=(chapters[k - 1].paper if k and c.kind == "poster" and not spoken and not notes_names
                           else None))
            if pid is not None:
                paper = papers[pid]
                c.paper = pid
                if c.source == "auto":
                    c.confidence = round(min(c.confidence, conf) if c.confidence else conf, 3)
            log.debug("chapter %s: %s", format_timestamp(c.start),
                      [(e.paper, round(e.score, 2), e.reasons) for e in ranked[:3]])
        if c.paper and c.paper not in covered:
            covered.append(c.paper)

        # the speakers
        authors = [_strip_et_al(a) for a in paper.authors] if paper is not None else []
        full_authors = [a for a in authors if len(a.split()) >= 2]
        # "Dettmers et al.": only the surname is known; the speaker who introduces themselves gives the rest
        surnames = [a for a in authors if len(a.split()) == 1]
        ids: list[str] = list(c.speakers)
        resolved: list[str] = []
        said_in_full = [n for n, _ in spoken if len(n.split()) >= 2]  # "here's Jeff Dean and Greg Corrado"
        first_intro = next((n for n, at in spoken if at is not None), None)

        names = _ChapterNames(resolved, notes_names, full_authors, surnames, said_in_full, first_intro,
                              earlier_names, people, catalog_authors, [d.name for d in described])

        for name, at in spoken:
            if host is not None and resolve_name(name, [host.name, *host.aliases]):
                person = host
            else:
                person = person_for(people, names.resolve(name, at), spoken=name)
                resolved.append(person.name)
            if person.id not in ids and not person.host:
                ids.append(person.id)
            said_by = utts[at].speaker if at is not None else None
            if said_by:
                votes[said_by][person.id] += 2
        # "back to Greg", "hand it over to Alex": the next turn is theirs
        for i in range(lo, hi - 1):
            m = _HANDBACK.search(utts[i].text)
            if not m:
                continue
            full = resolve_name(m.group("name"), [people[s].name for s in ids if s in people])
            if full is None:
                continue
            person = person_for(people, full)
            j = next((j for j in range(i + 1, min(hi, i + 6)) if utts[j].speaker != utts[i].speaker), None)
            next_speaker = utts[j].speaker if j is not None else None
            if next_speaker:
                votes[next_speaker][person.id] += 1
        # the host's hand-over just before the chapter
        if host is not None and b is not None and "handover" in b.cues:
            for label in {utts[i].speaker for i in range(max(0, lo - 3), lo)}:
                if label and label != utts[lo].speaker:
                    votes[label][host.id] += 1
        topic = b is not None and any(x.startswith("topic section") for x in b.cues)
        prev_ids = list(chapters[k - 1].speakers) if k else []
        first_words = span_text(utts, lo, min(hi, time_window(utts, lo, 40.0, forward=True)[1]))
        if not spoken and not ids and c.kind != "intro":
            # nobody introduced: the one described person whose affiliation the opening names
            d = by_affiliation(first_words, described, [people[x].name for x in prev_ids if x in people],
                               earlier_names)
            if d is not None and (new_speaker(first_words) or not prev_ids):
                ids = [person_for(people, d.name).id]
            elif (topic or (c.source == "notes" and c.kind != "poster")) and not new_speaker(first_words) and not (
                    b is not None and {"handover", "self-introduction"} & set(b.cues)):
                ids = prev_ids  # a section of the talk before, nobody new: its speaker goes on
        c.speakers = ids
        for s in ids:
            if s in people and people[s].name not in earlier_names:
                earlier_names.append(people[s].name)
            if c.paper and s in people and people[s].name not in presented[c.paper]:
                presented[c.paper].append(people[s].name)
        if c.source == "auto" and c.kind != "intro":
            announced = next((t for i in range(lo, min(ihi, hi)) if (t := announced_title(
                span_text(utts, i, min(i + 2, hi))))), None)  # an announcement may run over two lines
            c.title = _title(paper, c.kind, [people[s].name for s in ids if s in people], c.start, announced)
            if (topic or not ids) and paper is None and not announced:
                c.title = section_title(body, background, len(chapters)) or c.title
            elif topic and paper is not None:  # a later section of a talk about one paper
                phrases = section_title(body, background, len(chapters))
                c.title = f"{c.title}: {phrases[:1].lower()}{phrases[1:]}" if phrases else c.title
        if c.kind == "poster" and c.paper is None:
            # serialize drops None and Poster.paper has no default, so such a record would not load back
            notes.append(f"poster session at {format_timestamp(c.start)} has no catalog paper: no poster record")
        elif c.kind == "poster":
            excerpt = span_text(utts, lo, min(hi, time_window(utts, lo, 60.0, forward=True)[1]))
            pid = slugify(f"{episode.slug}-{c.paper or format_timestamp(c.start)}")
            if any(p.id == pid for p in posters):
                pid = slugify(f"{pid}-{format_timestamp(c.start)}")
            posters.append(Poster(id=pid, paper=c.paper, episode=episode.slug, start=c.start, end=c.end,
                                  presenters=list(ids), excerpt=excerpt[:600]))
    if host is not None and utts and utts[0].speaker:
        for u in utts[:40]:
            if self_intro_names(u.text):
                votes[u.speaker][host.id] += 2  # type: ignore[index]
                break

    # a presenter named from other evidence (an affiliation, the notes) whose speech runs on under the
    # label of the chapter before: that label is split there too, and the new one is theirs
    utts, more = _split_labels(utts, chapters)
    split += more
    speakers = dict(episode.speakers)
    for label, counter in votes.items():
        if label not in speakers:
            speakers[label] = counter.most_common(1)[0][0]
    # a label split at a chapter whose notes name one presenter, and nobody introduced: that presenter
    for label in {u.speaker for u in utts if u.speaker and u.speaker not in speakers}:
        base, _, num = label.rpartition("-")
        if base and num.isdigit() and int(num) < len(chapters) and len(chapters[int(num)].speakers) == 1:
            speakers[label] = chapters[int(num)].speakers[0]
    # a label nothing named whose opening names a described person's organisation ("we're from Roboflow")
    named = {label: people[pid].name for label, pid in speakers.items() if pid in people}
    for label, d in by_label_affiliation(utts, described, named).items():
        speakers[label] = person_for(people, d.name).id

    def chapter_of(t: float) -> int | None:
        k = None
        for i, c in enumerate(chapters):
            if c.start <= t + 1e-6:
                k = i
        return k

    if split:
        notes.append(f"{split} speaker labels split where a new presenter speaks on under the label of the "
                     f"chapter before")
    # one spelling per person where the episode's sources disagree (a heading's "Soldani", the body's "Soldaini")
    sources = [Source("body", episode.description), Source("title", episode.title), Source("asr", span_text(
        utts, 0, len(utts))), Source("heading", "\n".join(
        [c.title for c in episode.chapters if c.source == "notes"]  # and the names they were read from
        + [before[s].name for c in episode.chapters if c.source == "notes" for s in c.speakers if s in before])),
        Source("catalog", names=tuple(catalog_authors))]
    notes += respell(people, [*speakers.values(), *(s for c in chapters for s in c.speakers)], sources)
    mentions = find_mentions(index, utts, chapter_of)
    for k, c in enumerate(chapters):
        if c.paper:
            lo, _ = _chapter_range(utts, c.start, c.end)
            u = utts[min(lo, len(utts) - 1)]
            mentions.append(Mention(paper=c.paper, start=c.start, end=c.end or u.end, quote=u.text.strip(),
                                    speaker=u.speaker, chapter=k, kind="chapter", score=c.confidence))
    mentions.sort(key=lambda m: (m.start, m.paper, m.kind))
    changed = [p for pid, p in people.items() if pid not in before or before[pid] != p]
    linked = sum(1 for c in chapters if c.paper)
    notes.append(f"{len(chapters)} chapters, {linked} linked to papers, {len(mentions)} mentions, "
                 f"{len(speakers)} speaker labels named, {len(posters)} poster sessions")
    return AlignResult(chapters=chapters, mentions=mentions, speakers=speakers, people=changed, posters=posters,
                       papers=covered, notes=notes, placements=layout.placements,
                       transcript=replace(episode.transcript, utterances=utts) if split else None)


def run_align(project: Any, slug: str, options: AlignOptions | None = None) -> AlignResult:
    """Align episode ``slug`` of ``project`` and write chapters, mentions, speakers, people and posters
    through the content store (a person's edits are merged, not overwritten)."""
    store = project.content
    opts = options or AlignOptions(cache_dir=Path(project.cache_dir) / "align",
                                   section_length=project.config.align.section_length)
    if opts.cache_dir is None:
        opts = replace(opts, cache_dir=Path(project.cache_dir) / "align")
    with store.lock_episode(slug):
        ep = store.load_episode(slug)
        result = align_episode(ep, store.load_papers(), store.load_people(), opts)
        ep.chapters = result.chapters
        ep.mentions = result.mentions
        ep.speakers = result.speakers
        ep.papers = result.papers
        parts: tuple[str, ...] = ("meta", "chapters", "mentions")
        if result.transcript is not None:
            ep.transcript = result.transcript
            parts = (*parts, "transcript")
        store.save_episode(ep, parts=parts)
        for person in result.people:
            store.save_person(person)
        new_ids = {p.id for p in result.posters}
        for old in store.load_posters().values():  # posters of this episode recap made before, gone now
            rel = f"posters/{old.id}.toml"
            if old.episode == slug and old.id not in new_ids and rel in store.manifest() and not store.edited(rel):
                store.delete(rel)
        for poster in result.posters:
            image = store.poster_image(poster)  # a poster image a person put in content/posters/
            if image is not None:
                poster.image = image.name
            store.save_poster(poster)
    for note in result.notes:
        log.info("%s: %s", slug, note)
    return result
