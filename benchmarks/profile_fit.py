"""Profile one typical lognet.fit and compare its time with 1 and 2 OpenMP threads.

Run from the repository root:

    .venv/bin/python -m benchmarks.profile_fit [--quick] [--repeats 3]

The fit: 1,000 samples of y = 3 x0^2 - 1.5 x1^0.5 x2 with inputs U(1, 10), loss="mse",
random_state=0 and default options. The script prints

- the fit's wall and CPU time with OMP_NUM_THREADS=1 and =2, each in a fresh subprocess,
  alternating so that both see the same background load;
- the functions with the largest cumulative and own time under cProfile (1 thread);
- the torch operators with the largest own CPU time under torch.profiler (1 thread).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

from ._timing import machine_info, markdown_table


def make_data(n_samples: int = 1000):
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 10, size=(n_samples, 3))
    y = 3 * X[:, 0] ** 2 - 1.5 * X[:, 1] ** 0.5 * X[:, 2]
    return X, y


def fit_once(quick: bool):
    import lognet

    X, y = make_data()
    options = lognet.EngineOptions(population=32, steps=30) if quick else None
    return lognet.fit(X, y, loss="mse", random_state=0, options=options)


def child(quick: bool) -> None:
    """Time one fit in this process and print wall and CPU seconds as JSON (subprocess entry point)."""
    import torch

    torch.ones(1).exp()  # loads torch's kernels before the clock starts
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    result = fit_once(quick)
    wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    print(json.dumps({"wall": wall, "cpu": cpu, "formula": str(result.formula() if callable(getattr(result, "formula", None)) else "")}))


def compare_threads(repeats: int, quick: bool) -> None:
    times: dict[int, list[dict]] = {1: [], 2: []}
    for _ in range(repeats):
        for threads in (1, 2):
            env = dict(os.environ, OMP_NUM_THREADS=str(threads))
            command = [sys.executable, "-m", "benchmarks.profile_fit", "--child"] + (["--quick"] if quick else [])
            output = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
            times[threads].append(json.loads(output.strip().splitlines()[-1]))
    rows = []
    for threads, runs in times.items():
        walls = [run["wall"] for run in runs]
        cpus = [run["cpu"] for run in runs]
        rows.append([str(threads), f"{statistics.median(walls):.2f} s", f"{min(walls):.2f}-{max(walls):.2f} s", f"{statistics.median(cpus):.2f} s"])
    print(f"\n### lognet.fit time by OMP_NUM_THREADS ({repeats} alternating runs each)\n")
    print(markdown_table(["OMP_NUM_THREADS", "wall (median)", "wall (range)", "CPU time (median)"], rows))
    print(f"\nFitted formula: {times[1][0]['formula']}")


def profile_functions(quick: bool) -> None:
    import torch

    torch.set_num_threads(1)
    fit_once(True)  # warm-up: imports, first kernel calls
    profiler = cProfile.Profile()
    profiler.enable()
    fit_once(quick)
    profiler.disable()
    for key, title in (("cumulative", "cumulative time"), ("tottime", "own time")):
        stream = io.StringIO()
        stats = pstats.Stats(profiler, stream=stream).strip_dirs().sort_stats(key)
        stats.print_stats(18)
        print(f"\n### cProfile, by {title} (1 thread)\n")
        print("```")
        print("\n".join(line for line in stream.getvalue().splitlines() if line.strip()))
        print("```")


def profile_operators(quick: bool) -> None:
    import torch
    from torch.profiler import ProfilerActivity, profile

    torch.set_num_threads(1)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fit_once(quick)
    print("\n### torch.profiler, by own CPU time (1 thread)\n")
    print("```")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=20))
    print("```")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="population 32 and 30 steps, for a smoke run")
    parser.add_argument("--repeats", type=int, default=3, help="fits per thread count (default 3)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.quick)
        return
    import torch

    torch.set_num_threads(1)  # the profiles run in this process; the timed fits set OMP_NUM_THREADS
    print(machine_info())
    compare_threads(1 if args.quick else args.repeats, args.quick)
    profile_functions(args.quick)
    profile_operators(args.quick)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(f"\nPeak resident size of the profiling process: {usage.ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
