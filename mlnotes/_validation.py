"""Input checks shared by every chapter's module.

One place decides what a valid numeric input is, so that every public function of
mlnotes rejects bad input with the same clear messages: what was expected, what
arrived, and how to fix it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np


def all_finite(arr: np.ndarray) -> bool:
    """Whether every entry is finite, at the least cost for the array's size."""
    if arr.size <= 1 << 16:  # small: one vectorised test, no floating-point state to set
        return bool(np.isfinite(arr).all())
    # Large: a sum is NaN or infinite if any entry is, and it is cheaper than isfinite
    # on the whole array; only when it is not finite do we look closer (it may overflow).
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
    try:
        arr = np.asarray(a)
    except (ValueError, TypeError) as err:  # e.g. a ragged nested list
        raise ValueError(f"{name} must be a rectangular numeric array ({err}).") from None
    kind = arr.dtype.kind  # b bool, i/u integers, f floats, c complex, O/U/S/M/m/V others
    if kind == "c":
        raise ValueError(f"{name} must be real; got a complex array.")
    if kind not in "biuf":
        raise ValueError(f"{name} must be a numeric array; got dtype {arr.dtype}.")
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


# --- scalar hyperparameters -----------------------------------------------------------


def _describe(value: object) -> str:
    return f"{value!r} ({type(value).__name__})"


def positive_int(value: object, name: str, *, minimum: int = 1, maximum: int | None = None) -> int:
    """``value`` as an int in ``[minimum, maximum]``, or a ValueError that says why not.

    Python and numpy integers are accepted; bools, floats (even ``3.0``) and strings
    are not, so that a slip such as ``n_iter="100"`` or ``n_iter=True`` is caught.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer; got {_describe(value)}.")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and at most {maximum}"
        raise ValueError(f"{name} must be at least {minimum}{upper}; got {value}.")
    return value


def real_number(
    value: object,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """``value`` as a finite float in the given interval, or a ValueError that says why not.

    ``low``/``high`` bound the interval (``None``: unbounded); ``low_open``/``high_open``
    exclude the end points. Bools, strings, complex numbers, NaN and inf are refused.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise ValueError(f"{name} must be a real number; got {_describe(value)}.")
    out = float(value)
    if not np.isfinite(out):
        raise ValueError(f"{name} must be finite; got {out}.")
    too_low = low is not None and (out <= low if low_open else out < low)
    too_high = high is not None and (out >= high if high_open else out > high)
    if too_low or too_high:
        left = "(" if low_open or low is None else "["
        right = ")" if high_open or high is None else "]"
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise ValueError(f"{name} must lie in {left}{lo}, {hi}{right}; got {out:g}.")
    return out


def probability_vector(p: object, name: str) -> np.ndarray:
    """``p`` as a float64 vector of non-negative entries summing to 1.

    The sum is checked to the precision of ``p``'s own dtype (a float32 vector that
    sums to 1 in float32 is accepted) and then renormalised exactly in float64.
    """
    raw = np.asarray(p)
    arr = as_float_array(raw, name, copy=True)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a vector of shape (k,); got shape {arr.shape}.")
    if np.any(arr < 0):
        raise ValueError(f"{name} must be non-negative (probabilities); got {arr}.")
    eps = np.finfo(raw.dtype).eps if np.issubdtype(raw.dtype, np.floating) else 0.0
    tol = max(1e-8, 4 * arr.size * float(eps))
    total = float(arr.sum())
    if abs(total - 1.0) > tol:
        raise ValueError(
            f"{name} must sum to 1 (it is a probability vector); it sums to {total:.12g}. "
            "Divide it by its sum."
        )
    return arr / total


def as_rng(seed: object) -> np.random.Generator:
    """The random generator for ``seed``: ``None``, a non-negative int or a Generator.

    Every function of mlnotes that draws random numbers takes ``seed`` and passes it
    here, so they all accept the same three kinds (a Generator is used as it is, so a
    caller can thread one stream through several calls).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None:
        positive_int(seed, "seed", minimum=0)
    return np.random.default_rng(seed)


def finite_result(value, what: str, hint: str):
    """``value`` unchanged if it is finite; otherwise a ValueError naming the overflow.

    Library code calls this where a computation on valid input can still overflow
    (a cost of huge residuals, a distance of huge points), so that the caller sees
    what happened and what to do, never an ``inf`` or ``nan`` passed on as a number.
    """
    if not np.all(np.isfinite(value)):
        raise ValueError(f"{what} overflows float64 (the result is not finite). {hint}")
    return value
