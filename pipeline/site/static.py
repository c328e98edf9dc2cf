"""The theme's static files (``static/`` of every template folder) copied to ``site/static/``; a
project's own file overrides the default theme's of the same name."""

from __future__ import annotations

from collections.abc import Iterator

from pipeline.site.model import Page, Site, file_page


def static_files(site: Site) -> Iterator[Page]:
    seen: set[str] = set()
    for d in site.project.template_dirs:  # project templates first: their files override
        static = d / "static"
        if not static.is_dir():
            continue
        for p in sorted(static.rglob("*")):
            rel = p.relative_to(static).as_posix()
            if p.is_file() and rel not in seen:
                seen.add(rel)
                yield file_page(f"static/{rel}", p)
