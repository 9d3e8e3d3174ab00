"""Tests of the simplification done by lognet.fit(simplify=True): snapping, dropping, the guarantee."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import lognet
from lognet._simplify import MAX_SNAP_DISTANCE, MAX_TRIES, _nearest_on_grid, simple_rationals

OPTIONS = lognet.EngineOptions(population=32, steps=60)


def data(law, n=120, d=2, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 5, (n, d))
    y = law(X)
    if noise:
        y = y + rng.normal(0, noise * np.sqrt(np.mean(y**2)), n)
    return X, y


def fit(X, y, **kwargs):
    kwargs.setdefault("loss", "mse")
    kwargs.setdefault("random_state", 0)
    kwargs.setdefault("options", OPTIONS)
    return lognet.fit(X, y, **kwargs)


def held_out_mse(result) -> float:
    return result.metrics["validation"]["rmse"] ** 2


def test_simple_rationals_simplest_first():
    options = simple_rationals(0.49, 6)
    assert options[0] == Fraction(1, 2)
    assert len(options) <= MAX_TRIES
    assert all(abs(float(f) - 0.49) <= MAX_SNAP_DISTANCE for f in options)
    assert [f.denominator for f in options] == sorted(f.denominator for f in options)


def test_simple_rationals_whole_number():
    assert simple_rationals(2.03, 6)[0] == Fraction(2)


def test_nearest_on_grid_cases():
    assert _nearest_on_grid(0.34, 3) == Fraction(1, 3)
    assert _nearest_on_grid(0.34, 2) == Fraction(1, 2)
    assert _nearest_on_grid(-0.74, 4) == Fraction(-3, 4)


def test_noiseless_monomial_snaps_exactly():
    X, y = data(lambda X: 2.0 * X[:, 0] ** 1.5 / X[:, 1] ** (1 / 3))
    result = fit(X, y)
    assert result.weight.tolist() == [[1.5, -1 / 3]]
    assert result.intercept is None
    assert result.raw is not None
    assert result.coef[0] == pytest.approx(2.0, rel=1e-10)


def test_simplification_steps_recorded():
    X, y = data(lambda X: 2.0 * X[:, 0] ** 1.5 / X[:, 1] ** (1 / 3))
    result = fit(X, y)
    assert result.simplification
    assert all(set(step) == {"action", "loss", "accepted"} for step in result.simplification)
    assert any(step["accepted"] and step["action"].startswith("snap") for step in result.simplification)


def test_noisy_sum_keeps_held_out_guarantee():
    law = lambda X: 0.5 * X[:, 0] * X[:, 1] ** 2 + 9.81 * X[:, 0]  # noqa: E731
    X, y = data(law, n=200, noise=0.01, seed=1)
    tol = 0.05
    result = fit(X, y, simplify_tol=tol)
    assert held_out_mse(result) <= (1 + tol) * held_out_mse(result.raw) * (1 + 1e-9)


def test_accepted_steps_within_limit():
    law = lambda X: 3.0 * X[:, 0] ** 2 * np.sqrt(X[:, 1])  # noqa: E731
    X, y = data(law, n=200, noise=0.02, seed=2)
    result = fit(X, y, simplify_tol=0.05)
    accepted = [s["loss"] for s in result.simplification if s["accepted"]]
    rejected = [s["loss"] for s in result.simplification if not s["accepted"]]
    assert accepted
    assert max(accepted) < min(rejected, default=np.inf)


def test_spurious_term_is_dropped():
    import torch

    from lognet._basis import Design
    from lognet._engine import Candidate
    from lognet._simplify import Simplifier

    X, y = data(lambda X: 3.0 * X[:, 0] ** 2 * X[:, 1], noise=0.001, seed=3)
    X, y = torch.from_numpy(X), torch.from_numpy(y)
    design = Design.from_inputs(X, "positive")
    weight = torch.tensor([[2.0, 1.0], [0.3, -0.7]], dtype=torch.float64)
    start = Candidate(weight, torch.tensor([3.0, 1e-4], dtype=torch.float64), None, 0.0, np.empty((0, 0)))
    score = lambda c: float(np.mean((((torch.exp(design.log_abs @ c.weight.T)) @ c.coef).numpy() - y.numpy()) ** 2))  # noqa: E731
    simplifier = Simplifier(design, y, "mse", float(y.std()), score, 1.05 * score(start), 6, 50)
    result = simplifier.drop_terms(start, torch.zeros_like(weight, dtype=torch.bool))[0]
    assert result.n_terms == 1
    assert np.allclose(result.weight.numpy(), [[2.0, 1.0]], atol=1e-3)


def test_explicit_term_count_is_kept():
    X, y = data(lambda X: 3.0 * X[:, 0] ** 2 * X[:, 1], noise=0.001, seed=3)
    result = fit(X, y, n_terms=2)
    assert result.raw.n_terms == 2
    assert result.n_terms == 2


def test_spurious_intercept_is_dropped():
    X, y = data(lambda X: 3.0 * X[:, 0] ** 2 * X[:, 1], noise=0.01, seed=4)
    result = fit(X, y)
    assert result.raw.intercept is not None
    assert result.intercept is None


def test_true_intercept_is_kept():
    X, y = data(lambda X: X[:, 0] ** 2 * X[:, 1] + 20.0, noise=0.001, seed=5)
    result = fit(X, y)
    assert result.intercept == pytest.approx(20.0, rel=0.05)
    assert result.weight.tolist() == [[2.0, 1.0]]


def test_unusual_exponent_stays_free():
    X, y = data(lambda X: X[:, 0] ** 0.14 * X[:, 1] ** 2)
    result = fit(X, y)
    assert result.weight[0, 0] == pytest.approx(0.14, abs=1e-6)
    assert result.weight[0, 1] == 2.0


def test_max_denominator_limits_snapping():
    X, y = data(lambda X: X[:, 0] ** 1.5 * X[:, 1], noise=0.01, seed=6)
    result = fit(X, y, max_denominator=1)
    assert result.weight[0, 0] != 1.5
    assert result.weight[0, 0] == pytest.approx(1.5, abs=0.05)


def test_simplify_false_returns_raw():
    X, y = data(lambda X: X[:, 0] ** 1.5 * X[:, 1], noise=0.01, seed=7)
    result = fit(X, y, simplify=False)
    assert result.raw is None
    assert result.simplification == []


@pytest.mark.parametrize("bad", [0, -2, 1.5])
def test_bad_max_denominator_raises(bad):
    X, y = data(lambda X: X[:, 0] * X[:, 1], n=40)
    with pytest.raises(ValueError, match="max_denominator must be a positive int"):
        fit(X, y, max_denominator=bad, options=lognet.EngineOptions(population=4, steps=2))


@pytest.mark.parametrize("bad", [-0.1, float("nan")])
def test_bad_simplify_tol_raises(bad):
    X, y = data(lambda X: X[:, 0] * X[:, 1], n=40)
    with pytest.raises(ValueError, match="simplify_tol must be >= 0"):
        fit(X, y, simplify_tol=bad, options=lognet.EngineOptions(population=4, steps=2))


def test_simple_rationals_include_nearest():
    assert Fraction(4, 5) in simple_rationals(0.8, 6)
    assert Fraction(1, 6) in simple_rationals(0.17, 6)


def test_free_exponent_beside_snapped_one():
    # 0.14 cannot be snapped, so snapping all exponents at once fails and 0.8 must be snapped
    # alone, to 4/5, which is not among the three simplest rationals near 0.8 (1, 2/3, 3/4).
    X, y = data(lambda X: X[:, 0] ** 0.8 * X[:, 1] ** 0.14, n=300, noise=0.001, seed=8)
    result = fit(X, y)
    assert result.weight[0, 0] == 0.8
    assert result.weight[0, 1] == pytest.approx(0.14, abs=0.005)
