"""One stage of the fitting engine: the best K-term model from many starts.

A stage seeds a population of exponent matrices (from the previous stage's terms, a
log-space least-squares warm start and random draws), trains it with :func:`search`, and
refines the most promising distinct candidates jointly with Levenberg-Marquardt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from ._basis import Design, evaluate
from ._distributed import LOCAL, Communicator
from ._population import distinct_best, search, solve_coefficients
from ._refine import Residuals, refine


@dataclass
class EngineOptions:
    """Search settings of :func:`lognet.fit`.

    Attributes:
        population: candidates trained at once per stage.
        steps: Adam steps of the population search.
        lr: initial Adam learning rate on the exponents.
        n_refine: distinct candidates refined by Levenberg-Marquardt per stage.
        max_nfev: evaluation budget of each refinement.
        init_range: random exponents start in [-init_range, init_range].
        max_search_samples: the population trains on at most this many samples (a random
            subset); refinement always uses the whole training set.
        num_threads: torch threads used during the fit, restored afterwards; ``None`` keeps
            torch's setting. The engine's tensors are small, so one thread avoids OpenMP's
            start-up and, on busy machines, its spinning (docs/benchmarks.md measures both).
    """

    population: int = 128
    steps: int = 150
    lr: float = 0.1
    n_refine: int = 4
    max_nfev: int = 100
    init_range: float = 3.0
    max_search_samples: int = 500
    num_threads: int | None = 1


@dataclass
class Candidate:
    """A fitted K-term model: exponents (K, d), coefficients (K,), intercept, training cost."""

    weight: Tensor
    coef: Tensor
    intercept: float | None
    cost: float
    jacobian: np.ndarray = field(repr=False)

    @property
    def n_terms(self) -> int:
        return self.weight.shape[0]


def warm_start(design: Design, target: Tensor, comm: Communicator = LOCAL) -> Tensor:
    """Exponents of log|t| = b + W log|x| by linear least squares: exact for one monomial."""
    nonzero = target != 0
    A = torch.cat([design.log_abs[nonzero], torch.ones_like(target[nonzero, None])], dim=1)
    b = torch.log(target[nonzero].abs()).unsqueeze(-1)
    if comm.data_parallel:
        # Each rank has some of the rows, so solve the normal equations of the summed Gram matrix.
        n = A.shape[1]
        flat = comm.sum_over_samples(torch.cat([(A.T @ A).reshape(-1), (A.T @ b).reshape(-1)]))
        A, b = flat[: n * n].reshape(n, n), flat[n * n :].reshape(n, 1)
    solution = torch.linalg.lstsq(A, b, driver="gelsd").solution
    return solution[:-1, 0]


def random_exponents(shape: tuple[int, ...], init_range: float, generator: torch.Generator) -> Tensor:
    """Draw exponents: half uniform, half simple values (multiples of 1/2, often 0)."""
    uniform = (torch.rand(shape, generator=generator, dtype=torch.float64) * 2 - 1) * init_range
    simple = torch.round(uniform * 2) / 2
    sparse = torch.rand(shape, generator=generator, dtype=torch.float64) < 0.3
    simple = torch.where(sparse, torch.zeros_like(simple), simple)
    use_simple = torch.rand(shape[0], *([1] * (len(shape) - 1)), generator=generator) < 0.5
    return torch.where(use_simple, simple, uniform)


def initial_population(
    design: Design,
    target: Tensor,
    n_terms: int,
    previous: Candidate | None,
    options: EngineOptions,
    generator,
    comm: Communicator = LOCAL,
) -> Tensor:
    """Return (P, K, d) starting exponents for a K-term stage."""
    d = design.log_abs.shape[1]
    population = random_exponents((options.population, n_terms, d), options.init_range, generator)
    if previous is not None:
        # Three quarters of the starts keep the previous terms and only draw the new one.
        n_keep = (3 * options.population) // 4
        population[:n_keep, : n_terms - 1] = previous.weight
    else:
        population[0, 0] = warm_start(design, target, comm)
    return population


def fit_stage(
    design: Design,
    target: Tensor,
    residuals: Residuals,
    n_terms: int,
    bias: bool,
    previous: Candidate | None,
    options: EngineOptions,
    generator: torch.Generator,
    history: list[float],
) -> Candidate:
    """Fit the best ``n_terms``-term model; see the module docstring for the steps.

    With the population split between ranks (see :mod:`lognet._distributed`), each rank
    searches and refines its share, and the gathered results are identical on every rank.
    """
    comm = residuals.comm
    limit = options.max_search_samples // comm.world_size if comm.data_parallel else options.max_search_samples
    search_index = _search_subset(target.shape[0], max(limit, 1), generator)
    search_design = design.subset(search_index)
    search_target = target[search_index]
    sample_weight = residuals.weight[search_index]

    population = initial_population(search_design, search_target, n_terms, previous, options, generator, comm)
    mine = torch.tensor_split(torch.arange(population.shape[0]), comm.world_size)[comm.rank] if comm.splits_population else slice(None)
    weights, losses = search(
        search_design, search_target, sample_weight, population[mine], bias=bias, steps=options.steps, lr=options.lr, history=history, comm=comm
    )
    if comm.splits_population:
        shares = comm.gather((weights, losses))
        weights, losses = torch.cat([w for w, _ in shares]), torch.cat([l for _, l in shares])

    chosen = distinct_best(weights, losses, options.n_refine)
    my_share = chosen[comm.rank :: comm.world_size] if comm.splits_population else chosen
    refined = [_refine_one(design, target, residuals, weights[index], bias, options) for index in my_share]
    if comm.splits_population:
        # Back in the order a single process would have refined them, so ties break alike.
        by_rank = comm.gather(refined)
        refined = [by_rank[i % comm.world_size][i // comm.world_size] for i in range(len(chosen))]
    best: Candidate | None = None
    for candidate in refined:
        history.append(candidate.cost)
        if best is None or candidate.cost < best.cost:
            best = candidate
    if best is None:
        raise RuntimeError(
            f"every one of the {options.population} starts for {n_terms} terms diverged (non-finite loss); "
            f"rescale the features (e.g. divide by their median) or use loss='mse'."
        )
    return best


def _search_subset(n: int, limit: int, generator) -> Tensor:
    if n <= limit:
        return torch.arange(n)
    return torch.randperm(n, generator=generator)[:limit]


def _refine_one(design, target, residuals: Residuals, weight: Tensor, bias: bool, options) -> Candidate:
    phi = evaluate(design, weight.unsqueeze(0))
    coef, intercept, _ = solve_coefficients(phi, target, residuals.weight, bias, residuals.comm)
    start_intercept = float(intercept[0]) if bias else None
    weight, coef, intercept, cost, jac = refine(residuals, weight, coef[0], start_intercept, options.max_nfev)
    if not math.isfinite(cost):
        cost = math.inf
    return Candidate(weight, coef, intercept, cost, jac)
