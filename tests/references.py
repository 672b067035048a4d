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
    """The ReLU network of ``params`` as float64 torch leaf tensors ``[W1, b1, W2, b2, ...]``."""
    import torch

    return [
        torch.tensor(a, dtype=torch.float64, requires_grad=True) for W, b in params for a in (W, b)
    ]


def torch_cost(tensors, X, Y):
    """The book's cost 1/(2n) sum ||h(x) - y||^2 of the network ``tensors`` on (X, Y) (torch)."""
    import torch

    a = X
    layers = len(tensors) // 2
    for i in range(layers):
        a = torch.nn.functional.linear(a, tensors[2 * i], tensors[2 * i + 1])
        if i < layers - 1:
            a = torch.relu(a)
    r = a - Y
    return 0.5 * (r * r).sum() / X.shape[0]


def torch_gradients(params, X, Y):
    """(cost, [(dW, db), ...]) by PyTorch's autograd, as numpy arrays."""
    import torch

    tensors = torch_mlp(params)
    J = torch_cost(tensors, torch.as_tensor(X), torch.as_tensor(Y))
    grads = [g.numpy() for g in torch.autograd.grad(J, tensors)]
    return J.item(), [(grads[2 * i], grads[2 * i + 1]) for i in range(len(params))]


def gradient_error(a, b) -> float:
    """||a - b|| / ||b||, and 0 when both are exactly zero (a dead ReLU layer)."""
    num = np.linalg.norm(a - b)
    return 0.0 if num == 0 else float(num / max(np.linalg.norm(b), np.finfo(float).tiny))


def check_backward(sizes, n, seed, reference, tol: float = 1e-10) -> None:
    """``mlnotes.nn.backward`` against ``reference(params, X, Y) -> (cost, [(dW, db), ...])``.

    A random network of the given widths, non-zero biases, ``n`` random examples; the
    cost must agree to 1e-12 and every gradient to ``tol`` (norm-wise relative).
    """
    from mlnotes import nn

    rng = np.random.default_rng(seed)
    params = [(W, 0.3 * rng.standard_normal(b.shape)) for W, b in nn.init_params(sizes, seed)]
    X = rng.standard_normal((n, sizes[0]))
    Y = rng.standard_normal((n, sizes[-1]))
    out, cache = nn.forward(params, X)
    J_ref, grads_ref = reference(params, X, Y)
    assert abs(nn.loss(out, Y) - J_ref) <= 1e-12 * abs(J_ref)
    ours = nn.backward(params, cache, Y)
    assert len(ours) == len(grads_ref) == len(sizes) - 1
    for (dW, db), (rW, rb) in zip(ours, grads_ref, strict=True):
        assert dW.shape == rW.shape and db.shape == rb.shape
        assert gradient_error(dW, rW) <= tol
        assert gradient_error(db, rb) <= tol


def autograd_cost(params, X, Y):
    """The book's cost of a ReLU network (ReLU'(0) = 0, as mlnotes), written for autograd."""
    import autograd.numpy as anp

    a = X
    for i, (W, b) in enumerate(params):
        z = anp.dot(a, W.T) + b
        a = z if i == len(params) - 1 else anp.where(z > 0, z, 0.0)
    r = a - Y
    return 0.5 * anp.sum(r * r) / X.shape[0]


def autograd_gradients(params, X, Y):
    """(cost, [(dW, db), ...]) by autograd's reverse mode, independent of mlnotes."""
    from autograd import grad

    grads = grad(autograd_cost)(list(params), X, Y)
    return float(autograd_cost(params, X, Y)), [(dW, db) for dW, db in grads]
