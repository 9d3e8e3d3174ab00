"""Conversion and validation of the data passed to :func:`lognet.fit` and :func:`lognet.fit_network`."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import torch

from ._validation import DOMAINS, check_option

LOSSES = ("spes", "mse", "msle")


@dataclass(frozen=True)
class Dataset:
    """Validated float64 training data with its column names."""

    X: torch.Tensor
    y: torch.Tensor
    feature_names: tuple[str, ...]
    target_name: str


def _to_array(name: str, value) -> tuple[np.ndarray, list[str] | None]:
    columns = None
    if hasattr(value, "columns") and hasattr(value, "to_numpy"):
        columns = [str(c) for c in value.columns]
        _check_frame_columns(name, value)
    elif hasattr(value, "name") and hasattr(value, "to_numpy") and value.name is not None:
        columns = [str(value.name)]
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value.to_numpy() if hasattr(value, "to_numpy") else value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be array-like (NumPy, torch, pandas), got {type(value).__name__}.") from error
    if array.dtype == bool or not (np.issubdtype(array.dtype, np.number)):
        raise TypeError(
            f"{name} must hold numbers, got dtype {array.dtype}; convert or drop non-numeric columns first."
        )
    return array.astype(np.float64), columns


def target_unit(y: torch.Tensor, comm=None) -> float:
    """Return the power of 2 nearest the geometric mean of the nonzero |y|.

    The fits divide the target by it, exactly, so that coefficients stay near 1. With a
    ``Communicator`` the mean runs over every rank's rows, so all ranks get the same unit.
    """
    nonzero = y[y != 0].abs()
    totals = torch.tensor([float(nonzero.numel()), float(torch.log2(nonzero).sum())], dtype=torch.float64)
    if comm is not None:
        totals = comm.sum_over_samples(totals)
    count, total = totals.tolist()
    if count == 0:
        return 1.0
    return math.ldexp(1.0, int(round(total / count)))


def align_columns(X, feature_names: tuple[str, ...]):
    """Return X with its columns in the order of ``feature_names`` when X is a DataFrame.

    A DataFrame whose columns include every feature name is reordered (and extra columns
    dropped). One with none of them, for a model fitted on a plain array (names x0, x1, ...)
    and with the same number of columns, is used by position. Anything else raises a
    ValueError naming the missing columns. Arrays pass through unchanged.
    """
    if not (hasattr(X, "columns") and hasattr(X, "to_numpy")):
        return X
    columns = [str(column) for column in X.columns]
    names = list(feature_names)
    if columns == names:
        return X
    missing = [name for name in names if name not in columns]
    if not missing:
        return X[names]
    unnamed = all(re.fullmatch(r"x\d+", name) for name in names)
    if unnamed and len(columns) == len(names) and not set(columns) & set(names):
        return X
    raise ValueError(
        f"X is missing the columns {missing} that the model was fitted on (X has {columns}); pass a "
        f"DataFrame with those columns, or an array with the columns in the order {names}."
    )


def _check_frame_columns(name: str, frame) -> None:
    """Raise a TypeError naming the first DataFrame column that does not hold plain numbers."""
    import pandas as pd

    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
            raise TypeError(
                f"column {str(column)!r} of {name} has dtype {series.dtype}, but lognet fits numbers only; "
                f"convert it (e.g. {name}[{str(column)!r}].astype(float)) or drop it."
            )


def prepare(X, y, *, feature_names=None, loss: str, domain: str, caller: str = "fit") -> Dataset:
    """Validate X and y and return them as float64 tensors.

    ``caller`` is the function named in the messages (``fit`` or ``fit_network``). Raises a
    ValueError or TypeError naming the problem, the offending value and the fix.
    """
    check_option("loss", loss, LOSSES)
    check_option("domain", domain, DOMAINS)
    X_array, columns = _to_array("X", X)
    y_array, y_columns = _to_array("y", y)
    if X_array.ndim == 1:
        X_array = X_array[:, None]
    if X_array.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X_array.shape}.")
    if y_array.ndim == 2 and y_array.shape[1] == 1:
        y_array = y_array[:, 0]
    if y_array.ndim != 1:
        raise ValueError(
            f"y must be 1-D (n_samples,), got shape {y_array.shape}; lognet.{caller} fits one target at a time, "
            f"so fit each output column separately."
        )
    n, d = X_array.shape
    if y_array.shape[0] != n:
        raise ValueError(f"X has {n} samples but y has {y_array.shape[0]}; they must match.")
    if d == 0:
        raise ValueError("X has no features (shape (n, 0)); pass at least one feature column.")
    if n < 2:
        raise ValueError(f"lognet.{caller} needs at least 2 samples, got {n}.")
    _check_values(X_array, y_array, loss, domain)

    names = _feature_names(feature_names, columns, d)
    target_name = y_columns[0] if y_columns else "y"
    return Dataset(torch.from_numpy(X_array), torch.from_numpy(y_array), names, target_name)


def _check_values(X: np.ndarray, y: np.ndarray, loss: str, domain: str) -> None:
    for name, array in (("X", X), ("y", y)):
        bad = ~np.isfinite(array)
        if bad.any():
            rows = np.unique(np.nonzero(bad)[0])
            raise ValueError(
                f"{name} contains {int(bad.sum())} NaN or infinite values in {rows.size} rows "
                f"(first rows: {rows[:5].tolist()}); drop or impute those rows first."
            )
    if domain == "positive" and (X <= 0).any():
        bad = X <= 0
        columns = np.nonzero(bad.any(axis=0))[0].tolist()
        raise ValueError(
            f"X has {int(bad.sum())} non-positive values (in feature columns {columns[:10]}), but "
            f"domain='positive' needs x > 0; pass domain='signed' (or 'abs'), or shift those columns."
        )
    if np.ptp(y) == 0:
        raise ValueError(
            f"y is constant (every value is {float(y[0])!r}); there is nothing to fit. Check that y is the "
            f"intended target column."
        )
    if loss == "spes" and (y == 0).any():
        raise ValueError(
            f"y has {int((y == 0).sum())} zero targets, and the SPES loss divides by the target; "
            f"use loss='mse', or shift the target away from zero."
        )
    if loss == "msle" and (y <= 0).any():
        raise ValueError(
            f"y has {int((y <= 0).sum())} non-positive targets, but loss='msle' needs y > 0; use loss='mse' (or 'spes' when no target is zero)."
        )


def _feature_names(feature_names, columns, d: int) -> tuple[str, ...]:
    if feature_names is None:
        feature_names = columns if columns is not None else [f"x{i}" for i in range(d)]
    names = tuple(str(n) for n in feature_names)
    if len(names) != d:
        raise ValueError(f"feature_names has {len(names)} names but X has {d} features.")
    if len(set(names)) != d:
        raise ValueError(f"feature_names must be unique, got {list(names)}.")
    return names
