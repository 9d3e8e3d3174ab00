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
    ss_res = float(np.sum(residual**2))
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    if ss_tot > 0:
        r2 = 1.0 - ss_res / ss_tot
    else:
        # A constant target: perfect when matched exactly, otherwise no better than its mean.
        r2 = 1.0 if ss_res == 0 else 0.0
    nonzero = y_true != 0
    max_rel = float(np.max(np.abs(residual[nonzero]) / np.abs(y_true[nonzero]))) if nonzero.any() else float("nan")
    return {"r2": r2, "rmse": float(np.sqrt(ss_res / max(y_true.size, 1))), "max_rel_error": max_rel, "n_samples": int(y_true.size)}
