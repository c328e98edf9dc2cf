"""The search index: static, sharded by term, and updated in place when a few pages change.

The site's search runs in the browser on files under ``site/search-index/``; no server, no
request leaving the site. What is indexed are the pages' search documents (:class:`SearchDoc`, made
by :mod:`pipeline.site.searchdocs`): every episode, paper, poster and person page, and each
episode's transcript as passages, so a hit on words said opens the episode at that paragraph.

Files (all JSON, small, named so an unchanged part of the index keeps its bytes):

- ``meta.json``: number of documents, their mean length, the types present, the tokenizer settings;
- ``t/<key>.json``: the postings of every term whose first four characters are ``key``
  (``{term: [doc, tf, length, type, doc, tf, length, type, ...]}``), so one query downloads the
  shards of its own terms only;
- ``d/<doc>.json``: one document (URL relative to the site root, title, type, sections), fetched
  for the results shown, to build their excerpts.

Why not Pagefind (used before): it has no incremental mode, so one edited abstract re-indexed the
whole conference (~19 s for 3,586 papers and 50 episodes); here a build re-tokenizes only the pages
whose inputs changed and rewrites only the shards of the terms whose postings changed: a re-indexed
page keeps its document numbers, and lengths are kept on a log grid (:func:`grid_length`), so a
sentence added to an abstract rewrites the shards of its new words only. ``site/.recap-search.json`` is
the bookkeeping (page -> its hash and document numbers); it is removed while the index is being
changed, so an interrupted update is followed by a full rebuild, never by a half-updated index.

The tokenizer (:mod:`pipeline.site.tokens`) is defined twice, there and in
``templates/static/search.js``, and both must agree.
"""

from __future__ import annotations

import bisect
import contextlib
import json
import logging
import math
import re
import shutil
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.errors import StageError
from pipeline.files import atomic_write
from pipeline.site.tokens import Tokenizer

log = logging.getLogger(__name__)

INDEX_DIR = "search-index"
STATE = ".recap-search.json"
INDEX_VERSION = 2  # 2: lengths on a log grid, numbers kept by re-indexed pages
TITLE_WEIGHT = 3
"""A word of the title counts as this many words of the body."""
KEY_CHARS = 4
TYPES = ("episode", "paper", "poster", "person")

@dataclass
class Section:
    text: str
    anchor: str | None = None  # id of the element to open (a transcript paragraph)
    heading: str | None = None  # shown as the link text of that moment


@dataclass
class SearchDoc:
    url: str  # relative to the site root: "papers/x/", "episodes/slug/"
    title: str
    type: str  # one of TYPES
    sections: list[Section] = field(default_factory=list)


DocsFn = Callable[[], list[SearchDoc]]


# -- terms and shards ----------------------------------------------------------------------------
def _settings(tok: Tokenizer) -> dict:
    """What the browser needs to tokenize queries as the index was built (kept in meta.json)."""
    return {"v": INDEX_VERSION, "stem": tok.stem, "stop": tok.stop}


def shard_key(term: str) -> str:
    return term[:KEY_CHARS]


def shard_file(key: str) -> str:
    """File name of a shard: the key itself when it is plain ASCII, else its UTF-8 bytes in hex."""
    return key if re.fullmatch(r"[a-z0-9]+", key) else "_" + key.encode("utf-8").hex()


def doc_terms(doc: SearchDoc, tok: Tokenizer) -> tuple[Counter, int]:
    """(term -> weighted count, length in words) of a document: title words count TITLE_WEIGHT times."""
    counts: Counter = Counter()
    title = tok.terms(doc.title)
    for t in title:
        counts[t] += TITLE_WEIGHT
    length = len(title)
    for s in doc.sections:
        words = tok.terms(s.text) + (tok.terms(s.heading) if s.heading else [])
        counts.update(words)
        length += len(words)
    return counts, grid_length(length)


def grid_length(n: int) -> int:
    """A document's length as BM25 sees it: exact up to 16 words, then on a log grid of 8 steps per
    doubling (~9%; Lucene keeps its norms in one byte the same way). A small edit then usually
    leaves the length, and so every posting of the words it did not touch, as it was."""
    if n <= 16:
        return max(n, 1)
    return round(2 ** (round(math.log2(n) * 8) / 8))


def _fragment(doc: SearchDoc) -> dict:
    return {"u": doc.url, "t": doc.title, "k": doc.type, "s": [[s.anchor, s.heading, s.text] for s in doc.sections]}


def _from_fragment(data: dict) -> SearchDoc:
    sections = [Section(text, anchor, heading) for anchor, heading, text in data["s"]]
    return SearchDoc(data["u"], data["t"], data["k"], sections)


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _write(path: Path, data: bytes) -> None:
    """Atomic replace without fsync: the index is rebuilt from the site at will."""
    atomic_write(path, data, durable=False)


# -- the index -------------------------------------------------------------------------------------
@dataclass
class IndexUpdate:
    docs: int = 0  # documents (re)indexed
    removed: int = 0  # documents dropped or replaced
    shards: int = 0  # term shards written
    full: bool = False

    def __bool__(self) -> bool:
        return bool(self.docs or self.removed or self.full)


class _Rebuild(Exception):
    """The incremental update cannot proceed (bookkeeping and files disagree): rebuild in full."""


def update_index(out: Path, pages: dict[str, tuple[str, DocsFn]], language: str = "en", *,
                 full: bool = False) -> IndexUpdate:
    """Bring ``out/search-index`` up to date with ``pages`` (page path -> (page hash, its documents)).

    Only pages whose hash differs from the last update are asked for their documents; the shards
    of their old and new terms are rewritten. ``full`` (or missing/old bookkeeping) rebuilds it all."""
    out = Path(out)
    tok = Tokenizer(language)
    state = None if full else _load_state(out, tok)
    try:
        if state is not None:
            return _incremental(out, pages, tok, state)
    except _Rebuild as exc:
        log.info("search index: %s; rebuilding it", exc)
    return _full(out, pages, tok)


def _load_state(out: Path, tok: Tokenizer) -> dict | None:
    try:
        state = json.loads((out / STATE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or state.get("settings") != _settings(tok) \
            or not (out / INDEX_DIR / "meta.json").is_file():
        return None
    return state


def _postings_of(docs: Iterable[tuple[int, SearchDoc]], tok: Tokenizer) -> tuple[dict, dict]:
    """({shard key: {term: {doc: [tf, length, type]}}}, {doc: [length, type]})."""
    by_term: dict[str, dict[int, list]] = {}
    info: dict[int, list] = {}
    for num, doc in docs:
        counts, length = doc_terms(doc, tok)
        kind = TYPES.index(doc.type)
        info[num] = [length, kind]
        for term, tf in counts.items():
            postings = by_term.get(term)
            if postings is None:
                postings = by_term[term] = {}
            postings[num] = [tf, length, kind]
    shards: dict[str, dict[str, dict[int, list]]] = {}
    for term, postings in by_term.items():
        shards.setdefault(shard_key(term), {})[term] = postings
    return shards, info


def _flat(postings: dict[int, list]) -> list:
    return [x for num in sorted(postings) for x in (num, *postings[num])]


def _without(flat: list, nums: Iterable[int]) -> list:
    """Flat postings (doc, tf, length, type)*, sorted by doc, without the documents ``nums``: found
    by bisection (a one-paper edit touches ~100 shards holding postings of every document)."""
    starts = range(0, len(flat), 4)
    cut = []
    for num in nums:
        j = bisect.bisect_left(starts, num, key=flat.__getitem__)
        if j < len(starts) and flat[starts[j]] == num:
            cut.append(starts[j])
    if not cut:
        return flat
    out = list(flat)
    for i in sorted(cut, reverse=True):
        del out[i:i + 4]
    return out


def _with(flat: list, postings: dict[int, list]) -> list:
    """Flat postings, sorted by doc, with ``postings`` (doc -> [tf, length, type]) put in their places."""
    if not postings:
        return flat
    out = list(flat)
    for num in sorted(postings):
        starts = range(0, len(out), 4)
        j = bisect.bisect_left(starts, num, key=out.__getitem__)
        i = starts[j] if j < len(starts) else len(out)
        out[i:i] = [num, *postings[num]]
    return out


def _full(out: Path, pages: dict[str, tuple[str, DocsFn]], tok: Tokenizer) -> IndexUpdate:
    root = out / INDEX_DIR
    (out / STATE).unlink(missing_ok=True)
    numbered: list[tuple[int, SearchDoc]] = []
    page_docs: dict[str, list] = {}
    for path, (digest, docs_fn) in sorted(pages.items()):
        nums = []
        for doc in docs_fn():
            numbered.append((len(numbered), doc))
            nums.append(len(numbered) - 1)
        page_docs[path] = [digest, nums]
    shards, info = _postings_of(numbered, tok)
    # written into a fresh folder that then replaces the index whole: plain writes of thousands of
    # small files (one atomic replace per file took most of a full index build), and a reader never
    # sees a mix of two indexes
    fresh, stale = out / f".{INDEX_DIR}.new", out / f".{INDEX_DIR}.old"
    for d in (fresh, stale):
        shutil.rmtree(d, ignore_errors=True)
    (fresh / "d").mkdir(parents=True)
    (fresh / "t").mkdir()
    for num, doc in numbered:
        (fresh / "d" / f"{num}.json").write_bytes(_dump(_fragment(doc)))
    for key, terms in shards.items():
        (fresh / "t" / f"{shard_file(key)}.json").write_bytes(_dump({t: _flat(p) for t, p in sorted(terms.items())}))
    if root.exists():
        root.rename(stale)
    fresh.rename(root)
    shutil.rmtree(stale, ignore_errors=True)
    state = {"settings": _settings(tok), "next": len(numbered), "pages": page_docs,
             "docs": {str(n): v for n, v in info.items()}}
    _finish(out, state)
    return IndexUpdate(docs=len(numbered), shards=len(shards), full=True)


def _incremental(out: Path, pages: dict[str, tuple[str, DocsFn]], tok: Tokenizer, state: dict) -> IndexUpdate:
    root = out / INDEX_DIR
    old_pages: dict[str, list] = state["pages"]
    changed = [p for p, (digest, _) in pages.items() if old_pages.get(p, [None])[0] != digest]
    removed = [p for p in old_pages if p not in pages]
    if not changed and not removed:
        return IndexUpdate()
    gone = [n for p in changed + removed if p in old_pages for n in old_pages[p][1]]
    old_docs = []
    for num in gone:
        try:
            old_docs.append((num, _from_fragment(json.loads((root / "d" / f"{num}.json").read_bytes()))))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise _Rebuild(f"document {num} unreadable ({exc})") from exc
    (out / STATE).unlink(missing_ok=True)  # from here on, an interruption means a full rebuild
    next_num = state["next"]
    new_docs: list[tuple[int, SearchDoc]] = []
    for path in changed:
        docs = list(pages[path][1]())
        nums = old_pages.get(path, [None, []])[1]
        # a page that still has as many documents keeps their numbers: the postings of the words an
        # edit did not touch stay as they were, and their shards are not rewritten
        if len(nums) != len(docs):
            nums = list(range(next_num, next_num + len(docs)))
            next_num += len(docs)
        new_docs.extend(zip(nums, docs))
        old_pages[path] = [pages[path][0], nums]
    for path in removed:
        del old_pages[path]
    for num, doc in new_docs:
        _write_if_changed(root / "d" / f"{num}.json", _dump(_fragment(doc)))
    minus, _ = _postings_of(old_docs, tok)
    plus, info = _postings_of(new_docs, tok)
    docs_info = state["docs"]
    for num in gone:
        docs_info.pop(str(num), None)
    docs_info.update({str(n): v for n, v in info.items()})
    shards = _rewrite_shards(root, minus, plus)
    kept = {num for num, _ in new_docs}
    for num in gone:
        if num not in kept:
            (root / "d" / f"{num}.json").unlink(missing_ok=True)
    state["next"] = next_num
    _finish(out, state)
    return IndexUpdate(docs=len(new_docs), removed=len(gone), shards=shards)


def _rewrite_shards(root: Path, minus: dict, plus: dict) -> int:
    """Rewrite the shards whose postings changed: ``minus`` are the postings of the documents
    replaced or removed, ``plus`` those of the new ones (both by shard key). Returns how many."""
    shards = 0
    for key in set(minus) | set(plus):
        old_terms, new_terms = minus.get(key, {}), plus.get(key, {})
        terms = [t for t in set(old_terms) | set(new_terms) if old_terms.get(t) != new_terms.get(t)]
        if not terms:
            continue
        shard_path = root / "t" / f"{shard_file(key)}.json"
        try:
            shard = json.loads(shard_path.read_bytes()) if shard_path.exists() else {}
        except (OSError, ValueError) as exc:
            raise _Rebuild(f"shard {shard_path.name} unreadable ({exc})") from exc
        for term in terms:
            postings = _with(_without(shard.get(term, []), old_terms.get(term, {})), new_terms.get(term, {}))
            if postings:
                shard[term] = postings
            else:
                shard.pop(term, None)
        if shard:
            _write(shard_path, _dump(dict(sorted(shard.items()))))
        else:
            shard_path.unlink(missing_ok=True)
        shards += 1
    return shards


def _finish(out: Path, state: dict) -> None:
    """meta.json from the bookkeeping, then the bookkeeping itself (last: it vouches for the files)."""
    info = state["docs"].values()
    n = len(info)
    kinds = Counter(TYPES[k] for _, k in info)
    meta = {"v": INDEX_VERSION, "docs": n, "avg": round(sum(length for length, _ in info) / n, 2) if n else 1,
            "types": list(TYPES), "present": sorted(kinds), "stem": state["settings"]["stem"],
            "stop": state["settings"]["stop"], "key": KEY_CHARS}
    _write_if_changed(out / INDEX_DIR / "meta.json", _dump(meta))
    _write(out / STATE, _dump(state))


def _write_if_changed(path: Path, data: bytes) -> None:
    with contextlib.suppress(OSError):
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return
    _write(path, data)


def remove_index(out: Path) -> None:
    """Drop the index and its bookkeeping (a site built without search)."""
    for name in (INDEX_DIR, f".{INDEX_DIR}.new", f".{INDEX_DIR}.old"):
        shutil.rmtree(Path(out) / name, ignore_errors=True)
    (Path(out) / STATE).unlink(missing_ok=True)


def check_index(out: Path) -> list[str]:
    """Problems with the index under ``out``: every document a shard names must exist."""
    root = Path(out) / INDEX_DIR
    if not (root / "meta.json").is_file():
        return []
    docs = {p.stem for p in (root / "d").glob("*.json")}
    problems = []
    for shard in sorted((root / "t").glob("*.json")):
        try:
            data = json.loads(shard.read_bytes())
        except ValueError as exc:
            problems.append(f"{INDEX_DIR}/t/{shard.name}: not JSON ({exc})")
            continue
        missing = {str(n) for flat in data.values() for n in flat[0::4]} - docs
        if missing:
            problems.append(f"{INDEX_DIR}/t/{shard.name}: names missing documents {sorted(missing)[:5]}")
    return problems


def write_index(out: Path, pages: dict[str, tuple[str, DocsFn]], language: str, *, full: bool) -> IndexUpdate:
    """:func:`update_index`, with file-system failures reported as one stage error."""
    try:
        return update_index(out, pages, language, full=full)
    except OSError as exc:
        raise StageError(f"search index for {out}: {exc}", hint="rebuild with `recap build --full`") from exc
