"""Tests of lognet.save and lognet.load: round trips, rejected files and atomic writes."""

import json
import math
import struct
from datetime import datetime

import numpy as np
import pytest
from safetensors.numpy import load as load_tensors
from safetensors.numpy import save as save_tensors

import lognet
from lognet import _io


def power_law_data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 10, (n, 2))
    y = 3 * X[:, 0] ** 1.5 / np.sqrt(X[:, 1]) * (1 + 0.01 * rng.standard_normal(n))
    return X, y


@pytest.fixture(scope="module")
def fitted():
    X, y = power_law_data()
    return lognet.fit(X, y, n_terms=1, feature_names=["mass", "radius"], random_state=0)


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    path = tmp_path_factory.mktemp("io") / "model.lognet"
    lognet.save(fitted, path)
    return path


@pytest.fixture(scope="module")
def loaded(saved):
    return lognet.load(saved)


def read_document(path):
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    return json.loads(header["__metadata__"][_io.METADATA_KEY])


def rewrite_document(source, target, change):
    """Copy the model at ``source`` to ``target`` after ``change`` edits its JSON document."""
    tensors = load_tensors(source.read_bytes())
    document = read_document(source)
    change(document)
    target.write_bytes(save_tensors(tensors, metadata={_io.METADATA_KEY: json.dumps(document)}))


def test_round_trip_predictions_identical(fitted, loaded):
    X, _ = power_law_data(n=25, seed=1)
    assert np.array_equal(loaded.predict(X), fitted.predict(X))


def test_round_trip_formula_identical(fitted, loaded):
    assert loaded.formula_string() == fitted.formula_string()
    assert loaded.raw.formula_string() == fitted.raw.formula_string()


def test_round_trip_parameters_identical(fitted, loaded):
    assert np.array_equal(loaded.weight, fitted.weight)
    assert np.array_equal(loaded.coef, fitted.coef)
    assert loaded.intercept == fitted.intercept
    assert np.array_equal(loaded.raw.weight, fitted.raw.weight)
    assert loaded.raw.intercept == fitted.raw.intercept


def test_round_trip_metadata_preserved(fitted, loaded):
    assert loaded.feature_names == ("mass", "radius")
    assert loaded.target_name == fitted.target_name
    assert loaded.domain == fitted.domain
    assert loaded.loss == fitted.loss
    assert loaded.metrics == fitted.metrics
    assert loaded.selection == fitted.selection
    assert loaded.simplification == fitted.simplification
    assert loaded.loss_history == fitted.loss_history
    assert loaded.extra["n_train"] == fitted.extra["n_train"]


def test_round_trip_keeps_confidence_intervals(fitted, loaded):
    assert np.array_equal(loaded.jacobian, fitted.jacobian)
    assert loaded.residual_variance == fitted.residual_variance
    expected = fitted.confidence_intervals()["weight"]
    assert np.array_equal(loaded.confidence_intervals()["weight"], expected)


def test_load_records_version_and_time(loaded):
    saved = loaded.extra["saved"]
    assert saved["lognet_version"] == lognet.__version__
    assert saved["format_version"] == 1
    assert datetime.fromisoformat(saved["created"]).tzinfo is not None


def test_resave_of_loaded_model_matches(loaded, tmp_path):
    path = tmp_path / "again.lognet"
    lognet.save(loaded, path)
    again = lognet.load(path)
    assert again.formula_string() == loaded.formula_string()
    assert "saved" not in read_document(path)["extra"]


def test_unsimplified_result_round_trip(tmp_path):
    X, y = power_law_data()
    result = lognet.fit(X, y, n_terms=1, random_state=0, simplify=False)
    path = lognet.save(result, tmp_path / "raw.lognet")
    loaded = lognet.load(path)
    assert loaded.raw is None
    assert loaded.simplification == []
    assert np.array_equal(loaded.predict(X), result.predict(X))


def test_document_is_strict_json(fitted, tmp_path):
    fitted_copy = lognet.FitResult(
        weight=fitted.weight,
        coef=fitted.coef,
        intercept=None,
        feature_names=fitted.feature_names,
        metrics={"train": {"max_rel_error": math.nan, "r2": -math.inf}, "validation": None},
        selection=[{"n_terms": 1, "score": math.inf}],
    )
    path = lognet.save(fitted_copy, tmp_path / "special.lognet")
    text = json.dumps(read_document(path))
    json.loads(text, parse_constant=lambda token: pytest.fail(f"non-standard JSON token {token}"))
    loaded = lognet.load(path)
    assert math.isnan(loaded.metrics["train"]["max_rel_error"])
    assert loaded.metrics["train"]["r2"] == -math.inf
    assert loaded.selection[0]["score"] == math.inf
    assert loaded.jacobian is None


def test_file_holds_expected_tensors(saved):
    tensors = load_tensors(saved.read_bytes())
    expected = {"weight", "coef", "jacobian", "loss_history", "raw.weight", "raw.coef", "raw.jacobian"}
    assert expected <= set(tensors)
    document = read_document(saved)
    assert document["format"] == "lognet-model"
    assert document["format_version"] == 1


def test_save_rejects_non_result(tmp_path):
    with pytest.raises(TypeError, match="save expects a lognet.FitResult, got dict"):
        lognet.save({"weight": 1}, tmp_path / "m.lognet")


def test_save_rejects_non_json_extra(fitted, tmp_path):
    result = lognet.FitResult(weight=fitted.weight, coef=fitted.coef, intercept=None, feature_names=fitted.feature_names)
    result.extra["callback"] = object()
    with pytest.raises(TypeError, match="result.extra must hold only JSON values"):
        lognet.save(result, tmp_path / "m.lognet")
    assert not (tmp_path / "m.lognet").exists()


def test_load_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        lognet.load(tmp_path / "absent.lognet")


def test_load_truncated_file(saved, tmp_path):
    path = tmp_path / "cut.lognet"
    path.write_bytes(saved.read_bytes()[:-16])
    with pytest.raises(ValueError, match=r"cut.lognet is truncated: its tensors need \d+ bytes"):
        lognet.load(path)


def test_load_truncated_header(saved, tmp_path):
    path = tmp_path / "cut.lognet"
    path.write_bytes(saved.read_bytes()[:40])
    with pytest.raises(ValueError, match=r"cut.lognet is truncated: its safetensors header needs"):
        lognet.load(path)


def test_load_tiny_file(tmp_path):
    path = tmp_path / "tiny.lognet"
    path.write_bytes(b"abc")
    with pytest.raises(ValueError, match=r"tiny.lognet is not a lognet model: it has 3 bytes"):
        lognet.load(path)


def test_load_text_file(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n3,4\n")
    with pytest.raises(ValueError, match=r"data.csv is not a lognet model: it does not start with a safetensors"):
        lognet.load(path)


def test_load_plain_safetensors(tmp_path):
    path = tmp_path / "weights.safetensors"
    path.write_bytes(save_tensors({"weight": np.ones((2, 2))}))
    with pytest.raises(ValueError, match=r"weights.safetensors is a safetensors file but not a lognet model"):
        lognet.load(path)


def test_load_other_format_name(saved, tmp_path):
    path = tmp_path / "other.lognet"
    rewrite_document(saved, path, lambda document: document.update(format="something-else"))
    with pytest.raises(ValueError, match=r"other.lognet is not a lognet model: its format is 'something-else'"):
        lognet.load(path)


def test_load_future_format_version(saved, tmp_path):
    path = tmp_path / "future.lognet"
    rewrite_document(saved, path, lambda document: document.update(format_version=2, lognet_version="9.0"))
    with pytest.raises(ValueError, match=r"future.lognet uses lognet model format version 2 \(written by lognet 9.0\)"):
        lognet.load(path)


def test_load_invalid_format_version(saved, tmp_path):
    path = tmp_path / "bad.lognet"
    rewrite_document(saved, path, lambda document: document.update(format_version="1"))
    with pytest.raises(ValueError, match=r"bad.lognet is corrupt: its format_version is '1'"):
        lognet.load(path)


def test_load_missing_tensor(saved, tmp_path):
    path = tmp_path / "partial.lognet"
    tensors = load_tensors(saved.read_bytes())
    del tensors["coef"]
    metadata = {_io.METADATA_KEY: json.dumps(read_document(saved))}
    path.write_bytes(save_tensors(tensors, metadata=metadata))
    with pytest.raises(ValueError, match=r"partial.lognet is corrupt: the tensor 'coef' is missing"):
        lognet.load(path)


def test_load_mismatched_feature_names(saved, tmp_path):
    path = tmp_path / "names.lognet"
    rewrite_document(saved, path, lambda document: document.update(feature_names=["only"]))
    with pytest.raises(ValueError, match=r"names.lognet is corrupt: weight has shape \(1, 2\)"):
        lognet.load(path)


def test_save_replaces_existing_file(fitted, tmp_path):
    path = tmp_path / "model.lognet"
    path.write_bytes(b"old contents")
    lognet.save(fitted, path)
    assert lognet.load(path).formula_string() == fitted.formula_string()


def test_crash_during_write_keeps_old_file(fitted, tmp_path, monkeypatch):
    path = tmp_path / "model.lognet"
    lognet.save(fitted, path)
    before = path.read_bytes()

    def write_half_then_fail(handle, data):
        handle.write(data[: len(data) // 2])
        raise OSError("simulated crash while writing")

    monkeypatch.setattr(_io, "_write_bytes", write_half_then_fail)
    with pytest.raises(OSError, match="simulated crash while writing"):
        lognet.save(fitted, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.lognet"]
