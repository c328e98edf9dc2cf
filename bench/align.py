"""Alignment benchmark: chapter boundaries, links and names against a truth file, with and without notes.

    .venv/bin/python bench/align.py [--seeds ../shared/seeds] [--notes NOTES] [--truth truth.json] [--until 4320]
    .venv/bin/python bench/align.py --notes tests/data/neurips-2023-recap.shownotes-full.txt --until 99999

Without --truth the truth is read from the show notes (the seeds' dev notes: six chapters; or
``--notes``: the speakers and the paper each chapter is about, by title). Prints one table row per setting:
boundary precision/recall
within 15 s and 30 s (spurious boundaries counted before --until only, since the notes stop there),
chapters within 2 s, link accuracy, name accuracy, and the wall-clock and CPU seconds align took (the
embedding run loads the model and embeds cold), against a lexical-only run as the baseline.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.align.episode import AlignOptions, align_episode  # noqa: E402
from pipeline.align.speakers import same_person  # noqa: E402
from pipeline.config import init_project, open_project  # noqa: E402
from pipeline.models import Episode  # noqa: E402
from pipeline.sources.catalog import find_paper, merge_papers
from pipeline.sources.notes import apply_notes, parse_notes  # noqa: E402
from pipeline.sources.papers import read_papers  # noqa: E402
from pipeline.sources.transcripts import read_transcript  # noqa: E402

CATALOG = ["paper-listing.txt", "research-highlights-blog.txt", "neurips-2023-day5-notes.txt"]
NOTES = "neurips-2023-recap.shownotes-dev.txt"
TRANSCRIPT = "neurips-2023-recap.transcript.txt"


def truth_from_notes(notes_file: Path, catalog: dict) -> list[dict]:
    """Truth rows {start, paper, speakers} from show notes: the notes' own chapter-paper links."""
    notes = parse_notes(notes_file)
    merged = merge_papers(catalog, notes.papers)
    from pipeline.sources.notes import link_chapters

    covered = [find_paper(merged, p.title) for p in notes.papers]
    links = link_chapters(notes.chapters, [p for p in covered if p is not None])
    return [{"start": c.start, "paper": pid, "speakers": c.speakers} for c, pid in zip(notes.chapters, links)]


def score(result, truth: list[dict], papers: dict, people: dict, until: float, tol: float) -> dict:
    found = [c for c in result.chapters if c.kind != "intro" and c.start > 0]
    starts = [c.start for c in found]
    hits = sum(1 for t in truth if any(abs(s - t["start"]) <= tol for s in starts))
    considered = [c for c in found if c.start < until]
    good = sum(1 for c in considered if any(abs(c.start - t["start"]) <= tol for t in truth))
    links = names = total_names = 0
    for t in truth:
        near = [c for c in found if abs(c.start - t["start"]) <= 30.0]
        if not near:
            continue
        c = near[0]
        links += c.paper == t["paper"]
        for name in t["speakers"]:
            total_names += 1
            got = [people[s].name for s in c.speakers if s in people]
            names += any(g == name or (same_person(g, name) and g.split()[-1] == name.split()[-1]) for g in got)
    return {"precision": good / max(1, len(considered)), "recall": hits / max(1, len(truth)),
            "spurious": len(considered) - good, "links": links / len(truth),
            "names": names / max(1, total_names)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "seeds")
    ap.add_argument("--truth", type=Path, help="JSON list of {start, paper, speakers} (default: from the notes)")
    ap.add_argument("--notes", type=Path, help="show notes to align with and take the truth from (default: the "
                    "seeds' dev notes; tests/data has a reconstruction of the whole episode's 16 chapters)")
    ap.add_argument("--until", type=float, default=4320.0, help="count spurious boundaries before this time (s)")
    args = ap.parse_args()
    seeds = args.seeds
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "proj"
        init_project(root, "bench")
        project = open_project(root)
        catalog: dict = {}
        for name in CATALOG:
            catalog = merge_papers(catalog, read_papers(seeds / name))
        notes_file = args.notes or seeds / NOTES
        notes = parse_notes(notes_file)
        catalog_notes = merge_papers(catalog, notes.papers)  # the papers-covered list, as a catalog only
        for p in catalog_notes.values():
            project.content.save_paper(p)
        truth = json.loads(args.truth.read_text()) if args.truth else truth_from_notes(notes_file, catalog)
        transcript = read_transcript(seeds / TRANSCRIPT)
        ep = Episode(slug="recap", title="recap", transcript=transcript)
        project.content.save_episode(ep)
        apply_notes_ep = None
        rows = []
        opts = AlignOptions(cache_dir=Path(tmp) / "cache")
        for label, with_notes, o in [("no notes, lexical only", False, replace(opts, embeddings=False)),
                                     ("no notes", False, opts), ("with notes", True, opts),
                                     ("notes, audio +45 s", True, opts)]:
            papers = project.content.load_papers()
            people = project.content.load_people()
            episode = Episode(slug="recap", title="recap", transcript=transcript)
            if with_notes:
                if apply_notes_ep is None:
                    import logging
                    logging.getLogger("pipeline").setLevel(logging.WARNING)
                    apply_notes_ep = apply_notes(project, "recap", notes)
                    papers = project.content.load_papers()
                    people = project.content.load_people()
                episode = replace(apply_notes_ep, transcript=transcript)
                if "45" in label:
                    from pipeline.models import Transcript, Utterance
                    shifted = [replace(u, start=u.start + 45.0, end=u.end + 45.0) for u in transcript.utterances]
                    episode = replace(episode, transcript=Transcript(
                        utterances=[Utterance(0.0, 45.0, "[AD]"), *shifted]))
            t0, c0 = time.perf_counter(), time.process_time()
            result = align_episode(episode, papers, people, o)
            secs, cpu = time.perf_counter() - t0, time.process_time() - c0
            people = {**people, **{p.id: p for p in result.people}}
            shift = 45.0 if "45" in label else 0.0
            tr = [{**t, "start": t["start"] + shift} for t in truth]
            s15 = score(result, tr, papers, people, args.until + shift, 15.0)
            s30 = score(result, tr, papers, people, args.until + shift, 30.0)
            exact = sum(1 for t in tr if any(abs(c.start - t["start"]) <= 2.0 for c in result.chapters))
            rows.append((label, s15, s30, exact, secs, cpu, len(result.chapters), result.notes))
        print(f"catalog: {len(papers)} papers; truth: {len(truth)} chapters before {args.until:.0f} s")
        print(f"{'setting':26} {'P@15':>5} {'R@15':>5} {'P@30':>5} {'R@30':>5} {'spur':>4} {'<=2s':>4} "
              f"{'links':>5} {'names':>5} {'chap':>4} {'secs':>6} {'cpu s':>6}")
        base = rows[0][4]
        for label, s15, s30, exact, secs, cpu, n, _ in rows:
            print(f"{label:26} {s15['precision']:5.2f} {s15['recall']:5.2f} {s30['precision']:5.2f} "
                  f"{s30['recall']:5.2f} {s30['spurious']:4d} {exact:4d} {s30['links']:5.2f} {s30['names']:5.2f} "
                  f"{n:4d} {secs:6.1f} {cpu:6.1f}  ({secs / base:.1f}x lexical)")
        for label, *_, notes_ in rows:
            print(f"{label}: " + "; ".join(notes_))


if __name__ == "__main__":
    main()
