"""mlnotes.nn gradients against PyTorch's autograd in float64 (optional extra).

Needs ``torch`` from requirements-bench.txt; skipped cleanly without it.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from references import check_backward, torch_gradients

torch = pytest.importorskip("torch")

TOL = 1e-10


def check(sizes, n, seed):
    check_backward(sizes, n, seed, torch_gradients, tol=TOL)


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
