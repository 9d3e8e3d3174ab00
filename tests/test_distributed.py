"""Two-process fits through torchrun on 127.0.0.1 (gloo) against the single-process fit."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch.distributed as dist

import lognet

sys.path.insert(0, str(Path(__file__).parent))
from distributed_worker import make_problem  # noqa: E402

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="torch.distributed with gloo is not available")


def free_local_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_torchrun(mode: str, out_dir: Path) -> list[dict]:
    command = [
        sys.executable, "-m", "torch.distributed.run",
        "--nnodes", "1", "--nproc-per-node", "2",
        "--master-addr", "127.0.0.1", "--master-port", str(free_local_port()),
        str(Path(__file__).parent / "distributed_worker.py"), mode, str(out_dir),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    written = all((out_dir / f"rank{r}.json").exists() for r in range(2))
    # NOTE: inside a full pytest run, about one data-parallel run in five ends with SIGABRT
    # ("terminate called without an active exception") from gloo's threads after both ranks
    # wrote their results and left the group; it did not reproduce outside pytest, even
    # under CPU load. Such a teardown abort is tolerated; any other failure is not.
    teardown_abort = written and "terminate called without an active exception" in completed.stderr
    assert completed.returncode == 0 or teardown_abort, completed.stderr[-3000:]
    return [json.loads((out_dir / f"rank{r}.json").read_text()) for r in range(2)]


@pytest.fixture(scope="module")
def single_process():
    X, y = make_problem()
    return lognet.fit(X, y, random_state=0, simplify=False)


def sorted_terms(weight, coef):
    order = np.lexsort(np.asarray(weight).T)
    return np.asarray(weight)[order], np.asarray(coef)[order]


def test_population_split_matches_single_process(tmp_path, single_process):
    ranks = run_torchrun("population", tmp_path)
    reference_weight, reference_coef = sorted_terms(single_process.weight, single_process.coef)
    for record in ranks:
        weight, coef = sorted_terms(record["weight"], record["coef"])
        assert record["world_size"] == 2
        assert record["n_terms"] == single_process.n_terms
        assert np.allclose(weight, reference_weight, atol=1e-6)
        assert np.allclose(coef, reference_coef, rtol=1e-6)
    assert ranks[0]["loss_history"] == ranks[1]["loss_history"]


def test_data_parallel_matches_single_process(tmp_path, single_process):
    ranks = run_torchrun("data", tmp_path)
    reference_weight, _ = sorted_terms(single_process.weight, single_process.coef)
    X, _ = make_problem()
    assert ranks[0]["rows"] == list(range(0, X.shape[0], 2))
    assert ranks[1]["rows"] == list(range(1, X.shape[0], 2))
    for record in ranks:
        weight, coef = sorted_terms(record["weight"], record["coef"])
        assert record["n_terms"] == single_process.n_terms
        assert np.allclose(weight, reference_weight, atol=1e-6)
        assert record["n_train"] == single_process.extra["n_train"]
    assert np.array_equal(ranks[0]["weight"], ranks[1]["weight"])


def test_shard_reader_keeps_own_rows(tmp_path):
    from lognet._cli_data import read_table

    path = tmp_path / "rows.csv"
    path.write_text("a,y\n" + "".join(f"{i + 1},{2 * (i + 1)}\n" for i in range(7)))
    first = read_table(str(path), (0, 2)).frame
    second = read_table(str(path), (1, 2)).frame
    assert first["a"].tolist() == [1, 3, 5, 7]
    assert second["a"].tolist() == [2, 4, 6]


def test_cli_fit_under_torchrun(tmp_path):
    X, y = make_problem()
    data = tmp_path / "law.csv"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "y": y}).to_csv(data, index=False)
    command = [
        sys.executable, "-m", "torch.distributed.run",
        "--nnodes", "1", "--nproc-per-node", "2",
        "--master-addr", "127.0.0.1", "--master-port", str(free_local_port()),
        "-m", "lognet", "fit", str(data), "--target", "y", "--data-parallel", "--out", str(tmp_path / "law.lognet"),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
    completed = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    saved = (tmp_path / "law.lognet").exists()
    teardown_abort = saved and "terminate called without an active exception" in completed.stderr
    assert completed.returncode == 0 or teardown_abort, completed.stderr[-3000:]
    assert completed.stdout.count("Model saved to") == 1
    assert "300 rows in shard 0 of 2" in completed.stdout
    assert "y = 2.5 * a^1.5 - 0.5 * a^-1 * b^2" in completed.stdout
    assert lognet.load(tmp_path / "law.lognet").extra["n_train"] == 480
