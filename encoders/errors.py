"""The encoder library's exceptions (it imports nothing from streams/; the CLI prints them as one line)."""
from __future__ import annotations


class EncoderError(Exception):
    """Root of every error the encoder library raises on purpose."""


class EncoderConfigError(EncoderError, ValueError):
    """A model path, device or batch option is missing or wrong."""
