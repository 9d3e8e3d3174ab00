"""Saving and loading fitted models as single safetensors files."""

from __future__ import annotations

import json
import math
import os
import struct
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from ._result import FitResult

FORMAT_NAME = "lognet-model"
FORMAT_VERSION = 1
# The safetensors metadata key whose value is the JSON document describing the model.
METADATA_KEY = "lognet"
# Key of FitResult.extra that load() fills with the file's provenance; save() never writes it.
SAVED_KEY = "saved"
# safetensors files start with the header length as a little-endian unsigned 64-bit integer.
_HEADER_LENGTH_BYTES = 8
# Larger headers are not plausible for a model with a few terms, so they mark a foreign file.
_MAX_HEADER_BYTES = 100_000_000
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def save(result: FitResult, path: str | os.PathLike) -> Path:
    """Write a fitted model to ``path`` as one safetensors file.

    The tensors are the exponents, coefficients, residual Jacobian and loss history of the
    result and of its unsimplified fit (``result.raw``). A JSON document in the file's
    metadata stores everything else. The write is atomic: the data go to a temporary file in
    the same directory, which is synced and then renamed over ``path``, so a crash leaves
    either the old file or the new one, never a partial file.

    Args:
        result: the :class:`FitResult` to save.
        path: destination file; ``.lognet`` is the usual suffix. An existing file is replaced.

    Returns:
        The path written, as a :class:`pathlib.Path`.

    Raises:
        TypeError: if ``result`` is not a FitResult or its ``extra`` contains values JSON
            cannot represent.
        OSError: if the file cannot be written.
    """
    if not isinstance(result, FitResult):
        raise TypeError(f"save expects a lognet.FitResult, got {type(result).__name__}.")
    path = Path(os.fspath(path))
    from . import __version__

    tensors: dict[str, np.ndarray] = {}
    document = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "lognet_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        **_describe(result, "", tensors),
    }
    if result.raw is not None:
        document["raw"] = _describe(result.raw, "raw.", tensors)
    else:
        document["raw"] = None
    metadata = {METADATA_KEY: json.dumps(_encode(document), allow_nan=False, ensure_ascii=False)}

    from safetensors.numpy import save as save_tensors

    write_atomic(path, save_tensors(tensors, metadata=metadata))
    return path


def load(path: str | os.PathLike) -> FitResult:
    """Read a model written by :func:`lognet.save` and return it as a :class:`FitResult`.

    Only tensors and JSON are read, so loading never runs code stored in the file. The
    result predicts, prints its formula and reports metrics and confidence intervals as the
    saved one did. ``result.extra["saved"]`` contains the lognet version and the UTC creation
    time recorded in the file.

    Args:
        path: a file written by :func:`lognet.save`.

    Returns:
        The saved :class:`FitResult`, with ``raw`` and ``simplification`` restored.

    Raises:
        ValueError: if the file is not a lognet model, is truncated or corrupt, or was
            written in a newer format version than this lognet reads; the message names the
            file and the problem.
        OSError: if the file cannot be read (for example, it does not exist).
    """
    path = Path(os.fspath(path))
    tensors, document = read_model_file(path)
    result = _restore(document, "", tensors, path)
    if document.get("raw") is not None:
        result.raw = _restore(document["raw"], "raw.", tensors, path)
    result.extra[SAVED_KEY] = {
        "lognet_version": document.get("lognet_version"),
        "created": document.get("created"),
        "format_version": document["format_version"],
    }
    return result


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` through a synced temporary file in the same directory.

    A symbolic link is followed, so its target is replaced and the link kept. A path that
    exists but is not a regular file (``/dev/stdout``, a FIFO) cannot be replaced by a rename;
    it is written directly instead. The new file gets the permissions the umask allows, as
    ``open`` would give it.
    """
    path = Path(os.path.realpath(path))
    if path.exists() and not path.is_file():
        with open(path, "wb") as handle:
            _write_bytes(handle, data)
        return
    directory = path.parent if str(path.parent) else Path(".")
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            _write_bytes(handle, data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        # BaseException: a KeyboardInterrupt mid-write must not leave the temporary file behind.
        with _suppress_missing():
            os.unlink(temporary)
        raise
    _sync_directory(directory)


def _umask() -> int:
    # os.umask can only be read by setting it, so set it back at once.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _write_bytes(handle, data: bytes) -> None:
    handle.write(data)


def _sync_directory(directory: Path) -> None:
    # Syncing the directory makes the rename itself durable; Windows cannot open directories.
    if os.name != "posix":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class _suppress_missing:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback) -> bool:
        return kind is not None and issubclass(kind, FileNotFoundError)


def _describe(result, prefix: str, tensors: dict[str, np.ndarray]) -> dict[str, Any]:
    """Put one result's arrays into ``tensors`` under ``prefix`` and return its other fields."""
    tensors[prefix + "weight"] = np.ascontiguousarray(result.weight, dtype=np.float64)
    tensors[prefix + "coef"] = np.ascontiguousarray(result.coef, dtype=np.float64)
    tensors[prefix + "loss_history"] = np.asarray(result.loss_history, dtype=np.float64).reshape(-1)
    if result.jacobian is not None:
        tensors[prefix + "jacobian"] = np.ascontiguousarray(np.asarray(result.jacobian, dtype=np.float64))
    extra = {key: value for key, value in result.extra.items() if key != SAVED_KEY}
    try:
        json.dumps(_encode(extra), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise TypeError(
            f"result.extra must hold only JSON values (str, numbers, bools, None, lists, dicts) to be "
            f"saved: {error}; remove or convert the offending entry."
        ) from error
    return {
        "feature_names": list(result.feature_names),
        "target_name": result.target_name,
        "domain": result.domain,
        "loss": result.loss,
        "n_terms": result.n_terms,
        "n_features": result.n_features,
        "intercept": None if result.intercept is None else float(result.intercept),
        "residual_variance": None if result.residual_variance is None else float(result.residual_variance),
        "metrics": result.metrics,
        "selection": result.selection,
        "simplification": result.simplification,
        "extra": extra,
    }


def _encode(value):
    """Make ``value`` strict JSON: non-finite floats become the strings NaN, Infinity, -Infinity."""
    if isinstance(value, dict):
        return {str(key): _encode(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(item) for item in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    return value


def _decode(value):
    if isinstance(value, dict):
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if isinstance(value, str) and value in _NON_FINITE:
        return _NON_FINITE[value]
    return value


def read_model_file(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Return the tensors and the decoded JSON document of a lognet model file.

    Raises a ValueError naming ``path`` when the file is not a complete lognet model in a
    format version this lognet reads.
    """
    data = path.read_bytes()
    header = _parse_header(data, path)
    metadata = header.get("__metadata__")
    if not isinstance(metadata, dict) or METADATA_KEY not in metadata:
        raise ValueError(
            f"{path} is a safetensors file but not a lognet model: its metadata has no "
            f"'{METADATA_KEY}' entry. Save models with lognet.save or 'lognet fit --out'."
        )
    try:
        document = json.loads(metadata[METADATA_KEY])
    except (TypeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is corrupt: its lognet metadata is not valid JSON ({error}).") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise ValueError(f"{path} is not a lognet model: its format is {found!r}, expected {FORMAT_NAME!r}.")
    _check_version(document.get("format_version"), document.get("lognet_version"), path)

    from safetensors import SafetensorError
    from safetensors.numpy import load as load_tensors

    try:
        tensors = load_tensors(data)
    except SafetensorError as error:
        raise ValueError(f"{path} is corrupt: its tensors cannot be read ({error}).") from error
    return tensors, _decode(document)


def _parse_header(data: bytes, path: Path) -> dict[str, Any]:
    if len(data) < _HEADER_LENGTH_BYTES:
        raise ValueError(
            f"{path} is not a lognet model: it has {len(data)} bytes, fewer than the "
            f"{_HEADER_LENGTH_BYTES}-byte safetensors header length."
        )
    (length,) = struct.unpack("<Q", data[:_HEADER_LENGTH_BYTES])
    if length > _MAX_HEADER_BYTES:
        raise ValueError(f"{path} is not a lognet model: it does not start with a safetensors header.")
    end = _HEADER_LENGTH_BYTES + length
    if end > len(data):
        raise ValueError(
            f"{path} is truncated: its safetensors header needs {end} bytes but the file has "
            f"{len(data)}. Save the model again."
        )
    try:
        header = json.loads(data[_HEADER_LENGTH_BYTES:end].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a lognet model: it does not start with a safetensors header.") from error
    if not isinstance(header, dict):
        raise ValueError(f"{path} is not a lognet model: it does not start with a safetensors header.")
    needed = max(
        (entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__" and _has_offsets(entry)),
        default=0,
    )
    if end + needed > len(data):
        raise ValueError(
            f"{path} is truncated: its tensors need {end + needed} bytes but the file has "
            f"{len(data)}. Save the model again."
        )
    return header


def _has_offsets(entry) -> bool:
    offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
    return isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)


def _check_version(version, lognet_version, path: Path) -> None:
    from . import __version__

    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"{path} is corrupt: its format_version is {version!r}, expected a positive integer.")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path} uses lognet model format version {version} (written by lognet {lognet_version}), "
            f"but lognet {__version__} reads only versions up to {FORMAT_VERSION}; upgrade lognet to load it."
        )


def _restore(document: dict[str, Any], prefix: str, tensors: dict[str, np.ndarray], path: Path) -> FitResult:
    for key in ("weight", "coef", "loss_history"):
        if prefix + key not in tensors:
            raise ValueError(f"{path} is corrupt: the tensor {prefix + key!r} is missing.")
    required = ("feature_names", "target_name", "domain", "loss", "intercept", "metrics", "selection")
    missing = [key for key in required if key not in document]
    if missing:
        raise ValueError(f"{path} is corrupt: the {prefix or 'model '}metadata lacks {missing}.")
    from ._data import LOSSES
    from ._validation import DOMAINS

    if document["domain"] not in DOMAINS or document["loss"] not in LOSSES:
        raise ValueError(
            f"{path} is corrupt: domain {document['domain']!r} or loss {document['loss']!r} is not one of "
            f"{list(DOMAINS)} and {list(LOSSES)}."
        )
    weight, coef = tensors[prefix + "weight"], tensors[prefix + "coef"]
    names = document["feature_names"]
    if weight.ndim != 2 or coef.shape != (weight.shape[0],) or weight.shape[1] != len(names):
        raise ValueError(
            f"{path} is corrupt: {prefix}weight has shape {weight.shape} and {prefix}coef {coef.shape}, which "
            f"do not match {len(names)} features."
        )
    return FitResult(
        weight=weight,
        coef=coef,
        intercept=document["intercept"],
        feature_names=tuple(names),
        target_name=document["target_name"],
        domain=document["domain"],
        loss=document["loss"],
        metrics=document["metrics"],
        loss_history=tensors[prefix + "loss_history"].tolist(),
        selection=document["selection"],
        jacobian=tensors.get(prefix + "jacobian"),
        residual_variance=document.get("residual_variance"),
        simplification=document.get("simplification", []),
        extra=document.get("extra", {}),
    )
