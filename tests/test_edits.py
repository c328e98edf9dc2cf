"""A person's corrections survive every re-run, and the CLI says what it kept.

On a project built from the real seeds (paper sources, a slice of the transcript, the dev show notes,
then align, summarize and build), a person corrects: a person's name (people/<id>.toml), the
episode's speaker map (episode.toml), a chapter title, a chapter's paper link (chapters.toml) and the
episode summary. Then every stage runs again (import-notes, papers import, align, summarize,
build) and each correction must still be there, in content/ and on the built pages, with a "kept"
notice on the command's output.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import tomli_w
from click.testing import CliRunner

from pipeline.cli import main

NOTES = "neurips-2023-recap.shownotes-dev.txt"


def cli(root: Path, *args) -> str:
    res = CliRunner().invoke(main, ["-C", str(root), *map(str, args)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def edit_toml(path: Path, change) -> None:
    data = tomllib.loads(path.read_text("utf-8"))
    change(data)
    path.write_text(tomli_w.dumps(data), "utf-8")


@pytest.fixture(scope="module")
def edited(tmp_path_factory, seeds):
    return make_edited_project(tmp_path_factory.mktemp("edits") / "proj", seeds)


def make_edited_project(root: Path, seeds: Path) -> tuple[Path, list[Path], dict]:
    """The seed project after every stage, then corrected by a person: (root, paper files, edits)."""
    from pipeline.config import init_project

    init_project(root, title="Edits")
    text = (root / "recap.toml").read_text("utf-8").replace("[site]\n", "[site]\npaper_map = false\n", 1)
    (root / "recap.toml").write_text(text, "utf-8")
    lines = (seeds / "neurips-2023-recap.transcript.txt").read_text("utf-8").split("\n")[:1300]
    (root.parent / "t.txt").write_text("\n".join(lines) + "\n", "utf-8")
    papers = [seeds / "research-highlights-blog.txt", seeds / "neurips-2023-day5-notes.txt"]
    cli(root, "papers", "import", *papers)
    cli(root, "import-transcript", root.parent / "t.txt", "--episode", "ep")
    cli(root, "import-notes", seeds / NOTES, "--episode", "ep")
    cli(root, "align", "ep", "--no-embeddings")
    cli(root, "summarize", "ep")

    c = root / "content"
    ep_toml, ch_toml = c / "episodes/ep/episode.toml", c / "episodes/ep/chapters.toml"
    people = sorted((c / "people").glob("*.toml"))
    assert people, "notes should have created people"
    person = people[0]
    chapters = tomllib.loads(ch_toml.read_text("utf-8"))["chapters"]
    assert len(chapters) >= 3
    other_paper = sorted(p.stem for p in (c / "papers").glob("*.toml"))[0]
    meta = tomllib.loads(ep_toml.read_text("utf-8"))
    label = sorted(meta.get("speakers") or {"T001": None})[0]

    edits = {"person": (person.stem, "Corrected Name-Person"), "speaker": (label, person.stem),
             "chapter_title": (1, "A title a person wrote"), "chapter_paper": (2, other_paper),
             "summary": "A summary a person wrote by hand."}
    edit_toml(person, lambda d: d.update(name=edits["person"][1]))

    def meta_edit(d):
        d.setdefault("speakers", {})[label] = person.stem
        d["summary"] = {"text": edits["summary"], "method": "person"}
    edit_toml(ep_toml, meta_edit)

    def chapters_edit(d):
        d["chapters"][1]["title"] = edits["chapter_title"][1]
        d["chapters"][2]["paper"] = other_paper
    edit_toml(ch_toml, chapters_edit)
    return root, papers, edits


def assert_kept(root: Path, edits: dict) -> None:
    from pipeline.config import open_project

    store = open_project(root).content
    pid, name = edits["person"]
    assert store.load_people()[pid].name == name
    ep = store.load_episode("ep")
    label, who = edits["speaker"]
    assert ep.speakers.get(label) == who
    assert ep.chapters[1].title == edits["chapter_title"][1]
    assert ep.chapters[2].paper == edits["chapter_paper"][1]
    assert ep.summary is not None and ep.summary.text == edits["summary"]


STAGES = [("import-notes", lambda s, p: ["import-notes", s / NOTES, "--episode", "ep"]),
          ("papers import", lambda s, p: ["papers", "import", *p]),
          ("align", lambda s, p: ["align", "ep", "--no-embeddings"]),
          ("summarize", lambda s, p: ["summarize", "ep"]),
          ("import-notes again", lambda s, p: ["import-notes", s / NOTES, "--episode", "ep"]),
          ("build", lambda s, p: ["build"])]


def test_edits_survive_every_stage(edited, seeds):
    root, papers, edits = edited
    assert_kept(root, edits)
    said = []
    for name, args in STAGES:
        res = CliRunner().invoke(main, ["-C", str(root), *map(str, args(seeds, papers))], catch_exceptions=False)
        assert res.exit_code == 0, f"{name}: {res.output}"
        try:
            assert_kept(root, edits)
        except AssertionError as exc:
            raise AssertionError(f"after {name}: {exc}\n{res.output}") from None
        if "kept" in res.output:
            said.append(name)
    # the stages that rewrite the edited files say so
    assert {"import-notes", "align"} <= set(said), said


def test_edits_reach_the_site(edited, seeds):
    root, _, edits = edited
    cli(root, "build")
    page = (root / "site" / "episodes" / "ep" / "index.html").read_text("utf-8")
    assert edits["chapter_title"][1] in page
    assert edits["summary"] in page
    pid, name = edits["person"]
    assert name in (root / "site" / "people" / pid / "index.html").read_text("utf-8")


def test_a_file_a_person_made_is_never_replaced(edited, seeds):
    root, _, _ = edited
    desc = root / "content" / "episodes" / "ep" / "description.md"
    desc.write_text("My own description.\n", "utf-8")
    out = cli(root, "import-notes", seeds / NOTES, "--episode", "ep")
    assert desc.read_text("utf-8") == "My own description.\n"
    assert "kept your edited content/episodes/ep/description.md" in out
