"""Regression metrics reported for every fit."""

from __future__ import annotations

import numpy as np


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Return R^2, RMSE and the maximum relative error of ``y_pred`` against ``y_true``.

    The relative error is |y_pred - y_true| / |y_true| over the nonzero targets (NaN when
    every target is zero).
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    residual = y_pred - y_true
    # Sums of squares are taken in units of max|t|, so targets near 1e200 do not overflow.
    unit = float(np.max(np.abs(y_true))) if y_true.size else 0.0
    unit = unit if np.isfinite(unit) and unit > 0 else 1.0
    scaled_residual = residual / unit
    scaled_true = y_true / unit
    ss_res = float(np.sum(scaled_residual**2))
    ss_tot = float(np.sum((scaled_true - scaled_true.mean()) ** 2))
    if ss_tot > 0:
        r2 = 1.0 - ss_res / ss_tot
    else:
        # A constant target: perfect when matched exactly, otherwise no better than its mean.
        r2 = 1.0 if ss_res == 0 else 0.0
    nonzero = y_true != 0
    max_rel = float(np.max(np.abs(residual[nonzero]) / np.abs(y_true[nonzero]))) if nonzero.any() else float("nan")
    rmse = unit * float(np.sqrt(ss_res / max(y_true.size, 1)))
    return {"r2": r2, "rmse": rmse, "max_rel_error": max_rel, "n_samples": int(y_true.size)}
