"""Publish a micro-batch's lists: serialise with orjson, send in per-partition batches, count once."""
from __future__ import annotations

import logging
import time
from typing import Any, Sequence

import orjson

from ..core.recommender import Outcome
from .components import Components
from .deadletters import send_dead_letter
from .faust_compat import arrival_time

log = logging.getLogger(__name__)


async def publish_lists(c: Components, outcomes: Sequence[Outcome], messages: Sequence[Any], started: float) -> None:
    """Send one list per outcome that has one (history events have none), in event order; record the metrics.

    ``messages`` are the outcomes' Kafka messages (for their arrival stamps), ``started`` when the batch began.
    """
    records = []
    latencies = []
    refused = []
    budget = c.settings.max_list_bytes
    violations = cold = 0
    for outcome, message in zip(outcomes, messages):
        rec = outcome.recommendation
        if rec is None:  # a historical event: state only
            continue
        try:
            # orjson: ~10x faster than json.dumps on a 4 KB list, and numpy floats serialise as numbers
            value = orjson.dumps(rec.to_message(), option=orjson.OPT_SERIALIZE_NUMPY)
        except TypeError as exc:  # a bug of ours: this list goes to the dead letters, not the rest of the batch
            log.exception("list for event %s not serialisable", outcome.event.event_id)
            refused.append((message, "list_error", f"{type(exc).__name__}: {exc}"[:200]))
            continue
        if len(value) > budget:  # the event's own failure (its list): a dead letter, never a refused batch
            refused.append((message, "too_large", f"its list takes {len(value)} bytes; at most {budget} "
                                                  "(STREAMREC_MAX_LIST_BYTES)"))
            continue
        records.append((rec.user_id.encode(), value))
        latencies.append(seconds_since_arrival(message, started))
        violations += bool(outcome.violations)
        cold += rec.cold_start
    for message, reason, detail in refused:
        await send_dead_letter(c, "events", message, reason, detail)
    if not records:
        return
    await c.lists.send(records)
    metrics = c.metrics
    metrics.recommendations_published.inc(len(records))
    metrics.explanations_checked.inc(len(records))
    if violations:
        metrics.explanation_violations.inc(violations)
    if cold:
        metrics.cold_start_lists.inc(cold)
    for seconds in latencies:
        metrics.event_to_recommendation_seconds.observe(seconds)


def seconds_since_arrival(message: Any, batch_started: float) -> float:
    """Seconds since the consumer handed ``message`` to the worker, so the micro-batch wait counts; without
    Faust's arrival stamp the batch's start is the best bound left."""
    arrived = arrival_time(message)
    return max(0.0, time.monotonic() - (arrived if arrived else batch_started))
