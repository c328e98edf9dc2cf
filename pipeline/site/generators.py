"""The page generators, registered explicitly: :data:`GENERATORS` names every page kind, in build order.

A generator is a function ``(Site) -> Iterable[Page]`` (:data:`pipeline.site.model.PageGenerator`).
To add a page kind to recap, write a module beside the others and add its generator to the tuple
below. A project (or a test) that wants one more page kind without changing recap passes its own
list to the builder::

    from pipeline.site.build import build_site
    from pipeline.site.generators import GENERATORS

    build_site(project, generators=(*GENERATORS, my_pages))

The order is the order pages are written and given search-document numbers; two generators that
write the same path make the build fail. ``sitemap.xml`` is made after all of them, from the pages
they listed (:func:`sitemap_page`).
"""

from __future__ import annotations

from pipeline.site import episodes, feeds, indexes, papermap, papers, people, posters, reports, static
from pipeline.site.model import PageGenerator

GENERATORS: tuple[PageGenerator, ...] = (
    episodes.episode_pages,  # episodes/<slug>/: the page, transcript files, chapters.json, audio
    papers.paper_pages,  # papers/<id>/ (with their related papers)
    posters.poster_pages,  # posters/<id>/ and their images
    people.person_pages,  # people/<id>/
    indexes.index_pages,  # home, episode/paper/poster/people lists, search page, 404
    papermap.map_pages,  # map/ (when [site] paper_map is on)
    reports.report_pages,  # episodes/<slug>/report/ (hidden unless [site] show_report)
    feeds.feed_pages,  # feed.xml
    static.static_files,  # static/ of the theme
)

sitemap_page = feeds.sitemap_page
"""``(Site, pages) -> Page``: ``sitemap.xml`` of every listed HTML page the generators made."""
