"""GPU search for the flat index: same answers as the CPU, mutations seen after re-upload."""
from __future__ import annotations

import numpy as np
import pytest
from support import random_units

from index import IndexOptions, build_index, load_index
from index.errors import IndexConfigError
from index.gpu import gpu_available

NO_GPU = "faiss has no GPU support here (faiss-cpu build, or no CUDA device): install the 'gpu' extra on a GPU host"
DIM = 64


@pytest.mark.gpu
@pytest.mark.skipif(not gpu_available(), reason=NO_GPU)
def test_gpu_flat_matches_cpu_through_mutations(tmp_path):
    ids, x, q = [f"p{i}" for i in range(5000)], random_units(5000, DIM, 0), random_units(64, DIM, 1)
    gpu = build_index(IndexOptions(kind="flat", use_gpu="always"), DIM)
    cpu = build_index(IndexOptions(kind="flat", use_gpu="never"), DIM)
    for index in (gpu, cpu):
        index.upsert(ids[:4000], x[:4000])
    assert gpu._gpu is not None

    def same() -> None:
        got, want = gpu.search(q, 10), cpu.search(q, 10)
        assert [[h.item_id for h in r] for r in got] == [[h.item_id for h in r] for r in want]
        np.testing.assert_allclose([[h.score for h in r] for r in got], [[h.score for h in r] for r in want],
                                   rtol=1e-4, atol=1e-4)

    same()
    for index in (gpu, cpu):  # appends are mirrored, replacements and deletes re-upload
        index.upsert(ids[4000:], x[4000:])
    same()
    for index in (gpu, cpu):
        index.upsert(ids[:100], random_units(100, DIM, 2))
        index.delete(ids[100:300])
    same()
    gpu.save(tmp_path)
    assert load_index(tmp_path).search(q, 10) == cpu.search(q, 10)


@pytest.mark.skipif(gpu_available(), reason="a GPU is present: 'always' is satisfiable here")
def test_always_without_gpu_is_a_configuration_error():
    with pytest.raises(IndexConfigError, match="GPU"):
        build_index(IndexOptions(kind="flat", use_gpu="always"), DIM)
    assert build_index(IndexOptions(kind="flat", use_gpu="auto"), DIM)._gpu is None  # falls back to CPU
