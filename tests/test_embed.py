"""The NumPy encoder gives sentence-transformers' vectors for all-MiniLM-L6-v2 (the same shipped model)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pipeline import embed

pytest.importorskip("sentence_transformers")


@pytest.fixture(scope="module")
def texts(seeds: Path) -> list[str]:
    words = (seeds / "paper-listing.txt").read_text("utf-8").split()
    # short and long (past the 256-token cut), one-word, empty, accents and CJK, in mixed lengths
    out = [" ".join(words[i * 97: i * 97 + n]) for i, n in enumerate([3, 40, 400, 12, 150, 1, 260, 75])]
    return out + ["", "Mamba", "Ünïcode café, naïve résumé: 中文 text", "QLoRA: Efficient Finetuning of Quantized LLMs"]


def test_numpy_encoder_matches_sentence_transformers(texts):
    ours = embed._numpy_model().encode(texts, batch_size=5)  # batches of mixed lengths: padding is masked
    theirs = embed._torch_model().encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    assert ours.dtype == np.float32 and ours.shape == (len(texts), embed.DIM)
    assert np.abs(ours - theirs).max() < 1e-5
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    # and they are meaningful: a title is closer to its own abstract's words than to another's
    assert ours[-1] @ ours[-2] < ours[-1] @ embed._numpy_model().encode(["finetuning quantized language models"])[0]


def test_few_texts_never_import_torch(tmp_path):
    import subprocess
    import sys

    code = ("import sys; from pipeline.embed import embed_texts; v = embed_texts(['a paper title', 'another']); "
            "assert v.shape == (2, 384); print('torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.split() == ["False", "False"]


def test_cache_keeps_what_is_asked_for_and_prunes_on_request(tmp_path):
    a = embed.embed_texts(["first title", "second title"], cache_dir=tmp_path)
    again = embed.embed_texts(["first title", "second title"], cache_dir=tmp_path)
    assert np.array_equal(a, again)
    embed.embed_texts(["first title", "an edited second title"], cache_dir=tmp_path)
    assert len(embed._load_cache(tmp_path / embed.CACHE_FILE)) == 3  # without prune, old vectors stay
    embed.embed_texts(["first title", "an edited second title"], cache_dir=tmp_path, prune=True)
    kept = embed._load_cache(tmp_path / embed.CACHE_FILE)
    assert len(kept) == 2 and any(np.array_equal(v, a[0]) for v in kept.values())


def test_int8_onnx_encoder_is_made_once_and_stays_close(texts, tmp_path):
    """The paper space's int8 encoder: exported from the same shipped model at first use, then loaded; its
    vectors stay close to the float model's and keep their neighbours."""
    from pipeline import embed_onnx

    models = tmp_path / "models"
    many = texts * 4  # more than SMALL: the bulk path
    vecs = embed.embed_texts(many, backend="int8", models_dir=models, cache_dir=tmp_path / "viz")
    model = embed_onnx.model_file(models)
    assert model.is_file() and model.stat().st_size < 30_000_000  # int8: a quarter of the float weights
    assert (tmp_path / "viz" / "embeddings-int8-v1.npz").is_file()  # cached apart from the float vectors
    ref = embed._torch_model().encode(many, normalize_embeddings=True, convert_to_numpy=True)
    cos = (vecs * ref).sum(1)
    assert cos.min() > 0.95 and cos.mean() > 0.98
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    mtime = model.stat().st_mtime_ns
    embed_onnx.load.cache_clear()
    again = embed.embed_texts(many[:3], backend="int8", models_dir=models)  # few texts: the same encoder
    assert model.stat().st_mtime_ns == mtime and np.abs(again - vecs[:3]).max() < 1e-5
