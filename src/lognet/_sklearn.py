"""LNNRegressor: :func:`lognet.fit` as a scikit-learn estimator."""

from __future__ import annotations

from numbers import Integral

import numpy as np

try:
    from sklearn.base import BaseEstimator, RegressorMixin
    from sklearn.utils import check_random_state
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as error:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError(
        "lognet.LNNRegressor needs scikit-learn >= 1.6, which is not installed; pip install 'lognet[sklearn]'."
    ) from error

from ._engine import EngineOptions
from ._fit import fit as _fit
from ._result import FitResult

__all__ = ["LNNRegressor"]


class LNNRegressor(RegressorMixin, BaseEstimator):
    """A logarithmic neural network y = b + sum_k c_k prod_i x_i^{w_ki}, fitted by :func:`lognet.fit`.

    The estimator finds a short sum of power laws with readable exponents, so it fits
    and extrapolates data that follow such a law (physical scaling, allometry, cost
    models). It is not a general-purpose regressor: data without power-law structure fit
    poorly. Every parameter is passed to :func:`lognet.fit` unchanged; see there for details.

    Parameters
    ----------
    n_terms : int or "auto", default="auto"
        Number of power-law terms, or ``"auto"`` to choose 1..``max_terms`` on held-out data.
    loss : {"spes", "mse", "msle"}, default="spes"
        ``"spes"`` (squared relative error) for multiplicative noise, ``"mse"`` for additive
        noise, ``"msle"`` (squared log error) for positive targets.
    domain : {"positive", "signed", "abs"}, default="positive"
        Input domain. ``"positive"`` needs every feature > 0 and declares scikit-learn's
        ``positive_only`` input tag.
    max_terms : int, default=4
        Largest number of terms tried by ``n_terms="auto"``.
    bias : bool, default=True
        Fit the additive constant b.
    simplify : bool, default=True
        Snap exponents to simple fractions and drop negligible terms when the held-out
        loss allows it.
    validation_fraction : float, default=0.2
        Share of samples held out to choose the number of terms (with at least 30 samples).
    max_denominator : int, default=6
        Largest denominator of a snapped exponent.
    simplify_tol : float, default=0.05
        Relative growth of the held-out loss that a simplification may cause.
    options : EngineOptions or None, default=None
        Search settings; ``None`` uses ``EngineOptions()``. Smaller ``population`` and
        ``steps`` make fits faster and less thorough.
    random_state : int, RandomState instance or None, default=None
        Seed of the search starts and of the validation split; an int gives identical fits.
    verbose : bool, default=False
        Show a progress bar.

    Attributes
    ----------
    result_ : FitResult
        The full fit: formula, metrics, selection record, Jacobian.
    exponents_ : ndarray of shape (n_terms_, n_features_in_)
        Exponent of each feature in each term.
    coef_ : ndarray of shape (n_terms_,)
        Coefficient of each term.
    intercept_ : float
        The constant b (0.0 when fitted without it or when simplification dropped it).
    n_terms_ : int
        Number of terms in the fitted formula.
    formula_ : str
        The fitted formula as text, e.g. ``"y = 2 * x0^1.5"``; :meth:`formula` returns it
        as a SymPy expression.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit, set only when X has string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from lognet import LNNRegressor
    >>> X = np.linspace(1, 10, 20).reshape(-1, 1)
    >>> model = LNNRegressor(random_state=0).fit(X, 3 * X[:, 0] ** 2)
    >>> model.formula_
    'y = 3 * x0^2'
    """

    def __init__(
        self,
        n_terms="auto",
        *,
        loss="spes",
        domain="positive",
        max_terms=4,
        bias=True,
        simplify=True,
        validation_fraction=0.2,
        max_denominator=6,
        simplify_tol=0.05,
        options=None,
        random_state=None,
        verbose=False,
    ):
        self.n_terms = n_terms
        self.loss = loss
        self.domain = domain
        self.max_terms = max_terms
        self.bias = bias
        self.simplify = simplify
        self.validation_fraction = validation_fraction
        self.max_denominator = max_denominator
        self.simplify_tol = simplify_tol
        self.options = options
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = self.domain == "positive"
        tags.target_tags.positive_only = self.loss == "msle"
        # A sum of a few power laws cannot follow arbitrary data, so scikit-learn's
        # generic regression data may score below its R^2 threshold of 0.5.
        tags.regressor_tags.poor_score = True
        return tags

    def fit(self, X, y) -> "LNNRegressor":
        """Fit the model to X of shape (n_samples, n_features) and y of shape (n_samples,).

        Returns
        -------
        self : LNNRegressor
            The fitted estimator.

        Raises
        ------
        ValueError
            For non-finite values, values <= 0 in X with ``domain="positive"``, zero
            targets with ``loss="spes"``, a constant target, or an invalid parameter.
        """
        target_name = getattr(y, "name", None)
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True, ensure_min_samples=2)
        if isinstance(target_name, str):
            # A named pandas Series names the target in the formula, as in lognet.fit.
            import pandas as pd

            y = pd.Series(y, name=target_name)
        self._check_domain(X)
        if not isinstance(self.options, (EngineOptions, type(None))):
            raise TypeError(
                f"options must be a lognet.EngineOptions or None, got {type(self.options).__name__}; "
                f"pass EngineOptions(population=..., steps=...)."
            )
        names = getattr(self, "feature_names_in_", None)
        result = _fit(
            X,
            y,
            n_terms=self.n_terms,
            loss=self.loss,
            domain=self.domain,
            feature_names=None if names is None else list(names),
            random_state=self._seed(),
            bias=self.bias,
            max_terms=self.max_terms,
            validation_fraction=self.validation_fraction,
            simplify=self.simplify,
            max_denominator=self.max_denominator,
            simplify_tol=self.simplify_tol,
            options=self.options,
            verbose=self.verbose,
        )
        self._set_result(result)
        return self

    def predict(self, X) -> np.ndarray:
        """Predict the target for X of shape (n_samples, n_features); returns (n_samples,)."""
        check_is_fitted(self, "result_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        self._check_domain(X)
        return self.result_.predict(X)

    def formula(self, digits: int | None = None):
        """Return the fitted model as a SymPy expression; see :meth:`FitResult.formula`.

        ``formula_`` is the same model as a plain string.
        """
        check_is_fitted(self, "result_")
        return self.result_.formula(digits)

    def confidence_intervals(self, level: float = 0.95) -> dict:
        """Return (low, high) intervals of the exponents, coefficients and intercept.

        Delegates to :meth:`FitResult.confidence_intervals`: a dict with ``"weight"``
        (n_terms, n_features, 2), ``"coef"`` (n_terms, 2) and ``"intercept"`` (2,) or None.
        """
        check_is_fitted(self, "result_")
        return self.result_.confidence_intervals(level)

    def terms_table(self, level: float = 0.95):
        """Return a DataFrame, one row per term, of estimates with their intervals.

        Delegates to :meth:`FitResult.terms_table`.
        """
        check_is_fitted(self, "result_")
        return self.result_.terms_table(level)

    def _set_result(self, result: FitResult) -> None:
        self.result_ = result
        self.exponents_ = result.weight.copy()
        self.coef_ = result.coef.copy()
        self.intercept_ = float(result.intercept) if result.intercept is not None else 0.0
        self.n_terms_ = result.n_terms
        self.formula_ = result.formula_string()

    def _seed(self) -> int | None:
        if self.random_state is None:
            return None
        if isinstance(self.random_state, Integral) and not isinstance(self.random_state, bool):
            return int(self.random_state)
        # A RandomState instance draws the seed, so repeated fits differ as scikit-learn expects.
        return int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def _check_domain(self, X: np.ndarray) -> None:
        if self.domain != "positive":
            return
        bad = X <= 0
        if not bad.any():
            return
        columns = np.nonzero(bad.any(axis=0))[0].tolist()
        n_negative = int((X < 0).sum())
        n_zero = int((X == 0).sum())
        raise ValueError(
            f"Negative values in data passed to LNNRegressor: X has {n_negative} negative and {n_zero} "
            f"zero values (in feature columns {columns[:10]}), but domain='positive' needs every x > 0; "
            f"pass domain='signed' (or 'abs'), or shift those columns."
        )
