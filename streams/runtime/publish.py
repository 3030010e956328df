"""Publish a micro-batch's lists: serialise with orjson, send in per-partition batches, count once."""
from __future__ import annotations

import time
from typing import Sequence

import orjson

from ..core.recommender import Outcome
from .components import Components


async def publish_lists(c: Components, outcomes: Sequence[Outcome], arrived: float) -> None:
    """Send one list per outcome, in event order, and record the metrics of the batch."""
    records = []
    violations = cold = 0
    for outcome in outcomes:
        rec = outcome.recommendation
        # orjson: ~10x faster than json.dumps on a 4 KB list, and numpy floats serialise as numbers
        records.append((rec.user_id.encode(), orjson.dumps(rec.to_message(), option=orjson.OPT_SERIALIZE_NUMPY)))
        violations += bool(outcome.violations)
        cold += rec.cold_start
    await c.lists.send(records)
    metrics = c.metrics
    metrics.recommendations_published.inc(len(records))
    metrics.explanations_checked.inc(len(records))
    if violations:
        metrics.explanation_violations.inc(violations)
    if cold:
        metrics.cold_start_lists.inc(cold)
    # every list of the batch left together: one latency, observed once per list
    elapsed = time.time() - arrived
    for _ in records:
        metrics.event_to_recommendation_seconds.observe(elapsed)
