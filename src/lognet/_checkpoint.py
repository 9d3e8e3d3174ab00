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


def save_checkpoint(path, key: str, fitted: dict[int, Candidate], selection, history, generator: torch.Generator) -> None:
    stages = [
        {"n_terms": k, "weight": c.weight.tolist(), "coef": c.coef.tolist(), "intercept": c.intercept, "cost": c.cost}
        for k, c in sorted(fitted.items())
    ]
    document = {
        "format": FORMAT,
        "version": VERSION,
        "fingerprint": key,
        "stages": stages,
        "selection": selection,
        "history": history,
        "generator_state": generator.get_state().tolist(),
    }
    write_atomic(Path(path), json.dumps(document).encode())
    logger.info("checkpoint written to %s after %d stage(s)", path, len(stages))


def load_checkpoint(path, key: str, generator: torch.Generator):
    """Return ``(fitted, selection, history)`` from ``path`` and restore the generator's state.

    Raises a ValueError when the file is not a lognet checkpoint or was written for other data
    or settings.
    """
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read checkpoint {str(path)!r}: {error}; delete it to start the fit afresh.") from error
    if not isinstance(document, dict) or document.get("format") != FORMAT or document.get("version") != VERSION:
        raise ValueError(f"{str(path)!r} is not a lognet checkpoint (version {VERSION}); delete it or pass another path.")
    if document["fingerprint"] != key:
        raise ValueError(
            f"checkpoint {str(path)!r} was written for other data or fit settings; delete it, or resume "
            f"with the same data and options."
        )
    fitted = {}
    for stage in document["stages"]:
        weight = torch.tensor(stage["weight"], dtype=torch.float64)
        coef = torch.tensor(stage["coef"], dtype=torch.float64)
        fitted[stage["n_terms"]] = Candidate(weight, coef, stage["intercept"], stage["cost"], np.empty((0, 0)))
    generator.set_state(torch.tensor(document["generator_state"], dtype=torch.uint8))
    logger.info("resumed from checkpoint %s with %d finished stage(s)", path, len(fitted))
    return fitted, document["selection"], document["history"]
