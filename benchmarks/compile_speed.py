"""Whether torch.compile speeds up LogLayer and an LNN training step on the CPU.

Run from the repository root:

    .venv/bin/python -m benchmarks.compile_speed [--quick]

For each case the compile time (the first call, minus one eager call) is reported apart from
the steady-state time per call. The break-even point is the number of calls after which the
compiled version has saved its compile time. Inductor gets a fresh cache directory and
its graph caches are switched off, so the first compile starts cold, as in a fresh
environment. Later cases may reuse C++ kernels that an earlier case compiled.

Cases:

- LogLayer(check_input=False) forward+backward with respect to input and weight.
- One LNN training step (3 features, 4 terms, MSE, Adam) on 1,000 samples: eager, the
  model compiled, and the whole step (forward, backward, optimizer step) compiled.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import tempfile
import time

# A fresh cache directory and no graph caches, so that every compile starts cold.
if "TORCHINDUCTOR_CACHE_DIR" not in os.environ:
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="lognet-inductor-")
    atexit.register(shutil.rmtree, os.environ["TORCHINDUCTOR_CACHE_DIR"], ignore_errors=True)
os.environ.setdefault("TORCHINDUCTOR_FX_GRAPH_CACHE", "0")
os.environ.setdefault("TORCHINDUCTOR_AUTOGRAD_CACHE", "0")

import torch  # noqa: E402

from lognet import LNN, LogLayer  # noqa: E402

from ._timing import add_common_arguments, configure, format_time, machine_info, markdown_table, timer  # noqa: E402

LAYER_SHAPES = [(64, 8, 8), (4096, 256, 256), (65536, 16, 16)]
QUICK_LAYER_SHAPES = [(64, 8, 8)]


def first_call_seconds(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def steady_seconds(function, min_run_time: float) -> float:
    return timer("function()", {"function": function}).blocked_autorange(min_run_time=min_run_time).median


def report(label: str, eager, compiled, min_run_time: float) -> list[str]:
    torch._dynamo.reset()
    eager()
    first = first_call_seconds(compiled)
    eager_seconds = steady_seconds(eager, min_run_time)
    compiled_seconds = steady_seconds(compiled, min_run_time)
    compile_seconds = max(first - eager_seconds, 0.0)
    saving = eager_seconds - compiled_seconds
    break_even = f"{compile_seconds / saving:,.0f} calls" if saving > 0 else "never"
    print(f"  done {label}", flush=True)
    return [
        label,
        f"{compile_seconds:.1f} s",
        format_time(eager_seconds),
        format_time(compiled_seconds),
        f"{compiled_seconds / eager_seconds:.2f}x",
        break_even,
    ]


def layer_case(n: int, n_in: int, n_out: int, dtype: torch.dtype, min_run_time: float) -> list[str]:
    torch.manual_seed(0)
    layer = LogLayer(n_in, n_out, check_input=False, dtype=dtype)
    compiled_layer = torch.compile(layer)
    x = (0.5 + 1.5 * torch.rand(n, n_in, dtype=dtype)).requires_grad_(True)
    grad_output = torch.randn(n, n_out, dtype=dtype)

    def eager():
        return torch.autograd.grad(layer(x), (x, layer.weight), grad_output)

    def compiled():
        return torch.autograd.grad(compiled_layer(x), (x, layer.weight), grad_output)

    label = f"LogLayer fwd+bwd {n}x{n_in}x{n_out} {str(dtype).removeprefix('torch.')}"
    return report(label, eager, compiled, min_run_time)


def lnn_cases(n_samples: int, dtype: torch.dtype, min_run_time: float) -> list[list[str]]:
    generator = torch.Generator().manual_seed(0)
    X = 1 + 9 * torch.rand(n_samples, 3, generator=generator, dtype=dtype)
    y = (3 * X[:, 0] ** 2 - 1.5 * X[:, 1] ** 0.5 * X[:, 2]).unsqueeze(-1)

    def make_step(model, optimizer, forward):
        def step():
            optimizer.zero_grad(set_to_none=True)
            loss = torch.nn.functional.mse_loss(forward(X), y)
            loss.backward()
            optimizer.step()
            return loss

        return step

    rows = []
    dtype_name = str(dtype).removeprefix("torch.")
    for mode in ("model", "step"):
        torch.manual_seed(0)
        eager_model = LNN(3, n_terms=4, check_input=False, dtype=dtype)
        eager_step = make_step(eager_model, torch.optim.Adam(eager_model.parameters(), lr=1e-3), eager_model)
        torch.manual_seed(0)
        model = LNN(3, n_terms=4, check_input=False, dtype=dtype)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        if mode == "model":
            compiled_step = make_step(model, optimizer, torch.compile(model))
        else:
            compiled_step = torch.compile(make_step(model, optimizer, model))
        label = f"LNN train step, {n_samples} samples {dtype_name}, compiled {mode}"
        rows.append(report(label, eager_step, compiled_step, min_run_time))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small layer shape and the float64 LNN only, for a smoke run")
    parser.add_argument("--min-run-time", type=float, default=0.5, help="seconds per steady-state timing (default 0.5)")
    add_common_arguments(parser)
    args = parser.parse_args()
    configure(args.threads, args.wall_clock)
    print(machine_info())
    min_run_time = 0.1 if args.quick else args.min_run_time
    rows = []
    for shape in QUICK_LAYER_SHAPES if args.quick else LAYER_SHAPES:
        rows.append(layer_case(*shape, torch.float32, min_run_time))
    rows += lnn_cases(1000, torch.float64, min_run_time)
    if not args.quick:
        rows += lnn_cases(1000, torch.float32, min_run_time)
    print()
    header = ["case", "compile time", "eager per call", "compiled per call", "compiled / eager", "break-even"]
    print(markdown_table(header, rows))
    print("\nCompile time is wall time; per-call times use the clock named above.")


if __name__ == "__main__":
    main()
