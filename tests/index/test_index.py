"""The vector index kinds against an exact numpy reference, on real FAISS."""
from __future__ import annotations

import numpy as np
import pytest

from index import Hit, IndexOptions, build_index, load_index
from index.errors import IndexConfigError, SnapshotError
from index.flat import FlatIndex
from index.hnsw import HNSWIndex
from index.ids import IdMap
from index.ivf import IVFIndex

DIM = 32
N = 2000
K = 10

#: per kind: options generous enough that approximate kinds reach recall@10 >= 0.95 on clustered data
OPTIONS = {
    "flat": IndexOptions(kind="flat", use_gpu="never"),
    "hnsw": IndexOptions(kind="hnsw", use_gpu="never", m=16, ef_construction=100, ef_search=64),
    "ivf": IndexOptions(kind="ivf", use_gpu="never", nlist=16, nprobe=8),
}
KINDS = list(OPTIONS)


def clustered(n: int, seed: int) -> np.ndarray:
    """Unit vectors from a Gaussian mixture (what sentence embeddings look like, unlike uniform noise)."""
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(99).standard_normal((20, DIM))
    x = centres[rng.integers(20, size=n)] + 0.6 * rng.standard_normal((n, DIM))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x.astype(np.float32)


@pytest.fixture(scope="module")
def data() -> tuple[list[str], np.ndarray, np.ndarray]:
    return [f"item-{i}" for i in range(N)], clustered(N, seed=1), clustered(50, seed=2)


def filled(kind: str, data) -> object:
    ids, x, _ = data
    index = build_index(OPTIONS[kind], DIM)
    index.upsert(ids, x)
    return index


def exact_top(x: np.ndarray, ids: list[str], q: np.ndarray, k: int) -> list[list[str]]:
    order = np.argsort(-(q @ x.T), axis=1)[:, :k]
    return [[ids[j] for j in row] for row in order]


def recall(found: list[list[Hit]], truth: list[list[str]]) -> float:
    return float(np.mean([len({h.item_id for h in f} & set(t)) / len(t) for f, t in zip(found, truth)]))


@pytest.mark.parametrize("kind", KINDS)
def test_search_matches_exact_numpy(kind, data):
    ids, x, q = data
    index = filled(kind, data)
    found = index.search(q, K)
    truth = exact_top(x, ids, q, K)
    assert all(len(row) == K for row in found)
    if kind == "flat":
        assert [[h.item_id for h in row] for row in found] == truth
        expected = np.sort(q @ x.T, axis=1)[:, ::-1][:, :K]
        np.testing.assert_allclose([[h.score for h in row] for row in found], expected, rtol=1e-5, atol=1e-5)
    else:
        assert recall(found, truth) >= 0.95
    for row in found:  # best first
        assert [h.score for h in row] == sorted((h.score for h in row), reverse=True)


@pytest.mark.parametrize("kind", KINDS)
def test_upsert_of_existing_id_replaces_its_vector(kind, data):
    ids, x, _ = data
    index = filled(kind, data)
    old = x[7].copy()
    new = clustered(1, seed=3)
    index.upsert(["item-7"], new)
    assert len(index) == N
    np.testing.assert_allclose(index.vectors(["item-7"]), new)
    assert index.search(new, 1)[0][0].item_id == "item-7"
    assert index.search(old[None, :], 1)[0][0].item_id != "item-7"


@pytest.mark.parametrize("kind", KINDS)
def test_delete_removes_everywhere(kind, data):
    ids, x, q = data
    index = filled(kind, data)
    gone = ids[:300]
    assert index.delete(gone + ["never-added"]) == 300
    assert index.delete(gone) == 0
    assert len(index) == N - 300
    assert "item-0" not in index and "item-300" in index
    with pytest.raises(KeyError):
        index.vectors(["item-0"])
    found = index.search(np.concatenate([q, x[:300]]), K)
    assert not {h.item_id for row in found for h in row} & set(gone)
    assert recall(found[: len(q)], exact_top(x[300:], ids[300:], q, K)) >= (1.0 if kind == "flat" else 0.95)


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_keeps_ids_and_results(kind, data, tmp_path):
    ids, x, q = data
    index = filled(kind, data)
    index.delete(ids[:10])
    index.save(tmp_path)
    loaded = load_index(tmp_path)
    assert type(loaded) is type(index) and len(loaded) == len(index) and loaded.dim == DIM
    assert loaded.search(q, K) == index.search(q, K)
    np.testing.assert_array_equal(loaded.vectors(ids[10:20]), x[10:20])
    # int ids keep counting where they stopped: a re-added item never takes a freed int id
    assert loaded.ids.next_id == index.ids.next_id
    loaded.upsert(["item-0"], x[:1])
    assert loaded.ids.get("item-0") >= index.ids.next_id


@pytest.mark.parametrize("kind", KINDS)
def test_bad_inputs_raise_value_error(kind, data):
    ids, x, q = data
    index = filled(kind, data)
    bad_calls = [
        lambda: index.search(q[0], K),  # 1-D
        lambda: index.search(q[:, :5], K),  # wrong dim
        lambda: index.search(q.astype(np.int64), K),  # not float
        lambda: index.search(q.tolist(), K),  # not an array
        lambda: index.search(q, 0),  # k < 1
        lambda: index.upsert(["a", "b"], x[:3]),  # rows ≠ ids
        lambda: index.upsert("ab", x[:2]),  # a string, not a sequence of ids
        lambda: index.upsert([1, 2], x[:2]),  # not strings
        lambda: index.upsert(["a"], np.full((1, DIM), np.nan, dtype=np.float32)),
    ]
    for call in bad_calls:
        with pytest.raises(ValueError):
            call()
    assert len(index) == N  # nothing half-applied


@pytest.mark.parametrize("kind", KINDS)
def test_small_and_empty_indexes(kind, data):
    _, x, q = data
    index = build_index(OPTIONS[kind], DIM)
    assert index.search(q[:2], K) == [[], []]
    index.upsert(["a", "b", "c"], x[:3])
    found = index.search(q[:2], K)
    assert [len(row) for row in found] == [3, 3]  # fewer than k when fewer are live; never -1 padding
    index.upsert(["a", "a"], x[3:5])  # repeated id in one batch: the last row wins
    np.testing.assert_array_equal(index.vectors(["a"]), x[4:5])
    assert len(index) == 3


def test_hnsw_tombstones_are_filtered_then_rebuilt(data):
    ids, x, q = data
    index = filled("hnsw", data)
    index.delete(ids[:200])  # 10%: below the rebuild threshold, kept as tombstones
    assert index.tombstones == 200 and index.rebuilds == 0
    found = index.search(np.concatenate([q, x[:200]]), K)
    assert not {h.item_id for row in found for h in row} & set(ids[:200])
    assert all(len(row) == K for row in found)
    index.delete(ids[200:600])  # 600 dead of 2000 nodes > 20%: rebuilt from live vectors
    assert index.rebuilds == 1 and index.tombstones == 0 and index.faiss_index.ntotal == N - 600
    assert recall(index.search(q, K), exact_top(x[600:], ids[600:], q, K)) >= 0.95
    np.testing.assert_array_equal(index.vectors(ids[600:610]), x[600:610])


def test_ivf_searches_an_exact_buffer_until_trained(data, tmp_path):
    ids, x, q = data
    index = build_index(OPTIONS["ivf"], DIM)
    assert isinstance(index, IVFIndex) and index.train_size == 39 * 16
    index.upsert(ids[:500], x[:500])
    assert not index.trained
    assert [[h.item_id for h in row] for row in index.search(q, K)] == exact_top(x[:500], ids[:500], q, K)
    index.save(tmp_path)  # the buffer survives a restart, and training still happens afterwards
    index = load_index(tmp_path)
    assert not index.trained and len(index) == 500
    index.upsert(ids[500:], x[500:])
    assert index.trained and index.faiss_index.ntotal == N
    assert recall(index.search(q, K), exact_top(x, ids, q, K)) >= 0.95


def test_options_validate_and_pick_kind():
    for bad in (dict(kind="annoy"), dict(use_gpu="maybe"), dict(m=1), dict(ef_search=0), dict(nlist=0),
                dict(rebuild_fraction=1.5), dict(nprobe="8")):
        with pytest.raises(IndexConfigError):
            IndexOptions(**bad)
    auto = IndexOptions(flat_max_items=1000, use_gpu="never")
    assert isinstance(build_index(auto, DIM), FlatIndex)
    assert isinstance(build_index(auto, DIM, expected_items=5000), HNSWIndex)
    assert IndexOptions().nlist_for(1_000_000) == 4000 and IndexOptions().nlist_for(10_000) == 256
    assert build_index(IndexOptions(kind="ivf"), DIM, expected_items=1_000_000).faiss_index.nlist == 4000


def test_id_map_never_reuses_freed_ids(tmp_path):
    ids = IdMap()
    a, b = ids.assign("a"), ids.assign("b")
    assert ids.free("a") == a and ids.item_id(a) is None
    assert ids.assign("a") not in (a, b)
    assert ids.assign("b") != b  # reassigning retires the old int id too
    ids.save(tmp_path / "ids.json")
    back = IdMap.load(tmp_path / "ids.json")
    assert {i: back.get(i) for i in back} == {i: ids.get(i) for i in ids} and back.next_id == ids.next_id
    assert back.assign("c") == ids.next_id


def test_load_rejects_a_broken_directory(data, tmp_path):
    index = filled("flat", data)
    index.save(tmp_path)
    (tmp_path / "index.faiss").write_bytes((tmp_path / "index.faiss").read_bytes()[:1000])
    with pytest.raises(SnapshotError):
        load_index(tmp_path)
    with pytest.raises(SnapshotError):
        load_index(tmp_path / "missing")


@pytest.mark.parametrize("kind", KINDS)
def test_search_rows_are_search_cut_per_row(kind, data):
    ids, x, q = data
    index = filled(kind, data)
    index.delete(ids[:100])  # freed ids and (HNSW) tombstones must not show up either
    limits = [3, 25, 10] * (len(q) // 3) + [1] * (len(q) % 3)
    rows = index.search_rows(q, limits)
    full = index.search(q, max(limits))
    for (found, scores), hits, n in zip(rows, full, limits):
        assert found == [h.item_id for h in hits[:n]]
        np.testing.assert_allclose(scores, [h.score for h in hits[:n]], rtol=1e-6)
    assert index.ids.item_ids([index.ids.get("item-500"), -1]) == ["item-500", None]


@pytest.fixture
def one_faiss_thread():
    """k-means on OpenMP threads that spin for a busy shared CPU takes 20x longer; one thread is quick."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


def test_ivfpq_trains_compresses_and_searches_close_to_exact(tmp_path, one_faiss_thread):
    from index.ivf import IVFPQIndex

    n = 4000
    ids, x, q = [f"item-{i}" for i in range(n)], clustered(n, seed=3), clustered(50, seed=4)
    # 4-bit codes keep the codebooks (and the test) small: 32 codes × 4 bits = 16 bytes per 32-d vector
    index = build_index(IndexOptions(kind="ivfpq", use_gpu="never", nlist=16, nprobe=8, pq_m=32, pq_bits=4), DIM)
    assert isinstance(index, IVFPQIndex) and index.train_size == 39 * 16
    index.upsert(ids[:500], x[:500])
    assert not index.trained  # answers exactly from its buffer until it has enough points for the codebooks
    index.upsert(ids[500:], x[500:])
    assert index.trained and len(index) == n
    assert recall(index.search(q, K), exact_top(x, ids, q, K)) >= 0.7  # a sanity floor; the bench gives recall
    assert index.faiss_index.code_size == 16  # instead of 32 × 4 bytes
    np.testing.assert_allclose(index.vectors(["item-7"])[0], x[7], atol=0.25)  # decoded, approximately
    assert index.delete(ids[:10]) == 10 and "item-0" not in index
    index.save(tmp_path)
    again = load_index(tmp_path)
    assert isinstance(again, IVFPQIndex) and len(again) == n - 10
    assert [h.item_id for h in again.search(q[:3], K)[0]] == [h.item_id for h in index.search(q[:3], K)[0]]
    with pytest.raises(IndexConfigError):
        build_index(IndexOptions(kind="ivfpq", pq_m=5), DIM)  # 5 does not divide 32


def test_ivfsq_keeps_one_byte_per_dimension_and_ivf_recall(data, tmp_path, one_faiss_thread):
    from index.ivf import IVFSQIndex

    ids, x, q = data
    index = build_index(IndexOptions(kind="ivfsq", use_gpu="never", nlist=16, nprobe=8), DIM)
    index.upsert(ids, x)
    assert isinstance(index, IVFSQIndex) and index.trained and index.faiss_index.code_size == DIM
    assert recall(index.search(q, K), exact_top(x, ids, q, K)) >= 0.95
    np.testing.assert_allclose(index.vectors(["item-3"])[0], x[3], atol=0.02)
    index.delete(ids[:5])
    index.save(tmp_path)
    assert isinstance(load_index(tmp_path), IVFSQIndex) and len(load_index(tmp_path)) == N - 5
