r"""Gaussian mixture models fitted by expectation-maximisation (EM).

Chapter 5 of the book (``chapters/05_gaussian_mixtures.ipynb``) derives everything
here. The model (:eq:`gmm-model`) draws a latent label
:math:`z^{(i)} \sim \mathrm{Multinomial}(\phi)` and then
:math:`x^{(i)} \mid z^{(i)} = j \sim \mathcal N(\mu_j, \Sigma_j)`; EM alternates the
E-step (:eq:`gmm-e-step`) and the M-step (:eq:`gmm-m-phi`, :eq:`gmm-m-mu`,
:eq:`gmm-m-sigma`), and the log-likelihood (:eq:`gmm-log-likelihood`) never decreases
(:prf:ref:`gmm-thm-monotone`).

Conventions: rows of ``X`` are examples, ``X`` has shape ``(n, d)``; a mixture with
``k`` components is the triple ``(phi, mu, sigma)`` of shapes ``(k,)``, ``(k, d)`` and
``(k, d, d)``. Log-likelihoods are *means per example* (as scikit-learn's ``score``),
so they are comparable across data sets of different sizes.

Numerics (section "Numerical care" of the chapter): densities are handled in log
space with the log-sum-exp trick (:eq:`gmm-logsumexp`); each covariance is used only
through its Cholesky factor :math:`\Sigma_j = L_j L_j^\top` (no inverse, no
determinant); the M-step adds ``reg_covar`` to the diagonal of every covariance, as
scikit-learn does, so a component cannot collapse onto a single point. Inside
:func:`fit_gmm` each EM iteration is one pass over the data centred by their mean
(``_em_iteration``: the E-step and the M-step's sums as a few large matrix
products), with guards that fall back to the two-pass formulas where centring is
not enough to keep rounding below 1e-10.

:func:`kmeans` (Lloyd's algorithm, :eq:`gmm-kmeans-assign`,
:eq:`gmm-kmeans-update`) is the limit of EM with equal weights and shared
covariances :math:`\sigma^2 I` as :math:`\sigma \to 0` (chapter 5,
:ref:`gmm-section-kmeans`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dtrtri

from mlnotes._parallel import n_parts, ranges, sum_parts
from mlnotes._validation import (
    as_float_array,
    as_rng,
    finite_result,
    positive_int,
    probability_vector,
    real_number,
)

__all__ = [
    "CollapsedComponentError",
    "GMMResult",
    "KMeansResult",
    "NotPositiveDefiniteError",
    "bic",
    "fit_gmm",
    "init_mixture",
    "kmeans",
    "log_density",
    "log_likelihood",
    "n_parameters",
    "predict",
    "responsibilities",
    "sample",
]

_LOG_2PI = float(np.log(2.0 * np.pi))
# Examples per block in the E-step: the (k*d, cols) work array then stays in the CPU's
# caches, which is where most of the speed over a whole-array implementation comes
# from (measured best at 2 MB, with 1 MB of L2 per core and a shared 32 MB L3). The
# M-step's rank updates (d > 20) take blocks of X of the same size.
_BLOCK_BYTES = 1 << 21
_INIT_METHODS = ("kmeans++", "points", "responsibilities")


class NotPositiveDefiniteError(ValueError):
    """A covariance matrix is not symmetric positive definite.

    Raised for a user-supplied covariance (``init`` or a function argument) that has
    no Cholesky factor, and by :func:`fit_gmm` when an M-step produces such a
    covariance: a component has collapsed onto fewer than ``d + 1`` affinely
    independent points. Increase ``reg_covar`` (the ridge added to every covariance),
    use fewer components, or rescale the data.
    """


class CollapsedComponentError(NotPositiveDefiniteError):
    r"""An EM step produced a covariance that is singular at working precision.

    A component has collapsed onto fewer than ``d + 1`` affinely independent points
    (chapter 5, section "Numerical care": the log-likelihood is unbounded, so EM can
    run off towards :math:`+\infty` instead of converging). Raised by
    :func:`fit_gmm` when a covariance's smallest eigenvalue is below rounding level
    for the data's scale, even with ``reg_covar=0``, where the Cholesky factorisation
    might still succeed and the log-likelihood come out huge and meaningless.
    Increase ``reg_covar``, use fewer components, or remove duplicate points.
    """


@dataclass(frozen=True)
class GMMResult:
    """A fitted Gaussian mixture, returned by :func:`fit_gmm`.

    Attributes
    ----------
    phi : ndarray of shape (k,)
        Mixing weights, :math:`\\phi_j = p(z = j)`; non-negative, summing to 1.
    mu : ndarray of shape (k, d)
        Component means, one per row.
    sigma : ndarray of shape (k, d, d)
        Component covariances (``reg_covar`` already added to their diagonals).
    log_likelihoods : ndarray of shape (n_iter,)
        Mean per-example log-likelihood :eq:`gmm-log-likelihood` computed in the
        E-step of each iteration, i.e. at the parameters *entering* that iteration
        (the same sequence as scikit-learn's ``lower_bounds_``). Never decreases
        (:prf:ref:`gmm-thm-monotone`).
    log_likelihood : float
        Mean per-example log-likelihood at the returned parameters (one E-step
        after the last M-step); at least ``log_likelihoods[-1]``.
    n_iter : int
        Number of EM iterations (E-step + M-step) run.
    converged : bool
        Whether two successive entries of ``log_likelihoods`` differed by less
        than ``tol`` before ``max_iter`` was reached.
    """

    phi: np.ndarray
    mu: np.ndarray
    sigma: np.ndarray
    log_likelihoods: np.ndarray
    log_likelihood: float
    n_iter: int
    converged: bool

    @property
    def params(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(phi, mu, sigma)``: the name every fitter's result uses for its parameters."""
        return self.phi, self.mu, self.sigma

    @property
    def history(self) -> np.ndarray:
        """The objective from the start to the end, as for the other fitters.

        ``log_likelihoods`` followed by ``log_likelihood``: ``n_iter + 1`` values, the
        first at the starting parameters and the last at the returned ones.
        """
        return np.append(self.log_likelihoods, self.log_likelihood)


# --------------------------------------------------------------------------- checks


# Squared distances of points of magnitude above this (summed over up to 1e8 points and
# d features) could overflow float64: such data are refused at the door.
_MAX_ABS = 1e145


def _check_X(X: np.ndarray, name: str = "X") -> np.ndarray:
    X = np.ascontiguousarray(as_float_array(X, name, ndim=2))
    biggest = float(np.max(np.abs(X)))
    if biggest > _MAX_ABS:
        raise ValueError(
            f"{name} has entries as large as {biggest:.3g}: their squares and squared "
            "distances overflow float64. Rescale the data, e.g. standardise the columns."
        )
    return X


def _cholesky(sigma: np.ndarray, what: str) -> np.ndarray:
    """Lower Cholesky factors of a stack of covariances, or NotPositiveDefiniteError."""
    try:
        return np.linalg.cholesky(sigma)
    except np.linalg.LinAlgError:
        bad = []
        for j in range(sigma.shape[0]):
            try:
                np.linalg.cholesky(sigma[j])
            except np.linalg.LinAlgError:
                bad.append(j)
        eig = [float(np.linalg.eigvalsh(sigma[j]).min()) for j in bad]
        raise NotPositiveDefiniteError(
            f"{what}: covariance(s) of component(s) {bad} are not positive definite "
            f"(smallest eigenvalues {[f'{e:.3g}' for e in eig]}). "
            "A covariance must be symmetric with all eigenvalues > 0; in EM this happens "
            "when a component collapses onto too few points: increase reg_covar, use "
            "fewer components, or rescale the data."
        ) from None


def _check_params(
    phi: np.ndarray, mu: np.ndarray, sigma: np.ndarray, d: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate a mixture (phi, mu, sigma); return float64 copies."""
    phi = probability_vector(phi, "phi")
    mu = as_float_array(mu, "mu", copy=True)
    sigma = as_float_array(sigma, "sigma", copy=True)
    k = phi.shape[0]
    if mu.ndim != 2 or mu.shape[0] != k:
        raise ValueError(
            f"mu must have shape (k, d) = ({k}, d), one mean per row, to match phi of "
            f"shape ({k},); got shape {mu.shape}."
        )
    dd = mu.shape[1]
    if d is not None and dd != d:
        raise ValueError(f"mu has d = {dd} columns but X has d = {d} features.")
    if sigma.shape != (k, dd, dd):
        raise ValueError(
            f"sigma must have shape (k, d, d) = ({k}, {dd}, {dd}), one covariance per "
            f"component; got shape {sigma.shape}."
        )
    scale = np.maximum(np.abs(sigma).max(axis=(1, 2)), np.finfo(np.float64).tiny)
    asym = np.abs(sigma - sigma.transpose(0, 2, 1)).max(axis=(1, 2)) / scale
    if np.any(asym > 1e-10):
        bad = np.flatnonzero(asym > 1e-10).tolist()
        raise NotPositiveDefiniteError(
            f"sigma of component(s) {bad} is not symmetric (relative asymmetry up to "
            f"{asym.max():.3g}); a covariance must equal its transpose."
        )
    _cholesky(sigma, "sigma")
    return phi, mu, sigma


def _precision_factors(
    sigma: np.ndarray, what: str, floor: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Return U_j = L_j^{-T} (so Sigma_j^{-1} = U_j U_j^T) and log det Sigma_j.

    ``floor > 0`` (in EM) also refuses a covariance whose smallest Cholesky pivot is
    below it: such a covariance is singular at the data's rounding level.
    """
    L = _cholesky(sigma, what)
    if floor > 0:
        pivots = np.min(np.diagonal(L, axis1=1, axis2=2) ** 2, axis=1)
        bad = np.flatnonzero(pivots <= floor).tolist()
        if bad:
            raise CollapsedComponentError(
                f"{what}: component(s) {bad} collapsed: their covariance is singular at "
                f"the rounding level of the data (smallest pivot {pivots.min():.3g} <= "
                f"{floor:.3g}), so the log-likelihood grows without bound instead of "
                "converging. Increase reg_covar, use fewer components, or remove "
                "duplicate points."
            )
    k = sigma.shape[0]
    U = np.empty_like(sigma)
    for j in range(k):  # k small triangular inversions (LAPACK trtri); no loop over examples
        Linv, info = dtrtri(L[j], lower=1)
        if info != 0:  # pragma: no cover - a Cholesky factor has a positive diagonal
            raise NotPositiveDefiniteError(f"{what}: Cholesky factor {j} is singular.")
        U[j] = Linv.T
    logdet = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(axis=1)
    return U, logdet


# ------------------------------------------------------------------------ E-step core
#
# Internally the data are stored feature-major, Xt = X.T of shape (d, n), and the
# per-example arrays as (k, n): every reduction over components or features then runs
# over whole contiguous rows of length n, which numpy vectorises well even when k or d
# is tiny (a reduction over a short last axis of length 5 is ~30 times slower).


_OVERFLOW = (
    "squared distances between X and the means overflow float64 (X, mu or 1/sigma is "
    "too large): rescale the data, e.g. standardise the columns."
)


def _log_joint(
    Xt: np.ndarray,
    log_phi: np.ndarray,
    mu: np.ndarray,
    U: np.ndarray,
    logdet: np.ndarray,
    out: np.ndarray | None = None,
    augmented: bool = False,
) -> np.ndarray:
    r"""``out[j, i] = log phi_j + log N(x_i; mu_j, Sigma_j)`` for all j, i; Xt is (d, n).

    Uses :math:`(x-\mu)^\top\Sigma^{-1}(x-\mu) = \lVert U^\top (x-\mu)\rVert^2` with
    :math:`U = L^{-\top}`: for a block of examples, one matrix product
    ``[U_1 ... U_k]^T @ Xt_b`` gives every component's whitened coordinates at once.
    With ``augmented=True``, ``Xt`` is ``(d + 1, n)`` with a last row of ones, and
    the product ``[U_j^T, -U_j^T mu_j]_j @ Xt_b`` subtracts the means too (one pass
    over the block fewer).
    """
    n = Xt.shape[1]
    k, d = mu.shape
    if out is None:
        out = np.empty((k, n))
    Ut = np.ascontiguousarray(U.transpose(0, 2, 1).reshape(k * d, d))  # rows: U_j^T
    b = np.einsum("jed,jd->je", U.transpose(0, 2, 1), mu).reshape(k * d, 1)  # U_j^T mu_j
    A = np.hstack([Ut, -b]) if augmented else Ut
    const = (log_phi - 0.5 * (d * _LOG_2PI + logdet))[:, None]
    cols = max(1, min(n, _BLOCK_BYTES // (8 * k * d)))
    buf = np.empty((k * d, cols))
    for start in range(0, n, cols):  # blocks of examples (cache-sized), not single ones
        stop = min(n, start + cols)
        Y = buf[:, : stop - start]
        np.matmul(A, Xt[:, start:stop], out=Y)
        if not augmented:
            Y -= b
        Y3 = Y.reshape(k, d, stop - start)
        maha = np.einsum("jdm,jdm->jm", Y3, Y3)  # squared norms in one pass
        if not np.isfinite(maha).all():
            raise ValueError(_OVERFLOW)
        maha *= -0.5
        maha += const
        out[:, start:stop] = maha
    return out


def _normalise(logp: np.ndarray) -> np.ndarray:
    """Turn log joint probabilities (k, n) into responsibilities, in place (log-sum-exp).

    Returns the per-example log-likelihoods ``log sum_j exp(logp[j, i])``
    (:eq:`gmm-logsumexp`), shape (n,).
    """
    top, sums = np.empty(logp.shape[1]), np.empty(logp.shape[1])
    _normalise_into(logp, top, sums)
    np.log(sums, out=sums)
    sums += top
    return sums


def _normalise_into(logp: np.ndarray, top: np.ndarray, sums: np.ndarray) -> None:
    """:func:`_normalise`, leaving each example's largest log joint probability in
    ``top`` and its sum of ``exp(logp - top)`` in ``sums``: the log-likelihood is
    ``log(sums) + top``."""
    np.maximum.reduce(logp, axis=0, out=top)
    logp -= top
    np.exp(logp, out=logp)
    logp /= np.add.reduce(logp, axis=0, out=sums)


def _e_step(Xt, phi, mu, sigma, out=None, what="sigma", floor=0.0):
    """E-step :eq:`gmm-e-step`: responsibilities (k, n) and per-example log-likelihoods."""
    U, logdet = _precision_factors(sigma, what, floor)
    with np.errstate(divide="ignore"):  # log 0 = -inf for an empty component is fine
        log_phi = np.log(phi)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported as an error
        logp = _log_joint(Xt, log_phi, mu, U, logdet, out=out)
    ll = _normalise(logp)
    return logp, ll


def _m_step(Xt: np.ndarray, w: np.ndarray, reg_covar: float, buf: np.ndarray | None = None):
    """M-step :eq:`gmm-m-phi`, :eq:`gmm-m-mu`, :eq:`gmm-m-sigma` from responsibilities (k, n).

    ``N_j`` gets ``10 eps`` added (as in scikit-learn) so that an empty component
    gives a finite mean instead of 0/0; ``reg_covar`` is added to every diagonal.
    """
    d, n = Xt.shape
    k = w.shape[0]
    Nk = np.add.reduce(w, axis=1) + 10.0 * np.finfo(np.float64).eps
    phi = Nk / Nk.sum()
    mu = (w @ Xt.T) / Nk[:, None]
    sigma = np.empty((k, d, d))
    if buf is None:
        buf = np.empty((d, n))
    sw = np.sqrt(w)
    for j in range(k):  # k components; each is one pass over the data and one syrk
        np.subtract(Xt, mu[j][:, None], out=buf)
        buf *= sw[j]
        S = buf @ buf.T  # a symmetric rank-n product (BLAS syrk): half a general gemm
        S /= Nk[j]
        S.flat[:: d + 1] += reg_covar
        sigma[j] = S
    return phi, mu, sigma


def _em_iteration(
    Xa: np.ndarray,
    phi: np.ndarray,
    mu: np.ndarray,
    sigma: np.ndarray,
    reg_covar: float,
    what: str,
    floor: float,
    work: dict,
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    r"""One EM iteration (E-step, then M-step) in a single pass over the data.

    ``Xa`` is the data centred by their mean, feature-major, shape ``(d, n)``.
    Returns the mean log-likelihood at the entering parameters
    (:eq:`gmm-log-likelihood`, from the E-step) and the M-step's ``(phi, mu,
    sigma)`` (:eq:`gmm-m-phi`, :eq:`gmm-m-mu`, :eq:`gmm-m-sigma`).

    Two kernels compute the E-step and the statistics of the M-step. For
    ``d <= _QUADRATIC_MAX_D``, both steps go through the *quadratic features* of an
    example: the products :math:`\varphi(x) = (\tilde x_a \tilde x_b)_{a \le b}` of
    the entries of :math:`\tilde x = (x, 1)`, :math:`P = (d+1)(d+2)/2` of them (they
    hold :math:`x_a x_b`, :math:`x` and 1). The log joint density is linear in them,
    :math:`\log \phi_j + \log \mathcal N(x; \mu_j, \Sigma_j) = c_j^\top \varphi(x)`
    with :math:`c_j` read off :math:`-\frac12 \tilde x^\top M_j \tilde x`, where
    :math:`M_j` holds :math:`\Lambda_j = \Sigma_j^{-1} = U_j U_j^\top`
    (:eq:`gmm-cholesky`), :math:`-\Lambda_j \mu_j` and the constant; so the
    E-step is one matrix product ``C @ Phi`` for all components; and every
    sufficient statistic of the M-step (:math:`N_j`, :math:`\sum_i w x`,
    :math:`\sum_i w x x^\top`: the blocks of :math:`\sum_i w \tilde x \tilde x^\top`)
    is a sum of :math:`w_j^{(i)} \varphi(x^{(i)})`, one product ``Phi @ w^T``.
    Using the symmetry of :math:`x x^\top` halves the arithmetic of both steps
    compared with whitening (``2 n k d^2``) and a rank update per component
    (``n k d^2``). ``Phi`` is built once per fit if it fits in
    ``_PHI_CACHE_BYTES``, else block by block in cache-sized pieces. For larger
    ``d``, building ``Phi`` (``d^2 / 2`` numbers per example) costs more memory
    traffic than it saves, and the E-step whitens the data (one product
    ``[U_j^T]_j @ X_b`` per block, as :func:`_log_joint`) and the M-step makes one
    symmetric rank update (syrk) per component and block of examples. The
    quadratic kernel is also skipped when its expansion of the quadratic form would
    round the log-densities by more than ``_QUADRATIC_ERROR`` (data far from their
    mean in units of a component's spread).

    The covariance is :math:`S_j = \sum_i w x x^\top / N_j - \mu_j \mu_j^\top`
    (exactly scikit-learn's :math:`\sum_i w (x - \mu_j)(x - \mu_j)^\top / N_j` with
    its ``N_j + 10 eps``). Centring the data by their mean limits the cancellation
    in this difference (and in the expanded quadratic form of the E-step); a
    component whose mean is still so far from the data's mean that :math:`S_j`
    would lose more than ~6 digits is recomputed by the two-pass formula.
    """
    d, n = Xa.shape
    U, logdet = _precision_factors(sigma, what, floor)
    with np.errstate(divide="ignore"):  # log 0 = -inf for an empty component is fine
        log_phi = np.log(phi)
    # The quadratic features expand (x - mu)^T Lam (x - mu): rounding of the order of
    # eps |x|^2 |Lam| in the log-densities. If that could exceed _QUADRATIC_ERROR
    # (data far from their mean in units of a component's spread), whiten instead.
    lam_norm = float(np.max(np.sum(U * U, axis=(1, 2))))  # >= |Lam_j|_2 for all j
    quadratic = "pairs" in work and _EPS * work["r2max"] * lam_norm <= _QUADRATIC_ERROR
    moments = _moments_quadratic if quadratic else _moments_whitened
    parts = work["parts"]  # one range of examples per core (mlnotes._parallel)
    total, N, s1, S2 = sum_parts(lambda i: moments(*parts[i], log_phi, mu, U, logdet),
                                 len(parts))
    if not math.isfinite(total):
        raise ValueError(
            f"the log-likelihood of X overflows float64 ({what}: means too far from the "
            "data in units of their covariances); start from other parameters or "
            "rescale X."
        )
    Nk = N + 10.0 * np.finfo(np.float64).eps
    # mu_j = sum_i w x / (N_j + 10 eps) in the data's own coordinates (x = the centred
    # x + centre), as scikit-learn's: an empty component's mean is the origin.
    mu_new = (s1 - (Nk - N)[:, None] * work["centre"]) / Nk[:, None]
    # S_j = sum_i w (x - mu_j)(x - mu_j)^T / Nk_j, expanded: exactly 0 when N_j = 0
    cross = mu_new[:, :, None] * s1[:, None, :]
    S = S2 - cross - cross.transpose(0, 2, 1)
    S += N[:, None, None] * mu_new[:, :, None] * mu_new[:, None, :]
    S /= Nk[:, None, None]
    diag = np.diagonal(S, axis1=1, axis2=2)
    lost = (N > 0) & (
        np.sum(mu_new**2, axis=1) > _CANCEL_RATIO * np.maximum(diag.min(axis=1), 0.0)
    )
    if lost.any():  # rare: recompute those components by the two-pass formula
        w, _ = _e_step(Xa, phi, mu, sigma, what=what, floor=floor)
        for j in np.flatnonzero(lost):
            diff = Xa - mu_new[j][:, None]
            S[j] = (diff * w[j]) @ diff.T / Nk[j]
    S[:, range(d), range(d)] += reg_covar
    return total / n, Nk / Nk.sum(), mu_new, S


def _moments_quadratic(Xa, work, log_phi, mu, U, logdet):
    """E-step and M-step statistics through the quadratic features (d <= _QUADRATIC_MAX_D)."""
    d = Xa.shape[0]
    k = mu.shape[0]
    Lam = U @ U.transpose(0, 2, 1)  # precision matrices
    Lmu = np.einsum("jab,jb->ja", Lam, mu)
    # log phi_j + log N(x; mu_j, Sigma_j) = -1/2 x~^T M_j x~ with x~ = (x, 1) and
    # M_j = [[Lam_j, -Lam_j mu_j], [-(Lam_j mu_j)^T, mu_j^T Lam_j mu_j - 2 c_j]]
    M = np.empty((k, d + 1, d + 1))
    M[:, :d, :d] = Lam
    M[:, :d, d] = M[:, d, :d] = -Lmu
    M[:, d, d] = np.einsum("ja,ja->j", mu, Lmu) + d * _LOG_2PI + logdet - 2.0 * log_phi
    ia, ib = work["pairs"]
    C = -0.5 * np.where(ia == ib, 1.0, 2.0) * M[:, ia, ib]  # logp = C @ Phi
    moments = np.zeros((k, ia.size))  # sum_i w_j x~_a x~_b for each pair (a, b)
    finite = np.isfinite(log_phi)
    # No partial sum of C @ Phi can overflow if sum_r |C_jr| max_i |Phi_ri| is below
    # _SAFE_SUM (for the components with phi_j > 0); only otherwise is every block of
    # log-densities checked for overflow.
    check = not np.all(np.abs(C[finite]) @ work["phi_max"] < _SAFE_SUM)
    top, sums = work["top"], work["sums"]  # per example: largest log joint, sum of exp
    for start, Phi in _quadratic_blocks(work):
        logp = C @ Phi
        if check and not np.isfinite(logp[finite]).all():
            raise ValueError(_OVERFLOW)
        stop = start + logp.shape[1]
        _normalise_into(logp, top[start:stop], sums[start:stop])  # responsibilities
        moments += logp @ Phi.T
    with np.errstate(over="ignore"):  # an overflowing sum is reported by _em_iteration
        total = float(np.add.reduce(np.log(sums))) + float(np.add.reduce(top))
    St = np.empty((k, d + 1, d + 1))  # sum_i w_j x~ x~^T
    St[:, ia, ib] = moments
    St[:, ib, ia] = moments
    return total, St[:, d, d].copy(), St[:, :d, d].copy(), St[:, :d, :d].copy()


def _moments_whitened(Xa, work, log_phi, mu, U, logdet):
    """E-step by whitening (one product per block), M-step by k rank updates per block
    (larger d)."""
    d, n = Xa.shape
    k = mu.shape[0]
    cols = max(1, min(n, _BLOCK_BYTES // (8 * d)))  # examples per block of the M-step
    if "logp" not in work:  # (the small-d path falls back to this one)
        work.update(logp=np.empty((k, n)), wbuf=np.empty((d, cols)))
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported as an error
        if "Xaug" in work:  # [X; 1]: the product subtracts the means too
            w = _log_joint(work["Xaug"], log_phi, mu, U, logdet, work["logp"], True)
        else:
            w = _log_joint(Xa, log_phi, mu, U, logdet, out=work["logp"])
    with np.errstate(over="ignore"):  # an overflowing sum is reported by _em_iteration
        total = float(np.add.reduce(_normalise(w)))
    N = np.add.reduce(w, axis=1)
    s1 = w @ Xa.T
    S2 = np.zeros((k, d, d))
    np.sqrt(w, out=w)
    # sum_i w_j x x^T, block by block of examples, so that a block of X stays in the
    # caches for the k components (one scaling and one syrk each: a symmetric
    # product, half a general one); whole, the scaled copies are memory traffic.
    for start in range(0, n, cols):
        stop = min(n, start + cols)
        block, buf = Xa[:, start:stop], work["wbuf"][:, : stop - start]
        for j in range(k):
            np.multiply(block, w[j, start:stop], out=buf)
            S2[j] += buf @ buf.T
    return total, N, s1, S2


def _quadratic_blocks(work: dict):
    """Yield ``(start, Phi)``: the quadratic features (P, m) of the block of examples
    from column ``start`` of the part on."""
    P = work["pairs"][0].size
    if "Phi" in work:  # built once per fit
        yield 0, work["Phi"][:P]
        return
    buf = work["buf"]
    start = 0
    for block in work["blocks"]:
        m = block.shape[1]
        Phi = buf.reshape(-1)[: buf.shape[0] * m].reshape(-1, m)  # contiguous, also if m < cols
        _fill_quadratic(block, Phi)
        yield start, Phi[:P]
        start += m


def _quadratic_pairs(d: int) -> tuple[np.ndarray, np.ndarray]:
    """The pairs ``(a, b)`` of the rows of :func:`_fill_quadratic`, for x~ of length d + 1.

    Row ``s (d+1) + a`` is ``x~_a x~_{(a+s) mod (d+1)}``, for the shifts
    ``s = 0 .. (d+1) // 2``: each unordered pair once among the first
    ``P = (d+1)(d+2)/2`` rows (for even d + 1, the last shift's second half repeats
    its first, and those rows are left out).
    """
    dp = d + 1
    shifts = dp // 2 + 1
    a = np.tile(np.arange(dp), shifts)
    b = (a + np.repeat(np.arange(shifts), dp)) % dp
    P = dp * (dp + 1) // 2
    return a[:P], b[:P]


def _fill_quadratic(block: np.ndarray, out: np.ndarray) -> None:
    """Products of the rows of x~ = (x, 1), given ``block = [x~; x~]`` (2 (d+1), m).

    ``out`` (((d+1) // 2 + 1) (d+1), m) gets one product of two (d+1)-row slices of
    the block per shift (row order of :func:`_quadratic_pairs`): a few large,
    contiguous multiplications instead of one per pair.
    """
    dp = block.shape[0] // 2
    rows = out.reshape(dp // 2 + 1, dp, block.shape[1])
    for s in range(rows.shape[0]):
        np.multiply(block[:dp], block[s : s + dp], out=rows[s])


# Above this ratio of |mu_j|^2 to the smallest variance of S_j, the one-pass formula
# sum w x x^T / N - mu mu^T would lose more than ~6 of the 16 digits of S_j.
_CANCEL_RATIO = 1e6
# The quadratic features of all the data are kept if they take at most this many
# bytes; otherwise they are rebuilt in blocks of _PHI_BLOCK_BYTES in each iteration.
_PHI_CACHE_BYTES = 1 << 23
_PHI_BLOCK_BYTES = 1 << 20
_QUADRATIC_MAX_D = 20  # measured crossover: ~22 (n = 1e5, k = 5, one thread)
_QUADRATIC_ERROR = 1e-10
_SAFE_SUM = 1e300  # a sum of terms whose magnitudes add up to less cannot overflow
_MIN_PART = 8192  # examples: below, a part's overhead outweighs a second core
_EPS = float(np.finfo(np.float64).eps)


def _em_work(Xa: np.ndarray, k: int, centre: np.ndarray) -> dict:
    """Work arrays of :func:`_em_iteration`, allocated once per fit, and ``centre``
    (the data's mean, which ``Xa`` has been centred by).

    The examples are split into contiguous ranges (:mod:`mlnotes._parallel`), each
    with its own copy of its data and its own work arrays; ``work["parts"]`` lists
    the ``(Xa_part, part_work)`` pairs. Up to ``d = _QUADRATIC_MAX_D`` the quadratic
    features are cheaper (half the arithmetic); above, building them (``d^2 / 2``
    numbers per example) costs more memory traffic than the whitening saves. The
    quadratic features are kept if they fit in ``_PHI_CACHE_BYTES`` (one range per
    core); otherwise each part keeps ``[x~; x~]`` in blocks of cache size, from which
    :func:`_fill_quadratic` rebuilds them in every iteration, as one range.
    """
    d, n = Xa.shape
    spans = ranges(n, n_parts(n, _MIN_PART))
    if d > _QUADRATIC_MAX_D:  # each part's data with a row of ones below: [X; 1]
        parts = []
        for lo, hi in spans:
            Xaug = np.empty((d + 1, hi - lo))
            Xaug[:d] = Xa[:, lo:hi]
            Xaug[d] = 1.0
            parts.append((Xaug[:d], {"Xaug": Xaug}))  # logp, wbuf: on first use
        return {"parts": parts, "centre": centre}
    r2max = float(np.max(np.add.reduce(Xa * Xa, axis=0)))
    pairs = _quadratic_pairs(d)
    x_max = np.append(np.max(np.abs(Xa), axis=1), 1.0)  # max_i |x~_a|
    phi_max = x_max[pairs[0]] * x_max[pairs[1]]  # >= max_i |Phi_ri|
    dp = d + 1
    rows = (dp // 2 + 1) * dp  # rows filled by _fill_quadratic
    cached = 8 * rows * n <= _PHI_CACHE_BYTES  # else: Phi rebuilt block by block
    if not cached:
        # Blocks of cache size make numpy calls of ~10 us; two Python threads would
        # hand the GIL to each other at every call, which costs as much as the work
        # (measured: slower than one thread). One part; BLAS may use the cores.
        spans = [(0, n)]
    parts = []
    for lo, hi in spans:
        m = hi - lo
        cols = m if cached else max(64, min(m, _PHI_BLOCK_BYTES // (8 * rows)))
        blocks = []  # [x~; x~] with x~ = (x, 1), block by block (contiguous)
        for start in range(lo, hi, cols):
            block = np.empty((2 * dp, min(hi, start + cols) - start))
            block[:d] = Xa[:, start : start + block.shape[1]]
            block[d] = 1.0
            block[dp:] = block[:dp]
            blocks.append(block)
        part = {"pairs": pairs, "phi_max": phi_max, "top": np.empty(m), "sums": np.empty(m)}
        if cached:
            part["Phi"] = np.empty((rows, m))
            _fill_quadratic(blocks[0], part["Phi"])
        else:
            part.update(blocks=blocks, buf=np.empty((rows, cols)))
        parts.append((Xa[:, lo:hi], part))  # (the data: for the whitening fallback)
    return {"parts": parts, "pairs": pairs, "r2max": r2max, "centre": centre}


# ------------------------------------------------------------------------ public API


def log_density(X: np.ndarray, phi: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    r"""Log-density :math:`\log p(x^{(i)}) = \log \sum_j \phi_j \mathcal N(x^{(i)}; \mu_j, \Sigma_j)`.

    One value per row of ``X`` (:eq:`gmm-density`, computed with the log-sum-exp of
    :eq:`gmm-logsumexp`). Use it to score new points: a point whose log-density is
    below, say, the 1% quantile of the training points' is out of distribution.

    Parameters
    ----------
    X : ndarray of shape (n, d)
    phi, mu, sigma : ndarrays of shapes (k,), (k, d), (k, d, d)
        The mixture.

    Returns
    -------
    ndarray of shape (n,)

    Raises
    ------
    ValueError
        Bad shapes, non-finite values, ``phi`` not a probability vector.
    NotPositiveDefiniteError
        A covariance that is not symmetric positive definite.
    """
    X = _check_X(X)
    phi, mu, sigma = _check_params(phi, mu, sigma, d=X.shape[1])
    _, ll = _e_step(np.ascontiguousarray(X.T), phi, mu, sigma)
    return ll


def _mean(values: np.ndarray) -> float:
    """The mean of finite values: their sum may overflow float64, their mean cannot."""
    with np.errstate(over="ignore"):
        mean = float(np.mean(values))
    return mean if math.isfinite(mean) else float(np.add.reduce(values / values.size))


def log_likelihood(X: np.ndarray, phi: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> float:
    r"""Mean per-example log-likelihood :math:`\ell(\phi, \mu, \Sigma) / n`.

    Implements :eq:`gmm-log-likelihood` divided by ``n`` (the convention of
    scikit-learn's ``score``). Same arguments and errors as :func:`log_density`.
    """
    return _mean(log_density(X, phi, mu, sigma))


def responsibilities(
    X: np.ndarray, phi: np.ndarray, mu: np.ndarray, sigma: np.ndarray
) -> np.ndarray:
    r"""E-step :eq:`gmm-e-step`: :math:`w_j^{(i)} = p(z^{(i)} = j \mid x^{(i)})`.

    Returns an array of shape (n, k) whose rows sum to 1. Same arguments and errors
    as :func:`log_density`.
    """
    X = _check_X(X)
    phi, mu, sigma = _check_params(phi, mu, sigma, d=X.shape[1])
    w, _ = _e_step(np.ascontiguousarray(X.T), phi, mu, sigma)
    return np.ascontiguousarray(w.T)


def predict(X: np.ndarray, phi: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Most probable component of each row, ``argmax_j`` of :func:`responsibilities`.

    The hard assignment read off the E-step responsibilities :eq:`gmm-e-step`.

    Returns integer labels in ``0 .. k-1``, shape (n,).
    """
    return np.argmax(responsibilities(X, phi, mu, sigma), axis=1)


def sample(
    phi: np.ndarray, mu: np.ndarray, sigma: np.ndarray, n: int, seed=None
) -> tuple[np.ndarray, np.ndarray]:
    r"""Draw ``n`` examples from the mixture :eq:`gmm-model`.

    First :math:`z \sim \mathrm{Multinomial}(\phi)`, then
    :math:`x = \mu_z + L_z \varepsilon` with :math:`\varepsilon \sim \mathcal N(0, I)`
    and :math:`\Sigma_z = L_z L_z^\top`, so :math:`x \mid z \sim \mathcal N(\mu_z, \Sigma_z)`.

    Returns
    -------
    X : ndarray of shape (n, d)
    z : ndarray of shape (n,)
        The component (0-based) each row was drawn from.
    """
    phi, mu, sigma = _check_params(phi, mu, sigma)
    n = positive_int(n, "n (the number of samples)", minimum=0, maximum=10**9)
    rng = as_rng(seed)
    L = _cholesky(sigma, "sigma")
    k, d = mu.shape
    z = rng.choice(k, size=int(n), p=phi / phi.sum())
    eps = rng.standard_normal((int(n), d))
    X = np.empty((int(n), d))
    for j in range(k):  # k groups of rows; no loop over examples
        rows = z == j
        X[rows] = mu[j] + eps[rows] @ L[j].T
    return X, z


def n_parameters(k: int, d: int) -> int:
    """Free parameters of a full-covariance mixture: (k-1) + k d + k d (d+1) / 2.

    The count ``p`` in the BIC :eq:`gmm-bic`: ``k - 1`` mixing weights (they sum to
    1), ``k`` means and ``k`` symmetric covariances. ``k`` and ``d`` are positive
    integers.
    """
    k, d = positive_int(k, "k"), positive_int(d, "d")
    return (k - 1) + k * d + k * d * (d + 1) // 2


def bic(X: np.ndarray, phi: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> float:
    r"""Bayesian information criterion :eq:`gmm-bic`, :math:`-2\ell + p \log n` (lower is better).

    :math:`\ell` is the total log-likelihood and :math:`p` is :func:`n_parameters`;
    the same definition as scikit-learn's ``GaussianMixture.bic``.
    """
    X = _check_X(X)
    phi, mu, sigma = _check_params(phi, mu, sigma, d=X.shape[1])
    n, d = X.shape
    _, ll = _e_step(np.ascontiguousarray(X.T), phi, mu, sigma)
    with np.errstate(over="ignore"):  # reported just below
        value = float(-2.0 * ll.sum() + n_parameters(phi.shape[0], d) * np.log(n))
    return finite_result(value, "the BIC", "X is too far from the mixture: rescale X.")


def _kmeans_pp_centres(X: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of k rows chosen by k-means++ seeding (Arthur and Vassilvitskii, 2007)."""
    n = X.shape[0]
    idx = [int(rng.integers(n))]
    d2 = np.sum((X - X[idx[0]]) ** 2, axis=1)
    for _ in range(1, k):  # k seeding rounds, each vectorised over the n examples
        total = d2.sum()
        if total > 0:
            nxt = int(rng.choice(n, p=d2 / total))
        else:  # all remaining points coincide with a centre: pick any unused row
            nxt = int(rng.choice(np.setdiff1d(np.arange(n), idx)))
        idx.append(nxt)
        d2 = np.minimum(d2, np.sum((X - X[nxt]) ** 2, axis=1))
    return np.array(idx)


def init_mixture(
    X: np.ndarray,
    k: int,
    method: str = "kmeans++",
    *,
    reg_covar: float = 1e-6,
    seed: int | np.random.Generator | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Starting parameters ``(phi, mu, sigma)`` for EM, by one of three methods.

    The initialisations of chapter 5, :ref:`gmm-section-init`; the two that end with
    an M-step use :eq:`gmm-m-phi`, :eq:`gmm-m-mu` and :eq:`gmm-m-sigma`.

    - ``"kmeans++"``: k-means++ seeding picks k rows as centres, each example is
      assigned to its nearest centre, and one M-step on these hard assignments gives
      the parameters.
    - ``"points"``: ``mu`` is k distinct random rows, every ``sigma_j`` is the
      covariance of all the data (plus ``reg_covar``), ``phi`` is uniform.
    - ``"responsibilities"``: random responsibilities (uniform, normalised per row)
      followed by one M-step; all means start near the data mean.
    """
    X = _check_X(X)
    k = _check_k(k, X.shape[0])
    reg_covar = real_number(reg_covar, "reg_covar", low=0.0)
    if not (isinstance(method, str) and method in _INIT_METHODS):
        raise ValueError(f"init method must be one of {_INIT_METHODS}; got {method!r}.")
    return _init_mixture(X, k, method, reg_covar, as_rng(seed))


def _init_mixture(X, k, method, reg_covar, rng):
    """The initialisations of :func:`init_mixture` on checked arguments."""
    n, d = X.shape
    Xt = np.ascontiguousarray(X.T)
    if method == "kmeans++":
        centres = X[_kmeans_pp_centres(X, k, rng)]
        d2 = (
            np.sum(X**2, axis=1)[None, :] - 2.0 * centres @ Xt + np.sum(centres**2, axis=1)[:, None]
        )
        w = np.zeros((k, n))
        w[np.argmin(d2, axis=0), np.arange(n)] = 1.0
        return _m_step(Xt, w, reg_covar)
    if method == "points":
        mu = X[rng.choice(n, size=k, replace=False)].copy()
        cov = np.atleast_2d(np.cov(Xt, bias=True)) + reg_covar * np.eye(d)
        return np.full(k, 1.0 / k), mu, np.repeat(cov[None], k, axis=0)
    w = rng.uniform(size=(k, n))  # "responsibilities"
    w /= w.sum(axis=0)
    return _m_step(Xt, w, reg_covar)


def _check_k(k, n: int) -> int:
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"k must be an int (the number of components); got {k!r}.")
    if k < 1 or k > n:
        raise ValueError(
            f"k must satisfy 1 <= k <= n = {n} (each component needs at least one "
            f"example); got k = {k}."
        )
    return int(k)


def fit_gmm(
    X: np.ndarray,
    k: int,
    *,
    init: tuple[np.ndarray, np.ndarray, np.ndarray] | str | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    reg_covar: float = 1e-6,
    n_init: int = 1,
    seed=None,
) -> GMMResult:
    """Fit a k-component full-covariance Gaussian mixture by EM (:prf:ref:`gmm-alg-em`).

    Each iteration is an E-step (:eq:`gmm-e-step`) with the current parameters, which
    also yields their mean log-likelihood, followed by an M-step (:eq:`gmm-m-phi`,
    :eq:`gmm-m-mu`, :eq:`gmm-m-sigma`) with ``reg_covar`` added to every covariance's
    diagonal. This is the order and the arithmetic of scikit-learn's
    ``GaussianMixture(covariance_type="full")``; started from the same parameters the
    two agree to rounding error.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Data, one example per row; finite.
    k : int
        Number of components, ``1 <= k <= n``.
    init : tuple (phi, mu, sigma), str or None, default None
        Starting parameters. A tuple is used exactly (the first E-step uses it, as
        scikit-learn's ``weights_init``/``means_init``/``precisions_init``); a string
        names a method of :func:`init_mixture` (``"kmeans++"``, ``"points"``,
        ``"responsibilities"``); None means ``"kmeans++"``.
    max_iter : int, default 100
        Maximum number of EM iterations (0 returns the starting parameters).
    tol : float, default 1e-6
        Stop when the mean log-likelihood changes by less than ``tol`` between two
        iterations; ``tol=0`` runs exactly ``max_iter`` iterations.
    reg_covar : float, default 1e-6
        Ridge added to the diagonal of each covariance in each M-step.
    n_init : int, default 1
        Number of random restarts (needs a random ``init``); the result with the
        highest final log-likelihood is returned.
    seed : None, int or numpy Generator
        Seeds the random initialisations.

    Returns
    -------
    GMMResult

    Raises
    ------
    ValueError
        Bad ``X`` (not 2-D, not finite), ``k`` outside ``1..n``, ``init`` of the
        wrong shapes or ``phi`` not summing to 1, bad ``max_iter``/``tol``/
        ``reg_covar``/``n_init``.
    NotPositiveDefiniteError
        A covariance in ``init`` is not positive definite, or an M-step produced one
        (a collapsed component; increase ``reg_covar``).
    CollapsedComponentError
        A covariance became singular at the data's rounding level (a subclass of
        :class:`NotPositiveDefiniteError`), also with ``reg_covar=0``.
    """
    X = _check_X(X)
    n, d = X.shape
    k = _check_k(k, n)
    if n <= d:
        raise ValueError(
            f"X has n = {n} examples of d = {d} features: a full covariance needs at "
            f"least d + 1 = {d + 1} examples (with fewer, the likelihood has no maximum). "
            "Use more data or fewer features."
        )
    max_iter = positive_int(max_iter, "max_iter", minimum=0, maximum=10**7)
    tol = real_number(tol, "tol", low=0.0)
    reg_covar = real_number(reg_covar, "reg_covar", low=0.0)
    n_init = positive_int(n_init, "n_init", maximum=10**4)
    if init is None:
        init = "kmeans++"
    if isinstance(init, str):
        if init not in _INIT_METHODS:
            raise ValueError(
                f"init must be a (phi, mu, sigma) tuple or one of {_INIT_METHODS}; got {init!r}."
            )
    else:
        if not (isinstance(init, (tuple, list)) and len(init) == 3):
            raise ValueError(
                "init must be a (phi, mu, sigma) tuple of shapes (k,), (k, d), (k, d, d), "
                f"or one of {_INIT_METHODS}; got {type(init).__name__}."
            )
        if n_init != 1:
            raise ValueError(
                f"n_init = {n_init} restarts need a random init; with explicit (phi, mu, "
                "sigma) every restart would be identical. Use n_init=1."
            )
        phi0, mu0, sigma0 = _check_params(*init, d=d)
        if phi0.shape[0] != k:
            raise ValueError(f"init has {phi0.shape[0]} components but k = {k}.")
    rng = as_rng(seed)
    Xt = np.ascontiguousarray(X.T)
    centre = Xt.mean(axis=1)
    Xa = Xt - centre[:, None]  # centred data, feature-major
    work = _em_work(Xa, k, centre)
    # Rounding in a covariance computed from X: about eps * Var(x) from the products,
    # and (eps |x|)^2 from the rounded mean. An eigenvalue below d times that is
    # indistinguishable from zero: the component has collapsed.
    eps = np.finfo(np.float64).eps
    spread = float(np.max(Xt.var(axis=1)))
    offset = float(np.max(np.abs(Xt)))
    floor = d * (eps * spread + (eps * offset) ** 2)
    logp = np.empty((k, n))
    best: GMMResult | None = None
    for _ in range(n_init):
        if isinstance(init, str):
            phi, mu, sigma = _init_mixture(X, k, init, reg_covar, rng)
        else:
            phi, mu, sigma = phi0, mu0, sigma0
        history = []
        converged = False
        prev = -np.inf
        mu_start = mu
        mu = mu - centre  # the fit runs on the centred data
        for it in range(1, max_iter + 1):
            what = f"sigma after iteration {it - 1}"
            ll_mean, phi, mu, sigma = _em_iteration(
                Xa, phi, mu, sigma, reg_covar, what, floor, work
            )
            history.append(ll_mean)
            if abs(ll_mean - prev) < tol:
                converged = True
                break
            prev = ll_mean
        what = f"sigma after iteration {len(history)}"
        _, ll = _e_step(Xa, phi, mu, sigma, out=logp, what=what, floor=floor)
        result = GMMResult(
            phi=phi,
            mu=mu + centre if history else mu_start,
            sigma=sigma,
            log_likelihoods=np.array(history),
            log_likelihood=_mean(ll),
            n_iter=len(history),
            converged=converged,
        )
        if best is None or result.log_likelihood > best.log_likelihood:
            best = result
    assert best is not None
    return best


# -------------------------------------------------------------------------- k-means


@dataclass(frozen=True)
class KMeansResult:
    """The result of :func:`kmeans` (Lloyd's algorithm), with the fitters' field names.

    Attributes
    ----------
    centres : ndarray of shape (k, d)
        Cluster centres, one per row.
    labels : ndarray of shape (n,)
        Index (``0 .. k-1``) of the nearest centre of each row of ``X``, for the
        returned ``centres``.
    inertias : ndarray of shape (n_iter,)
        The k-means objective :eq:`gmm-kmeans-objective` (sum of squared distances of
        the points to their assigned centres) in the assignment step of each
        iteration, i.e. at the centres *entering* that iteration. Never increases.
    inertia : float
        The objective at the returned ``centres`` and ``labels`` (at most
        ``inertias[-1]``); scikit-learn's ``inertia_``.
    n_iter : int
        Number of iterations (assignment step + update step) run.
    converged : bool
        Whether the labels stopped changing, or the centres moved by less than the
        tolerance, before ``max_iter`` was reached.
    """

    centres: np.ndarray
    labels: np.ndarray
    inertias: np.ndarray
    inertia: float
    n_iter: int
    converged: bool

    @property
    def params(self) -> np.ndarray:
        """``centres``: the name every fitter's result uses for its parameters."""
        return self.centres

    @property
    def history(self) -> np.ndarray:
        """The objective from the start to the end: ``inertias`` then ``inertia``."""
        return np.append(self.inertias, self.inertia)


# Rows of X per block in the assignment step: the (rows, k, d) differences stay small.
_KMEANS_BLOCK_BYTES = 1 << 20


def _assign(X: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Nearest centre of each row and its squared distance :eq:`gmm-kmeans-assign`.

    Squared distances are summed from the exact differences :math:`x - c` (in blocks
    of rows), not expanded as :math:`\lVert x\rVert^2 - 2x^\top c + \lVert c\rVert^2`:
    the expansion loses the digits that the two large terms share (all of them for
    a point close to a centre far from the origin, even giving a negative
    "squared distance"), while each difference is exact to rounding. Costs
    ``n k d`` subtractions instead of a matrix product; ties go to the lowest index.
    """
    n, d = X.shape
    k = centres.shape[0]
    labels = np.empty(n, dtype=np.intp)
    dist = np.empty(n)
    rows = max(1, _KMEANS_BLOCK_BYTES // (8 * k * d))
    diff = np.empty((min(rows, n), k, d))
    for start in range(0, n, rows):  # blocks of rows, each vectorised
        stop = min(n, start + rows)
        D = diff[: stop - start]
        np.subtract(X[start:stop, None, :], centres[None, :, :], out=D)
        D *= D
        sq = np.add.reduce(D, axis=2)
        lab = np.argmin(sq, axis=1)
        labels[start:stop] = lab
        dist[start:stop] = sq[np.arange(stop - start), lab]
    return labels, dist


def _update_centres(
    X: np.ndarray, labels: np.ndarray, dist: np.ndarray, old: np.ndarray
) -> np.ndarray:
    """Update step :eq:`gmm-kmeans-update`: each centre becomes its cluster's mean.

    Empty clusters (the rule of scikit-learn's Lloyd iteration): the m points with
    the largest squared distance ``dist`` to their assigned centre are chosen as
    scikit-learn chooses them (``argpartition``, which also settles ties), and the
    i-th empty cluster (in index order) gets the i-th of them as its centre; that
    point is taken out of its old cluster's mean (its label is unchanged until the
    next assignment step).
    """
    k, d = old.shape
    counts = np.bincount(labels, minlength=k).astype(np.float64)
    sums = np.zeros((k, d))
    _sum_by_label(X, labels, sums)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        m = empty.size  # scikit-learn's selection (numpy's argpartition), ties included
        far = np.argpartition(dist, -m)[: -m - 1 : -1]
        for j, i in zip(empty, far, strict=False):  # a few empty clusters
            sums[labels[i]] -= X[i]
            counts[labels[i]] -= 1.0
            sums[j] = X[i]
            counts[j] = 1.0
    out = old.copy()
    nonempty = counts > 0
    out[nonempty] = sums[nonempty] / counts[nonempty, None]
    return out


def _sum_by_label(X: np.ndarray, labels: np.ndarray, out: np.ndarray) -> None:
    """``out[j] = sum of the rows of X labelled j`` (sorted reduceat, no loop over rows)."""
    order = np.argsort(labels, kind="stable")
    lab = labels[order]
    starts = np.flatnonzero(np.r_[True, lab[1:] != lab[:-1]])
    out[lab[starts]] = np.add.reduceat(X[order], starts, axis=0)


def _kmeans(X, centres, max_iter, tol):
    """Lloyd's algorithm on checked, mean-centred X from checked centres."""
    shift_tol = float(np.mean(np.var(X, axis=0))) * tol  # scikit-learn's scaling
    inertias = []
    converged = False
    labels_old = None
    for _ in range(max_iter):
        labels, dist = _assign(X, centres)
        inertias.append(float(dist.sum()))
        new = _update_centres(X, labels, dist, centres)
        shift = float(np.sum((new - centres) ** 2))
        centres = new
        if labels_old is not None and np.array_equal(labels, labels_old):
            converged = True
            break
        if shift <= shift_tol:
            converged = True
            break
        labels_old = labels
    labels, dist = _assign(X, centres)
    return centres, labels, np.array(inertias), float(dist.sum()), converged


def kmeans(
    X: np.ndarray,
    k: int,
    *,
    init: str | np.ndarray = "k-means++",
    max_iter: int = 300,
    tol: float = 1e-4,
    seed: int | np.random.Generator | None = None,
) -> KMeansResult:
    r"""k-means clustering by Lloyd's algorithm (:eq:`gmm-kmeans-assign`, :eq:`gmm-kmeans-update`).

    Chapter 5, :ref:`gmm-section-kmeans`: k-means is the limit of EM for a mixture
    with equal weights and shared covariances :math:`\sigma^2 I` as
    :math:`\sigma \to 0`. Each iteration assigns every row to its nearest centre
    (:eq:`gmm-kmeans-assign`, exact squared differences, see below) and moves every
    centre to the mean of its rows (:eq:`gmm-kmeans-update`); neither step increases
    the objective :eq:`gmm-kmeans-objective`, the sum of squared distances.
    Started from the same centres, this is scikit-learn's
    ``KMeans(init=centres, n_init=1, algorithm="lloyd", tol=tol)``, to rounding.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Data, one example per row; finite, real.
    k : int
        Number of clusters, ``1 <= k <= n``.
    init : "k-means++" or ndarray of shape (k, d), default "k-means++"
        Starting centres: k-means++ seeding (rows of ``X`` drawn with probability
        proportional to the squared distance to the nearest centre already
        chosen), or the given centres, used as they are.
    max_iter : int, default 300
        Maximum number of iterations; 0 returns the starting centres.
    tol : float, default 1e-4
        Stop when the labels no longer change, or when the centres moved, in sum of
        squared distances, by at most ``tol`` times the mean variance of the
        columns of ``X`` (scikit-learn's rule and default). ``tol=0`` stops only
        when the labels no longer change.
    seed : None, int or numpy Generator
        Seeds the k-means++ seeding.

    Returns
    -------
    KMeansResult

    Notes
    -----
    Distances are computed from the differences :math:`x - c` of the data centred
    once by their mean (in blocks of rows), not by expanding
    :math:`\lVert x \rVert^2 - 2 x^\top c + \lVert c \rVert^2`: slower (``n k d``
    operations instead of one matrix product) but with no cancellation, so the
    labels are the true nearest centres up to the rounding of one subtraction.
    Ties go to the lowest centre index. Empty clusters: a cluster left with no
    points gets as centre the point farthest from its own centre (the m-th empty
    cluster the m-th farthest point), which leaves its old cluster's mean.

    Raises
    ------
    ValueError
        ``X`` not a finite real 2-D array, ``k`` outside ``1..n``, ``init`` neither
        ``"k-means++"`` nor a finite ``(k, d)`` array, bad ``max_iter``, ``tol`` or
        ``seed``; the message names the argument.
    """
    X = _check_X(X)
    n, d = X.shape
    k = _check_k(k, n)
    max_iter = positive_int(max_iter, "max_iter", minimum=0, maximum=10**7)
    tol = real_number(tol, "tol", low=0.0)
    rng = as_rng(seed)
    if isinstance(init, str):
        if init not in ("k-means++", "kmeans++"):
            raise ValueError(
                f'init must be "k-means++" or an array of k starting centres of shape '
                f"(k, d) = ({k}, {d}); got {init!r}."
            )
        centres = X[_kmeans_pp_centres(X, k, rng)]
    else:
        centres = as_float_array(init, "init", copy=True)
        if centres.shape != (k, d):
            raise ValueError(
                f"init must have shape (k, d) = ({k}, {d}), one starting centre per "
                f"row; got shape {centres.shape}."
            )
        if float(np.max(np.abs(centres))) > _MAX_ABS:
            raise ValueError(
                "init has entries too large for their squared distances to X to be "
                "finite in float64: rescale the data and the centres."
            )
    mean = X.mean(axis=0)  # centring once limits rounding in the differences
    with np.errstate(over="ignore", invalid="ignore"):  # overflow: reported below
        fitted, labels, inertias, inertia, converged = _kmeans(
            X - mean, centres - mean, max_iter, tol
        )
    if max_iter > 0:  # (with no iteration, the start exactly as given)
        centres = fitted + mean
        inertia = finite_result(inertia, "the inertia", "rescale X and init.")
    return KMeansResult(
        centres=centres,
        labels=labels,
        inertias=inertias,
        inertia=inertia,
        n_iter=len(inertias),
        converged=converged,
    )
