"""Tests for the signed and abs domains: signs, exact powers of zero, log-space output and eps."""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

from lognet import LogLayer
from lognet.functional import log_layer

F64 = torch.float64


def tensor(values, dtype=F64, requires_grad=False):
    return torch.tensor(values, dtype=dtype, requires_grad=requires_grad)


def value_and_grads(x, weight, domain, bias=None):
    """Return (output, d sum(output)/dx, d sum(output)/dW) for float64 copies of the arguments."""
    x = tensor(x, requires_grad=True)
    weight = tensor(weight, requires_grad=True)
    output = log_layer(x, weight, bias, domain=domain)
    grad_x, grad_weight = torch.autograd.grad(output.sum(), (x, weight))
    return output.detach(), grad_x, grad_weight


def nonzero_mixed_sign_data(seed=0):
    """Inputs of both signs with |x| in [0.5, 2.5), exponents in [-1.5, 1.5), a bias."""
    generator = torch.Generator().manual_seed(seed)
    magnitude = 0.5 + 2.0 * torch.rand(5, 3, generator=generator, dtype=F64)
    sign = torch.where(torch.rand(5, 3, generator=generator, dtype=F64) < 0.5, -1.0, 1.0)
    weight = 3.0 * torch.rand(2, 3, generator=generator, dtype=F64) - 1.5
    bias = torch.rand(2, generator=generator, dtype=F64) - 0.5
    return magnitude * sign, weight, bias


# Signed domain values.


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=["float32", "float64"])
def test_signed_product_of_signs(dtype):
    output = log_layer(tensor([[-2.0, 3.0]], dtype), tensor([[1.0, 1.0]], dtype), domain="signed")

    assert output.item() == -6.0


def test_signed_even_power_positive():
    output = log_layer(tensor([[-2.0]]), tensor([[2.0]]), domain="signed")

    assert output.item() == 4.0


def test_signed_odd_power_negative():
    output = log_layer(tensor([[-2.0]]), tensor([[3.0]]), domain="signed")

    torch.testing.assert_close(output, tensor([[-8.0]]))


def test_signed_zero_weight_keeps_sign():
    x = tensor([[-5.0, 2.0], [-5.0, -2.0]])
    weight = tensor([[0.0, 1.0]])

    output = log_layer(x, weight, domain="signed")

    torch.testing.assert_close(output, tensor([[2.0], [-2.0]]))


def test_signed_cube_root_principal_branch():
    output = log_layer(tensor([[-8.0]]), tensor([[1.0 / 3.0]]), domain="signed")

    # Re((-8)^(1/3)) = 2 cos(pi / 3) on the principal branch, not the real cube root -2.
    torch.testing.assert_close(output, tensor([[1.0]]))


def test_signed_matches_complex_power():
    x, weight, bias = nonzero_mixed_sign_data()

    output = log_layer(x, weight, bias, domain="signed")

    expected = torch.empty(5, 2, dtype=F64)
    for n in range(5):
        for j in range(2):
            product = complex(math.exp(bias[j]))
            for i in range(3):
                product *= complex(x[n, i].item()) ** weight[j, i].item()
            expected[n, j] = product.real
    torch.testing.assert_close(output, expected)


def test_abs_domain_uses_magnitude():
    x, weight, bias = nonzero_mixed_sign_data()

    output = log_layer(x, weight, bias, domain="abs")

    expected = (x.abs()[:, None, :] ** weight[None]).prod(dim=-1) * torch.exp(bias)
    torch.testing.assert_close(output, expected)


def test_abs_domain_even_for_odd_power():
    output = log_layer(tensor([[-2.0, 3.0]]), tensor([[3.0, 1.0]]), domain="abs")

    torch.testing.assert_close(output, tensor([[24.0]]))


# Exact powers of zero.


@pytest.mark.parametrize("domain", ["signed", "abs"])
@pytest.mark.parametrize(
    ("exponent", "expected"),
    [(2.0, 0.0), (1.0, 0.0), (0.5, 0.0), (0.0, 1.0), (-1.0, math.inf)],
    ids=["w_2", "w_1", "w_half", "w_0", "w_minus_1"],
)
def test_zero_power_value(domain, exponent, expected):
    output = log_layer(tensor([[0.0]]), tensor([[exponent]]), domain=domain)

    assert output.item() == expected


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=["float32", "float64"])
def test_zero_to_one_exact_zero(dtype):
    output = log_layer(tensor([[0.0]], dtype), tensor([[1.0]], dtype), domain="abs")

    assert output.item() == 0.0


@pytest.mark.parametrize("dtype", [torch.float32, F64], ids=["float32", "float64"])
def test_zero_to_zero_exact_one(dtype):
    output = log_layer(tensor([[0.0]], dtype), tensor([[0.0]], dtype), domain="abs")

    assert output.item() == 1.0


def test_zero_positive_beats_negative_exponent():
    # 0**2 * 0**-1: the exact 0 wins over the inf, by the convention 0 * inf = 0.
    output = log_layer(tensor([[0.0, 0.0]]), tensor([[2.0, -1.0]]), domain="abs")

    assert output.item() == 0.0


# Gradients at a zero input, one test per row of the table in docs/math.md. The unit is
# y = 0**w * r with r the other factor, here x = (0, other) and W = (w, 1).
# Columns: w, y, dy/dx_0, dy/dW_0, dy/dx_1, dy/dW_1.
ZERO_TABLE = {
    "w_above_1": (2.0, "0", "0", "0", "0", "0"),
    "w_equal_1": (1.0, "0", "r", "0", "0", "0"),
    "w_between_0_and_1": (0.5, "0", "0", "0", "0", "0"),
    "w_equal_0": (0.0, "r", "0", "0", "1", "r log|r|"),
    "w_below_0": (-1.0, "inf", "0", "0", "0", "0"),
}


def table_value(entry, other):
    return {
        "0": 0.0,
        "1": 1.0,
        "r": other,
        "inf": math.inf,
        "r log|r|": other * math.log(abs(other)),
    }[entry]


@pytest.mark.parametrize("row", list(ZERO_TABLE), ids=list(ZERO_TABLE))
@pytest.mark.parametrize(("domain", "other"), [("abs", 3.0), ("signed", 3.0), ("signed", -3.0)])
def test_zero_input_gradient_table(row, domain, other):
    exponent, value, dx0, dw0, dx1, dw1 = ZERO_TABLE[row]
    expected = [table_value(entry, other) for entry in (value, dx0, dw0, dx1, dw1)]
    if domain == "abs" and value == "r":
        expected[0] = abs(other)
    if domain == "signed" and value == "inf":
        # 0**w with w < 0 is +inf; the other factor's phase still applies, so r < 0 gives -inf.
        expected[0] = math.copysign(math.inf, other)

    output, grad_x, grad_weight = value_and_grads([[0.0, other]], [[exponent, 1.0]], domain)

    assert output.item() == pytest.approx(expected[0])
    assert grad_x[0, 0].item() == pytest.approx(expected[1])
    assert grad_weight[0, 0].item() == pytest.approx(expected[2])
    assert grad_x[0, 1].item() == pytest.approx(expected[3])
    assert grad_weight[0, 1].item() == pytest.approx(expected[4])


@pytest.mark.parametrize("domain", ["signed", "abs"])
def test_zero_one_sided_derivative_w1(domain):
    # For w = 1 the right-hand derivative at 0 is the product of the other factors, here 3 * 4 * e^0.5.
    x = tensor([[0.0, 3.0, 4.0]], requires_grad=True)
    weight = tensor([[1.0, 1.0, 1.0]])
    bias = tensor([0.5])

    output = log_layer(x, weight, bias, domain=domain)
    (grad_x,) = torch.autograd.grad(output.sum(), x)

    assert grad_x[0, 0].item() == pytest.approx(12.0 * math.exp(0.5))


def test_zero_w1_with_second_zero():
    # Another zero with a positive exponent keeps the unit at 0 for every x_0, so dy/dx_0 = 0.
    _, grad_x, _ = value_and_grads([[0.0, 0.0]], [[1.0, 2.0]], "abs")

    assert torch.equal(grad_x, torch.zeros(1, 2, dtype=F64))


def test_zero_w1_with_zero_weight_zero():
    # A second zero with exponent 0 is the factor 1 and does not stop the gradient.
    _, grad_x, _ = value_and_grads([[0.0, 0.0, 5.0]], [[1.0, 0.0, 1.0]], "abs")

    assert grad_x[0, 0].item() == pytest.approx(5.0)
    assert grad_x[0, 1].item() == 0.0


@pytest.mark.parametrize("domain", ["signed", "abs"])
def test_zero_sample_isolated_from_others(domain):
    x_values = [[0.0, 2.0], [3.0, 4.0]]
    weight_values = [[-1.0, 1.0], [1.0, 0.5]]

    output, grad_x, grad_weight = value_and_grads(x_values, weight_values, domain)
    alone_output, alone_grad_x, alone_grad_weight = value_and_grads(x_values[1:], weight_values, domain)

    assert output[0].tolist() == [math.inf, 0.0]
    torch.testing.assert_close(output[1:], alone_output)
    torch.testing.assert_close(grad_x[1:], alone_grad_x)
    # The inf and the 0 of sample 0 contribute nothing to either unit's weight gradient.
    torch.testing.assert_close(grad_weight, alone_grad_weight)
    assert torch.isfinite(grad_x).all()


@pytest.mark.parametrize("domain", ["signed", "abs"])
def test_zero_no_nan_second_order(domain):
    x = tensor([[0.0, 3.0], [2.0, -5.0]], requires_grad=True)
    for exponent in (2.0, 1.0, 0.5, 0.0, -1.0):
        weight = tensor([[exponent, 1.0]], requires_grad=True)
        output = log_layer(x, weight, domain=domain)
        grad_x, grad_weight = torch.autograd.grad(output.sum(), (x, weight), create_graph=True)
        second = torch.autograd.grad(grad_x.sum() + grad_weight.sum(), (x, weight))

        assert not any(torch.isnan(t).any() for t in second), f"NaN in second derivatives for w={exponent}"


def test_signed_overflow_gradient_not_nan():
    # |y| overflows to inf with no negative input, so sin(phase) = 0 meets an inf.
    x = tensor([[1e30, 2.0]], torch.float32, requires_grad=True)
    weight = tensor([[3.0, 1.0]], torch.float32, requires_grad=True)

    output = log_layer(x, weight, domain="signed")
    grad_x, grad_weight = torch.autograd.grad(output.sum(), (x, weight))

    assert output.item() == math.inf
    assert not torch.isnan(grad_x).any()
    assert not torch.isnan(grad_weight).any()


# Gradients on nonzero inputs.


@pytest.mark.parametrize("domain", ["signed", "abs"])
def test_gradcheck_nonzero_domain(domain):
    x, weight, bias = nonzero_mixed_sign_data()
    inputs = (x.requires_grad_(), weight.requires_grad_(), bias.requires_grad_())

    assert gradcheck(lambda *args: log_layer(*args, domain=domain), inputs)


@pytest.mark.parametrize("domain", ["signed", "abs"])
def test_gradgradcheck_nonzero_domain(domain):
    x, weight, bias = nonzero_mixed_sign_data()
    inputs = (x.requires_grad_(), weight.requires_grad_(), bias.requires_grad_())

    assert gradgradcheck(lambda *args: log_layer(*args, domain=domain), inputs)


@pytest.mark.parametrize("domain", ["signed", "abs"])
def test_gradcheck_log_output_domain(domain):
    x, weight, bias = nonzero_mixed_sign_data()
    inputs = (x.requires_grad_(), weight.requires_grad_(), bias.requires_grad_())

    assert gradcheck(lambda *args: log_layer(*args, domain=domain, log_output=True)[0], inputs)


def test_signed_weight_gradient_closed_form():
    x, weight, bias = nonzero_mixed_sign_data()
    grad_output = torch.randn(5, 2, generator=torch.Generator().manual_seed(5), dtype=F64)
    weight.requires_grad_()

    output = log_layer(x, weight, bias, domain="signed")
    (grad_weight,) = torch.autograd.grad(output, weight, grad_output)

    # dy/dw_ji = y_j log|x_i| - pi |y_j|_mag sin(phase_j) [x_i < 0], with
    # |y|_mag = exp(log|x| @ W.T + b) and phase = pi [x < 0] @ W.T.
    with torch.no_grad():
        negative = (x < 0).to(F64)
        magnitude = torch.exp(torch.log(x.abs()) @ weight.T + bias)
        phase = math.pi * negative @ weight.T
        y = magnitude * torch.cos(phase)
        closed_form = (grad_output * y).T @ torch.log(x.abs())
        closed_form -= math.pi * (grad_output * magnitude * torch.sin(phase)).T @ negative
    torch.testing.assert_close(grad_weight, closed_form)


def test_signed_gradient_continuous_through_zero():
    # With w = 1 the signed unit is x * r, so its derivative at 0 equals the derivative nearby.
    x_zero = tensor([[0.0, -3.0]], requires_grad=True)
    x_near = tensor([[-1e-9, -3.0]], requires_grad=True)
    weight = tensor([[1.0, 2.0]])

    (grad_zero,) = torch.autograd.grad(log_layer(x_zero, weight, domain="signed").sum(), x_zero)
    (grad_near,) = torch.autograd.grad(log_layer(x_near, weight, domain="signed").sum(), x_near)

    assert grad_zero[0, 0].item() == pytest.approx(grad_near[0, 0].item())
    assert grad_zero[0, 0].item() == pytest.approx(9.0)


# Log-space output.


@pytest.mark.parametrize("domain", ["signed", "abs"])
def test_log_output_matches_plain_output(domain):
    x, weight, bias = nonzero_mixed_sign_data()

    log_abs, sign = log_layer(x, weight, bias, domain=domain, log_output=True)
    output = log_layer(x, weight, bias, domain=domain)

    torch.testing.assert_close(log_abs, torch.log(output.abs()))
    assert torch.equal(sign, torch.sign(output))


def test_log_output_signed_negative_sign():
    log_abs, sign = log_layer(tensor([[-2.0, 3.0]]), tensor([[1.0, 1.0]]), domain="signed", log_output=True)

    torch.testing.assert_close(log_abs, tensor([[math.log(6.0)]]))
    assert sign.item() == -1.0


def test_log_output_no_overflow_float32():
    x = tensor([[1e30]], torch.float32)
    weight = tensor([[3.0]], torch.float32)

    output = log_layer(x, weight)
    log_abs, sign = log_layer(x, weight, log_output=True)

    assert output.item() == math.inf
    assert log_abs.item() == pytest.approx(90.0 * math.log(10.0), rel=1e-6)
    assert sign.item() == 1.0


def test_log_output_zero_inputs():
    x = tensor([[0.0, 3.0]] * 3)
    weight = tensor([[2.0, 1.0], [0.0, 1.0], [-1.0, 1.0]])

    log_abs, sign = log_layer(x, weight, domain="abs", log_output=True)

    assert log_abs[0].tolist() == [-math.inf, pytest.approx(math.log(3.0)), math.inf]


def test_log_output_zero_gradients_finite():
    x = tensor([[0.0, 3.0]], requires_grad=True)
    weight = tensor([[2.0, 1.0], [0.0, 1.0], [-1.0, 1.0]], requires_grad=True)

    log_abs, _ = log_layer(x, weight, domain="signed", log_output=True)
    grad_x, grad_weight = torch.autograd.grad(log_abs.sum(), (x, weight))

    assert torch.isfinite(grad_x).all()
    assert torch.isfinite(grad_weight).all()


def test_log_output_sign_has_no_gradient():
    x = tensor([[-2.0, 3.0]])
    weight = tensor([[1.0, 1.0]], requires_grad=True)

    _, sign = log_layer(x, weight, domain="signed", log_output=True)

    assert not sign.requires_grad


# NALU-style eps.


def test_eps_off_by_default():
    layer = LogLayer(2, 1)

    assert layer.eps is None
    with pytest.raises(ValueError, match=r"1 non-positive \(<= 0\) entries"):
        layer(torch.tensor([[0.0, 1.0]]))


def test_eps_smooths_magnitude():
    x = tensor([[0.0, 2.0], [-3.0, 0.5]])
    weight = tensor([[-1.0, 1.0], [2.0, 0.5]])

    output = log_layer(x, weight, domain="abs", eps=1e-7)

    expected = ((x.abs() + 1e-7)[:, None, :] ** weight[None]).prod(dim=-1)
    torch.testing.assert_close(output, expected)
    assert output[0, 0].item() == pytest.approx(2e7)


def test_eps_positive_domain_accepts_zeros():
    output = log_layer(tensor([[0.0, 4.0]]), tensor([[1.0, 0.5]]), eps=1e-7)

    assert output.item() == pytest.approx(2e-7)


def test_eps_positive_domain_rejects_negatives():
    with pytest.raises(ValueError, match=r"input has 1 negative entries \(in feature indices 0\)"):
        log_layer(tensor([[-1.0, 4.0]]), tensor([[1.0, 0.5]]), eps=1e-7)


def test_eps_signed_keeps_sign():
    output = log_layer(tensor([[-2.0, 3.0]]), tensor([[1.0, 1.0]]), domain="signed", eps=1e-7)

    assert output.item() == pytest.approx(-6.0, rel=1e-6)


def test_eps_gradient_flows_through_abs():
    x = tensor([[-2.0, 0.5]], requires_grad=True)
    weight = tensor([[2.0, 1.0]])

    (grad_x,) = torch.autograd.grad(log_layer(x, weight, domain="abs", eps=1e-7).sum(), x)

    # d/dx (|x0| + eps)^2 (|x1| + eps) at x0 = -2 is 2 (|x0| + eps) sign(x0) (|x1| + eps).
    assert grad_x[0, 0].item() == pytest.approx(-2.0 * 2.0 * 0.5, rel=1e-6)


# Regression tests: failures of other implementations that lognet avoids.


def test_regression_nalu_sign_lost():
    x = tensor([[-2.0, 3.0]])
    weight = tensor([[1.0, 1.0]])

    nalu = torch.exp(torch.log(x.abs() + 1e-7) @ weight.T)
    lognet = log_layer(x, weight, domain="signed")

    assert nalu.item() == pytest.approx(6.0)
    assert lognet.item() == -6.0


def test_regression_eps_clamp_blows_up():
    x = tensor([[0.0]], torch.float32)
    weight = tensor([[-1.0]], torch.float32, requires_grad=True)

    clamped = torch.exp(torch.log(x.abs() + 1e-7) @ weight.T)
    (clamped_grad,) = torch.autograd.grad(clamped.sum(), weight)
    exact = log_layer(x, weight, domain="abs")
    (exact_grad,) = torch.autograd.grad(exact.sum(), weight)

    assert clamped.item() == pytest.approx(1e7, rel=1e-6)
    assert clamped_grad.item() == pytest.approx(-1.6118e8, rel=1e-4)
    assert exact.item() == math.inf
    assert exact_grad.item() == 0.0


def test_regression_pow_nan_negative_base():
    x = tensor([[-8.0]])
    weight = tensor([[1.0 / 3.0]])

    assert torch.isnan(x.pow(weight)).all()
    assert log_layer(x, weight, domain="signed").item() == pytest.approx(1.0)


def test_regression_log_exp_nan_gradient_at_zero():
    x = tensor([[0.0]], requires_grad=True)
    weight = tensor([[7.0]], requires_grad=True)

    naive = torch.exp(torch.log(x) @ weight.T)
    naive_grads = torch.autograd.grad(naive.sum(), (x, weight))
    output = log_layer(x, weight, domain="abs")
    grad_x, grad_weight = torch.autograd.grad(output.sum(), (x, weight))

    assert torch.isnan(naive_grads[0]).all()
    assert torch.isnan(naive_grads[1]).all()
    assert output.item() == 0.0
    assert grad_x.item() == 0.0
    assert grad_weight.item() == 0.0


def test_regression_pow_nan_weight_grad_negative_base():
    x = tensor([[-2.0]])
    weight = tensor([[2.0]], requires_grad=True)

    (naive_grad,) = torch.autograd.grad(x.pow(weight).sum(), weight)
    (grad_weight,) = torch.autograd.grad(log_layer(x, weight, domain="signed").sum(), weight)

    assert torch.isnan(naive_grad).all()
    # d/dw Re((-2)^w) at w = 2 is 4 log 2 - 4 pi sin(2 pi) = 4 log 2.
    assert grad_weight.item() == pytest.approx(4.0 * math.log(2.0))


def test_regression_where_leaks_nan_at_zero():
    x = tensor([[0.0, 2.0]], requires_grad=True)
    weight = tensor([[2.0, 1.0]])

    # The branch not taken still runs log(0) and its gradient 1/0, and where's backward
    # multiplies that inf by 0.
    naive = torch.where(x == 0, torch.zeros_like(x), torch.exp(torch.log(x) * weight)).prod(dim=-1)
    (naive_grad,) = torch.autograd.grad(naive.sum(), x)
    (grad_x,) = torch.autograd.grad(log_layer(x, weight, domain="abs").sum(), x)

    assert torch.isnan(naive_grad).any()
    assert torch.isfinite(grad_x).all()
    assert grad_x.tolist() == [[0.0, 0.0]]


def test_regression_zero_weight_sign_flip():
    x = tensor([[-2.0, 3.0]])
    weight = tensor([[0.0, 1.0]])

    naive_sign = torch.sign(x).prod(dim=-1, keepdim=True)
    naive = naive_sign * torch.exp(torch.log(x.abs()) @ weight.T)
    output = log_layer(x, weight, domain="signed")

    assert naive.item() == pytest.approx(-3.0)
    assert output.item() == pytest.approx(3.0)
