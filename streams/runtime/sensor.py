"""A Faust sensor that counts what Faust sees and streamrec's own code does not: rebalances, commits, send errors."""
from __future__ import annotations

import time
from typing import Any

import faust

from ..metrics import Metrics


class PrometheusSensor(faust.Sensor):
    """Feeds the worker's registry from Faust's sensor hooks (public API: ``app.sensors.add``)."""

    def __init__(self, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.metrics = metrics

    def on_rebalance_start(self, app: Any) -> dict:
        """A rebalance began (the worker joins, a peer leaves or comes)."""
        self.metrics.rebalances.inc()
        return super().on_rebalance_start(app)

    def on_commit_initiated(self, consumer: Any) -> Any:
        """Return the start time; Faust hands it back to on_commit_completed."""
        return time.monotonic()

    def on_commit_completed(self, consumer: Any, state: Any) -> None:
        """Observe the commit's wall time."""
        if isinstance(state, float):
            self.metrics.commit_seconds.observe(time.monotonic() - state)

    def on_send_error(self, producer: Any, exc: BaseException, state: Any) -> None:
        """A produced message was not delivered."""
        self.metrics.producer_errors.inc()


def install(app: Any, metrics: Metrics) -> PrometheusSensor:
    """Add the sensor to the app's sensors."""
    sensor = PrometheusSensor(metrics)
    app.sensors.add(sensor)
    return sensor
