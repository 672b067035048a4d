"""Matrix calculus: numerical gradients, gradient checks and sympy identity checks.

Chapter 1 of the book (``chapters/01_matrix_calculus.ipynb``) derives the identities
that these helpers verify. The layout convention is the denominator layout of
:eq:`mc-layout`: the gradient of a scalar with respect to an array has the shape of
that array.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import sympy as sp

from mlnotes._validation import as_float_array, finite_result, real_number

__all__ = [
    "gradient_check",
    "lre",
    "matrices_equal",
    "numerical_gradient",
    "relative_error",
    "symbolic_gradient",
    "symbolic_matrix",
    "symbolic_vector",
]


def _scalar_value(value: object) -> float:
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "biuf":
        what = "a complex number" if arr.dtype.kind == "c" else f"{arr.dtype} of shape {arr.shape}"
        raise ValueError(
            f"f must return a real scalar (the cost J); it returned {what}. Sum or reduce "
            "it to one real number first."
        )
    out = float(arr.reshape(()))
    if not np.isfinite(out):
        raise ValueError(f"f returned a non-finite value ({out}) during the difference step.")
    return out


def numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6
) -> np.ndarray:
    r"""Central-difference gradient of a scalar function at an array of any shape.

    Implements :eq:`mc-central-difference`,
    :math:`\partial f / \partial x_i \approx (f(x + \epsilon e_i) - f(x - \epsilon e_i)) / 2\epsilon`,
    for every entry of ``x``, so the result has the shape of ``x`` (the denominator
    layout of :eq:`mc-layout`). The truncation error is :math:`O(\epsilon^2)`.
    The step is relative where ``x`` is large, :math:`\epsilon \max(1, |x_i|)`, so
    that it still moves ``x_i`` (a fixed step of ``1e-6`` is lost entirely when added
    to ``1e10``).

    Parameters
    ----------
    f : callable
        Maps an array of ``x``'s shape to a scalar.
    x : ndarray
        The point; any shape (scalar, vector, matrix, ...). It is not modified.
    eps : float, default 1e-6
        The relative step :math:`\epsilon`, in ``(0, 1]``.

    Returns
    -------
    ndarray
        The gradient, float64, of the same shape as ``x``.

    Raises
    ------
    ValueError
        If ``x`` is empty or not finite, ``eps`` is not in ``(0, 1]`` or too small to
        move ``x`` at all, or ``f`` does not return a finite scalar.
    """
    if not callable(f):
        raise ValueError(f"f must be callable; got {type(f).__name__}.")
    eps = real_number(eps, "eps", low=0.0, high=1.0, low_open=True)
    x0 = as_float_array(x, "x", copy=True)
    steps = _steps(x0, eps)
    _scalar_value(f(x0.copy()))  # fail early, with a clear message, if f is not scalar
    work = x0.copy()
    flat = work.reshape(-1)  # a view on work: edits below change work in place
    grad = np.empty(flat.size)
    for i in range(flat.size):
        xi = flat[i]
        flat[i] = xi + steps[i]
        f_plus = _scalar_value(f(work))
        flat[i] = xi - steps[i]
        f_minus = _scalar_value(f(work))
        flat[i] = xi
        grad[i] = (f_plus - f_minus) / (2.0 * steps[i])
    return grad.reshape(x0.shape)


def _steps(x: np.ndarray, eps: float) -> np.ndarray:
    """The steps eps * max(1, |x_i|), as actually represented: (x + h) - (x - h) over 2."""
    flat = x.reshape(-1)
    h = eps * np.maximum(1.0, np.abs(flat))
    with np.errstate(over="ignore", invalid="ignore"):
        exact = ((flat + h) - (flat - h)) / 2.0  # the step the arithmetic really takes
    bad = ~np.isfinite(exact) | (exact <= 0.0) | (np.abs(exact - h) > 0.5 * h)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"eps = {eps:g} cannot move x: at entry {i} (x = {flat[i]:g}) the step "
            f"{h[i]:.3g} is lost to rounding in x +/- step. Use a larger eps (about "
            "1e-6 suits double precision)."
        )
    return exact


def gradient_check(
    f: Callable[[np.ndarray], float],
    grad: Callable[[np.ndarray], np.ndarray],
    x: np.ndarray,
    eps: float = 1e-6,
) -> float:
    r"""Largest relative error between an analytic gradient and a central difference.

    The error of entry *i* is :eq:`mc-relative-error`,
    :math:`|g_i - \hat g_i| / \max(1, |g_i|, |\hat g_i|)`, relative where the gradient
    is large and absolute where both are near zero, so it does not blow up at a
    stationary point. Values around ``1e-8`` or below mean the gradient is right;
    a wrong formula gives errors near 1.

    Parameters
    ----------
    f : callable
        The scalar function.
    grad : callable
        Its claimed gradient; must return an array of ``x``'s shape.
    x : ndarray
        The point at which to compare.
    eps : float, default 1e-6
        Step of :func:`numerical_gradient`.

    Returns
    -------
    float
        The maximum over entries of the relative error.

    Raises
    ------
    ValueError
        If ``grad(x)`` does not have the shape of ``x`` or is not finite, or for any
        reason :func:`numerical_gradient` raises.
    """
    if not callable(grad):
        raise ValueError(f"grad must be callable; got {type(grad).__name__}.")
    x0 = as_float_array(x, "x", copy=True)
    returned = np.asarray(grad(x0.copy()))
    if returned.dtype.kind not in "biuf":
        raise ValueError(f"grad must return a real float array; it returned dtype {returned.dtype}.")
    analytic = returned.astype(np.float64)
    if analytic.shape != x0.shape:
        raise ValueError(
            f"grad(x) has shape {analytic.shape} but x has shape {x0.shape}; in the "
            "denominator layout the gradient has the shape of the variable."
        )
    if not np.all(np.isfinite(analytic)):
        raise ValueError("grad(x) contains NaN or infinite values.")
    numeric = numerical_gradient(f, x0, eps)
    scale = np.maximum(1.0, np.maximum(np.abs(analytic), np.abs(numeric)))
    return float(np.max(np.abs(analytic - numeric) / scale))


# --- accuracy measures --------------------------------------------------------------


def _pair(estimate: object, reference: object) -> tuple[np.ndarray, np.ndarray]:
    est = as_float_array(estimate, "estimate")
    ref = as_float_array(reference, "reference")
    if est.shape != ref.shape:
        raise ValueError(
            f"estimate has shape {est.shape} but reference has shape {ref.shape}; "
            "compare arrays of the same shape."
        )
    return est, ref


def relative_error(estimate: object, reference: object) -> float:
    r"""Relative error :math:`\lVert \hat x - x \rVert_2 / \lVert x \rVert_2` of a whole array.

    The accuracy measure of chapter 2's solver comparisons (section "Numerics",
    :eq:`ne-cond-squared`): a backward-stable solver's relative error is at most about
    :math:`u\,\kappa`, with :math:`u` the unit roundoff.

    Raises
    ------
    ValueError
        If the arrays differ in shape, are not finite, or ``reference`` is zero.
    """
    est, ref = _pair(estimate, reference)
    ref_max = float(np.max(np.abs(ref)))
    if ref_max == 0:
        raise ValueError("reference is zero: a relative error is undefined; use an absolute one.")
    biggest = max(float(np.max(np.abs(est))), ref_max)
    # the difference and the reference each scaled by a power of two (exactly), so that
    # no difference, norm or ratio over- or underflows on the way
    s_diff = np.frexp(biggest)[1]
    diff = np.linalg.norm(np.ldexp(est, -s_diff) - np.ldexp(ref, -s_diff))
    s_ref = np.frexp(ref_max)[1]
    ratio = diff / np.linalg.norm(np.ldexp(ref, -s_ref))
    with np.errstate(over="ignore", under="ignore"):
        value = float(np.ldexp(ratio, s_diff - s_ref))
    return finite_result(value, "the relative error", "estimate is too far from reference.")


def lre(estimate: object, reference: object) -> float:
    r"""Log relative error: the number of correct significant digits, :eq:`ne-lre`.

    :math:`\min_i -\log_{10}(|\hat\beta_i - \beta_i| / |\beta_i|)`, the measure NIST
    uses for its Statistical Reference Datasets; where a reference entry is zero the
    absolute error is used instead, as NIST does. Exact agreement counts as 16 digits
    (all that float64 carries), so the result lies in ``(-inf, 16]``.

    Raises
    ------
    ValueError
        If the arrays differ in shape or are not finite.
    """
    est, ref = _pair(estimate, reference)
    # log10 |e - r| - log10 |r|, with e and r scaled by a power of two (exactly) into
    # [-1, 1], entry by entry, so that nothing overflows
    biggest = np.maximum(np.maximum(np.abs(est), np.abs(ref)), np.finfo(np.float64).tiny)
    expo = np.frexp(biggest)[1]
    with np.errstate(divide="ignore", under="ignore"):
        scaled = np.ldexp(est, -expo) - np.ldexp(ref, -expo)
        log_diff = np.log10(np.abs(scaled)) + expo * np.log10(2.0)
        log_ref = np.log10(np.abs(np.where(ref == 0, 1.0, ref)))  # 0 where ref is 0
    # exact agreement: log_diff = -inf, so the difference is +inf, capped at 16 digits
    return min(float(np.min(log_ref - log_diff)), 16.0)


# --- sympy helpers ------------------------------------------------------------------


_MAX_ENTRIES = 10_000  # explicit symbolic matrices beyond this are slow to build and to simplify


def _check_shape(rows: int, cols: int, names: tuple[str, str] = ("rows", "cols")) -> None:
    for n, v in zip(names, (rows, cols), strict=True):
        if not isinstance(v, (int, np.integer)) or isinstance(v, (bool, np.bool_)) or v < 1:
            raise ValueError(f"{n} must be a positive integer; got {v!r}.")
    if rows * cols > _MAX_ENTRIES:
        raise ValueError(
            f"{names[0]} x {names[1]} = {rows * cols} symbolic entries is more than sympy can "
            f"handle in a notebook (at most {_MAX_ENTRIES}); use smaller shapes."
        )


def symbolic_matrix(name: str, rows: int, cols: int, **assumptions: bool) -> sp.Matrix:
    """An explicit ``rows x cols`` sympy matrix with entries ``name_ij``.

    Chapter 1 checks every identity of its table (e.g. :eq:`mc-transpose-product`)
    on such matrices. Explicit entries (rather than sympy's abstract ``MatrixSymbol``) let a notebook
    check an identity entry by entry, for the non-square shapes where transposition
    mistakes show. Keyword ``assumptions`` (e.g. ``real=True``) go to every symbol.

    Raises
    ------
    ValueError
        If a dimension is not a positive integer or ``name`` is empty.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("name must be a non-empty string.")
    _check_shape(rows, cols)
    assumptions.setdefault("real", True)
    return sp.Matrix(
        rows, cols, lambda i, j: sp.Symbol(f"{name}_{i + 1}{j + 1}", **assumptions)
    )


def symbolic_vector(name: str, n: int, **assumptions: bool) -> sp.Matrix:
    """An explicit ``n x 1`` sympy column vector with entries ``name_i``.

    Vectors are columns, as on the notation page; see :func:`symbolic_matrix` and
    chapter 1's checks of :eq:`mc-grad-linear` and :eq:`mc-grad-quadratic`.
    """
    if not isinstance(name, str) or not name:
        raise ValueError("name must be a non-empty string.")
    _check_shape(n, 1, ("n", "1"))
    assumptions.setdefault("real", True)
    return sp.Matrix(n, 1, lambda i, _j: sp.Symbol(f"{name}_{i + 1}", **assumptions))


def symbolic_gradient(expr: sp.Expr, var: sp.Matrix) -> sp.Matrix:
    r"""Gradient of a scalar sympy expression in the denominator layout.

    Entry :math:`(i, j)` is :math:`\partial\,\mathrm{expr} / \partial\,\mathrm{var}_{ij}`,
    so the result has the shape of ``var`` (:eq:`mc-layout`). Note that
    ``sp.Matrix([expr]).jacobian(var)`` gives the numerator layout instead: a row.

    Raises
    ------
    ValueError
        If ``expr`` is not a scalar (a 1 x 1 matrix is accepted).
    """
    if isinstance(expr, sp.MatrixBase):
        if expr.shape != (1, 1):
            raise ValueError(
                f"expr must be a scalar; got a matrix of shape {expr.shape}."
            )
        expr = expr[0, 0]
    if isinstance(expr, (bool, np.bool_)) or not isinstance(
        expr, (sp.Expr, int, float, np.integer, np.floating)
    ):
        raise ValueError(
            f"expr must be a scalar sympy expression (or a number); got {type(expr).__name__}. "
            "(Strings are refused: sympy would evaluate them as code.)"
        )
    expr = sp.sympify(expr)
    if expr.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
        raise ValueError(f"expr must be finite; it contains {expr}.")
    if isinstance(var, sp.Symbol):
        var = sp.Matrix([var])
    elif isinstance(var, (list, tuple)):
        var = _sympy_matrix(var, "var")
    if not isinstance(var, sp.MatrixBase) or not all(isinstance(v, sp.Symbol) for v in var):
        raise ValueError(
            "var must be a sympy Symbol or a matrix of Symbols (e.g. from symbolic_vector); "
            f"got {type(var).__name__}."
        )
    var = sp.Matrix(var)
    return var.applyfunc(lambda v: sp.diff(expr, v))


def matrices_equal(lhs: object, rhs: object) -> bool:
    """Whether two sympy matrices (or scalars) are equal entry by entry.

    The assertion behind every identity of chapter 1, from :eq:`mc-transpose-product`
    to :eq:`mc-grad-logdet`.

    Shapes must agree; each entry of ``lhs - rhs`` must simplify to zero. Returns a
    bool so a notebook can write ``assert matrices_equal(A, B)``.

    Raises
    ------
    ValueError
        If the shapes differ (a transposition mistake that should not pass silently
        as "not equal"), or an argument is not a sympy object, a number, or a list of
        them. Strings are refused: sympy would parse, and so evaluate, them.
    """
    a = _sympy_matrix(lhs, "lhs")
    b = _sympy_matrix(rhs, "rhs")
    if a.shape != b.shape:
        raise ValueError(f"lhs and rhs have different shapes: {a.shape} vs {b.shape}.")
    return all(_entries_equal(x, y) for x, y in zip(a, b, strict=True))


def _entries_equal(x: sp.Expr, y: sp.Expr) -> bool:
    if x.has(sp.nan) or y.has(sp.nan):  # NaN equals nothing, itself included (IEEE 754)
        return False
    if x == y:  # also inf == inf, where inf - inf would be nan
        return True
    return sp.simplify(sp.expand(x - y)) == 0


def _sympy_matrix(value: object, name: str) -> sp.Matrix:
    def check(entry: object) -> None:
        if isinstance(entry, (list, tuple)):
            for e in entry:
                check(e)
        elif not isinstance(entry, (sp.Basic, sp.MatrixBase, int, float, complex, np.number)) or (
            isinstance(entry, (bool, np.bool_))
        ):
            raise ValueError(
                f"{name} must be a sympy expression or matrix, a number, or a list of "
                f"them; got {type(entry).__name__}. (Strings are refused: sympy would "
                "evaluate them as code.)"
            )

    check(value)
    if isinstance(value, (sp.MatrixBase, list, tuple)):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # sympy's deprecated 3-level lists too
                out = sp.Matrix(value)
        except (ValueError, TypeError, Warning) as err:
            raise ValueError(
                f"{name} must be a matrix: a list of equally long rows of scalars ({err})."
            ) from None
        if any(isinstance(e, sp.MatrixBase) for e in out):
            raise ValueError(f"{name} must be a matrix of scalars, not of matrices.")
        return out
    return sp.Matrix([[value]])
