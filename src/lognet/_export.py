"""Exports of a fitted model: a SymPy expression, LaTeX and the source of a NumPy function.

Every export is built from the parameters (``weight``, ``coef``, ``intercept``), never by
parsing a string, so feature names that SymPy or Python would misread (``E``, ``I``,
``lambda``, ``flow rate``, ``2x``) stay plain symbols.

Domains:
    positive: ``c * x**w``.
    abs: ``c * Abs(x)**w``.
    signed: the real part of the complex power on the principal branch, as the layer
        computes it. Integer exponents are exported as plain powers ``x**k``, which carry the
        sign exactly. Fractional exponents are exported in the sign/Abs form
        ``Abs(x)**w * cos(pi * w * Heaviside(-x, 0))``: for x < 0 this equals
        ``re(x**w)``, and unlike ``re(x**w)`` it stays real when evaluated by
        ``sympy.lambdify`` with NumPy, where ``x**w`` of a negative float is NaN.
"""

from __future__ import annotations

import keyword
import math
import re
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
import sympy

if TYPE_CHECKING:
    from ._result import FitResult

# An exponent within this relative distance of a rational p/q, q <= RATIONAL_DENOMINATOR, is
# exported as that exact Rational. Snapped exponents are float(p/q) exactly, while a free
# fitted exponent sits that close to a simple rational only by chance.
RATIONAL_DENOMINATOR = 100
RATIONAL_TOLERANCE = 1e-12

# Names that stay as they are in LaTeX: identifiers without a leading underscore, which
# SymPy's printer renders as letters, Greek letters or subscripts (x_1 -> x_{1}).
_PLAIN_LATEX_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_LATEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "_": r"\_",
    "#": r"\#",
    "$": r"\$",
    "%": r"\%",
    "&": r"\&",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}


def exact_exponent(value: float) -> sympy.Expr:
    """Return ``value`` as a SymPy Integer or Rational when it is a simple rational, else a Float."""
    if not math.isfinite(value):
        return _non_finite(value)
    if value == round(value):
        return sympy.Integer(int(round(value)))
    fraction = Fraction(value).limit_denominator(RATIONAL_DENOMINATOR)
    if abs(float(fraction) - value) <= RATIONAL_TOLERANCE * abs(value):
        return sympy.Rational(fraction.numerator, fraction.denominator)
    return sympy.Float(value)


def _non_finite(value: float) -> sympy.Expr:
    if math.isnan(value):
        return sympy.nan
    return sympy.oo if value > 0 else -sympy.oo


def _constant(value: float, digits: int | None) -> sympy.Expr:
    if not math.isfinite(value):
        return _non_finite(value)
    if digits is not None:
        value = float(f"{value:.{digits}g}")
    if value == round(value) and abs(value) < 2**53:
        return sympy.Integer(int(value))
    return sympy.Float(value)


def _exponent(value: float, digits: int | None) -> sympy.Expr:
    exponent = exact_exponent(value)
    if isinstance(exponent, sympy.Float) and digits is not None:
        return _constant(value, digits)
    return exponent


def _check_digits(digits) -> None:
    if digits is None:
        return
    if isinstance(digits, bool) or not isinstance(digits, int):
        raise TypeError(f"digits must be an int or None, got {type(digits).__name__} {digits!r}.")
    if not 1 <= digits <= 17:
        raise ValueError(f"digits must be between 1 and 17 significant digits (or None for full precision), got {digits}.")


def feature_symbols(result: FitResult) -> list[sympy.Symbol]:
    """Return one Symbol per feature, named exactly as the feature.

    Symbols are ``positive=True`` for the positive domain and ``real=True`` otherwise, so
    SymPy simplifies powers as the domain allows.
    """
    assumptions = {"positive": True} if result.domain == "positive" else {"real": True}
    return [sympy.Symbol(name, **assumptions) for name in result.feature_names]


def _monomial(symbols, exponents, domain: str, digits: int | None) -> sympy.Expr:
    factors = []
    phase = sympy.Integer(0)
    for symbol, value in zip(symbols, exponents):
        if value == 0:
            continue
        exponent = _exponent(float(value), digits)
        if domain == "positive" or (domain == "signed" and exponent.is_integer):
            factors.append(symbol**exponent)
        else:
            factors.append(sympy.Abs(symbol) ** exponent)
            if domain == "signed":
                phase += exponent * sympy.Heaviside(-symbol, 0)
    if phase != 0:
        factors.append(sympy.cos(sympy.pi * phase))
    return sympy.Mul(*factors)


def formula(result: FitResult, digits: int | None = None) -> sympy.Expr:
    """Return the fitted model as a SymPy expression in one Symbol per feature.

    Args:
        result: the fitted model.
        digits: significant digits kept in coefficients, the intercept and exponents that
            are not simple rationals. ``None`` keeps full float precision.

    Returns:
        ``intercept + sum_k coef_k * prod_i x_i**w_ki``. Exponents that are simple rationals
        (all snapped ones) are exact Integers or Rationals, and other exponents are Floats.
        Coefficients and the intercept are Floats, or Integers when they are whole numbers.
    """
    _check_digits(digits)
    symbols = feature_symbols(result)
    terms = [
        _constant(float(c), digits) * _monomial(symbols, w, result.domain, digits)
        for c, w in zip(result.coef, result.weight)
    ]
    if result.intercept is not None:
        terms.append(_constant(float(result.intercept), digits))
    return sympy.Add(*terms)


def _latex_name(name: str) -> str:
    if _PLAIN_LATEX_NAME.fullmatch(name):
        return sympy.latex(sympy.Symbol(name))
    escaped = "".join(_LATEX_SPECIALS.get(char, char) for char in name)
    return rf"\text{{{escaped}}}"


def to_latex(result: FitResult, digits: int | None = 4) -> str:
    """Return ``target = formula`` as LaTeX (without math delimiters).

    Names that are not plain identifiers (``flow rate``, ``2x``, ``a-b``) are set in
    ``\\text{...}`` with LaTeX's special characters escaped, so they cannot be read as
    products or subscripts, and products are then written with ``\\cdot``.
    """
    expression = formula(result, digits)
    symbol_names = {symbol: _latex_name(symbol.name) for symbol in expression.free_symbols}
    # Math mode drops spaces, so two adjacent \text names would run together without a dot.
    has_text = any(name.startswith(r"\text{") for name in symbol_names.values())
    body = sympy.latex(expression, symbol_names=symbol_names, mul_symbol="dot" if has_text else None)
    return f"{_latex_name(result.target_name)} = {body}"


def python_names(names: tuple[str, ...]) -> list[str]:
    """Map feature names to distinct, valid Python identifiers.

    Characters other than ASCII letters, digits and ``_`` become ``_``. A leading digit gets
    the prefix ``x_``, and keywords and ``np`` get a trailing ``_``. A name left with no
    letter or digit becomes ``x<column>``, and repeats get ``_2``, ``_3``, ...
    """
    used_names: set[str] = set()
    result = []
    for column, name in enumerate(names):
        candidate = re.sub(r"[^0-9A-Za-z_]", "_", name)
        if not re.search(r"[0-9A-Za-z]", candidate):
            candidate = f"x{column}"
        if candidate[0].isdigit():
            candidate = "x_" + candidate
        if keyword.iskeyword(candidate) or candidate == "np":
            candidate += "_"
        unique, suffix = candidate, 2
        while unique in used_names:
            unique, suffix = f"{candidate}_{suffix}", suffix + 1
        used_names.add(unique)
        result.append(unique)
    return result


def _python_float(value: float) -> str:
    # repr gives 'nan' and 'inf', which are not Python literals.
    return repr(value) if math.isfinite(value) else f"float({str(value)!r})"


def _python_exponent(value: float) -> str:
    if not math.isfinite(value):
        return _python_float(value)
    exponent = exact_exponent(value)
    if isinstance(exponent, sympy.Integer):
        return str(int(exponent))
    if isinstance(exponent, sympy.Rational):
        # p / q evaluates to the correctly rounded float of p/q, the value the model holds.
        return f"({exponent.p} / {exponent.q})"
    return _python_float(float(value))


def _python_term(coef: float, exponents, arguments: list[str], domain: str) -> str:
    factors = [_python_float(abs(float(coef)))]
    phase = []
    for argument, value in zip(arguments, exponents):
        value = float(value)
        if value == 0:
            continue
        power = _python_exponent(value)
        if value == 1 and domain != "abs":
            factors.append(argument)
        elif domain == "positive" or (domain == "signed" and value == round(value)):
            factors.append(f"{argument} ** {power}")
        else:
            factors.append(f"np.abs({argument}) ** {power}")
            if domain == "signed":
                phase.append(f"{power} * ({argument} < 0)")
    if phase:
        factors.append(f"np.cos(np.pi * ({' + '.join(phase)}))")
    return " * ".join(factors)


def _docstring_literal(text: str) -> str:
    # Escaping backslashes and quotes keeps any feature name from ending the literal early.
    return '"""' + text.replace("\\", "\\\\").replace('"', '\\"') + '"""'


def to_python(result: FitResult, function_name: str = "predict") -> str:
    """Return the source code of a NumPy function that evaluates the model.

    The function takes one argument per feature, named by :func:`python_names`, and its
    docstring lists which argument is which feature. Arguments broadcast like NumPy arrays.
    Numbers are written with ``repr``, so the function reproduces ``result.predict`` to
    rounding.
    """
    if not isinstance(function_name, str) or not function_name.isidentifier() or keyword.iskeyword(function_name):
        raise ValueError(f"function_name must be a valid Python identifier, got {function_name!r}.")
    arguments = python_names(result.feature_names)
    signed_terms = [(float(c), _python_term(c, w, arguments, result.domain)) for c, w in zip(result.coef, result.weight)]
    if result.intercept is not None:
        signed_terms.append((float(result.intercept), _python_float(abs(float(result.intercept)))))
    if not signed_terms:
        signed_terms = [(0.0, "0.0")]
    body = ("-" if math.copysign(1.0, signed_terms[0][0]) < 0 else "") + signed_terms[0][1]
    for value, term in signed_terms[1:]:
        body += f"\n        {'-' if math.copysign(1.0, value) < 0 else '+'} {term}"

    domain_note = {
        "positive": "defined for inputs > 0",
        "abs": "uses |x| of every input",
        "signed": "the real part of the complex power for negative inputs",
    }[result.domain]
    doc_lines = [
        f"Evaluate the lognet model {result.formula_string(digits=6)}.",
        "",
        f"Domain {result.domain!r}: {domain_note}.",
        "",
        "Args:",
        *(f"    {argument}: feature {name!r}" for argument, name in zip(arguments, result.feature_names)),
        "",
        "Returns:",
        f"    {result.target_name!r} as a float64 NumPy array (the broadcast shape of the arguments).",
    ]
    doc = "\n".join(f"    {line}" if line else "" for line in doc_lines).lstrip() + "\n    "
    conversions = "\n".join(f"    {argument} = np.asarray({argument}, dtype=np.float64)" for argument in arguments)
    return (
        "import numpy as np\n\n\n"
        f"def {function_name}({', '.join(arguments)}):\n"
        f"    {_docstring_literal(doc)}\n"
        f"{conversions}\n"
        f"    prediction = (\n        {body}\n    )\n"
        "    return np.asarray(prediction, dtype=np.float64)\n"
    )


def _drop_unit_phases(expression: sympy.Expr) -> sympy.Expr:
    """Replace cos(pi * sum_i k_i Heaviside(...)) by 1 when every k_i is an even integer.

    Two copies of one hidden value, such as |z|^(1/2) |z|^(3/2), give such a factor, which is
    1 for every sign of z.
    """
    replacements = {}
    for factor in expression.atoms(sympy.cos):
        parts = sympy.Add.make_args(sympy.expand(factor.args[0] / sympy.pi))
        even = True
        for part in parts:
            coefficient, rest = part.as_coeff_Mul()
            if not (isinstance(rest, sympy.Heaviside) and coefficient.is_integer and coefficient % 2 == 0):
                even = False
        if even:
            replacements[factor] = sympy.Integer(1)
    return expression.xreplace(replacements)


def network_formula(fit, digits: int | None = 4, drop_below: float = 1e-9) -> sympy.Expr:
    """Return a :class:`lognet.NetworkFit` as a SymPy expression in one Symbol per feature.

    Each hidden value z_h = sum_d W1_hd x_d is divided by its largest |W1_hd|, and the output
    weights absorb that positive factor (c_k times prod_h s_h^W2_kh), which changes neither the
    signs nor the value. First-layer weights below ``drop_below`` after that division are left
    out, so a hidden value shows only the inputs it uses. The expression is built at full
    precision and its floats are rounded to ``digits`` significant digits at the end, so
    rounding errors do not add up when SymPy multiplies out a hidden sum. Powers follow the
    domain as in :func:`formula`; symbols are positive when every training input was.
    """
    _check_digits(digits)
    W1 = fit.model[0].weight.detach().numpy()
    W2 = fit.model[1].weight.detach().numpy()
    c = fit.model[2].weight.detach().numpy()[0]
    b = float(fit.model[2].bias.detach()[0])
    domain = fit.model[1].domain
    assumptions = {"positive": True} if fit.positive_inputs else {"real": True}
    symbols = [sympy.Symbol(name, **assumptions) for name in fit.feature_names]
    # A row whose largest weight is negative is flipped where that changes no value: always in
    # the abs domain, and in the signed domain when every power of it is an integer, whose
    # sign (-1)^w goes into the output weight. So (-a - b)^2 prints as (a + b)^2.
    W1, c = W1.copy(), c.copy()
    for h, row in enumerate(W1):
        if row[int(np.argmax(np.abs(row)))] >= 0:
            continue
        powers = W2[:, h][c != 0]
        if domain == "abs" or all(float(w).is_integer() for w in powers):
            W1[h] = -row
            c = c * np.where(np.mod(W2[:, h], 2) == 1, -1.0, 1.0) if domain != "abs" else c
    scales = [float(abs(row).max()) or 1.0 for row in W1]
    hidden = []
    for row, scale in zip(W1, scales):
        weights = [(_constant(w / scale, None), symbol) for w, symbol in zip(row, symbols) if abs(w / scale) >= drop_below]
        hidden.append(sympy.Add(*(weight * symbol for weight, symbol in weights)))
    terms = []
    for k in range(len(c)):
        if c[k] == 0:
            continue
        coefficient = c[k] * math.prod(scale ** float(w) for scale, w in zip(scales, W2[k]))
        terms.append(_constant(coefficient, None) * _monomial(hidden, W2[k], domain, None))
    expression = _drop_unit_phases(sympy.Add(*terms, _constant(b, None)))
    if digits is None:
        return expression
    return expression.xreplace({value: _constant(float(value), digits) for value in expression.atoms(sympy.Float)})
