"""The import/export commands through click's CliRunner: exit codes, output, exact error lines,
and content/ untouched by bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import content_snapshot

SOURCES = ("paper-listing.txt", "research-highlights-blog.txt", "neurips-2023-day5-notes.txt")
NOTES = "neurips-2023-recap.shownotes-dev.txt"


def _slice(seeds: Path, tmp_path: Path, n: int = 300) -> Path:
    """The first n lines of the real transcript (keeps alignment, if installed, quick)."""
    lines = (seeds / "neurips-2023-recap.transcript.txt").read_text("utf-8").strip().split("\n")[:n]
    path = tmp_path / "slice.txt"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def test_import_everything_and_export(run_cli, project, seeds, tmp_path):
    r = run_cli("papers", "import", *(seeds / s for s in SOURCES))
    assert r.exit_code == 0, r.output
    assert r.stdout == ("Read 158 from paper-listing.txt, 23 from research-highlights-blog.txt, "
                        "8 from neurips-2023-day5-notes.txt; 188 new, 0 updated, 188 papers in the catalog\n")

    r = run_cli("import-notes", seeds / NOTES, "--episode", "neurips-2023")
    assert r.exit_code == 0, r.output
    assert r.stdout == "Imported 6 chapters (6 linked to papers) and 5 papers covered into episode neurips-2023\n"

    r = run_cli("import-transcript", _slice(seeds, tmp_path), "--episode", "neurips-2023")
    assert r.exit_code == 0, r.output
    assert r.stdout == "Imported 300 lines (762.72 s) into episode neurips-2023\n"

    r = run_cli("export", "neurips-2023", "--format", "chapters")
    assert r.exit_code == 0, r.output
    chapters = json.loads(r.stdout)
    assert chapters["version"] == "1.2.0"
    assert [c["startTime"] for c in chapters["chapters"]] == [79.0, 928.0, 1728.0, 2496.0, 3123.0, 3650.0]
    assert chapters["chapters"][5]["url"] == "/papers/2305.14314/"
    assert all(c["url"].startswith("/papers/") for c in chapters["chapters"])

    out = tmp_path / "ep.vtt"
    r = run_cli("export", "neurips-2023", "--format", "vtt", "-o", out)
    assert r.exit_code == 0 and out.read_text("utf-8").startswith("WEBVTT")
    for fmt in ("srt", "json", "rttm"):
        r = run_cli("export", "neurips-2023", "--format", fmt)
        assert r.exit_code == 0 and r.stdout.strip(), fmt

    # the exported VTT imports back as the same lines
    r = run_cli("import-transcript", out, "--episode", "copy", "--title", "Copy")
    assert r.exit_code == 0, r.output
    a = project.content.load_episode("neurips-2023").transcript.utterances
    b = project.content.load_episode("copy").transcript.utterances
    assert [(u.start, u.end, u.text) for u in a if u.text] == [(u.start, u.end, u.text) for u in b]

    r = run_cli("list")
    assert "neurips-2023  NeurIPS 2023 Recap — Best Papers  (6 chapters, 300 utterances)" in r.stdout
    assert "Papers (190):" in r.stdout


def _bad_files(seeds: Path, tmp_path: Path) -> dict[str, Path]:
    empty = tmp_path / "empty.txt"
    empty.write_text("", "utf-8")
    binary = tmp_path / "audio.txt"
    binary.write_bytes(b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00")
    lines = (seeds / "paper-listing.txt").read_text("utf-8").split("\n")
    cut = tmp_path / "listing-cut.txt"
    cut.write_text("\n".join(lines[:7]) + "\n" + lines[7][:-70], "utf-8")
    plain = tmp_path / "notes.md"
    plain.write_text("# Notes\n\nNo times in here.\n", "utf-8")
    return {"empty": empty, "binary": binary, "cut": cut, "plain": plain}


@pytest.mark.parametrize(("args", "error"), [
    (("import-transcript", "{empty}", "--episode", "ep"), "{empty}: file is empty"),
    (("import-transcript", "{binary}", "--episode", "ep"), "{binary}: binary file, not a text transcript"),
    (("import-notes", "{empty}", "--episode", "ep"), "{empty}: file is empty"),
    (("import-notes", "{binary}", "--episode", "ep"), "{binary}: binary file, not show notes"),
    (("import-notes", "{plain}", "--episode", "ep"),
     "{plain}: no chapter timestamps found (expected lines like '[0:15:28] Title (Speaker)' or '- 00:12:30 Title')"),
    (("papers", "import", "{seeds}/research-highlights-blog.txt", "{empty}"), "{empty}: file is empty"),
    (("papers", "import", "{binary}"), "{binary}: binary file, not a paper list"),
    (("papers", "import", "{seeds}/research-highlights-blog.txt", "{cut}"),
     "{cut}: line 8: the last abstract ends with 'Mora: Enabling Generalist Video Generation via A Multi-Agent', "
     "the start of another entry without authors, date or 'Summary:' (truncated entry?)"),
    (("export", "nope", "--format", "vtt"), "unknown episode 'nope' (known: existing)"),
    (("export", "existing", "--format", "srt"),
     "episode 'existing' has no transcript to export as srt: run `recap import-transcript FILE --episode existing` first"),
    (("import-transcript", "{empty}", "--episode", "Bad/Slug"),
     "invalid episode slug 'Bad/Slug': use lower-case letters, digits, '.', '-' and '_' only"),
])
def test_bad_input_exits_with_one_line_and_changes_nothing(run_cli, project, seeds, tmp_path, args, error):
    files = {**_bad_files(seeds, tmp_path), "seeds": seeds}
    # a project that already holds an episode (notes only, no transcript)
    notes = tmp_path / "n.md"
    notes.write_text("- 00:00 Intro\n- 01:00 Talk (A Person)\n", "utf-8")
    assert run_cli("import-notes", notes, "--episode", "existing").exit_code == 0
    before = content_snapshot(project.content.root)
    r = run_cli(*(a.format(**files) for a in args))
    assert r.exit_code == 1
    assert r.stderr == f"Error: {error.format(**files)}\n"
    assert content_snapshot(project.content.root) == before
