"""Feeds built with lxml (never by string concatenation): the RSS 2.0 podcast feed (``feed.xml``) with
the Podcasting 2.0 ``podcast:`` namespace (the episodes with audio: podcast apps skip an item without
an enclosure), the site's Atom feed of every episode (``episodes/feed.xml``), the default channel image
(:mod:`pipeline.site.artwork`) and ``sitemap.xml`` (made by the builder after every other
page, from the listed HTML pages: :func:`sitemap_page`).

Output is deterministic (no "now" timestamps), so an unchanged site gives byte-identical feeds.
"""

from __future__ import annotations

import contextlib
import logging
import mimetypes
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from pipeline.config import split_category
from pipeline.export import site_path
from pipeline.models import Episode
from pipeline.serialize import to_data
from pipeline.site.artwork import artwork_png
from pipeline.site.model import Page, Site, audio_source, audio_url, content_digest, file_stamp
from pipeline.site.overview import episode_overview

log = logging.getLogger(__name__)

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


PODCAST_GUID_NS = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")  # Podcasting 2.0's namespace for podcast:guid
ARTWORK = "static/artwork.png"


def podcast_guid(feed_url: str) -> str:
    """``podcast:guid``: UUIDv5 of the feed URL without its scheme and trailing slashes (Podcasting 2.0)."""
    return str(uuid.uuid5(PODCAST_GUID_NS, re.sub(r"^[a-zA-Z]+://", "", feed_url).rstrip("/")))


@dataclass
class Enclosure:
    url: str
    length: int
    type: str


def enclosure(site: Site, ep: Episode) -> Enclosure | None:
    """The episode's audio as a feed enclosure: a file under content/ (its size) or a URL hosted
    elsewhere (``audio_length``/``audio_type`` from episode.toml); None without audio."""
    media = audio_url(site, ep)
    if not media:
        return None
    suffix = Path(urlsplit(media).path).suffix.lower()
    mime = ep.audio_type or _MIME.get(suffix) or mimetypes.guess_type(media)[0] or "audio/mpeg"
    if urlsplit(ep.audio or "").scheme:
        return Enclosure(media, ep.audio_length or 0, mime)
    src = audio_source(site, ep)
    if src is None:
        return None
    return Enclosure(site.absolute(media[len(site.base):]), src.stat().st_size, mime)


def recorded_date(path: Path | None) -> str | None:
    """The date a recording's container says it was made (``creation_time``/``date`` tag), ISO."""
    if path is None:
        return None
    try:
        import ffmpeg

        tags = ffmpeg.probe(str(path)).get("format", {}).get("tags", {})
    except Exception:  # noqa: BLE001 - an unreadable file just has no recorded date
        return None
    for key in ("creation_time", "date", "DATE"):
        value = str(tags.get(key) or "").replace("Z", "+00:00")
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value).isoformat() if value else None
    return None


def episode_date(site: Site, ep: Episode) -> tuple[str | None, str]:
    """The episode's date for the feeds and where it came from: episode.toml's ``date``, else the
    recording's own date, else the date of the audio file (``modified``), else none."""
    if ep.date and _rfc822(ep.date):
        return ep.date, "episode"
    src = audio_source(site, ep)
    recorded = site.once(("recorded", ep.slug), lambda: recorded_date(src))
    if recorded:
        return recorded, "recording"
    if src is not None:
        return datetime.fromtimestamp(src.stat().st_mtime, UTC).replace(microsecond=0).isoformat(), "modified"
    return None, "none"


def channel_image(site: Site) -> str:
    cfg = site.config
    if cfg.image:
        return cfg.image if urlsplit(cfg.image).scheme else site.absolute(cfg.image)
    return site.absolute(ARTWORK)


def rss_feed(site: Site, episodes: list[Episode]) -> bytes:
    """RSS 2.0 with itunes: and podcast: elements: one item per episode with audio (newest first);
    podcast apps skip an item without an enclosure, so the others are in the site feed only."""
    cfg = site.config
    nsmap = {"podcast": PODCAST_NS, "itunes": ITUNES_NS, "atom": ATOM_NS, "content": CONTENT_NS}
    rss = etree.Element("rss", nsmap=nsmap, version="2.0")
    ch = _sub(rss, "channel")
    feed_url = site.absolute("feed.xml")
    _sub(ch, "title", cfg.title)
    _sub(ch, "link", site.absolute(""))
    _sub(ch, "description", cfg.description or cfg.title)
    _sub(ch, "language", cfg.language)
    _sub(ch, "generator", "recap")
    _sub(ch, f"{{{ATOM_NS}}}link", href=feed_url, rel="self", type="application/rss+xml")
    items = [(ep, enc, _rfc822(episode_date(site, ep)[0])) for ep in episodes
             if (enc := enclosure(site, ep)) is not None]
    dates = [pub for _, _, pub in items if pub]
    if dates:
        _sub(ch, "lastBuildDate", max(dates, key=lambda d: parsedate_to_datetime(d)))
    author = cfg.author or cfg.title
    _sub(ch, f"{{{ITUNES_NS}}}author", author)
    owner = _sub(ch, f"{{{ITUNES_NS}}}owner")
    _sub(owner, f"{{{ITUNES_NS}}}name", author)
    if cfg.email:
        _sub(owner, f"{{{ITUNES_NS}}}email", cfg.email)
    img = channel_image(site)
    _sub(ch, f"{{{ITUNES_NS}}}image", href=img)
    image = _sub(ch, "image")
    _sub(image, "url", img)
    _sub(image, "title", cfg.title)
    _sub(image, "link", site.absolute(""))
    top, sub = split_category(cfg.category) or ("Technology", None)
    cat = etree.SubElement(ch, f"{{{ITUNES_NS}}}category", {"text": top})  # the name is an attribute
    if sub:
        etree.SubElement(cat, f"{{{ITUNES_NS}}}category", {"text": sub})
    _sub(ch, f"{{{ITUNES_NS}}}explicit", "true" if cfg.explicit else "false")
    _sub(ch, f"{{{ITUNES_NS}}}type", "episodic")
    _sub(ch, f"{{{PODCAST_NS}}}guid", podcast_guid(feed_url))
    _sub(ch, f"{{{PODCAST_NS}}}locked", "no", owner=cfg.email or None)
    for ep, enc, pub in items:
        page = site.absolute(site_path("episode", ep.slug))
        item = _sub(ch, "item")
        _sub(item, "title", ep.title)
        _sub(item, "link", page)
        _sub(item, "guid", page, isPermaLink="true")
        text = episode_overview(ep, site.name)["text"]
        _sub(item, "description", text or ep.title)
        if pub:
            _sub(item, "pubDate", pub)
        _sub(item, "enclosure", url=enc.url, length=str(enc.length), type=enc.type)
        duration = _duration(ep.duration or ep.transcript.duration)
        if duration:
            _sub(item, f"{{{ITUNES_NS}}}duration", duration)
        _sub(item, f"{{{ITUNES_NS}}}explicit", "true" if cfg.explicit else "false")
        _sub(item, f"{{{ITUNES_NS}}}episodeType", "full")
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


def _atom_date(date: str | None) -> str:
    dt = datetime.fromisoformat(date) if date else datetime(1970, 1, 1, tzinfo=UTC)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _record_date(site: Site, ep: Episode) -> str | None:
    """When episode.toml was last written: an Atom entry's ``updated`` for an episode with no date at all."""
    p = site.store.root / "episodes" / ep.slug / "episode.toml"
    return datetime.fromtimestamp(p.stat().st_mtime, UTC).replace(microsecond=0).isoformat() if p.is_file() else None


def atom_feed(site: Site, episodes: list[Episode]) -> bytes:
    """``episodes/feed.xml``: the site's Atom feed of every episode, with or without audio (a feed
    reader follows the site; the podcast feed carries only what a podcast app can play)."""
    feed = etree.Element(f"{{{ATOM_NS}}}feed", nsmap={None: ATOM_NS})
    _sub(feed, f"{{{ATOM_NS}}}title", f"{site.config.title}: episodes")
    self_url = site.absolute("episodes/feed.xml")
    _sub(feed, f"{{{ATOM_NS}}}id", self_url)
    _sub(feed, f"{{{ATOM_NS}}}link", href=self_url, rel="self", type="application/atom+xml")
    _sub(feed, f"{{{ATOM_NS}}}link", href=site.absolute("episodes/"), rel="alternate", type="text/html")
    dated = [(ep, episode_date(site, ep)[0] or _record_date(site, ep)) for ep in episodes]
    _sub(feed, f"{{{ATOM_NS}}}updated", max((_atom_date(d) for _, d in dated), default=_atom_date(None)))
    author = _sub(feed, f"{{{ATOM_NS}}}author")
    _sub(author, f"{{{ATOM_NS}}}name", site.config.author or site.config.title)
    _sub(feed, f"{{{ATOM_NS}}}icon", channel_image(site))
    for ep, date in dated:
        page = site.absolute(site_path("episode", ep.slug))
        entry = _sub(feed, f"{{{ATOM_NS}}}entry")
        _sub(entry, f"{{{ATOM_NS}}}title", ep.title)
        _sub(entry, f"{{{ATOM_NS}}}id", page)
        _sub(entry, f"{{{ATOM_NS}}}link", href=page, rel="alternate", type="text/html")
        _sub(entry, f"{{{ATOM_NS}}}updated", _atom_date(date))
        text = episode_overview(ep, site.name)["text"]
        if text:
            _sub(entry, f"{{{ATOM_NS}}}summary", text)
        enc = enclosure(site, ep)
        if enc is not None:
            _sub(entry, f"{{{ATOM_NS}}}link", href=enc.url, rel="enclosure", type=enc.type, length=str(enc.length))
    return etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True)


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
    """``feed.xml`` (the podcast: episodes with audio), ``episodes/feed.xml`` (the site: every
    episode), both newest first, and the default artwork when none is configured."""
    episodes = sorted(site.episodes.values(), key=lambda e: (e.date or "", e.slug), reverse=True)
    for ep in episodes:
        if ep.audio and enclosure(site, ep) is None:
            log.warning("episode %s: its audio %s is not under content/episodes/%s/: it is not in the podcast "
                        "feed, only in episodes/feed.xml", ep.slug, ep.audio, ep.slug)
            continue
        if ep.audio and urlsplit(ep.audio).scheme and not ep.audio_length:
            log.warning("content/episodes/%s/episode.toml: audio is hosted elsewhere without audio_length: "
                        "the feed's enclosure says 0 bytes (set audio_length, in bytes)", ep.slug)
        if ep.audio:
            date, source = episode_date(site, ep)
            if source == "modified":
                log.warning("content/episodes/%s/episode.toml: no date; the feed's pubDate is the audio file's "
                            "(%s): set date = \"YYYY-MM-DD\"", ep.slug, (date or "")[:10])
            elif source == "none":
                log.warning("content/episodes/%s/episode.toml: no date, so its feed item has no pubDate (podcast "
                            "apps sort by it): set date = \"YYYY-MM-DD\"", ep.slug)
    # the episodes' records by file digest (serialising 50 episodes' chapters and mentions to hash
    # them cost seconds at conference scale); of the transcript, the feed shows only its length
    inputs = {"config": to_data(site.config), "base_url": site.base_url,
              "episodes": [[e.slug, [content_digest(site, f"episodes/{e.slug}/{name}")
                                     for name in ("episode.toml", "description.md", "chapters.toml")],
                            site.texts[e.slug].duration, site.texts[e.slug].spoken] for e in episodes],
              "people": to_data(site.people),
              "audio": {e.slug: file_stamp(audio_source(site, e)) for e in episodes}}
    yield Page("feed.xml", inputs, lambda: rss_feed(site, episodes))
    yield Page("episodes/feed.xml", inputs, lambda: atom_feed(site, episodes))
    if not site.config.image and not any((d / "static" / "artwork.png").is_file() for d in site.project.template_dirs):
        yield Page(ARTWORK, {"artwork": 1}, artwork_png, listed=False)


def sitemap_page(site: Site, pages: list[Page]) -> Page:
    """``sitemap.xml`` of the listed HTML pages among ``pages`` (every page the generators made)."""
    listed = [p.path for p in pages if p.listed and p.path.endswith(".html")]
    return Page("sitemap.xml", listed, lambda: sitemap(site, listed), listed=False)
