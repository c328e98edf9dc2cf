"""Summaries on the seed episode: per chapter, words, grounding and topic, and the time for the episode.

    .venv/bin/python bench/summary.py [--seeds ../shared/seeds] [--max-words 80]

Imports the seed transcript and the dev show notes into a temporary project, then summarizes every
chapter and the episode with the offline extractive backend twice: cold (empty embedding cache, model
load included) and warm (cached). Per chapter it prints:

* words: length of the summary;
* grounded: the share of summary sentences whose words were all said between the sentence's cited
  start and end (what a reader finds when clicking the timestamp);
* topic: whether the summary names its paper's key terms (the 8 most distinctive words of the linked
  paper's title and abstract against the other papers covered), how many, and which.

The same numbers for a *lead* baseline in the same run (the chapter's first sentences up to the word
budget, the usual baseline for summaries of talks and news), and the time ratio of the two.
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.config import init_project, open_project  # noqa: E402
from pipeline.models import Episode, Paper, Summary, SummarySentence  # noqa: E402
from pipeline.sources.notes import apply_notes, parse_notes  # noqa: E402
from pipeline.sources.transcripts import import_transcript  # noqa: E402
from pipeline.summarize.options import SummaryOptions
from pipeline.summarize.sentences import chapter_bounds, spoken_sentences
from pipeline.summarize.summaries import summarize_episode  # noqa: E402

_STOP = set("a an the of for and or but in on at to from by with as is are was were be it its this that we our "
            "you your i they them their there here so not no do does did have has had can will would".split())


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text.lower().replace("’", "'"))


def stems(text: str) -> set[str]:
    return {w[:6] for w in words(text) if w not in _STOP and len(w) > 2}


def key_terms(paper: Paper, others: list[Paper], k: int = 8) -> set[str]:
    tf = Counter(w[:6] for w in words(paper.abstract) if w not in _STOP and len(w) > 3)
    for w in words(paper.title):
        if w not in _STOP and len(w) > 3:
            tf[w[:6]] += 3
    docs = [stems(f"{o.title} {o.abstract}") for o in others]
    score = {t: n * math.log((1 + len(docs)) / (1 + sum(t in d for d in docs))) for t, n in tf.items()}
    return {t for t, _ in sorted(score.items(), key=lambda x: (-x[1], x[0]))[:k]}


def grounded(ep: Episode, s: SummarySentence) -> bool:
    said: set[str] = set()
    for u in ep.transcript.utterances:
        if u.end >= s.start - 0.01 and u.start <= s.end + 0.01:
            said.update(words(u.text))
    return all(w in said for w in words(s.text))


def lead_baseline(ep: Episode, max_words: int) -> list[Summary]:
    out = []
    for start, end in chapter_bounds(ep):
        picked: list[SummarySentence] = []
        n = 0
        for s in spoken_sentences(ep.transcript.utterances, start, end):
            k = len(s.text.split())
            if n + k > max_words:
                break
            picked.append(SummarySentence(s.text, s.start, s.end))
            n += k
        out.append(Summary(" ".join(p.text for p in picked), picked, "lead"))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "seeds")
    ap.add_argument("--max-words", type=int, default=80)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        project = open_project(init_project(Path(tmp) / "proj", title="bench"))
        import_transcript(project, args.seeds / "neurips-2023-recap.transcript.txt", "seed")
        apply_notes(project, "seed", parse_notes(args.seeds / "neurips-2023-recap.shownotes-dev.txt"))
        papers = project.content.load_papers()
        opts = SummaryOptions(max_words=args.max_words)
        cache = Path(tmp) / "cache"

        ep = project.content.load_episode("seed")
        t0 = time.perf_counter()
        summarize_episode(ep, papers, opts, cache_dir=cache)
        cold = time.perf_counter() - t0
        warm_ep = project.content.load_episode("seed")
        t0 = time.perf_counter()
        summarize_episode(warm_ep, papers, opts, cache_dir=cache)
        warm = time.perf_counter() - t0
        t0 = time.perf_counter()
        lead = lead_baseline(ep, args.max_words)
        lead_time = time.perf_counter() - t0

        covered = [papers[p] for p in ep.papers if p in papers]
        print(f"seed episode: {len(ep.chapters)} chapters, {len(ep.transcript.utterances)} transcript lines, "
              f"{ep.transcript.duration / 3600:.2f} h")
        print(f"{'chapter':<22} {'words':>5} {'grounded':>8} {'topic':>5} {'terms':>5}  {'lead terms':>10}  "
              "key terms named")
        totals = {"sent": 0, "ok": 0, "topic": 0, "lead_topic": 0, "lead_sent": 0, "lead_ok": 0, "terms": 0,
                  "lead_terms": 0}
        for ch, base in zip(ep.chapters, lead):
            s = ch.summary
            paper = papers.get(ch.paper or "")
            terms = key_terms(paper, [p for p in covered if p.id != paper.id]) if paper else set()
            named = sorted(terms & stems(s.text)) if s else []
            base_named = sorted(terms & stems(base.text))
            ok = sum(grounded(ep, x) for x in s.sentences) if s else 0
            n = len(s.sentences) if s else 0
            totals["sent"] += n
            totals["ok"] += ok
            totals["topic"] += bool(named)
            totals["lead_topic"] += bool(base_named)
            totals["lead_sent"] += len(base.sentences)
            totals["lead_ok"] += sum(grounded(ep, x) for x in base.sentences)
            totals["terms"] += len(named)
            totals["lead_terms"] += len(base_named)
            print(f"{ch.title[:22]:<22} {len(s.text.split()) if s else 0:>5} {ok / max(1, n):>8.0%} "
                  f"{'yes' if named else 'NO':>5} {len(named):>3}/{len(terms)}  {len(base_named):>8}/{len(terms)}"
                  f"  {', '.join(named)}")
        es = ep.summary
        ep_ok = sum(grounded(ep, x) for x in es.sentences) if es else 0
        print(f"{'(episode)':<22} {len(es.text.split()) if es else 0:>5} "
              f"{ep_ok / max(1, len(es.sentences) if es else 1):>8.0%}")
        n = len(ep.chapters)
        print(f"\nextractive: {totals['topic']}/{n} chapters name their topic, {totals['terms']} key terms named, "
              f"{totals['ok']}/{totals['sent']} sentences grounded ({totals['ok'] / max(1, totals['sent']):.0%})")
        print(f"lead baseline: {totals['lead_topic']}/{n} chapters name their topic, {totals['lead_terms']} key terms "
              f"named, {totals['lead_ok']}/{totals['lead_sent']} sentences grounded; key terms extractive/lead = "
              f"{totals['terms'] / max(1, totals['lead_terms']):.2f}")
        print(f"time for the episode: cold {cold:.1f} s (model load and embeddings), warm {warm:.1f} s "
              f"(cached embeddings); lead baseline {lead_time:.2f} s; cold/lead = {cold / max(lead_time, 1e-6):.0f}x; "
              f"budget 180 s: {'met' if cold < 180 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
