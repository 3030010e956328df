"""Index snapshots carry a checksum per file: a damaged one (same size, other bytes) is refused, and a worker's
item state moves it aside and rebuilds from the topics instead of failing to start or serving wrong vectors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from index import IndexOptions, build_index, read_snapshot, write_snapshot
from index.errors import SnapshotError
from index.snapshot import DAMAGED_DIR, MANIFEST_FILE, SNAPSHOT_DIR
from streams.core.state import ItemState

DIM = 16
MODEL = "all-MiniLM-L6-v2@abc123"
OFFSETS = {"item-vectors:0": 120, "item-vectors:1": 7}


def flat_index(n: int = 50):
    x = np.random.default_rng(1).standard_normal((n, DIM)).astype(np.float32)
    index = build_index(IndexOptions(kind="flat", use_gpu="never"), DIM)
    index.upsert([f"p{i}" for i in range(n)], x / np.linalg.norm(x, axis=1, keepdims=True))
    return index


def flip_a_byte(path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))


def test_every_file_of_a_snapshot_has_its_checksum_in_the_manifest(tmp_path):
    path = write_snapshot(tmp_path, flat_index(), model_version=MODEL, offsets=OFFSETS, extra={"a": 1})
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    assert set(manifest["sha256"]) == set(manifest["files"]) and len(manifest["files"]) >= 2
    assert all(len(digest) == 64 for digest in manifest["sha256"].values())


@pytest.mark.parametrize("target", ["index", "extra.json"])
def test_a_damaged_file_of_the_same_size_is_refused(tmp_path, target):
    path = write_snapshot(tmp_path, flat_index(), model_version=MODEL, offsets=OFFSETS, extra={"catalogue": []})
    victim = next(p for p in sorted(path.rglob("*")) if p.is_file() and p.name != MANIFEST_FILE
                  and (target in p.parts or p.name == target))
    flip_a_byte(victim, victim.stat().st_size // 2)  # the size stays: only the checksum can tell
    with pytest.raises(SnapshotError, match="checksum"):
        read_snapshot(tmp_path, expected_model_version=MODEL)


def test_snapshots_without_checksums_are_still_read(tmp_path):
    path = write_snapshot(tmp_path, flat_index(), model_version=MODEL, offsets=OFFSETS)
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    del manifest["sha256"]
    (path / MANIFEST_FILE).write_text(json.dumps(manifest))
    assert len(read_snapshot(tmp_path, expected_model_version=MODEL).index) == 50


def test_the_item_state_rebuilds_when_its_snapshot_is_damaged(tmp_path):
    good = ItemState.open_empty(model_version=MODEL, dim=DIM, index_options=IndexOptions(kind="flat", use_gpu="never"))
    good.index = flat_index()
    good.offsets = dict(OFFSETS)
    path = good.snapshot(tmp_path)
    faiss_file = next(p for p in (path / "index").iterdir() if p.stat().st_size > 1000)
    flip_a_byte(faiss_file, faiss_file.stat().st_size - 8)  # a damaged vector, not a truncated file

    state = ItemState.open(tmp_path, model_version=MODEL, dim=DIM,
                           index_options=IndexOptions(kind="flat", use_gpu="never"))
    assert len(state.index) == 0 and state.offsets == {}, "empty, to be rebuilt from the topics' beginning"
    assert not (tmp_path / SNAPSHOT_DIR).exists() and (tmp_path / DAMAGED_DIR / SNAPSHOT_DIR).is_dir()
    # the next snapshot is whole again and read back
    state.index = flat_index(7)
    state.snapshot(tmp_path)
    assert len(ItemState.open(tmp_path, model_version=MODEL, dim=DIM,
                              index_options=IndexOptions(kind="flat", use_gpu="never")).index) == 7
