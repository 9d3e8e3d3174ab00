"""Each baseline's architecture per task and its published training recipe."""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from .tasks import Task
from .units import INALU, NAC, NALU, NAU, NMU, NPU, Dense, Stack

BASELINES = ("NAC", "NALU", "NAU/NMU", "iNALU", "NPU", "RealNPU", "MLP")
ADDITIVE = ("add", "sub")

# Steps of the published runs. Madsen & Johansen train the static task for 5e6 steps and the
# NALM benchmark trains the two-input task for 5e4 steps, both with Adam and batches of 128.
PAPER_STEPS = {"static": 5_000_000, "nalm": 50_000}
BATCH_SIZE = 128
MLP_WIDTH = 16


@dataclass(frozen=True)
class Recipe:
    """Training settings of one baseline, with step positions as fractions of the run's steps.

    Fractions rather than step counts let a run shorter than the paper's keep the same schedule
    shape, because the regulariser then ramps over the same share of training.

    Attributes:
        learning_rate: Adam's learning rate.
        sparsity: weight of the units' own regulariser (NAU/NMU's lambda_sparse), 0 for none.
        sparsity_ramp: (start, end) fractions between which that weight grows linearly from 0.
        l1_betas: (start, end) of the L1 weight for NPU/RealNPU, multiplied by 10 at every
            ``l1_period`` fraction of the run until it reaches the end value; ``None`` for none.
        grad_clip_value: element-wise gradient clipping (iNALU); ``None`` for none.
        inalu: use iNALU's regulariser (weight 1/20 once the interpolation MSE is under 1 and a
            fifth of the run is over) and its re-initialisation of stalled models.
    """

    learning_rate: float = 1e-3
    sparsity: float = 0.0
    sparsity_ramp: tuple[float, float] = (0.0, 0.0)
    l1_betas: tuple[float, float] | None = None
    l1_period: float = 0.2
    grad_clip_value: float | None = None
    inalu: bool = False
    notes: str = field(default="", compare=False)


def build_network(model: str, task: Task, n_models: int) -> Stack:
    """Return the batched network of ``model`` for ``task``, with ``n_models`` weight sets.

    The static task stacks two layers with a hidden size of 2, as Madsen & Johansen do; the
    NALM two-input task uses one unit. The additive tasks get the additive unit of each family
    (NAC+, NAU) and the others the multiplicative one (NAC*, NMU).
    """
    additive = task.operation in ADDITIVE
    in_size = task.input_size
    two_layers = task.family == "static"

    def head(in_features: int):
        if model == "NAC":
            return NAC(n_models, in_features, 1, multiplicative=not additive)
        if model == "NALU":
            return NALU(n_models, in_features, 1)
        if model == "NAU/NMU":
            return NAU(n_models, in_features, 1) if additive else NMU(n_models, in_features, 1)
        if model == "iNALU":
            return INALU(n_models, in_features, 1)
        if model == "NPU":
            return NPU(n_models, in_features, 1)
        if model == "RealNPU":
            return NPU(n_models, in_features, 1, real=True)
        raise ValueError(f"unknown baseline {model!r}; choose one of {BASELINES}.")

    if model == "MLP":
        sizes = [in_size, MLP_WIDTH, MLP_WIDTH, 1]
        layers = [Dense(n_models, a, b) for a, b in zip(sizes[:-1], sizes[1:])]
        return Stack(layers, activation=nn.ReLU())
    if not two_layers:
        return Stack([head(in_size)])
    first = {
        "NAC": lambda: NAC(n_models, in_size, 2),
        "NALU": lambda: NALU(n_models, in_size, 2),
        "iNALU": lambda: INALU(n_models, in_size, 2),
    }.get(model, lambda: NAU(n_models, in_size, 2))
    return Stack([first(), head(2)])


def recipe_for(model: str, task: Task) -> Recipe:
    """Return the published training recipe of ``model`` on ``task``."""
    static = task.family == "static"
    additive = task.operation in ADDITIVE
    if model in ("NAC", "NALU", "MLP"):
        return Recipe(notes="Adam 1e-3, no regulariser")
    if model == "NAU/NMU":
        if static and additive:
            # Madsen & Johansen's NAU on the static task: lambda 0.01 ramped over steps 5e3-5e4 of 5e6.
            return Recipe(sparsity=0.01, sparsity_ramp=(0.001, 0.01), notes="lambda 0.01, ramp 0.1%-1%")
        if static:
            # NAU+NMU on the static task: lambda 10 ramped over steps 1e6-2e6 of 5e6.
            return Recipe(sparsity=10.0, sparsity_ramp=(0.2, 0.4), notes="lambda 10, ramp 20%-40%")
        # NALM benchmark: ramp over steps 2e4-3.5e4 of 5e4, lambda 0.01 for NAU and 10 for NMU.
        return Recipe(
            sparsity=0.01 if additive else 10.0,
            sparsity_ramp=(0.4, 0.7),
            notes=f"lambda {0.01 if additive else 10}, ramp 40%-70%",
        )
    if model == "iNALU":
        return Recipe(grad_clip_value=0.1, inalu=True, notes="Adam 1e-3, grad clip 0.1, iNALU reg + reinit")
    if model in ("NPU", "RealNPU"):
        # NALM benchmark's NPU recipe: Adam 5e-3, L1 weight from 1e-7 to 1e-5 (1e-9 to 1e-7 for
        # division), times 10 every 1e4 of 5e4 steps. On the static task the NAU first layer
        # also gets Madsen & Johansen's lambda 10 over 20%-40%.
        betas = (1e-9, 1e-7) if task.operation == "div" else (1e-7, 1e-5)
        sparsity = 10.0 if static else 0.0
        return Recipe(
            learning_rate=5e-3,
            sparsity=sparsity,
            sparsity_ramp=(0.2, 0.4) if static else (0.0, 0.0),
            l1_betas=betas,
            notes=f"Adam 5e-3, L1 {betas[0]:g}->{betas[1]:g}" + (", NAU lambda 10" if static else ""),
        )
    raise ValueError(f"unknown baseline {model!r}; choose one of {BASELINES}.")
