"""Tests of the LNN module and of product units composed with other layers."""

import pytest
import torch
from torch import nn

import lognet


def test_lnn_computes_sum_of_power_laws():
    model = lognet.LNN(2, n_terms=2, dtype=torch.float64)
    with torch.no_grad():
        model.log_layer.weight.copy_(torch.tensor([[2.0, 0.0], [-1.0, 0.5]]))
        model.linear.weight.copy_(torch.tensor([[3.0, -2.0]]))
        model.linear.bias.fill_(1.0)
    x = torch.tensor([[2.0, 4.0], [3.0, 9.0]], dtype=torch.float64)
    expected = 1 + 3 * x[:, 0] ** 2 - 2 * x[:, 0] ** -1 * x[:, 1] ** 0.5
    assert torch.allclose(model(x).squeeze(-1), expected)


def test_lnn_shapes_and_properties():
    model = lognet.LNN(3, n_terms=4, out_features=2, domain="signed")
    assert model(torch.randn(5, 7, 3)).shape == (5, 7, 2)
    assert (model.in_features, model.n_terms, model.out_features, model.domain) == (3, 4, 2, "signed")


def test_lnn_rejects_bad_sizes():
    with pytest.raises(ValueError, match="out_features must be a positive int"):
        lognet.LNN(2, 3, out_features=0)
    with pytest.raises(ValueError, match="n_terms must be a positive int"):
        lognet.LNN(2, 0)


def test_sequential_linear_log_linear_trains():
    torch.manual_seed(0)
    x = torch.rand(512, 4, dtype=torch.float64) + 1
    # (x0 + x1) * (x2 + x3): a product of two sums, which needs a linear layer before the units.
    y = ((x[:, 0] + x[:, 1]) * (x[:, 2] + x[:, 3])).unsqueeze(-1)
    first = nn.Linear(4, 2, dtype=torch.float64)
    with torch.no_grad():
        first.weight.copy_(torch.tensor([[1.0, 0.9, 0.1, 0.0], [0.0, 0.1, 1.1, 0.9]]))
        first.bias.zero_()
    model = nn.Sequential(first, lognet.LogLayer(2, 1, domain="signed", dtype=torch.float64), nn.Linear(1, 1, dtype=torch.float64))
    optimizer = torch.optim.LBFGS(model.parameters(), max_iter=300, line_search_fn="strong_wolfe")
    loss_fn = lognet.SPESLoss()

    def closure():
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        return loss

    start = closure().item()
    optimizer.step(closure)
    assert closure().item() < 1e-3 * start
