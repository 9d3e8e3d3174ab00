"""Joint refinement of all exponents and coefficients by Levenberg-Marquardt.

Uses :func:`scipy.optimize.least_squares` with the analytic Jacobian from
:func:`lognet._basis.jacobian`; the residual of each loss is chosen so that its sum of
squares is the loss (up to a constant factor). With data sharded across processes the
residual vector is never in one place, so least_squares runs on a compressed residual
vector built from every rank's QR factor (see :class:`_CompressedResiduals`): the same
steps, the same optimum, identical on every rank.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import least_squares
from torch import Tensor

from ._basis import Design, jacobian, pack, unpack
from ._distributed import LOCAL, Communicator

# Residual used in place of a non-finite one, so the trust region shrinks instead of the
# solver stopping; 1e6 is far above any residual of a useful fit (all are scaled to O(1)).
BARRIER = 1e6


class Residuals:
    """Residual vector and Jacobian of one loss, as callables for least_squares."""

    def __init__(
        self, design: Design, target: Tensor, loss: str, n_terms: int, bias: bool, scale: float, comm: Communicator = LOCAL
    ):
        self.comm = comm
        self.design = design
        self.target = target
        self.loss = loss
        self.n_terms = n_terms
        self.n_features = design.log_abs.shape[1]
        self.bias = bias
        # MSLE targets are positive, and SPES weights match its log residual to first order,
        # so the search and the start of the refinement use them for both losses.
        if loss in ("spes", "msle"):
            self.weight = 1.0 / target.abs()
        else:
            self.weight = torch.full_like(target, 1.0 / scale)
        self._cache: tuple[bytes, Tensor, Tensor] | None = None
        # Exponents held fixed (e.g. snapped to a simple rational) are left out of the
        # parameter vector. ``free`` marks the others and ``base_weight`` contains the fixed values.
        self.free: Tensor | None = None
        self.base_weight: Tensor | None = None

    def hold(self, weight: Tensor, free: Tensor | None) -> None:
        """Fix the exponents where ``free`` is False to their values in ``weight``."""
        self.free = free
        self.base_weight = weight.clone() if free is not None else None
        self._cache = None

    def to_vector(self, weight: Tensor, coef: Tensor, intercept: float | None) -> np.ndarray:
        free_weight = weight[self.free] if self.free is not None else weight
        return pack(free_weight, coef, intercept).numpy()

    def from_vector(self, theta: np.ndarray) -> tuple[Tensor, Tensor, float | None]:
        theta = torch.from_numpy(np.ascontiguousarray(theta))
        if self.free is None:
            return unpack(theta, self.n_terms, self.n_features, self.bias)
        n_free = int(self.free.sum())
        weight = self.base_weight.clone()
        weight[self.free] = theta[:n_free]
        coef = theta[n_free : n_free + self.n_terms]
        intercept = float(theta[-1]) if self.bias else None
        return weight, coef, intercept

    def _evaluate(self, theta: np.ndarray) -> tuple[Tensor, Tensor]:
        key = theta.tobytes()
        if self._cache is None or self._cache[0] != key:
            weight, coef, intercept = self.from_vector(theta)
            prediction, jac = jacobian(self.design, weight, coef, self.bias)
            if intercept is not None:
                prediction = prediction + intercept
            if self.free is not None:
                n_weight = self.n_terms * self.n_features
                keep = torch.cat([self.free.reshape(-1), torch.ones(jac.shape[1] - n_weight, dtype=torch.bool)])
                jac = jac[:, keep]
            self._cache = (key, prediction, jac)
        return self._cache[1], self._cache[2]

    def residual(self, theta: np.ndarray) -> np.ndarray:
        prediction, _ = self._evaluate(theta)
        if self.loss == "msle":
            positive = prediction > 0
            safe = torch.where(positive, prediction, torch.ones_like(prediction))
            r = torch.where(positive, torch.log(safe) - torch.log(self.target), torch.full_like(safe, BARRIER))
        else:
            r = (prediction - self.target) * self.weight
        r = torch.where(torch.isfinite(r), r, torch.full_like(r, BARRIER))
        return r.numpy()

    def jac(self, theta: np.ndarray) -> np.ndarray:
        prediction, jac = self._evaluate(theta)
        if self.loss == "msle":
            factor = torch.where(prediction > 0, 1.0 / prediction, torch.zeros_like(prediction))
        else:
            factor = self.weight
        jac = jac * factor[:, None]
        jac = torch.where(torch.isfinite(jac), jac, torch.zeros_like(jac))
        return jac.numpy()


def refine(
    residuals: Residuals, weight: Tensor, coef: Tensor, intercept: float | None, max_nfev: int
) -> tuple[Tensor, Tensor, float | None, float, np.ndarray]:
    """Run Levenberg-Marquardt from (W, c, b) and return the refined (W, c, b, cost, jacobian).

    ``cost`` is half the sum of squared residuals; the Jacobian at the optimum feeds the
    confidence intervals.
    """
    theta0 = residuals.to_vector(weight, coef, intercept)
    if residuals.comm.data_parallel:
        return _refine_sharded(residuals, theta0, max_nfev)
    n_params = theta0.size
    n_samples = residuals.target.shape[0]
    method = "lm" if n_samples >= n_params else "trf"
    result = least_squares(
        residuals.residual,
        theta0,
        jac=residuals.jac,
        method=method,
        x_scale="jac",
        max_nfev=max_nfev,
        xtol=1e-12,
        ftol=1e-12,
        gtol=1e-12,
    )
    theta = result.x
    if not np.all(np.isfinite(theta)):
        theta = theta0
    weight, coef, intercept = residuals.from_vector(theta.copy())
    cost = 0.5 * float(np.sum(residuals.residual(theta) ** 2))
    return weight.clone(), coef.clone(), intercept, cost, residuals.jac(theta)


class _CompressedResiduals:
    """A residual vector of length p + 1 whose Levenberg-Marquardt steps equal the full problem's.

    Each rank reduces its rows [J r] to the triangular factor of a QR decomposition; stacking
    every rank's factor and factoring again gives R with R^T R = [J r]^T [J r] over all rows
    (TSQR). Its last column c and leading block R_J satisfy ||c + R_J d||^2 = ||r + J d||^2 for
    every step d, so least_squares gets the same cost, Jacobian scaling and linear model.
    """

    def __init__(self, residuals: Residuals):
        self.residuals = residuals
        self._key: bytes | None = None

    def _factor(self, theta: np.ndarray) -> np.ndarray:
        key = theta.tobytes()
        if self._key != key:
            r = torch.from_numpy(self.residuals.residual(theta))
            J = torch.from_numpy(self.residuals.jac(theta))
            stacked = torch.cat([J, r[:, None]], dim=1)
            local = torch.linalg.qr(stacked, mode="r").R if stacked.shape[0] > stacked.shape[1] else stacked
            factors = torch.cat(self.residuals.comm.gather(local))
            self._r = torch.linalg.qr(factors, mode="r").R.numpy()
            self._key = key
        return self._r

    def residual(self, theta):
        return self._factor(theta)[:, -1].copy()

    def jac(self, theta):
        return self._factor(theta)[:, :-1].copy()


def _refine_sharded(residuals: Residuals, theta0: np.ndarray, max_nfev: int):
    compressed = _CompressedResiduals(residuals)
    result = least_squares(
        compressed.residual, theta0, jac=compressed.jac, method="lm", x_scale="jac", max_nfev=max_nfev, xtol=1e-12, ftol=1e-12, gtol=1e-12
    )
    theta = result.x if np.all(np.isfinite(result.x)) else theta0
    weight, coef, intercept = residuals.from_vector(theta.copy())
    cost = 0.5 * float(np.sum(compressed.residual(theta) ** 2))
    return weight.clone(), coef.clone(), intercept, cost, residuals.jac(theta)
