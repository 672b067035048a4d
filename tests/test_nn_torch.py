"""mlnotes.nn against PyTorch in float64 (optional extra): gradients, softmax, cross-entropy.

Needs ``torch`` from requirements-bench.txt; skipped cleanly without it (the same
quantities are checked against autograd and mpmath in the tests that always run).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlnotes import nn
from references import check_backward, gradient_error, random_targets, torch_gradients

torch = pytest.importorskip(
    "torch", reason="torch is a benchmark extra (requirements-bench.txt); the same checks "
    "run against autograd and mpmath in test_nn_autograd.py and test_nn.py"
)
F = torch.nn.functional

TOL = 1e-10


def check(sizes, n, seed, activation="relu", loss="squared"):
    check_backward(sizes, n, seed, torch_gradients, tol=TOL, activation=activation, loss=loss)


@pytest.mark.parametrize(
    ("sizes", "n"),
    [([784, 256, 10], 32), ([64, 32, 10], 1), ([1, 1, 1], 1), ([3, 1, 5, 1, 2], 4),
     ([8, 16, 16, 16, 16, 3], 9), ([5, 2], 3)],
)
def test_backward_matches_torch(sizes, n):
    check(sizes, n, seed=n + len(sizes))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    sizes=st.lists(st.integers(1, 12), min_size=2, max_size=6),
    n=st.integers(1, 10),
    seed=st.integers(0, 2**32 - 1),
)
def test_backward_matches_torch_any_shape(sizes, n, seed):
    check(sizes, n, seed)


@pytest.mark.parametrize("loss", nn.LOSSES)
@pytest.mark.parametrize("activation", nn.ACTIVATIONS)
@pytest.mark.parametrize(("sizes", "n"), [([64, 32, 10], 8), ([3, 1, 5, 1, 2], 4), ([5, 2], 3)])
def test_every_activation_and_loss_matches_torch(sizes, n, activation, loss):
    for seed in (n, n + 1):  # one-hot targets, then soft ones (for the cross-entropy)
        check(sizes, n, seed, activation, loss)


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e3, 1e150, 1e300])
@pytest.mark.parametrize("soft", [False, True])
def test_cross_entropy_softmax_log_softmax_match_torch(scale, soft):
    rng = np.random.default_rng(int(np.log10(scale)) + soft)
    Z = rng.standard_normal((7, 5)) * scale
    Y = random_targets(rng, 7, 5, "cross_entropy", soft=soft)
    tZ, tY = torch.tensor(Z, requires_grad=True), torch.tensor(Y)
    J_t = F.cross_entropy(tZ, tY)
    (g_t,) = torch.autograd.grad(J_t, tZ)
    J = nn.loss(Z, Y, loss="cross_entropy")
    assert np.isfinite(J)
    assert abs(J - J_t.item()) <= 1e-13 * max(1.0, abs(J_t.item()))
    assert gradient_error(nn.loss_gradient(Z, Y, loss="cross_entropy"), g_t.numpy()) <= 1e-13
    np.testing.assert_allclose(nn.softmax(Z), F.softmax(torch.tensor(Z), dim=1).numpy(),
                               rtol=1e-13, atol=1e-300)
    ls_t = F.log_softmax(torch.tensor(Z), dim=1).numpy()
    np.testing.assert_allclose(nn.log_softmax(Z), ls_t, rtol=1e-13, atol=1e-13)


def test_elementwise_activations_match_torch():
    z = np.concatenate([np.linspace(-50, 50, 201), [-800.0, -1e300, 0.0, 800.0, 1e300]])
    t = torch.tensor(z, requires_grad=True)
    np.testing.assert_allclose(nn.sigmoid(z), torch.sigmoid(t).detach().numpy(),
                               rtol=1e-15, atol=0)
    # torch's s (1 - s) and 1 - tanh^2 cancel in the tails (ours do not: test_nn.py
    # checks the tails against mpmath), so the comparison is where they are exact
    mid = np.abs(z) < 15
    (ds,) = torch.autograd.grad(torch.sigmoid(t).sum(), t)
    np.testing.assert_allclose(nn.sigmoid_derivative(z)[mid], ds.numpy()[mid], rtol=1e-14,
                               atol=4e-16)  # torch: ulps of 1
    (dt,) = torch.autograd.grad(torch.tanh(t).sum(), t)
    np.testing.assert_allclose(nn.tanh_derivative(z)[mid], dt.numpy()[mid], rtol=1e-14,
                               atol=4e-16)  # torch: ulps of 1
