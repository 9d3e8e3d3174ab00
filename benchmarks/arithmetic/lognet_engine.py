"""A stand-in fitting engine for lognet: a batched population of Levenberg-Marquardt restarts.

``fit_lognet(task, seed, budget)`` is the only entry point the benchmark uses, so it can later
call lognet's own engine instead. The fitted model is Linear -> LogLayer(signed) -> Linear:

    z = W1 x,    u_k = prod_h |z_h|^(W2_kh) * cos(pi * sum_h W2_kh [z_h < 0]),    y = c . u + b

The population is fitted at once by a batched Levenberg-Marquardt written in torch, with a
closed-form Jacobian, because the library routines are too slow for hundreds of fits. On the
100-input task (a 512 x 207 Jacobian in float64, one thread of the AMD EPYC machine the
benchmark ran on) scipy's MINPACK ``lm`` took about 20 ms per iteration and
``torch.func.jacrev`` about 30 ms per Jacobian. One batched iteration here costs about 2 ms
per member on 256 samples. scipy's ``least_squares`` still polishes the winner.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import scipy.optimize
import torch
from torch import Tensor, nn

import lognet

from .tasks import Task

DTYPE = torch.float64
HIDDEN = 2  # outputs of the first Linear layer, the baselines' hidden size
TERMS = 2  # product units
# Exponent templates are built from multiples of 1/2 in [-2, 2].
EXPONENT_GRID = tuple(value / 2 for value in range(-4, 5))
# Exponents of free members within this distance of the grid are snapped and the fit repeated.
SNAP_TOLERANCE = 0.05
# A training loss (mean squared relative residual) below this counts as an exact fit. Among
# exact fits the one with the fewest free exponents wins, because round-off decides the rest.
EXACT_FIT = 1e-20
# A term whose largest output on the training data is below this fraction of max|t| is dropped.
DEAD_TERM = 1e-9
# Levenberg-Marquardt damping: start, factors on rejection and acceptance, and bounds.
DAMPING_START = 1e-3
DAMPING_UP = 4.0
DAMPING_DOWN = 1 / 3
DAMPING_MIN, DAMPING_MAX = 1e-12, 1e12


@dataclass(frozen=True)
class LognetBudget:
    """Work done by one ``fit_lognet`` call.

    Attributes:
        n_train: training samples drawn from the interpolation range.
        free_members: members with free exponents, each from its own random start.
        n_screen: training samples used by the screening stage.
        screen_iterations: Levenberg-Marquardt iterations given to every member first.
        finalists: exponent templates that go on after the screening, ranked by training loss.
        restarts: fresh random first layers added for each finalist.
        one_hot_max_inputs: tasks with at most this many inputs also screen every template from
            one-hot first layers (``one_hot_starts`` of them), which costs little there.
        one_hot_starts: one-hot starts per template for those tasks; half of them take the
            other half's inputs in swapped order.
        lm_iterations: iterations of the finalists, their restarts and the free members.
        snap_iterations: iterations after snapping the exponents of free members.
        polish_nfev: maximum residual evaluations of scipy's ``least_squares`` polish.
    """

    n_train: int = 512
    free_members: int = 4
    n_screen: int = 256
    screen_iterations: int = 30
    finalists: int = 8
    restarts: int = 2
    one_hot_max_inputs: int = 10
    one_hot_starts: int = 2
    lm_iterations: int = 80
    snap_iterations: int = 30
    polish_nfev: int = 20


@dataclass
class LognetFit:
    """Result of ``fit_lognet``.

    Attributes:
        model: ``nn.Sequential(Linear, LogLayer, Linear)`` in float64, in eval mode.
        train_loss: mean squared relative residual on the training data.
        seconds: wall time of the fit.
        exponents: the LogLayer's weight as nested lists.
        details: how the winner was found (its kind, members tried, exact fits).
    """

    model: nn.Module
    train_loss: float
    seconds: float
    exponents: list
    details: dict = field(default_factory=dict)


def build_model(task: Task) -> nn.Sequential:
    """Return Linear(in, 2, no bias) -> LogLayer(2, 2, signed) -> Linear(2, 1), all float64.

    The signed domain is used even for positive inputs: a hidden value such as a - b changes
    sign, and only the signed domain keeps x**1 equal to x there. For positive hidden values it
    equals the positive domain.
    """
    return nn.Sequential(
        nn.Linear(task.input_size, HIDDEN, bias=False, dtype=DTYPE),
        lognet.LogLayer(HIDDEN, TERMS, domain="signed", dtype=DTYPE),
        nn.Linear(TERMS, 1, dtype=DTYPE),
    )


def exponent_templates() -> list[Tensor]:
    """Exponent matrices tried with frozen exponents: one term for every unordered pair of grid
    exponents, plus the linear model (exponents (1, 0) and (0, 1), two terms).

    Over a narrow training range a free exponent and the scale of its hidden value trade off
    almost exactly, so Levenberg-Marquardt from free exponents settles in a near fit (training
    loss about 1e-7 on the 100-input multiplication). With the exponents held on the grid the
    same solver reaches the exact fit from most random first layers.
    """
    templates = []
    for p, q in itertools.combinations_with_replacement(EXPONENT_GRID, 2):
        if p == 0 and q == 0:
            continue
        templates.append(torch.tensor([[p, q], [0.0, 0.0]], dtype=DTYPE))
    templates.append(torch.eye(TERMS, HIDDEN, dtype=DTYPE))
    return templates


@dataclass
class _Population:
    """Parameters of P models, which of them the solver may move, and where each came from."""

    W1: Tensor  # (P, H, D)
    W2: Tensor  # (P, K, H)
    c: Tensor  # (P, K)
    b: Tensor  # (P,)
    free_W2: Tensor  # (P, K, H) bool
    free_c: Tensor  # (P, K) bool
    kind: list  # "free" or "template" per member

    def __len__(self) -> int:
        return len(self.kind)

    def vector(self) -> Tensor:
        P = len(self)
        return torch.cat([self.W1.reshape(P, -1), self.W2.reshape(P, -1), self.c, self.b[:, None]], dim=1)

    def free_mask(self) -> Tensor:
        P = len(self)
        free_W1 = torch.ones(P, self.W1[0].numel(), dtype=torch.bool)
        return torch.cat([free_W1, self.free_W2.reshape(P, -1), self.free_c, torch.ones(P, 1, dtype=torch.bool)], dim=1)

    def load(self, vector: Tensor) -> None:
        P, H, D = self.W1.shape
        K = self.W2.shape[1]
        W1, W2, c, b = torch.split(vector, [H * D, K * H, K, 1], dim=1)
        self.W1, self.W2, self.c, self.b = W1.reshape(P, H, D), W2.reshape(P, K, H), c, b[:, 0]

    def select(self, indices: list[int]) -> _Population:
        index = torch.tensor(indices, dtype=torch.long)
        return _Population(
            self.W1[index], self.W2[index], self.c[index], self.b[index],
            self.free_W2[index], self.free_c[index], [self.kind[i] for i in indices],
        )

    @staticmethod
    def concat(parts: list[_Population]) -> _Population:
        return _Population(
            *(torch.cat([getattr(part, name) for part in parts]) for name in ("W1", "W2", "c", "b", "free_W2", "free_c")),
            [kind for part in parts for kind in part.kind],
        )


def _new_members(task: Task, exponents: list[Tensor | None], generator: torch.Generator, one_hot: bool = False) -> _Population:
    """Create members with random first layers, one per entry of ``exponents``.

    First layers are drawn from U(0, 1) for positive inputs, so that hidden values start
    positive, and from U(-1, 1) otherwise. With ``one_hot`` each hidden value starts as one
    random input instead (distinct inputs), as in a plain LNN on the raw inputs. ``None`` makes
    a free member with exponents from U(-1, 1), LogLayer's default, and a tensor makes a
    template member.
    """
    P = len(exponents)
    low = -1.0 if task.signed else 0.0
    W1 = torch.rand(P, HIDDEN, task.input_size, generator=generator, dtype=DTYPE) * (1 - low) + low
    if one_hot:
        chosen = torch.rand(P, task.input_size, generator=generator).argsort(dim=1)[:, :HIDDEN]
        W1 = torch.zeros_like(W1).scatter_(2, chosen[..., None], 1.0)
    W2 = torch.rand(P, TERMS, HIDDEN, generator=generator, dtype=DTYPE) * 2 - 1
    free_W2 = torch.ones(P, TERMS, HIDDEN, dtype=torch.bool)
    free_c = torch.ones(P, TERMS, dtype=torch.bool)
    kind = []
    for index, template in enumerate(exponents):
        if template is None:
            kind.append("free")
            continue
        W2[index] = template
        free_W2[index] = False
        free_c[index] = template.abs().sum(dim=1) > 0  # a term of all-zero exponents is unused
        kind.append("template")
    zeros = torch.zeros(P, TERMS, dtype=DTYPE)
    return _Population(W1, W2, zeros, torch.zeros(P, dtype=DTYPE), free_W2, free_c, kind)


def _forward(x: Tensor, W1: Tensor, W2: Tensor, c: Tensor, b: Tensor):
    """Return outputs (P, N) and the intermediate values the Jacobian needs."""
    z = torch.einsum("nd,phd->pnh", x, W1)
    log_abs = torch.log(z.abs())
    magnitude = torch.exp(log_abs @ W2.transpose(1, 2))  # (P, N, K)
    negative = (z < 0).to(z.dtype)
    phase = math.pi * (negative @ W2.transpose(1, 2))
    units = magnitude * torch.cos(phase)
    output = (units * c[:, None, :]).sum(-1) + b[:, None]
    return output, (z, log_abs, magnitude, negative, phase, units)


def _finite(tensor: Tensor) -> Tensor:
    return torch.nan_to_num(tensor, nan=0.0, posinf=0.0, neginf=0.0)


def _jacobian(x: Tensor, W2: Tensor, c: Tensor, cache, scale: Tensor) -> Tensor:
    """Closed-form Jacobian of the scaled residuals, (P, N, n_params), in the order of ``vector()``.

    dy/dc_k = u_k, dy/db = 1, dy/dW2_kh = c_k (u_k log|z_h| - pi [z_h < 0] |u_k| sin(phase_k)),
    dy/dz_h = sum_k c_k u_k W2_kh / z_h and dy/dW1_hd = dy/dz_h x_d. The phase is piecewise
    constant in z, so it adds nothing to dy/dz. Each row is divided by the residual's scale, and
    non-finite entries become 0. The tests check this against torch.func.jacrev through
    lognet.LogLayer.
    """
    z, log_abs, magnitude, negative, phase, units = cache
    P, N, H = z.shape
    K = W2.shape[1]
    D = x.shape[1]
    inverse_scale = (1 / scale)[None, :, None]
    weighted = units * c[:, None, :] * inverse_scale  # (P, N, K)
    sine = magnitude * torch.sin(phase) * c[:, None, :] * inverse_scale
    d_W2 = weighted[..., :, None] * log_abs[..., None, :] - math.pi * sine[..., :, None] * negative[..., None, :]
    d_z = _finite((weighted @ W2) / z)  # (P, N, H)

    jacobian = torch.empty(P, N, H * D + K * H + K + 1, dtype=z.dtype)
    torch.mul(d_z[..., :, None], x[None, :, None, :], out=jacobian[..., : H * D].view(P, N, H, D))
    jacobian[..., H * D : H * D + K * H] = _finite(d_W2.reshape(P, N, K * H))
    jacobian[..., H * D + K * H : -1] = _finite(units * inverse_scale)
    jacobian[..., -1] = inverse_scale[..., 0]
    return jacobian


def _residuals(population: _Population, x: Tensor, target: Tensor, scale: Tensor):
    output, cache = _forward(x, population.W1, population.W2, population.c, population.b)
    return (output - target) / scale, cache


def _losses(residual: Tensor) -> Tensor:
    loss = (residual**2).mean(dim=1)
    return torch.where(torch.isfinite(loss), loss, torch.full_like(loss, math.inf))


def _levenberg_marquardt(
    population: _Population,
    x: Tensor,
    target: Tensor,
    scale: Tensor,
    iterations: int,
    stop: Callable[[Tensor], bool] | None = None,
) -> Tensor:
    """Run batched Levenberg-Marquardt (Marquardt's diagonal scaling) on every member at once.

    Each member keeps its own damping, and a step is taken only where it lowers that member's
    loss. Frozen parameters get a zero Jacobian column, so their step is zero. ``stop(losses)``
    ends the run early when it returns True. Returns the losses.
    """
    free = population.free_mask().to(DTYPE)
    n_first = population.W1[0].numel()
    damping = torch.full((len(population),), DAMPING_START, dtype=DTYPE)
    eye = torch.eye(free.shape[1], dtype=DTYPE)
    residual, cache = _residuals(population, x, target, scale)
    loss = _losses(residual)
    for _ in range(iterations):
        if stop is not None and stop(loss):
            break
        jacobian = _jacobian(x, population.W2, population.c, cache, scale)
        # The first layer is never frozen, so only the few other columns need the mask.
        jacobian[..., n_first:] *= free[:, None, n_first:]
        gradient = (jacobian.transpose(1, 2) @ _finite(residual)[..., None])[..., 0]
        normal = jacobian.transpose(1, 2) @ jacobian
        diagonal = torch.diagonal(normal, dim1=1, dim2=2).clamp_min(1e-30)
        # Frozen parameters have an all-zero row and column, so 1 on their diagonal keeps the
        # system solvable without moving them.
        system = normal + (damping[:, None] * diagonal + (1 - free))[..., None] * eye
        factor, info = torch.linalg.cholesky_ex(system)
        step = -torch.cholesky_solve(gradient[..., None], factor)[..., 0] * free
        solvable = (info == 0) & torch.isfinite(step).all(dim=1)
        step = torch.where(solvable[:, None], step, torch.zeros_like(step))

        old = population.vector()
        population.load(old + step)
        new_residual, new_cache = _residuals(population, x, target, scale)
        new_loss = _losses(new_residual)
        better = solvable & (new_loss < loss)
        population.load(torch.where(better[:, None], old + step, old))
        residual = torch.where(better[:, None], new_residual, residual)
        cache = tuple(torch.where(better.reshape(-1, *([1] * (new.dim() - 1))), new, kept) for new, kept in zip(new_cache, cache))
        loss = torch.where(better, new_loss, loss)
        damping = torch.where(better, damping * DAMPING_DOWN, damping * DAMPING_UP).clamp(DAMPING_MIN, DAMPING_MAX)
    return loss


def _fit_output_layer(population: _Population, x: Tensor, target: Tensor, scale: Tensor) -> None:
    """Set c and b to their weighted least-squares values for the current hidden layers.

    The output layer is linear, so for given hidden layers its best value has a closed form.
    A frozen coefficient (an unused template term) stays at 0.
    """
    zeros_c = torch.zeros_like(population.c)
    _, cache = _forward(x, population.W1, population.W2, zeros_c, torch.zeros_like(population.b))
    units = cache[-1] * population.free_c[:, None, :].to(DTYPE)
    design = _finite(torch.cat([units, torch.ones_like(units[..., :1])], dim=-1) / scale[None, :, None])
    rhs = (target / scale)[None, :, None].expand(design.shape[0], -1, -1)
    solution = torch.linalg.lstsq(design, rhs, driver="gelsd").solution[..., 0]
    population.c = solution[:, :TERMS] * population.free_c.to(DTYPE)
    population.b = solution[:, TERMS]


def _snap_free_members(population: _Population) -> Tensor:
    """Snap free members' exponents within SNAP_TOLERANCE of the grid and freeze them there.

    Returns the mask of members that changed.
    """
    is_free = torch.tensor([kind == "free" for kind in population.kind])
    nearest = torch.round(population.W2 * 2) / 2
    snap = ((population.W2 - nearest).abs() < SNAP_TOLERANCE) & population.free_W2 & is_free[:, None, None]
    population.W2 = torch.where(snap, nearest, population.W2)
    population.free_W2 = population.free_W2 & ~snap
    return snap.flatten(1).any(dim=1)


def _polish(member: _Population, x: Tensor, target: Tensor, scale: Tensor, max_nfev: int) -> tuple[_Population, float]:
    """Refine one member with frozen exponents by scipy's ``least_squares(method="lm")``."""
    free = member.free_mask()[0]

    def residual(vector: np.ndarray) -> np.ndarray:
        trial = member.select([0])
        full = trial.vector()[0]
        full[free] = torch.from_numpy(vector)
        trial.load(full[None])
        value = _residuals(trial, x, target, scale)[0][0].numpy()
        return np.where(np.isfinite(value), value, 1e10)

    def jacobian(vector: np.ndarray) -> np.ndarray:
        trial = member.select([0])
        full = trial.vector()[0]
        full[free] = torch.from_numpy(vector)
        trial.load(full[None])
        _, cache = _forward(x, trial.W1, trial.W2, trial.c, trial.b)
        return _jacobian(x, trial.W2, trial.c, cache, scale)[0][:, free].numpy()

    start = member.vector()[0][free].numpy().copy()
    start_loss = float(np.mean(residual(start) ** 2))
    if len(target) < len(start) or not math.isfinite(start_loss):
        return member, start_loss
    result = scipy.optimize.least_squares(
        residual, start, jac=jacobian, method="lm", x_scale="jac", xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=max_nfev
    )
    loss = float(np.mean(residual(result.x) ** 2))
    if not loss < start_loss:
        return member, start_loss
    polished = member.select([0])
    full = polished.vector()[0]
    full[free] = torch.from_numpy(result.x)
    polished.load(full[None])
    return polished, loss


def _prune_dead_terms(population: _Population, x: Tensor, target: Tensor) -> Tensor:
    """Zero and freeze terms whose contribution to every training output is negligible.

    Such a term (say c = 1e-30 on |z|^27) fits the training data no better than nothing but
    can dominate far outside it. Returns the mask of members that changed.
    """
    _, cache = _forward(x, population.W1, population.W2, population.c, population.b)
    largest = (cache[-1] * population.c[:, None, :]).abs().amax(dim=1)  # (P, K)
    dead = (largest < DEAD_TERM * target.abs().max()) & population.free_c
    population.c = torch.where(dead, torch.zeros_like(population.c), population.c)
    population.W2 = torch.where(dead[..., None], torch.zeros_like(population.W2), population.W2)
    population.free_c = population.free_c & ~dead
    population.free_W2 = population.free_W2 & ~dead[..., None]
    return dead.any(dim=1)


def _choose(losses: Tensor, population: _Population) -> int:
    """Index of the lowest training loss; among exact fits, of the fewest free exponents."""
    exact = losses < EXACT_FIT
    if not bool(exact.any()):
        return int(torch.argmin(losses))
    n_free = population.free_W2.flatten(1).sum(dim=1).to(DTYPE)
    key = torch.where(exact, n_free, torch.full_like(losses, math.inf))
    candidates = torch.nonzero(key == key.min()).flatten()
    return int(candidates[torch.argmin(losses[candidates])])


def fit_lognet(task: Task, seed: int, budget: LognetBudget | None = None) -> LognetFit:
    """Fit Linear -> LogLayer -> Linear to ``task``'s interpolation data for ``seed``.

    1. Draw ``budget.n_train`` training samples (this seed's layout, interpolation range).
    2. Screening: ``budget.free_members`` random starts with free exponents and one random start
       per exponent template get their output layer by least squares, then
       ``budget.screen_iterations`` of batched Levenberg-Marquardt on the squared relative
       residual (t - y) / (|t| + 0.01 median|t|).
       Screening uses only the first ``budget.n_screen`` samples.
    3. The ``budget.finalists`` templates with the lowest screening loss get ``budget.restarts``
       fresh random first layers each, and these, the finalists and the free members run
       ``budget.lm_iterations`` more on all samples. Both stages end as soon as a template
       fits exactly.
    4. Free members' exponents near the half-integer grid are snapped, terms that contribute
       nothing on the training data are dropped, and the changed members are refitted.
    5. The member with the lowest training loss wins (among exact fits, the one with the fewest
       free exponents) and scipy's ``least_squares`` polishes it. The extrapolation range is
       never looked at.
    """
    budget = budget or LognetBudget()
    start_time = time.perf_counter()
    generator = torch.Generator().manual_seed(int(seed))
    x, target = task.sample(budget.n_train, seed, dtype=DTYPE)
    target = target[:, 0]
    magnitude = target.abs()
    scale = magnitude + 0.01 * magnitude.median()

    def template_exact(losses: Tensor, population: _Population) -> bool:
        # An exact template fit has no free exponents, so nothing later can outrank it.
        is_template = torch.tensor([kind == "template" for kind in population.kind])
        return bool((losses[is_template] < EXACT_FIT).any())

    templates = exponent_templates()
    population = _new_members(task, [None] * budget.free_members + templates, generator)
    # Screening only ranks the templates, so it uses the first n_screen samples, which are a
    # random subset because the samples are independent. The later stages use all of them.
    n_screen = min(budget.n_screen, budget.n_train)
    x_screen, target_screen, scale_screen = x[:n_screen], target[:n_screen], scale[:n_screen]
    if task.input_size <= budget.one_hot_max_inputs and budget.one_hot_starts:
        one_hot = _new_members(task, templates * budget.one_hot_starts, generator, one_hot=True)
        # Templates list each exponent pair once, in one order. The second half of the one-hot
        # starts swaps the two hidden values, so both orders are tried.
        half = len(templates) * (budget.one_hot_starts // 2)
        one_hot.W1[half : 2 * half] = one_hot.W1[:half].flip(1)
        population = _Population.concat([population, one_hot])
    _fit_output_layer(population, x_screen, target_screen, scale_screen)
    losses = _levenberg_marquardt(
        population, x_screen, target_screen, scale_screen, budget.screen_iterations,
        stop=lambda value: template_exact(value, population),
    )
    tried = len(population)

    if budget.lm_iterations:
        template_order = torch.argsort(losses[budget.free_members :])[: budget.finalists] + budget.free_members
        finalists = template_order.tolist()
        fresh = _new_members(task, [population.W2[i] for i in finalists for _ in range(budget.restarts)], generator)
        _fit_output_layer(fresh, x, target, scale)
        population = _Population.concat([population.select(list(range(budget.free_members)) + finalists), fresh])
        tried += len(fresh)
        losses = _levenberg_marquardt(
            population, x, target, scale, budget.lm_iterations, stop=lambda value: template_exact(value, population)
        )

    snapped = _snap_free_members(population)
    if bool(snapped.any()) and budget.snap_iterations and not template_exact(losses, population):
        # A snapped member that now fits worse is simply not chosen: the choice is by loss.
        snapped_losses = _levenberg_marquardt(population, x, target, scale, budget.snap_iterations)
        losses = torch.where(snapped, snapped_losses, losses)

    pruned = _prune_dead_terms(population, x, target)
    if bool(pruned.any()) and budget.snap_iterations:
        pruned_losses = _levenberg_marquardt(population, x, target, scale, budget.snap_iterations)
        losses = torch.where(pruned, pruned_losses, losses)

    best = _choose(losses, population)
    member = population.select([best])
    loss = float(losses[best])
    if budget.polish_nfev and math.isfinite(loss) and not bool(member.free_W2.any()):
        member, loss = _polish(member, x, target, scale, budget.polish_nfev)

    model = build_model(task)
    with torch.no_grad():
        model[0].weight.copy_(member.W1[0])
        model[1].weight.copy_(member.W2[0])
        model[2].weight.copy_(member.c)
        model[2].bias.copy_(member.b)
    model.eval()
    return LognetFit(
        model=model,
        train_loss=loss,
        seconds=time.perf_counter() - start_time,
        exponents=member.W2[0].tolist(),
        details={"kind": member.kind[0], "members_tried": tried, "exact_members": int((losses < EXACT_FIT).sum())},
    )
