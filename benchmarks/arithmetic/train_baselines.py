"""Training loop for the baselines: all seeds of one (model, task) pair trained at once."""

from __future__ import annotations

import math
import time
import zlib

import torch
from torch import Tensor

from .recipes import BATCH_SIZE, Recipe, build_network, recipe_for
from .tasks import Task, sample_ranges
from .units import Stack

# Fixed seeds of the evaluation sets, so every model and seed is scored on the same inputs.
VALID_SEED = 43_953_907
TEST_SEED = 8_689_336


def data_seed(task: Task, seeds: list[int]) -> int:
    """Seed of the training-batch stream: the same for every model on the same task and seeds."""
    return zlib.crc32(f"{task.name}|{','.join(map(str, seeds))}".encode())


def stacked_layouts(task: Task, seeds: list[int]) -> tuple[Tensor, Tensor]:
    """Return the a and b masks of every seed, each of shape (S, input_size)."""
    layouts = [task.layout(seed) for seed in seeds]
    return torch.stack([a for a, _ in layouts]), torch.stack([b for _, b in layouts])


def evaluation_sets(task: Task, n_valid: int, n_test: int) -> tuple[Tensor, Tensor]:
    """Return the shared float64 validation (interpolation) and test (extrapolation) inputs."""
    valid = sample_ranges(task.interpolation, (n_valid, task.input_size), torch.Generator().manual_seed(VALID_SEED), torch.float64)
    test = sample_ranges(task.extrapolation, (n_test, task.input_size), torch.Generator().manual_seed(TEST_SEED), torch.float64)
    return valid, test


def per_model_mse(output: Tensor, target: Tensor) -> Tensor:
    """Mean squared error of each of the S models; a non-finite output makes that model's MSE inf."""
    error = ((output - target) ** 2).mean(dim=(1, 2))
    return torch.where(torch.isfinite(error), error, torch.full_like(error, math.inf))


def _ramp(fraction: float, start: float, end: float) -> float:
    if end <= start:
        return 1.0 if fraction >= start else 0.0
    return min(1.0, max(0.0, (fraction - start) / (end - start)))


def _l1_weight(recipe: Recipe, fraction: float) -> float:
    start, end = recipe.l1_betas
    return min(end, start * 10 ** math.floor(fraction / recipe.l1_period + 1e-9))


def _l1_per_model(network: Stack) -> Tensor:
    return sum(parameter.abs().reshape(network.n_models, -1).sum(dim=1) for parameter in network.parameters())


class _Reinitializer:
    """iNALU's restart rule, applied to each model on its own.

    Every 10 steps, once a model has more than ``window`` stored training losses, it restarts
    when its loss has stopped falling at a high value. That is, the mean of the first half is at
    most the mean plus the standard deviation of the second half, and the second half's mean
    exceeds 1. Prefix sums of the losses and their squares give these statistics for all models
    at once.
    NOTE: iNALU stores the interpolation validation error; this stores the training MSE of each
    step, which tracks it closely without a validation pass per step.
    """

    def __init__(self, n_models: int, steps: int, window: int) -> None:
        self.sums = torch.zeros(n_models, steps + 2, dtype=torch.float64)
        self.squares = torch.zeros(n_models, steps + 2, dtype=torch.float64)
        self.count = torch.zeros(n_models, dtype=torch.long)
        self.window = window
        self.restarts = [0] * len(self.count)

    def record(self, losses: Tensor) -> None:
        rows = torch.arange(len(self.count))
        value = losses.to(torch.float64)
        self.sums[rows, self.count + 1] = self.sums[rows, self.count] + value
        self.squares[rows, self.count + 1] = self.squares[rows, self.count] + value**2
        self.count += 1

    def stalled(self) -> list[int]:
        half = self.count // 2
        rows = torch.arange(len(self.count))
        first_mean = self.sums[rows, half] / half.clamp_min(1)
        n_second = (self.count - half).clamp_min(2)
        second_sum = self.sums[rows, self.count] - self.sums[rows, half]
        second_squares = self.squares[rows, self.count] - self.squares[rows, half]
        second_mean = second_sum / n_second
        variance = ((second_squares - n_second * second_mean**2) / (n_second - 1)).clamp_min(0)
        stalled = (self.count > self.window) & (first_mean <= second_mean + variance.sqrt()) & (second_mean > 1)
        return torch.nonzero(stalled).flatten().tolist()

    def restart(self, index: int) -> None:
        self.count[index] = 0
        self.restarts[index] += 1


def train_baseline(
    model: str,
    tasks: list[Task],
    seeds: list[int],
    steps: int,
    *,
    thresholds: dict[str, float],
    n_valid: int = 10_000,
    n_test: int = 10_000,
    n_checkpoints: int = 100,
) -> list[dict]:
    """Train ``model`` on every task and seed at once and score each run's best checkpoint.

    The tasks must share their family and operation, so that one network and recipe fit all;
    they differ in their ranges. Each (task, seed) pair is one of the S = len(tasks) * len(seeds)
    weight sets, and each task draws its training batches from its own stream, so a run does
    not depend on which tasks share the batch. Every ``steps / n_checkpoints`` steps the
    interpolation validation MSE of each run is measured. The checkpoint with the lowest one is
    kept, which is how Madsen & Johansen select their models, and only that checkpoint is
    scored on the extrapolation set, in float64.

    Returns one dict per run with the extrapolation and validation MSE, success, the step of
    the kept checkpoint and the wall time of the whole batch divided by the number of runs.
    """
    first = tasks[0]
    if any((task.family, task.operation, task.input_size) != (first.family, first.operation, first.input_size) for task in tasks):
        raise ValueError(
            f"tasks batched together must share family, operation and input size, got {[task.name for task in tasks]}; "
            f"call train_baseline once per (family, operation)."
        )
    start_time = time.perf_counter()
    recipe = recipe_for(model, first)
    n_seeds = len(seeds)
    n_models = len(tasks) * n_seeds
    network = build_network(model, first, n_models)
    for task_index in range(len(tasks)):
        for seed_index, seed in enumerate(seeds):
            network.reset_model(task_index * n_seeds + seed_index, torch.Generator().manual_seed(seed))

    a_masks, b_masks = stacked_layouts(first, seeds)
    a_masks, b_masks = a_masks.repeat(len(tasks), 1), b_masks.repeat(len(tasks), 1)
    evaluation = [evaluation_sets(task, n_valid, n_test) for task in tasks]
    streams = [torch.Generator().manual_seed(data_seed(task, seeds)) for task in tasks]

    def per_model_input(inputs: list[Tensor]) -> Tensor:
        # One task shares its input among all models, which is cheap for 100 inputs. Several
        # tasks need each model to get its own task's input.
        if len(inputs) == 1:
            return inputs[0]
        return torch.cat([value[None].expand(n_seeds, -1, -1) for value in inputs])

    valid_x32 = per_model_input([valid.float() for valid, _ in evaluation])
    valid_t32 = first.target(valid_x32, a_masks, b_masks)

    optimizer = torch.optim.Adam(network.parameters(), lr=recipe.learning_rate)
    parameters = dict(network.named_parameters())
    best = {name: value.detach().clone() for name, value in parameters.items()}
    best_valid = torch.full((n_models,), math.inf)
    best_step = torch.zeros(n_models, dtype=torch.long)
    last_valid = torch.full((n_models,), math.inf)
    eval_every = max(1, steps // n_checkpoints)
    reinit = _Reinitializer(n_models, steps, window=max(1, steps // 10)) if recipe.inalu else None

    for step in range(steps + 1):
        if step % eval_every == 0 or step == steps:
            with torch.no_grad():
                last_valid = per_model_mse(network(valid_x32), valid_t32)
            improved = last_valid < best_valid
            if bool(improved.any()):
                for name, value in parameters.items():
                    shape = (n_models,) + (1,) * (value.dim() - 1)
                    best[name] = torch.where(improved.reshape(shape), value.detach(), best[name])
                best_valid = torch.where(improved, last_valid, best_valid)
                best_step = torch.where(improved, torch.full_like(best_step, step), best_step)
        if step == steps:
            break

        fraction = step / steps
        x = torch.cat(
            [
                sample_ranges(task.interpolation, (n_seeds, BATCH_SIZE, task.input_size), stream, torch.float32)
                for task, stream in zip(tasks, streams)
            ]
        )
        target = first.target(x, a_masks, b_masks)
        mse = ((network(x) - target) ** 2).mean(dim=(1, 2))
        loss = mse
        if recipe.sparsity:
            weight = recipe.sparsity * _ramp(fraction, *recipe.sparsity_ramp)
            if weight:
                loss = loss + weight * network.regularizer()
        if recipe.l1_betas is not None:
            loss = loss + _l1_weight(recipe, fraction) * _l1_per_model(network)
        if recipe.inalu and fraction > 0.2:
            active = (last_valid < 1).to(loss.dtype)
            loss = loss + 0.05 * active * network.regularizer()

        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()
        if recipe.grad_clip_value is not None:
            for value in parameters.values():
                if value.grad is not None:
                    value.grad.clamp_(-recipe.grad_clip_value, recipe.grad_clip_value)
        optimizer.step()
        network.project_()

        if reinit is not None:
            reinit.record(mse.detach())
            if step % 10 == 0:
                for index in reinit.stalled():
                    seed = seeds[index % n_seeds]
                    generator = torch.Generator().manual_seed(seed * 1000 + reinit.restarts[index] + 1)
                    network.reset_model(index, generator)
                    reinit.restart(index)

    # Score the kept checkpoint in float64. A run that never gave a finite validation MSE keeps
    # its last weights.
    with torch.no_grad():
        for name, value in parameters.items():
            shape = (n_models,) + (1,) * (value.dim() - 1)
            value.copy_(torch.where(torch.isfinite(best_valid).reshape(shape), best[name], value))
    network = network.double()
    with torch.no_grad():
        valid_x = per_model_input([valid for valid, _ in evaluation])
        test_x = per_model_input([test for _, test in evaluation])
        valid_mse = per_model_mse(network(valid_x), first.target(valid_x, a_masks, b_masks))
        test_mse = per_model_mse(network(test_x), first.target(test_x, a_masks, b_masks))
    seconds = (time.perf_counter() - start_time) / n_models

    results = []
    for task_index, task in enumerate(tasks):
        for seed_index, seed in enumerate(seeds):
            index = task_index * n_seeds + seed_index
            extrapolation = float(test_mse[index])
            threshold = thresholds[task.name]
            results.append(
                {
                    "model": model,
                    "task": task.name,
                    "seed": seed,
                    "extrapolation_mse": extrapolation,
                    "interpolation_mse": float(valid_mse[index]),
                    "threshold": threshold,
                    "success": bool(extrapolation < threshold),
                    "seconds": seconds,
                    "steps": steps,
                    "checkpoint_step": int(best_step[index]),
                    "restarts": reinit.restarts[index] if reinit is not None else 0,
                }
            )
    return results
