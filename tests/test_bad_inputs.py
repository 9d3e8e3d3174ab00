"""A catalogue of bad and extreme inputs to the layer, the losses and LNN: each gives a value or a clear error."""

from __future__ import annotations

import math

import pytest
import torch

from lognet import LNN, LogLayer, SPESLoss
from lognet.functional import log_layer, msle_loss, spes_loss

F64 = torch.float64
NAN = math.nan
INF = math.inf


def weight(out_features=2, in_features=3, dtype=torch.float32):
    return torch.ones(out_features, in_features, dtype=dtype)


def lnn(**kwargs):
    torch.manual_seed(0)
    return LNN(3, n_terms=2, **kwargs)


def layer_call(x, domain="positive", **kwargs):
    return lambda: log_layer(torch.tensor(x), weight(), domain=domain, **kwargs)


# Every case: (call, exception type, pattern that the message must match).
ERROR_CASES = [
    # Non-finite inputs to the layer, in each domain.
    pytest.param(
        layer_call([[1.0, NAN, 1.0]]), ValueError, r"input contains 1 NaN and 0 infinite entries out of 3; remove or impute",
        id="layer_nan_positive",
    ),
    pytest.param(
        layer_call([[1.0, NAN, NAN]], "signed"), ValueError, r"input contains 2 NaN and 0 infinite entries",
        id="layer_nan_signed",
    ),
    pytest.param(
        layer_call([[1.0, INF, 1.0]], "signed"), ValueError, r"input contains 0 NaN and 1 infinite entries out of 3",
        id="layer_posinf_signed",
    ),
    pytest.param(
        layer_call([[-INF, 1.0, 1.0]], "abs"), ValueError, r"input contains 0 NaN and 1 infinite entries",
        id="layer_neginf_abs",
    ),
    pytest.param(
        layer_call([[1.0, INF, 1.0]], eps=1e-7), ValueError, r"0 NaN and 1 infinite entries",
        id="layer_posinf_with_eps",
    ),
    # Non-positive inputs to the positive domain.
    pytest.param(
        layer_call([[1.0, 0.0, 1.0], [0.0, 2.0, 2.0]]), ValueError,
        r"input has 2 non-positive \(<= 0\) entries \(in feature indices 0, 1\).*use domain='signed'",
        id="layer_zeros_positive",
    ),
    pytest.param(
        layer_call([[1.0, 1.0, -3.0]]), ValueError,
        r"1 non-positive \(<= 0\) entries \(in feature indices 2\).*or domain='abs' for \|x\|\*\*w",
        id="layer_negative_positive",
    ),
    pytest.param(
        layer_call([[1.0, 1.0, -3.0]], eps=1e-7), ValueError, r"input has 1 negative entries \(in feature indices 2\)",
        id="layer_negative_positive_eps",
    ),
    # Shapes.
    pytest.param(
        lambda: LogLayer(0, 2), ValueError, r"in_features must be a positive int, got 0\.", id="layer_zero_features",
    ),
    pytest.param(
        lambda: LogLayer(3, 0), ValueError, r"out_features must be a positive int, got 0\.", id="layer_zero_units",
    ),
    pytest.param(
        lambda: LogLayer(2.5, 1), ValueError, r"in_features must be a positive int, got 2\.5", id="layer_float_features",
    ),
    pytest.param(
        lambda: log_layer(torch.tensor(2.0), weight()), ValueError, r"0-D tensor; use input\.reshape\(1, 1\)",
        id="layer_0d_input",
    ),
    pytest.param(
        lambda: log_layer(torch.ones(2, 3), torch.ones(1, 2, 3)), ValueError,
        r"weight must be 2-D \(out_features, in_features\), got shape \(1, 2, 3\)", id="layer_3d_weight",
    ),
    pytest.param(
        lambda: log_layer(torch.ones(2, 4), weight()), ValueError,
        r"input has 4 features in its last dimension but weight expects in_features=3", id="layer_wrong_features",
    ),
    pytest.param(
        lambda: log_layer(torch.ones(3, 2), weight()), ValueError,
        r"input has 2 features.*input shape \(3, 2\)", id="layer_transposed_input",
    ),
    pytest.param(
        lambda: log_layer(torch.ones(2, 3), weight(), torch.zeros(2, 1)), ValueError,
        r"bias must have shape \(2,\) to match weight, got \(2, 1\)", id="layer_bias_2d",
    ),
    # Dtypes.
    pytest.param(
        lambda: log_layer(torch.ones(2, 3, dtype=torch.int64), weight()), TypeError,
        r"input must be a floating-point tensor \(float32 or float64\), got torch\.int64; convert it with input\.to",
        id="layer_int_input",
    ),
    pytest.param(
        lambda: log_layer(torch.ones(2, 3, dtype=torch.bool), weight()), TypeError,
        r"got torch\.bool; convert it with input\.to\(torch\.float32\)", id="layer_bool_input",
    ),
    pytest.param(
        lambda: log_layer(torch.ones(2, 3), torch.ones(2, 3, dtype=torch.int32)), TypeError,
        r"weight must be a floating-point tensor.*got torch\.int32", id="layer_int_weight",
    ),
    pytest.param(
        lambda: log_layer(torch.ones(2, 3, dtype=torch.float16), weight(dtype=torch.float16)), TypeError,
        r"input has dtype torch\.float16.*overflows float16.*convert it with input\.float\(\)", id="layer_float16",
    ),
    pytest.param(
        lambda: log_layer(torch.ones(2, 3, dtype=torch.bfloat16), weight(dtype=torch.bfloat16)), TypeError,
        r"input has dtype torch\.bfloat16.*8-bit significand.*convert it with input\.float\(\)", id="layer_bfloat16",
    ),
    pytest.param(
        lambda: log_layer(torch.ones(2, 3, dtype=F64), weight()), TypeError,
        r"input and weight must share a dtype, got input torch\.float64 and weight torch\.float32", id="layer_mixed_dtype",
    ),
    pytest.param(
        lambda: log_layer([[1.0, 2.0, 3.0]], weight()), TypeError,
        r"input must be a torch\.Tensor, got list; wrap it with torch\.as_tensor", id="layer_list_input",
    ),
    # Options.
    pytest.param(
        lambda: LogLayer(3, 2, domain="complex"), ValueError, r"domain must be one of 'positive', 'signed', 'abs', got 'complex'",
        id="layer_unknown_domain",
    ),
    pytest.param(
        layer_call([[1.0, 2.0, 3.0]], eps=NAN), ValueError, r"eps must be a positive finite float or None, got nan",
        id="layer_nan_eps",
    ),
    # SPES and the squared log error.
    pytest.param(
        lambda: spes_loss(torch.ones(4), torch.zeros(4)), ValueError,
        r"target has 4 zero entries out of 4, and SPES divides by the target; use loss='mse'", id="spes_all_zero_targets",
    ),
    pytest.param(
        lambda: spes_loss(torch.ones(4), torch.tensor([1.0, 0.0, 2.0, 3.0])), ValueError,
        r"target has 1 zero entries out of 4", id="spes_some_zero_targets",
    ),
    pytest.param(
        lambda: spes_loss(torch.ones(2), torch.tensor([1.0, NAN])), ValueError,
        r"target contains 1 NaN and 0 infinite entries out of 2", id="spes_nan_target",
    ),
    pytest.param(
        lambda: spes_loss(torch.ones(2), torch.tensor([-INF, 1.0])), ValueError,
        r"target contains 0 NaN and 1 infinite entries", id="spes_inf_target",
    ),
    pytest.param(
        lambda: spes_loss(torch.ones(5, 1), torch.ones(5)), ValueError,
        r"same shape, got input \(5, 1\) and target \(5,\); reshape one of them", id="spes_shape_mismatch",
    ),
    pytest.param(
        lambda: spes_loss(torch.ones(0), torch.ones(0)), ValueError,
        r"input and target are empty; a loss needs at least one element", id="spes_empty",
    ),
    pytest.param(
        lambda: spes_loss(torch.ones(2, dtype=torch.int64), torch.ones(2, dtype=torch.int64)), TypeError,
        r"input must be a floating-point tensor.*got torch\.int64", id="spes_int",
    ),
    pytest.param(
        lambda: spes_loss(torch.ones(2, dtype=torch.float16), torch.ones(2, dtype=torch.float16)), TypeError,
        r"input has dtype torch\.float16", id="spes_float16",
    ),
    pytest.param(
        lambda: spes_loss(torch.ones(2), torch.ones(2, dtype=F64)), TypeError,
        r"input and target must share a dtype", id="spes_mixed_dtype",
    ),
    pytest.param(
        lambda: SPESLoss(reduction="avg"), ValueError, r"reduction must be one of 'none', 'mean', 'sum', got 'avg'",
        id="spes_bad_reduction",
    ),
    pytest.param(
        lambda: msle_loss(torch.ones(2), torch.tensor([1.0, 0.0])), ValueError,
        r"target has 1 non-positive entries, but the squared log error needs t > 0", id="msle_zero_target",
    ),
    pytest.param(
        lambda: msle_loss(torch.tensor([0.0, 1.0]), torch.ones(2)), ValueError,
        r"input has 1 non-positive predictions, whose log is undefined", id="msle_zero_prediction",
    ),
    # LNN.
    pytest.param(
        lambda: lnn()(torch.tensor([[1.0, NAN, 2.0]])), ValueError, r"input contains 1 NaN", id="lnn_nan_input",
    ),
    pytest.param(
        lambda: lnn()(torch.tensor([[1.0, -2.0, 2.0]])), ValueError,
        r"1 non-positive \(<= 0\) entries \(in feature indices 1\).*use domain='signed'", id="lnn_negative_positive",
    ),
    pytest.param(
        lambda: lnn(domain="signed")(torch.tensor([[1.0, INF, 2.0]])), ValueError, r"0 NaN and 1 infinite entries",
        id="lnn_inf_signed",
    ),
    pytest.param(
        lambda: lnn()(torch.ones(4, 2)), ValueError, r"input has 2 features.*in_features=3", id="lnn_wrong_features",
    ),
    pytest.param(
        lambda: lnn()(torch.ones(4, 3, dtype=torch.int32)), TypeError, r"got torch\.int32", id="lnn_int_input",
    ),
    pytest.param(
        lambda: lnn()(torch.ones(4, 3, dtype=F64)), TypeError,
        r"input and weight must share a dtype, got input torch\.float64 and weight torch\.float32", id="lnn_float64_input",
    ),
    pytest.param(
        lambda: LNN(3, n_terms=0), ValueError, r"n_terms must be a positive int, got 0\.", id="lnn_zero_terms",
    ),
    pytest.param(
        lambda: LNN(3, n_terms=2, out_features=0), ValueError, r"out_features must be a positive int, got 0\.",
        id="lnn_zero_outputs",
    ),
    pytest.param(
        lambda: LNN(3, n_terms=2, domain="sined"), ValueError, r"got 'sined'\. Did you mean 'signed'\?",
        id="lnn_domain_typo",
    ),
]


@pytest.mark.parametrize(("call", "error", "pattern"), ERROR_CASES)
def test_bad_input_raises(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


# Cases with a defined value.


@pytest.mark.parametrize("domain", ["positive", "signed", "abs"])
def test_case_empty_batch(domain):
    x = torch.empty(0, 3)
    w = torch.ones(2, 3, requires_grad=True)

    output = log_layer(x, w, domain=domain)
    output.sum().backward()

    assert output.shape == (0, 2)
    assert torch.equal(w.grad, torch.zeros(2, 3))


def test_case_empty_batch_leading_dims():
    output = log_layer(torch.empty(2, 0, 3), weight())

    assert output.shape == (2, 0, 2)


def test_case_empty_batch_log_output():
    log_abs, sign = log_layer(torch.empty(0, 3), weight(), log_output=True)

    assert log_abs.shape == (0, 2)
    assert sign.shape == (0, 2)


def test_case_empty_batch_lnn():
    output = lnn()(torch.empty(0, 3))

    assert output.shape == (0, 1)


def test_case_single_sample():
    x = torch.tensor([[2.0, 4.0, 8.0]], dtype=F64)
    w = torch.tensor([[1.0, 0.5, -1.0]], dtype=F64)

    output = log_layer(x, w)

    torch.testing.assert_close(output, torch.tensor([[0.5]], dtype=F64))


def test_case_single_sample_1d():
    x = torch.tensor([2.0, 4.0, 8.0], dtype=F64)
    w = torch.tensor([[1.0, 0.5, -1.0]], dtype=F64)

    output = log_layer(x, w)

    assert output.shape == (1,)
    torch.testing.assert_close(output, torch.tensor([0.5], dtype=F64))


def test_case_single_sample_lnn_1d():
    assert lnn()(torch.tensor([1.0, 2.0, 3.0])).shape == (1,)


@pytest.mark.parametrize("domain", ["signed", "abs"])
def test_case_zeros_exact(domain):
    x = torch.tensor([[0.0, 2.0, 0.0]])
    w = torch.tensor([[1.0, 1.0, 0.0], [0.0, 2.0, 0.0], [-1.0, 1.0, 0.0]])

    output = log_layer(x, w, domain=domain)

    assert output.tolist() == [[0.0, pytest.approx(4.0), INF]]


def test_case_negatives_signed():
    output = log_layer(torch.tensor([[-2.0, -3.0, 5.0]]), torch.tensor([[1.0, 1.0, 1.0], [1.0, 2.0, 0.0]]), domain="signed")

    torch.testing.assert_close(output, torch.tensor([[30.0, -18.0]]))


def test_case_negatives_abs():
    output = log_layer(torch.tensor([[-2.0, -3.0, 5.0]]), torch.tensor([[1.0, 1.0, 1.0], [1.0, 2.0, 0.0]]), domain="abs")

    torch.testing.assert_close(output, torch.tensor([[30.0, 18.0]]))


def test_case_huge_float64_log_output():
    x = torch.tensor([[1e300, 1e300]], dtype=F64)
    w = torch.tensor([[2.0, 0.0]], dtype=F64)

    log_abs, sign = log_layer(x, w, log_output=True)

    assert log_abs.item() == pytest.approx(600.0 * math.log(10.0), rel=1e-14)
    assert sign.item() == 1.0


def test_case_huge_float64_overflows_to_inf():
    # Documented: the plain output overflows to +inf past exp(709.78); log_output avoids it.
    output = log_layer(torch.tensor([[1e300]], dtype=F64), torch.tensor([[2.0]], dtype=F64))

    assert output.item() == INF


def test_case_tiny_float64_log_output():
    log_abs, _ = log_layer(torch.tensor([[1e-300]], dtype=F64), torch.tensor([[2.0]], dtype=F64), log_output=True)

    assert log_abs.item() == pytest.approx(-600.0 * math.log(10.0), rel=1e-14)


def test_case_tiny_float64_underflows_to_zero():
    output = log_layer(torch.tensor([[1e-300]], dtype=F64), torch.tensor([[2.0]], dtype=F64))

    assert output.item() == 0.0


def test_case_huge_times_tiny_exact():
    # x^2 y^2 with x = 1e300, y = 1e-300: the direct product overflows to inf * 0 = NaN, the
    # log-space sum gives 1.
    x = torch.tensor([[1e300, 1e-300]], dtype=F64)
    w = torch.tensor([[2.0, 2.0]], dtype=F64)

    direct = (x**w).prod(dim=-1)
    output = log_layer(x, w)

    assert torch.isnan(direct).all()
    assert output.item() == pytest.approx(1.0, rel=1e-12)


def test_case_huge_first_power():
    output = log_layer(torch.tensor([[1e300]], dtype=F64), torch.tensor([[1.0]], dtype=F64))

    assert output.item() == pytest.approx(1e300, rel=1e-12)


def test_case_overflow_gradient_not_nan():
    x = torch.tensor([[1e30, 2.0]], requires_grad=True)
    w = torch.tensor([[3.0, 1.0]], requires_grad=True)

    output = log_layer(x, w)
    grad_x, grad_w = torch.autograd.grad(output.sum(), (x, w))

    assert output.item() == INF
    assert not torch.isnan(grad_x).any()
    assert not torch.isnan(grad_w).any()


def test_case_constant_column():
    x = torch.tensor([[2.0, 3.0], [2.0, 5.0], [2.0, 7.0]], dtype=F64, requires_grad=True)
    w = torch.tensor([[1.5, -1.0]], dtype=F64, requires_grad=True)

    output = log_layer(x, w)
    grad_x, grad_w = torch.autograd.grad(output.sum(), (x, w))

    expected = 2.0**1.5 / torch.tensor([[3.0], [5.0], [7.0]], dtype=F64)
    torch.testing.assert_close(output.detach(), expected)
    assert torch.isfinite(grad_x).all()
    assert torch.isfinite(grad_w).all()


def test_case_constant_one_column():
    # log(1) = 0, so the exponent of an all-ones column gets a zero gradient, not NaN.
    x = torch.tensor([[1.0, 3.0], [1.0, 5.0]], dtype=F64)
    w = torch.tensor([[2.0, 1.0]], dtype=F64, requires_grad=True)

    (grad_w,) = torch.autograd.grad(log_layer(x, w).sum(), w)

    assert grad_w[0, 0].item() == 0.0


def test_case_zero_weights_give_one():
    output = log_layer(torch.tensor([[7.0, 0.5, 3.0]]), torch.zeros(2, 3))

    assert torch.equal(output, torch.ones(1, 2))


def test_case_spes_infinite_prediction():
    loss = spes_loss(torch.tensor([INF, 1.0]), torch.tensor([2.0, 1.0]), reduction="none")

    assert loss.tolist() == [INF, 0.0]


def test_case_spes_negative_targets():
    loss = spes_loss(torch.tensor([-1.0]), torch.tensor([-2.0]))

    assert loss.item() == pytest.approx(0.125)


def test_case_lnn_no_nan_on_valid_extremes():
    # Exponents start in U(-1, 1), so the log-space sum stays within +-2 * log(1e100) = +-461,
    # inside float64's exp range.
    model = lnn(dtype=F64)
    x = torch.tensor([[1e-100, 1e100, 1.0], [1.0, 1.0, 1.0]], dtype=F64)

    output = model(x)

    assert not torch.isnan(output).any()
