"""The content model: typed records passed between pipeline stages and stored under content/.

Times are seconds (float) from the start of the recording. Ids are safe slugs (see
:func:`pipeline.ids.check_id`). Serialisation to and from plain data lives in one place,
:mod:`pipeline.serialize`; these classes hold no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Word:
    text: str
    start: float
    end: float
    probability: float | None = None


@dataclass
class Segment:
    """What the recogniser heard, before speakers are attributed: a Whisper segment with its words and
    the scores the transcription guards read (:func:`pipeline.audio.transcribe.flag_segments`)."""

    start: float
    end: float
    text: str
    words: list[Word] = field(default_factory=list)
    avg_logprob: float = 0.0
    no_speech_prob: float = 0.0
    compression_ratio: float = 0.0
    flags: list[str] = field(default_factory=list)  # "repetition", "no-speech", "low-confidence"


@dataclass
class Utterance:
    """A stretch of speech by one speaker: a subtitle line, a Whisper segment, a diarized turn."""

    start: float
    end: float
    text: str
    speaker: str | None = None  # speaker *label* (diarization label, VTT voice, turn label)
    words: list[Word] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # e.g. "repetition", "no-speech", "low-confidence"


@dataclass
class Transcript:
    utterances: list[Utterance] = field(default_factory=list)
    language: str | None = None
    source: str | None = None  # what produced it: "whisper.cpp import", "faster-whisper tiny.en", ...

    @property
    def duration(self) -> float:
        return max((u.end for u in self.utterances), default=0.0)


@dataclass
class SummarySentence:
    text: str
    start: float  # the moment the sentence rests on
    end: float


@dataclass
class Summary:
    text: str
    sentences: list[SummarySentence] = field(default_factory=list)
    method: str = "extractive"


@dataclass
class Chapter:
    start: float
    title: str
    end: float | None = None
    kind: str = "talk"  # talk | poster | intro | oral | other
    speakers: list[str] = field(default_factory=list)  # person ids
    paper: str | None = None  # paper id this chapter is about
    confidence: float = 1.0
    source: str = "notes"  # notes | auto | person | transcript (a heading in an imported transcript)
    summary: Summary | None = None


@dataclass
class Mention:
    """A moment where a catalog paper is named or clearly discussed."""

    paper: str
    start: float
    end: float
    quote: str
    speaker: str | None = None  # speaker label at that moment
    chapter: int | None = None  # index into Episode.chapters
    kind: str = "name"  # name | acronym | discussion | chapter
    score: float = 1.0


@dataclass
class Episode:
    slug: str
    title: str
    date: str | None = None  # ISO date
    description: str = ""  # Markdown (show notes text), rendered with raw HTML disabled
    audio: str | None = None  # URL or path relative to the episode folder
    audio_length: int | None = None  # bytes, for audio hosted elsewhere (the feed's enclosure length)
    audio_type: str | None = None  # MIME type of that audio when its URL does not say ("audio/mpeg")
    duration: float | None = None
    speakers: dict[str, str] = field(default_factory=dict)  # speaker label -> person id
    papers: list[str] = field(default_factory=list)  # paper ids covered (from notes or alignment)
    summary: Summary | None = None
    chapters: list[Chapter] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)
    transcript: Transcript = field(default_factory=Transcript)


@dataclass
class PaperNote:
    source: str  # where the note came from: a file name, "show notes", a blog
    text: str
    url: str | None = None


@dataclass
class Paper:
    id: str
    title: str
    authors: list[str] = field(default_factory=list)
    date: str | None = None  # ISO date (or datetime) the source gives
    abstract: str = ""
    arxiv: str | None = None
    doi: str | None = None
    url: str | None = None
    venue: str | None = None  # conference or source group, e.g. "NeurIPS 2023"
    track: str | None = None  # the conference's track: "main", "Datasets and Benchmarks"
    status: str | None = None  # how it was accepted: "oral", "spotlight", "poster"
    openreview: str | None = None  # OpenReview forum id ("009LK0vLcY")
    aliases: list[str] = field(default_factory=list)  # short names: "DPO", "Datablations"
    notes: list[PaperNote] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)


@dataclass
class Poster:
    id: str
    paper: str | None
    episode: str
    start: float
    end: float | None = None
    presenters: list[str] = field(default_factory=list)  # person ids
    excerpt: str = ""
    image: str | None = None  # file name next to the poster's record in content/posters/


@dataclass
class Person:
    id: str
    name: str
    aliases: list[str] = field(default_factory=list)
    affiliation: str | None = None
    url: str | None = None
    host: bool = False
