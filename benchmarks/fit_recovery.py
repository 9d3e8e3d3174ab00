"""Exponent recovery, extrapolation and fit time of lognet.fit on random sums of power laws.

Run from the repository root:

    .venv/bin/python -m benchmarks.fit_recovery [--cases N] [--skip-baselines]

For each of 30 monomials and 30 sums of 2-3 monomials (1,000 samples, inputs U(1, 10)) it fits
with noise 0 and with Gaussian noise of 1% of RMS(y), checks every exponent within 0.01,
measures extrapolation to U(10, 100), and compares with scikit-learn's MLPRegressor and with
an LNN of the right size trained by plain Adam from U(-2, 2) on SPES.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch

import lognet

from .random_laws import exponents_recovered, make_cases

# The noise is additive Gaussian, for which MSE is the maximum-likelihood loss.
LOSS = "mse"


def median_relative_error(prediction: np.ndarray, truth: np.ndarray) -> float:
    return float(np.median(np.abs(prediction - truth) / np.abs(truth)))


def fit_mlp(X: np.ndarray, y: np.ndarray, seed: int):
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.neural_network import MLPRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    mlp = make_pipeline(StandardScaler(), MLPRegressor(hidden_layer_sizes=(64, 64), max_iter=2000, random_state=seed))
    return TransformedTargetRegressor(mlp, transformer=StandardScaler()).fit(X, y)


def fit_plain_adam(X: np.ndarray, y: np.ndarray, n_terms: int, seed: int, steps: int = 3000):
    """Train the widely copied recipe: an LNN of the right size, U(-2, 2) exponents, Adam on SPES."""
    torch.manual_seed(seed)
    model = lognet.LNN(X.shape[1], n_terms, init_bound=2.0, check_input=False, dtype=torch.float64)
    x, t = torch.from_numpy(X), torch.from_numpy(y)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = lognet.functional.spes_loss(model(x).squeeze(-1), t)
        if not torch.isfinite(loss):
            break
        loss.backward()
        optimizer.step()
    return model


def run(n_cases: int | None, baselines: bool) -> None:
    laws = make_cases()
    if n_cases:
        laws = laws[: n_cases // 2] + laws[30 : 30 + n_cases - n_cases // 2]
    rows = []
    for index, law in enumerate(laws):
        rng = np.random.default_rng(index)
        d = law.exponents.shape[1]
        X = rng.uniform(1, 10, (1000, d))
        X_far = rng.uniform(10, 100, (1000, d))
        y_clean = law(X)
        for noise in (0.0, 0.01):
            y = y_clean + rng.normal(0, noise * np.sqrt(np.mean(y_clean**2)), y_clean.shape) if noise else y_clean
            start, start_cpu = time.perf_counter(), time.process_time()
            result = lognet.fit(X, y, loss=LOSS, random_state=index)
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
            row = {
                "case": index,
                "kind": "monomial" if law.coef.size == 1 else "sum",
                "noise": noise,
                "recovered": exponents_recovered(result.weight, law.exponents),
                "n_terms": result.n_terms,
                "true_terms": law.coef.size,
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
                "raw_recovered": exponents_recovered(result.raw.weight, law.exponents) if result.raw is not None else None,
                "extrapolation": median_relative_error(result.predict(X_far), law(X_far)),
            }
            if baselines and noise == 0:
                row["mlp_extrapolation"] = median_relative_error(fit_mlp(X, y, index).predict(X_far), law(X_far))
                model = fit_plain_adam(X, y, law.coef.size, index)
                weight = model.log_layer.weight.detach().numpy()
                with torch.no_grad():
                    prediction = model(torch.from_numpy(X)).squeeze(-1).numpy()
                ss = np.sum((y - y.mean()) ** 2)
                row["adam_recovered"] = exponents_recovered(weight, law.exponents)
                row["adam_r2"] = float(1 - np.sum((prediction - y) ** 2) / ss) if np.all(np.isfinite(prediction)) else float("nan")
            rows.append(row)
            print(
                f"case {index:2d} {row['kind']:8s} noise {noise:<5} recovered={row['recovered']!s:5} "
                f"terms {row['n_terms']}/{row['true_terms']} {seconds:5.2f}s extrap {row['extrapolation']:.1e}  {law.describe()}",
                flush=True,
            )
    report(rows, baselines)


def report(rows: list[dict], baselines: bool) -> None:
    print("\n| cases | noise | exponents within 0.01 | before simplification | median wall time (s) | median CPU time (s) | median extrapolation rel. error |")
    print("|---|---|---|---|---|---|---|")
    for kind in ("monomial", "sum", "all"):
        for noise in (0.0, 0.01):
            sel = [r for r in rows if r["noise"] == noise and (kind == "all" or r["kind"] == kind)]
            if not sel:
                continue
            hits = sum(r["recovered"] for r in sel)
            raw_hits = sum(bool(r["raw_recovered"]) for r in sel)
            print(
                f"| {kind} | {noise:g} | {hits}/{len(sel)} ({100 * hits / len(sel):.0f}%) | {raw_hits}/{len(sel)} | "
                f"{statistics.median(r['seconds'] for r in sel):.2f} | {statistics.median(r['cpu_seconds'] for r in sel):.2f} | "
                f"{statistics.median(r['extrapolation'] for r in sel):.1e} |"
            )
    if baselines:
        clean = [r for r in rows if r["noise"] == 0]
        print("\n| method (noise 0) | exponents within 0.01 | median extrapolation rel. error | R^2 < 0.5 |")
        print("|---|---|---|---|")
        hits = sum(r["recovered"] for r in clean)
        print(f"| lognet.fit | {hits}/{len(clean)} | {statistics.median(r['extrapolation'] for r in clean):.1e} | - |")
        print(f"| MLPRegressor (64, 64) | - | {statistics.median(r['mlp_extrapolation'] for r in clean):.1e} | - |")
        adam_hits = sum(r["adam_recovered"] for r in clean)
        bad = sum(not (r["adam_r2"] >= 0.5) for r in clean)
        print(f"| plain Adam, U(-2, 2), SPES | {adam_hits}/{len(clean)} | - | {bad}/{len(clean)} |")
    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=None, help="run only this many cases (half monomials, half sums)")
    parser.add_argument("--skip-baselines", action="store_true", help="do not run MLPRegressor and plain Adam")
    args = parser.parse_args()
    run(args.cases, not args.skip_baselines)


if __name__ == "__main__":
    main()
