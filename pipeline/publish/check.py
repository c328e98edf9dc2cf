"""Check a built site before it is published (and in the tests).

:func:`check_site` returns a list of problems, one line each (empty = fine):

* a broken internal link or anchor: every ``href``/``src`` inside the site resolves to a file, and
  a ``#fragment`` into an HTML page names an element ``id`` there;
* live markup that came from content: any inline ``<script>`` (the templates only load scripts from
  files), ``on*`` event-handler attributes, ``javascript:`` URLs, or a page without a CSP that
  forbids inline scripts;
* an invalid RSS feed (RSS 2.0 required elements, enclosures, ``podcast:`` elements);
* invalid Podcasting 2.0 JSON chapters files;
* a search index whose term shards name documents that are not there.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlsplit

from lxml import etree, html

from pipeline.site.feeds import PODCAST_NS
from pipeline.site.search import INDEX_DIR, check_index

LINK_ATTRS = (("a", "href"), ("link", "href"), ("img", "src"), ("script", "src"), ("audio", "src"),
              ("source", "src"), ("track", "src"), ("video", "src"), ("form", "action"), ("area", "href"))


def check_site(site_dir: Path, base_url: str = "/") -> list[str]:
    site_dir = Path(site_dir)
    if not (site_dir / "index.html").is_file():
        return [f"{site_dir}: no index.html (build the site first)"]
    base = urlsplit(base_url)
    base_path = base.path if base.path.endswith("/") else base.path + "/"
    problems: list[str] = []
    pages: dict[Path, etree._Element] = {}
    for p in sorted(site_dir.rglob("*.html")):
        rel = p.relative_to(site_dir)
        if rel.parts[0] == INDEX_DIR or rel.parts[0].startswith("."):
            continue
        try:
            pages[p.resolve()] = html.fromstring(p.read_bytes())
        except (etree.ParserError, ValueError) as exc:
            problems.append(f"{rel}: not parseable HTML ({exc})")
    ids: dict[Path, set[str]] = {p: {str(i) for i in doc.xpath("//@id")} | {str(n) for n in doc.xpath("//a/@name")}
                                 for p, doc in pages.items()}

    def resolve(page: Path, url: str) -> tuple[Path | None, str]:
        parts = urlsplit(url)
        if parts.scheme or parts.netloc:
            if base.netloc and parts.netloc == base.netloc and parts.path.startswith(base_path):
                path = parts.path[len(base_path):]
            else:
                return None, ""  # external
        elif parts.path.startswith("/"):
            if not parts.path.startswith(base_path):
                return site_dir / "__outside_base__", parts.fragment
            path = parts.path[len(base_path):]
        elif parts.path == "":
            return page, parts.fragment
        else:
            rel_dir = page.parent.relative_to(site_dir.resolve())
            path = str(rel_dir / parts.path) if str(rel_dir) != "." else parts.path
        target = (site_dir / unquote(path)).resolve()
        if target.is_dir() or unquote(path).endswith("/") or path == "":
            target = target / "index.html"
        return target, parts.fragment

    for page, doc in pages.items():
        rel = page.relative_to(site_dir.resolve())
        for script in doc.iter("script"):
            if not script.get("src"):
                problems.append(f"{rel}: inline <script> (content must never become markup)")
        for el in doc.iter():
            if not isinstance(el.tag, str):
                continue
            for attr, value in el.attrib.items():
                if attr.lower().startswith("on"):
                    problems.append(f"{rel}: <{el.tag} {attr}=...> event handler in the page")
                unsafe = ("javascript:", "data:text/html", "vbscript:")
                if attr in ("href", "src", "action") and value.strip().lower().startswith(unsafe):
                    problems.append(f"{rel}: {attr}={value[:40]!r} is a script URL")
        csp = doc.xpath('//meta[@http-equiv="Content-Security-Policy"]/@content')
        if not csp or "unsafe-inline" in _directive(csp[0], "script-src"):
            problems.append(f"{rel}: no Content-Security-Policy forbidding inline scripts")
        for tag, attr in LINK_ATTRS:
            for el in doc.iter(tag):
                url = el.get(attr)
                if url is None or url.startswith(("mailto:", "tel:")):
                    continue
                target, fragment = resolve(page, url.strip())
                if target is None:
                    continue
                if not target.exists():
                    problems.append(f"{rel}: broken link {url}")
                    continue
                if fragment and target.suffix == ".html" and target in ids and unquote(fragment) not in ids[target]:
                    problems.append(f"{rel}: broken anchor {url}")
    feed = site_dir / "feed.xml"
    if feed.exists():
        absolute = bool(base.scheme and base.netloc)
        problems += [f"feed.xml: {p}" for p in check_rss(feed.read_bytes(), absolute=absolute)]
    for chapters in sorted(site_dir.glob("episodes/*/chapters.json")):
        try:
            data = json.loads(chapters.read_text("utf-8"))
        except ValueError as exc:
            problems.append(f"{chapters.relative_to(site_dir)}: not JSON ({exc})")
            continue
        problems += [f"{chapters.relative_to(site_dir)}: {p}" for p in check_chapters(data)]
    return problems + check_index(site_dir)


def _directive(csp: str, name: str) -> str:
    for part in csp.split(";"):
        bits = part.split()
        if bits and bits[0] == name:
            return " ".join(bits[1:])
    return _directive(csp, "default-src") if name != "default-src" else "'unsafe-inline'"


def check_rss(data: bytes, *, absolute: bool = False) -> list[str]:
    """RSS 2.0 (https://www.rssboard.org/rss-specification) plus what podcast apps need of an item (an
    enclosure, a guid, a pubDate: Podcast Index's parser skips an item without the first two) and the
    podcast: elements recap writes. ``absolute``: every link must be a full http(s) URL (a published feed)."""
    try:
        root = etree.fromstring(data)
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed XML ({exc})"]
    problems = []
    if root.tag != "rss" or root.get("version") != "2.0":
        problems.append("root element is not <rss version=\"2.0\">")
    channel = root.find("channel")
    if channel is None:
        return problems + ["no <channel>"]
    for tag in ("title", "link", "description"):
        if not (channel.findtext(tag) or "").strip():
            problems.append(f"<channel> has no <{tag}>")
    for i, item in enumerate(channel.findall("item"), 1):
        if not (item.findtext("title") or item.findtext("description")):
            problems.append(f"item {i}: needs a <title> or <description>")
        for tag in ("enclosure", "guid", "pubDate"):
            if item.find(tag) is None:
                problems.append(f"item {i}: no <{tag}> (podcast apps skip or misplace such an item)")
        for enc in item.findall("enclosure"):
            if not enc.get("url") or not enc.get("type") or not (enc.get("length") or "").isdigit():
                problems.append(f"item {i}: <enclosure> needs url, length (bytes) and type")
        for t in item.findall(f"{{{PODCAST_NS}}}transcript"):
            if not t.get("url") or not t.get("type"):
                problems.append(f"item {i}: <podcast:transcript> needs url and type")
        for c in item.findall(f"{{{PODCAST_NS}}}chapters"):
            if not c.get("url") or c.get("type") != "application/json+chapters":
                problems.append(f"item {i}: <podcast:chapters> needs url and type application/json+chapters")
        for p in item.findall(f"{{{PODCAST_NS}}}person"):
            if not (p.text or "").strip():
                problems.append(f"item {i}: empty <podcast:person>")
    if absolute:
        urls = [("<link>", e.text) for e in root.iter("link") if e.text] + [
            (f"<{etree.QName(e).localname} {attr}>", e.get(attr)) for e in root.iter()
            for attr in ("url", "href") if isinstance(e.tag, str) and e.get(attr)]
        urls += [("<image><url>", e.text) for e in root.iter("url") if e.text]
        problems += [f"{where} {url!r} is not an absolute URL" for where, url in urls
                     if urlsplit(url.strip()).scheme not in ("http", "https")]
    return problems


def check_chapters(data: object) -> list[str]:
    """Podcasting 2.0 JSON chapters (podcast-namespace/chapters/jsonChapters.md): a ``version``
    string and a ``chapters`` array of objects with a numeric ``startTime`` (ascending); optional
    ``title``/``img``/``url`` strings, ``toc`` boolean, ``endTime`` number after ``startTime``."""
    if not isinstance(data, dict):
        return ["not a JSON object"]
    problems = []
    if not isinstance(data.get("version"), str):
        problems.append("version must be a string")
    chapters = data.get("chapters")
    if not isinstance(chapters, list):
        return problems + ["chapters must be an array"]
    last = -1.0
    types = {"title": str, "img": str, "url": str, "toc": bool}
    for i, ch in enumerate(chapters):
        if not isinstance(ch, dict):
            problems.append(f"chapter {i}: not an object")
            continue
        start = ch.get("startTime")
        if isinstance(start, bool) or not isinstance(start, (int, float)) or start < 0:
            problems.append(f"chapter {i}: startTime must be a non-negative number")
            continue
        if start < last:
            problems.append(f"chapter {i}: startTime {start} before the previous chapter's")
        last = start
        end = ch.get("endTime")
        if end is not None and (isinstance(end, bool) or not isinstance(end, (int, float)) or end < start):
            problems.append(f"chapter {i}: endTime must be a number after startTime")
        for key, tp in types.items():
            if key in ch and not isinstance(ch[key], tp):
                problems.append(f"chapter {i}: {key} must be {tp.__name__}")
    return problems
