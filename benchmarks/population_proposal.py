"""A leaner population loss and gradient, timed against lognet._population.loss_and_grad.

Run from the repository root:

    .venv/bin/python -m benchmarks.population_proposal [--quick] [--compile]

``lean_loss_and_grad`` computes the same variable-projection loss and closed-form gradient
as ``loss_and_grad`` for the positive domain with a bias and unsharded data. It is a
prototype for the engine, not used by lognet. It differs in layout and kernels only:

- the basis is built as (P, K, N) by one 2-D product (P*K, d) @ (d, N), so the Gram matrix,
  the right-hand side and the gradient are contiguous matrix products;
- ``torch.nan_to_num`` replaces ``torch.where(torch.isfinite(t), t, 0)``, one pass in place
  of four;
- the prediction is one ``baddbmm`` and temporaries are scaled in place.

The script checks that both agree and times them round-robin at each P on the problem of
``benchmarks.population_throughput`` (1,000 samples, K = 2, d = 3, float64). With
``--compile`` it also times ``torch.compile(lean_loss_and_grad)`` and its compile time.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

from lognet._population import RIDGE, loss_and_grad

from ._timing import add_common_arguments, configure, format_time, machine_info, markdown_table, timer
from .population_throughput import make_problem


def lean_loss_and_grad(log_abs_t, weight, target, sample_weight, pair, total):
    """Return (loss, grad) like loss_and_grad; ``log_abs_t`` is log|X|^T (d, N), ``pair`` is [s, s*t] (N, 2)."""
    P, K, d = weight.shape
    N = log_abs_t.shape[1]
    phi = torch.exp(weight.reshape(P * K, d) @ log_abs_t)
    weighted = phi * sample_weight
    right = (weighted @ pair).view(P, K, 2)
    weighted = weighted.view(P, K, N)
    gram = weighted @ weighted.transpose(-1, -2)

    corner = (sample_weight @ sample_weight).expand(P, 1, 1)
    gram = torch.cat([torch.cat([gram, right[..., :1]], -1), torch.cat([right[..., :1].transpose(-1, -2), corner], -1)], -2)
    moment = torch.cat([right[..., 1], (pair[:, 1] @ sample_weight).expand(P, 1)], -1)
    scale = torch.diagonal(gram, dim1=-2, dim2=-1).clamp_min(1e-300).sqrt()
    finite = torch.isfinite(gram).all(-1).all(-1) & torch.isfinite(moment).all(-1)
    eye = torch.eye(K + 1, dtype=gram.dtype)
    gram = torch.where(finite[:, None, None], gram, eye)
    moment = torch.where(finite[:, None], moment, torch.zeros_like(moment))
    scale = torch.where(finite[:, None], scale, torch.ones_like(scale))
    normalised = gram / (scale.unsqueeze(-1) * scale.unsqueeze(-2))
    moment_n = moment / scale
    solution = torch.linalg.solve(normalised + RIDGE * eye, moment_n.unsqueeze(-1)).squeeze(-1)
    loss = ((total - (moment_n * solution).sum(-1)) / total).clamp_min(0.0)
    loss = torch.where(finite & torch.isfinite(loss), loss, torch.full_like(loss, math.inf))
    params = solution / scale
    coef, intercept = params[:, :K], params[:, K]

    phi = phi.view(P, K, N)
    prediction = torch.baddbmm(intercept.view(P, 1, 1), coef.unsqueeze(1), phi).squeeze(1)
    scaled = (prediction - target).mul_((2 / total) * sample_weight**2)
    scaled = torch.nan_to_num_(scaled, nan=0.0, posinf=0.0, neginf=0.0)
    phi = torch.nan_to_num(phi, nan=0.0, posinf=0.0, neginf=0.0)
    weighted_coef = (phi * scaled.unsqueeze(1)).mul_(coef.unsqueeze(-1))
    grad = (weighted_coef.view(P * K, N) @ log_abs_t.T).view(P, K, d)
    return loss, grad


def _share_within(grad: torch.Tensor, other: torch.Tensor, tolerance: float = 1e-6) -> float:
    relative = (grad - other).abs().amax((1, 2)) / grad.abs().amax((1, 2)).clamp_min(1e-300)
    return float((relative < tolerance).double().mean())


def check_agreement(design, y, sample_weight, start, arguments) -> str:
    """Compare both versions, and loss_and_grad with itself on the samples in another order.

    Candidates with nearly collinear terms have ill-conditioned normal equations. Their
    coefficients and gradients therefore move with the rounding of any sum, and the second
    comparison shows how far rounding alone moves them.
    """
    loss, grad = loss_and_grad(design, start, y, sample_weight, True)
    lean_loss, lean_grad = lean_loss_and_grad(arguments[0], start, *arguments[1:])
    finite = torch.isfinite(loss)
    assert torch.equal(finite, torch.isfinite(lean_loss)), "the two versions disagree on which losses are finite"
    loss_error = float((loss[finite] - lean_loss[finite]).abs().max())
    order = torch.randperm(y.shape[0], generator=torch.Generator().manual_seed(1))
    _, reordered = loss_and_grad(design.subset(order), start, y[order], sample_weight[order], True)
    return (
        f"max loss difference {loss_error:.1e}; gradients within 1e-6 relative for "
        f"{_share_within(grad, lean_grad):.0%} of candidates "
        f"(loss_and_grad on reordered samples: {_share_within(grad, reordered):.0%})"
    )


def run(populations, rounds: int, min_run_time: float, compile_too: bool) -> None:
    print(machine_info())
    design, y, sample_weight, starts = make_problem(1000, populations)
    arguments = (design.log_abs.T.contiguous(), y, sample_weight, torch.stack([sample_weight, y * sample_weight], 1))
    arguments = arguments + ((arguments[3][:, 1] @ arguments[3][:, 1]),)
    compiled = torch.compile(lean_loss_and_grad, dynamic=False) if compile_too else None
    rows = []
    for p in populations:
        start = starts[p]
        print(f"  P={p}: {check_agreement(design, y, sample_weight, start, arguments)}", flush=True)
        env = {"current": loss_and_grad, "lean": lean_loss_and_grad, "design": design, "W": start, "y": y, "s": sample_weight}
        env.update(lt=arguments[0], pair=arguments[3], total=arguments[4], compiled=compiled)
        stmts = {"current": "current(design, W, y, s, True)", "lean": "lean(lt, W, y, s, pair, total)"}
        compile_seconds = None
        if compiled is not None:
            begin = time.perf_counter()
            compiled(arguments[0], start, *arguments[1:])
            compile_seconds = time.perf_counter() - begin
            stmts["compiled"] = "compiled(lt, W, y, s, pair, total)"
        timers = {name: timer(stmt, env) for name, stmt in stmts.items()}
        times = {name: [] for name in timers}
        for _ in range(rounds):
            for name, t in timers.items():
                times[name].append(t.blocked_autorange(min_run_time=min_run_time).median)
        row = [str(p), format_time(statistics.median(times["current"]))]
        for name in list(stmts)[1:]:
            ratio = statistics.median(a / b for a, b in zip(times[name], times["current"]))
            row.append(f"{format_time(statistics.median(times[name]))} ({ratio:.2f}x)")
        if compile_seconds is not None:
            row.append(f"{compile_seconds:.1f} s")
        rows.append(row)
    header = ["P", "loss_and_grad", "lean (/ current)"] + (["lean compiled (/ current)", "compile time"] if compiled else [])
    print()
    print(markdown_table(header, rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="P = 1 and 16, one short round, for a smoke run")
    parser.add_argument("--rounds", type=int, default=5, help="round-robin rounds (default 5)")
    parser.add_argument("--compile", action="store_true", help="also time torch.compile of the lean version")
    add_common_arguments(parser)
    args = parser.parse_args()
    configure(args.threads, args.wall_clock)
    populations = [1, 16] if args.quick else [1, 16, 128, 256]
    run(populations, 1 if args.quick else args.rounds, 0.05 if args.quick else 0.2, args.compile)


if __name__ == "__main__":
    main()
