"""Tests for the diagnostic plots in lognet.plots."""

import subprocess
import sys

import numpy as np
import pytest

import lognet
from lognet import datasets, plots

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture
def planets():
    """Kepler's law as a fitted result, with the bundled data and its units."""
    table = datasets.load("planets")
    result = lognet.FitResult(weight=[[1.5]], coef=[1.0], intercept=None, feature_names=("a",), target_name="P")
    return result, table[["a"]], table["P"], datasets.info("planets").units


@pytest.fixture
def trees():
    table = datasets.load("trees")
    result = lognet.FitResult(
        weight=[[2.0, 1.0]], coef=[0.00207], intercept=None, feature_names=("Girth", "Height"), target_name="Volume"
    )
    return result, table[["Girth", "Height"]], table["Volume"], datasets.info("trees").units


def test_parity_plot_planets_log_axes(planets):
    result, X, y, units = planets
    ax = plots.parity_plot(result, X, y, units=units)
    assert ax.get_xscale() == "log"
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "observed P [Julian year (365.25 d)]"
    assert ax.get_ylabel() == "predicted P [Julian year (365.25 d)]"
    assert "P = 1 * a^1.5" in ax.get_title()


def test_parity_plot_trees_linear_axes(trees):
    result, X, y, units = trees
    ax = plots.parity_plot(result, X, y, units=units)
    assert ax.get_xscale() == "linear"
    assert ax.get_yscale() == "linear"
    assert ax.get_xlabel() == "observed Volume [ft^3]"


def test_parity_plot_draws_identity_line(trees):
    result, X, y, _ = trees
    ax = plots.parity_plot(result, X, y)
    line = ax.get_lines()[0]
    assert np.array_equal(line.get_xdata(), line.get_ydata())
    assert ax.get_xlabel() == "observed Volume"


def test_parity_plot_on_given_axes(trees):
    result, X, y, _ = trees
    _, ax = plt.subplots()
    assert plots.parity_plot(result, X, y, ax=ax) is ax


def test_parity_plot_matches_columns_by_name(trees):
    result, X, y, _ = trees
    shuffled = datasets.load("trees")[["Volume", "Height", "Girth"]]
    ax = plots.parity_plot(result, shuffled, y)
    points = ax.collections[0].get_offsets()
    np.testing.assert_allclose(points[:, 1], result.predict(X))


def test_residual_plot_one_panel_per_feature(trees):
    result, X, y, units = trees
    axes = plots.residual_plot(result, X, y, units=units)
    assert len(axes) == 2
    assert axes[0].get_xlabel() == "Girth [in]"
    assert axes[1].get_xlabel() == "Height [ft]"
    assert axes[0].get_ylabel() == "relative residual of Volume [%]"


def test_residual_plot_spes_in_percent(trees):
    result, X, y, _ = trees
    ax = plots.residual_plot(result, X, y, feature="Girth")
    residuals = ax.collections[0].get_offsets()[:, 1]
    expected = 100 * (y.to_numpy() - result.predict(X)) / y.to_numpy()
    np.testing.assert_allclose(residuals, expected)


def test_residual_plot_mse_in_target_units(trees):
    result, X, y, units = trees
    result.loss = "mse"
    ax = plots.residual_plot(result, X, y, feature=1, units=units)
    residuals = ax.collections[0].get_offsets()[:, 1]
    np.testing.assert_allclose(residuals, y.to_numpy() - result.predict(X))
    assert ax.get_ylabel() == "residual of Volume (observed - predicted) [ft^3]"


def test_residual_plot_wrong_axes_count(trees):
    result, X, y, _ = trees
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match=r"needs one Axes per plotted feature \(2\), got 1"):
        plots.residual_plot(result, X, y, ax=ax)


def test_residual_plot_unknown_feature(trees):
    result, X, y, _ = trees
    with pytest.raises(ValueError, match=r"feature 'Diameter' is not one of the model's features"):
        plots.residual_plot(result, X, y, feature="Diameter")


def test_residual_plot_feature_index_range(trees):
    result, X, y, _ = trees
    with pytest.raises(ValueError, match=r"feature index 2 is out of range for 2 features"):
        plots.residual_plot(result, X, y, feature=2)


def test_residual_plot_feature_bad_type(trees):
    result, X, y, _ = trees
    with pytest.raises(TypeError, match=r"feature must be a column name or an int index, got float"):
        plots.residual_plot(result, X, y, feature=1.0)


def test_extrapolation_plot_extends_range(planets):
    result, X, y, units = planets
    ax = plots.extrapolation_plot(result, X, y, "a", factor=10, units=units)
    curve = ax.get_lines()[0]
    grid = curve.get_xdata()
    assert grid.min() == pytest.approx(X["a"].min() / 10)
    assert grid.max() == pytest.approx(X["a"].max() * 10)
    np.testing.assert_allclose(curve.get_ydata(), grid**1.5)
    assert ax.get_xscale() == "log"
    assert ax.get_yscale() == "log"
    assert ax.get_xlabel() == "a [AU]"
    assert ax.get_ylabel() == "P [Julian year (365.25 d)]"


def test_extrapolation_plot_holds_others_at_median(trees):
    result, X, y, _ = trees
    ax = plots.extrapolation_plot(result, X, y, "Girth")
    curve = ax.get_lines()[0]
    expected = 0.00207 * curve.get_xdata() ** 2 * X["Height"].median()
    np.testing.assert_allclose(curve.get_ydata(), expected)
    assert "Height = 76" in ax.get_title()


def test_extrapolation_plot_signed_feature():
    result = lognet.FitResult(weight=[[3.0]], coef=[2.0], intercept=1.0, feature_names=("x",), domain="signed", loss="mse")
    X = np.linspace(-2.0, 2.0, 9)[:, None]
    y = 2 * X[:, 0] ** 3 + 1
    ax = plots.extrapolation_plot(result, X, y, 0, factor=3)
    grid = ax.get_lines()[0].get_xdata()
    assert grid.min() == pytest.approx(-6.0)
    assert grid.max() == pytest.approx(6.0)
    assert ax.get_xscale() == "linear"


@pytest.mark.parametrize("factor", [1, 0.5, True, "10"])
def test_extrapolation_plot_bad_factor(planets, factor):
    result, X, y, _ = planets
    with pytest.raises(ValueError, match=r"factor must be a number > 1, got"):
        plots.extrapolation_plot(result, X, y, "a", factor=factor)


def test_fit_figure_two_panels(planets):
    result, X, y, units = planets
    figure = plots.fit_figure(result, X, y, units=units)
    top, bottom = figure.axes
    assert top.get_xscale() == "log"
    assert top.get_ylabel() == "predicted P [Julian year (365.25 d)]"
    assert bottom.get_xlabel() == "observed P [Julian year (365.25 d)]"
    assert bottom.get_ylabel() == "relative residual of P [%]"
    title = figure.get_suptitle()
    assert "P = 1 * a^1.5" in title
    assert "on 8 samples" in title


def test_save_fit_figure_writes_png(planets, tmp_path):
    result, X, y, units = planets
    path = plots.save_fit_figure(result, X, y, tmp_path / "fit.png", units=units)
    assert path == tmp_path / "fit.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plt.get_fignums() == []


def test_save_fit_figure_svg_from_str(trees, tmp_path):
    result, X, y, _ = trees
    path = plots.save_fit_figure(result, X, y, str(tmp_path / "fit.svg"))
    assert path.read_text().lstrip().startswith("<?xml")


def test_plots_reject_other_objects(planets):
    _, X, y, _ = planets
    with pytest.raises(TypeError, match=r"expected a lognet.FitResult or a fitted LNNRegressor, got dict"):
        plots.parity_plot({}, X, y)


def test_plots_reject_wrong_feature_count(trees):
    result, _, y, _ = trees
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 2\)"):
        plots.parity_plot(result, np.ones((31, 3)), y)


def test_plots_reject_sample_mismatch(trees):
    result, X, y, _ = trees
    with pytest.raises(ValueError, match=r"X has 31 samples but y has 30"):
        plots.parity_plot(result, X, y[:30])


def test_plots_without_matplotlib(planets, monkeypatch):
    result, X, y, _ = planets
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'lognet\[plot\]'"):
        plots.save_fit_figure(result, X, y, "unused.png")


def test_import_lognet_skips_matplotlib():
    code = "import sys, lognet; lognet.plots; print('matplotlib' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "False"
