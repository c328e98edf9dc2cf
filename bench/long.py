"""Long-recording benchmark: a 1-hour file built from real speech (pyannote's sample, repeated with
tempo and level variations, encoded as MP3), processed by recap and by a bare faster-whisper call,
each in its own process so peak memory (max RSS) is measured separately.

    .venv/bin/python bench/long.py [--minutes 60]

Prints wall time, real-time factor and peak memory of both; WER of both and DER of recap against
the sample's references, shifted and scaled for every copy.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SAMPLE = REPO / ".cache" / "pyannote-sample"
VARIANTS = [("", 1.0), ("atempo=0.92", 0.92), ("atempo=1.08", 1.08), ("volume=0.5,highpass=f=120", 1.0)]


def norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def build(minutes: float, out: Path) -> list[tuple[float, float]]:
    """The long MP3 and, per copy, (offset, tempo)."""
    work = out.parent / "parts"
    work.mkdir(exist_ok=True)
    parts = []
    for i, (flt, tempo) in enumerate(VARIANTS):
        p = work / f"v{i}.wav"
        cmd = ["ffmpeg", "-v", "error", "-y", "-i", str(SAMPLE / "sample.wav")] + (["-af", flt] if flt else []) + [
            "-ar", "16000", "-ac", "1", str(p)]
        subprocess.run(cmd, check=True)
        dur = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                                    str(p)],
                                   capture_output=True, text=True, check=True).stdout)
        parts.append((p, tempo, dur))
    copies, listing, t, i = [], [], 0.0, 0
    while t < minutes * 60:
        p, tempo, dur = parts[i % len(parts)]
        copies.append((t, tempo))
        listing.append(f"file '{p}'\n")
        t += dur
        i += 1
    lst = work / "list.txt"
    lst.write_text("".join(listing))
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(lst), "-b:a", "64k",
                    str(out)],
                   check=True)
    return copies


def child(kind: str, audio: str, cache: str) -> None:
    t0 = time.perf_counter()
    if kind == "bare":
        from faster_whisper import WhisperModel, decode_audio

        from pipeline.audio.transcribe import bundled_model_path

        model = WhisperModel(str(bundled_model_path()), device="cpu", compute_type="int8")
        x = decode_audio(audio, sampling_rate=16000)
        # recap's decoding options, so the comparison measures recap's own code (bench/asr.py also
        # shows faster-whisper's defaults)
        segs, _ = model.transcribe(x, vad_filter=True, word_timestamps=True, condition_on_previous_text=False,
                                   hallucination_silence_threshold=2.0)
        text = " ".join(s.text for s in segs)
        out = {"text": text, "duration": len(x) / 16000}
    else:
        from pipeline.jobs.recording import ProcessOptions, process_recording

        res = process_recording(Path(audio), ProcessOptions.from_config(None, device="cpu"), Path(cache))
        out = {"text": " ".join(u.text for u in res.transcript.utterances), "duration": res.duration,
               "turns": [[t.start, t.end, t.speaker] for t in res.turns], "timings": res.timings}
    out["wall"] = time.perf_counter() - t0
    print(json.dumps(out))


def run_child(kind: str, audio: Path, cache: Path) -> tuple[dict, float]:
    """The child's JSON result (with its CPU seconds added) and its peak memory in MiB."""
    proc = subprocess.Popen([sys.executable, __file__, "--child", kind, str(audio), str(cache)],
                            stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{kind} run failed")
    result = json.loads(out.strip().splitlines()[-1])
    result["cpu"] = usage.ru_utime + usage.ru_stime
    return result, usage.ru_maxrss / 1024  # MiB


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60.0)
    ap.add_argument("--child", nargs=3)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    import jiwer
    from pyannote.core import Annotation, Segment
    from pyannote.metrics.diarization import DiarizationErrorRate

    tmp = Path(tempfile.mkdtemp(prefix="recap-long-"))
    try:
        audio = tmp / "long.mp3"
        copies = build(args.minutes, audio)
        ref_text = " ".join(line.split(None, 5)[5] for line in (SAMPLE / "sample.stm").read_text().splitlines())
        ref = norm(" ".join([ref_text] * len(copies)))
        ref_ann = Annotation(uri="x")
        n = 0
        for offset, tempo in copies:
            for line in (SAMPLE / "sample.rttm").read_text().splitlines():
                p = line.split()
                s, d = float(p[3]) / tempo, float(p[4]) / tempo
                ref_ann[Segment(offset + s, offset + s + d), n] = p[7]
                n += 1
        bare, bare_mem = run_child("bare", audio, tmp / "cache-bare")
        rec, rec_mem = run_child("recap", audio, tmp / "cache")
        hyp = Annotation(uri="x")
        for i, (a, b, spk) in enumerate(rec["turns"]):
            hyp[Segment(a, b), i] = spk
        der = DiarizationErrorRate(collar=0.25)(ref_ann, hyp)
        dur = rec["duration"]
        print(f"audio: {dur / 60:.1f} min MP3 built from {len(copies)} varied copies of pyannote's sample")
        print(f"bare faster-whisper (tiny.en, whole file in memory): {bare['wall']:.0f} s, "
              f"cpu {bare['cpu']:.0f} s, RTF {bare['wall'] / dur:.3f}, peak memory {bare_mem:.0f} MiB, "
              f"WER {jiwer.wer(ref, norm(bare['text'])):.3f}")
        stages = ", ".join(f"{k} {v:.0f} s" for k, v in rec["timings"].items())
        tr = rec["timings"].get("transcribe", 0) + rec["timings"].get("decode", 0)
        print(f"recap process_recording: {rec['wall']:.0f} s, cpu {rec['cpu']:.0f} s (all stages), "
              f"RTF {rec['wall'] / dur:.3f}, peak memory {rec_mem:.0f} MiB "
              f"({stages})")
        change = 100 * (tr / bare["wall"] - 1)
        print(f"recap decode+transcribe vs bare: {tr:.0f} s vs {bare['wall']:.0f} s ({change:+.1f}%)")
        print(f"recap WER {jiwer.wer(ref, norm(rec['text'])):.3f}, DER {der:.3f} (collar 0.25), "
              f"speakers found {len({t[2] for t in rec['turns']})}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
