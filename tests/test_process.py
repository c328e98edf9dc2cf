"""`recap process` end to end on real audio: pyannote's sample through the CLI (WER, DER without the
speaker count, both speakers, exported RTTM and VTT), a re-run that does no audio work, the episode
lock, and a run killed mid-way through a long file that resumes from its last checkpoint."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import jiwer

from pipeline.jobs.recording import ProcessOptions, process_recording

REPO = Path(__file__).resolve().parent.parent


def norm(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def read_rttm(text: str, uri: str = "x"):
    from pyannote.core import Annotation, Segment

    ann = Annotation(uri=uri)
    for i, line in enumerate(text.splitlines()):
        p = line.split()
        if p and p[0] == "SPEAKER":
            ann[Segment(float(p[3]), float(p[3]) + float(p[4])), i] = p[7]
    return ann


def test_sample_end_to_end_through_the_cli(run_cli, project, sample_wav, sample_rttm, sample_stm):
    import webvtt
    from pyannote.metrics.diarization import DiarizationErrorRate

    res = run_cli("process", sample_wav, "--episode", "sample", "--title", "Two callers")
    assert res.exit_code == 0, res.output
    assert "Processed" in res.output and "episode sample" in res.output
    ep = project.content.load_episode("sample")
    assert ep.title == "Two callers" and abs(ep.duration - 30.0) < 0.1
    # the recording is placed in the episode folder, so content/ alone rebuilds the site's player
    assert (project.content.root / "episodes" / "sample" / ep.audio).read_bytes() == sample_wav.read_bytes()
    t = ep.transcript
    assert t.source.startswith("faster-whisper tiny.en") and t.language == "en"
    assert all(w.probability is not None and 0 <= w.probability <= 1 for u in t.utterances for w in u.words)

    ref_text = " ".join(line.split(None, 5)[5] for line in sample_stm.read_text().splitlines() if line.strip())
    wer = jiwer.wer(norm(ref_text), norm(" ".join(u.text for u in t.utterances)))
    assert wer <= 0.20, wer

    rttm = run_cli("export", "sample", "--format", "rttm")
    assert rttm.exit_code == 0
    hyp = read_rttm(rttm.output)
    assert len(hyp.labels()) == 2  # both speakers found, without being told how many
    ref = read_rttm(sample_rttm.read_text())
    der = DiarizationErrorRate(collar=0.25)(ref, hyp)
    assert der <= 0.10, der
    # the diarizer's own turns: overlapped speech kept, speech the recogniser skipped included
    assert hyp.get_overlap().duration() > 0.3
    assert hyp.get_timeline().support().duration() >= 0.9 * ref.get_timeline().support().duration()

    vtt = run_cli("export", "sample", "--format", "vtt")
    assert vtt.exit_code == 0 and vtt.output.startswith("WEBVTT")
    path = project.root / "sample.vtt"
    path.write_text(vtt.output)
    cues = webvtt.read(str(path))
    assert len(cues) == len(t.utterances)
    assert all(c.voice for c in cues)
    assert norm(" ".join(c.text for c in cues)) == norm(" ".join(u.text for u in t.utterances))
    def secs(clock: str) -> float:
        h, m, sec = clock.split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)

    assert all(abs(secs(c.start) - u.start) < 0.002 and abs(secs(c.end) - u.end) < 0.002
               for c, u in zip(cues, t.utterances))

    # a re-run of the finished episode does no audio work: every stage comes from the cache
    logs = sorted((project.cache_dir / "transcribe").rglob("log.txt"))
    before = [p.read_text() for p in logs]
    res = run_cli("process", sample_wav, "--episode", "sample")
    assert res.exit_code == 0, res.output
    assert [p.read_text() for p in logs] == before
    assert "reusing" in res.output
    assert project.content.load_episode("sample").transcript.utterances == t.utterances
    # the recording placed in the episode folder by the first run is reused; no temporary is left
    ep_dir = project.root / "content" / "episodes" / "sample"
    assert [p.name for p in ep_dir.iterdir() if p.name.startswith(".")] == []
    assert (ep_dir / "recording.wav").stat().st_size == Path(sample_wav).stat().st_size


def test_second_run_on_a_locked_episode_refuses(run_cli, project, sample_wav):
    with project.content.lock_episode("busy", existing=False):
        res = run_cli("process", sample_wav, "--episode", "busy")
    assert res.exit_code == 1
    assert "another recap run is working on episode 'busy'" in res.output.strip().splitlines()[-1]


def test_process_recording_is_a_plain_picklable_job(tmp_path, sample_wav):
    import pickle

    opts = ProcessOptions.from_config(None, diarizer="none", model="auto")
    assert pickle.loads(pickle.dumps(opts)) == opts
    result = process_recording(sample_wav, opts, tmp_path)
    back = pickle.loads(pickle.dumps(result))
    assert back.transcript == result.transcript and back.duration == result.duration
    assert set(back.speaker_embeddings) == {"SPEAKER_00"}
    assert not (tmp_path / "content").exists()  # a worker job writes only to the stage cache


def test_killed_run_resumes_from_its_last_checkpoint(tmp_path, project, sample_wav):
    """SIGKILL `recap process` during transcription of a 6-minute file; the re-run must transcribe
    at most 10% of the audio a second time (every chunk start is logged before its work begins)."""
    long = tmp_path / "long.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-stream_loop", "11", "-i", str(sample_wav), "-c", "copy", str(long)],
                   check=True)
    cmd = [str(Path(sys.executable).parent / "recap"), "-C", str(project.root), "-q", "process", str(long),
           "--episode", "long", "--diarizer", "none", "--chunk-minutes", "0.25"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(REPO))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 240
    chunks: list[Path] = []
    while time.time() < deadline and proc.poll() is None:
        chunks = list((project.cache_dir / "transcribe").rglob("chunk-*.json"))
        if len(chunks) >= 3:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be killed: " + proc.stderr.read().decode()[-500:]
    time.sleep(1.0)  # let it get into the next chunk
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not project.content.has_episode("long")  # nothing half-written
    done_before = len(list((project.cache_dir / "transcribe").rglob("chunk-*.json")))
    assert 3 <= done_before < 24

    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)
    assert res.returncode == 0, res.stderr[-1000:]
    ep = project.content.load_episode("long")
    duration = ep.duration
    assert 359 < duration < 361 and ep.transcript.utterances[-1].end > 345
    log = next((project.cache_dir / "transcribe").rglob("log.txt")).read_text().splitlines()
    started = [tuple(map(float, line.split()[1:])) for line in log if line.startswith("started")]
    finished = [line for line in log if line.startswith("transcribed")]
    work = sum(b - a for a, b in started)
    assert work - duration <= 0.10 * duration, (work, duration, log)
    assert len(finished) == len({line for line in finished})  # no finished chunk was redone


def test_vocabulary_puts_the_episode_first(seeds):
    from pipeline.jobs.episode import vocabulary
    from pipeline.models import Paper
    from pipeline.sources.notes import parse_notes

    notes = parse_notes(seeds / "neurips-2023-recap.shownotes-dev.txt")
    other = [Paper(id=f"p{i}", title=f"Gizmo{i}: A Study of Things", authors=[f"Ann Author{i}"]) for i in range(80)]
    words = vocabulary(other, notes)
    assert {"DPO", "QLoRA"} <= set(words[:5])
    assert "Tim Dettmers" in words and "Rafael Rafailov" in words
    assert not any("et al" in w for w in words)
    assert "Gizmo0" in words and "GASOT" not in words  # spelled-out names, no derived initialisms
    assert words.index("Tim Dettmers") < words.index("Gizmo0")


def test_the_recording_is_placed_in_the_episode_folder(project, sample_wav):
    from pipeline.jobs.episode import audio_reference

    name = audio_reference(project, "ep", sample_wav)
    placed = project.content.root / "episodes" / "ep" / name
    assert name == "recording.wav" and placed.read_bytes() == sample_wav.read_bytes()
    assert audio_reference(project, "ep", placed) == name  # already there: left alone
