"""Time per step of the fitting engine's batched population search against the population size P.

Run from the repository root:

    .venv/bin/python -m benchmarks.population_throughput [--quick] [--profile]

Calls ``lognet._population.search`` directly on N samples (default 1,000) of
y = 3 x0^2 - 1.5 x1^0.5 x2 + 1% noise with inputs U(1, 10), K = 2 terms and d = 3 features,
in float64 as the engine runs it. The time per step is (T(S steps) - T(0 steps)) / S, so the
set-up and the final coefficient solves of ``search`` cancel. All P are timed round-robin.
The noise keeps the loss above the engine's exact-fit threshold. A plateau can still stop a
search early, so the table shows the steps each search really ran.
``--profile`` lists the largest operators of one step at the smallest and largest P.
"""

from __future__ import annotations

import argparse
import statistics

import torch
from torch.profiler import ProfilerActivity, profile

from lognet._basis import Design
from lognet._engine import random_exponents
from lognet._population import search

from ._timing import add_common_arguments, configure, format_time, machine_info, markdown_table, timer

N_TERMS = 2
N_FEATURES = 3


def make_problem(n_samples: int, populations: list[int]):
    generator = torch.Generator().manual_seed(0)
    X = 1 + 9 * torch.rand(n_samples, N_FEATURES, generator=generator, dtype=torch.float64)
    y = 3 * X[:, 0] ** 2 - 1.5 * X[:, 1] ** 0.5 * X[:, 2]
    y = y + 0.01 * y.std() * torch.randn(n_samples, generator=generator, dtype=torch.float64)
    design = Design.from_inputs(X, "positive")
    sample_weight = torch.full_like(y, 1 / float(y.std()))
    starts = {p: random_exponents((p, N_TERMS, N_FEATURES), 3.0, generator) for p in populations}
    return design, y, sample_weight, starts


def run(n_samples: int, populations: list[int], steps: int, rounds: int, min_run_time: float, show_profile: bool) -> None:
    print(machine_info())
    design, y, sample_weight, starts = make_problem(n_samples, populations)
    env = {"search": search, "design": design, "y": y, "w": sample_weight}
    timers = {}
    for p in populations:
        for s in (0, steps):
            stmt = f"search(design, y, w, start, bias=True, steps={s}, lr=0.1)"
            timers[(p, s)] = timer(stmt, {**env, "start": starts[p]}, description=f"P={p}, {s} steps")
    times: dict[tuple[int, int], list[float]] = {key: [] for key in timers}
    for _ in range(rounds):
        for key, t in timers.items():
            times[key].append(t.blocked_autorange(min_run_time=min_run_time).median)

    # The search stops early on an exact fit or a plateau; divide by the steps it really ran.
    ran = {}
    for p in populations:
        history: list[float] = []
        search(design, y, sample_weight, starts[p], bias=True, steps=steps, lr=0.1, history=history)
        ran[p] = len(history)
    per_step = {p: [(a - b) / ran[p] for a, b in zip(times[(p, steps)], times[(p, 0)])] for p in populations}
    smallest = populations[0]
    rows = []
    for p in populations:
        ratios = [a / b for a, b in zip(per_step[p], per_step[smallest])]
        seconds = statistics.median(per_step[p])
        rows.append(
            [
                str(p),
                str(ran[p]),
                format_time(seconds),
                f"{statistics.median(ratios):.2f}x",
                format_time(seconds / p),
                format_time(statistics.median(times[(p, 0)])),
            ]
        )
    print(f"\n{n_samples} samples, K={N_TERMS}, d={N_FEATURES}, float64, {steps} steps, {rounds} rounds\n")
    header = ["P", "steps run", "time per step", f"/ P={smallest}", "per candidate", "fixed cost (0 steps)"]
    print(markdown_table(header, rows))

    if show_profile:
        for p in (populations[0], populations[-1]):
            search(design, y, sample_weight, starts[p], bias=True, steps=2, lr=0.1)
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                search(design, y, sample_weight, starts[p], bias=True, steps=steps, lr=0.1)
            print(f"\nLargest operators at P={p} ({steps} steps, self CPU time):\n")
            print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and one short round, for a smoke run")
    parser.add_argument("--samples", type=int, default=1000, help="number of samples N (default 1000)")
    parser.add_argument("--populations", type=int, nargs="+", default=[1, 16, 128, 256], help="population sizes P")
    parser.add_argument("--steps", type=int, default=20, help="Adam steps per timed search (default 20)")
    parser.add_argument("--rounds", type=int, default=5, help="round-robin rounds (default 5)")
    parser.add_argument("--profile", action="store_true", help="also print the largest operators per step")
    add_common_arguments(parser)
    args = parser.parse_args()
    configure(args.threads, args.wall_clock)
    steps = 5 if args.quick else args.steps
    rounds = 1 if args.quick else args.rounds
    min_run_time = 0.05 if args.quick else 0.2
    run(args.samples, sorted(args.populations), steps, rounds, min_run_time, args.profile)


if __name__ == "__main__":
    main()
