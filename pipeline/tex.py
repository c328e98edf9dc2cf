"""TeX in paper titles and abstracts: accents and escapes to Unicode, math kept, math to MathML.

Conference lists (OpenReview, BibTeX) write titles and abstracts in TeX: ``Fr\\'echet``, ``\\&``,
``{QLoRA}``, ``$\\mathcal{O}(\\rho \\log T)$``. recap stores them as:

- :func:`decode`: accents, letters (``\\ss``, ``\\o``) and the escapes ``\\& \\% \\# \\_`` outside math
  become Unicode; math (``$..$``, ``$$..$$``, ``\\(..\\)``, ``\\[..\\]``) is kept verbatim, and so is every
  other command (``\\emph{x}``) and the escapes ``\\$ \\{ \\}`` (which would otherwise start math or a group);
  ``strip_braces``: groups that only protect case (``{QLoRA}``, not ``\\emph{x}``) lose their braces.
- :func:`plain`: the text a reader sees, as plain text (search, feeds, meta tags, ids): math as its
  symbols (``$\\varepsilon$`` -> ``ε``), formatting commands and braces dropped.
- :func:`to_html`: the same as HTML, math as MathML (latex2mathml, server-side: pages stay
  script-free) passed through an element and attribute allow-list.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata

_MATH = re.compile(r"\$\$.+?\$\$|(?<!\\)\$(?:[^$\\]|\\.)+?\$|\\\(.+?\\\)|\\\[.+?\\\]", re.S)

_MARK = {"'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303", "=": "\u0304",
         ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b", "c": "\u0327", "k": "\u0328",
         "r": "\u030a", "d": "\u0323", "b": "\u0331"}
_NAMED = {"ss": "ß", "o": "ø", "O": "Ø", "aa": "å", "AA": "Å", "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ",
          "l": "ł", "L": "Ł", "i": "ı", "j": "ȷ", "textendash": "–", "textemdash": "—",
          "textquoteleft": "‘", "textquoteright": "’", "textquotedblleft": "“", "textquotedblright": "”",
          "textbraceleft": "{", "textbraceright": "}", "textbackslash": "\\", "textasciitilde": "~",
          "textunderscore": "_", "textasciicircum": "^", "textbar": "|", "textless": "<", "textgreater": ">",
          "S": "§", "ldots": "…", "textellipsis": "…", "dag": "†", "pounds": "£", "copyright": "©"}
_SYM = r"['\"`^~=.]"
_LET = r"[cvuHkrdb]"
_BASE = r"\\?[A-Za-z]"
_TOKEN = re.compile(
    rf"\{{\\(?P<ga>{_SYM})\s*(?:\{{(?P<gb>{_BASE})\}}|(?P<gc>{_BASE}))\}}"  # {\'e}  {\'{e}}
    rf"|\{{\\(?P<la>{_LET})(?:\{{(?P<lb>{_BASE})\}}|\s+(?P<lc>{_BASE}))\}}"  # {\c c}  {\v{s}}
    rf"|\\(?P<a>{_SYM})\s*(?:\{{(?P<b>{_BASE})\}}|(?P<c>{_BASE}))"  # \'e  \'{e}  \'{\i}
    rf"|\\(?P<l>{_LET})(?:\{{(?P<m>{_BASE})\}}|\s(?P<n>[A-Za-z])(?![A-Za-z]))"  # \c{c}  \v s
    r"|\\(?P<name>[A-Za-z]+)(?P<tail>\{\}|\s?)"  # \ss  \textemdash{}  (only the names in _NAMED)
    r"|\\(?P<esc>[&%#_])"
)
_LITERAL = {"$": "$", "{": "{", "}": "}"}
_CMD_END = re.compile(r"\\[A-Za-z]+\*?\s*$|[}\]]$")
_GROUP = re.compile(r"\{([^{}\\]*)\}")


def split_math(text: str) -> list[tuple[bool, str]]:
    """``text`` as (is_math, part) pieces in order; a math piece keeps its delimiters."""
    parts: list[tuple[bool, str]] = []
    pos = 0
    for m in _MATH.finditer(text):
        if m.start() > pos:
            parts.append((False, text[pos:m.start()]))
        parts.append((True, m.group()))
        pos = m.end()
    if pos < len(text):
        parts.append((False, text[pos:]))
    return parts


def _compose(base: str, accent: str) -> str:
    letter = base[-1] if base.startswith("\\") and base[-1] in "ij" else base
    if base.startswith("\\") and base[1:] not in ("i", "j"):
        return ""
    return unicodedata.normalize("NFC", letter + _MARK[accent])


def _token(m: re.Match[str]) -> str:
    g = m.groupdict()
    for acc, b1, b2 in (("ga", "gb", "gc"), ("la", "lb", "lc"), ("a", "b", "c"), ("l", "m", "n")):
        if g[acc]:
            out = _compose(g[b1] or g[b2], g[acc])
            return out or m.group()
    if g["name"]:
        named = _NAMED.get(g["name"])
        return named if named is not None else m.group()
    return g["esc"]


def _strip_case_braces(text: str) -> str:
    """``{QLoRA}`` -> ``QLoRA`` (innermost first), leaving a command's argument (``\\emph{x}``) alone."""
    def group(m: re.Match[str]) -> str:
        return m.group() if _CMD_END.search(m.string, max(0, m.start() - 40), m.start()) else m.group(1)

    while True:
        out = _GROUP.sub(group, text)
        if out == text:
            return out
        text = out


def decode(text: str, *, strip_braces: bool = False) -> str:
    """TeX accents, letters and escapes outside math to Unicode (see the module's docstring)."""
    if "\\" not in text and (not strip_braces or "{" not in text):
        return text
    out = []
    for is_math, part in split_math(text):
        if not is_math:
            if strip_braces:
                part = _strip_case_braces(part)
            part = _TOKEN.sub(_token, part)
        out.append(part)
    return "".join(out)


# -- what a reader sees ----------------------------------------------------------------------------------

_FORMAT = {"emph": "em", "textit": "em", "textsl": "em", "it": "em", "em": "em", "sl": "em", "textbf": "strong",
           "bf": "strong", "textsc": None, "sc": None, "texttt": "code", "tt": "code", "ttfamily": "code",
           "underline": None, "textrm": None, "textsf": None, "mbox": None, "text": None, "url": "code"}
_CMD_ARG = re.compile(r"\\([A-Za-z]+)\s*\{([^{}]*)\}")
_CMD_GROUP = re.compile(r"\{\\([A-Za-z]+)\s+([^{}]*)\}")
_HREF = re.compile(r"\\href\s*\{([^{}]*)\}\s*\{([^{}]*)\}")
_ESCAPED = re.compile(r"\\([${}])")


def _text_html(part: str, *, as_html: bool) -> str:
    """A piece of text outside math: formatting commands to tags (or dropped), groups unwrapped."""
    part = decode(part.replace("\x00", ""))
    # placeholders keep the tags out of the escaping below
    opened: list[str] = []

    def wrap(cmd: str, inner: str) -> str:
        tag = _FORMAT[cmd]
        if not as_html or tag is None:
            return inner
        opened.append(tag)
        return f"\x00{len(opened) - 1}\x01{inner}\x00{len(opened) - 1}\x02"

    for _ in range(8):  # nested formatting, innermost first
        new = _HREF.sub(lambda m: m.group(2), part)
        new = _CMD_ARG.sub(lambda m: wrap(m.group(1), m.group(2)) if m.group(1) in _FORMAT else m.group(), new)
        new = _CMD_GROUP.sub(lambda m: wrap(m.group(1), m.group(2)) if m.group(1) in _FORMAT else m.group(), new)
        new = _strip_case_braces(new)
        if new == part:
            break
        part = new
    part = _ESCAPED.sub(lambda m: _LITERAL[m.group(1)], part)
    if not as_html:
        return part
    part = html.escape(part, quote=False)
    return re.sub(r"\x00(\d+)([\x01\x02])",
                  lambda m: f"<{'' if m.group(2) == chr(1) else '/'}{opened[int(m.group(1))]}>", part)


def _math_source(part: str) -> tuple[str, bool]:
    """(the TeX inside the delimiters, display mode)."""
    if part.startswith("$$") or part.startswith("\\["):
        return part[2:-2], True
    if part.startswith("\\("):
        return part[2:-2], False
    return part[1:-1], False


def plain(text: str) -> str:
    """What a reader sees, as plain text: math as its symbols, commands and braces dropped."""
    if not text or ("\\" not in text and "$" not in text and "{" not in text):
        return text
    out = []
    for is_math, part in split_math(text):
        out.append(_math_plain(part) if is_math else _text_html(part, as_html=False))
    return "".join(out)


def to_html(text: str) -> str:
    """``text`` as HTML (escaped), its math as sanitised MathML; the caller marks the result safe."""
    out = []
    for is_math, part in split_math(text or ""):
        out.append(_math_html(part) if is_math else _text_html(part, as_html=True))
    return "".join(out)


@functools.lru_cache(maxsize=8192)
def _mathml_tree(part: str) -> object | None:
    """The parsed MathML of a math piece, or None when latex2mathml cannot read it."""
    import xml.etree.ElementTree as ET

    from latex2mathml.converter import convert

    source, display = _math_source(part)
    try:
        return ET.fromstring(convert(source, display="block" if display else "inline"))
    except Exception:  # latex2mathml raises many kinds on TeX it does not know; the source is shown then
        return None


@functools.lru_cache(maxsize=8192)
def _math_html(part: str) -> str:
    root = _mathml_tree(part)
    if root is None:
        return f'<code class="tex">{html.escape(part, quote=False)}</code>'
    return _serialize(root, part)


@functools.lru_cache(maxsize=8192)
def _math_plain(part: str) -> str:
    root = _mathml_tree(part)
    if root is None:
        return _ESCAPED.sub(lambda m: _LITERAL[m.group(1)], part.strip("$"))
    pieces = [t for t in root.itertext() if t.strip()]  # type: ignore[attr-defined]
    # "\\rho \\log T" -> "ρ log T": a word-like identifier (log, sin, a \\text{} run) keeps its spaces
    out = "".join(f" {t.strip()} " if len(t.strip()) > 1 and t.strip().isalpha() else t.strip() for t in pieces)
    return " ".join(out.split())


MATHML_NS = "http://www.w3.org/1998/Math/MathML"
ALLOWED_ELEMENTS = frozenset(
    "math mrow mi mn mo ms mtext mspace msup msub msubsup mfrac msqrt mroot mover munder munderover mtable "
    "mtr mtd mstyle mpadded mphantom menclose merror mmultiscripts mprescripts none".split())
"""MathML elements a page may carry; anything else is dropped with its content."""
ALLOWED_ATTRIBUTES = frozenset(
    "display mathvariant stretchy fence separator lspace rspace accent accentunder movablelimits largeop "
    "symmetric minsize maxsize linethickness width height depth columnalign rowalign columnspacing rowspacing "
    "scriptlevel displaystyle form notation columnlines rowlines frame align".split())
"""Attributes kept (no event handlers, links, styles or classes)."""
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9 .%#+-]{0,40}$")


def _serialize(root: object, part: str) -> str:
    """MathML of an ElementTree, keeping only allow-listed elements and attributes; text escaped."""
    def walk(el: object) -> str:
        tag = el.tag  # type: ignore[attr-defined]
        local = tag.rsplit("}", 1)[-1] if tag.startswith("{") else tag
        if tag.startswith("{") and not tag.startswith("{" + MATHML_NS) or local not in ALLOWED_ELEMENTS:
            return ""
        attrs = "".join(f' {k}="{html.escape(v)}"' for k, v in sorted(el.attrib.items())  # type: ignore[attr-defined]
                        if k in ALLOWED_ATTRIBUTES and _SAFE_VALUE.match(v))
        if local == "math":
            attrs += f' xmlns="{MATHML_NS}"'
        inner = html.escape(el.text or "", quote=False)  # type: ignore[attr-defined]
        for child in el:  # type: ignore[attr-defined]
            inner += walk(child) + html.escape(child.tail or "", quote=False)
        return f"<{local}{attrs}>{inner}</{local}>"

    out = walk(root)
    if not out.startswith("<math"):
        return f'<code class="tex">{html.escape(part, quote=False)}</code>'
    # the TeX source as the accessible fallback of the formula
    return out.replace("<math", f'<math alttext="{html.escape(_math_source(part)[0])}"', 1)
