"""lognet: logarithmic neural networks (product units) for PyTorch."""

from . import _plot as plots
from . import functional
from ._layer import LogLayer
from ._loss import MSLELoss, SPESLoss
from ._engine import EngineOptions
from ._exact import exact_match
from ._fit import fit
from ._io import load, save
from ._model import LNN
from ._network_fit import NetworkFit, NetworkOptions, fit_network
from ._onnx import export_onnx
from ._result import FitResult

__version__ = "0.1.0"

__all__ = [
    "LogLayer",
    "LNN",
    "SPESLoss",
    "MSLELoss",
    "fit",
    "fit_network",
    "NetworkOptions",
    "NetworkFit",
    "save",
    "load",
    "FitResult",
    "EngineOptions",
    "exact_match",
    "functional",
    "plots",
    "LNNRegressor",
    "export_onnx",
    "__version__",
]


def __getattr__(name: str):
    # scikit-learn is an optional extra and slow to import, so LNNRegressor loads on first use.
    if name == "LNNRegressor":
        from ._sklearn import LNNRegressor

        return LNNRegressor
    raise AttributeError(f"module 'lognet' has no attribute {name!r}")
