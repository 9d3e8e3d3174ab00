"""The autograd Function for the product-unit magnitude |x|^W * exp(b) and its closed-form gradients."""

from __future__ import annotations

import torch
from torch import Tensor

# Input modes of the Function, chosen once per call by the functional front end.
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


def _log_output(log_abs: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """Return the log-magnitude log|x| @ W^T + b, with the bias added inside the matrix product."""
    if bias is None:
        return log_abs @ weight.T
    return torch.addmm(bias, log_abs, weight.T)


def magnitude_forward(
    input: Tensor, weight: Tensor, bias: Tensor | None, mode: int, log_abs: Tensor | None = None
) -> Tensor:
    """Compute exp(log|x| @ W^T + b) for a 2-D input, with exact powers of zero.

    ``log_abs``, if given, must equal ``safe_log_abs(input, mode)``; it saves recomputing it.
    """
    if log_abs is None:
        log_abs = safe_log_abs(input, mode)
    z = _log_output(log_abs, weight, bias)
    # z is a fresh temporary that no backward formula reads (autograd's included), so exp
    # overwrites it and the forward needs one (N, out) buffer less.
    output = z.exp_()
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
    log_abs: Tensor | None = None,
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """Return (grad_input, grad_weight, grad_bias) of the magnitude for 2-D tensors.

    With G = grad_output * y: grad_weight = G^T @ log|X|, grad_input = (G @ W) / X and
    grad_bias = G summed over the batch. Every operation is differentiable, so autograd
    can differentiate this function again (double backward).

    At a zero input the right-hand derivative (x -> 0+) is used where it is finite, and 0
    where it is not; docs/math.md tabulates the cases.

    ``log_abs``, if given, is ``safe_log_abs(input, mode)``; ``input`` may then be ``None``
    when its gradient is not needed.
    """
    if mode == WITH_ZEROS:
        # An infinite output (0**w, w < 0) passes no gradient, so inf * 0 never makes NaN.
        output = torch.where(torch.isinf(output), torch.zeros_like(output), output)
    g = grad_output * output
    grad_input = grad_weight = grad_bias = None
    if log_abs is None and (needs_input_grad[1] or (needs_input_grad[0] and mode == WITH_ZEROS)):
        log_abs = safe_log_abs(input, mode)
    if needs_input_grad[1]:
        grad_weight = g.T @ log_abs
    if bias is not None and needs_input_grad[2]:
        grad_bias = g.sum(dim=0)
    if needs_input_grad[0]:
        if mode != WITH_ZEROS:
            # Drop log|x| before the input's gradient allocates two (N, in) buffers, which
            # lowers the peak memory of the backward by N * in elements.
            log_abs = None
        grad_input = _grad_input(g, grad_output, input, weight, bias, log_abs, mode)
    return grad_input, grad_weight, grad_bias


def _grad_input(g, grad_output, input, weight, bias, log_abs, mode):
    if mode != WITH_ZEROS:
        # An in-place div_ on the product ran up to 15% slower at (4096, 256) float32 (torch
        # 2.13, one AMD EPYC core), so the quotient gets its own buffer.
        return (g @ weight) / input
    zero = input == 0
    safe_input = torch.where(zero, torch.ones_like(input), input)
    grad = torch.where(zero, torch.zeros_like(input), (g @ weight) / safe_input)

    # d/dx (x * R) at x = 0 is R, the product of the unit's other factors; it exists only
    # when the zero's exponent is exactly 1 and no other zero in the sample has w != 0
    # with a positive exponent (which would make the unit identically 0) or negative one.
    n_pos, n_neg = zero_masks(input, weight)
    other_factors = torch.exp(_log_output(log_abs, weight, bias))
    alone = (n_pos == 1) & (n_neg == 0)
    g_linear = torch.where(alone, grad_output * other_factors, torch.zeros_like(other_factors))
    grad_at_zero = g_linear @ (weight == 1).to(input.dtype)
    return torch.where(zero, grad_at_zero, grad)


class LogMagnitudeFunction(torch.autograd.Function):
    """exp(log|x| @ W^T + b) for a 2-D input, with a hand-written, twice-differentiable backward.

    Saves the weight (a parameter), the output and either the input or, when the caller
    passes ``log_abs`` and the input needs no gradient, log|x|: N * (in + out) elements
    besides the parameters. Call it through :func:`product_magnitude`, which passes
    ``log_abs`` only where that is safe.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(input: Tensor, weight: Tensor, bias: Tensor | None, mode: int, log_abs: Tensor | None = None) -> Tensor:
        return magnitude_forward(input, weight, bias, mode, log_abs)

    @staticmethod
    def setup_context(ctx, inputs, output):
        input, weight, bias, mode, log_abs = inputs
        ctx.mode = mode
        ctx.has_bias = bias is not None
        # The backward needs x only for the input's gradient, so a given log|x| replaces x
        # when x needs none, and the backward then skips a log pass.
        ctx.saved_log = log_abs is not None and not ctx.needs_input_grad[0]
        saved = [log_abs if ctx.saved_log else input, weight, output]
        if bias is not None:
            saved.append(bias)
        ctx.save_for_backward(*saved)

    @staticmethod
    def backward(ctx, grad_output):
        first, weight, output, *rest = ctx.saved_tensors
        bias = rest[0] if ctx.has_bias else None
        input, log_abs = (None, first) if ctx.saved_log else (first, None)
        grad_input, grad_weight, grad_bias = magnitude_backward(
            grad_output, input, weight, bias, output, ctx.mode, ctx.needs_input_grad[:3], log_abs
        )
        return grad_input, grad_weight, grad_bias, None, None


# torch.autograd.Function.apply binds the arguments with inspect.signature on every call once
# setup_context is defined: about 30 us of the 45 us that a (64, 8) input and (8, 8) weight
# took (torch 2.13, one AMD EPYC core). Outside functorch transforms and torch.compile it then
# calls this C++ apply of its base class, which product_magnitude calls directly.
_apply_without_binding = super(torch.autograd.Function, LogMagnitudeFunction).apply
_unwrap_if_dead = torch._C._functorch.unwrap_if_dead
try:
    _is_compiling = torch.compiler.is_compiling
except AttributeError:  # torch < 2.3
    from torch._dynamo import is_compiling as _is_compiling


def product_magnitude(input: Tensor, weight: Tensor, bias: Tensor | None, mode: int) -> Tensor:
    """Apply :class:`LogMagnitudeFunction`, handing it log|x| when x needs no gradient."""
    # Under functorch transforms requires_grad does not tell whether a transform
    # differentiates x (a tensor batched by vmap inside grad reports False), so the Function
    # then computes log|x| itself and saves x.
    functorch = torch._C._are_functorch_transforms_active()
    log_abs = None
    if torch.is_grad_enabled() and not input.requires_grad and not functorch:
        log_abs = safe_log_abs(input, mode)
    if functorch or _is_compiling():
        # Both trace Function.apply itself and would not recognise the call below.
        return LogMagnitudeFunction.apply(input, weight, bias, mode, log_abs)
    bias = bias if bias is None else _unwrap_if_dead(bias)
    return _apply_without_binding(_unwrap_if_dead(input), _unwrap_if_dead(weight), bias, mode, log_abs)
