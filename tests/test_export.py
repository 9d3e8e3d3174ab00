"""Tests of the SymPy, LaTeX and Python exports of a FitResult."""

from __future__ import annotations

import numpy as np
import pytest
import sympy

import lognet
from lognet import FitResult
from lognet._export import exact_exponent, python_names


def make_result(weight, coef, intercept=None, names=("a", "b"), target="y", domain="positive") -> FitResult:
    return FitResult(weight=weight, coef=coef, intercept=intercept, feature_names=names, target_name=target, domain=domain)


def run_python(result: FitResult, X: np.ndarray) -> np.ndarray:
    namespace: dict = {}
    exec(result.to_python(), namespace)
    return namespace["predict"](*X.T)


def assert_same_values(actual: np.ndarray, expected: np.ndarray) -> None:
    # Exact zeros of the signed domain (cos of an odd multiple of pi/2) come out as about 1e-16
    # times the term's size in either evaluation, so the absolute tolerance scales with the data.
    scale = float(np.max(np.abs(expected)))
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-13 * scale)


MONOMIAL = make_result([[2, 0.5]], [3.0])
MIXED = make_result([[1.5, -1 / 3], [0, 0.14159]], [2.5, -0.75], intercept=1.25, names=("m", "r"), target="F")
GRAVITY = make_result([[1, 1, -2]], [6.674e-11], names=("m_1", "m_2", "r"), target="F")
ODD_NAMES = make_result([[2, -0.5, 1]], [0.5], intercept=-4.0, names=("flow rate", "2x", "a-b"), target="head loss")
SIGNED = make_result([[3, 0.5]], [2.0], names=("x", "z"), domain="signed")
ABS = make_result([[2, -1.5]], [2.0], intercept=1.0, names=("x", "z"), domain="abs")


@pytest.mark.parametrize(
    "result, text",
    [
        (MONOMIAL, "3*a**2*sqrt(b)"),
        (MIXED, "2.5*m**(3/2)/r**(1/3) - 0.75*r**0.14159 + 1.25"),
        (GRAVITY, "6.674e-11*m_1*m_2/r**2"),
        (ODD_NAMES, "-4 + 0.5*a-b*flow rate**2/sqrt(2x)"),
        (SIGNED, "2*x**3*cos(pi*Heaviside(-z, 0)/2)*sqrt(Abs(z))"),
        (ABS, "2*x**2/Abs(z)**(3/2) + 1"),
    ],
)
def test_formula_sympy_string(result, text):
    assert str(result.formula()) == text


@pytest.mark.parametrize(
    "result, text",
    [
        (MONOMIAL, r"y = 3 a^{2} \sqrt{b}"),
        (MIXED, r"F = \frac{2.5 m^{\frac{3}{2}}}{\sqrt[3]{r}} - 0.75 r^{0.1416} + 1.25"),
        (GRAVITY, r"F = \frac{6.674 \cdot 10^{-11} m_{1} m_{2}}{r^{2}}"),
        (
            ODD_NAMES,
            r"\text{head loss} = -4 + \frac{0.5 \cdot \text{a-b} \cdot \text{flow rate}^{2}}{\sqrt{\text{2x}}}",
        ),
        (SIGNED, r"y = 2 x^{3} \cos{\left(\frac{\pi \theta\left(- z, 0\right)}{2} \right)} \sqrt{\left|{z}\right|}"),
        (ABS, r"y = \frac{2 x^{2}}{\left|{z}\right|^{\frac{3}{2}}} + 1"),
    ],
)
def test_to_latex_exact_string(result, text):
    assert result.to_latex() == text


def test_latex_escapes_special_characters():
    result = make_result([[1, 1]], [2.0], names=("a#b", "c\\d"), target="y_max")
    assert result.to_latex() == r"y_{max} = 2 \cdot \text{a\#b} \cdot \text{c\textbackslash{}d}"


def test_formula_exponent_types():
    terms = MIXED.formula().as_ordered_terms()
    powers = {p.exp for term in terms for p in term.atoms(sympy.Pow)}
    assert sympy.Rational(3, 2) in powers
    assert sympy.Rational(-1, 3) in powers
    assert sympy.Float(0.14159) in powers


def test_exact_exponent_rational_or_float():
    assert exact_exponent(2.0) == sympy.Integer(2)
    assert exact_exponent(-1 / 3) == sympy.Rational(-1, 3)
    assert exact_exponent(0.8) == sympy.Rational(4, 5)
    assert isinstance(exact_exponent(0.8 + 1e-9), sympy.Float)
    assert isinstance(exact_exponent(np.pi), sympy.Float)


def test_formula_reserved_names_are_symbols():
    names = ("E", "I", "N", "S", "Q", "O", "beta", "gamma", "zeta", "lambda", "pi")
    result = make_result([[1.0] * len(names)], [1.5], names=names, target="out")
    expression = result.formula()
    assert {s.name for s in expression.free_symbols} == set(names)
    assert not expression.has(sympy.E)
    assert not expression.has(sympy.I)
    assert not expression.has(sympy.pi)
    values = dict.fromkeys(expression.free_symbols, 2.0)
    assert float(expression.subs(values)) == pytest.approx(1.5 * 2.0 ** len(names))


def test_formula_digits_rounds_numbers():
    result = make_result([[1.23456789, 2]], [3.14159265], intercept=-0.000123456)
    assert str(result.formula(digits=3)) == "3.14*a**1.23*b**2 - 0.000123"


def test_formula_whole_coefficient_is_integer():
    result = make_result([[1, 0]], [1.0], intercept=2.0)
    assert str(result.formula()) == "a + 2"


@pytest.mark.parametrize("result", [MONOMIAL, MIXED, GRAVITY, ODD_NAMES, SIGNED, ABS])
def test_formula_matches_predict(result):
    rng = np.random.default_rng(0)
    low = 0.5 if result.domain == "positive" else -3.0
    X = rng.uniform(low, 3.0, (20, result.n_features))
    symbols = sorted(result.formula().free_symbols, key=lambda s: result.feature_names.index(s.name))
    function = sympy.lambdify(symbols, result.formula(), "numpy")
    assert_same_values(function(*X.T), result.predict(X))


def test_signed_formula_is_real_part():
    result = make_result([[1 / 3]], [1.0], names=("x",), domain="signed")
    (x,) = result.formula().free_symbols
    assert result.formula().subs(x, -8) == 1
    assert result.formula().subs(x, 8) == 2
    assert float(result.predict(np.array([[-8.0]]))[0]) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "bad, error",
    [(0, ValueError), (18, ValueError), (2.5, TypeError), (True, TypeError)],
)
def test_formula_rejects_bad_digits(bad, error):
    with pytest.raises(error, match="digits must be"):
        MONOMIAL.formula(digits=bad)


@pytest.mark.parametrize("result", [MONOMIAL, MIXED, GRAVITY, ODD_NAMES, SIGNED, ABS])
def test_to_python_matches_predict(result):
    rng = np.random.default_rng(1)
    low = 0.5 if result.domain == "positive" else -3.0
    X = rng.uniform(low, 3.0, (50, result.n_features))
    assert_same_values(run_python(result, X), result.predict(X))


def test_to_python_signed_zero_inputs():
    result = make_result([[2, 0.5], [0, 1 / 3]], [1.0, -2.0], names=("x", "z"), domain="signed")
    X = np.array([[0.0, -1.0], [-2.0, 0.0], [-1.5, -8.0]])
    assert_same_values(run_python(result, X), result.predict(X))


def test_to_python_random_models():
    rng = np.random.default_rng(2)
    for domain in ("positive", "signed", "abs"):
        for n_terms in (1, 2, 4):
            weight = np.round(rng.uniform(-2, 2, (n_terms, 3)), rng.integers(0, 3))
            coef = rng.normal(size=n_terms)
            result = make_result(weight, coef, intercept=float(rng.normal()), names=("a", "b", "c"), domain=domain)
            low = 0.5 if domain == "positive" else -2.0
            X = rng.uniform(low, 2.0, (30, 3))
            assert_same_values(run_python(result, X), result.predict(X))


def test_to_python_sanitises_arguments():
    source = ODD_NAMES.to_python()
    assert "def predict(flow_rate, x_2x, a_b):" in source
    assert "flow_rate: feature 'flow rate'" in source
    assert "x_2x: feature '2x'" in source
    assert "a_b: feature 'a-b'" in source


def test_to_python_quotes_in_names():
    result = make_result([[1, 2]], [1.0], names=('say """hi"""', "back\\slash"))
    X = np.array([[1.0, 2.0], [3.0, 0.5]])
    assert_same_values(run_python(result, X), result.predict(X))


def test_to_python_function_name():
    namespace: dict = {}
    exec(MONOMIAL.to_python("law"), namespace)
    assert namespace["law"](2.0, 4.0) == pytest.approx(24.0)


@pytest.mark.parametrize("bad", ["2fast", "class", "a b", 3])
def test_to_python_rejects_bad_name(bad):
    with pytest.raises(ValueError, match="function_name must be a valid Python identifier"):
        MONOMIAL.to_python(bad)


def test_python_names_cases():
    names = python_names(("a b", "a_b", "class", "np", "!!", "3d", "x"))
    assert names == ["a_b", "a_b_2", "class_", "np_", "x4", "x_3d", "x"]


def test_fitted_formula_has_rational_exponents():
    rng = np.random.default_rng(3)
    X = rng.uniform(1, 5, (60, 2))
    y = 2.0 * X[:, 0] ** 1.5 / X[:, 1] ** (1 / 3)
    options = lognet.EngineOptions(population=32, steps=60)
    result = lognet.fit(X, y, feature_names=["m", "r"], random_state=0, options=options)
    powers = {p.exp for p in result.formula().atoms(sympy.Pow)}
    assert powers == {sympy.Rational(3, 2), sympy.Rational(-1, 3)}
    assert_same_values(run_python(result, X), result.predict(X))


def test_non_finite_parameters_export():
    assert make_result([[np.nan, 1.0]], [2.0]).formula() == sympy.nan
    assert make_result([[1.0, 1.0]], [-np.inf]).formula() == -sympy.oo
    namespace: dict = {}
    exec(make_result([[np.nan, 1.0]], [np.inf], intercept=np.nan).to_python(), namespace)
    assert np.isnan(namespace["predict"](2.0, 3.0))
