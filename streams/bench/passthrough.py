"""The yardstick of the pipeline bench: a bare Faust agent that forwards each message with one ``await send``.

It runs as its own process on the same broker, with the worker's Faust settings (the same tuned fetch
wait, producer linger, partitions and group timeouts), so its messages/s is what Faust itself moves on
this machine in this run; the streamrec worker's lists/s is reported as a ratio to it.

Run by the bench as ``python -m streams.bench.passthrough BROKER IN OUT DATA_DIR``.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..local.broker import die_with_parent
from ..settings import Settings


def start(broker_url: str, in_topic: str, out_topic: str, data_dir: Path, log_path: Path) -> subprocess.Popen:
    """Launch the pass-through worker process (it inherits this process's STREAMREC_* settings)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, STREAMREC_BROKER=broker_url, PYTHONUNBUFFERED="1")
    with open(log_path, "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "streams.bench.passthrough", broker_url, in_topic, out_topic,
                                 str(data_dir)], stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True, preexec_fn=die_with_parent)


def main(argv: list[str]) -> int:
    """Build the bare app and run it until SIGTERM."""
    import faust

    from ..runtime.faust_compat import quiet_worker, tuned_app_class

    broker_url, in_topic, out_topic, data_dir = argv
    settings = Settings(broker=broker_url)
    app = tuned_app_class(settings.fetch_max_wait_ms)(
        "streamrec-bench-passthrough",
        broker=broker_url,
        store="memory://",
        datadir=str(Path(data_dir) / "faust"),
        topic_partitions=settings.topic_partitions,
        broker_rebalance_timeout=settings.rebalance_timeout,
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=settings.heartbeat_interval,
        broker_commit_interval=1.0,
        producer_linger_ms=1,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        autodiscover=False,
    )
    raw = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}
    source, sink = app.topic(in_topic, **raw), app.topic(out_topic, **raw)

    @app.agent(source, name="bench.passthrough")
    async def forward(stream):
        async for event in stream.events():
            await sink.send(key=event.key, value=event.value)

    worker = quiet_worker(faust.Worker(app, loglevel="warning", quiet=True))  # as the streamrec worker runs
    worker.execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
