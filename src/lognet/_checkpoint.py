"""Checkpoints of a running fit, so that a killed fit can resume after its last finished stage."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import torch

from ._engine import Candidate
from ._io import write_atomic

logger = logging.getLogger("lognet")

FORMAT = "lognet-checkpoint"
VERSION = 1


def fingerprint(X: torch.Tensor, y: torch.Tensor, settings: dict) -> str:
    """Hash of the data and of every setting that changes the fit, to refuse a mismatched resume."""
    digest = hashlib.sha256()
    digest.update(X.numpy().tobytes())
    digest.update(y.numpy().tobytes())
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _plain(settings: dict) -> dict:
    """Return ``settings`` as the JSON document stores them (tuples become lists, objects strings)."""
    return json.loads(json.dumps(settings, sort_keys=True, default=str))


def save_checkpoint(
    path, key: str, fitted: dict[int, Candidate], selection, history, generator: torch.Generator, settings: dict | None = None
) -> None:
    stages = [
        {"n_terms": k, "weight": c.weight.tolist(), "coef": c.coef.tolist(), "intercept": c.intercept, "cost": c.cost}
        for k, c in sorted(fitted.items())
    ]
    document = {
        "format": FORMAT,
        "version": VERSION,
        "fingerprint": key,
        "settings": _plain(settings or {}),
        "stages": stages,
        "selection": selection,
        "history": history,
        "generator_state": generator.get_state().tolist(),
    }
    write_atomic(Path(path), json.dumps(document).encode())
    logger.info("checkpoint written to %s after %d stage(s)", path, len(stages))


def load_checkpoint(path, key: str, generator: torch.Generator, settings: dict | None = None):
    """Return ``(fitted, selection, history)`` from ``path`` and restore the generator's state.

    Raises a ValueError when the file is not a lognet checkpoint or was written for other data
    or settings; a settings mismatch names each setting that differs.
    """
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read checkpoint {str(path)!r}: {error}; delete it to start the fit afresh.") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT or document.get("version") != VERSION:
        raise ValueError(f"{str(path)!r} is not a lognet checkpoint (version {VERSION}); delete it or pass another path.")
    if document["fingerprint"] != key:
        changed = _changed_settings(document.get("settings") or {}, _plain(settings or {}))
        if changed:
            raise ValueError(
                f"checkpoint {str(path)!r} was written with other fit settings ({changed}); resume with the "
                f"settings it was written with (a fixed random_state among them), or delete it to start afresh."
            )
        raise ValueError(
            f"checkpoint {str(path)!r} was written for other data; delete it, or resume with the same data."
        )
    fitted = {}
    for stage in document["stages"]:
        weight = torch.tensor(stage["weight"], dtype=torch.float64)
        coef = torch.tensor(stage["coef"], dtype=torch.float64)
        fitted[stage["n_terms"]] = Candidate(weight, coef, stage["intercept"], stage["cost"], np.empty((0, 0)))
    generator.set_state(torch.tensor(document["generator_state"], dtype=torch.uint8))
    logger.info("resumed from checkpoint %s with %d finished stage(s)", path, len(fitted))
    return fitted, document["selection"], document["history"]


def _changed_settings(stored: dict, current: dict) -> str:
    """Describe the settings that differ, e.g. ``"loss: 'spes' then, 'mse' now"``."""
    if not stored:
        return ""
    parts = []
    for name in sorted(set(stored) | set(current)):
        if stored.get(name) != current.get(name):
            parts.append(f"{name}: {stored.get(name)!r} then, {current.get(name)!r} now")
    return "; ".join(parts)
