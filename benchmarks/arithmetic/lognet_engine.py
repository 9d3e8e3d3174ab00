"""The benchmark's lognet entry: ``lognet.fit_network`` on one seed's training data.

The fitted model is ``Linear(in, 2, bias=False) -> LogLayer(2, 2, signed) -> Linear(2, 1)``.
The signed domain is used even for positive inputs: a hidden value such as a - b changes sign,
and only the signed domain keeps z**1 equal to z there. For positive hidden values it equals
the positive domain.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import torch
from torch import nn

import lognet

from .tasks import Task

HIDDEN = 2  # outputs of the first Linear layer, the baselines' hidden size
TERMS = 2  # product units


@dataclass(frozen=True)
class LognetBudget:
    """Work done by one ``fit_lognet`` call.

    Attributes:
        n_train: training samples drawn from the interpolation range.
        options: the ``lognet.NetworkOptions`` passed to ``lognet.fit_network``.
    """

    n_train: int = 512
    options: lognet.NetworkOptions = field(default_factory=lognet.NetworkOptions)

    def as_dict(self) -> dict:
        """Flat description for the results' metadata."""
        return {"n_train": self.n_train, **dataclasses.asdict(self.options)}


@dataclass
class LognetFit:
    """Result of ``fit_lognet``.

    Attributes:
        model: ``nn.Sequential(Linear, LogLayer, Linear)`` in float64, in eval mode.
        train_loss: mean squared relative residual on the training data.
        seconds: wall time of the fit.
        exponents: the LogLayer's weight as nested lists.
        details: how the winner was found (its kind, members tried, exact fits).
    """

    model: nn.Module
    train_loss: float
    seconds: float
    exponents: list
    details: dict = field(default_factory=dict)


def fit_lognet(task: Task, seed: int, budget: LognetBudget | None = None) -> LognetFit:
    """Fit lognet to ``budget.n_train`` samples of ``task``'s training range for ``seed``.

    The extrapolation range is never looked at: ``lognet.fit_network`` chooses its model by
    training loss.
    """
    budget = budget or LognetBudget()
    x, target = task.sample(budget.n_train, seed, dtype=torch.float64)
    fit = lognet.fit_network(
        x, target[:, 0], hidden_features=HIDDEN, n_terms=TERMS, domain="signed", options=budget.options, random_state=seed
    )
    return LognetFit(
        model=fit.model,
        train_loss=fit.train_loss,
        seconds=fit.seconds,
        exponents=fit.exponents.tolist(),
        details=fit.details,
    )


def free_exponent_budget(budget: LognetBudget) -> LognetBudget:
    """Return the budget of the ablation ``lognet-free``: no templates, 8 free members, 200 iterations.

    It shows what the search over free exponents reaches without the prior that exponents are
    multiples of 1/2.
    """
    options = dataclasses.replace(budget.options, exponent_grid=(), free_members=8, lm_iterations=200)
    return dataclasses.replace(budget, options=options)
