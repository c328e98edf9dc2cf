"""Device and model selection (pure decisions, no GPU needed) and the pyannote backend's
fail-fast messages. The CUDA branch is exercised by passing the device count CTranslate2 would
report; nothing is mocked."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.audio.diarize import DiarizeOptions, check_options, check_pyannote
from pipeline.audio.transcribe import bundled_model_path, choose_model, cuda_device_count, resolve_model
from pipeline.errors import ConfigError, DependencyMissing, ModelUnavailable


def test_cuda_present_picks_large_v3_turbo_float16_batched():
    c = choose_model("auto", "auto", cuda_devices=1)
    assert (c.model, c.device, c.compute_type, c.batched) == ("large-v3-turbo", "cuda", "float16", True)


def test_cpu_picks_bundled_tiny_en_int8():
    c = choose_model("auto", "auto", cuda_devices=0)
    assert (c.device, c.compute_type, c.batched) == ("cpu", "int8", False)
    path = resolve_model(c.model)
    assert isinstance(path, str) and Path(path) == bundled_model_path() and (Path(path) / "model.bin").is_file()


def test_device_cpu_wins_over_cuda_and_explicit_model_and_compute_type():
    c = choose_model("small.en", "cpu", cuda_devices=2)
    assert (c.model, c.device, c.compute_type, c.batched) == ("small.en", "cpu", "int8", False)
    c = choose_model("auto", "cuda", cuda_devices=1, compute_type="int8_float16")
    assert c.compute_type == "int8_float16" and c.model == "large-v3-turbo"


def test_cuda_requested_without_device_fails():
    with pytest.raises(ConfigError, match="no CUDA device"):
        choose_model("auto", "cuda", cuda_devices=0)
    with pytest.raises(ConfigError, match="auto, cuda or cpu"):
        choose_model("auto", "tpu", cuda_devices=0)


def test_this_machine_detection_matches_ctranslate2():
    import ctranslate2

    assert cuda_device_count() == ctranslate2.get_cuda_device_count()


def test_model_folder(tmp_path):
    good = tmp_path / "ct2"
    good.mkdir()
    (good / "model.bin").write_bytes(b"x")
    assert resolve_model(str(good)) == str(good)
    c = choose_model(str(good), "cpu", cuda_devices=0)
    assert c.label == "ct2"
    bad = tmp_path / "empty"
    bad.mkdir()
    with pytest.raises(ModelUnavailable, match="no model.bin"):
        resolve_model(str(bad))


def test_hub_model_missing_offline_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty Hugging Face cache
    with pytest.raises(ModelUnavailable) as err:
        resolve_model("large-v3-turbo")
    msg = err.value.message
    assert "large-v3-turbo" in msg and "HF_HUB_OFFLINE" in msg and "download_model('large-v3-turbo')" in msg
    with pytest.raises(ModelUnavailable, match="unknown model 'no-such-model'"):
        resolve_model("no-such-model")


def test_pyannote_without_token_fails_at_once(monkeypatch):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(ModelUnavailable) as err:
        check_options(DiarizeOptions(backend="pyannote"))
    msg = err.value.message
    assert "needs a Hugging Face token" in msg and "HF_TOKEN" in msg
    assert "https://huggingface.co/pyannote/speaker-diarization-community-1" in msg


def test_pyannote_gated_model_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_TOKEN", "hf_dummy")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    with pytest.raises(ModelUnavailable, match="not in the Hugging Face cache and HF_HUB_OFFLINE is set"):
        check_pyannote(DiarizeOptions(backend="pyannote"))


def test_pyannote_local_folder(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(ModelUnavailable, match="does not exist"):
        check_pyannote(DiarizeOptions(backend="pyannote", pyannote_model=str(missing)))
    folder = tmp_path / "pipe"
    folder.mkdir()
    with pytest.raises(ModelUnavailable, match="no config.yaml"):
        check_pyannote(DiarizeOptions(backend="pyannote", pyannote_model=str(folder)))
    (folder / "config.yaml").write_text("pipeline: {}\n")
    import importlib.util

    if importlib.util.find_spec("pyannote.audio") is None:  # the extra is not installed here
        with pytest.raises(DependencyMissing, match=r"pip install 'recap\[pyannote\]'"):
            check_pyannote(DiarizeOptions(backend="pyannote", pyannote_model=str(folder)))


def test_speaker_range_checked():
    with pytest.raises(ConfigError, match="speaker range 3..2"):
        check_options(DiarizeOptions(min_speakers=3, max_speakers=2))


def test_cli_pyannote_without_token_exits_before_audio_work(run_cli, project, sample_wav, monkeypatch):
    from tests.conftest import content_snapshot

    monkeypatch.delenv("HF_TOKEN", raising=False)
    before = content_snapshot(project.root / "content")
    res = run_cli("process", sample_wav, "--episode", "x", "--diarizer", "pyannote")
    assert res.exit_code == 1
    assert res.output.strip().splitlines()[-1].startswith("Error: the pyannote model pyannote/speaker-diarization-community-1 needs a Hugging Face token")
    assert content_snapshot(project.root / "content") == before
    assert not (project.cache_dir / "decode").exists()  # failed before decoding
