"""ASR benchmark: recap's transcription against a bare faster-whisper call on the same audio and model,
in the same run; then the full pipeline's WER, DER and real-time factor.

    .venv/bin/python bench/asr.py [AUDIO REFERENCE.stm REFERENCE.rttm] [--repeat N]

Default audio: pyannote's 30 s sample (.cache/pyannote-sample). Both sides use the bundled tiny.en
(CPU, int8), VAD and word timestamps, with their model already loaded; recap's side includes its
decode to the stage cache, chunk planning, guards and cache writes (a fresh cache each time).
"""

from __future__ import annotations

import argparse
import re
import shutil
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

    from pipeline.diarize import to_annotation
    from pipeline.process import ProcessOptions, process_recording
    from pipeline.transcribe import TranscribeOptions, bundled_model_path, choose_model, load_model, transcribe
    from pipeline.decode import decode

    audio = Path(args.audio)
    bare_model = WhisperModel(str(bundled_model_path()), device="cpu", compute_type="int8")
    load_model(choose_model("auto", "cpu"))  # recap's cached model, loaded outside the timing

    def bare() -> str:
        x = decode_audio(str(audio), sampling_rate=16000)
        segs, _ = bare_model.transcribe(x, vad_filter=True, word_timestamps=True)
        return " ".join(s.text for s in segs)

    def recap() -> str:
        tmp = Path(tempfile.mkdtemp(prefix="recap-bench-"))
        try:
            a = decode(audio, tmp)
            segs, _ = transcribe(a, TranscribeOptions(device="cpu"), tmp)
            return " ".join(s["text"] for s in segs)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    times = {"bare": [], "recap": []}
    texts = {}
    for _ in range(args.repeat):  # alternate, keep the best of each (the machine is shared)
        for name, fn in (("bare", bare), ("recap", recap)):
            t0 = time.perf_counter()
            texts[name] = fn()
            times[name].append(time.perf_counter() - t0)
    ref = norm(stm_text(Path(args.stm)))
    b, r = min(times["bare"]), min(times["recap"])
    print(f"audio: {audio.name}")
    print(f"transcription wall time: bare faster-whisper {b:.2f} s, recap {r:.2f} s, overhead {100 * (r / b - 1):+.1f}%")
    print(f"WER bare {jiwer.wer(ref, norm(texts['bare'])):.3f}, recap transcription {jiwer.wer(ref, norm(texts['recap'])):.3f}")

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
    print(f"full pipeline (embedded diarizer, speaker count not given): {wall:.1f} s for {res.duration:.1f} s of audio, "
          f"real-time factor {wall / res.duration:.3f} ({res.duration / wall:.1f}x real time); {stages}")
    print(f"WER {jiwer.wer(ref, norm(hyp_text)):.3f}, DER {der:.3f} (collar 0.25), "
          f"speakers found {len({t.speaker for t in res.turns})}")


if __name__ == "__main__":
    main()
