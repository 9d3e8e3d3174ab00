"""Diagnostic plots of a fitted model: parity, residuals and extrapolation (matplotlib, optional)."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["parity_plot", "residual_plot", "extrapolation_plot", "fit_figure", "save_fit_figure"]

# An axis switches to a log scale when its positive values span more than this ratio
# (two decades): power laws are straight lines on log-log axes.
LOG_SPAN = 100.0
# Titles wrap at this many characters so that a long formula stays inside the figure.
TITLE_WIDTH = 70
CURVE_POINTS = 200


def _matplotlib():
    """Import matplotlib, choosing the Agg backend when there is no display."""
    try:
        import matplotlib
    except ImportError as error:
        raise ImportError(
            "lognet's plots need matplotlib, which is not installed; pip install 'lognet[plot]'."
        ) from error
    headless = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    # An explicit MPLBACKEND or an already imported pyplot keeps its backend.
    if headless and "MPLBACKEND" not in os.environ and "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")
    return matplotlib


def _pyplot():
    _matplotlib()
    import matplotlib.pyplot as plt

    return plt


def _as_result(model):
    """Return the FitResult of a FitResult or of a fitted LNNRegressor."""
    from ._result import FitResult

    if isinstance(model, FitResult):
        return model
    result = getattr(model, "result_", None)
    if isinstance(result, FitResult):
        return result
    raise TypeError(
        f"expected a lognet.FitResult or a fitted LNNRegressor, got {type(model).__name__}; "
        f"pass the object returned by lognet.fit."
    )


def _inputs(result, X) -> np.ndarray:
    """Return X as a float64 (n_samples, n_features) array in the model's feature order."""
    columns = getattr(X, "columns", None)
    if columns is not None:
        names = [str(c) for c in columns]
        missing = [n for n in result.feature_names if n not in names]
        if not missing:
            X = X[[columns[names.index(n)] for n in result.feature_names]]
        elif len(names) != result.n_features:
            raise ValueError(
                f"X lacks the model's feature columns {missing} (it has {names}); pass a table "
                f"with the columns {list(result.feature_names)}."
            )
    if hasattr(X, "detach"):
        X = X.detach().cpu().numpy()
    array = np.asarray(X, dtype=np.float64)
    if array.ndim == 1 and result.n_features == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[1] != result.n_features:
        raise ValueError(
            f"X must have shape (n_samples, {result.n_features}) with columns "
            f"{list(result.feature_names)}, got shape {array.shape}."
        )
    return array


def _target(y, n_samples: int) -> np.ndarray:
    if hasattr(y, "detach"):
        y = y.detach().cpu().numpy()
    array = np.asarray(y, dtype=np.float64).reshape(-1)
    if array.shape[0] != n_samples:
        raise ValueError(f"X has {n_samples} samples but y has {array.shape[0]}; they must match.")
    return array


def _feature_index(result, feature) -> int:
    names = list(result.feature_names)
    if isinstance(feature, str):
        if feature not in names:
            raise ValueError(f"feature {feature!r} is not one of the model's features {names}.")
        return names.index(feature)
    if isinstance(feature, (int, np.integer)) and not isinstance(feature, bool):
        if not 0 <= feature < len(names):
            raise ValueError(f"feature index {feature} is out of range for {len(names)} features {names}.")
        return int(feature)
    raise TypeError(f"feature must be a column name or an int index, got {type(feature).__name__}.")


def _label(name: str, units: Mapping[str, str] | None, prefix: str = "") -> str:
    unit = (units or {}).get(name)
    text = f"{prefix}{name}"
    return f"{text} [{unit}]" if unit else text


def _spans_decades(*arrays: np.ndarray) -> bool:
    """Return True when every value is positive and the values span more than LOG_SPAN."""
    values = np.concatenate([np.asarray(a, dtype=np.float64).reshape(-1) for a in arrays])
    values = values[np.isfinite(values)]
    if values.size == 0 or (values <= 0).any():
        return False
    return values.max() / values.min() > LOG_SPAN


def _residuals(result, observed: np.ndarray, predicted: np.ndarray, units) -> tuple[np.ndarray, str]:
    """Return the residuals in the scale the model was fitted in, and their axis label."""
    target = result.target_name
    if result.loss == "spes":
        # SPES weighs each error by its target, so the relative error is what the fit evened out.
        return 100 * (observed - predicted) / observed, f"relative residual of {target} [%]"
    if result.loss == "msle":
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.log(observed / predicted), f"ln(observed / predicted {target})"
    unit = (units or {}).get(target)
    label = f"residual of {target} (observed - predicted)"
    return observed - predicted, f"{label} [{unit}]" if unit else label


def _title(result) -> str:
    return textwrap.fill(result.formula_string(), TITLE_WIDTH)


def _fit_summary(observed: np.ndarray, predicted: np.ndarray) -> str:
    """Return R^2 and the largest relative error over the plotted samples."""
    finite = np.isfinite(predicted)
    residual = observed[finite] - predicted[finite]
    total = np.sum((observed[finite] - observed[finite].mean()) ** 2)
    r2 = 1 - np.sum(residual**2) / total if total > 0 else float("nan")
    text = f"R\u00b2 = {r2:.4f} on {int(finite.sum())} samples"
    if (observed[finite] != 0).all():
        text += f", max relative error {100 * np.max(np.abs(residual / observed[finite])):.3g} %"
    return text


def _predict(result, X: np.ndarray) -> np.ndarray:
    import warnings

    # Overflowing terms give inf/NaN points, which the plots drop; the warning adds nothing here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return result.predict(X)


def _draw_parity(ax, result, observed, predicted, units) -> None:
    finite = np.isfinite(predicted)
    ax.scatter(observed[finite], predicted[finite], s=24, alpha=0.8, label="samples")
    values = np.concatenate([observed, predicted[finite]])
    low, high = values.min(), values.max()
    log = _spans_decades(observed, predicted[finite])
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
        pad = (high / low) ** 0.05
        low, high = low / pad, high * pad
    else:
        pad = 0.05 * (high - low or 1.0)
        low, high = low - pad, high + pad
    ax.plot([low, high], [low, high], color="black", linewidth=1, label="y = x")
    ax.set_xlim(low, high)
    ax.set_ylim(low, high)
    ax.set_ylabel(_label(result.target_name, units, "predicted "))
    ax.legend(loc="upper left")


def parity_plot(result, X, y, ax=None, *, units: Mapping[str, str] | None = None):
    """Plot predicted against observed target values, with the line y = x.

    Both axes are logarithmic when the values span more than two decades.

    Args:
        result: a :class:`lognet.FitResult` or a fitted :class:`lognet.LNNRegressor`.
        X: inputs, shape (n_samples, n_features); a DataFrame is matched by column name.
        y: observed target, shape (n_samples,).
        ax: matplotlib Axes to draw on. Default: a new figure.
        units: unit of each column by name, e.g. ``{"a": "AU", "P": "yr"}``.

    Returns:
        The matplotlib Axes.

    Raises:
        ImportError: matplotlib is not installed.
    """
    result = _as_result(result)
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(5.5, 5), layout="constrained")
    else:
        _matplotlib()
    X = _inputs(result, X)
    observed = _target(y, X.shape[0])
    predicted = _predict(result, X)
    _draw_parity(ax, result, observed, predicted, units)
    ax.set_xlabel(_label(result.target_name, units, "observed "))
    ax.set_title(_title(result), fontsize="medium")
    return ax


def _draw_residuals(ax, x, residual, x_label, residual_label, log_x: bool) -> None:
    finite = np.isfinite(residual)
    ax.scatter(x[finite], residual[finite], s=20, alpha=0.8)
    ax.axhline(0.0, color="black", linewidth=1)
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel(residual_label)


def residual_plot(result, X, y, feature=None, ax=None, *, units: Mapping[str, str] | None = None):
    """Plot the residuals against each feature (or one feature).

    Residuals are relative (in %) for a SPES fit, ln(observed / predicted) for MSLE and
    observed - predicted for MSE, the scale in which each loss weighs the errors.

    Args:
        result: a :class:`lognet.FitResult` or a fitted :class:`lognet.LNNRegressor`.
        X: inputs, shape (n_samples, n_features); a DataFrame is matched by column name.
        y: observed target, shape (n_samples,).
        feature: column name or index to plot against. Default: every feature, one panel each.
        ax: an Axes, or with ``feature=None`` a sequence of one Axes per feature.
            Default: a new figure.
        units: unit of each column by name.

    Returns:
        The Axes, or with ``feature=None`` a list of one Axes per feature.

    Raises:
        ImportError: matplotlib is not installed.
    """
    result = _as_result(result)
    X = _inputs(result, X)
    observed = _target(y, X.shape[0])
    residual, residual_label = _residuals(result, observed, _predict(result, X), units)
    indices = [_feature_index(result, feature)] if feature is not None else list(range(result.n_features))

    if ax is None:
        _, created = _pyplot().subplots(
            1, len(indices), figsize=(4.5 * len(indices), 4), squeeze=False, layout="constrained"
        )
        axes = list(created[0])
    else:
        _matplotlib()
        axes = list(ax) if isinstance(ax, (Sequence, np.ndarray)) else [ax]
        if len(axes) != len(indices):
            raise ValueError(
                f"residual_plot needs one Axes per plotted feature ({len(indices)}), got {len(axes)}; "
                f"pass feature=NAME to plot a single feature on one Axes."
            )
    for axis, index in zip(axes, indices):
        name = result.feature_names[index]
        _draw_residuals(axis, X[:, index], residual, _label(name, units), residual_label, _spans_decades(X[:, index]))
    axes[0].figure.suptitle(_title(result), fontsize="medium")
    return axes[0] if feature is not None else axes


def _extended_grid(values: np.ndarray, factor: float) -> np.ndarray:
    """Return a grid reaching ``factor`` times beyond the range of ``values``."""
    low, high = float(values.min()), float(values.max())
    if low > 0:
        # Positive features extend geometrically: factor 10 adds a decade on each side.
        return np.geomspace(low / factor, high * factor, CURVE_POINTS)
    half_width = (high - low or 1.0) * factor / 2
    centre = (high + low) / 2
    return np.linspace(centre - half_width, centre + half_width, CURVE_POINTS)


def extrapolation_plot(
    result, X, y, feature, factor: float = 10, ax=None, *, units: Mapping[str, str] | None = None
):
    """Plot the fitted curve beyond the training range of one feature, against the data.

    The chosen feature runs from min/factor to max*factor (positive features) or over a
    range ``factor`` times as wide as the data (features with values <= 0), while every
    other feature is held at its median. The training range is shaded. With more than one
    feature the observed points also vary in the other features, so they scatter around
    the curve.

    Args:
        result: a :class:`lognet.FitResult` or a fitted :class:`lognet.LNNRegressor`.
        X: inputs, shape (n_samples, n_features); a DataFrame is matched by column name.
        y: observed target, shape (n_samples,).
        feature: column name or index to vary.
        factor: how far beyond the data the curve reaches; must be > 1. Default: 10.
        ax: matplotlib Axes to draw on. Default: a new figure.
        units: unit of each column by name.

    Returns:
        The matplotlib Axes.

    Raises:
        ImportError: matplotlib is not installed.
    """
    result = _as_result(result)
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor > 1:
        raise ValueError(f"factor must be a number > 1, got {factor!r}; 10 extends a decade past each end.")
    X = _inputs(result, X)
    observed = _target(y, X.shape[0])
    index = _feature_index(result, feature)
    if ax is None:
        _, ax = _pyplot().subplots(figsize=(6, 4.5), layout="constrained")
    else:
        _matplotlib()

    grid = _extended_grid(X[:, index], float(factor))
    if result.domain == "positive":
        grid = grid[grid > 0]
    curve_inputs = np.tile(np.median(X, axis=0), (grid.size, 1))
    curve_inputs[:, index] = grid
    curve = _predict(result, curve_inputs)
    finite = np.isfinite(curve)

    ax.axvspan(X[:, index].min(), X[:, index].max(), color="0.9", label="training range")
    ax.plot(grid[finite], curve[finite], color="tab:red", linewidth=1.5, label="fitted model")
    others = [n for i, n in enumerate(result.feature_names) if i != index]
    data_label = "data" if not others else f"data (at observed {', '.join(others)})"
    ax.scatter(X[:, index], observed, s=20, color="tab:blue", zorder=3, label=data_label)
    if _spans_decades(grid):
        ax.set_xscale("log")
    if _spans_decades(curve[finite], observed):
        ax.set_yscale("log")
    ax.set_xlabel(_label(result.feature_names[index], units))
    ax.set_ylabel(_label(result.target_name, units))
    title = _title(result)
    if others:
        medians = ", ".join(f"{n} = {np.median(X[:, i]):.4g}" for i, n in enumerate(result.feature_names) if i != index)
        title += f"\n(curve at the medians {medians})"
    ax.set_title(title, fontsize="medium")
    ax.legend(loc="best")
    return ax


def save_fit_figure(
    result, X, y, path: str | os.PathLike, *, units: Mapping[str, str] | None = None, dpi: int = 150
) -> Path:
    """Write a parity plot with a residual panel below it to ``path``.

    The top panel plots predicted against observed values with the line y = x (log axes
    when the values span more than two decades), the bottom panel the residuals against
    the observed values. The title shows the fitted formula, and R^2 and the largest
    relative error over the plotted samples. The format follows the file suffix (``.png``,
    ``.svg``, ``.pdf``, ...). The figure is never registered with pyplot, so the call
    leaves no open figures behind in scripts and servers.

    Args:
        result: a :class:`lognet.FitResult` or a fitted :class:`lognet.LNNRegressor`.
        X: inputs, shape (n_samples, n_features); a DataFrame is matched by column name.
        y: observed target, shape (n_samples,).
        path: output file.
        units: unit of each column by name, e.g. ``lognet.datasets.info("planets").units``.
        dpi: resolution of raster formats.

    Returns:
        The path written, as a :class:`pathlib.Path`.

    Raises:
        ImportError: matplotlib is not installed.
    """
    figure = fit_figure(result, X, y, units=units)
    path = Path(path)
    figure.savefig(path, dpi=dpi)
    return path


def fit_figure(result, X, y, *, units: Mapping[str, str] | None = None):
    """Build the figure that :func:`save_fit_figure` writes, without saving it.

    Returns:
        A :class:`matplotlib.figure.Figure` (not registered with pyplot) whose two Axes
        are the parity plot and the residual panel.

    Raises:
        ImportError: matplotlib is not installed.
    """
    result = _as_result(result)
    _matplotlib()
    from matplotlib.figure import Figure

    X = _inputs(result, X)
    observed = _target(y, X.shape[0])
    predicted = _predict(result, X)

    figure = Figure(figsize=(6, 7), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1.3])
    _draw_parity(top, result, observed, predicted, units)
    residual, residual_label = _residuals(result, observed, predicted, units)
    observed_label = _label(result.target_name, units, "observed ")
    _draw_residuals(bottom, observed, residual, observed_label, residual_label, False)
    figure.suptitle(_title(result) + "\n" + _fit_summary(observed, predicted), fontsize="medium")
    return figure
