"""Decode: any audio or video file -> 16 kHz mono PCM, streamed into the stage cache.

``probe`` checks the file first (in-process, with PyAV) and turns every way it can be unusable
(missing, empty, not media, no audio stream, too short) into one :class:`InputError` line.
``decode`` decodes in-process with PyAV (the FFmpeg libraries; the same resampling as faster-whisper's
``decode_audio``) and streams the PCM in blocks into ``<cache>/decode/<audio hash>/audio.s16`` (16-bit,
so a 3-hour recording is 350 MB on disk and never all in memory) and memory-maps it; stages read
float32 windows of it with :meth:`DecodedAudio.read`. A decoded file is reused on the next run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from typing import Any
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .cache import file_hash
from .content import atomic_write
from .errors import InputError, StageError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
MIN_SECONDS = 0.5
"""Shorter inputs are refused: there is nothing to transcribe or diarize in them."""
SILENCE_DBFS = -55.0
"""A recording whose loudest second is quieter than this is treated as silent."""
DECODE_VERSION = 2  # 2: PyAV's resampler (faster-whisper's decode_audio), not the ffmpeg CLI
_BLOCK = SAMPLE_RATE * 2 * 8  # bytes written to the cache at a time (8 s of audio)

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


def probe(path: Path) -> AudioInfo:
    """Check that ``path`` holds a decodable audio stream; InputError (one line) otherwise.

    Read in-process with PyAV (faster-whisper's own decoder, the same FFmpeg libraries as the CLI): about
    1-20 ms, where an ``ffprobe`` subprocess cost ~0.3 s per recording (bench/asr.py)."""
    import av

    path = Path(path)
    if not path.exists():
        raise InputError(path, "no such file")
    if path.is_dir():
        raise InputError(path, "is a folder, not an audio or video file")
    if path.stat().st_size == 0:
        raise InputError(path, "empty file (0 bytes)")
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            kinds = sorted({s.type or "?" for s in container.streams}) or ["no streams"]
            streams = list(container.streams.audio)
            if not streams:
                raise InputError(path, f"has no audio stream (found: {', '.join(kinds)})")
            s = streams[0]
            if s.duration is not None and s.time_base is not None:
                duration = float(s.duration * s.time_base)
            else:
                duration = (container.duration or 0) / 1_000_000  # av.time_base: microseconds
            ctx = s.codec_context
            return AudioInfo(str(path), duration, ctx.name or "?", int(s.sample_rate or 0), int(ctx.channels or 0))
    except av.FFmpegError as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise InputError(path, f"not a readable audio or video file ({reason})") from None
    except (OSError, ValueError) as exc:  # PyAV's errors subclass these; anything else it raises
        raise InputError(path, f"not a readable audio or video file ({exc})") from None


def decode(path: Path, cache_dir: Path, progress: Progress | None = None) -> DecodedAudio:
    """Decode ``path`` to 16 kHz mono in the cache (or reuse an earlier decode of the same bytes)."""
    path = Path(path)
    info = probe(path)
    audio_hash = file_hash(path, Path(cache_dir))
    out_dir = Path(cache_dir) / "decode" / f"{audio_hash[:32]}-v{DECODE_VERSION}"
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
    problems: list[str] = []
    n_bytes = 0
    peak = 0.0
    total = max(info.duration, 1e-6)
    try:
        with open(tmp, "wb") as fh:
            for block in _pcm_blocks(path, problems):
                fh.write(block)
                n_bytes += len(block)
                x = np.frombuffer(block, dtype=np.int16).astype(np.float32) / 32768.0
                for i in range(0, len(x), SAMPLE_RATE):  # RMS of each second
                    sec = x[i:i + SAMPLE_RATE]
                    if len(sec) >= SAMPLE_RATE // 4:
                        peak = max(peak, float(np.sqrt(np.mean(sec * sec))))
                if progress:
                    progress("decode", min(n_bytes / (2 * SAMPLE_RATE), total), total)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    n_samples = n_bytes // 2
    if problems:
        log.warning("decode: problems reading %s: %s", path, problems[-1])
    if n_samples == 0 and problems:
        tmp.unlink(missing_ok=True)
        raise InputError(path, f"could not be decoded ({problems[-1]})")
    if info.duration > 0 and n_samples / SAMPLE_RATE < 0.9 * info.duration - 1.0:
        tmp.unlink(missing_ok=True)
        raise InputError(path, f"truncated or corrupt: only {n_samples / SAMPLE_RATE:.1f} s of "
                               f"{info.duration:.1f} s could be decoded")
    peak_dbfs = 20 * np.log10(max(peak, 1e-10))
    tmp.replace(pcm)
    atomic_write(meta_path, json.dumps({"n_samples": n_samples, "peak_dbfs": peak_dbfs, "source": str(path)}))
    log.info("decode: %s -> %.1f s of 16 kHz mono", path.name, n_samples / SAMPLE_RATE)
    return _checked(path, DecodedAudio(str(pcm), audio_hash, str(path), n_samples, peak_dbfs))


def _pcm_blocks(path: Path, problems: list[str]) -> Iterator[bytes]:
    """16 kHz mono s16 PCM of the first audio stream, in blocks of ``_BLOCK`` bytes (the last one shorter).

    Decoded and resampled in-process with PyAV, as faster-whisper's ``decode_audio`` does (same samples as
    a bare faster-whisper run; no ffmpeg process to start: ~0.2 s per recording), one frame at a time, so
    memory stays bounded whatever the length. A corrupt packet ends the stream; what was decoded is kept,
    the reason goes to ``problems`` and the caller's length check decides whether that is acceptable."""
    import av

    buf = bytearray()
    with av.open(str(path), metadata_errors="ignore") as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)

        def frames() -> Iterator[Any]:
            try:
                for frame in container.decode(stream):
                    yield from resampler.resample(frame)
            except av.FFmpegError as exc:
                problems.append(getattr(exc, "strerror", None) or str(exc))
            yield from resampler.resample(None)  # flush

        for frame in frames():
            buf += frame.to_ndarray().tobytes()
            if len(buf) >= _BLOCK:
                yield bytes(buf)
                buf.clear()
    if buf:
        yield bytes(buf)


def _checked(path: Path, audio: DecodedAudio) -> DecodedAudio:
    if audio.duration < MIN_SECONDS:
        raise InputError(path, f"too short to process ({audio.duration:.2f} s of audio; "
                               f"recap needs at least {MIN_SECONDS} s)")
    if not Path(audio.pcm_path).is_file():
        raise StageError(f"decoded audio for {path} vanished from the cache ({audio.pcm_path}); run again")
    return audio
