"""The paper map: every paper as a point on one 2-D map (``map/index.html``), near the papers it is
similar to; the papers discussed in episodes stand out.

The layout projects the paper space (:mod:`pipeline.site.related`) with scikit-learn (PCA, then t-SNE
with a fixed ``random_state`` when there are enough papers) and is cached under the project's cache
folder with every paper's text hash: an unchanged catalog costs one file read, and a few new papers
are placed beside their neighbours while every other paper keeps its place. The SVG is written by
the Jinja2 partial ``templates/_paper_map.html`` (names escaped by the template engine, no script).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.cache import Cache, Entry
from pipeline.models import Paper
from pipeline.site.model import Page, Site, html_page
from pipeline.site.related import MapOptions, PaperSpace, discussed_papers, paper_map_enabled, paper_space

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

LAYOUT_VERSION = "layout-1"


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


def layout_papers(space: PaperSpace, cache_dir: Path | None = None,
                  options: MapOptions = MapOptions()) -> dict[str, tuple[float, float]]:
    """2-D positions in [0, 1]² for every paper of ``space``, stable across builds.

    The last layout is kept in the cache (an entry ``viz/layout``) with each paper's text hash. Papers whose
    text is unchanged keep their place; when only a few are new or changed they are put at the
    similarity-weighted mean of their nearest placed neighbours; otherwise (first build, big change)
    the whole catalog is projected again (PCA, then t-SNE with a fixed random_state)."""
    n = len(space.ids)
    if n == 0:
        return {}
    o = options
    okey = repr((LAYOUT_VERSION, o.perplexity, o.random_state, o.tsne_min_papers, o.tsne_max_papers,
                 o.abstract_chars))
    cache = Cache(cache_dir)
    entry = cache.entry("viz", "layout")
    old = _stored_layout(entry.get(okey))
    if not old:
        old = _legacy_layout(cache.folder("viz"), okey, entry)
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
    entry.put(okey, {pid: [x, y, space.hashes[pid]] for pid, (x, y) in pos.items()})
    return pos


def _legacy_layout(folder: Path | None, okey: str, entry: Entry) -> dict[str, list]:
    """The layout an older recap kept in ``viz/layout.json``, moved into the cache entry (read once, so
    an existing map keeps every paper's place instead of being projected again)."""
    legacy = folder / "layout.json" if folder is not None else None
    if legacy is None or not legacy.is_file():
        return {}
    with contextlib.suppress(OSError, ValueError, AttributeError):
        data = json.loads(legacy.read_text("utf-8"))
        if data.get("options") == okey and _stored_layout(data.get("papers")):
            entry.put(okey, data["papers"])
    legacy.unlink(missing_ok=True)
    return _stored_layout(entry.get(okey))


def _stored_layout(value: Any) -> dict[str, list]:
    """paper id -> [x, y, text hash] of a stored layout; {} for a miss or an entry of another shape."""
    if not isinstance(value, dict) or not all(isinstance(v, list) and len(v) == 3 for v in value.values()):
        return {}
    return value


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


def map_pages(site: Site) -> Iterator[Page]:
    """``map/index.html``, the paper map (when ``[site] paper_map`` is on)."""
    if not paper_map_enabled(site):
        return
    pmap = build_paper_map(site.papers, discussed_papers(site), site.project.cache_dir)
    points: list[dict[str, Any]] = [{"id": p.id, "title": p.title, "x": p.x, "y": p.y, "discussed": p.discussed,
                                     "short": p.short, "url": site.url("paper", p.id)} for p in pmap.points]
    ctx = {"points": points, "width": pmap.width, "height": pmap.height,
           "n_discussed": sum(p["discussed"] for p in points), "og_url": site.absolute("map/")}
    yield html_page(site, "map/index.html", "map.html", ctx)
