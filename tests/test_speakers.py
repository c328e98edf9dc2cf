"""Name matching: ASR spellings of names against the people, notes and authors recap knows."""

from __future__ import annotations

import pytest

from pipeline.align.speakers import resolve_name, same_person, sounds_like


@pytest.mark.parametrize(("spoken", "full"), [
    ("Ryland Schaefer", "Rylan Schaeffer"), ("Tim Detmers", "Tim Dettmers"), ("Raphael", "Rafael Rafailov"),
    ("Hao Tian", "Haotian Liu"), ("Niklas", "Niklas Muennighoff"), ("Schaefer", "Rylan Schaeffer")])
def test_same_person(spoken, full):
    assert same_person(spoken, full)


@pytest.mark.parametrize(("spoken", "full"), [
    ("Samir", "Samira Abnar"), ("Shen Yu", "Shunyu Yao"), ("Tim", "Tom Dettmers"), ("Jo", "Jo Smith")])
def test_not_same_person(spoken, full):
    assert not same_person(spoken, full)


def test_sounds_like_is_looser_but_not_loose():
    assert sounds_like("Shen Yu", "Shunyu Yao")
    assert sounds_like("Hao Tian", "Haotian Liu")
    assert not sounds_like("Alex", "Archit Sharma")
    assert not sounds_like("Ida", "Ida Momennejad")  # too short to say anything by sound alone
    assert not sounds_like("Jane", "Jeff Dean")


def test_resolve_name_takes_the_most_specific_pool_and_refuses_ambiguity():
    assert resolve_name("Greg", ["Greg Corrado"], ["Greg Brockman"]) == "Greg Corrado"
    assert resolve_name("Greg", [], ["Greg Corrado", "Greg Brockman"]) is None
    assert resolve_name("Jeff Dean", ["Jeff Dean", "Jeff Deane"]) == "Jeff Dean"
    assert resolve_name("Nobody Here", ["Jeff Dean"]) is None
