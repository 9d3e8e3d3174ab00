"""Exact recovery of physics laws by lognet, gplearn and Operon under one time budget per problem.

Run from the repository root (about 40 minutes on 2 shared cores with the defaults):

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.sr_recovery --out sr_results.jsonl

For every law of :mod:`benchmarks.sr_corpus`, noise level and seed it samples 250 training
points, adds Gaussian noise of sigma = level * RMS(y) to the training target, fits each
method, and scores the found formula with :func:`lognet.exact_match` against the true law,
with the structure check of :func:`benchmarks.sr.convert.same_structure`, and by R^2 on 1000
noise-free test points from the same ranges. Rows are appended to a JSON-lines file as they
finish, so an interrupted run resumes where it stopped. ``--report`` prints the tables of an
existing file.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import statistics
import sys
import traceback
from pathlib import Path

import numpy as np

from lognet import exact_match

from ._timing import configure, machine_info, markdown_table
from .sr.convert import same_structure
from .sr.methods import METHODS, check_installed, r2_score
from .sr_corpus import LAWS

NOISES = (0.0, 0.001, 0.01, 0.1)
# A symbolic comparison running longer than this counts as no match (SymPy's simplify can
# take minutes on a large GP program).
COMPARE_TIMEOUT_S = 60


def make_data(law_index: int, noise: float, seed: int, n_train: int, n_test: int):
    """Sample one problem; the inputs depend only on (seed, law), the noise also on its level."""
    law = LAWS[law_index]
    rng = np.random.default_rng([seed, law_index])
    X = law.sample(n_train, rng)
    X_test = law.sample(n_test, rng)
    y_clean = law.evaluate(X)
    noise_rng = np.random.default_rng([seed, law_index, round(noise * 1e6)])
    y = y_clean + noise_rng.normal(0.0, noise * math.sqrt(float(np.mean(y_clean**2))), n_train)
    return X, y, X_test, law.evaluate(X_test)


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout


def compare(found, truth) -> tuple[bool, bool, str | None]:
    """Return (exact, same structure, note) with a time limit on the symbolic work."""
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(COMPARE_TIMEOUT_S)
    try:
        return exact_match(found, truth), same_structure(found, truth), None
    except _Timeout:
        return False, False, f"comparison timed out after {COMPARE_TIMEOUT_S} s"
    finally:
        signal.alarm(0)


def run_problem(method: str, law_index: int, noise: float, seed: int, budget: int, n_train: int, n_test: int) -> dict:
    law = LAWS[law_index]
    X, y, X_test, y_test = make_data(law_index, noise, seed, n_train, n_test)
    row = {"method": method, "law": law.name, "n_terms": law.n_terms, "noise": noise, "seed": seed, "budget_s": budget}
    try:
        found, predict, seconds, cpu_seconds = METHODS[method](X, y, law.variables, law.symbols(), seed, budget)
    except Exception as error:  # a failed fit is a result of the benchmark, not a crash of it
        row.update(exact=False, structure=False, r2=float("nan"), seconds=float("nan"), cpu_seconds=float("nan"), formula=None)
        row["error"] = f"{type(error).__name__}: {error}"
        traceback.print_exc(file=sys.stderr)
        return row
    exact, structure, note = compare(found, law.expression())
    with np.errstate(all="ignore"):
        r2 = r2_score(y_test, predict(X_test))
    row.update(exact=exact, structure=structure, r2=r2, seconds=seconds, cpu_seconds=cpu_seconds, formula=str(found))
    if note:
        row["error"] = note
    return row


def _key(row: dict) -> tuple:
    return row["method"], row["law"], row["noise"], row["seed"]


def load_rows(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _rate(rows: list[dict], key: str) -> str:
    hits = sum(bool(r[key]) for r in rows)
    return f"{hits}/{len(rows)} ({100 * hits / len(rows):.0f}%)"


def _median(values) -> float:
    values = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    return statistics.median(values) if values else float("nan")


def report(rows: list[dict]) -> str:
    """Return the Markdown tables: per method and noise level, then by law size for each method."""
    methods = [m for m in METHODS if any(r["method"] == m for r in rows)]
    noises = sorted({r["noise"] for r in rows})
    header = [
        "method", "noise", "exact recovery", "same monomials", "median test R^2",
        "median wall time (s)", "max wall time (s)", "median CPU time (s)",
    ]
    body = []
    for method in methods:
        for noise in noises:
            sel = [r for r in rows if r["method"] == method and r["noise"] == noise]
            if not sel:
                continue
            times = [r["seconds"] for r in sel if math.isfinite(r["seconds"])]
            body.append([
                method, f"{noise:g}", _rate(sel, "exact"), _rate(sel, "structure"),
                f"{_median(r['r2'] for r in sel):.6f}", f"{_median(times):.2f}", f"{max(times, default=float('nan')):.2f}",
                f"{_median(r.get('cpu_seconds', float('nan')) for r in sel):.2f}",
            ])
    split_header = ["method", "noise", "monomials: exact", "sums of 2-4 terms: exact", "sums: same monomials"]
    split = []
    for method in methods:
        for noise in noises:
            mono = [r for r in rows if r["method"] == method and r["noise"] == noise and r["n_terms"] == 1]
            sums = [r for r in rows if r["method"] == method and r["noise"] == noise and r["n_terms"] > 1]
            if mono and sums:
                split.append([method, f"{noise:g}", _rate(mono, "exact"), _rate(sums, "exact"), _rate(sums, "structure")])
    errors = sum("error" in r for r in rows)
    return "\n\n".join([markdown_table(header, body), markdown_table(split_header, split), f"rows with an error or comparison timeout: {errors}"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("sr_results.jsonl"), help="JSON-lines file the rows are appended to")
    parser.add_argument("--laws", nargs="*", default=None, help="law names to run (default: all)")
    parser.add_argument("--noise", type=float, nargs="*", default=list(NOISES), help="noise levels, as fractions of RMS(y)")
    parser.add_argument("--seeds", type=int, default=2, help="number of seeds per law and noise level")
    parser.add_argument("--budget", type=int, default=2, help="wall-clock budget per problem for gplearn and Operon, in whole seconds")
    parser.add_argument("--methods", nargs="*", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--n-train", type=int, default=250, help="training samples per problem")
    parser.add_argument("--n-test", type=int, default=1000, help="noise-free test samples per problem")
    parser.add_argument("--report", action="store_true", help="print the tables of --out and exit")
    args = parser.parse_args()

    if args.report:
        print(report(load_rows(args.out)))
        return
    missing = check_installed(args.methods)
    for method, message in missing.items():
        print(f"skipping {method}: it cannot be imported ({message}); install it with .venv/bin/pip install "
              f"{'pyoperon' if method == 'operon' else method}", file=sys.stderr)
    methods = [m for m in args.methods if m not in missing]
    configure(threads=1, wall_clock=True)
    names = [law.name for law in LAWS]
    unknown = sorted(set(args.laws or []) - set(names))
    if unknown:
        parser.error(f"unknown law names {unknown}; choose from {names}")
    indices = [i for i, name in enumerate(names) if args.laws is None or name in args.laws]

    done = {_key(r) for r in load_rows(args.out)}
    print(f"# {machine_info()}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}", flush=True)
    with args.out.open("a") as sink:
        for seed in range(args.seeds):
            for noise in args.noise:
                for index in indices:
                    for method in methods:
                        if (method, names[index], noise, seed) in done:
                            continue
                        row = run_problem(method, index, noise, seed, args.budget, args.n_train, args.n_test)
                        sink.write(json.dumps(row) + "\n")
                        sink.flush()
                        print(
                            f"{method:8s} {row['law']:24s} noise {noise:<6g} seed {seed} exact={row['exact']!s:5} "
                            f"structure={row['structure']!s:5} R2={row['r2']:.6f} {row['seconds']:.2f}s "
                            f"(CPU {row['cpu_seconds']:.2f}s)  {row.get('error', '')}",
                            flush=True,
                        )
    print()
    print(report(load_rows(args.out)))


if __name__ == "__main__":
    main()
