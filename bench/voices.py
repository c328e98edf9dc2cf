"""Voice-library calibration: cosine similarities between voices across episodes, and the decisions.

pyannote's 30 s two-speaker sample is cut in two (at 15 s and at 18 s) and each half is treated as an
episode; a synthetic espeak-ng voice is the stranger. Embeddings come from the diarizer's encoder
(`pipeline.audio.diarize.speaker_embeddings`) over the reference RTTM turns. Prints, for every pair, the
cosine similarity, then what the library decides with its calibrated threshold and margin.

Run: .venv/bin/python bench/voices.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.audio.decode import decode  # noqa: E402
from pipeline.audio.diarize import Turn, speaker_embeddings  # noqa: E402
from pipeline.audio.voices import RESEMBLYZER, VoiceOptions, match_voices  # noqa: E402

SAMPLE = ROOT / ".cache" / "pyannote-sample"


def main() -> None:
    wav, rttm = SAMPLE / "sample.wav", SAMPLE / "sample.rttm"
    if not wav.exists():
        sys.exit(f"{wav} missing: run `make install`")
    rows = [line.split() for line in rttm.read_text().splitlines() if line.strip()]
    ref = [(float(r[3]), float(r[3]) + float(r[4]), r[7]) for r in rows]
    cal = VoiceOptions().calibration(RESEMBLYZER)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        synth = d / "synth.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(synth), "Hello and welcome to the poster session. "
                        "Today I present our work on language models that learn from preferences."], check=True)
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(synth), "-ar", "16000", "-ac", "1",
                        str(d / "synth16.wav")], check=True)
        audio = decode(d / "synth16.wav", d / "cache")
        stranger = speaker_embeddings(audio.read(), audio.sr, [Turn(0, audio.duration, "espeak")])["espeak"]
        print(f"threshold {cal.threshold:.2f}, margin {cal.margin:.2f} ({RESEMBLYZER})")
        print(f"{'split':>6} {'episode-1 voice':>16} {'episode-2 voice':>16} {'cosine':>7}")
        t0 = time.perf_counter()
        for split in (15.0, 18.0):
            halves = []
            for lo, hi in ((0.0, split), (split, 30.0)):
                part = d / f"{lo}-{hi}.wav"
                subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(wav), "-ss", str(lo), "-to",
                                str(hi), str(part)], check=True)
                a = decode(part, d / "cache")
                turns = [Turn(max(s, lo) - lo, min(e, hi) - lo, k) for s, e, k in ref if min(e, hi) > max(s, lo)]
                halves.append(speaker_embeddings(a.read(), a.sr, turns))
            first, second = halves
            second = {**second, "espeak": stranger}
            for la, va in first.items():
                for lb, vb in second.items():
                    print(f"{split:>6.0f} {la:>16} {lb:>16} {float(va @ vb):>7.3f}")
            known = {k: v / np.linalg.norm(v) for k, v in first.items()}
            got = {m.label: (m.person, m.score, m.margin) for m in match_voices(second, known, RESEMBLYZER)}
            right = sum(1 for lab, (person, _, _) in got.items() if lab == person)
            wrong = sum(1 for lab, (person, _, _) in got.items() if lab != person)
            print(f"split {split:.0f} s: named {right} of 2 correctly, {wrong} wrongly, "
                  f"stranger {'named ' + got['espeak'][0] if 'espeak' in got else 'left unnamed'}")
        print(f"time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
