"""Exact symbolic recovery: the SRBench rule for comparing a found formula with the true one."""

from __future__ import annotations

from tokenize import TokenError
from typing import TYPE_CHECKING, Iterable

import numpy as np

if TYPE_CHECKING:
    import sympy

# SymPy is imported inside the functions because it takes about half a second to import and
# ``import lognet`` should not pay for it.

# Floats are rounded to this many decimals before comparing, as in SRBench.
DECIMALS = 3
# Random points at which the numeric pre-check evaluates both expressions.
N_CHECK_POINTS = 8
# Relative spread below which a difference or ratio counts as numerically constant.
NUMERIC_TOLERANCE = 1e-6


def _to_expression(value, name: str, local_dict: dict[str, sympy.Symbol]) -> sympy.Expr:
    import sympy
    from sympy.parsing.sympy_parser import convert_xor, parse_expr, standard_transformations

    if isinstance(value, str):
        try:
            return parse_expr(value, local_dict=dict(local_dict), transformations=standard_transformations + (convert_xor,))
        except (SyntaxError, TypeError, ValueError, TokenError) as error:
            raise ValueError(f"{name} could not be parsed as a SymPy expression: {value!r} ({error}).") from error
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return sympy.Float(value) if isinstance(value, float) else sympy.Integer(value)
    if isinstance(value, sympy.Basic):
        return value
    raise TypeError(f"{name} must be a SymPy expression or a string, got {type(value).__name__}.")


def round_numbers(expression: sympy.Expr, decimals: int = DECIMALS) -> sympy.Expr:
    """Round every Float and non-integer Rational in ``expression`` to ``decimals`` places.

    A number that rounds to a whole number becomes a SymPy Integer, so ``x**2.0001`` becomes
    ``x**2``. A number below ``0.5 * 10**-decimals`` becomes 0. That removes negligible terms
    such as ``1e-8 * x``, but also small physical constants such as 6.674e-11, so write those
    in units that make them large, or raise ``decimals``.
    """
    import sympy

    replacements = {}
    for atom in expression.atoms(sympy.Float, sympy.Rational):
        if isinstance(atom, sympy.Integer):
            continue
        value = float(atom)
        rounded = round(value, decimals)
        replacements[atom] = sympy.Integer(int(rounded)) if rounded == int(rounded) else sympy.Float(rounded)
    return expression.xreplace(replacements)


def _positive_symbols(expression: sympy.Expr) -> sympy.Expr:
    import sympy

    return expression.xreplace({s: sympy.Symbol(s.name, positive=True) for s in expression.free_symbols})


def _numerically_constant(values: np.ndarray) -> bool:
    finite = values[np.isfinite(values)]
    if finite.size < 2:
        return False
    spread = float(np.max(finite) - np.min(finite))
    return spread <= NUMERIC_TOLERANCE * max(1.0, float(np.max(np.abs(finite))))


def _numeric_candidate(found: sympy.Expr, truth: sympy.Expr, symbols: list[sympy.Symbol]) -> bool:
    """Return whether found - truth or found / truth is numerically constant at random points in (0.5, 2)."""
    import sympy

    if not symbols:
        return True
    rng = np.random.default_rng(0)
    points = rng.uniform(0.5, 2.0, (N_CHECK_POINTS, len(symbols)))
    try:
        f_values = np.asarray(sympy.lambdify(symbols, found, "numpy")(*points.T), dtype=np.complex128)
        t_values = np.asarray(sympy.lambdify(symbols, truth, "numpy")(*points.T), dtype=np.complex128)
    except (TypeError, ValueError, ZeroDivisionError, NameError, OverflowError):
        # Expressions NumPy cannot evaluate go straight to the symbolic check.
        return True
    f_values = np.broadcast_to(f_values, (N_CHECK_POINTS,)).real
    t_values = np.broadcast_to(t_values, (N_CHECK_POINTS,)).real
    with np.errstate(all="ignore"):
        return _numerically_constant(f_values - t_values) or _numerically_constant(f_values / t_values)


def _is_constant(expression: sympy.Expr) -> bool:
    import sympy

    if expression.free_symbols or expression.has(sympy.nan, sympy.zoo, sympy.oo, -sympy.oo):
        return False
    return expression.is_finite is not False


def exact_match(
    found,
    truth,
    *,
    variables: Iterable[str] | None = None,
    decimals: int = DECIMALS,
) -> bool:
    """Return whether ``found`` equals ``truth`` up to an additive or multiplicative constant.

    This is the exact-recovery rule of SRBench (La Cava et al., 2021): after rounding every
    float to ``decimals`` places in both expressions, ``found`` counts as the true formula
    when ``simplify(found - truth)`` is a constant or ``simplify(found / truth)`` is a
    nonzero constant. Variables are compared by name and assumed positive (the setting of
    ``domain="positive"`` fits), so ``sqrt(x**2)`` equals ``x``. Rounding removes terms with
    coefficients below ``0.5 * 10**-decimals`` (see :func:`round_numbers`).

    Args:
        found: the fitted formula, e.g. ``result.formula()``; a SymPy expression or a string.
        truth: the true formula, a SymPy expression or a string.
        variables: names that a string must read as plain symbols even where SymPy gives them
            another meaning (``E`` is Euler's number, ``I`` the imaginary unit, ``beta`` and
            ``gamma`` functions, ``S`` and ``N`` helpers). Symbols of a SymPy argument are
            added automatically. Strings are parsed with ``sympy.parse_expr`` and
            ``convert_xor``, so ``x^2`` means ``x**2``.
        decimals: decimal places kept of every float.

    Returns:
        ``True`` when the formulas match under the rule above.

    Example:
        >>> exact_match("3.0001*x**2 + 5", "3*x^2")
        True
        >>> exact_match("x**2.01", "x^2")
        False
    """
    import sympy

    if isinstance(decimals, bool) or not isinstance(decimals, int) or decimals < 0:
        raise ValueError(f"decimals must be a non-negative int, got {decimals!r}.")
    if isinstance(variables, str):
        raise TypeError(f"variables must be an iterable of names, got the string {variables!r}; wrap it in a list.")
    names = [] if variables is None else [str(name) for name in variables]
    local_dict = {name: sympy.Symbol(name) for name in names}
    for value in (found, truth):
        if isinstance(value, sympy.Basic):
            local_dict.update({s.name: s for s in value.free_symbols})
    found_expr = round_numbers(_positive_symbols(_to_expression(found, "found", local_dict)), decimals)
    truth_expr = round_numbers(_positive_symbols(_to_expression(truth, "truth", local_dict)), decimals)
    if found_expr.has(sympy.zoo, sympy.nan) or truth_expr == 0:
        return False

    symbols = sorted(found_expr.free_symbols | truth_expr.free_symbols, key=lambda s: s.name)
    if not _numeric_candidate(found_expr, truth_expr, symbols):
        return False
    difference = sympy.simplify(found_expr - truth_expr)
    if _is_constant(difference):
        return True
    ratio = sympy.simplify(found_expr / truth_expr)
    return _is_constant(ratio) and ratio.is_zero is not True
