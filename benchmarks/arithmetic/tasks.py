"""Arithmetic extrapolation tasks: Madsen & Johansen's static task and the NALM two-input ranges."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

OPERATIONS = ("add", "sub", "mul", "div", "sqrt", "square")

# Madsen & Johansen (ICLR 2020), static arithmetic task: 100 inputs, two subsets of 25 inputs
# that share 12 of them (floor(0.5 * 25)), trained on U[1, 2] and tested on U[2, 6].
STATIC_INPUT_SIZE = 100
STATIC_SUBSET_RATIO = 0.25
STATIC_OVERLAP_RATIO = 0.5

# Success threshold: the extrapolation MSE of the true weights, each moved by this much toward
# the wrong value (Madsen & Johansen, ICLR 2020; Mistry et al., JMLR 2022).
EPSILON = 1e-5

Interval = tuple[float, float]
Ranges = tuple[Interval, ...]

# The nine (interpolation, extrapolation) pairs of the NALM benchmark (Mistry et al., JMLR 2022).
# A range of two intervals draws each input from either interval with probability 1/2.
NALM_RANGE_PAIRS: tuple[tuple[Ranges, Ranges], ...] = (
    (((-20.0, -10.0),), ((-40.0, -20.0),)),
    (((-2.0, -1.0),), ((-6.0, -2.0),)),
    (((-1.2, -1.1),), ((-6.1, -1.2),)),
    (((-0.2, -0.1),), ((-2.0, -0.2),)),
    (((-2.0, 2.0),), ((-6.0, -2.0), (2.0, 6.0))),
    (((0.1, 0.2),), ((0.2, 2.0),)),
    (((1.0, 2.0),), ((2.0, 6.0),)),
    (((1.1, 1.2),), ((1.2, 6.0),)),
    (((10.0, 20.0),), ((20.0, 40.0),)),
)


def format_ranges(ranges: Ranges) -> str:
    """Write ranges the way the papers do, e.g. ``U[-6,-2] ∪ U[2,6]``."""
    return " ∪ ".join(f"U[{_number(lo)},{_number(hi)}]" for lo, hi in ranges)


def _number(value: float) -> str:
    return f"{value:g}"


@dataclass(frozen=True)
class Task:
    """One arithmetic task: y = a op b, where a and b sum two subsets of the input vector.

    Attributes:
        family: ``"static"`` (Madsen & Johansen's 100-input task) or ``"nalm"`` (the two-input
            task of the NALM benchmark, where a = x[0] and b = x[1]).
        operation: one of ``OPERATIONS``; ``sqrt`` and ``square`` use only a.
        input_size: length of the input vector.
        subset_size: number of inputs summed into a, and into b.
        overlap_size: number of inputs that a and b share.
        interpolation: the training ranges.
        extrapolation: the test ranges.
    """

    family: str
    operation: str
    input_size: int
    subset_size: int
    overlap_size: int
    interpolation: Ranges
    extrapolation: Ranges

    def __post_init__(self) -> None:
        if self.operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {OPERATIONS}, got {self.operation!r}; pick one of those names.")
        if 2 * self.subset_size - self.overlap_size > self.input_size:
            raise ValueError(
                f"two subsets of {self.subset_size} inputs sharing {self.overlap_size} need "
                f"{2 * self.subset_size - self.overlap_size} inputs, but input_size is {self.input_size}; "
                f"raise input_size or shrink the subsets."
            )

    @property
    def name(self) -> str:
        """Identifier used in results, e.g. ``static/mul`` or ``nalm/div/U[-2,-1]``."""
        if self.family == "static":
            return f"static/{self.operation}"
        return f"nalm/{self.operation}/{format_ranges(self.interpolation)}"

    @property
    def signed(self) -> bool:
        """Whether any training or test input can be negative."""
        return any(lo < 0 for lo, _ in self.interpolation + self.extrapolation)

    @property
    def used_size(self) -> int:
        return 2 * self.subset_size - self.overlap_size

    def layout(self, seed: int) -> tuple[Tensor, Tensor]:
        """Return the boolean masks of the inputs summed into a and into b for this seed.

        The two subsets are contiguous and start at an offset drawn from the seed, as in
        Madsen & Johansen's generator. The two-input task has a single possible offset, 0.
        """
        generator = torch.Generator().manual_seed(int(seed))
        offset = int(torch.randint(0, self.input_size - self.used_size + 1, (1,), generator=generator))
        a_mask = torch.zeros(self.input_size, dtype=torch.bool)
        b_mask = torch.zeros(self.input_size, dtype=torch.bool)
        a_start = offset
        b_start = offset + self.subset_size - self.overlap_size
        a_mask[a_start : a_start + self.subset_size] = True
        b_mask[b_start : b_start + self.subset_size] = True
        return a_mask, b_mask

    def target(self, input: Tensor, a_mask: Tensor, b_mask: Tensor) -> Tensor:
        """Compute y = a op b with a trailing dimension of size 1.

        Masks of shape (input_size,) take input (..., input_size). Masks of shape
        (S, input_size) give each of S models its own layout. They take either a shared input
        (N, input_size) or one input per model (S, N, input_size), and both return (S, N, 1).
        """
        a_weight = a_mask.to(input.dtype)
        b_weight = b_mask.to(input.dtype)
        if a_mask.dim() == 1:
            a, b = input @ a_weight, input @ b_weight
        elif input.dim() == 2:
            a, b = (input @ a_weight.T).T, (input @ b_weight.T).T
        else:
            a, b = torch.einsum("sni,si->sn", input, a_weight), torch.einsum("sni,si->sn", input, b_weight)
        return apply_operation(self.operation, a, b)[..., None]

    def sample(
        self,
        n: int,
        seed: int,
        *,
        extrapolation: bool = False,
        dtype: torch.dtype = torch.float64,
    ) -> tuple[Tensor, Tensor]:
        """Draw n samples (x, y) for this seed's layout from a generator seeded with ``seed``."""
        generator = torch.Generator().manual_seed(int(seed))
        ranges = self.extrapolation if extrapolation else self.interpolation
        x = sample_ranges(ranges, (n, self.input_size), generator, dtype)
        a_mask, b_mask = self.layout(seed)
        return x, self.target(x, a_mask, b_mask)


def apply_operation(operation: str, a: Tensor, b: Tensor) -> Tensor:
    """Return a op b for one of ``OPERATIONS``."""
    if operation == "add":
        return a + b
    if operation == "sub":
        return a - b
    if operation == "mul":
        return a * b
    if operation == "div":
        return a / b
    if operation == "sqrt":
        return torch.sqrt(a)
    if operation == "square":
        return a * a
    raise ValueError(f"operation must be one of {OPERATIONS}, got {operation!r}; pick one of those names.")


def sample_ranges(ranges: Ranges, shape: tuple[int, ...], generator: torch.Generator, dtype: torch.dtype) -> Tensor:
    """Draw uniform values from a union of intervals, each interval chosen with equal probability.

    The NALM benchmark only pairs intervals of equal length, so this is uniform on the union.
    """
    if len(ranges) == 1:
        (lo, hi), = ranges
        return torch.rand(shape, generator=generator, dtype=dtype) * (hi - lo) + lo
    lows = torch.tensor([lo for lo, _ in ranges], dtype=dtype)
    widths = torch.tensor([hi - lo for lo, hi in ranges], dtype=dtype)
    choice = torch.randint(0, len(ranges), shape, generator=generator)
    return torch.rand(shape, generator=generator, dtype=dtype) * widths[choice] + lows[choice]


def success_threshold(task: Task, epsilon: float = EPSILON, n_samples: int = 1_000_000, seed: int = 0) -> float:
    """Estimate the extrapolation MSE of the true solution with its weights off by ``epsilon``.

    The MSE of that slightly wrong model against the exact targets, over ``n_samples``
    extrapolation inputs in float64, is the success threshold. How the weights move follows
    each benchmark's own definition:

    - static task (Madsen & Johansen, two layers): the first-layer weights that select a and b
      become 1 - epsilon and every other first-layer weight becomes epsilon;
    - NALM two-input task (Mistry et al., one layer): addition and subtraction are off by
      ``epsilon * sum|x|``, multiplication is scaled by ``(1 - epsilon)**2`` and division by
      ``(1 - epsilon) / (1 + epsilon)``.
    """
    generator = torch.Generator().manual_seed(seed)
    chunk = max(1, min(n_samples, 4_000_000 // task.input_size))
    total, count = 0.0, 0
    while count < n_samples:
        n = min(chunk, n_samples - count)
        x = sample_ranges(task.extrapolation, (n, task.input_size), generator, torch.float64)
        if task.family == "static":
            error = _static_error(task, x, epsilon)
        else:
            error = _single_layer_error(task, x, epsilon)
        total += float((error**2).sum())
        count += n
    return total / count


def _static_error(task: Task, x: Tensor, epsilon: float) -> Tensor:
    a_mask, b_mask = task.layout(0)
    a = x[:, a_mask].sum(-1)
    b = x[:, b_mask].sum(-1)
    everything = x.sum(-1)
    a_off = (1 - epsilon) * a + epsilon * (everything - a)
    b_off = (1 - epsilon) * b + epsilon * (everything - b)
    return apply_operation(task.operation, a_off, b_off) - apply_operation(task.operation, a, b)


def _single_layer_error(task: Task, x: Tensor, epsilon: float) -> Tensor:
    a, b = x[:, 0], x[:, 1]
    exact = apply_operation(task.operation, a, b)
    if task.operation in ("add", "sub"):
        return -epsilon * x.abs().sum(-1)
    if task.operation == "mul":
        return ((1 - epsilon) ** 2 - 1) * exact
    if task.operation == "div":
        return ((1 - epsilon) / (1 + epsilon) - 1) * exact
    raise ValueError(f"the two-input task has no operation {task.operation!r}; use add, sub, mul or div.")


def static_task(operation: str) -> Task:
    """Return Madsen & Johansen's static task for one operation (train U[1,2], test U[2,6])."""
    subset = math.floor(STATIC_SUBSET_RATIO * STATIC_INPUT_SIZE)
    overlap = math.floor(STATIC_OVERLAP_RATIO * subset)
    return Task("static", operation, STATIC_INPUT_SIZE, subset, overlap, ((1.0, 2.0),), ((2.0, 6.0),))


def nalm_task(operation: str, pair_index: int) -> Task:
    """Return the NALM two-input task for one operation and one of the nine range pairs."""
    interpolation, extrapolation = NALM_RANGE_PAIRS[pair_index]
    return Task("nalm", operation, 2, 1, 0, interpolation, extrapolation)


def all_tasks() -> list[Task]:
    """Return all 42 tasks: six static operations, then four NALM operations over nine range pairs."""
    tasks = [static_task(op) for op in OPERATIONS]
    for op in ("add", "sub", "mul", "div"):
        tasks += [nalm_task(op, index) for index in range(len(NALM_RANGE_PAIRS))]
    return tasks


def find_task(name: str) -> Task:
    """Return the task called ``name`` (see ``Task.name``)."""
    for task in all_tasks():
        if task.name == name:
            return task
    known = ", ".join(task.name for task in all_tasks())
    raise ValueError(f"unknown task {name!r}; known tasks are: {known}.")
