"""The audit log: one line per access to a shopper's personal data (forget requested, forget applied, profile read).

Lines go to the logger ``streamrec.audit`` at INFO, written to stderr by a handler of its own whatever
``STREAMREC_LOG_LEVEL`` says (worker.run calls ``keep_on``; Faust's logging set-up leaves it alone). Each line is ``audit <what> key=value ...`` with every value JSON-quoted, so an id that came
from outside cannot forge a line of its own. The audit log names the shopper: it is the record that the forget
was done, and its retention is the shop's (docs/guides/privacy.md).
"""
from __future__ import annotations

import json
import logging
import sys
from typing import Any

LOG = logging.getLogger("streamrec.audit")


def audit(what: str, **fields: Any) -> None:
    """Write one audit line: ``audit what key="value" ...``."""
    LOG.info("audit %s %s", what, " ".join(f"{key}={json.dumps(value, ensure_ascii=True)}"
                                             for key, value in fields.items()))


def keep_on() -> None:
    """Audit lines are written at any log level (called once by the worker at start-up)."""
    if not LOG.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        LOG.addHandler(handler)
    LOG.setLevel(logging.INFO)
    LOG.propagate = False
