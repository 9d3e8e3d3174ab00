"""The LogLayer module: a thin nn.Module over :func:`lognet.functional.log_layer`."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._functional import Domain, log_layer
from ._validation import DOMAINS, check_option

# Exponents start in U(-INIT_BOUND, INIT_BOUND) unless set otherwise; docs/math.md compares
# this with the classic U(-2, 2) and with smaller ranges.
INIT_BOUND = 1.0


class LogLayer(nn.Module):
    r"""A layer of product units: :math:`y_j = e^{b_j} \prod_i x_i^{w_{ji}}`.

    Computed as ``exp(log|x| @ weight.T + bias)`` with a hand-written backward that
    supports double backward. See :func:`lognet.functional.log_layer` for the domains.

    Args:
        in_features: size of each input sample.
        out_features: number of product units.
        bias: if True, learn a log-space bias, so each unit is scaled by exp(bias).
            Default: ``False``.
        domain: ``"positive"``, ``"signed"`` or ``"abs"``. Default: ``"positive"``.
        eps: NALU-style smoothing, the magnitude of ``|x| + eps``. Default: ``None``.
        log_output: return ``(log|y|, sign(y))`` instead of ``y``. Default: ``False``.
        check_input: validate every input (costs one pass and a synchronisation).
            Default: ``True``.
        init_bound: exponents are initialised from U(-init_bound, init_bound).
            Default: ``1.0``.

    Shape:
        - Input: (N, *, in_features) or (in_features,).
        - Output: (N, *, out_features) or (out_features,).

    Attributes:
        weight: the exponents, shape (out_features, in_features), initialised from
            U(-init_bound, init_bound).
        bias: the log-space bias, shape (out_features,), initialised to 0, or ``None``.

    Example:
        >>> layer = LogLayer(3, 2)
        >>> layer(torch.rand(5, 3) + 0.5).shape
        torch.Size([5, 2])
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = False,
        *,
        domain: Domain = "positive",
        eps: float | None = None,
        log_output: bool = False,
        check_input: bool = True,
        init_bound: float = INIT_BOUND,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}.")
        if not init_bound > 0:
            raise ValueError(f"init_bound must be > 0, got {init_bound!r}.")
        self.in_features = in_features
        self.out_features = out_features
        self.domain = check_option("domain", domain, DOMAINS)
        self.eps = eps
        self.log_output = log_output
        self.check_input = check_input
        self.init_bound = float(init_bound)
        factory = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(out_features, in_features, **factory))
        self.bias = nn.Parameter(torch.empty(out_features, **factory)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw exponents from U(-init_bound, init_bound) and set the bias to 0."""
        nn.init.uniform_(self.weight, -self.init_bound, self.init_bound)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        return log_layer(
            input,
            self.weight,
            self.bias,
            domain=self.domain,
            eps=self.eps,
            log_output=self.log_output,
            check_input=self.check_input,
        )

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}, domain={self.domain!r}"
        )
