"""Train a one-term LNN with the SPES loss on a generated power law and print its exponents."""

import torch

import lognet

torch.manual_seed(0)
x = torch.rand(256, 2, dtype=torch.float64) * 9 + 1
y = 3.0 * x[:, 0] ** 1.5 / x[:, 1] ** 0.5

model = lognet.LNN(2, n_terms=1, bias=False, dtype=torch.float64)
optimizer = torch.optim.LBFGS(model.parameters(), max_iter=500, line_search_fn="strong_wolfe")
loss_fn = lognet.SPESLoss()


def closure():
    optimizer.zero_grad()
    loss = loss_fn(model(x).squeeze(-1), y)
    loss.backward()
    return loss


optimizer.step(closure)
exponents = model.log_layer.weight.detach().squeeze(0).tolist()
print(f"true law:     y = 3 * x0^1.5 * x1^-0.5")
print(f"learned:      y = {model.linear.weight.item():.4f} * x0^{exponents[0]:.4f} * x1^{exponents[1]:.4f}")
print(f"final SPES:   {closure().item():.3e}")
