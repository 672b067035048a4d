"""Input checks shared by every chapter's module.

One place decides what a valid numeric input is, so that every public function of
mlnotes rejects bad input with the same clear messages: what was expected, what
arrived, and how to fix it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np


def all_finite(arr: np.ndarray) -> bool:
    """Whether every entry is finite; one pass (a sum) in the common all-finite case."""
    # A sum is NaN or infinite if any entry is, and it is cheaper than isfinite on
    # the whole array; only when it is not finite do we look closer (it may overflow).
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(arr)):
            return True
    return bool(np.all(np.isfinite(arr)))


def as_float_array(
    a: object, name: str, *, ndim: Literal[2] | None = None, copy: bool = False
) -> np.ndarray:
    """``a`` as a finite, real, non-empty float64 array, or a ValueError that says why not.

    ``ndim=2`` also requires a matrix with examples as rows. ``copy=True`` always
    returns a new array (the caller may modify it); otherwise a float64 input is
    returned without a copy.
    """
    arr = np.asarray(a)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(f"{name} must be a numeric array; got dtype {arr.dtype}.")
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real; got a complex array.")
    if ndim == 2 and arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D, shape (n, d) with one example per row; got shape "
            f"{arr.shape}. For a single feature use {name}.reshape(-1, 1); for a single "
            f"example use {name}.reshape(1, -1)."
        )
    if arr.size == 0:
        what = "no rows" if ndim == 2 and arr.shape[0] == 0 else "no entries"
        raise ValueError(f"{name} is empty (shape {arr.shape}): it has {what}.")
    arr = np.array(arr, dtype=np.float64, copy=True) if copy else arr.astype(np.float64, copy=False)
    if not all_finite(arr):
        bad = int(arr.size - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s); it must be finite.")
    return arr
