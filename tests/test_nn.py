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
    assert book_rel_err(dz, numerical_gradient(lambda v: float(np.sum(G * nn.relu(v))), Z, eps=1e-3)) < TOL
    # at exactly zero the derivative is taken to be 0, as in PyTorch
    np.testing.assert_array_equal(nn.relu_backward(np.ones(3), np.array([-1.0, 0.0, 1.0])), [0, 0, 1])


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
    # ReLU with ReLU'(0) = 0: d/dz Piecewise((z, z > 0), (0, True)) = Piecewise((1, z > 0), (0, True))
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
    ours = np.concatenate(
        [np.concatenate([dW.ravel(), db]) for dW, db in nn.backward(params, nn.forward(params, X)[1], Y)]
    )
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


# --- training -----------------------------------------------------------------------------


def _toy(n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, (n, 1))
    return X, np.sin(2 * X)


def test_train_reduces_loss_and_does_not_mutate():
    X, Y = _toy()
    p0 = nn.init_params([1, 16, 1], seed=0)
    copy = [(W.copy(), b.copy()) for W, b in p0]
    p, hist = nn.train(p0, X, Y, learning_rate=0.05, batch_size=8, n_epochs=50, seed=1,
                       X_val=X[:10], Y_val=Y[:10], eval_every=40, snapshot_steps=[0, 80])
    assert all(np.array_equal(W, Wc) for (W, _), (Wc, _) in zip(p0, copy, strict=True))
    assert hist["train_loss"][-1] < 0.3 * hist["train_loss"][0]
    assert len(hist["batch_loss"]) == 50 * 8
    assert hist["step"][0] == 0 and hist["step"][-1] == 400
    assert len(hist["val_loss"]) == len(hist["train_loss"]) == len(hist["step"])
    assert set(hist["snapshots"]) == {0, 80}
    assert np.array_equal(hist["snapshots"][0][0][0], copy[0][0])
    assert hist["train_loss"][-1] == pytest.approx(nn.loss(nn.forward(p, X)[0], Y), rel=1e-14)


def test_train_is_reproducible_with_seed():
    X, Y = _toy()
    p0 = nn.init_params([1, 8, 1], seed=0)
    a, ha = nn.train(p0, X, Y, learning_rate=0.05, batch_size=4, n_iter=30, seed=3)
    b, hb = nn.train(p0, X, Y, learning_rate=0.05, batch_size=4, n_iter=30, seed=3)
    np.testing.assert_array_equal(ha["batch_loss"], hb["batch_loss"])
    np.testing.assert_array_equal(a[0][0], b[0][0])


def test_full_batch_step_is_gradient_descent():
    X, Y = _toy(n=20)
    p0 = nn.init_params([1, 5, 1], seed=2)
    p, _ = nn.train(p0, X, Y, learning_rate=0.1, batch_size=20, n_iter=1, seed=0)
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
    p, _ = nn.train(p0, X, Y, learning_rate=0.1, batch_size=16, n_iter=1, seed=0)
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
    assert len(err.history["batch_loss"]) == err.step


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"learning_rate": 0.0, "batch_size": 4, "n_iter": 1}, "learning_rate"),
        ({"learning_rate": float("nan"), "batch_size": 4, "n_iter": 1}, "learning_rate"),
        ({"learning_rate": 0.1, "batch_size": 0, "n_iter": 1}, "batch_size"),
        ({"learning_rate": 0.1, "batch_size": 65, "n_iter": 1}, "batch_size"),
        ({"learning_rate": 0.1, "batch_size": 4}, "exactly one"),
        ({"learning_rate": 0.1, "batch_size": 4, "n_iter": 1, "n_epochs": 1}, "exactly one"),
        ({"learning_rate": 0.1, "batch_size": 4, "n_iter": 0}, "positive"),
        ({"learning_rate": 0.1, "batch_size": 4, "n_iter": 1, "eval_every": 0}, "eval_every"),
        ({"learning_rate": 0.1, "batch_size": 4, "n_iter": 1, "X_val": np.ones((3, 1))}, "both"),
        ({"learning_rate": 0.1, "batch_size": 4, "n_iter": 1, "X_val": np.ones((3, 2)),
          "Y_val": np.ones((3, 1))}, "held-out"),
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
