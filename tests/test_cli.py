"""End-to-end tests of the installed ``lognet`` console script, each command in a subprocess."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lognet
from lognet import _cli as cli
from lognet._cli import main

SCRIPT = Path(sys.executable).with_name("lognet")
# One OpenMP thread per process: the commands below run side by side on few cores.
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
TIMEOUT = 300
# Commands run this many at a time, since each spends seconds importing torch.
WORKERS = 4


def run_cli(args, cwd, env=None):
    return subprocess.run(
        [str(SCRIPT), *args], cwd=cwd, env=env or ENV, capture_output=True, text=True, timeout=TIMEOUT
    )


class Runs:
    """Commands started in a thread pool, each looked up by name once it has finished."""

    def __init__(self, cwd):
        self.cwd = cwd
        self.pool = ThreadPoolExecutor(WORKERS)
        self.futures = {}

    def start(self, name, args, after=None, env=None):
        def job():
            if after is not None:
                self.futures[after].result()
            return run_cli(args, self.cwd, env)

        self.futures[name] = self.pool.submit(job)

    def __getitem__(self, name):
        return self.futures[name].result()


def write_inputs(directory):
    rng = np.random.default_rng(0)
    n = 40
    x1 = rng.uniform(1, 10, n)
    x2 = rng.uniform(0.5, 5, n)
    y = 3 * x1**1.5 / np.sqrt(x2) * (1 + 0.01 * rng.standard_normal(n))
    data = pd.DataFrame({"x1": x1, "x2": x2, "name": [f"row{i}" for i in range(n)], "y": y})
    data.loc[[3, 7], "x2"] = np.nan
    data.to_csv(directory / "data.csv", index=False)

    small = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0], "y": [2.0, 8.0, 18.0, 32.0, 50.0]})
    small.assign(y=7.0).to_csv(directory / "constant.csv", index=False)
    small.assign(y=[0.0, 0.0, 0.0, 1.0, 2.0]).to_csv(directory / "zeros.csv", index=False)
    small.assign(x=[-1.0, 0.0, -2.0, 0.0, 5.0]).to_csv(directory / "negative.csv", index=False)
    pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]}).to_csv(directory / "other.csv", index=False)
    (directory / "garbage.csv").write_bytes(b"x,y\n\xff\xfe\x00\x81,\x9c\n")
    (directory / "header_only.csv").write_text("x,y\n")
    (directory / "repeated_header.csv").write_text("x,x,y\n1,2,3\n2,3,4\n")
    small.assign(z=np.nan).to_csv(directory / "empty_column.csv", index=False)

    blocker = directory / "no_matplotlib"
    blocker.mkdir()
    # A None entry in sys.modules makes "import matplotlib" raise ImportError.
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['matplotlib'] = None\n")


FIT = ["fit", "data.csv", "--target", "y", "--features", "x1,x2", "--dropna", "--terms", "1"]
HELP_COMMANDS = [[], ["fit"]]
# Every kind of bad input, each run through the console script.
ERROR_CASES = {
    "missing_file": (["fit", "absent.csv", "--target", "y"], 1, r"no such file or bundled dataset: 'absent.csv'"),
    "unreadable_csv": (["fit", "garbage.csv", "--target", "y"], 1, r"cannot read garbage.csv as CSV: "),
    "unknown_column": (FIT[:3] + ["yy"], 2, r"unknown column 'yy' in --target; did you mean 'y'\? The columns are x1"),
    "non_numeric": (
        FIT[:4] + ["--features", "x1,name"],
        1,
        r"column 'name' of data.csv is not numeric \(dtype \w+, e.g. 'row0' in row 1\)",
    ),
    "nan_rows": (FIT[:6], 1, r"data.csv has 2 rows with missing or infinite values .*\[4, 8\]\); pass --dropna"),
    "constant_target": (["fit", "constant.csv", "--target", "y"], 1, r"the target 'y' is constant \(every value is 7\)"),
    "zero_targets": (
        ["fit", "zeros.csv", "--target", "y"],
        1,
        r"the target 'y' has 3 zero values, and the default loss spes divides .* pass --loss mse",
    ),
    "non_positive": (
        ["fit", "negative.csv", "--target", "y"],
        1,
        r"features must be positive .* 'x' has 4 values <= 0; pass --domain signed",
    ),
    "bad_model_file": (["show", "data.csv"], 1, r"data.csv is not a lognet model: it does not start with a safetensors"),
}
# Further command-line mistakes, run in this process through lognet._cli.main to save the
# seconds each subprocess spends importing torch.
IN_PROCESS_ERROR_CASES = {
    "unknown_feature": (FIT[:4] + ["--features", "x1,x3"], 2, r"unknown column 'x3' in --features; did you mean"),
    "missing_target": (["fit", "data.csv"], 2, r"--target is required for a data file; .* x1, x2, name, y"),
    "bad_terms": (FIT[:4] + ["--terms", "zero"], 2, r"invalid --terms value 'zero'; give a positive integer or 'auto'"),
    "bad_loss": (FIT[:4] + ["--loss", "mae"], 2, r"argument --loss: invalid choice: 'mae'"),
    "unknown_command": (["train"], 2, r"invalid choice: 'train'"),
    "missing_out_directory": (FIT + ["--out", "nowhere/m.lognet"], 1, r"the directory nowhere does not exist"),
    "show_missing_model": (["show", "absent.lognet"], 1, r"No such file or directory: absent.lognet"),
    "predict_wrong_model": (["predict", "other.csv", "data.csv"], 1, r"other.csv is not a lognet model"),
    "predict_missing_column": (["predict", "model.lognet", "other.csv"], 2, r"unknown column 'x1' in DATA"),
    "header_only": (["fit", "header_only.csv", "--target", "y"], 1, r"header_only.csv has a header but no data rows"),
    "repeated_header": (
        ["fit", "repeated_header.csv", "--target", "y"],
        1,
        r"the header of repeated_header.csv names 'x' more than once; give every column a distinct name",
    ),
    "empty_column": (
        ["fit", "empty_column.csv", "--target", "y", "--features", "x,z", "--dropna"],
        1,
        r"column 'z' of empty_column.csv has no finite value .* leave it out of --features",
    ),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli")
    write_inputs(directory)
    pd.DataFrame({"x1": [1.0, 2.0], "x2": [-1.0, 2.0]}).to_csv(directory / "negative_features.csv", index=False)
    runs = Runs(directory)
    runs.start("fit", FIT + ["--out", "model.lognet", "--plot", "fit.png"])
    runs.start("fit_bundled", ["fit", "planets", "--terms", "1", "--out", "planets.lognet"])
    runs.start("demo", ["demo"])
    for case, (args, _, _) in ERROR_CASES.items():
        runs.start(case, args)
    runs.start("debug", ["fit", "absent.csv", "--target", "y", "--debug"])
    blocked = {**ENV, "PYTHONPATH": str(directory / "no_matplotlib")}
    runs.start("plot_without_matplotlib", FIT + ["--plot", "fit2.png"], env=blocked)
    for command in HELP_COMMANDS:
        runs.start("help " + " ".join(command), [*command, "--help"])
    runs.start("predict_stdout", ["predict", "model.lognet", "data.csv"], after="fit")
    runs.start("predict_file", ["predict", "model.lognet", "data.csv", "--out", "pred.csv"], after="fit")
    runs.start("show", ["show", "model.lognet"], after="fit")
    yield runs
    runs.pool.shutdown(wait=True)


def assert_error(run, status, pattern):
    lines = run.stderr.strip().splitlines()
    assert run.returncode == status, run.stderr
    assert lines, "stderr is empty"
    assert lines[-1].startswith("lognet: error: "), run.stderr
    assert re.search(pattern, lines[-1]), lines[-1]
    assert "Traceback" not in run.stderr


def test_demo_prints_kepler_exponent(runs):
    run = runs["demo"]
    assert run.returncode == 0, run.stderr
    assert re.search(r"Fitted exponent of a: 1\.49\d+ +\(95% confidence interval 1\.\d+ to 1\.\d+\)", run.stdout)
    assert "Simplified law:       P = " in run.stdout
    assert "a^1.5" in run.stdout
    assert "P is proportional to a^1.5" in run.stdout


def test_fit_csv_prints_report(runs):
    run = runs["fit"]
    assert run.returncode == 0, run.stderr
    assert "Fitting y from x1, x2: data.csv, 38 rows" in run.stdout
    assert re.search(r"term 0 +\d\.\d+ +\[", run.stdout)
    assert "Formula:     y = " in run.stdout
    assert re.search(r"train +0\.99\d+", run.stdout)
    assert re.search(r"validation +0\.99\d+", run.stdout)
    assert "Model saved to model.lognet" in run.stdout
    assert "dropped 2 rows with missing or infinite values" in run.stderr


def test_fit_csv_writes_model(runs):
    assert runs["fit"].returncode == 0
    result = lognet.load(runs.cwd / "model.lognet")
    assert result.feature_names == ("x1", "x2")
    assert result.target_name == "y"
    assert np.allclose(result.weight, [[1.5, -0.5]], atol=0.02)
    assert not (runs.cwd / "model.lognet.ckpt").exists()


def test_fit_plot_writes_png(runs):
    assert runs["fit"].returncode == 0
    assert "Plot saved to fit.png" in runs["fit"].stdout
    assert (runs.cwd / "fit.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fit_bundled_dataset(runs):
    run = runs["fit_bundled"]
    assert run.returncode == 0, run.stderr
    assert "Fitting P from a: bundled dataset 'planets', 8 rows" in run.stdout
    assert "Model saved to planets.lognet" in run.stdout
    assert lognet.load(runs.cwd / "planets.lognet").target_name == "P"


def test_predict_to_stdout(runs):
    run = runs["predict_stdout"]
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "x1,x2,y_pred"
    assert len(lines) == 41
    assert lines[4].endswith(",,")
    assert "2 rows with missing or infinite features got an empty prediction" in run.stderr


def test_predict_to_file(runs):
    run = runs["predict_file"]
    assert run.returncode == 0, run.stderr
    assert run.stdout == ""
    written = pd.read_csv(runs.cwd / "pred.csv")
    model = lognet.load(runs.cwd / "model.lognet")
    complete = written.dropna()
    assert list(written.columns) == ["x1", "x2", "y_pred"]
    assert np.array_equal(complete["y_pred"].to_numpy(), model.predict(complete[["x1", "x2"]]))


def test_show_prints_model(runs):
    run = runs["show"]
    assert run.returncode == 0, run.stderr
    for text in ("Formula:     y = ", "95% CI", "features          x1, x2", "lognet version    " + lognet.__version__):
        assert text in run.stdout
    assert re.search(r"created +\d{4}-\d\d-\d\dT", run.stdout)


@pytest.mark.parametrize("command", HELP_COMMANDS, ids=lambda c: " ".join(c) or "lognet")
def test_help_describes_options(runs, command):
    run = runs["help " + " ".join(command)]
    assert run.returncode == 0, run.stderr
    assert "usage: lognet" in run.stdout
    if command == ["fit"]:
        for option in ("--target", "--features", "--terms", "--max-terms", "--loss", "--domain", "--seed",
                       "--out", "--plot", "--dropna", "--no-simplify", "--checkpoint", "--resume", "--verbose",
                       "--debug"):
            assert option in run.stdout
        assert "(default: 4)" in run.stdout
        assert "(default: 0)" in run.stdout


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_error_exit_and_message(runs, case):
    _, status, pattern = ERROR_CASES[case]
    assert_error(runs[case], status, pattern)


def run_main(args, capsys):
    """Run lognet._cli.main in this process; return (status, stdout, stderr)."""
    try:
        status = main(args)
    except SystemExit as exit:
        status = exit.code
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(args, status, captured.out, captured.err)


@pytest.mark.parametrize("case", list(IN_PROCESS_ERROR_CASES))
def test_usage_error_in_process(runs, case, capsys, monkeypatch):
    args, status, pattern = IN_PROCESS_ERROR_CASES[case]
    assert runs["fit"].returncode == 0
    monkeypatch.chdir(runs.cwd)
    assert_error(run_main(args, capsys), status, pattern)


@pytest.mark.parametrize("command", ["predict", "show", "demo"])
def test_subcommand_help_in_process(command, capsys):
    run = run_main([command, "--help"], capsys)
    assert run.returncode == 0
    assert f"usage: lognet {command}" in run.stdout
    assert "--debug" in run.stdout


def test_no_command_runs_demo(capsys, monkeypatch):
    monkeypatch.setattr(cli, "run_demo", lambda args: print("demo ran"))
    run = run_main([], capsys)
    assert run.returncode == 0
    assert "demo ran" in run.stdout


def test_plot_without_matplotlib(runs):
    assert_error(runs["plot_without_matplotlib"], 1, r"--plot needs matplotlib: pip install 'lognet\[plot\]'")
    assert not (runs.cwd / "fit2.png").exists()


def test_debug_shows_traceback(runs):
    run = runs["debug"]
    assert run.returncode == 1
    assert "Traceback (most recent call last)" in run.stderr
    assert run.stderr.strip().splitlines()[-1].startswith("lognet: error: no such file or bundled dataset")


def test_module_entry_point(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "lognet", "--version"], cwd=tmp_path, env=ENV, capture_output=True, text=True,
        timeout=TIMEOUT,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"lognet {lognet.__version__}"


def write_three_term_data(path, n=800):
    rng = np.random.default_rng(1)
    X = rng.uniform(0.5, 4, (n, 3))
    y = 2 * X[:, 0] ** 1.5 + 0.5 * X[:, 2] / X[:, 1] + 3 * np.sqrt(X[:, 2])
    y *= 1 + 0.001 * rng.standard_normal(n)
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y}).to_csv(path, index=False)


def test_killed_fit_resumes_from_checkpoint(tmp_path):
    write_three_term_data(tmp_path / "law.csv")
    command = [str(SCRIPT), "fit", "law.csv", "--target", "y", "--terms", "auto", "--out", "law.lognet", "--verbose"]
    checkpoint = tmp_path / "law.lognet.ckpt"
    with open(tmp_path / "first.log", "w") as log:
        process = subprocess.Popen(command, cwd=tmp_path, env=ENV, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + TIMEOUT
        while not checkpoint.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL, (tmp_path / "first.log").read_text()
    assert not (tmp_path / "law.lognet").exists()
    saved = json.loads(checkpoint.read_text())
    finished = len(saved["stages"])

    run = subprocess.run(command + ["--resume"], cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=TIMEOUT)
    assert run.returncode == 0, run.stderr
    assert f"resumed from checkpoint {checkpoint.name} with {finished} finished stage(s)" in run.stderr
    result = lognet.load(tmp_path / "law.lognet")
    assert result.loss_history[: len(saved["history"])] == saved["history"]
    assert result.selection[:finished] == saved["selection"][:finished]
    assert result.n_terms == 3
    assert result.metrics["validation"]["r2"] > 0.999
    assert not checkpoint.exists()


def test_fit_parquet_in_process(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(2)
    x = rng.uniform(1, 5, 12)
    pd.DataFrame({"x": x, "y": 2 * x**2}).to_parquet(tmp_path / "table.parquet")
    monkeypatch.chdir(tmp_path)
    run = run_main(["fit", "table.parquet", "--target", "y", "--terms", "1"], capsys)
    assert run.returncode == 0, run.stderr
    assert "Formula:     y = 2 * x^2" in run.stdout
    assert "Model saved to table.lognet" in run.stdout
    assert lognet.load(tmp_path / "table.lognet").formula_string() == "y = 2 * x^2"


def test_unreadable_parquet_in_process(tmp_path, capsys, monkeypatch):
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really parquet")
    monkeypatch.chdir(tmp_path)
    run = run_main(["fit", "broken.parquet", "--target", "y"], capsys)
    assert_error(run, 1, r"cannot read broken.parquet as Parquet: ")


def test_predict_leaves_rows_outside_the_domain_empty(runs, capsys, monkeypatch):
    assert runs["fit"].returncode == 0
    monkeypatch.chdir(runs.cwd)

    run = run_main(["predict", "model.lognet", "negative_features.csv"], capsys)
    lines = run.stdout.strip().splitlines()

    assert run.returncode == 0
    assert "1 row with a feature <= 0 (in x2; first data row 1) got an empty prediction" in run.stderr
    assert lines[1].endswith(",")
    assert float(lines[2].split(",")[-1]) > 0


def test_predict_non_numeric_column_names_data(runs, capsys, monkeypatch):
    assert runs["fit"].returncode == 0
    monkeypatch.chdir(runs.cwd)

    (runs.cwd / "text_feature.csv").write_text("x1,x2\n1,2\nabc,3\n")
    run = run_main(["predict", "model.lognet", "text_feature.csv"], capsys)
    assert run.returncode == 1
    assert "column 'x1' of text_feature.csv is not numeric" in run.stderr
    assert "fix those values in DATA, because the model needs that column" in run.stderr
    assert "--features" not in run.stderr


def test_fit_leaves_out_empty_columns(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty.csv").write_text("a,e,y\n1,,2\n2,,4\n3,,6\n4,,8\n")

    run = run_main(["fit", "empty.csv", "--target", "y", "--terms", "1", "--out", "m.lognet"], capsys)

    assert run.returncode == 0
    assert "leaving out empty column(s) e" in run.stderr


def test_verbose_log_has_no_bar_off_terminal(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)

    run = run_main(["fit", "planets", "--target", "P", "--terms", "1", "--verbose"], capsys)

    assert run.returncode == 0
    assert "lognet: fitted 1 term(s)" in run.stderr
    assert "stage/s" not in run.stderr


def test_semicolon_file_gets_a_separator_hint(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "semi.csv").write_text("a;y\n1;2\n2;4\n")

    run = run_main(["fit", "semi.csv", "--target", "y"], capsys)

    assert run.returncode == 2
    assert "seems to use another separator than a comma" in run.stderr
