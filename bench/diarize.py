"""Diarization, old (resemblyzer) vs new (embedded: segmentation-3.0 + CAM++), on real recordings.

    .venv/bin/python bench/diarize.py [--long-minutes 35] [--no-long]

Per clip of ``../shared/data/ami-train/`` (nine 30 s AMI meeting clips, 1-4 speakers) and pyannote's sample:
DER (pyannote.metrics, collar 0.25, overlap counted, UEM from train.uem), speakers found vs true (never
given), real-time factor, the process's peak RSS (for the clips, since a reset of the peak; the long
file runs in a process of its own). The DER is pooled over the AMI clips (total error over
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
    same = {}  # one format for the concat demuxer (the AMI clips are float WAV, the sample 16-bit)
    for name, path, _, _ in items:
        same[name] = work / f"{name}.s16.wav"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(path), "-ar", "16000", "-ac", "1", "-c:a", "pcm_s16le",
                        str(same[name])], check=True)
    listing = work / "list.txt"
    listing.write_text("".join(f"file '{same[name]}'\n" for name, _, _, _ in order))
    out = work / "long.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy",
                    str(out)], check=True)
    ref = Annotation(uri="long")
    t = 0.0
    for i, (name, _, clip_ref, _) in enumerate(order):
        for seg, track, label in clip_ref.itertracks(yield_label=True):
            ref[Segment(seg.start + t, seg.end + t), f"{i}-{track}"] = label
        t += _duration(same[name])
    return out, ref, Timeline([Segment(0, t)]), len(order)


def _duration(path: Path) -> float:
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
                           capture_output=True, text=True, check=True)
    return float(probe.stdout)


def child(backend: str, wav: str, out: str) -> None:
    """One diarization in a fresh process (its peak memory is its own); turns and seconds to ``out``."""
    import json

    from pipeline.audio.decode import decode

    audio = decode(Path(wav), Path(out).parent / "cache")
    t0 = time.perf_counter()
    turns = run(backend, audio)
    Path(out).write_text(json.dumps({"seconds": time.perf_counter() - t0, "duration": audio.duration,
                                     "peak_mb": peak_rss_mb(),
                                     "turns": [[t.start, t.end, t.speaker] for t in turns]}))


def in_child(backend: str, wav: Path, work: Path):
    """(turns, seconds, duration, peak RSS MB) of :func:`child` (the child reads its own VmHWM: a forked
    child's ru_maxrss would include the parent's)."""
    import json

    from pipeline.audio.turns import Turn

    out = work / f"{backend}.json"
    subprocess.run([sys.executable, __file__, "--child", backend, str(wav), str(out)], check=True)
    data = json.loads(out.read_text())
    return [Turn(*t) for t in data["turns"]], data["seconds"], data["duration"], data["peak_mb"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--long-minutes", type=float, default=35.0)
    ap.add_argument("--no-long", action="store_true")
    ap.add_argument("--no-clips", action="store_true")
    ap.add_argument("--child", nargs=3, metavar=("BACKEND", "WAV", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    from pyannote.metrics.diarization import DiarizationErrorRate

    from pipeline.audio.decode import decode
    from pipeline.audio.turns import to_annotation

    ami, sample = clips()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cache = work / "cache"
        rows = []
        pooled = {}
        for backend in () if args.no_clips else ("resemblyzer", "embedded"):
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
            decode(path, cache)
            for backend in ("resemblyzer", "embedded"):
                turns, dt, duration, rss = in_child(backend, path, cache.parent)
                der = DiarizationErrorRate(collar=0.25)(ref, to_annotation(turns, "long"), uem=uem)
                rows.append((backend, f"long {duration / 60:.0f} min ({n} clips, own process)", der,
                             len({t.speaker for t in turns}), len(ref.labels()), dt / duration, rss))
    print("| backend | recording | DER | speakers found / true | RTF | peak RSS MB |")
    print("| --- | --- | --- | --- | --- | --- |")
    for backend, name, der, found, true, rtf, rss in rows:
        print(f"| {backend} | {name} | {der:.3f} | {found} / {true} | {rtf:.3f} | {rss:.0f} |")
    for backend, (der, exact, within) in pooled.items():
        print(f"{backend}: ami-train pooled DER {der:.3f}, count exact {exact}/9, within 1 {within}/9")


if __name__ == "__main__":
    main()
