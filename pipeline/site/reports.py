"""Quality report pages: ``episodes/<slug>/report/`` for every episode, the passages most likely
wrong, worst first (the analysis is :mod:`pipeline.report`). Hidden unless ``[site] show_report =
true``: not in the sitemap, ``noindex``, not in search, not linked from the episode page."""

from __future__ import annotations

from collections.abc import Iterator

from markupsafe import Markup, escape

from pipeline.audio.voices import unconfirmed
from pipeline.models import Episode
from pipeline.report import FINDINGS_VERSION, ReportOptions, quality_report
from pipeline.site.model import Page, Site, content_digest


def report_pages(site: Site) -> Iterator[Page]:
    listed = bool(site.config.show_report)
    for slug, ep in site.episodes.items():
        proposals = unconfirmed(site.store, slug)
        # what the report reads, by file digest (the report itself, which reads the transcript, is
        # computed only when the page is rendered)
        inputs = {"template": "report.html", "listed": listed, "version": FINDINGS_VERSION,
                  "files": [content_digest(site, f"episodes/{slug}/{name}")
                            for name in ("transcript.json", "chapters.toml", "episode.toml")],
                  "papers": {c.paper: _paper_title(site, c.paper) for c in ep.chapters if c.paper},
                  "people": {pid: site.name(pid) for pid in ep.speakers.values()},
                  "proposals": [repr(m) for m in proposals], "options": repr(ReportOptions())}

        def render(slug: str = slug, ep: Episode = ep, proposals: list = proposals) -> str:
            digest = content_digest(site, f"episodes/{slug}/transcript.json")
            report = quality_report(ep, site.people, site.papers, proposals,
                                    cache_dir=site.project.cache_dir, transcript_digest=digest)
            issues = [{"kind": i.kind, "severity": round(i.severity, 3), "start": i.start, "message": i.message,
                       "text": i.text, "speaker": i.speaker, "url": site.moment_url(slug, i.start)}
                      for i in report.issues]
            ctx = {"episode": {"slug": slug, "title": ep.title, "url": site.url("episode", slug)},
                   "issues": issues, "counts": sorted(report.by_kind().items()), "listed": listed,
                   "og_url": site.absolute(f"episodes/{slug}/report/")}
            return site.render("report.html", **ctx)

        yield Page(f"episodes/{slug}/report/index.html", inputs, render, listed)


def _paper_title(site: Site, pid: str) -> str:
    ref = site.paper_ref(pid)
    return ref["title"] if ref else pid


def report_link_html(site: Site, slug: str) -> Markup | str:
    """A link to the episode's report for the episode page, only when reports are public."""
    if not site.config.show_report:
        return ""
    url = site.url("episode", slug) + "report/"
    return Markup(f'<section class="block"><h2>Editors</h2><p><a href="{escape(url)}">Quality report</a></p></section>')
