"""Hostile text as data: XSS payloads and unsafe ids, and a project with a payload in every field.

Each payload, if it ever ran in a reader's browser, would set ``window.__xss`` (or open a dialog).
Used by tests/test_security.py, tests/test_standards.py and bench/robustness.py.
"""

from __future__ import annotations

from pathlib import Path

PAYLOADS: list[str] = [
    "<script>window.__xss=1</script>",
    "<script>alert(1)</script>",
    "<img src=x onerror=\"window.__xss=1\">",
    "<img src=x onerror=alert(1)>",
    "<svg onload=window.__xss=1>",
    "<svg><script>window.__xss=1</script></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss=1>",
    "<iframe srcdoc=\"<script>parent.__xss=1</script>\"></iframe>",
    "<a href=\"javascript:window.__xss=1\">click</a>",
    "javascript:window.__xss=1",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "\"><script>window.__xss=1</script>",
    "' onmouseover='window.__xss=1' x='",
    "\" autofocus onfocus=\"window.__xss=1\" x=\"",
    "</title><script>window.__xss=1</script>",
    "</textarea><script>window.__xss=1</script>",
    "<!--<script>window.__xss=1</script>-->",
    "<details open ontoggle=window.__xss=1>",
    "<body onload=window.__xss=1>",
    "<object data=\"javascript:window.__xss=1\"></object>",
    "<base href=\"javascript:/\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:window.__xss=1\">",
    "{{7*7}}", "{% raw %}", "${7*7}", "#{7*7}", "{{ config }}",
    "\u202e<script>window.__xss=1</script>",
    "\uff1cscript\uff1ewindow.__xss=1\uff1c/script\uff1e",
    "<scr<script>ipt>window.__xss=1</scr</script>ipt>",
    "&lt;script&gt;window.__xss=1&lt;/script&gt;",
    "]]><script>window.__xss=1</script>",
    "--> <script>window.__xss=1</script>",
]

# Markdown that tries to smuggle links or HTML through show notes (rendered with raw HTML disabled).
MARKDOWN_PAYLOADS: list[str] = [
    "[x](javascript:window.__xss=1)",
    "[x](JAVASCRIPT:alert(1))",
    "[x](  javascript:alert(1))",
    "[x](data:text/html,<script>alert(1)</script>)",
    "[x](vbscript:msgbox(1))",
    "![img](javascript:alert(1))",
    "<javascript:alert(1)>",
    "[ref]\n\n[ref]: javascript:window.__xss=1",
    "<a href='javascript:alert(1)'>raw</a>",
    "[ok](https://example.org/safe)",
]

UNSAFE_IDS: list[str] = ["../evil", "../../etc/passwd", "/etc/passwd", "a/../../b", "..", ".", "a\x00b",
                         "ep/../../x", "C:\\evil", "~/evil", "x" * 300, "UPPER", "with space", "", "-x"]


def all_payloads() -> str:
    return " ".join(PAYLOADS)


def make_hostile_project(root: Path) -> None:
    """A project whose content puts a payload in every field the site shows."""
    from pipeline.config import init_project, open_project
    from pipeline.models import (
        Chapter,
        Episode,
        Mention,
        Paper,
        PaperNote,
        Person,
        Poster,
        Summary,
        SummarySentence,
        Transcript,
        Utterance,
        Word,
    )

    init_project(root, title="<script>window.__xss=1</script> site")
    store = open_project(root).content
    n = len(PAYLOADS)
    papers = []
    for i, p in enumerate(PAYLOADS):
        q = PAYLOADS[(i + 7) % n]
        papers.append(Paper(
            id=f"hostile-{i}", title=f"{p} paper {i}", authors=[q, f"Author {p}"], date="2023-12-1" + str(i % 10),
            abstract=f"Abstract {p} {MARKDOWN_PAYLOADS[i % len(MARKDOWN_PAYLOADS)]}", aliases=[f"H{i}{p[:8]}"],
            venue=q, url="javascript:window.__xss=1" if i % 3 == 0 else f"https://example.org/{p}",
            doi=p if i % 4 == 0 else None, arxiv=None,
            notes=[PaperNote(source=q, text=f"note {p} {MARKDOWN_PAYLOADS[i % len(MARKDOWN_PAYLOADS)]}",
                             url="javascript:window.__xss=1")]))
    for paper in papers:
        store.save_paper(paper)
    people = [Person(id=f"person-{i}", name=f"{p} Name", aliases=[p], affiliation=p,
                      url="javascript:window.__xss=1" if i % 2 else p) for i, p in enumerate(PAYLOADS[:12])]
    for person in people:
        store.save_person(person)
    utts, t = [], 0.0
    for i, p in enumerate(PAYLOADS):
        words = [Word(text=w, start=t + k * 0.5, end=t + k * 0.5 + 0.4, probability=0.9)
                 for k, w in enumerate(p.split()[:4] or [p])]
        utts.append(Utterance(start=t, end=t + 4.0, text=f"{p} said here {i}", speaker=f"S{i % 3}", words=words))
        t += 5.0
    chapters = [Chapter(start=i * 40.0, title=f"{p} chapter", kind="poster" if i % 2 else "talk",
                        speakers=[people[i % len(people)].id], paper=papers[i].id, confidence=0.9,
                        summary=Summary(text=f"Chapter summary {p}",
                                        sentences=[SummarySentence(text=f"Sentence {p}", start=i * 40.0 + 1,
                                                                   end=i * 40.0 + 3)]))
                for i, p in enumerate(PAYLOADS[:4])]
    description = "Show notes.\n\n" + "\n\n".join(f"* {m} and {p}" for m, p in zip(MARKDOWN_PAYLOADS, PAYLOADS))
    ep = Episode(slug="hostile", title=f"{PAYLOADS[0]} episode {PAYLOADS[2]}", date="2023-12-20",
                 description=description, duration=t,
                 speakers={"S0": people[0].id, "S1": people[1].id, "S2": people[2].id},
                 papers=[p.id for p in papers[:6]],
                 summary=Summary(text=f"Episode summary {PAYLOADS[3]} {PAYLOADS[14]}"),
                 chapters=chapters,
                 mentions=[Mention(paper=papers[i].id, start=i * 5.0, end=i * 5.0 + 4, quote=f"quote {p}",
                                   speaker=f"S{i % 3}", chapter=0) for i, p in enumerate(PAYLOADS[:6])],
                 transcript=Transcript(utterances=utts, language="en", source=PAYLOADS[1]))
    store.save_episode(ep)
    store.save_poster(Poster(id="hostile-poster", paper=papers[1].id, episode="hostile", start=40.0, end=80.0,
                             presenters=[people[1].id], excerpt=f"excerpt {PAYLOADS[4]} {PAYLOADS[15]}"))
