"""Plain-text tables and summaries that the ``lognet`` command line prints."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

# Digits of the raw numbers in tables: enough to tell 1.49979 from 1.5.
SIGNIFICANT = 6


def number(value, significant: int = SIGNIFICANT) -> str:
    """Format a float with ``significant`` digits; missing values print as '-'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return f"{float(value):.{significant}g}"


def render(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> str:
    """Align ``rows`` under ``header``: the first column left-aligned, the others right-aligned."""
    table = [list(header)] + [list(row) for row in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = []
    for row in table:
        cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
        lines.append(indent + "  ".join(cells).rstrip())
    return "\n".join(lines)


# Coverage of the confidence intervals printed next to each coefficient and exponent.
LEVEL = 0.95


def terms_text(result) -> str:
    """Return the learned terms as a table: one row per term and one for the intercept.

    Each coefficient and exponent is followed by its 95% confidence interval, unless the
    result has no Jacobian to compute intervals from.
    """
    title = f"Terms: {result.target_name} = sum of coef * product of feature^exponent"
    if result.intercept is not None:
        title += " + intercept"
    parameters = ["coef", *result.feature_names]
    if result.jacobian is None:
        header = ["term", *parameters]
        rows = [[f"term {k}", number(result.coef[k]), *map(number, result.weight[k])] for k in range(result.n_terms)]
        if result.intercept is not None:
            rows.append(["intercept", number(result.intercept)] + [""] * result.n_features)
        return f"{title}\n{render(header, rows)}"

    table = result.terms_table(LEVEL)
    interval = f"{LEVEL:.0%} CI"
    header = ["term"] + [label for name in parameters for label in (name, interval)]
    rows = []
    for label, values in table.iterrows():
        row = [str(label)]
        for position in range(len(parameters)):
            # Positional access: a feature named "coef" would repeat the top-level label.
            estimate, low, high = values.iloc[3 * position : 3 * position + 3]
            if label == "intercept" and position > 0:
                row += ["", ""]
            else:
                row += [number(estimate), f"[{number(low)}, {number(high)}]"]
        rows.append(row)
    return f"{title}\n{render(header, rows)}"


def formula_text(result) -> str:
    """Return the formula, followed by the raw one when simplification changed it."""
    lines = [f"Formula:     {result.formula_string()}"]
    raw = result.raw
    if raw is not None and raw.formula_string() != result.formula_string():
        lines.append(f"Raw formula: {raw.formula_string()}  (before simplification)")
    return "\n".join(lines)


def metrics_text(metrics: dict) -> str:
    rows = []
    for split in ("train", "validation"):
        values = metrics.get(split)
        if values is None:
            continue
        rows.append(
            [
                split,
                number(values.get("r2"), 8),
                number(values.get("rmse"), 4),
                _percent(values.get("max_rel_error")),
                number(values.get("n_samples")),
            ]
        )
    text = "Metrics\n" + render(["", "R^2", "RMSE", "max rel. error", "samples"], rows)
    if metrics.get("validation") is None:
        text += "\n  (no validation split: below 30 samples the number of terms is chosen by AICc)"
    return text


def _percent(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{100 * float(value):.3g}%"


def metadata_text(result, path) -> str:
    saved = result.extra.get("saved", {})
    items = [
        ("file", str(path)),
        ("target", result.target_name),
        ("features", ", ".join(result.feature_names)),
        ("terms", str(result.n_terms)),
        ("intercept", "yes" if result.intercept is not None else "no"),
        ("domain", result.domain),
        ("loss", result.loss),
        ("training samples", number(result.metrics.get("train", {}).get("n_samples"))),
        ("lognet version", str(saved.get("lognet_version", "-"))),
        ("created", str(saved.get("created", "-"))),
        ("format version", str(saved.get("format_version", "-"))),
    ]
    width = max(len(key) for key, _ in items)
    return "Model\n" + "\n".join(f"  {key.ljust(width)}  {value}" for key, value in items)
