"""Tests of mlnotes.nn against independent references.

References: central differences (exact here up to rounding, see ``fd_gradients``),
sympy's derivative of the whole scalar cost, a hand-written forward pass, and
scikit-learn's MLPRegressor for one plain SGD step.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from mlnotes import nn
from mlnotes.calculus import numerical_gradient

TOL = 1e-10


def book_rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """The book's relative error (chapter 1, mc-relative-error), max over entries."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))))


def _pattern(params, X):
    return [z > 0 for z in nn.forward(params, X)[1].z[:-1]]


def fd_gradients(params, X, Y, eps=1e-3):
    """Central differences of the cost for every parameter.

    With every other parameter fixed, a ReLU network's output is piecewise linear in one
    parameter, so the cost is piecewise quadratic in it and the central difference is
    exact, up to rounding, as long as no pre-activation changes sign between
    theta - eps and theta + eps. We check that it does not, and shrink eps if it does;
    a large eps then keeps the rounding error near 1e-13.
    """
    base = _pattern(params, X)
    grads = []
    for l, (W, b) in enumerate(params):
        pair = []
        for j, arr in enumerate((W, b)):
            h = eps
            while True:
                crossed = []

                def f(v, l=l, j=j, crossed=crossed):
                    q = [(w.copy(), c.copy()) for w, c in params]
                    layer = list(q[l])
                    layer[j] = v
                    q[l] = tuple(layer)
                    if any(np.any(p != p0) for p, p0 in zip(_pattern(q, X), base, strict=True)):
                        crossed.append(True)
                    return nn.loss(nn.forward(q, X)[0], Y)

                g = numerical_gradient(f, arr, eps=h)
                if not crossed:
                    break
                h /= 10
                assert h > 1e-9, "a pre-activation sits at a kink; pick another point"
            pair.append(g)
        grads.append(tuple(pair))
    return grads


def random_problem(sizes, n, seed):
    rng = np.random.default_rng(seed)
    params = nn.init_params(sizes, seed=seed)
    params = [(W, rng.standard_normal(b.shape) * 0.5) for W, b in params]  # non-zero biases
    X = rng.standard_normal((n, sizes[0]))
    Y = rng.standard_normal((n, sizes[-1]))
    return params, X, Y


# --- init_params ------------------------------------------------------------------------


def test_init_params_shapes_and_scale():
    params = nn.init_params([300, 200, 1], seed=0)
    assert [(W.shape, b.shape) for W, b in params] == [((200, 300), (200,)), ((1, 200), (1,))]
    assert all(np.all(b == 0) for _, b in params)
    # He initialisation: variance 2 / fan_in; 60 000 draws give the std to about 0.3 %.
    assert abs(params[0][0].std() / np.sqrt(2 / 300) - 1) < 0.02


def test_init_params_seeded():
    a = nn.init_params([4, 3, 2], seed=7)
    b = nn.init_params([4, 3, 2], seed=7)
    c = nn.init_params([4, 3, 2], seed=8)
    assert all(np.array_equal(x[0], y[0]) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0][0], c[0][0])


@pytest.mark.parametrize("sizes", [[3], [], [3, 0, 1], [3, -2], [2.5, 1], "ab", [True, 2]])
def test_init_params_bad_sizes(sizes):
    with pytest.raises(ValueError, match="layer"):
        nn.init_params(sizes)


# --- forward and loss -----------------------------------------------------------------


def test_forward_matches_hand_written_loop():
    params, X, _ = random_problem([3, 5, 4, 2], 6, seed=1)
    out, cache = nn.forward(params, X)
    # an independent per-example loop with the column-vector equations of the chapter
    for i in range(X.shape[0]):
        a = X[i]
        for l, (W, b) in enumerate(params):
            z = W @ a + b
            np.testing.assert_allclose(cache.z[l][i], z, rtol=1e-13, atol=1e-13)
            a = np.where(z > 0, z, 0.0) if l < len(params) - 1 else z
        np.testing.assert_allclose(out[i], a, rtol=1e-13, atol=1e-13)
    assert out.shape == (6, 2)
    assert len(cache.a) == len(cache.z) == 3
    assert cache.a[0] is X or np.array_equal(cache.a[0], X)


def test_single_layer_is_affine():
    params, X, _ = random_problem([3, 2], 4, seed=2)
    out, _ = nn.forward(params, X)
    np.testing.assert_allclose(out, X @ params[0][0].T + params[0][1], rtol=1e-14)


def test_loss_value():
    out = np.array([[1.0, 2.0], [0.0, 0.0], [3.0, -1.0]])
    Y = np.array([[0.0, 0.0], [1.0, 1.0], [3.0, 1.0]])
    # (1/3) * 1/2 * (1 + 4 + 1 + 1 + 0 + 4) = 11/6
    assert nn.loss(out, Y) == pytest.approx(11 / 6, rel=1e-15)


def test_relu_and_derivative_at_zero():
    z = np.array([-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(nn.relu(z), [0.0, 0.0, 2.0])
    np.testing.assert_array_equal(nn.relu_derivative(z), [0.0, 0.0, 1.0])


# --- the lemmas, each against central differences ------------------------------------
# The costs below are linear (or, for ReLU, piecewise linear with every |z| > eps), so
# a central difference with a large step is exact up to rounding.


def test_lemma1_linear_backward_weights():
    rng = np.random.default_rng(3)
    A, W, b, G = (rng.standard_normal(s) for s in [(5, 3), (4, 3), (4,), (5, 4)])

    def J(W_, b_):  # a cost whose gradient with respect to Z is exactly G
        return float(np.sum(G * (A @ W_.T + b_)))

    dW, db = nn.linear_backward_weights(G, A)
    assert book_rel_err(dW, numerical_gradient(lambda v: J(v, b), W, eps=1e-3)) < TOL
    assert book_rel_err(db, numerical_gradient(lambda v: J(W, v), b, eps=1e-3)) < TOL


def test_lemma2_relu_backward():
    rng = np.random.default_rng(4)
    Z, G = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    dz = nn.relu_backward(G, Z)
    num = numerical_gradient(lambda v: float(np.sum(G * nn.relu(v))), Z, eps=1e-3)
    assert book_rel_err(dz, num) < TOL
    # at exactly zero the derivative is taken to be 0, as in PyTorch
    at_zero = nn.relu_backward(np.ones(3), np.array([-1.0, 0.0, 1.0]))
    np.testing.assert_array_equal(at_zero, [0, 0, 1])


def test_lemma3_linear_backward_input():
    rng = np.random.default_rng(5)
    A, W, b, G = (rng.standard_normal(s) for s in [(5, 3), (4, 3), (4,), (5, 4)])
    da = nn.linear_backward_input(G, W)
    num = numerical_gradient(lambda v: float(np.sum(G * (v @ W.T + b))), A, eps=1e-3)
    assert book_rel_err(da, num) < TOL


# --- backward ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sizes", "n"),
    [
        ([3, 2], 4),  # no hidden layer
        ([4, 5, 3], 6),  # the two-layer network of the chapter
        ([2, 1, 1], 1),  # width-1 layers and a batch of one
        ([1, 3, 1, 4, 2], 3),  # deeper, with a width-1 bottleneck
        ([5, 6, 6, 6, 1], 7),
    ],
)
def test_backward_matches_finite_differences(sizes, n):
    params, X, Y = random_problem(sizes, n, seed=sum(sizes) + n)
    _out, cache = nn.forward(params, X)
    grads = nn.backward(params, cache, Y)
    ref = fd_gradients(params, X, Y)
    assert len(grads) == len(params)
    for (dW, db), (rW, rb), (W, b) in zip(grads, ref, params, strict=True):
        assert dW.shape == W.shape and db.shape == b.shape
        assert book_rel_err(dW, rW) <= TOL
        assert book_rel_err(db, rb) <= TOL


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=5),
    n=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_backward_property_any_shape(sizes, n, seed):
    params, X, Y = random_problem(sizes, n, seed)
    grads = nn.backward(params, nn.forward(params, X)[1], Y)
    for (dW, db), (rW, rb) in zip(grads, fd_gradients(params, X, Y), strict=True):
        assert book_rel_err(dW, rW) <= TOL
        assert book_rel_err(db, rb) <= TOL


def _sympy_relu(z):
    # ReLU with ReLU'(0) = 0:
    # d/dz Piecewise((z, z > 0), (0, True)) = Piecewise((1, z > 0), (0, True))
    return sp.Piecewise((z, z > 0), (0, True))


def _sympy_check(sizes, params, X, Y):
    """Differentiate the whole scalar cost with sympy and evaluate at the parameters."""
    syms, values, sym_params = [], [], []
    for l, (W, b) in enumerate(params):
        Ws = sp.Matrix(*W.shape, lambda i, j, l=l: sp.Symbol(f"W{l}_{i}{j}", real=True))
        bs = sp.Matrix(len(b), 1, lambda i, _j, l=l: sp.Symbol(f"b{l}_{i}", real=True))
        sym_params.append((Ws, bs))
        syms += list(Ws) + list(bs)
        values += [sp.Rational(v) for v in W.ravel()] + [sp.Rational(v) for v in b]
    J = 0
    n = X.shape[0]
    for i in range(n):
        a = sp.Matrix([sp.Rational(v) for v in X[i]])
        for l, (Ws, bs) in enumerate(sym_params):
            z = Ws * a + bs
            a = z.applyfunc(_sympy_relu) if l < len(sym_params) - 1 else z
        r = a - sp.Matrix([sp.Rational(v) for v in Y[i]])
        J += sp.Rational(1, 2) * (r.T * r)[0, 0]
    J = J / n
    subs = dict(zip(syms, values, strict=True))
    exact = [float(sp.diff(J, s).subs(subs)) for s in syms]
    grads = nn.backward(params, nn.forward(params, X)[1], Y)
    ours = np.concatenate([np.concatenate([dW.ravel(), db]) for dW, db in grads])
    return np.asarray(exact), ours


def test_backward_matches_sympy_whole_cost():
    params, X, Y = random_problem([2, 3, 2], 2, seed=11)
    exact, ours = _sympy_check([2, 3, 2], params, X, Y)
    assert np.max(np.abs(ours - exact)) <= TOL * max(1.0, np.max(np.abs(exact)))


def test_backward_relu_prime_zero_convention_matches_sympy():
    # Put a hidden pre-activation exactly at 0: sympy's Piecewise derivative is 0 there,
    # and so is ours (ReLU'(0) = 0). Central differences could not check this point.
    W1 = np.array([[1.0, -1.0], [0.5, 2.0]])
    b1 = np.array([0.0, -0.25])
    W2 = np.array([[1.5, -2.0]])
    b2 = np.array([0.5])
    X = np.array([[1.0, 1.0]])  # z1 = [0, 2.25]
    Y = np.array([[0.25]])
    params = [(W1, b1), (W2, b2)]
    assert nn.forward(params, X)[1].z[0][0, 0] == 0.0
    exact, ours = _sympy_check([2, 2, 1], params, X, Y)
    np.testing.assert_allclose(ours, exact, rtol=1e-14, atol=1e-14)
    assert ours[0] == 0.0 and ours[1] == 0.0  # dJ/dW1 row of the unit at its kink


# --- bad input ---------------------------------------------------------------------------


def test_forward_bad_inputs():
    params = nn.init_params([3, 4, 2], seed=0)
    with pytest.raises(ValueError, match="3"):
        nn.forward(params, np.ones((5, 4)))  # wrong number of features
    with pytest.raises(ValueError, match="2-D"):
        nn.forward(params, np.ones(3))  # one example given as a 1-D vector
    with pytest.raises(ValueError, match="NaN or infinite"):
        nn.forward(params, np.array([[1.0, np.nan, 0.0]]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        nn.forward(params, np.array([[1.0, np.inf, 0.0]]))
    with pytest.raises(ValueError, match="no rows"):
        nn.forward(params, np.ones((0, 3)))
    with pytest.raises(ValueError, match="numeric"):
        nn.forward(params, np.array([["a", "b", "c"]]))
    with pytest.raises(ValueError, match="chain"):
        nn.forward([params[0], (np.ones((2, 3)), np.ones(2))], np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"\(out, in\)"):
        nn.forward([(np.ones((2, 3)), np.ones(3))], np.ones((1, 3)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        nn.forward([(np.full((2, 3), np.nan), np.ones(2))], np.ones((1, 3)))
    with pytest.raises(ValueError, match="list of"):
        nn.forward([], np.ones((1, 3)))


def test_backward_and_loss_bad_inputs():
    params = nn.init_params([3, 4, 2], seed=0)
    out, cache = nn.forward(params, np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"Y has shape \(5, 3\)"):
        nn.backward(params, cache, np.ones((5, 3)))
    with pytest.raises(ValueError, match="Y has shape"):
        nn.loss(out, np.ones((4, 2)))
    with pytest.raises(ValueError, match="NaN or infinite"):
        nn.backward(params, cache, np.full((5, 2), np.nan))
    with pytest.raises(ValueError, match="cache"):
        nn.backward(params, "not a cache", np.ones((5, 2)))
    other = nn.init_params([3, 4, 4, 2], seed=0)
    with pytest.raises(ValueError, match="cache"):
        nn.backward(other, cache, np.ones((5, 2)))


def test_backward_rejects_a_cache_of_another_network_or_batch():
    params = nn.init_params([3, 4, 2], seed=0)
    _, cache = nn.forward(params, np.ones((5, 3)))
    # same depth and end widths, another hidden width: the shapes do not chain
    other = nn.init_params([3, 6, 2], seed=0)
    with pytest.raises(ValueError, match="belongs to another network"):
        nn.backward(other, cache, np.ones((5, 2)))
    # layers from two batches of different sizes
    _, cache6 = nn.forward(params, np.ones((6, 3)))
    mixed = nn.Cache(cache.a, cache6.z)
    with pytest.raises(ValueError, match="belongs to another network or batch"):
        nn.backward(params, mixed, np.ones((6, 2)))
    with pytest.raises(ValueError, match="cache"):
        nn.backward(params, (cache.a, cache.z), np.ones((5, 2)))  # not a Cache
    # its own cache is accepted and gives the gradient of its own batch
    grads = nn.backward(other, nn.forward(other, np.ones((5, 3)))[1], np.ones((5, 2)))
    assert [g.shape for g, _ in grads] == [(6, 3), (2, 6)]


def test_forward_and_loss_overflow_is_an_error_not_inf():
    big = [(np.full((2, 3), 1e300), np.zeros(2))]
    with pytest.raises(ValueError, match="forward pass overflows"):
        nn.forward(big, np.full((1, 3), 1e10))
    # through a hidden layer too (the overflow happens before the last layer)
    deep = [(np.full((4, 3), 1e300), np.zeros(4)), (np.ones((1, 4)), np.zeros(1))]
    with pytest.raises(ValueError, match="overflows"):
        nn.forward(deep, np.full((1, 3), 1e10))
    # large but representable outputs pass, exactly
    out, _ = nn.forward(big, np.full((1, 3), 1e-10))
    np.testing.assert_allclose(out, [[3e290, 3e290]], rtol=1e-15)
    with pytest.raises(ValueError, match="cost overflows"):
        nn.loss(np.full((2, 1), 1e200), np.zeros((2, 1)))
    assert nn.loss(np.full((2, 1), 1e150), np.zeros((2, 1))) == pytest.approx(0.5e300)


def test_backward_overflow_is_an_error_not_inf():
    # forward is finite (z = 3), but dW = dz^T X = 2 * 5e199 * 1e200 overflows
    params = [(np.full((1, 3), 1e-200), np.zeros(1))]
    X = np.full((2, 3), 1e200)
    _, cache = nn.forward(params, X)
    with pytest.raises(ValueError, match="gradient is not finite"):
        nn.backward(params, cache, np.full((2, 1), -1e200))
    # bounds too large to decide, a finite gradient: scanned, then returned exactly
    (dW, db), = nn.backward(params, cache, np.full((2, 1), -1e100))
    np.testing.assert_allclose(dW, np.full((1, 3), (3 + 1e100) * 1e200), rtol=1e-15)
    np.testing.assert_allclose(db, [3 + 1e100], rtol=1e-15)
    # and through a hidden layer, where the bound on dA decides
    deep = [(np.full((2, 3), 1e-200), np.zeros(2)), (np.full((1, 2), 1e200), np.zeros(1))]
    _, cache = nn.forward(deep, np.full((2, 3), 1e100), activation="identity")
    with pytest.raises(ValueError, match="gradient is not finite"):
        nn.backward(deep, cache, np.full((2, 1), -1e200))


@pytest.mark.parametrize("activation", nn.ACTIVATIONS)
@pytest.mark.parametrize("seed", range(4))
def test_the_gradient_bounds_that_spare_backward_a_scan_hold(activation, seed):
    """forward's norms bound every gradient entry (Cauchy-Schwarz), layer by layer."""
    rng = np.random.default_rng(seed)
    sizes = [int(k) for k in rng.integers(1, 9, size=int(rng.integers(2, 5)))]
    params, X, Y = random_problem(sizes, int(rng.integers(1, 7)), seed=seed)
    _, cache = nn.forward(params, X, activation=activation)
    grads = nn.backward(params, cache, Y)
    dz = (cache.z[-1] - Y) / X.shape[0]
    bounds = nn._gradient_bounds(cache._origin.squares, cache.z, activation, np.sum(dz**2))
    k = 0
    for i in range(len(params) - 1, -1, -1):
        dW, db = grads[i]
        assert np.max(dW**2) <= bounds[k] * (1 + 1e-12)
        assert np.max(db**2) <= bounds[k + 1] * (1 + 1e-12)
        k += 3 if i else 2
    assert k == len(bounds)
    assert nn._bounded(cache, dz)


@pytest.mark.parametrize(
    ("func", "args", "match"),
    [
        (nn.loss_gradient, (np.ones((2, 2)) + 1j, np.ones((2, 2))), "real"),
        (nn.loss_gradient, (np.array([[np.nan, 1.0]]), np.ones((1, 2))), "NaN"),
        (nn.loss_gradient, (np.ones((2, 2)), np.ones((3, 2))), "shape"),
        (nn.loss_gradient, (np.ones(2), np.ones(2)), "2-D"),
        (nn.linear_backward_weights, (np.ones((3, 2)), np.ones((4, 5))), "same n"),
        (nn.linear_backward_weights, (np.ones((3, 2)) * 1j, np.ones((3, 5))), "real"),
        (nn.linear_backward_weights, (np.ones((3, 2)), np.full((3, 5), np.inf)), "NaN"),
        (nn.relu_backward, (np.ones((3, 2)), np.ones((4, 2))), "same shape"),
        (nn.relu_backward, (np.ones((3, 2)) * 1j, np.ones((3, 2))), "real"),
        (nn.relu_backward, (np.ones((3, 2)), np.full((3, 2), np.nan)), "NaN"),
        (nn.linear_backward_input, (np.ones((3, 2)), np.ones((4, 5))), "4 columns"),
        (nn.linear_backward_input, (np.ones((3, 2)), np.ones((2, 5)) * 1j), "real"),
        (nn.linear_backward_input, (np.full((3, 2), np.nan), np.ones((2, 5))), "NaN"),
        (nn.relu, (np.array([1j]),), "real"),
        (nn.relu, (np.array([np.nan]),), "NaN"),
        (nn.relu, (np.array(["a"]),), "numeric"),
        (nn.relu_derivative, (np.array([1j]),), "real"),
        (nn.relu_derivative, (np.array([-np.inf]),), "NaN"),
    ],
)
def test_lemma_helpers_validate(func, args, match):
    with pytest.raises(ValueError, match=match):
        func(*args)


def test_complex_params_are_rejected():
    X = np.ones((1, 3))
    with pytest.raises(ValueError, match=r"params\[0\]: W must be a real"):
        nn.forward([(np.ones((2, 3), dtype=complex), np.zeros(2))], X)
    with pytest.raises(ValueError, match=r"params\[1\]: b must be a real"):
        nn.forward([(np.ones((2, 3)), np.zeros(2)), (np.ones((1, 2)), np.zeros(1, complex))], X)
    with pytest.raises(ValueError, match="real"):
        nn.train([(np.ones((1, 1), dtype=complex), np.zeros(1))], X[:, :1], X[:, :1],
                 learning_rate=0.1, batch_size=1, n_iter=1)
    # integer params are real numbers: accepted, and trained in float64
    res = nn.train([(np.ones((1, 1), dtype=int), np.zeros(1, dtype=int))], X[:, :1],
                   2 * X[:, :1], learning_rate=0.5, batch_size=1, n_iter=1)
    assert res.params[0][0].dtype == np.float64
    assert res.params[0][0][0, 0] == pytest.approx(1.5)  # 1 - 0.5 * (1 - 2) * 1


def test_init_params_generator_seed_is_the_stream_of_its_int_seed():
    a = nn.init_params([4, 3, 2], seed=7)
    b = nn.init_params([4, 3, 2], seed=np.random.default_rng(7))
    for (Wa, ba), (Wb, bb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)
    rng = np.random.default_rng(7)
    first, second = nn.init_params([4, 3, 2], seed=rng), nn.init_params([4, 3, 2], seed=rng)
    np.testing.assert_array_equal(first[0][0], a[0][0])
    assert not np.array_equal(second[0][0], a[0][0])  # the stream went on
    with pytest.raises(ValueError, match="seed"):
        nn.init_params([4, 3, 2], seed=-1)
    with pytest.raises(ValueError, match="seed"):
        nn.init_params([4, 3, 2], seed=np.random.RandomState(0))  # the legacy API


def test_init_params_refuses_more_than_1e9_weights():
    # refused before anything is allocated (1e10 weights would be 80 GB)
    with pytest.raises(ValueError, match="limit is 1e9"):
        nn.init_params([100_000, 100_000])
    with pytest.raises(ValueError, match="limit is 1e9"):
        nn.init_params([10, 40_000, 25_000, 10])  # the sum over layers counts


# --- training -----------------------------------------------------------------------------


def _toy(n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, 1))
    return X, np.sin(2 * X)


def test_train_reduces_loss_and_does_not_mutate():
    X, Y = _toy()
    p0 = nn.init_params([1, 16, 1], seed=0)
    copy = [(W.copy(), b.copy()) for W, b in p0]
    res = nn.train(p0, X, Y, learning_rate=0.05, batch_size=8, n_epochs=50, seed=1,
                   X_val=X[:10], Y_val=Y[:10], eval_every=40, snapshot_steps=[0, 80])
    assert isinstance(res, nn.TrainResult)
    p = res.params
    assert all(np.array_equal(W, Wc) for (W, _), (Wc, _) in zip(p0, copy, strict=True))
    assert res.history[-1] < 0.3 * res.history[0]
    assert res.n_iter == 50 * 8 and not res.converged
    assert res.batch_loss.shape == (50 * 8,)
    np.testing.assert_array_equal(res.steps, np.arange(0, 401, 40))
    assert len(res.val_history) == len(res.history) == len(res.steps)
    assert set(res.snapshots) == {0, 80}
    assert np.array_equal(res.snapshots[0][0][0], copy[0][0])
    assert res.history[0] == pytest.approx(nn.loss(nn.forward(p0, X)[0], Y), rel=1e-14)
    assert res.history[-1] == pytest.approx(nn.loss(nn.forward(p, X)[0], Y), rel=1e-14)
    assert res.val_history[-1] == pytest.approx(
        nn.loss(nn.forward(p, X[:10])[0], Y[:10]), rel=1e-14
    )
    # the snapshot after step 80 is the end of a training run of 80 steps
    short = nn.train(p0, X, Y, learning_rate=0.05, batch_size=8, n_iter=80, seed=1)
    for (W, b), (Ws, bs) in zip(short.params, res.snapshots[80], strict=True):
        np.testing.assert_array_equal(W, Ws)
        np.testing.assert_array_equal(b, bs)
    # the mini-batch cost before step 1 is the cost of the first batch at p0: at most
    # n / B = 8 times the full cost (a sum of non-negative terms)
    assert 0 < res.batch_loss[0] <= 8 * res.history[0]


def test_train_is_reproducible_with_seed():
    X, Y = _toy()
    p0 = nn.init_params([1, 8, 1], seed=0)
    a = nn.train(p0, X, Y, learning_rate=0.05, batch_size=4, n_iter=30, seed=3)
    b = nn.train(p0, X, Y, learning_rate=0.05, batch_size=4, n_iter=30, seed=3)
    np.testing.assert_array_equal(a.batch_loss, b.batch_loss)
    np.testing.assert_array_equal(a.params[0][0], b.params[0][0])


def test_train_generator_seed_is_the_stream_of_its_int_seed():
    X, Y = _toy()
    p0 = nn.init_params([1, 8, 1], seed=0)
    kwargs = {"learning_rate": 0.05, "batch_size": 4, "n_iter": 40}
    a = nn.train(p0, X, Y, seed=3, **kwargs)
    b = nn.train(p0, X, Y, seed=np.random.default_rng(3), **kwargs)
    c = nn.train(p0, X, Y, seed=4, **kwargs)
    np.testing.assert_array_equal(a.batch_loss, b.batch_loss)
    for (Wa, ba), (Wb, bb) in zip(a.params, b.params, strict=True):
        np.testing.assert_array_equal(Wa, Wb)
        np.testing.assert_array_equal(ba, bb)
    assert not np.array_equal(a.batch_loss, c.batch_loss)
    # one Generator threaded through two calls: the second continues the stream
    rng = np.random.default_rng(3)
    first = nn.train(p0, X, Y, seed=rng, **kwargs)
    second = nn.train(p0, X, Y, seed=rng, **kwargs)
    np.testing.assert_array_equal(first.batch_loss, a.batch_loss)
    assert not np.array_equal(second.batch_loss, a.batch_loss)


def test_train_tol_stops_when_the_recorded_cost_settles():
    X, Y = _toy()
    p0 = nn.init_params([1, 16, 1], seed=0)
    tol = 1e-3
    res = nn.train(p0, X, Y, learning_rate=0.05, batch_size=8, n_epochs=500, seed=1,
                   tol=tol, eval_every=8)
    assert res.converged and res.n_iter < 500 * 8
    assert res.steps[-1] == res.n_iter and res.n_iter % 8 == 0
    assert res.batch_loss.shape == (res.n_iter,)
    change = np.abs(np.diff(res.history))
    assert change[-1] <= tol * res.history[-1]
    assert np.all(change[:-1] > tol * res.history[1:-1])  # the first such record
    # the same steps without tol give the same parameters: tol only stops the loop
    same = nn.train(p0, X, Y, learning_rate=0.05, batch_size=8, n_iter=res.n_iter, seed=1,
                    eval_every=8)
    assert not same.converged
    np.testing.assert_array_equal(same.params[0][0], res.params[0][0])
    np.testing.assert_array_equal(same.history, res.history)


def test_full_batch_step_is_gradient_descent():
    X, Y = _toy(n=20)
    p0 = nn.init_params([1, 5, 1], seed=2)
    p = nn.train(p0, X, Y, learning_rate=0.1, batch_size=20, n_iter=1, seed=0).params
    # the whole batch in a shuffled order: the average gradient does not depend on order
    g = nn.backward(p0, nn.forward(p0, X)[1], Y)
    for (W, b), (W0, b0), (dW, db) in zip(p, p0, g, strict=True):
        np.testing.assert_allclose(W, W0 - 0.1 * dW, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(b, b0 - 0.1 * db, rtol=1e-13, atol=1e-15)


def test_one_sgd_step_matches_sklearn():
    # scikit-learn's MLPRegressor with plain SGD uses the same loss for one output,
    # (1/n) sum 1/2 (y - h)^2, and the same ReLU network: one step must agree.
    sklearn_nn = pytest.importorskip("sklearn.neural_network")
    X, Y = _toy(n=16)
    reg = sklearn_nn.MLPRegressor(hidden_layer_sizes=(6,), solver="sgd", alpha=0.0,
                                  batch_size=16, learning_rate_init=0.1, momentum=0.0,
                                  nesterovs_momentum=False, shuffle=False, random_state=0)
    reg.partial_fit(X, Y.ravel())  # initialises; then we overwrite with our parameters
    p0 = nn.init_params([1, 6, 1], seed=4)
    p0 = [(W, np.full(b.shape, 0.1)) for W, b in p0]
    reg.coefs_ = [W.T.copy() for W, _ in p0]
    reg.intercepts_ = [b.copy() for _, b in p0]
    reg.partial_fit(X, Y.ravel())
    p = nn.train(p0, X, Y, learning_rate=0.1, batch_size=16, n_iter=1, seed=0).params
    for (W, b), Wt, bs in zip(p, reg.coefs_, reg.intercepts_, strict=True):
        np.testing.assert_allclose(W, Wt.T, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b, bs, rtol=1e-12, atol=1e-14)


def test_train_divergence_names_the_step():
    X, Y = _toy()
    p0 = nn.init_params([1, 16, 1], seed=0)
    with pytest.raises(nn.DivergenceError, match=r"non-finite at step \d+") as info:
        nn.train(p0, X, Y * 1e3, learning_rate=50.0, batch_size=8, n_iter=500, seed=0)
    err = info.value
    assert isinstance(err, ValueError)
    assert 1 <= err.step <= 500
    # history: the mini-batch costs of steps 1 .. step, the last one non-finite
    assert isinstance(err.history, np.ndarray) and err.history.shape == (err.step,)
    assert np.all(np.isfinite(err.history[:-1])) and not np.isfinite(err.history[-1])
    # they are the costs a training run records: the first one is that of a 1-step run
    assert err.step > 1
    one = nn.train(p0, X, Y * 1e3, learning_rate=50.0, batch_size=8, n_iter=1, seed=0)
    assert one.batch_loss[0] == err.history[0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"learning_rate": 0.0, "batch_size": 4, "n_iter": 1}, "learning_rate"),
        ({"learning_rate": float("nan"), "batch_size": 4, "n_iter": 1}, "learning_rate"),
        ({"learning_rate": 0.1, "batch_size": 0, "n_iter": 1}, "batch_size"),
        ({"learning_rate": 0.1, "batch_size": 65, "n_iter": 1}, "batch_size"),
        ({"learning_rate": 0.1, "batch_size": 4}, "exactly one"),
        ({"learning_rate": 0.1, "batch_size": 4, "n_iter": 1, "n_epochs": 1}, "exactly one"),
        ({"learning_rate": 0.1, "batch_size": 4, "n_iter": 0}, "n_iter"),
        ({"learning_rate": 0.1, "batch_size": 4, "n_iter": 2.0}, "n_iter"),
        ({"learning_rate": 0.1, "batch_size": 4, "n_iter": True}, "n_iter"),
        ({"learning_rate": 0.1, "batch_size": 4, "n_epochs": "3"}, "n_epochs"),
        ({"learning_rate": "0.1", "batch_size": 4, "n_iter": 1}, "learning_rate"),
        ({"learning_rate": 0.1, "batch_size": 4.0, "n_iter": 1}, "batch_size"),
        ({"learning_rate": 0.1, "batch_size": 4, "n_iter": 1, "tol": -1.0}, "tol"),
        ({"learning_rate": 0.1, "batch_size": 4, "n_iter": 1, "tol": "0"}, "tol"),
        ({"learning_rate": 0.1, "batch_size": 4, "n_iter": 1, "seed": -1}, "seed"),
        ({"learning_rate": 0.1, "batch_size": 4, "n_iter": 1, "seed": 1.5}, "seed"),
        ({"learning_rate": 0.1, "batch_size": 4, "n_iter": 5, "snapshot_steps": [6]},
         "snapshot step"),
        ({"learning_rate": 0.1, "batch_size": 4, "n_iter": 1, "eval_every": 0}, "eval_every"),
        ({"learning_rate": 0.1, "batch_size": 4, "n_iter": 1, "X_val": np.ones((3, 1))}, "both"),
        ({"learning_rate": 0.1, "batch_size": 4, "n_iter": 1, "X_val": np.ones((3, 2)),
          "Y_val": np.ones((3, 1))}, "X_val and Y_val must have shapes"),
    ],
)
def test_train_bad_arguments(kwargs, match):
    X, Y = _toy()
    with pytest.raises(ValueError, match=match):
        nn.train(nn.init_params([1, 4, 1], seed=0), X, Y, **kwargs)


def test_train_bad_data():
    X, Y = _toy()
    p0 = nn.init_params([1, 4, 1], seed=0)
    with pytest.raises(ValueError, match="rows"):
        nn.train(p0, X, Y[:-1], learning_rate=0.1, batch_size=4, n_iter=1)
    with pytest.raises(ValueError, match="columns"):
        nn.train(p0, np.hstack([X, X]), Y, learning_rate=0.1, batch_size=4, n_iter=1)
    Xn = X.copy()
    Xn[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        nn.train(p0, Xn, Y, learning_rate=0.1, batch_size=4, n_iter=1)


def test_backward_leaves_cache_and_params_intact():
    # backward overwrites its own temporaries in place; the cache must survive, so that
    # a second call gives the same gradients
    params, X, Y = random_problem([4, 6, 5, 3], 7, seed=21)
    _, cache = nn.forward(params, X)
    saved = [a.copy() for a in cache.a] + [z.copy() for z in cache.z]
    W_saved = [W.copy() for W, _ in params]
    g1 = nn.backward(params, cache, Y)
    g2 = nn.backward(params, cache, Y)
    for x, y in zip([*cache.a, *cache.z], saved, strict=True):
        np.testing.assert_array_equal(x, y)
    for (W, _), Ws in zip(params, W_saved, strict=True):
        np.testing.assert_array_equal(W, Ws)
    for (a, b), (c, d) in zip(g1, g2, strict=True):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, d)


def test_relu_backward_out_argument():
    da = np.array([[1.0, -2.0, 3.0]])
    z = np.array([[0.5, 1.0, -1.0]])
    expected = np.array([[1.0, -2.0, 0.0]])
    np.testing.assert_array_equal(nn.relu_backward(da, z), expected)
    assert da[0, 2] == 3.0  # not modified without out
    res = nn.relu_backward(da, z, out=da)
    assert res is da
    np.testing.assert_array_equal(da, expected)


# --- found by review, fixed: they stay fixed --------------------------------------------------


def test_train_refuses_held_out_data_whose_cost_overflows():
    X, Y = _toy()
    p0 = nn.init_params([1, 4, 1], seed=0)
    with pytest.raises(ValueError, match="overflow"):
        nn.train(p0, X, Y, learning_rate=0.1, batch_size=8, n_iter=3,
                 X_val=X * 1e160, Y_val=Y)


def test_train_initial_cost_overflow_is_not_a_divergence():
    X, Y = _toy()
    p0 = nn.init_params([1, 4, 1], seed=0)
    with pytest.raises(ValueError, match="overflow") as info:
        nn.train(p0, X * 1e160, Y, learning_rate=0.1, batch_size=8, n_iter=3)
    assert not isinstance(info.value, nn.DivergenceError)


# --- activations, softmax and the cross-entropy (issue 12) ----------------------------------
# References: mpmath from the definitions (no log-sum-exp trick, enough digits for the
# largest logit), central differences, and hand-built caches. autograd and torch compare
# the gradients for every activation and loss in test_nn_autograd.py / test_nn_torch.py.


def _mp_elementwise(f, z):
    import mpmath as mp

    with mp.workdps(40):
        return np.array([float(f(mp.mpf(float(v)))) for v in np.ravel(z)]).reshape(np.shape(z))


def _mp_sigmoid(t):
    import mpmath as mp

    return 1 / (1 + mp.exp(-t))


Z_GRID = np.concatenate([np.linspace(-40, 40, 161), [-745.5, -700.0, -37.0, 0.0, 1e-300,
                                                      37.0, 700.0, -1e300, 1e300]])


def test_sigmoid_and_derivatives_against_mpmath():
    import mpmath as mp

    np.testing.assert_allclose(nn.sigmoid(Z_GRID), _mp_elementwise(_mp_sigmoid, Z_GRID),
                               rtol=4e-16, atol=0)
    # the derivatives keep full relative precision in the tails (no 1 - s cancellation)
    # (references: e^-z / (1 + e^-z)^2 = s (1 - s) and 1 / cosh^2 = 1 - tanh^2, which do
    # not cancel in mpmath's unbounded exponent range)
    ref_s = _mp_elementwise(lambda t: mp.exp(-t) / (1 + mp.exp(-t)) ** 2, Z_GRID)
    np.testing.assert_allclose(nn.sigmoid_derivative(Z_GRID), ref_s, rtol=1e-14, atol=0)
    ref_t = _mp_elementwise(lambda t: 1 / mp.cosh(t) ** 2, Z_GRID)
    np.testing.assert_allclose(nn.tanh_derivative(Z_GRID), ref_t, rtol=1e-14, atol=0)
    assert nn.sigmoid(np.array([1e300]))[0] == 1.0 and nn.sigmoid(np.array([-1e300]))[0] == 0
    for f in (nn.sigmoid, nn.sigmoid_derivative, nn.tanh_derivative, nn.softmax,
              nn.log_softmax):
        assert np.all(np.isfinite(f(Z_GRID)))


def test_activation_derivatives_match_finite_differences_and_sympy():
    z = np.linspace(-4, 4, 33)
    for f, df in ((nn.sigmoid, nn.sigmoid_derivative), (np.tanh, nn.tanh_derivative)):
        num = numerical_gradient(lambda v, f=f: float(np.sum(f(v))), z, eps=1e-5)
        assert book_rel_err(df(z), num) < 1e-9
    t = sp.Symbol("t", real=True)
    s = 1 / (1 + sp.exp(-t))
    assert sp.simplify(sp.diff(s, t) - s * (1 - s)) == 0
    assert sp.simplify(sp.diff(sp.tanh(t), t) - (1 - sp.tanh(t) ** 2)) == 0
    # the computed forms t / (1 + t)^2 and 4t / (1 + t)^2 with t = e^(-|z|), e^(-2|z|)
    for sign in (1, -1):
        u = sp.exp(-sign * t)
        assert sp.simplify(u / (1 + u) ** 2 - s * (1 - s)) == 0
        u2 = sp.exp(-2 * sign * t)
        assert sp.simplify((4 * u2 / (1 + u2) ** 2 - (1 - sp.tanh(t) ** 2)).rewrite(sp.exp)) == 0


@pytest.mark.parametrize("scale", [1.0, 50.0, 1e5, 1e150, 1e300])
def test_softmax_and_log_softmax_against_mpmath(scale):
    import mpmath as mp

    from references import mp_softmax

    rng = np.random.default_rng(int(np.log10(scale)))
    Z = rng.standard_normal((4, 6)) * scale
    P = nn.softmax(Z)
    for z, p in zip(Z, P, strict=True):
        np.testing.assert_allclose(p, mp_softmax(z), rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-15)
    L = nn.log_softmax(Z)
    assert np.all(np.isfinite(L)) and np.all(L <= 0)
    with mp.workdps(340):
        for z, row in zip(Z, L, strict=True):
            lse = mp.log(mp.fsum(mp.exp(mp.mpf(float(v))) for v in z))
            ref = np.array([float(mp.mpf(float(v)) - lse) for v in z])
            np.testing.assert_allclose(row, ref, rtol=1e-14, atol=1e-14)
    # a single vector is one row
    np.testing.assert_array_equal(nn.softmax(Z[0]), P[0])
    np.testing.assert_array_equal(nn.log_softmax(Z[0]), L[0])


@pytest.mark.parametrize("scale", [1.0, 30.0, 1e5, 1e150, 1e300])
@pytest.mark.parametrize("soft", [False, True])
def test_cross_entropy_against_mpmath_definition(scale, soft):
    from references import mp_cross_entropy, random_targets

    rng = np.random.default_rng(7 + int(np.log10(scale)))
    Z = rng.standard_normal((6, 4)) * scale
    Y = random_targets(rng, 6, 4, "cross_entropy", soft=soft)
    J = nn.loss(Z, Y, loss="cross_entropy")
    ref = mp_cross_entropy(Z, Y)
    assert np.isfinite(J)
    assert abs(J - ref) <= 1e-14 * max(1.0, abs(ref))


def test_cross_entropy_at_plus_minus_1e300():
    from references import mp_cross_entropy

    Z = np.array([[1e300, -1e300, 0.0], [-1e300, -1e300, -1e300], [1e300, 1e300, -1e300]])
    for Y, expected in [
        (np.eye(3)[[0, 0, 0]], [0.0, np.log(3), np.log(2)]),  # right, uniform, a tie
        (np.eye(3)[[1, 2, 2]], [2e300, np.log(3), 2e300]),  # wrong by 2e300
    ]:
        J = nn.loss(Z, Y, loss="cross_entropy")
        assert J == pytest.approx(np.mean(expected), rel=1e-15)
        assert J == pytest.approx(mp_cross_entropy(Z, Y), rel=1e-15)
        dZ = nn.loss_gradient(Z, Y, loss="cross_entropy")
        assert np.all(np.isfinite(dZ))
        np.testing.assert_allclose(dZ, (nn.softmax(Z) - Y) / 3, rtol=0, atol=0)
    # the same through a network: a one-layer net whose logits are 1e300
    params = [(np.array([[1e300], [-1e300], [0.0]]), np.zeros(3))]
    X, Y = np.ones((1, 1)), np.eye(3)[[1]]
    out, cache = nn.forward(params, X)
    assert nn.loss(out, Y, loss="cross_entropy") == 2e300
    (dW, db), = nn.backward(params, cache, Y, loss="cross_entropy")
    np.testing.assert_array_equal(db, [1.0, -1.0, 0.0])
    np.testing.assert_array_equal(dW, [[1.0], [-1.0], [0.0]])
    # a cost beyond float64 is an error, not inf
    with pytest.raises(ValueError, match="cost overflows"):
        nn.loss(np.array([[1.5e308, -1.5e308]]), np.array([[0.0, 1.0]]), loss="cross_entropy")


def test_cross_entropy_gradient_is_softmax_minus_y_and_matches_differences():
    rng = np.random.default_rng(3)
    Z = rng.standard_normal((5, 4)) * 2
    for Y in (np.eye(4)[rng.integers(0, 4, 5)], rng.dirichlet(np.ones(4), 5)):
        G = nn.loss_gradient(Z, Y, loss="cross_entropy")
        np.testing.assert_allclose(G, (nn.softmax(Z) - Y / Y.sum(1, keepdims=True)) / 5,
                                   rtol=1e-15, atol=1e-17)
        num = numerical_gradient(lambda v, Y=Y: nn.loss(v, Y, loss="cross_entropy"), Z,
                                 eps=1e-5)
        assert book_rel_err(G, num) < 1e-9
        np.testing.assert_allclose(G.sum(axis=1), 0.0, atol=1e-16)  # rows of p - y


def test_cross_entropy_targets_must_be_probability_rows():
    Z = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"Y must hold one probability row.*negative"):
        nn.loss(Z, np.array([[1.0, 0.5, -0.5], [1.0, 0, 0]]), loss="cross_entropy")
    with pytest.raises(ValueError, match="row 1 sums to 2"):
        nn.loss(Z, np.array([[1.0, 0, 0], [1.0, 1.0, 0]]), loss="cross_entropy")
    with pytest.raises(ValueError, match="Y"):
        nn.backward(*_ce_problem()[:2], np.ones((4, 3)), loss="cross_entropy")
    with pytest.raises(ValueError, match="Y must"):
        nn.loss_gradient(Z, np.zeros((2, 3)), loss="cross_entropy")
    # rows that sum to 1 up to rounding are accepted and renormalised exactly
    Y = np.array([[0.1, 0.2, 0.7], [1 / 3, 1 / 3, 1 / 3]])
    assert nn.loss(Z, Y, loss="cross_entropy") == pytest.approx(np.log(3), rel=1e-15)
    # the squared loss still takes any real targets
    assert nn.loss(Z, -Y, loss="squared") > 0


def _ce_problem(activation="relu"):
    params, X, _ = random_problem([3, 5, 3], 4, seed=5)
    _, cache = nn.forward(params, X, activation=activation)
    return params, cache, X


@pytest.mark.parametrize("loss", nn.LOSSES)
@pytest.mark.parametrize("activation", nn.ACTIVATIONS)
def test_backward_every_activation_and_loss_matches_finite_differences(activation, loss):
    from references import random_targets

    params, X, _ = random_problem([3, 5, 4, 3], 6, seed=17)
    Y = random_targets(np.random.default_rng(1), 6, 3, loss)
    _, cache = nn.forward(params, X, activation=activation)
    assert cache.activation == activation
    grads = nn.backward(params, cache, Y, loss=loss)
    for l, (W, b) in enumerate(params):
        for j, arr in enumerate((W, b)):
            def J(v, l=l, j=j):
                q = [list(p) for p in params]
                q[l][j] = v
                return nn.loss(nn.forward(q, X, activation=activation)[0], Y, loss=loss)

            num = numerical_gradient(J, arr, eps=1e-6)
            assert book_rel_err(grads[l][j], num) < 1e-8, (l, j)


def test_forward_activations_by_hand():
    params, X, _ = random_problem([3, 5, 4, 2], 6, seed=8)
    (W1, b1), (W2, b2), (W3, b3) = params
    for name, f in [("relu", lambda z: np.maximum(z, 0)), ("tanh", np.tanh),
                    ("sigmoid", lambda z: 1 / (1 + np.exp(-z))), ("identity", lambda z: z)]:
        out, cache = nn.forward(params, X, activation=name)
        h = f(f(X @ W1.T + b1) @ W2.T + b2) @ W3.T + b3  # the output layer is affine
        np.testing.assert_allclose(out, h, rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(cache.a[2], f(cache.z[1]), rtol=1e-15, atol=0)
    # the default is ReLU, as before
    np.testing.assert_array_equal(nn.forward(params, X)[0],
                                  nn.forward(params, X, activation="relu")[0])


@pytest.mark.parametrize("bad", ["Relu", "softmax", "", None, 1, ["relu"]])
def test_bad_activation_and_loss_names(bad):
    params, X, Y = random_problem([3, 4, 2], 5, seed=0)
    out, cache = nn.forward(params, X)
    with pytest.raises(ValueError, match="activation must be one of"):
        nn.forward(params, X, activation=bad)
    with pytest.raises(ValueError, match="loss must be one of"):
        nn.loss(out, Y, loss=bad)
    with pytest.raises(ValueError, match="loss must be one of"):
        nn.loss_gradient(out, Y, loss=bad)
    with pytest.raises(ValueError, match="loss must be one of"):
        nn.backward(params, cache, Y, loss=bad)
    with pytest.raises(ValueError, match="activation must be one of"):
        nn.train(params, X, Y, learning_rate=0.1, batch_size=2, n_iter=1, activation=bad)
    with pytest.raises(ValueError, match="loss must be one of"):
        nn.train(params, X, Y, learning_rate=0.1, batch_size=2, n_iter=1, loss=bad)


def test_cache_of_another_activation_or_params_is_refused():
    params, X, Y = random_problem([3, 5, 4, 2], 6, seed=9)
    _, cache = nn.forward(params, X, activation="tanh")
    # the activation was changed after forward, or a hand-built cache claims another one
    with pytest.raises(ValueError, match="is not relu"):
        nn.backward(params, cache._replace(activation="relu"), Y)
    relu_cache = nn.forward(params, X)[1]
    with pytest.raises(ValueError, match="is not sigmoid"):
        nn.backward(params, nn.Cache(relu_cache.a, relu_cache.z, "sigmoid"), Y)
    with pytest.raises(ValueError, match="activation 'softplus' is none of"):
        nn.backward(params, nn.Cache(relu_cache.a, relu_cache.z, "softplus"), Y)
    # params of the same shapes but other values
    other = [(W + 0.5, b) for W, b in params]
    with pytest.raises(ValueError, match=r"other params \(params\[0\] differs\)"):
        nn.backward(other, cache, Y)
    other = [params[0], params[1], (params[2][0], params[2][1] + 1.0)]
    with pytest.raises(ValueError, match=r"params\[2\] differs"):
        nn.backward(other, cache, Y)
    # equal copies (another container, float32-exact values) are the same params
    expected = nn.backward(params, cache, Y)
    for same in ([(W.copy(), b.copy()) for W, b in params], tuple(map(tuple, params))):
        for g, e in zip(nn.backward(same, cache, Y), expected, strict=True):
            np.testing.assert_array_equal(g[0], e[0])
            np.testing.assert_array_equal(g[1], e[1])
    # a consistent hand-built cache is accepted and gives the same gradient
    built = nn.Cache(list(cache.a), list(cache.z), "tanh")
    for g, e in zip(nn.backward(params, built, Y), expected, strict=True):
        np.testing.assert_array_equal(g[0], e[0])
    # an array swapped into forward's cache: checked in full, refused when inconsistent
    swapped = list(cache.a)
    swapped[1] = swapped[1] + 1e-3
    with pytest.raises(ValueError, match="is not tanh"):
        nn.backward(params, cache._replace(a=swapped), Y)


def test_forward_cache_is_read_only_and_hand_caches_are_copied_not_changed():
    params, X, Y = random_problem([3, 5, 2], 4, seed=2)
    _, cache = nn.forward(params, X)
    for arr in [*cache.a[1:], *cache.z]:
        assert not arr.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            arr[...] = 0.0
    assert cache.a[0] is X and X.flags.writeable  # the caller's X is left alone
    # copies and pickles are ordinary caches again (writeable arrays, checked in full)
    import copy
    import pickle

    expected = nn.backward(params, cache, Y)
    for other in (copy.copy(cache), copy.deepcopy(cache), pickle.loads(pickle.dumps(cache))):
        assert type(other) is nn.Cache and other.activation == "relu"
        assert not hasattr(other, "_origin")
        got = nn.backward(params, other, Y)
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_array_equal(g[0], e[0])
    # the training loop, which reuses forward's kernel, is unaffected
    nn.train(params, X, Y, learning_rate=0.1, batch_size=2, n_iter=3, seed=0)


def test_train_with_cross_entropy_and_tanh():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((90, 2))
    labels = (X[:, 0] * X[:, 1] > 0).astype(int) + (X[:, 0] > 1)
    Y = np.eye(3)[labels]
    p0 = nn.init_params([2, 16, 3], seed=0, gain=1.0)
    res = nn.train(p0, X, Y, learning_rate=0.5, batch_size=15, n_epochs=60, seed=1,
                   activation="tanh", loss="cross_entropy", X_val=X[:30], Y_val=Y[:30])
    assert res.history[0] == pytest.approx(
        nn.loss(nn.forward(p0, X, activation="tanh")[0], Y, loss="cross_entropy"), rel=1e-14)
    last = nn.forward(res.params, X, activation="tanh")[0]
    assert res.history[-1] == pytest.approx(nn.loss(last, Y, loss="cross_entropy"), rel=1e-14)
    assert res.history[-1] < 0.5 * res.history[0]
    assert np.mean(last.argmax(axis=1) == labels) > 0.9
    # one full-batch step is one gradient step on the cross-entropy of a tanh network
    p = nn.train(p0, X, Y, learning_rate=0.1, batch_size=90, n_iter=1, seed=0,
                 activation="tanh", loss="cross_entropy").params
    g = nn.backward(p0, nn.forward(p0, X, activation="tanh")[1], Y, loss="cross_entropy")
    for (W, b), (W0, b0), (dW, db) in zip(p, p0, g, strict=True):
        np.testing.assert_allclose(W, W0 - 0.1 * dW, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(b, b0 - 0.1 * db, rtol=1e-13, atol=1e-15)
    with pytest.raises(ValueError, match="Y must hold one probability row"):
        nn.train(p0, X, 2 * Y, learning_rate=0.1, batch_size=5, n_iter=1, loss="cross_entropy")
    with pytest.raises(ValueError, match="Y_val must hold one probability row"):
        nn.train(p0, X, Y, learning_rate=0.1, batch_size=5, n_iter=1, loss="cross_entropy",
                 X_val=X[:3], Y_val=-Y[:3])


def test_init_params_gain():
    he = nn.init_params([30, 20, 4], seed=3)
    same = nn.init_params([30, 20, 4], seed=3, gain=None)
    for (W, _), (V, _) in zip(he, same, strict=True):
        np.testing.assert_array_equal(W, V)
    # the draws before this option: standard normals times sqrt(2 / fan_in), exactly
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(he[0][0], rng.standard_normal((20, 30)) * np.sqrt(2 / 30))
    one = nn.init_params([30, 20, 4], seed=3, gain=1.0)
    half = nn.init_params([30, 20, 4], seed=3, gain=0.5)
    for (W1, _), (Wh, _), (Wg, _) in zip(one, half, he, strict=True):
        np.testing.assert_array_equal(Wh, 0.5 * W1)  # rescaled copies of the same draw
        np.testing.assert_allclose(Wg, np.sqrt(2) * W1, rtol=1e-15)
    big = nn.init_params([400, 300], seed=0, gain=3.0)[0][0]
    assert abs(big.std() / (3 / np.sqrt(400)) - 1) < 0.02
    for bad in (0.0, -1.0, np.nan, np.inf, "1", True, 1e7):
        with pytest.raises(ValueError, match="gain"):
            nn.init_params([3, 2], seed=0, gain=bad)


@pytest.mark.parametrize(
    ("func", "arg", "match"),
    [(f, a, m) for f in (nn.sigmoid, nn.sigmoid_derivative, nn.tanh_derivative, nn.softmax,
                         nn.log_softmax)
     for a, m in [(np.array([1j]), "real"), (np.array([np.nan]), "NaN"),
                  (np.array(["a"]), "numeric"), (np.array([]), "empty"),
                  (np.array([np.inf, 0.0]), "NaN")]]
    + [(nn.softmax, np.ones((2, 2, 2)), r"z must be a vector \(k,\) or a batch"),
       (nn.log_softmax, np.float64(1.0), r"z must be a vector \(k,\) or a batch")],
)
def test_new_elementwise_functions_validate(func, arg, match):
    copy = np.array(arg, copy=True)
    with pytest.raises(ValueError, match=match):
        func(arg)
    np.testing.assert_array_equal(arg, copy)


def test_log_softmax_of_logits_spread_beyond_float64_is_an_error():
    with pytest.raises(ValueError, match="log_softmax"):
        nn.log_softmax(np.array([1.5e308, -1.5e308]))
    np.testing.assert_array_equal(nn.softmax(np.array([1.5e308, -1.5e308])), [1.0, 0.0])
