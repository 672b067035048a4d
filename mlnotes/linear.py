"""Least squares: the normal equation solver, ridge regression and gradient descent.

Chapter 2 of the book (``chapters/02_normal_equation.ipynb``) derives everything here:
the cost :eq:`ne-cost`, its gradient :eq:`ne-gradient`, the normal equations
:eq:`ne-normal-equations` and their solution :eq:`ne-normal-equation`, ridge regression
:eq:`ne-ridge` (the MAP estimate :eq:`ne-ridge-map`), and the gradient descent update
:eq:`ne-gd-update`. Data layout: examples are rows, ``X`` has shape ``(n, d)``.

:func:`normal_equation` is fast when ``X`` is well conditioned and accurate when it is
not. It solves the normal equations by Cholesky (one pass over ``X`` forms
:math:`X^\\top X` and :math:`X^\\top y`, and shows whether ``X`` is finite),
estimates the condition number from the Cholesky factor, and falls back to an SVD of
``X`` itself when the normal equations would lose too many digits (section "Numerics"
of the chapter: :math:`\\kappa(X^\\top X) = \\kappa(X)^2`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

from mlnotes._parallel import n_parts, ranges, sum_parts
from mlnotes._validation import (
    as_float_array,
    as_rng,
    finite_result,
    positive_int,
    real_number,
)

__all__ = [
    "COND_LIMIT",
    "DivergenceError",
    "GradientDescentResult",
    "IllConditionedWarning",
    "LeastSquaresResult",
    "RankDeficientWarning",
    "add_intercept",
    "cost",
    "gradient",
    "gradient_descent",
    "ill_conditioned_problem",
    "least_squares",
    "normal_equation",
    "ridge",
]

#: The Cholesky path is used only while the estimated condition number of the
#: (column-equilibrated) Gram matrix stays below this bound; the normal equations then
#: keep about ``16 - log10(COND_LIMIT) = 9`` significant digits. Above it, the SVD of
#: ``X`` is used instead, whose error grows like ``cond(X)``, not ``cond(X)**2``.
COND_LIMIT: float = 1e7

_EPS = float(np.finfo(np.float64).eps)
_RESCALE_HINT = (
    "X, y or theta are too large: rescale the columns of X (e.g. standardise them) "
    "and y, and try again."
)


class DivergenceError(ValueError):
    """An iterative fitter's objective became NaN or infinite: the iteration diverged.

    Raised by :func:`mlnotes.linear.gradient_descent` and :func:`mlnotes.nn.train` (the same class)
    (chapter 2, :eq:`ne-gd-update`; chapter 3, :eq:`dl-minibatch-step`), usually
    because the learning rate is too large.

    Attributes
    ----------
    step : int
        The (1-based) epoch or step at which the objective stopped being finite.
    history : ndarray
        The objective recorded up to that point, so the curve can still be plotted.
    """

    def __init__(self, message: str, step: int, history: np.ndarray) -> None:
        super().__init__(message)
        self.step = step
        self.history = history


class RankDeficientWarning(UserWarning):
    """Issued when the columns of ``X`` are (numerically) linearly dependent.

    :func:`normal_equation` then returns the minimum-norm least-squares solution,
    :math:`X^+ y` (chapter 2, :eq:`ne-pinv`), which is one of infinitely many
    minimisers of the cost (or, when the column norms of ``X`` differ by more than
    ``1e8``, the minimum-norm solution of the column-equilibrated problem; the message
    says which).
    """


class IllConditionedWarning(UserWarning):
    """Issued when ``method="cholesky"`` is forced beyond :data:`COND_LIMIT`.

    The normal equations then keep fewer than about 9 significant digits (chapter 2,
    :eq:`ne-cond-squared`); ``method="auto"`` would have used the SVD instead.
    """


@dataclass(frozen=True)
class LeastSquaresResult:
    """A least-squares solution and how :func:`least_squares` computed it.

    Attributes
    ----------
    theta : ndarray
        The parameters, shape ``(d,)`` or ``(d, m)``: what :func:`normal_equation`
        returns.
    method : str
        ``"cholesky"`` (normal equations) or ``"svd"`` (orthogonal fallback).
    cond_estimate : float
        Estimated 2-norm condition number of the column-equilibrated Gram matrix
        :math:`X^\\top X` (``inf`` if Cholesky failed); about ``cond(X)**2``.
    rank : int
        Numerical rank of ``X`` (``d`` unless rank deficient).
    """

    theta: np.ndarray
    method: str
    cond_estimate: float
    rank: int


@dataclass(frozen=True)
class GradientDescentResult:
    """Result of :func:`gradient_descent`.

    The three fitters of mlnotes (:func:`gradient_descent`, :func:`mlnotes.nn.train`,
    :func:`mlnotes.gmm.fit_gmm`) return results with the same names for what they
    share: ``params``, ``n_iter`` (iterations run), ``converged`` and ``history``
    (the objective, starting before the first iteration).

    Attributes
    ----------
    theta : ndarray
        Final parameters, shape ``(d,)``; also available as ``params``.
    history : ndarray
        The cost :eq:`ne-cost` divided by ``n`` (the mean of ``(h - y)**2 / 2``) at
        the initial ``theta`` and after every epoch, shape ``(n_iter + 1,)``.
    n_iter : int
        Epochs run.
    converged : bool
        Whether an epoch moved ``theta`` by at most ``tol`` (relative) before
        ``n_epochs`` epochs; always False with ``tol=0``.
    """

    theta: np.ndarray
    history: np.ndarray
    n_iter: int
    converged: bool

    @property
    def params(self) -> np.ndarray:
        """The final parameters (the same array as ``theta``)."""
        return self.theta


# --- validation ---------------------------------------------------------------------


def _validate_Xy(
    X: object, y: object, *, defer_X_finite: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``X`` and ``y`` as checked float64 arrays of matching lengths.

    ``defer_X_finite=True`` (the solvers, which form ``X^T X`` anyway): a non-empty
    2-D float64 ndarray ``X`` is returned without the finiteness pass over it; the
    caller must then call :func:`_check_X_finite` with the diagonal of ``X^T X``
    (non-finite exactly when a column holds a NaN or an inf, or its squares
    overflow) before using the result, or before any other use of ``X``.
    """
    if (
        defer_X_finite
        and isinstance(X, np.ndarray)
        and X.dtype == np.float64
        and X.ndim == 2
        and X.size > 0
    ):
        Xa = X  # every check of as_float_array holds, except finiteness: deferred
    else:
        Xa = as_float_array(X, "X", ndim=2)
    ya = as_float_array(y, "y")
    if ya.ndim not in (1, 2):
        raise ValueError(f"y must have shape (n,) or (n, m); got shape {ya.shape}.")
    if ya.shape[0] != Xa.shape[0]:
        raise ValueError(
            f"X has {Xa.shape[0]} rows (examples) but y has {ya.shape[0]}; "
            "they must have one target per example."
        )
    return Xa, ya


def _check_X_finite(Xa: np.ndarray, gram_diagonal: np.ndarray | None) -> None:
    """Raise the ValueError of :func:`as_float_array` if ``X`` holds a NaN or an inf.

    Cheap when the diagonal of ``X^T X`` is given and finite (then so is ``X``); the
    precise check, which names the bad entries, runs only otherwise.
    """
    if gram_diagonal is None or not np.all(np.isfinite(gram_diagonal)):
        as_float_array(Xa, "X", ndim=2)


def _validate_theta_Xy(
    theta: object, X: object, y: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    Xa, ya = _validate_Xy(X, y)
    th = as_float_array(theta, "theta")
    want = (Xa.shape[1], *ya.shape[1:])
    if th.shape != want:
        raise ValueError(
            f"theta must have shape {want} to match X {Xa.shape} and y {ya.shape}; got {th.shape}."
        )
    return Xa, ya, th


# --- the model ----------------------------------------------------------------------


def add_intercept(X: np.ndarray) -> np.ndarray:
    """Prepend a column of ones to ``X``, so that ``theta[0]`` is the intercept.

    Chapter 2, section "Set-up": with :math:`x_0 = 1`, :math:`h(x) = \\theta^\\top x`
    includes the intercept (:eq:`ne-hypothesis`).

    Parameters
    ----------
    X : ndarray, shape (n, d)

    Returns
    -------
    ndarray, shape (n, d + 1), float64
    """
    Xa = as_float_array(X, "X", ndim=2)
    return np.hstack([np.ones((Xa.shape[0], 1)), Xa])


def cost(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> float:
    """The least-squares cost :math:`J(\\theta) = \\tfrac12 \\norm{X\\theta - y}^2`.

    Implements :eq:`ne-cost`. ``y`` may be ``(n,)`` (``theta`` is ``(d,)``) or
    ``(n, m)`` (``theta`` is ``(d, m)``; the costs of the ``m`` columns are summed).
    """
    Xa, ya, th = _validate_theta_Xy(theta, X, y)
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below
        r = Xa @ th - ya
        J = 0.5 * float(np.sum(r * r))
    return finite_result(J, "the cost", _RESCALE_HINT)


def gradient(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of :func:`cost`: :math:`X^\\top X \\theta - X^\\top y`.

    Implements :eq:`ne-gradient` (computed as :math:`X^\\top (X\\theta - y)`, which is
    equal and cheaper). Same shape as ``theta``.
    """
    Xa, ya, th = _validate_theta_Xy(theta, X, y)
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below
        g = Xa.T @ (Xa @ th - ya)
    return finite_result(g, "the gradient", _RESCALE_HINT)


# --- the normal equation -----------------------------------------------------------


_MIN_NORM_SPREAD = 1e8  # see the rank-deficient branch of normal_equation
_SQUARE_MIN = 1e-280  # squared column norms below this have lost digits to underflow
_SQUARE_MAX = 1e280


_GRAM_BLOCK_BYTES = 1 << 21  # row blocks of X of about 2 MB stay in cache for X^T y


def _gram(Xa: np.ndarray, ya: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""``(X^T X, X^T y)`` in one pass over ``X``; the caller sets the errstate.

    For a tall C-ordered ``X`` with few columns, ``X^T y`` is a second pass over
    memory as long as the Gram product itself; it is nearly free if each block of
    rows is used for both while it is in cache: each block adds its
    :math:`B^\top B` (numpy sends it to BLAS ``syrk``) and its :math:`B^\top y_B`.
    The rows are split into one part per core (:mod:`mlnotes._parallel`: BLAS
    parallelises ``syrk`` over the small ``d x d`` result only). Otherwise (wide,
    short or non-contiguous ``X``) one ``X.T @ X`` and one ``X.T @ y``.
    """
    n, d = Xa.shape
    rows = max(256, _GRAM_BLOCK_BYTES // (8 * d))
    if d > 256 or n < 4 * rows or not Xa.flags.c_contiguous:
        return Xa.T @ Xa, Xa.T @ ya
    spans = ranges(n, n_parts(n, 4 * rows))
    return sum_parts(lambda i: _gram_rows(Xa, ya, *spans[i], rows), len(spans))


def _gram_rows(Xa, ya, lo, hi, rows):
    """``(X^T X, X^T y)`` over rows ``lo:hi`` of ``X``, in blocks of ``rows`` rows."""
    d = Xa.shape[1]
    G = np.zeros((d, d))
    b = np.zeros((d, *ya.shape[1:]))
    for first in range(lo, hi, rows):
        B = Xa[first : min(first + rows, hi)]
        G += B.T @ B
        b += B.T @ ya[first : min(first + rows, hi)]
    return G, b


def _column_norms(X: np.ndarray) -> np.ndarray:
    """Euclidean norms of the columns, without under- or overflow (scaled by the max)."""
    amax = np.max(np.abs(X), axis=0)
    safe = np.where(amax > 0, amax, 1.0)
    Z = X / safe
    return amax * np.sqrt(np.einsum("ij,ij->j", Z, Z))


def _check_representable(theta: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(theta)):
        raise ValueError(
            "the least-squares solution overflows float64: X is tiny compared with y "
            "(its smallest columns would need coefficients beyond 1.8e308). Rescale the "
            "columns of X, e.g. standardise them, and solve again."
        )
    return theta


def _pow2_scale(norms: np.ndarray) -> np.ndarray:
    """Powers of two close to ``1 / norms``: scaling by them is exact in floating point."""
    return np.ldexp(1.0, -np.frexp(norms)[1])


def _cholesky_solve(G: np.ndarray, b: np.ndarray) -> tuple[np.ndarray | None, float]:
    """Solve ``G t = b`` for SPD ``G``; return (t or None, estimated cond_2(G))."""
    anorm = float(np.max(np.sum(np.abs(G), axis=0)))  # 1-norm (G symmetric)
    c, info = lapack.dpotrf(G, lower=0, clean=0, overwrite_a=0)
    if info != 0:
        return None, np.inf
    rcond, info = lapack.dpocon(c, anorm)  # uplo 'U' (default)
    if info != 0 or rcond <= 0.0:
        return None, np.inf
    t, info = lapack.dpotrs(c, b.reshape(b.shape[0], -1), lower=0)
    if info != 0:  # pragma: no cover - dpotrs fails only on bad arguments
        return None, np.inf
    return t.reshape(b.shape), 1.0 / float(rcond)


def _svd_solve(Xs: np.ndarray, y: np.ndarray, rcond: float) -> tuple[np.ndarray, int]:
    theta, _, rank, _ = sla.lstsq(Xs, y, cond=rcond, lapack_driver="gelsd", check_finite=False)
    return theta, int(rank)


def least_squares(
    X: np.ndarray,
    y: np.ndarray,
    *,
    method: Literal["auto", "cholesky", "svd"] = "auto",
    rcond: float | None = None,
) -> LeastSquaresResult:
    r"""Least squares :math:`\hat\theta = \arg\min_\theta \norm{X\theta - y}^2`, and how it was solved.

    Implements :eq:`ne-normal-equation`, :math:`\hat\theta = (X^\top X)^{-1} X^\top y`,
    without forming an inverse, and falls back to an orthogonal method when the normal
    equations would be inaccurate (chapter 2, section "Numerics"):

    1. Equilibrate: scale each column of ``X`` by a power of two near ``1/norm`` (exact
       in floating point; it lowers the condition number for free).
    2. ``method="auto"`` or ``"cholesky"``: form :math:`G = X^\top X` and
       :math:`X^\top y` in one pass over ``X`` (BLAS ``syrk``; a NaN or inf in ``X``
       shows on the diagonal of :math:`G`, so ``X`` needs no separate check), factor :math:`G = R^\top R` (Cholesky) and estimate
       :math:`\kappa(G)` from ``R`` (LAPACK ``dpocon``). If the factorisation succeeds
       and :math:`\kappa(G) \le` :data:`COND_LIMIT`, solve the two triangular systems.
    3. Otherwise (or with ``method="svd"``): solve by the SVD of the equilibrated ``X``
       (LAPACK ``gelsd``), whose error grows like :math:`\kappa(X)` instead of
       :math:`\kappa(X)^2`. Singular values below ``rcond * s_max`` are treated as
       zero.

    Rank-deficient ``X`` (linearly dependent columns, or ``n < d``): the minimum-norm
    solution :math:`X^+ y` (:eq:`ne-pinv`) is returned and a
    :class:`RankDeficientWarning` is issued. If the column norms of ``X`` differ by
    more than a factor ``1e8``, double precision cannot weigh that norm reliably; the
    minimum-norm solution of the equilibrated problem, :math:`D (XD)^+ y`, is returned
    instead (still a least-squares solution) and the warning says so. With ``method="cholesky"`` a
    :class:`numpy.linalg.LinAlgError` is raised instead.

    Parameters
    ----------
    X : ndarray, shape (n, d)
        Design matrix, one example per row (add an intercept column with
        :func:`add_intercept` if the model needs one).
    y : ndarray, shape (n,) or (n, m)
        Targets; with ``m`` columns, ``m`` independent problems share ``X``.
    method : {"auto", "cholesky", "svd"}, default "auto"
        ``"auto"`` chooses as above; the others force one path (``"cholesky"`` raises
        if ``X^T X`` is not numerically positive definite, and issues an
        :class:`IllConditionedWarning` beyond :data:`COND_LIMIT`: it is there to show
        what the normal equations lose).
    rcond : float, optional
        Relative cut-off for small singular values in the SVD path, in ``[0, 1)``;
        values below ``d * eps`` are raised to it (smaller "singular values" are
        rounding noise of exact zeros).
        Default ``min(10 d, max(n, d)) * eps``: never looser than
        :func:`numpy.linalg.lstsq`'s ``max(n, d) * eps``, and for tall ``X`` far
        tighter (``lstsq``'s cut-off then discards directions that the data do
        determine).

    Returns
    -------
    LeastSquaresResult
        ``theta`` (what :func:`normal_equation` returns), the path taken, the
        condition estimate and the numerical rank.

    Raises
    ------
    ValueError
        Bad shapes, NaN or inf, complex or non-numeric arrays, empty arrays, unknown
        ``method``, bad ``rcond``; or a
        solution too large for float64 (``X`` tiny compared with ``y``), which would
        otherwise come back as ``inf``.
    numpy.linalg.LinAlgError
        ``method="cholesky"`` and :math:`X^\top X` is not positive definite.
    """
    return _least_squares(*_solver_arguments(X, y, method, rcond))


def _solver_arguments(X, y, method, rcond) -> tuple[np.ndarray, np.ndarray, str, float]:
    """Checked arguments of :func:`least_squares`; the finiteness of ``X`` is checked
    later, by :func:`_solve_scaled`, on the diagonal of ``X^T X`` (one pass saved)."""
    Xa, ya = _validate_Xy(X, y, defer_X_finite=True)
    if not (isinstance(method, str) and method in ("auto", "cholesky", "svd")):
        raise ValueError(f"method must be 'auto', 'cholesky' or 'svd'; got {method!r}.")
    n, d = Xa.shape
    if rcond is None:
        rcond = _default_rcond(n, d)
    else:
        rcond = real_number(rcond, "rcond", low=0.0, high=1.0, high_open=True)
        # below eps, "singular values" are rounding noise of exact zeros: inverting
        # them would return noise of size 1/eps instead of the minimum-norm solution
        rcond = max(rcond, d * _EPS)
    return Xa, ya, method, rcond


def _default_rcond(n: int, d: int) -> float:
    """The default cut-off of the rank decision, never looser than ``lstsq``'s."""
    return min(10 * d, max(n, d)) * _EPS


def _y_exponent(ya: np.ndarray) -> int:
    """e with 2**(e-1) <= max |y| < 2**e: y * 2**-e is of order one (exact)."""
    y_max = float(np.max(np.abs(ya)))
    return int(np.frexp(y_max)[1]) if y_max > 0 else 0


def _least_squares(Xa: np.ndarray, ya: np.ndarray, method: str, rcond: float) -> LeastSquaresResult:
    """The solver of :func:`least_squares` on checked float64 arrays.

    ``y`` is scaled by a power of two to order one first (exact), so that ``X^T y``
    neither overflows nor underflows; the solution is scaled back at the end.
    """
    y_exp = _y_exponent(ya)
    result = _solve_scaled(Xa, np.ldexp(ya, -y_exp), method, rcond)
    with np.errstate(over="ignore"):  # an overflow is reported as a ValueError
        theta = _check_representable(np.ldexp(result.theta, y_exp))
    return LeastSquaresResult(theta, result.method, result.cond_estimate, result.rank)


def _solve_scaled(Xa: np.ndarray, ya: np.ndarray, method: str, rcond: float) -> LeastSquaresResult:
    n, d = Xa.shape

    use_cholesky = method != "svd" and n >= d
    # One pass over X (syrk, _gram) forms X^T X, and X^T y with it: the floor of the
    # cost. The column norms are
    # the square roots of its diagonal, so they cost no extra pass over X, unless a
    # column is so small (or large) that its square under- or overflows: then the
    # norms are measured without squaring and X^T X is formed again from X D. The
    # diagonal also tells whether X is finite (a NaN or inf makes its column's entry
    # non-finite), so X itself is checked only when the diagonal is not finite.
    with np.errstate(all="ignore"):  # non-finite entries are detected just below
        G, Xty = _gram(Xa, ya) if use_cholesky else (None, None)
    squares = np.diag(G) if G is not None else None
    _check_X_finite(Xa, squares)
    squares_ok = squares is not None and bool(
        np.all((squares > _SQUARE_MIN) & (squares < _SQUARE_MAX))
    )
    norms = np.sqrt(squares) if squares_ok else _column_norms(Xa)
    zero_cols = norms == 0.0
    norms = np.where(zero_cols, 1.0, norms)
    s = _pow2_scale(norms)  # column scaling D: X D has columns of norm in [0.5, 1)
    s_y = s[:, None] if ya.ndim == 2 else s

    cond_est = np.inf
    if G is not None and not zero_cols.any():
        if squares_ok:
            G *= s[:, None]
            G *= s[None, :]  # D G D = (X D)^T (X D) exactly: powers of two
            b = Xty * s_y
        else:
            Xs = Xa * s
            G, b = Xs.T @ Xs, Xs.T @ ya
        t, cond_est = _cholesky_solve(G, b)
        if t is not None and method == "cholesky" and cond_est * _EPS >= 1.0:
            t = None  # singular at working precision: its "solution" is rounding noise
        if t is not None and (method == "cholesky" or cond_est <= COND_LIMIT):
            if cond_est > COND_LIMIT:
                warnings.warn(
                    f"method='cholesky': the estimated condition number of the scaled "
                    f"X^T X is {cond_est:.1e} > COND_LIMIT = {COND_LIMIT:.0e}, so the "
                    f"solution keeps only about {max(0.0, 16 - np.log10(cond_est)):.0f} "
                    "significant digits. method='auto' would use the SVD of X.",
                    IllConditionedWarning,
                    stacklevel=4,
                )
            with np.errstate(over="ignore"):  # an overflow is reported as a ValueError
                theta = _check_representable(t * s_y)
            return LeastSquaresResult(theta, "cholesky", cond_est, d)
    if method == "cholesky":
        raise np.linalg.LinAlgError(
            "X^T X is not numerically positive definite: the columns of X are (nearly) "
            "linearly dependent or n < d. Use method='auto' for the minimum-norm solution."
        )

    with np.errstate(over="ignore"):  # an overflow is reported as a ValueError below
        t, rank = _svd_solve(Xa * s, ya, float(rcond))
        theta = t * s_y
    if rank < d:
        kept = norms[~zero_cols]
        with np.errstate(over="ignore"):  # an infinite spread is simply "too far apart"
            spread = kept.max() / kept.min() if kept.size else 1.0
        if spread <= _MIN_NORM_SPREAD:
            # Column scaling does not change a unique solution, but it does change which
            # of the many solutions has minimum norm: compute X^+ y in the original
            # units, keeping the `rank` largest singular values of X.
            U, sv, Vt = np.linalg.svd(Xa, full_matrices=False)
            r = min(rank, int(np.count_nonzero(sv)))
            coef = (U[:, :r].T @ ya) / (sv[:r, None] if ya.ndim == 2 else sv[:r])
            theta = Vt[:r].T @ coef
            chosen = "the minimum-norm solution X^+ y"
        else:
            # Column norms further apart than the precision can weigh: the SVD of X
            # itself loses the small columns to rounding. Keep the minimum-norm solution
            # of the equilibrated problem, D (X D)^+ y, which is still a least-squares
            # solution.
            chosen = (
                f"the minimum-norm solution in equilibrated units, D (X D)^+ y (the column "
                f"norms of X differ by a factor {spread:.1e}, too much to weigh X^+ y in "
                "double precision)"
            )
        warnings.warn(
            f"X has numerical rank {rank} < {d} columns: its columns are linearly "
            "dependent (or n < d), so the least-squares solution is not unique. "
            f"Returning {chosen}.",
            RankDeficientWarning,
            stacklevel=4,
        )
    return LeastSquaresResult(_check_representable(theta), "svd", cond_est, rank)




def normal_equation(
    X: np.ndarray,
    y: np.ndarray,
    *,
    method: Literal["auto", "cholesky", "svd"] = "auto",
    rcond: float | None = None,
) -> np.ndarray:
    r"""Least-squares parameters :math:`\hat\theta`: the solution of :eq:`ne-normal-equation`.

    The parameters of :func:`least_squares` (see there for the algorithm, chapter 2's
    :prf:ref:`ne-alg-solver`, the arguments and the errors), without the diagnostics.

    Returns
    -------
    theta : ndarray, shape (d,) or (d, m)
    """
    return _least_squares(*_solver_arguments(X, y, method, rcond)).theta


# --- ridge regression --------------------------------------------------------------


def ridge(
    X: np.ndarray,
    y: np.ndarray,
    alpha: float,
    *,
    intercept: bool = False,
) -> np.ndarray:
    r"""Ridge regression: the minimiser of :math:`\tfrac12\norm{X\theta - y}^2 + \tfrac\gamma2 \theta^\top D \theta`.

    Implements :eq:`ne-ridge`, :math:`(X^\top X + \gamma D)\,\theta = X^\top y`, the MAP
    estimate under the Gaussian prior of chapter 2, section "Ridge regression as MAP"
    (:eq:`ne-ridge-map`), with :math:`\gamma` = ``alpha`` (scikit-learn's name; the
    book writes :math:`\gamma` because :math:`\lambda` is kept for eigenvalues).
    :math:`D = I`, or, with ``intercept=True``, :math:`I` with a zero for the first
    column, so that the intercept is not shrunk.

    The algorithm is that of :func:`least_squares` (:prf:ref:`ne-alg-solver`) applied
    to the augmented problem :math:`\min \norm{A\theta - (y, 0)}` with
    :math:`A = [X; \sqrt\gamma D^{1/2}]`, whose Gram matrix is
    :math:`X^\top X + \gamma D`:

    1. Scale column :math:`j` by a power of two near
       :math:`1/\sqrt{\norm{x_{:,j}}^2 + \gamma D_{jj}}`, the column norm of ``A``
       (exact in floating point).
    2. Form :math:`X^\top X` (one BLAS pass over ``X``), add :math:`\gamma D` on the
       diagonal, factor by Cholesky and estimate the condition number (``dpocon``).
       No inverse is formed.
    3. If the factorisation fails or the estimate exceeds :data:`COND_LIMIT`, solve
       the augmented problem by the SVD of ``A`` (LAPACK ``gelsd``), whose error
       grows like :math:`\kappa(A)`, not :math:`\kappa(A)^2`.

    For ``alpha > 0`` the solution is unique whatever ``X`` is (rank deficient,
    ``n < d``): :math:`X^\top X + \gamma D` is positive definite (with
    ``intercept=True`` because the intercept column is not zero). ``alpha = 0`` is
    :func:`normal_equation` exactly (the minimum-norm solution with a
    :class:`RankDeficientWarning` when ``X`` is rank deficient). When ``alpha`` is
    so small against ``X`` that the penalty is below rounding level in some
    direction of a rank-deficient ``X``, the minimum-norm solution of the
    equilibrated augmented problem is returned with a :class:`RankDeficientWarning`.

    Parameters
    ----------
    X : ndarray, shape (n, d)
        Design matrix, one example per row.
    y : ndarray, shape (n,) or (n, m)
        Targets; with ``m`` columns, ``m`` independent problems share ``X``.
    alpha : float
        The penalty :math:`\gamma \ge 0` (finite). In the Bayesian reading
        :math:`\gamma = \sigma^2 / \tau^2`, noise variance over prior variance.
    intercept : bool, default False
        ``True``: the first column of ``X`` is the intercept column of
        :func:`add_intercept` (it must be all ones, else ``ValueError``) and its
        coefficient is not penalised, as scikit-learn's
        ``Ridge(fit_intercept=True)`` does. ``False``: every coefficient is
        penalised (:math:`D = I`), as ``Ridge(fit_intercept=False)``.

    Returns
    -------
    theta : ndarray, shape (d,) or (d, m)

    Raises
    ------
    ValueError
        Bad shapes, NaN or inf, complex or non-numeric arrays, empty arrays; ``alpha``
        not a finite number ``>= 0``; ``intercept`` not a bool, or ``intercept=True``
        with a first column that is not all ones; a solution too large for float64.
    """
    Xa, ya = _validate_Xy(X, y, defer_X_finite=True)
    alpha = real_number(alpha, "alpha", low=0.0)
    if not isinstance(intercept, (bool, np.bool_)):
        raise ValueError(
            f"intercept must be True or False; got {intercept!r} ({type(intercept).__name__})."
        )
    if intercept and not np.all(Xa[:, 0] == 1.0):
        _check_X_finite(Xa, None)  # a NaN or inf is the error to report first
        raise ValueError(
            "intercept=True needs the first column of X to be the intercept column of "
            "add_intercept (all ones); it is not. Prepend it with add_intercept(X), or "
            "pass intercept=False to penalise every column."
        )
    if alpha == 0.0:  # the normal equation, rank-deficiency handling included
        return _least_squares(Xa, ya, "auto", _default_rcond(*Xa.shape)).theta
    return _ridge(Xa, ya, alpha, bool(intercept)).theta


def _ridge(Xa: np.ndarray, ya: np.ndarray, alpha: float, intercept: bool) -> LeastSquaresResult:
    """The solver of :func:`ridge` for ``alpha > 0`` on checked arrays.

    ``y`` is scaled by a power of two to order one first (exact: the solution is
    linear in ``y``), so that ``X^T y`` neither overflows nor underflows.
    """
    d = Xa.shape[1]
    y_exp = _y_exponent(ya)
    ys = np.ldexp(ya, -y_exp)
    pen = np.full(d, alpha)  # the diagonal of gamma D
    if intercept:
        pen[0] = 0.0
    with np.errstate(all="ignore"):  # non-finite entries are detected just below
        G, Xty = _gram(Xa, ys)
    squares = np.diag(G).copy()
    _check_X_finite(Xa, squares)  # X is finite if the diagonal of X^T X is
    squares_ok = bool(np.all((squares > _SQUARE_MIN) & (squares < _SQUARE_MAX)))
    norms_X = np.sqrt(squares) if squares_ok else _column_norms(Xa)
    norms = np.hypot(norms_X, np.sqrt(pen))  # column norms of A = [X; sqrt(gamma D)]
    s = _pow2_scale(norms)  # every column of A is non-zero: gamma > 0 or a ones column
    s_y = s[:, None] if ys.ndim == 2 else s
    with np.errstate(under="ignore"):  # an underflow here is below rounding level
        if squares_ok:
            G *= s[:, None]
            G *= s[None, :]  # S X^T X S exactly: powers of two
            b = Xty * s_y
        else:
            Xs = Xa * s
            G, b = Xs.T @ Xs, Xs.T @ ys
        G[np.diag_indices(d)] += pen * s * s  # + S gamma D S: the Gram matrix of A S
    t, cond_est = _cholesky_solve(G, b)
    if t is not None and cond_est <= COND_LIMIT:
        with np.errstate(over="ignore"):  # an overflow is reported as a ValueError
            theta = _check_representable(np.ldexp(t * s_y, y_exp))
        return LeastSquaresResult(theta, "cholesky", cond_est, d)

    # The orthogonal path: the SVD of the equilibrated augmented matrix A S.
    A = np.vstack([Xa * s, np.diag(np.sqrt(pen) * s)])
    rhs = np.concatenate([ys, np.zeros((d, *ys.shape[1:]))])
    with np.errstate(over="ignore"):  # an overflow is reported as a ValueError below
        t, rank = _svd_solve(A, rhs, d * _EPS)
        theta = _check_representable(np.ldexp(t * s_y, y_exp))
    if rank < d:
        warnings.warn(
            f"alpha = {alpha:g} is too small to regularise X in double precision: the "
            f"augmented matrix [X; sqrt(alpha) D^(1/2)] has numerical rank {rank} < {d}. "
            "Returning the minimum-norm solution of the column-equilibrated augmented "
            "problem; increase alpha, or use normal_equation for the minimum-norm "
            "least-squares solution.",
            RankDeficientWarning,
            stacklevel=3,
        )
    return LeastSquaresResult(theta, "svd", cond_est, rank)


# --- gradient descent -------------------------------------------------------------


def gradient_descent(
    X: np.ndarray,
    y: np.ndarray,
    learning_rate: float,
    n_epochs: int = 100,
    *,
    batch_size: int | None = None,
    theta0: np.ndarray | None = None,
    tol: float = 0.0,
    seed: int | np.random.Generator | None = None,
) -> GradientDescentResult:
    r"""Batch or mini-batch gradient descent on the least-squares cost.

    Implements :eq:`ne-gd-update`, :math:`\theta \leftarrow \theta - \alpha
    \tfrac1{|B|} X_B^\top (X_B\theta - y_B)`, the gradient :eq:`ne-gradient` averaged
    over a batch ``B`` (all ``n`` rows when ``batch_size`` is None). Full-batch descent
    converges for :math:`0 < \alpha < 2 / \lambda_{\max}(X^\top X / n)` (chapter 2,
    section "Gradient descent").

    Parameters
    ----------
    X : ndarray, shape (n, d)
    y : ndarray, shape (n,)
    learning_rate : float
        Step size :math:`\alpha > 0`.
    n_epochs : int, default 100
        Passes over the data (at most 10**8); with mini-batches each epoch visits
        every example once, in an order shuffled by ``seed``.
    batch_size : int, optional
        Mini-batch size (``1 <= batch_size <= n``); None means full batch.
    theta0 : ndarray, shape (d,), optional
        Starting point; zeros by default. Not modified.
    tol : float, default 0
        Stop early when an epoch moves ``theta`` by at most ``tol`` times its norm
        (the cost is a poor test: near the minimum it stops changing in floating
        point while ``theta`` is still about ``sqrt(eps)`` away). ``0`` runs all
        ``n_epochs``.
    seed : None, int or numpy Generator
        Seeds the shuffling of mini-batches.

    Returns
    -------
    GradientDescentResult
        ``theta``, the mean cost :math:`J(\theta)/n` per epoch in ``history`` (index 0
        is the start), ``n_iter`` epochs run and whether ``tol`` stopped them.

    Raises
    ------
    DivergenceError
        The cost became non-finite: the learning rate is too large (the message gives
        the epoch and the stability bound; the error carries the history so far).
    ValueError
        Bad shapes or values of any argument.
    """
    Xa, ya = _validate_Xy(X, y)
    if ya.ndim != 1:
        raise ValueError(f"y must have shape (n,); got {ya.shape}.")
    n, d = Xa.shape
    learning_rate = real_number(learning_rate, "learning_rate", low=0.0, low_open=True)
    n_epochs = positive_int(n_epochs, "n_epochs", maximum=10**8)
    batch_size = n if batch_size is None else positive_int(batch_size, "batch_size", maximum=n)
    tol = real_number(tol, "tol", low=0.0)
    if theta0 is None:
        theta = np.zeros(d)
    else:
        theta = as_float_array(theta0, "theta0", copy=True)
        if theta.shape != (d,):
            raise ValueError(f"theta0 must have shape ({d},) to match X; got {theta.shape}.")
    rng = as_rng(seed)
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
        r = Xa @ theta - ya
        start = 0.5 * float(r @ r) / n
    if not np.isfinite(start):
        raise ValueError(f"the cost at theta0 overflows float64. {_RESCALE_HINT}")
    return _gradient_descent(Xa, ya, theta, learning_rate, n_epochs, batch_size, tol, rng, start)


def _gradient_descent(Xa, ya, theta, alpha, n_epochs, batch_size, tol, rng, start):
    """The loop of :func:`gradient_descent` on checked arguments; updates ``theta``."""
    n = Xa.shape[0]
    history = [start]
    converged = False
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below
        for epoch in range(1, n_epochs + 1):
            before = theta.copy() if tol > 0 else theta
            if batch_size == n:
                theta -= alpha * (Xa.T @ (Xa @ theta - ya)) / n
            else:
                order = rng.permutation(n)
                for first in range(0, n, batch_size):
                    idx = order[first : first + batch_size]
                    Xb = Xa[idx]
                    theta -= alpha * (Xb.T @ (Xb @ theta - ya[idx])) / idx.size
            r = Xa @ theta - ya
            J = 0.5 * float(r @ r) / n
            history.append(J)
            if not np.isfinite(J):
                raise DivergenceError(
                    f"gradient descent diverged: the cost is {J} after epoch {epoch}. The "
                    f"learning rate {alpha:g} is too large; full-batch descent is stable "
                    f"only below 2 / lambda_max(X^T X / n) = {_stability_bound(Xa):.4g}.",
                    epoch,
                    np.asarray(history),
                )
            if tol > 0 and np.linalg.norm(theta - before) <= tol * np.linalg.norm(theta):
                converged = True
                break
    return GradientDescentResult(theta, np.asarray(history), len(history) - 1, converged)


def _stability_bound(X: np.ndarray) -> float:
    """2 / lambda_max(X^T X / n), computed from the scaled X so that it cannot overflow."""
    scale = float(np.max(np.abs(X)))
    if scale == 0.0:
        return np.inf
    s_max = np.float64(np.linalg.norm(X / scale, 2))  # the largest singular value of X / scale
    with np.errstate(over="ignore", under="ignore"):  # inf here means "no rate works"
        return float(2.0 * X.shape[0] / (s_max * np.float64(scale)) ** 2)


# --- test problems -----------------------------------------------------------------


def ill_conditioned_problem(
    n: int, d: int, cond: float, *, seed: int | np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""A consistent least-squares problem ``y = X theta`` with a prescribed :math:`\kappa(X)`.

    ``X = U diag(s) V^T`` with random orthonormal ``U`` (n x d) and ``V`` (d x d) and
    singular values ``s`` spaced logarithmically from 1 down to ``1/cond``; ``theta``
    has equal weight on every right singular vector. Chapter 2 uses it to show the
    silent truncation of :func:`numpy.linalg.lstsq` (section "A solver that is wrong
    without warning", after :eq:`ne-pinv`); the tests and benchmarks use it too.

    Returns
    -------
    X : ndarray, shape (n, d)
    y : ndarray, shape (n,)
    theta : ndarray, shape (d,)
        The exact solution.
    """
    n = positive_int(n, "n", maximum=10**7)
    d = positive_int(d, "d", maximum=min(n, 10**4))
    if n * d > 10**8:
        raise ValueError(
            f"n * d = {n * d:.3g} entries (8 bytes each) is more than this test-problem "
            "builder allows (1e8); use a smaller n or d."
        )
    cond = real_number(cond, "cond", low=1.0, high=1e300)
    if d == 1 and cond != 1.0:
        raise ValueError(f"cond must be 1 when d = 1 (one column has condition number 1); got {cond:g}.")
    rng = as_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n, d)))
    V, _ = np.linalg.qr(rng.standard_normal((d, d)))
    s = np.logspace(0.0, -np.log10(cond), d)
    X = (U * s) @ V.T
    theta = V @ np.ones(d)
    return X, X @ theta, theta
