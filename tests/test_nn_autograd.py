"""mlnotes.nn gradients against an independent reverse-mode autodiff: autograd.

autograd (pinned in requirements.txt, pure Python on top of numpy) differentiates the
cost of the same network written from scratch (``tests/references.py``), with none of
mlnotes' code; ``nn.backward`` must agree with it to 1e-10 relative for any depth
and width, for every hidden activation and both costs (squared error, softmax
cross-entropy). It runs on every ``make test``. (``test_nn_torch.py`` makes the same
comparison against PyTorch when the benchmark extras are installed.)
"""

from __future__ import annotations

import numpy as np
import pytest
from autograd import grad
from hypothesis import given, settings
from hypothesis import strategies as st

from mlnotes import nn
from references import autograd_cost, autograd_gradients, check_backward, gradient_error

TOL = 1e-10


def check(sizes, n, seed, activation="relu", loss="squared"):
    check_backward(sizes, n, seed, autograd_gradients, tol=TOL, activation=activation,
                   loss=loss)


@pytest.mark.parametrize(
    ("sizes", "n"),
    [([784, 256, 10], 32), ([64, 32, 10], 1), ([1, 1, 1], 1), ([3, 1, 5, 1, 2], 4),
     ([8, 16, 16, 16, 16, 3], 9), ([5, 2], 3), ([4, 8, 8, 8, 8, 8, 8, 8, 8, 1], 6)],
    ids=lambda v: "-".join(map(str, v)) if isinstance(v, list) else f"n={v}",
)
def test_backward_matches_autograd(sizes, n):
    check(sizes, n, seed=n + len(sizes))


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 12), min_size=2, max_size=7),
    n=st.integers(1, 10),
    seed=st.integers(0, 2**32 - 1),
)
def test_backward_matches_autograd_any_shape(sizes, n, seed):
    check(sizes, n, seed)


def test_the_reference_tells_a_wrong_backward_pass():
    """A check that cannot fail proves nothing: two classic backprop bugs must fail it."""
    rng = np.random.default_rng(1)
    (W1, b1), (W2, b2) = params = nn.init_params([4, 6, 3], seed=1)
    X, Y = rng.standard_normal((5, 4)), rng.standard_normal((5, 3))
    (rW1, _), (rW2, _) = grad(autograd_cost)(params, X, Y)
    z1 = X @ W1.T + b1
    dz2 = (np.maximum(z1, 0) @ W2.T + b2 - Y) / len(X)
    right = (dz2 @ W2 * (z1 > 0)).T @ X
    assert gradient_error(right, rW1) <= TOL
    no_relu_mask = (dz2 @ W2).T @ X  # forgot the activation's derivative
    no_mean = len(X) * dz2.T @ np.maximum(z1, 0)  # forgot the 1/n of the mean cost
    assert gradient_error(no_relu_mask, rW1) > 1e-3
    assert gradient_error(no_mean, rW2) > 1e-3


@pytest.mark.parametrize("loss", nn.LOSSES)
@pytest.mark.parametrize("activation", nn.ACTIVATIONS)
@pytest.mark.parametrize(
    ("sizes", "n"),
    [([64, 32, 10], 8), ([1, 1, 1], 1), ([3, 1, 5, 1, 2], 4), ([5, 2], 3),
     ([6, 8, 8, 8, 8, 3], 5)],
    ids=lambda v: "-".join(map(str, v)) if isinstance(v, list) else f"n={v}",
)
def test_every_activation_and_loss_matches_autograd(sizes, n, activation, loss):
    for seed in (n, n + 1):  # one-hot targets, then soft ones (for the cross-entropy)
        check(sizes, n, seed, activation, loss)


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 10), min_size=2, max_size=6),
    n=st.integers(1, 8),
    seed=st.integers(0, 2**32 - 1),
    activation=st.sampled_from(nn.ACTIVATIONS),
    loss=st.sampled_from(nn.LOSSES),
)
def test_any_activation_and_loss_matches_autograd_any_shape(sizes, n, seed, activation, loss):
    check(sizes, n, seed, activation, loss)


def test_the_reference_tells_a_wrong_cross_entropy_gradient():
    """Forgetting the softmax (using Z - Y) or the 1/n must fail the comparison."""
    rng = np.random.default_rng(2)
    params = nn.init_params([4, 6, 3], seed=2)
    X, Y = rng.standard_normal((5, 4)), np.eye(3)[rng.integers(0, 3, 5)]
    _, (rW2, _) = grad(autograd_cost)(params, X, Y, "tanh", "cross_entropy")
    out, cache = nn.forward(params, X, activation="tanh")
    right = nn.backward(params, cache, Y, loss="cross_entropy")[1][0]
    assert gradient_error(right, rW2) <= TOL
    no_softmax = ((out - Y) / 5).T @ cache.a[1]
    no_mean = 5 * right
    assert gradient_error(no_softmax, rW2) > 1e-3
    assert gradient_error(no_mean, rW2) > 1e-3
