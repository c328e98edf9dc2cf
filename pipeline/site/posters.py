"""Poster pages: ``posters/<id>/`` (the paper, its presenters, the moment of the poster session, an
excerpt) and the poster's image when content/ has one."""

from __future__ import annotations

import functools
from collections.abc import Iterator

from pipeline.export import site_path
from pipeline.site.model import Page, Site, file_page, html_page, poster_ref
from pipeline.site.searchdocs import poster_docs


def poster_pages(site: Site) -> Iterator[Page]:
    for pid, poster in site.posters.items():
        ep = site.episodes.get(poster.episode)
        ctx = {"poster": poster_ref(site, poster) | {"excerpt": poster.excerpt, "end": poster.end},
               "episode": {"slug": ep.slug, "title": ep.title, "url": site.url("episode", ep.slug)} if ep else None,
               "og_url": site.absolute(site_path("poster", pid))}
        yield html_page(site, f"posters/{pid}/index.html", "poster.html", ctx,
                        search=functools.partial(poster_docs, site, poster))
        img = site.store.poster_image(poster)
        if img is not None:
            yield file_page(f"posters/{pid}/{img.name}", img)
