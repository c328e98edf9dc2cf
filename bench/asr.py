"""ASR benchmark: recap's transcription against a bare faster-whisper call on the same audio and model,
in the same run; then the full pipeline's WER, DER and real-time factor.

    .venv/bin/python bench/asr.py [AUDIO REFERENCE.stm REFERENCE.rttm] [--repeat N]

Default audio: pyannote's 30 s sample (.cache/pyannote-sample). Both sides use the bundled tiny.en
(CPU, int8), VAD and word timestamps, with their model already loaded; bare runs twice: with
faster-whisper's defaults and with recap's decoding options (the fair comparison); recap's side includes its
decode to the stage cache, chunk planning, guards and cache writes (a fresh cache each time).
"""

from __future__ import annotations

import argparse
import functools
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def stm_text(path: Path) -> str:
    return " ".join(line.split(None, 5)[5] for line in path.read_text().splitlines() if line.strip())


def rttm(path: Path):
    from pyannote.core import Annotation, Segment

    ann = Annotation(uri="x")
    for i, line in enumerate(path.read_text().splitlines()):
        p = line.split()
        ann[Segment(float(p[3]), float(p[3]) + float(p[4])), i] = p[7]
    return ann


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and its finished children (ffmpeg)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    sample = REPO / ".cache" / "pyannote-sample"
    ap = argparse.ArgumentParser()
    ap.add_argument("audio", nargs="?", default=str(sample / "sample.wav"))
    ap.add_argument("stm", nargs="?", default=str(sample / "sample.stm"))
    ap.add_argument("rttm", nargs="?", default=str(sample / "sample.rttm"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    import jiwer
    from faster_whisper import WhisperModel, decode_audio
    from pyannote.metrics.diarization import DiarizationErrorRate

    from pipeline.audio.decode import decode
    from pipeline.audio.diarize import to_annotation
    from pipeline.audio.transcribe import TranscribeOptions, bundled_model_path, choose_model, load_model, transcribe
    from pipeline.jobs.recording import ProcessOptions, process_recording

    audio = Path(args.audio)
    bare_model = WhisperModel(str(bundled_model_path()), device="cpu", compute_type="int8")
    load_model(choose_model("auto", "cpu"))  # recap's cached model, loaded outside the timing

    def bare(**opts) -> str:
        x = decode_audio(str(audio), sampling_rate=16000)
        segs, _ = bare_model.transcribe(x, vad_filter=True, word_timestamps=True, **opts)
        return " ".join(s.text for s in segs)

    # recap's decoding options (no conditioning on previous text, skip hallucinations over silence):
    # "bare, same options" isolates what recap's own code costs from what these choices cost
    same = functools.partial(bare, condition_on_previous_text=False, hallucination_silence_threshold=2.0)

    def recap() -> str:
        tmp = Path(tempfile.mkdtemp(prefix="recap-bench-"))
        try:
            a = decode(audio, tmp)
            segs, _ = transcribe(a, TranscribeOptions(device="cpu"), tmp)
            return " ".join(s.text for s in segs)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    sides = {"bare": bare, "bare, same options": same, "recap": recap}
    wall: dict[str, list[float]] = {k: [] for k in sides}
    cpu: dict[str, list[float]] = {k: [] for k in sides}
    texts = {}
    for _ in range(args.repeat):  # interleaved, medians (the machine may be shared)
        for name, fn in sides.items():
            c0, t0 = cpu_seconds(), time.perf_counter()
            texts[name] = fn()
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(cpu_seconds() - c0)
    ref = norm(stm_text(Path(args.stm)))
    print(f"audio: {audio.name}, {args.repeat} interleaved runs per side, medians")
    for name in sides:
        w, c = statistics.median(wall[name]), statistics.median(cpu[name])
        line = f"  {name:<19} wall {w:6.2f} s  cpu {c:6.2f} s  WER {jiwer.wer(ref, norm(texts[name])):.3f}"
        if name != "bare":
            bw, bc = statistics.median(wall["bare"]), statistics.median(cpu["bare"])
            line += f"  vs bare: wall {100 * (w / bw - 1):+.1f}%, cpu {100 * (c / bc - 1):+.1f}%"
        print(line)
    sw, rw = statistics.median(wall["bare, same options"]), statistics.median(wall["recap"])
    sc, rc = statistics.median(cpu["bare, same options"]), statistics.median(cpu["recap"])
    print(f"recap overhead over bare faster-whisper with the same options: wall {100 * (rw / sw - 1):+.1f}%, "
          f"cpu {100 * (rc / sc - 1):+.1f}% (target <= 10%)")

    tmp = Path(tempfile.mkdtemp(prefix="recap-bench-"))
    try:
        t0 = time.perf_counter()
        res = process_recording(audio, ProcessOptions.from_config(None, device="cpu"), tmp)
        wall = time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    hyp_text = " ".join(u.text for u in res.transcript.utterances)
    der = DiarizationErrorRate(collar=0.25)(rttm(Path(args.rttm)), to_annotation(res.turns, "x"))
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in res.timings.items())
    print(f"full pipeline (embedded diarizer, speaker count not given): {wall:.1f} s for {res.duration:.1f} s "
          "of audio, "
          f"real-time factor {wall / res.duration:.3f} ({res.duration / wall:.1f}x real time); {stages}")
    print(f"WER {jiwer.wer(ref, norm(hyp_text)):.3f}, DER {der:.3f} (collar 0.25), "
          f"speakers found {len({t.speaker for t in res.turns})}")


if __name__ == "__main__":
    main()
