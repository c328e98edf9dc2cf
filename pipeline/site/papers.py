"""Paper pages: ``papers/<id>/`` with the record (authors, abstract, links, notes), every moment the
paper is discussed in an episode, its posters and its related papers."""

from __future__ import annotations

import functools
import re
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
from pipeline.text import STOP_WORDS, words

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
    episodes = discussed_in(site, moments)
    return {"paper": paper,  # the record itself: the template reads it, hashing walks it (no deep copy)
            "links": paper_links(paper), "moments": moments, "episodes": episodes,
            "notes": [{"text": n.text, "source": source_label(n.source),
                       "url": url_quote(n.url) if n.url and is_web_url(n.url) else None} for n in paper.notes],
            "n_shown": sum(len(c["shown"]) for e in episodes for c in e["chapters"]),
            "n_moments": len(moments), "posters": posters,
            "og_url": site.absolute(site_path("paper", paper.id)), "extras": {}}


def source_label(source: str) -> str:
    """Where a note came from, for readers: "research-highlights-blog.txt" -> "Research highlights blog"
    (an imported file's name, not the file itself)."""
    name = source.strip()
    if re.fullmatch(r"[\w.-]+\.(?:txt|md|markdown|json|ya?ml|bib|html?|csv|tsv)", name, re.I):
        name = re.sub(r"\.[a-z]+$", "", name, flags=re.I)
        name = re.sub(r"[-_.]+", " ", name).strip()
        name = name[:1].upper() + name[1:]
    return name or source


SHOWN_PER_CHAPTER = 3
MIN_CONTENT_WORDS = 4  # a quote with fewer content words ("Hi, everyone.") says nothing about the paper


def informative(quote: str) -> int:
    """How much a quote says: its content words (stop words and filler left out)."""
    return len([w for w in words(quote) if w not in STOP_WORDS and len(w) > 2])


def _without_greeting(quote: str) -> str:
    """A quote without its opening sentences that say nothing ("Hi, everyone. My name's Eric, ..." ->
    "My name's Eric, ..."), unless nothing else is left."""
    sentences = re.split(r"(?<=[.!?])\s+", quote)
    while len(sentences) > 1 and informative(sentences[0]) < 2:
        sentences = sentences[1:]
    return " ".join(sentences)


def discussed_in(site: Site, moments: list[dict]) -> list[dict]:
    """The moments grouped by episode, then by chapter (in the episode's order); in each chapter the
    chapter itself (with its summary) first, then the most informative quotes. ``shown`` are the
    first few worth reading, ``more`` the rest (trivial quotes only there)."""
    by_episode: dict[str, dict[int | None, list[dict]]] = {}
    for m in moments:
        by_episode.setdefault(m["episode"], {}).setdefault(m["chapter"], []).append(m)
    out = []
    for slug, chapters in by_episode.items():
        ep = site.episodes.get(slug)
        groups = []
        for index, items in sorted(chapters.items(), key=lambda kv: min(x["start"] for x in kv[1])):
            title = (ep.chapters[index].title if ep is not None and index is not None and index < len(ep.chapters)
                     else None)
            start = min(x["start"] for x in items)
            ranked = sorted(items, key=lambda x: (x["kind"] not in ("chapter", "poster"), -informative(x["quote"]),
                                                  x["start"]))
            for x in items:
                x["quote"] = _without_greeting(x["quote"])
            shown = [x for x in ranked if x["kind"] in ("chapter", "poster") or x["summary"]
                     or informative(x["quote"]) >= MIN_CONTENT_WORDS][:SHOWN_PER_CHAPTER]
            more = sorted((x for x in ranked if x not in shown), key=lambda x: x["start"])
            groups.append({"title": title, "start": start, "shown": shown, "more": more,
                           "url": site.moment_url(slug, start)})
        first = next(iter(chapters.values()))[0]
        out.append({"slug": slug, "title": first["episode_title"], "url": site.url("episode", slug),
                    "chapters": groups})
    return out


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
