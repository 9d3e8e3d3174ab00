"""Losses, term-count selection and metrics of fitted candidates, summed over ranks if sharded."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ._basis import Design, evaluate
from ._data import Dataset
from ._distributed import Communicator
from ._engine import Candidate
from ._metrics import regression_metrics

# A normalised validation loss below this counts as an exact fit, so no further term is tried.
EXACT_FLOOR = 1e-20
# A model with more terms must beat the fewer-term one by this factor to be preferred.
IMPROVEMENT = 1.1


@dataclass
class Context:
    """Everything the scoring functions need about one fit."""

    data: Dataset
    train: torch.Tensor
    validation: torch.Tensor | None
    loss: str
    domain: str
    scale: float
    comm: Communicator
    history: list
    selection: list


def loss_sum(loss: str, prediction: np.ndarray, target: np.ndarray) -> float:
    """Sum over samples of the loss ('spes' and 'msle' carry the 1/2); inf when undefined."""
    if loss == "spes":
        return float(np.sum(0.5 * ((prediction - target) / target) ** 2))
    if loss == "msle":
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.sum(0.5 * (np.log(prediction) - np.log(target)) ** 2)
        return float(value) if np.isfinite(value) else math.inf
    return float(np.sum((prediction - target) ** 2))


def predict(candidate: Candidate, X: torch.Tensor, domain: str) -> np.ndarray:
    phi = evaluate(Design.from_inputs(X, domain), candidate.weight)
    return (phi @ candidate.coef + (candidate.intercept or 0.0)).numpy()


def _global_sums(comm: Communicator, *values: float) -> list[float]:
    return comm.sum_over_samples(torch.tensor(values, dtype=torch.float64)).tolist()


def mean_loss(candidate: Candidate, rows: torch.Tensor, context: Context) -> float:
    """Mean loss over ``rows`` (over every rank's rows when the data are sharded)."""
    target = context.data.y[rows].numpy()
    total, count = _global_sums(context.comm, loss_sum(context.loss, predict(candidate, context.data.X[rows], context.domain), target), target.size)
    return total / max(count, 1)


def normaliser(rows: torch.Tensor, context: Context) -> float:
    """MSE is divided by the target's variance; the scale-free losses need no normalising."""
    if context.loss != "mse":
        return 1.0
    y = context.data.y[rows].numpy()
    n, total, squares = _global_sums(context.comm, y.size, y.sum(), (y**2).sum())
    return max(squares / n - (total / n) ** 2, 0.0) or 1.0


def selection_loss(candidate: Candidate, context: Context) -> float:
    """Normalised held-out loss of a candidate (training loss when nothing is held out)."""
    rows = context.validation if context.validation is not None else context.train
    return mean_loss(candidate, rows, context) / normaliser(rows, context)


def score(candidate: Candidate, context: Context, bias: bool) -> dict:
    """Return the record of one term count: training loss, and the selection score with its criterion."""
    record = {"n_terms": candidate.n_terms, "train_loss": mean_loss(candidate, context.train, context)}
    if context.validation is not None:
        validation_loss = mean_loss(candidate, context.validation, context)
        score_value = validation_loss / normaliser(context.validation, context)
        record.update(validation_loss=validation_loss, score=score_value, criterion="validation")
        return record
    (n,) = _global_sums(context.comm, context.train.numel())
    n_params = candidate.weight.numel() + candidate.coef.numel() + int(bias)
    rss = max(2 * candidate.cost, 1e-300)
    denominator = n - n_params - 1
    penalty = 2 * n_params * (n_params + 1) / denominator if denominator > 0 else math.inf
    record.update(score=n * math.log(rss / n) + 2 * n_params + penalty, criterion="aicc")
    return record


def should_stop(selection: list[dict]) -> bool:
    """True once a term count fits exactly, or fails to beat the fewer-term models."""
    last = selection[-1]
    if last["criterion"] == "validation":
        if last["score"] <= EXACT_FLOOR:
            return True
        if len(selection) > 1:
            best_before = min(r["score"] for r in selection[:-1])
            return not last["score"] * IMPROVEMENT < best_before
        return False
    return len(selection) > 1 and last["score"] >= min(r["score"] for r in selection[:-1])


def choose(selection: list[dict]) -> int:
    """Return the smallest term count whose score is within IMPROVEMENT of the best (min AICc otherwise)."""
    scores = [r["score"] for r in selection]
    if selection[0]["criterion"] == "aicc":
        return selection[int(np.argmin(scores))]["n_terms"]
    best = min(scores)
    for record in selection:
        if record["score"] <= best * IMPROVEMENT + EXACT_FLOOR:
            return record["n_terms"]
    return selection[int(np.argmin(scores))]["n_terms"]


def metrics(candidate: Candidate, rows: torch.Tensor, context: Context) -> dict:
    """R^2, RMSE and the maximum relative error over ``rows`` of every rank."""
    target = context.data.y[rows].numpy()
    prediction = predict(candidate, context.data.X[rows], context.domain)
    if context.comm.data_parallel:
        shards = context.comm.gather((target, prediction))
        target = np.concatenate([t for t, _ in shards])
        prediction = np.concatenate([p for _, p in shards])
    return regression_metrics(target, prediction)


def check_finite(candidate: Candidate, context: Context) -> None:
    """Raise a RuntimeError naming the term and sample count when the fit is not finite."""
    values = [candidate.weight, candidate.coef]
    if not all(bool(torch.isfinite(v).all()) for v in values) or not math.isfinite(candidate.intercept or 0.0):
        raise RuntimeError(
            "the fit ended with non-finite parameters; rescale the features (e.g. divide each by its "
            "median) or try loss='mse'."
        )
    phi = evaluate(Design.from_inputs(context.data.X[context.train], context.domain), candidate.weight)
    counts = context.comm.sum_over_samples((~torch.isfinite(phi)).sum(dim=0).to(torch.float64))
    if bool((counts > 0).any()):
        unit = int(torch.argmax(counts))
        exponents = dict(zip(context.data.feature_names, candidate.weight[unit].tolist()))
        raise RuntimeError(
            f"term {unit} overflows on {int(counts[unit])} training samples (exponents {exponents}); "
            f"rescale the features so their values are near 1, or use a smaller max_terms."
        )
