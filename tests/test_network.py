"""Tests of lognet.fit_network and its batched solver for Linear -> LogLayer -> Linear."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import sympy
import torch
from torch.func import functional_call, jacrev

import lognet
from lognet._network_fit import (
    _best_distinct_templates,
    _drop_first_layer_weights,
    _drop_terms,
    _parameter_counts,
    build_network,
    exponent_templates,
)
from lognet._network_population import Population, fit_output_layer, forward, jacobian, levenberg_marquardt, residuals

DTYPE = torch.float64


@pytest.fixture(autouse=True)
def one_thread():
    """The batched solver runs many small kernels, which a shared machine slows down when
    torch splits them over several threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _uniform(n: int, d: int, low: float, high: float, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(n, d, generator=generator, dtype=DTYPE) * (high - low) + low


def _random_population(P: int, D: int, H: int, K: int, seed: int) -> Population:
    generator = torch.Generator().manual_seed(seed)
    return Population(
        W1=torch.randn(P, H, D, generator=generator, dtype=DTYPE),
        W2=torch.randn(P, K, H, generator=generator, dtype=DTYPE),
        c=torch.randn(P, K, generator=generator, dtype=DTYPE),
        b=torch.randn(P, generator=generator, dtype=DTYPE),
        free_W2=torch.ones(P, K, H, dtype=torch.bool),
        free_c=torch.ones(P, K, dtype=torch.bool),
        kind=["free"] * P,
    )


def _load(model, population: Population, index: int = 0) -> None:
    with torch.no_grad():
        model[0].weight.copy_(population.W1[index])
        model[1].weight.copy_(population.W2[index])
        model[2].weight.copy_(population.c[index][None])
        model[2].bias.copy_(population.b[index][None])


@pytest.mark.parametrize("domain", ["signed", "abs"])
def test_jacobian_matches_autograd_through_the_modules(domain):
    D, H, K = 3, 2, 3
    population = _random_population(1, D, H, K, seed=0)
    x = _uniform(40, D, -2.0, 2.0, seed=1)  # both signs, so the phase term is exercised
    target = _uniform(40, 1, 0.5, 2.0, seed=2)[:, 0]
    scale = target.abs() + 0.3
    model = build_network(D, H, K, domain)
    model[1].check_input = False  # torch.func cannot run data-dependent input checks

    def scaled_residuals(vector):
        W1, W2, c, b = torch.split(vector, [H * D, K * H, K, 1])
        params = {"0.weight": W1.reshape(H, D), "1.weight": W2.reshape(K, H), "2.weight": c[None], "2.bias": b}
        return (functional_call(model, params, (x,))[:, 0] - target) / scale

    expected = jacrev(scaled_residuals)(population.vector()[0])
    cache = forward(x, population, signed=domain == "signed")[1]
    computed = jacobian(x, population, cache, scale)[0]

    torch.testing.assert_close(computed, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("domain", ["signed", "abs"])
def test_forward_matches_the_modules(domain):
    population = _random_population(3, 4, 2, 2, seed=3)
    x = _uniform(25, 4, -3.0, 3.0, seed=4)
    output, _ = forward(x, population, signed=domain == "signed")
    model = build_network(4, 2, 2, domain)
    for index in range(3):
        _load(model, population, index)
        with torch.no_grad():
            torch.testing.assert_close(output[index], model(x)[:, 0], rtol=1e-12, atol=1e-12)


def test_levenberg_marquardt_never_raises_a_members_loss():
    population = _random_population(6, 3, 2, 2, seed=5)
    x = _uniform(64, 3, 1.0, 2.0, seed=6)
    target = x[:, 0] * x[:, 1] + x[:, 2]
    scale = target.abs()
    fit_output_layer(population, x, target, scale, signed=True)
    start = (residuals(population, x, target, scale, True)[0] ** 2).mean(dim=1)

    losses = levenberg_marquardt(population, x, target, scale, iterations=15, signed=True)

    assert bool((losses <= start).all())
    torch.testing.assert_close(losses, (residuals(population, x, target, scale, True)[0] ** 2).mean(dim=1))


def test_frozen_exponents_do_not_move():
    population = _random_population(2, 2, 2, 2, seed=7)
    population.free_W2[:] = False
    before = population.W2.clone()
    x = _uniform(32, 2, 1.0, 2.0, seed=8)
    target = x[:, 0] / x[:, 1]

    levenberg_marquardt(population, x, target, target.abs(), iterations=5, signed=True)

    assert torch.equal(population.W2, before)


def test_output_layer_is_the_least_squares_solution():
    population = _random_population(1, 2, 2, 2, seed=9)
    x = _uniform(50, 2, 1.0, 3.0, seed=10)
    target = x.sum(dim=1) ** 1.5
    scale = target.abs()
    fit_output_layer(population, x, target, scale, signed=True)
    units = forward(x, Population(population.W1, population.W2, torch.zeros(1, 2, dtype=DTYPE),
                                  torch.zeros(1, dtype=DTYPE), population.free_W2, population.free_c, ["free"]), True)[1][-1][0]
    design = torch.cat([units, torch.ones(50, 1, dtype=DTYPE)], dim=1) / scale[:, None]
    expected = torch.linalg.lstsq(design, (target / scale)[:, None]).solution[:, 0]

    torch.testing.assert_close(torch.cat([population.c[0], population.b]), expected, rtol=1e-8, atol=1e-10)


def test_templates_cover_every_pair_and_the_linear_model():
    templates = exponent_templates(2, 2, (-1.0, 0.0, 1.0))
    as_lists = [t.tolist() for t in templates]

    # Unordered pairs of {-1, 0, 1} except (0, 0), then the identity.
    assert len(templates) == 5 + 1
    assert len(exponent_templates(3, 1, (-1.0, 0.0, 1.0))) == 10 - 1
    assert [[1.0, 1.0], [0.0, 0.0]] in as_lists
    assert [[-1.0, 1.0], [0.0, 0.0]] in as_lists
    assert as_lists[-1] == [[1.0, 0.0], [0.0, 1.0]]
    assert exponent_templates(1, 1, (0.5, 2.0))[0].tolist() == [[0.5]]
    assert exponent_templates(2, 2, ()) == []


def test_best_templates_skip_repeated_exponents():
    population = _random_population(5, 2, 2, 2, seed=30)
    population.kind = ["free", "template", "template", "template", "template"]
    population.W2[2] = population.W2[1]
    losses = torch.tensor([0.0, 1.0, 2.0, 3.0, 4.0], dtype=DTYPE)

    # Member 0 is free and member 2 repeats member 1's exponents, so both are skipped.
    assert _best_distinct_templates(population, losses, 2) == [1, 3]
    assert _best_distinct_templates(population, losses, 10) == [1, 3, 4]


def test_extra_rounds_only_without_exact_fit():
    x = _uniform(200, 3, 1.0, 2.0, seed=31)
    y = x[:, 0] * x[:, 1] ** 0.7 + 0.3 * x[:, 2]  # no template fits exactly
    base = lognet.NetworkOptions(restarts=1, finalists=2)
    without = lognet.fit_network(x, y, options=dataclasses.replace(base, extra_rounds=0), random_state=0)
    with_rounds = lognet.fit_network(x, y, options=dataclasses.replace(base, extra_rounds=2), random_state=0)
    exact = lognet.fit_network(x, x[:, 0] * x[:, 1], options=base, random_state=0)
    exact_without = lognet.fit_network(x, x[:, 0] * x[:, 1], options=dataclasses.replace(base, extra_rounds=0), random_state=0)

    assert with_rounds.details["members_tried"] == without.details["members_tried"] + 2 * 2
    assert exact.details["members_tried"] == exact_without.details["members_tried"]


FUNCTIONS = {
    "product of a sum": (lambda x: (x[:, 0] + x[:, 1]) * x[:, 2], [[1.0, 1.0], [0.0, 0.0]]),
    "quotient": (lambda x: x[:, 0] / x[:, 1], [[-1.0, 1.0], [0.0, 0.0]]),
    "square root of a sum": (lambda x: torch.sqrt(x[:, 0] + x[:, 2]), [[0.0, 0.5], [0.0, 0.0]]),
    "inverse square": (lambda x: 1 / (x[:, 1] + x[:, 2]) ** 2, [[-2.0, 0.0], [0.0, 0.0]]),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_fit_network_recovers_and_extrapolates(name):
    function, _ = FUNCTIONS[name]
    x = _uniform(300, 3, 1.0, 2.0, seed=11)
    fit = lognet.fit_network(x, function(x), random_state=0)
    x_far = _uniform(500, 3, 2.0, 6.0, seed=12)
    relative = np.abs(fit.predict(x_far) / function(x_far).numpy() - 1)

    assert fit.train_loss < 1e-20
    assert fit.details["kind"] == "template"
    assert relative.max() < 1e-9
    assert sorted(abs(v) for v in fit.exponents.flatten().tolist()) == sorted(
        abs(v) for row in FUNCTIONS[name][1] for v in row
    )


def test_fit_network_multiplies_inputs_of_both_signs():
    x = _uniform(300, 2, -2.0, 2.0, seed=13)
    fit = lognet.fit_network(x, x[:, 0] * x[:, 1], loss="mse", random_state=1)
    x_far = torch.cat([_uniform(200, 2, 2.0, 6.0, seed=14), -_uniform(200, 2, 2.0, 6.0, seed=15)])

    assert np.abs(fit.predict(x_far) - (x_far[:, 0] * x_far[:, 1]).numpy()).max() < 1e-8


def test_fit_network_subtracts_with_the_linear_template():
    x = _uniform(300, 4, -1.0, 1.0, seed=16)
    y = x[:, 0] + x[:, 1] - x[:, 3]
    fit = lognet.fit_network(x, y, loss="mse", random_state=2)
    x_far = _uniform(200, 4, -10.0, 10.0, seed=17)

    assert np.abs(fit.predict(x_far) - (x_far[:, 0] + x_far[:, 1] - x_far[:, 3]).numpy()).max() < 1e-8


def test_float32_data_still_count_as_exact():
    x = _uniform(300, 3, 1.0, 2.0, seed=37).float()
    fit = lognet.fit_network(x, (x[:, 0] + x[:, 1]) * x[:, 2], random_state=0)

    assert fit.details["exact_members"] > 0
    assert fit.details["first_layer_denominator"] == 1
    assert str(fit.formula()) == "x2*(x0 + x1)"


def test_fit_network_is_reproducible_with_a_seed():
    x = _uniform(100, 3, 1.0, 2.0, seed=18)
    y = x[:, 0] * x[:, 1] ** 0.7 + 0.3 * x[:, 2]  # not representable exactly: a near fit
    first = lognet.fit_network(x, y, random_state=5)
    second = lognet.fit_network(x, y, random_state=5)

    for a, b in zip(first.model.parameters(), second.model.parameters()):
        assert torch.equal(a, b)


def test_fit_network_restores_the_thread_count():
    torch.set_num_threads(2)
    x = _uniform(50, 2, 1.0, 2.0, seed=19)
    lognet.fit_network(x, x[:, 0] * x[:, 1], random_state=0)

    assert torch.get_num_threads() == 2


def test_fit_network_without_templates_uses_free_members():
    x = _uniform(200, 2, 1.0, 2.0, seed=20)
    y = x[:, 0] * x[:, 1]
    options = lognet.NetworkOptions(exponent_grid=(), free_members=6)
    fit = lognet.fit_network(x, y, options=options, random_state=0)

    assert fit.details["kind"] == "free"
    assert fit.details["members_tried"] == 6
    assert fit.train_loss < 1e-4


@pytest.mark.parametrize("hidden_features, n_terms", [(1, 1), (3, 2), (2, 4)])
def test_fit_network_shapes(hidden_features, n_terms):
    x = _uniform(120, 3, 1.0, 2.0, seed=21)
    y = (x[:, 0] + x[:, 1]) ** 2
    fit = lognet.fit_network(x, y, hidden_features=hidden_features, n_terms=n_terms, random_state=0)

    assert fit.exponents.shape == (n_terms, hidden_features)
    assert fit.model[0].weight.shape == (hidden_features, 3)
    assert fit.train_loss < 1e-20


def test_formula_reads_as_the_law():
    x = _uniform(200, 3, 1.0, 2.0, seed=22)
    frame = pd.DataFrame(x.numpy(), columns=["a", "b", "c"])
    fit = lognet.fit_network(frame, (frame.a + frame.b) * frame.c, random_state=0)
    expression = fit.formula(digits=6)
    a, b, c = sympy.symbols("a b c", positive=True)
    constant = expression.as_coeff_Add()[0]

    assert abs(float(constant)) < 1e-10
    assert sympy.expand(expression - constant - (a + b) * c) == 0


def test_noisy_data_keep_the_template():
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 2, size=(300, 3))
    y = (x[:, 0] + x[:, 1]) * x[:, 2] * (1 + 0.01 * rng.standard_normal(300))
    fit = lognet.fit_network(x, y, random_state=0)
    raw = lognet.fit_network(x, y, random_state=0, simplify=False)
    first_layer = fit.model[0].weight.detach()
    ratios = first_layer / first_layer.abs().amax(dim=1, keepdim=True)

    assert fit.details["kind"] == "template"
    assert fit.details["first_layer_denominator"] == 1
    assert fit.details["intercept_dropped"]
    assert fit.model[2].bias.item() == 0.0
    assert sorted(ratios.flatten().tolist()) == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
    assert fit.train_loss <= 1.05 * raw.train_loss
    assert raw.details["first_layer_denominator"] is None
    assert raw.train_loss == raw.details["raw_train_loss"]


def _three_inputs(seed: int, b_range: tuple[float, float] = (-2.0, 2.0)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"a": rng.uniform(-2, 2, 200), "b": rng.uniform(*b_range, 200), "c": rng.uniform(0.5, 2, 200)})


def test_quotient_with_targets_near_zero_is_exact():
    # a - b crosses zero, so pure relative errors of the smallest targets would dominate.
    frame = _three_inputs(seed=3)
    fit = lognet.fit_network(frame, (frame.a - frame.b) / frame.c, random_state=3)
    a, b, c = sympy.symbols("a b c", real=True)

    assert fit.train_loss < 1e-20
    assert sympy.simplify(fit.formula(digits=6) - (a - b) / c) == 0


def test_three_factor_law_needs_three_hidden_values():
    frame = _three_inputs(seed=0)
    frame = frame[frame.c.abs() > 0.4].reset_index(drop=True)
    fit = lognet.fit_network(frame, frame.a * frame.b / frame.c, hidden_features=3, random_state=0)
    a, b, c = sympy.symbols("a b c", real=True)

    assert fit.train_loss < 1e-20
    assert sympy.simplify(fit.formula(digits=6) - a * b / c) == 0


def test_noisy_square_root_keeps_one_term():
    # With 1% noise a free second term lowered the training loss by 6% by fitting the noise.
    frame = _three_inputs(seed=1, b_range=(3.0, 5.0))
    rng = np.random.default_rng(11)
    y = np.sqrt(frame.a + frame.b) * (1 + 0.01 * rng.standard_normal(200))
    fit = lognet.fit_network(frame, y, random_state=1)

    assert fit.details["kind"] == "template"
    assert sorted(fit.exponents.flatten().tolist()) == [0.0, 0.0, 0.0, 0.5]


def test_parameter_counts_skip_unused_terms():
    population = _random_population(1, 3, 2, 2, seed=33)
    population.W2[0] = torch.tensor([[0.0, 0.5], [1.0, 1.0]], dtype=DTYPE)
    population.c[0] = torch.tensor([2.0, 0.0], dtype=DTYPE)
    population.free_W2[0] = torch.tensor([[False, False], [True, True]])

    n_free, n_nonzero, n_parameters = _parameter_counts(population)

    # Term 1 has c = 0, so only z_2 (3 weights), c_0 and the bias count.
    assert n_free.tolist() == [0.0]
    assert n_nonzero.tolist() == [1.0]
    assert n_parameters.tolist() == [5.0]


def test_copy_of_the_divisor_leaves_the_numerator():
    # These data first fit as 1 + (a - b - c) / c, which equals (a - b) / c.
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.uniform(1, 2, size=(300, 3)), columns=["a", "b", "c"])
    fit = lognet.fit_network(frame, (frame.a - frame.b) / frame.c, random_state=0)
    a, b, c = sympy.symbols("a b c", positive=True)

    assert fit.details["intercept_absorbed"]
    assert fit.model[2].bias.item() == 0.0
    assert sympy.simplify(fit.formula(digits=6) - (a - b) / c) == 0


def test_zeroing_removes_an_unneeded_weight():
    population = _random_population(1, 3, 2, 2, seed=38)
    population.W1[0] = torch.tensor([[1.0, -1.0, 0.3], [0.0, 0.0, 1.0]], dtype=DTYPE)
    population.W2[0] = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=DTYPE)
    population.free_W2[0] = False
    population.free_c[0] = torch.tensor([True, False])
    x = _uniform(100, 3, 1.0, 2.0, seed=39)
    target = x[:, 0] - x[:, 1]
    scale = torch.ones_like(target)
    fit_output_layer(population, x, target, scale, signed=True)

    member, loss, zeroed = _drop_first_layer_weights(population, 1.0, 1e-20, x, target, scale, True)

    assert zeroed == 1
    assert member.W1[0, 0, 2].item() == 0.0
    assert loss < 1e-20


def test_terms_that_add_nothing_are_dropped():
    population = _random_population(1, 2, 2, 2, seed=40)
    population.W1[0] = torch.eye(2, dtype=DTYPE)
    population.W2[0] = torch.tensor([[1.0, 1.0], [0.0, 0.0]], dtype=DTYPE)
    population.free_W2[0] = False
    x = _uniform(100, 2, 1.0, 2.0, seed=41)
    target = x[:, 0] * x[:, 1]
    scale = target.abs()
    fit_output_layer(population, x, target, scale, signed=True)
    population.c[0, 1] = 1e-12  # a constant term next to the bias

    member, loss, dropped = _drop_terms(population, 1.0, 1e-20, x, target, scale, True)

    assert dropped == 1
    assert member.c[0, 1].item() == 0.0
    assert loss < 1e-20


def test_first_layer_snaps_to_halves():
    x = _uniform(300, 3, -2.0, 2.0, seed=32)
    fit = lognet.fit_network(x, (x[:, 0] - 0.5 * x[:, 1]) ** 2, loss="mse", random_state=0)
    a, b = sympy.symbols("x0 x1", real=True)

    assert fit.details["first_layer_denominator"] == 2
    assert sympy.expand(fit.formula(digits=6) - (a - b / 2) ** 2) == 0


def test_formula_flips_rows_with_integer_powers():
    model = build_network(3, 2, 2, "signed")
    with torch.no_grad():
        model[0].weight.copy_(torch.tensor([[-1.0, -1.0, 0.0], [0.0, 0.0, -2.0]]))
        model[1].weight.copy_(torch.tensor([[1.0, 0.5], [0.0, 0.0]]))
        model[2].weight.copy_(torch.tensor([[3.0, 0.0]]))
        model[2].bias.zero_()
    fit = lognet.NetworkFit(model, 0.0, 0.0, feature_names=("a", "b", "c"))
    a, b, c = sympy.symbols("a b c", real=True)

    # z_1 = -(a + b) has an integer power, so it flips. z_2 = -2c has a power 1/2, so it cannot.
    expression = fit.formula(digits=None)
    assert "(a + b)" in str(expression)
    assert "-a - b" not in str(expression)
    for values in ({a: 1.0, b: 2.0, c: -0.7}, {a: -3.0, b: 0.5, c: -1.2}):
        with torch.no_grad():
            expected = float(model(torch.tensor([[values[a], values[b], values[c]]], dtype=DTYPE))[0, 0])
        assert math.isclose(float(expression.subs(values)), expected, rel_tol=1e-12)


def test_formula_of_signed_inputs_keeps_real_symbols():
    x = _uniform(200, 2, -2.0, 2.0, seed=23)
    fit = lognet.fit_network(x, x[:, 0] * x[:, 1], loss="mse", random_state=1)
    expression = fit.formula(digits=6)
    symbols = {str(s): s for s in expression.free_symbols}

    assert set(symbols) == {"x0", "x1"}
    assert all(s.is_real and s.is_positive is None for s in symbols.values())
    value = float(expression.subs({symbols["x0"]: -3.0, symbols["x1"]: 5.0}))
    assert math.isclose(value, -15.0, rel_tol=1e-5)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"domain": "positive"}, ValueError, r"domain must be one of 'signed', 'abs', got 'positive'"),
        ({"loss": "msle"}, ValueError, r"loss must be one of 'spes', 'mse'"),
        ({"hidden_features": 0}, ValueError, r"hidden_features must be an int >= 1, got 0"),
        ({"n_terms": 2.0}, ValueError, r"n_terms must be an int >= 1, got 2.0"),
        ({"options": {"free_members": 2}}, TypeError, r"options must be a lognet.NetworkOptions, got dict"),
        ({"simplify": "no"}, TypeError, r"simplify must be True or False, got 'no'"),
        ({"random_state": "a"}, TypeError, r"random_state must be None or an int >= 0, got 'a'"),
    ],
)
def test_fit_network_rejects_bad_arguments(kwargs, error, match):
    x = _uniform(20, 2, 1.0, 2.0, seed=24)
    with pytest.raises(error, match=match):
        lognet.fit_network(x, x[:, 0], **kwargs)


def test_fit_network_rejects_bad_data():
    x = _uniform(20, 2, 1.0, 2.0, seed=25)
    y = x[:, 0] * x[:, 1]
    with_nan = x.clone()
    with_nan[3, 1] = math.nan

    with pytest.raises(ValueError, match=r"X contains 1 NaN or infinite values in 1 rows \(first rows: \[3\]\)"):
        lognet.fit_network(with_nan, y)
    with pytest.raises(ValueError, match="X has 20 samples but y has 19"):
        lognet.fit_network(x, y[:19])
    with pytest.raises(ValueError, match="y must be 1-D"):
        lognet.fit_network(x, torch.stack([y, y], dim=1))


def test_spes_with_mostly_zero_targets_names_the_fix():
    x = _uniform(5, 1, 1.0, 2.0, seed=26)
    y = torch.tensor([0.0, 0.0, 0.0, 1.0, 2.0], dtype=DTYPE)

    with pytest.raises(ValueError, match=r"0 for 3 targets .*use loss='mse' or raise NetworkOptions.relative_floor"):
        lognet.fit_network(x, y)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"free_members": -1}, r"free_members must be an int >= 0, got -1"),
        ({"lm_iterations": 1.5}, r"lm_iterations must be an int >= 0, got 1.5"),
        ({"n_screen": 1}, r"n_screen must be an int >= 2, got 1"),
        ({"max_denominator": 0}, r"max_denominator must be an int >= 1, got 0"),
        ({"exponent_grid": (0.5, 1e300)}, r"exponent_grid must hold finite numbers in \[-64, 64\]"),
        ({"snap_tolerance": math.nan}, r"snap_tolerance must be a finite number >= 0, got nan"),
        ({"exponent_grid": (1.0, math.inf)}, r"exponent_grid must hold finite numbers"),
        ({"relative_floor": -0.1}, r"relative_floor must be a finite number >= 0, got -0.1"),
        ({"num_threads": 0}, r"num_threads must be None or an int >= 1, got 0"),
        ({"free_members": 0, "exponent_grid": (0.0,)}, r"there is no member to fit"),
    ],
)
def test_network_options_reject_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        lognet.NetworkOptions(**kwargs)


def test_network_options_reject_a_scalar_grid():
    with pytest.raises(TypeError, match=r"exponent_grid must be a sequence of numbers .* got 5"):
        lognet.NetworkOptions(exponent_grid=5)


def test_formula_rejects_a_negative_drop_below():
    x = _uniform(50, 2, 1.0, 2.0, seed=34)
    fit = lognet.fit_network(x, x[:, 0] * x[:, 1], random_state=0)

    with pytest.raises(ValueError, match=r"drop_below must be a number in \[0, 1\), got -1"):
        fit.formula(drop_below=-1)


def test_predict_matches_columns_by_name():
    x = _uniform(100, 3, 1.0, 2.0, seed=35)
    frame = pd.DataFrame(x.numpy(), columns=["a", "b", "c"])
    fit = lognet.fit_network(frame, (frame.a + frame.b) * frame.c, random_state=0)

    np.testing.assert_allclose(fit.predict(frame[["c", "a", "b"]]), fit.predict(frame), rtol=1e-12)
    with pytest.raises(ValueError, match=r"X is missing the columns \['a'\] that the model was fitted on"):
        fit.predict(frame.rename(columns={"a": "z"}))


def test_predict_rejects_nan_by_column():
    x = _uniform(50, 2, 1.0, 2.0, seed=36)
    fit = lognet.fit_network(x, x[:, 0] * x[:, 1], random_state=0)
    bad = x.clone()
    bad[4, 1] = math.nan

    with pytest.raises(ValueError, match=r"X has 1 NaN or infinite values \(in columns \['x1'\], first row 4\)"):
        fit.predict(bad)


def test_predict_rejects_the_wrong_number_of_features():
    x = _uniform(50, 2, 1.0, 2.0, seed=27)
    fit = lognet.fit_network(x, x[:, 0] * x[:, 1], random_state=0)

    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 2\), got \(4, 3\)"):
        fit.predict(np.ones((4, 3)))
