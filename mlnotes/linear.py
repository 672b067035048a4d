"""Least squares: the normal equation solver and gradient descent.

Chapter 2 of the book (``chapters/02_normal_equation.ipynb``) derives everything here:
the cost :eq:`ne-cost`, its gradient :eq:`ne-gradient`, the normal equations
:eq:`ne-normal-equations` and their solution :eq:`ne-normal-equation`, and the gradient
descent update :eq:`ne-gd-update`. Data layout: examples are rows, ``X`` has shape
``(n, d)``.

:func:`normal_equation` is fast when ``X`` is well conditioned and accurate when it is
not. It solves the normal equations by Cholesky (one pass over ``X`` to form
:math:`X^\\top X`), estimates the condition number from the Cholesky factor, and falls
back to an SVD of ``X`` itself when the normal equations would lose too many digits
(section "Numerics" of the chapter: :math:`\\kappa(X^\\top X) = \\kappa(X)^2`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

from mlnotes._validation import as_float_array

__all__ = [
    "COND_LIMIT",
    "GradientDescentResult",
    "RankDeficientWarning",
    "SolveInfo",
    "add_intercept",
    "cost",
    "gradient",
    "gradient_descent",
    "normal_equation",
]

#: The Cholesky path is used only while the estimated condition number of the
#: (column-equilibrated) Gram matrix stays below this bound; the normal equations then
#: keep about ``16 - log10(COND_LIMIT) = 9`` significant digits. Above it, the SVD of
#: ``X`` is used instead, whose error grows like ``cond(X)``, not ``cond(X)**2``.
COND_LIMIT: float = 1e7

_EPS = float(np.finfo(np.float64).eps)


class RankDeficientWarning(UserWarning):
    """Issued when the columns of ``X`` are (numerically) linearly dependent.

    :func:`normal_equation` then returns the minimum-norm least-squares solution,
    :math:`X^+ y` (chapter 2, :eq:`ne-pinv`), which is one of infinitely many
    minimisers of the cost (or, when the column norms of ``X`` differ by more than
    ``1e8``, the minimum-norm solution of the column-equilibrated problem; the message
    says which).
    """


@dataclass(frozen=True)
class SolveInfo:
    """How :func:`normal_equation` solved the problem.

    Attributes
    ----------
    method : str
        ``"cholesky"`` (normal equations) or ``"svd"`` (orthogonal fallback).
    cond_estimate : float
        Estimated 2-norm condition number of the column-equilibrated Gram matrix
        :math:`X^\\top X` (``inf`` if Cholesky failed); about ``cond(X)**2``.
    rank : int
        Numerical rank of ``X`` (``d`` unless rank deficient).
    """

    method: str
    cond_estimate: float
    rank: int


@dataclass(frozen=True)
class GradientDescentResult:
    """Result of :func:`gradient_descent`.

    Attributes
    ----------
    theta : ndarray
        Final parameters, shape ``(d,)``.
    cost_history : ndarray
        The cost :eq:`ne-cost` divided by ``n`` (the mean of ``(h - y)**2 / 2``) at
        the initial ``theta`` and after every epoch, shape ``(epochs + 1,)``.
    """

    theta: np.ndarray
    cost_history: np.ndarray


# --- validation ---------------------------------------------------------------------


def _validate_Xy(X: object, y: object) -> tuple[np.ndarray, np.ndarray]:
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
    r = Xa @ th - ya
    return 0.5 * float(np.sum(r * r))


def gradient(theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Gradient of :func:`cost`: :math:`X^\\top X \\theta - X^\\top y`.

    Implements :eq:`ne-gradient` (computed as :math:`X^\\top (X\\theta - y)`, which is
    equal and cheaper). Same shape as ``theta``.
    """
    Xa, ya, th = _validate_theta_Xy(theta, X, y)
    return Xa.T @ (Xa @ th - ya)


# --- the normal equation -----------------------------------------------------------


_MIN_NORM_SPREAD = 1e8  # see the rank-deficient branch of normal_equation
_SQUARE_MIN = 1e-280  # squared column norms below this have lost digits to underflow
_SQUARE_MAX = 1e280


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


def normal_equation(
    X: np.ndarray,
    y: np.ndarray,
    *,
    method: Literal["auto", "cholesky", "svd"] = "auto",
    rcond: float | None = None,
    return_info: bool = False,
) -> np.ndarray | tuple[np.ndarray, SolveInfo]:
    r"""Least-squares parameters :math:`\hat\theta = \arg\min_\theta \norm{X\theta - y}^2`.

    Implements :eq:`ne-normal-equation`, :math:`\hat\theta = (X^\top X)^{-1} X^\top y`,
    without forming an inverse, and falls back to an orthogonal method when the normal
    equations would be inaccurate (chapter 2, section "Numerics"):

    1. Equilibrate: scale each column of ``X`` by a power of two near ``1/norm`` (exact
       in floating point; it lowers the condition number for free).
    2. ``method="auto"`` or ``"cholesky"``: form :math:`G = X^\top X` (one BLAS pass over
       ``X``), factor :math:`G = R^\top R` (Cholesky) and estimate
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
        if ``X^T X`` is not numerically positive definite, but does not check
        :data:`COND_LIMIT`: it is there to show what the normal equations lose).
    rcond : float, optional
        Relative cut-off for small singular values in the SVD path. Default
        ``10 * d * eps`` (about ``1e-14`` for ``d = 50``): far tighter than
        :func:`numpy.linalg.lstsq`'s ``max(n, d) * eps``, which for tall ``X``
        discards directions that the data do determine.
    return_info : bool, default False
        Also return a :class:`SolveInfo` (method used, condition estimate, rank).

    Returns
    -------
    theta : ndarray, shape (d,) or (d, m)
    info : SolveInfo
        Only if ``return_info``.

    Raises
    ------
    ValueError
        Bad shapes, NaN or inf, empty arrays, unknown ``method``, bad ``rcond``; or a
        solution too large for float64 (``X`` tiny compared with ``y``), which would
        otherwise come back as ``inf``.
    numpy.linalg.LinAlgError
        ``method="cholesky"`` and :math:`X^\top X` is not positive definite.
    """
    Xa, ya = _validate_Xy(X, y)
    if method not in ("auto", "cholesky", "svd"):
        raise ValueError(f"method must be 'auto', 'cholesky' or 'svd'; got {method!r}.")
    n, d = Xa.shape
    if rcond is None:
        rcond = 10.0 * d * _EPS
    elif not (np.isscalar(rcond) and np.isfinite(rcond) and 0.0 <= rcond < 1.0):
        raise ValueError(f"rcond must be a number in [0, 1); got {rcond!r}.")

    use_cholesky = method != "svd" and n >= d
    # One BLAS call (syrk) forms X^T X: the floor of the cost. The column norms are
    # the square roots of its diagonal, so they cost no extra pass over X, unless a
    # column is so small (or large) that its square under- or overflows: then the
    # norms are measured without squaring and X^T X is formed again from X D.
    with np.errstate(over="ignore", under="ignore"):  # detected just below
        G = Xa.T @ Xa if use_cholesky else None
    squares = np.diag(G) if G is not None else None
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
            b = (Xa.T @ ya) * s_y
        else:
            Xs = Xa * s
            G, b = Xs.T @ Xs, Xs.T @ ya
        t, cond_est = _cholesky_solve(G, b)
        if t is not None and (method == "cholesky" or cond_est <= COND_LIMIT):
            with np.errstate(over="ignore"):  # an overflow is reported as a ValueError
                theta = _check_representable(t * s_y)
            info = SolveInfo("cholesky", cond_est, d)
            return (theta, info) if return_info else theta
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
            stacklevel=2,
        )
    info = SolveInfo("svd", cond_est, rank)
    theta = _check_representable(theta)
    return (theta, info) if return_info else theta


# --- gradient descent -------------------------------------------------------------


def gradient_descent(
    X: np.ndarray,
    y: np.ndarray,
    learning_rate: float,
    epochs: int = 100,
    *,
    batch_size: int | None = None,
    theta0: np.ndarray | None = None,
    seed: int | None = 0,
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
    epochs : int, default 100
        Passes over the data; with mini-batches each epoch visits every example once,
        in an order shuffled by ``seed``.
    batch_size : int, optional
        Mini-batch size (``1 <= batch_size <= n``); None means full batch.
    theta0 : ndarray, shape (d,), optional
        Starting point; zeros by default.
    seed : int, optional
        Seed of ``numpy.random.default_rng`` for the shuffling.

    Returns
    -------
    GradientDescentResult
        ``theta`` and the mean cost :math:`J(\theta)/n` per epoch (index 0 is the start).

    Raises
    ------
    ValueError
        Bad shapes or values; or the cost becomes non-finite (the learning rate is too
        large and the iteration diverges), with the epoch and the stability bound in the
        message.
    """
    Xa, ya = _validate_Xy(X, y)
    if ya.ndim != 1:
        raise ValueError(f"y must have shape (n,); got {ya.shape}.")
    n, d = Xa.shape
    if not (np.isscalar(learning_rate) and np.isfinite(learning_rate) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a positive finite number; got {learning_rate!r}.")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer; got {epochs!r}.")
    if batch_size is None:
        batch_size = n
    elif (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, (int, np.integer))
        or not 1 <= batch_size <= n
    ):
        raise ValueError(f"batch_size must be an integer in [1, n={n}]; got {batch_size!r}.")
    if theta0 is None:
        theta = np.zeros(d)
    else:
        theta = as_float_array(theta0, "theta0", copy=True)
        if theta.shape != (d,):
            raise ValueError(f"theta0 must have shape ({d},) to match X; got {theta.shape}.")
    rng = np.random.default_rng(seed)

    def mean_cost(th: np.ndarray) -> float:
        r = Xa @ th - ya
        return 0.5 * float(r @ r) / n

    history = np.empty(epochs + 1)
    history[0] = mean_cost(theta)
    with np.errstate(over="ignore", invalid="ignore"):
        for epoch in range(1, epochs + 1):
            if batch_size == n:
                theta -= learning_rate * (Xa.T @ (Xa @ theta - ya)) / n
            else:
                order = rng.permutation(n)
                for start in range(0, n, batch_size):
                    idx = order[start : start + batch_size]
                    Xb = Xa[idx]
                    theta -= learning_rate * (Xb.T @ (Xb @ theta - ya[idx])) / idx.size
            history[epoch] = mean_cost(theta)
            if not np.isfinite(history[epoch]):
                lam = float(np.linalg.eigvalsh(Xa.T @ Xa / n)[-1])
                raise ValueError(
                    f"gradient descent diverged: the cost is {history[epoch]} after epoch "
                    f"{epoch}. The learning rate {learning_rate:g} is too large; full-batch "
                    f"descent is stable only below 2 / lambda_max(X^T X / n) = {2 / lam:.4g}."
                )
    return GradientDescentResult(theta, history)
