"""The speaker timeline of an episode page: who speaks when, and the chapters, on one strip.

Everything here is layout (numbers and strings in typed dataclasses); the SVG itself is written by the
Jinja2 partial ``templates/_timeline.html``, so every name and title is escaped by the template engine.
No chart library, no script: the picture is plain SVG links that work without JavaScript (anchor
jumps) and seek the player with the site's seek script.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.export import speaker_name
from pipeline.models import Episode, Person
from pipeline.site.model import Deferred, Site, content_digest
from pipeline.site.paragraphs import display_speaker
from pipeline.site.templating import template_macro
from pipeline.timefmt import format_timestamp

UNIDENTIFIED = "Unidentified"
PALETTE = ("#2b6cb0", "#c05621", "#2f855a", "#9b2c2c", "#6b46c1", "#b7791f", "#2c7a7b", "#97266d",
           "#4a5568", "#276749", "#744210", "#553c9a")
UNIDENTIFIED_COLOR = "#a0aec0"


@dataclass(frozen=True)
class TimelineOptions:
    width: float = 1000.0
    """Width of the drawing in SVG user units (it scales to the page with its viewBox)."""
    label_width: float = 170.0
    """Room for the lane names at the left, inside ``width``."""
    font_size: float = 13.0
    lane_height: float = 18.0
    lane_gap: float = 4.0
    chapter_height: float = 20.0
    axis_height: float = 20.0
    merge_px: float = 2.0
    """Turns of one lane closer than this many units are drawn as one segment (at 850 units for a
    3h20m episode one unit is 14 s)."""
    max_segments: int = 600
    """Upper bound on segments in the whole drawing: when quick back-and-forth exceeds it, the merge
    distance grows until it fits (a 3-hour episode's timeline stays well under 100 KB)."""
    min_px: float = 1.5
    """Narrowest segment drawn; shorter speech is widened to stay visible and clickable."""
    own_lane_share: float = 0.03
    """An unnamed speaker label gets its own lane when it holds this share of the speech (and at
    least ``own_lane_seconds``, or a fifth of a short recording's speech); the rest share the
    "Unidentified" lane."""
    own_lane_seconds: float = 20.0
    max_unnamed_lanes: int = 6


@dataclass
class Segment:
    start: float
    end: float
    x: float
    w: float
    turns: int  # how many utterances were merged into it
    label: str  # "0:12:03–0:14:40"


@dataclass
class Lane:
    key: str  # person id, speaker label, or "" for Unidentified
    name: str
    color: str
    y: float
    person: str | None = None
    labels: list[str] = field(default_factory=list)  # speaker labels drawn in this lane
    seconds: float = 0.0
    turns: int = 0
    first: float = 0.0
    short: str = ""  # the name cut to fit the label column
    share: float = 0.0  # of all speech in the episode
    segments: list[Segment] = field(default_factory=list)


@dataclass
class ChapterMark:
    index: int
    start: float
    end: float
    x: float
    w: float
    title: str
    clock: str
    paper: str | None = None
    label: str = ""  # what fits inside the band: "3 DPO", "3", or nothing


@dataclass
class Tick:
    x: float
    label: str


@dataclass
class Timeline:
    duration: float
    width: float
    height: float
    label_width: float
    lane_height: float
    chapter_y: float
    chapter_height: float
    font_size: float
    axis_y: float
    lanes: list[Lane]
    chapters: list[ChapterMark]
    ticks: list[Tick]
    description: str  # one-sentence text alternative

    @property
    def segment_count(self) -> int:
        return sum(len(lane.segments) for lane in self.lanes)


def build_timeline(episode: Episode, people: dict[str, Person] | None = None,
                   options: TimelineOptions = TimelineOptions()) -> Timeline | None:
    """Lay out ``episode``'s speakers and chapters on one strip; None when there is nothing to draw.

    Lanes: one per named person (all labels mapped to them via ``episode.speakers`` share it), one per
    unnamed label that holds a real share of the speech, and an "Unidentified" lane for the rest (the
    many per-turn labels of an imported transcript that alignment did not name, unlabelled speech)."""
    people = people or {}
    utts = [u for u in episode.transcript.utterances if u.end > u.start and "non-speech" not in u.flags]
    duration = max([episode.duration or 0.0, episode.transcript.duration,
                    *[(c.end or c.start) for c in episode.chapters]])
    if duration <= 0 or (not utts and not episode.chapters):
        return None
    o = options
    plot_w = o.width - o.label_width
    scale = plot_w / duration

    # seconds per label, then which labels earn a lane
    by_label: dict[str | None, float] = {}
    for u in utts:
        by_label[u.speaker] = by_label.get(u.speaker, 0.0) + (u.end - u.start)
    total = sum(by_label.values()) or 1.0
    named = {lab: pid for lab, pid in episode.speakers.items() if pid}
    unnamed = sorted((lab for lab in by_label if lab is not None and lab not in named),
                     key=lambda lab: -by_label[lab])
    # the transcript's naming rule: "Speaker 2", turn labels hidden
    shown = {lab: display_speaker(episode, lab, people) for lab in unnamed}
    own = [lab for lab in unnamed if shown[lab] is not None
           and by_label[lab] >= o.own_lane_share * total
           and by_label[lab] >= min(o.own_lane_seconds, 0.2 * total)][: o.max_unnamed_lanes]

    def lane_key(label: str | None) -> str:
        if label in named:
            return "p:" + named[label]
        if label in own:
            return "l:" + label
        return ""

    groups: dict[str, list[tuple[float, float]]] = {}
    labels: dict[str, list[str]] = {}
    for u in utts:
        key = lane_key(u.speaker)
        groups.setdefault(key, []).append((float(u.start), float(u.end)))
        if u.speaker is not None and u.speaker not in labels.setdefault(key, []):
            labels[key].append(u.speaker)

    host_ids = {pid for pid, p in people.items() if p.host}

    def order(key: str) -> tuple:
        spans = groups[key]
        return (key == "", not (key.startswith("p:") and key[2:] in host_ids), min(s for s, _ in spans))

    merge_px = o.merge_px
    while True:  # widen the merge distance until the drawing fits the segment budget
        merged = {key: _merge(sorted(spans), scale, merge_px, o, o.label_width) for key, spans in groups.items()}
        if sum(len(v) for v in merged.values()) <= o.max_segments or merge_px >= plot_w:
            break
        merge_px *= 1.5

    lanes: list[Lane] = []
    top = o.chapter_height + 6 if episode.chapters else 0.0
    for key in sorted(groups, key=order):
        spans = sorted(groups[key])
        if key.startswith("p:"):
            pid = key[2:]
            name = people[pid].name if pid in people else pid
            person = pid
        elif key.startswith("l:"):
            name, person = shown[key[2:]] or key[2:], None
        else:
            name, person = UNIDENTIFIED, None
        color = UNIDENTIFIED_COLOR if key == "" else PALETTE[len(lanes) % len(PALETTE)]
        lane = Lane(key=key, name=name, color=color, person=person, labels=labels.get(key, []),
                    y=top + len(lanes) * (o.lane_height + o.lane_gap),
                    seconds=sum(e - s for s, e in spans), turns=len(spans), first=spans[0][0],
                    share=sum(e - s for s, e in spans) / total,
                    short=_fit(name, o.label_width - 10, o.font_size) or name[:3] + "…")
        lane.segments = merged[key]
        lanes.append(lane)

    chapters = []
    for idx, c in enumerate(sorted(episode.chapters, key=lambda c: c.start)):
        nxt = [x.start for x in episode.chapters if x.start > c.start]
        end = c.end if c.end is not None else (min(nxt) if nxt else duration)
        x = o.label_width + c.start * scale
        w = max(1.0, (end - c.start) * scale)
        chapters.append(ChapterMark(index=idx + 1, start=c.start, end=end, x=round(x, 1), w=round(w, 1),
                                    title=c.title, clock=format_timestamp(c.start), paper=c.paper,
                                    label=(_fit(f"{idx + 1} {c.title}", w - 6, o.font_size)
                                           or _fit(str(idx + 1), w - 4, o.font_size))))
    axis_y = top + len(lanes) * (o.lane_height + o.lane_gap) + 2
    ticks = [Tick(x=round(o.label_width + t * scale, 1), label=format_timestamp(t))
             for t in _tick_times(duration)]
    height = axis_y + o.axis_height
    desc = (f"Speaker timeline of {format_timestamp(duration)}: {len(lanes)} "
            f"{'lane' if len(lanes) == 1 else 'lanes'} ({', '.join(lane.name for lane in lanes)})"
            + (f", {len(chapters)} chapters marked above." if chapters else "."))
    return Timeline(duration=duration, width=o.width, height=round(height, 1), label_width=o.label_width,
                    lane_height=o.lane_height, chapter_y=0.0, chapter_height=o.chapter_height, font_size=o.font_size,
                    axis_y=round(axis_y, 1), lanes=lanes, chapters=chapters, ticks=ticks, description=desc)


def _fit(text: str, width: float, font_size: float) -> str:
    """``text`` cut (with "…") to about ``width`` units, or "" when not even a few letters fit."""
    room = int(width / (0.6 * font_size))
    if len(text) <= room:
        return text
    return text[: room - 1].rstrip() + "…" if room >= 5 else ""


def _merge(spans: list[tuple[float, float]], scale: float, merge_px: float, o: TimelineOptions,
           x0: float) -> list[Segment]:
    """Join turns closer than ``merge_px`` units into one segment."""
    gap = merge_px / scale
    merged: list[list[float]] = []
    for s, e in spans:
        if merged and s - merged[-1][1] <= gap:
            merged[-1][1] = max(merged[-1][1], e)
            merged[-1][2] += 1
        else:
            merged.append([s, e, 1])
    out = []
    for s, e, n in merged:
        out.append(Segment(start=s, end=e, x=round(x0 + s * scale, 1), w=round(max(o.min_px, (e - s) * scale), 1),
                           turns=int(n), label=f"{format_timestamp(s)}–{format_timestamp(e)}"))
    return out


def _tick_times(duration: float) -> list[float]:
    for step in (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200):
        if duration / step <= 8:
            break
    return [float(t) for t in range(0, int(duration) + 1, step)]


def time_href(seconds: float) -> str:
    """Default link to a moment of the episode page (the site's seek script handles ``#t-<sec>``)."""
    return f"#t-{int(seconds)}"


# -- the episode page's block ----------------------------------------------------------------------
def episode_timeline_html(site: Site, ep: Episode) -> Deferred:
    """The episode page's timeline (rendered with the page), each link pointing at the transcript
    paragraph of the moment (an anchor that exists: the link checker and no-JS readers land somewhere real)."""

    def render() -> str:
        tl = build_timeline(ep, site.people)
        if tl is None:
            return ""
        macro = template_macro(site.env, "_timeline.html", "speaker_timeline")
        return macro(tl, lambda t: "#" + site.anchor(ep.slug, t))

    # what the timeline reads: the transcript, the episode (duration, speaker map), its chapters and
    # the names of its mapped speakers (paragraph anchors follow from the same)
    inputs = {"timeline": [content_digest(site, f"episodes/{ep.slug}/{name}")
                           for name in ("transcript.json", "episode.toml", "chapters.toml")],
              "names": {label: speaker_name(ep, label, site.people) for label in ep.speakers}}
    return Deferred(inputs, render)

