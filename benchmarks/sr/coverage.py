"""Coverage of lognet's 95% confidence intervals over repeated noisy fits through lognet.fit.

Run from the repository root:

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.sr.coverage [--reps 1000]

Two models, each refitted on fresh data with additive Gaussian noise and loss="mse"
(simplify=False, so every parameter is free, as the intervals assume):

- one term: y = 2 * a^1.5 * b^-0.5, 100 samples, no intercept;
- two terms and an intercept: y = a^2 + 3 * sqrt(b) + 1, 150 samples (the fitted terms are
  matched to the true ones by their exponents before counting).

For every parameter it counts how often the interval contains the true value. A correct
interval covers 95% of the time, give or take 1.4 points at 1000 repetitions.
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings

import numpy as np

import lognet

from .._timing import configure, machine_info, markdown_table

OPTIONS = lognet.EngineOptions(population=32, steps=60)


def one_term(rng):
    X = rng.uniform(1, 5, (100, 2))
    y = 2.0 * X[:, 0] ** 1.5 * X[:, 1] ** -0.5
    truth = {"weight": np.array([[1.5, -0.5]]), "coef": np.array([2.0]), "intercept": None}
    return X, y, truth, {"n_terms": 1, "bias": False}


def two_terms(rng):
    X = rng.uniform(1, 5, (150, 2))
    y = X[:, 0] ** 2 + 3.0 * np.sqrt(X[:, 1]) + 1.0
    truth = {"weight": np.array([[2.0, 0.0], [0.0, 0.5]]), "coef": np.array([1.0, 3.0]), "intercept": 1.0}
    return X, y, truth, {"n_terms": 2, "bias": True}


def _match_terms(weight: np.ndarray, truth: np.ndarray) -> list[int]:
    """Order of the fitted terms that puts each next to the true term with the nearest exponents."""
    best = min(itertools.permutations(range(len(truth))), key=lambda order: np.abs(weight[list(order)] - truth).sum())
    return list(best)


def run_case(make, reps: int, noise: float, seed: int) -> dict[str, list[bool]]:
    rng = np.random.default_rng(seed)
    inside: dict[str, list[bool]] = {}
    for rep in range(reps):
        X, y_clean, truth, fit_args = make(rng)
        y = y_clean + rng.normal(0, noise * np.sqrt(np.mean(y_clean**2)), y_clean.shape)
        result = lognet.fit(
            X, y, loss="mse", simplify=False, validation_fraction=0.0, random_state=rep, options=OPTIONS, **fit_args
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            intervals = result.confidence_intervals(0.95)
        order = _match_terms(result.weight, truth["weight"])
        for k, j in enumerate(order):
            for i in range(truth["weight"].shape[1]):
                low, high = intervals["weight"][j, i]
                inside.setdefault(f"exponent [{k}, {i}]", []).append(bool(low <= truth["weight"][k, i] <= high))
            low, high = intervals["coef"][j]
            inside.setdefault(f"coefficient [{k}]", []).append(bool(low <= truth["coef"][k] <= high))
        if truth["intercept"] is not None:
            low, high = intervals["intercept"]
            inside.setdefault("intercept", []).append(bool(low <= truth["intercept"] <= high))
    return inside


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000, help="repetitions per model")
    parser.add_argument("--noise", type=float, default=0.05, help="noise sigma as a fraction of RMS(y)")
    args = parser.parse_args()
    configure(threads=1, wall_clock=True)
    print(f"# {machine_info()}")
    rows = []
    for name, make in (("one term", one_term), ("two terms + intercept", two_terms)):
        start = time.perf_counter()
        inside = run_case(make, args.reps, args.noise, seed=0)
        seconds = time.perf_counter() - start
        for parameter, hits in inside.items():
            rows.append([name, parameter, f"{100 * np.mean(hits):.1f}%", str(len(hits))])
        print(f"{name}: {args.reps} fits in {seconds:.0f} s", flush=True)
    print(markdown_table(["model", "parameter", "coverage of the 95% interval", "fits"], rows))


if __name__ == "__main__":
    main()
