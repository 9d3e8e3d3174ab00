"""Simplification with a guarantee: snap exponents, drop terms, keep held-out error.

Each change snaps one exponent to a simple rational, drops one term or drops the intercept.
After it, everything still free is refitted (Levenberg-Marquardt with the snapped exponents
held fixed). The change is kept only if the selection loss stays within ``(1 + tol)`` of the
raw model's, or below an absolute floor for fits that are exact to rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable

import torch

from ._basis import Design
from ._distributed import LOCAL, Communicator
from ._engine import Candidate
from ._refine import Residuals, refine

# Snapping looks this far from the fitted exponent, and tries this many rationals per exponent.
MAX_SNAP_DISTANCE = 0.25
MAX_TRIES = 3


@dataclass
class Step:
    """One attempted simplification: what was tried, the loss it gave, whether it was kept."""

    action: str
    loss: float
    accepted: bool


def simple_rationals(value: float, max_denominator: int) -> list[Fraction]:
    """Rationals p/q with q <= max_denominator near ``value``, simplest (smallest q) first.

    The nearest rational always takes the last of the ``MAX_TRIES`` places, so 0.8 tries
    4/5 and not only the simpler but farther 1, 2/3 and 3/4.
    """
    found = {Fraction(round(value * q), q) for q in range(1, max_denominator + 1)}
    near = [f for f in found if abs(float(f) - value) <= MAX_SNAP_DISTANCE]
    tries = sorted(near, key=lambda f: (f.denominator, abs(float(f) - value)))[:MAX_TRIES]
    nearest = min(near, key=lambda f: (abs(float(f) - value), f.denominator), default=None)
    if nearest is not None and nearest not in tries:
        tries[-1] = nearest
    return tries


class Simplifier:
    """Run the snapping and dropping passes on one fitted candidate.

    Args:
        design: training-set basis data.
        target: training targets.
        loss: loss name; ``scale`` is the MSE residual scale.
        score: maps a candidate to its selection loss (held-out loss, or training loss
            when no data were held out).
        limit: the largest selection loss a change may leave.
        max_denominator: largest denominator of a snapped exponent.
        max_nfev: refinement budget per trial.
        comm: collectives for sharded data.
        interval: (low, high) bounds of each exponent of the raw fit, shape (K, d, 2), or
            ``None``. A snap to values inside these bounds is consistent with the data, so it
            is kept up to ``loose_limit`` instead of ``limit``. The held-out loss of a few
            hundred samples is too noisy to reject such snaps on its own.
        loose_limit: the largest selection loss a snap inside ``interval`` may leave.
        drop_terms: try dropping terms; off when the caller fixed the number of terms.
    """

    def __init__(
        self,
        design: Design,
        target,
        loss: str,
        scale: float,
        score: Callable[[Candidate], float],
        limit: float,
        max_denominator: int,
        max_nfev: int,
        comm: Communicator = LOCAL,
        interval: torch.Tensor | None = None,
        loose_limit: float | None = None,
        drop_terms: bool = True,
    ):
        self.comm = comm
        self.allow_drop_terms = drop_terms
        self.interval = interval
        self.loose_limit = limit if loose_limit is None else max(loose_limit, limit)
        self.design = design
        self.target = target
        self.loss = loss
        self.scale = scale
        self.score = score
        self.limit = limit
        self.max_denominator = max_denominator
        self.max_nfev = max_nfev
        self.steps: list[Step] = []

    def refit(self, weight, coef, intercept, fixed) -> Candidate:
        n_terms = weight.shape[0]
        residuals = Residuals(self.design, self.target, self.loss, n_terms, intercept is not None, self.scale, self.comm)
        residuals.hold(weight, ~fixed if bool(fixed.any()) else None)
        weight, coef, intercept, cost, jac = refine(residuals, weight, coef, intercept, self.max_nfev)
        return Candidate(weight, coef, intercept, cost, jac)

    def _try(self, action: str, candidate: Candidate, inside_interval: bool = False) -> bool:
        value = self.score(candidate)
        limit = self.loose_limit if inside_interval else self.limit
        accepted = math.isfinite(value) and value <= limit
        self.steps.append(Step(action + (" (inside the raw fit's interval)" if inside_interval else ""), value, accepted))
        return accepted

    def _simplest_inside_interval(self, weight: torch.Tensor) -> torch.Tensor | None:
        """Replace each exponent by the simplest p/q (q <= max_denominator) inside its interval.

        Returns ``None`` when some exponent has no such rational, or when no interval exists.
        """
        if self.interval is None or self.interval.shape[:2] != weight.shape:
            return None
        snapped = weight.clone()
        for k in range(weight.shape[0]):
            for i in range(weight.shape[1]):
                low, high = (float(v) for v in self.interval[k, i])
                found = _simplest_between(low, high, self.max_denominator)
                if found is None:
                    return None
                snapped[k, i] = float(found)
        return snapped

    def _inside(self, weight: torch.Tensor, mask: torch.Tensor) -> bool:
        """True when every exponent selected by ``mask`` lies within the raw fit's interval."""
        if self.interval is None or self.interval.shape[:2] != weight.shape:
            return False
        low, high = self.interval[..., 0], self.interval[..., 1]
        inside = (weight >= low) & (weight <= high)
        return bool(inside[mask].all())

    def run(self, candidate: Candidate, names: tuple[str, ...]) -> Candidate:
        fixed = torch.zeros_like(candidate.weight, dtype=torch.bool)
        # A spurious intercept biases every exponent, so it is tried first and again last.
        candidate = self.drop_intercept(candidate, fixed)
        snapped = self.snap_all(candidate)
        if snapped is not None:
            candidate, fixed = snapped, torch.ones_like(fixed)
        else:
            candidate, fixed = self.snap(candidate, fixed, names)
        if self.allow_drop_terms:
            candidate, fixed = self.drop_terms(candidate, fixed)
        return self.drop_intercept(candidate, fixed)

    def snap_all(self, candidate: Candidate) -> Candidate | None:
        """Snap every exponent at once and return the first snapped model that is kept.

        The first try puts each exponent on the simplest rational inside its interval. Then
        each grid p/q with q <= Q is tried, for Q = 1, 2, ... Each try is one linear refit, so
        the common case (all exponents simple) is cheap. Returns ``None`` when no try is kept
        and exponents must be snapped one at a time.
        """
        all_fixed = torch.ones_like(candidate.weight, dtype=torch.bool)
        inside = self._simplest_inside_interval(candidate.weight)
        if inside is not None:
            trial = self.refit(inside, candidate.coef, candidate.intercept, all_fixed)
            # A wide interval admits simple but wrong rationals, so this snap gets no extra slack.
            if self._try("snap each exponent to the simplest rational inside its interval", trial):
                return trial
        for q in range(1, self.max_denominator + 1):
            weight = candidate.weight.clone().apply_(lambda w: float(_nearest_on_grid(w, q)))
            if float((weight - candidate.weight).abs().max()) > MAX_SNAP_DISTANCE:
                continue
            trial = self.refit(weight, candidate.coef, candidate.intercept, all_fixed)
            inside = self._inside(weight, all_fixed)
            if self._try(f"snap all exponents to multiples of 1/q, q <= {q}", trial, inside):
                return trial
        return None

    def snap(self, candidate: Candidate, fixed, names) -> tuple[Candidate, torch.Tensor]:
        order = sorted(
            ((k, i) for k in range(candidate.n_terms) for i in range(candidate.weight.shape[1])),
            key=lambda ki: _distance_to_simple(float(candidate.weight[ki]), self.max_denominator),
        )
        for k, i in order:
            for fraction in simple_rationals(float(candidate.weight[k, i]), self.max_denominator):
                weight = candidate.weight.clone()
                weight[k, i] = float(fraction)
                now_fixed = fixed.clone()
                now_fixed[k, i] = True
                trial = self.refit(weight, candidate.coef, candidate.intercept, now_fixed)
                only_this = torch.zeros_like(now_fixed)
                only_this[k, i] = True
                inside = self._inside(weight, only_this)
                if self._try(f"snap exponent of {names[i]} in term {k} to {fraction}", trial, inside):
                    candidate, fixed = trial, now_fixed
                    break
        return candidate, fixed

    def drop_terms(self, candidate: Candidate, fixed) -> tuple[Candidate, torch.Tensor]:
        k = 0
        while candidate.n_terms > 1 and k < candidate.n_terms:
            keep = [j for j in range(candidate.n_terms) if j != k]
            trial = self.refit(candidate.weight[keep], candidate.coef[keep], candidate.intercept, fixed[keep])
            if self._try(f"drop term {k}", trial):
                candidate, fixed = trial, fixed[keep]
            else:
                k += 1
        return candidate, fixed

    def drop_intercept(self, candidate: Candidate, fixed) -> Candidate:
        if candidate.intercept is None:
            return candidate
        trial = self.refit(candidate.weight, candidate.coef, None, fixed)
        return trial if self._try("drop the intercept", trial) else candidate


def _simplest_between(low: float, high: float, max_denominator: int) -> Fraction | None:
    """Find the rational in [low, high] with the smallest denominator, then the smallest |p|."""
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        return None
    for q in range(1, max_denominator + 1):
        first, last = math.ceil(low * q - 1e-12), math.floor(high * q + 1e-12)
        if first <= last:
            if first <= 0 <= last:
                return Fraction(0, q)
            return Fraction(first if first > 0 else last, q)
    return None


def _nearest_on_grid(value: float, max_denominator: int) -> Fraction:
    options = {Fraction(round(value * q), q) for q in range(1, max_denominator + 1)}
    return min(options, key=lambda f: (abs(float(f) - value), f.denominator))


def _distance_to_simple(value: float, max_denominator: int) -> float:
    options = simple_rationals(value, max_denominator)
    return min((abs(float(f) - value) for f in options), default=math.inf)
