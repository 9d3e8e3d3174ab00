"""Tests of lognet.fit: each engine stage on small fixed-seed cases, inputs and errors."""

import warnings

import numpy as np
import pandas as pd
import pytest
import torch

import lognet
from lognet._basis import Design, evaluate
from lognet._engine import EngineOptions, warm_start
from lognet._population import loss_and_grad, search, solve_coefficients


def uniform_inputs(n=300, d=2, seed=0):
    return np.random.default_rng(seed).uniform(1, 10, (n, d))


def test_warm_start_exact_for_monomial():
    X = torch.from_numpy(uniform_inputs())
    y = 2.0 * X[:, 0] ** 1.5 * X[:, 1] ** -0.5
    exponents = warm_start(Design.from_inputs(X, "positive"), -y)
    assert torch.allclose(exponents, torch.tensor([1.5, -0.5], dtype=torch.float64), atol=1e-10)


def test_solve_coefficients_recovers_linear_part():
    X = torch.from_numpy(uniform_inputs())
    weight = torch.tensor([[[1.0, 0.0], [0.0, 2.0]]], dtype=torch.float64)
    phi = evaluate(Design.from_inputs(X, "positive"), weight)
    y = 3 * X[:, 0] - 0.5 * X[:, 1] ** 2 + 4
    coef, intercept, loss = solve_coefficients(phi, y, torch.ones_like(y), bias=True)
    assert torch.allclose(coef[0], torch.tensor([3.0, -0.5], dtype=torch.float64), atol=1e-6)
    assert abs(float(intercept[0]) - 4) < 1e-5
    assert float(loss[0]) < 1e-11


@pytest.mark.parametrize("domain", ["positive", "signed"])
def test_population_gradient_matches_autograd(domain):
    generator = torch.Generator().manual_seed(1)
    X = torch.rand(40, 3, generator=generator, dtype=torch.float64) * 3 + 0.5
    if domain == "signed":
        X = X * torch.where(torch.rand(40, 3, generator=generator) < 0.3, -1.0, 1.0).double()
    y = torch.randn(40, generator=generator, dtype=torch.float64)
    sample_weight = torch.rand(40, generator=generator, dtype=torch.float64) + 0.5
    design = Design.from_inputs(X, domain)
    weight = torch.randn(3, 2, 3, generator=generator, dtype=torch.float64, requires_grad=True)
    loss, grad = loss_and_grad(design, weight.detach(), y, sample_weight, bias=True)

    phi = evaluate(design, weight)
    A = torch.cat([phi, torch.ones_like(phi[..., :1])], -1) * sample_weight[:, None]
    rhs = y * sample_weight
    solution = torch.linalg.lstsq(A, rhs.expand(3, -1).unsqueeze(-1)).solution
    reference = (((A @ solution).squeeze(-1) - rhs) ** 2).sum(-1) / (rhs @ rhs)
    reference.sum().backward()
    assert torch.allclose(loss, reference.detach(), atol=1e-12)
    assert torch.allclose(grad, weight.grad, atol=1e-10)


def test_search_rolls_back_diverging_candidates():
    X = torch.from_numpy(uniform_inputs(100, 1))
    y = X[:, 0] ** 2
    design = Design.from_inputs(X, "positive")
    start = torch.tensor([[[2.5]], [[400.0]]], dtype=torch.float64)  # 10**400 overflows
    weights, losses = search(design, y, torch.ones_like(y), start, bias=False, steps=200, lr=0.05)
    assert torch.isfinite(weights).all()
    assert abs(float(weights[0, 0, 0]) - 2) < 0.05
    assert float(weights[1, 0, 0]) == 400.0
    assert torch.isinf(losses[1])


def test_fit_recovers_monomial():
    X = uniform_inputs()
    result = lognet.fit(X, -3.0 * X[:, 0] ** 2 * X[:, 1] ** -1.5, random_state=0)
    assert result.n_terms == 1
    assert np.allclose(result.weight, [[2.0, -1.5]], atol=1e-8)
    assert np.allclose(result.coef, [-3.0])
    assert result.intercept is None


def test_fit_recovers_two_term_sum():
    X = uniform_inputs(400, 3, seed=2)
    y = 3 * X[:, 0] ** 2 - 1.5 * X[:, 1] ** 0.5 * X[:, 2]
    result = lognet.fit(X, y, random_state=0)
    order = np.argsort(-result.coef)
    assert result.n_terms == 2
    assert np.allclose(result.weight[order], [[2, 0, 0], [0, 0.5, 1]], atol=1e-8)
    assert np.allclose(result.coef[order], [3, -1.5])


def test_fit_recovers_sum_with_noise():
    X = uniform_inputs(1000, 2, seed=3)
    clean = 2 * X[:, 0] ** 1.5 + 0.5 * X[:, 0] ** -1 * X[:, 1] ** 2
    y = clean + np.random.default_rng(0).normal(0, 0.01 * np.sqrt(np.mean(clean**2)), clean.shape)
    result = lognet.fit(X, y, loss="mse", random_state=0)
    assert result.n_terms == 2
    assert sorted(map(tuple, result.weight.tolist())) == [(-1.0, 2.0), (1.5, 0.0)]
    assert result.raw is not None
    assert result.metrics["validation"]["r2"] > 0.999


def test_fit_raw_and_simplified_reported():
    X = uniform_inputs(200, 1)
    result = lognet.fit(X, 4 * X[:, 0] ** 0.5, random_state=0)
    assert result.raw.intercept is not None
    assert result.intercept is None
    assert any(step["accepted"] for step in result.simplification)
    unsimplified = lognet.fit(X, 4 * X[:, 0] ** 0.5, random_state=0, simplify=False)
    assert unsimplified.raw is None


def test_fit_same_seed_same_result():
    X = uniform_inputs(200, 2)
    y = X[:, 0] ** 1.3 + X[:, 1] ** 0.7
    first = lognet.fit(X, y, random_state=5, n_terms=2, simplify=False)
    second = lognet.fit(X, y, random_state=5, n_terms=2, simplify=False)
    assert np.array_equal(first.weight, second.weight)
    assert first.loss_history == second.loss_history


def test_fit_accepts_dataframe_names():
    X = uniform_inputs(100, 2)
    frame = pd.DataFrame(X, columns=["a", "b"])
    target = pd.Series(2 * X[:, 0] * X[:, 1], name="area")
    result = lognet.fit(frame, target, random_state=0)
    assert result.feature_names == ("a", "b")
    assert result.formula_string() == "area = 2 * a * b"


def test_fit_accepts_torch_tensors():
    X = torch.from_numpy(uniform_inputs(100, 1))
    result = lognet.fit(X, X[:, 0] ** 3, random_state=0)
    assert np.allclose(result.predict(X.numpy()), X[:, 0].numpy() ** 3)


@pytest.mark.parametrize("loss", ["spes", "mse", "msle"])
def test_fit_each_loss_recovers_law(loss):
    X = uniform_inputs(200, 2)
    result = lognet.fit(X, 5 * X[:, 0] ** -1 * X[:, 1] ** 2, loss=loss, random_state=0)
    assert np.allclose(result.weight, [[-1, 2]])


def test_fit_signed_domain():
    rng = np.random.default_rng(0)
    X = rng.uniform(-3, 3, (300, 2))
    X[np.abs(X) < 0.1] = 0.5
    y = 2 * X[:, 0] * X[:, 1] ** 2 + 1.0
    result = lognet.fit(X, y, domain="signed", loss="mse", random_state=0)
    assert np.allclose(result.predict(X), y, atol=1e-6)


def test_fit_small_data_uses_aicc():
    a = np.array([0.3871, 0.7233, 1.0, 1.5237, 5.2034, 9.5371, 19.1913, 30.069])
    period = np.array([0.24085, 0.6152, 1.00002, 1.88085, 11.8626, 29.447, 84.017, 164.79])
    result = lognet.fit(a[:, None], period, feature_names=["a"], random_state=0)
    assert result.selection[0]["criterion"] == "aicc"
    assert result.metrics["validation"] is None
    assert result.n_terms == 1
    assert abs(result.raw.weight[0, 0] - 1.5) < 0.01


def test_fit_metrics_present():
    X = uniform_inputs(100, 1)
    result = lognet.fit(X, X[:, 0] ** 2, random_state=0)
    for split in ("train", "validation"):
        assert set(result.metrics[split]) >= {"r2", "rmse", "max_rel_error"}
    assert len(result.loss_history) > 0


def test_fit_rejects_multi_output():
    X = uniform_inputs(50, 2)
    with pytest.raises(ValueError, match="fit each output column separately"):
        lognet.fit(X, np.ones((50, 2)))


@pytest.mark.parametrize(
    "X, y, kwargs, error, match",
    [
        (np.ones((10, 2)), np.zeros(10) + np.arange(10), {}, ValueError, "zero targets"),
        (np.ones((10, 2)), np.ones(10), {}, ValueError, "y is constant"),
        (-np.ones((10, 1)), np.arange(1, 11.0), {}, ValueError, "domain='signed'"),
        (np.ones((10, 1)), np.arange(1, 12.0), {}, ValueError, "X has 10 samples but y has 11"),
        (np.ones((10, 1)), np.arange(1, 11.0), {"loss": "mae"}, ValueError, "loss must be one of"),
        (np.ones((10, 1)), np.arange(1, 11.0), {"n_terms": 0}, ValueError, "n_terms must be a positive int"),
        (np.full((10, 1), np.nan), np.arange(1, 11.0), {}, ValueError, "NaN or infinite"),
        (np.array([["a"]] * 10), np.arange(1, 11.0), {}, TypeError, "must hold numbers"),
        (np.ones((10, 0)), np.arange(1, 11.0), {}, ValueError, "no features"),
        (np.ones((1, 1)), np.ones(1), {}, ValueError, "at least 2 samples"),
    ],
    ids=["zero-target-spes", "constant-target", "negative-positive-domain", "length-mismatch", "unknown-loss", "zero-terms", "nan-input", "strings", "no-features", "one-sample"],
)
def test_fit_bad_input(X, y, kwargs, error, match):
    with pytest.raises(error, match=match):
        lognet.fit(X, y, **kwargs)


def test_predict_warns_on_overflow():
    X = uniform_inputs(100, 1)
    result = lognet.fit(X, X[:, 0] ** 4, random_state=0)
    with pytest.warns(RuntimeWarning, match="is not finite on 1 of 1 samples"):
        result.predict(np.array([[1e100]]))


def test_engine_options_respected():
    X = uniform_inputs(100, 1)
    history = lognet.fit(X, X[:, 0] ** 1.2 + X[:, 0] ** 2.7, n_terms=2, options=EngineOptions(population=8, steps=5), random_state=0).loss_history
    assert len(history) <= 2 * 5 + 2 * 4


def _interrupt_second_stage(monkeypatch):
    """Make lognet.fit raise KeyboardInterrupt when its 2-term stage starts, and return the real stage."""
    import lognet._fit as fit_module

    real_stage = fit_module.fit_stage

    def failing_stage(*args, **kwargs):
        if args[3] == 2:  # n_terms of the stage
            raise KeyboardInterrupt
        return real_stage(*args, **kwargs)

    monkeypatch.setattr(fit_module, "fit_stage", failing_stage)
    return real_stage


def test_checkpoint_resume_after_interruption(tmp_path, monkeypatch):
    import lognet._fit as fit_module

    X = uniform_inputs(300, 2, seed=4)
    y = 2 * X[:, 0] ** 1.5 - X[:, 1] ** 0.5
    path = tmp_path / "fit.ckpt"
    reference = lognet.fit(X, y, random_state=3)

    real_stage = _interrupt_second_stage(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        lognet.fit(X, y, random_state=3, checkpoint=path)
    assert path.exists()

    calls = []
    monkeypatch.setattr(fit_module, "fit_stage", lambda *a, **k: calls.append(a[3]) or real_stage(*a, **k))
    resumed = lognet.fit(X, y, random_state=3, checkpoint=path, resume=True)
    assert 1 not in calls
    assert resumed.loss_history == reference.loss_history
    assert np.array_equal(resumed.weight, reference.weight)
    assert not path.exists()


def test_checkpoint_rejects_other_data(tmp_path):
    import lognet._fit as fit_module

    X = uniform_inputs(100, 1)
    path = tmp_path / "fit.ckpt"
    fit_module.save_checkpoint(path, "other", {}, [], [], torch.Generator())
    with pytest.raises(ValueError, match="written for other data; delete it"):
        lognet.fit(X, X[:, 0] ** 2, checkpoint=path, resume=True)


def test_checkpoint_names_changed_settings(tmp_path, monkeypatch):
    import lognet._fit as fit_module

    X = uniform_inputs(100, 2, seed=5)
    y = X[:, 0] ** 1.5 + X[:, 1]
    path = tmp_path / "fit.ckpt"
    real_stage = _interrupt_second_stage(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        lognet.fit(X, y, random_state=1, checkpoint=path)
    monkeypatch.setattr(fit_module, "fit_stage", real_stage)

    with pytest.raises(ValueError, match=r"other fit settings \(loss: 'spes' then, 'mse' now\)"):
        lognet.fit(X, y, random_state=1, loss="mse", checkpoint=path, resume=True)


def test_resume_needs_checkpoint_path():
    X = uniform_inputs(100, 1)
    with pytest.raises(ValueError, match="resume=True needs checkpoint=PATH"):
        lognet.fit(X, X[:, 0] ** 2, resume=True)


def test_fit_warns_without_degrees_of_freedom():
    X = np.array([[1.0, 2.0], [2.0, 3.0]])
    with pytest.warns(RuntimeWarning, match="parameters but was fitted on 2 samples"):
        lognet.fit(X, np.array([1.0, 5.0]), random_state=0)


def test_msle_fit_positive_across_decades():
    # Body masses span 0.005 to 6654 kg. An unweighted start let the intercept push the small
    # animals' predictions below zero, where the log error is undefined.
    from lognet import datasets

    frame = datasets.load("mammals")
    result = lognet.fit(frame[["body"]], frame["brain"], loss="msle", n_terms=1, simplify=False, random_state=0)

    assert np.isfinite(result.selection[0]["train_loss"])
    assert (result.predict(frame[["body"]]) > 0).all()
    assert abs(float(result.weight[0, 0]) - 0.75) < 0.03


# Powers of 2, so unit * y is exact and the two fits see the same numbers.
@pytest.mark.parametrize("unit", [2.0**-1000, 2.0**-130, 2.0**130, 2.0**660, 2.0**1000])
@pytest.mark.parametrize("loss", ["spes", "mse"])
def test_fit_is_independent_of_the_target_unit(unit, loss):
    rng = np.random.default_rng(0)
    x = np.geomspace(1, 10, 40)[:, None]
    y = (x[:, 0] ** 2 + 3) * (1 + 0.01 * rng.standard_normal(40))
    reference = lognet.fit(x, y, loss=loss, random_state=0)

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scaled = lognet.fit(x, unit * y, loss=loss, random_state=0)
        intervals = scaled.confidence_intervals()

    np.testing.assert_allclose(scaled.weight, reference.weight, rtol=1e-9)
    np.testing.assert_allclose(scaled.coef / unit, reference.coef, rtol=1e-9)
    np.testing.assert_allclose(intervals["coef"] / unit, reference.confidence_intervals()["coef"], rtol=1e-6)
    assert scaled.metrics["train"]["r2"] == pytest.approx(reference.metrics["train"]["r2"], rel=1e-9)
    assert scaled.metrics["train"]["rmse"] / unit == pytest.approx(reference.metrics["train"]["rmse"], rel=1e-9)


@pytest.mark.parametrize("flag", ["bias", "simplify", "verbose", "resume", "data_parallel"])
def test_fit_rejects_non_bool_flags(flag):
    X = uniform_inputs(40, 1)

    with pytest.raises(TypeError, match=rf"{flag} must be True or False, got 'no'"):
        lognet.fit(X, X[:, 0] ** 2, **{flag: "no"})
