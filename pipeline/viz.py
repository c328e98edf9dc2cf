"""Pictures of the content, computed at build time: the speaker timeline of an episode, the 2-D map of
all papers, and each paper's related papers.

Everything here is layout (numbers and strings in typed dataclasses); the SVG itself is written by the
Jinja2 partials ``templates/_timeline.html`` and ``templates/_paper_map.html``, so every name and title
is escaped by the template engine. No chart library, no script: the pictures are plain SVG links that
work without JavaScript (anchor jumps) and seek the player with the site's seek script.

The paper map embeds "title. abstract" with :func:`pipeline.embed.embed_texts` (all-MiniLM-L6-v2) and
projects the vectors with scikit-learn (PCA, then t-SNE with a fixed ``random_state`` when there are
enough papers). The layout and the related-paper lists are cached under the project's cache folder by
a hash of every paper's text, so an unchanged catalog costs one file read.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .models import Episode, Paper, Person
from .timefmt import format_timestamp

log = logging.getLogger(__name__)

UNIDENTIFIED = "Unidentified"
PALETTE = ("#2b6cb0", "#c05621", "#2f855a", "#9b2c2c", "#6b46c1", "#b7791f", "#2c7a7b", "#97266d",
           "#4a5568", "#276749", "#744210", "#553c9a")
UNIDENTIFIED_COLOR = "#a0aec0"


# -- speaker timeline ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class TimelineOptions:
    width: float = 1000.0
    """Width of the drawing in SVG user units (it scales to the page with its viewBox)."""
    label_width: float = 150.0
    """Room for the lane names at the left, inside ``width``."""
    lane_height: float = 16.0
    lane_gap: float = 4.0
    chapter_height: float = 18.0
    axis_height: float = 18.0
    merge_px: float = 2.0
    """Turns of one lane closer than this many units are drawn as one segment (keeps a 3-hour
    episode's SVG small: at 850 units for 12,000 s one unit is 14 s)."""
    min_px: float = 1.5
    """Narrowest segment drawn; shorter speech is widened to stay visible and clickable."""
    own_lane_share: float = 0.03
    """An unnamed speaker label gets its own lane when it holds this share of the speech (and at
    least ``own_lane_seconds``); the rest share the "Unidentified" lane."""
    own_lane_seconds: float = 20.0
    max_unnamed_lanes: int = 6


@dataclass
class Segment:
    start: float
    end: float
    x: float
    w: float
    turns: int  # how many utterances were merged into it
    label: str  # "0:12:03–0:14:40"


@dataclass
class Lane:
    key: str  # person id, speaker label, or "" for Unidentified
    name: str
    color: str
    y: float
    person: str | None = None
    labels: list[str] = field(default_factory=list)  # speaker labels drawn in this lane
    seconds: float = 0.0
    turns: int = 0
    first: float = 0.0
    share: float = 0.0  # of all speech in the episode
    segments: list[Segment] = field(default_factory=list)


@dataclass
class ChapterMark:
    index: int
    start: float
    end: float
    x: float
    w: float
    title: str
    clock: str
    paper: str | None = None


@dataclass
class Tick:
    x: float
    label: str


@dataclass
class Timeline:
    duration: float
    width: float
    height: float
    label_width: float
    lane_height: float
    chapter_y: float
    chapter_height: float
    axis_y: float
    lanes: list[Lane]
    chapters: list[ChapterMark]
    ticks: list[Tick]
    description: str  # one-sentence text alternative

    @property
    def segment_count(self) -> int:
        return sum(len(lane.segments) for lane in self.lanes)


def build_timeline(episode: Episode, people: dict[str, Person] | None = None,
                   options: TimelineOptions = TimelineOptions()) -> Timeline | None:
    """Lay out ``episode``'s speakers and chapters on one strip; None when there is nothing to draw.

    Lanes: one per named person (all labels mapped to them via ``episode.speakers`` share it), one per
    unnamed label that holds a real share of the speech, and an "Unidentified" lane for the rest (the
    many per-turn labels of an imported transcript that alignment did not name, unlabelled speech)."""
    people = people or {}
    utts = [u for u in episode.transcript.utterances if u.end > u.start and "non-speech" not in u.flags]
    duration = max([episode.duration or 0.0, episode.transcript.duration,
                    *[(c.end or c.start) for c in episode.chapters]])
    if duration <= 0 or (not utts and not episode.chapters):
        return None
    o = options
    plot_w = o.width - o.label_width
    scale = plot_w / duration

    # seconds per label, then which labels earn a lane
    by_label: dict[str | None, float] = {}
    for u in utts:
        by_label[u.speaker] = by_label.get(u.speaker, 0.0) + (u.end - u.start)
    total = sum(by_label.values()) or 1.0
    named = {lab: pid for lab, pid in episode.speakers.items() if pid}
    unnamed = sorted((lab for lab in by_label if lab is not None and lab not in named),
                     key=lambda lab: -by_label[lab])
    own = [lab for lab in unnamed
           if by_label[lab] >= max(o.own_lane_seconds, o.own_lane_share * total)][: o.max_unnamed_lanes]

    def lane_key(label: str | None) -> str:
        if label in named:
            return "p:" + named[label]
        if label in own:
            return "l:" + label
        return ""

    groups: dict[str, list[tuple[float, float]]] = {}
    labels: dict[str, list[str]] = {}
    for u in utts:
        key = lane_key(u.speaker)
        groups.setdefault(key, []).append((float(u.start), float(u.end)))
        if u.speaker is not None and u.speaker not in labels.setdefault(key, []):
            labels[key].append(u.speaker)

    host_ids = {pid for pid, p in people.items() if p.host}

    def order(key: str) -> tuple:
        spans = groups[key]
        return (key == "", not (key.startswith("p:") and key[2:] in host_ids), min(s for s, _ in spans))

    lanes: list[Lane] = []
    top = o.chapter_height + 6 if episode.chapters else 0.0
    for key in sorted(groups, key=order):
        spans = sorted(groups[key])
        if key.startswith("p:"):
            pid = key[2:]
            name = people[pid].name if pid in people else pid
            person = pid
        elif key.startswith("l:"):
            name, person = f"Speaker {key[2:]}", None
        else:
            name, person = UNIDENTIFIED, None
        color = UNIDENTIFIED_COLOR if key == "" else PALETTE[len(lanes) % len(PALETTE)]
        lane = Lane(key=key, name=name, color=color, person=person, labels=labels.get(key, []),
                    y=top + len(lanes) * (o.lane_height + o.lane_gap),
                    seconds=sum(e - s for s, e in spans), turns=len(spans), first=spans[0][0],
                    share=sum(e - s for s, e in spans) / total)
        lane.segments = _merge(spans, scale, o, o.label_width)
        lanes.append(lane)

    chapters = []
    for idx, c in enumerate(sorted(episode.chapters, key=lambda c: c.start)):
        nxt = [x.start for x in episode.chapters if x.start > c.start]
        end = c.end if c.end is not None else (min(nxt) if nxt else duration)
        x = o.label_width + c.start * scale
        chapters.append(ChapterMark(index=idx + 1, start=c.start, end=end, x=round(x, 1),
                                    w=round(max(1.0, (end - c.start) * scale), 1), title=c.title,
                                    clock=format_timestamp(c.start), paper=c.paper))
    axis_y = top + len(lanes) * (o.lane_height + o.lane_gap) + 2
    ticks = [Tick(x=round(o.label_width + t * scale, 1), label=format_timestamp(t))
             for t in _tick_times(duration)]
    height = axis_y + o.axis_height
    desc = (f"Speaker timeline of {format_timestamp(duration)}: {len(lanes)} "
            f"{'lane' if len(lanes) == 1 else 'lanes'} ({', '.join(lane.name for lane in lanes)})"
            + (f", {len(chapters)} chapters marked above." if chapters else "."))
    return Timeline(duration=duration, width=o.width, height=round(height, 1), label_width=o.label_width,
                    lane_height=o.lane_height, chapter_y=0.0, chapter_height=o.chapter_height,
                    axis_y=round(axis_y, 1), lanes=lanes, chapters=chapters, ticks=ticks, description=desc)


def _merge(spans: list[tuple[float, float]], scale: float, o: TimelineOptions, x0: float) -> list[Segment]:
    """Join turns closer than ``merge_px`` units, so a lane has at most a few hundred rectangles."""
    gap = o.merge_px / scale
    merged: list[list[float]] = []
    for s, e in spans:
        if merged and s - merged[-1][1] <= gap:
            merged[-1][1] = max(merged[-1][1], e)
            merged[-1][2] += 1
        else:
            merged.append([s, e, 1])
    out = []
    for s, e, n in merged:
        out.append(Segment(start=s, end=e, x=round(x0 + s * scale, 1), w=round(max(o.min_px, (e - s) * scale), 1),
                           turns=int(n), label=f"{format_timestamp(s)}–{format_timestamp(e)}"))
    return out


def _tick_times(duration: float) -> list[float]:
    for step in (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200):
        if duration / step <= 8:
            break
    return [float(t) for t in range(0, int(duration) + 1, step)]


def time_href(seconds: float) -> str:
    """Default link to a moment of the episode page (the site's seek script handles ``#t-<sec>``)."""
    return f"#t-{int(seconds)}"


# -- paper map and related papers --------------------------------------------------------------------
MAP_VERSION = "map-1"


@dataclass(frozen=True)
class MapOptions:
    width: float = 1000.0
    height: float = 700.0
    margin: float = 24.0
    tsne_min_papers: int = 12
    """Below this many papers the layout is plain PCA (t-SNE needs more points than its perplexity)."""
    perplexity: float = 30.0
    random_state: int = 0
    related_k: int = 5
    related_min_score: float = 0.3
    """Neighbours less similar than this (cosine) are not listed as related."""
    abstract_chars: int = 1200
    """Characters of the abstract embedded with the title (the model reads ~256 tokens anyway)."""


@dataclass
class MapPoint:
    id: str
    title: str
    x: float
    y: float
    discussed: bool = False
    short: str | None = None  # a short name drawn beside discussed papers


@dataclass
class PaperMap:
    width: float
    height: float
    points: list[MapPoint]
    related: dict[str, list[tuple[str, float]]]

    @property
    def discussed(self) -> list[MapPoint]:
        return [p for p in self.points if p.discussed]


def _paper_text(p: Paper, o: MapOptions) -> str:
    return f"{p.title}. {p.abstract[: o.abstract_chars]}".strip()


def _content_key(papers: list[Paper], o: MapOptions) -> str:
    h = hashlib.sha256(MAP_VERSION.encode())
    h.update(repr((o.perplexity, o.random_state, o.tsne_min_papers, o.related_k, o.related_min_score,
                   o.abstract_chars)).encode())
    for p in papers:
        h.update(b"\0" + p.id.encode() + b"\0" + _paper_text(p, o).encode())
    return h.hexdigest()[:24]


def layout_papers(papers: dict[str, Paper], cache_dir: Path | None = None,
                  options: MapOptions = MapOptions()) -> tuple[dict[str, tuple[float, float]], dict[str, list[tuple[str, float]]]]:
    """2-D positions in [0, 1]² and top-k related papers for every paper; cached by content hash."""
    ordered = [papers[k] for k in sorted(papers)]
    if not ordered:
        return {}, {}
    key = _content_key(ordered, options)
    cache_file = Path(cache_dir) / "viz" / f"{key}.json" if cache_dir is not None else None
    if cache_file is not None and cache_file.exists():
        try:
            data = json.loads(cache_file.read_text("utf-8"))
            pos = {k: (float(v[0]), float(v[1])) for k, v in data["pos"].items()}
            rel = {k: [(str(a), float(b)) for a, b in v] for k, v in data["related"].items()}
            return pos, rel
        except (OSError, ValueError, KeyError, TypeError):
            log.info("paper map cache %s unreadable; recomputing", cache_file)
    from .embed import embed_texts

    vecs = embed_texts([_paper_text(p, options) for p in ordered],
                       cache_dir=Path(cache_dir) if cache_dir is not None else None)
    xy = project_2d(vecs, options)
    pos = {p.id: (round(float(x), 5), round(float(y), 5)) for p, (x, y) in zip(ordered, xy)}
    rel = related_from_vectors([p.id for p in ordered], vecs, options.related_k, options.related_min_score)
    if cache_file is not None:
        from .content import atomic_write

        atomic_write(cache_file, json.dumps({"pos": pos, "related": rel}))
    return pos, rel


def project_2d(vecs: np.ndarray, options: MapOptions = MapOptions()) -> np.ndarray:
    """(n, d) normalised vectors -> (n, 2) in [0, 1]², deterministic."""
    n = len(vecs)
    if n == 1:
        return np.array([[0.5, 0.5]])
    from sklearn.decomposition import PCA

    k = min(50, n, vecs.shape[1])
    reduced = PCA(n_components=k if n > 2 else 1, random_state=options.random_state).fit_transform(vecs)
    if n >= options.tsne_min_papers:
        from sklearn.manifold import TSNE

        perplexity = min(options.perplexity, (n - 1) / 3)
        xy = TSNE(n_components=2, perplexity=perplexity, init="pca",
                  random_state=options.random_state).fit_transform(reduced)
    else:
        xy = reduced[:, :2] if reduced.shape[1] >= 2 else np.c_[reduced[:, 0], np.zeros(n)]
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.where(hi - lo > 1e-9, hi - lo, 1.0)
    out = (xy - lo) / span
    out[:, np.where(hi - lo <= 1e-9)[0]] = 0.5
    return out


def related_from_vectors(ids: list[str], vecs: np.ndarray, k: int, min_score: float,
                         block: int = 1024) -> dict[str, list[tuple[str, float]]]:
    """Top-``k`` cosine neighbours of every vector (rows normalised), in blocks to bound memory."""
    out: dict[str, list[tuple[str, float]]] = {}
    n = len(ids)
    kk = min(k, n - 1)
    if kk <= 0:
        return {i: [] for i in ids}
    for b in range(0, n, block):
        sims = vecs[b: b + block] @ vecs.T
        for r in range(sims.shape[0]):
            sims[r, b + r] = -np.inf
        top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        for r, cand in enumerate(top):
            scored = sorted(((float(sims[r, c]), ids[c]) for c in cand), key=lambda t: (-t[0], t[1]))
            out[ids[b + r]] = [(pid, round(s, 4)) for s, pid in scored if s >= min_score]
    return out


def build_paper_map(papers: dict[str, Paper], discussed: Iterable[str] = (), cache_dir: Path | None = None,
                    options: MapOptions = MapOptions()) -> PaperMap:
    """The map of ``papers`` (discussed ones stand out), with each paper's related papers."""
    pos, related = layout_papers(papers, cache_dir, options)
    talked = set(discussed)
    o = options
    points = []
    for pid, (x, y) in pos.items():
        p = papers[pid]
        points.append(MapPoint(id=pid, title=p.title, discussed=pid in talked,
                               short=(p.aliases[0] if p.aliases else None),
                               x=round(o.margin + x * (o.width - 2 * o.margin), 1),
                               y=round(o.margin + (1 - y) * (o.height - 2 * o.margin), 1)))
    # keyboard order: the discussed papers first, then by title
    points.sort(key=lambda m: (not m.discussed, m.title.casefold(), m.id))
    return PaperMap(width=o.width, height=o.height, points=points, related=related)


def related_papers(papers: dict[str, Paper], paper_id: str, cache_dir: Path | None = None,
                   options: MapOptions = MapOptions()) -> list[tuple[Paper, float]]:
    """The papers most similar to ``paper_id`` (title + abstract), best first, with cosine scores."""
    _, related = layout_papers(papers, cache_dir, options)
    return [(papers[rid], score) for rid, score in related.get(paper_id, []) if rid in papers]

