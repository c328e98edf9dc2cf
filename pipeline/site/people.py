"""People pages: ``people/<id>/`` with a person's talks, poster sessions, the episodes they speak in
(with the first moments they speak) and the papers they authored."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Iterator

from pipeline.export import site_path
from pipeline.models import Person
from pipeline.site.model import Page, Site, grouped, html_page, is_web_url
from pipeline.site.searchdocs import person_docs


def person_context(site: Site, person: Person) -> dict:
    talks: list[dict] = []
    sessions: list[dict] = []
    appearances: list[dict] = []
    by_speaker = site.once("chapters-by-speaker", lambda: {
        (slug, pid): [ch for ch in ep.chapters if pid in ch.speakers]
        for slug, ep in site.episodes.items() for pid in {s for ch in ep.chapters for s in ch.speakers}})
    # the episodes each person is in (mapped speaker or chapter speaker): not 388 x 50 scans
    episodes_of = grouped(site, "episodes-by-person", lambda: [
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
        times = speaking_times(site).get((slug, person.name), []) if labels else []
        if labels or chapters:
            appearances.append({"episode": ep.title, "url": site.url("episode", slug), "date": ep.date,
                                "moments": [{"start": t, "url": site.moment_url(slug, t)} for t in times[:12]],
                                "more": max(0, len(times) - 12)})
    presented = grouped(site, "posters-by-presenter",
                        lambda: [(pid, p) for p in site.posters.values() for pid in dict.fromkeys(p.presenters)],
                        lambda pair: pair[0])
    for _, poster in presented.get(person.id, []):
        ref = site.paper_ref(poster.paper)
        sessions.append({"title": ref["title"] if ref else poster.id,
                         "start": poster.start, "episode": poster.episode, "url": site.url("poster", poster.id),
                         "paper": ref})
    authored = [site.paper_ref(pid) for pid in papers_by_author(site).get(person.name, [])]
    return {"person": dict(vars(person)),  # shallow: the template only reads it
            "url_ok": bool(person.url and is_web_url(person.url)), "talks": talks, "sessions": sessions,
            "appearances": appearances, "authored": authored, "og_url": site.absolute(site_path("person", person.id))}


def speaking_times(site: Site) -> dict[tuple[str, str], list[float]]:
    """(episode, speaker name) -> start of each of their paragraphs, once per build."""
    def index() -> dict[tuple[str, str], list[float]]:
        out: dict[tuple[str, str], list[float]] = defaultdict(list)
        for slug, paras in site.paragraphs.items():
            for p in paras:
                if p.speaker:
                    out[(slug, p.speaker)].append(p.start)
        return dict(out)

    return site.once("speaking", index)


def papers_by_author(site: Site) -> dict[str, list[str]]:
    """Author name -> ids of their papers (catalog order), once per build (not 388 x 3,586 scans)."""
    def index() -> dict[str, list[str]]:
        out: dict[str, list[str]] = defaultdict(list)
        for p in site.papers.values():
            for name in dict.fromkeys(p.authors):
                out[name].append(p.id)
        return dict(out)

    return site.once("by-author", index)


def person_pages(site: Site) -> Iterator[Page]:
    for pid, person in site.people.items():
        yield html_page(site, f"people/{pid}/index.html", "person.html", person_context(site, person),
                        search=functools.partial(person_docs, site, person))
