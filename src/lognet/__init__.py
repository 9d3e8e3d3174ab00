"""lognet: logarithmic neural networks (product units) for PyTorch."""

from . import functional
from ._layer import LogLayer
from ._loss import MSLELoss, SPESLoss
from ._model import LNN

__version__ = "0.1.0"

__all__ = ["LogLayer", "LNN", "SPESLoss", "MSLELoss", "functional", "__version__"]
