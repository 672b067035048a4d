"""A multilayer perceptron in numpy: forward pass, backpropagation, mini-batch SGD.

Chapter 4 (``chapters/04_backpropagation.ipynb``) derives everything here; chapter 3
(``chapters/03_deep_learning.ipynb``) trains it. The functions follow chapter 4's names
and order: the network (:func:`init_params`, :func:`forward`), the elementwise
activations and their derivatives (:func:`relu`, :func:`sigmoid`, :func:`tanh_derivative`
...), the costs (:func:`loss`, :func:`loss_gradient`, with :func:`softmax` and
:func:`log_softmax` for the cross-entropy), the three lemmas
(:func:`linear_backward_weights` for Lemma 1, :func:`relu_backward` for Lemma 2,
:func:`linear_backward_input` for Lemma 3), the backward pass built from them
(:func:`backward`), and finally chapter 3's training loop (:func:`train`).

Conventions (chapter 4, :eq:`bp-batched`): examples are rows, ``X`` has shape
``(n, d)``; a layer keeps the book's shapes, ``W`` is ``(out, in)`` and ``b`` is
``(out,)``, so the batched pre-activation is ``Z = A @ W.T + b``. Hidden layers apply
one elementwise ``activation`` (``"relu"``, ``"sigmoid"``, ``"tanh"`` or
``"identity"``); the output layer is affine. Two costs (``loss``): ``"squared"``,
:math:`J = \\frac1n \\sum_i \\frac12 \\lVert h_\\theta(x^{(i)}) - y^{(i)} \\rVert^2`, and
``"cross_entropy"``, the mean softmax cross-entropy of the outputs read as logits.
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
    "ACTIVATIONS",
    "LOSSES",
    "Cache",
    "DivergenceError",
    "Params",
    "TrainResult",
    "backward",
    "forward",
    "init_params",
    "linear_backward_input",
    "linear_backward_weights",
    "log_softmax",
    "loss",
    "loss_gradient",
    "relu",
    "relu_backward",
    "relu_derivative",
    "sigmoid",
    "sigmoid_derivative",
    "softmax",
    "tanh_derivative",
    "train",
]

Params = list[tuple[np.ndarray, np.ndarray]]

#: The hidden-layer activations :func:`forward` knows (chapter 4, :ref:`bp-section-local-rules`).
ACTIVATIONS = ("relu", "sigmoid", "tanh", "identity")
#: The costs :func:`loss` knows: chapter 3's squared error and the softmax cross-entropy.
LOSSES = ("squared", "cross_entropy")


class _Origin:
    """forward's record of what it checked: the activation, params and cache arrays.

    :func:`backward` trusts a cache whose arrays, activation and params are still the
    very objects that :func:`forward` checked (the cache's arrays are read-only), and
    checks any other cache in full.
    """

    __slots__ = ("a", "activation", "params", "squares", "z")

    def __init__(self, cache, params, squares):
        self.activation = cache.activation
        self.params = tuple(params)
        self.a = tuple(cache.a)
        self.z = tuple(cache.z)
        self.squares = squares  # sums of squares of every W, X, every z (or None)


class _CacheFields(NamedTuple):
    a: list[np.ndarray]
    z: list[np.ndarray]
    activation: str = "relu"


class Cache(_CacheFields):
    """What the forward pass keeps for the backward pass: ``Cache(a, z, activation)``.

    ``a[l]`` is the input of layer ``l`` (so ``a[0]`` is ``X``) and ``z[l]`` its
    pre-activation, both with examples as rows; ``z[-1]`` is the output.
    ``activation`` names the hidden layers' activation, so that :func:`backward`
    applies its derivative (:prf:ref:`bp-lemma-activation`). The arrays :func:`forward`
    creates are read-only, and it records (privately) what it checked, so that
    :func:`backward` need not check it again; a cache built or changed by hand
    (``Cache(a, z, ...)``, ``cache._replace(...)``) is checked in full, including
    ``a[l] = activation(z[l-1])``. A cache holds for the params it was computed
    with: :func:`backward` refuses it with other params.
    """

    # no __slots__: an instance has a __dict__, where forward puts its private record
    # (``_origin``); tuple equality, ``_replace`` and ``Cache(a, z)`` ignore it, and so
    # do copies and pickles (whose arrays are writeable again): they are checked in full.

    def __reduce__(self):
        return (Cache, tuple(self))


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
# The checks run once per public call and cost about as much as the arithmetic of a
# small network, so they are written for speed without giving anything up: a float64
# ndarray passes through without a copy, and finiteness is one dot product per array
# (the sum of squares is NaN or infinite if an entry is, and when it is not finite the
# slow exact check decides, since large finite entries can overflow the squares).


def _finite(*arrays: np.ndarray) -> bool:
    """Whether every entry of these float arrays is finite."""
    total = 0.0
    for arr in arrays:
        if arr.dtype == np.float64:
            total += np.vdot(arr, arr)
        elif arr.dtype.kind not in "biu":  # other floats: the exact check below
            total = math.nan
    if math.isfinite(total):
        return True
    return all(_all_finite(arr) for arr in arrays)  # a NaN or inf, or big squares


def _sums_of_squares(*arrays: np.ndarray) -> list[float] | None:
    """Each array's sum of squares (NaN or inf if an entry is, or if the squares
    overflow), or None if one of them is not float64."""
    if not all(arr.dtype == np.float64 for arr in arrays):
        return None
    return [float(np.vdot(arr, arr)) for arr in arrays]


def _matrix(X: object, name: str) -> np.ndarray:
    """``X`` as a finite (n, d) float64 array; a float64 ndarray is returned as it is."""
    if (
        type(X) is np.ndarray
        and X.dtype == np.float64
        and X.ndim == 2
        and X.size
        and _finite(X)
    ):
        return X
    return as_float_array(X, name, ndim=2)  # converts, or raises the message naming X


def _choice(value: object, name: str, choices: tuple[str, ...]) -> str:
    if not (isinstance(value, str) and value in choices):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}.")
    return value


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
        if W.dtype.kind not in "fiu" or b.dtype.kind not in "fiu":
            what, arr = ("W", W) if W.dtype.kind not in "fiu" else ("b", b)
            raise ValueError(
                f"params[{i}]: {what} must be a real float array; got dtype {arr.dtype}."
            )
        shape = W.shape
        if len(shape) != 2 or b.shape != shape[:1]:
            raise ValueError(
                f"params[{i}]: W must have shape (out, in) and b shape (out,); got W "
                f"{W.shape} and b {b.shape}."
            )
        if prev_out is not None and shape[1] != prev_out:
            raise ValueError(
                f"params[{i}]: W has {shape[1]} input columns but layer {i - 1} has "
                f"{prev_out} outputs; consecutive layers must chain."
            )
        prev_out = shape[0]
    if finite and not _finite(*(arr for layer in params for arr in layer)):
        for i, (W, b) in enumerate(params):
            if not (_all_finite(W) and _all_finite(b)):
                raise ValueError(f"params[{i}] contains NaN or infinite values.")


# --- the network ------------------------------------------------------------------------


def init_params(
    layer_sizes: Sequence[int],
    seed: int | np.random.Generator | None = None,
    *,
    gain: float | None = None,
) -> Params:
    r"""Random parameters for a network with the given layer widths.

    The parameters :math:`W^{(l)}, b^{(l)}` of the network :eq:`dl-two-layer`
    (chapter 3), for any depth. ``W`` of layer :math:`l` is drawn from
    :math:`\mathcal N(0, 2/\text{in})` (He initialisation, :cite:`he2015`): with ReLU
    units this keeps the variance of the pre-activations roughly constant from layer
    to layer. Biases start at zero.

    Parameters
    ----------
    layer_sizes : sequence of int
        ``[d, h_1, ..., h_{f-1}, m]``: input width, hidden widths, output width; at
        least two entries, all positive.
    seed : None, int or numpy Generator
        Seeds the draw of the weights.
    gain : float, optional
        Draw ``W`` from :math:`\mathcal N(0, \text{gain}^2/\text{in})` instead, for
        experiments with the scale (``gain = 1`` is LeCun's initialisation, a small
        gain makes deep signals and gradients vanish). The default, ``None``, is He
        initialisation, :math:`\text{gain} = \sqrt 2`, with exactly the draws of
        earlier versions. The same seed gives the same standard normal draws for every
        gain, so networks that differ only in ``gain`` are rescaled copies.

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
    if gain is not None:
        gain = _real_number(gain, "gain", low=0.0, low_open=True, high=1e6)
    rng = as_rng(seed)
    params: Params = []
    for n_in, n_out in itertools.pairwise(sizes):
        std = math.sqrt(2.0 / n_in) if gain is None else gain * math.sqrt(1.0 / n_in)
        W = rng.standard_normal((int(n_out), int(n_in))) * std
        params.append((W, np.zeros(int(n_out))))
    return params


# --- elementwise activations and their derivatives -----------------------------------------


def relu(z: np.ndarray) -> np.ndarray:
    r""":math:`\ReLU(z) = \max(z, 0)`, elementwise (chapter 4, :eq:`bp-two-layer`)."""
    return np.maximum(as_float_array(z, "z"), 0.0)


def relu_derivative(z: np.ndarray) -> np.ndarray:
    r""":math:`\ReLU'(z)`, elementwise: 1 where :math:`z > 0`, else 0 (also at 0, as in PyTorch).

    The :math:`\sigma'(z)` of :prf:ref:`bp-lemma-activation` for :math:`\sigma = \ReLU`;
    chapter 4 explains the choice at 0 (:numref:`fig-bp-relu`).
    """
    return (as_float_array(z, "z") > 0).astype(np.float64)


def sigmoid(z: np.ndarray) -> np.ndarray:
    r"""The logistic sigmoid :math:`\sigma(z) = 1/(1 + e^{-z})`, elementwise (:eq:`bp-sigmoid-derivative`).

    Computed as :math:`1/(1 + t)` for :math:`z \ge 0` and :math:`t/(1 + t)` for
    :math:`z < 0`, with :math:`t = e^{-|z|} \le 1`, so that no exponential overflows:
    the result lies in :math:`[0, 1]` for every finite ``z`` (it rounds to 0 or 1 for
    :math:`|z|` beyond about 37 and 745).
    """
    return _sigmoid(as_float_array(z, "z"))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    t = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0, t) / (1.0 + t)


def sigmoid_derivative(z: np.ndarray) -> np.ndarray:
    r""":math:`\sigma'(z) = \sigma(z)\,(1 - \sigma(z))`, elementwise (:eq:`bp-sigmoid-derivative`).

    Computed as :math:`t/(1 + t)^2` with :math:`t = e^{-|z|}` (the same number, since
    :math:`\sigma'` is even), which keeps full relative precision in the tails where
    :math:`1 - \sigma(z)` would cancel.
    """
    return _sigmoid_derivative(as_float_array(z, "z"))


def _sigmoid_derivative(z: np.ndarray) -> np.ndarray:
    t = np.exp(-np.abs(z))
    u = 1.0 + t
    return t / (u * u)


def tanh_derivative(z: np.ndarray) -> np.ndarray:
    r""":math:`\tanh'(z) = 1 - \tanh^2(z)`, elementwise (:eq:`bp-tanh-derivative`).

    Computed as :math:`4t/(1 + t)^2` with :math:`t = e^{-2|z|}` (that is
    :math:`1/\cosh^2 z`), which keeps full relative precision where :math:`\tanh^2 z`
    is close to 1.
    """
    return _tanh_derivative(as_float_array(z, "z"))


def _tanh_derivative(z: np.ndarray) -> np.ndarray:
    t = np.exp(-np.abs(z))
    t *= t  # e^(-2|z|), without computing 2|z| (which overflows beyond 9e307)
    u = 1.0 + t
    return 4.0 * t / (u * u)


def _activate(z: np.ndarray, activation: str) -> np.ndarray:
    """The hidden layer's output ``a = activation(z)`` (the same array for identity)."""
    if activation == "relu":
        return np.maximum(z, 0.0)
    if activation == "tanh":
        return np.tanh(z)
    if activation == "sigmoid":
        return _sigmoid(z)
    return z


def _activation_backward(da: np.ndarray, z: np.ndarray, activation: str, out=None):
    """Lemma 2: ``da * activation'(z)``, into ``out`` if given (relu)."""
    if activation == "relu":
        return _relu_backward(da, z, out)
    if activation == "identity":
        return da
    deriv = _tanh_derivative(z) if activation == "tanh" else _sigmoid_derivative(z)
    deriv *= da
    return deriv


# --- the forward pass ---------------------------------------------------------------------


def forward(
    params: Params, X: np.ndarray, *, activation: str = "relu"
) -> tuple[np.ndarray, Cache]:
    r"""The forward pass, keeping every layer's input and pre-activation.

    Layer :math:`l` computes :math:`Z^{(l)} = A^{(l-1)} W^{(l)\T} + b^{(l)}` (the batched
    form :eq:`bp-batched` of :eq:`bp-two-layer`), then
    :math:`A^{(l)} = \sigma(Z^{(l)})` for every layer but the last, which is affine:
    the output is :math:`Z^{(f)}` (the logits, for the cross-entropy).

    Parameters
    ----------
    params : list of (W, b)
        As from :func:`init_params`.
    X : ndarray of shape (n, d)
        Inputs, one example per row; ``d`` must equal the first layer's input width.
    activation : {"relu", "sigmoid", "tanh", "identity"}, default "relu"
        The hidden layers' :math:`\sigma` (:ref:`bp-section-local-rules`).

    Returns
    -------
    output : ndarray of shape (n, m)
    cache : Cache
        Every layer's input ``a`` and pre-activation ``z`` (read-only arrays) and the
        activation, for :func:`backward`.

    Raises
    ------
    ValueError
        Params that do not chain or are not finite real arrays, ``X`` of the wrong
        width, an unknown ``activation``, or activations that overflow float64.
    """
    activation = _choice(activation, "activation", ACTIVATIONS)
    _check_params(params, finite=False)
    if not (type(X) is np.ndarray and X.dtype == np.float64 and X.ndim == 2 and X.size):
        X = as_float_array(X, "X", ndim=2)  # converts and checks, or raises naming X
    d = params[0][0].shape[1]
    if X.shape[1] != d:
        raise ValueError(
            f"X has {X.shape[1]} feature column(s) but the first layer expects {d} "
            f"(W of shape {params[0][0].shape})."
        )
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below
        output, a_list, z_list = _forward_arrays(params, X, activation)
    # One finiteness pass over the weights, X and every z (a hidden overflow can hide
    # behind ReLU or a saturated sigmoid; a NaN or inf in b shows in z = a W^T + b);
    # if it fails, find the culprit and name it. The pass is a sum of squares per
    # array, which backward uses to bound its gradients (_gradient_bounds).
    flat = [arr for layer in params for arr in layer]
    squares = _sums_of_squares(*flat[::2], X, *z_list)
    if not (squares and math.isfinite(sum(squares))) and not _finite(*flat, X, *z_list):
        _check_params(params)  # names params[i] if it holds NaN or inf
        as_float_array(X, "X", ndim=2)  # names X
        raise ValueError(f"the forward pass overflows float64. {_OVERFLOW_HINT}")
    for arr in itertools.chain(a_list[1:], z_list):
        arr.flags.writeable = False
    cache = Cache(a_list, z_list, activation)
    cache._origin = _Origin(cache, flat, squares)
    return output, cache


_OVERFLOW_HINT = (
    "params or X are too large: rescale X (standardise its columns) or start from "
    "smaller weights (init_params)."
)


def _forward_arrays(params: Params, X: np.ndarray, activation: str):
    """The forward pass on checked arrays: (output, inputs a, pre-activations z)."""
    a_list = [X]
    z_list = []
    a = X
    last = len(params) - 1
    for i, (W, b) in enumerate(params):
        z = a @ W.T
        z += b
        z_list.append(z)
        if i < last:
            a = _activate(z, activation)
            a_list.append(a)
    return z_list[-1], a_list, z_list


def _forward(params: Params, X: np.ndarray, activation: str = "relu") -> tuple[np.ndarray, Cache]:
    """The forward pass of :func:`forward` on checked arrays."""
    output, a_list, z_list = _forward_arrays(params, X, activation)
    return output, Cache(a_list, z_list, activation)


# --- the costs ------------------------------------------------------------------------------


def softmax(z: np.ndarray) -> np.ndarray:
    r"""The softmax :math:`p_k = e^{z_k} / \sum_j e^{z_j}` of each row (:eq:`bp-cross-entropy`).

    ``z`` is a vector ``(k,)`` or a batch ``(n, k)`` of logits, one row per example;
    the softmax is taken along the last axis. The row's maximum is subtracted first
    (:math:`p` does not change, :eq:`bp-log-softmax`), so no exponential overflows:
    the result is finite, non-negative and its rows sum to 1 for any finite ``z``.
    """
    z = _logits(z)
    with np.errstate(over="ignore"):  # z - max beyond float64 is -inf: e^-inf = 0, right
        return _softmax(z)


def log_softmax(z: np.ndarray) -> np.ndarray:
    r""":math:`\log p_k = z_k - \log\sum_j e^{z_j}` for each row, by the log-sum-exp trick (:eq:`bp-log-softmax`).

    ``z`` is a vector ``(k,)`` or a batch ``(n, k)``; along the last axis,
    :math:`\log p_k = (z_k - \mu) - \log\sum_j e^{z_j - \mu}` with :math:`\mu` the row's
    maximum: every exponent is at most 0 and the sum lies in :math:`[1, k]`, so the
    result is finite for any finite ``z`` (except where :math:`z_k - \mu` itself
    exceeds the float64 range, below about :math:`-1.8\times 10^{308}`, which is
    refused).
    """
    z = _logits(z)
    with np.errstate(over="ignore", invalid="ignore"):
        out = _log_softmax(z)
    return finite_result(out, "log_softmax(z)", "the logits of a row are spread wider "
                         "than float64 can hold: rescale z.")


def _logits(z: object) -> np.ndarray:
    z = as_float_array(z, "z")
    if z.ndim not in (1, 2):
        raise ValueError(
            f"z must be a vector (k,) or a batch (n, k) of logits; got shape {z.shape}."
        )
    return z


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.subtract(z, z.max(axis=-1, keepdims=True))
    np.exp(e, out=e)
    e /= e.sum(axis=-1, keepdims=True)
    return e


def _log_softmax(z: np.ndarray) -> np.ndarray:
    """z - max - log sum exp(z - max), row-wise. The sum is 1 (the largest entry) plus
    the rest; log1p of the rest keeps a rest below eps, which is the whole loss of a
    near-perfect fit (log(1 + 1e-36) would round to 0)."""
    top = np.expand_dims(z.argmax(axis=-1), -1)
    s = np.subtract(z, np.take_along_axis(z, top, axis=-1))
    rest = np.exp(s)
    np.put_along_axis(rest, top, 0.0, axis=-1)
    s -= np.log1p(rest.sum(axis=-1, keepdims=True))
    return s


def _check_targets(output: np.ndarray, Y: object, loss: str = "squared") -> np.ndarray:
    Y = _matrix(Y, "Y")
    if Y.shape != output.shape:
        raise ValueError(
            f"Y has shape {Y.shape} but the network output has shape {output.shape}; "
            "they must match (one row per example, one column per output unit; "
            "use one-hot rows for classes)."
        )
    if loss == "cross_entropy":
        Y = _probability_rows(Y)
    return Y


def _probability_rows(Y: np.ndarray, name: str = "Y") -> np.ndarray:
    """Y's rows as probability vectors (one-hot for hard labels), renormalised exactly;
    ``name`` is the argument the error messages name."""
    if (Y < 0).any():
        i = int(np.argwhere(Y < 0)[0, 0])
        raise ValueError(
            f"{name} must hold one probability row per example for loss='cross_entropy' "
            f"(one-hot rows for class labels); row {i} has a negative entry."
        )
    sums = Y.sum(axis=1)
    if (sums == 1.0).all():
        return Y
    tol = max(1e-8, 4 * Y.shape[1] * np.finfo(np.float64).eps)
    bad = np.flatnonzero(np.abs(sums - 1.0) > tol)
    if bad.size:
        raise ValueError(
            f"{name} must hold one probability row per example for loss='cross_entropy' "
            f"(one-hot rows for class labels); row {int(bad[0])} sums to "
            f"{sums[bad[0]]:.12g}, not 1."
        )
    return Y / sums[:, None]


def loss(output: np.ndarray, Y: np.ndarray, *, loss: str = "squared") -> float:
    r"""The cost of a batch: squared error (chapter 3, :eq:`dl-cost`) or softmax cross-entropy (:eq:`bp-cross-entropy`).

    ``loss="squared"``: :math:`J = \frac1n\sum_i \frac12\lVert o^{(i)} - y^{(i)}\rVert^2`.

    ``loss="cross_entropy"``: the outputs are logits :math:`z^{(i)}` of :math:`k`
    classes and :math:`J = -\frac1n \sum_i \sum_k y^{(i)}_k \log\operatorname{softmax}
    (z^{(i)})_k`, computed with :func:`log_softmax` (the log-sum-exp trick), so that it
    stays finite for logits as large as :math:`\pm 10^{300}`. Terms with
    :math:`y_k = 0` contribute 0, whatever the logit.

    Parameters
    ----------
    output, Y : ndarray of shape (n, m)
        Network outputs and targets, one example per row. For the cross-entropy every
        row of ``Y`` must be a probability vector: entries :math:`\ge 0` summing to 1
        (to within ``max(1e-8, 4 m eps)``; such rows are renormalised exactly), one-hot
        rows for class labels.
    loss : {"squared", "cross_entropy"}, default "squared"

    Raises
    ------
    ValueError
        Shapes that differ, non-finite values, an unknown ``loss``, rows of ``Y`` that
        are not probability vectors (cross-entropy), or a cost that overflows float64.
    """
    kind = _choice(loss, "loss", LOSSES)
    output = _matrix(output, "output")
    Y = _check_targets(output, Y, kind)
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below
        J = _loss(output, Y, kind)
    return finite_result(J, "the cost", "output and Y are too far apart: rescale them.")


def _loss(output: np.ndarray, Y: np.ndarray, loss: str = "squared") -> float:
    if loss == "cross_entropy":
        return _cross_entropy(output, Y)
    r = output - Y
    return 0.5 * float(np.vdot(r, r)) / output.shape[0]


def _cross_entropy(z: np.ndarray, Y: np.ndarray) -> float:
    """-(1/n) sum Y * log_softmax(z), skipping y = 0 (whose log p may be -inf)."""
    log_p = _log_softmax(z)
    terms = np.multiply(Y, log_p, out=np.zeros_like(log_p), where=Y != 0)
    return 0.0 - float(terms.sum()) / z.shape[0]  # 0.0, not -0.0, for a perfect fit


def loss_gradient(output: np.ndarray, Y: np.ndarray, *, loss: str = "squared") -> np.ndarray:
    r""":math:`\partial J / \partial Z^{(f)}`, the start of the backward pass (:eq:`bp-output-grad`, :eq:`bp-cross-entropy-grad`).

    ``loss="squared"``: :math:`(O - Y)/n`; the :math:`\frac12` of the cost cancels the
    2 of the square's derivative. ``loss="cross_entropy"``:
    :math:`(\operatorname{softmax}(Z) - Y)/n`, row-wise softmax, for probability rows
    ``Y`` (as :func:`loss`). ``output`` and ``Y`` must have the same shape ``(n, m)``.
    """
    kind = _choice(loss, "loss", LOSSES)
    output = _matrix(output, "output")
    Y = _check_targets(output, Y, kind)
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below
        dz = _loss_gradient(output, Y, kind)
    return finite_result(dz, "output - Y", "output and Y are too far apart: rescale them.")


def _loss_gradient(output: np.ndarray, Y: np.ndarray, loss: str = "squared") -> np.ndarray:
    if loss == "cross_entropy":
        dz = _softmax(output)
        dz -= Y
    else:
        dz = np.subtract(output, Y)
    dz *= 1.0 / output.shape[0]
    return dz


# --- the three lemmas -----------------------------------------------------------------------


def _batch(name: str, arr: object, width: int | None = None) -> np.ndarray:
    """A checked (n, width) float array for the lemma helpers."""
    arr = _matrix(arr, name)
    if width is not None and arr.shape[1] != width:
        raise ValueError(f"{name} must have {width} columns; got shape {arr.shape}.")
    return arr


def _same_rows(**arrays: np.ndarray) -> None:
    rows = {name: a.shape[0] for name, a in arrays.items()}
    if len(set(rows.values())) != 1:
        raise ValueError(f"the arrays must have one row per example, the same n; got {rows}.")


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


# --- the backward pass ------------------------------------------------------------------------

_CACHE_HINT = "cache must be the second value returned by forward(params, X) for these params"


def _proven(params: Params, cache: object) -> bool:
    """Whether ``cache`` is, untouched, forward's cache for these very params."""
    origin = getattr(cache, "_origin", None) if type(cache) is Cache else None
    if type(origin) is not _Origin or origin.activation != cache.activation:
        return False
    flat = origin.params
    if (
        type(params) not in (list, tuple)
        or len(flat) != 2 * len(params)
        or len(cache.a) != len(origin.a)
        or len(cache.z) != len(origin.z)
    ):
        return False
    k = 0
    for layer in params:  # the very arrays forward checked (so their structure too)
        if type(layer) not in (list, tuple) or len(layer) != 2:
            return False
        if layer[0] is not flat[k] or layer[1] is not flat[k + 1]:
            return False
        k += 2
    for x, y in zip(cache.a, origin.a, strict=True):
        if x is not y:
            return False
    for x, y in zip(cache.z, origin.z, strict=True):
        if x is not y:
            return False
    return True


def _check_cache(params: Params, cache: object) -> None:
    """A cache not proven by forward: everything is checked, values included."""
    if not isinstance(cache, Cache) or not all(
        isinstance(lst, (list, tuple)) and len(lst) == len(params) for lst in (cache.a, cache.z)
    ):
        raise ValueError(f"{_CACHE_HINT}; it has the wrong number of layers.")
    activation = cache.activation
    if not (isinstance(activation, str) and activation in ACTIVATIONS):
        raise ValueError(
            f"{_CACHE_HINT}: its activation {activation!r} is none of {ACTIVATIONS}."
        )
    _check_params(params)  # the cache is only meaningful for finite params
    a0 = cache.a[0]
    n = a0.shape[0] if isinstance(a0, np.ndarray) and a0.ndim == 2 else -1
    for i, (W, _) in enumerate(params):
        a, z = cache.a[i], cache.z[i]
        if not (isinstance(a, np.ndarray) and isinstance(z, np.ndarray)):
            raise ValueError(f"{_CACHE_HINT}; layer {i} holds no arrays.")
        if a.dtype.kind != "f" or z.dtype.kind != "f":
            raise ValueError(
                f"{_CACHE_HINT}; layer {i} holds {a.dtype}/{z.dtype} arrays, not float."
            )
        if a.shape != (n, W.shape[1]) or z.shape != (n, W.shape[0]):
            raise ValueError(
                f"{_CACHE_HINT}: layer {i} has W of shape {W.shape} but the cache holds an "
                f"input of shape {a.shape} and a pre-activation of shape {z.shape}; it "
                "belongs to another network or batch."
            )
        if not (_all_finite(z) and _all_finite(a)):  # NaN would read as an inactive ReLU
            raise ValueError(f"{_CACHE_HINT}; its values of layer {i} are not finite.")
    origin = getattr(cache, "_origin", None)
    if isinstance(origin, _Origin) and len(origin.params) == 2 * len(params):
        flat = [arr for layer in params for arr in layer]
        for k, (mine, theirs) in enumerate(zip(flat, origin.params, strict=True)):
            if mine is not theirs and not np.array_equal(mine, theirs):
                raise ValueError(
                    f"{_CACHE_HINT}: it was computed with other params (params[{k // 2}] "
                    "differs); call forward(params, X) again."
                )
    for i in range(1, len(params)):  # a[i] must be activation(z[i-1]) (float32 allowed)
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            expected = _activate(np.asarray(cache.z[i - 1], dtype=np.float64), activation)
            ok = np.abs(cache.a[i] - expected) <= 1e-6 * np.abs(expected) + 1e-300
        if not ok.all():
            raise ValueError(
                f"{_CACHE_HINT}: its a[{i}] is not {activation}(z[{i - 1}]); it belongs to "
                "another activation or was changed."
            )


def _gradient_bounds(squares: list[float], z_list: list, activation: str, dz_squares: float):
    """Squares of bounds on the backward pass, from forward's sums of squares (of every
    layer's W, X, every layer's z) and that of the output gradient dz: for each layer
    from the last down, on every entry of dW and of db, then on the norm of dA.

    With |.| the Frobenius norm: by Cauchy-Schwarz, every entry of dW = dZ^T A
    (Lemma 1), and every partial sum of it, is at most |dZ| |A|, and of db at most
    sqrt(n) |dZ|; dA = dZ W (Lemma 3) has |dA| <= |dZ| |W|, which bounds the layer
    below's |dZ| too, as every activation's derivative is at most 1 (Lemma 2); the
    bound on dA is doubled for rounding. |A| is |X| for the first layer, then at most
    |Z| of the layer before (|relu(z)|, |tanh(z)| <= |z|), or sqrt(size) for a
    sigmoid or tanh (outputs at most 1 in size).
    """
    layers = len(z_list)
    a2 = [squares[layers]]  # |A|^2 of each layer
    for z, z2 in zip(z_list[:-1], squares[layers + 1 : -1], strict=True):
        if activation == "sigmoid":
            z2 = z.size
        elif activation == "tanh":
            z2 = min(z2, z.size)
        a2.append(z2)
    g2, n, bounds = dz_squares, z_list[0].shape[0], []
    for i in range(layers - 1, -1, -1):
        bounds += (g2 * a2[i], g2 * n)  # dW and db
        if i:
            g2 *= 4.0 * squares[i]  # dA, then the layer below's dZ
            bounds.append(g2)
    return bounds


def _bounded(cache: Cache, dz: np.ndarray) -> bool:
    """Whether the gradients of forward's cache from the output gradient ``dz``
    provably cannot overflow (every bound is below 1e150: its square, as
    :func:`_gradient_bounds` returns it, below 1e300), and so need no finiteness scan. ``dz`` is not finite if ``Y`` is not, as
    the output is finite. A bound that overflows, or is NaN, fails."""
    squares = cache._origin.squares
    if squares is None:  # forward had params that are not float64
        return False
    bounds = _gradient_bounds(squares, cache.z, cache.activation, float(np.vdot(dz, dz)))
    return all(b < 1e300 for b in bounds)  # NaN compares False


def backward(
    params: Params, cache: Cache, Y: np.ndarray, *, loss: str = "squared"
) -> Params:
    r"""Backpropagation: the gradient of :func:`loss` with respect to every parameter.

    Implements chapter 4's algorithm (:prf:ref:`bp-algorithm`): start from
    :func:`loss_gradient`, then for each layer from the last down apply Lemma 1
    (:func:`linear_backward_weights`), Lemma 3 (:func:`linear_backward_input`) and
    Lemma 2 with the derivative of the cache's activation (:func:`relu_backward` for
    ReLU; :func:`sigmoid_derivative`, :func:`tanh_derivative`), reusing the forward
    pass's values in ``cache``.

    Parameters
    ----------
    params : list of (W, b)
    cache : Cache
        From ``forward(params, X, activation=...)``; it carries the activation. A
        cache from other params, another network or batch, or whose ``a`` is not the
        activation of its ``z`` is refused.
    Y : ndarray of shape (n, m)
        Targets (probability rows for the cross-entropy, as :func:`loss`).
    loss : {"squared", "cross_entropy"}, default "squared"
        The cost to differentiate; its gradient with respect to the output is
        :func:`loss_gradient`.

    Returns
    -------
    list of (dW, db)
        Matching ``params`` in length and shapes.
    """
    kind = _choice(loss, "loss", LOSSES)
    # A cache that forward made for these params (same objects, read-only arrays) was
    # checked there, params included; any other cache is checked in full. The targets
    # and the gradients (which may overflow) are checked in one pass at the end.
    proven = _proven(params, cache)
    if not proven:
        _check_params(params, finite=False)
        _check_cache(params, cache)
    output = cache.z[-1]
    if kind == "squared" and type(Y) is np.ndarray and Y.dtype == np.float64:
        if Y.shape != output.shape:
            _check_targets(output, Y)  # raises, naming the shapes
        late = True
    else:
        Y, late = _check_targets(output, Y, kind), False
    with np.errstate(over="ignore", invalid="ignore"):  # reported just below
        dz = _loss_gradient(output, Y, kind)
        grads = _backward_from(params, cache, dz)
    # Forward's norms bound the gradients (then the small dz decides); otherwise the
    # gradients (and Y, if not checked yet) are scanned.
    if not (proven and _bounded(cache, dz)) and not _finite(
        *((Y,) if late else ()), *(g for pair in grads for g in pair)
    ):
        if late:
            _check_targets(output, Y)  # names Y if it is not finite
        raise ValueError(
            "the gradient is not finite: the cache holds NaN or inf (it must come from "
            f"forward), or the gradient overflows float64. {_OVERFLOW_HINT}"
        )
    return grads


def _backward(params: Params, cache: Cache, Y: np.ndarray, loss: str = "squared") -> Params:
    """The backward pass of :func:`backward` on checked arguments (the lemma kernels)."""
    return _backward_from(params, cache, _loss_gradient(cache.z[-1], Y, loss))


def _backward_from(params: Params, cache: Cache, dz: np.ndarray) -> Params:
    """The backward pass from the output gradient ``dz`` (:func:`_loss_gradient`)."""
    activation = cache.activation
    grads: Params = [None] * len(params)  # type: ignore[list-item]
    for i in range(len(params) - 1, -1, -1):
        grads[i] = _linear_backward_weights(dz, cache.a[i])  # Lemma 1
        if i > 0:
            da = _linear_backward_input(dz, params[i][0])  # Lemma 3
            dz = _activation_backward(da, cache.z[i - 1], activation, out=da)  # Lemma 2
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
    activation: str = "relu",
    loss: str = "squared",
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
        Training inputs ``(n, d)`` and targets ``(n, m)`` (probability rows, one-hot
        for class labels, for the cross-entropy).
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
    activation : {"relu", "sigmoid", "tanh", "identity"}, default "relu"
        The hidden layers' activation, as :func:`forward`.
    loss : {"squared", "cross_entropy"}, default "squared"
        The cost minimised and recorded, as :func:`loss`.

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
    activation = _choice(activation, "activation", ACTIVATIONS)
    kind = _choice(loss, "loss", LOSSES)
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
        if kind == "cross_entropy":
            Y_val = _probability_rows(Y_val, "Y_val")
    if kind == "cross_entropy":
        Y = _probability_rows(Y)
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
                  eval_every, snap, rng, activation, kind)


def _train(params, X, Y, X_val, Y_val, alpha, batch_size, total, tol, eval_every, snap, rng,
           activation="relu", loss="squared"):
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
        J = _loss(_forward(params, X, activation)[0], Y, loss)
        J_val = (_loss(_forward(params, X_val, activation)[0], Y_val, loss)
                 if X_val is not None else 0.0)
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
            out, cache = _forward(params, xb, activation)
            batch_loss = _loss(out, yb, loss)
            batch_losses.append(batch_loss)
            if not math.isfinite(batch_loss):
                raise diverged(step, f"mini-batch cost ({batch_loss})")
            grads = _backward(params, cache, yb, loss)
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
