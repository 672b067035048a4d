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
from typing import NamedTuple

import numpy as np

from mlnotes._validation import all_finite as _all_finite
from mlnotes._validation import as_float_array

__all__ = [
    "Cache",
    "DivergenceError",
    "Params",
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


class DivergenceError(ValueError):
    """Training produced a non-finite loss.

    Attributes
    ----------
    step : int
        The (1-based) step whose mini-batch loss was NaN or infinite.
    history : dict
        The history recorded up to that step, so the curve can still be plotted.
    """

    def __init__(self, message: str, step: int, history: dict) -> None:
        super().__init__(message)
        self.step = step
        self.history = history


# --- input checks ---------------------------------------------------------------------


def _check_params(params: Params) -> None:
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
        if not (_all_finite(W) and _all_finite(b)):
            raise ValueError(f"params[{i}] contains NaN or infinite values.")
        prev_out = W.shape[0]


# --- the network ------------------------------------------------------------------------


def init_params(layer_sizes: Sequence[int], seed: int | None = None) -> Params:
    r"""Random parameters for a network with the given layer widths.

    The parameters :math:`W^{(l)}, b^{(l)}` of the network :eq:`dl-two-layer`
    (chapter 3), for any depth. ``W`` of layer :math:`l` is drawn from :math:`\mathcal N(0, 2/\text{in})` (He
    initialisation, :cite:`he2015`): with ReLU units this keeps the variance of the
    pre-activations roughly constant from layer to layer. Biases start at zero.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[d, h_1, ..., h_{f-1}, k]``: input width, hidden widths, output width; at
        least two entries, all positive.
    seed : int or None
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    list of (W, b)
        One pair per layer, ``W`` of shape ``(out, in)``, ``b`` of shape ``(out,)``.
    """
    sizes = list(layer_sizes) if not isinstance(layer_sizes, (str, bytes)) else None
    if sizes is None or len(sizes) < 2:
        raise ValueError(
            "layer_sizes must list at least the input and output widths, e.g. [64, 32, 10]; "
            f"got {layer_sizes!r}."
        )
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
            raise ValueError(f"layer widths must be positive integers; got {layer_sizes!r}.")
    rng = np.random.default_rng(seed)
    params: Params = []
    for n_in, n_out in itertools.pairwise(sizes):
        W = rng.standard_normal((int(n_out), int(n_in))) * math.sqrt(2.0 / n_in)
        params.append((W, np.zeros(int(n_out))))
    return params


def relu(z: np.ndarray) -> np.ndarray:
    r""":math:`\ReLU(z) = \max(z, 0)`, elementwise (chapter 4, :eq:`bp-two-layer`)."""
    return np.maximum(z, 0.0)


def relu_derivative(z: np.ndarray) -> np.ndarray:
    r""":math:`\ReLU'(z)`, elementwise: 1 where :math:`z > 0`, else 0 (also at 0, as in PyTorch).

    The :math:`\sigma'(z)` of :prf:ref:`bp-lemma-activation` for :math:`\sigma = \ReLU`;
    chapter 4 explains the choice at 0 (:numref:`fig-bp-relu`).
    """
    return (np.asarray(z) > 0).astype(np.float64)


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
    output : ndarray of shape (n, k)
    cache : Cache
        Every layer's input ``a`` and pre-activation ``z``, for :func:`backward`.
    """
    _check_params(params)
    X = as_float_array(X, "X", ndim=2)
    d = params[0][0].shape[1]
    if X.shape[1] != d:
        raise ValueError(
            f"X has {X.shape[1]} feature column(s) but the first layer expects {d} "
            f"(W of shape {params[0][0].shape})."
        )
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
    output, Y : ndarray of shape (n, k)
        Network outputs and targets, one example per row.
    """
    output = as_float_array(output, "output", ndim=2)
    Y = _check_targets(output, Y)
    r = output - Y
    return 0.5 * float(np.vdot(r, r)) / output.shape[0]


def loss_gradient(output: np.ndarray, Y: np.ndarray) -> np.ndarray:
    r""":math:`\partial J / \partial Z^{(f)} = (O - Y)/n`, the start of the backward pass (:eq:`bp-output-grad`).

    The :math:`\frac12` of the cost cancels the 2 of the square's derivative.
    """
    dz = np.subtract(output, Y)
    dz *= 1.0 / output.shape[0]
    return dz


def linear_backward_weights(dz: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Lemma 1 (:prf:ref:`bp-lemma-linear-weights`): gradients of the weights of :math:`z = Wa + b`.

    For one example :math:`\partial J/\partial W = (\partial J/\partial z)\, a^\T` and
    :math:`\partial J/\partial b = \partial J/\partial z`; for a batch with examples as
    rows the per-example terms add up, giving ``dz.T @ a`` and ``dz.sum(axis=0)``.

    Returns ``(dW, db)`` with the shapes of ``W`` and ``b``.
    """
    return dz.T @ a, dz.sum(axis=0)


def relu_backward(da: np.ndarray, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    r"""Lemma 2 (:prf:ref:`bp-lemma-activation`) for :math:`a = \ReLU(z)`: :math:`\partial J/\partial z = \partial J/\partial a \odot \ReLU'(z)`.

    ``ReLU'(z)`` is 1 where ``z > 0`` and 0 elsewhere (0 at ``z = 0``, as PyTorch).
    ``out`` (e.g. ``da`` itself, when it is no longer needed) receives the result and
    saves allocating a new array.
    """
    return np.multiply(da, z > 0, out=out)


def linear_backward_input(dz: np.ndarray, W: np.ndarray) -> np.ndarray:
    r"""Lemma 3 (:prf:ref:`bp-lemma-linear-input`): :math:`\partial J/\partial a = W^\T (\partial J/\partial z)`.

    With examples as rows the product is transposed, :math:`(W^\T dz^\T)^\T` = ``dz @ W``.
    """
    return dz @ W


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
        From ``forward(params, X)``.
    Y : ndarray of shape (n, k)
        Targets.

    Returns
    -------
    list of (dW, db)
        Matching ``params`` in length and shapes.
    """
    _check_params(params)
    if not isinstance(cache, Cache) or len(cache.z) != len(params):
        raise ValueError(
            "cache must be the second value returned by forward(params, X) for these params."
        )
    output = cache.z[-1]
    Y = _check_targets(output, Y)
    grads: Params = [None] * len(params)  # type: ignore[list-item]
    dz = loss_gradient(output, Y)
    for i in range(len(params) - 1, -1, -1):
        W = params[i][0]
        grads[i] = linear_backward_weights(dz, cache.a[i])
        if i > 0:
            da = linear_backward_input(dz, W)
            dz = relu_backward(da, cache.z[i - 1], out=da)  # da is ours: overwrite it
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
    seed: int | None = None,
    X_val: np.ndarray | None = None,
    Y_val: np.ndarray | None = None,
    eval_every: int | None = None,
    snapshot_steps: Sequence[int] = (),
) -> tuple[Params, dict]:
    r"""Mini-batch stochastic gradient descent (chapter 3, :eq:`dl-minibatch-step`).

    Each step takes the next ``batch_size`` examples of a random permutation of the
    training set (reshuffled every epoch), computes the average gradient over them with
    :func:`backward`, and moves every parameter by
    :math:`\theta \leftarrow \theta - \alpha \cdot \text{average gradient}`.
    ``batch_size = n`` is batch gradient descent; ``batch_size = 1`` is SGD.

    Parameters
    ----------
    params : list of (W, b)
        Starting point; not modified (the function works on copies).
    X, Y : ndarray
        Training inputs ``(n, d)`` and targets ``(n, k)``.
    learning_rate : float
        :math:`\alpha > 0`.
    batch_size : int
        :math:`B`, between 1 and ``n``.
    n_iter, n_epochs : int
        Give exactly one: the number of steps, or of passes through the data
        (``ceil(n / B)`` steps each; the last batch of an epoch may be smaller).
    seed : int or None
        Seed of the shuffling.
    X_val, Y_val : ndarray, optional
        Held-out data; its loss is recorded alongside the training loss.
    eval_every : int, optional
        Record the full training (and held-out) loss every this many steps, and at
        step 0 and the last step. Default: about 100 records.
    snapshot_steps : sequence of int
        Steps after which a copy of the parameters is stored (``0`` = the start).

    Returns
    -------
    params : list of (W, b)
        The trained parameters.
    history : dict
        ``"batch_loss"`` (the mini-batch loss before each step, length ``n_iter``),
        ``"step"`` (steps at which the full losses were recorded), ``"train_loss"``,
        ``"val_loss"`` (empty without held-out data), ``"snapshots"`` ({step: params}).

    Raises
    ------
    DivergenceError
        A :class:`ValueError` raised when a mini-batch loss becomes NaN or infinite;
        its message names the step, and it carries the history so far.
    ValueError
        For shapes that do not chain, non-finite data, or bad hyperparameters.
    """
    _check_params(params)
    X = as_float_array(X, "X", ndim=2)
    Y = as_float_array(Y, "Y", ndim=2)
    n = X.shape[0]
    if Y.shape[0] != n:
        raise ValueError(f"X has {n} rows but Y has {Y.shape[0]}; one target row per example.")
    d, k = params[0][0].shape[1], params[-1][0].shape[0]
    if X.shape[1] != d or Y.shape[1] != k:
        raise ValueError(
            f"the network maps {d} inputs to {k} outputs but X has {X.shape[1]} columns "
            f"and Y has {Y.shape[1]}."
        )
    has_val = X_val is not None or Y_val is not None
    if has_val:
        if X_val is None or Y_val is None:
            raise ValueError("give both X_val and Y_val, or neither.")
        X_val = as_float_array(X_val, "X_val", ndim=2)
        Y_val = as_float_array(Y_val, "Y_val", ndim=2)
        if X_val.shape[1] != d or Y_val.shape != (X_val.shape[0], k):
            raise ValueError(
                f"held-out data must have shapes (m, {d}) and (m, {k}); got "
                f"{X_val.shape} and {Y_val.shape}."
            )
    if not (
        isinstance(learning_rate, (int, float, np.floating))
        and math.isfinite(learning_rate)
        and learning_rate > 0
    ):
        raise ValueError(f"learning_rate must be a positive number; got {learning_rate!r}.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or not (
        1 <= batch_size <= n
    ):
        raise ValueError(f"batch_size must be an integer between 1 and n = {n}; got {batch_size!r}.")
    steps_per_epoch = -(-n // int(batch_size))
    if (n_iter is None) == (n_epochs is None):
        raise ValueError("give exactly one of n_iter and n_epochs.")
    count = n_iter if n_iter is not None else n_epochs
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"n_iter / n_epochs must be a positive integer; got {count!r}.")
    total = int(n_iter) if n_iter is not None else int(n_epochs) * steps_per_epoch
    if eval_every is None:
        eval_every = max(1, total // 100)
    elif isinstance(eval_every, bool) or not isinstance(eval_every, (int, np.integer)) or eval_every < 1:
        raise ValueError(f"eval_every must be a positive integer; got {eval_every!r}.")
    snap = {int(s) for s in snapshot_steps}

    rng = np.random.default_rng(seed)
    params = [(W.astype(np.float64, copy=True), b.astype(np.float64, copy=True)) for W, b in params]
    history: dict = {
        "batch_loss": [],
        "step": [],
        "train_loss": [],
        "val_loss": [],
        "snapshots": {},
    }

    def record(step: int) -> None:
        history["step"].append(step)
        history["train_loss"].append(loss(forward(params, X)[0], Y))
        if has_val:
            history["val_loss"].append(loss(forward(params, X_val)[0], Y_val))

    def snapshot(step: int) -> None:
        if step in snap:
            history["snapshots"][step] = [(W.copy(), b.copy()) for W, b in params]

    def diverged(step: int, what: str) -> DivergenceError:
        return DivergenceError(
            f"the {what} became non-finite at step {step} of {total}; the learning rate "
            f"{learning_rate} is probably too large (try a smaller one).",
            step,
            history,
        )

    record(0)
    snapshot(0)
    order = rng.permutation(n)
    pos = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(1, total + 1):
            if pos >= n:
                order = rng.permutation(n)
                pos = 0
            idx = order[pos : pos + batch_size]
            pos += batch_size
            xb, yb = X[idx], Y[idx]
            try:
                out, cache = forward(params, xb)
            except ValueError as err:  # the previous update overflowed a parameter
                raise diverged(step, "parameters") from err
            r = out - yb
            batch_loss = 0.5 * float(np.vdot(r, r)) / out.shape[0]
            history["batch_loss"].append(batch_loss)
            if not math.isfinite(batch_loss):
                raise diverged(step, f"mini-batch loss ({batch_loss})")
            grads = backward(params, cache, yb)
            for (W, b), (dW, db) in zip(params, grads, strict=True):
                W -= learning_rate * dW
                b -= learning_rate * db
            if step % eval_every == 0 or step == total:
                try:
                    record(step)
                except ValueError as err:
                    raise diverged(step, "parameters") from err
            snapshot(step)
    for key in ("batch_loss", "train_loss", "val_loss"):
        history[key] = np.asarray(history[key])
    history["step"] = np.asarray(history["step"], dtype=int)
    return params, history
