"""An episode's "In short" (also its feed description) and the show-notes furniture dropped at import."""

from __future__ import annotations

from pipeline.models import Chapter, Episode, Summary
from pipeline.site.overview import chapters_overview, episode_overview, notes_lead
from pipeline.sources.notes import is_page_furniture, parse_notes_text

NAMES = {"jeff-dean": "Jeff Dean", "greg": "Greg Corrado", "archit": "Archit Sharma"}.get


def _name(pid: str) -> str:
    return NAMES(pid) or pid


CHAPTERS = [Chapter(79.0, "Word2Vec", speakers=["jeff-dean", "greg"]),
            Chapter(2496.0, "DPO Poster Session", kind="poster", speakers=["archit"]),
            Chapter(10.0, "Intro", kind="intro")]


def test_notes_first_then_the_llm_then_the_chapters():
    llm = Summary("The episode surveys the best papers.", method="llm:gemma")
    extractive = Summary("Tomasz, our first author, had been exploring. And so on.", method="extractive")
    ep = Episode(slug="e", title="E", description="# Heading\n\nThe best papers of the year, with their authors.\n\n"
                                                  "- 00:12 A chapter line", summary=llm, chapters=CHAPTERS)
    assert episode_overview(ep, _name) == {"text": "The best papers of the year, with their authors.", "source": "notes"}
    ep.description = ""
    assert episode_overview(ep, _name) == {"text": "The episode surveys the best papers.", "source": "llm"}
    ep.summary = extractive  # stitched transcript sentences are never the description
    got = episode_overview(ep, _name)
    assert got["source"] == "chapters" and "Tomasz" not in got["text"]
    assert got["text"] == ("1 chapter, 1 talk and 1 poster session: Intro, Word2Vec (Jeff Dean and Greg Corrado) "
                           "and DPO Poster Session (Archit Sharma).")
    assert chapters_overview(Episode(slug="x", title="X"), _name) == ""


def test_notes_lead_starts_where_the_notes_speak_of_the_episode():
    notes = ("Tell us what you think in our survey!\n\nThe ICML 2024 orals, from Vienna.\n\n"
             "More on the orals.")
    assert notes_lead(notes, topic="ICML 2024 orals") == "The ICML 2024 orals, from Vienna. More on the orals."
    assert notes_lead(notes, topic="Nothing in common").startswith("Tell us what you think")


def test_notes_lead_stops_at_a_sentence_end():
    text = " ".join(f"Sentence number {i} says a little more." for i in range(30))
    lead = notes_lead(text, max_words=20)
    assert lead.endswith(".") and len(lead.split()) <= 20


def test_page_furniture_is_not_prose():
    assert is_page_furniture("Podcast artwork") and is_page_furniture("Catégories:") and is_page_furniture("Share")
    assert not is_page_furniture("My Show: talks about things - A podcast by Ada")  # names the hosts: kept
    for prose in ("We recorded this in New Orleans.", "# Timestamps", "- 00:12 Intro", "See [the paper](https://x.org)",
                  "Thanks to everyone who came!", "Line one\nline two"):
        assert not is_page_furniture(prose), prose
    notes = parse_notes_text("Show name - by Host\n\nPodcast artwork\n\nCategories:\n\nDate: 2024-05-07\n\n"
                             "We went to the conference and recorded the talks.\n\n[0:00:10] Intro (Ada)\n", "notes.txt")
    assert notes.description == "We went to the conference and recorded the talks."
    assert notes.date == "2024-05-07"


def test_a_persons_summary_wins_over_the_notes():
    ep = Episode(slug="e", title="Talks", description="Talks about attention.\n\nMore talks.",
                 summary=Summary(text="Written by hand.", method="person"))
    assert episode_overview(ep, lambda s: s) == {"text": "Written by hand.", "source": "person"}
