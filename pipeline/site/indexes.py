"""The site's own pages: the home page, the lists of episodes, papers (grouped by venue), posters and
people, the search page and ``404.html``."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from pipeline.models import Episode
from pipeline.site.model import Page, Site, html_page, poster_ref
from pipeline.site.overview import episode_overview
from pipeline.site.paragraphs import shorten
from pipeline.site.related import paper_map_enabled


def episode_card(site: Site, ep: Episode) -> dict:
    """An episode as the home page and the episode list show it."""
    text = episode_overview(ep, site.name)["text"]
    return {"slug": ep.slug, "title": ep.title, "date": ep.date, "url": site.url("episode", ep.slug),
            "duration": ep.duration or site.texts[ep.slug].duration or None, "blurb": shorten(text, 50),
            "chapters": [{"title": c.title, "start": c.start} for c in sorted(ep.chapters, key=lambda c: c.start)],
            "n_papers": len(ep.papers)}


def paper_groups(site: Site, episodes: list[Episode], discussed: set[str]) -> list[dict[str, Any]]:
    """The papers as a reader looks for them: those discussed in each episode (newest episode first),
    then the others by venue or track, then by year; never by the file they were imported from."""
    group_of: dict[str, str] = {}
    order: list[str] = []
    for ep in episodes:
        name = f"Discussed in {ep.title}"
        ids = [m.paper for m in ep.mentions] + [c.paper for c in ep.chapters if c.paper] + ep.papers
        for pid in ids:
            if pid in site.papers and pid not in group_of:
                group_of[pid] = name
                if name not in order:
                    order.append(name)
    rest: dict[str, list[str]] = defaultdict(list)
    for pid, p in site.papers.items():
        if pid not in group_of:
            year = (p.date or "")[:4]
            rest[p.venue or (year if year.isdigit() else "Undated")].append(pid)
    venues = sorted((k for k in rest if not k.isdigit() and k != "Undated"), key=lambda k: (-len(rest[k]), k))
    years = sorted((k for k in rest if k.isdigit()), reverse=True)
    for key in venues + years + (["Undated"] if "Undated" in rest else []):
        for pid in rest[key]:
            group_of[pid] = key
        order.append(key)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pid, name in group_of.items():
        p = site.papers[pid]
        groups[name].append({"id": p.id, "title": p.title, "date": p.date or "", "url": site.url("paper", p.id),
                             "authors": p.authors[:4], "more_authors": max(0, len(p.authors) - 4),
                             "discussed": p.id in discussed})
    return [{"name": k, "id": "g-" + hashlib.sha1(k.encode()).hexdigest()[:8],
             "papers": sorted(groups[k], key=lambda x: (x["date"], x["title"]), reverse=True)} for k in order]


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
    grouped = paper_groups(site, episodes, discussed)
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
