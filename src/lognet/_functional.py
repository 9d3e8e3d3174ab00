"""The functional form of the logarithmic layer: domains, log-space output and input checks."""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor

from ._layer_function import NONZERO, POSITIVE, WITH_ZEROS, product_magnitude, safe_log_abs, zero_masks
from ._validation import DOMAINS, check_domain_values, check_layer_shapes, check_option

Domain = Literal["positive", "signed", "abs"]


def log_layer(
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    *,
    domain: Domain = "positive",
    eps: float | None = None,
    log_output: bool = False,
    check_input: bool = True,
) -> Tensor | tuple[Tensor, Tensor]:
    r"""Apply a layer of product units: :math:`y_j = e^{b_j} \prod_i x_i^{w_{ji}}`.

    Computed as ``exp(log|x| @ weight.T + bias)``: one matrix product in log space, never
    the (N, out, in) broadcast of ``x ** w``. The backward is hand-written (see
    ``LogMagnitudeFunction``) and supports double backward.

    Args:
        input: tensor of shape (N, *, in_features) or (in_features,).
        weight: exponents, shape (out_features, in_features).
        bias: log-space bias of shape (out_features,), so each unit is scaled by exp(bias).
            Default: ``None``.
        domain: how non-positive inputs are treated. ``"positive"`` requires x > 0 and raises
            a ValueError otherwise. ``"signed"`` returns the real part of the complex power,
            ``|x|^w * cos(pi * sum_i w_i [x_i < 0])``, which gives exact signs for integer
            exponents and follows the principal branch for fractional ones
            (``(-8)**(1/3)`` gives ``2 * cos(pi/3) = 1``, not ``-2``). ``"abs"`` returns
            ``|x|^w``. In the signed and abs domains powers of zero are exact: ``0**w`` is 0
            for w > 0, 1 for w = 0 and +inf for w < 0. Default: ``"positive"``.
        eps: if set, the magnitude is taken of ``|x| + eps`` (NALU-style smoothing, which
            also lets the positive domain accept zeros). Default: ``None`` (exact).
        log_output: if True, return ``(log|y|, sign(y))`` instead of ``y``. It stays
            finite where exp() would overflow (log|y| only overflows when it exceeds the
            dtype's maximum), so product layers can be stacked. Default: ``False``.
        check_input: validate shapes, dtypes, finiteness and the domain. The value checks
            cost one pass over the input with a device synchronisation; turn them off in a
            hot loop whose data is already known to be valid. Default: ``True``.

    Shape:
        - Input: (N, *, in_features) or (in_features,).
        - Output: (N, *, out_features) or (out_features,).

    Example:
        >>> x = torch.tensor([[2.0, 3.0]])
        >>> w = torch.tensor([[2.0, -1.0]])
        >>> log_layer(x, w)
        tensor([[1.3333]])
    """
    domain = check_option("domain", domain, DOMAINS)
    check_layer_shapes(input, weight, bias)
    if eps is not None and not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be a positive finite float or None, got {eps!r}.")
    if check_input:
        try:
            _check_values(input, domain, eps)
        except RuntimeError as error:
            raise RuntimeError(
                "log_layer cannot check its input's values under torch.func.vmap, because the check "
                "is data-dependent; validate the data beforehand and pass check_input=False "
                "(LogLayer(..., check_input=False))."
            ) from error

    if input.dim() == 2:
        # Most calls pass a batch matrix; skipping two no-op reshapes saves about 2 us a call.
        if log_output:
            return _log_output(input, weight, bias, domain, eps)
        return _product(input, weight, bias, domain, eps)
    flat = input.reshape(-1, input.shape[-1])
    out_shape = input.shape[:-1] + (weight.shape[0],)
    if log_output:
        log_abs, sign = _log_output(flat, weight, bias, domain, eps)
        return log_abs.reshape(out_shape), sign.reshape(out_shape)
    output = _product(flat, weight, bias, domain, eps)
    return output.reshape(out_shape)


def _check_values(input: Tensor, domain: str, eps: float | None) -> None:
    """Validate the input's values in one min/max pass, and explain a failure with the full check."""
    # torch.aminmax propagates NaN, so the bounds are valid exactly when every entry is.
    # This one reduction took a tenth of the time of isfinite().all() plus (x <= 0).any() on
    # 10^6 entries (torch 2.13, one AMD EPYC core), so check_domain_values only runs to
    # build the error message.
    if input.numel() > 0:
        low, high = torch.aminmax(input.detach())
        if domain != "positive":
            valid = (low > -math.inf) & (high < math.inf)
        elif eps is None:
            valid = (low > 0) & (high < math.inf)
        else:
            valid = (low >= 0) & (high < math.inf)
        if bool(valid):
            return
    check_domain_values(input, domain, eps=eps)


def _magnitude_input(input: Tensor, domain: str, eps: float | None) -> tuple[Tensor, int]:
    if eps is not None:
        return input.abs() + eps, POSITIVE
    if domain == "positive":
        return input, POSITIVE
    try:
        has_zero = bool((input == 0).any())
    except RuntimeError:
        # Under torch.func.vmap the data cannot steer Python; the zero-aware path is exact
        # for every input, only slower.
        return input, WITH_ZEROS
    return input, WITH_ZEROS if has_zero else NONZERO


def _phase(input: Tensor, weight: Tensor) -> Tensor:
    """pi * sum_i w_i [x_i < 0]: the argument of the complex power's real part."""
    negative = (input < 0).to(input.dtype)
    return math.pi * (negative @ weight.T)


def _product(input: Tensor, weight: Tensor, bias: Tensor | None, domain: str, eps: float | None) -> Tensor:
    magnitude_input, mode = _magnitude_input(input, domain, eps)
    magnitude = product_magnitude(magnitude_input, weight, bias, mode)
    if domain != "signed":
        return magnitude
    cosine = torch.cos(_phase(input, weight))
    # Where the magnitude is infinite (0**w with w < 0, or overflow), the phase gradient
    # inf * sin(phase) is NaN whenever the phase is a multiple of pi, as it is when no input
    # is negative. Such outputs therefore pass no gradient to the phase.
    cosine = torch.where(torch.isinf(magnitude), cosine.detach(), cosine)
    return magnitude * cosine


def _log_output(input, weight, bias, domain, eps):
    magnitude_input, mode = _magnitude_input(input, domain, eps)
    log_abs = safe_log_abs(magnitude_input, mode) @ weight.T
    if bias is not None:
        log_abs = log_abs + bias
    if mode == WITH_ZEROS:
        n_pos, n_neg = zero_masks(magnitude_input, weight)
        log_abs = torch.where(n_neg > 0, torch.full_like(log_abs, float("inf")), log_abs)
        log_abs = torch.where(n_pos > 0, torch.full_like(log_abs, float("-inf")), log_abs)
    if domain != "signed":
        return log_abs, torch.ones_like(log_abs)
    cosine = torch.cos(_phase(input, weight))
    # |cos| enters log space too; its gradient w.r.t. the weight is -pi * tan(phase) [x < 0].
    log_abs = log_abs + torch.log(cosine.abs())
    return log_abs, torch.sign(cosine).detach()
