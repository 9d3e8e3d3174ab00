"""Smoke tests of the arithmetic extrapolation benchmark in benchmarks/arithmetic."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch

import lognet

# benchmarks/ is not an installed package, so the repository root must be importable when
# pytest is started as `pytest` rather than `python -m pytest`.
REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from benchmarks.arithmetic import lognet_engine  # noqa: E402
from benchmarks.arithmetic.recipes import BASELINES  # noqa: E402
from benchmarks.arithmetic.run import main, render_report  # noqa: E402
from benchmarks.arithmetic.stats import wilson_interval  # noqa: E402
from benchmarks.arithmetic.tasks import EPSILON, Task, find_task, nalm_task, static_task, success_threshold  # noqa: E402
from benchmarks.arithmetic.train_baselines import evaluation_sets, train_baseline  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread():
    """Run each test on one thread, because the batched solver's many small kernels slow down on
    a shared machine when torch splits them over several threads."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_static_layout_subset_sizes():
    a_mask, b_mask = static_task("mul").layout(seed=3)

    assert a_mask.shape == (100,)
    assert int(a_mask.sum()) == 25
    assert int(b_mask.sum()) == 25
    assert int((a_mask & b_mask).sum()) == 12


def test_static_layout_depends_on_seed():
    layouts = {tuple(torch.nonzero(static_task("add").layout(seed)[0]).flatten().tolist()) for seed in range(10)}

    assert len(layouts) > 1


def test_static_sample_shapes_and_ranges():
    task = static_task("mul")
    x, y = task.sample(64, seed=1)
    x_test, _ = task.sample(64, seed=1, extrapolation=True)
    a_mask, b_mask = task.layout(1)

    assert x.shape == (64, 100)
    assert y.shape == (64, 1)
    assert bool(((x >= 1) & (x <= 2)).all())
    assert bool(((x_test >= 2) & (x_test <= 6)).all())
    assert torch.allclose(y[:, 0], x[:, a_mask].sum(1) * x[:, b_mask].sum(1))


def test_nalm_mirrored_extrapolation_range():
    task = nalm_task("div", 4)
    x, y = task.sample(2_000, seed=0, extrapolation=True)
    x_train, _ = task.sample(2_000, seed=0)

    assert task.name == "nalm/div/U[-2,2]"
    assert bool(((x.abs() >= 2) & (x.abs() <= 6)).all())
    assert bool((x < 0).any())
    assert bool((x > 0).any())
    assert bool(((x_train >= -2) & (x_train <= 2)).all())
    assert torch.allclose(y[:, 0], x[:, 0] / x[:, 1])


def test_nalm_task_set_has_nine_ranges():
    names = {nalm_task("mul", index).name for index in range(9)}

    assert len(names) == 9
    assert "nalm/mul/U[-1.2,-1.1]" in names
    assert "nalm/mul/U[-20,-10]" in names


def test_task_rejects_unknown_operation():
    with pytest.raises(ValueError, match="operation must be one of"):
        Task("static", "pow", 100, 25, 12, ((1.0, 2.0),), ((2.0, 6.0),))


def test_task_rejects_oversized_subsets():
    with pytest.raises(ValueError, match="need 60 inputs, but input_size is 50"):
        Task("static", "add", 50, 30, 0, ((1.0, 2.0),), ((2.0, 6.0),))


def test_find_task_unknown_name():
    with pytest.raises(ValueError, match="unknown task 'static/pow'"):
        find_task("static/pow")


def test_threshold_static_add_closed_form():
    # a + b with every first-layer weight off by eps: the error is eps * sum_i c_i x_i with
    # c_i = -2 on the 12 shared inputs, 0 on the 26 inputs of one subset and 2 on the other 62,
    # so E[error^2] = eps^2 ((sum c)^2 mu^2 + sum(c^2) sigma^2) for x ~ U[2, 6].
    mu, variance = 4.0, 16.0 / 12.0
    expected = EPSILON**2 * (100**2 * mu**2 + 4 * 74 * variance)

    estimate = success_threshold(static_task("add"), n_samples=100_000)

    assert estimate == pytest.approx(expected, rel=0.01)


def test_threshold_nalm_mul_closed_form():
    # The NALM benchmark scales a product by (1 - eps)^2, so E[error^2] is
    # ((1 - eps)^2 - 1)^2 E[x^2]^2, with E[x^2] = 52 / 3 for x ~ U[2, 6].
    expected = ((1 - EPSILON) ** 2 - 1) ** 2 * (52 / 3) ** 2

    estimate = success_threshold(nalm_task("mul", 6), n_samples=200_000)

    assert estimate == pytest.approx(expected, rel=0.02)


def test_wilson_interval_hand_computed():
    # 20/25, z = 1.959964: center (0.8 + z^2/50) / (1 + z^2/25) = 0.760042 and half-width
    # z sqrt(0.8 * 0.2 / 25 + z^2 / 2500) / (1 + z^2/25) = 0.151352.
    low, high = wilson_interval(20, 25)

    assert low == pytest.approx(0.608690, abs=1e-6)
    assert high == pytest.approx(0.911394, abs=1e-6)


def test_wilson_interval_edges_exact():
    assert wilson_interval(0, 25)[0] == 0.0
    assert wilson_interval(0, 25)[1] == pytest.approx(0.133192, abs=1e-6)
    assert wilson_interval(25, 25)[1] == 1.0
    assert wilson_interval(25, 25)[0] == pytest.approx(0.866808, abs=1e-6)


def test_wilson_interval_rejects_zero_trials():
    with pytest.raises(ValueError, match="trials must be a positive int, got 0"):
        wilson_interval(0, 0)


def test_wilson_interval_rejects_excess_successes():
    with pytest.raises(ValueError, match=r"successes must be an int in \[0, trials=5\], got 6"):
        wilson_interval(6, 5)


@pytest.mark.parametrize("model", BASELINES)
@pytest.mark.parametrize("task_name", ["static/mul", "nalm/div/U[-2,2]"])
def test_baseline_trains_without_nan(model, task_name):
    task = find_task(task_name)

    records = train_baseline(
        model, [task], [0, 1], steps=6, thresholds={task.name: 1.0}, n_valid=64, n_test=64, n_checkpoints=3
    )

    assert len(records) == 2
    for record in records:
        assert math.isfinite(record["interpolation_mse"])
        assert not math.isnan(record["extrapolation_mse"])


def test_baseline_batches_ranges_of_one_operation():
    tasks = [nalm_task("mul", 0), nalm_task("mul", 6)]

    records = train_baseline(
        "NAU/NMU", tasks, [0, 1, 2], steps=4, thresholds={t.name: 1.0 for t in tasks}, n_valid=32, n_test=32, n_checkpoints=2
    )

    assert [record["task"] for record in records] == [tasks[0].name] * 3 + [tasks[1].name] * 3


def test_baseline_rejects_mixed_operations():
    tasks = [nalm_task("mul", 0), nalm_task("div", 0)]

    with pytest.raises(ValueError, match="must share family, operation and input size"):
        train_baseline("NAU/NMU", tasks, [0], steps=1, thresholds={t.name: 1.0 for t in tasks})


def test_lognet_solves_static_multiplication():
    task = static_task("mul")
    threshold = success_threshold(task, n_samples=20_000)
    _, test_x = evaluation_sets(task, 10, 2_000)
    a_mask, b_mask = task.layout(0)

    fit = lognet_engine.fit_lognet(task, seed=0)
    with torch.no_grad():
        mse = float(((fit.model(test_x) - task.target(test_x, a_mask, b_mask)) ** 2).mean())

    assert fit.train_loss < lognet.NetworkOptions().exact_fit
    assert fit.exponents[0] == [1.0, 1.0]
    assert mse < threshold


def test_run_writes_results_files(tmp_path):
    stem = tmp_path / "smoke"

    code = main(
        ["--budget", "smoke", "--seeds", "2", "--models", "lognet,NAU/NMU", "--tasks", "nalm/mul/U[1,2]", "--out", str(stem)]
    )
    payload = json.loads(stem.with_suffix(".json").read_text())
    csv_lines = stem.with_suffix(".csv").read_text().strip().splitlines()

    assert code == 0
    assert len(payload["runs"]) == 4
    assert payload["metadata"]["budget"] == "smoke"
    assert len(csv_lines) == 5
    assert all(run["success"] for run in payload["runs"] if run["model"] == "lognet")


def test_run_rebuilds_doc_from_results(tmp_path):
    stem = tmp_path / "smoke"
    doc = tmp_path / "doc.md"
    doc.write_text("# Title\n\n<!-- arithmetic-results:start -->\nstale block\n<!-- arithmetic-results:end -->\nAfter.\n")
    main(["--budget", "smoke", "--seeds", "2", "--models", "lognet,NPU", "--tasks", "nalm/div/U[1,2]", "--out", str(stem)])

    code = main(["--from-results", str(stem.with_suffix(".json")), "--doc", str(doc)])
    text = doc.read_text()

    assert code == 0
    assert text.startswith("# Title\n")
    assert text.endswith("After.\n")
    assert "stale block" not in text
    assert "| div U[1,2] → U[2,6] |" in text
    assert "Goal 1" in text
    assert "is not missed on the operations run (div; not run: mul, sqrt, square)" in text
    assert "Goal 2" not in text  # U[1,2] has no negative inputs


def test_steps_override_changes_only_the_named_family():
    from benchmarks.arithmetic.budgets import BUDGETS
    from benchmarks.arithmetic.run import parse_steps

    budget = parse_steps("static=50000", BUDGETS["full"])

    assert budget.baseline_steps == {"static": 50_000, "nalm": BUDGETS["full"].baseline_steps["nalm"]}
    assert "0.04%" in BUDGETS["full"].describe()
    assert "1.00% of the paper's" in budget.describe()
    with pytest.raises(SystemExit, match="--steps entry 'cubic=5' must look like 'static=50000'"):
        parse_steps("cubic=5", budget)


def test_free_exponent_variant_has_no_templates(tmp_path):
    stem = tmp_path / "free"

    code = main(["--budget", "smoke", "--seeds", "1", "--models", "lognet-free", "--tasks", "nalm/mul/U[1,2]", "--out", str(stem)])
    payload = json.loads(stem.with_suffix(".json").read_text())

    assert code == 0
    assert [run["model"] for run in payload["runs"]] == ["lognet-free"]
    assert payload["runs"][0]["fit_kind"] == "free"
    assert payload["metadata"]["lognet_free_budget"]["exponent_grid"] == []


def test_goal_two_names_the_baselines_not_run(tmp_path):
    stem = tmp_path / "signed"

    main(["--budget", "smoke", "--seeds", "1", "--models", "lognet,NPU", "--tasks", "nalm/div/U[-2,2]", "--out", str(stem)])
    payload = json.loads(stem.with_suffix(".json").read_text())
    text = render_report(payload["metadata"], payload["runs"])

    assert "not missed against the baselines run (NPU; not run: NAC, NALU, NAU/NMU, iNALU, RealNPU, MLP)" in text
