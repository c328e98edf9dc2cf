"""What each page kind puts in the search index (:mod:`pipeline.site.search`): its search documents.

Every episode, paper, poster and person page is one document (its title, and the text it is found
by); an episode's transcript adds *passages*: up to :data:`PASSAGE_PARAGRAPHS` paragraphs of one
chapter, each paragraph with its anchor, so a hit on words said opens the episode at that paragraph.
A page's generator passes the function that makes its documents (``Page.search``): it is called
only when the page's hash changed.
"""

from __future__ import annotations

from pipeline import tex
from pipeline.export import site_path
from pipeline.models import Episode, Paper, Person, Poster
from pipeline.site.model import Site
from pipeline.site.paragraphs import Paragraph
from pipeline.site.search import SearchDoc, Section
from pipeline.timefmt import format_timestamp

PASSAGE_PARAGRAPHS = 6
"""Transcript paragraphs per passage (a passage never spans two chapters)."""


def transcript_passages(site: Site, slug: str) -> list[SearchDoc]:
    """An episode's transcript as passages of up to PASSAGE_PARAGRAPHS paragraphs of one chapter."""
    ep = site.episodes[slug]
    titles = {i: c.title for i, c in enumerate(ep.chapters)}
    groups: list[list[Paragraph]] = []
    for p in site.paragraphs[slug]:
        if not groups or len(groups[-1]) >= PASSAGE_PARAGRAPHS or p.chapter != groups[-1][0].chapter:
            groups.append([])
        groups[-1].append(p)
    out = []
    for group in groups:
        first = group[0]
        where = titles.get(first.chapter) if first.chapter is not None else None
        title = f"{ep.title} · {format_timestamp(first.start)}" + (f" · {where}" if where else "")
        out.append(SearchDoc(site_path("episode", slug), title, "episode", [
            Section(p.text, p.id, format_timestamp(p.start) + (f" · {p.speaker}" if p.speaker else ""))
            for p in group]))
    return out


def _docs_text(*parts: str | None) -> str:
    return "\n".join(p for p in parts if p)


def paper_docs(site: Site, paper: Paper) -> list[SearchDoc]:
    text = _docs_text(" ".join(paper.aliases), ", ".join(paper.authors), paper.venue, tex.plain(paper.abstract),
                      *(n.text for n in paper.notes))
    return [SearchDoc(site_path("paper", paper.id), tex.plain(paper.title), "paper", [Section(text)])]


def episode_docs(site: Site, ep: Episode) -> list[SearchDoc]:
    text = _docs_text(ep.description, ep.summary.text if ep.summary else None,
                      *(c.title for c in ep.chapters),
                      *(c.summary.text for c in ep.chapters if c.summary))
    return [SearchDoc(site_path("episode", ep.slug), ep.title, "episode", [Section(text)]),
            *transcript_passages(site, ep.slug)]


def poster_docs(site: Site, poster: Poster) -> list[SearchDoc]:
    ref = site.paper_ref(poster.paper)
    title = tex.plain(ref["title"]) if ref else poster.id
    text = _docs_text(", ".join(site.name(p) for p in poster.presenters), poster.excerpt)
    return [SearchDoc(site_path("poster", poster.id), title, "poster", [Section(text)])]


def person_docs(site: Site, person: Person) -> list[SearchDoc]:
    text = _docs_text(" ".join(person.aliases), person.affiliation)
    return [SearchDoc(site_path("person", person.id), person.name, "person", [Section(text)])]
