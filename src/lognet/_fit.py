"""The public fitting entry point: data checks, term selection and the fitted result."""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ._basis import Design, evaluate
from ._checkpoint import fingerprint, load_checkpoint, save_checkpoint
from ._data import Dataset, prepare
from ._engine import Candidate, EngineOptions, fit_stage
from ._metrics import regression_metrics
from ._refine import Residuals
from ._result import FitResult
from ._simplify import Simplifier

logger = logging.getLogger("lognet")

# Below this many samples no validation split is held out and the number of terms is chosen
# by the corrected Akaike criterion on all data instead.
MIN_SAMPLES_FOR_SPLIT = 30
# A normalised validation loss below this counts as an exact fit, so no further term is tried.
EXACT_FLOOR = 1e-20
# A model with more terms must beat the fewer-term one by this factor to be preferred.
IMPROVEMENT = 1.1


def fit(
    X,
    y,
    *,
    n_terms: int | Literal["auto"] = "auto",
    loss: Literal["spes", "mse", "msle"] = "spes",
    domain: Literal["positive", "signed", "abs"] = "positive",
    feature_names=None,
    random_state: int | None = None,
    bias: bool = True,
    max_terms: int = 4,
    validation_fraction: float = 0.2,
    simplify: bool = True,
    max_denominator: int = 6,
    simplify_tol: float = 0.05,
    options: EngineOptions | None = None,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    verbose: bool = False,
) -> FitResult:
    """Fit a logarithmic neural network y = b + sum_k c_k prod_i x_i^{w_ki} globally.

    Each number of terms K is fitted in a stage that trains a population of starts at once
    (exponents by Adam, coefficients by exact least squares), seeded with the previous
    stage's terms and a log-space least-squares warm start, then refines the best distinct
    candidates jointly by Levenberg-Marquardt (scipy's ``least_squares``).

    Args:
        X: inputs, shape (n_samples, n_features): NumPy, torch or pandas; a DataFrame's
            columns name the features.
        y: target, shape (n_samples,). Multi-output targets are rejected: fit one column at
            a time.
        n_terms: number of power-law terms, or ``"auto"`` to choose 1..max_terms on
            held-out data (by AICc below 30 samples), preferring fewer terms at equal error.
        loss: ``"spes"`` (squared percentage error, Hines 1996), ``"mse"`` or ``"msle"``
            (squared log error, positive targets).
        domain: ``"positive"``, ``"signed"`` or ``"abs"``; see :func:`lognet.functional.log_layer`.
        feature_names: names for the columns of X. Default: DataFrame columns or x0, x1, ...
        random_state: seed for the starts and the validation split; fixed seeds give
            identical results.
        bias: fit the constant b.
        max_terms: largest K tried by ``n_terms="auto"``.
        validation_fraction: share of samples held out to choose K and report validation
            metrics (with at least 30 samples).
        simplify: snap exponents to simple rationals, drop negligible terms and the
            intercept, each change kept only if the held-out loss stays within
            ``simplify_tol``; the unsimplified fit stays available as ``result.raw``.
        max_denominator: largest denominator of a snapped exponent (6 allows 1/2, 1/3,
            2/5, 5/6, ...).
        simplify_tol: relative growth of the held-out loss a simplification may cause.
        options: search settings, see :class:`EngineOptions`.
        checkpoint: file to which the finished stages are written (atomically) after each
            stage; it is deleted when the fit completes.
        resume: continue from ``checkpoint`` if it exists, skipping its finished stages. The
            data and settings must be the same as when it was written.
        verbose: show a progress bar; progress is also logged to the ``lognet`` logger.

    Returns:
        A :class:`FitResult`.
    """
    data = prepare(X, y, feature_names=feature_names, loss=loss, domain=domain)
    options = options or EngineOptions()
    candidates_k = _term_counts(n_terms, max_terms)
    seed = int(np.random.SeedSequence(random_state).generate_state(1)[0])
    generator = torch.Generator().manual_seed(seed)

    train, validation = _split(data.X.shape[0], validation_fraction, generator)
    X_train, y_train = data.X[train], data.y[train]
    design = Design.from_inputs(X_train, domain)
    scale = float(y_train.std()) or 1.0
    residuals = Residuals(design, y_train, loss, 1, bias, scale)

    history: list[float] = []
    selection: list[dict] = []
    fitted: dict[int, Candidate] = {}
    key = ""
    if checkpoint is not None:
        settings = {"n_terms": n_terms, "loss": loss, "domain": domain, "seed": seed, "bias": bias,
                    "max_terms": max_terms, "validation_fraction": validation_fraction, "options": vars(options)}
        key = fingerprint(data.X, data.y, settings)
        if resume and Path(checkpoint).exists():
            fitted, selection, history = load_checkpoint(checkpoint, key, generator)
    elif resume:
        raise ValueError("resume=True needs checkpoint=PATH, the file to resume from.")
    previous = fitted[max(fitted)] if fitted else None
    progress = _progress(candidates_k, verbose)
    progress.update(len(fitted))
    for k in candidates_k:
        if k in fitted:
            continue
        if n_terms == "auto" and selection and _should_stop(selection):
            break
        residuals.n_terms = k
        candidate = fit_stage(design, y_train, residuals, k, bias, previous, options, generator, history)
        fitted[k] = candidate
        record = _score(candidate, data, train, validation, loss, domain, bias, scale)
        selection.append(record)
        logger.info("fitted %d term(s): train loss %.3g, selection score %.3g", k, record["train_loss"], record["score"])
        progress.update(1)
        previous = candidate
        if checkpoint is not None:
            save_checkpoint(checkpoint, key, fitted, selection, history, generator)
    progress.close()

    chosen = _choose(selection) if n_terms == "auto" else candidates_k[-1]
    context = _Context(data, train, validation, loss, domain, scale, history, selection)
    raw = _build_result(fitted[chosen], context)
    if not simplify:
        _remove_checkpoint(checkpoint)
        return raw
    if not isinstance(max_denominator, int) or max_denominator < 1:
        raise ValueError(f"max_denominator must be a positive int, got {max_denominator!r}.")
    if not simplify_tol >= 0:
        raise ValueError(f"simplify_tol must be >= 0, got {simplify_tol!r}.")
    score = lambda c: _selection_loss(c, context)  # noqa: E731
    limit = max(score(fitted[chosen]) * (1 + simplify_tol), EXACT_FLOOR)
    simplifier = Simplifier(design, y_train, loss, scale, score, limit, max_denominator, options.max_nfev)
    simplified = simplifier.run(fitted[chosen], data.feature_names)
    result = _build_result(simplified, context)
    result.raw = raw
    result.simplification = [vars(step) for step in simplifier.steps]
    logger.info("simplified: %s (from %s)", result.formula_string(), raw.formula_string())
    _remove_checkpoint(checkpoint)
    return result


def _remove_checkpoint(checkpoint) -> None:
    if checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)


def _term_counts(n_terms, max_terms: int) -> list[int]:
    if n_terms == "auto":
        if not isinstance(max_terms, int) or max_terms < 1:
            raise ValueError(f"max_terms must be a positive int, got {max_terms!r}.")
        return list(range(1, max_terms + 1))
    if isinstance(n_terms, bool) or not isinstance(n_terms, (int, np.integer)) or n_terms < 1:
        raise ValueError(f"n_terms must be a positive int or 'auto', got {n_terms!r}.")
    return list(range(1, int(n_terms) + 1))


def _split(n: int, fraction: float, generator) -> tuple[torch.Tensor, torch.Tensor | None]:
    if not 0 <= fraction < 1:
        raise ValueError(f"validation_fraction must be in [0, 1), got {fraction!r}.")
    n_validation = int(round(n * fraction))
    if n < MIN_SAMPLES_FOR_SPLIT or n_validation == 0:
        return torch.arange(n), None
    order = torch.randperm(n, generator=generator)
    return order[n_validation:], order[:n_validation]


def loss_value(loss: str, prediction: np.ndarray, target: np.ndarray) -> float:
    """Mean loss of ``prediction`` in the units of ``loss`` ('spes' and 'msle' carry the 1/2)."""
    if loss == "spes":
        return float(np.mean(0.5 * ((prediction - target) / target) ** 2))
    if loss == "msle":
        with np.errstate(invalid="ignore", divide="ignore"):
            value = np.mean(0.5 * (np.log(prediction) - np.log(target)) ** 2)
        return float(value) if np.isfinite(value) else math.inf
    return float(np.mean((prediction - target) ** 2))


def _predict(candidate: Candidate, X: torch.Tensor, domain: str) -> np.ndarray:
    phi = evaluate(Design.from_inputs(X, domain), candidate.weight)
    return (phi @ candidate.coef + (candidate.intercept or 0.0)).numpy()


def _normaliser(loss: str, target: np.ndarray) -> float:
    # Scale-free losses need no normalising; MSE is divided by the target's variance.
    return float(np.var(target)) or 1.0 if loss == "mse" else 1.0


def _score(candidate, data, train, validation, loss, domain, bias, scale) -> dict:
    y_train = data.y[train].numpy()
    train_loss = loss_value(loss, _predict(candidate, data.X[train], domain), y_train)
    record = {"n_terms": candidate.n_terms, "train_loss": train_loss}
    if validation is not None:
        y_val = data.y[validation].numpy()
        val_loss = loss_value(loss, _predict(candidate, data.X[validation], domain), y_val)
        record.update(validation_loss=val_loss, score=val_loss / _normaliser(loss, y_val), criterion="validation")
        return record
    n = y_train.size
    n_params = candidate.weight.numel() + candidate.coef.numel() + int(bias)
    rss = max(2 * candidate.cost, 1e-300)
    denominator = n - n_params - 1
    penalty = 2 * n_params * (n_params + 1) / denominator if denominator > 0 else math.inf
    record.update(score=n * math.log(rss / n) + 2 * n_params + penalty, criterion="aicc")
    return record


def _should_stop(selection: list[dict]) -> bool:
    last = selection[-1]
    if last["criterion"] == "validation":
        if last["score"] <= EXACT_FLOOR:
            return True
        if len(selection) > 1:
            best_before = min(r["score"] for r in selection[:-1])
            return not last["score"] * IMPROVEMENT < best_before
        return False
    return len(selection) > 1 and last["score"] >= min(r["score"] for r in selection[:-1])


def _choose(selection: list[dict]) -> int:
    scores = [r["score"] for r in selection]
    if selection[0]["criterion"] == "aicc":
        return selection[int(np.argmin(scores))]["n_terms"]
    best = min(scores)
    for record in selection:
        if record["score"] <= best * IMPROVEMENT + EXACT_FLOOR:
            return record["n_terms"]
    return selection[int(np.argmin(scores))]["n_terms"]


@dataclass
class _Context:
    data: Dataset
    train: torch.Tensor
    validation: torch.Tensor | None
    loss: str
    domain: str
    scale: float
    history: list
    selection: list


def _selection_loss(candidate: Candidate, context: _Context) -> float:
    """Normalised held-out loss of a candidate (training loss when nothing is held out)."""
    rows = context.validation if context.validation is not None else context.train
    target = context.data.y[rows].numpy()
    value = loss_value(context.loss, _predict(candidate, context.data.X[rows], context.domain), target)
    return value / _normaliser(context.loss, target)


def _full_jacobian(candidate: Candidate, context: _Context):
    X, y = context.data.X[context.train], context.data.y[context.train]
    residuals = Residuals(Design.from_inputs(X, context.domain), y, context.loss, candidate.n_terms, candidate.intercept is not None, context.scale)
    return residuals.jac(residuals.to_vector(candidate.weight, candidate.coef, candidate.intercept))


def _build_result(best: Candidate, context: _Context) -> FitResult:
    data, train, validation, loss, domain = context.data, context.train, context.validation, context.loss, context.domain
    history, selection = context.history, context.selection
    _check_finite(best, data.X[train], domain, data.feature_names)
    y_train = data.y[train].numpy()
    metrics = {"train": regression_metrics(y_train, _predict(best, data.X[train], domain)), "validation": None}
    if validation is not None:
        y_val = data.y[validation].numpy()
        metrics["validation"] = regression_metrics(y_val, _predict(best, data.X[validation], domain))
    jacobian = _full_jacobian(best, context)
    dof = max(y_train.size - jacobian.shape[1], 1)
    return FitResult(
        weight=best.weight.numpy(),
        coef=best.coef.numpy(),
        intercept=best.intercept,
        feature_names=data.feature_names,
        target_name=data.target_name,
        domain=domain,
        loss=loss,
        metrics=metrics,
        loss_history=history,
        selection=selection,
        jacobian=jacobian,
        residual_variance=2 * best.cost / dof,
        extra={"n_train": int(y_train.size), "mse_scale": context.scale if loss == "mse" else None},
    )


def _check_finite(candidate: Candidate, X, domain: str, names) -> None:
    values = [candidate.weight, candidate.coef]
    if not all(bool(torch.isfinite(v).all()) for v in values) or not math.isfinite(candidate.intercept or 0.0):
        raise RuntimeError(
            "the fit ended with non-finite parameters; rescale the features (e.g. divide each by its "
            "median) or try loss='mse'."
        )
    phi = evaluate(Design.from_inputs(X, domain), candidate.weight)
    overflow = ~torch.isfinite(phi)
    if bool(overflow.any()):
        counts = overflow.sum(dim=0)
        unit = int(torch.argmax(counts))
        raise RuntimeError(
            f"term {unit} overflows on {int(counts[unit])} training samples (exponents "
            f"{dict(zip(names, candidate.weight[unit].tolist()))}); rescale the features so their "
            f"values are near 1, or use a smaller max_terms."
        )


def _progress(stages: list[int], verbose: bool):
    if verbose:
        from tqdm.auto import tqdm

        return tqdm(total=len(stages), desc="lognet fit", unit="stage")
    return _NoProgress()


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass
