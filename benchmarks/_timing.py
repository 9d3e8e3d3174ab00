"""Shared helpers of the speed and memory benchmarks: machine description and interleaved timing."""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import time

import torch
from torch.utils import benchmark
from torch.utils.benchmark.utils.timer import timer as synchronized_clock


# The clock every Timer reads; set by configure().
_clock = time.process_time


def add_common_arguments(parser) -> None:
    """Add --threads and --wall-clock, the options every speed benchmark shares."""
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument(
        "--wall-clock",
        action="store_true",
        help="time with the wall clock instead of the process's CPU time (the default with 1 thread)",
    )


def configure(threads: int, wall_clock: bool, device: str = "cpu") -> None:
    """Set torch's thread count and the clock of :func:`timer`.

    On shared cores a process gets a fraction of a core, so wall time varies with the other
    processes' load. A 4096x256 @ 256x256 product read 28 ms of wall time and 6.3 ms of CPU
    time at a load of 7 on 2 cores. With one thread the process's CPU time is the cost of
    the work itself. With more threads it also counts OpenMP threads that spin, so the wall
    clock is used then. On an accelerator the Timer's own clock synchronises it first.
    """
    global _clock
    torch.set_num_threads(threads)
    if device != "cpu":
        _clock = synchronized_clock
    else:
        _clock = time.perf_counter if wall_clock or threads > 1 else time.process_time


def timer(stmt: str, globals: dict, **labels) -> benchmark.Timer:
    """Return a Timer on the configured clock and thread count."""
    return benchmark.Timer(stmt=stmt, globals=globals, timer=_clock, num_threads=torch.get_num_threads(), **labels)


def machine_info() -> str:
    """Return one Markdown line naming the command, CPU, core count, torch version, threads and load."""
    model = platform.processor() or "unknown"
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(line.split(":", 1)[1].strip() for line in lscpu.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        pass
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    script = f"-m {spec.name}" if spec is not None else sys.argv[0]
    command = " ".join([".venv/bin/python", script] + sys.argv[1:])
    return (
        f"`{command}`: CPU {model}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {'CPU time' if _clock is time.process_time else 'wall time'}, "
        f"load average {load} (1, 5, 15 min)"
    )


def interleaved(timers: dict[str, benchmark.Timer], baseline: str, rounds: int, min_run_time: float):
    """Time every timer once per round, round-robin, and return per-timer results.

    Two shared cores drift by tens of percent over a minute, so each ratio is taken against the
    baseline's time in the same round and the median over rounds is reported.

    Returns:
        ``{name: (median seconds, median ratio to baseline, merged Measurement)}``.
    """
    times: dict[str, list[float]] = {name: [] for name in timers}
    measurements: dict[str, list] = {name: [] for name in timers}
    for _ in range(rounds):
        for name, timer in timers.items():
            measurement = timer.blocked_autorange(min_run_time=min_run_time)
            times[name].append(measurement.median)
            measurements[name].append(measurement)
    results = {}
    for name in timers:
        ratios = [t / b for t, b in zip(times[name], times[baseline])]
        merged = benchmark.Measurement.merge(measurements[name])[0]
        results[name] = (statistics.median(times[name]), statistics.median(ratios), merged)
    return results


def format_time(seconds: float) -> str:
    """Format a duration with a unit that keeps 3 significant digits."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """Return a GitHub Markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)
