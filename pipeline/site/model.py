"""The site model: what a build loads from content/ (:class:`Site`), the links between records
(the moments a paper is discussed, references to papers, people and posters, base-aware URLs), and
what page generators make (:class:`Page`, :class:`Deferred` blocks of HTML), with the helpers they
share.

Links are base-aware: ``{{ base }}papers/<id>/`` where ``base`` is the path part of
``config.site.base_url`` ("/" locally, "/podcast/" under a sub-path); feeds and Open Graph tags use
the full base URL (:meth:`Site.absolute`).
"""

from __future__ import annotations

import bisect
import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from pipeline.config import Project
from pipeline.export import site_path
from pipeline.files import file_digest
from pipeline.models import Episode, Paper, Person, Poster, Summary
from pipeline.site.paragraphs import EpisodeText, Paragraph, display_speaker, episode_text, shorten
from pipeline.site.templating import make_env, templates_hash

if TYPE_CHECKING:
    from pipeline.site.search import SearchDoc

log = logging.getLogger(__name__)


# -- what generators make --------------------------------------------------------------------------
@dataclass
class Page:
    path: str  # output path relative to the site root: "papers/x/index.html", "feed.xml"
    inputs: Any  # every piece of data the page shows: its hash decides whether it is rewritten
    render: Callable[[], str | bytes]
    listed: bool = True  # in sitemap.xml (hidden pages, e.g. a quality report, say False)
    search: Callable[[], list[SearchDoc]] | None = None  # the page's search documents (see searchdocs)


PageGenerator = Callable[["Site"], Iterable[Page]]
"""Takes the :class:`Site`, yields its pages (see :mod:`pipeline.site.generators`)."""


class Deferred:
    """A block of HTML one page shows (timeline, related papers), rendered only when that page is
    rendered; page hashing sees its ``inputs`` instead. (Rendering 3,586 related lists and 50
    timelines on every build only to find the pages unchanged cost seconds.) ``inputs`` must
    determine the HTML: everything the render function reads."""

    __slots__ = ("inputs", "_render", "_html")

    def __init__(self, inputs: Any, render: Callable[[], str]) -> None:
        self.inputs = inputs
        self._render = render
        self._html: str | None = None

    def __html__(self) -> str:  # Jinja2 / MarkupSafe: already HTML, not escaped again
        if self._html is None:
            self._html = str(self._render())
        return self._html

    __str__ = __html__


@dataclass
class Moment:
    """A moment in an episode where a paper is discussed (a chapter about it, or a mention)."""

    episode: str  # slug
    episode_title: str
    start: float
    anchor: str  # paragraph id in the episode page
    kind: str  # chapter | name | acronym | discussion | poster
    title: str  # chapter title or mention kind
    speaker: str | None
    quote: str
    summary: Any = None  # the chapter's Summary, for a chapter about the paper
    chapter: int | None = None  # index into the episode's chapters (sorted by start)


# -- the site --------------------------------------------------------------------------------------
class Site:
    """Everything loaded from content/, plus the links between records, and the template engine."""

    def __init__(self, project: Project, base_url: str | None = None) -> None:
        self.project = project
        self.config = project.config.site
        base_url = base_url or self.config.base_url or "/"
        if not base_url.endswith("/"):
            base_url += "/"
        self.base_url = base_url  # as configured: "/", "/sub/" or "https://host/sub/"
        self.base = urlsplit(base_url).path or "/"  # the path prefix used in links
        store = project.content
        self.store = store
        self.memo: dict[Any, Any] = {}
        """Derived data computed once per build (see :meth:`once`)."""
        self.papers: dict[str, Paper] = store.load_papers()
        self.posters: dict[str, Poster] = store.load_posters()
        self.people: dict[str, Person] = store.load_people()
        self.episodes: dict[str, Episode] = {s: store.load_episode(s, lazy_transcript=True)
                                             for s in store.episode_slugs()}
        self.texts: dict[str, EpisodeText] = {
            s: episode_text(e, self.people, content_digest(self, f"episodes/{s}/transcript.json"), project.cache_dir)
            for s, e in self.episodes.items()}
        self.paragraphs: dict[str, list[Paragraph]] = {s: t.paragraphs for s, t in self.texts.items()}
        self._para_starts = {s: [p.start for p in ps] for s, ps in self.paragraphs.items()}
        self.moments: dict[str, list[Moment]] = self._paper_moments()
        self.env = make_env(project.template_dirs, project.cache_dir / "jinja")
        self.template_hash = templates_hash(project.template_dirs)

    def once(self, key: Any, compute: Callable[[], Any]) -> Any:
        """``compute()``, computed on the first call with ``key`` in this build and kept after."""
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]

    # URLs ------------------------------------------------------------------------------------
    def url(self, kind: str, ident: str) -> str:
        return self.base + site_path(kind, ident)

    def absolute(self, rel: str) -> str:
        """A URL for feeds and Open Graph: the full base URL when one is configured."""
        return self.base_url + rel.lstrip("/")

    def anchor(self, slug: str, t: float) -> str:
        """The id of the transcript paragraph holding time ``t`` (the first one if ``t`` precedes all)."""
        starts = self._para_starts.get(slug) or []
        if not starts:
            return "transcript"
        i = max(0, bisect.bisect_right(starts, t + 0.001) - 1)
        return self.paragraphs[slug][i].id

    def moment_url(self, slug: str, t: float) -> str:
        return f"{self.url('episode', slug)}#{self.anchor(slug, t)}"

    def name(self, pid: str) -> str:
        person = self.people.get(pid)
        return person.name if person else pid

    # derived links ---------------------------------------------------------------------------
    def _paper_moments(self) -> dict[str, list[Moment]]:
        out: dict[str, list[Moment]] = defaultdict(list)
        for slug, ep in self.episodes.items():
            for i, ch in enumerate(ep.chapters):
                if ch.paper:
                    speakers = ", ".join(self.name(s) for s in ch.speakers) or None
                    quote = self.texts[slug].quotes[i]
                    out[ch.paper].append(Moment(slug, ep.title, ch.start, self.anchor(slug, ch.start),
                                                "poster" if ch.kind == "poster" else "chapter", ch.title,
                                                speakers, quote, ch.summary, i))
            for m in ep.mentions:
                if m.kind == "chapter" and m.chapter is not None and m.chapter < len(ep.chapters) \
                        and ep.chapters[m.chapter].paper == m.paper:
                    continue  # the chapter itself is the moment (with its title and summary)
                speaker = display_speaker(ep, m.speaker, self.people)
                out[m.paper].append(Moment(slug, ep.title, m.start, self.anchor(slug, m.start), m.kind,
                                           m.kind, speaker, shorten(m.quote), None, m.chapter))
        for moments in out.values():
            moments.sort(key=lambda m: (m.episode, m.start, m.kind != "chapter"))
        return dict(out)

    def paper_ref(self, pid: str | None) -> dict | None:
        """What another page shows of a paper: enough to link it, nothing that changes often."""
        if not pid:
            return None
        paper = self.papers.get(pid)
        if paper is None:
            return {"id": pid, "title": pid, "url": None}
        return {"id": pid, "title": paper.title, "url": self.url("paper", pid)}

    def person_ref(self, pid: str) -> dict:
        return {"id": pid, "name": self.name(pid), "url": self.url("person", pid) if pid in self.people else None}

    def poster_image_name(self, poster: Poster) -> str | None:
        def name() -> str | None:
            img = self.store.poster_image(poster)
            return img.name if img else None

        return self.once(("poster-image", poster.id), name)

    # rendering -------------------------------------------------------------------------------
    def common(self) -> dict:
        c = self.config
        return {"title": c.title, "description": c.description, "language": c.language, "base": self.base,
                "base_url": self.base_url}

    def render(self, template: str, **ctx: Any) -> str:
        return self.env.get_template(template).render(site=self.common(), base=self.base, **ctx)


def content_digest(site: Site, rel: str) -> str | None:
    """A digest of a file under content/ (cheaper than hashing the parsed records it holds): the one
    taken when the store read it, else that of its bytes, once per build."""
    known = site.store.digests.get(rel)
    if known is not None:
        return known
    p = site.store.root / rel
    return site.once(("digest", rel), lambda: file_digest(p.read_bytes()).hex() if p.is_file() else None)


def grouped(site: Site, name: str, items: Callable[[], Iterable[Any]], key: Callable[[Any], Any]) -> dict[Any, list]:
    """``items()`` grouped by ``key``: an index built once per build under ``name``, instead of a
    scan of every record for each of thousands of pages."""
    def index() -> dict[Any, list]:
        out: dict[Any, list] = defaultdict(list)
        for item in items():
            out[key(item)].append(item)
        return dict(out)

    return site.once(("group", name), index)


# -- what several pages show -----------------------------------------------------------------------
def summary_data(site: Site, slug: str, summary: Summary | None) -> dict | None:
    """A summary as the templates show it: its text, and each sentence linked to its moment."""
    if summary is None:
        return None
    sentences = [{"text": s.text, "start": s.start, "anchor": site.anchor(slug, s.start)} for s in summary.sentences]
    return {"text": summary.text, "sentences": sentences}


def poster_ref(site: Site, p: Poster) -> dict:
    img = site.poster_image_name(p)
    return {"id": p.id, "url": site.url("poster", p.id), "paper": site.paper_ref(p.paper),
            "presenters": [site.person_ref(x) for x in p.presenters],
            "image": site.url("poster", p.id) + img if img else None,
            "episode": p.episode, "start": p.start,
            "moment": site.moment_url(p.episode, p.start) if p.episode in site.episodes else None}


def audio_url(site: Site, ep: Episode) -> str | None:
    """The player's URL of the episode's audio: as given when it is on the web, else beside its page."""
    if not ep.audio:
        return None
    if urlsplit(ep.audio).scheme in ("http", "https"):
        return ep.audio
    return site.url("episode", ep.slug) + Path(ep.audio).name


def audio_source(site: Site, ep: Episode) -> Path | None:
    """The episode's audio file under content/ (copied into the site), or None (none, on the web, missing)."""
    if not ep.audio or urlsplit(ep.audio).scheme:
        return None
    p = (site.store.root / "episodes" / ep.slug / ep.audio).resolve()
    if site.store.root.resolve() not in p.parents or not p.is_file():
        log.warning("episode %s: audio file %s not found in content/; the page has no player", ep.slug, ep.audio)
        return None
    return p


def url_quote(url: str) -> str:
    """Percent-encode what may not stand in a URL (spaces, '<', '"', '{'...): valid HTML for any source's URL."""
    return quote(re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", url), safe=":/?#[]@!$&'()*+,;=%~")


def is_web_url(url: str) -> bool:
    """An http(s) URL (what a page may link to from a record's ``url`` field)."""
    return urlsplit(url.strip()).scheme.lower() in ("http", "https")


# -- pages -----------------------------------------------------------------------------------------
def html_page(site: Site, path: str, template: str, ctx: dict, *, listed: bool = True,
              search: Callable[[], list[SearchDoc]] | None = None) -> Page:
    """A page rendered from ``template`` with ``ctx``, which is also what its hash is computed from."""
    return Page(path, {"template": template, **ctx}, lambda: site.render(template, **ctx), listed, search)


def file_stamp(p: Path | None) -> list | None:
    """What a copied file's page is hashed by: its path, size and mtime (not its bytes)."""
    if p is None:
        return None
    st = p.stat()
    return [str(p), st.st_size, st.st_mtime_ns]


def file_page(out: str, src: Path) -> Page:
    """``src`` copied to ``out`` (audio, poster images, static files); not in the sitemap."""
    return Page(out, {"file": file_stamp(src)}, src.read_bytes, listed=False)
