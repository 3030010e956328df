"""Figures of one bench phase from what the traffic driver saw: sustained rate, latency percentiles, capacity."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from .traffic import Traffic


@dataclass
class Phase:
    """One phase: what was offered, what came out, how fast and how late."""

    name: str
    sent: int
    arrived: int
    offered_per_s: float | None  # None: produced as fast as possible
    produce_s: float
    sustained_per_s: float  # outputs/s between the 10th and 90th percentile arrival
    whole_per_s: float  # outputs / (last arrival − first send): the whole phase, ramp-up and tail included
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    past_capacity: bool = False
    cpu: dict[str, float] = field(default_factory=dict)  # cores busy per process over the phase
    # CPU ms the worker (or the pass-through agent) spent per output: the cost of one event, which a
    # shared machine's load does not change the way it changes a rate
    cpu_ms_per_event: float | None = None
    process: str = "worker"  # whose CPU ``cpu_ms_per_event`` is: "worker", or an anchor of the pipeline bench
    # the outputs ended within a moment of the bench's producer: what was measured kept pace with the
    # producer, so its rate is a lower bound of what it can do (its CPU per message is still exact)
    producer_bound: bool = False

    def to_dict(self) -> dict:
        """JSON-ready."""
        return asdict(self)


def summarise(name: str, traffic: Traffic, event_ids: Sequence[str], produce_s: float,
              offered_per_s: float | None = None) -> Phase:
    """Rate and latency figures of the outputs of ``event_ids`` (produced already, arrivals awaited)."""
    sent_at = np.array([traffic.sent[e] for e in event_ids])
    arrived_at = traffic.arrivals.at
    pairs = [(traffic.sent[e], arrived_at[e]) for e in event_ids if e in arrived_at]
    phase = Phase(name, len(event_ids), len(pairs), offered_per_s, produce_s, 0.0, 0.0)
    if not pairs:
        phase.past_capacity = True
        return phase
    sent, got = np.array(pairs).T
    times = np.sort(got)
    lo, hi = np.percentile(times, [10, 90])
    inner = int(np.sum((times >= lo) & (times <= hi)))
    phase.whole_per_s = len(times) / max(times[-1] - sent_at.min(), 1e-9)
    phase.sustained_per_s = inner / (hi - lo) if hi > lo else phase.whole_per_s
    ms = (got - sent) * 1000.0
    phase.p50_ms, phase.p95_ms, phase.p99_ms = (float(x) for x in np.percentile(ms, [50, 95, 99]))
    phase.max_ms = float(ms.max())
    if offered_per_s is not None:
        # Past capacity: outputs lag the offered rate, or a backlog builds (the last quarter of the phase
        # waits far longer than the first). Either way a latency figure would describe a queue, not the worker.
        quarter = max(1, len(ms) // 4)
        order = np.argsort(sent)
        first, last = np.median(ms[order[:quarter]]), np.median(ms[order[-quarter:]])
        phase.past_capacity = bool(len(pairs) < 0.99 * len(event_ids) or last > 2 * first + 100.0)
    return phase


def summarise_batches(name: str, batches: Sequence[tuple[float, int]], sent: int, first_sent: float,
                      produce_s: float) -> Phase:
    """Rate figures of a consumer that reports batches, not messages: (time it took the batch, its size) each.

    Every message of a batch counts as consumed at the batch's time; the sustained rate is taken between
    the 10th and 90th percentile message, as :func:`summarise` does for outputs. No latency: a batch
    report does not say which messages it held.
    """
    phase = Phase(name, sent, int(sum(n for _, n in batches)), None, produce_s, 0.0, 0.0)
    if not phase.arrived:
        phase.past_capacity = True
        return phase
    order = sorted(batches)
    times = np.repeat([t for t, _ in order], [n for _, n in order])
    lo, hi = np.percentile(times, [10, 90])
    inner = int(np.sum((times >= lo) & (times <= hi)))
    phase.whole_per_s = len(times) / max(times[-1] - first_sent, 1e-9)
    phase.sustained_per_s = inner / (hi - lo) if hi > lo else phase.whole_per_s
    return phase


def mark_producer_bound(phase: Phase, first_sent: float, last_sent: float, last_out: float | None) -> None:
    """Flag a phase whose last output came within 20% (or 50 ms) of the producer's own time after the last send."""
    if last_out is not None and phase.arrived >= phase.sent:
        span = max(last_sent - first_sent, 1e-3)
        phase.producer_bound = bool(last_out - last_sent <= max(0.2 * span, 0.05))


def cpu_cost(phase: Phase, cpu_seconds: dict[str, float] | None, process: str) -> None:
    """Fill ``phase.cpu_ms_per_event`` from the CPU seconds the ``process`` processes ("worker", "worker-1", …) used."""
    if cpu_seconds and phase.arrived:
        used = sum(v for name, v in cpu_seconds.items() if name == process or name.startswith(process + "-"))
        phase.cpu_ms_per_event = round(used / phase.arrived * 1000.0, 3)
