"""Conversion of gplearn programs and Operon model strings to SymPy, and the structure check."""

from __future__ import annotations

import sympy
from sympy.parsing.sympy_parser import convert_xor, parse_expr, standard_transformations

from lognet._exact import round_numbers


def placeholder_names(n: int) -> list[str]:
    """Column names handed to the SR libraries; law variables such as ``gamma`` would parse as functions."""
    return [f"x{i}" for i in range(n)]


def _locals(symbols: list[sympy.Symbol]) -> dict:
    return {name: symbol for name, symbol in zip(placeholder_names(len(symbols)), symbols)}


def gplearn_to_sympy(program, symbols: list[sympy.Symbol]) -> sympy.Expr:
    """Translate a gplearn program into SymPy with the variables replaced by ``symbols``.

    gplearn's protected division (1 where the denominator is below 0.001 in magnitude) and
    protected square root (of the absolute value) are written as plain ``x / y`` and
    ``sqrt(Abs(x))``, the usual reading of gplearn results.
    """
    functions = {
        "add": lambda a, b: a + b,
        "sub": lambda a, b: a - b,
        "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b,
        "sqrt": lambda a: sympy.sqrt(sympy.Abs(a)),
        "neg": lambda a: -a,
        "inv": lambda a: 1 / a,
    }
    local_dict = {f"X{i}": symbol for i, symbol in enumerate(symbols)}
    local_dict.update(functions)
    return parse_expr(str(program), local_dict=local_dict)


def operon_to_sympy(model_string: str, symbols: list[sympy.Symbol]) -> sympy.Expr:
    """Parse an Operon infix model string written with ``placeholder_names`` (``^`` is power)."""
    return parse_expr(model_string, local_dict=_locals(symbols), transformations=standard_transformations + (convert_xor,))


def monomials(expression: sympy.Expr, decimals: int = 3) -> frozenset | None:
    """Return the set of monomials of an expanded expression, or ``None`` if it is no sum of monomials.

    Numbers are rounded as in :func:`lognet.exact_match` first, so terms with negligible
    coefficients disappear. The constant term is left out, because the exact-recovery rule
    allows an additive constant. Each monomial is a frozenset of (name, exponent).
    """
    expression = sympy.expand(sympy.powsimp(round_numbers(expression, decimals), force=True))
    expression = round_numbers(expression, decimals)
    found = set()
    for term in sympy.Add.make_args(expression):
        _, rest = term.as_coeff_Mul()
        if rest == 1:
            continue
        factors = []
        for base, exponent in rest.as_powers_dict().items():
            if base.is_number:
                continue  # a constant factor such as pi belongs to the coefficient
            if not (isinstance(base, sympy.Symbol) and exponent.is_number):
                return None
            factors.append((base.name, round(float(exponent), decimals)))
        found.add(frozenset(factors))
    return frozenset(found)


def same_structure(found: sympy.Expr, truth: sympy.Expr) -> bool:
    """Return whether ``found`` is a sum of exactly the truth's monomials, with any coefficients."""
    found_terms = monomials(found)
    return found_terms is not None and found_terms == monomials(truth)
