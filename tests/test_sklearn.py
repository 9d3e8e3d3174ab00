"""Tests for LNNRegressor, the scikit-learn estimator."""

import pickle
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("sklearn")
pd = pytest.importorskip("pandas")

from sklearn.base import clone  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402
from sklearn.utils import get_tags  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import lognet  # noqa: E402
from lognet import EngineOptions, LNNRegressor  # noqa: E402

# The common checks fit dozens of times on tiny random data, so a small search is enough.
FAST = EngineOptions(population=16, steps=20, n_refine=1, max_nfev=20)

# scikit-learn's checks make data "positive" for a positive_only estimator by subtracting
# the minimum, which leaves an exact 0 in X; domain='positive' rejects it.
ZERO_IN_X = "the check shifts X so its minimum is 0, and domain='positive' needs every x > 0"
POSITIVE_DOMAIN_FAILURES = (
    "check_dict_unchanged",
    "check_dont_overwrite_parameters",
    "check_dtype_object",
    "check_estimators_dtypes",
    "check_estimators_fit_returns_self",
    "check_estimators_nan_inf",
    "check_estimators_overwrite_params",
    "check_estimators_pickle",
    "check_f_contiguous_array_estimator",
    "check_fit2d_1feature",
    "check_fit2d_predict1d",
    "check_fit_check_is_fitted",
    "check_fit_idempotent",
    "check_fit_score_takes_y",
    "check_methods_sample_order_invariance",
    "check_methods_subset_invariance",
    "check_n_features_in",
    "check_n_features_in_after_fitting",
    "check_pipeline_consistency",
    "check_readonly_memmap_input",
    "check_regressor_data_not_an_array",
    "check_regressors_int",
    "check_regressors_no_decision_function",
    "check_regressors_train",
    "check_supervised_y_2d",
)


def expected_failed_checks(estimator):
    if estimator.domain == "positive":
        return {name: ZERO_IN_X for name in POSITIVE_DOMAIN_FAILURES}
    return {}


@parametrize_with_checks(
    [
        LNNRegressor(max_terms=2, options=FAST, random_state=0),
        LNNRegressor(domain="signed", loss="mse", max_terms=2, options=FAST, random_state=0),
        LNNRegressor(domain="abs", loss="msle", max_terms=2, options=FAST, random_state=0),
    ],
    expected_failed_checks=expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_common_checks(estimator, check):
    check(estimator)


@pytest.fixture
def power_law():
    """y = 2 x0^1.5 / x1 on 40 positive samples."""
    rng = np.random.default_rng(0)
    X = rng.uniform(1.0, 10.0, size=(40, 2))
    return X, 2.0 * X[:, 0] ** 1.5 / X[:, 1]


def test_fit_recovers_power_law(power_law):
    X, y = power_law
    model = LNNRegressor(options=FAST, random_state=0).fit(X, y)
    assert model.formula_ == "y = 2 * x0^1.5 * x1^-1"
    np.testing.assert_allclose(model.exponents_, [[1.5, -1.0]])
    np.testing.assert_allclose(model.coef_, [2.0])
    assert model.intercept_ == 0.0
    assert model.n_terms_ == 1
    assert model.n_features_in_ == 2
    assert isinstance(model.result_, lognet.FitResult)
    assert model.score(X, y) == pytest.approx(1.0)


def test_predict_matches_result(power_law):
    X, y = power_law
    model = LNNRegressor(options=FAST, random_state=0).fit(X, y)
    np.testing.assert_allclose(model.predict(X), model.result_.predict(X))
    np.testing.assert_allclose(model.predict(X), y, rtol=1e-9)


def test_dataframe_sets_feature_names(power_law):
    X, y = power_law
    table = pd.DataFrame(X, columns=["mass", "length"])
    model = LNNRegressor(options=FAST, random_state=0).fit(table, pd.Series(y, name="force"))
    assert list(model.feature_names_in_) == ["mass", "length"]
    assert model.formula_ == "force = 2 * mass^1.5 * length^-1"
    assert {str(symbol) for symbol in model.formula().free_symbols} == {"mass", "length"}


def test_array_has_no_feature_names(power_law):
    X, y = power_law
    model = LNNRegressor(options=FAST, random_state=0).fit(X, y)
    assert not hasattr(model, "feature_names_in_")


def test_get_set_params_roundtrip():
    model = LNNRegressor(n_terms=2, loss="mse", options=FAST)
    params = model.get_params()
    assert params["n_terms"] == 2
    assert params["loss"] == "mse"
    assert params["domain"] == "positive"
    assert params["options"] is FAST
    assert model.set_params(max_terms=3, random_state=5) is model
    assert model.max_terms == 3
    assert model.random_state == 5


def test_clone_and_pickle_fitted(power_law):
    X, y = power_law
    model = LNNRegressor(options=FAST, random_state=0).fit(X, y)
    copy = clone(model)
    assert not hasattr(copy, "result_")
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(restored.predict(X), model.predict(X))


def test_random_state_reproducible(power_law):
    X, y = power_law
    noisy = y * np.random.default_rng(1).lognormal(0.0, 0.05, size=y.shape)
    first = LNNRegressor(options=FAST, random_state=3).fit(X, noisy)
    second = LNNRegressor(options=FAST, random_state=3).fit(X, noisy)
    np.testing.assert_array_equal(first.exponents_, second.exponents_)
    np.testing.assert_array_equal(first.coef_, second.coef_)


def test_random_state_instance_accepted(power_law):
    X, y = power_law
    model = LNNRegressor(options=FAST, random_state=np.random.RandomState(0)).fit(X, y)
    assert model.formula_ == "y = 2 * x0^1.5 * x1^-1"


def test_pipeline_with_transformer(power_law):
    X, y = power_law
    # Rescaling x0 by 2 keeps the law a power law: y = 2 (x0'/2)^1.5 / x1.
    pipeline = make_pipeline(FunctionTransformer(lambda Z: Z * [2.0, 1.0]), LNNRegressor(options=FAST, random_state=0))
    pipeline.fit(X, y)
    assert pipeline.score(X, y) == pytest.approx(1.0)
    np.testing.assert_allclose(pipeline[-1].exponents_, [[1.5, -1.0]])


def test_grid_search_selects_loss(power_law):
    X, y = power_law
    search = GridSearchCV(
        LNNRegressor(options=FAST, random_state=0), {"loss": ["spes", "mse"], "max_terms": [1, 2]}, cv=3
    )
    search.fit(X, y)
    assert set(search.best_params_) == {"loss", "max_terms"}
    assert search.best_score_ == pytest.approx(1.0)
    assert search.best_estimator_.formula_ == "y = 2 * x0^1.5 * x1^-1"


def test_cross_val_score_folds(power_law):
    X, y = power_law
    scores = cross_val_score(LNNRegressor(options=FAST, random_state=0), X, y, cv=KFold(4))
    assert scores.shape == (4,)
    assert scores.min() > 0.999


def test_positive_domain_declares_tag():
    assert get_tags(LNNRegressor()).input_tags.positive_only
    assert not get_tags(LNNRegressor(domain="signed")).input_tags.positive_only
    assert not get_tags(LNNRegressor(domain="abs")).input_tags.positive_only


def test_msle_declares_positive_target():
    assert get_tags(LNNRegressor(loss="msle")).target_tags.positive_only
    assert not get_tags(LNNRegressor(loss="spes")).target_tags.positive_only


def test_positive_domain_fit_idempotent(power_law):
    # Stands in for check_fit_idempotent, which the positive domain cannot run (zero in X).
    X, y = power_law
    noisy = y * np.random.default_rng(2).lognormal(0.0, 0.05, size=y.shape)
    model = LNNRegressor(options=FAST, random_state=0)
    first = model.fit(X, noisy).predict(X)
    second = model.fit(X, noisy).predict(X)
    np.testing.assert_array_equal(first, second)


def test_positive_domain_subset_invariance(power_law):
    # Stands in for check_methods_subset_invariance: predictions do not depend on the batch.
    X, y = power_law
    model = LNNRegressor(options=FAST, random_state=0).fit(X, y)
    whole = model.predict(X)
    parts = np.concatenate([model.predict(X[:7]), model.predict(X[7:])])
    np.testing.assert_allclose(parts, whole, rtol=1e-12)


def test_positive_domain_float32_input(power_law):
    X, y = power_law
    model = LNNRegressor(options=FAST, random_state=0).fit(X.astype(np.float32), y.astype(np.float32))
    prediction = model.predict(X.astype(np.float32))
    assert prediction.dtype == np.float64
    np.testing.assert_allclose(prediction, y, rtol=1e-5)


def test_negative_values_rejected(power_law):
    X, y = power_law
    X = X.copy()
    X[3, 1] = -1.0
    with pytest.raises(ValueError, match=r"Negative values in data passed to LNNRegressor: X has 1 negative and 0 zero"):
        LNNRegressor(options=FAST).fit(X, y)


def test_zero_values_rejected(power_law):
    X, y = power_law
    X = X.copy()
    X[0, 0] = 0.0
    with pytest.raises(ValueError, match=r"Negative values in data passed to LNNRegressor: X has 0 negative and 1 zero"):
        LNNRegressor(options=FAST).fit(X, y)


def test_predict_rejects_non_positive(power_law):
    X, y = power_law
    model = LNNRegressor(options=FAST, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"Negative values in data passed to LNNRegressor.*domain='signed'"):
        model.predict(-X)


def test_signed_domain_accepts_negatives():
    X = np.linspace(-3.0, 3.0, 40).reshape(-1, 1)
    y = 2.0 * X[:, 0] ** 3 + 1.0
    model = LNNRegressor(domain="signed", loss="mse", options=FAST, random_state=0).fit(X, y)
    assert model.formula_ == "y = 2 * x0^3 + 1"
    assert model.intercept_ == pytest.approx(1.0)


def test_spes_zero_target_rejected(power_law):
    X, y = power_law
    y = y.copy()
    y[:2] = 0.0
    with pytest.raises(ValueError, match=r"y has 2 zero targets, and the SPES loss divides by the target; use loss='mse'"):
        LNNRegressor(options=FAST).fit(X, y)


def test_bad_options_type(power_law):
    X, y = power_law
    with pytest.raises(TypeError, match=r"options must be a lognet.EngineOptions or None, got dict"):
        LNNRegressor(options={"population": 16}).fit(X, y)


def test_bad_loss_rejected(power_law):
    X, y = power_law
    with pytest.raises(ValueError, match=r"loss must be one of 'spes', 'mse', 'msle', got 'spe'"):
        LNNRegressor(loss="spe").fit(X, y)


def test_predict_before_fit():
    with pytest.raises(NotFittedError, match=r"This LNNRegressor instance is not fitted yet"):
        LNNRegressor().predict(np.ones((2, 1)))


def test_predict_wrong_feature_count(power_law):
    X, y = power_law
    model = LNNRegressor(options=FAST, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match=r"X has 3 features, but LNNRegressor is expecting 2 features"):
        model.predict(np.ones((2, 3)))


def test_confidence_intervals_delegate(power_law):
    X, y = power_law
    noisy = y * np.random.default_rng(4).lognormal(0.0, 0.02, size=y.shape)
    model = LNNRegressor(options=FAST, random_state=0).fit(X, noisy)
    intervals = model.confidence_intervals(0.9)
    expected = model.result_.confidence_intervals(0.9)
    np.testing.assert_array_equal(intervals["weight"], expected["weight"])
    np.testing.assert_array_equal(intervals["coef"], expected["coef"])
    assert intervals["weight"].shape == (model.n_terms_, 2, 2)
    low, high = intervals["weight"][0, 0]
    assert low < model.exponents_[0, 0] < high


def test_terms_table_delegates(power_law):
    X, y = power_law
    noisy = y * np.random.default_rng(4).lognormal(0.0, 0.02, size=y.shape)
    model = LNNRegressor(options=FAST, random_state=0).fit(X, noisy)
    table = model.terms_table()
    assert table.shape[0] == model.n_terms_ + (model.result_.intercept is not None)
    assert table[("x0", "estimate")].iloc[0] == model.exponents_[0, 0]


def test_formula_sympy_expression(power_law):
    sympy = pytest.importorskip("sympy")
    X, y = power_law
    model = LNNRegressor(options=FAST, random_state=0).fit(X, y)
    expression = model.formula()
    assert isinstance(expression, sympy.Expr)
    symbols = {str(symbol): symbol for symbol in expression.free_symbols}
    assert expression == 2 * symbols["x0"] ** sympy.Rational(3, 2) / symbols["x1"]


def test_plots_accept_estimator(power_law):
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    X, y = power_law
    model = LNNRegressor(options=FAST, random_state=0).fit(X, y)
    ax = lognet.plots.parity_plot(model, X, y)
    assert "y = 2 * x0^1.5 * x1^-1" in ax.get_title()
    plt.close("all")


def test_import_lognet_skips_sklearn():
    code = "import sys, lognet; print('sklearn' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "False"
