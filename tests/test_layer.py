"""Tests for the product-unit layer in the positive domain: values, gradients, shapes and errors."""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

from lognet import LNN, LogLayer
from lognet._layer_function import POSITIVE, LogMagnitudeFunction, magnitude_backward
from lognet.functional import log_layer

DTYPES = [torch.float32, torch.float64]

# Tolerances for comparing two float computations of the same formula.
TOLERANCES = {
    torch.float32: {"rtol": 1e-5, "atol": 1e-6},
    torch.float64: {"rtol": 1e-12, "atol": 1e-12},
}


def make_data(n=6, in_features=4, out_features=3, dtype=torch.float64, seed=0):
    """Return positive inputs in [0.5, 3), exponents in [-1.5, 1.5) and a bias in [-0.5, 0.5)."""
    generator = torch.Generator().manual_seed(seed)
    x = 0.5 + 2.5 * torch.rand(n, in_features, generator=generator, dtype=dtype)
    weight = 3.0 * torch.rand(out_features, in_features, generator=generator, dtype=dtype) - 1.5
    bias = torch.rand(out_features, generator=generator, dtype=dtype) - 0.5
    return x, weight, bias


def plain_formula(x, weight, bias):
    """exp(log(x) @ W.T + b) in plain torch ops, so autograd derives the reference gradients."""
    return torch.exp(torch.log(x) @ weight.T + bias)


def direct_product(x, weight, bias):
    """prod_i x_i ** w_ji * exp(b_j), one factor at a time, in float64."""
    x = x.double()
    weight = weight.double()
    factors = x[:, None, :] ** weight[None, :, :]
    return factors.prod(dim=-1) * torch.exp(bias.double())


# Gradients: finite differences, second order and the hand-written backward.


def test_gradcheck_input_weight_bias():
    x, weight, bias = make_data()
    inputs = (x.requires_grad_(), weight.requires_grad_(), bias.requires_grad_())

    assert gradcheck(log_layer, inputs)


def test_gradgradcheck_input_weight_bias():
    x, weight, bias = make_data()
    inputs = (x.requires_grad_(), weight.requires_grad_(), bias.requires_grad_())

    assert gradgradcheck(log_layer, inputs)


def test_gradcheck_without_bias():
    x, weight, _ = make_data()

    assert gradcheck(log_layer, (x.requires_grad_(), weight.requires_grad_()))


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_function_backward_matches_autograd(dtype):
    x, weight, bias = make_data(dtype=dtype)
    grad_output = torch.randn(6, 3, generator=torch.Generator().manual_seed(1), dtype=dtype)

    leaves = [t.clone().requires_grad_() for t in (x, weight, bias)]
    output = LogMagnitudeFunction.apply(*leaves, POSITIVE)
    ours = torch.autograd.grad(output, leaves, grad_output)

    reference_leaves = [t.clone().requires_grad_() for t in (x, weight, bias)]
    reference = torch.autograd.grad(plain_formula(*reference_leaves), reference_leaves, grad_output)

    for name, got, expected in zip(("input", "weight", "bias"), ours, reference):
        torch.testing.assert_close(got, expected, **TOLERANCES[dtype], msg=f"grad of {name}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_magnitude_backward_matches_autograd(dtype):
    x, weight, bias = make_data(dtype=dtype)
    grad_output = torch.randn(6, 3, generator=torch.Generator().manual_seed(2), dtype=dtype)
    output = plain_formula(x, weight, bias)

    ours = magnitude_backward(grad_output, x, weight, bias, output, POSITIVE)

    leaves = [t.clone().requires_grad_() for t in (x, weight, bias)]
    reference = torch.autograd.grad(plain_formula(*leaves), leaves, grad_output)
    for name, got, expected in zip(("input", "weight", "bias"), ours, reference):
        torch.testing.assert_close(got, expected, **TOLERANCES[dtype], msg=f"grad of {name}")


def test_magnitude_backward_skips_unneeded_grads():
    x, weight, bias = make_data()
    output = plain_formula(x, weight, bias)

    grads = magnitude_backward(torch.ones_like(output), x, weight, bias, output, POSITIVE, (False, True, False))

    assert grads[0] is None
    assert grads[1] is not None
    assert grads[2] is None


def test_magnitude_backward_matches_matrix_formulas():
    x, weight, bias = make_data()
    grad_output = torch.randn(6, 3, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    output = plain_formula(x, weight, bias)
    g = grad_output * output

    grad_input, grad_weight, grad_bias = magnitude_backward(grad_output, x, weight, bias, output, POSITIVE)

    torch.testing.assert_close(grad_weight, g.T @ torch.log(x))
    torch.testing.assert_close(grad_input, (g @ weight) / x)
    torch.testing.assert_close(grad_bias, g.sum(dim=0))


# Forward values.


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_forward_matches_direct_product(dtype):
    x, weight, bias = make_data(dtype=dtype)

    output = log_layer(x, weight, bias)

    expected = direct_product(x, weight, bias)
    rtol = 1e-5 if dtype == torch.float32 else 1e-13
    torch.testing.assert_close(output.double(), expected, rtol=rtol, atol=0.0)
    assert output.dtype == dtype


def test_forward_docstring_example():
    output = log_layer(torch.tensor([[2.0, 3.0]]), torch.tensor([[2.0, -1.0]]))

    torch.testing.assert_close(output, torch.tensor([[4.0 / 3.0]]))


def test_bias_scales_by_exp_bias():
    x, weight, bias = make_data()

    with_bias = log_layer(x, weight, bias)
    without_bias = log_layer(x, weight)

    torch.testing.assert_close(with_bias, without_bias * torch.exp(bias))


def test_integer_exponents_are_exact_powers():
    x = torch.tensor([[2.0, 3.0, 5.0]], dtype=torch.float64)
    weight = torch.tensor([[2.0, 1.0, -1.0], [0.0, 0.0, 0.0]], dtype=torch.float64)

    output = log_layer(x, weight)

    torch.testing.assert_close(output, torch.tensor([[12.0 / 5.0, 1.0]], dtype=torch.float64))


# Shapes, like nn.Linear.


def test_batch_shape_n_in():
    x, weight, bias = make_data(n=5)

    assert log_layer(x, weight, bias).shape == (5, 3)


def test_leading_dims_shape_and_values():
    generator = torch.Generator().manual_seed(4)
    x = 0.5 + torch.rand(2, 3, 4, 5, generator=generator, dtype=torch.float64)
    _, weight, bias = make_data(in_features=5, out_features=6)

    output = log_layer(x, weight, bias)

    assert output.shape == (2, 3, 4, 6)
    flat = log_layer(x.reshape(-1, 5), weight, bias)
    torch.testing.assert_close(output, flat.reshape(2, 3, 4, 6))


def test_one_dim_input_shape():
    x, weight, bias = make_data(n=1)

    output = log_layer(x[0], weight, bias)

    assert output.shape == (3,)
    torch.testing.assert_close(output, log_layer(x, weight, bias)[0])


def test_one_dim_input_matches_linear_shape():
    layer = LogLayer(4, 3)
    linear = torch.nn.Linear(4, 3)

    for shape in [(4,), (7, 4), (2, 3, 4)]:
        x = torch.full(shape, 1.5)
        assert layer(x).shape == linear(x).shape


def test_leading_dims_gradients_flow():
    x = 0.5 + torch.rand(2, 3, 4, dtype=torch.float64)
    layer = LogLayer(4, 2, bias=True, dtype=torch.float64)

    layer(x).sum().backward()

    assert layer.weight.grad.shape == (2, 4)
    assert layer.bias.grad.shape == (2,)


# Memory: what the backward keeps alive.


def count_saved_elements(module, x):
    """Run module(x) and return (elements saved besides parameters, elements of saved parameters)."""
    parameter_ptrs = {p.data_ptr() for p in module.parameters()}
    counts = {"other": 0, "parameters": 0}

    def pack(tensor):
        key = "parameters" if tensor.data_ptr() in parameter_ptrs else "other"
        counts[key] += tensor.numel()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        module(x)
    return counts["other"], counts["parameters"]


@pytest.mark.parametrize("bias", [False, True], ids=["no_bias", "bias"])
def test_saved_tensors_at_most_n_in_out(bias):
    n, in_features, out_features = 32, 5, 7
    layer = LogLayer(in_features, out_features, bias=bias)
    x = 0.5 + torch.rand(n, in_features)

    other, parameters = count_saved_elements(layer, x)

    assert other <= n * (in_features + out_features)
    assert parameters <= sum(p.numel() for p in layer.parameters())


# Transforms: torch.compile and torch.func.vmap.


def test_compiled_lnn_matches_eager():
    # Inductor compiles this model in about 5 s on a 2-core CPU; check_input=False keeps the
    # graph whole, because the input check reads data into Python.
    torch.manual_seed(0)
    model = LNN(3, n_terms=4, check_input=False)
    x = 1.0 + torch.rand(16, 3)
    compiled = torch.compile(model, backend="inductor", fullgraph=True)

    eager_output = model(x)
    compiled_output = compiled(x)

    torch.testing.assert_close(compiled_output, eager_output, rtol=1e-5, atol=1e-6)


def test_compiled_lnn_gradients_match_eager():
    torch.manual_seed(0)
    model = LNN(3, n_terms=4, check_input=False)
    x = 1.0 + torch.rand(16, 3)
    compiled = torch.compile(model, backend="aot_eager")

    eager_grads = torch.autograd.grad(model(x).sum(), list(model.parameters()))
    compiled_grads = torch.autograd.grad(compiled(x).sum(), list(model.parameters()))

    for eager_grad, compiled_grad in zip(eager_grads, compiled_grads):
        torch.testing.assert_close(compiled_grad, eager_grad, rtol=1e-5, atol=1e-6)


def test_compiled_lnn_with_input_check():
    torch.manual_seed(0)
    model = LNN(3, n_terms=4)
    x = 1.0 + torch.rand(16, 3)
    compiled = torch.compile(model, backend="aot_eager")

    torch.testing.assert_close(compiled(x), model(x))


def test_vmap_without_input_check():
    x, weight, bias = make_data()

    batched = torch.func.vmap(lambda row: log_layer(row, weight, bias, check_input=False))(x)

    torch.testing.assert_close(batched, log_layer(x, weight, bias))


def test_vmap_gradients_without_input_check():
    x, weight, bias = make_data()

    def loss(w, row):
        return log_layer(row, w, bias, check_input=False).sum()

    per_sample = torch.func.vmap(torch.func.grad(loss), in_dims=(None, 0))(weight, x)

    expected = torch.stack([torch.func.grad(loss)(weight, row) for row in x])
    torch.testing.assert_close(per_sample, expected)


def test_vmap_with_input_check_raises():
    x, weight, bias = make_data()

    with pytest.raises(RuntimeError, match=r"torch\.func\.vmap.*check_input=False"):
        torch.func.vmap(lambda row: log_layer(row, weight, bias))(x)


def test_vmap_layer_module_raises():
    layer = LogLayer(4, 3, dtype=torch.float64)
    x, _, _ = make_data()

    with pytest.raises(RuntimeError, match=r"validate the data beforehand and pass check_input=False"):
        torch.func.vmap(layer)(x)


# Dtypes.


@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
def test_layer_keeps_dtype(dtype):
    layer = LogLayer(4, 3, bias=True, dtype=dtype)
    x = 0.5 + torch.rand(5, 4, dtype=dtype)

    output = layer(x)
    output.sum().backward()

    assert output.dtype == dtype
    assert layer.weight.grad.dtype == dtype
    assert layer.bias.grad.dtype == dtype


# LogLayer construction.


def test_init_weights_within_bound():
    torch.manual_seed(0)
    layer = LogLayer(100, 100)

    assert layer.weight.min() >= -1.0
    assert layer.weight.max() <= 1.0
    # 10,000 draws from U(-1, 1) come close to both ends.
    assert layer.weight.min() < -0.99
    assert layer.weight.max() > 0.99


def test_init_custom_bound():
    torch.manual_seed(0)
    layer = LogLayer(50, 40, init_bound=0.25)

    assert layer.weight.abs().max() <= 0.25
    assert layer.weight.abs().max() > 0.24


def test_init_bias_zeros():
    layer = LogLayer(4, 3, bias=True)

    assert torch.equal(layer.bias, torch.zeros(3))


def test_init_without_bias():
    layer = LogLayer(4, 3)

    assert layer.bias is None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]


def test_reset_parameters_redraws_weights():
    torch.manual_seed(0)
    layer = LogLayer(4, 3, bias=True)
    with torch.no_grad():
        layer.bias.fill_(2.0)
    before = layer.weight.detach().clone()

    layer.reset_parameters()

    assert not torch.equal(layer.weight, before)
    assert torch.equal(layer.bias, torch.zeros(3))


def test_extra_repr_lists_settings():
    layer = LogLayer(4, 3, bias=True, domain="signed")

    assert layer.extra_repr() == "in_features=4, out_features=3, bias=True, domain='signed'"
    assert repr(layer) == "LogLayer(in_features=4, out_features=3, bias=True, domain='signed')"


def test_layer_matches_functional():
    torch.manual_seed(0)
    layer = LogLayer(4, 3, bias=True, dtype=torch.float64)
    with torch.no_grad():
        layer.bias.uniform_(-0.5, 0.5)
    x, _, _ = make_data()

    torch.testing.assert_close(layer(x), log_layer(x, layer.weight, layer.bias))


def test_layer_log_output_option():
    layer = LogLayer(4, 3, log_output=True, dtype=torch.float64)
    x, _, _ = make_data()

    log_abs, sign = layer(x)

    torch.testing.assert_close(log_abs, torch.log(log_layer(x, layer.weight)))
    assert torch.equal(sign, torch.ones_like(sign))


# Errors.


def test_nonpositive_input_names_count_and_features():
    weight = torch.ones(2, 4)
    x = torch.ones(3, 4)
    x[0, 1] = 0.0
    x[2, 3] = -1.0
    x[1, 3] = -2.0

    with pytest.raises(ValueError, match=r"input has 3 non-positive \(<= 0\) entries \(in feature indices 1, 3\)"):
        log_layer(x, weight)


def test_nonpositive_input_suggests_signed_domain():
    with pytest.raises(ValueError, match=r"domain='positive' needs x > 0.*use domain='signed'"):
        log_layer(torch.tensor([[1.0, -1.0]]), torch.ones(1, 2))


def test_nonpositive_input_raises_in_module():
    with pytest.raises(ValueError, match=r"1 non-positive \(<= 0\) entries \(in feature indices 0\)"):
        LogLayer(2, 1)(torch.tensor([[0.0, 1.0]]))


def test_many_bad_features_are_truncated():
    x = -torch.ones(1, 12)

    with pytest.raises(ValueError, match=r"feature indices 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, \.\.\.\)"):
        log_layer(x, torch.ones(1, 12))


def test_wrong_feature_count_raises():
    with pytest.raises(ValueError, match=r"input has 5 features.*in_features=4.*input shape \(2, 5\)"):
        log_layer(torch.ones(2, 5), torch.ones(3, 4))


def test_weight_not_2d_raises():
    with pytest.raises(ValueError, match=r"weight must be 2-D \(out_features, in_features\), got shape \(4,\)"):
        log_layer(torch.ones(2, 4), torch.ones(4))


def test_bias_shape_mismatch_raises():
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\) to match weight, got \(4,\)"):
        log_layer(torch.ones(2, 4), torch.ones(3, 4), torch.zeros(4))


def test_input_weight_dtype_mismatch_raises():
    with pytest.raises(TypeError, match=r"input and weight must share a dtype.*input\.to\(torch\.float32\)"):
        log_layer(torch.ones(2, 4, dtype=torch.float64), torch.ones(3, 4))


def test_bias_dtype_mismatch_raises():
    with pytest.raises(TypeError, match=r"bias and weight must share a dtype, got bias torch\.float64"):
        log_layer(torch.ones(2, 4), torch.ones(3, 4), torch.zeros(3, dtype=torch.float64))


def test_zero_dim_input_raises():
    with pytest.raises(ValueError, match=r"at least 1 dimension.*0-D tensor; use input\.reshape\(1, 1\)"):
        log_layer(torch.tensor(2.0), torch.ones(1, 1))


def test_unknown_domain_suggests_closest():
    with pytest.raises(ValueError, match=r"domain must be one of .*got 'postive'\. Did you mean 'positive'\?"):
        LogLayer(2, 1, domain="postive")


def test_bad_init_bound_raises():
    with pytest.raises(ValueError, match=r"init_bound must be > 0, got -1\.0"):
        LogLayer(2, 1, init_bound=-1.0)


@pytest.mark.parametrize("eps", [0.0, -1e-7, math.inf, math.nan], ids=["zero", "negative", "inf", "nan"])
def test_bad_eps_raises(eps):
    with pytest.raises(ValueError, match=r"eps must be a positive finite float or None"):
        log_layer(torch.ones(2, 2), torch.ones(1, 2), eps=eps)
