"""Power-law basis functions and their exponent derivatives, batched over candidate networks.

The fitting engine works on the model y = b + sum_k c_k phi_k(x), where phi_k is one product
unit. These helpers evaluate phi for a whole population of exponent matrices at once, with
the same domain rules (signs, exact zeros) as :func:`lognet.functional.log_layer`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class Design:
    """The data-dependent parts of the basis, computed once per data set.

    Attributes:
        log_abs: log|x| with 0 at zero inputs, shape (N, d).
        negative: 1.0 where x < 0 (signed domain only), else ``None``.
        zero: 1.0 where x == 0 (signed and abs domains, when zeros occur), else ``None``.
    """

    log_abs: Tensor
    negative: Tensor | None
    zero: Tensor | None

    @classmethod
    def from_inputs(cls, X: Tensor, domain: str) -> "Design":
        zero_mask = X == 0
        has_zero = domain != "positive" and bool(zero_mask.any())
        log_abs = torch.log(torch.where(zero_mask, torch.ones_like(X), X.abs()))
        negative = (X < 0).to(X.dtype) if domain == "signed" else None
        zero = zero_mask.to(X.dtype) if has_zero else None
        return cls(log_abs, negative, zero)

    def subset(self, index: Tensor) -> "Design":
        pick = lambda t: None if t is None else t[index]  # noqa: E731
        return Design(self.log_abs[index], pick(self.negative), pick(self.zero))


def evaluate(design: Design, weight: Tensor, with_parts: bool = False):
    """Return phi of shape (..., N, K) for exponents ``weight`` of shape (..., K, d).

    With ``with_parts`` also return the magnitude and sin(phase) needed by :func:`jacobian`.
    """
    weight_t = weight.transpose(-1, -2)
    magnitude = torch.exp(design.log_abs @ weight_t)
    if design.zero is not None:
        n_pos = design.zero @ (weight_t > 0).to(weight.dtype)
        n_neg = design.zero @ (weight_t < 0).to(weight.dtype)
        magnitude = torch.where(n_neg > 0, torch.full_like(magnitude, math.inf), magnitude)
        magnitude = torch.where(n_pos > 0, torch.zeros_like(magnitude), magnitude)
    if design.negative is None:
        return (magnitude, magnitude, None) if with_parts else magnitude
    phase = math.pi * (design.negative @ weight_t)
    phi = magnitude * torch.cos(phase)
    return (phi, magnitude, torch.sin(phase)) if with_parts else phi


def jacobian(design: Design, weight: Tensor, coef: Tensor, bias: bool) -> tuple[Tensor, Tensor]:
    """Return the prediction and its Jacobian for one network.

    The parameter vector is ordered (exponents row by row, coefficients, bias), matching
    :func:`pack`. The Jacobian has shape (N, K*d + K + bias).
    """
    phi, magnitude, sine = evaluate(design, weight, with_parts=True)
    prediction = phi @ coef
    # d phi_k / d w_ki = phi_k log|x_i|, minus pi |phi_k| sin(phase_k) [x_i < 0] when signed.
    d_weight = phi.unsqueeze(-1) * design.log_abs.unsqueeze(1)
    if sine is not None:
        d_weight = d_weight - math.pi * (magnitude * sine).unsqueeze(-1) * design.negative.unsqueeze(1)
    d_weight = (d_weight * coef.view(1, -1, 1)).reshape(phi.shape[0], -1)
    parts = [d_weight, phi]
    if bias:
        parts.append(torch.ones(phi.shape[0], 1, dtype=phi.dtype))
    return prediction, torch.cat(parts, dim=1)


def pack(weight: Tensor, coef: Tensor, intercept: float | None) -> Tensor:
    """Flatten (W, c, b) into one parameter vector."""
    parts = [weight.reshape(-1), coef.reshape(-1)]
    if intercept is not None:
        parts.append(torch.tensor([intercept], dtype=weight.dtype))
    return torch.cat(parts)


def unpack(theta: Tensor, n_terms: int, n_features: int, bias: bool) -> tuple[Tensor, Tensor, float | None]:
    """Split a parameter vector into (W, c, b); the inverse of :func:`pack`."""
    n_weight = n_terms * n_features
    weight = theta[:n_weight].reshape(n_terms, n_features)
    coef = theta[n_weight : n_weight + n_terms]
    intercept = float(theta[-1]) if bias else None
    return weight, coef, intercept
