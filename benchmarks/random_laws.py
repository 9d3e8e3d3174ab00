"""Random sums of power laws for the recovery benchmarks, and a check of recovered exponents."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXPONENTS = np.arange(-6, 9) / 2  # -3, -2.5, ..., 4


@dataclass
class Law:
    """y = sum_k coef[k] * prod_i x_i ** exponents[k, i]."""

    exponents: np.ndarray
    coef: np.ndarray

    def __call__(self, X: np.ndarray) -> np.ndarray:
        return (np.exp(np.log(X) @ self.exponents.T) * self.coef).sum(axis=1)

    def describe(self) -> str:
        terms = []
        for c, row in zip(self.coef, self.exponents):
            factors = [f"x{i}^{e:g}" for i, e in enumerate(row) if e != 0]
            terms.append(f"{c:+.3g}*" + "*".join(factors or ["1"]))
        return " ".join(terms)


def random_law(rng: np.random.Generator, n_terms: int, min_share: float = 0.01) -> Law:
    """Draw a law with 1-5 variables whose every term carries at least ``min_share`` of RMS(y).

    A term far below the others (say 1e-6 of the target) is not identifiable from data with
    any method, so such draws are rejected and redrawn.
    """
    while True:
        n_vars = int(rng.integers(1, 6))
        exponents = rng.choice(EXPONENTS, size=(n_terms, n_vars))
        if np.any(np.all(exponents == 0, axis=1)) or len({tuple(r) for r in exponents}) < n_terms:
            continue
        coef = rng.uniform(0.5, 5.0, n_terms) * rng.choice([-1.0, 1.0], n_terms)
        law = Law(exponents, coef)
        X = rng.uniform(1, 10, (1000, n_vars))
        y = law(X)
        shares = np.sqrt(np.mean((np.exp(np.log(X) @ exponents.T) * coef) ** 2, axis=0)) / np.sqrt(np.mean(y**2))
        if np.all(shares >= min_share) and np.all(y != 0):
            return law


def exponents_recovered(found: np.ndarray, truth: np.ndarray, tol: float = 0.01) -> bool:
    """True when the term counts agree and each true term has its own fitted term within ``tol``."""
    if found.shape != truth.shape:
        return False
    remaining = list(range(found.shape[0]))
    for row in truth:
        match = next((j for j in remaining if np.all(np.abs(found[j] - row) <= tol)), None)
        if match is None:
            return False
        remaining.remove(match)
    return True


def make_cases(seed: int = 2024, n_monomials: int = 30, n_sums: int = 30) -> list[Law]:
    rng = np.random.default_rng(seed)
    laws = [random_law(rng, 1) for _ in range(n_monomials)]
    laws += [random_law(rng, int(rng.integers(2, 4))) for _ in range(n_sums)]
    return laws
