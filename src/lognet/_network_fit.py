"""``lognet.fit_network``: global fitting of a stacked network Linear -> LogLayer -> Linear.

The data flow is: validate (``_data.prepare``) -> population of starts -> screening ->
finalists -> snap and prune -> choose -> polish (scipy) -> simplify -> ``nn.Sequential``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from dataclasses import dataclass, field

import numpy as np
import scipy.optimize
import torch
from torch import Tensor, nn

from ._data import _to_array, align_columns, prepare, target_unit
from ._layer import LogLayer
from ._network_population import (
    DTYPE,
    Population,
    fit_output_layer,
    forward,
    jacobian,
    levenberg_marquardt,
    mean_squares,
    residuals,
)
from ._validation import check_option, check_random_state, torch_threads

NETWORK_DOMAINS = ("signed", "abs")
NETWORK_LOSSES = ("spes", "mse")
# An exponent of 64 already overflows float64 once a hidden value exceeds e^(709/64), about
# 6.5e4, so larger grid values are mistakes such as 1e300.
MAX_GRID_EXPONENT = 64
# A member whose loss grows by more than this factor without its output bias depends on the
# bias, as a large term cancelled by a constant does.
BIAS_DEPENDENCE = 2.0
# Templates set the exponents of at most this many hidden values, so a * b / c fits with
# hidden_features=3; a fourth hidden value would multiply the templates by 9 again.
TEMPLATE_WIDTH = 3
# Multiples of 1/2 in [-2, 2]: the exponents of +, -, *, /, sqrt, square and their inverses.
HALF_INTEGERS = tuple(value / 2 for value in range(-4, 5))


@dataclass(frozen=True)
class NetworkOptions:
    """Work done by :func:`lognet.fit_network`. The defaults suit up to a few hundred inputs.

    Attributes:
        free_members: members whose exponents move freely, each from its own random start.
        n_screen: samples used by the screening stage (the first ones; pass shuffled data).
        screen_iterations: Levenberg-Marquardt iterations every member gets first.
        finalists: exponent templates that go on after screening, ranked by screening loss.
        restarts: fresh random first layers added for each finalist.
        one_hot_max_inputs: with at most this many inputs, every template also starts from
            one-hot first layers (each of the first two hidden values one input), which costs
            little there.
        one_hot_starts: one-hot starts per template: every ordered pair of distinct inputs
            when there are at most this many pairs (up to 4 inputs by default), else this
            many pairs drawn at random.
        lm_iterations: iterations of the finalists, their restarts and the free members.
        extra_rounds: while no template fits exactly, up to this many more rounds give the
            best distinct templates ``restarts`` fresh first layers each.
        snap_iterations: iterations after snapping exponents to the grid or dropping terms.
        polish_nfev: most residual evaluations of the final ``scipy.optimize.least_squares``.
        exponent_grid: exponents the templates are built from and free exponents snap to.
            An empty tuple turns templates and snapping off.
        snap_tolerance: free exponents this close to a grid value are snapped to it.
        relative_floor: the SPES residual is (y - t) / (|t| + relative_floor * median|t|).
            ``None`` (the default) uses 0, Hines' SPES, when every target has the same sign,
            and 0.1 when the targets change sign. Such targets pass near 0, where pure
            relative errors made Levenberg-Marquardt diverge even from the exact structure's
            start.
        exact_fit: a training loss below this counts as exact; among exact fits the one with
            the fewest free exponents wins, because round-off decides the rest.
        dead_term: a term whose largest output on the training data is below this fraction of
            max|t| is dropped: it fits nothing there but can dominate far outside.
        simplify_tol: relative training loss a simpler model may add. Among members within
            (1 + simplify_tol) of the best loss, the one with the fewest free exponents wins,
            and the first layer is snapped to simple ratios when the loss stays within it.
        max_denominator: first-layer weights, divided by the largest of their row, are snapped
            to multiples of 1/q for q = 1, 2, ..., max_denominator (the first q kept wins).
        num_threads: torch threads during the fit, restored afterwards; ``None`` keeps torch's
            setting. The tensors are small, so one thread avoids OpenMP overhead.
    """

    free_members: int = 4
    n_screen: int = 256
    screen_iterations: int = 30
    finalists: int = 8
    restarts: int = 2
    one_hot_max_inputs: int = 10
    one_hot_starts: int = 12
    lm_iterations: int = 80
    extra_rounds: int = 2
    snap_iterations: int = 30
    polish_nfev: int = 20
    exponent_grid: tuple[float, ...] = HALF_INTEGERS
    snap_tolerance: float = 0.05
    relative_floor: float | None = None
    exact_fit: float = 1e-20
    dead_term: float = 1e-9
    simplify_tol: float = 0.05
    max_denominator: int = 6
    num_threads: int | None = 1

    def __post_init__(self) -> None:
        minimum = {"n_screen": 2, "max_denominator": 1}
        for name in (
            "free_members", "n_screen", "screen_iterations", "finalists", "restarts", "one_hot_max_inputs",
            "one_hot_starts", "lm_iterations", "extra_rounds", "snap_iterations", "polish_nfev", "max_denominator",
        ):
            value = getattr(self, name)
            least = minimum.get(name, 0)
            if not isinstance(value, int) or isinstance(value, bool) or value < least:
                raise ValueError(f"NetworkOptions.{name} must be an int >= {least}, got {value!r}.")
        for name in ("snap_tolerance", "relative_floor", "exact_fit", "dead_term", "simplify_tol"):
            value = getattr(self, name)
            if name == "relative_floor" and value is None:
                continue
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise ValueError(f"NetworkOptions.{name} must be a finite number >= 0, got {value!r}.")
        try:
            grid = tuple(self.exponent_grid)
        except TypeError:
            raise TypeError(
                f"NetworkOptions.exponent_grid must be a sequence of numbers such as (-1.0, 0.5, 1.0), "
                f"got {self.exponent_grid!r}."
            ) from None
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in grid)
        if not numbers or not all(math.isfinite(v) and abs(v) <= MAX_GRID_EXPONENT for v in grid):
            raise ValueError(
                f"NetworkOptions.exponent_grid must hold finite numbers in [-{MAX_GRID_EXPONENT}, "
                f"{MAX_GRID_EXPONENT}], got {grid!r}."
            )
        object.__setattr__(self, "exponent_grid", tuple(sorted(set(float(v) for v in grid))))
        if self.num_threads is not None and (not isinstance(self.num_threads, int) or self.num_threads < 1):
            raise ValueError(f"NetworkOptions.num_threads must be None or an int >= 1, got {self.num_threads!r}.")
        if self.free_members == 0 and not any(self.exponent_grid):
            raise ValueError(
                "NetworkOptions has free_members=0 and no nonzero value in exponent_grid, so there is no "
                "member to fit; raise free_members or give a grid."
            )


@dataclass
class NetworkFit:
    """Result of :func:`lognet.fit_network`.

    Attributes:
        model: ``nn.Sequential(Linear(bias=False), LogLayer, Linear)`` in float64, eval mode.
        train_loss: mean squared (relative, for SPES) residual on the training data.
        seconds: wall time of the fit.
        feature_names: names of the input columns, used by :meth:`formula`.
        positive_inputs: whether every training input was > 0; :meth:`formula` then treats
            the features as positive symbols.
        details: how the winner was found: its kind (``"template"`` or ``"free"``), the
            members tried and how many of them fit exactly.
    """

    model: nn.Sequential
    train_loss: float
    seconds: float
    feature_names: tuple[str, ...] = ()
    positive_inputs: bool = False
    details: dict = field(default_factory=dict)

    @property
    def exponents(self) -> Tensor:
        """Exponents of the LogLayer, shape (n_terms, hidden_features)."""
        return self.model[1].weight.detach().clone()

    def formula(self, digits: int | None = 4, drop_below: float = 1e-9):
        """Return the network as a SymPy expression, each hidden sum scaled so its largest
        weight is 1; first-layer weights below ``drop_below`` of that are left out."""
        from ._export import network_formula

        if not (isinstance(drop_below, (int, float)) and 0 <= drop_below < 1):
            raise ValueError(f"drop_below must be a number in [0, 1), got {drop_below!r}; the default is 1e-9.")
        return network_formula(self, digits, drop_below)

    def predict(self, X) -> np.ndarray:
        """Evaluate the fitted network on X (array-like, (n_samples, n_features)).

        A DataFrame is matched to the fitted features by column name.
        """
        array, _ = _to_array("X", align_columns(X, self.feature_names))
        if array.ndim != 2 or array.shape[1] != self.model[0].in_features:
            raise ValueError(
                f"X must have shape (n_samples, {self.model[0].in_features}), got {array.shape}; "
                f"pass the same feature columns the network was fitted on."
            )
        bad = ~np.isfinite(array)
        if bad.any():
            columns = [self.feature_names[i] for i in np.nonzero(bad.any(axis=0))[0]]
            raise ValueError(
                f"X has {int(bad.sum())} NaN or infinite values (in columns {columns}, first row "
                f"{int(np.nonzero(bad.any(axis=1))[0][0])}); drop or impute those rows before predicting."
            )
        with torch.no_grad():
            return self.model(torch.from_numpy(array))[:, 0].numpy()


def build_network(in_features: int, hidden_features: int, n_terms: int, domain: str = "signed") -> nn.Sequential:
    """Return ``Linear(in, hidden, bias=False) -> LogLayer(hidden, n_terms) -> Linear(n_terms, 1)``
    in float64, the model that :func:`lognet.fit_network` fits."""
    return nn.Sequential(
        nn.Linear(in_features, hidden_features, bias=False, dtype=DTYPE),
        LogLayer(hidden_features, n_terms, domain=domain, dtype=DTYPE),
        nn.Linear(n_terms, 1, dtype=DTYPE),
    )


def exponent_templates(hidden_features: int, n_terms: int, grid: tuple[float, ...]) -> list[Tensor]:
    """Return the exponent matrices that are tried with frozen exponents.

    Each unordered combination of grid values for the first min(hidden_features, 3) hidden
    values gives one term, z_1^p z_2^q (z_1^p z_2^q z_3^r with three hidden values, z_1^p with
    one). With two or more terms the linear model, whose term k is z_k, is added. The solver
    chooses which inputs feed each hidden value, so the templates need not list the hidden
    values in every order.
    """
    H, K = hidden_features, n_terms
    width = min(H, TEMPLATE_WIDTH)
    templates = []
    for combination in itertools.combinations_with_replacement(grid, width):
        if not any(combination):
            continue
        template = torch.zeros(K, H, dtype=DTYPE)
        template[0, :width] = torch.tensor(combination, dtype=DTYPE)
        templates.append(template)
    if grid and K >= 2:
        templates.append(torch.eye(K, H, dtype=DTYPE))
    return templates


def _new_members(
    exponents: list[Tensor | None],
    in_features: int,
    hidden_features: int,
    n_terms: int,
    positive_inputs: bool,
    generator: torch.Generator,
    one_hot: bool = False,
) -> Population:
    """Create members with random first layers, one per entry of ``exponents``.

    First layers come from U(0, 1) when every input is positive, so hidden values start
    positive, and from U(-1, 1) otherwise. With ``one_hot`` each hidden value starts as one
    input (distinct where there are enough). ``None`` makes a free member with exponents from
    U(-1, 1), LogLayer's default; a tensor makes a template member.
    """
    P, H, K, D = len(exponents), hidden_features, n_terms, in_features
    low = 0.0 if positive_inputs else -1.0
    W1 = torch.rand(P, H, D, generator=generator, dtype=DTYPE) * (1 - low) + low
    if one_hot:
        chosen = torch.rand(P, D, generator=generator).argsort(dim=1)[:, : min(H, D)]
        W1 = torch.zeros_like(W1)
        W1[:, : chosen.shape[1]].scatter_(2, chosen[..., None], 1.0)
    W2 = torch.rand(P, K, H, generator=generator, dtype=DTYPE) * 2 - 1
    free_W2 = torch.ones(P, K, H, dtype=torch.bool)
    free_c = torch.ones(P, K, dtype=torch.bool)
    kind = []
    for index, template in enumerate(exponents):
        if template is None:
            kind.append("free")
            continue
        W2[index] = template
        free_W2[index] = False
        free_c[index] = template.abs().sum(dim=1) > 0  # a term with all exponents 0 is unused
        kind.append("template")
    zeros = torch.zeros(P, K, dtype=DTYPE)
    return Population(W1, W2, zeros, torch.zeros(P, dtype=DTYPE), free_W2, free_c, kind)


def _one_hot_members(template: Tensor, members, in_features: int, hidden_features: int, count: int, generator) -> Population:
    """Return template members whose first hidden values (up to 3) start as distinct inputs.

    Every ordered choice of inputs is used when there are at most ``count`` of them, so a
    small problem always has the start z_1 = x_i, z_2 = x_j that LM needs least to move;
    otherwise ``count`` choices are drawn at random.
    """
    width = min(hidden_features, TEMPLATE_WIDTH, in_features)
    pairs = list(itertools.permutations(range(in_features), width))
    if len(pairs) > count:
        pairs = [pairs[i] for i in torch.randperm(len(pairs), generator=generator)[:count].tolist()]
    population = members([template] * len(pairs), one_hot=True)
    population.W1[:, :width] = 0.0
    for index, pair in enumerate(pairs):
        for h, d in enumerate(pair):
            population.W1[index, h, d] = 1.0
    return population


def _snap_free_members(population: Population, grid: tuple[float, ...], tolerance: float) -> Tensor:
    """Snap free members' exponents within ``tolerance`` of a grid value and freeze them there.

    Returns the mask of members that changed.
    """
    if not grid:
        return torch.zeros(len(population), dtype=torch.bool)
    values = torch.tensor(grid, dtype=DTYPE)
    nearest = values[(population.W2[..., None] - values).abs().argmin(dim=-1)]
    is_free = torch.tensor([kind == "free" for kind in population.kind])
    snap = ((population.W2 - nearest).abs() < tolerance) & population.free_W2 & is_free[:, None, None]
    population.W2 = torch.where(snap, nearest, population.W2)
    population.free_W2 = population.free_W2 & ~snap
    return snap.flatten(1).any(dim=1)


def _prune_dead_terms(population: Population, x: Tensor, target: Tensor, fraction: float, signed: bool) -> Tensor:
    """Zero and freeze terms whose output is negligible on every training sample.

    Such a term (say c = 1e-30 on |z|^27) fits the training data no better than nothing but
    can dominate far outside it. Returns the mask of members that changed.
    """
    units = forward(x, population, signed)[1][-1]
    largest = (units * population.c[:, None, :]).abs().amax(dim=1)  # (P, K)
    dead = (largest < fraction * target.abs().max()) & population.free_c
    population.c = torch.where(dead, torch.zeros_like(population.c), population.c)
    population.W2 = torch.where(dead[..., None], torch.zeros_like(population.W2), population.W2)
    population.free_c = population.free_c & ~dead
    population.free_W2 = population.free_W2 & ~dead[..., None]
    return dead.any(dim=1)


def _best_distinct_templates(population: Population, losses: Tensor, count: int) -> list[int]:
    """Return the indices of the ``count`` template members with the lowest losses, one per
    distinct exponent matrix."""
    order = sorted((i for i, kind in enumerate(population.kind) if kind == "template"), key=lambda i: float(losses[i]))
    chosen, seen = [], set()
    for index in order:
        exponents = tuple(population.W2[index].flatten().tolist())
        if exponents in seen:
            continue
        seen.add(exponents)
        chosen.append(index)
        if len(chosen) == count:
            break
    return chosen


def _parameter_counts(population: Population) -> tuple[Tensor, Tensor, Tensor]:
    """Return per member the free exponents, the nonzero exponents and all fitted parameters.

    A term counts when its output weight is in use, and a hidden value counts when a counted
    term raises it to a nonzero power. The parameters are the counted hidden values'
    first-layer weights, the free exponents, the counted output weights and the bias.
    """
    used_terms = population.free_c & (population.c != 0)
    used_exponents = used_terms[..., None] & (population.W2 != 0)
    n_nonzero = used_exponents.flatten(1).sum(dim=1)
    n_free = (population.free_W2 & used_terms[..., None]).flatten(1).sum(dim=1)
    used_hidden = used_exponents.any(dim=1).sum(dim=1)
    n_parameters = used_hidden * population.W1.shape[2] + n_free + used_terms.sum(dim=1) + 1
    return n_free.to(DTYPE), n_nonzero.to(DTYPE), n_parameters.to(DTYPE)


def _exponent_size(population: Population) -> Tensor:
    """Return per member the sum of |exponent| over the terms in use, the last tie-break."""
    used_terms = (population.free_c & (population.c != 0)).to(DTYPE)
    return (population.W2.abs() * used_terms[..., None]).flatten(1).sum(dim=1)


def _choose(
    losses: Tensor,
    population: Population,
    exact_fit: float,
    tolerance: float,
    n_samples: int,
    without_bias: Tensor | None = None,
) -> int:
    """Return the index of the member to keep.

    With exact fits (loss below ``exact_fit``) those are the candidates. Otherwise the member
    with the lowest Bayesian information criterion n log(loss) + p log(n) sets the bar, so
    that extra free exponents must pay for themselves, and the candidates are the members
    within (1 + tolerance) of its loss. BIC rather than AIC, because the aim is the true law:
    with 1% noise on sqrt(a + b), AIC kept a free second term that fitted the noise.

    ``without_bias`` is each member's loss with the output bias 0 and its weights refitted.
    When some candidates lose less than a factor BIAS_DEPENDENCE without the bias, only those
    stay. On noisy (a - b) / c the near-cancelling c - c (z_1 / z_2)^(1/2) otherwise beat
    z_1 / z_2.

    Among the candidates the fewest free exponents wins, then the fewest nonzero exponents,
    then the smallest sum of |exponent|, then the lowest loss. So an exact template beats an
    exact free fit, z^(1/2) beats the equal z^1 z^(-1/2) on two copies of z, and on noisy
    data z_1 / z_2 beats a near-cancelling c (z_1 / z_2)^(3/2) - c.
    """
    finite = torch.isfinite(losses)
    if not bool(finite.any()):
        return int(torch.argmin(losses))
    n_free, n_nonzero, n_parameters = _parameter_counts(population)
    size = _exponent_size(population)
    if float(losses.min()) < exact_fit:
        good = losses < exact_fit
    else:
        criterion = torch.where(
            finite, n_samples * torch.log(losses) + math.log(n_samples) * n_parameters, torch.full_like(losses, math.inf)
        )
        bar = float(losses[int(torch.argmin(criterion))])
        good = losses <= bar * (1 + tolerance)
        if without_bias is not None:
            # A fit that needs no bias beats one that cancels a large term against it.
            unbiased = good & (without_bias <= BIAS_DEPENDENCE * losses)
            if bool(unbiased.any()):
                good = unbiased
    order = sorted(
        (i for i in range(len(population)) if bool(good[i])),
        key=lambda i: (float(n_free[i]), float(n_nonzero[i]), float(size[i]), float(losses[i])),
    )
    return order[0]


def _refit_output(
    member: Population, x: Tensor, target: Tensor, scale: Tensor, signed: bool, intercept: bool = True
) -> float:
    """Refit the output layer of a one-member population in place and return its loss."""
    fit_output_layer(member, x, target, scale, signed, intercept=intercept)
    return float(mean_squares(residuals(member, x, target, scale, signed)[0])[0])


def _snap_first_layer(
    member: Population, loss: float, limit: float, x: Tensor, target: Tensor, scale: Tensor, signed: bool,
    max_denominator: int,
) -> tuple[Population, float, int | None]:
    """Snap the first layer to simple ratios if the training loss stays within tolerance.

    Each row is divided by its largest |weight|, rounded to multiples of 1/q and multiplied
    back, for q = 1, 2, ..., ``max_denominator``. The output layer is refitted by least
    squares (it absorbs any change of a row's scale), and the first q whose loss is at most
    ``limit`` is kept. Returns the member, its loss and q, or the member unchanged and None.
    """
    W1 = member.W1[0]
    largest = W1.abs().amax(dim=1, keepdim=True)
    largest = torch.where(largest > 0, largest, torch.ones_like(largest))
    for q in range(1, max_denominator + 1):
        snapped = torch.round(W1 / largest * q) / q * largest
        if bool((snapped.abs().sum(dim=1) == 0).any()):
            continue
        trial = member.select([0])
        trial.W1 = snapped[None]
        trial_loss = _refit_output(trial, x, target, scale, signed)
        if trial_loss <= limit:
            return trial, trial_loss, q
    return member, loss, None


def _drop_first_layer_weights(
    member: Population, loss: float, limit: float, x: Tensor, target: Tensor, scale: Tensor, signed: bool
) -> tuple[Population, float, int]:
    """Zero first-layer weights one at a time, smallest relative to its row first.

    Each zero is kept if the refitted loss stays within ``limit``. Returns the member, its loss
    and the number of weights zeroed.

    z_1 / z_2 + beta equals (z_1 + beta z_2) / z_2, so an exact fit can hold a copy of z_2
    inside z_1 together with an output bias. Dropping it, and then the bias, gives (a - b) / c
    instead of 1 + (a - b - c) / c.
    """
    W1 = member.W1[0]
    largest = W1.abs().amax(dim=1, keepdim=True).clamp_min(1e-300)
    entries = [(float(abs(W1[h, d]) / largest[h, 0]), h, d) for h, d in torch.nonzero(W1).tolist()]
    dropped = 0
    for _, h, d in sorted(entries):
        if int((member.W1[0, h] != 0).sum()) <= 1:
            continue
        trial = member.select([0])
        trial.W1[0, h, d] = 0.0
        trial_loss = _refit_output(trial, x, target, scale, signed)
        if trial_loss <= limit:
            member, loss, dropped = trial, trial_loss, dropped + 1
    return member, loss, dropped


def _drop_terms(
    member: Population, loss: float, limit: float, x: Tensor, target: Tensor, scale: Tensor, signed: bool
) -> tuple[Population, float, int]:
    """Drop terms, smallest output first, while the refitted loss stays within ``limit``.

    A term whose exponents are all 0 is a second constant next to the bias, and a term with a
    coefficient near 1e-8 fits noise, so both can go. Returns the member, its loss and the
    count.
    """
    units = forward(x, member, signed)[1][-1][0]  # (N, K)
    size = (units * member.c[0]).abs().amax(dim=0)
    dropped = 0
    for k in torch.argsort(size).tolist():
        used = member.free_c[0] & (member.c[0] != 0)
        if not bool(used[k]) or int(used.sum()) <= 1:
            continue
        trial = member.select([0])
        trial.c[0, k] = 0.0
        trial.W2[0, k] = 0.0
        trial.free_c[0, k] = False
        trial.free_W2[0, k] = False
        trial_loss = _refit_output(trial, x, target, scale, signed)
        if trial_loss <= limit:
            member, loss, dropped = trial, trial_loss, dropped + 1
    return member, loss, dropped


def _absorb_intercept(
    member: Population, loss: float, limit: float, x: Tensor, target: Tensor, scale: Tensor, signed: bool
) -> tuple[Population, float, bool]:
    """Rewrite c z_1 / z_2 + b as c (z_1 + (b / c) z_2) / z_2, if that is the only term.

    Both are the same function, but the second has no bias and its numerator often snaps to
    simple weights, e.g. 1 + (a + b - c - d) / (c + d) becomes (a + b) / (c + d).
    """
    used = member.free_c[0] & (member.c[0] != 0)
    b = float(member.b[0])
    if int(used.sum()) != 1 or b == 0.0:
        return member, loss, False
    k = int(torch.nonzero(used)[0, 0])
    powers = member.W2[0, k]
    ones, minus_ones = torch.nonzero(powers == 1).flatten(), torch.nonzero(powers == -1).flatten()
    if int((powers != 0).sum()) != 2 or len(ones) != 1 or len(minus_ones) != 1:
        return member, loss, False
    trial = member.select([0])
    numerator, denominator = int(ones[0]), int(minus_ones[0])
    trial.W1[0, numerator] += b / float(member.c[0, k]) * trial.W1[0, denominator]
    trial_loss = _refit_output(trial, x, target, scale, signed, intercept=False)
    if trial_loss <= limit:
        return trial, trial_loss, True
    return member, loss, False


def _drop_intercept(
    member: Population, loss: float, limit: float, x: Tensor, target: Tensor, scale: Tensor, signed: bool
) -> tuple[Population, float, bool]:
    """Set the output bias to 0 and refit the output weights; keep that if the loss is within ``limit``."""
    trial = member.select([0])
    trial_loss = _refit_output(trial, x, target, scale, signed, intercept=False)
    if trial_loss <= limit:
        return trial, trial_loss, True
    return member, loss, False


def _polish(member: Population, x: Tensor, target: Tensor, scale: Tensor, signed: bool, max_nfev: int) -> tuple[Population, float]:
    """Refine one member by ``scipy.optimize.least_squares(method="lm")``; keep it if better."""
    free = member.free_mask()[0]

    def with_parameters(values: np.ndarray) -> Population:
        trial = member.select([0])
        full = trial.vector()[0]
        full[free] = torch.from_numpy(values)
        trial.load(full[None])
        return trial

    def residual(values: np.ndarray) -> np.ndarray:
        value = residuals(with_parameters(values), x, target, scale, signed)[0][0].numpy()
        return np.where(np.isfinite(value), value, 1e10)

    def residual_jacobian(values: np.ndarray) -> np.ndarray:
        trial = with_parameters(values)
        cache = forward(x, trial, signed)[1]
        return jacobian(x, trial, cache, scale)[0][:, free].numpy()

    start = member.vector()[0][free].numpy().copy()
    start_loss = float(np.mean(residual(start) ** 2))
    # MINPACK's lm needs at least as many residuals as parameters.
    if len(target) < len(start) or not math.isfinite(start_loss):
        return member, start_loss
    result = scipy.optimize.least_squares(
        residual, start, jac=residual_jacobian, method="lm", x_scale="jac",
        xtol=1e-15, ftol=1e-15, gtol=1e-15, max_nfev=max_nfev,
    )
    loss = float(np.mean(residual(result.x) ** 2))
    if not loss < start_loss:
        return member, start_loss
    return with_parameters(result.x), loss


def fit_network(
    X,
    y,
    *,
    hidden_features: int = 2,
    n_terms: int = 2,
    domain: str = "signed",
    loss: str = "spes",
    feature_names=None,
    simplify: bool = True,
    options: NetworkOptions | None = None,
    random_state: int | None = None,
) -> NetworkFit:
    """Fit ``Linear(bias=False) -> LogLayer -> Linear`` to (X, y) globally.

    The first layer forms ``hidden_features`` weighted sums of the inputs, the LogLayer takes
    ``n_terms`` products of powers of them, and the output layer adds those up. This represents
    sums, differences, products, quotients and powers of linear combinations of the inputs,
    such as (x1 + x2) * (x3 - x4) or sqrt(x1 + x2), and extrapolates them exactly.

    The fit runs a population of starts through batched Levenberg-Marquardt (closed-form
    Jacobian, float64):

    1. Screening: ``free_members`` random starts with free exponents and one random start per
       *exponent template* (exponents frozen at grid values: every combination from
       ``options.exponent_grid`` as one term z1^p z2^q, or z1^p z2^q z3^r with three hidden
       values, and the linear model) get their output layer by least squares. With few
       inputs each template also starts from one-hot first layers. All run
       ``screen_iterations`` on the first ``n_screen`` samples.
    2. The ``finalists`` best distinct templates get ``restarts`` fresh first layers each.
       These, the finalists and the free members run ``lm_iterations`` more on all samples,
       and up to ``extra_rounds`` more rounds of restarts follow while no template fits
       exactly. Every stage stops as soon as a template fits exactly.
    3. Free exponents near the grid are snapped, terms that contribute nothing on the
       training data are dropped, and the changed members are refitted.
    4. Exact fits are the candidates, or else the members within ``simplify_tol`` of the loss
       of the member with the lowest BIC. The fewest free exponents win, then the fewest
       nonzero ones. ``scipy.optimize.least_squares`` polishes the winner when its exponents
       are all on the grid.
    5. With ``simplify``, terms that add nothing are dropped, c z1 / z2 + b is rewritten
       without the bias, the first layer is snapped to simple ratios, its weights are zeroed
       one at a time, and the output bias is set to 0. Each change is kept if the loss stays
       within ``simplify_tol`` of the raw loss, and ``details`` records what changed.

    Over a narrow input range a free exponent and the scale of its hidden value trade off
    almost exactly, so free exponents settle in near fits; the templates are a prior that
    exponents are simple, as NAU's and NMU's clamped weights are for those units.

    Args:
        X: inputs, (n_samples, n_features): NumPy, torch or pandas.
        y: target, (n_samples,) or (n_samples, 1).
        hidden_features: outputs of the first Linear layer.
        n_terms: product units in the LogLayer.
        domain: ``"signed"`` (real part of the complex power, so z^1 = z and z^2 = z*z for
            negative z) or ``"abs"`` (|z|^w).
        loss: ``"spes"`` (squared relative error, with the floor ``options.relative_floor``)
            or ``"mse"``.
        feature_names: names for the columns of X. Default: DataFrame columns or x0, x1, ...
        simplify: snap the first layer's weights to simple ratios (0, ±1, ±1/2, ...) of their
            row's largest, and drop the output bias, each when the training loss stays within
            ``options.simplify_tol``.
        options: a :class:`NetworkOptions`; the default suits up to a few hundred inputs.
        random_state: seed of the random starts; a fixed seed gives identical results.

    Returns:
        A :class:`NetworkFit` whose ``model`` is a float64 ``nn.Sequential``.

    Raises:
        ValueError or TypeError naming the bad argument or data and how to fix it.

    NOTE: two kinds of law are often missed, without a warning. One is a negative power of a
    hidden value that changes sign inside the data, such as (a + b) / (c + d) with c + d
    crossing 0, where the search rarely crosses the pole. The other is a law with a large
    constant part under noise over a narrow range, where other exponents plus a bias fit as
    well. docs/guide.md describes both.

    Example:
        >>> X = torch.rand(200, 4, dtype=torch.float64) + 1
        >>> y = (X[:, 0] + X[:, 1]) * X[:, 2]
        >>> fit = lognet.fit_network(X, y, random_state=0)
        >>> fit.exponents.tolist()
        [[1.0, 1.0], [0.0, 0.0]]
    """
    start_time = time.perf_counter()
    check_option("domain", domain, NETWORK_DOMAINS)
    if not isinstance(simplify, bool):
        raise TypeError(f"simplify must be True or False, got {simplify!r}.")
    check_random_state(random_state)
    check_option("loss", loss, NETWORK_LOSSES)
    for name, value in (("hidden_features", hidden_features), ("n_terms", n_terms)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
    options = options or NetworkOptions()
    if not isinstance(options, NetworkOptions):
        raise TypeError(f"options must be a lognet.NetworkOptions, got {type(options).__name__}.")
    data = prepare(X, y, feature_names=feature_names, loss="mse", domain=domain, caller="fit_network")
    eps = max(_precision(X), _precision(y))
    if (4 * eps) ** 2 > options.exact_fit:
        # float32 data carry relative errors near 1e-7, so an exact law fits them only to about
        # 1e-14 and the float64 threshold of an exact fit would never be reached.
        options = dataclasses.replace(options, exact_fit=(4 * eps) ** 2)
    # The search runs on y / unit (a power of 2, so exactly) and the output layer is scaled
    # back, because its damping and thresholds assume coefficients of order 1.
    unit = target_unit(data.y)
    x, target = data.X, data.y / unit
    scale = _residual_scale(target, loss, options.relative_floor)
    search_scale = scale
    if loss == "spes":
        floor = SEARCH_FLOOR if options.relative_floor is None else max(options.relative_floor, SEARCH_FLOOR)
        search_scale = _residual_scale(target, loss, floor)

    seed = int(np.random.SeedSequence(random_state).generate_state(1)[0])
    generator = torch.Generator().manual_seed(seed)
    with torch_threads(options.num_threads):
        member, train_loss, details = _search(
            x, target, scale, search_scale, hidden_features, n_terms, domain == "signed", options, generator, simplify
        )

    model = build_network(x.shape[1], hidden_features, n_terms, domain)
    with torch.no_grad():
        model[0].weight.copy_(member.W1[0])
        model[1].weight.copy_(member.W2[0])
        model[2].weight.copy_(member.c * unit)
        model[2].bias.copy_(member.b * unit)
    model.eval()
    if not math.isfinite(train_loss):
        raise ValueError(
            "fit_network found no start with a finite loss: every hidden value overflowed or hit 0 "
            "with a negative exponent. Rescale X (for example divide each column by its median) and fit again."
        )
    return NetworkFit(
        model=model,
        train_loss=train_loss,
        seconds=time.perf_counter() - start_time,
        feature_names=data.feature_names,
        positive_inputs=bool((x > 0).all()),
        details=details,
    )


def _precision(value) -> float:
    """Return the machine epsilon of ``value``'s floating dtype (float64's for anything else)."""
    dtype = getattr(value, "dtype", None)
    if isinstance(dtype, torch.dtype) and dtype.is_floating_point:
        return float(torch.finfo(dtype).eps)
    if dtype is not None and np.issubdtype(np.dtype(dtype), np.floating):
        return float(np.finfo(dtype).eps)
    return float(np.finfo(np.float64).eps)


# The floor used for targets that change sign when NetworkOptions.relative_floor is None, and
# the least floor of the search stages: pure relative errors of targets near 0 made
# Levenberg-Marquardt diverge even from the exact structure's start.
SIGN_CHANGE_FLOOR = SEARCH_FLOOR = 0.1


def _residual_scale(target: Tensor, loss: str, relative_floor: float | None) -> Tensor:
    if loss == "mse":
        return torch.ones_like(target)
    if relative_floor is None:
        same_sign = bool((target > 0).all()) or bool((target < 0).all())
        relative_floor = 0.0 if same_sign else SIGN_CHANGE_FLOOR
    magnitude = target.abs()
    scale = magnitude + relative_floor * magnitude.median()
    if bool((scale == 0).any()):
        raise ValueError(
            f"loss='spes' divides by |t| + relative_floor * median|t|, which is 0 for {int((scale == 0).sum())} "
            f"targets (relative_floor={relative_floor}, median|t|={float(magnitude.median())}); "
            f"use loss='mse' or raise NetworkOptions.relative_floor."
        )
    return scale


def _search(
    x: Tensor,
    target: Tensor,
    scale: Tensor,
    search_scale: Tensor,
    hidden_features: int,
    n_terms: int,
    signed: bool,
    options: NetworkOptions,
    generator: torch.Generator,
    simplify: bool,
) -> tuple[Population, float, dict]:
    """Run the stages of :func:`fit_network` and return the winner, its loss and the details.

    The search stages divide residuals by ``search_scale`` and the final ones, from the choice
    on, by ``scale`` (the loss the caller asked for).
    """
    final_scale = scale
    scale = search_scale
    D = x.shape[1]
    positive_inputs = bool((x > 0).all())
    grid = options.exponent_grid

    def members(exponents: list, one_hot: bool = False) -> Population:
        return _new_members(exponents, D, hidden_features, n_terms, positive_inputs, generator, one_hot)

    def template_exact(losses: Tensor, population: Population) -> bool:
        # An exact template fit has no free exponents, so nothing later can outrank it.
        is_template = torch.tensor([kind == "template" for kind in population.kind])
        return bool((losses[is_template] < options.exact_fit).any())

    templates = exponent_templates(hidden_features, n_terms, grid)
    population = members([None] * options.free_members + templates)
    if D <= options.one_hot_max_inputs and options.one_hot_starts and templates:
        population = Population.concat([population] + [
            _one_hot_members(template, members, D, hidden_features, options.one_hot_starts, generator)
            for template in templates
        ])

    # Screening only ranks the members, so it uses the first n_screen samples.
    n_screen = min(options.n_screen, len(target))
    screen = (x[:n_screen], target[:n_screen], scale[:n_screen])
    fit_output_layer(population, *screen, signed)
    losses = levenberg_marquardt(
        population, *screen, options.screen_iterations, signed, stop=lambda value: template_exact(value, population)
    )
    tried = len(population)

    if options.lm_iterations:
        free_indices = [i for i, kind in enumerate(population.kind) if kind == "free"]
        ranked = _best_distinct_templates(population, losses, options.finalists)
        fresh = members([population.W2[i] for i in ranked for _ in range(options.restarts)])
        if len(fresh):
            fit_output_layer(fresh, x, target, scale, signed)
        population = Population.concat([population.select(free_indices + ranked), fresh])
        tried += len(fresh)
        losses = levenberg_marquardt(
            population, x, target, scale, options.lm_iterations, signed, stop=lambda value: template_exact(value, population)
        )
        for _ in range(options.extra_rounds):
            if template_exact(losses, population) or not options.restarts:
                break
            ranked = _best_distinct_templates(population, losses, options.finalists)
            if not ranked:
                break
            fresh = members([population.W2[i] for i in ranked for _ in range(options.restarts)])
            fit_output_layer(fresh, x, target, scale, signed)
            fresh_losses = levenberg_marquardt(
                fresh, x, target, scale, options.lm_iterations, signed, stop=lambda value: template_exact(value, fresh)
            )
            population = Population.concat([population, fresh])
            losses = torch.cat([losses, fresh_losses])
            tried += len(fresh)

    snapped = _snap_free_members(population, grid, options.snap_tolerance)
    if bool(snapped.any()) and options.snap_iterations and not template_exact(losses, population):
        # A snapped member that now fits worse is not chosen, because the choice compares losses.
        snapped_losses = levenberg_marquardt(population, x, target, scale, options.snap_iterations, signed)
        losses = torch.where(snapped, snapped_losses, losses)

    pruned = _prune_dead_terms(population, x, target, options.dead_term, signed)
    if bool(pruned.any()) and options.snap_iterations:
        pruned_losses = levenberg_marquardt(population, x, target, scale, options.snap_iterations, signed)
        losses = torch.where(pruned, pruned_losses, losses)

    if final_scale is not scale:
        # Move every member to the optimum of the requested loss before choosing by it.
        scale = final_scale
        losses = levenberg_marquardt(population, x, target, scale, options.snap_iterations, signed)
    unbiased = population.select(list(range(len(population))))
    fit_output_layer(unbiased, x, target, scale, signed, intercept=False)
    without_bias = mean_squares(residuals(unbiased, x, target, scale, signed)[0])
    best = _choose(losses, population, options.exact_fit, options.simplify_tol, len(target), without_bias)
    member = population.select([best])
    loss = float(losses[best])
    if options.polish_nfev and math.isfinite(loss) and not bool(member.free_W2.any()):
        member, loss = _polish(member, x, target, scale, signed, options.polish_nfev)
    raw_loss = loss
    denominator, dropped, zeroed, terms_dropped, absorbed = None, False, 0, 0, False
    if simplify and math.isfinite(loss):
        # Every step is measured against the raw loss, so the tolerances do not add up.
        limit = max(raw_loss * (1 + options.simplify_tol), options.exact_fit)
        member, loss, terms_dropped = _drop_terms(member, loss, limit, x, target, scale, signed)
        member, loss, absorbed = _absorb_intercept(member, loss, limit, x, target, scale, signed)
        member, loss, denominator = _snap_first_layer(
            member, loss, limit, x, target, scale, signed, options.max_denominator
        )
        if denominator is not None:
            member, loss, zeroed = _drop_first_layer_weights(member, loss, limit, x, target, scale, signed)
        member, loss, dropped = _drop_intercept(member, loss, limit, x, target, scale, signed)
    details = {
        "kind": member.kind[0],
        "members_tried": tried,
        "exact_members": int((losses < options.exact_fit).sum()),
        "raw_train_loss": raw_loss,
        "first_layer_denominator": denominator,
        "first_layer_zeroed": zeroed,
        "terms_dropped": terms_dropped,
        "intercept_absorbed": absorbed,
        "intercept_dropped": dropped,
    }
    return member, loss, details
