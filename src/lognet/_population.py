"""Batched multi-start search over exponents, with the linear coefficients solved exactly.

For fixed exponents W the model y = b + sum_k c_k phi_k(x) is linear in (c, b), so every
candidate's coefficients come from a weighted least-squares solve (variable projection,
Golub & Pereyra 1973) and Adam only moves the exponents. A population of P candidates is one
(P, K, d) tensor trained by one optimizer with batched matrix products.
"""

from __future__ import annotations

import logging
import math

import torch
from torch import Tensor

from ._basis import Design, evaluate

logger = logging.getLogger("lognet")

# Relative ridge added to the normalised normal equations; keeps collinear terms solvable.
RIDGE = 1e-10


def solve_coefficients(phi: Tensor, target: Tensor, sample_weight: Tensor, bias: bool):
    """Solve min ||sample_weight * (phi c + b - target)|| for every candidate at once.

    Args:
        phi: basis values, shape (P, N, K).
        target: shape (N,).
        sample_weight: residual weights, shape (N,), e.g. 1/|t| for SPES.
        bias: include the constant b.

    Returns:
        ``(coef, intercept, loss)`` with shapes (P, K), (P,) and (P,); the loss is the
        weighted residual sum of squares divided by that of the zero model, and is +inf for
        candidates whose basis is not finite.
    """
    finite = torch.isfinite(phi).all(dim=-1).all(dim=-1)
    phi = torch.where(torch.isfinite(phi), phi, torch.zeros_like(phi))
    columns = phi
    if bias:
        columns = torch.cat([phi, torch.ones_like(phi[..., :1])], dim=-1)
    design = columns * sample_weight[:, None]
    rhs = target * sample_weight
    scale = design.norm(dim=-2, keepdim=True).clamp_min(1e-300)
    normalised = design / scale
    gram = normalised.transpose(-1, -2) @ normalised
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype)
    solution = torch.linalg.solve(gram + RIDGE * eye, normalised.transpose(-1, -2) @ rhs.unsqueeze(-1))
    residual = (normalised @ solution).squeeze(-1) - rhs
    loss = (residual**2).sum(dim=-1) / (rhs**2).sum()
    loss = torch.where(finite & torch.isfinite(loss), loss, torch.full_like(loss, math.inf))
    params = solution.squeeze(-1) / scale.squeeze(-2)
    coef = params[..., : phi.shape[-1]]
    intercept = params[..., -1] if bias else torch.zeros_like(loss)
    return coef, intercept, loss


def search(
    design: Design,
    target: Tensor,
    sample_weight: Tensor,
    init_weight: Tensor,
    *,
    bias: bool,
    steps: int,
    lr: float,
    history: list[float] | None = None,
) -> tuple[Tensor, Tensor]:
    """Train a population of exponent matrices with Adam and return ``(weights, losses)``.

    A candidate whose loss turns NaN or infinite is rolled back to its last finite point and
    its step size halved, so one diverging start never disturbs the others.

    Args:
        init_weight: starting exponents, shape (P, K, d).
        steps: Adam steps.
        lr: initial learning rate, decayed along a cosine to lr / 20.
        history: if given, the best loss of each step is appended to it.
    """
    weight = init_weight.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([weight], lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps, 1), eta_min=lr / 20)
    step_scale = torch.ones(weight.shape[0], 1, 1, dtype=weight.dtype)
    last_good = weight.detach().clone()
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        _, _, loss = solve_coefficients(evaluate(design, weight), target, sample_weight, bias)
        finite = torch.isfinite(loss)
        if not bool(finite.all()):
            _roll_back(weight, last_good, ~finite, step_scale, optimizer)
            _, _, loss = solve_coefficients(evaluate(design, weight), target, sample_weight, bias)
            finite = torch.isfinite(loss)
        if history is not None:
            history.append(float(loss.detach()[finite].min()) if bool(finite.any()) else math.inf)
        torch.where(finite, loss, torch.zeros_like(loss)).sum().backward()
        with torch.no_grad():
            last_good[finite] = weight[finite]
            optimizer.step()
            weight.copy_(last_good + step_scale * (weight - last_good))
        scheduler.step()

    with torch.no_grad():
        _, _, loss = solve_coefficients(evaluate(design, weight), target, sample_weight, bias)
        bad = ~torch.isfinite(loss)
        weight[bad] = last_good[bad]
        _, _, loss = solve_coefficients(evaluate(design, weight), target, sample_weight, bias)
    return weight.detach(), loss


def _roll_back(weight, last_good, bad, step_scale, optimizer):
    with torch.no_grad():
        weight[bad] = last_good[bad]
        step_scale[bad] *= 0.5
        state = optimizer.state.get(weight)
        if state:
            state["exp_avg"][bad] = 0
            state["exp_avg_sq"][bad] = 0
    logger.debug("rolled back %d diverging candidates and halved their step size", int(bad.sum()))


def distinct_best(weights: Tensor, losses: Tensor, count: int, decimals: int = 2) -> list[int]:
    """Return indices of up to ``count`` lowest-loss candidates with distinct exponent sets.

    Two candidates are the same when their rows, sorted, agree to ``decimals`` places, because
    the order of terms does not change the model.
    """
    order = torch.argsort(losses)
    seen: set[tuple] = set()
    chosen: list[int] = []
    for index in order.tolist():
        if not math.isfinite(float(losses[index])):
            break
        rows = torch.round(weights[index] * 10**decimals).to(torch.int64).tolist()
        key = tuple(sorted(map(tuple, rows)))
        if key in seen:
            continue
        seen.add(key)
        chosen.append(index)
        if len(chosen) == count:
            break
    return chosen
