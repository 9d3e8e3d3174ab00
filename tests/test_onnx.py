"""Tests for lognet.export_onnx: the exported graph matches PyTorch in onnxruntime."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
ort = pytest.importorskip("onnxruntime")
import onnx  # noqa: E402

import lognet  # noqa: E402
from lognet import LNN, LogLayer, export_onnx  # noqa: E402

DOMAINS = ["positive", "signed", "abs"]
RTOL = 1e-5


def random_inputs(n: int, d: int, domain: str, seed: int) -> torch.Tensor:
    """Draw |x| in [0.1, 10]; signed and abs inputs also get negative signs and exact zeros."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.exp(torch.empty(n, d).uniform_(np.log(0.1), np.log(10.0), generator=generator))
    if domain != "positive":
        signs = torch.where(torch.rand(n, d, generator=generator) < 0.5, -1.0, 1.0)
        x = x * signs
        x[::7, 0] = 0.0
    return x


def run_onnx(path, x: torch.Tensor):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"input": x.numpy()})


def magnitude_scale(weight: torch.Tensor, x: torch.Tensor) -> np.ndarray:
    """|x|^W per unit: the size of each output before the signed domain's cosine."""
    with torch.no_grad():
        return lognet.functional.log_layer(x, weight, domain="abs").numpy()


def assert_close_relative(actual: np.ndarray, expected: np.ndarray, scale: np.ndarray) -> None:
    """Finite entries agree to RTOL of ``scale``; infinities and zeros agree exactly."""
    finite = np.isfinite(expected)
    assert np.array_equal(np.isfinite(actual), finite)
    assert np.array_equal(actual[~finite], expected[~finite])
    error = np.abs(actual[finite] - expected[finite])
    assert np.all(error <= RTOL * np.abs(scale[finite]))


@pytest.mark.parametrize("domain", DOMAINS)
def test_log_layer_matches_torch(domain, tmp_path):
    torch.manual_seed(0)
    layer = LogLayer(4, 5, bias=True, domain=domain, init_bound=2.0)
    path = export_onnx(layer, tmp_path / "layer.onnx")
    for batch, seed in ((1, 1), (17, 2), (300, 3)):
        x = random_inputs(batch, 4, domain, seed)
        with torch.no_grad():
            expected = layer(x).numpy()
        (actual,) = run_onnx(path, x)
        assert actual.shape == (batch, 5)
        assert actual.dtype == np.float32
        scale = magnitude_scale(layer.weight.detach(), x) * np.exp(layer.bias.detach().numpy())
        assert_close_relative(actual, expected, scale)


@pytest.mark.parametrize("domain", DOMAINS)
def test_lnn_matches_torch(domain, tmp_path):
    torch.manual_seed(1)
    model = LNN(3, n_terms=4, domain=domain)
    path = export_onnx(model, tmp_path / "lnn.onnx")
    x = random_inputs(200, 3, domain, 4)
    x = x[(x != 0).all(dim=1)]
    with torch.no_grad():
        expected = model(x).numpy()
        terms = lognet.functional.log_layer(x, model.log_layer.weight, domain="abs")
        # The sum of the terms' sizes bounds the rounding error of the output's sum.
        scale = (terms.abs() @ model.linear.weight.abs().T + model.linear.bias.abs()).numpy()
    (actual,) = run_onnx(path, x)
    assert actual.shape == (x.shape[0], 1)
    assert_close_relative(actual, expected, scale)


def test_signed_integer_powers_exact_signs(tmp_path):
    layer = LogLayer(2, 1, domain="signed")
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[3.0, 2.0]]))
    path = export_onnx(layer, tmp_path / "cube.onnx")
    x = torch.tensor([[-2.0, 3.0], [2.0, -3.0], [0.0, 5.0], [-1.5, -0.5]])
    (actual,) = run_onnx(path, x)
    np.testing.assert_allclose(actual[:, 0], [-72.0, 72.0, 0.0, -0.84375], rtol=RTOL)


def test_abs_zero_powers_exact(tmp_path):
    layer = LogLayer(2, 3, domain="abs")
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[1.0, 1.0], [-1.0, 1.0], [0.0, 2.0]]))
    path = export_onnx(layer, tmp_path / "zeros.onnx")
    x = torch.tensor([[0.0, 2.0]])
    (actual,) = run_onnx(path, x)
    assert actual[0, 0] == 0.0
    assert actual[0, 1] == np.inf
    assert actual[0, 2] == pytest.approx(4.0)


def test_batch_dimension_dynamic(tmp_path):
    path = export_onnx(LNN(2, n_terms=2), tmp_path / "lnn.onnx")
    graph = onnx.load(str(path)).graph
    input_shape = graph.input[0].type.tensor_type.shape.dim
    assert input_shape[0].dim_param != ""
    assert input_shape[1].dim_value == 2
    assert graph.output[0].type.tensor_type.shape.dim[0].dim_param != ""


@pytest.mark.parametrize("opset", [17, 18])
def test_opset_recorded(opset, tmp_path):
    path = export_onnx(LNN(2, n_terms=1), tmp_path / "lnn.onnx", opset=opset)
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    versions = {entry.domain: entry.version for entry in model.opset_import}
    assert versions[""] == opset


def test_fit_result_exports(tmp_path):
    X = np.linspace(1.0, 10.0, 20).reshape(-1, 1)
    result = lognet.FitResult(weight=[[1.5]], coef=[2.0], intercept=0.5, feature_names=("a",))
    path = export_onnx(result, tmp_path / "result.onnx")
    (actual,) = run_onnx(path, torch.from_numpy(X).float())
    np.testing.assert_allclose(actual[:, 0], result.predict(X), rtol=RTOL)


def test_float64_export(tmp_path):
    result = lognet.FitResult(weight=[[0.5, -1.0]], coef=[3.0], intercept=None, feature_names=("a", "b"))
    path = export_onnx(result, tmp_path / "double.onnx", dtype=torch.float64)
    x = torch.tensor([[4.0, 2.0], [9.0, 0.5]], dtype=torch.float64)
    (actual,) = run_onnx(path, x)
    assert actual.dtype == np.float64
    np.testing.assert_allclose(actual[:, 0], [3.0, 18.0], rtol=1e-14)


def test_regressor_exports(tmp_path):
    pytest.importorskip("sklearn")
    X = np.linspace(1.0, 10.0, 20).reshape(-1, 1)
    options = lognet.EngineOptions(population=16, steps=20)
    model = lognet.LNNRegressor(options=options, random_state=0).fit(X, 3.0 * X[:, 0] ** 2)
    path = export_onnx(model, tmp_path / "regressor.onnx")
    (actual,) = run_onnx(path, torch.from_numpy(X).float())
    np.testing.assert_allclose(actual[:, 0], model.predict(X), rtol=RTOL)


def test_custom_network_exports(tmp_path):
    torch.manual_seed(2)
    network = nn.Sequential(nn.Linear(3, 4), nn.Softplus(), LogLayer(4, 2, domain="positive"), nn.Linear(2, 1))
    path = export_onnx(network, tmp_path / "net.onnx", n_features=3)
    x = torch.randn(25, 3)
    with torch.no_grad():
        expected = network(x).numpy()
    (actual,) = run_onnx(path, x)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=RTOL * np.abs(expected).max())
    assert isinstance(network[2], LogLayer)


def test_log_output_two_outputs(tmp_path):
    torch.manual_seed(3)
    layer = LogLayer(3, 2, domain="signed", log_output=True)
    path = export_onnx(layer, tmp_path / "log.onnx")
    x = random_inputs(30, 3, "signed", 5)
    x = x[(x != 0).all(dim=1)]
    with torch.no_grad():
        log_abs, sign = layer(x)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [output.name for output in session.get_outputs()] == ["log_abs", "sign"]
    actual_log, actual_sign = session.run(None, {"input": x.numpy()})
    np.testing.assert_allclose(actual_log, log_abs.numpy(), rtol=RTOL, atol=1e-4)
    np.testing.assert_array_equal(actual_sign, sign.numpy())


def test_custom_network_needs_n_features(tmp_path):
    network = nn.Sequential(LogLayer(3, 2), nn.Linear(2, 1))
    with pytest.raises(ValueError, match=r"n_features is required to export a Sequential"):
        export_onnx(network, tmp_path / "net.onnx")


def test_n_features_mismatch(tmp_path):
    with pytest.raises(ValueError, match=r"n_features=3 does not match the model's in_features=2"):
        export_onnx(LNN(2, n_terms=1), tmp_path / "lnn.onnx", n_features=3)


@pytest.mark.parametrize("n_features", [0, -1, 2.0, True])
def test_n_features_invalid(n_features, tmp_path):
    network = nn.Sequential(LogLayer(2, 1))
    with pytest.raises(ValueError, match=r"n_features must be a positive int, got"):
        export_onnx(network, tmp_path / "net.onnx", n_features=n_features)


@pytest.mark.parametrize("opset", [0, "17", 17.0])
def test_opset_invalid(opset, tmp_path):
    with pytest.raises(ValueError, match=r"opset must be a positive int such as 17, got"):
        export_onnx(LNN(2, n_terms=1), tmp_path / "lnn.onnx", opset=opset)


def test_bad_object_rejected(tmp_path):
    with pytest.raises(TypeError, match=r"export_onnx expects a torch.nn.Module .* got str"):
        export_onnx("model.pt", tmp_path / "model.onnx")


def test_bad_dtype_rejected(tmp_path):
    with pytest.raises(TypeError, match=r"dtype must be torch.float32 or torch.float64, got torch.float16"):
        export_onnx(LNN(2, n_terms=1), tmp_path / "lnn.onnx", dtype=torch.float16)


def test_unknown_domain_named(tmp_path):
    layer = LogLayer(2, 1)
    layer.domain = "complex"
    with pytest.raises(ValueError, match=r"LogLayer domain 'complex' cannot be exported to ONNX"):
        export_onnx(layer, tmp_path / "layer.onnx")


def test_original_model_unchanged(tmp_path):
    model = LNN(2, n_terms=2)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    export_onnx(model, tmp_path / "lnn.onnx")
    assert isinstance(model.log_layer, LogLayer)
    assert model.log_layer.weight.dtype == torch.float32
    for name, value in model.state_dict().items():
        assert torch.equal(value, before[name])


def test_original_layer_unchanged(tmp_path):
    layer = LogLayer(2, 2, bias=True)
    export_onnx(layer, tmp_path / "layer.onnx", dtype=torch.float64)
    assert layer.weight.dtype == torch.float32
    assert layer.bias.dtype == torch.float32


def test_missing_onnx_named(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxscript", None)
    with pytest.raises(ImportError, match=r"export_onnx needs onnxscript, which is not installed; pip install 'lognet\[onnx\]'"):
        export_onnx(LNN(2, n_terms=1), tmp_path / "lnn.onnx")


def test_import_lognet_skips_onnx():
    code = "import sys, lognet; print('onnx' in sys.modules, 'onnxruntime' in sys.modules)"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "False False"
