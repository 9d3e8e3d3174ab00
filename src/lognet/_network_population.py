"""A batched population of stacked networks Linear -> LogLayer -> Linear, and its solver.

Member p computes, for an input row x,

    z = W1 x,    u_k = prod_h |z_h|^(W2_kh) * cos(pi * sum_h W2_kh [z_h < 0]),    y = c . u + b

which is ``nn.Sequential(Linear(bias=False), LogLayer(domain="signed"), Linear)``. In the abs
domain the cosine factor is 1. All members are solved at once by a Levenberg-Marquardt step
written in torch with the closed-form Jacobian below, because a library call per member is
far too slow for a population of hundreds (docs/math.md, "Stacked networks").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

DTYPE = torch.float64

# Levenberg-Marquardt damping: start, factors on rejection and acceptance, and bounds.
DAMPING_START = 1e-3
DAMPING_UP = 4.0
DAMPING_DOWN = 1 / 3
DAMPING_MIN, DAMPING_MAX = 1e-12, 1e12


@dataclass
class Population:
    """Parameters of P networks, which of them the solver may move, and where each came from.

    Attributes:
        W1: first-layer weights, (P, H, D).
        W2: exponents, (P, K, H).
        c: output weights, (P, K).
        b: output biases, (P,).
        free_W2: which exponents the solver may move, (P, K, H).
        free_c: which output weights are in use, (P, K); an unused term stays at 0.
        kind: ``"free"`` or ``"template"`` per member.
    """

    W1: Tensor
    W2: Tensor
    c: Tensor
    b: Tensor
    free_W2: Tensor
    free_c: Tensor
    kind: list

    def __len__(self) -> int:
        return len(self.kind)

    def vector(self) -> Tensor:
        """Return all parameters as (P, H*D + K*H + K + 1), in the order W1, W2, c, b."""
        P = len(self)
        return torch.cat([self.W1.reshape(P, -1), self.W2.reshape(P, -1), self.c, self.b[:, None]], dim=1)

    def free_mask(self) -> Tensor:
        """Return which entries of ``vector()`` the solver may move (the first layer always)."""
        P = len(self)
        free_W1 = torch.ones(P, self.W1[0].numel(), dtype=torch.bool)
        return torch.cat([free_W1, self.free_W2.reshape(P, -1), self.free_c, torch.ones(P, 1, dtype=torch.bool)], dim=1)

    def load(self, vector: Tensor) -> None:
        """Set every parameter from a (P, n_params) tensor laid out as ``vector()``."""
        P, H, D = self.W1.shape
        K = self.W2.shape[1]
        W1, W2, c, b = torch.split(vector, [H * D, K * H, K, 1], dim=1)
        self.W1, self.W2, self.c, self.b = W1.reshape(P, H, D), W2.reshape(P, K, H), c, b[:, 0]

    def select(self, indices: list[int]) -> Population:
        """Return the members at ``indices`` as a new population (copies)."""
        index = torch.tensor(indices, dtype=torch.long)
        return Population(
            self.W1[index], self.W2[index], self.c[index], self.b[index],
            self.free_W2[index], self.free_c[index], [self.kind[i] for i in indices],
        )

    @staticmethod
    def concat(parts: list[Population]) -> Population:
        """Join populations of the same shapes into one."""
        tensors = (torch.cat([getattr(part, name) for part in parts]) for name in ("W1", "W2", "c", "b", "free_W2", "free_c"))
        return Population(*tensors, [kind for part in parts for kind in part.kind])


def forward(x: Tensor, population: Population, signed: bool = True) -> tuple[Tensor, tuple]:
    """Return the outputs (P, N) and the intermediate values that ``jacobian`` needs."""
    W2t = population.W2.transpose(1, 2)
    z = torch.einsum("nd,phd->pnh", x, population.W1)
    log_abs = torch.log(z.abs())
    magnitude = torch.exp(log_abs @ W2t)  # (P, N, K)
    negative = (z < 0).to(z.dtype) if signed else torch.zeros_like(z)
    phase = math.pi * (negative @ W2t)
    units = magnitude * torch.cos(phase)
    output = (units * population.c[:, None, :]).sum(-1) + population.b[:, None]
    return output, (z, log_abs, magnitude, negative, phase, units)


def finite(tensor: Tensor) -> Tensor:
    """Replace NaN and infinite entries by 0 (a residual or derivative that cannot be used)."""
    return torch.nan_to_num(tensor, nan=0.0, posinf=0.0, neginf=0.0)


def jacobian(x: Tensor, population: Population, cache: tuple, scale: Tensor) -> Tensor:
    """Return the closed-form Jacobian of the scaled residuals, (P, N, n_params), ordered as ``vector()``.

    dy/dc_k = u_k, dy/db = 1, dy/dW2_kh = c_k (u_k log|z_h| - pi [z_h < 0] |u_k| sin(phase_k)),
    dy/dz_h = sum_k c_k u_k W2_kh / z_h and dy/dW1_hd = dy/dz_h x_d. The phase is piecewise
    constant in z, so it adds nothing to dy/dz. Row n is divided by ``scale[n]``, and
    non-finite entries become 0. tests/test_network.py checks this against torch.func.jacrev
    through ``nn.Sequential(Linear, LogLayer, Linear)``.
    """
    z, log_abs, magnitude, negative, phase, units = cache
    W2, c = population.W2, population.c
    P, N, H = z.shape
    K = W2.shape[1]
    D = x.shape[1]
    inverse_scale = (1 / scale)[None, :, None]
    weighted = units * c[:, None, :] * inverse_scale  # (P, N, K)
    sine = magnitude * torch.sin(phase) * c[:, None, :] * inverse_scale
    d_W2 = weighted[..., :, None] * log_abs[..., None, :] - math.pi * sine[..., :, None] * negative[..., None, :]
    d_z = finite((weighted @ W2) / z)  # (P, N, H)

    result = torch.empty(P, N, H * D + K * H + K + 1, dtype=z.dtype)
    torch.mul(d_z[..., :, None], x[None, :, None, :], out=result[..., : H * D].view(P, N, H, D))
    result[..., H * D : H * D + K * H] = finite(d_W2.reshape(P, N, K * H))
    result[..., H * D + K * H : -1] = finite(units * inverse_scale)
    result[..., -1] = inverse_scale[..., 0]
    return result


def residuals(population: Population, x: Tensor, target: Tensor, scale: Tensor, signed: bool) -> tuple[Tensor, tuple]:
    """Return the scaled residuals (y - t) / scale, (P, N), and the forward cache."""
    output, cache = forward(x, population, signed)
    return (output - target) / scale, cache


def mean_squares(residual: Tensor) -> Tensor:
    """Return each member's mean squared residual, +inf where it is not finite."""
    loss = (residual**2).mean(dim=1)
    return torch.where(torch.isfinite(loss), loss, torch.full_like(loss, math.inf))


def levenberg_marquardt(
    population: Population,
    x: Tensor,
    target: Tensor,
    scale: Tensor,
    iterations: int,
    signed: bool,
    stop: Callable[[Tensor], bool] | None = None,
) -> Tensor:
    """Run batched Levenberg-Marquardt (Marquardt's diagonal scaling) on every member at once.

    Each member keeps its own damping, and a step is kept only where it lowers that member's
    loss, so no member ever gets worse. Frozen parameters get a zero Jacobian column and hence
    a zero step. ``stop(losses)`` ends the run early when it returns True. Returns the losses.
    """
    free = population.free_mask().to(DTYPE)
    n_first = population.W1[0].numel()
    damping = torch.full((len(population),), DAMPING_START, dtype=DTYPE)
    eye = torch.eye(free.shape[1], dtype=DTYPE)
    residual, cache = residuals(population, x, target, scale, signed)
    loss = mean_squares(residual)
    for _ in range(iterations):
        if stop is not None and stop(loss):
            break
        J = jacobian(x, population, cache, scale)
        # The first layer is never frozen, so only the few other columns need the mask.
        J[..., n_first:] *= free[:, None, n_first:]
        gradient = (J.transpose(1, 2) @ finite(residual)[..., None])[..., 0]
        normal = J.transpose(1, 2) @ J
        diagonal = torch.diagonal(normal, dim1=1, dim2=2).clamp_min(1e-30)
        # A frozen parameter has an all-zero row and column. A 1 on its diagonal keeps the
        # system solvable without moving it.
        system = normal + (damping[:, None] * diagonal + (1 - free))[..., None] * eye
        factor, info = torch.linalg.cholesky_ex(system)
        step = -torch.cholesky_solve(gradient[..., None], factor)[..., 0] * free
        solvable = (info == 0) & torch.isfinite(step).all(dim=1)
        step = torch.where(solvable[:, None], step, torch.zeros_like(step))

        old = population.vector()
        population.load(old + step)
        new_residual, new_cache = residuals(population, x, target, scale, signed)
        new_loss = mean_squares(new_residual)
        better = solvable & (new_loss < loss)
        population.load(torch.where(better[:, None], old + step, old))
        residual = torch.where(better[:, None], new_residual, residual)
        cache = tuple(
            torch.where(better.reshape(-1, *([1] * (new.dim() - 1))), new, kept) for new, kept in zip(new_cache, cache)
        )
        loss = torch.where(better, new_loss, loss)
        damping = torch.where(better, damping * DAMPING_DOWN, damping * DAMPING_UP).clamp(DAMPING_MIN, DAMPING_MAX)
    return loss


def fit_output_layer(
    population: Population, x: Tensor, target: Tensor, scale: Tensor, signed: bool, intercept: bool = True
) -> None:
    """Set c and b to their weighted least-squares values for the current hidden layers.

    The output layer is linear, so its best value for given hidden layers has a closed form.
    An unused term keeps c = 0, and without ``intercept`` b is 0.
    """
    probe = Population(
        population.W1, population.W2, torch.zeros_like(population.c), torch.zeros_like(population.b),
        population.free_W2, population.free_c, population.kind,
    )
    units = forward(x, probe, signed)[1][-1] * population.free_c[:, None, :].to(DTYPE)
    ones = torch.ones_like(units[..., :1]) if intercept else torch.zeros_like(units[..., :1])
    design = finite(torch.cat([units, ones], dim=-1) / scale[None, :, None])
    rhs = (target / scale)[None, :, None].expand(design.shape[0], -1, -1)
    solution = torch.linalg.lstsq(design, rhs, driver="gelsd").solution[..., 0]
    K = population.c.shape[1]
    population.c = solution[:, :K] * population.free_c.to(DTYPE)
    population.b = solution[:, K]
