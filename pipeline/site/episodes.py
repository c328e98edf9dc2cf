"""Episode pages: ``episodes/<slug>/`` with the page itself (summary, chapters, speaker timeline,
transcript paragraphs), the transcript as VTT, SRT and JSON, ``chapters.json`` (Podcasting 2.0) and
the audio file when it lives under content/."""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from pipeline.export import site_path, speaker_name, to_chapters, to_json, to_srt, to_vtt
from pipeline.models import Episode
from pipeline.site.model import (
    Page,
    Site,
    audio_source,
    audio_url,
    content_digest,
    file_page,
    poster_ref,
    summary_data,
)
from pipeline.site.overview import episode_overview
from pipeline.site.paragraphs import Paragraph
from pipeline.site.reports import report_link_html
from pipeline.site.searchdocs import episode_docs
from pipeline.site.timeline import episode_timeline_html


def episode_context(site: Site, ep: Episode) -> dict:
    paras = site.paragraphs[ep.slug]
    chapters = []
    for i, ch in enumerate(sorted(ep.chapters, key=lambda c: c.start)):
        chapters.append({
            "index": i, "start": ch.start, "end": ch.end, "title": ch.title, "kind": ch.kind,
            "anchor": site.anchor(ep.slug, ch.start) if paras else f"ch-{i}",
            "speakers": [site.person_ref(s) for s in ch.speakers], "paper": site.paper_ref(ch.paper),
            "summary": summary_data(site, ep.slug, ch.summary),
        })
    by_chapter: dict[int | None, list[Paragraph]] = defaultdict(list)
    for p in paras:
        by_chapter[p.chapter].append(p)
    sections: list[dict[str, Any]] = []
    if by_chapter.get(None):
        sections.append({"title": "Opening", "start": by_chapter[None][0].start, "paragraphs": by_chapter[None]})
    for i, ch in enumerate(ep.chapters):
        if by_chapter.get(i):
            sections.append({"title": ch.title, "start": ch.start, "paragraphs": by_chapter[i]})
    sections.sort(key=lambda s: s["start"])
    posters = [poster_ref(site, p) for p in sorted(site.posters.values(), key=lambda p: p.start)
               if p.episode == ep.slug]
    speakers = sorted({pid for pid in ep.speakers.values()} | {s for c in ep.chapters for s in c.speakers})
    base = site.url("episode", ep.slug)
    return {
        "episode": {"slug": ep.slug, "title": ep.title, "date": ep.date, "description": ep.description,
                    "duration": ep.duration or site.texts[ep.slug].duration or None, "url": base,
                    "audio": audio_url(site, ep)},
        "og_url": site.absolute(site_path("episode", ep.slug)),
        "summary": summary_data(site, ep.slug, ep.summary),
        "overview": episode_overview(ep, site.name),
        "chapters": chapters,
        "papers": [site.paper_ref(p) for p in ep.papers],
        "posters": posters,
        "speakers": [site.person_ref(s) for s in speakers],
        "sections": [{"title": s["title"], "start": s["start"],
                      "paragraphs": list(s["paragraphs"])}  # flat records: no deep copy
                     for s in sections],
        "files": {"vtt": base + "transcript.vtt", "srt": base + "transcript.srt",
                  "json": base + "transcript.json", "chapters": base + "chapters.json"},
        "has_transcript": bool(paras),
        "extras": {},  # blocks added below (the speaker timeline, the report link), rendered by the template
    }


def episode_pages(site: Site) -> Iterator[Page]:
    for slug, ep in site.episodes.items():
        ctx = episode_context(site, ep)
        audio = audio_source(site, ep)
        if ctx["episode"]["audio"] and not urlsplit(ctx["episode"]["audio"]).scheme and audio is None:
            ctx["episode"]["audio"] = None
        ctx["extras"] = {"before_chapters": episode_timeline_html(site, ep), "side": report_link_html(site, slug)}
        # the transcript's paragraphs by what they are computed from (hashing 23k paragraphs of text
        # on every build cost more than all else on the episode pages)
        inputs = {"template": "episode.html", **ctx, "text": site.texts[slug].key,
                  "sections": [[sec["title"], sec["start"], len(sec["paragraphs"])] for sec in ctx["sections"]]}
        yield Page(f"episodes/{slug}/index.html", inputs, functools.partial(site.render, "episode.html", **ctx),
                   search=functools.partial(episode_docs, site, ep))
        names = {label: speaker_name(ep, label, site.people) for label in ep.speakers}
        t_inputs = {"transcript": content_digest(site, f"episodes/{slug}/transcript.json"), "names": names}
        yield Page(f"episodes/{slug}/transcript.vtt", t_inputs, functools.partial(to_vtt, ep, site.people))
        yield Page(f"episodes/{slug}/transcript.srt", t_inputs, functools.partial(to_srt, ep, site.people))
        yield Page(f"episodes/{slug}/transcript.json", t_inputs, functools.partial(to_json, ep, site.people))
        chapters = to_chapters(ep, site.papers, site.posters, site.base_url)
        yield Page(f"episodes/{slug}/chapters.json", chapters,
                   functools.partial(chapters_json, chapters))
        if audio is not None:
            yield file_page(f"episodes/{slug}/{audio.name}", audio)


def chapters_json(chapters: dict) -> str:
    """``chapters.json`` (Podcasting 2.0 JSON chapters) as written."""
    return json.dumps(chapters, ensure_ascii=False, indent=1) + "\n"
