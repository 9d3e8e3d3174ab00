"""Hines' logarithmic neural network: product units followed by a linear layer."""

from __future__ import annotations

from torch import Tensor, nn

from ._functional import Domain
from ._layer import INIT_BOUND, LogLayer


class LNN(nn.Module):
    r"""Logarithmic neural network: :math:`y = b + \sum_k c_k \prod_i x_i^{w_{ki}}`.

    A :class:`LogLayer` of ``n_terms`` product units followed by an ``nn.Linear`` output
    layer (J. W. Hines, 1996), so it represents sums of power laws exactly and extrapolates
    them. Train it like any module, or fit it globally with :func:`lognet.fit`.

    Args:
        in_features: number of input features.
        n_terms: number of product units (power-law terms).
        out_features: number of outputs. Default: 1.
        bias: learn the additive constant b. Default: ``True``.
        domain: input domain of the product units, ``"positive"``, ``"signed"`` or
            ``"abs"``. Default: ``"positive"``.
        init_bound: exponents start in U(-init_bound, init_bound). Default: 1.0.

    Shape:
        - Input: (N, *, in_features).
        - Output: (N, *, out_features).

    Attributes:
        log_layer: the product units; ``log_layer.weight`` contains the exponents
            (n_terms, in_features).
        linear: the output layer; ``linear.weight`` holds the coefficients c
            (out_features, n_terms) and ``linear.bias`` the constant b.

    Example:
        >>> model = LNN(2, n_terms=3)
        >>> model(torch.rand(4, 2) + 1).shape
        torch.Size([4, 1])
    """

    def __init__(
        self,
        in_features: int,
        n_terms: int,
        out_features: int = 1,
        bias: bool = True,
        domain: Domain = "positive",
        *,
        init_bound: float = INIT_BOUND,
        check_input: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if not isinstance(n_terms, int) or isinstance(n_terms, bool) or n_terms < 1:
            raise ValueError(f"n_terms must be a positive int, got {n_terms!r}.")
        factory = {"device": device, "dtype": dtype}
        self.log_layer = LogLayer(
            in_features, n_terms, bias=False, domain=domain, init_bound=init_bound, check_input=check_input, **factory
        )
        if not isinstance(out_features, int) or out_features < 1:
            raise ValueError(f"out_features must be a positive int, got {out_features!r}.")
        self.linear = nn.Linear(n_terms, out_features, bias=bias, **factory)

    @property
    def in_features(self) -> int:
        return self.log_layer.in_features

    @property
    def n_terms(self) -> int:
        return self.log_layer.out_features

    @property
    def out_features(self) -> int:
        return self.linear.out_features

    @property
    def domain(self) -> str:
        return self.log_layer.domain

    def forward(self, input: Tensor) -> Tensor:
        return self.linear(self.log_layer(input))
