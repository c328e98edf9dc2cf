"""Voice-library calibration: cosine similarities between voices across episodes, and the decisions.

First, genuine vs impostor scores on real speakers, per encoder (CAM++ of the embedded diarizer,
resemblyzer): the AMI clips of ../shared/data/ami-train share speakers across clips (each clip is an
episode; a speaker's vector from their speech where nobody else talks, >= 2.5 s), plus the two halves of
pyannote's sample. Then pyannote's 30 s two-speaker sample is cut in two (at 15 s and at 18 s) and each half
is treated as an episode; a synthetic espeak-ng voice is the stranger. Embeddings come from the diarizer's
encoder (`pipeline.audio.diarize.speaker_embeddings`) over the reference RTTM turns. Prints, for every
pair, the cosine similarity, then what the library decides with its calibrated threshold and margin.

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
from pipeline.audio.voices import CAMPPLUS, VoiceOptions, match_voices  # noqa: E402

SAMPLE = ROOT / ".cache" / "pyannote-sample"
AMI = ROOT.parent / "shared" / "data" / "ami-train"


def _alone(turns: list[Turn], seconds: float = 30.0) -> list[Turn]:
    """Each speaker's stretches where nobody else speaks (10 ms frames)."""
    speakers = sorted({t.speaker for t in turns})
    m = np.zeros((len(speakers), int(seconds * 100) + 1), bool)
    for t in turns:
        m[speakers.index(t.speaker), int(t.start * 100):int(t.end * 100)] = True
    alone = m & (m.sum(0) == 1)
    out = []
    for i, spk in enumerate(speakers):
        d = np.diff(np.concatenate([[0], alone[i].astype(int), [0]]))
        out += [Turn(a / 100, b / 100, spk) for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1))]
    return out


def genuine_vs_impostor(backend: str, ref: list[tuple[float, float, str]]) -> None:
    import soundfile as sf

    vecs = {}
    by_clip: dict[str, list[Turn]] = {}
    for line in (AMI / "train.rttm").read_text().splitlines():
        p = line.split()
        by_clip.setdefault(p[1], []).append(Turn(float(p[3]), float(p[3]) + float(p[4]), p[7]))
    for clip in sorted(by_clip):
        if not (AMI / f"{clip}.wav").exists():
            continue
        x, sr = sf.read(AMI / f"{clip}.wav", dtype="float32")
        turns = _alone(by_clip[clip])
        amount: dict[str, float] = {}
        for t in turns:
            amount[t.speaker] = amount.get(t.speaker, 0.0) + t.end - t.start
        keep = [t for t in turns if amount[t.speaker] >= 2.5]
        for label, v in speaker_embeddings(x, sr, keep, backend=backend).items():
            vecs[(clip, label)] = v
    x, sr = sf.read(SAMPLE / "sample.wav", dtype="float32")
    for lo, hi, tag in ((0.0, 15.0, "sample-1"), (15.0, 30.0, "sample-2")):
        part = [Turn(max(s, lo), min(e, hi), k) for s, e, k in ref if min(e, hi) > max(s, lo) + 0.5]
        for label, v in speaker_embeddings(x, sr, part, backend=backend).items():
            vecs[(tag, label)] = v
    keys = list(vecs)
    genuine, impostor = [], []
    for i, a in enumerate(keys):
        for b in keys[i + 1:]:
            if a[0] != b[0]:
                (genuine if a[1] == b[1] else impostor).append(float(vecs[a] @ vecs[b]))
    gen = ", ".join(f"{g:.3f}" for g in sorted(genuine))
    top = ", ".join(f"{g:.3f}" for g in sorted(impostor)[-5:])
    print(f"{backend}: {len(keys)} voices; genuine {len(genuine)} pairs: {gen}; impostor {len(impostor)} pairs, "
          f"highest: {top}")


def main() -> None:
    wav, rttm = SAMPLE / "sample.wav", SAMPLE / "sample.rttm"
    if not wav.exists():
        sys.exit(f"{wav} missing: run `make install`")
    rows = [line.split() for line in rttm.read_text().splitlines() if line.strip()]
    ref = [(float(r[3]), float(r[3]) + float(r[4]), r[7]) for r in rows]
    for backend in ("embedded", "resemblyzer"):
        if AMI.exists():
            genuine_vs_impostor(backend, ref)
    cal = VoiceOptions().calibration(CAMPPLUS)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        synth = d / "synth.wav"
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(synth), "Hello and welcome to the poster session. "
                        "Today I present our work on language models that learn from preferences."], check=True)
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(synth), "-ar", "16000", "-ac", "1",
                        str(d / "synth16.wav")], check=True)
        audio = decode(d / "synth16.wav", d / "cache")
        stranger = speaker_embeddings(audio.read(), audio.sr, [Turn(0, audio.duration, "espeak")])["espeak"]
        print(f"threshold {cal.threshold:.2f}, margin {cal.margin:.2f} ({CAMPPLUS})")
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
            got = {m.label: (m.person, m.score, m.margin) for m in match_voices(second, known, CAMPPLUS)}
            right = sum(1 for lab, (person, _, _) in got.items() if lab == person)
            wrong = sum(1 for lab, (person, _, _) in got.items() if lab != person)
            print(f"split {split:.0f} s: named {right} of 2 correctly, {wrong} wrongly, "
                  f"stranger {'named ' + got['espeak'][0] if 'espeak' in got else 'left unnamed'}")
        print(f"time {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
