"""A multilayer perceptron in numpy: forward pass, backpropagation, mini-batch SGD.

Chapter 4 (``chapters/04_backpropagation.ipynb``) derives everything here; chapter 3
(``chapters/03_deep_learning.ipynb``) trains it. The functions follow chapter 4's names
and order: the network (:func:`init_params`, :func:`forward`), the cost
(:func:`loss`, :func:`loss_gradient`), the three lemmas
(:func:`linear_backward_weights` for Lemma 1, :func:`relu_backward` for Lemma 2,
:func:`linear_backward_input` for Lemma 3), the backward pass built from them
(:func:`backward`), and finally chapter 3's training loop (:func:`train`).

Conventions (chapter 4, :eq:`bp-batched`): examples are rows, ``X`` has shape
``(n, d)``; a layer keeps the book's shapes, ``W`` is ``(out, in)`` and ``b`` is
``(out,)``, so the batched pre-activation is ``Z = A @ W.T + b``. The cost is
:math:`J = \\frac1n \\sum_i \\frac12 \\lVert h_\\theta(x^{(i)}) - y^{(i)} \\rVert^2`.
ReLU'(0) is taken to be 0, as in PyTorch.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from mlnotes._validation import all_finite as _all_finite
from mlnotes._validation import as_float_array, as_rng, finite_result
from mlnotes._validation import positive_int as _positive_int
from mlnotes._validation import real_number as _real_number
from mlnotes.linear import DivergenceError

__all__ = [
    "Cache",
    "DivergenceError",
    "Params",
    "TrainResult",
    "backward",
    "forward",
    "init_params",
    "linear_backward_input",
    "linear_backward_weights",
    "loss",
    "loss_gradient",
    "relu",
    "relu_backward",
    "relu_derivative",
    "train",
]

Params = list[tuple[np.ndarray, np.ndarray]]


class Cache(NamedTuple):
    """What the forward pass keeps for the backward pass.

    ``a[l]`` is the input of layer ``l`` (so ``a[0]`` is ``X``) and ``z[l]`` its
    pre-activation, both with examples as rows; ``z[-1]`` is the output.
    """

    a: list[np.ndarray]
    z: list[np.ndarray]


@dataclass(frozen=True)
class TrainResult:
    """Result of :func:`train` (chapter 3, :eq:`dl-minibatch-step`).

    Named like the other fitters' results (:class:`mlnotes.linear.GradientDescentResult`,
    :class:`mlnotes.gmm.GMMResult`): ``params``, ``n_iter``, ``converged``, ``history``.

    Attributes
    ----------
    params : list of (W, b)
        The trained parameters.
    history : ndarray
        The full training cost :math:`J` (:eq:`dl-cost`) at each of ``steps``.
    steps : ndarray of int
        The steps after which ``history`` was recorded (0 = the start, and the last).
    val_history : ndarray
        The held-out cost at ``steps`` (empty without held-out data).
    batch_loss : ndarray
        The mini-batch cost before each step, length ``n_iter``.
    snapshots : dict
        ``{step: params}`` for the requested ``snapshot_steps``.
    n_iter : int
        Steps run.
    converged : bool
        Whether ``tol`` stopped training before the requested number of steps.
    """

    params: Params
    history: np.ndarray
    steps: np.ndarray
    val_history: np.ndarray
    batch_loss: np.ndarray
    snapshots: dict
    n_iter: int
    converged: bool


# --- input checks ---------------------------------------------------------------------


def _check_params(params: Params, finite: bool = True) -> None:
    """Params must be a chain of (W, b) arrays; ``finite=False`` skips the value scan."""
    if not isinstance(params, (list, tuple)) or len(params) == 0:
        raise ValueError(
            "params must be a non-empty list of (W, b) pairs, as returned by init_params; "
            f"got {type(params).__name__}."
        )
    prev_out = None
    for i, layer in enumerate(params):
        if not (isinstance(layer, (list, tuple)) and len(layer) == 2):
            raise ValueError(f"params[{i}] must be a pair (W, b); got {type(layer).__name__}.")
        W, b = layer
        if not (isinstance(W, np.ndarray) and isinstance(b, np.ndarray)):
            raise ValueError(f"params[{i}]: W and b must be numpy arrays.")
        for what, arr in (("W", W), ("b", b)):
            if arr.dtype.kind not in "fiu":
                raise ValueError(
                    f"params[{i}]: {what} must be a real float array; got dtype {arr.dtype}."
                )
        if W.ndim != 2 or b.ndim != 1 or b.shape[0] != W.shape[0]:
            raise ValueError(
                f"params[{i}]: W must have shape (out, in) and b shape (out,); got W "
                f"{W.shape} and b {b.shape}."
            )
        if prev_out is not None and W.shape[1] != prev_out:
            raise ValueError(
                f"params[{i}]: W has {W.shape[1]} input columns but layer {i - 1} has "
                f"{prev_out} outputs; consecutive layers must chain."
            )
        if finite and not (_all_finite(W) and _all_finite(b)):
            raise ValueError(f"params[{i}] contains NaN or infinite values.")
        prev_out = W.shape[0]


# --- the network ------------------------------------------------------------------------


def init_params(
    layer_sizes: Sequence[int], seed: int | np.random.Generator | None = None
) -> Params:
    r"""Random parameters for a network with the given layer widths.

    The parameters :math:`W^{(l)}, b^{(l)}` of the network :eq:`dl-two-layer`
    (chapter 3), for any depth. ``W`` of layer :math:`l` is drawn from :math:`\mathcal N(0, 2/\text{in})` (He
    initialisation, :cite:`he2015`): with ReLU units this keeps the variance of the
    pre-activations roughly constant from layer to layer. Biases start at zero.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[d, h_1, ..., h_{f-1}, m]``: input width, hidden widths, output width; at
        least two entries, all positive.
    seed : None, int or numpy Generator
        Seeds the draw of the weights.

    Returns
    -------
    list of (W, b)
        One pair per layer, ``W`` of shape ``(out, in)``, ``b`` of shape ``(out,)``.
    """
    try:
        sizes = None if isinstance(layer_sizes, (str, bytes)) else list(layer_sizes)
    except TypeError:
        sizes = None
    if sizes is None or len(sizes) < 2:
        raise ValueError(
            "layer_sizes must list at least the input and output widths, e.g. [64, 32, 10]; "
            f"got {layer_sizes!r}."
        )
    for s in sizes:
        if isinstance(s, (bool, np.bool_)) or not isinstance(s, (int, np.integer)) or s < 1:
            raise ValueError(
                f"layer_sizes must hold positive integer widths; got {layer_sizes!r}."
            )
    n_weights = sum(int(i) * int(o) for i, o in itertools.pairwise(sizes))
    if n_weights > 10**9:
        raise ValueError(
            f"layer_sizes {layer_sizes!r} ask for {n_weights:.3g} weights (8 bytes each); "
            "the limit is 1e9. Use narrower layers."
        )
    rng = as_rng(seed)
    params: Params = []
    for n_in, n_out in itertools.pairwise(sizes):
        W = rng.standard_normal((int(n_out), int(n_in))) * math.sqrt(2.0 / n_in)
        params.append((W, np.zeros(int(n_out))))
    return params


def relu(z: np.ndarray) -> np.ndarray:
    r""":math:`\ReLU(z) = \max(z, 0)`, elementwise (chapter 4, :eq:`bp-two-layer`)."""
    return np.maximum(as_float_array(z, "z"), 0.0)


def relu_derivative(z: np.ndarray) -> np.ndarray:
    r""":math:`\ReLU'(z)`, elementwise: 1 where :math:`z > 0`, else 0 (also at 0, as in PyTorch).

    The :math:`\sigma'(z)` of :prf:ref:`bp-lemma-activation` for :math:`\sigma = \ReLU`;
    chapter 4 explains the choice at 0 (:numref:`fig-bp-relu`).
    """
    return (as_float_array(z, "z") > 0).astype(np.float64)


def forward(params: Params, X: np.ndarray) -> tuple[np.ndarray, Cache]:
    r"""The forward pass, keeping every layer's input and pre-activation.

    Layer :math:`l` computes :math:`Z^{(l)} = A^{(l-1)} W^{(l)\T} + b^{(l)}` (the batched
    form :eq:`bp-batched` of :eq:`bp-two-layer`), then :math:`A^{(l)} = \ReLU(Z^{(l)})`
    for every layer but the last, which is linear.

    Parameters
    ----------
    params : list of (W, b)
        As from :func:`init_params`.
    X : ndarray of shape (n, d)
        Inputs, one example per row; ``d`` must equal the first layer's input width.

    Returns
    -------
    output : ndarray of shape (n, m)
    cache : Cache
        Every layer's input ``a`` and pre-activation ``z``, for :func:`backward`.

    Raises
    ------
    ValueError
        Params that do not chain or are not finite real arrays, ``X`` of the wrong
        width, or activations that overflow float64.
    """
    _check_params(params)
    X = as_float_array(X, "X", ndim=2)
    d = params[0][0].shape[1]
    if X.shape[1] != d:
        raise ValueError(
            f"X has {X.shape[1]} feature column(s) but the first layer expects {d} "
            f"(W of shape {params[0][0].shape})."
        )
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below
        output, cache = _forward(params, X)
    for z in cache.z:  # a hidden overflow can hide behind ReLU; the cache must be finite
        if not _all_finite(z):
            raise ValueError(f"the forward pass overflows float64. {_OVERFLOW_HINT}")
    return output, cache


_OVERFLOW_HINT = (
    "params or X are too large: rescale X (standardise its columns) or start from "
    "smaller weights (init_params)."
)


def _forward(params: Params, X: np.ndarray) -> tuple[np.ndarray, Cache]:
    """The forward pass of :func:`forward` on checked arrays."""
    a_list = [X]
    z_list = []
    a = X
    last = len(params) - 1
    for i, (W, b) in enumerate(params):
        z = a @ W.T
        z += b
        z_list.append(z)
        if i < last:
            a = np.maximum(z, 0.0)
            a_list.append(a)
    return z_list[-1], Cache(a_list, z_list)


def _check_targets(output: np.ndarray, Y: object) -> np.ndarray:
    Y = as_float_array(Y, "Y", ndim=2)
    if Y.shape != output.shape:
        raise ValueError(
            f"Y has shape {Y.shape} but the network output has shape {output.shape}; "
            "they must match (one row per example, one column per output unit; "
            "use one-hot rows for classes)."
        )
    return Y


def loss(output: np.ndarray, Y: np.ndarray) -> float:
    r"""The cost :math:`J = \frac1n\sum_i \frac12\lVert o^{(i)} - y^{(i)}\rVert^2` (chapter 3, :eq:`dl-cost`).

    Parameters
    ----------
    output, Y : ndarray of shape (n, m)
        Network outputs and targets, one example per row.

    Raises
    ------
    ValueError
        Shapes that differ, non-finite values, or a cost that overflows float64.
    """
    output = as_float_array(output, "output", ndim=2)
    Y = _check_targets(output, Y)
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below
        J = _loss(output, Y)
    return finite_result(J, "the cost", "output and Y are too far apart: rescale them.")


def _loss(output: np.ndarray, Y: np.ndarray) -> float:
    r = output - Y
    return 0.5 * float(np.vdot(r, r)) / output.shape[0]


def _batch(name: str, arr: object, width: int | None = None) -> np.ndarray:
    """A checked (n, width) float array for the lemma helpers."""
    arr = as_float_array(arr, name, ndim=2)
    if width is not None and arr.shape[1] != width:
        raise ValueError(f"{name} must have {width} columns; got shape {arr.shape}.")
    return arr


def _same_rows(**arrays: np.ndarray) -> None:
    rows = {name: a.shape[0] for name, a in arrays.items()}
    if len(set(rows.values())) != 1:
        raise ValueError(f"the arrays must have one row per example, the same n; got {rows}.")


def loss_gradient(output: np.ndarray, Y: np.ndarray) -> np.ndarray:
    r""":math:`\partial J / \partial Z^{(f)} = (O - Y)/n`, the start of the backward pass (:eq:`bp-output-grad`).

    The :math:`\frac12` of the cost cancels the 2 of the square's derivative.
    ``output`` and ``Y`` must have the same shape ``(n, m)``.
    """
    output = as_float_array(output, "output", ndim=2)
    Y = _check_targets(output, Y)
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below
        dz = _loss_gradient(output, Y)
    return finite_result(dz, "output - Y", "output and Y are too far apart: rescale them.")


def _loss_gradient(output: np.ndarray, Y: np.ndarray) -> np.ndarray:
    dz = np.subtract(output, Y)
    dz *= 1.0 / output.shape[0]
    return dz


def linear_backward_weights(dz: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Lemma 1 (:prf:ref:`bp-lemma-linear-weights`): gradients of the weights of :math:`z = Wa + b`.

    For one example :math:`\partial J/\partial W = (\partial J/\partial z)\, a^\T` and
    :math:`\partial J/\partial b = \partial J/\partial z`; for a batch with examples as
    rows the per-example terms add up, giving ``dz.T @ a`` and ``dz.sum(axis=0)``.

    ``dz`` is ``(n, out)`` and ``a`` is ``(n, in)``. Returns ``(dW, db)`` with the
    shapes of ``W`` and ``b``, ``(out, in)`` and ``(out,)``.
    """
    dz, a = _batch("dz", dz), _batch("a", a)
    _same_rows(dz=dz, a=a)
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below
        dW, db = _linear_backward_weights(dz, a)
    hint = "dz or a are too large: rescale them."
    return finite_result(dW, "dz.T @ a", hint), finite_result(db, "the sum of dz", hint)


def _linear_backward_weights(dz: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return dz.T @ a, dz.sum(axis=0)


def relu_backward(da: np.ndarray, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    r"""Lemma 2 (:prf:ref:`bp-lemma-activation`) for :math:`a = \ReLU(z)`: :math:`\partial J/\partial z = \partial J/\partial a \odot \ReLU'(z)`.

    ``ReLU'(z)`` is 1 where ``z > 0`` and 0 elsewhere (0 at ``z = 0``, as PyTorch).
    ``da`` and ``z`` must have the same shape. ``out`` (e.g. ``da`` itself, when it is
    no longer needed) receives the result and saves allocating a new array.
    """
    da, z = as_float_array(da, "da"), as_float_array(z, "z")
    if da.shape != z.shape:
        raise ValueError(f"da and z must have the same shape; got {da.shape} and {z.shape}.")
    if out is not None and (
        not isinstance(out, np.ndarray)
        or out.shape != da.shape
        or out.dtype != np.float64
        or not out.flags.writeable
    ):
        raise ValueError(f"out must be a writeable float64 array of shape {da.shape}.")
    return _relu_backward(da, z, out)


def _relu_backward(da: np.ndarray, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return np.multiply(da, z > 0, out=out)


def linear_backward_input(dz: np.ndarray, W: np.ndarray) -> np.ndarray:
    r"""Lemma 3 (:prf:ref:`bp-lemma-linear-input`): :math:`\partial J/\partial a = W^\T (\partial J/\partial z)`.

    With examples as rows the product is transposed, :math:`(W^\T dz^\T)^\T` = ``dz @ W``;
    ``dz`` is ``(n, out)`` and ``W`` is ``(out, in)``.
    """
    W = _batch("W", W)
    dz = _batch("dz", dz, width=W.shape[0])
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below
        da = _linear_backward_input(dz, W)
    return finite_result(da, "dz @ W", "dz or W are too large: rescale them.")


def _linear_backward_input(dz: np.ndarray, W: np.ndarray) -> np.ndarray:
    return dz @ W


def _check_cache(params: Params, cache: object) -> None:
    """The cache must come from forward(params, X) for these params: shapes chain."""
    hint = "cache must be the second value returned by forward(params, X) for these params"
    if not isinstance(cache, Cache) or len(cache.z) != len(params) or len(cache.a) != len(params):
        raise ValueError(f"{hint}; it has the wrong number of layers.")
    n = cache.a[0].shape[0] if isinstance(cache.a[0], np.ndarray) and cache.a[0].ndim == 2 else -1
    for i, (W, _) in enumerate(params):
        a, z = cache.a[i], cache.z[i]
        if not (isinstance(a, np.ndarray) and isinstance(z, np.ndarray)):
            raise ValueError(f"{hint}; layer {i} holds no arrays.")
        if a.dtype.kind != "f" or z.dtype.kind != "f":
            raise ValueError(f"{hint}; layer {i} holds {a.dtype}/{z.dtype} arrays, not float.")
        if not _all_finite(z):  # NaN would read as an inactive ReLU: a wrong gradient
            raise ValueError(f"{hint}; its pre-activations of layer {i} are not finite.")
        if a.shape != (n, W.shape[1]) or z.shape != (n, W.shape[0]):
            raise ValueError(
                f"{hint}: layer {i} has W of shape {W.shape} but the cache holds an input "
                f"of shape {a.shape} and a pre-activation of shape {z.shape}; it belongs "
                "to another network or batch."
            )


def backward(params: Params, cache: Cache, Y: np.ndarray) -> Params:
    r"""Backpropagation: the gradient of :func:`loss` with respect to every parameter.

    Implements chapter 4's algorithm (:prf:ref:`bp-algorithm`): start from
    :func:`loss_gradient`, then for each layer from the last down apply Lemma 1
    (:func:`linear_backward_weights`), Lemma 3 (:func:`linear_backward_input`) and
    Lemma 2 (:func:`relu_backward`), reusing the forward pass's values in ``cache``.

    Parameters
    ----------
    params : list of (W, b)
    cache : Cache
        From ``forward(params, X)``; a cache from another network or batch is refused.
    Y : ndarray of shape (n, m)
        Targets.

    Returns
    -------
    list of (dW, db)
        Matching ``params`` in length and shapes.
    """
    # Only W of layers 1.. enters the backward pass (b and the first W do not): their
    # values are checked; the rest of params only for shape. The gradients are then
    # checked for overflow.
    _check_params(params, finite=False)
    for i, (W, _) in enumerate(params[1:], start=1):
        if not _all_finite(W):
            raise ValueError(f"params[{i}] contains NaN or infinite values.")
    _check_cache(params, cache)
    Y = _check_targets(cache.z[-1], Y)
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below
        grads = _backward(params, cache, Y)
    for dW, db in grads:
        if not (_all_finite(dW) and _all_finite(db)):
            raise ValueError(
                "the gradient is not finite: the cache holds NaN or inf (it must come from "
                f"forward), or the gradient overflows float64. {_OVERFLOW_HINT}"
            )
    return grads


def _backward(params: Params, cache: Cache, Y: np.ndarray) -> Params:
    """The backward pass of :func:`backward` on checked arguments (the lemma kernels)."""
    grads: Params = [None] * len(params)  # type: ignore[list-item]
    dz = _loss_gradient(cache.z[-1], Y)
    for i in range(len(params) - 1, -1, -1):
        grads[i] = _linear_backward_weights(dz, cache.a[i])
        if i > 0:
            da = _linear_backward_input(dz, params[i][0])
            dz = _relu_backward(da, cache.z[i - 1], out=da)  # da is ours: overwrite it
    return grads


# --- training (chapter 3) ------------------------------------------------------------


def train(
    params: Params,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    learning_rate: float,
    batch_size: int,
    n_iter: int | None = None,
    n_epochs: int | None = None,
    tol: float = 0.0,
    seed: int | np.random.Generator | None = None,
    X_val: np.ndarray | None = None,
    Y_val: np.ndarray | None = None,
    eval_every: int | None = None,
    snapshot_steps: Sequence[int] = (),
) -> TrainResult:
    r"""Mini-batch stochastic gradient descent (chapter 3, :eq:`dl-minibatch-step`).

    Each step takes the next ``batch_size`` examples of a random permutation of the
    training set (reshuffled every epoch), computes the average gradient over them with
    the backward pass, and moves every parameter by
    :math:`\theta \leftarrow \theta - \alpha \cdot \text{average gradient}`.
    ``batch_size = n`` is batch gradient descent; ``batch_size = 1`` is SGD. The
    arguments are checked once; the steps run the private kernels of :func:`forward`
    and :func:`backward`.

    Parameters
    ----------
    params : list of (W, b)
        Starting point; not modified (the function works on copies).
    X, Y : ndarray
        Training inputs ``(n, d)`` and targets ``(n, m)``.
    learning_rate : float
        :math:`\alpha > 0`.
    batch_size : int
        The mini-batch size :math:`|\mathcal B|`, between 1 and ``n``.
    n_iter, n_epochs : int
        Give exactly one: the number of steps, or of passes through the data
        (``ceil(n / batch_size)`` steps each; the last batch of an epoch may be smaller).
    tol : float, default 0
        Stop early when the recorded training cost changes by at most ``tol`` times
        its size between two records; ``0`` runs every step (and ``converged`` is
        then False).
    seed : None, int or numpy Generator
        Seeds the shuffling.
    X_val, Y_val : ndarray, optional
        Held-out data; its cost is recorded alongside the training cost.
    eval_every : int, optional
        Record the full training (and held-out) cost every this many steps, and at
        step 0 and the last step. Default: about 100 records.
    snapshot_steps : sequence of int
        Steps after which a copy of the parameters is stored (``0`` = the start).

    Returns
    -------
    TrainResult

    Raises
    ------
    mlnotes.linear.DivergenceError
        A mini-batch cost or the parameters became NaN or infinite (the learning rate
        is too large); it names the step and carries the mini-batch costs so far.
    ValueError
        For shapes that do not chain, non-finite data, or bad hyperparameters.
    """
    _check_params(params)
    X = as_float_array(X, "X", ndim=2)
    Y = as_float_array(Y, "Y", ndim=2)
    n = X.shape[0]
    if Y.shape[0] != n:
        raise ValueError(f"X has {n} rows but Y has {Y.shape[0]}; one target row per example.")
    d, m = params[0][0].shape[1], params[-1][0].shape[0]
    if X.shape[1] != d or Y.shape[1] != m:
        raise ValueError(
            f"the network maps {d} inputs to {m} outputs but X has {X.shape[1]} columns "
            f"and Y has {Y.shape[1]}."
        )
    has_val = X_val is not None or Y_val is not None
    if has_val:
        if X_val is None or Y_val is None:
            raise ValueError("give both X_val and Y_val, or neither.")
        X_val = as_float_array(X_val, "X_val", ndim=2)
        Y_val = as_float_array(Y_val, "Y_val", ndim=2)
        if X_val.shape[1] != d or Y_val.shape != (X_val.shape[0], m):
            raise ValueError(
                f"X_val and Y_val must have shapes (n_val, {d}) and (n_val, {m}); got "
                f"{X_val.shape} and {Y_val.shape}."
            )
    learning_rate = _real_number(learning_rate, "learning_rate", low=0.0, low_open=True)
    batch_size = _positive_int(batch_size, "batch_size", maximum=n)
    tol = _real_number(tol, "tol", low=0.0)
    steps_per_epoch = -(-n // batch_size)
    if (n_iter is None) == (n_epochs is None):
        raise ValueError("give exactly one of n_iter and n_epochs.")
    if n_iter is not None:
        total = _positive_int(n_iter, "n_iter", maximum=10**9)
    else:
        total = _positive_int(n_epochs, "n_epochs", maximum=10**9 // steps_per_epoch)
        total *= steps_per_epoch
    if eval_every is None:
        eval_every = max(1, total // 100)
    else:
        eval_every = _positive_int(eval_every, "eval_every")
    if isinstance(snapshot_steps, (str, bytes)) or not hasattr(snapshot_steps, "__iter__"):
        raise ValueError(
            f"snapshot_steps must be a sequence of step numbers, e.g. [0, 100]; got "
            f"{snapshot_steps!r}."
        )
    snap = set()
    for step in snapshot_steps:
        snap.add(_positive_int(step, "a snapshot step", minimum=0, maximum=total))
    rng = as_rng(seed)
    params = [(W.astype(np.float64, copy=True), b.astype(np.float64, copy=True)) for W, b in params]
    return _train(params, X, Y, X_val, Y_val, learning_rate, batch_size, total, tol,
                  eval_every, snap, rng)


def _train(params, X, Y, X_val, Y_val, alpha, batch_size, total, tol, eval_every, snap, rng):
    """The steps of :func:`train` on checked arguments; updates ``params`` in place."""
    n = X.shape[0]
    batch_losses: list[float] = []
    steps: list[int] = []
    train_loss: list[float] = []
    val_loss: list[float] = []
    snapshots: dict = {}

    def diverged(step: int, what: str) -> DivergenceError:
        return DivergenceError(
            f"the {what} became non-finite at step {step} of {total}; the learning rate "
            f"{alpha} is probably too large (try a smaller one).",
            step,
            np.asarray(batch_losses),
        )

    def record(step: int) -> None:
        J = _loss(_forward(params, X)[0], Y)
        J_val = _loss(_forward(params, X_val)[0], Y_val) if X_val is not None else 0.0
        if not (math.isfinite(J) and math.isfinite(J_val)):
            if step == 0:  # no step taken yet: the data, not the learning rate
                which = "X, Y" if not math.isfinite(J) else "X_val, Y_val"
                raise ValueError(
                    f"the cost on {which} at the starting params overflows float64: "
                    f"rescale {which} (standardise them) or start from smaller weights."
                )
            raise diverged(step, "training cost" if not math.isfinite(J) else "held-out cost")
        steps.append(step)
        train_loss.append(J)
        if X_val is not None:
            val_loss.append(J_val)

    converged = False
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported
        record(0)
        if 0 in snap:
            snapshots[0] = [(W.copy(), b.copy()) for W, b in params]
        order = rng.permutation(n)
        pos = 0
        step = 0
        while step < total:
            step += 1
            if pos >= n:
                order = rng.permutation(n)
                pos = 0
            idx = order[pos : pos + batch_size]
            pos += batch_size
            xb, yb = X[idx], Y[idx]
            out, cache = _forward(params, xb)
            batch_loss = _loss(out, yb)
            batch_losses.append(batch_loss)
            if not math.isfinite(batch_loss):
                raise diverged(step, f"mini-batch cost ({batch_loss})")
            grads = _backward(params, cache, yb)
            for (W, b), (dW, db) in zip(params, grads, strict=True):
                W -= alpha * dW
                b -= alpha * db
            if step in snap:
                snapshots[step] = [(W.copy(), b.copy()) for W, b in params]
            if step % eval_every == 0 or step == total:
                record(step)
                if tol > 0 and len(train_loss) > 1 and (
                    abs(train_loss[-2] - train_loss[-1]) <= tol * abs(train_loss[-1])
                ):
                    converged = True
                    break
    return TrainResult(
        params=params,
        history=np.asarray(train_loss),
        steps=np.asarray(steps, dtype=int),
        val_history=np.asarray(val_loss),
        batch_loss=np.asarray(batch_losses),
        snapshots=snapshots,
        n_iter=step,
        converged=converged,
    )
