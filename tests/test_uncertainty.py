"""Tests of the standard errors, confidence intervals and terms table of a FitResult."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from scipy import stats

import lognet
from lognet import FitResult
from lognet._basis import Design, jacobian
from lognet._refine import Residuals, refine


def ols_with_errors(A: np.ndarray, b: np.ndarray):
    """Ordinary least squares by hand: estimates, standard errors and residual degrees of freedom."""
    solution, *_ = np.linalg.lstsq(A, b, rcond=None)
    residual = b - A @ solution
    dof = A.shape[0] - A.shape[1]
    sigma2 = residual @ residual / dof
    errors = np.sqrt(np.diag(sigma2 * np.linalg.inv(A.T @ A)))
    return solution, errors, dof


@pytest.fixture(scope="module")
def log_monomial():
    rng = np.random.default_rng(0)
    X = rng.uniform(0.5, 4.0, (60, 2))
    y = 2.0 * X[:, 0] ** 1.5 * X[:, 1] ** -0.7 * np.exp(rng.normal(0, 0.05, 60))
    options = lognet.EngineOptions(population=16, steps=30)
    result = lognet.fit(
        X, y, n_terms=1, loss="msle", bias=False, simplify=False, validation_fraction=0.0, random_state=0, options=options
    )
    A = np.column_stack([np.log(X), np.ones(60)])
    return result, ols_with_errors(A, np.log(y))


def test_msle_monomial_matches_log_ols(log_monomial):
    result, (solution, errors, _) = log_monomial
    np.testing.assert_allclose(result.weight[0], solution[:2], rtol=1e-8)
    np.testing.assert_allclose(result.standard_errors()["weight"][0], errors[:2], rtol=1e-6)


def test_msle_coefficient_error_is_delta_method(log_monomial):
    result, (solution, errors, _) = log_monomial
    # c = exp(a), so the delta method gives se(c) = c * se(a).
    assert result.coef[0] == pytest.approx(np.exp(solution[2]), rel=1e-8)
    assert result.standard_errors()["coef"][0] == pytest.approx(result.coef[0] * errors[2], rel=1e-6)


def test_msle_intervals_use_t_quantile(log_monomial):
    result, (solution, errors, dof) = log_monomial
    quantile = stats.t.ppf(0.975, dof)
    intervals = result.confidence_intervals()["weight"][0]
    np.testing.assert_allclose(intervals[:, 0], solution[:2] - quantile * errors[:2], rtol=1e-6)
    np.testing.assert_allclose(intervals[:, 1], solution[:2] + quantile * errors[:2], rtol=1e-6)


def test_interval_level_changes_width(log_monomial):
    result, _ = log_monomial
    narrow = np.diff(result.confidence_intervals(0.5)["weight"], axis=-1)
    wide = np.diff(result.confidence_intervals(0.99)["weight"], axis=-1)
    assert np.all(wide > narrow)


def fit_one_term(rng, true_exponent: float, sigma: float, n: int = 30) -> FitResult:
    """Fit y = 2 x^w + noise by Levenberg-Marquardt alone, started at the truth."""
    x = rng.uniform(1.0, 5.0, n)
    y = 2.0 * x**true_exponent + rng.normal(0, sigma, n)
    design = Design.from_inputs(torch.from_numpy(x[:, None]), "positive")
    target = torch.from_numpy(y)
    residuals = Residuals(design, target, "mse", 1, True, float(y.std()))
    start = torch.tensor([[true_exponent]], dtype=torch.float64)
    weight, coef, intercept, cost, jac = refine(residuals, start, torch.tensor([2.0], dtype=torch.float64), 0.0, 100)
    return FitResult(
        weight=weight.numpy(),
        coef=coef.numpy(),
        intercept=intercept,
        feature_names=("x",),
        loss="mse",
        jacobian=jac,
        residual_variance=2 * cost / (n - jac.shape[1]),
    )


def test_coverage_of_exponent_intervals():
    rng = np.random.default_rng(1)
    inside = []
    for _ in range(200):
        result = fit_one_term(rng, 1.5, sigma=0.5)
        low, high = result.confidence_intervals(0.95)["weight"][0, 0]
        inside.append(low <= 1.5 <= high)
    assert 0.90 <= np.mean(inside) <= 0.99


def two_identical_terms() -> FitResult:
    rng = np.random.default_rng(2)
    X = rng.uniform(1, 3, (40, 2))
    weight = torch.tensor([[1.0, 2.0], [1.0, 2.0]], dtype=torch.float64)
    coef = torch.tensor([1.0, 2.0], dtype=torch.float64)
    _, jac = jacobian(Design.from_inputs(torch.from_numpy(X), "positive"), weight, coef, True)
    return FitResult(weight=weight.numpy(), coef=coef.numpy(), intercept=0.5, feature_names=("a", "b"), jacobian=jac.numpy(), residual_variance=0.1)


def test_rank_deficient_gives_nan_and_warning():
    result = two_identical_terms()
    with pytest.warns(RuntimeWarning, match="the Jacobian has rank 4 for 7 parameters"):
        errors = result.standard_errors()
    assert np.all(np.isnan(errors["weight"]))
    assert np.all(np.isnan(errors["coef"]))
    assert np.isfinite(errors["intercept"])
    assert errors["intercept"] > 0


def test_rank_deficient_names_parameters():
    result = two_identical_terms()
    with pytest.warns(RuntimeWarning, match="exponent of a in term 0, exponent of b in term 0"):
        result.confidence_intervals()


def test_constant_feature_is_unidentified():
    rng = np.random.default_rng(3)
    X = np.column_stack([rng.uniform(1, 3, 30), np.ones(30)])
    weight = torch.tensor([[2.0, 0.5]], dtype=torch.float64)
    _, jac = jacobian(Design.from_inputs(torch.from_numpy(X), "positive"), weight, torch.tensor([3.0], dtype=torch.float64), False)
    result = FitResult(weight=weight.numpy(), coef=[3.0], intercept=None, feature_names=("a", "b"), jacobian=jac.numpy(), residual_variance=0.01)
    with pytest.warns(RuntimeWarning, match="exponent of b in term 0"):
        errors = result.standard_errors()
    assert np.isnan(errors["weight"][0, 1])
    assert np.isfinite(errors["weight"][0, 0])
    assert np.isfinite(errors["coef"][0])


def test_full_rank_has_no_warning():
    result = fit_one_term(np.random.default_rng(4), 0.5, sigma=0.1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        errors = result.standard_errors()
    assert np.all(np.isfinite(errors["weight"]))


def test_too_few_samples_gives_nan():
    jac = np.ones((3, 3))
    result = FitResult(weight=[[1.0]], coef=[1.0], intercept=0.0, feature_names=("x",), jacobian=jac, residual_variance=0.0)
    with pytest.warns(RuntimeWarning, match="3 training samples for 3 parameters"):
        intervals = result.confidence_intervals()
    assert np.all(np.isnan(intervals["weight"]))
    assert np.all(np.isnan(intervals["intercept"]))


def test_missing_jacobian_raises():
    result = FitResult(weight=[[1.0]], coef=[1.0], intercept=None, feature_names=("x",))
    with pytest.raises(ValueError, match="this FitResult has no Jacobian or residual variance"):
        result.standard_errors()


def test_wrong_jacobian_shape_raises():
    result = FitResult(weight=[[1.0]], coef=[1.0], intercept=None, feature_names=("x",), jacobian=np.ones((10, 3)), residual_variance=1.0)
    with pytest.raises(ValueError, match=r"the Jacobian has shape \(10, 3\), but this model has 2 parameters"):
        result.standard_errors()


@pytest.mark.parametrize(
    "level, error",
    [(0.0, ValueError), (1.0, ValueError), (95, ValueError), ("0.95", TypeError), (True, TypeError)],
)
def test_bad_level_raises(level, error):
    result = fit_one_term(np.random.default_rng(5), 1.0, sigma=0.1)
    with pytest.raises(error, match="level must be"):
        result.confidence_intervals(level)


def test_terms_table_layout(log_monomial):
    result, _ = log_monomial
    table = result.terms_table()
    assert list(table.index) == ["term 0"]
    assert list(table.columns.get_level_values(0).unique()) == ["coef", "x0", "x1"]
    assert list(table["x0"].columns) == ["estimate", "low", "high"]


def test_terms_table_matches_intervals():
    result = fit_one_term(np.random.default_rng(6), 1.5, sigma=0.2)
    table = result.terms_table(level=0.9)
    intervals = result.confidence_intervals(0.9)
    assert list(table.index) == ["term 0", "intercept"]
    assert table.loc["term 0", ("x", "estimate")] == result.weight[0, 0]
    np.testing.assert_allclose(table.loc["term 0", "x"][["low", "high"]], intervals["weight"][0, 0])
    np.testing.assert_allclose(table.loc["term 0", "coef"][["low", "high"]], intervals["coef"][0])
    np.testing.assert_allclose(table.loc["intercept", "coef"][["low", "high"]], intervals["intercept"])
    assert table.loc["intercept", ("x", "estimate")] == 0.0


def test_snapped_fit_has_intervals():
    rng = np.random.default_rng(7)
    X = rng.uniform(1, 5, (80, 2))
    y = 3.0 * X[:, 0] ** 2 * np.sqrt(X[:, 1])
    y = y + rng.normal(0, 0.01 * np.sqrt(np.mean(y**2)), y.shape)
    options = lognet.EngineOptions(population=32, steps=60)
    result = lognet.fit(X, y, loss="mse", random_state=0, options=options)
    intervals = result.confidence_intervals()["weight"][0]
    assert result.weight[0].tolist() == [2.0, 0.5]
    assert intervals[0, 0] < 2.0 < intervals[0, 1]
    assert intervals[1, 0] < 0.5 < intervals[1, 1]
