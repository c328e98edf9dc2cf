"""The site's own pages: the home page, the lists of episodes, papers (grouped by venue), posters and
people, the search page and ``404.html``."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from pipeline.models import Episode
from pipeline.site.model import Page, Site, html_page, poster_ref
from pipeline.site.paragraphs import shorten
from pipeline.site.related import paper_map_enabled


def episode_card(site: Site, ep: Episode) -> dict:
    """An episode as the home page and the episode list show it."""
    text = ep.summary.text if ep.summary else ep.description
    return {"slug": ep.slug, "title": ep.title, "date": ep.date, "url": site.url("episode", ep.slug),
            "duration": ep.duration or site.texts[ep.slug].duration or None, "blurb": shorten(text, 50),
            "chapters": [{"title": c.title, "start": c.start} for c in sorted(ep.chapters, key=lambda c: c.start)],
            "n_papers": len(ep.papers)}


def index_pages(site: Site) -> Iterator[Page]:
    episodes = sorted(site.episodes.values(), key=lambda e: (e.date or "", e.slug), reverse=True)
    cards = [episode_card(site, e) for e in episodes]
    discussed = {pid for pid, ms in site.moments.items() if ms}
    yield html_page(site, "index.html", "home.html",
                    {"episodes": cards[:10], "counts": {"episodes": len(site.episodes), "papers": len(site.papers),
                                                        "posters": len(site.posters), "people": len(site.people)},
                     "og_url": site.absolute("")})
    yield html_page(site, "episodes/index.html", "episodes.html",
                    {"episodes": cards, "og_url": site.absolute("episodes/")})
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for p in site.papers.values():
        key = p.venue or (p.sources[0] if p.sources else "Other")
        groups[key].append({"id": p.id, "title": p.title, "date": p.date or "", "url": site.url("paper", p.id),
                            "authors": p.authors[:4], "more_authors": max(0, len(p.authors) - 4),
                            "discussed": p.id in discussed})
    grouped: list[dict[str, Any]] = [{"name": k, "id": "g-" + hashlib.sha1(k.encode()).hexdigest()[:8],
                                      "papers": sorted(v, key=lambda x: (x["date"], x["title"]), reverse=True)}
                                     for k, v in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))]
    yield html_page(site, "papers/index.html", "papers.html",
                    {"groups": grouped, "has_map": paper_map_enabled(site), "og_url": site.absolute("papers/")})
    posters = [poster_ref(site, p) for p in sorted(site.posters.values(), key=lambda p: (p.episode, p.start))]
    yield html_page(site, "posters/index.html", "posters.html",
                    {"posters": posters, "og_url": site.absolute("posters/")})
    people = sorted(site.people.values(), key=lambda p: p.name.lower())
    yield html_page(site, "people/index.html", "people.html",
                    {"people": [{"name": p.name, "url": site.url("person", p.id), "affiliation": p.affiliation,
                                 "host": p.host} for p in people], "og_url": site.absolute("people/")})
    yield html_page(site, "search/index.html", "search.html", {"og_url": site.absolute("search/")})
    yield html_page(site, "404.html", "404.html", {"og_url": site.absolute("404.html")}, listed=False)
