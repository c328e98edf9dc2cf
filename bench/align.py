"""Alignment benchmark: every episode it has, with and without notes, against its truth.

    .venv/bin/python bench/align.py [--seeds ../shared/seeds] [--episodes ../shared/data/episodes] [--only NAME]

Settings (one table row each):

* ``seed, dev notes``: the seed episode with its published notes cut after six chapters; the truth is the
  whole episode's 16 chapters (``tests/data/neurips-2023-recap.shownotes-full.txt``, on the same cut);
* ``seed, full notes``: the same with all 16 chapters noted: every noted time must be kept;
* ``seed, no notes``: transcript and catalog only (plus a lexical-only baseline run first);
* ``open-models, title only``: the keynote session's transcript, the seed catalog (which holds none of its
  papers) and the recording's title (SOURCE.txt's first line, as a video or podcast title names its
  speakers): the metadata any recording has;
* ``open-models, title + descr.``: the same with the episode's description (the notes' prose without their
  timestamps list);
* ``open-models, notes``: the transcript with the published notes, whose times are on another cut (the
  episode titled as the notes are).

Per row: boundary precision/recall/F1 within 15 s and 30 s, chapters within 2 s, chapter papers right (a
truth chapter without a paper must stay unlinked), speakers named right, seconds moved per noted chapter
(and which notes chapters were reported not found), wall-clock and CPU seconds of ``align_episode``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.align.episode import AlignOptions, align_episode  # noqa: E402
from pipeline.align.speakers import same_person  # noqa: E402
from pipeline.config import init_project, open_project  # noqa: E402
from pipeline.models import Episode, Paper, Transcript  # noqa: E402
from pipeline.sources.catalog import find_paper, merge_papers  # noqa: E402
from pipeline.sources.notes import ShowNotes, apply_notes, link_chapters, parse_notes  # noqa: E402
from pipeline.sources.papers import read_papers  # noqa: E402
from pipeline.sources.transcripts import read_transcript  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ["paper-listing.txt", "research-highlights-blog.txt", "neurips-2023-day5-notes.txt"]
DEV_NOTES = "neurips-2023-recap.shownotes-dev.txt"
FULL_NOTES = ROOT / "tests" / "data" / "neurips-2023-recap.shownotes-full.txt"
TRANSCRIPT = "neurips-2023-recap.transcript.txt"


@dataclass
class Setting:
    label: str
    transcript: Transcript
    truth: list[dict]  # {start, paper (id or None), speakers}
    notes: ShowNotes | None
    description: str = ""
    title: str = "ep"
    options: AlignOptions | None = None


def truth_from_notes(notes: ShowNotes, catalog: dict[str, Paper]) -> list[dict]:
    """Truth rows {start, paper, speakers} from show notes: the notes' own chapter-paper links."""
    merged = merge_papers(catalog, notes.papers)
    covered = [find_paper(merged, p.title) for p in notes.papers]
    links = link_chapters(notes.chapters, [p for p in covered if p is not None])
    return [{"start": c.start, "paper": pid, "speakers": c.speakers} for c, pid in zip(notes.chapters, links)]


def named_right(got: list[str], name: str) -> bool:
    return any(g == name or (same_person(g, name) and g.split()[-1] == name.split()[-1]) for g in got)


def prf(starts: list[float], truth: list[float], tol: float) -> tuple[float, float, float]:
    hits = sum(1 for t in truth if any(abs(s - t) <= tol for s in starts))
    good = sum(1 for s in starts if any(abs(s - t) <= tol for t in truth))
    p, r = good / max(1, len(starts)), hits / max(1, len(truth))
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def score(result, truth: list[dict], papers: dict, people: dict) -> dict:
    found = [c for c in result.chapters if c.kind != "intro"]
    starts = [c.start for c in found]
    t_starts = [t["start"] for t in truth]
    out: dict = {}
    for tol in (15.0, 30.0):
        out[f"p{tol:.0f}"], out[f"r{tol:.0f}"], out[f"f{tol:.0f}"] = prf(starts, t_starts, tol)
    out["exact"] = sum(1 for t in t_starts if any(abs(s - t) <= 2.0 for s in starts))
    links = names = total_names = 0
    for t in truth:
        near = sorted((c for c in found if abs(c.start - t["start"]) <= 30.0), key=lambda c: abs(c.start - t["start"]))
        if not near:
            continue
        c = near[0]
        links += c.paper == t["paper"]
        got = [people[s].name for s in c.speakers if s in people]
        for name in t["speakers"]:
            total_names += 1
            names += named_right(got, name)
    out["links"] = links / max(1, len(truth))
    out["names"] = names / max(1, total_names)
    out["n"] = len(result.chapters)
    return out


def run(setting: Setting, catalog: dict[str, Paper], tmp: Path) -> tuple[dict, object, dict]:
    root = tmp / slug_of(setting.label)
    init_project(root, "bench")
    project = open_project(root)
    for p in catalog.values():
        project.content.save_paper(p)
    episode = Episode(slug="ep", title=setting.title, transcript=setting.transcript,
                      description=setting.description)
    project.content.save_episode(episode)
    if setting.notes is not None:
        logging.getLogger("pipeline").setLevel(logging.WARNING)
        episode = replace(apply_notes(project, "ep", setting.notes), transcript=setting.transcript)
    papers = project.content.load_papers()
    people = project.content.load_people()
    opts = setting.options or AlignOptions(cache_dir=tmp / "cache")
    t0, c0 = time.perf_counter(), time.process_time()
    result = align_episode(episode, papers, people, opts)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    people = {**people, **{p.id: p for p in result.people}}
    s = score(result, setting.truth, papers, people)
    s["secs"], s["cpu"] = secs, cpu
    return s, result, people


def misattributed(transcript: Transcript, truth: list[dict], result, people: dict) -> list[tuple[float, str, float]]:
    """(truth chapter start, person, seconds) where speech in a truth chapter is credited (speaker label ->
    person) to someone who speaks in another truth chapter but not in this one (over 60 s only)."""
    speakers_of = {name for t in truth for name in t["speakers"]}
    out = []
    bounds = [t["start"] for t in truth] + [transcript.duration]
    for k, t in enumerate(truth):
        secs: dict[str, float] = {}
        for u in transcript.utterances:
            if bounds[k] <= u.start < bounds[k + 1] and u.speaker in result.speakers:
                p = people.get(result.speakers[u.speaker])
                if p is None or p.host:
                    continue
                if any(named_right([p.name], n) for n in speakers_of) and not any(
                        named_right([p.name], n) for n in t["speakers"]):
                    secs[p.name] = secs.get(p.name, 0.0) + u.end - u.start
        out += [(t["start"], name, v) for name, v in secs.items() if v >= 60.0]
    return out


def slug_of(label: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in label.lower())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=Path, default=ROOT.parent / "shared" / "seeds")
    ap.add_argument("--episodes", type=Path, default=ROOT.parent / "shared" / "data" / "episodes")
    ap.add_argument("--only", help="run only the settings whose label contains this")
    ap.add_argument("--verbose", action="store_true", help="print every chapter of every setting")
    args = ap.parse_args()
    seeds = args.seeds
    catalog: dict[str, Paper] = {}
    for name in CATALOG:
        catalog = merge_papers(catalog, read_papers(seeds / name))
    dev = parse_notes(seeds / DEV_NOTES)
    full = parse_notes(FULL_NOTES)
    seed_catalog = merge_papers(catalog, dev.papers)  # the papers-covered list, as a catalog only
    seed_truth = truth_from_notes(full, catalog)
    seed_tr = read_transcript(seeds / TRANSCRIPT)
    settings = [
        Setting("seed, no notes, lexical only", seed_tr, seed_truth, None, options=AlignOptions(embeddings=False)),
        Setting("seed, no notes", seed_tr, seed_truth, None),
        Setting("seed, dev notes", seed_tr, seed_truth, dev),
        Setting("seed, full notes", seed_tr, seed_truth, full),
    ]
    om = args.episodes / "ls-live-2024-open-models"
    if om.is_dir():
        truth = json.loads((om / "truth.json").read_text())
        om_truth = [{"start": c["start"], "paper": c["paper"], "speakers": c["speakers"]} for c in truth["chapters"]]
        om_notes = parse_notes(om / "notes.txt")
        om_tr = read_transcript(om / "transcript.txt")
        title = (om / "SOURCE.txt").read_text("utf-8").splitlines()[0].strip()
        settings += [Setting("open-models, title only", om_tr, om_truth, None, title=title),
                     Setting("open-models, title + descr.", om_tr, om_truth, None, description=om_notes.description,
                             title=title),
                     Setting("open-models, notes", om_tr, om_truth, om_notes)]
    if args.only:
        settings = [s for s in settings if args.only in s.label]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for st in settings:
            cat = seed_catalog if st.label.startswith("seed") else catalog
            if st.options is not None and st.options.cache_dir is None:
                st.options = replace(st.options, cache_dir=Path(tmp) / "cache")
            s, result, people = run(st, cat, Path(tmp))
            rows.append((st, s, result, people))
    print(f"{'setting':30} {'P@15':>5} {'R@15':>5} {'F@15':>5} {'P@30':>5} {'R@30':>5} {'F@30':>5} {'<=2s':>4} "
          f"{'papers':>6} {'names':>5} {'chap':>4} {'secs':>6} {'cpu s':>6}")
    for st, s, _, _ in rows:
        print(f"{st.label:30} {s['p15']:5.2f} {s['r15']:5.2f} {s['f15']:5.2f} {s['p30']:5.2f} {s['r30']:5.2f} "
              f"{s['f30']:5.2f} {s['exact']:4d} {s['links']:6.2f} {s['names']:5.2f} {s['n']:4d} {s['secs']:6.1f} "
              f"{s['cpu']:6.1f}")
    for st, _s, result, people in rows:
        print(f"\n{st.label}:")
        for note in result.notes:
            print(f"  {note}")
        placements = getattr(result, "placements", [])
        if placements:
            moved = ", ".join(f"{p.title[:24]!r} {p.status}" + (f" {p.moved:+.0f}s" if p.placed is not None else "")
                              for p in placements)
            print(f"  placements: {moved}")
        if st.notes is not None and st.truth and "seed" in st.label:
            last = st.notes.chapters[-1].start
            after = [t for t in st.truth if t["start"] > last + 1.0]
            if after:
                starts = [c.start for c in result.chapters if c.start > last + 1.0]
                hit = sum(1 for t in after if any(abs(x - t["start"]) <= 30.0 for x in starts))
                print(f"  after the last noted chapter: {hit}/{len(after)} truth chapters found within 30 s")
            kept = sum(1 for c in st.notes.chapters if any(abs(x.start - c.start) < 0.01 for x in result.chapters))
            print(f"  noted times kept exactly: {kept}/{len(st.notes.chapters)}")
        wrong = misattributed(result.transcript or st.transcript, st.truth, result, people)
        if wrong:
            print("  stretches credited to another chapter's speaker: " + "; ".join(
                f"{name} in the chapter at {start:.0f} s: {secs:.0f} s" for start, name, secs in wrong))
        else:
            print("  stretches credited to another chapter's speaker: none")
        if args.verbose:
            for c in result.chapters:
                names = [people[x].name for x in c.speakers if x in people]
                print(f"    {c.start:8.1f} {c.source:6} {c.kind:6} {c.confidence:4.2f} {c.title[:50]!r} "
                      f"paper={c.paper} {names}")


if __name__ == "__main__":
    main()
