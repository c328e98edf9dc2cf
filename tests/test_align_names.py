"""Speaker names from an episode's metadata and one spelling per person across sources: the title's
"Person (Org)" matched to the turn that names the organisation, and conflicting spellings settled by
which sources write them."""

from __future__ import annotations

from pipeline.align.names import by_affiliation, episode_people
from pipeline.align.spelling import Source, preferred_spelling, respell, variant
from pipeline.models import Person


def _orgs(title: str, description: str = "") -> dict[str, list[str]]:
    return {d.name: d.orgs for d in episode_people(title, description)}


def test_title_affiliations_in_every_form():
    assert _orgs("Open Models - keynote by Ada Lovelace (AI2), then Grace Hopper (Mistral);") == {
        "Ada Lovelace": ["AI2"], "Grace Hopper": ["Mistral"]}
    assert _orgs("Long context with Dan Fu of Together AI") == {"Dan Fu": ["Together AI"]}
    assert _orgs("Vision agents with Isaac Robinson from Roboflow") == {"Isaac Robinson": ["Roboflow"]}
    assert _orgs("State of video: Ann Smith, Roboflow | LS Live") == {"Ann Smith": ["Roboflow"]}
    assert _orgs("Kernels: Dan Fu, Together AI") == {"Dan Fu": ["Together AI"]}
    # a second person after a comma is no organisation; a bare year in brackets neither
    assert _orgs("Kernels: Dan Fu, Tri Dao") == {}
    assert _orgs("Recap with Dan Fu (2024)") == {}


def test_title_people_come_first_in_order_and_merge_with_the_description():
    people = episode_people("talks by Ada Lovelace (AI2), then Grace Hopper (Mistral)",
                            "We hosted **Grace Hopper**, head of devrel at Mistral, and Alan Turing of Bletchley.")
    assert [(d.name, d.order) for d in people] == [("Ada Lovelace", 0), ("Grace Hopper", 1), ("Alan Turing", -1)]


def test_a_turn_is_named_by_the_organisation_it_names_in_the_first_person():
    people = episode_people("talks by Ada Lovelace (AI2), then Grace Hopper (Mistral)", "")
    opening = "Yeah, I'm super excited to be here to talk to you guys about Mistral. A quick recap."
    assert by_affiliation(opening, people, [], ["Ada Lovelace"]).name == "Grace Hopper"
    # weak evidence names nobody: the organisation said, but not in a first-person sentence ...
    assert by_affiliation("Mistral released a model. It is large.", people, [], []) is None
    # ... or two organisations in the opening
    assert by_affiliation("I compared AI2 and Mistral.", people, [], []) is None
    # once per person: Grace is named already
    assert by_affiliation(opening, people, [], ["Ada Lovelace", "Grace Hopper"]) is None


def test_the_titles_order_is_kept():
    people = episode_people("talks by Ada Lovelace (AI2), then Grace Hopper (Mistral)", "")
    # Grace (second in the title) spoke already: Ada (first) is not named after her
    assert by_affiliation("We at AI2 trained it.", people, [], ["Grace Hopper"]) is None
    assert by_affiliation("We at AI2 trained it.", people, [], []).name == "Ada Lovelace"


def test_spelling_variants():
    assert variant("Luca Soldani", "Luca Soldaini") and variant("Rylan Schaefer", "Rylan Schaeffer")
    assert variant("Swix", "swyx")
    assert not variant("Luca Soldaini", "Luke Soldaini")  # another first name: another person
    assert not variant("Sam Li", "Sam Lu")  # short surnames: one letter is another name
    assert not variant("Tim Dettmers", "Tim Dettmers Jr")


def test_a_heading_alone_loses_to_the_body_and_the_title():
    body = Source("body", "We were honored to host **Luca Soldaini** of AI2, with Luca Soldani and others.")
    heading = Source("heading", "Keynote by Luca Soldani: State of Open Models")
    title = Source("title", "keynote by Luca Soldaini (AI2)")
    assert preferred_spelling("Luca Soldani", [heading, body]) == "Luca Soldaini"
    assert preferred_spelling("Luca Soldani", [heading, title]) == "Luca Soldani"  # a tie keeps the name
    assert preferred_spelling("Luca Soldaini", [heading]) == "Luca Soldani"
    # a paper's author list is written with care: it outweighs a heading
    assert preferred_spelling("Luca Soldani", [heading, Source("catalog", names=("Luca Soldaini", "X Y"))]) \
        == "Luca Soldaini"


def test_the_asr_never_respells_a_written_name():
    asr = Source("asr", "Hi, this is Swix. Thanks Swix. I'm Tim Detmers, Tim Detmers.")
    assert preferred_spelling("Swix", [asr, Source("body", "a podcast by swyx + Alessio")]) == "swyx"
    assert preferred_spelling("swyx", [asr, Source("body", "a podcast by swyx + Alessio")]) == "swyx"
    assert preferred_spelling("Tim Dettmers", [asr]) == "Tim Dettmers"
    assert preferred_spelling("Tim Detmers", [asr, Source("catalog", names=("Tim Dettmers",))]) == "Tim Dettmers"


def test_respell_keeps_the_old_spelling_as_an_alias():
    people = {"luca-soldani": Person(id="luca-soldani", name="Luca Soldani")}
    notes = respell(people, ["luca-soldani", "nobody"], [Source("heading", "by Luca Soldani"),
                                                         Source("body", "with **Luca Soldaini**")])
    assert people["luca-soldani"].name == "Luca Soldaini" and people["luca-soldani"].aliases == ["Luca Soldani"]
    assert len(notes) == 1 and "Soldaini" in notes[0]


def _talk(label: str, start: float, first: str, seconds: float) -> list:
    from pipeline.models import Utterance

    lines = [first] + [f"Here is point {k} of the talk about detection models." for k in range(int(seconds // 8))]
    return [Utterance(start + 8.0 * k, start + 8.0 * k + 7.5, t, speaker=label) for k, t in enumerate(lines)]


def test_diarized_speakers_named_by_the_organisation_they_open_with():
    from pipeline.align.names import by_label_affiliation

    people = episode_people("Vision: Isaac Robinson (Roboflow), then Dan Fu (Together AI)", "")
    utts = (_talk("S0", 0.0, "Welcome everyone to the vision session.", 16.0)
            + _talk("S1", 20.0, "Hi, we're from Roboflow and we build detection tools.", 90.0)
            + _talk("S2", 120.0, "We at Together AI wondered, how fast is it?", 8.0)  # an audience question
            + _talk("S3", 130.0, "Thanks. I'm at Together AI, I work on kernels.", 80.0))
    got = by_label_affiliation(utts, people, {"S0": "swyx"})
    assert {k: d.name for k, d in got.items()} == {"S1": "Isaac Robinson", "S3": "Dan Fu"}
    # the title's order: Dan (second) speaks first, so Isaac's organisation said later names nobody
    swapped = _talk("S3", 0.0, "I'm at Together AI.", 80.0) + _talk("S1", 90.0, "Hi, we're from Roboflow.", 90.0)
    assert {k: d.name for k, d in by_label_affiliation(swapped, people, {}).items()} == {"S3": "Dan Fu"}
