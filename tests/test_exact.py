"""Tests of lognet.exact_match, the SRBench exact-recovery rule."""

from __future__ import annotations

import pytest
import sympy

from lognet import FitResult, exact_match
from lognet._exact import round_numbers

x, y, z = sympy.symbols("x y z", positive=True)


@pytest.mark.parametrize(
    "found, truth",
    [
        ("x**2*y", "x^2*y"),
        ("3.7*x**2*y", "x**2*y"),
        ("x**2*y + 12.5", "x**2*y"),
        ("3.0001*x**2 + 5", "3*x**2"),
        ("2.0001*x**2", "x**2"),
        ("x**1.5/sqrt(y)", "x**(3/2)*y**(-1/2)"),
        ("x**0.3334", "x**(1/3)"),
        ("x**0.333", "x**(1/3)"),
        ("0.5*m*v**2 + 9.8101*m*h", "m*v**2/2 + 9.81*m*h"),
        ("66.74*m1*m2/r**2", "m1*m2/r^2"),
        ("x**2 + 0.0001*y", "x**2"),
        ("x*x/(x*y)", "x/y"),
        ("sqrt(x**2)", "x"),
        ("(x + y)**2 - y**2", "x**2 + 2*x*y"),
        ("exp(log(x) * 2)", "x**2"),
    ],
)
def test_exact_match_positive_cases(found, truth):
    assert exact_match(found, truth)


@pytest.mark.parametrize(
    "found, truth",
    [
        ("x**2.01", "x**2"),
        ("x**0.332", "x**(1/3)"),
        ("x**2 + y", "x**2"),
        ("x**2 + x", "x**2"),
        ("0.5*m*v**2 + 9.806*m*h", "m*v**2/2 + 9.81*m*h"),
        ("x*y", "x*z"),
        ("2*x + 3*y", "x + y"),
        ("0", "x"),
        ("x", "0"),
        ("sin(x)", "x"),
    ],
)
def test_exact_match_negative_cases(found, truth):
    assert not exact_match(found, truth)


def test_exact_match_sympy_expressions():
    assert exact_match(sympy.Float(2.5) * x ** sympy.Float(0.5), sympy.sqrt(x))
    assert not exact_match(x * y, x + y)


def test_exact_match_ignores_assumptions():
    plain = sympy.Symbol("x")
    real = sympy.Symbol("x", real=True)
    assert exact_match(2 * plain, x)
    assert exact_match(real**2, x**2)


def test_exact_match_fit_result_formula():
    result = FitResult(weight=[[0.5, -0.5]], coef=[6.2832], intercept=None, feature_names=("L", "g"))
    assert exact_match(result.formula(), "2*pi*sqrt(L/g)")


def test_reserved_names_default_meaning():
    # Without ``variables``, E parses as Euler's number, a constant.
    assert exact_match("E*x", "x")


def test_reserved_names_as_variables():
    assert not exact_match("E*x", "x", variables=["E"])
    assert exact_match("I*beta**2", "3*I*beta^2", variables=["I", "beta"])


def test_symbols_from_sympy_argument_reach_string():
    E = sympy.Symbol("E", positive=True)
    assert not exact_match(E * x, "x")
    assert exact_match(2 * E * x, "E*x")


def test_decimals_controls_rounding():
    assert not exact_match("x**2.01", "x**2")
    assert exact_match("x**2.01", "x**2", decimals=1)


def test_round_numbers_to_decimals():
    rounded = round_numbers(sympy.Float(0.00049) * x + sympy.Float(1.23456) * y)
    assert rounded == sympy.Float(1.235) * y


def test_tiny_constant_needs_more_decimals():
    assert not exact_match("6.674e-11*m1*m2/r**2", "m1*m2/r^2")
    assert exact_match("6.674e-11*m1*m2/r**2", "m1*m2/r^2", decimals=14)


def test_round_numbers_whole_becomes_integer():
    assert round_numbers(x ** sympy.Float(1.9999)) == x**2


def test_unparseable_string_raises():
    with pytest.raises(ValueError, match=r"found could not be parsed as a SymPy expression: 'x \*\* \* 2'"):
        exact_match("x ** * 2", "x")


def test_wrong_type_raises():
    with pytest.raises(TypeError, match="truth must be a SymPy expression or a string, got list"):
        exact_match("x", ["x"])


def test_variables_string_raises():
    with pytest.raises(TypeError, match="variables must be an iterable of names, got the string 'xy'"):
        exact_match("x", "x", variables="xy")


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_bad_decimals_raises(bad):
    with pytest.raises(ValueError, match="decimals must be a non-negative int"):
        exact_match("x", "x", decimals=bad)
