"""Compare initial exponent ranges U(-b, b) for an LNN trained with Adam on SPES.

Run from the repository root:

    python -m benchmarks.init_experiment            # 20 seeds x 3 laws x 3 bounds
    python -m benchmarks.init_experiment --seeds 5  # a quicker look

For each law, seed and bound it draws 200 training inputs from U(1, 10) and builds an LNN
with as many product units as the law has terms. It trains the LNN for a fixed number of
Adam steps on the mean SPES loss. It then records the final training loss and the relative
RMS error on 1,000 fresh test inputs from the same range. A run succeeds when that test
error is below 1 %.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import dataclass

import torch

from lognet import LNN
from lognet.functional import spes_loss


@dataclass(frozen=True)
class PowerLaw:
    """y = sum_k coef[k] * prod_i x_i ** exponents[k][i]."""

    name: str
    exponents: tuple[tuple[float, ...], ...]
    coef: tuple[float, ...]

    @property
    def n_features(self) -> int:
        return len(self.exponents[0])

    @property
    def n_terms(self) -> int:
        return len(self.coef)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        exponents = torch.tensor(self.exponents, dtype=x.dtype)
        coef = torch.tensor(self.coef, dtype=x.dtype)
        return torch.exp(torch.log(x) @ exponents.T) @ coef


LAWS = [
    PowerLaw("2 x1^1.5 x2^-0.5", ((1.5, -0.5),), (2.0,)),
    PowerLaw("x1^2 + 3 x2^-1", ((2.0, 0.0), (0.0, -1.0)), (1.0, 3.0)),
    PowerLaw("0.5 x1 x2^2 x3^-1.5", ((1.0, 2.0, -1.5),), (0.5,)),
]

BOUNDS = [2.0, 1.0, 0.5]


def train_once(law: PowerLaw, bound: float, seed: int, steps: int, lr: float) -> tuple[float, float, bool]:
    """Train one LNN and return (final SPES, relative RMS test error, whether a coefficient started < 0)."""
    generator = torch.Generator().manual_seed(seed)
    x_train = 1.0 + 9.0 * torch.rand(200, law.n_features, generator=generator, dtype=torch.float64)
    x_test = 1.0 + 9.0 * torch.rand(1000, law.n_features, generator=generator, dtype=torch.float64)
    y_train = law(x_train)[:, None]
    y_test = law(x_test)[:, None]

    torch.manual_seed(seed)
    # check_input=False: the inputs are drawn from U(1, 10), so the per-step check only costs time.
    model = LNN(law.n_features, law.n_terms, init_bound=bound, check_input=False, dtype=torch.float64)
    negative_start = bool((model.linear.weight < 0).any())
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = spes_loss(model(x_train), y_train)
        loss.backward()
        optimizer.step()

    with torch.no_grad():
        final_loss = spes_loss(model(x_train), y_train).item()
        relative_error = ((model(x_test) - y_test) / y_test).pow(2).mean().sqrt().item()
    if not math.isfinite(relative_error):
        relative_error = math.inf
    return final_loss, relative_error, negative_start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeds per law and bound (default: 20)")
    parser.add_argument("--steps", type=int, default=2000, help="Adam steps per run (default: 2000)")
    parser.add_argument("--lr", type=float, default=0.02, help="Adam learning rate (default: 0.02)")
    parser.add_argument("--threshold", type=float, default=0.01, help="relative RMS test error for success (default: 0.01)")
    args = parser.parse_args()
    torch.set_num_threads(1)

    print(f"{args.seeds} seeds, {args.steps} Adam steps, lr={args.lr}, success: relative RMS test error < {args.threshold}")
    print()
    # Every law here has positive coefficients, so a run whose output layer starts with a
    # negative coefficient must cross zero. The last column counts such runs among the failures.
    print("| law | init | success | median final SPES | median test error | failures with a negative start |")
    print("| --- | --- | --- | --- | --- | --- |")
    totals = {bound: 0 for bound in BOUNDS}
    start = time.perf_counter()
    for law in LAWS:
        for bound in BOUNDS:
            runs = [train_once(law, bound, seed, args.steps, args.lr) for seed in range(args.seeds)]
            losses = [loss if math.isfinite(loss) else math.inf for loss, _, _ in runs]
            errors = [error for _, error, _ in runs]
            successes = sum(error < args.threshold for error in errors)
            failures = [negative for _, error, negative in runs if not error < args.threshold]
            totals[bound] += successes
            print(
                f"| {law.name} | U(-{bound:g}, {bound:g}) | {successes}/{args.seeds} | "
                f"{statistics.median(losses):.2e} | {statistics.median(errors):.2e} | "
                f"{sum(failures)}/{len(failures)} |"
            )
    print()
    for bound in BOUNDS:
        print(f"U(-{bound:g}, {bound:g}): {totals[bound]}/{args.seeds * len(LAWS)} runs succeeded")
    print(f"elapsed {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
