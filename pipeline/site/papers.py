"""Paper pages: ``papers/<id>/`` with the record (authors, abstract, links, notes), every moment the
paper is discussed in an episode, its posters and its related papers."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import asdict
from typing import TYPE_CHECKING

from pipeline.export import site_path
from pipeline.models import Paper
from pipeline.site.model import (
    Deferred,
    Page,
    Site,
    content_digest,
    grouped,
    is_web_url,
    poster_ref,
    summary_data,
    url_quote,
)
from pipeline.site.related import related_html
from pipeline.site.searchdocs import paper_docs

if TYPE_CHECKING:
    from markupsafe import Markup


def paper_context(site: Site, paper: Paper) -> dict:
    posters = [poster_ref(site, p) for p in grouped(site, "posters-by-paper", site.posters.values,
                                                    lambda p: p.paper).get(paper.id, [])]
    moments = []
    for m in site.moments.get(paper.id, []):
        moments.append(asdict(m) | {"url": site.moment_url(m.episode, m.start), "start": m.start,
                                     "episode_url": site.url("episode", m.episode),
                                     "summary": summary_data(site, m.episode, m.summary)})
    return {"paper": paper,  # the record itself: the template reads it, hashing walks it (no deep copy)
            "links": paper_links(paper), "moments": moments, "posters": posters,
            "og_url": site.absolute(site_path("paper", paper.id)), "extras": {}}


def paper_links(paper: Paper) -> list[dict]:
    """arXiv, DOI, OpenReview and the record's own URL (when it is http(s) and not one of the others)."""
    links = []
    if paper.arxiv:
        links.append({"label": f"arXiv:{paper.arxiv}", "href": url_quote(f"https://arxiv.org/abs/{paper.arxiv}")})
    if paper.doi:
        links.append({"label": f"doi:{paper.doi}", "href": url_quote(f"https://doi.org/{paper.doi}")})
    if paper.openreview:
        links.append({"label": "OpenReview",
                      "href": url_quote(f"https://openreview.net/forum?id={paper.openreview}")})
    url = url_quote(paper.url.strip()) if paper.url else None
    if url and is_web_url(url) and not any(link["href"] == url for link in links):
        links.append({"label": "Paper", "href": url})
    return links


def conference_html(site: Site, paper: Paper) -> Markup:
    """"At the conference" on a paper page: venue, track and how it was presented (oral, spotlight,
    poster), from ``_conference.html``; empty for a paper no conference list named."""
    from markupsafe import Markup

    if not (paper.track or paper.status):
        return Markup("")
    return Markup(site.render("_conference.html", paper=paper))


def paper_pages(site: Site) -> Iterator[Page]:
    by_paper = grouped(site, "posters-by-paper", site.posters.values, lambda p: p.paper)
    for pid, paper in site.papers.items():
        side = related_html(site, pid)
        # What the page shows, cheaply: the record by its file's digest, the moments and posters
        # about it, the related papers' inputs. The context itself is built only to render.
        # (Building and hashing 3,586 contexts cost most of a build that changed one paper.)
        moments = site.moments.get(pid, [])
        inputs = ["paper.html", content_digest(site, f"papers/{pid}.toml"), moments,
                  sorted({site.texts[m.episode].key for m in moments}),  # anchors of summary sentences
                  [poster_ref(site, p) for p in by_paper.get(pid, [])], side]

        def render(paper: Paper = paper, side: Deferred | str = side) -> str:
            ctx = paper_context(site, paper)
            from markupsafe import Markup

            ctx["extras"] = {"side": Markup("").join([conference_html(site, paper), side])}
            return site.render("paper.html", **ctx)

        yield Page(f"papers/{pid}/index.html", inputs, render,
                   search=functools.partial(paper_docs, site, paper))
