"""Functional forms of lognet's layer and losses, mirroring ``torch.nn.functional``."""

from ._functional import log_layer
from ._loss import msle_loss, spes_loss

__all__ = ["log_layer", "spes_loss", "msle_loss"]
