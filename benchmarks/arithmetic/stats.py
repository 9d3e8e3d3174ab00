"""Summary statistics of the benchmark: Wilson intervals, medians and per-cell summaries."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict

# Two-sided 95% normal quantile, Phi^-1(0.975).
Z_95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Return the Wilson score interval (low, high) for ``successes`` out of ``trials``.

    Unlike the normal approximation it stays inside [0, 1] and is not empty at 0 or n
    successes, which is where most cells of this benchmark are.
    """
    if not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials must be a positive int, got {trials!r}; pass the number of runs.")
    if not isinstance(successes, int) or not 0 <= successes <= trials:
        raise ValueError(f"successes must be an int in [0, trials={trials}], got {successes!r}; count each run once.")
    rate = successes / trials
    denominator = 1 + z**2 / trials
    center = (rate + z**2 / (2 * trials)) / denominator
    half_width = z * math.sqrt(rate * (1 - rate) / trials + z**2 / (4 * trials**2)) / denominator
    # At 0 or n successes the bound is exactly 0 or 1, where round-off would leave 1e-17.
    low = 0.0 if successes == 0 else center - half_width
    high = 1.0 if successes == trials else center + half_width
    return low, high


def median_error(values: list[float]) -> float:
    """Median of extrapolation errors, with NaN counted as +inf (a diverged run)."""
    cleaned = [math.inf if math.isnan(value) else value for value in values]
    return statistics.median(cleaned)


def summarise(records: list[dict]) -> dict[tuple[str, str], dict]:
    """Group run records by (model, task) and summarise each group.

    Returns a dict keyed by (model, task) with ``successes``, ``runs``, ``rate``, ``low`` and
    ``high`` (95% Wilson interval), ``median_mse`` and ``seconds`` (mean per run).
    """
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for record in records:
        groups[(record["model"], record["task"])].append(record)
    summary = {}
    for key, group in groups.items():
        successes = sum(bool(record["success"]) for record in group)
        low, high = wilson_interval(successes, len(group))
        summary[key] = {
            "successes": successes,
            "runs": len(group),
            "rate": successes / len(group),
            "low": low,
            "high": high,
            "median_mse": median_error([record["extrapolation_mse"] for record in group]),
            "seconds": statistics.fmean(record["seconds"] for record in group),
        }
    return summary
