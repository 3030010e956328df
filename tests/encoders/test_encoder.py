"""TransformerEncoder against the real packaged all-MiniLM-L6-v2, numpy hand computations and sentence-transformers."""
from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import replace

import numpy as np
import pytest
import torch

from encoders import EncoderOptions, load_encoder
from encoders.batching import chunk_ranges, length_sorted_batches, prefetched
from encoders.errors import EncoderConfigError
from encoders.pooling import l2_normalise, mean_pool
from encoders.transformer import TransformerEncoder

TEXTS = [
    "Acme lightweight red running shoes. Designed for everyday use. Sports > Footwear. colour: red",
    "stainless steel saucepan",
    "Nordika waterproof hiking backpack. Ships in plastic-free packaging. Outdoor > Bags. material: nylon",
    "",
    "wool socks",
]
# far beyond max_length=128 tokens: only its first 128 tokens count
LONG = "Vela ergonomic office chair with adjustable lumbar support. " * 60


# `encoder` (conftest.py): the packaged model on CPU, batch size 64, loaded once for the session


@pytest.fixture(scope="module")
def encoder_bs1(encoder) -> TransformerEncoder:
    """The same loaded model encoding with batch size 1: no padding at all, a different batch composition."""
    one = copy.copy(encoder)
    one.options = replace(encoder.options, batch_size=1)
    return one


def test_shape_dtype_and_unit_norm(encoder):
    vectors = encoder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) == (len(TEXTS), encoder.dim)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_input_gives_zero_rows(encoder):
    out = encoder.encode([])
    assert out.shape == (0, encoder.dim) and out.dtype == np.float32


def test_a_bare_string_is_refused(encoder):
    with pytest.raises(TypeError, match="single str"):
        encoder.encode("red running shoes")


def test_mean_pool_and_normalise_match_a_hand_computation():
    hidden = torch.tensor([[[1.0, 2.0], [3.0, 6.0], [100.0, 100.0]],
                           [[4.0, -3.0], [50.0, 50.0], [50.0, 50.0]],
                           [[7.0, 7.0], [7.0, 7.0], [7.0, 7.0]]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0], [0, 0, 0]])
    pooled = mean_pool(hidden, mask)
    # row 0: mean of the first two tokens; row 1: the first token only; row 2: no tokens → zeros, not NaN
    expected = np.array([[2.0, 4.0], [4.0, -3.0], [0.0, 0.0]])
    np.testing.assert_allclose(pooled.numpy(), expected, atol=1e-6)
    normed = l2_normalise(pooled).numpy()
    np.testing.assert_allclose(normed, [[2 / np.sqrt(20), 4 / np.sqrt(20)], [0.8, -0.6], [0.0, 0.0]], atol=1e-6)


def test_same_text_gives_the_same_vector(encoder):
    vectors = encoder.encode(["wool socks", "stainless steel saucepan", "wool socks"])
    np.testing.assert_array_equal(vectors[0], vectors[2])
    np.testing.assert_array_equal(encoder.encode(["wool socks"])[0], encoder.encode(["wool socks"])[0])


def test_vectors_do_not_depend_on_batch_composition_or_order(encoder, encoder_bs1):
    texts = TEXTS + [LONG]
    reference = encoder.encode(texts)  # one padded batch
    np.testing.assert_allclose(encoder_bs1.encode(texts), reference, atol=1e-5)  # no padding at all
    order = np.random.default_rng(0).permutation(len(texts))
    shuffled = encoder.encode([texts[i] for i in order])
    np.testing.assert_allclose(shuffled, reference[order], atol=1e-5)
    # each text alone equals its row in the batch
    for i in (0, 3, len(texts) - 1):
        np.testing.assert_allclose(encoder.encode([texts[i]])[0], reference[i], atol=1e-5)


def test_long_text_is_truncated_at_max_length(encoder):
    long_a, long_b = encoder.encode([LONG, LONG + " completely different ending about kitchen blenders"])
    np.testing.assert_allclose(long_a, long_b, atol=1e-6)  # the changed tail lies past token 128


def test_similar_products_are_closer_than_unrelated_ones(encoder):
    shoes, sneakers, pan = encoder.encode(["red running shoes", "crimson jogging sneakers", "stainless steel saucepan"])
    assert shoes @ sneakers > shoes @ pan + 0.3
    assert shoes @ sneakers > sneakers @ pan + 0.3


def test_agrees_with_sentence_transformers(encoder):
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(encoder.options.resolved_model_path()), device="cpu")
    st.max_seq_length = encoder.options.max_length  # same truncation (the model card says 256)
    texts = TEXTS + [LONG, "red running shoes", "crimson jogging sneakers"]
    expected = st.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(encoder.encode(texts), expected, atol=1e-4)


def test_version_is_stable_and_names_the_weight_hash(encoder, encoder_bs1):
    weights = encoder.options.resolved_model_path() / "model.safetensors"
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    assert encoder.version == f"all-MiniLM-L6-v2@{digest}"
    assert re.fullmatch(r"[\w.-]+@[0-9a-f]{12}", encoder.version)
    assert encoder_bs1.version == encoder.version  # same weights, same version, whatever the batch size


def test_chunked_pipeline_matches_one_pass(encoder):
    # the CUDA path (chunks tokenised one ahead in a thread) run here on CPU with a tiny chunk size
    texts = [f"{t} #{i}" for i, t in enumerate(TEXTS * 5)] + [LONG]
    with torch.inference_mode():
        chunked = encoder._encode_pipelined(texts, chunk=7).numpy()
    np.testing.assert_allclose(chunked, encoder.encode(texts), atol=1e-5)


def test_bad_model_path_is_improperly_configured(tmp_path):
    with pytest.raises(EncoderConfigError, match="not a Hugging Face model directory"):
        EncoderOptions(model_path=tmp_path)
    with pytest.raises(EncoderConfigError, match="no config.json"):
        EncoderOptions(model_path=tmp_path / "missing")


def test_model_dir_without_weights_is_improperly_configured(tmp_path, encoder):
    (tmp_path / "config.json").write_text((encoder.options.resolved_model_path() / "config.json").read_text())
    with pytest.raises(EncoderConfigError):
        load_encoder(EncoderOptions(model_path=tmp_path, device="cpu"))


@pytest.mark.parametrize("kwargs, message", [
    ({"device": "tpu"}, "unknown encoder device"),
    ({"batch_size": 0}, "batch_size"),
    ({"max_length": 1}, "max_length"),
    ({"num_threads": 0}, "num_threads"),
])
def test_bad_options_are_refused(kwargs, message):
    with pytest.raises(EncoderConfigError, match=message):
        EncoderOptions(**kwargs)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA, so asking for it is valid")
def test_cuda_without_a_gpu_is_refused():
    with pytest.raises(EncoderConfigError, match="CUDA is not available"):
        load_encoder(EncoderOptions(device="cuda"))


def test_length_sorted_batches_cover_every_index_once():
    lengths = [5, 9, 1, 9, 3, 7, 2]
    batches = length_sorted_batches(lengths, 3)
    assert [len(b) for b in batches] == [3, 3, 1]
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)
    assert flat[:2].tolist() == [1, 3]  # ties keep input order


def test_prefetched_keeps_order_and_chunks_cover_the_input():
    ranges = chunk_ranges(10, 4)
    assert [(r.start, r.stop) for r in ranges] == [(0, 4), (4, 8), (8, 10)]
    assert list(prefetched(ranges, lambda r: sum(r))) == [6, 22, 17]
    assert list(prefetched([], lambda r: r)) == []


def test_cached_encoder_encodes_each_distinct_text_once_and_evicts_the_oldest():
    from encoders.cache import CachedEncoder

    class Counting:
        dim, version = 3, "count@0"
        calls: list[list[str]] = []

        def encode(self, texts):
            self.calls.append(list(texts))
            return np.stack([np.eye(3, dtype=np.float32)[len(t) % 3] for t in texts])

    inner = Counting()
    cached = CachedEncoder(inner, size=2)
    first = cached.encode(["ab", "abc", "ab"])
    assert inner.calls == [["ab", "abc"]] and first.shape == (3, 3)
    np.testing.assert_array_equal(first[0], first[2])
    cached.encode(["abc", "a"])  # "ab" is now the least recently used: evicted
    cached.encode(["ab"])
    assert inner.calls == [["ab", "abc"], ["a"], ["ab"]] and cached.version == "count@0"
