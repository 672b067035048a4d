"""Tests of mlnotes.gmm against scikit-learn, scipy and the EM theorem."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

import mlnotes.gmm as gmm_module
from mlnotes.datasets import load_faithful
from mlnotes.gmm import (
    CollapsedComponentError,
    GMMResult,
    KMeansResult,
    NotPositiveDefiniteError,
    bic,
    fit_gmm,
    init_mixture,
    kmeans,
    log_density,
    log_likelihood,
    n_parameters,
    predict,
    responsibilities,
    sample,
)
from references import sklearn_fit


def _random_mixture(rng, k, d, spread=4.0):
    phi = rng.dirichlet(np.full(k, 2.0))
    mu = spread * rng.normal(size=(k, d))
    A = rng.normal(size=(k, d, d))
    sigma = A @ A.transpose(0, 2, 1) / d + 0.3 * np.eye(d)
    return phi, mu, sigma


def _blobs(seed, n, d, k):
    rng = np.random.default_rng(seed)
    X, _ = sample(*_random_mixture(rng, k, d), n, seed=rng)
    return X


def _start(X, k, seed):
    """A generic start: k random rows as means, the data covariance, uniform weights."""
    return init_mixture(X, k, "points", seed=seed)


def _sklearn_from(X, init, max_iter, reg_covar=1e-6):
    """scikit-learn's EM from the same start (the adapter the benchmark uses too)."""
    return sklearn_fit(X, init, max_iter=max_iter, tol=0.0, reg_covar=reg_covar)


def _rel(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


# ------------------------------------------------------------- agreement with sklearn

CASES = [
    ("faithful", None, None, 2),
    ("faithful", None, None, 3),
    ("blobs", 500, 1, 3),
    ("blobs", 400, 3, 4),
    ("blobs", 1000, 8, 5),
    ("blobs", 2000, 20, 3),
]


@pytest.mark.parametrize(("name", "n", "d", "k"), CASES)
def test_matches_sklearn_after_50_iterations(name, n, d, k):
    X = load_faithful()[0] if name == "faithful" else _blobs(n + d + k, n, d, k)
    init = _start(X, k, seed=k)
    ours = fit_gmm(X, k, init=init, max_iter=50, tol=0)
    gm = _sklearn_from(X, init, 50)
    assert ours.n_iter == gm.n_iter_ == 50
    assert _rel(ours.phi, gm.weights_) <= 1e-8
    assert _rel(ours.mu, gm.means_) <= 1e-8
    for j in range(k):  # each covariance relative to its own scale
        assert _rel(ours.sigma[j], gm.covariances_[j]) <= 1e-8
    np.testing.assert_allclose(ours.log_likelihoods, gm.lower_bounds_, rtol=1e-10)
    assert ours.log_likelihood == pytest.approx(gm.score(X), rel=1e-10)
    assert bic(X, ours.phi, ours.mu, ours.sigma) == pytest.approx(gm.bic(X), rel=1e-10)


def test_matches_sklearn_without_ridge_and_with_large_ridge():
    X = _blobs(7, 600, 4, 3)
    init = _start(X, 3, seed=1)
    for reg in (0.0, 0.1):
        ours = fit_gmm(X, 3, init=init, max_iter=50, tol=0, reg_covar=reg)
        gm = _sklearn_from(X, init, 50, reg_covar=reg)
        assert _rel(ours.mu, gm.means_) <= 1e-8
        assert _rel(ours.sigma, gm.covariances_) <= 1e-8


def test_functions_match_sklearn_on_fitted_model():
    X = _blobs(3, 300, 3, 3)
    gm = _sklearn_from(X, _start(X, 3, seed=0), 20)
    params = (gm.weights_, gm.means_, gm.covariances_)
    np.testing.assert_allclose(log_density(X, *params), gm.score_samples(X), rtol=1e-10)
    np.testing.assert_allclose(responsibilities(X, *params), gm.predict_proba(X), atol=1e-10)
    np.testing.assert_array_equal(predict(X, *params), gm.predict(X))
    assert log_likelihood(X, *params) == pytest.approx(gm.score(X), rel=1e-12)
    assert n_parameters(3, 3) == gm._n_parameters()


# ----------------------------------------------------------------- the EM theorem


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    d=st.integers(1, 4),
    k=st.integers(1, 4),
    method=st.sampled_from(["kmeans++", "points", "responsibilities"]),
)
def test_log_likelihood_never_decreases(seed, d, k, method):
    # Without a ridge, every M-step is the exact maximiser of the EM lower bound, so
    # the log-likelihood cannot decrease (up to rounding).
    rng = np.random.default_rng(seed)
    n = 20 * k * (d + 1)
    X = rng.normal(size=(n, d)) + rng.integers(0, 3, size=(n, 1)) * 3.0
    res = fit_gmm(X, k, init=method, max_iter=30, tol=0, reg_covar=0.0, seed=seed)
    lls = np.append(res.log_likelihoods, res.log_likelihood)
    assert np.all(np.diff(lls) >= -1e-12 * np.abs(lls[1:]).max())


# --------------------------------------------------------------------- known answers


def test_old_faithful_maximum_likelihood():
    X, _ = load_faithful()
    res = fit_gmm(X, 2, n_init=3, seed=0, max_iter=500, tol=1e-10)
    order = np.argsort(res.mu[:, 0])
    np.testing.assert_allclose(res.phi[order], [0.356, 0.644], atol=5e-4)
    np.testing.assert_allclose(res.mu[order], [[2.036, 54.48], [4.290, 79.97]], atol=5e-3)
    assert res.converged
    assert res.log_likelihood * len(X) == pytest.approx(-1130.264, abs=1e-3)


def test_log_density_matches_scipy_in_50_dimensions():
    rng = np.random.default_rng(5)
    phi, mu, sigma = _random_mixture(rng, 3, 50)
    X = rng.normal(size=(40, 50)) * 3
    ref = logsumexp(
        [
            np.log(p) + multivariate_normal(m, s).logpdf(X)
            for p, m, s in zip(phi, mu, sigma, strict=True)
        ],
        axis=0,
    )
    np.testing.assert_allclose(log_density(X, phi, mu, sigma), ref, rtol=1e-10)
    # far from every component the density underflows, its log does not
    far = log_density(X + 1e3, phi, mu, sigma)
    assert np.all(np.isfinite(far)) and np.all(far < -1e4)
    w = responsibilities(X + 1e3, phi, mu, sigma)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)


def test_fit_is_stable_in_50_dimensions():
    X = _blobs(11, 3000, 50, 3)
    res = fit_gmm(X, 3, seed=0, max_iter=30)
    assert np.isfinite(res.log_likelihood)
    assert np.all(np.diff(res.log_likelihoods) >= -1e-9)


# ----------------------------------------------------------------------- behaviour


def test_tol_zero_runs_exactly_max_iter_and_max_iter_zero_returns_start():
    X = load_faithful()[0]
    init = _start(X, 2, seed=3)
    res = fit_gmm(X, 2, init=init, max_iter=17, tol=0)
    assert res.n_iter == 17 and len(res.log_likelihoods) == 17 and not res.converged
    res0 = fit_gmm(X, 2, init=init, max_iter=0)
    for a, b in zip((res0.phi, res0.mu, res0.sigma), init, strict=True):
        np.testing.assert_array_equal(a, b)
    assert res0.n_iter == 0 and res0.log_likelihood == pytest.approx(log_likelihood(X, *init))


def test_converged_stops_early():
    X = load_faithful()[0]
    res = fit_gmm(X, 2, max_iter=1000, tol=1e-3, seed=0)
    assert res.converged and res.n_iter < 1000
    assert abs(res.log_likelihoods[-1] - res.log_likelihoods[-2]) < 1e-3


def test_restarts_keep_the_best():
    X = _blobs(2, 300, 2, 5)
    one = fit_gmm(X, 5, init="points", n_init=1, seed=9, max_iter=40)
    many = fit_gmm(X, 5, init="points", n_init=6, seed=9, max_iter=40)
    assert many.log_likelihood >= one.log_likelihood
    again = fit_gmm(X, 5, init="points", n_init=6, seed=9, max_iter=40)
    np.testing.assert_array_equal(many.mu, again.mu)


@pytest.mark.parametrize("method", ["kmeans++", "points", "responsibilities"])
def test_init_mixture(method):
    X = _blobs(4, 200, 3, 3)
    phi, mu, sigma = init_mixture(X, 4, method, seed=0)
    assert phi.shape == (4,) and mu.shape == (4, 3) and sigma.shape == (4, 3, 3)
    assert phi.sum() == pytest.approx(1.0)
    assert np.all(np.linalg.eigvalsh(sigma) > 0)
    assert len(np.unique(mu, axis=0)) == 4


def test_kmeans_pp_recovers_separated_clusters():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [50, 0], [0, 50]])
    X = np.concatenate([c + rng.normal(size=(50, 2)) for c in centres])
    phi, mu, _ = init_mixture(X, 3, "kmeans++", seed=1)
    np.testing.assert_allclose(np.sort(phi), [1 / 3] * 3)
    assert np.abs(np.sort(mu[:, 0] + 2 * mu[:, 1]) - [0, 50, 100]).max() < 1


def test_collapse_without_ridge_raises_and_ridge_prevents_it():
    # One isolated point and a component started on it: the M-step gives that
    # component the covariance of a single point, 0, unless reg_covar adds a ridge.
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(100, 2)), [[100.0, 100.0]]])
    init = (np.array([0.5, 0.5]), np.array([[0.0, 0.0], [100.0, 100.0]]), np.stack([np.eye(2)] * 2))
    with pytest.raises(NotPositiveDefiniteError, match="reg_covar"):
        fit_gmm(X, 2, init=init, reg_covar=0.0, max_iter=5)
    res = fit_gmm(X, 2, init=init, reg_covar=1e-6, max_iter=5)
    np.testing.assert_allclose(res.sigma[1], 1e-6 * np.eye(2), rtol=1e-6, atol=1e-15)
    # the collapsed component is a spike: the isolated point gets a huge density
    assert log_density(X[-1:], res.phi, res.mu, res.sigma)[0] > 5


def test_sample_statistics_and_reproducibility():
    phi = np.array([0.2, 0.8])
    mu = np.array([[0.0, 0.0], [5.0, -1.0]])
    sigma = np.array([[[1.0, 0.5], [0.5, 2.0]], [[0.3, 0.0], [0.0, 0.1]]])
    X, z = sample(phi, mu, sigma, 40_000, seed=0)
    assert X.shape == (40_000, 2) and z.shape == (40_000,)
    assert np.mean(z == 0) == pytest.approx(0.2, abs=0.01)
    for j in range(2):
        np.testing.assert_allclose(X[z == j].mean(axis=0), mu[j], atol=0.05)
        np.testing.assert_allclose(np.cov(X[z == j].T), sigma[j], atol=0.06)
    X2, z2 = sample(phi, mu, sigma, 40_000, seed=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(z, z2)
    assert sample(phi, mu, sigma, 0, seed=0)[0].shape == (0, 2)


def test_result_is_frozen():
    X = load_faithful()[0]
    res = fit_gmm(X, 2, seed=0, max_iter=3)
    assert isinstance(res, GMMResult)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.n_iter = 0


# ------------------------------------------------------------------------ bad input

X_OK = np.random.default_rng(0).normal(size=(30, 2))
GOOD = (np.array([0.5, 0.5]), np.zeros((2, 2)), np.stack([np.eye(2)] * 2))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 0}, "1 <= k <= n"),
        ({"k": 31}, "1 <= k <= n"),
        ({"k": 2.0}, "k must be an int"),
        ({"X": X_OK[:, 0]}, "2-D"),
        ({"X": np.zeros((2, 2, 2))}, "2-D"),
        ({"X": np.where(np.eye(30, 2) > 0, np.nan, X_OK)}, "NaN or infinite"),
        ({"X": np.where(np.eye(30, 2) > 0, np.inf, X_OK)}, "NaN or infinite"),
        ({"X": np.array([["a", "b"]])}, "numeric"),
        ({"init": (np.array([1.0]), GOOD[1], GOOD[2])}, "mu must have shape"),
        ({"init": (GOOD[0], np.zeros((2, 3)), GOOD[2])}, "X has d = 2"),
        ({"init": (GOOD[0], GOOD[1], np.eye(2))}, "sigma must have shape"),
        ({"init": (np.array([0.5, 0.6]), GOOD[1], GOOD[2])}, "sum to 1"),
        ({"init": (np.array([1.5, -0.5]), GOOD[1], GOOD[2])}, "non-negative"),
        ({"init": (np.ones(3) / 3, np.zeros((3, 2)), np.stack([np.eye(2)] * 3))}, "k = 2"),
        ({"init": GOOD[:2]}, "tuple"),
        ({"init": "kmeans"}, "one of"),
        ({"init": GOOD, "n_init": 3}, "n_init"),
        ({"max_iter": -1}, "max_iter"),
        ({"tol": -1.0}, "tol"),
        ({"reg_covar": -1e-6}, "reg_covar"),
        ({"n_init": 0}, "n_init"),
        ({"seed": -3}, "seed"),
    ],
)
def test_fit_gmm_bad_input(kwargs, match):
    args = {"X": X_OK, "k": 2, **kwargs}
    X, k = args.pop("X"), args.pop("k")
    with pytest.raises(ValueError, match=match):
        fit_gmm(X, k, **args)


@pytest.mark.parametrize(
    "sigma",
    [
        np.stack([np.eye(2), np.diag([1.0, -1.0])]),  # indefinite
        np.stack([np.eye(2), np.ones((2, 2))]),  # singular
        np.stack([np.eye(2), [[1.0, 0.5], [0.0, 1.0]]]),  # not symmetric
    ],
)
def test_not_positive_definite(sigma):
    with pytest.raises(NotPositiveDefiniteError, match="component"):
        fit_gmm(X_OK, 2, init=(GOOD[0], GOOD[1], sigma))
    with pytest.raises(ValueError):  # it is a ValueError too
        log_density(X_OK, GOOD[0], GOOD[1], sigma)


def test_other_functions_validate():
    phi, mu, sigma = GOOD
    with pytest.raises(ValueError, match="d = 2"):
        log_likelihood(np.zeros((4, 3)), phi, mu, sigma)
    with pytest.raises(ValueError, match="sum to 1"):
        responsibilities(X_OK, phi * 2, mu, sigma)
    with pytest.raises(ValueError, match="2-D"):
        predict(X_OK[0], phi, mu, sigma)
    with pytest.raises(ValueError, match=r"n \(the number of samples\) must be at least 0"):
        sample(phi, mu, sigma, -1, seed=0)
    with pytest.raises(ValueError, match=r"n \(the number of samples\) must be an integer"):
        sample(phi, mu, sigma, 2.0, seed=0)
    with pytest.raises(ValueError, match="one of"):
        init_mixture(X_OK, 2, "kmeans")
    with pytest.raises(ValueError, match="1 <= k <= n"):
        init_mixture(X_OK, 40)


# ------------------------------------------------------- the result and its shared names


def test_result_params_and_history_are_the_shared_names():
    X = load_faithful()[0]
    res = fit_gmm(X, 2, seed=0, max_iter=20, tol=0)
    phi, mu, sigma = res.params
    assert phi is res.phi and mu is res.mu and sigma is res.sigma
    # start .. end: the log-likelihood entering each iteration, then at the result
    assert res.history.shape == (res.n_iter + 1,)
    np.testing.assert_array_equal(res.history[:-1], res.log_likelihoods)
    assert res.history[-1] == res.log_likelihood
    # history[0] is the objective at the start, as for the other fitters
    start = init_mixture(X, 2, seed=0)
    assert res.history[0] == pytest.approx(log_likelihood(X, *start), rel=1e-12)
    assert res.log_likelihood == pytest.approx(log_likelihood(X, *res.params), rel=1e-12)


# -------------------------------------------------------------------- seeds


def test_generator_seed_is_the_stream_of_its_int_seed():
    X = _blobs(6, 300, 2, 3)
    for method in ("kmeans++", "points", "responsibilities"):
        a = init_mixture(X, 3, method, seed=5)
        b = init_mixture(X, 3, method, seed=np.random.default_rng(5))
        for u, v in zip(a, b, strict=True):
            np.testing.assert_array_equal(u, v)
    a = fit_gmm(X, 3, n_init=3, seed=5, max_iter=20)
    b = fit_gmm(X, 3, n_init=3, seed=np.random.default_rng(5), max_iter=20)
    c = fit_gmm(X, 3, n_init=3, seed=6, max_iter=20)
    for u, v in zip(a.params, b.params, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a.mu, c.mu)
    x1, z1 = sample(*a.params, 50, seed=5)
    x2, z2 = sample(*a.params, 50, seed=np.random.default_rng(5))
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(z1, z2)


# ---------------------------------------------------------------- init_mixture


def test_init_mixture_adds_reg_covar():
    X = _blobs(4, 200, 3, 3)
    _, _, sigma = init_mixture(X, 2, "points", reg_covar=0.5, seed=0)
    expected = np.cov(X.T, bias=True) + 0.5 * np.eye(3)
    np.testing.assert_allclose(sigma, np.stack([expected] * 2), rtol=1e-12)
    # the M-step methods: the same ridge on every diagonal (the rest does not depend on it)
    for method in ("kmeans++", "responsibilities"):
        a = init_mixture(X, 2, method, reg_covar=0.0, seed=0)
        b = init_mixture(X, 2, method, reg_covar=0.5, seed=0)
        np.testing.assert_array_equal(a[1], b[1])
        np.testing.assert_allclose(b[2] - a[2], np.stack([0.5 * np.eye(3)] * 2), atol=1e-12)


@pytest.mark.parametrize(
    ("reg_covar", "match"),
    [(np.nan, "reg_covar must be finite"), (-1e-6, r"reg_covar must lie in \[0"),
     ("1e-6", "reg_covar must be a real number"), (np.inf, "reg_covar"), (True, "reg_covar")],
)
def test_init_mixture_rejects_bad_reg_covar(reg_covar, match):
    with pytest.raises(ValueError, match=match):
        init_mixture(X_OK, 2, reg_covar=reg_covar)


# -------------------------------------------------- collapse and overflow, as errors


def test_collapsed_component_is_detected_even_without_ridge():
    # Identical points: the covariance is rounding noise (a pivot of ~1e-46), which
    # a Cholesky factorisation may still accept, giving a huge, meaningless likelihood.
    with pytest.raises(CollapsedComponentError, match="collapsed") as info:
        fit_gmm(np.ones((5, 2)), 1, reg_covar=0)
    # (too few points for a full covariance is refused before EM starts)
    with pytest.raises(ValueError, match=r"at least d \+ 1"):
        fit_gmm(np.ones((2, 2)), 1, reg_covar=0)
    assert isinstance(info.value, NotPositiveDefiniteError)
    assert isinstance(info.value, ValueError)
    # duplicates among distinct points: a component sitting on them collapses too
    X = np.vstack([np.random.default_rng(1).normal(size=(20, 2)), np.full((5, 2), 7.0)])
    init = (np.array([0.5, 0.5]), np.array([[0.0, 0.0], [7.0, 7.0]]), np.stack([np.eye(2)] * 2))
    with pytest.raises(CollapsedComponentError):
        fit_gmm(X, 2, init=init, reg_covar=0, max_iter=10)
    # with the default ridge the same data fit, and that component is the ridge itself
    res = fit_gmm(X, 2, init=init, max_iter=10)
    np.testing.assert_allclose(res.sigma[1], 1e-6 * np.eye(2), rtol=1e-6, atol=1e-15)


@pytest.mark.parametrize(
    "func", [predict, log_density, responsibilities, log_likelihood, bic]
)
def test_e_step_overflow_is_an_error(func):
    phi, mu, sigma = GOOD
    assert np.all(np.isfinite(log_density(X_OK * 1e100, phi, mu, sigma)))  # far, but finite
    with pytest.raises(ValueError, match="overflow"):
        func(X_OK * 1e160, phi, mu, sigma)  # squared distances ~ 1e320


def test_overflow_in_the_quadratic_kernel_is_an_error(monkeypatch):
    # Data and covariances at 1e-100 keep EM on the quadratic features (d = 2), where
    # the second mean's constant mu^T Sigma^-1 mu = 1e320 overflows: an error, as in
    # the whitened E-step of log_density, not a component silently given weight 0.
    X = 1e-100 * np.random.default_rng(0).normal(size=(200, 2))
    init = (np.array([0.5, 0.5]), np.array([[0.0, 0.0], [1e60, 0.0]]),
            np.stack([1e-200 * np.eye(2)] * 2))
    with pytest.raises(ValueError, match="overflow"):
        log_density(X, *init)
    used = []
    kernel = gmm_module._moments_quadratic
    monkeypatch.setattr(gmm_module, "_moments_quadratic", lambda *a: used.append(1) or kernel(*a))
    with pytest.raises(ValueError, match="overflow"):
        fit_gmm(X, 2, init=init, max_iter=3)
    assert used


def test_bic_and_n_parameters_validate():
    _, mu, sigma = GOOD
    with pytest.raises(ValueError, match=r"phi must be a vector"):
        bic(X_OK, 1.0, mu[:1], sigma[:1])
    with pytest.raises(ValueError, match="k must be at least 1"):
        n_parameters(-3, 2)
    with pytest.raises(ValueError, match="d must be an integer"):
        n_parameters(3, 2.0)
    with pytest.raises(ValueError, match="k must be an integer"):
        n_parameters(True, 2)
    assert n_parameters(1, 1) == 2  # a mean and a variance
    assert n_parameters(2, 3) == 1 + 6 + 12


def test_float32_phi_is_checked_at_its_own_precision():
    # float32(1/3) * 3 is 1 in float32 but 1 + 3e-8 in float64
    phi32 = np.full(3, 1 / 3, dtype=np.float32)
    assert phi32.sum(dtype=np.float32) == 1.0
    mu, sigma = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]]), np.stack([np.eye(2)] * 3)
    exact = log_density(X_OK, np.full(3, 1 / 3), mu, sigma)
    # accepted, and renormalised exactly: the same density as the float64 weights
    np.testing.assert_allclose(log_density(X_OK, phi32, mu, sigma), exact, rtol=1e-14)
    # the same numbers in float64 are 3e-8 off, beyond float64's tolerance
    with pytest.raises(ValueError, match="sum to 1"):
        log_density(X_OK, phi32.astype(np.float64), mu, sigma)
    # a float32 vector that is really off is still refused
    with pytest.raises(ValueError, match="sum to 1"):
        log_density(X_OK, np.array([0.3, 0.3, 0.3], dtype=np.float32), mu, sigma)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"tol": "1e-6"}, "tol must be a real number"),
        ({"tol": np.nan}, "tol must be finite"),
        ({"max_iter": True}, "max_iter must be an integer"),
        ({"max_iter": 3.0}, "max_iter must be an integer"),
        ({"max_iter": "10"}, "max_iter must be an integer"),
        ({"n_init": 2.0}, "n_init must be an integer"),
        ({"reg_covar": "0"}, "reg_covar must be a real number"),
        ({"reg_covar": np.nan}, "reg_covar must be finite"),
        ({"seed": 1.5}, "seed must be an integer"),
        ({"seed": "0"}, "seed must be an integer"),
        ({"k": True}, "k must be an int"),
    ],
)
def test_scalar_hyperparameters_are_checked_and_named(kwargs, match):
    args = {"k": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        fit_gmm(X_OK, **args)


def test_numpy_integer_hyperparameters_are_accepted():
    a = fit_gmm(X_OK, np.int64(2), max_iter=np.int32(5), n_init=np.int64(1), seed=np.int64(0))
    b = fit_gmm(X_OK, 2, max_iter=5, seed=0)
    np.testing.assert_array_equal(a.mu, b.mu)


# ------------------------------------------- found by review, fixed: they stay fixed


def test_offset_data_are_not_a_collapse():
    # The collapse floor follows the data's spread (and the rounding of the mean), not
    # their distance from zero: data at 1e8 +- 1 are an ordinary Gaussian.
    X = 1e8 + np.random.default_rng(0).normal(size=(500, 2))
    res = fit_gmm(X, 1, seed=0)
    np.testing.assert_allclose(res.sigma[0], np.cov(X.T, bias=True) + 1e-6 * np.eye(2),
                               rtol=1e-6)


@pytest.mark.parametrize("d", [1, 3, gmm_module._QUADRATIC_MAX_D + 2])  # both kernels
def test_an_empty_component_gets_scikit_learns_mean(d):
    # Found by the fuzz suite: EM runs on centred data, and an empty component's
    # 0 / (0 + 10 eps) mean came out as the data's mean instead of scikit-learn's
    # origin. Constant data and a start whose second component is far away and
    # narrow: after one step it holds no weight at all (and a tiny one in the
    # near-empty case); every parameter must match scikit-learn from the same start.
    X = np.vstack([np.full((2 * d + 10, d), 2.0), np.full((3, d), 2.5)])
    for far in (0.0, 2.0 - 4e-3):  # empty; near-empty (weights ~ e^-8 ... e^-700)
        init = (np.array([1 - 1e-16, 1e-16]), np.vstack([np.full(d, 2.1), np.full(d, far)]),
                np.stack([np.eye(d), 1e-6 * np.eye(d)]))
        ours = fit_gmm(X, 2, init=init, max_iter=2, tol=0)
        gm = _sklearn_from(X, init, 2)
        np.testing.assert_allclose(ours.phi, gm.weights_, rtol=1e-10, atol=1e-300)
        np.testing.assert_allclose(ours.mu, gm.means_, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(ours.sigma, gm.covariances_, rtol=1e-8, atol=1e-15)


@pytest.mark.parametrize("method", ["kmeans++", "points", "responsibilities"])
def test_overflowing_data_are_refused_by_init_and_fit(method):
    with pytest.raises(ValueError, match="overflow"):
        init_mixture(X_OK * 1e160, 2, method, seed=0)
    with pytest.raises(ValueError, match="overflow"):
        fit_gmm(X_OK * 1e160, 2, init=method, seed=0)


# -------------------------------------------------------------------------- k-means


def _sklearn_kmeans(X, centres, tol):
    """scikit-learn's Lloyd iteration from the given centres (one run)."""
    from sklearn.cluster import KMeans

    return KMeans(
        n_clusters=len(centres), init=centres, n_init=1, algorithm="lloyd", tol=tol
    ).fit(X)


def _tie_margin(X, centres):
    """Smallest gap between the nearest and second-nearest squared distance (relative)."""
    d2 = ((X[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    part = np.sort(d2, axis=1)
    return float(np.min((part[:, 1] - part[:, 0]) / np.maximum(part[:, 1], 1e-300)))


KMEANS_CASES = [
    ("faithful", None, None, 2),
    ("faithful", None, None, 3),
    ("faithful", None, None, 6),
    ("blobs", 500, 1, 3),
    ("blobs", 1000, 2, 5),
    ("blobs", 3000, 8, 6),
    ("blobs", 2000, 20, 4),
]


@pytest.mark.parametrize(("name", "n", "d", "k"), KMEANS_CASES)
@pytest.mark.parametrize("start", ["rows", "k-means++"])
@pytest.mark.parametrize("tol", [1e-4, 0.0])
def test_kmeans_matches_sklearn_from_the_same_start(name, n, d, k, start, tol):
    X = load_faithful()[0] if name == "faithful" else _blobs(n + d + k, n, d, k)
    if start == "rows":
        c0 = X[np.random.default_rng(k).choice(len(X), size=k, replace=False)]
    else:  # our k-means++ seeding, handed to both
        c0 = kmeans(X, k, max_iter=0, seed=k).centres
    ours = kmeans(X, k, init=c0, tol=tol)
    km = _sklearn_kmeans(X, c0, tol)
    assert _tie_margin(X, km.cluster_centers_) > 1e-8  # no ties: labels are defined
    assert ours.n_iter == km.n_iter_
    np.testing.assert_array_equal(ours.labels, km.labels_)
    assert _rel(ours.centres, km.cluster_centers_) <= 1e-10
    assert abs(ours.inertia - km.inertia_) <= 1e-10 * km.inertia_
    assert ours.converged


def test_kmeans_history_never_increases_and_labels_are_nearest():
    X = _blobs(3, 2000, 3, 5)
    res = kmeans(X, 5, seed=0, tol=0)
    assert isinstance(res, KMeansResult)
    h = res.history
    assert h.shape == (res.n_iter + 1,)
    assert np.all(np.diff(h) <= 1e-12 * h[0])
    d2 = ((X[:, None, :] - res.centres[None]) ** 2).sum(axis=2)
    np.testing.assert_array_equal(res.labels, np.argmin(d2, axis=1))
    assert res.inertia == pytest.approx(d2.min(axis=1).sum(), rel=1e-12)
    for j in range(5):  # a fixed point: every centre is the mean of its cluster
        np.testing.assert_allclose(res.centres[j], X[res.labels == j].mean(axis=0),
                                   rtol=1e-12, atol=1e-12)
    assert res.params is res.centres
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.n_iter = 0


def test_kmeans_empty_cluster_takes_the_farthest_point():
    # A start far from all the data leaves cluster 2 empty in the first iteration.
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(size=(60, 2)), rng.normal(size=(60, 2)) + np.array([8.0, 0.0])])
    c0 = np.array([[0.0, 0.0], [8.0, 0.0], [500.0, 500.0]])
    ours = kmeans(X, 3, init=c0, max_iter=1, tol=0)
    d2 = ((X[:, None, :] - c0[None, :2]) ** 2).sum(axis=2).min(axis=1)
    np.testing.assert_array_equal(ours.centres[2], X[np.argmax(d2)])
    full = kmeans(X, 3, init=c0, tol=0)
    km = _sklearn_kmeans(X, c0, 0.0)
    np.testing.assert_array_equal(full.labels, km.labels_)
    assert _rel(full.centres, km.cluster_centers_) <= 1e-10
    assert np.bincount(full.labels, minlength=3).min() >= 1


def test_kmeans_seed_and_kmeanspp_and_max_iter_zero():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [50, 0], [0, 50]])
    X = np.concatenate([c + rng.normal(size=(50, 2)) for c in centres])
    res = kmeans(X, 3, seed=1)
    assert np.abs(np.sort(res.centres[:, 0] + 2 * res.centres[:, 1])
                  - [0, 50, 100]).max() < 1
    again = kmeans(X, 3, seed=np.random.default_rng(1))
    np.testing.assert_array_equal(res.centres, again.centres)
    start = kmeans(X, 3, max_iter=0, seed=1)
    assert start.n_iter == 0 and start.inertias.shape == (0,)
    assert all(any(np.array_equal(c, x) for x in X) for c in start.centres)
    X_in = X.copy()
    kmeans(X_in, 3, init=start.centres)
    np.testing.assert_array_equal(X_in, X)  # inputs are not modified


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 0}, "1 <= k <= n"),
        ({"k": 31}, "1 <= k <= n"),
        ({"k": 2.0}, "k must be an int"),
        ({"k": True}, "k must be an int"),
        ({"X": X_OK[:, 0]}, "2-D"),
        ({"X": np.where(np.eye(30, 2) > 0, np.nan, X_OK)}, "NaN or infinite"),
        ({"X": np.array([["a", "b"]])}, "numeric"),
        ({"X": X_OK + 1j}, "X"),
        ({"X": X_OK * 1e160}, "overflow"),
        ({"init": "random"}, "init"),
        ({"init": np.zeros((3, 2))}, "init must have shape"),
        ({"init": np.zeros((2, 3))}, "init must have shape"),
        ({"init": np.array([[0.0, np.nan], [1.0, 1.0]])}, "init"),
        ({"init": np.array([["a", "b"], ["c", "d"]])}, "init"),
        ({"init": np.full((2, 2), 1e160)}, "init"),
        ({"max_iter": -1}, "max_iter"),
        ({"max_iter": 2.5}, "max_iter"),
        ({"tol": -1.0}, "tol"),
        ({"tol": np.nan}, "tol"),
        ({"tol": "0"}, "tol"),
        ({"seed": -3}, "seed"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_kmeans_bad_input(kwargs, match):
    args = {"X": X_OK, "k": 2, **kwargs}
    X, k = args.pop("X"), args.pop("k")
    with pytest.raises(ValueError, match=match):
        kmeans(X, k, **args)


# ------------------------------------- the one-pass EM iteration (issue 10, speed)


_Q = gmm_module._QUADRATIC_MAX_D  # the largest d of the quadratic-feature kernel


@pytest.mark.parametrize("d", [2, _Q, _Q + 1, 30])
def test_far_apart_components_keep_their_digits(d):
    # Components 1e5 standard deviations apart: sum w x x^T / N - mu mu^T would
    # cancel ~10 digits; _em_iteration recomputes those by the two-pass formula.
    rng = np.random.default_rng(d)
    X = np.vstack([rng.normal(size=(300, d)), 1e5 + rng.normal(size=(300, d))])
    means = np.array([X[:300].mean(0), X[300:].mean(0)]) + 0.1
    init = (np.array([0.4, 0.6]), means, np.stack([2.0 * np.eye(d)] * 2))
    ours = fit_gmm(X, 2, init=init, max_iter=5, tol=0)
    gm = _sklearn_from(X, init, 5)
    assert _rel(ours.mu, gm.means_) <= 1e-12
    for j in range(2):
        assert _rel(ours.sigma[j], gm.covariances_[j]) <= 1e-8


@pytest.mark.parametrize("d", [1, 3, _Q, _Q + 1, 40])
def test_both_em_kernels_match_the_derived_steps(d):
    # small d runs through quadratic features, larger d through whitening + syrk;
    # both must be one E-step (eq. gmm-e-step) and one M-step from the formulas.
    X = _blobs(d, 600, d, 3)
    init = _start(X, 3, seed=1)
    one = fit_gmm(X, 3, init=init, max_iter=1, tol=0, reg_covar=0.0)
    w = responsibilities(X, *init)
    N = w.sum(axis=0)
    mu = (w.T @ X) / N[:, None]
    sigma = np.stack([(w[:, j, None] * (X - mu[j])).T @ (X - mu[j]) / N[j]
                      for j in range(3)])
    np.testing.assert_allclose(one.phi, N / len(X), rtol=1e-12)
    assert _rel(one.mu, mu) <= 1e-11
    for j in range(3):
        assert _rel(one.sigma[j], sigma[j]) <= 1e-10
    assert one.log_likelihoods[0] == pytest.approx(log_likelihood(X, *init), rel=1e-12)


@pytest.mark.parametrize("d", [2, 8])
def test_overlapping_components_far_from_the_data_mean(d):
    # Two overlapping clusters 1e5 sd from the data's mean (a third cluster pulls
    # it away): the expanded quadratic form would round the log-densities at 1e-6;
    # the whitened E-step is used instead and the fit still matches scikit-learn.
    rng = np.random.default_rng(d)
    X = np.vstack([rng.normal(size=(300, d)), 1.0 + rng.normal(size=(300, d)),
                   2e5 + rng.normal(size=(300, d))])
    means = np.array([np.full(d, -0.5), np.full(d, 1.5), np.full(d, 2e5)])
    init = (np.full(3, 1 / 3), means, np.stack([np.eye(d)] * 3))
    ours = fit_gmm(X, 3, init=init, max_iter=20, tol=0)
    gm = _sklearn_from(X, init, 20)
    assert _rel(ours.phi, gm.weights_) <= 1e-8
    assert _rel(ours.mu[:2], gm.means_[:2]) <= 1e-8
    for j in range(3):
        assert _rel(ours.sigma[j], gm.covariances_[j]) <= 1e-8


@pytest.mark.parametrize("d", [1, 2, 3, 10])  # d + 1 even and odd
def test_quadratic_features_are_every_pair_once(d):
    """_fill_quadratic's rows are x~_a x~_b for x~ = (x, 1), each unordered pair
    (a, b) exactly once among the first P rows, in the order _quadratic_pairs names."""
    ia, ib = gmm_module._quadratic_pairs(d)
    pairs = {(min(a, b), max(a, b)) for a, b in zip(ia.tolist(), ib.tolist(), strict=True)}
    assert len(ia) == len(pairs) == (d + 1) * (d + 2) // 2
    xt = np.vstack([np.random.default_rng(d).normal(size=(d, 7)), np.ones((1, 7))])
    rows = ((d + 1) // 2 + 1) * (d + 1)
    Phi = np.full((rows, 7), np.nan)
    gmm_module._fill_quadratic(np.vstack([xt, xt]), Phi)
    np.testing.assert_array_equal(Phi[: len(ia)], xt[ia] * xt[ib])


@pytest.mark.parametrize("d", [2, 3, 7])
def test_quadratic_features_in_blocks_match_the_cached_ones(monkeypatch, d):
    """Above _PHI_CACHE_BYTES the features are rebuilt in blocks in every iteration
    (the last block shorter); the fit is the one with the features built once."""
    X = _blobs(d, 1000, d, 3)
    init = _start(X, 3, seed=2)
    cached = fit_gmm(X, 3, init=init, max_iter=4, tol=0)
    monkeypatch.setattr(gmm_module, "_PHI_CACHE_BYTES", 0)
    monkeypatch.setattr(gmm_module, "_PHI_BLOCK_BYTES", 8 * 300 * 4 * (d + 1))
    work = gmm_module._em_work(X.T.copy(), 3, np.zeros(d))
    (_, part), = work["parts"]
    assert [b.shape[1] for b in part["blocks"]][-1] < part["buf"].shape[1]
    blocked = fit_gmm(X, 3, init=init, max_iter=4, tol=0)
    np.testing.assert_allclose(blocked.log_likelihoods, cached.log_likelihoods, rtol=1e-13)
    for name in ("phi", "mu", "sigma"):
        np.testing.assert_allclose(getattr(blocked, name), getattr(cached, name), rtol=1e-11,
                                   atol=1e-13)


@pytest.mark.parametrize("d", [3, _Q + 5])  # the quadratic-feature and the whitening kernel
def test_em_split_over_cores_matches_one_part(monkeypatch, d):
    """fit_gmm sums its statistics over ranges of examples, one per core
    (mlnotes._parallel); two ranges and one give the same fit to rounding."""
    rng = np.random.default_rng(7)
    n = 3 * gmm_module._MIN_PART
    X = np.concatenate([rng.standard_normal((n // 2, d)), 3 + rng.standard_normal((n // 2, d))])
    fits = {}
    for parts in (1, 2):
        monkeypatch.setattr(gmm_module, "n_parts", lambda n, m, p=parts: p)
        assert len(gmm_module._em_work(X.T.copy(), 2, np.zeros(d))["parts"]) == parts
        fits[parts] = fit_gmm(X, 2, max_iter=5, tol=0.0, seed=3)
    one, two = fits[1], fits[2]
    assert one.n_iter == two.n_iter == 5
    np.testing.assert_allclose(two.log_likelihoods, one.log_likelihoods, rtol=1e-13)
    for name in ("phi", "mu", "sigma"):
        np.testing.assert_allclose(getattr(two, name), getattr(one, name), rtol=1e-11,
                                   atol=1e-13)
