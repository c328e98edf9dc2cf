"""Attribution of words to speaker turns and utterance building (pure functions, synthetic times)."""

from __future__ import annotations

from pipeline.audio.attribute import AttributeOptions, attribute, word_speakers
from pipeline.audio.diarize import Turn
from pipeline.models import Segment, Word


def seg(words, flags=()):
    """A Whisper-like segment from (text, start, end, prob) tuples."""
    return Segment(words[0][1], words[-1][2], "".join(w[0] for w in words), [Word(*w) for w in words],
                   flags=list(flags))


TURNS = [Turn(0.0, 4.0, "A"), Turn(4.2, 5.0, "B"), Turn(5.3, 9.0, "A")]


def test_max_overlap_and_one_word_reply():
    segments = [seg([(" I", 0.5, 0.7, 0.9), (" heard", 0.7, 1.1, 0.8), (" you.", 1.1, 3.9, 0.7)]),
                seg([(" Hello?", 4.3, 4.9, 0.6)]),
                seg([(" Yes", 5.4, 5.8, 0.95), (" indeed.", 5.8, 6.4, 0.9)])]
    t = attribute(segments, TURNS)
    assert [(u.speaker, u.text) for u in t.utterances] == [("A", "I heard you."), ("B", "Hello?"), ("A", "Yes indeed.")]
    assert t.utterances[1].words[0].probability == 0.6
    assert t.utterances[0].start == 0.5 and t.utterances[0].end == 3.9


def test_word_straddling_a_boundary_goes_where_it_overlaps_most():
    turns = [Turn(0.0, 2.0, "A"), Turn(2.0, 4.0, "B")]
    assert word_speakers([(1.7, 2.6, 0)], turns) == ["B"]
    assert word_speakers([(1.2, 2.1, 0)], turns) == ["A"]


def test_word_in_a_pause_takes_the_nearest_turn():
    turns = [Turn(0.0, 2.0, "A"), Turn(6.0, 8.0, "B")]
    assert word_speakers([(2.3, 2.5, 0), (5.5, 5.8, 1)], turns) == ["A", "B"]


def test_boundary_jitter_inside_a_segment_follows_neighbours():
    turns = [Turn(0.0, 1.0, "A"), Turn(1.0, 1.15, "B"), Turn(1.15, 3.0, "A")]
    words = [(0.5, 0.9, 0), (0.95, 1.35, 0), (1.4, 1.8, 0)]  # middle word: weak overlap with B
    assert word_speakers(words, turns) == ["A", "A", "A"]


def test_split_at_long_pause_and_flag_change():
    segments = [seg([(" one", 0.0, 0.5, 0.9), (" two", 0.6, 1.0, 0.9)]),
                seg([(" three", 3.0, 3.4, 0.9)]),
                seg([(" la la la la la", 3.5, 5.0, 0.3)], flags=["repetition"])]
    t = attribute(segments, [Turn(0.0, 10.0, "A")], opts=AttributeOptions(max_pause=1.0))
    assert [u.text for u in t.utterances] == ["one two", "three", "la la la la la"]
    assert [u.flags for u in t.utterances] == [[], [], ["repetition"]]


def test_no_turns_gives_one_speaker_and_numbers_are_plain_floats():
    import numpy as np

    segments = [seg([(" hi", np.float32(0.1), np.float32(0.4), np.float32(0.5))])]
    t = attribute(segments, [])
    u = t.utterances[0]
    assert u.speaker == "SPEAKER_00"
    assert type(u.start) is float and type(u.words[0].probability) is float
