"""Speaker-paragraph transcripts as people publish them: made-up files in each shape import exactly,
and a bad line is one error naming the file and the line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.errors import InputError
from pipeline.sources.paragraphs import read_paragraphs
from pipeline.sources.transcripts import detect_format, import_transcript, read_transcript

SUBSTACK = """# Episode 12: Vision models

Some preamble the export puts first.

[00:00:00] **Ada Quill:** Welcome back. Today we talk about detectors.

## [00:00:20] Intros

[00:00:20] **Ben Ortiz:** Hi, we're Ben and Cleo from Lensworks. [00:00:31] We build small detectors.

[00:01:05] **Cleo Marsh**: And I train them.

## [00:01:40] Benchmarks

[00:01:40] **Ada Quill:** How do you measure them?
"""

PAREN = """Ada Quill (00:00:02): Welcome to the show.
Ben Ortiz (00:00:09): Thanks for having me.
Ada Quill (01:15): So what is new?
"""

OTTER = """Ada Quill  0:02
Welcome to the show.
It is good to have you.

Ben Ortiz  0:09
Thanks for having me.

Ada Quill  1:02:03
That was a long pause.
"""

YOUTUBE = """0:00
welcome everyone
0:04
today we look at detectors
1:10 and this one is on the same line
"""


def _write(tmp_path: Path, text: str, name: str = "t.txt") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _rows(path: Path):
    t = read_transcript(path)
    return [(u.start, u.end, u.speaker, u.text) for u in t.utterances]


def test_substack_descript_with_headings_and_inline_times(tmp_path: Path):
    p = _write(tmp_path, SUBSTACK)
    assert detect_format(p, SUBSTACK) == "paragraphs"
    transcript, chapters = read_paragraphs(p, SUBSTACK)
    rows = [(u.start, u.end, u.speaker, u.text) for u in transcript.utterances]
    assert rows[:4] == [
        (0.0, 20.0, "Ada Quill", "Welcome back. Today we talk about detectors."),
        (20.0, 31.0, "Ben Ortiz", "Hi, we're Ben and Cleo from Lensworks."),
        (31.0, 65.0, "Ben Ortiz", "We build small detectors."),
        (65.0, 100.0, "Cleo Marsh", "And I train them."),
    ]
    last = rows[4]
    assert last[:3] == (100.0, last[1], "Ada Quill") and last[3] == "How do you measure them?"
    assert 101.0 <= last[1] <= 105.0  # the last paragraph ends after its words
    assert [(c.start, c.title, c.source) for c in chapters] == [
        (20.0, "Intros", "transcript"), (100.0, "Benchmarks", "transcript")]
    assert chapters[0].end == 100.0
    assert "Episode 12" not in " ".join(r[3] for r in rows)  # the title line is no speech


def test_name_and_time_in_parentheses(tmp_path: Path):
    assert _rows(_write(tmp_path, PAREN)) == [
        (2.0, 9.0, "Ada Quill", "Welcome to the show."),
        (9.0, 75.0, "Ben Ortiz", "Thanks for having me."),
        (75.0, 75.0 + 4 / 2.5, "Ada Quill", "So what is new?"),
    ]


def test_otter_riverside_zoom_name_and_time_lines(tmp_path: Path):
    rows = _rows(_write(tmp_path, OTTER))
    assert rows[:2] == [(2.0, 9.0, "Ada Quill", "Welcome to the show. It is good to have you."),
                        (9.0, 3723.0, "Ben Ortiz", "Thanks for having me.")]
    assert rows[2][:3] == (3723.0, rows[2][1], "Ada Quill") and rows[2][3] == "That was a long pause."


def test_youtube_transcript_copy(tmp_path: Path):
    assert _rows(_write(tmp_path, YOUTUBE)) == [
        (0.0, 4.0, None, "welcome everyone"),
        (4.0, 70.0, None, "today we look at detectors"),
        (70.0, 70.0 + 8 / 2.5, None, "and this one is on the same line"),
    ]


@pytest.mark.parametrize("text, message", [
    ("[00:00:01] **Ada:** hi\n[00:6x:00] **Ben:** no\n", "line 2 is not a timed paragraph: '[00:6x:00] **Ben:** no'"),
    ("[00:00:01] **Ada:** hi\n[00:61:00] **Ben:** no\n", "line 2: '00:61:00' is not a time"),
    ("Ada Quill (00:00:09): hi\nBen Ortiz (00:00:02): back\n", "line 2: 00:00:02 is earlier than the paragraph before it"),
    ("Ada Quill  0:09\nhi\nBen Ortiz  0:05\nback\n", "line 3: 0:05 is earlier than the paragraph before it"),
    ("[00:00:05] **Ada:** hi [00:00:02] back\n", "line 1: [00:00:02] is earlier than the text before it"),
])
def test_bad_paragraph_transcripts(tmp_path: Path, text: str, message: str):
    p = _write(tmp_path, text, "bad.md")
    with pytest.raises(InputError) as exc:
        read_transcript(p, "paragraphs")
    assert exc.value.message == f"{p}: {message}"


def test_import_makes_people_and_chapters(project, tmp_path: Path):
    p = _write(tmp_path, SUBSTACK, "episode.md")
    ep = import_transcript(project, p, "vision")
    people = project.content.load_people()
    assert {people[pid].name for pid in ep.speakers.values()} == {"Ada Quill", "Ben Ortiz", "Cleo Marsh"}
    stored = project.content.load_episode("vision")
    assert [(c.start, c.title, c.source) for c in stored.chapters] == [
        (20.0, "Intros", "transcript"), (100.0, "Benchmarks", "transcript")]
    assert stored.speakers == ep.speakers
