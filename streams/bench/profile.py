"""Sample a worker with py-spy during a bench phase, and summarise the collapsed stacks it writes.

``python -m streams.bench.profile FILE [--top N] [--match TEXT]`` prints the functions with the largest
inclusive and self share of the samples: what docs/design/performance.md quotes for each optimisation step.
py-spy is a dev dependency (``pip install -e '.[dev]'``).
"""
from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def sampling(pid: int, out: Path | None, idle: bool = False, rate: int = 250) -> Iterator[None]:
    """py-spy the process while the block runs (nothing when ``out`` is None)."""
    if out is None:
        yield
        return
    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [exe, "record", "--pid", str(pid), "--format", "raw", "--output", str(out), "--rate", str(rate),
               "--nonblocking"] + (["--idle"] if idle else [])
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # py-spy attaches before the phase starts
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


def summarise(path: Path, top: int = 25, match: str | None = None) -> str:
    """Inclusive and self sample shares per function (``name (file:line)`` frames collapsed to ``name (file)``)."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";")]
        if match and not any(match in f for f in frames):
            continue
        total += n
        for frame in set(frames):
            inclusive[frame] += n
        own[frames[-1]] += n
    lines = [f"{total} samples" + (f" (stacks through {match!r})" if match else "")]
    lines.append("inclusive:")
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in inclusive.most_common(top)]
    lines.append("self:")
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    return "\n".join(lines)


def _frame(frame: str) -> str:
    # py-spy frames look like "function (path/to/module.py:123)"; drop the line and the site-packages prefix
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/streams/", "/index/", "/encoders/"):
        if marker in where:
            where = (marker.strip("/") + "/" if marker != "site-packages/" else "") + where.split(marker, 1)[1]
            break
    return f"{name} ({where})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--match", help="only stacks with a frame containing this text")
    args = parser.parse_args(argv)
    print(summarise(args.file, args.top, args.match))
    return 0


if __name__ == "__main__":
    sys.exit(main())
