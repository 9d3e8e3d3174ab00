"""lognet: logarithmic neural networks (product units) for PyTorch."""

from . import _plot as plots
from . import functional
from ._layer import LogLayer
from ._loss import MSLELoss, SPESLoss
from ._engine import EngineOptions
from ._fit import fit
from ._model import LNN
from ._result import FitResult

__version__ = "0.1.0"

__all__ = [
    "LogLayer",
    "LNN",
    "SPESLoss",
    "MSLELoss",
    "fit",
    "FitResult",
    "EngineOptions",
    "functional",
    "plots",
    "__version__",
]
