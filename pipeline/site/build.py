"""Render content/ into the static site (site/): pages, per-episode files, feeds, search index.

How a build works (read this before adding a page):

1. :class:`Site` loads everything once (episodes, papers, posters, people) and derives the links
   between them: every moment a paper is discussed, each person's talks and appearances, the
   transcript paragraphs of each episode with their stable anchors (``t-<seconds>``).
2. Each function in :data:`PAGE_BUILDERS` takes the :class:`Site` and yields :class:`Page` objects:
   an output path, the plain data the page shows (``inputs``) and a ``render`` callable. To add a
   page, write a builder and append it to :data:`PAGE_BUILDERS` (or call :func:`page_builder`).
3. A page's hash is the sha256 of its inputs, the templates and the base URL. The manifest
   (``site/.recap-manifest.json``: output path -> hash) says which pages are up to date: those are
   neither rendered nor written. Pages whose content is gone are removed. Two pages writing the same
   path are refused. Each write is atomic (temporary file, then rename).
4. Pages carry their search documents (``Page.search``); the search index (:mod:`pipeline.site.search`)
   re-tokenizes only the documents of pages whose hash changed.

Links are base-aware: ``{{ base }}papers/<id>/`` where ``base`` is the path part of
``config.site.base_url`` ("/" locally, "/podcast/" under a sub-path); feeds and Open Graph tags use
the full base URL.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import gc
import hashlib
import json
import logging
import os
import pickle
import re
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from pipeline.site import search as search_docs
from pipeline.config import Project
from pipeline.errors import ContentError
from pipeline.export import site_path, speaker_name, to_chapters, to_json, to_srt, to_vtt
from pipeline.ids import is_plain_relpath
from pipeline.models import Episode, Paper, Person, Poster, Utterance
from pipeline.serialize import to_data
from pipeline.timefmt import format_timestamp

log = logging.getLogger(__name__)

MANIFEST = ".recap-manifest.json"
RENDER_VERSION = "1"  # bump when the builder's output changes without a template change

# Transcript paragraphs: one speaker's consecutive lines, split at chapter starts, and split
# after a sentence once a paragraph is this long (seconds), or unconditionally at HARD_LIMIT.
PARAGRAPH_SOFT_LIMIT = 45.0
PARAGRAPH_HARD_LIMIT = 90.0
QUOTE_WORDS = 30


# -- data the templates see ------------------------------------------------------------------------
@dataclass
class Paragraph:
    id: str  # stable anchor: "t-<int start>" (suffixed "-2", "-3" if two start in the same second)
    start: float
    end: float
    speaker: str | None  # display name
    text: str
    chapter: int | None  # index into Episode.chapters


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


@dataclass
class Page:
    path: str  # output path relative to the site root: "papers/x/index.html", "feed.xml"
    inputs: Any  # every piece of data the page shows: its hash decides whether it is rewritten
    render: Callable[[], str | bytes]
    listed: bool = True  # in sitemap.xml (hidden pages, e.g. a quality report, say False)
    search: Callable[[], list] | None = None  # the page's search documents (pipeline.site.search.SearchDoc)


@dataclass
class BuildReport:
    site_dir: Path
    written: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    indexed: int = 0  # search documents (re)indexed

    @property
    def pages(self) -> int:
        return len(self.written) + len(self.unchanged)

    def summary(self) -> str:
        parts = [f"{len(self.written)} written", f"{len(self.unchanged)} unchanged", f"{len(self.removed)} removed"]
        search = f"; {self.indexed} search documents indexed" if self.indexed else ""
        return f"Site in {self.site_dir}: {self.pages} files ({', '.join(parts)}){search}"


# -- the site model --------------------------------------------------------------------------------
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
        self.texts: dict[str, EpisodeText] = {s: episode_text(self, e) for s, e in self.episodes.items()}
        self.paragraphs: dict[str, list[Paragraph]] = {s: t.paragraphs for s, t in self.texts.items()}
        self._para_starts = {s: [p.start for p in ps] for s, ps in self.paragraphs.items()}
        self.moments: dict[str, list[Moment]] = self._paper_moments()
        self.env = make_env(project.template_dirs, project.cache_dir / "jinja")
        self.template_hash = _templates_hash(project.template_dirs)

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
                                                speakers, quote, ch.summary))
            for m in ep.mentions:
                speaker = display_speaker(ep, m.speaker, self.people)
                out[m.paper].append(Moment(slug, ep.title, m.start, self.anchor(slug, m.start), m.kind,
                                           m.kind, speaker, _shorten(m.quote)))
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


def make_env(template_dirs: list[Path], cache_dir: Path | None = None):
    """The template engine; with ``cache_dir``, compiled templates are kept there (Jinja2's bytecode
    cache, checked against each template's source): compiling them cost ~0.1 s of every build."""
    import jinja2

    bytecode_cache = None
    if cache_dir is not None:
        with contextlib.suppress(OSError):
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
            bytecode_cache = jinja2.FileSystemBytecodeCache(str(cache_dir))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in template_dirs]),
        bytecode_cache=bytecode_cache,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["ts"] = format_timestamp
    env.filters["markdown"] = render_markdown
    env.filters["secs"] = lambda t: f"{float(t):.3f}".rstrip("0").rstrip(".")
    return env


def _templates_hash(dirs: list[Path]) -> str:
    h = hashlib.sha256(RENDER_VERSION.encode())
    for d in dirs:
        for p in sorted(d.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".py":
                h.update(str(p.relative_to(d)).encode())
                h.update(p.read_bytes())
    return h.hexdigest()


# -- Markdown (show notes, descriptions) -----------------------------------------------------------
_md = None


def render_markdown(text: str):
    """Markdown to HTML with raw HTML disabled and only http(s), mailto and relative links."""
    global _md
    from markupsafe import Markup

    if _md is None:
        from markdown_it import MarkdownIt

        md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})

        def validate_link(url: str) -> bool:
            scheme = urlsplit(url.strip()).scheme.lower()
            return scheme in ("", "http", "https", "mailto")

        md.validateLink = validate_link  # type: ignore[method-assign]
        _md = md
    return Markup(_md.render(text or ""))


# -- transcript paragraphs -------------------------------------------------------------------------
@dataclass
class EpisodeText:
    """What the pages need of an episode's transcript: its paragraphs, the opening words of each
    chapter, its length. Kept in the project cache per episode, keyed by everything it is computed
    from, so a build reads a transcript only when it (or its chapters, or its speakers' names) changed."""

    key: str  # digest of everything the rest is computed from
    paragraphs: list[Paragraph]
    quotes: list[str]  # per chapter of Episode.chapters
    duration: float
    spoken: bool  # has any utterance


def episode_text(site: Site, ep: Episode) -> EpisodeText:
    names = {label: display_speaker(ep, label, site.people) for label in ep.speakers}
    key = hashlib.sha256(json.dumps([RENDER_VERSION, PARAGRAPH_SOFT_LIMIT, PARAGRAPH_HARD_LIMIT, QUOTE_WORDS,
                                     content_digest(site, f"episodes/{ep.slug}/transcript.json"),
                                     [[c.start, c.end] for c in ep.chapters], names]).encode()).hexdigest()
    path = site.project.cache_dir / "site" / f"{ep.slug}.pickle" if site.project.cache_dir else None
    if path is not None:
        with contextlib.suppress(OSError, ValueError, TypeError, EOFError, pickle.UnpicklingError):
            cached_key, paras, quotes, duration, spoken = pickle.loads(path.read_bytes())
            if cached_key == key:
                return EpisodeText(key, [Paragraph(*p) for p in paras], quotes, duration, spoken)
    utts = ep.transcript.utterances
    text = EpisodeText(key, make_paragraphs(ep, site.people), [_quote(utts, c.start, c.end) for c in ep.chapters],
                       ep.transcript.duration, bool(utts))
    if path is not None:
        from pipeline.files import atomic_write

        with contextlib.suppress(OSError):
            atomic_write(path, pickle.dumps((key, [tuple(vars(p).values()) for p in text.paragraphs], text.quotes,
                                             text.duration, text.spoken), pickle.HIGHEST_PROTOCOL), durable=False)
    return text


def make_paragraphs(ep: Episode, people: dict[str, Person]) -> list[Paragraph]:
    """Group utterances into speaker paragraphs with stable anchors."""
    chapter_starts = sorted((c.start, i) for i, c in enumerate(ep.chapters))
    starts = [s for s, _ in chapter_starts]

    def chapter_of(t: float) -> int | None:
        i = bisect.bisect_right(starts, t + 0.001) - 1
        return chapter_starts[i][1] if i >= 0 else None

    out: list[Paragraph] = []
    cur: list[Utterance] = []

    def flush() -> None:
        if not cur:
            return
        start = cur[0].start
        base_id = f"t-{int(start)}"
        pid, n = base_id, 2
        while out and any(p.id == pid for p in out[-3:]):
            pid, n = f"{base_id}-{n}", n + 1
        text = " ".join(" ".join(u.text.split()) for u in cur).strip()
        out.append(Paragraph(pid, start, max(u.end for u in cur), display_speaker(ep, cur[0].speaker, people),
                             text, chapter_of(start)))
        cur.clear()

    for u in ep.transcript.utterances:
        if not u.text.strip():
            continue
        if cur:
            length = u.start - cur[0].start
            new_chapter = chapter_of(u.start) != chapter_of(cur[0].start)
            sentence_end = cur[-1].text.rstrip().endswith((".", "?", "!"))
            if (u.speaker != cur[0].speaker or new_chapter or length >= PARAGRAPH_HARD_LIMIT
                    or (length >= PARAGRAPH_SOFT_LIMIT and sentence_end)):
                flush()
        cur.append(u)
    flush()
    return out


_TURN_LABEL = re.compile(r"^T\d+$")
_DIARIZER_LABEL = re.compile(r"^SPEAKER_(\d+)$")


def display_speaker(ep: Episode, label: str | None, people: dict[str, Person]) -> str | None:
    """The name shown for a speaker label: the person's name when the label is mapped; "Speaker 2"
    for a diarizer label; nothing for a bare turn label (``T001``: it marks a change of voice, not
    who speaks); otherwise the label itself (e.g. a VTT voice name)."""
    if label is None:
        return None
    if label in ep.speakers:
        return speaker_name(ep, label, people)
    if _TURN_LABEL.match(label):
        return None
    m = _DIARIZER_LABEL.match(label)
    return f"Speaker {int(m.group(1)) + 1}" if m else label


def _shorten(text: str, words: int = QUOTE_WORDS) -> str:
    parts = " ".join(text.split()).split(" ")
    return " ".join(parts[:words]) + (" …" if len(parts) > words else "")


def _quote(utts: list[Utterance], start: float, end: float | None) -> str:
    words: list[str] = []
    for u in utts:
        if u.start < start - 0.001 or "non-speech" in u.flags:
            continue
        if end is not None and u.start >= end:
            break
        words += u.text.split()
        if len(words) > QUOTE_WORDS:
            break
    return _shorten(" ".join(words))


# -- page builders ---------------------------------------------------------------------------------
PageBuilder = Callable[[Site], Iterable[Page]]
PAGE_BUILDERS: list[PageBuilder] = []


def page_builder(fn: PageBuilder) -> PageBuilder:
    """Register ``fn`` as a page builder (decorator). Builders run in registration order."""
    PAGE_BUILDERS.append(fn)
    return fn


def _html(site: Site, path: str, template: str, ctx: dict, *, listed: bool = True,
          search: Callable[[], list] | None = None) -> Page:
    return Page(path, {"template": template, **ctx}, lambda: site.render(template, **ctx), listed, search)


def episode_context(site: Site, ep: Episode) -> dict:
    paras = site.paragraphs[ep.slug]
    chapters = []
    for i, ch in enumerate(sorted(ep.chapters, key=lambda c: c.start)):
        chapters.append({
            "index": i, "start": ch.start, "end": ch.end, "title": ch.title, "kind": ch.kind,
            "anchor": site.anchor(ep.slug, ch.start) if paras else f"ch-{i}",
            "speakers": [site.person_ref(s) for s in ch.speakers], "paper": site.paper_ref(ch.paper),
            "summary": _summary(site, ep.slug, ch.summary),
        })
    by_chapter: dict[int | None, list[Paragraph]] = defaultdict(list)
    for p in paras:
        by_chapter[p.chapter].append(p)
    sections = []
    if by_chapter.get(None):
        sections.append({"title": "Opening", "start": by_chapter[None][0].start, "paragraphs": by_chapter[None]})
    for i, ch in enumerate(ep.chapters):
        if by_chapter.get(i):
            sections.append({"title": ch.title, "start": ch.start, "paragraphs": by_chapter[i]})
    sections.sort(key=lambda s: s["start"])
    posters = [_poster_ref(site, p) for p in sorted(site.posters.values(), key=lambda p: p.start) if p.episode == ep.slug]
    speakers = sorted({pid for pid in ep.speakers.values()} | {s for c in ep.chapters for s in c.speakers})
    base = site.url("episode", ep.slug)
    return {
        "episode": {"slug": ep.slug, "title": ep.title, "date": ep.date, "description": ep.description,
                    "duration": ep.duration or site.texts[ep.slug].duration or None, "url": base,
                    "audio": _audio_url(site, ep)},
        "og_url": site.absolute(site_path("episode", ep.slug)),
        "summary": _summary(site, ep.slug, ep.summary),
        "chapters": chapters,
        "papers": [site.paper_ref(p) for p in ep.papers],
        "posters": posters,
        "speakers": [site.person_ref(s) for s in speakers],
        "sections": [{"title": s["title"], "start": s["start"],
                      "paragraphs": list(s["paragraphs"])}  # flat records: no deep copy
                     for s in sections],
        "files": {"vtt": base + "transcript.vtt", "srt": base + "transcript.srt",
                  "json": base + "transcript.json", "chapters": base + "chapters.json"},
        "has_transcript": bool(paras),
        "extras": {},  # for later additions (e.g. a speaker timeline SVG), rendered by the template
    }


def _summary(site: Site, slug: str, summary) -> dict | None:
    if summary is None:
        return None
    sentences = [{"text": s.text, "start": s.start, "anchor": site.anchor(slug, s.start)} for s in summary.sentences]
    return {"text": summary.text, "sentences": sentences}


def _audio_url(site: Site, ep: Episode) -> str | None:
    if not ep.audio:
        return None
    if urlsplit(ep.audio).scheme in ("http", "https"):
        return ep.audio
    return site.url("episode", ep.slug) + Path(ep.audio).name


def _audio_source(site: Site, ep: Episode) -> Path | None:
    if not ep.audio or urlsplit(ep.audio).scheme:
        return None
    p = (site.store.root / "episodes" / ep.slug / ep.audio).resolve()
    if site.store.root.resolve() not in p.parents or not p.is_file():
        log.warning("episode %s: audio file %s not found in content/; the page has no player", ep.slug, ep.audio)
        return None
    return p


def _poster_ref(site: Site, p: Poster) -> dict:
    img = site.poster_image_name(p)
    return {"id": p.id, "url": site.url("poster", p.id), "paper": site.paper_ref(p.paper),
            "presenters": [site.person_ref(x) for x in p.presenters],
            "image": site.url("poster", p.id) + img if img else None,
            "episode": p.episode, "start": p.start,
            "moment": site.moment_url(p.episode, p.start) if p.episode in site.episodes else None}


@page_builder
def episode_pages(site: Site) -> Iterator[Page]:
    for slug, ep in site.episodes.items():
        ctx = episode_context(site, ep)
        audio = _audio_source(site, ep)
        if ctx["episode"]["audio"] and not urlsplit(ctx["episode"]["audio"]).scheme and audio is None:
            ctx["episode"]["audio"] = None
        ctx["extras"] = {"before_chapters": _hook("site.viz", "episode_timeline_html", site, ep),
                         "side": _hook("report", "report_link_html", site, slug)}
        # the transcript's paragraphs by what they are computed from (hashing 23k paragraphs of text
        # on every build cost more than all else on the episode pages)
        inputs = {"template": "episode.html", **ctx, "text": site.texts[slug].key,
                  "sections": [[sec["title"], sec["start"], len(sec["paragraphs"])] for sec in ctx["sections"]]}
        yield Page(f"episodes/{slug}/index.html", inputs, lambda ctx=ctx: site.render("episode.html", **ctx),
                   search=lambda ep=ep: search_docs.episode_docs(site, ep))
        names = {label: speaker_name(ep, label, site.people) for label in ep.speakers}
        t_inputs = {"transcript": content_digest(site, f"episodes/{slug}/transcript.json"), "names": names}
        yield Page(f"episodes/{slug}/transcript.vtt", t_inputs, lambda ep=ep: to_vtt(ep, site.people))
        yield Page(f"episodes/{slug}/transcript.srt", t_inputs, lambda ep=ep: to_srt(ep, site.people))
        yield Page(f"episodes/{slug}/transcript.json", t_inputs, lambda ep=ep: to_json(ep, site.people))
        chapters = to_chapters(ep, site.papers, site.posters, site.base_url)
        yield Page(f"episodes/{slug}/chapters.json", chapters,
                   lambda c=chapters: json.dumps(c, ensure_ascii=False, indent=1) + "\n")
        if audio is not None:
            yield _file(f"episodes/{slug}/{audio.name}", audio)


def paper_context(site: Site, paper: Paper) -> dict:
    posters = [_poster_ref(site, p) for p in _group(site, "posters-by-paper", site.posters.values,
                                                     lambda p: p.paper).get(paper.id, [])]
    moments = []
    for m in site.moments.get(paper.id, []):
        moments.append(asdict(m) | {"url": site.moment_url(m.episode, m.start), "start": m.start,
                                     "episode_url": site.url("episode", m.episode),
                                     "summary": _summary(site, m.episode, m.summary)})
    return {"paper": paper,  # the record itself: the template reads it, hashing walks it (no deep copy)
            "links": _paper_links(paper), "moments": moments, "posters": posters,
            "og_url": site.absolute(site_path("paper", paper.id)), "extras": {}}


def _paper_links(paper: Paper) -> list[dict]:
    links = []
    if paper.arxiv:
        links.append({"label": f"arXiv:{paper.arxiv}", "href": _url_quote(f"https://arxiv.org/abs/{paper.arxiv}")})
    if paper.doi:
        links.append({"label": f"doi:{paper.doi}", "href": _url_quote(f"https://doi.org/{paper.doi}")})
    url = _url_quote(paper.url.strip()) if paper.url else None
    if url and _safe_url(url) and not any(link["href"] == url for link in links):
        links.append({"label": "Paper", "href": url})
    return links


def _url_quote(url: str) -> str:
    """Percent-encode what may not stand in a URL (spaces, '<', '"', '{'...): valid HTML for any source's URL."""
    return quote(re.sub(r"%(?![0-9A-Fa-f]{2})", "%25", url), safe=":/?#[]@!$&'()*+,;=%~")


def _safe_url(url: str) -> bool:
    return urlsplit(url.strip()).scheme.lower() in ("http", "https")


@page_builder
def paper_pages(site: Site) -> Iterator[Page]:
    by_paper = _group(site, "posters-by-paper", site.posters.values, lambda p: p.paper)
    for pid, paper in site.papers.items():
        side = _hook("site.viz", "related_html", site, pid)
        # What the page shows, cheaply: the record by its file's digest, the moments and posters
        # about it, the related papers' inputs. The context itself is built only to render.
        # (Building and hashing 3,586 contexts cost most of a build that changed one paper.)
        moments = site.moments.get(pid, [])
        inputs = ["paper.html", content_digest(site, f"papers/{pid}.toml"), moments,
                  sorted({site.texts[m.episode].key for m in moments}),  # anchors of summary sentences
                  [_poster_ref(site, p) for p in by_paper.get(pid, [])], side]

        def render(paper=paper, side=side) -> str:
            ctx = paper_context(site, paper)
            ctx["extras"] = {"side": side}
            return site.render("paper.html", **ctx)

        yield Page(f"papers/{pid}/index.html", inputs, render,
                   search=lambda paper=paper: search_docs.paper_docs(site, paper))


@page_builder
def poster_pages(site: Site) -> Iterator[Page]:
    for pid, poster in site.posters.items():
        ep = site.episodes.get(poster.episode)
        ctx = {"poster": _poster_ref(site, poster) | {"excerpt": poster.excerpt, "end": poster.end},
               "episode": {"slug": ep.slug, "title": ep.title, "url": site.url("episode", ep.slug)} if ep else None,
               "og_url": site.absolute(site_path("poster", pid))}
        yield _html(site, f"posters/{pid}/index.html", "poster.html", ctx,
                    search=lambda poster=poster: search_docs.poster_docs(site, poster))
        img = site.store.poster_image(poster)
        if img is not None:
            yield _file(f"posters/{pid}/{img.name}", img)


def _group(site: Site, name: str, items: Callable[[], Iterable[Any]], key: Callable[[Any], Any]) -> dict[Any, list]:
    """``items()`` grouped by ``key``: an index built once per build under ``name``, instead of a
    scan of every record for each of thousands of pages."""
    def index() -> dict[Any, list]:
        out: dict[Any, list] = defaultdict(list)
        for item in items():
            out[key(item)].append(item)
        return dict(out)

    return site.once(("group", name), index)


def person_context(site: Site, person: Person) -> dict:
    talks, sessions, appearances = [], [], []
    by_speaker = site.once("chapters-by-speaker", lambda: {
        (slug, pid): [ch for ch in ep.chapters if pid in ch.speakers]
        for slug, ep in site.episodes.items() for pid in {s for ch in ep.chapters for s in ch.speakers}})
    # the episodes each person is in (mapped speaker or chapter speaker): not 388 x 50 scans
    episodes_of = _group(site, "episodes-by-person", lambda: [
        (pid, slug) for slug, ep in site.episodes.items()
        for pid in dict.fromkeys([*ep.speakers.values(), *(s for ch in ep.chapters for s in ch.speakers)])],
        lambda pair: pair[0])
    for _, slug in episodes_of.get(person.id, []):
        ep = site.episodes[slug]
        chapters = by_speaker.get((slug, person.id), [])
        for ch in chapters:
            item = {"title": ch.title, "start": ch.start, "episode": ep.title,
                    "url": site.moment_url(slug, ch.start), "paper": site.paper_ref(ch.paper)}
            (sessions if ch.kind == "poster" else talks).append(item)
        labels = person.id in ep.speakers.values()
        times = _speaking_times(site).get((slug, person.name), []) if labels else []
        if labels or chapters:
            appearances.append({"episode": ep.title, "url": site.url("episode", slug), "date": ep.date,
                                "moments": [{"start": t, "url": site.moment_url(slug, t)} for t in times[:12]],
                                "more": max(0, len(times) - 12)})
    presented = _group(site, "posters-by-presenter",
                       lambda: [(pid, p) for p in site.posters.values() for pid in dict.fromkeys(p.presenters)],
                       lambda pair: pair[0])
    for _, poster in presented.get(person.id, []):
        sessions.append({"title": site.paper_ref(poster.paper)["title"] if poster.paper else poster.id,
                         "start": poster.start, "episode": poster.episode, "url": site.url("poster", poster.id),
                         "paper": site.paper_ref(poster.paper)})
    authored = [site.paper_ref(pid) for pid in _papers_by_author(site).get(person.name, [])]
    return {"person": dict(vars(person)),  # shallow: the template only reads it
            "url_ok": bool(person.url and _safe_url(person.url)), "talks": talks, "sessions": sessions,
            "appearances": appearances, "authored": authored, "og_url": site.absolute(site_path("person", person.id))}


def _speaking_times(site: Site) -> dict[tuple[str, str], list[float]]:
    """(episode, speaker name) -> start of each of their paragraphs, once per build."""
    def index() -> dict[tuple[str, str], list[float]]:
        out: dict[tuple[str, str], list[float]] = defaultdict(list)
        for slug, paras in site.paragraphs.items():
            for p in paras:
                if p.speaker:
                    out[(slug, p.speaker)].append(p.start)
        return dict(out)

    return site.once("speaking", index)


def _papers_by_author(site: Site) -> dict[str, list[str]]:
    """Author name -> ids of their papers (catalog order), once per build (not 388 x 3,586 scans)."""
    def index() -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for p in site.papers.values():
            for name in dict.fromkeys(p.authors):
                out[name].append(p.id)
        return dict(out)

    return site.once("by-author", index)


@page_builder
def person_pages(site: Site) -> Iterator[Page]:
    for pid, person in site.people.items():
        yield _html(site, f"people/{pid}/index.html", "person.html", person_context(site, person),
                    search=lambda person=person: search_docs.person_docs(site, person))


def _episode_card(site: Site, ep: Episode) -> dict:
    text = ep.summary.text if ep.summary else ep.description
    return {"slug": ep.slug, "title": ep.title, "date": ep.date, "url": site.url("episode", ep.slug),
            "duration": ep.duration or site.texts[ep.slug].duration or None, "blurb": _shorten(text, 50),
            "chapters": [{"title": c.title, "start": c.start} for c in sorted(ep.chapters, key=lambda c: c.start)],
            "n_papers": len(ep.papers)}


@page_builder
def index_pages(site: Site) -> Iterator[Page]:
    episodes = sorted(site.episodes.values(), key=lambda e: (e.date or "", e.slug), reverse=True)
    cards = [_episode_card(site, e) for e in episodes]
    discussed = {pid for pid, ms in site.moments.items() if ms}
    yield _html(site, "index.html", "home.html",
                {"episodes": cards[:10], "counts": {"episodes": len(site.episodes), "papers": len(site.papers),
                                                     "posters": len(site.posters), "people": len(site.people)},
                 "og_url": site.absolute("")})
    yield _html(site, "episodes/index.html", "episodes.html", {"episodes": cards, "og_url": site.absolute("episodes/")})
    groups: dict[str, list[dict]] = defaultdict(list)
    for p in site.papers.values():
        key = p.venue or (p.sources[0] if p.sources else "Other")
        groups[key].append({"id": p.id, "title": p.title, "date": p.date or "", "url": site.url("paper", p.id),
                            "authors": p.authors[:4], "more_authors": max(0, len(p.authors) - 4),
                            "discussed": p.id in discussed})
    grouped = [{"name": k, "id": "g-" + hashlib.sha1(k.encode()).hexdigest()[:8],
                "papers": sorted(v, key=lambda x: (x["date"], x["title"]), reverse=True)}
               for k, v in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
    has_map = bool(site.config.paper_map) and bool(site.papers) and _importable("pipeline.site.viz")
    yield _html(site, "papers/index.html", "papers.html", {"groups": grouped, "has_map": has_map,
                                                           "og_url": site.absolute("papers/")})
    posters = [_poster_ref(site, p) for p in sorted(site.posters.values(), key=lambda p: (p.episode, p.start))]
    yield _html(site, "posters/index.html", "posters.html", {"posters": posters, "og_url": site.absolute("posters/")})
    people = sorted(site.people.values(), key=lambda p: p.name.lower())
    yield _html(site, "people/index.html", "people.html",
                {"people": [{"name": p.name, "url": site.url("person", p.id), "affiliation": p.affiliation,
                             "host": p.host} for p in people], "og_url": site.absolute("people/")})
    yield _html(site, "search/index.html", "search.html", {"og_url": site.absolute("search/")})
    yield _html(site, "404.html", "404.html", {"og_url": site.absolute("404.html")}, listed=False)


def _importable(module: str) -> bool:
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


@functools.cache
def _stage_function(module: str, name: str) -> Callable[..., Any] | None:
    """``pipeline.<module>.<name>`` (another stage's site hook: ``viz``, ``report``), or None when
    that stage's optional dependencies are not installed."""
    import importlib

    try:
        return getattr(importlib.import_module(f"pipeline.{module}"), name)
    except ImportError as exc:
        log.debug("site hook %s.%s unavailable: %s", module, name, exc)
        return None


def _hook(module: str, name: str, *args: Any) -> str:
    """HTML from another stage's site hook, or "" when it is unavailable."""
    fn = _stage_function(module, name)
    return fn(*args) if fn else ""


@page_builder
def map_pages(site: Site) -> Iterator[Page]:
    """The paper map (pipeline.site.viz), when its dependencies are installed."""
    build = _stage_function("site.viz", "map_pages")
    yield from (build(site) or ()) if build else ()


@page_builder
def report_pages(site: Site) -> Iterator[Page]:
    """Per-episode quality reports (pipeline.report); hidden unless [site] show_report."""
    build = _stage_function("report", "report_pages")
    yield from (build(site) or ()) if build else ()


@page_builder
def feed_pages(site: Site) -> Iterator[Page]:
    from pipeline.site.feeds import rss_feed

    episodes = sorted(site.episodes.values(), key=lambda e: (e.date or "", e.slug), reverse=True)
    # the episodes' records by file digest (serialising 50 episodes' chapters and mentions to hash
    # them cost seconds at conference scale); of the transcript, the feed shows only its length
    inputs = {"config": to_data(site.config), "base_url": site.base_url,
              "episodes": [[e.slug, [content_digest(site, f"episodes/{e.slug}/{name}")
                                     for name in ("episode.toml", "description.md", "chapters.toml")],
                            site.texts[e.slug].duration, site.texts[e.slug].spoken] for e in episodes],
              "people": to_data(site.people),
              "audio": {e.slug: _file_stamp(_audio_source(site, e)) for e in episodes}}
    yield Page("feed.xml", inputs, lambda: rss_feed(site, episodes))


@page_builder
def static_files(site: Site) -> Iterator[Page]:
    seen: set[str] = set()
    for d in site.project.template_dirs:  # project templates first: their files override
        static = d / "static"
        if not static.is_dir():
            continue
        for p in sorted(static.rglob("*")):
            rel = p.relative_to(static).as_posix()
            if p.is_file() and rel not in seen:
                seen.add(rel)
                yield _file(f"static/{rel}", p)


def content_digest(site: Site, rel: str) -> str | None:
    """A digest of a file under content/ (cheaper than hashing the parsed records it holds): the one
    taken when the store read it, else sha256 of its bytes, once per build."""
    known = site.store.digests.get(rel)
    if known is not None:
        return known
    from pipeline.files import file_digest

    p = site.store.root / rel
    return site.once(("digest", rel), lambda: file_digest(p.read_bytes()).hex() if p.is_file() else None)


def _file_stamp(p: Path | None) -> list | None:
    if p is None:
        return None
    st = p.stat()
    return [str(p), st.st_size, st.st_mtime_ns]


def _file(out: str, src: Path) -> Page:
    return Page(out, {"file": _file_stamp(src)}, src.read_bytes, listed=False)


# -- the build -------------------------------------------------------------------------------------
class Deferred:
    """A block of HTML another stage adds to a page (timeline, related papers), rendered only when
    that page is rendered; page hashing sees its ``inputs`` instead. (Rendering 3,586 related lists
    and 50 timelines on every build only to find the pages unchanged cost seconds.) ``inputs`` must
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


def _plain(obj: Any) -> Any:
    """json.dumps fallback for hashing: dataclasses by their fields (shallow: json recurses),
    numpy scalars by value, :class:`Deferred` HTML by its inputs. Much faster than a full to_data()
    walk on big transcripts."""
    if isinstance(obj, Deferred):
        return {"deferred": obj.inputs}
    if hasattr(obj, "__dataclass_fields__"):
        return obj.__dict__
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def _hash(inputs: Any, site_key: str) -> str:
    h = hashlib.sha256(site_key.encode())
    if isinstance(inputs, bytes):
        h.update(inputs)
    else:
        # key order as built (no sort_keys: 2x faster): the same content built the same way hashes the
        # same; a different order only re-renders the page, and an unchanged page is not rewritten
        h.update(json.dumps(inputs, ensure_ascii=False, default=_plain).encode())
    return h.hexdigest()


def _write(path: Path, data: bytes) -> None:
    """Atomic replace without fsync: a reader sees the old file or the new one. (The site is
    rebuilt from content/ at will, so durability per file is not worth an fsync per page.)"""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _write_new(path: Path, data: bytes) -> None:
    """A plain write, into a folder no one reads yet (see :func:`build_site`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _safe_out(out: Path, rel: str) -> Path:
    """``out / rel`` when ``rel`` is a plain relative path that stays inside ``out`` (checked on the
    text: page paths are built from checked ids, and resolving each of thousands of paths through the
    file system cost seconds per build)."""
    if not is_plain_relpath(rel):
        raise ContentError(f"refusing to write {rel!r}: outside the site folder {out}")
    return out / rel


def collect_pages(site: Site) -> list[Page]:
    pages: list[Page] = []
    owner: dict[str, str] = {}
    for builder in PAGE_BUILDERS:
        for page in builder(site):
            if page.path in owner:
                raise ContentError(f"two pages write {page.path}: {owner[page.path]} and {builder.__name__}; "
                                   "rename one of the records")
            owner[page.path] = builder.__name__
            pages.append(page)
    return pages


def build_site(project: Project, *, base_url: str | None = None, out: Path | None = None,
               full: bool = False, search: bool = True) -> BuildReport:
    """Build the site into ``out`` (default ``project.site_dir``), rewriting only what changed.

    ``full`` ignores the manifest and re-renders every page (and re-indexes every search document).
    ``search`` updates the search index with the documents of the pages that changed."""
    # A build allocates millions of small objects that form no cycles (page inputs, postings): with
    # the collector's default threshold (700 allocations) it scanned them over and over, a quarter
    # of a full build at conference scale. Peak memory is the same.
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], 50_000), *threshold[1:])
    out = Path(out) if out is not None else project.site_dir
    try:
        if out.exists():
            return _build_site(project, base_url=base_url, out=out, full=full, search=search, write=_write)
        # a first build goes to a staging folder renamed into place at the end: no reader can see a
        # half-built site, so pages are written plainly (an atomic replace per file doubled the time
        # of writing 4,000 pages here)
        staging = out.with_name(f".{out.name}.new")
        shutil.rmtree(staging, ignore_errors=True)
        report = _build_site(project, base_url=base_url, out=staging, full=full, search=search, write=_write_new)
        staging.rename(out)
        report.site_dir = out
        return report
    finally:
        gc.set_threshold(*threshold)


def _build_site(project: Project, *, base_url: str | None, out: Path, full: bool, search: bool,
                write: Callable[[Path, bytes], None]) -> BuildReport:
    from pipeline.site.feeds import sitemap

    out.mkdir(parents=True, exist_ok=True)
    site = Site(project, base_url)
    from pipeline.cache import parse_version

    site_key = f"{site.template_hash}|{site.base_url}|{parse_version()}"  # records by file digest: see content_digest
    report = BuildReport(site_dir=out)
    manifest_path = out / MANIFEST
    old: dict[str, str] = {}
    if manifest_path.exists() and not full:
        with contextlib.suppress(OSError, ValueError):
            old = json.loads(manifest_path.read_text("utf-8")).get("pages", {})

    pages = collect_pages(site)
    listed = [p.path for p in pages if p.listed and p.path.endswith(".html")]
    pages.append(Page("sitemap.xml", listed, lambda: sitemap(site, listed), listed=False))
    new: dict[str, str] = {}
    searchable: dict[str, tuple[str, Callable[[], list]]] = {}
    out_prefix = f"{out}/"
    for page in pages:
        _safe_out(out, page.path)
        digest = _hash(page.inputs, site_key)
        new[page.path] = digest
        if page.search is not None:
            searchable[page.path] = (digest, page.search)
        if old.get(page.path) == digest and os.path.exists(out_prefix + page.path):  # (no Path: 4,482 pages)
            report.unchanged.append(page.path)
            continue
        target = out / page.path
        data = page.render()
        raw = data.encode("utf-8") if isinstance(data, str) else data
        if target.exists() and target.stat().st_size == len(raw) and target.read_bytes() == raw:
            report.unchanged.append(page.path)
            continue
        write(target, raw)
        report.written.append(page.path)
    for rel in sorted(set(old) - set(new)):
        target = _safe_out(out, rel)
        if target.exists():
            target.unlink()
            report.removed.append(rel)
        _prune_empty(target.parent, out)
    _write(manifest_path, (json.dumps({"base_url": site.base_url, "pages": new}, indent=0, sort_keys=True) + "\n").encode())

    if search:
        report.indexed = search_docs.write_index(out, searchable, site.config.language or "en", full=full).docs
    log.debug("%s", report.summary())
    return report


def _prune_empty(d: Path, root: Path) -> None:
    root = root.resolve()
    d = d.resolve()
    while d != root and root in d.parents:
        try:
            d.rmdir()
        except OSError:
            return
        d = d.parent
