"""Diarization, old (resemblyzer) vs new (embedded: segmentation-3.0 + CAM++), on real recordings.

    .venv/bin/python bench/diarize.py [--long-minutes 35] [--no-long]

Per clip of ``../shared/data/ami-train/`` (nine 30 s AMI meeting clips, 1-4 speakers) and pyannote's sample:
DER (pyannote.metrics, collar 0.25, overlap counted, UEM from train.uem), speakers found vs true (never
given), real-time factor, the process's peak RSS. The DER is pooled over the AMI clips (total error over
total reference speech: some clips hold under 2 s of reference speech). Then the same on a long file built
here with ffmpeg by concatenating the real clips in shuffled order (in a temporary folder, never kept):
``--long-minutes`` of audio, each clip several times, so every speaker recurs across the recording like a
host and their guests.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
AMI = REPO.parent / "shared" / "data" / "ami-train"
SAMPLE = REPO / ".cache" / "pyannote-sample"


def peak_rss_reset() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM (Linux)


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def run(backend: str, audio, count=None):
    from pipeline.audio.turns import SpeakerCount

    count = count or SpeakerCount()
    if backend == "resemblyzer":
        from pipeline.audio.diarize_resemblyzer import diarize_resemblyzer

        return diarize_resemblyzer(audio, count, None)
    from pipeline.audio.diarizer import diarize_embedded

    return diarize_embedded(audio, count)


def clips():
    from pyannote.database.util import load_rttm, load_uem

    refs = load_rttm(str(AMI / "train.rttm"))
    uems = load_uem(str(AMI / "train.uem"))
    out = [(f"trn0{i}", AMI / f"trn0{i}.wav", refs[f"trn0{i}"], uems[f"trn0{i}"]) for i in range(1, 10)]
    sample = load_rttm(str(SAMPLE / "sample.rttm"))["sample"]
    return out, ("sample", SAMPLE / "sample.wav", sample, None)


def long_file(work: Path, minutes: float, items, seed: int = 0):
    """Real clips concatenated (shuffled, repeated) to ``minutes``; its reference and UEM."""
    from pyannote.core import Annotation, Segment, Timeline

    rng = random.Random(seed)
    order = []
    while len(order) * 30 < minutes * 60:
        batch = list(items)
        rng.shuffle(batch)
        order.extend(batch)
    order = order[: int(minutes * 2)]
    listing = work / "list.txt"
    listing.write_text("".join(f"file '{path}'\n" for _, path, _, _ in order))
    out = work / "long.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-ar", "16000",
                    "-ac", "1", str(out)], check=True)
    ref = Annotation(uri="long")
    t = 0.0
    for i, (_, _, clip_ref, _) in enumerate(order):
        for seg, track, label in clip_ref.itertracks(yield_label=True):
            ref[Segment(seg.start + t, seg.end + t), f"{i}-{track}"] = label
        t += 30.0
    return out, ref, Timeline([Segment(0, t)]), len(order)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--long-minutes", type=float, default=35.0)
    ap.add_argument("--no-long", action="store_true")
    args = ap.parse_args()
    from pyannote.metrics.diarization import DiarizationErrorRate

    from pipeline.audio.decode import decode
    from pipeline.audio.turns import to_annotation

    ami, sample = clips()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cache = work / "cache"
        rows = []
        pooled = {}
        for backend in ("resemblyzer", "embedded"):
            metric = DiarizationErrorRate(collar=0.25)
            exact = within = 0
            for name, path, ref, uem in [*ami, sample]:
                audio = decode(path, cache)
                run(backend, audio)  # warm-up: models loaded (first clip only matters)
                peak_rss_reset()
                t0 = time.perf_counter()
                turns = run(backend, audio)
                dt = time.perf_counter() - t0
                hyp = to_annotation(turns, name)
                if name == "sample":
                    der = DiarizationErrorRate(collar=0.25)(ref, hyp)
                else:
                    der = metric(ref, hyp, uem=uem)
                found, true = len(hyp.labels()), len(ref.labels())
                if name != "sample":
                    exact += found == true
                    within += abs(found - true) <= 1
                rows.append((backend, name, der, found, true, dt / audio.duration, peak_rss_mb()))
            pooled[backend] = (abs(metric), exact, within)
        if not args.no_long:
            path, ref, uem, n = long_file(work, args.long_minutes, [*ami, sample])
            audio = decode(path, cache)
            for backend in ("resemblyzer", "embedded"):
                peak_rss_reset()
                t0 = time.perf_counter()
                turns = run(backend, audio)
                dt = time.perf_counter() - t0
                der = DiarizationErrorRate(collar=0.25)(ref, to_annotation(turns, "long"), uem=uem)
                rows.append((backend, f"long {audio.duration / 60:.0f} min ({n} clips)", der,
                             len({t.speaker for t in turns}), len(ref.labels()), dt / audio.duration, peak_rss_mb()))
    print("| backend | recording | DER | speakers found / true | RTF | peak RSS MB |")
    print("| --- | --- | --- | --- | --- | --- |")
    for backend, name, der, found, true, rtf, rss in rows:
        print(f"| {backend} | {name} | {der:.3f} | {found} / {true} | {rtf:.3f} | {rss:.0f} |")
    for backend, (der, exact, within) in pooled.items():
        print(f"{backend}: ami-train pooled DER {der:.3f}, count exact {exact}/9, within 1 {within}/9")


if __name__ == "__main__":
    main()
