"""Speaker counting of the embedded diarizer on several recordings built from real speech.

    .venv/bin/python bench/speakers.py

Only one real multi-speaker recording ships offline (pyannote's 30 s sample, two voices), so the
others are cut and combined from it with ffmpeg: its two halves (15 s each: the case the eigengap
alone over-counts), one-speaker cuts of each voice taken from the reference RTTM (must give 1), a
pitch-shifted copy (synthetic voices: pitch up a quarter, same timing) and the sample followed by
that copy (four voices, 60 s). For each: speakers found and DER (collar 0.25, speaker count not
given), for the session-1 method (affinity pruned to 15% of the windows only) and the current one
(at least ``NEIGHBOUR_SECONDS`` of neighbours per window), in the same run.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SAMPLE = REPO / ".cache" / "pyannote-sample"


def reference() -> list[tuple[float, float, str]]:
    out = []
    for line in (SAMPLE / "sample.rttm").read_text().splitlines():
        p = line.split()
        out.append((float(p[3]), float(p[3]) + float(p[4]), p[7]))
    return out


def clip(ref, a: float, b: float, shift: float = 0.0, suffix: str = ""):
    return [(max(s, a) - a + shift, min(e, b) - a + shift, spk + suffix) for s, e, spk in ref if min(e, b) > max(s, a)]


def ffmpeg(out: Path, *args: str) -> Path:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args, "-ar", "16000", "-ac", "1", str(out)], check=True)
    return out


def recordings(work: Path) -> list[tuple[str, Path, int, list | None]]:
    """(name, audio, true speaker count, reference turns or None)."""
    wav = str(SAMPLE / "sample.wav")
    ref = reference()
    shifted = ffmpeg(work / "shifted.wav", "-i", wav, "-af", "asetrate=20000,aresample=16000,atempo=0.8")
    cuts = {}
    for spk in sorted({r[2] for r in ref}):
        # the longest turns of one voice, trimmed away from the other voice's turns
        own = [(s, e) for s, e, k in ref if k == spk and e - s > 2.0]
        expr = "+".join(f"between(t,{s + 0.3:.2f},{e - 0.3:.2f})" for s, e in own)
        cuts[spk] = ffmpeg(work / f"one-{spk}.wav", "-i", wav, "-af", f"aselect='{expr}',asetpts=N/SR/TB")
    return [
        ("sample (30 s, 2 voices)", Path(wav), 2, ref),
        ("first half (15 s)", ffmpeg(work / "h1.wav", "-i", wav, "-t", "15"), 2, clip(ref, 0, 15)),
        ("second half (15 s)", ffmpeg(work / "h2.wav", "-i", wav, "-ss", "15"), 2, clip(ref, 15, 30)),
        *((f"one voice: {spk}", p, 1, None) for spk, p in cuts.items()),
        ("pitch-shifted copy (30 s)", shifted, 2, clip(ref, 0, 30, suffix="s")),
        ("sample + shifted copy (60 s, 4)", ffmpeg(work / "mix.wav", "-i", wav, "-i", str(shifted), "-filter_complex",
                                                    "[0][1]concat=n=2:v=0:a=1"), 4,
         ref + clip(ref, 0, 30, shift=30.0, suffix="s")),
    ]


def main() -> None:
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    from pipeline import diarize as stage
    from pipeline.audio.decode import decode
    from pipeline.audio.diarize import DiarizeOptions, diarize, to_annotation

    current = stage.NEIGHBOUR_SECONDS
    methods = {"15% neighbours": 0.0, f"+ >= {current:g} s of neighbours": current}
    with tempfile.TemporaryDirectory(prefix="recap-speakers-") as tmp:
        work = Path(tmp)
        rows = []
        errors = {m: 0 for m in methods}
        for name, path, truth, ref in recordings(work):
            audio = decode(path, work / "cache")
            cells = []
            for method, seconds in methods.items():
                stage.NEIGHBOUR_SECONDS = seconds
                turns = diarize(audio, DiarizeOptions(), work / f"cache-{seconds}")
                found = len({t.speaker for t in turns})
                errors[method] += abs(found - truth)
                der = ""
                if ref:
                    ann = Annotation(uri="x")
                    for i, (s, e, spk) in enumerate(ref):
                        ann[Segment(s, e), i] = spk
                    der = f" DER {DiarizationErrorRate(collar=0.25)(ann, to_annotation(turns, 'x')):.3f}"
                cells.append(f"{found} found{der}")
            rows.append((name, truth, cells))
        width = max(len(r[0]) for r in rows)
        print(f"{'recording':<{width}}  true  " + "  |  ".join(f"{m:<24}" for m in methods))
        for name, truth, cells in rows:
            print(f"{name:<{width}}  {truth:>4}  " + "  |  ".join(f"{c:<24}" for c in cells))
        print("total speaker-count error: " + ", ".join(f"{m} {e}" for m, e in errors.items()))


if __name__ == "__main__":
    main()
