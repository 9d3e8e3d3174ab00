"""Property tests: the layer against an elementwise float64 reference on random shapes, inputs and exponents."""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lognet.functional import log_layer

SETTINGS = settings(max_examples=50, deadline=None)

# Relative tolerance against the reference. Each check scales it by the size of the terms
# that enter the result (see forward_scale and gradient_scales), which reaches about 50 here.
RTOL = {torch.float32: 2e-5, torch.float64: 1e-12}

DOMAINS = ["positive", "signed", "abs"]


@st.composite
def layer_case(draw, allow_zeros=True):
    """Draw (domain, dtype, x, weight, bias) with |x| in [1e-2, 1e2] or 0, |w| <= 2, |b| <= 1."""
    domain = draw(st.sampled_from(DOMAINS))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    lead = draw(st.sampled_from([(), (1,), (3,), (7,), (2, 3)]))
    in_features = draw(st.integers(1, 5))
    out_features = draw(st.integers(1, 4))
    n_inputs = math.prod(lead) * in_features

    # Log-uniform magnitudes, so small and large inputs are both common.
    exponents = draw(st.lists(st.floats(-2.0, 2.0), min_size=n_inputs, max_size=n_inputs))
    x = 10.0 ** np.array(exponents)
    if domain != "positive":
        signs = draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n_inputs, max_size=n_inputs))
        x = x * np.array(signs)
        if allow_zeros:
            zeros = draw(st.lists(st.booleans(), min_size=n_inputs, max_size=n_inputs))
            x = np.where(np.array(zeros) & draw(st.booleans()), 0.0, x)

    special = st.sampled_from([0.0, 1.0, -1.0, 2.0, 0.5, 1.0 / 3.0])
    exponent = st.one_of(special, st.floats(-2.0, 2.0))
    n_weights = out_features * in_features
    weight = np.array(draw(st.lists(exponent, min_size=n_weights, max_size=n_weights)))
    bias = None
    if draw(st.booleans()):
        bias = torch.tensor(draw(st.lists(st.floats(-1.0, 1.0), min_size=out_features, max_size=out_features)), dtype=dtype)

    x = torch.tensor(x, dtype=dtype).reshape(*lead, in_features)
    weight = torch.tensor(weight, dtype=dtype).reshape(out_features, in_features)
    return domain, dtype, x, weight, bias


def reference_forward(x, weight, bias, domain):
    """prod_i x_i**w_ji * exp(b_j) in float64, one sample at a time, with exact powers of zero.

    The signed domain is Re(prod_i (x_i + 0j)**w_ji), the principal branch; the abs domain
    uses |x_i|. A zero with w > 0 makes the unit 0, else a zero with w < 0 makes it inf.
    """
    x = x.double().reshape(-1, x.shape[-1]).numpy()
    weight = weight.double().numpy()
    log_scale = np.zeros(weight.shape[0]) if bias is None else bias.double().numpy()
    out = np.empty((x.shape[0], weight.shape[0]))
    for n, row in enumerate(x):
        for j, exponents in enumerate(weight):
            zero = row == 0
            if np.any(zero & (exponents > 0)):
                out[n, j] = 0.0
                continue
            base = row[~zero] if domain == "signed" else np.abs(row[~zero])
            powers = (base.astype(complex) ** exponents[~zero]).prod() * math.exp(log_scale[j])
            out[n, j] = math.inf if np.any(zero & (exponents < 0)) else powers.real
    return torch.from_numpy(out)


def reference_magnitude(x, weight, bias):
    """Return (|y| before the sign, 1 + the size of the log-space sum) in float64.

    Their product is the scale of the rounding error in y: a relative error in each log
    term, and in each pi * w of the phase, moves y by up to that much.
    """
    x = x.double().reshape(-1, x.shape[-1])
    weight = weight.double()
    log_abs = torch.log(torch.where(x == 0, torch.ones_like(x), x.abs()))
    z = log_abs @ weight.T + (0.0 if bias is None else bias.double())
    size = log_abs.abs() @ weight.abs().T + math.pi * (x < 0).double() @ weight.abs().T + 1.0
    return torch.exp(z), size


def forward_scale(x, weight, bias):
    magnitude, size = reference_magnitude(x, weight, bias)
    return magnitude * size


@SETTINGS
@given(layer_case())
def test_forward_matches_reference(case):
    domain, dtype, x, weight, bias = case

    output = log_layer(x, weight, bias, domain=domain)

    assert output.shape == x.shape[:-1] + (weight.shape[0],)
    assert output.dtype == dtype
    output = output.double().reshape(-1, weight.shape[0])
    expected = reference_forward(x, weight, bias, domain)
    infinite = torch.isinf(expected)
    assert torch.equal(torch.isinf(output), infinite)
    assert not torch.isnan(output).any()
    error = (output - expected)[~infinite].abs()
    tolerance = RTOL[dtype] * forward_scale(x, weight, bias)[~infinite] + 1e-300
    assert (error <= tolerance).all(), f"max error {error.max()} for tolerance {tolerance.min()}"


@SETTINGS
@given(layer_case())
def test_log_output_matches_reference(case):
    domain, dtype, x, weight, bias = case

    log_abs, sign = log_layer(x, weight, bias, domain=domain, log_output=True)

    expected = reference_forward(x, weight, bias, domain)
    log_abs = log_abs.double().reshape(expected.shape)
    sign = sign.reshape(expected.shape)
    assert not torch.isnan(log_abs).any()
    assert torch.equal(torch.isinf(log_abs), (expected == 0) | torch.isinf(expected))
    # A relative error rtol * scale / |y| in y is an absolute error of the same size in log|y|.
    # Signs are compared only where |cos(phase)| > 1e-3, because rounding can flip them near 0.
    magnitude, _ = reference_magnitude(x, weight, bias)
    clear = torch.isfinite(log_abs) & (expected.abs() > 1e-3 * magnitude)
    error = (log_abs - torch.log(expected.abs()))[clear].abs()
    tolerance = 2 * RTOL[dtype] * forward_scale(x, weight, bias)[clear] / expected[clear].abs()
    assert (error <= tolerance).all(), f"max error {error.max()}"
    assert torch.equal(sign[clear].double(), torch.sign(expected[clear]))


def plain_formula(x, weight, bias, domain):
    """The layer in plain torch ops for nonzero x, so autograd derives the reference gradients."""
    flat = x.reshape(-1, x.shape[-1])
    z = torch.log(flat.abs()) @ weight.T
    if bias is not None:
        z = z + bias
    output = torch.exp(z)
    if domain == "signed":
        output = output * torch.cos(math.pi * (flat < 0).to(x.dtype) @ weight.T)
    return output.reshape(*x.shape[:-1], weight.shape[0])


def gradient_scales(x, weight, bias, grad_output):
    """The sums of absolute terms behind each gradient, against which rounding errors are measured."""
    x = x.double().reshape(-1, x.shape[-1])
    weight = weight.double()
    log_abs = torch.log(x.abs())
    z = log_abs @ weight.T + (0.0 if bias is None else bias.double())
    size = log_abs.abs() @ weight.abs().T + math.pi * (x < 0).double() @ weight.abs().T + 1.0
    g = grad_output.double().reshape(-1, weight.shape[0]).abs() * torch.exp(z) * size
    return (g @ (weight.abs() + 1.0)) / x.abs(), g.T @ (log_abs.abs() + math.pi + 1.0), g.sum(dim=0)


@SETTINGS
@given(layer_case(allow_zeros=False), st.integers(0, 2**31 - 1))
def test_backward_matches_autograd_reference(case, seed):
    domain, dtype, x, weight, bias = case
    grad_output = torch.randn(*x.shape[:-1], weight.shape[0], generator=torch.Generator().manual_seed(seed), dtype=dtype)

    leaves = [t.clone().requires_grad_() for t in (x, weight, bias) if t is not None]
    output = log_layer(leaves[0], leaves[1], leaves[2] if bias is not None else None, domain=domain)
    ours = torch.autograd.grad(output, leaves, grad_output)

    reference_leaves = [t.double().requires_grad_() for t in (x, weight, bias) if t is not None]
    reference_bias = reference_leaves[2] if bias is not None else None
    reference_output = plain_formula(reference_leaves[0], reference_leaves[1], reference_bias, domain)
    reference = torch.autograd.grad(reference_output, reference_leaves, grad_output.double())

    scales = gradient_scales(x, weight, bias, grad_output)
    for name, got, expected, scale in zip(("input", "weight", "bias"), ours, reference, scales):
        scale = scale.reshape(expected.shape)
        error = (got.double() - expected).abs()
        assert got.dtype == dtype
        assert (error <= RTOL[dtype] * 10 * scale + 1e-300).all(), f"grad of {name}: max error {error.max()}"


@SETTINGS
@given(layer_case())
def test_gradients_never_nan(case):
    domain, _, x, weight, bias = case
    leaves = [t.clone().requires_grad_() for t in (x, weight, bias) if t is not None]

    output = log_layer(leaves[0], leaves[1], leaves[2] if bias is not None else None, domain=domain)
    grads = torch.autograd.grad(output.sum(), leaves)

    for grad in grads:
        assert not torch.isnan(grad).any()
