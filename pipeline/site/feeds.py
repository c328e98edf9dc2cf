"""Feeds built with lxml (never by string concatenation): the RSS 2.0 podcast feed (``feed.xml``) with
the Podcasting 2.0 ``podcast:`` namespace, and ``sitemap.xml`` (made by the builder after every other
page, from the listed HTML pages: :func:`sitemap_page`).

Output is deterministic (no "now" timestamps), so an unchanged site gives byte-identical feeds.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from pipeline.export import site_path
from pipeline.models import Episode
from pipeline.serialize import to_data
from pipeline.site.model import Page, Site, audio_source, audio_url, content_digest, file_stamp
from pipeline.site.paragraphs import shorten

PODCAST_NS = "https://podcastindex.org/namespace/1.0"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"

_MIME = {".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".ogg": "audio/ogg", ".opus": "audio/ogg",
         ".oga": "audio/ogg", ".wav": "audio/wav", ".flac": "audio/flac", ".webm": "audio/webm",
         ".aac": "audio/aac", ".mp4": "video/mp4"}


def _sub(parent: Any, tag: str, text: str | None = None, **attrs: str | None) -> Any:
    el = etree.SubElement(parent, tag, {k: v for k, v in attrs.items() if v is not None})
    if text is not None:
        el.text = text
    return el


def _rfc822(date: str | None) -> str | None:
    if not date:
        return None
    try:
        dt = datetime.fromisoformat(date)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return format_datetime(dt)


def _duration(seconds: float | None) -> str | None:
    if not seconds:
        return None
    total = int(seconds)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def rss_feed(site: Site, episodes: list[Episode]) -> bytes:
    """RSS 2.0 with itunes: and podcast: elements for every episode (newest first)."""
    cfg = site.config
    nsmap = {"podcast": PODCAST_NS, "itunes": ITUNES_NS, "atom": ATOM_NS, "content": CONTENT_NS}
    rss = etree.Element("rss", nsmap=nsmap, version="2.0")
    ch = _sub(rss, "channel")
    _sub(ch, "title", cfg.title)
    _sub(ch, "link", site.absolute(""))
    _sub(ch, "description", cfg.description or cfg.title)
    _sub(ch, "language", cfg.language)
    _sub(ch, "generator", "recap")
    _sub(ch, f"{{{ATOM_NS}}}link", href=site.absolute("feed.xml"), rel="self", type="application/rss+xml")
    dates = [d for d in (_rfc822(e.date) for e in episodes) if d]
    if dates:
        newest = max(episodes, key=lambda e: e.date or "")
        _sub(ch, "lastBuildDate", _rfc822(newest.date))
    if cfg.author:
        _sub(ch, f"{{{ITUNES_NS}}}author", cfg.author)
    if cfg.image:
        img = cfg.image if urlsplit(cfg.image).scheme else site.absolute(cfg.image)
        _sub(ch, f"{{{ITUNES_NS}}}image", href=img)
        image = _sub(ch, "image")
        _sub(image, "url", img)
        _sub(image, "title", cfg.title)
        _sub(image, "link", site.absolute(""))
    _sub(ch, f"{{{PODCAST_NS}}}locked", "no")
    for ep in episodes:
        page = site.absolute(site_path("episode", ep.slug))
        item = _sub(ch, "item")
        _sub(item, "title", ep.title)
        _sub(item, "link", page)
        _sub(item, "guid", page, isPermaLink="true")
        text = ep.summary.text if ep.summary else ep.description
        _sub(item, "description", shorten(text, 120) if text else ep.title)
        pub = _rfc822(ep.date)
        if pub:
            _sub(item, "pubDate", pub)
        media = audio_url(site, ep)
        if media:
            src = audio_source(site, ep)
            if src is not None or urlsplit(ep.audio or "").scheme:
                length = str(src.stat().st_size) if src is not None else "0"
                suffix = Path(urlsplit(media).path).suffix.lower()
                mime = _MIME.get(suffix) or mimetypes.guess_type(media)[0] or "audio/mpeg"
                full = media if urlsplit(media).scheme else site.absolute(media[len(site.base):])
                _sub(item, "enclosure", url=full, length=length, type=mime)
        duration = _duration(ep.duration or ep.transcript.duration)
        if duration:
            _sub(item, f"{{{ITUNES_NS}}}duration", duration)
        if ep.transcript.utterances:
            _sub(item, f"{{{PODCAST_NS}}}transcript", url=page + "transcript.vtt", type="text/vtt",
                 language=cfg.language)
            _sub(item, f"{{{PODCAST_NS}}}transcript", url=page + "transcript.json", type="application/json",
                 language=cfg.language)
            _sub(item, f"{{{PODCAST_NS}}}transcript", url=page + "transcript.srt", type="application/x-subrip",
                 language=cfg.language)
        if ep.chapters:
            _sub(item, f"{{{PODCAST_NS}}}chapters", url=page + "chapters.json", type="application/json+chapters")
        for pid in _episode_people(ep):
            person = site.people.get(pid)
            if person is None:
                continue
            _sub(item, f"{{{PODCAST_NS}}}person", person.name, role="host" if person.host else "guest",
                 href=site.absolute(site_path("person", pid)))
    return etree.tostring(rss, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _episode_people(ep: Episode) -> list[str]:
    seen: list[str] = []
    for pid in list(ep.speakers.values()) + [s for c in ep.chapters for s in c.speakers]:
        if pid not in seen:
            seen.append(pid)
    return seen


def sitemap(site: Site, html_paths: list[str]) -> bytes:
    """sitemap.xml listing every public HTML page (``index.html`` shown as its folder URL)."""
    urlset = etree.Element("urlset", nsmap={None: SITEMAP_NS})
    for rel in sorted(html_paths):
        if rel.endswith("index.html"):
            rel = rel[: -len("index.html")]
        url = etree.SubElement(urlset, "url")
        etree.SubElement(url, "loc").text = site.absolute(rel)
    return etree.tostring(urlset, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def feed_pages(site: Site) -> Iterator[Page]:
    """``feed.xml``: every episode, newest first."""
    episodes = sorted(site.episodes.values(), key=lambda e: (e.date or "", e.slug), reverse=True)
    # the episodes' records by file digest (serialising 50 episodes' chapters and mentions to hash
    # them cost seconds at conference scale); of the transcript, the feed shows only its length
    inputs = {"config": to_data(site.config), "base_url": site.base_url,
              "episodes": [[e.slug, [content_digest(site, f"episodes/{e.slug}/{name}")
                                     for name in ("episode.toml", "description.md", "chapters.toml")],
                            site.texts[e.slug].duration, site.texts[e.slug].spoken] for e in episodes],
              "people": to_data(site.people),
              "audio": {e.slug: file_stamp(audio_source(site, e)) for e in episodes}}
    yield Page("feed.xml", inputs, lambda: rss_feed(site, episodes))


def sitemap_page(site: Site, pages: list[Page]) -> Page:
    """``sitemap.xml`` of the listed HTML pages among ``pages`` (every page the generators made)."""
    listed = [p.path for p in pages if p.listed and p.path.endswith(".html")]
    return Page("sitemap.xml", listed, lambda: sitemap(site, listed), listed=False)
