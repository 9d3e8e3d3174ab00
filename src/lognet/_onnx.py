"""Export of lognet models to ONNX through ``torch.onnx.export``."""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import warnings
from pathlib import Path

import torch
from torch import Tensor, nn

from ._layer import LogLayer
from ._model import LNN

__all__ = ["export_onnx"]

EXPORTABLE_DOMAINS = ("positive", "signed", "abs")
EXPORTABLE_DTYPES = (torch.float32, torch.float64)


class _InferenceLogLayer(nn.Module):
    """A LogLayer's forward in plain torch operations, for tracing by the ONNX exporter.

    LogLayer itself checks its input with data-dependent Python (``if bad.any(): raise``)
    and picks its zero handling from the data, which an exported graph cannot do. This
    module always takes the zero-aware path of the signed and abs domains, which is exact
    for every input, and drops the checks: the positive domain gives NaN for x < 0 and
    the limit of x -> 0+ (0 or inf) for x = 0 instead of raising.
    """

    def __init__(self, layer: LogLayer) -> None:
        super().__init__()
        if layer.domain not in EXPORTABLE_DOMAINS:
            raise ValueError(
                f"LogLayer domain {layer.domain!r} cannot be exported to ONNX; exportable domains are "
                f"{', '.join(map(repr, EXPORTABLE_DOMAINS))}."
            )
        # Copies, so that converting the exported twin's dtype leaves the caller's layer alone.
        self.weight = nn.Parameter(layer.weight.detach().clone(), requires_grad=False)
        self.bias = None if layer.bias is None else nn.Parameter(layer.bias.detach().clone(), requires_grad=False)
        self.domain = layer.domain
        self.eps = layer.eps
        self.log_output = layer.log_output

    def forward(self, input: Tensor) -> Tensor | tuple[Tensor, Tensor]:
        weight = self.weight
        magnitude_input = input.abs() + self.eps if self.eps is not None else input
        if self.domain == "positive" or self.eps is not None:
            log_abs = torch.log(magnitude_input)
            n_pos = n_neg = None
        else:
            zero = magnitude_input == 0
            log_abs = torch.log(torch.where(zero, torch.ones_like(input), magnitude_input.abs()))
            zero = zero.to(input.dtype)
            n_pos = zero @ (weight > 0).to(input.dtype).T
            n_neg = zero @ (weight < 0).to(input.dtype).T

        z = log_abs @ weight.T
        if self.bias is not None:
            z = z + self.bias
        if n_pos is not None:
            z = torch.where(n_neg > 0, torch.full_like(z, math.inf), z)
            z = torch.where(n_pos > 0, torch.full_like(z, -math.inf), z)

        cosine = None
        if self.domain == "signed":
            negative = (input < 0).to(input.dtype)
            cosine = torch.cos(math.pi * (negative @ weight.T))
        if self.log_output:
            if cosine is None:
                return z, torch.ones_like(z)
            return z + torch.log(cosine.abs()), torch.sign(cosine)
        output = torch.exp(z)
        return output if cosine is None else output * cosine


def _swap_log_layers(module: nn.Module) -> nn.Module:
    """Return a copy of ``module`` with every LogLayer replaced by its plain-torch twin."""
    if isinstance(module, LogLayer):
        return _InferenceLogLayer(module)
    module = copy.deepcopy(module)
    for name, child in list(module.named_children()):
        setattr(module, name, _swap_log_layers(child))
    return module


def _resolve_module(model_or_result) -> nn.Module:
    from ._result import FitResult

    result = getattr(model_or_result, "result_", model_or_result)
    if isinstance(result, FitResult):
        return result.model
    if isinstance(model_or_result, nn.Module):
        return model_or_result
    raise TypeError(
        f"export_onnx expects a torch.nn.Module (LogLayer, LNN or a network containing them), a "
        f"lognet.FitResult or a fitted LNNRegressor, got {type(model_or_result).__name__}."
    )


def _in_features(module: nn.Module, n_features: int | None) -> int:
    known = module.in_features if isinstance(module, (LogLayer, LNN)) else None
    if n_features is None:
        if known is None:
            raise ValueError(
                f"n_features is required to export a {type(module).__name__}, because its input size "
                f"cannot be read from it; pass n_features=<number of input columns>."
            )
        return known
    if isinstance(n_features, bool) or not isinstance(n_features, int) or n_features < 1:
        raise ValueError(f"n_features must be a positive int, got {n_features!r}.")
    if known is not None and n_features != known:
        raise ValueError(f"n_features={n_features} does not match the model's in_features={known}; omit n_features.")
    return n_features


def _require_onnx_exporter() -> None:
    missing = []
    for name in ("onnx", "onnxscript"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise ImportError(
            f"export_onnx needs {' and '.join(missing)}, which {'is' if len(missing) == 1 else 'are'} not "
            f"installed; pip install 'lognet[onnx]'."
        )


@contextlib.contextmanager
def _quiet_exporter():
    """Silence the exporter's progress logging and warnings for the duration of one export."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "onnxscript", "onnx_ir")]
    levels = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(logging.ERROR)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def export_onnx(
    model_or_result,
    path: str | os.PathLike,
    *,
    n_features: int | None = None,
    opset: int = 17,
    dtype: torch.dtype = torch.float32,
) -> Path:
    """Export a lognet model to an ONNX file with a dynamic batch dimension.

    The model runs on plain ONNX operators (Log, MatMul, Exp, Where, Cos), so any ONNX
    runtime can evaluate it. Every :class:`LogLayer` in the model is traced through a
    plain-torch twin that has the same outputs, because the layer's autograd Function and
    its data-dependent input checks cannot be traced. The export uses ``torch.onnx``'s
    ``torch.export``-based exporter (``dynamo=True``), which runs offline.

    The exported graph does not validate its input: in the positive domain an input x < 0
    gives NaN and x = 0 gives 0 or inf instead of the ValueError that lognet raises.
    Networks that call :func:`lognet.functional.log_layer` directly, instead of through a
    LogLayer module, are not rewritten and fail to trace.

    Args:
        model_or_result: a :class:`LogLayer`, :class:`LNN`, any ``nn.Module`` containing
            LogLayers, a :class:`FitResult` or a fitted :class:`LNNRegressor`.
        path: output file, conventionally ending in ``.onnx``.
        n_features: number of input columns; required only for a module other than
            LogLayer and LNN, whose input size cannot be read from it.
        opset: ONNX opset version. Default: 17. The exporter of torch 2.13 builds opset 18
            graphs and converts them down to a lower ``opset`` with onnx's version converter,
            which handles the few operators used here.
        dtype: floating-point type of the exported graph, ``torch.float32`` (default) or
            ``torch.float64``. A FitResult's float64 parameters are rounded to float32 by
            default.

    Returns:
        The path written, as a :class:`pathlib.Path`. The graph's input is named
        ``"input"``, shape (batch, n_features), and its output ``"output"``, shape
        (batch, out_features) (``"log_abs"`` and ``"sign"`` for a LogLayer with
        ``log_output=True``).

    Raises:
        ImportError: onnx or onnxscript is not installed.
        ValueError: the model or ``n_features`` cannot be exported.
        TypeError: the object is not a model.
    """
    _require_onnx_exporter()
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < 1:
        raise ValueError(f"opset must be a positive int such as 17, got {opset!r}.")
    if dtype not in EXPORTABLE_DTYPES:
        raise TypeError(f"dtype must be torch.float32 or torch.float64, got {dtype}.")
    module = _resolve_module(model_or_result)
    in_features = _in_features(module, n_features)
    exportable = _swap_log_layers(module).to(dtype).eval()

    # Positive sample values suit every domain; 3 rows keep the batch size from being
    # specialised, which torch.export does for sizes 0 and 1.
    example = torch.linspace(0.5, 2.0, 3 * in_features, dtype=dtype).reshape(3, in_features)
    with torch.no_grad():
        sample_output = exportable(example)
    output_names = ["log_abs", "sign"] if isinstance(sample_output, tuple) else ["output"]

    path = Path(path)
    batch = torch.export.Dim("batch")
    with _quiet_exporter():
        program = torch.onnx.export(
            exportable,
            (example,),
            dynamo=True,
            input_names=["input"],
            output_names=output_names,
            opset_version=opset,
            dynamic_shapes=({0: batch},),
            external_data=False,
            verbose=False,
        )
    program.save(str(path))
    return path
