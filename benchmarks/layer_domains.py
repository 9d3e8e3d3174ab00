"""Forward+backward time of LogLayer in each input domain, against the positive domain and nn.Linear.

Run from the repository root:

    .venv/bin/python -m benchmarks.layer_domains [--quick]

All variants use ``check_input=False`` and return the gradients with respect to the input and
the weight; they are timed round-robin in one run. ``positive (Function only)`` calls
``LogMagnitudeFunction`` directly, without the domain front end of ``log_layer``, so the gap
between it and ``positive`` is the cost of that front end. Inputs are U(0.5, 2), with random
signs for the signed and abs domains, and exact zeros in 10% of the entries where stated.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from lognet import LogLayer
from lognet._layer_function import POSITIVE, LogMagnitudeFunction

from ._timing import add_common_arguments, configure, format_time, interleaved, machine_info, markdown_table, timer

SHAPES = [(4096, 256, 256), (65536, 16, 16)]
QUICK_SHAPES = [(1024, 64, 64)]
ZERO_FRACTION = 0.1


def make_inputs(n: int, n_in: int, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    positive = 0.5 + 1.5 * torch.rand(n, n_in, generator=generator, dtype=dtype)
    signs = torch.where(torch.rand(n, n_in, generator=generator) < 0.5, -1.0, 1.0).to(dtype)
    zeros = torch.rand(n, n_in, generator=generator) < ZERO_FRACTION
    signed = positive * signs
    return {"positive": positive, "signed": signed, "signed_zeros": signed.masked_fill(zeros, 0.0)}


def make_variants(n: int, n_in: int, n_out: int, dtype: torch.dtype):
    """Return ``{name: (forward callable, weight, input)}``; all layers share one weight."""
    inputs = make_inputs(n, n_in, dtype)
    linear = nn.Linear(n_in, n_out, bias=False, dtype=dtype)
    layers = {domain: LogLayer(n_in, n_out, domain=domain, check_input=False, dtype=dtype) for domain in ("positive", "signed", "abs")}
    for layer in layers.values():
        layer.weight.data.copy_(layers["positive"].weight.data)
    weight = layers["positive"].weight

    def function_only(x):
        return LogMagnitudeFunction.apply(x, weight, None, POSITIVE)

    return {
        "nn.Linear": (linear, linear.weight, inputs["positive"]),
        "positive": (layers["positive"], weight, inputs["positive"]),
        "positive (Function only)": (function_only, weight, inputs["positive"]),
        "signed, no zeros": (layers["signed"], layers["signed"].weight, inputs["signed"]),
        "abs, no zeros": (layers["abs"], layers["abs"].weight, inputs["signed"]),
        "abs, 10% zeros": (layers["abs"], layers["abs"].weight, inputs["signed_zeros"]),
        "signed, 10% zeros": (layers["signed"], layers["signed"].weight, inputs["signed_zeros"]),
    }


def make_timers(variants, sub_label: str):
    timers = {}
    for name, (forward, weight, x) in variants.items():
        x = x.clone().requires_grad_(True)
        with torch.no_grad():
            grad_output = torch.randn_like(forward(x))
        env = {"forward": forward, "x": x, "weight": weight, "grad_output": grad_output, "torch": torch}
        stmt = "torch.autograd.grad(forward(x), (x, weight), grad_output)"
        timers[name] = timer(stmt, env, label="LogLayer domains, forward+backward", sub_label=sub_label, description=name)
    return timers


def run(shapes, dtypes, rounds: int, min_run_time: float) -> None:
    print(machine_info())
    print()
    rows = []
    names = None
    for n, n_in, n_out in shapes:
        for dtype in dtypes:
            sub_label = f"{n}x{n_in}x{n_out} {str(dtype).removeprefix('torch.')}"
            variants = make_variants(n, n_in, n_out, dtype)
            names = list(variants)
            results = interleaved(make_timers(variants, sub_label), "positive", rounds, min_run_time)
            linear_seconds = results["nn.Linear"][0]
            row = [sub_label]
            for name in names:
                seconds, ratio, _ = results[name]
                row.append(f"{format_time(seconds)} ({ratio:.2f}x, {seconds / linear_seconds:.1f}x Linear)")
            rows.append(row)
            print(f"  done {sub_label}", flush=True)
    print()
    print(markdown_table(["N x in x out, dtype"] + names, rows))
    print()
    print("Each cell: median time (ratio to the positive domain in the same round, ratio to nn.Linear).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small shape and one short round, for a smoke run")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float64"], choices=["float32", "float64"])
    parser.add_argument("--rounds", type=int, default=5, help="round-robin rounds per shape (default 5)")
    parser.add_argument("--min-run-time", type=float, default=0.2, help="seconds per timer per round (default 0.2)")
    add_common_arguments(parser)
    args = parser.parse_args()
    configure(args.threads, args.wall_clock)
    shapes = QUICK_SHAPES if args.quick else SHAPES
    rounds = 1 if args.quick else args.rounds
    min_run_time = 0.05 if args.quick else args.min_run_time
    run(shapes, [getattr(torch, name) for name in args.dtypes], rounds, min_run_time)


if __name__ == "__main__":
    main()
