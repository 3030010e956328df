"""CPU time and memory of a process from /proc (Linux), for the bench's CPU and RSS columns."""
from __future__ import annotations

import os
from dataclasses import dataclass

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (0.0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            # the command name may contain spaces: fields are counted after its closing parenthesis
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14 and 15 of proc(5))


def memory_bytes(pid: int) -> tuple[int, int]:
    """(resident set now, its peak) in bytes; (0, 0) when the process is gone."""
    values = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    name, amount = line.split(":", 1)
                    values[name] = int(amount.split()[0]) * 1024
    except OSError:
        return 0, 0
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


@dataclass
class CpuWindow:
    """CPU used by some processes between :meth:`start` and :meth:`stop`, as cores busy on average."""

    pids: dict[str, int]
    _cpu0: dict[str, float] | None = None
    _t0: float = 0.0
    seconds: dict[str, float] | None = None  # CPU seconds each process used in the window (after stop)

    def start(self, now: float) -> None:
        """Remember each process's CPU time now."""
        self._cpu0 = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        self._t0 = now

    def stop(self, now: float) -> dict[str, float]:
        """Cores each process kept busy since :meth:`start` (1.0 = one full core)."""
        self.seconds = {name: cpu_seconds(pid) - (self._cpu0 or {}).get(name, 0.0) for name, pid in self.pids.items()}
        span = max(now - self._t0, 1e-9)
        return {name: round(used / span, 3) for name, used in self.seconds.items()}


def machine_load() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages."""
    return os.getloadavg()
