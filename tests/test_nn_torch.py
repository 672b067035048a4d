"""mlnotes.nn gradients against PyTorch's autograd in float64 (optional extra).

Needs ``torch`` from requirements-bench.txt; skipped cleanly without it.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlnotes import nn

torch = pytest.importorskip("torch")

TOL = 1e-10


def torch_gradients(params, X, Y):
    tp = [
        (torch.tensor(W, dtype=torch.float64, requires_grad=True),
         torch.tensor(b, dtype=torch.float64, requires_grad=True))
        for W, b in params
    ]
    a = torch.tensor(X, dtype=torch.float64)
    for i, (W, b) in enumerate(tp):
        a = torch.nn.functional.linear(a, W, b)
        if i < len(tp) - 1:
            a = torch.relu(a)
    r = a - torch.tensor(Y, dtype=torch.float64)
    J = 0.5 * (r * r).sum() / X.shape[0]
    grads = torch.autograd.grad(J, [t for pair in tp for t in pair])
    g = [x.numpy() for x in grads]
    return J.item(), [(g[2 * i], g[2 * i + 1]) for i in range(len(tp))]


def rel_err(a, b):
    """Norm-wise relative error ||a - b|| / ||b|| (0 when both are exactly zero)."""
    den = np.linalg.norm(b)
    num = np.linalg.norm(a - b)
    return 0.0 if num == 0 else float(num / max(den, np.finfo(float).tiny))


def check(sizes, n, seed):
    rng = np.random.default_rng(seed)
    params = [(W, 0.3 * rng.standard_normal(b.shape)) for W, b in nn.init_params(sizes, seed)]
    X = rng.standard_normal((n, sizes[0]))
    Y = rng.standard_normal((n, sizes[-1]))
    out, cache = nn.forward(params, X)
    J_ref, ref = torch_gradients(params, X, Y)
    assert nn.loss(out, Y) == pytest.approx(J_ref, rel=1e-12)
    for (dW, db), (rW, rb) in zip(nn.backward(params, cache, Y), ref, strict=True):
        assert dW.shape == rW.shape and db.shape == rb.shape
        assert rel_err(dW, rW) <= TOL
        assert rel_err(db, rb) <= TOL


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
