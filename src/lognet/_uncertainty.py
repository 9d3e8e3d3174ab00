"""Standard errors and confidence intervals of the fitted exponents, coefficients and intercept.

The covariance is the usual nonlinear least-squares estimate at the optimum,
``Cov = s^2 (J^T J)^-1``, with J the Jacobian of the (weighted) residuals and ``s^2`` the
residual variance with ``n - p`` degrees of freedom. Intervals use Student's t quantile with
the same ``n - p`` degrees of freedom. The intervals hold under the loss's noise model: additive
Gaussian noise of constant variance for ``"mse"``, constant relative (percentage) noise for
``"spes"`` and log-normal noise for ``"msle"``. Exponents that simplification snapped to a
rational are treated as free, so their interval says whether the data agree with the
snapped value.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

if TYPE_CHECKING:
    import pandas as pd

    from ._result import FitResult

# A parameter whose unit vector has a component larger than this in the Jacobian's null
# space cannot be estimated from the data, so its standard error is NaN.
NULL_SPACE_TOLERANCE = 1e-6


def _parameter_names(result: FitResult) -> list[str]:
    names = [f"exponent of {feature} in term {k}" for k in range(result.n_terms) for feature in result.feature_names]
    names += [f"coefficient of term {k}" for k in range(result.n_terms)]
    if result.intercept is not None:
        names.append("intercept")
    return names


def _check_inputs(result: FitResult) -> np.ndarray:
    if result.jacobian is None or result.residual_variance is None:
        raise ValueError(
            "this FitResult has no Jacobian or residual variance, which the standard errors need "
            f"(jacobian is {'missing' if result.jacobian is None else 'present'}, residual_variance is "
            f"{result.residual_variance!r}); refit with lognet.fit, which stores both."
        )
    jacobian = np.asarray(result.jacobian, dtype=np.float64)
    expected = result.n_terms * result.n_features + result.n_terms + int(result.intercept is not None)
    if jacobian.ndim != 2 or jacobian.shape[1] != expected:
        raise ValueError(
            f"the Jacobian has shape {jacobian.shape}, but this model has {expected} parameters "
            f"(exponents, coefficients, intercept); it must have shape (n_train, {expected})."
        )
    return jacobian


def covariance(result: FitResult) -> np.ndarray:
    """Return the covariance matrix of all parameters, ordered as in ``result.jacobian``.

    The parameters are the exponents row by row, then the coefficients, then the intercept.
    Rows and columns of parameters the data cannot identify (a rank-deficient Jacobian, e.g.
    two terms with the same exponents or a constant feature) are NaN, with a RuntimeWarning
    naming them. With no residual degrees of freedom (n <= p) everything is NaN.
    """
    scaled, scale = _scaled_covariance(result)
    factor = _units(result) / scale
    with np.errstate(over="ignore"):
        return scaled * np.outer(factor, factor)


def _units(result: FitResult) -> np.ndarray:
    """Return each parameter's unit: 1 for exponents, ``extra["target_unit"]`` for the
    coefficients and the intercept, whose Jacobian columns are per coef / target_unit."""
    units = np.ones(result.n_terms * result.n_features + result.n_terms + int(result.intercept is not None))
    units[result.n_terms * result.n_features :] = float(result.extra.get("target_unit", 1.0))
    return units


def _scaled_covariance(result: FitResult) -> tuple[np.ndarray, np.ndarray]:
    """Return (C, scale) with covariance = C / outer(scale, scale), scale the Jacobian's column norms.

    Kept apart because the covariance of coefficients near 1e200 overflows float64, while
    their standard errors sqrt(C_ii) / scale_i do not.
    """
    jacobian = _check_inputs(result)
    n, p = jacobian.shape
    if n <= p:
        warnings.warn(
            f"the fit has {n} training samples for {p} parameters, so no residual degrees of freedom "
            f"are left; every standard error is NaN. Fit on more data or with fewer terms.",
            RuntimeWarning,
            stacklevel=3,
        )
        return np.full((p, p), np.nan), np.ones(p)
    if not np.all(np.isfinite(jacobian)):
        warnings.warn(
            "the Jacobian at the optimum has non-finite entries (an overflowing term); every standard "
            "error is NaN.",
            RuntimeWarning,
            stacklevel=3,
        )
        return np.full((p, p), np.nan), np.ones(p)

    # Columns are scaled to unit norm first, so the rank test does not depend on the units of
    # the parameters (exponents near 1, coefficients of any size). Each column is divided by
    # its largest entry before squaring, so entries near 1e-200 do not underflow.
    largest = np.abs(jacobian).max(axis=0)
    largest = np.where(largest > 0, largest, 1.0)
    norms = largest * np.linalg.norm(jacobian / largest, axis=0)
    scale = np.where(norms > 0, norms, 1.0)
    _, singular, vt = np.linalg.svd(jacobian / scale, full_matrices=False)
    tolerance = singular.max(initial=0.0) * max(n, p) * np.finfo(np.float64).eps
    keep = singular > tolerance
    rank = int(keep.sum())
    inverse = (vt[keep].T / singular[keep] ** 2) @ vt[keep]
    cov = float(result.residual_variance) * inverse

    unidentified = np.zeros(p, dtype=bool)
    if rank < p:
        null_space = vt[~keep]
        unidentified = np.linalg.norm(null_space, axis=0) > NULL_SPACE_TOLERANCE
        unidentified |= norms == 0
        cov[unidentified, :] = np.nan
        cov[:, unidentified] = np.nan
        names = [name for name, bad in zip(_parameter_names(result), unidentified) if bad]
        warnings.warn(
            f"the Jacobian has rank {rank} for {p} parameters, so {len(names)} of them cannot be "
            f"identified from the data and get NaN standard errors and intervals: {', '.join(names)}. "
            f"Typical causes are two terms with the same exponents, a constant feature or a term "
            f"with a zero coefficient; refit with fewer terms.",
            RuntimeWarning,
            stacklevel=3,
        )
    return cov, scale


def _split(result: FitResult, vector: np.ndarray) -> dict[str, Any]:
    k, d = result.n_terms, result.n_features
    return {
        "weight": vector[: k * d].reshape(k, d),
        "coef": vector[k * d : k * d + k],
        "intercept": float(vector[-1]) if result.intercept is not None else None,
    }


def standard_errors(result: FitResult) -> dict[str, Any]:
    """Return the standard errors of the parameters.

    Returns:
        ``{"weight": (n_terms, n_features) array, "coef": (n_terms,) array, "intercept":
        float or None}``, NaN where a parameter cannot be identified.
    """
    scaled, scale = _scaled_covariance(result)
    with np.errstate(invalid="ignore"):
        return _split(result, np.sqrt(np.diagonal(scaled)) / scale * _units(result))


def _check_level(level) -> float:
    if isinstance(level, bool) or not isinstance(level, (int, float, np.floating)):
        raise TypeError(f"level must be a float in (0, 1), got {type(level).__name__} {level!r}.")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), e.g. 0.95 for 95% intervals, got {level!r}.")
    return float(level)


def confidence_intervals(result: FitResult, level: float = 0.95) -> dict[str, Any]:
    """Return two-sided confidence intervals ``estimate -+ t * standard error``.

    Args:
        result: the fitted model.
        level: coverage probability of each interval (pointwise, not simultaneous).

    Returns:
        ``{"weight": (n_terms, n_features, 2), "coef": (n_terms, 2), "intercept": (2,) or
        None}``; the last axis is (low, high). NaN where a parameter cannot be identified.
    """
    level = _check_level(level)
    errors = standard_errors(result)
    n, p = np.asarray(result.jacobian).shape
    quantile = stats.t.ppf(0.5 + level / 2, n - p) if n > p else np.nan
    estimates = {"weight": result.weight, "coef": result.coef, "intercept": result.intercept}
    intervals: dict[str, Any] = {}
    for key, estimate in estimates.items():
        if estimate is None:
            intervals[key] = None
            continue
        half = quantile * np.asarray(errors[key])
        intervals[key] = np.stack([estimate - half, estimate + half], axis=-1)
    return intervals


def terms_table(result: FitResult, level: float = 0.95) -> pd.DataFrame:
    """Return one row per term, plus an ``intercept`` row when the model has one.

    Columns are a two-level index: ``("coef", stat)`` and ``(feature, stat)`` for each
    feature's exponent, with ``stat`` in ``("estimate", "low", "high")``. The intercept row
    contains the intercept in the ``coef`` columns and exponents of exactly 0 (the constant
    term has no free exponent).
    """
    import pandas as pd

    intervals = confidence_intervals(result, level)
    # NOTE: a feature named "coef" would share its top-level column label with the
    # coefficient; select those columns by position in that case.
    columns = pd.MultiIndex.from_product([["coef", *result.feature_names], ["estimate", "low", "high"]])
    rows = []
    for k in range(result.n_terms):
        row = [result.coef[k], *intervals["coef"][k]]
        for i in range(result.n_features):
            row += [result.weight[k, i], *intervals["weight"][k, i]]
        rows.append(row)
    index = [f"term {k}" for k in range(result.n_terms)]
    if result.intercept is not None:
        rows.append([result.intercept, *intervals["intercept"]] + [0.0, 0.0, 0.0] * result.n_features)
        index.append("intercept")
    return pd.DataFrame(rows, index=index, columns=columns, dtype=np.float64)
