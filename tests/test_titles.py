"""LLM chapter titles for the chapters alignment found (``[summaries] backend = "llm"``): the prompt, what
counts as a title, which chapters are retitled, the fallback to the key-phrase titles when no server
answers, and a person's edited title kept. No model: a closed port, and the scripted endpoint of
tests/test_llm.py (a stdlib HTTP server answering what the test chooses)."""

from __future__ import annotations

import socket

import pytest

from pipeline.models import Chapter, Episode, Person, Transcript, Utterance
from pipeline.summarize.options import SummaryOptions
from pipeline.summarize.titles import clean_title, retitled, run_titles, title_messages
from tests.test_llm import scripted_endpoint  # noqa: F401 - a fixture

SAID = ["Thanks for having me, I'm Ada.", "Today I talk about open training data.",
        "We released every token we trained on.", "Now let me switch to licenses.",
        "Open weights licenses differ a lot.", "Some forbid commercial use entirely."]


def _episode() -> Episode:
    utts = [Utterance(10.0 * i, 10.0 * i + 9.0, t, speaker="S1") for i, t in enumerate(SAID)]
    chapters = [Chapter(start=0.0, title="Introduction", kind="intro", source="auto"),
                Chapter(start=10.0, title="Training data, tokens, released", source="auto", speakers=["ada"]),
                Chapter(start=30.0, title="Licenses", source="notes"),
                Chapter(start=40.0, title="QLoRA", source="auto", paper="qlora"),
                Chapter(start=50.0, title="Commercial use, forbid, weights", source="auto")]
    return Episode(slug="ep", title="Open models keynote", transcript=Transcript(utterances=utts),
                   chapters=chapters)


def test_only_found_chapters_without_a_paper_are_retitled():
    assert retitled(_episode()) == [1, 4]


def test_the_prompt_holds_the_episode_the_speakers_the_key_phrases_and_the_timed_opening():
    msgs = title_messages(_episode(), 1, {"ada": Person(id="ada", name="Ada Lovelace")})
    assert [m["role"] for m in msgs] == ["system", "user"]
    user = msgs[1]["content"]
    assert "Episode: Open models keynote" in user and "Speakers: Ada Lovelace" in user
    assert "Key phrases: Training data, tokens, released" in user
    assert "[0:10] Today I talk about open training data." in user
    assert "licenses" not in user.lower().split("what is said")[1]  # only this chapter's speech (10-30 s)
    assert user.rstrip().endswith("Title:")


@pytest.mark.parametrize("answer, title", [
    ("Open training data", "Open training data"),
    ('Title: "Releasing every training token."\n', "Releasing every training token"),
    ("**Open data and licenses**\nThis chapter covers ...", "Open data and licenses"),
    ("", None),
    ("Data", None),  # one word: no descriptive title
    ("I cannot title this chapter without more context", None),
    (" ".join(["word"] * 14), None),
])
def test_what_counts_as_a_title(answer, title):
    assert clean_title(answer) == title


def _stored(project) -> None:
    project.content.save_episode(_episode())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_no_server_keeps_the_key_phrase_titles(project):
    _stored(project)
    opts = SummaryOptions(backend="llm", url=f"http://127.0.0.1:{_free_port()}/v1", model="m", retries=0, timeout=2)
    notes = run_titles(project, "ep", opts)
    assert len(notes) == 1 and "chapter titles stay key phrases" in notes[0] and "not reachable" in notes[0]
    assert [c.title for c in project.content.load_episode("ep").chapters] == [c.title for c in _episode().chapters]
    assert run_titles(project, "ep", SummaryOptions()) == []  # the extractive backend: titles untouched


def test_llm_titles_found_chapters_and_keeps_a_persons_edit(project, scripted_endpoint):  # noqa: F811
    url, script = scripted_endpoint
    _stored(project)
    path = project.content.path("episodes/ep/chapters.toml")
    text = path.read_text("utf-8")
    path.write_text(text.replace('"Commercial use, forbid, weights"', '"Licenses that forbid use"'), "utf-8")
    script.replies = [(200, "Releasing every training token."), (200, "Another title here")]
    notes = run_titles(project, "ep", SummaryOptions(backend="llm", url=url, model="tiny", retries=0))
    titles = [c.title for c in project.content.load_episode("ep").chapters]
    assert titles == ["Introduction", "Releasing every training token", "Licenses", "QLoRA",
                      "Licenses that forbid use"]  # the intro, the noted, the paper's and the edited title stay
    assert len(script.requests) == 2 and notes == ["ep: 2 of 2 found chapters titled by tiny"]
