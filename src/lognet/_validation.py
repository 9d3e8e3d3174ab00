"""Input checks shared by the layer, the losses and the fitting engine."""

from __future__ import annotations

import contextlib
import difflib
from typing import Iterable, Iterator

import torch
from torch import Tensor

DOMAINS = ("positive", "signed", "abs")
SUPPORTED_DTYPES = (torch.float32, torch.float64)


def check_option(name: str, value: str, valid: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``valid``, else raise a ValueError with a suggestion."""
    valid = tuple(valid)
    if isinstance(value, str) and value in valid:
        return value
    hint = ""
    if isinstance(value, str):
        close = difflib.get_close_matches(value, valid, n=1)
        if close:
            hint = f" Did you mean {close[0]!r}?"
    raise ValueError(f"{name} must be one of {', '.join(map(repr, valid))}, got {value!r}.{hint}")


def check_floating(name: str, tensor: Tensor) -> None:
    """Raise a TypeError unless ``tensor`` is float32 or float64."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}; wrap it with torch.as_tensor(...).")
    if tensor.dtype in SUPPORTED_DTYPES:
        return
    if tensor.dtype == torch.float16:
        raise TypeError(
            f"{name} has dtype torch.float16, which lognet does not support because exp() of a log-space "
            f"sum above about 11.1 overflows float16 (max 65504); convert it with {name}.float()."
        )
    if tensor.dtype == torch.bfloat16:
        raise TypeError(
            f"{name} has dtype torch.bfloat16, which lognet does not support because its 8-bit significand "
            f"rounds exponents and log-space sums to 2-3 significant digits; convert it with {name}.float()."
        )
    raise TypeError(
        f"{name} must be a floating-point tensor (float32 or float64), got {tensor.dtype}; "
        f"convert it with {name}.to(torch.float32)."
    )


def check_finite(name: str, tensor: Tensor) -> None:
    """Raise a ValueError that counts the NaN and infinite entries of ``tensor``."""
    finite = torch.isfinite(tensor)
    if bool(finite.all()):
        return
    n_nan = int(torch.isnan(tensor).sum())
    n_inf = int(torch.isinf(tensor).sum())
    raise ValueError(
        f"{name} contains {n_nan} NaN and {n_inf} infinite entries out of {tensor.numel()}; "
        f"remove or impute those samples before calling lognet."
    )


def _feature_indices(mask: Tensor) -> list[int]:
    columns = mask.reshape(-1, mask.shape[-1]).any(dim=0)
    return torch.nonzero(columns).flatten().tolist()


def check_domain_values(tensor: Tensor, domain: str, name: str = "input", eps: float | None = None) -> None:
    """Raise a ValueError when ``tensor`` contains values that ``domain`` cannot take.

    The positive domain needs every entry > 0 (>= 0 when ``eps`` is set, because the
    layer then takes log(x + eps)). The signed and abs domains take any finite value.
    """
    check_finite(name, tensor)
    if domain != "positive":
        return
    bad = tensor < 0 if eps is not None else tensor <= 0
    if not bool(bad.any()):
        return
    count = int(bad.sum())
    features = _feature_indices(bad) if tensor.dim() > 0 else [0]
    shown = ", ".join(map(str, features[:10])) + (", ..." if len(features) > 10 else "")
    rule, need = ("negative", "x >= 0 because it takes log(x + eps)") if eps is not None else ("non-positive (<= 0)", "x > 0 because it takes log(x)")
    raise ValueError(
        f"{name} has {count} {rule} entries (in feature indices {shown}) but domain='positive' "
        f"needs {need}; use domain='signed' for the real part of x**w "
        f"with signs, or domain='abs' for |x|**w."
    )


def check_layer_shapes(input: Tensor, weight: Tensor, bias: Tensor | None) -> None:
    """Raise a ValueError or TypeError when the layer's tensors do not fit together."""
    check_floating("input", input)
    check_floating("weight", weight)
    if weight.dim() != 2:
        raise ValueError(f"weight must be 2-D (out_features, in_features), got shape {tuple(weight.shape)}.")
    if input.dim() == 0:
        raise ValueError("input must have at least 1 dimension (..., in_features), got a 0-D tensor; use input.reshape(1, 1).")
    if input.shape[-1] != weight.shape[1]:
        raise ValueError(
            f"input has {input.shape[-1]} features in its last dimension but weight expects "
            f"in_features={weight.shape[1]}; got input shape {tuple(input.shape)} and weight shape {tuple(weight.shape)}."
        )
    if input.dtype != weight.dtype:
        raise TypeError(
            f"input and weight must share a dtype, got input {input.dtype} and weight {weight.dtype}; "
            f"convert one, e.g. input.to({weight.dtype})."
        )
    if bias is None:
        return
    check_floating("bias", bias)
    if bias.shape != (weight.shape[0],):
        raise ValueError(f"bias must have shape ({weight.shape[0]},) to match weight, got {tuple(bias.shape)}.")
    if bias.dtype != weight.dtype:
        raise TypeError(f"bias and weight must share a dtype, got bias {bias.dtype} and weight {weight.dtype}.")


@contextlib.contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` torch threads (``None``: unchanged), restoring the setting after."""
    previous = torch.get_num_threads()
    if count is not None:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def check_random_state(random_state) -> None:
    """Raise a TypeError unless ``random_state`` is None or a non-negative int."""
    if random_state is None:
        return
    import numpy as np

    if isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer)) or random_state < 0:
        raise TypeError(f"random_state must be None or an int >= 0, got {random_state!r}.")
