"""Small real-world tables with known power laws, bundled as CSV files."""

from ._loader import available, info, load
from ._registry import DatasetInfo

__all__ = ["load", "available", "info", "DatasetInfo"]
