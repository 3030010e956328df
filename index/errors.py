"""The index library's exceptions (it imports nothing from streams/; the CLI prints them as one line)."""
from __future__ import annotations


class VectorIndexError(Exception):
    """Root of every error the index library raises on purpose."""


class IndexConfigError(VectorIndexError, ValueError):
    """An index kind, tuning option or GPU mode is wrong."""


class SnapshotError(VectorIndexError):
    """An index snapshot is missing, partial or unreadable."""


class ModelVersionMismatch(VectorIndexError):
    """Vectors from two different encoder models would be mixed in one index."""
