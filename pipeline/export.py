"""Export an episode's transcript and chapters in the formats players and tools read.

* :func:`to_vtt`: WebVTT with ``<v Speaker Name>`` voice tags (text escaped per the WebVTT spec).
  Voices are people's names or "Speaker 1", "Speaker 2"... (:func:`voice_name`), never a turn or
  diarizer label.
* :func:`to_srt`: SubRip; the speaker goes in front as ``[Name]: `` (WhisperX's convention).
* :func:`to_json`: the Podcasting 2.0 JSON transcript (``version``, ``segments`` of ``speaker``,
  ``startTime``, ``endTime``, ``body``), the ``application/json`` target of ``podcast:transcript``.
* :func:`to_rttm`: speaker turns as NIST RTTM, written by ``pyannote.core``: the diarizer's own turns
  (``diarization.rttm`` in the episode folder) when the episode was processed from audio.
* :func:`to_chapters`: Podcasting 2.0 JSON chapters; a chapter's ``url`` is the page of the paper it
  is about, its ``img`` the poster image.

Every format except RTTM re-imports with :func:`pipeline.sources.transcripts.read_transcript` to the same
utterances. Site URLs follow one convention for the whole project (see :func:`site_path`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from pipeline.audio.turns import DIARIZATION_FILE, Turn, read_rttm, rttm
from pipeline.models import Episode, Paper, Person, Poster, Utterance
from pipeline.timefmt import format_clock

CHAPTERS_VERSION = "1.2.0"
TRANSCRIPT_JSON_VERSION = "1.0.0"


SITE_FOLDERS = {"paper": "papers", "episode": "episodes", "poster": "posters", "person": "people"}


def site_path(kind: str, ident: str) -> str:
    """The page of a record relative to the site root: ``papers/<id>/``, ``episodes/<slug>/``,
    ``posters/<id>/``, ``people/<id>/``."""
    return f"{SITE_FOLDERS[kind]}/{ident}/"


def speaker_name(episode: Episode, label: str | None, people: Mapping[str, Person] | None) -> str | None:
    """Display name for a speaker label: the person's name when the label is mapped, else the label."""
    if label is None:
        return None
    pid = episode.speakers.get(label)
    if pid and people and pid in people:
        return people[pid].name
    return pid or label


# labels a machine made: a transcript import's turn label (T001: a change of voice, not who speaks) and a
# diarizer's cluster (SPEAKER_00, spk_1), also as alignment splits them where a new presenter speaks on
# under the label of the chapter before (T124-7, SPEAKER_00-1): never shown to a listener as a name
_TURN_LABEL = re.compile(r"^T\d+(?:-\d+)?$")
_DIARIZER_LABEL = re.compile(r"^(?:SPEAKER|spk|speaker)_?(\d+)(?:-(\d+))?$")


def voice_name(episode: Episode, label: str | None, people: Mapping[str, Person] | None) -> str | None:
    """What a listener sees for a speaker label: the person's name when the label is mapped,
    "Speaker 2" for a diarizer's cluster, nothing for a bare turn label (who speaks is unknown),
    else the label itself (a name, e.g. an imported VTT voice)."""
    if label is None:
        return None
    if label in episode.speakers:
        return speaker_name(episode, label, people)
    if _TURN_LABEL.match(label):
        return None
    m = _DIARIZER_LABEL.match(label)
    if m is None:
        return label
    # a split label is another voice than its cluster's first part: "Speaker 1 (2)", not a second "Speaker 1"
    return f"Speaker {int(m.group(1)) + 1}" + (f" ({int(m.group(2)) + 1})" if m.group(2) else "")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cues(episode: Episode) -> list[Utterance]:
    return [u for u in episode.transcript.utterances if _one_line(u.text)]


def to_vtt(episode: Episode, people: Mapping[str, Person] | None = None) -> str:
    """WebVTT: one cue per utterance, ``<v Name>`` when the speaker is known."""
    out = ["WEBVTT", ""]
    for i, u in enumerate(_cues(episode), 1):
        end = max(u.end, u.start)
        out.append(str(i))
        out.append(f"{format_clock(u.start)} --> {format_clock(end)}")
        name = voice_name(episode, u.speaker, people)
        body = _vtt_escape(_one_line(u.text))
        out.append(f"<v {_vtt_escape(_one_line(name))}>{body}" if name else body)
        out.append("")
    return "\n".join(out)


def to_srt(episode: Episode, people: Mapping[str, Person] | None = None) -> str:
    """SubRip: numbered cues with ``HH:MM:SS,mmm`` times; speaker as a ``[Name]: `` prefix."""
    out = []
    for i, u in enumerate(_cues(episode), 1):
        name = voice_name(episode, u.speaker, people)
        body = _one_line(u.text)
        out += [str(i), f"{format_clock(u.start, ',')} --> {format_clock(max(u.end, u.start), ',')}",
                f"[{_one_line(name).replace(']', ')')}]: {body}" if name else body, ""]
    return "\n".join(out)


def to_json(episode: Episode, people: Mapping[str, Person] | None = None) -> str:
    """Podcasting 2.0 JSON transcript."""
    segments = []
    for u in _cues(episode):
        seg: dict = {"startTime": round(float(u.start), 3), "endTime": round(float(max(u.end, u.start)), 3),
                     "body": _one_line(u.text)}
        name = voice_name(episode, u.speaker, people)
        if name:
            seg = {"speaker": name, **seg}
        segments.append(seg)
    return json.dumps({"version": TRANSCRIPT_JSON_VERSION, "segments": segments}, ensure_ascii=False, indent=1) + "\n"


def to_rttm(episode: Episode, people: Mapping[str, Person] | None = None,
            turns: Sequence[Turn] | None = None) -> str:
    """Speaker turns as RTTM (``SPEAKER <uri> 1 <start> <duration> <NA> <NA> <label> <NA> <NA>``), written by
    pyannote.core, speakers under their people's names where known. ``turns``: the diarizer's own (overlap
    and speech the recogniser did not transcribe included); without them, the transcript's utterances
    (a speaker's consecutive utterances joined)."""
    if turns is None:
        turns = [Turn(float(u.start), float(u.end), u.speaker) for u in episode.transcript.utterances
                 if u.end > u.start and u.speaker is not None and "non-speech" not in u.flags]
    names = {label: name for label in {t.speaker for t in turns}
             if (name := speaker_name(episode, label, people))}
    return rttm(turns, episode.slug, names)


def to_chapters(episode: Episode, papers: Mapping[str, Paper], posters: Mapping[str, Poster],
                base_url: str = "/") -> dict:
    """Podcasting 2.0 JSON chapters (https://github.com/Podcastindex-org/podcast-namespace, chapters
    spec 1.2.0). ``url`` links the paper page, ``img`` the poster image of this episode's poster for
    that paper (served at ``posters/<id>/<image>``)."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    chapters = []
    for ch in sorted(episode.chapters, key=lambda c: c.start):
        item: dict = {"startTime": round(float(ch.start), 3), "title": _one_line(ch.title)}
        if ch.end is not None and ch.end > ch.start:
            item["endTime"] = round(float(ch.end), 3)
        if ch.paper and ch.paper in papers:
            item["url"] = base + site_path("paper", ch.paper)
            poster = _poster_for(episode, ch.paper, ch.start, posters)
            if poster is not None and poster.image:
                item["img"] = base + site_path("poster", poster.id) + poster.image
        chapters.append(item)
    data: dict = {"version": CHAPTERS_VERSION, "title": episode.title, "chapters": chapters}
    return data


def _poster_for(episode: Episode, paper: str, start: float, posters: Mapping[str, Poster]) -> Poster | None:
    mine = [p for p in posters.values() if p.paper == paper and p.episode == episode.slug]
    if not mine:
        mine = [p for p in posters.values() if p.paper == paper]
    mine.sort(key=lambda p: (p.image is None, abs(p.start - start)))
    return mine[0] if mine else None


EXPORTERS = {"vtt": to_vtt, "srt": to_srt, "json": to_json, "rttm": to_rttm}

FORMATS = ("chapters", "vtt", "srt", "json", "rttm", "summaries")


def export_episode(project, slug: str, fmt: str) -> str:
    """The text of episode ``slug`` in format ``fmt`` (one of :data:`FORMATS`), from content/."""
    from pipeline.errors import ConfigError

    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    store = project.content
    ep = store.load_episode(slug)  # ContentError "unknown episode ..." when missing
    if fmt == "summaries":  # pipeline.summarize.summaries owns this format
        from pipeline.summarize.summaries import summaries_json

        return json.dumps(summaries_json(ep), ensure_ascii=False, indent=1) + "\n"
    if fmt == "chapters":
        data = to_chapters(ep, store.load_papers(), store.load_posters(), base_url=project.config.site.base_url)
        return json.dumps(data, ensure_ascii=False, indent=1) + "\n"
    if fmt == "rttm":  # the diarizer's own turns, kept by `recap process`
        path = store.root / "episodes" / slug / DIARIZATION_FILE
        if path.is_file():
            try:
                return to_rttm(ep, store.load_people(), read_rttm(path.read_text("utf-8"), str(path)))
            except ValueError as exc:
                from pipeline.errors import ContentError

                raise ContentError(str(exc)) from None
    if not ep.transcript.utterances:
        from pipeline.errors import ContentError

        raise ContentError(f"episode {slug!r} has no transcript to export as {fmt}: "
                           f"run `recap import-transcript FILE --episode {slug}` first")
    people = store.load_people()
    return EXPORTERS[fmt](ep, people)
