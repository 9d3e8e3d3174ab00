"""Relative-error losses: SPES (Hines 1996) and the mean squared log error."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from ._validation import check_finite, check_floating, check_option

Reduction = Literal["none", "mean", "sum"]
REDUCTIONS = ("none", "mean", "sum")


def _check_pair(input: Tensor, target: Tensor) -> None:
    check_floating("input", input)
    check_floating("target", target)
    if input.shape != target.shape:
        raise ValueError(
            f"input and target must have the same shape, got input {tuple(input.shape)} and "
            f"target {tuple(target.shape)}; reshape one of them (e.g. target.reshape(input.shape))."
        )
    if input.dtype != target.dtype:
        raise TypeError(f"input and target must share a dtype, got {input.dtype} and {target.dtype}.")
    if input.numel() == 0:
        raise ValueError("input and target are empty; a loss needs at least one element.")
    check_finite("target", target)
    _check_predictions(input)


def _check_predictions(input: Tensor) -> None:
    """Raise a ValueError when a prediction is NaN, which would make the loss NaN silently.

    An infinite prediction is allowed: its loss is +inf, which shows in any log.
    """
    n_nan = int(torch.isnan(input).sum())
    if not n_nan:
        return
    raise ValueError(
        f"input (the predictions) contains {n_nan} NaN entries out of {input.numel()}, so the loss would be NaN. "
        f"The model produced them: look for a product unit that overflowed (large exponents or inputs; "
        f"try log_output=True), a LogLayer with check_input=False fed values outside its domain, or "
        f"exponents that diverged (lower the learning rate)."
    )


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def spes_loss(input: Tensor, target: Tensor, reduction: Reduction = "mean") -> Tensor:
    r"""Squared percentage error: :math:`\ell = \tfrac12 \left((t - y) / t\right)^2` per element.

    The 'sum' form is Hines' SPES, whose gradient is (y - t) / t^2; the 'mean' form divides
    that gradient by the number of elements.

    Args:
        input: predictions y.
        target: targets t; none may be zero, because the error is relative to t.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.

    Example:
        >>> spes_loss(torch.tensor([1.1, 1.8]), torch.tensor([1.0, 2.0]), reduction="sum")
        tensor(0.0100)
    """
    reduction = check_option("reduction", reduction, REDUCTIONS)
    _check_pair(input, target)
    n_zero = int((target == 0).sum())
    if n_zero:
        raise ValueError(
            f"target has {n_zero} zero entries out of {target.numel()}, and SPES divides by the "
            f"target; use loss='mse' (or 'msle' for positive data), or shift the target away from zero."
        )
    return _reduce(0.5 * ((target - input) / target) ** 2, reduction)


def msle_loss(input: Tensor, target: Tensor, reduction: Reduction = "mean") -> Tensor:
    r"""Squared log error: :math:`\ell = \tfrac12 (\log y - \log t)^2`, for positive data.

    Scale-free like SPES but symmetric: predicting 2t costs as much as predicting t/2.

    Args:
        input: predictions y > 0.
        target: targets t > 0.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
    """
    reduction = check_option("reduction", reduction, REDUCTIONS)
    _check_pair(input, target)
    n_bad = int((target <= 0).sum())
    if n_bad:
        raise ValueError(
            f"target has {n_bad} non-positive entries, but the squared log error needs t > 0; "
            f"use loss='mse' or loss='spes' for data with signs."
        )
    if bool((input <= 0).any()):
        raise ValueError(
            f"input has {int((input <= 0).sum())} non-positive predictions, whose log is undefined; "
            f"use loss='spes' or make the model's output positive."
        )
    return _reduce(0.5 * (torch.log(input) - torch.log(target)) ** 2, reduction)


class SPESLoss(nn.Module):
    r"""Squared percentage error :math:`\tfrac12 ((t - y) / t)^2`, reduced as in torch.nn losses.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.

    Shape:
        - Input: (*), any shape.
        - Target: (*), same shape as the input, with no zeros.
        - Output: scalar, or (*) with ``reduction='none'``.

    Example:
        >>> SPESLoss()(torch.tensor([1.1]), torch.tensor([1.0]))
        tensor(0.0050)
    """

    def __init__(self, reduction: Reduction = "mean") -> None:
        super().__init__()
        self.reduction = check_option("reduction", reduction, REDUCTIONS)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return spes_loss(input, target, reduction=self.reduction)


class MSLELoss(nn.Module):
    """Squared log error :math:`\\tfrac12 (\\log y - \\log t)^2` for positive data.

    Args:
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``. Default: ``'mean'``.
    """

    def __init__(self, reduction: Reduction = "mean") -> None:
        super().__init__()
        self.reduction = check_option("reduction", reduction, REDUCTIONS)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return msle_loss(input, target, reduction=self.reduction)
