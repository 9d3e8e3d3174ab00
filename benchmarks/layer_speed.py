"""Forward and forward+backward time of LogLayer against nn.Linear and two plain-torch formulations.

Run from the repository root:

    .venv/bin/python -m benchmarks.layer_speed [--quick] [--dtypes float32 float64]

Compared at each (N, in, out) and dtype, all timed round-robin in one run:

- ``linear``: ``nn.Linear(in, out, bias=False)``, the reference for every ratio.
- ``loglayer``: ``LogLayer(in, out, check_input=False)``; ``loglayer+check`` validates each input.
- ``autograd``: ``torch.exp(torch.log(x) @ W.T)`` differentiated by autograd.
- ``broadcast``: ``(x.unsqueeze(1) ** W).prod(-1)``, which materialises (N, out, in). Where that
  tensor would exceed ``--broadcast-mb`` it runs at a smaller N and its time is scaled by the
  ratio of sample counts (marked ``*``).

``--device cuda`` runs the same comparison on a GPU, timed with the wall clock after a
synchronisation; the CPU is the default.

The forward runs under ``torch.no_grad()``. The forward+backward returns the gradients with
respect to the input and the weight, or to the weight only (the input is data, as in a first
layer), through ``torch.autograd.grad``, so no gradient accumulates.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn
from torch.utils import benchmark

from lognet import LogLayer

from ._timing import add_common_arguments, configure, format_time, interleaved, machine_info, markdown_table, timer

SHAPES = [(4096, 256, 256), (65536, 16, 16), (256, 1024, 1024), (64, 8, 8)]
QUICK_SHAPES = [(1024, 64, 64), (64, 8, 8)]
VARIANTS = ("linear", "loglayer", "loglayer+check", "autograd", "broadcast")
TASKS = ("forward", "forward+backward (input and weight)", "forward+backward (weight only)")


def plain_autograd(x, weight):
    return torch.exp(torch.log(x) @ weight.T)


def broadcast(x, weight):
    return (x.unsqueeze(1) ** weight).prod(-1)


def make_variants(n: int, n_in: int, n_out: int, dtype: torch.dtype, broadcast_mb: float, device: str):
    """Return ``{name: (forward callable, its parameter, input, time scale)}`` for one shape."""
    torch.manual_seed(0)
    factory = {"dtype": dtype, "device": device}
    x = torch.rand(n, n_in, **factory) * 1.5 + 0.5
    linear = nn.Linear(n_in, n_out, bias=False, **factory)
    layer = LogLayer(n_in, n_out, check_input=False, **factory)
    checked = LogLayer(n_in, n_out, check_input=True, **factory)
    checked.weight.data.copy_(layer.weight.data)
    weight = layer.weight.detach().clone().requires_grad_(True)

    bytes_per_sample = n_out * n_in * x.element_size()
    n_broadcast = n
    while n_broadcast > 1 and n_broadcast * bytes_per_sample > broadcast_mb * 2**20:
        n_broadcast //= 2
    x_broadcast = x[:n_broadcast].clone()
    return {
        "linear": (linear, linear.weight, x, 1.0),
        "loglayer": (layer, layer.weight, x, 1.0),
        "loglayer+check": (checked, checked.weight, x, 1.0),
        "autograd": (lambda t: plain_autograd(t, weight), weight, x, 1.0),
        "broadcast": (lambda t: broadcast(t, weight), weight, x_broadcast, n / n_broadcast),
    }


def make_timers(variants, task: str, label: str, sub_label: str):
    timers = {}
    for name, (forward, weight, x, _) in variants.items():
        if task == "forward":
            stmt = "with torch.no_grad(): forward(x)"
            env = {"forward": forward, "x": x, "torch": torch}
        else:
            input_grad = task == TASKS[1]
            x_grad = x.detach().clone().requires_grad_(input_grad)
            with torch.no_grad():
                grad_output = torch.randn_like(forward(x_grad))
            inputs = "(x, weight)" if input_grad else "(weight,)"
            stmt = f"torch.autograd.grad(forward(x), {inputs}, grad_output)"
            env = {"forward": forward, "x": x_grad, "weight": weight, "grad_output": grad_output, "torch": torch}
        timers[name] = timer(stmt, env, label=label, sub_label=sub_label, description=name)
    return timers


def run(shapes, dtypes, rounds: int, min_run_time: float, broadcast_mb: float, device: str) -> None:
    print(machine_info())
    print()
    compare_rows = []
    for task in TASKS:
        table = []
        for n, n_in, n_out in shapes:
            for dtype in dtypes:
                variants = make_variants(n, n_in, n_out, dtype, broadcast_mb, device)
                sub_label = f"{n}x{n_in}x{n_out} {str(dtype).removeprefix('torch.')}"
                sub_label += "" if device == "cpu" else f" {device}"
                timers = make_timers(variants, task, f"LogLayer {task}", sub_label)
                results = interleaved(timers, "linear", rounds, min_run_time)
                row = [sub_label, format_time(results["linear"][0])]
                for name in VARIANTS[1:]:
                    seconds, ratio, measurement = results[name]
                    scale = variants[name][3]
                    mark = "*" if scale != 1.0 else ""
                    row.append(f"{format_time(seconds * scale)}{mark} ({ratio * scale:.2f}x)")
                    compare_rows.append(measurement)
                row.append(f"{results['broadcast'][1] * variants['broadcast'][3] / results['loglayer'][1]:.0f}x")
                compare_rows.append(results["linear"][2])
                table.append(row)
                print(f"  done {task} {sub_label}", flush=True)
        header = ["N x in x out, dtype", "nn.Linear"] + [f"{name} (/ Linear)" for name in VARIANTS[1:]]
        header.append("broadcast / loglayer")
        print(f"\n### {task}\n")
        print(markdown_table(header, table))
        print()
    print("Ratios are medians over rounds of the per-round ratio to nn.Linear; * = measured at reduced N and scaled.")
    print()
    benchmark.Compare(compare_rows).print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small shapes and one short round, for a smoke run")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"], choices=["float32", "float64"])
    parser.add_argument("--rounds", type=int, default=3, help="round-robin rounds per shape (default 3)")
    parser.add_argument("--min-run-time", type=float, default=0.2, help="seconds per timer per round (default 0.2)")
    parser.add_argument(
        "--broadcast-mb", type=float, default=256, help="largest (N, out, in) tensor of the broadcast form in MiB (default 256)"
    )
    parser.add_argument("--device", default="cpu", help="torch device to run on, e.g. cuda (default cpu)")
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device} needs CUDA, but torch.cuda.is_available() is False; use --device cpu.")
    configure(args.threads, args.wall_clock, args.device)
    shapes = QUICK_SHAPES if args.quick else SHAPES
    rounds = 1 if args.quick else args.rounds
    min_run_time = 0.05 if args.quick else args.min_run_time
    dtypes = [getattr(torch, name) for name in args.dtypes]
    run(shapes, dtypes, rounds, min_run_time, args.broadcast_mb, args.device)


if __name__ == "__main__":
    main()
