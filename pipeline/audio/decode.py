"""Decode: any audio or video file -> 16 kHz mono PCM, streamed through ffmpeg into the stage cache.

``probe`` checks the file first (ffprobe via ffmpeg-python) and turns every way it can be unusable
(missing, empty, not media, no audio stream, too short) into one :class:`InputError` line.
``decode`` streams ffmpeg's PCM output in blocks into ``<cache>/decode/<audio hash>/audio.s16`` (16-bit,
so a 3-hour recording is 350 MB on disk and never all in memory) and memory-maps it; stages read
float32 windows of it with :meth:`DecodedAudio.read`. A decoded file is reused on the next run.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.cache import Cache, file_hash
from pipeline.errors import DependencyMissing, InputError, StageError
from pipeline.files import atomic_write

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
MIN_SECONDS = 0.5
"""Shorter inputs are refused: there is nothing to transcribe or diarize in them."""
SILENCE_DBFS = -55.0
"""A recording whose loudest second is quieter than this is treated as silent."""
DECODE_VERSION = 1
_BLOCK = SAMPLE_RATE * 2 * 8  # bytes read from ffmpeg at a time (8 s of audio)

Progress = Callable[[str, float, float], None]
"""progress(stage, seconds_done, seconds_total): called as a stage advances."""


@dataclass(frozen=True)
class AudioInfo:
    path: str
    duration: float  # seconds, as the container reports it
    codec: str
    sample_rate: int
    channels: int


@dataclass(frozen=True)
class DecodedAudio:
    """16 kHz mono 16-bit PCM on disk; picklable (only paths and numbers)."""

    pcm_path: str
    audio_hash: str
    source: str
    n_samples: int
    peak_dbfs: float  # loudness of the loudest second
    sr: int = SAMPLE_RATE

    @property
    def duration(self) -> float:
        return self.n_samples / self.sr

    @property
    def silent(self) -> bool:
        return self.peak_dbfs < SILENCE_DBFS

    def samples(self) -> np.ndarray:
        """The whole recording as a read-only int16 memory map (no copy in memory)."""
        if self.n_samples == 0:
            return np.zeros(0, dtype=np.int16)
        return np.memmap(self.pcm_path, dtype=np.int16, mode="r", shape=(self.n_samples,))

    def read(self, start: float = 0.0, end: float | None = None) -> np.ndarray:
        """Seconds ``start`` to ``end`` as float32 in [-1, 1]."""
        a = max(0, int(round(start * self.sr)))
        b = self.n_samples if end is None else min(self.n_samples, int(round(end * self.sr)))
        return (np.asarray(self.samples()[a:b], dtype=np.float32) / 32768.0) if b > a else np.zeros(0, np.float32)


def _require_ffmpeg() -> None:
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise DependencyMissing(f"{tool} is not installed",
                                    hint="install it with `apt-get install ffmpeg` (or `make system-deps`)")


def _last_line(stderr: bytes | None, path: Path | None = None) -> str:
    lines = [ln.strip() for ln in (stderr or b"").decode("utf-8", "replace").splitlines() if ln.strip()]
    line = lines[-1] if lines else "unknown ffmpeg error"
    if path is not None and line.startswith(f"{path}: "):
        line = line[len(str(path)) + 2:]
    return line


def probe(path: Path) -> AudioInfo:
    """Check that ``path`` holds a decodable audio stream; InputError (one line) otherwise."""
    import ffmpeg

    _require_ffmpeg()
    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a folder, not an audio or video file")
    if path.stat().st_size == 0:
        raise InputError(path, "empty file (0 bytes)")
    try:
        info = ffmpeg.probe(str(path))
    except ffmpeg.Error as exc:
        raise InputError(path, f"not a readable audio or video file ({_last_line(exc.stderr, path)})") from None
    streams = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    if not streams:
        kinds = sorted({s.get("codec_type", "?") for s in info.get("streams", [])}) or ["no streams"]
        raise InputError(path, f"has no audio stream (found: {', '.join(kinds)})")
    s = streams[0]
    try:
        duration = float(s.get("duration") or info.get("format", {}).get("duration") or 0.0)
    except ValueError:
        duration = 0.0
    return AudioInfo(str(path), duration, s.get("codec_name", "?"), int(s.get("sample_rate") or 0),
                     int(s.get("channels") or 0))


def decode(path: Path, cache_dir: Path, progress: Progress | None = None) -> DecodedAudio:
    """Decode ``path`` to 16 kHz mono in the cache (or reuse an earlier decode of the same bytes)."""
    import ffmpeg

    path = Path(path)
    info = probe(path)
    audio_hash = file_hash(path, Path(cache_dir))
    out_dir = Cache(cache_dir).stage(audio_hash, "decode", DECODE_VERSION, {}).dir
    meta_path = out_dir / "meta.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text("utf-8"))
        log.info("decode: reusing %s (%.1f s)", out_dir, meta["n_samples"] / SAMPLE_RATE)
        if progress:
            progress("decode", meta["n_samples"] / SAMPLE_RATE, meta["n_samples"] / SAMPLE_RATE)
        return _checked(path, DecodedAudio(str(out_dir / "audio.s16"), audio_hash, str(path), meta["n_samples"],
                                           meta["peak_dbfs"]))
    out_dir.mkdir(parents=True, exist_ok=True)
    pcm = out_dir / "audio.s16"
    tmp = out_dir / "audio.s16.part"
    proc = (ffmpeg.input(str(path))
            .output("pipe:", format="s16le", acodec="pcm_s16le", ac=1, ar=SAMPLE_RATE, vn=None)
            .global_args("-nostdin", "-hide_banner", "-v", "error")
            .run_async(pipe_stdout=True, pipe_stderr=True))
    errors: list[bytes] = []
    reader = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)
    reader.start()
    n_bytes = 0
    peak = 0.0
    carry = b""
    total = max(info.duration, 1e-6)
    try:
        with open(tmp, "wb") as fh:
            while True:
                block = proc.stdout.read(_BLOCK)
                if not block:
                    break
                fh.write(block)
                n_bytes += len(block)
                data = carry + block
                usable = len(data) - len(data) % 2
                x = np.frombuffer(data[:usable], dtype=np.int16).astype(np.float32) / 32768.0
                carry = data[usable:]
                for i in range(0, len(x), SAMPLE_RATE):  # RMS of each second
                    sec = x[i:i + SAMPLE_RATE]
                    if len(sec) >= SAMPLE_RATE // 4:
                        peak = max(peak, float(np.sqrt(np.mean(sec * sec))))
                if progress:
                    progress("decode", min(n_bytes / (2 * SAMPLE_RATE), total), total)
        code = proc.wait()
        reader.join()
    except BaseException:
        proc.kill()
        tmp.unlink(missing_ok=True)
        raise
    stderr = b"".join(errors)
    n_samples = n_bytes // 2
    if code != 0:
        tmp.unlink(missing_ok=True)
        raise InputError(path, f"could not be decoded ({_last_line(stderr, path)})")
    if stderr.strip():
        log.warning("decode: ffmpeg reported problems in %s: %s", path, _last_line(stderr))
    if info.duration > 0 and n_samples / SAMPLE_RATE < 0.9 * info.duration - 1.0:
        tmp.unlink(missing_ok=True)
        raise InputError(path, f"truncated or corrupt: only {n_samples / SAMPLE_RATE:.1f} s of "
                               f"{info.duration:.1f} s could be decoded")
    peak_dbfs = 20 * np.log10(max(peak, 1e-10))
    tmp.replace(pcm)
    atomic_write(meta_path, json.dumps({"n_samples": n_samples, "peak_dbfs": peak_dbfs, "source": str(path)}))
    log.info("decode: %s -> %.1f s of 16 kHz mono", path.name, n_samples / SAMPLE_RATE)
    return _checked(path, DecodedAudio(str(pcm), audio_hash, str(path), n_samples, peak_dbfs))


def _checked(path: Path, audio: DecodedAudio) -> DecodedAudio:
    if audio.duration < MIN_SECONDS:
        raise InputError(path, f"too short to process ({audio.duration:.2f} s of audio; "
                               f"recap needs at least {MIN_SECONDS} s)")
    if not Path(audio.pcm_path).is_file():
        raise StageError(f"decoded audio for {path} vanished from the cache ({audio.pcm_path}); run again")
    return audio
