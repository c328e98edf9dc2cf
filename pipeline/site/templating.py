"""The template engine: Jinja2 with recap's filters, Markdown for show notes and descriptions, and the
hash of the templates (part of every page's hash: a template edit re-renders the pages).

Templates are looked up in the project's ``templates/`` first, then in the packaged default theme
(:attr:`pipeline.config.Project.template_dirs`), so a project overrides one file by writing its own.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pipeline import tex
from pipeline.timefmt import format_timestamp

if TYPE_CHECKING:
    import jinja2
    from markdown_it import MarkdownIt
    from markupsafe import Markup

RENDER_VERSION = "1"
"""Bump when the site's output changes without a template change (part of every page's hash)."""


def make_env(template_dirs: list[Path], cache_dir: Path | None = None) -> jinja2.Environment:
    """The template engine; with ``cache_dir``, compiled templates are kept there (Jinja2's bytecode
    cache, checked against each template's source): compiling them cost ~0.1 s of every build."""
    import jinja2

    bytecode_cache = None
    if cache_dir is not None:
        with contextlib.suppress(OSError):
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
            bytecode_cache = jinja2.FileSystemBytecodeCache(str(cache_dir))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in template_dirs]),
        bytecode_cache=bytecode_cache,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["ts"] = format_timestamp
    env.filters["markdown"] = render_markdown
    env.filters["secs"] = seconds_attr
    env.filters["tex"] = tex_html
    env.filters["plain"] = tex.plain
    return env


def template_macro(env: jinja2.Environment, template: str, name: str) -> Callable[..., Markup]:
    """The macro ``name`` of ``template`` (a partial such as ``_timeline.html``), to call from Python."""
    return getattr(env.get_template(template).module, name)


def seconds_attr(t: float) -> str:
    """Seconds as an HTML attribute value: at most 3 decimals, no trailing zeros ("12.5", "90")."""
    return f"{float(t):.3f}".rstrip("0").rstrip(".")


def templates_hash(dirs: list[Path]) -> str:
    """sha256 of :data:`RENDER_VERSION` and every template file's path and bytes (``.py`` files and
    ``__pycache__`` excepted: the default theme is also a Python package)."""
    h = hashlib.sha256(RENDER_VERSION.encode())
    for d in dirs:
        for p in sorted(d.rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".py":
                h.update(str(p.relative_to(d)).encode())
                h.update(p.read_bytes())
    return h.hexdigest()


def tex_html(text: str) -> Markup:
    """A title or abstract as HTML: TeX accents decoded, formatting commands as tags, math as sanitised
    MathML (:func:`pipeline.tex.to_html`); everything else escaped."""
    from markupsafe import Markup

    return Markup(tex.to_html(str(text or "")))


def render_markdown(text: str) -> Markup:
    """Markdown to HTML with raw HTML disabled and only http(s), mailto and relative links."""
    from markupsafe import Markup

    return Markup(_markdown().render(text or ""))


def _is_allowed_link(url: str) -> bool:
    return urlsplit(url.strip()).scheme.lower() in ("", "http", "https", "mailto")


@functools.cache
def _markdown() -> MarkdownIt:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.validateLink = _is_allowed_link  # type: ignore[method-assign]
    return md
