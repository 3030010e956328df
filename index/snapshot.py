"""Atomic index snapshots in a data dir: the index, the Kafka offsets it reflects, and the model it holds.

Layout of ``<data_dir>/index-snapshot/``: ``index/`` (the index's own files), ``extra.json``
(caller state, e.g. the item catalogue) and ``manifest.json``, written last, with each file's size and
SHA-256: a reader refuses a snapshot whose files do not match (SnapshotError), and
``quarantine_snapshot`` moves such a snapshot aside so the caller can rebuild. A snapshot is
written into a temp dir beside it, synced, and only then swapped in by two renames: current →
``index-snapshot.prev``, temp → ``index-snapshot``; the previous one is deleted only after the
new one is in place. A crash at any point leaves either the old or the new snapshot whole, and
``read_snapshot`` falls back to ``.prev`` when it finds the crash between the two renames.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .base import VectorIndex
from .errors import ModelVersionMismatch, SnapshotError
from .factory import load_index
from .options import IndexOptions

SNAPSHOT_DIR = "index-snapshot"
PREVIOUS_DIR = SNAPSHOT_DIR + ".prev"
DAMAGED_DIR = SNAPSHOT_DIR + ".damaged"
TEMP_PREFIX = "." + SNAPSHOT_DIR + ".tmp-"
MANIFEST_FILE = "manifest.json"
EXTRA_FILE = "extra.json"
INDEX_DIR = "index"
FORMAT = 1


@dataclass(frozen=True)
class Snapshot:
    """A loaded snapshot: the index and what it reflects."""

    index: VectorIndex
    model_version: str
    offsets: dict[str, int]  # "topic:partition" → next offset to read
    extra: dict | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


def check_offsets(offsets: dict[str, int]) -> dict[str, int]:
    """Offsets as a plain dict; ValueError unless keys are "topic:partition" and values ints >= 0."""
    out: dict[str, int] = {}
    for key, value in dict(offsets).items():
        topic, sep, partition = str(key).rpartition(":")
        if not isinstance(key, str) or not sep or not topic or not partition.isdigit():
            raise ValueError(f"offset key must be 'topic:partition', got {key!r}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"offset for {key} must be an integer >= 0, got {value!r}")
        out[key] = value
    return out


def write_snapshot(data_dir: Path, index: VectorIndex, *, model_version: str, offsets: dict[str, int],
                   extra: dict | None = None) -> Path:
    """Write ``index`` and its state to ``data_dir/index-snapshot`` atomically; return that path."""
    if not model_version:
        raise ValueError("a snapshot needs the model_version of the vectors it holds")
    offsets = check_offsets(offsets)
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(data_dir)
    tmp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=data_dir))
    try:
        (tmp / INDEX_DIR).mkdir()
        index.save(tmp / INDEX_DIR)
        if extra is not None:
            (tmp / EXTRA_FILE).write_text(json.dumps(extra, separators=(",", ":")), encoding="utf-8")
        manifest = {
            "format": FORMAT,
            "kind": getattr(index, "kind", type(index).__name__),
            "dim": index.dim,
            "count": len(index),
            "model_version": model_version,
            "offsets": offsets,
            "created_at": datetime.now(timezone.utc).isoformat(),
            "extra": EXTRA_FILE if extra is not None else None,
            # sizes tell a truncated file at once; checksums tell any other damage (bit rot, a partial copy)
            "files": {p.relative_to(tmp).as_posix(): p.stat().st_size for p in sorted(tmp.rglob("*")) if p.is_file()},
            "sha256": {p.relative_to(tmp).as_posix(): file_sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()},
        }
        (tmp / MANIFEST_FILE).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
        _fsync_tree(tmp)
        return _swap_in(data_dir, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def read_snapshot(data_dir: Path, *, expected_model_version: str,
                  options: IndexOptions | None = None) -> Snapshot | None:
    """The latest complete snapshot in ``data_dir``, or None when there is none.

    Raises ModelVersionMismatch when it holds another model's vectors (they must never be mixed
    with this model's) and SnapshotError when it is partial or corrupt. ``options`` overrides the
    saved index tunables.
    """
    data_dir = Path(data_dir)
    current, previous = data_dir / SNAPSHOT_DIR, data_dir / PREVIOUS_DIR
    # .prev alone means a crash between the two renames of write_snapshot: it is the last whole one.
    path = current if current.is_dir() else previous if previous.is_dir() else None
    if path is None:
        return None
    manifest = _read_manifest(path)
    if manifest["model_version"] != expected_model_version:
        raise ModelVersionMismatch(
            f"the index snapshot in {path} holds vectors of model {manifest['model_version']!r} but this worker "
            f"encodes with {expected_model_version!r}; move that snapshot away to rebuild from the item-vectors topic")
    _check_files(path, manifest)
    index = load_index(path / INDEX_DIR, options)
    if len(index) != manifest["count"] or index.dim != manifest["dim"]:
        raise SnapshotError(f"snapshot {path}: index has {len(index)} items of dim {index.dim}, "
                            f"manifest says {manifest['count']} of dim {manifest['dim']}")
    extra = None
    if manifest.get("extra"):
        try:
            extra = json.loads((path / EXTRA_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise SnapshotError(f"snapshot {path}: cannot read {EXTRA_FILE}: {exc}") from exc
    try:
        offsets = check_offsets(manifest["offsets"])
        created_at = datetime.fromisoformat(manifest["created_at"])
    except (KeyError, TypeError, ValueError) as exc:
        raise SnapshotError(f"snapshot {path}: malformed manifest: {exc}") from exc
    return Snapshot(index, manifest["model_version"], offsets, extra, created_at)


def _read_manifest(path: Path) -> dict:
    try:
        manifest = json.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"snapshot {path} has no readable {MANIFEST_FILE}: {exc}") from exc
    required = ("format", "model_version", "dim", "count", "offsets", "created_at", "files")
    if not isinstance(manifest, dict) or any(key not in manifest for key in required):
        raise SnapshotError(f"snapshot {path}: {MANIFEST_FILE} lacks one of {', '.join(required)}")
    if manifest["format"] != FORMAT:
        raise SnapshotError(f"snapshot {path} has format {manifest['format']!r}; this version reads {FORMAT}")
    return manifest


def _check_files(path: Path, manifest: dict) -> None:
    for name, size in manifest["files"].items():
        file = path / name
        if not file.is_file() or file.stat().st_size != size:
            raise SnapshotError(f"snapshot {path}: {name} is missing or truncated")
    checksums = manifest.get("sha256")  # absent in snapshots written before checksums: sizes only
    if checksums is None:
        return
    if not isinstance(checksums, dict) or set(checksums) != set(manifest["files"]):
        raise SnapshotError(f"snapshot {path}: {MANIFEST_FILE} lists checksums for other files than it holds")
    for name, expected in checksums.items():
        if file_sha256(path / name) != expected:
            raise SnapshotError(f"snapshot {path}: {name} fails its checksum (damaged)")


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def quarantine_snapshot(data_dir: Path) -> Path | None:
    """Move an unreadable snapshot (current and .prev) aside to ``index-snapshot.damaged``; return where.

    The caller then starts from an empty index and rebuilds; the damaged files stay for inspection until
    the next quarantine replaces them.
    """
    data_dir = Path(data_dir)
    damaged = data_dir / DAMAGED_DIR
    moved = None
    for name in (SNAPSHOT_DIR, PREVIOUS_DIR):
        source = data_dir / name
        if source.is_dir():
            if moved is None:
                shutil.rmtree(damaged, ignore_errors=True)
                damaged.mkdir()
                moved = damaged
            os.replace(source, damaged / name)
    if moved is not None:
        _fsync_dir(data_dir)
    return moved


def _swap_in(data_dir: Path, tmp: Path) -> Path:
    """Rename ``tmp`` into place, keeping the current snapshot as .prev until it is."""
    current, previous = data_dir / SNAPSHOT_DIR, data_dir / PREVIOUS_DIR
    if current.is_dir():
        # A .prev beside a whole current snapshot is left over from an earlier run: drop it first.
        shutil.rmtree(previous, ignore_errors=True)
        os.replace(current, previous)
    os.replace(tmp, current)
    _fsync_dir(data_dir)
    shutil.rmtree(previous, ignore_errors=True)
    return current


def _remove_stale_temps(data_dir: Path) -> None:
    """Delete temp dirs that a crashed write left behind (they never held a complete snapshot)."""
    for stale in data_dir.glob(TEMP_PREFIX + "*"):
        shutil.rmtree(stale, ignore_errors=True)


def _fsync_tree(root: Path) -> None:
    """Flush every file and directory under ``root`` to disk, so a rename never exposes empty files."""
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with open(path, "rb") as f:
                os.fsync(f.fileno())
    for directory in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        _fsync_dir(directory)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # some platforms can't open directories; the data is still written
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
