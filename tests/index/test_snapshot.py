"""Atomic index snapshots: round trips, model-version guard, and crashes that must not lose the last one."""
from __future__ import annotations

import json
import os

import pytest
from support import random_units

from index import IndexOptions, Snapshot, build_index, read_snapshot, write_snapshot
from index.errors import ModelVersionMismatch, SnapshotError
from index.snapshot import MANIFEST_FILE, PREVIOUS_DIR, SNAPSHOT_DIR, TEMP_PREFIX

DIM = 16
MODEL = "all-MiniLM-L6-v2@abc123"
OFFSETS = {"item-vectors:0": 120, "item-vectors:1": 7}


def index_of(kind: str, n: int = 300, seed: int = 0):
    index = build_index(IndexOptions(kind=kind, use_gpu="never", nlist=4), DIM)
    index.upsert([f"p{i}" for i in range(n)], random_units(n, DIM, seed))
    return index


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf"])
def test_write_then_read_gives_identical_results(kind, tmp_path):
    index = index_of(kind)
    index.delete(["p1", "p2"])
    extra = {"catalogue": [{"item_id": "p0", "title": "mug"}], "signals": {"p0": [1, 2]}}
    path = write_snapshot(tmp_path, index, model_version=MODEL, offsets=OFFSETS, extra=extra)
    assert path == tmp_path / SNAPSHOT_DIR
    manifest = json.loads((path / MANIFEST_FILE).read_text())
    assert manifest["kind"] == kind and manifest["count"] == 298 and manifest["dim"] == DIM
    snap = read_snapshot(tmp_path, expected_model_version=MODEL)
    assert isinstance(snap, Snapshot)
    queries = random_units(20, DIM, seed=5)
    assert snap.index.search(queries, 10) == index.search(queries, 10)
    assert snap.offsets == OFFSETS and snap.extra == extra and snap.model_version == MODEL
    assert snap.created_at.tzinfo is not None


def test_no_snapshot_reads_as_none(tmp_path):
    assert read_snapshot(tmp_path / "nothing-here", expected_model_version=MODEL) is None
    assert read_snapshot(tmp_path, expected_model_version=MODEL) is None


def test_another_models_snapshot_is_refused(tmp_path):
    write_snapshot(tmp_path, index_of("flat"), model_version=MODEL, offsets=OFFSETS)
    with pytest.raises(ModelVersionMismatch):
        read_snapshot(tmp_path, expected_model_version="other-model@def456")


def test_a_newer_snapshot_replaces_the_older(tmp_path):
    write_snapshot(tmp_path, index_of("flat", n=10), model_version=MODEL, offsets={"item-vectors:0": 10})
    write_snapshot(tmp_path, index_of("flat", n=20), model_version=MODEL, offsets={"item-vectors:0": 20})
    snap = read_snapshot(tmp_path, expected_model_version=MODEL)
    assert len(snap.index) == 20 and snap.offsets == {"item-vectors:0": 20} and snap.extra is None
    assert sorted(os.listdir(tmp_path)) == [SNAPSHOT_DIR]  # no temp dir, no .prev left behind


def test_crash_mid_write_leaves_the_previous_snapshot_readable(tmp_path):
    write_snapshot(tmp_path, index_of("flat", n=10), model_version=MODEL, offsets=OFFSETS)
    # a write that died half-way: its temp dir holds a truncated manifest and was never renamed
    crashed = tmp_path / (TEMP_PREFIX + "dead")
    (crashed / "index").mkdir(parents=True)
    (crashed / MANIFEST_FILE).write_text('{"format": 1, "model_ver')
    snap = read_snapshot(tmp_path, expected_model_version=MODEL)
    assert len(snap.index) == 10 and snap.offsets == OFFSETS
    write_snapshot(tmp_path, index_of("flat", n=12), model_version=MODEL, offsets=OFFSETS)
    assert not crashed.exists()  # the next write clears what the crash left


def test_crash_between_the_two_renames_reads_the_previous(tmp_path):
    write_snapshot(tmp_path, index_of("flat", n=10), model_version=MODEL, offsets=OFFSETS)
    os.replace(tmp_path / SNAPSHOT_DIR, tmp_path / PREVIOUS_DIR)  # current moved aside, new one not yet in
    assert len(read_snapshot(tmp_path, expected_model_version=MODEL).index) == 10
    write_snapshot(tmp_path, index_of("flat", n=12), model_version=MODEL, offsets=OFFSETS)
    assert len(read_snapshot(tmp_path, expected_model_version=MODEL).index) == 12
    assert not (tmp_path / PREVIOUS_DIR).exists()


def test_corrupt_snapshot_raises_snapshot_error(tmp_path):
    path = write_snapshot(tmp_path, index_of("flat"), model_version=MODEL, offsets=OFFSETS, extra={"a": 1})
    faiss_file = path / "index" / "index.faiss"
    faiss_file.write_bytes(faiss_file.read_bytes()[:-100])
    with pytest.raises(SnapshotError, match="truncated"):
        read_snapshot(tmp_path, expected_model_version=MODEL)
    (path / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(SnapshotError):
        read_snapshot(tmp_path, expected_model_version=MODEL)


def test_offsets_are_validated_on_write(tmp_path):
    for bad in ({"item-vectors": 3}, {"item-vectors:x": 3}, {"item-vectors:0": -1}, {"item-vectors:0": "3"}):
        with pytest.raises(ValueError):
            write_snapshot(tmp_path, index_of("flat", n=5), model_version=MODEL, offsets=bad)
    assert read_snapshot(tmp_path, expected_model_version=MODEL) is None  # nothing half-written
