"""The reference implementations mlnotes is checked and timed against, set up once.

The tests (``tests/test_gmm.py``, ``tests/test_nn_torch.py``) and the benchmarks
(``benchmarks/bench_gmm.py``, ``benchmarks/bench_nn.py``) import these adapters, so
that "the same starting point" and "the same network" mean the same thing everywhere.
torch is imported only when a torch adapter is called (it is a benchmark extra).
"""

from __future__ import annotations

import warnings

import numpy as np


def sklearn_gmm(start, *, max_iter: int, tol: float = 0.0, reg_covar: float = 1e-6):
    """An unfitted ``sklearn.mixture.GaussianMixture`` that starts EM from ``(phi, mu, sigma)``.

    Full covariances, the same ridge, and scikit-learn's ``*_init`` arguments set to
    the given parameters (``precisions_init`` is the inverse of ``sigma``), so that
    its first E-step uses exactly the parameters :func:`mlnotes.gmm.fit_gmm` receives
    as ``init``.
    """
    from sklearn.mixture import GaussianMixture

    phi, mu, sigma = start
    return GaussianMixture(
        n_components=len(phi),
        covariance_type="full",
        tol=tol,
        max_iter=max_iter,
        reg_covar=reg_covar,
        weights_init=phi,
        means_init=mu,
        precisions_init=np.linalg.inv(sigma),
        init_params="random_from_data",  # overridden by the *_init arguments
        random_state=0,
    )


def sklearn_fit(X, start, *, max_iter: int, tol: float = 0.0, reg_covar: float = 1e-6):
    """Fit :func:`sklearn_gmm` on ``X``; with ``tol=0`` its ConvergenceWarning is expected."""
    from sklearn.exceptions import ConvergenceWarning

    gm = sklearn_gmm(start, max_iter=max_iter, tol=tol, reg_covar=reg_covar)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
    return gm


def torch_mlp(params):
    """The network of ``params`` as float64 torch leaf tensors ``[W1, b1, W2, b2, ...]``."""
    import torch

    return [
        torch.tensor(a, dtype=torch.float64, requires_grad=True) for W, b in params for a in (W, b)
    ]


def torch_cost(tensors, X, Y, activation: str = "relu", loss: str = "squared"):
    """The book's cost of the network ``tensors`` on (X, Y), in torch.

    ``loss="squared"``: 1/(2n) sum ||h(x) - y||^2; ``loss="cross_entropy"``:
    ``torch.nn.functional.cross_entropy`` of the logits against probability rows Y
    (batch mean). Hidden layers apply ``activation`` (torch's own functions).
    """
    import torch

    act = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
           "identity": lambda t: t}[activation]
    a = X
    layers = len(tensors) // 2
    for i in range(layers):
        a = torch.nn.functional.linear(a, tensors[2 * i], tensors[2 * i + 1])
        if i < layers - 1:
            a = act(a)
    if loss == "cross_entropy":
        return torch.nn.functional.cross_entropy(a, Y)
    r = a - Y
    return 0.5 * (r * r).sum() / X.shape[0]


def torch_gradients(params, X, Y, activation: str = "relu", loss: str = "squared"):
    """(cost, [(dW, db), ...]) by PyTorch's autograd, as numpy arrays."""
    import torch

    tensors = torch_mlp(params)
    J = torch_cost(tensors, torch.as_tensor(X), torch.as_tensor(Y), activation, loss)
    grads = [g.numpy() for g in torch.autograd.grad(J, tensors)]
    return J.item(), [(grads[2 * i], grads[2 * i + 1]) for i in range(len(params))]


def gradient_error(a, b) -> float:
    """||a - b|| / ||b||, and 0 when both are exactly zero (a dead ReLU layer)."""
    num = np.linalg.norm(a - b)
    return 0.0 if num == 0 else float(num / max(np.linalg.norm(b), np.finfo(float).tiny))


def random_targets(rng, n: int, m: int, loss: str = "squared", soft: bool = False):
    """Targets for ``loss``: normal entries, or one-hot (``soft``: random probability) rows."""
    if loss == "squared":
        return rng.standard_normal((n, m))
    if soft:
        P = rng.uniform(0.05, 1.0, (n, m))
        return P / P.sum(axis=1, keepdims=True)
    return np.eye(m)[rng.integers(0, m, n)]


def check_backward(sizes, n, seed, reference, tol: float = 1e-10, activation: str = "relu",
                   loss: str = "squared") -> None:
    """``mlnotes.nn.backward`` against ``reference(params, X, Y, activation, loss)``.

    ``reference`` returns ``(cost, [(dW, db), ...])``. A random network of the given
    widths, non-zero biases, ``n`` random examples (one-hot targets for the
    cross-entropy, soft ones for odd seeds); the cost must agree to 1e-12 and every
    gradient to ``tol`` (norm-wise relative).
    """
    from mlnotes import nn

    rng = np.random.default_rng(seed)
    params = [(W, 0.3 * rng.standard_normal(b.shape)) for W, b in nn.init_params(sizes, seed)]
    X = rng.standard_normal((n, sizes[0]))
    Y = random_targets(rng, n, sizes[-1], loss, soft=seed % 2 == 1)
    out, cache = nn.forward(params, X, activation=activation)
    J_ref, grads_ref = reference(params, X, Y, activation, loss)
    assert abs(nn.loss(out, Y, loss=loss) - J_ref) <= 1e-12 * abs(J_ref)
    ours = nn.backward(params, cache, Y, loss=loss)
    assert len(ours) == len(grads_ref) == len(sizes) - 1
    for (dW, db), (rW, rb) in zip(ours, grads_ref, strict=True):
        assert dW.shape == rW.shape and db.shape == rb.shape
        assert gradient_error(dW, rW) <= tol
        assert gradient_error(db, rb) <= tol


def autograd_cost(params, X, Y, activation: str = "relu", loss: str = "squared"):
    """The book's cost of the network, written for autograd (ReLU'(0) = 0, as mlnotes).

    The activations and the cross-entropy are written from their definitions
    (sigmoid 1/(1 + e^-z); log softmax z - log sum e^z with the row maximum taken out),
    with none of mlnotes' code.
    """
    import autograd.numpy as anp

    act = {"relu": lambda z: anp.where(z > 0, z, 0.0),
           "sigmoid": lambda z: 1.0 / (1.0 + anp.exp(-z)),
           "tanh": anp.tanh,
           "identity": lambda z: z}[activation]
    a = X
    for i, (W, b) in enumerate(params):
        z = anp.dot(a, W.T) + b
        a = z if i == len(params) - 1 else act(z)
    if loss == "cross_entropy":
        m = anp.max(a, axis=1, keepdims=True)
        log_p = a - m - anp.log(anp.sum(anp.exp(a - m), axis=1, keepdims=True))
        return -anp.sum(Y * log_p) / X.shape[0]
    r = a - Y
    return 0.5 * anp.sum(r * r) / X.shape[0]


def autograd_gradients(params, X, Y, activation: str = "relu", loss: str = "squared"):
    """(cost, [(dW, db), ...]) by autograd's reverse mode, independent of mlnotes."""
    from autograd import grad

    grads = grad(autograd_cost)(list(params), X, Y, activation, loss)
    cost = float(autograd_cost(params, X, Y, activation, loss))
    return cost, [(dW, db) for dW, db in grads]


def mp_cross_entropy(Z, Y, digits: int = 40) -> float:
    """-(1/n) sum_ik y_ik log softmax(z_i)_k straight from the definition, in mpmath.

    No log-sum-exp trick: every exponential is evaluated as it is (mpmath's exponent
    range is unbounded) with enough digits for the largest logit, so this is an
    independent reference for logits up to 1e300 and beyond.
    """
    import mpmath as mp

    Z, Y = np.asarray(Z, float), np.asarray(Y, float)
    big = float(np.max(np.abs(Z))) if Z.size else 0.0
    with mp.workdps(digits + int(np.log10(big + 1.0)) + 10):
        total = mp.mpf(0)
        for z, y in zip(Z, Y, strict=True):
            log_sum = mp.log(mp.fsum(mp.exp(mp.mpf(float(v))) for v in z))
            total += mp.fsum(mp.mpf(float(yk)) * (mp.mpf(float(zk)) - log_sum)
                             for zk, yk in zip(z, y, strict=True) if yk != 0)
        return float(-total / len(Z))


def mp_softmax(z, digits: int = 40) -> np.ndarray:
    """softmax(z) of one vector from the definition e^z_k / sum_j e^z_j, in mpmath."""
    import mpmath as mp

    z = np.asarray(z, float)
    with mp.workdps(digits):
        e = [mp.exp(mp.mpf(float(v))) for v in z]
        s = mp.fsum(e)
        return np.array([float(x / s) for x in e])
