"""The autograd Function for the product-unit magnitude |x|^W * exp(b) and its closed-form gradients."""

from __future__ import annotations

import torch
from torch import Tensor

# How the Function treats its input; chosen once per call by the functional front end.
POSITIVE = 0  # every x > 0: log(x) directly, no masks
NONZERO = 1  # every x != 0: log|x|
WITH_ZEROS = 2  # some x == 0: exact zero powers, see zero_masks()


def safe_log_abs(input: Tensor, mode: int) -> Tensor:
    """Return log|x|, with 0 in place of log|0| so that a zero contributes the factor 1."""
    if mode == POSITIVE:
        return torch.log(input)
    if mode == NONZERO:
        return torch.log(input.abs())
    zero = input == 0
    return torch.log(torch.where(zero, torch.ones_like(input), input.abs()))


def zero_masks(input: Tensor, weight: Tensor) -> tuple[Tensor, Tensor]:
    """Count, per sample and unit, the zero inputs met by a positive and by a negative exponent.

    Returns ``(n_pos, n_neg)``, each of shape (N, out_features). A unit with n_pos > 0 outputs
    exactly 0 (0**w = 0 for w > 0, which wins over 0**w = inf for w < 0 by the convention
    0 * inf = 0); otherwise n_neg > 0 gives +inf.
    """
    zero = (input == 0).to(input.dtype)
    n_pos = zero @ (weight > 0).to(input.dtype).T
    n_neg = zero @ (weight < 0).to(input.dtype).T
    return n_pos, n_neg


def magnitude_forward(input: Tensor, weight: Tensor, bias: Tensor | None, mode: int) -> Tensor:
    """Compute exp(log|x| @ W^T + b) for a 2-D input, with exact powers of zero."""
    log_abs = safe_log_abs(input, mode)
    z = log_abs @ weight.T
    if bias is not None:
        z = z + bias
    output = torch.exp(z)
    if mode != WITH_ZEROS:
        return output
    n_pos, n_neg = zero_masks(input, weight)
    output = torch.where(n_neg > 0, torch.full_like(output, float("inf")), output)
    return torch.where(n_pos > 0, torch.zeros_like(output), output)


def magnitude_backward(
    grad_output: Tensor,
    input: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    output: Tensor,
    mode: int,
    needs_input_grad: tuple[bool, bool, bool] = (True, True, True),
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """Return (grad_input, grad_weight, grad_bias) of the magnitude for 2-D tensors.

    With G = grad_output * y: grad_weight = G^T @ log|X|, grad_input = (G @ W) / X and
    grad_bias = G summed over the batch. Every operation is differentiable, so autograd
    can differentiate this function again (double backward).

    At a zero input the right-hand derivative (x -> 0+) is used where it is finite, and 0
    where it is not; docs/math.md tabulates the cases.
    """
    log_abs = safe_log_abs(input, mode)
    if mode == WITH_ZEROS:
        # An infinite output (0**w, w < 0) passes no gradient, so inf * 0 never makes NaN.
        output = torch.where(torch.isinf(output), torch.zeros_like(output), output)
    g = grad_output * output
    grad_input = grad_weight = grad_bias = None
    if needs_input_grad[0]:
        grad_input = _grad_input(g, grad_output, input, weight, bias, log_abs, mode)
    if needs_input_grad[1]:
        grad_weight = g.T @ log_abs
    if bias is not None and needs_input_grad[2]:
        grad_bias = g.sum(dim=0)
    return grad_input, grad_weight, grad_bias


def _grad_input(g, grad_output, input, weight, bias, log_abs, mode):
    if mode != WITH_ZEROS:
        return (g @ weight) / input
    zero = input == 0
    safe_input = torch.where(zero, torch.ones_like(input), input)
    grad = torch.where(zero, torch.zeros_like(input), (g @ weight) / safe_input)

    # d/dx (x * R) at x = 0 is R, the product of the unit's other factors; it exists only
    # when the zero's exponent is exactly 1 and no other zero in the sample has w != 0
    # with a positive exponent (which would make the unit identically 0) or negative one.
    n_pos, n_neg = zero_masks(input, weight)
    z = log_abs @ weight.T
    if bias is not None:
        z = z + bias
    other_factors = torch.exp(z)
    alone = (n_pos == 1) & (n_neg == 0)
    g_linear = torch.where(alone, grad_output * other_factors, torch.zeros_like(other_factors))
    grad_at_zero = g_linear @ (weight == 1).to(input.dtype)
    return torch.where(zero, grad_at_zero, grad)


class LogMagnitudeFunction(torch.autograd.Function):
    """exp(log|x| @ W^T + b) for a 2-D input, with a hand-written, twice-differentiable backward.

    Saves the input, the weight (a parameter) and the output: N * (in + out) elements
    besides the parameters.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(input: Tensor, weight: Tensor, bias: Tensor | None, mode: int) -> Tensor:
        return magnitude_forward(input, weight, bias, mode)

    @staticmethod
    def setup_context(ctx, inputs, output):
        input, weight, bias, mode = inputs
        ctx.mode = mode
        ctx.has_bias = bias is not None
        if bias is None:
            ctx.save_for_backward(input, weight, output)
        else:
            ctx.save_for_backward(input, weight, output, bias)

    @staticmethod
    def backward(ctx, grad_output):
        input, weight, output, *rest = ctx.saved_tensors
        bias = rest[0] if ctx.has_bias else None
        grad_input, grad_weight, grad_bias = magnitude_backward(
            grad_output, input, weight, bias, output, ctx.mode, ctx.needs_input_grad[:3]
        )
        return grad_input, grad_weight, grad_bias, None
