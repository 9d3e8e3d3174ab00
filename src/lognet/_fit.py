"""The public fitting entry point: data checks, term selection and the fitted result."""

from __future__ import annotations

import logging
import math
import os
import warnings
from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from ._basis import Design
from ._checkpoint import fingerprint, load_checkpoint, save_checkpoint
from ._data import prepare, target_unit
from ._distributed import Communicator, init_from_environment, is_main_process
from ._engine import Candidate, EngineOptions, fit_stage
from ._refine import Residuals
from ._result import FitResult
from ._scoring import EXACT_FLOOR, Context, check_finite, choose, metrics, score, selection_loss, should_stop
from ._simplify import Simplifier
from ._validation import check_random_state, torch_threads

logger = logging.getLogger("lognet")

# Below this many samples no validation split is held out and the number of terms is chosen
# by the corrected Akaike criterion on all data instead.
MIN_SAMPLES_FOR_SPLIT = 30
# A snap to exponents inside the raw fit's 99% confidence interval is consistent with the
# data, so it may raise the held-out loss by up to 50%. On a few hundred held-out samples the
# loss of the true law often exceeds the raw fit's by 5-10% (seen in the formula recovery
# benchmark), and the default 5% tolerance would reject it.
SNAP_INTERVAL_LEVEL = 0.99
SNAP_INSIDE_TOL = 0.5


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
    data_parallel: bool = False,
    verbose: bool = False,
) -> FitResult:
    """Fit a logarithmic neural network y = b + sum_k c_k prod_i x_i^{w_ki} globally.

    Each number of terms K is fitted in a stage. The stage trains a population of starts at
    once (exponents by Adam, coefficients by exact least squares), seeded with the previous
    stage's terms and a log-space least-squares warm start. It then refines the best distinct
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
        data_parallel: under torchrun, X and y are this rank's shard of the rows, and every
            sum over samples is all-reduced. Without it, every rank must pass the same data and
            the multi-start population is split between ranks. Either way every rank returns
            the same model; only rank 0 writes the checkpoint. Outside torchrun it changes
            nothing.
        verbose: show a progress bar (on rank 0); progress is also logged to the ``lognet``
            logger.

    Returns:
        A :class:`FitResult`.
    """
    options = options or EngineOptions()
    check_random_state(random_state)
    for name, flag in (("bias", bias), ("simplify", simplify), ("resume", resume), ("data_parallel", data_parallel),
                       ("verbose", verbose)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {flag!r}.")
    with torch_threads(options.num_threads):
        return _fit(X, y, n_terms, loss, domain, feature_names, random_state, bias, max_terms, validation_fraction,
                    simplify, max_denominator, simplify_tol, options, checkpoint, resume, data_parallel, verbose)


def _fit(X, y, n_terms, loss, domain, feature_names, random_state, bias, max_terms, validation_fraction,
         simplify, max_denominator, simplify_tol, options, checkpoint, resume, data_parallel, verbose) -> FitResult:
    data = prepare(X, y, feature_names=feature_names, loss=loss, domain=domain)
    candidates_k = _term_counts(n_terms, max_terms)
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=PATH, the file to resume from.")
    init_from_environment()
    comm = Communicator(data_parallel=data_parallel)
    seed = int(np.random.SeedSequence(random_state).generate_state(1)[0])
    generator = torch.Generator().manual_seed(seed)
    # The fit runs on y / unit, with unit a power of 2 near the typical |y|, so coefficients of
    # data near 1e40 or 1e200 stay O(1) inside the engine; the result is scaled back at the end.
    unit = target_unit(data.y, comm)
    data = replace(data, y=data.y / unit)

    train, validation = _split(data.X.shape[0], validation_fraction, generator, comm)
    context = Context(data, train, validation, loss, domain, _target_scale(data.y[train], comm), comm, [], [])
    design = Design.from_inputs(data.X[train], domain)
    residuals = Residuals(design, data.y[train], loss, 1, bias, context.scale, comm)

    fitted: dict[int, Candidate] = {}
    key = ""
    if checkpoint is not None:
        settings = {"n_terms": n_terms, "loss": loss, "domain": domain, "seed": seed, "bias": bias, "max_terms": max_terms,
                    "validation_fraction": validation_fraction, "options": vars(options), "world_size": comm.world_size}
        key = "".join(comm.gather(fingerprint(data.X, data.y, settings)))
        if resume and Path(checkpoint).exists():
            fitted, context.selection, context.history = load_checkpoint(checkpoint, key, generator, settings)

    progress = _progress(candidates_k, verbose and is_main_process())
    progress.update(len(fitted))
    for k in candidates_k:
        if k in fitted:
            continue
        if n_terms == "auto" and context.selection and should_stop(context.selection):
            break
        residuals.n_terms = k
        previous = fitted[k - 1] if k - 1 in fitted else None
        fitted[k] = fit_stage(design, data.y[train], residuals, k, bias, previous, options, generator, context.history)
        record = score(fitted[k], context, bias)
        context.selection.append(record)
        logger.info("fitted %d term(s): train loss %.3g, selection score %.3g", k, record["train_loss"], record["score"])
        progress.update(1)
        if checkpoint is not None and is_main_process():
            save_checkpoint(checkpoint, key, fitted, context.selection, context.history, generator, settings)
    progress.close()

    chosen = choose(context.selection) if n_terms == "auto" else candidates_k[-1]
    raw = _build_result(fitted[chosen], context)
    result = raw
    if simplify:
        result = _simplify(fitted[chosen], raw, context, design, max_denominator, simplify_tol, options, comm, n_terms == "auto")
    if checkpoint is not None and is_main_process():
        Path(checkpoint).unlink(missing_ok=True)
    if result.raw is not None and result.raw is not result:
        result.raw = _in_target_units(result.raw, unit)
    result = _in_target_units(result, unit)
    if result.raw is not None:
        logger.info("simplified: %s (from %s)", result.formula_string(), result.raw.formula_string())
    n_params = result.jacobian.shape[1]
    if result.extra["n_train"] <= n_params:
        warnings.warn(
            f"the model has {n_params} parameters but was fitted on {result.extra['n_train']} samples, so it "
            f"interpolates them and its intervals are undefined; use more samples or fewer terms.",
            RuntimeWarning,
            stacklevel=2,
        )
    return result


def _simplify(candidate, raw, context: Context, design, max_denominator, simplify_tol, options, comm, drop_terms) -> FitResult:
    if isinstance(max_denominator, bool) or not isinstance(max_denominator, int) or max_denominator < 1:
        raise ValueError(f"max_denominator must be a positive int, got {max_denominator!r}.")
    if not simplify_tol >= 0:
        raise ValueError(f"simplify_tol must be >= 0, got {simplify_tol!r}.")
    score_of = lambda c: selection_loss(c, context)  # noqa: E731
    base = score_of(candidate)
    limit = max(base * (1 + simplify_tol), EXACT_FLOOR)
    y_train = context.data.y[context.train]
    simplifier = Simplifier(
        design, y_train, context.loss, context.scale, score_of, limit, max_denominator, options.max_nfev, comm,
        interval=_exponent_interval(raw), loose_limit=max(base * (1 + SNAP_INSIDE_TOL), EXACT_FLOOR),
        drop_terms=drop_terms,
    )
    simplified = simplifier.run(candidate, context.data.feature_names)
    result = _build_result(simplified, context)
    result.raw = raw
    result.simplification = [vars(step) for step in simplifier.steps]
    return result


def _exponent_interval(raw: FitResult) -> torch.Tensor | None:
    """Return the raw fit's SNAP_INTERVAL_LEVEL confidence bounds of every exponent, shape (K, d, 2)."""
    with warnings.catch_warnings():
        # Unidentifiable exponents get NaN bounds, which simply never admit a snap.
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            bounds = raw.confidence_intervals(level=SNAP_INTERVAL_LEVEL)["weight"]
        except ValueError:
            return None
    return torch.as_tensor(np.asarray(bounds, dtype=np.float64))


def _term_counts(n_terms, max_terms: int) -> list[int]:
    if n_terms == "auto":
        if isinstance(max_terms, bool) or not isinstance(max_terms, int) or max_terms < 1:
            raise ValueError(f"max_terms must be a positive int, got {max_terms!r}.")
        return list(range(1, max_terms + 1))
    if isinstance(n_terms, bool) or not isinstance(n_terms, (int, np.integer)) or n_terms < 1:
        raise ValueError(f"n_terms must be a positive int or 'auto', got {n_terms!r}.")
    return list(range(1, int(n_terms) + 1))


def _split(n: int, fraction: float, generator, comm: Communicator) -> tuple[torch.Tensor, torch.Tensor | None]:
    if not 0 <= fraction < 1:
        raise ValueError(f"validation_fraction must be in [0, 1), got {fraction!r}.")
    n_total = int(comm.sum_over_samples(torch.tensor([float(n)]))[0])
    n_validation = int(round(n * fraction))
    if n_total < MIN_SAMPLES_FOR_SPLIT or n_validation == 0:
        return torch.arange(n), None
    order = torch.randperm(n, generator=generator)
    return order[n_validation:], order[:n_validation]


def _target_scale(y: torch.Tensor, comm: Communicator) -> float:
    n, total, squares = comm.sum_over_samples(torch.tensor([float(y.numel()), float(y.sum()), float((y**2).sum())])).tolist()
    return math.sqrt(max(squares / n - (total / n) ** 2, 0.0)) or 1.0


def _in_target_units(result: FitResult, unit: float) -> FitResult:
    """Return ``result`` fitted on y / unit as the same model for y.

    Coefficients, intercept and RMSE scale by ``unit``. Every residual is relative to the
    target's scale, so the residuals and the Jacobian are unchanged if its coefficient and
    intercept columns are read as derivatives with respect to coef / unit. The Jacobian is
    kept that way, because in the units of y those columns overflow or underflow for targets
    near 1e300 or 1e-300, and ``extra["target_unit"]`` records ``unit`` for the intervals.
    """
    if unit == 1.0:
        return result
    fit_metrics = {
        name: (None if values is None else {**values, "rmse": values["rmse"] * unit}) for name, values in result.metrics.items()
    }
    return replace(
        result,
        coef=result.coef * unit,
        intercept=None if result.intercept is None else result.intercept * unit,
        metrics=fit_metrics,
        extra={**result.extra, "target_unit": unit},
    )


def _full_jacobian(candidate: Candidate, context: Context) -> np.ndarray:
    X, y = context.data.X[context.train], context.data.y[context.train]
    residuals = Residuals(Design.from_inputs(X, context.domain), y, context.loss, candidate.n_terms, candidate.intercept is not None, context.scale)
    jacobian = residuals.jac(residuals.to_vector(candidate.weight, candidate.coef, candidate.intercept))
    if context.comm.data_parallel:
        jacobian = np.concatenate(context.comm.gather(jacobian))
    return jacobian


def _build_result(best: Candidate, context: Context) -> FitResult:
    check_finite(best, context)
    fit_metrics = {"train": metrics(best, context.train, context), "validation": None}
    if context.validation is not None:
        fit_metrics["validation"] = metrics(best, context.validation, context)
    jacobian = _full_jacobian(best, context)
    n_train = jacobian.shape[0]
    return FitResult(
        weight=best.weight.numpy(),
        coef=best.coef.numpy(),
        intercept=best.intercept,
        feature_names=context.data.feature_names,
        target_name=context.data.target_name,
        domain=context.domain,
        loss=context.loss,
        metrics=fit_metrics,
        loss_history=list(context.history),
        selection=list(context.selection),
        jacobian=jacobian,
        residual_variance=2 * best.cost / max(n_train - jacobian.shape[1], 1),
        extra={"n_train": n_train, "world_size": context.comm.world_size, "data_parallel": context.comm.data_parallel},
    )


def _progress(stages: list[int], verbose: bool):
    if verbose:
        from tqdm.auto import tqdm

        # disable=None draws the bar only on a terminal, so a redirected log stays line by line.
        return tqdm(total=len(stages), desc="lognet fit", unit="stage", disable=None)
    return _NoProgress()


class _NoProgress:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass
