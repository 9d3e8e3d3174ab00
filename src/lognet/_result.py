"""The fitted result returned by :func:`lognet.fit` and :func:`lognet.load`."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ._basis import Design, evaluate
from ._model import LNN


@dataclass
class FitResult:
    """A fitted logarithmic neural network y = b + sum_k c_k prod_i x_i^{w_ki}.

    Attributes:
        weight: exponents, shape (n_terms, n_features).
        coef: term coefficients c, shape (n_terms,).
        intercept: the constant b, or ``None`` when fitted without one.
        feature_names: one name per input column.
        target_name: name of the target column.
        domain: input domain of the product units.
        loss: loss the model was fitted with.
        metrics: ``{"train": {...}, "validation": {...} or None}`` with R^2, RMSE and the
            maximum relative error.
        loss_history: best training loss after each search step and refinement.
        selection: one record per number of terms tried, with its training loss and its
            validation loss (or AICc when the data were too few to hold out).
        jacobian: residual Jacobian at the optimum (parameters ordered exponents, coefficients,
            intercept), used for standard errors; ``None`` when not available. When
            ``extra["target_unit"]`` is set, the coefficient and intercept columns are
            derivatives with respect to coef / target_unit and intercept / target_unit.
        residual_variance: variance of the weighted residuals at the optimum.
        raw: the fit before simplification (a FitResult), or ``None`` when the result was
            not simplified.
        simplification: the simplification steps tried, each a dict with the action, the
            selection loss it gave and whether it was kept.
    """

    weight: np.ndarray
    coef: np.ndarray
    intercept: float | None
    feature_names: tuple[str, ...]
    target_name: str = "y"
    domain: str = "positive"
    loss: str = "spes"
    metrics: dict[str, Any] = field(default_factory=dict)
    loss_history: list[float] = field(default_factory=list)
    selection: list[dict[str, Any]] = field(default_factory=list)
    jacobian: np.ndarray | None = field(default=None, repr=False)
    residual_variance: float | None = None
    raw: "FitResult | None" = field(default=None, repr=False)
    simplification: list[dict[str, Any]] = field(default_factory=list, repr=False)
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.weight = np.asarray(self.weight, dtype=np.float64).reshape(len(self.coef), -1)
        self.coef = np.asarray(self.coef, dtype=np.float64).reshape(-1)
        self.feature_names = tuple(self.feature_names)
        self.model = self._build_model()

    @property
    def n_terms(self) -> int:
        return int(self.coef.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.weight.shape[1])

    def _build_model(self) -> LNN:
        model = LNN(self.n_features, self.n_terms, bias=self.intercept is not None, domain=self.domain, dtype=torch.float64)
        with torch.no_grad():
            model.log_layer.weight.copy_(torch.from_numpy(self.weight))
            model.linear.weight.copy_(torch.from_numpy(self.coef).unsqueeze(0))
            if self.intercept is not None:
                model.linear.bias.fill_(self.intercept)
        return model.eval()

    def terms(self, X) -> np.ndarray:
        """Return each term's value c_k * phi_k(x), shape (n_samples, n_terms)."""
        X = self._inputs(X)
        phi = evaluate(Design.from_inputs(X, self.domain), torch.from_numpy(self.weight))
        return (phi * torch.from_numpy(self.coef)).numpy()

    def predict(self, X) -> np.ndarray:
        """Predict the target for X of shape (n_samples, n_features); returns (n_samples,).

        Warns with a RuntimeWarning naming the term and the number of samples when a
        term overflows to infinity (inputs far outside the training range).
        """
        terms = self.terms(X)
        overflow = ~np.isfinite(terms)
        if overflow.any():
            counts = overflow.sum(axis=0)
            worst = int(np.argmax(counts))
            warnings.warn(
                f"term {worst} ({self._term_label(worst)}) is not finite on {int(counts[worst])} of "
                f"{terms.shape[0]} samples (overflow or a zero input with a negative exponent); "
                f"those predictions are inf or NaN.",
                RuntimeWarning,
                stacklevel=2,
            )
        return terms.sum(axis=1) + (self.intercept or 0.0)

    def _inputs(self, X) -> torch.Tensor:
        from ._data import _to_array, align_columns  # local: keeps the result importable without pandas work

        array, _ = _to_array("X", align_columns(X, self.feature_names))
        if array.ndim == 1:
            array = array[:, None] if self.n_features == 1 else array[None, :]
        if array.ndim != 2 or array.shape[1] != self.n_features:
            raise ValueError(
                f"X must have shape (n_samples, {self.n_features}) with columns {list(self.feature_names)}, "
                f"got shape {array.shape}."
            )
        if not np.isfinite(array).all():
            bad = ~np.isfinite(array)
            columns = [self.feature_names[i] for i in np.nonzero(bad.any(axis=0))[0]]
            raise ValueError(
                f"X has {int(bad.sum())} NaN or infinite values (in columns {columns}); drop or impute "
                f"those rows before predicting."
            )
        if self.domain == "positive" and (array <= 0).any():
            bad = array <= 0
            columns = [self.feature_names[i] for i in np.nonzero(bad.any(axis=0))[0]]
            raise ValueError(
                f"X has {int(bad.sum())} non-positive values (in columns {columns}, first row "
                f"{int(np.nonzero(bad.any(axis=1))[0][0])}), but this model was fitted with domain='positive' "
                f"and is defined only for x > 0; drop those rows, or refit with domain='signed'."
            )
        return torch.from_numpy(array)

    def _term_label(self, k: int, digits: int = 4) -> str:
        factors = []
        for name, exponent in zip(self.feature_names, self.weight[k]):
            rounded = round(float(exponent), digits)
            if rounded == 0:
                continue
            factors.append(name if rounded == 1 else f"{name}^{_number(rounded, digits)}")
        return " * ".join(factors) if factors else "1"

    def formula_string(self, digits: int = 4) -> str:
        """Return the formula with coefficients and exponents rounded to ``digits`` decimals."""
        parts = []
        for k in np.argsort(-np.abs(self.coef)):
            coefficient = _number(float(self.coef[k]), digits, significant=True)
            label = self._term_label(int(k), digits)
            parts.append(coefficient if label == "1" else f"{coefficient} * {label}")
        if self.intercept is not None:
            parts.append(_number(self.intercept, digits, significant=True))
        text = " + ".join(parts) if parts else "0"
        return f"{self.target_name} = " + text.replace("+ -", "- ")

    def __str__(self) -> str:
        return self.formula_string()

    def formula(self, digits: int | None = None):
        """Return the model as a SymPy expression; see :func:`lognet._export.formula`."""
        from ._export import formula

        return formula(self, digits)

    def to_latex(self, digits: int | None = 4) -> str:
        """Return ``target = formula`` as LaTeX; see :func:`lognet._export.to_latex`."""
        from ._export import to_latex

        return to_latex(self, digits)

    def to_python(self, function_name: str = "predict") -> str:
        """Return the source of a NumPy function evaluating the model; see :func:`lognet._export.to_python`."""
        from ._export import to_python

        return to_python(self, function_name)

    def standard_errors(self) -> dict[str, Any]:
        """Return the standard errors of weight, coef and intercept; see :mod:`lognet._uncertainty`."""
        from ._uncertainty import standard_errors

        return standard_errors(self)

    def confidence_intervals(self, level: float = 0.95) -> dict[str, Any]:
        """Return (low, high) intervals of weight, coef and intercept at ``level``."""
        from ._uncertainty import confidence_intervals

        return confidence_intervals(self, level)

    def terms_table(self, level: float = 0.95):
        """Return a DataFrame: one row per term (and the intercept), estimates with intervals."""
        from ._uncertainty import terms_table

        return terms_table(self, level)


def _number(value: float, digits: int, significant: bool = False) -> str:
    if significant:
        text = f"{value:.{digits + 1}g}"
    else:
        text = f"{value:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
