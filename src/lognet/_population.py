"""Batched multi-start search over exponents, with the linear coefficients solved exactly.

For fixed exponents W the model y = b + sum_k c_k phi_k(x) is linear in (c, b), so every
candidate's coefficients come from a weighted least-squares solve (variable projection,
Golub & Pereyra 1973) and Adam only moves the exponents. A population of P candidates is one
(P, K, d) tensor trained by one optimizer with batched matrix products. The gradient is
written out in closed form (see :func:`loss_and_grad`), so no autograd graph is built.
"""

from __future__ import annotations

import logging
import math

import torch
from torch import Tensor

from ._basis import Design, evaluate
from ._distributed import LOCAL, Communicator

logger = logging.getLogger("lognet")

# Relative ridge added to the normalised normal equations; keeps collinear terms solvable.
RIDGE = 1e-14
# A population loss below this is an exact fit at the precision of the normal equations, so
# the search stops and leaves the last digits to Levenberg-Marquardt.
EXACT_LOSS = 1e-11
# The search also stops when its best loss improved by less than 0.1% in 30 steps: with noisy
# data it has then reached the noise floor, and refinement does the rest.
PATIENCE = 30
PLATEAU_GAIN = 1e-3


def solve_coefficients(phi: Tensor, target: Tensor, sample_weight: Tensor, bias: bool, comm: Communicator = LOCAL):
    """Solve min ||sample_weight * (phi c + b - target)|| for every candidate at once.

    Works on the normal equations, scaled to unit diagonal, so the cost per candidate is one
    pass over its basis plus a (K+1)x(K+1) solve.

    Args:
        phi: basis values, shape (P, N, K).
        target: shape (N,).
        sample_weight: residual weights, shape (N,), e.g. 1/|t| for SPES.
        bias: include the constant b.
        comm: sums over samples are all-reduced through it when the data are sharded.

    Returns:
        ``(coef, intercept, loss)`` with shapes (P, K), (P,) and (P,). The loss is the weighted
        residual sum of squares divided by that of the zero model, computed from the normal
        equations (accurate to about 1e-13), and +inf for candidates whose basis is not finite.
    """
    rhs = target * sample_weight
    weighted = phi * sample_weight[:, None]
    gram = weighted.transpose(-1, -2) @ weighted
    right = weighted.transpose(-1, -2) @ torch.stack([sample_weight, rhs], dim=1)
    sums = torch.stack([sample_weight @ sample_weight, sample_weight @ rhs, rhs @ rhs])
    if comm.data_parallel:
        flat = comm.sum_over_samples(torch.cat([gram.reshape(-1), right.reshape(-1), sums]))
        gram, right, sums = flat[: gram.numel()].view_as(gram), flat[gram.numel() : -3].view_as(right), flat[-3:]
    moment = right[..., 1]
    if bias:
        corner = sums[0].expand(gram.shape[0], 1, 1)
        gram = torch.cat([torch.cat([gram, right[..., :1]], dim=-1), torch.cat([right[..., :1].transpose(-1, -2), corner], dim=-1)], dim=-2)
        moment = torch.cat([moment, sums[1].expand(gram.shape[0], 1)], dim=-1)
    scale = torch.diagonal(gram, dim1=-2, dim2=-1).clamp_min(1e-300).sqrt()
    finite = torch.isfinite(gram).all(dim=-1).all(dim=-1) & torch.isfinite(moment).all(dim=-1)
    gram = torch.where(finite[:, None, None], gram, torch.eye(gram.shape[-1], dtype=gram.dtype))
    moment = torch.where(finite[:, None], moment, torch.zeros_like(moment))
    scale = torch.where(finite[:, None], scale, torch.ones_like(scale))

    normalised = gram / (scale.unsqueeze(-1) * scale.unsqueeze(-2))
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype)
    moment_n = moment / scale
    solution = torch.linalg.solve(normalised + RIDGE * eye, moment_n.unsqueeze(-1)).squeeze(-1)
    total = sums[2]
    loss = ((total - (moment_n * solution).sum(dim=-1)) / total).clamp_min(0.0)
    loss = torch.where(finite & torch.isfinite(loss), loss, torch.full_like(loss, math.inf))
    params = solution / scale
    coef = params[..., : phi.shape[-1]]
    intercept = params[..., -1] if bias else torch.zeros_like(loss)
    return coef, intercept, loss


def loss_and_grad(design: Design, weight: Tensor, target: Tensor, sample_weight: Tensor, bias: bool, comm: Communicator = LOCAL):
    """Return the variable-projection loss (P,) of each candidate and its gradient (P, K, d).

    At the least-squares coefficients c the derivative of min_c ||r||^2 with respect to the
    exponents equals the partial derivative with c held fixed (the envelope theorem), so
    d loss / d w_ki = 2 sum_n s_n^2 r_n c_k d phi_nk / d w_ki / ||s t||^2, where r = phi c +
    b - t and s is the sample weight: two batched matrix products, no autograd graph.
    """
    phi, magnitude, sine = evaluate(design, weight, with_parts=True)
    coef, intercept, loss = solve_coefficients(phi, target, sample_weight, bias, comm)
    rhs = target * sample_weight
    prediction = (phi @ coef.unsqueeze(-1)).squeeze(-1) + intercept.unsqueeze(-1)
    scaled = (2 / comm.sum_over_samples(rhs @ rhs)) * sample_weight**2 * (prediction - target)
    scaled = torch.nan_to_num_(scaled, nan=0.0, posinf=0.0, neginf=0.0)
    weighted_coef = scaled.unsqueeze(-1) * coef.unsqueeze(-2)
    phi = torch.nan_to_num(phi, nan=0.0, posinf=0.0, neginf=0.0)
    grad = (weighted_coef * phi).transpose(-1, -2) @ design.log_abs
    if sine is not None:
        # The signed domain's phase term: d phi / d w_ki gains -pi |phi| sin(phase) [x_i < 0].
        grad = grad - math.pi * (weighted_coef * magnitude * sine).transpose(-1, -2) @ design.negative
    return loss, comm.sum_over_samples(grad)


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
    comm: Communicator = LOCAL,
) -> tuple[Tensor, Tensor]:
    """Train a population of exponent matrices with Adam and return ``(weights, losses)``.

    A candidate whose loss turns NaN or infinite is rolled back to its last finite point and
    its step size halved, so one diverging start never disturbs the others.

    Args:
        init_weight: starting exponents, shape (P, K, d).
        steps: Adam steps.
        lr: initial learning rate, decayed along a cosine to lr / 20.
        history: if given, the best loss of each step is appended to it.
        comm: with sharded data, sums over samples are all-reduced. With the population
            split between ranks, the best loss of each step is the minimum over all ranks.
    """
    weight = init_weight.clone()
    weight.grad = torch.zeros_like(weight)
    optimizer = torch.optim.Adam([weight], lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps, 1), eta_min=lr / 20)
    step_scale = torch.ones(weight.shape[0], 1, 1, dtype=weight.dtype)
    last_good = weight.clone()
    best_so_far: list[float] = []
    for _ in range(steps):
        loss, grad = loss_and_grad(design, weight, target, sample_weight, bias, comm)
        finite = torch.isfinite(loss)
        if not bool(finite.all()):
            _roll_back(weight, last_good, ~finite, step_scale, optimizer)
            loss, grad = loss_and_grad(design, weight, target, sample_weight, bias, comm)
            finite = torch.isfinite(loss)
        best = float(loss[finite].min()) if bool(finite.any()) else math.inf
        if comm.splits_population:
            best = comm.min(best)
        if history is not None:
            history.append(best)
        if best < EXACT_LOSS or _plateaued(best_so_far, best):
            break
        weight.grad.copy_(torch.where(finite[:, None, None], grad, torch.zeros_like(grad)))
        last_good[finite] = weight[finite]
        optimizer.step()
        weight.copy_(last_good + step_scale * (weight - last_good))
        scheduler.step()

    _, _, loss = solve_coefficients(evaluate(design, weight), target, sample_weight, bias, comm)
    bad = ~torch.isfinite(loss)
    weight[bad] = last_good[bad]
    _, _, loss = solve_coefficients(evaluate(design, weight), target, sample_weight, bias, comm)
    return weight, loss


def _plateaued(best_so_far: list[float], best: float) -> bool:
    """True when the best loss improved by less than PLATEAU_GAIN over the last PATIENCE steps."""
    best_so_far.append(min(best, best_so_far[-1]) if best_so_far else best)
    if len(best_so_far) <= PATIENCE:
        return False
    return best_so_far[-1] > (1 - PLATEAU_GAIN) * best_so_far[-1 - PATIENCE]


def _roll_back(weight, last_good, bad, step_scale, optimizer):
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
