"""Memory of LogLayer against nn.Linear and two plain-torch formulations: saved tensors and peak.

Run from the repository root:

    .venv/bin/python -m benchmarks.layer_memory [--quick]

Two measurements, in float32 by default (float64 doubles the bytes):

- Bytes saved for backward by one forward call, counted with
  ``torch.autograd.graph.saved_tensors_hooks`` (each tensor once), excluding and including
  the parameters.
- Peak memory of one training step (forward, then ``backward`` into ``.grad``), as the rise
  of the peak resident set size over the resident size before the step, in a fresh
  subprocess per configuration. The subprocess sets ``MALLOC_MMAP_THRESHOLD_=65536`` so that
  glibc returns every freed tensor to the system and the resident size follows live tensors.
  The input, the weight and the output gradient exist before the step and are not counted.

The broadcast form ``(x.unsqueeze(1) ** W).prod(-1)`` runs at a reduced N where its
(N, out, in) tensor would exceed ``--broadcast-mb``, and its numbers are scaled by the ratio of
sample counts (marked ``*``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys

import torch
from torch import nn

from lognet import LogLayer

from ._timing import machine_info, markdown_table

SHAPES = [(4096, 256, 256), (65536, 16, 16), (256, 1024, 1024), (64, 8, 8)]
QUICK_SHAPES = [(1024, 64, 64)]
VARIANTS = ("linear", "loglayer", "autograd", "broadcast")
MiB = 2**20


def build(variant: str, n: int, n_in: int, n_out: int, dtype: torch.dtype, input_grad: bool, broadcast_mb: float):
    """Return ``(forward callable, parameters, input, scale)``; scale > 1 marks a reduced N."""
    torch.manual_seed(0)
    scale = 1.0
    if variant == "broadcast":
        element_bytes = torch.finfo(dtype).bits // 8
        reduced = n
        while reduced > 1 and reduced * n_out * n_in * element_bytes > broadcast_mb * MiB:
            reduced //= 2
        scale, n = n / reduced, reduced
    x = (0.5 + 1.5 * torch.rand(n, n_in, dtype=dtype)).requires_grad_(input_grad)
    if variant == "linear":
        module = nn.Linear(n_in, n_out, bias=False, dtype=dtype)
        return module, [module.weight], x, scale
    if variant == "loglayer":
        module = LogLayer(n_in, n_out, check_input=False, dtype=dtype)
        return module, [module.weight], x, scale
    weight = nn.Parameter(torch.rand(n_out, n_in, dtype=dtype) * 2 - 1)
    if variant == "autograd":
        return (lambda t: torch.exp(torch.log(t) @ weight.T)), [weight], x, scale
    return (lambda t: (t.unsqueeze(1) ** weight).prod(-1)), [weight], x, scale


def saved_bytes(forward, parameters, x) -> tuple[int, int]:
    """Return (bytes saved besides parameters, bytes of saved parameters), each tensor once."""
    parameter_storages = {p.untyped_storage().data_ptr() for p in parameters}
    seen: set[tuple] = set()
    counts = {"other": 0, "parameters": 0}

    def pack(tensor):
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape), tensor.stride())
        if key not in seen:
            seen.add(key)
            kind = "parameters" if key[0] in parameter_storages else "other"
            counts[kind] += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        forward(x)
    return counts["other"], counts["parameters"]


def _resident_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not found in /proc/self/status")


def child(config: dict) -> None:
    """Run one training step and print its peak memory rise as JSON (subprocess entry point)."""
    torch.set_num_threads(1)
    dtype = getattr(torch, config["dtype"])
    n, n_in, n_out = config["shape"]
    forward, parameters, x, scale = build(config["variant"], n, n_in, n_out, dtype, config["input_grad"], config["broadcast_mb"])
    with torch.no_grad():
        grad_output = torch.randn_like(forward(x))
    # One unmeasured step first, so that kernels, BLAS buffers and the autograd engine's
    # lazy state are allocated outside the measurement.
    forward(x).backward(grad_output)
    for tensor in parameters + [x]:
        tensor.grad = None
    gc.collect()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets the peak resident size (VmHWM) to the current one
    before = _resident_bytes("VmRSS")
    forward(x).backward(grad_output)
    peak = _resident_bytes("VmHWM") - before
    print(json.dumps({"peak": peak, "scale": scale}))


def measure_peak(variant, shape, dtype_name, input_grad, broadcast_mb) -> tuple[float, float]:
    config = {"variant": variant, "shape": shape, "dtype": dtype_name, "input_grad": input_grad, "broadcast_mb": broadcast_mb}
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536", OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.layer_memory", "--child", json.dumps(config)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    values = json.loads(result.stdout.strip().splitlines()[-1])
    return values["peak"] * values["scale"], values["scale"]


def format_bytes(count: float) -> str:
    if count >= 1024 * MiB:
        return f"{count / (1024 * MiB):.3g} GiB"
    return f"{count / MiB:.3g} MiB" if count >= MiB / 10 else f"{count / 1024:.3g} KiB"


def run(shapes, dtype_name: str, broadcast_mb: float, peak: bool) -> None:
    print(machine_info())
    dtype = getattr(torch, dtype_name)
    for input_grad in (False, True):
        case = "input and weight" if input_grad else "weight only (input is data)"
        saved_rows, peak_rows = [], []
        for n, n_in, n_out in shapes:
            label = f"{n}x{n_in}x{n_out}"
            saved_row, peak_row = [label], [label]
            reference = reference_peak = None
            for variant in VARIANTS:
                forward, parameters, x, scale = build(variant, n, n_in, n_out, dtype, input_grad, broadcast_mb)
                other, params = saved_bytes(forward, parameters, x)
                other *= scale
                del forward, parameters, x
                reference = other if variant == "linear" else reference
                mark = "*" if scale != 1.0 else ""
                saved_row.append(f"{format_bytes(other)}{mark} / {format_bytes(other + params)}{mark} ({other / reference:.2f}x)")
                if peak:
                    value, _ = measure_peak(variant, (n, n_in, n_out), dtype_name, input_grad, broadcast_mb)
                    reference_peak = value if variant == "linear" else reference_peak
                    # A rise below one page reads 0, so tiny shapes get no ratio.
                    ratio = f"{value / reference_peak:.2f}x" if reference_peak > 0 else "n/a"
                    peak_row.append(f"{format_bytes(value)}{mark} ({ratio})")
            saved_rows.append(saved_row)
            peak_rows.append(peak_row)
            print(f"  done {label}, gradients of {case}", flush=True)
        print(f"\n### Saved for backward, gradients of {case}\n")
        print("Each cell: bytes excluding parameters / including parameters (excluding, relative to nn.Linear).\n")
        print(markdown_table(["N x in x out"] + list(VARIANTS), saved_rows))
        if peak:
            print(f"\n### Peak memory rise of one training step, gradients of {case}\n")
            print(markdown_table(["N x in x out"] + list(VARIANTS), peak_rows))
        print()
    print("* measured at reduced N and scaled by the ratio of sample counts.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one small shape, for a smoke run")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument(
        "--broadcast-mb", type=float, default=256, help="largest (N, out, in) tensor of the broadcast form in MiB (default 256)"
    )
    parser.add_argument("--no-peak", action="store_true", help="skip the subprocess peak measurement")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(json.loads(args.child))
        return
    torch.set_num_threads(1)
    run(QUICK_SHAPES if args.quick else SHAPES, args.dtype, args.broadcast_mb, not args.no_peak)


if __name__ == "__main__":
    main()
