"""Compute budgets and task sets of the benchmark runs (smoke test and full run)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .lognet_engine import LognetBudget
from .recipes import PAPER_STEPS
from .tasks import NALM_RANGE_PAIRS, OPERATIONS, Task, all_tasks, nalm_task, static_task


@dataclass(frozen=True)
class Budget:
    """How much work one run of the benchmark does.

    Attributes:
        name: ``"smoke"`` or ``"full"``.
        baseline_steps: Adam steps of every baseline, per task family; the papers use
            ``recipes.PAPER_STEPS``.
        n_valid: interpolation samples that choose each baseline's checkpoint.
        n_test: extrapolation samples that score every model.
        n_checkpoints: how many times a baseline's validation error is measured.
        threshold_samples: samples of the Monte Carlo estimate of the success threshold.
        lognet: the budget of ``fit_lognet``.
    """

    name: str
    baseline_steps: dict
    n_valid: int
    n_test: int
    n_checkpoints: int
    threshold_samples: int
    lognet: LognetBudget = field(default_factory=LognetBudget)

    def steps_for(self, task: Task) -> int:
        return self.baseline_steps[task.family]

    def describe(self) -> str:
        """Describe, per family, how the baselines' steps compare with the papers'."""
        parts = []
        for family, steps in self.baseline_steps.items():
            paper = PAPER_STEPS[family]
            parts.append(f"{family}: {steps:,} steps of batch 128 ({steps / paper:.2%} of the paper's {paper:,})")
        return "; ".join(parts)


BUDGETS = {
    "smoke": Budget(
        name="smoke",
        baseline_steps={"static": 20, "nalm": 20},
        n_valid=200,
        n_test=1_000,
        n_checkpoints=4,
        threshold_samples=20_000,
        lognet=LognetBudget(),
    ),
    "full": Budget(
        name="full",
        baseline_steps={"static": 2_000, "nalm": 5_000},
        n_valid=1_000,
        n_test=10_000,
        n_checkpoints=50,
        threshold_samples=1_000_000,
        lognet=LognetBudget(),
    ),
}


def _nalm(operations: tuple[str, ...], pair_indices: range | tuple[int, ...]) -> list[Task]:
    return [nalm_task(op, index) for op in operations for index in pair_indices]


TASK_SETS = {
    "all": all_tasks(),
    # The full run, sized to stay under an hour on two shared cores: every static operation and
    # the nine NALM ranges of multiplication and division. The NALM addition and subtraction
    # tasks are left to `--tasks all`.
    "full": [static_task(op) for op in OPERATIONS] + _nalm(("mul", "div"), range(len(NALM_RANGE_PAIRS))),
    "smoke": [static_task("mul"), nalm_task("div", 1)],
}
