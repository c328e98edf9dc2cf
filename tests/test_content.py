"""The content store: round trips, atomic writes, edits kept, unsafe ids refused."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import ContentError, LockedError
from pipeline.models import Chapter, Episode, Mention, Paper, Transcript, Utterance, Word
from pipeline.serialize import DataError, from_data, merge3, to_data


def _episode() -> Episode:
    words = [Word("Hello", np.float32(0.5), np.float64(0.9), np.float32(0.87))]
    return Episode(
        slug="ep1", title="Episode one", date="2023-12-20", description="Notes *here*.",
        speakers={"S1": "jeff-dean"}, papers=["2305.18290"],
        chapters=[Chapter(start=79.0, title="Word2Vec", speakers=["jeff-dean"], paper="1310.4546")],
        mentions=[Mention(paper="1310.4546", start=80.0, end=82.5, quote="word2vec", speaker="S1")],
        transcript=Transcript([Utterance(0.5, 0.9, "Hello", "S1", words)], source="test"),
    )


def test_episode_round_trip_turns_numpy_into_plain_numbers(project):
    store = project.content
    store.save_episode(_episode())
    back = store.load_episode("ep1")
    assert back.title == "Episode one"
    assert back.chapters[0].paper == "1310.4546"
    assert back.transcript.utterances[0].words[0].start == pytest.approx(0.5)
    assert type(back.transcript.utterances[0].words[0].probability) is float
    assert back.description == "Notes *here*.\n"


def test_person_edit_to_one_chapter_title_survives_a_regeneration(project):
    store = project.content
    ep = _episode()
    store.save_episode(ep)
    path = store.root / "episodes/ep1/chapters.toml"
    path.write_text(path.read_text().replace('title = "Word2Vec"', 'title = "Word2Vec, ten years on"'))
    ep.chapters[0].confidence = 0.5  # the stage now generates something else too
    store.save_episode(ep)
    back = store.load_episode("ep1")
    assert back.chapters[0].title == "Word2Vec, ten years on"
    assert back.chapters[0].confidence == 0.5
    assert any("kept your edits" in n for n in store.notices)


def test_edited_json_file_is_kept_whole(project):
    store = project.content
    ep = _episode()
    store.save_episode(ep)
    path = store.root / "episodes/ep1/transcript.json"
    edited = path.read_text().replace("Hello", "Hullo")
    path.write_text(edited)
    store.save_episode(ep)
    assert path.read_text() == edited
    assert any("transcript.json" in n for n in store.notices)


def test_merge3_person_wins_only_where_they_changed_something():
    base = {"a": 1, "b": [1, 2], "c": "x"}
    ours = {"a": 2, "b": [1, 3], "c": "x"}
    theirs = {"a": 1, "b": [1, 2], "c": "y"}
    assert merge3(base, ours, theirs) == {"a": 2, "b": [1, 3], "c": "y"}
    # a key the person deleted stays deleted
    assert merge3({"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": 1}) == {"a": 1}


def test_unknown_field_in_hand_edited_file_is_reported(project):
    store = project.content
    store.save_paper(Paper(id="p1", title="A paper"))
    path = store.root / "papers/p1.toml"
    path.write_text(path.read_text() + 'titel = "typo"\n')
    with pytest.raises(ContentError, match=r"p1.toml: Paper: unknown field\(s\) titel"):
        store.load_papers()


@pytest.mark.parametrize("bad", ["../evil", "/etc/passwd", "a/b", "x\x00y", "UPPER", ""])
def test_unsafe_ids_are_refused(project, bad):
    with pytest.raises(ContentError, match="invalid"):
        project.content.save_paper(Paper(id=bad, title="t"))


def test_unknown_episode_names_the_known_ones(project):
    project.content.save_episode(_episode())
    with pytest.raises(ContentError, match=r"unknown episode 'nope' \(known: ep1\)"):
        project.content.load_episode("nope")


def test_second_lock_holder_is_refused_with_a_clear_message(project):
    with project.content.lock_episode("ep1", existing=False):
        with pytest.raises(LockedError, match="another recap run is working on episode 'ep1'"):
            with project.content.lock_episode("ep1", existing=False):
                pass


def test_episode_catalog_and_site_locks_are_separate_namespaces(project):
    """An episode called "catalog" (or "site", "voices") has a lock of its own."""
    store = project.content
    with store.lock_catalog(), store.lock_site(), store.lock_voices():
        for name in ("catalog", "site", "voices"):
            with store.lock_episode(name, existing=False):
                pass
    with store.lock_episode("catalog", existing=False):
        with store.lock_catalog():
            pass
        with pytest.raises(LockedError, match="working on episode 'catalog'"):
            with store.lock_episode("catalog", existing=False):
                pass


def test_import_notes_into_an_episode_called_catalog(run_cli, project, tmp_path):
    notes = tmp_path / "notes.md"
    notes.write_text("# Day one\n\n- 00:00 Opening\n- 05:00 Poster session\n", "utf-8")
    res = run_cli("import-notes", notes, "--episode", "catalog")
    assert res.exit_code == 0, res.output
    assert "Imported 2 chapters" in res.output
    assert project.content.has_episode("catalog")


def test_a_refused_run_leaves_no_lock_behind(run_cli, project):
    """`recap align nosuch` fails on its argument before it takes a lock: no lock file, nothing written."""
    res = run_cli("align", "nosuch")
    assert res.exit_code == 1
    assert res.output.strip().splitlines()[-1] == "Error: unknown episode 'nosuch' (known: none yet)"
    for command in (["summarize", "nosuch"], ["report", "nosuch"], ["export", "nosuch", "--format", "vtt"]):
        assert run_cli(*command).exit_code == 1
    assert not (project.content.root / ".recap" / "locks").exists()


def test_from_data_type_errors_name_the_field():
    with pytest.raises(DataError, match=r"Chapter.start: expected a number"):
        from_data(Chapter, {"start": "soon", "title": "x"})
    assert to_data(Chapter(start=1.23456, title="t")) == {
        "start": 1.235, "title": "t", "kind": "talk", "confidence": 1.0, "source": "notes"}


def test_a_poster_without_paper_round_trips(project):
    from pipeline.models import Poster

    project.content.save_poster(Poster(id="chat-1", paper=None, episode="ep1", start=12.0))
    assert project.content.load_posters()["chat-1"].paper is None


def test_parse_cache_never_serves_a_stale_record(tmp_path):
    """Records come from the parse cache only when the file's bytes are the ones parsed: an edit that
    keeps the size and the time stamps is still seen; a deleted file leaves the cache."""
    import os

    from pipeline.content import ContentStore
    from pipeline.models import Paper

    store = ContentStore(tmp_path / "content", cache_dir=tmp_path / "cache")
    store.save_paper(Paper(id="p1", title="Alpha"))
    store.save_paper(Paper(id="p2", title="Gamma"))
    assert store.load_papers()["p1"].title == "Alpha"
    assert (tmp_path / "cache" / "papers.pickle").is_file()

    p = tmp_path / "content" / "papers" / "p1.toml"
    st = p.stat()
    p.write_text(p.read_text().replace("Alpha", "Omega"))  # same length
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert p.stat().st_size == st.st_size and p.stat().st_mtime_ns == st.st_mtime_ns
    fresh = ContentStore(tmp_path / "content", cache_dir=tmp_path / "cache")
    papers = fresh.load_papers()
    assert papers["p1"].title == "Omega" and papers["p2"].title == "Gamma"
    papers["p2"].title = "changed in memory"  # callers may change what they load
    assert fresh.load_papers()["p2"].title == "Gamma"

    (tmp_path / "content" / "papers" / "p2.toml").unlink()
    assert sorted(ContentStore(tmp_path / "content", cache_dir=tmp_path / "cache").load_papers()) == ["p1"]
    import pickle

    entries = pickle.loads((tmp_path / "cache" / "papers.pickle").read_bytes())["entries"]
    assert [k.split("|")[0] for k in entries] == ["papers/p1.toml"]

    (tmp_path / "cache" / "papers.pickle").write_bytes(b"not a pickle")  # a damaged cache is ignored
    assert ContentStore(tmp_path / "content", cache_dir=tmp_path / "cache").load_papers()["p1"].title == "Omega"


def test_parse_cache_skips_reading_unchanged_files_but_sees_every_write(tmp_path, monkeypatch):
    """A file whose stat signature is the one recorded is not read again; a write moves the inode
    change time, which ``utime`` cannot set back, so an edit keeping size and mtime is still read.
    Files changed within the last 2 s get no signature (a second write in the same clock tick)."""
    import os
    import pathlib
    import time

    from pipeline import files
    from pipeline.content import ContentStore
    from pipeline.models import Paper

    store = ContentStore(tmp_path / "content", cache_dir=tmp_path / "cache")
    store.save_paper(Paper(id="p1", title="Alpha"))
    p = tmp_path / "content" / "papers" / "p1.toml"
    reads: list[str] = []
    real_read = pathlib.Path.read_bytes

    def counting(self):
        reads.append(self.name)
        return real_read(self)

    monkeypatch.setattr(pathlib.Path, "read_bytes", counting)

    def load() -> str:
        return ContentStore(tmp_path / "content", cache_dir=tmp_path / "cache").load_papers()["p1"].title

    assert load() == "Alpha" and load() == "Alpha"
    assert reads.count("p1.toml") == 2  # just written: no signature yet, read every time

    monkeypatch.setattr(files, "SETTLE_NS", 0)  # as if the file were older than the settle window
    reads.clear()
    assert load() == "Alpha" and "p1.toml" in reads  # records its signature
    reads.clear()
    assert load() == "Alpha" and "p1.toml" not in reads  # unchanged: not read

    time.sleep(0.05)  # past the clock tick of the last write
    st = p.stat()
    p.write_text(p.read_text().replace("Alpha", "Omega"))  # same length, mtime set back
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert p.stat().st_size == st.st_size and p.stat().st_mtime_ns == st.st_mtime_ns
    assert load() == "Omega"
