"""Tests for the relative-error losses: SPES and the squared log error."""

from __future__ import annotations

import math

import pytest
import torch

from lognet import MSLELoss, SPESLoss
from lognet.functional import msle_loss, spes_loss

F64 = torch.float64

PREDICTION = [1.1, 1.8, -2.5, 40.0]
TARGET = [1.0, 2.0, -2.0, 50.0]


def spes_by_hand():
    """Per-element 0.5 * ((t - y) / t)^2 computed one float at a time."""
    return [0.5 * ((t - y) / t) ** 2 for y, t in zip(PREDICTION, TARGET)]


def spes_grad_by_hand():
    """d/dy of the summed SPES: (y - t) / t^2."""
    return [(y - t) / t**2 for y, t in zip(PREDICTION, TARGET)]


def data(requires_grad=False):
    return torch.tensor(PREDICTION, dtype=F64, requires_grad=requires_grad), torch.tensor(TARGET, dtype=F64)


# SPES values.


def test_spes_none_values():
    y, t = data()

    loss = spes_loss(y, t, reduction="none")

    torch.testing.assert_close(loss, torch.tensor(spes_by_hand(), dtype=F64))
    assert loss.shape == (4,)


def test_spes_sum_value():
    y, t = data()

    loss = spes_loss(y, t, reduction="sum")

    assert loss.item() == pytest.approx(sum(spes_by_hand()))
    assert loss.shape == ()


def test_spes_mean_value():
    y, t = data()

    loss = spes_loss(y, t, reduction="mean")

    assert loss.item() == pytest.approx(sum(spes_by_hand()) / 4)


def test_spes_default_reduction_mean():
    y, t = data()

    assert spes_loss(y, t).item() == pytest.approx(sum(spes_by_hand()) / 4)


def test_spes_docstring_example():
    loss = spes_loss(torch.tensor([1.1, 1.8]), torch.tensor([1.0, 2.0]), reduction="sum")

    assert loss.item() == pytest.approx(0.01, rel=1e-5)


def test_spes_scale_free():
    y, t = data()

    torch.testing.assert_close(spes_loss(1000.0 * y, 1000.0 * t), spes_loss(y, t))


def test_spes_exact_prediction_zero():
    _, t = data()

    assert spes_loss(t.clone(), t, reduction="sum").item() == 0.0


# SPES gradients.


def test_spes_sum_gradient():
    y, t = data(requires_grad=True)

    (grad,) = torch.autograd.grad(spes_loss(y, t, reduction="sum"), y)

    torch.testing.assert_close(grad, torch.tensor(spes_grad_by_hand(), dtype=F64))


def test_spes_mean_gradient():
    y, t = data(requires_grad=True)

    (grad,) = torch.autograd.grad(spes_loss(y, t, reduction="mean"), y)

    torch.testing.assert_close(grad, torch.tensor(spes_grad_by_hand(), dtype=F64) / 4)


def test_spes_none_gradient():
    y, t = data(requires_grad=True)
    weights = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=F64)

    (grad,) = torch.autograd.grad(spes_loss(y, t, reduction="none"), y, weights)

    torch.testing.assert_close(grad, weights * torch.tensor(spes_grad_by_hand(), dtype=F64))


def test_spes_mean_gradient_2d_divides_numel():
    y = torch.full((3, 5), 2.0, dtype=F64, requires_grad=True)
    t = torch.full((3, 5), 4.0, dtype=F64)

    (grad,) = torch.autograd.grad(spes_loss(y, t), y)

    # (y - t) / t^2 / numel = (2 - 4) / 16 / 15.
    torch.testing.assert_close(grad, torch.full((3, 5), -2.0 / 16.0 / 15.0, dtype=F64))


def test_spes_gradcheck():
    y, t = data(requires_grad=True)

    assert torch.autograd.gradcheck(lambda a: spes_loss(a, t, reduction="sum"), (y,))


# SPESLoss module.


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_spes_module_matches_functional(reduction):
    y, t = data()

    module = SPESLoss(reduction=reduction)

    torch.testing.assert_close(module(y, t), spes_loss(y, t, reduction=reduction))
    assert module.reduction == reduction


def test_spes_module_default_mean():
    assert SPESLoss().reduction == "mean"


def test_spes_module_float32():
    loss = SPESLoss()(torch.tensor([1.1]), torch.tensor([1.0]))

    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(0.005, rel=1e-5)


# Squared log error.


def test_msle_values_and_gradient():
    y = torch.tensor([1.5, 2.0, 8.0], dtype=F64, requires_grad=True)
    t = torch.tensor([1.0, 4.0, 8.0], dtype=F64)

    loss = msle_loss(y, t, reduction="none")
    (grad,) = torch.autograd.grad(loss.sum(), y)

    expected = [0.5 * math.log(1.5) ** 2, 0.5 * math.log(0.5) ** 2, 0.0]
    torch.testing.assert_close(loss.detach(), torch.tensor(expected, dtype=F64))
    # d/dy 0.5 (log y - log t)^2 = (log y - log t) / y.
    expected_grad = [math.log(1.5) / 1.5, math.log(0.5) / 2.0, 0.0]
    torch.testing.assert_close(grad, torch.tensor(expected_grad, dtype=F64))


def test_msle_symmetric_in_ratio():
    t = torch.tensor([3.0], dtype=F64)

    double = msle_loss(torch.tensor([6.0], dtype=F64), t)
    half = msle_loss(torch.tensor([1.5], dtype=F64), t)

    torch.testing.assert_close(double, half)


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_msle_module_matches_functional(reduction):
    y = torch.tensor([1.5, 2.0, 8.0])
    t = torch.tensor([1.0, 4.0, 9.0])

    torch.testing.assert_close(MSLELoss(reduction)(y, t), msle_loss(y, t, reduction=reduction))


def test_msle_mean_is_sum_over_numel():
    y = torch.tensor([1.5, 2.0, 8.0], dtype=F64)
    t = torch.tensor([1.0, 4.0, 9.0], dtype=F64)

    torch.testing.assert_close(msle_loss(y, t), msle_loss(y, t, reduction="sum") / 3)


def test_msle_nonpositive_target_raises():
    with pytest.raises(ValueError, match=r"target has 2 non-positive entries.*use loss='mse' or loss='spes'"):
        msle_loss(torch.ones(3), torch.tensor([1.0, 0.0, -1.0]))


def test_msle_nonpositive_prediction_raises():
    with pytest.raises(ValueError, match=r"input has 1 non-positive predictions.*use loss='spes'"):
        msle_loss(torch.tensor([1.0, -0.5]), torch.ones(2))


# Errors.


def test_spes_zero_targets_raise():
    with pytest.raises(ValueError, match=r"target has 2 zero entries out of 5.*use loss='mse'"):
        spes_loss(torch.ones(5), torch.tensor([1.0, 0.0, 2.0, 0.0, 3.0]))


def test_spes_module_zero_target_raises():
    with pytest.raises(ValueError, match=r"target has 1 zero entries out of 2, and SPES divides by the target"):
        SPESLoss()(torch.ones(2), torch.tensor([0.0, 1.0]))


def test_spes_shape_mismatch_raises():
    with pytest.raises(ValueError, match=r"same shape, got input \(4,\) and target \(4, 1\).*target\.reshape"):
        spes_loss(torch.ones(4), torch.ones(4, 1))


def test_spes_no_broadcasting():
    with pytest.raises(ValueError, match=r"got input \(3, 1\) and target \(3,\)"):
        spes_loss(torch.ones(3, 1), torch.ones(3))


def test_spes_dtype_mismatch_raises():
    with pytest.raises(TypeError, match=r"input and target must share a dtype, got torch\.float32 and torch\.float64"):
        spes_loss(torch.ones(2), torch.ones(2, dtype=F64))


def test_spes_bad_reduction_suggests():
    with pytest.raises(ValueError, match=r"reduction must be one of 'none', 'mean', 'sum', got 'sums'\. Did you mean 'sum'\?"):
        spes_loss(torch.ones(2), torch.ones(2), reduction="sums")


def test_spes_module_bad_reduction_raises():
    with pytest.raises(ValueError, match=r"reduction must be one of .*got 'average'"):
        SPESLoss(reduction="average")


def test_msle_module_bad_reduction_suggests():
    with pytest.raises(ValueError, match=r"got 'nones'\. Did you mean 'none'\?"):
        MSLELoss(reduction="nones")


@pytest.mark.parametrize("loss_fn", [spes_loss, msle_loss])
def test_loss_rejects_nan_predictions(loss_fn):
    input = torch.tensor([1.0, math.nan, 2.0])
    target = torch.tensor([1.0, 1.5, 2.0])

    with pytest.raises(ValueError, match=r"input \(the predictions\) contains 1 NaN entries out of 3"):
        loss_fn(input, target)
