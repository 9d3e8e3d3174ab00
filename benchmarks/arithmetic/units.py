"""Neural arithmetic units written from their papers' equations, with one weight set per seed.

Every parameter has a leading dimension S, so S independent models (one per seed) train in one
call. A first layer takes input of shape (B, in), shared by all S models, or (S, B, in); every
unit returns (S, B, out). Because the loss is a sum of per-model losses and Adam works element by
element, training the stack is the same as training S models one after the other.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

# Smoothing inside log(|x| + eps) for NAC* and NALU (Trask et al., 2018), and the floor of
# iNALU's log(max(|x|, eps)) (Schloer et al., 2020).
LOG_EPS = 1e-7
# iNALU clips the multiplicative path's log-space sum at this value before exp().
INALU_OMEGA = 20.0
# NPU's smoothing inside log(|x| + eps): float32 machine epsilon (Heim et al., 2020).
NPU_EPS = float(torch.finfo(torch.float32).eps)


def linear(input: Tensor, weight: Tensor) -> Tensor:
    """Apply S weight matrices (S, out, in) to a shared (B, in) or per-model (S, B, in) input."""
    if input.dim() == 2:
        return torch.einsum("bi,soi->sbo", input, weight)
    return torch.matmul(input, weight.transpose(-1, -2))


def glorot_bound(in_features: int, out_features: int) -> float:
    """Half-width of Glorot's uniform initialisation, sqrt(6 / (in + out))."""
    return math.sqrt(6.0 / (in_features + out_features))


class BatchedUnit(nn.Module):
    """Base class: S models of one layer kind, each reset from its own generator."""

    def __init__(self, n_models: int, in_features: int, out_features: int) -> None:
        super().__init__()
        self.n_models = n_models
        self.in_features = in_features
        self.out_features = out_features

    def _new(self, *shape: int) -> nn.Parameter:
        return nn.Parameter(torch.empty(self.n_models, *shape))

    def reset_model(self, index: int, generator: torch.Generator) -> None:
        """Re-initialise model ``index`` from ``generator`` as its paper prescribes."""
        raise NotImplementedError

    def regularizer(self) -> Tensor:
        """Return the unit's own sparsity regulariser per model, shape (S,), or zeros if it has none."""
        return torch.zeros(self.n_models)

    @torch.no_grad()
    def project_(self) -> None:
        """Apply the paper's constraint after an optimizer step (clamping); default: none."""


def _uniform_(tensor: Tensor, low: float, high: float, generator: torch.Generator) -> None:
    tensor.copy_(torch.rand(tensor.shape, generator=generator) * (high - low) + low)


def _normal_(tensor: Tensor, mean: float, std: float, generator: torch.Generator) -> None:
    tensor.copy_(torch.randn(tensor.shape, generator=generator) * std + mean)


class NAC(BatchedUnit):
    """Neural accumulator (Trask et al., 2018): a = W x with W = tanh(W_hat) * sigmoid(M_hat).

    With ``multiplicative=True`` it is NAC*, m = exp(W log(|x| + eps)).
    """

    def __init__(self, n_models: int, in_features: int, out_features: int, multiplicative: bool = False) -> None:
        super().__init__(n_models, in_features, out_features)
        self.multiplicative = multiplicative
        self.W_hat = self._new(out_features, in_features)
        self.M_hat = self._new(out_features, in_features)

    def reset_model(self, index: int, generator: torch.Generator) -> None:
        bound = glorot_bound(self.in_features, self.out_features)
        with torch.no_grad():
            _uniform_(self.W_hat[index], -bound, bound, generator)
            _uniform_(self.M_hat[index], -bound, bound, generator)

    def weight(self) -> Tensor:
        return torch.tanh(self.W_hat) * torch.sigmoid(self.M_hat)

    def forward(self, input: Tensor) -> Tensor:
        if self.multiplicative:
            return torch.exp(linear(torch.log(input.abs() + LOG_EPS), self.weight()))
        return linear(input, self.weight())


class NALU(BatchedUnit):
    """Neural arithmetic logic unit (Trask et al., 2018): y = g * a + (1 - g) * m.

    a = W x and m = exp(W log(|x| + eps)) share W = tanh(W_hat) * sigmoid(M_hat); the gate is
    g = sigmoid(G x).
    """

    def __init__(self, n_models: int, in_features: int, out_features: int) -> None:
        super().__init__(n_models, in_features, out_features)
        self.W_hat = self._new(out_features, in_features)
        self.M_hat = self._new(out_features, in_features)
        self.G = self._new(out_features, in_features)

    def reset_model(self, index: int, generator: torch.Generator) -> None:
        bound = glorot_bound(self.in_features, self.out_features)
        with torch.no_grad():
            for parameter in (self.W_hat, self.M_hat, self.G):
                _uniform_(parameter[index], -bound, bound, generator)

    def forward(self, input: Tensor) -> Tensor:
        weight = torch.tanh(self.W_hat) * torch.sigmoid(self.M_hat)
        additive = linear(input, weight)
        multiplicative = torch.exp(linear(torch.log(input.abs() + LOG_EPS), weight))
        gate = torch.sigmoid(linear(input, self.G))
        return gate * additive + (1 - gate) * multiplicative


class NAU(BatchedUnit):
    """Neural addition unit (Madsen & Johansen, 2020): z = W x with W clamped to [-1, 1].

    Initialised from U[-r, r], r = min(0.5, sqrt(3) * sqrt(2 / (in + out))); its regulariser is
    mean(min(|W|, 1 - |W|)), which is zero when every weight is -1, 0 or 1.
    """

    def __init__(self, n_models: int, in_features: int, out_features: int) -> None:
        super().__init__(n_models, in_features, out_features)
        self.W = self._new(out_features, in_features)

    def reset_model(self, index: int, generator: torch.Generator) -> None:
        r = min(0.5, math.sqrt(3.0) * math.sqrt(2.0 / (self.in_features + self.out_features)))
        with torch.no_grad():
            _uniform_(self.W[index], -r, r, generator)

    def forward(self, input: Tensor) -> Tensor:
        return linear(input, self.W)

    def regularizer(self) -> Tensor:
        magnitude = self.W.abs()
        return torch.minimum(magnitude, 1 - magnitude).mean(dim=(1, 2))

    @torch.no_grad()
    def project_(self) -> None:
        self.W.clamp_(-1.0, 1.0)


class NMU(BatchedUnit):
    """Neural multiplication unit (Madsen & Johansen, 2020): z_j = prod_i (W_ji x_i + 1 - W_ji).

    W is clamped to [0, 1] and initialised from U[0.25, 0.75] (mean 1/2, r = min(1/4, sqrt(3)/2));
    its regulariser is mean(min(W, 1 - W)).
    """

    def __init__(self, n_models: int, in_features: int, out_features: int) -> None:
        super().__init__(n_models, in_features, out_features)
        self.W = self._new(out_features, in_features)

    def reset_model(self, index: int, generator: torch.Generator) -> None:
        r = min(0.25, math.sqrt(3.0) * 0.5)
        with torch.no_grad():
            _uniform_(self.W[index], 0.5 - r, 0.5 + r, generator)

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() == 2:
            input = input.expand(self.n_models, *input.shape)
        weight = self.W[:, None, :, :]  # (S, 1, out, in)
        return (input[:, :, None, :] * weight + 1 - weight).prod(dim=-1)

    def regularizer(self) -> Tensor:
        return torch.minimum(self.W, 1 - self.W).mean(dim=(1, 2))

    @torch.no_grad()
    def project_(self) -> None:
        self.W.clamp_(0.0, 1.0)


class INALU(BatchedUnit):
    """Improved NALU (Schloer, Ring & Hotho, 2020).

    Separate weights for the additive path a = W_a x and the multiplicative path
    m = exp(min(W_m log(max(|x|, eps)), omega)), the sign of m recovered as
    prod_i (sign(x_i) |W_m,ji| + 1 - |W_m,ji|), and a gate g = sigmoid(g_hat) that does not depend
    on the input. Initialisation: W_hat ~ N(0.88, 0.2), M_hat ~ N(0.5, 0.2), g_hat ~ N(0, 0.2).
    """

    def __init__(self, n_models: int, in_features: int, out_features: int) -> None:
        super().__init__(n_models, in_features, out_features)
        self.W_a_hat = self._new(out_features, in_features)
        self.M_a_hat = self._new(out_features, in_features)
        self.W_m_hat = self._new(out_features, in_features)
        self.M_m_hat = self._new(out_features, in_features)
        self.g_hat = self._new(out_features)

    def reset_model(self, index: int, generator: torch.Generator) -> None:
        with torch.no_grad():
            _normal_(self.W_a_hat[index], 0.88, 0.2, generator)
            _normal_(self.M_a_hat[index], 0.5, 0.2, generator)
            _normal_(self.W_m_hat[index], 0.88, 0.2, generator)
            _normal_(self.M_m_hat[index], 0.5, 0.2, generator)
            _normal_(self.g_hat[index], 0.0, 0.2, generator)

    def forward(self, input: Tensor) -> Tensor:
        weight_add = torch.tanh(self.W_a_hat) * torch.sigmoid(self.M_a_hat)
        weight_mul = torch.tanh(self.W_m_hat) * torch.sigmoid(self.M_m_hat)
        additive = linear(input, weight_add)
        log_sum = linear(torch.log(input.abs().clamp_min(LOG_EPS)), weight_mul)
        magnitude = torch.exp(log_sum.clamp_max(INALU_OMEGA))
        gate = torch.sigmoid(self.g_hat)[:, None, :]
        return gate * additive + (1 - gate) * magnitude * _inalu_sign(input, weight_mul)

    def regularizer(self) -> Tensor:
        """Sum over the parameter tensors of mean(max(20 - |p|, 0)), which pushes them to saturate."""
        total = torch.zeros(self.n_models)
        for parameter in (self.W_a_hat, self.M_a_hat, self.W_m_hat, self.M_m_hat, self.g_hat):
            penalty = torch.relu(INALU_OMEGA - parameter.abs())
            total = total + penalty.reshape(self.n_models, -1).mean(dim=1)
        return total


def _inalu_sign(input: Tensor, weight: Tensor) -> Tensor:
    """iNALU's sign term prod_i (sign(x_i) |W_ji| + 1 - |W_ji|), as two matrix products.

    A positive input contributes the factor 1, a zero input 1 - |W| (positive, as |W| < 1) and a
    negative input 1 - 2|W|. So the product is exp(n @ log|1 - 2|W||^T + o @ log(1 - |W|)^T),
    negated when n @ [1 - 2|W| < 0]^T is odd (n, o: indicators of negative and zero inputs).
    This avoids the (S, B, out, in) tensor of the direct product, which dominates the cost of a
    100-input layer.
    """
    magnitude = weight.abs()
    negative_factor = 1 - 2 * magnitude
    negative = (input < 0).to(input.dtype)
    zero = (input == 0).to(input.dtype)
    log_size = linear(negative, torch.log(negative_factor.abs())) + linear(zero, torch.log(1 - magnitude))
    flips = linear(negative, (negative_factor < 0).to(input.dtype))
    parity = 1 - 2 * torch.remainder(flips, 2)
    return parity * torch.exp(log_size)


class NPU(BatchedUnit):
    """Neural power unit (Heim, van Gerven & Kusters, 2020), or RealNPU with ``real=True``.

    With relevance gate g clamped to [0, 1], r = g (|x| + eps) + 1 - g and k = g pi [x < 0]:
    y = exp(W_r log r - W_i k) * cos(W_i log r + W_r k). RealNPU drops W_i, so
    y = |r|^W_r cos(W_r k). W_r starts from Glorot uniform, W_i at 0 and g at 1/2.
    """

    def __init__(self, n_models: int, in_features: int, out_features: int, real: bool = False) -> None:
        super().__init__(n_models, in_features, out_features)
        self.real = real
        self.W_r = self._new(out_features, in_features)
        self.W_i = None if real else self._new(out_features, in_features)
        self.g = self._new(in_features)

    def reset_model(self, index: int, generator: torch.Generator) -> None:
        bound = glorot_bound(self.in_features, self.out_features)
        with torch.no_grad():
            _uniform_(self.W_r[index], -bound, bound, generator)
            if self.W_i is not None:
                self.W_i[index].zero_()
            self.g[index].fill_(0.5)

    def forward(self, input: Tensor) -> Tensor:
        gate = self.g.clamp(0.0, 1.0)
        if input.dim() == 2:
            input = input.expand(self.n_models, *input.shape)
        gate = gate[:, None, :]
        log_r = torch.log(gate * (input.abs() + NPU_EPS) + 1 - gate)
        k = gate * math.pi * (input < 0).to(input.dtype)
        if self.W_i is None:
            return torch.exp(linear(log_r, self.W_r)) * torch.cos(linear(k, self.W_r))
        magnitude = torch.exp(linear(log_r, self.W_r) - linear(k, self.W_i))
        return magnitude * torch.cos(linear(k, self.W_r) + linear(log_r, self.W_i))


class Dense(BatchedUnit):
    """Affine layer for the MLP baseline, initialised like ``torch.nn.Linear``."""

    def __init__(self, n_models: int, in_features: int, out_features: int) -> None:
        super().__init__(n_models, in_features, out_features)
        self.W = self._new(out_features, in_features)
        self.b = self._new(out_features)

    def reset_model(self, index: int, generator: torch.Generator) -> None:
        bound = 1.0 / math.sqrt(self.in_features)
        with torch.no_grad():
            _uniform_(self.W[index], -bound, bound, generator)
            _uniform_(self.b[index], -bound, bound, generator)

    def forward(self, input: Tensor) -> Tensor:
        return linear(input, self.W) + self.b[:, None, :]


class Stack(nn.Module):
    """Layers applied in order, with an optional activation between them (ReLU for the MLP)."""

    def __init__(self, layers: list[BatchedUnit], activation: nn.Module | None = None) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.activation = activation

    @property
    def n_models(self) -> int:
        return self.layers[0].n_models

    def reset_model(self, index: int, generator: torch.Generator) -> None:
        for layer in self.layers:
            layer.reset_model(index, generator)

    def forward(self, input: Tensor) -> Tensor:
        output = input
        for position, layer in enumerate(self.layers):
            output = layer(output)
            if self.activation is not None and position < len(self.layers) - 1:
                output = self.activation(output)
        return output

    def regularizer(self) -> Tensor:
        return sum(layer.regularizer() for layer in self.layers)

    @torch.no_grad()
    def project_(self) -> None:
        for layer in self.layers:
            layer.project_()
