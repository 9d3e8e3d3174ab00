"""The three regressors of the recovery benchmark, each run under one wall-clock budget.

Every runner takes the training data and a law's SymPy symbols and returns the found formula
(SymPy), a predict function, and the fit's wall time and process CPU time in seconds. All run
single-threaded. The budget is wall-clock time, because Operon's ``max_time`` is. On a loaded
machine a method gets less CPU time than its budget, and the CPU time column shows how much.

- lognet: ``lognet.fit(X, y, loss="mse")`` with its defaults. It has no time limit option, so
  it runs to completion and its time is reported as measured.
- gplearn: population 1000, functions add, sub, mul, div and sqrt, squared-error fitness,
  otherwise gplearn's defaults; generations are added one at a time (``warm_start``) until
  the budget is spent. It is given y / std(y), because its constants are drawn from (-1, 1)
  and its parsimony penalty is absolute, and its program is multiplied back.
- Operon (pyoperon): functions add, sub, mul, div, sqrt and pow, 10 Levenberg-Marquardt
  iterations on the constants of each offspring, ``max_time`` set to the budget, otherwise
  pyoperon's defaults (population 1000, minimum-description-length model selection).
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from .convert import gplearn_to_sympy, operon_to_sympy, placeholder_names

Runner = Callable[[np.ndarray, np.ndarray, list, list, int, int], tuple]


class Stopwatch:
    """Wall-clock and process CPU time since creation."""

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.process_time()

    def elapsed(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def run_lognet(X, y, names, symbols, seed: int, budget: int):
    import lognet

    clock = Stopwatch()
    result = lognet.fit(X, y, loss="mse", feature_names=names, random_state=seed)
    wall, cpu = clock.elapsed()
    # formula() names its symbols after the features, so they already are the law's symbols.
    return result.formula(), result.predict, wall, cpu


def run_gplearn(X, y, names, symbols, seed: int, budget: int):
    from gplearn.genetic import SymbolicRegressor

    scale = float(np.std(y)) or 1.0
    model = SymbolicRegressor(
        population_size=1000,
        generations=1,
        function_set=("add", "sub", "mul", "div", "sqrt"),
        metric="mse",
        warm_start=True,
        random_state=seed,
        n_jobs=1,
    )
    clock = Stopwatch()
    generations = 0
    while clock.elapsed()[0] < budget:
        generations += 1
        model.set_params(generations=generations)
        model.fit(X, y / scale)
    wall, cpu = clock.elapsed()
    expression = scale * gplearn_to_sympy(model._program, symbols)
    return expression, lambda Z: scale * model.predict(Z), wall, cpu


def run_operon(X, y, names, symbols, seed: int, budget: int):
    from pyoperon.sklearn import SymbolicRegressor

    model = SymbolicRegressor(
        allowed_symbols="add,sub,mul,div,sqrt,pow,constant,variable",
        optimizer_iterations=10,
        max_time=budget,
        n_threads=1,
        random_state=seed,
    )
    clock = Stopwatch()
    model.fit(X, y)
    wall, cpu = clock.elapsed()
    text = model.get_model_string(model.model_, 12, placeholder_names(X.shape[1]))
    return operon_to_sympy(text, symbols), model.predict, wall, cpu


METHODS: dict[str, Runner] = {"lognet": run_lognet, "gplearn": run_gplearn, "operon": run_operon}


def check_installed(methods: list[str]) -> dict[str, str]:
    """Return {method: error message} for the methods whose package cannot be imported."""
    modules = {"lognet": "lognet", "gplearn": "gplearn.genetic", "operon": "pyoperon.sklearn"}
    missing = {}
    for method in methods:
        try:
            __import__(modules[method])
        except ImportError as error:
            missing[method] = str(error)
    return missing


def r2_score(truth: np.ndarray, prediction: np.ndarray) -> float:
    prediction = np.asarray(prediction, dtype=np.float64)
    if prediction.shape != truth.shape or not np.all(np.isfinite(prediction)):
        return float("nan")
    return float(1 - np.sum((prediction - truth) ** 2) / np.sum((truth - truth.mean()) ** 2))

