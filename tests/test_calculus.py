"""Unit tests of mlnotes.calculus against analytic gradients and sympy."""

import os

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from mlnotes.calculus import (
    gradient_check,
    lre,
    matrices_equal,
    numerical_gradient,
    relative_error,
    symbolic_gradient,
    symbolic_matrix,
    symbolic_vector,
)

RNG = np.random.default_rng(0)


# --- numerical_gradient -------------------------------------------------------------


def test_gradient_of_quadratic_form_in_a_vector():
    B = RNG.standard_normal((4, 4))  # not symmetric
    x = RNG.standard_normal(4)
    g = numerical_gradient(lambda v: v @ B @ v, x)
    np.testing.assert_allclose(g, (B + B.T) @ x, rtol=1e-8, atol=1e-8)


def test_gradient_with_respect_to_a_matrix_has_its_shape():
    A = RNG.standard_normal((3, 5))
    B = RNG.standard_normal((5, 3))
    g = numerical_gradient(lambda M: np.trace(M @ B), A)
    assert g.shape == A.shape
    np.testing.assert_allclose(g, B.T, atol=1e-8)


def test_gradient_of_log_determinant():
    M = RNG.standard_normal((3, 3))
    A = M @ M.T + 3 * np.eye(3)
    g = numerical_gradient(lambda X: np.linalg.slogdet(X)[1], A)
    np.testing.assert_allclose(g, np.linalg.inv(A).T, atol=1e-7)


def test_gradient_of_a_three_index_array_and_of_a_scalar():
    T = RNG.standard_normal((2, 3, 4))
    np.testing.assert_allclose(numerical_gradient(lambda t: np.sum(t**2), T), 2 * T, atol=1e-7)
    assert numerical_gradient(lambda s: s**3, np.float64(2.0)) == pytest.approx(12.0, rel=1e-8)


def test_x_is_not_modified_and_integer_input_is_accepted():
    x = np.array([1, 2, 3])
    before = x.copy()
    g = numerical_gradient(lambda v: float(v @ v), x)
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(g, 2 * before, atol=1e-7)
    assert g.dtype == np.float64


def test_central_difference_is_second_order():
    # The error of a central difference for exp at 0 falls like eps^2 / 6.
    errors = [abs(numerical_gradient(lambda v: np.exp(v[0]), np.zeros(1), eps)[0] - 1.0)
              for eps in (1e-2, 1e-3)]
    assert errors[0] == pytest.approx(1e-4 / 6, rel=1e-2)
    assert errors[1] < errors[0] / 50


@given(
    rows=st.integers(1, 4),
    cols=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
@settings(max_examples=30, deadline=None)
def test_backprop_rule_for_any_shapes(rows, cols, seed):
    # For J = sum(G * (A @ x)), dJ/dA = G x^T (chapter 1, mc-backprop-matvec).
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((rows, cols))
    x = rng.standard_normal(cols)
    g = rng.standard_normal(rows)
    numeric = numerical_gradient(lambda M: g @ (M @ x), A)
    np.testing.assert_allclose(numeric, np.outer(g, x), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("bad", [np.array([1.0, np.nan]), np.array([np.inf]), np.array([])])
def test_non_finite_or_empty_x_is_rejected(bad):
    with pytest.raises(ValueError, match=r"finite|empty"):
        numerical_gradient(lambda v: float(np.sum(v)), bad)


def test_non_numeric_x_is_rejected():
    with pytest.raises(ValueError, match="numeric"):
        numerical_gradient(lambda v: 0.0, np.array(["a", "b"]))
    with pytest.raises(ValueError, match="real"):
        numerical_gradient(lambda v: 0.0, np.array([1j]))


def test_f_must_return_a_scalar():
    with pytest.raises(ValueError, match="scalar"):
        numerical_gradient(lambda v: v * 2, np.ones(3))


def test_f_returning_nan_is_reported():
    with pytest.raises(ValueError, match="non-finite"):
        numerical_gradient(lambda v: v[0] if v[0] >= 0 else float("nan"), np.array([0.0]))


@pytest.mark.parametrize("eps", [0.0, -1e-6, np.nan, "small", 1.5, np.inf, True, 1j])
def test_bad_eps(eps):
    with pytest.raises(ValueError, match="eps"):
        numerical_gradient(lambda v: float(v @ v), np.ones(2), eps)


def test_eps_one_is_the_largest_step_allowed():
    # eps lies in (0, 1]; at 1 the step is max(1, |x|): exact for a quadratic
    x = np.array([0.5, -3.0])
    np.testing.assert_allclose(numerical_gradient(lambda v: float(v @ v), x, 1.0), 2 * x)


def test_step_is_relative_to_x():
    """The step is eps * max(1, |x_i|): absolute near 0, relative for large entries."""
    x = np.array([0.25, -4.0, 1e10])
    probes = []

    def f(v):
        probes.append(v.copy())
        return float(np.sum(v))

    numerical_gradient(f, x, eps=1e-4)
    steps = np.array([np.max(np.abs(p - x)) for p in probes[1:]])  # probes[0] is f(x)
    np.testing.assert_allclose(steps, np.repeat([1e-4, 4e-4, 1e6], 2), rtol=1e-9)


def test_large_x_gets_the_right_gradient():
    # A fixed step of 1e-6 is about half an ulp of 1e10 (1.9e-6): x + 1e-6 rounds to
    # x + 1.9e-6, so dividing by the nominal step would be wrong by a factor of about 2.
    # The step is relative, and the division uses the step as represented.
    for x in (1e10, -3e12, 7e150):
        g = numerical_gradient(lambda v: float(v[0] ** 2), np.array([x]))
        assert g[0] == pytest.approx(2 * x, rel=1e-8)
    # a linear function's central difference is exact when divided by the true step,
    # even for a step of a few ulps, which rounding changes by up to a third
    g = numerical_gradient(lambda v: float(v[0]), np.array([1e10]), eps=3e-16)
    assert g[0] == 1.0


@pytest.mark.parametrize("x", [np.array([1.0]), np.array([0.5, 1e5])])
def test_eps_too_small_to_move_x_is_an_error(x):
    with pytest.raises(ValueError, match="cannot move x"):
        numerical_gradient(lambda v: float(np.sum(v)), x, eps=1e-300)


def test_f_must_be_callable():
    with pytest.raises(ValueError, match="callable"):
        numerical_gradient(3.0, np.ones(2))


# --- gradient_check -----------------------------------------------------------------


def test_gradient_check_accepts_right_and_rejects_wrong_gradient():
    B = np.array([[1.0, 2.0], [0.0, 1.0]])
    x = np.array([1.0, 1.0])
    right = gradient_check(lambda v: v @ B @ v, lambda v: (B + B.T) @ v, x)
    wrong = gradient_check(lambda v: v @ B @ v, lambda v: 2 * B @ v, x)
    assert right < 1e-8
    assert wrong > 0.1


def test_gradient_check_does_not_blow_up_at_a_stationary_point():
    # At x = 0 both gradients are ~0: a plain relative error would be 0/0.
    err = gradient_check(lambda v: float(v @ v), lambda v: 2 * v, np.zeros(3))
    assert err < 1e-8


def test_gradient_check_is_relative_for_large_gradients():
    # Gradient entries of size 1e6: an absolute error of 1e-3 is a relative error of 1e-9.
    x = np.array([1e6])
    err = gradient_check(lambda v: 0.5 * float(v @ v), lambda v: v + 1e-3, x, eps=1e-2)
    assert err < 1e-8


def test_gradient_check_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        gradient_check(lambda v: float(v @ v), lambda v: (2 * v)[:, None], np.ones(3))


def test_gradient_check_non_finite_gradient():
    with pytest.raises(ValueError, match="NaN or infinite"):
        gradient_check(lambda v: float(v @ v), lambda v: v * np.nan, np.ones(3))


def test_gradient_check_grad_must_be_callable():
    with pytest.raises(ValueError, match="callable"):
        gradient_check(lambda v: float(v @ v), np.ones(3), np.ones(3))


# --- sympy helpers ------------------------------------------------------------------


def test_symbolic_matrix_and_vector_shapes_and_names():
    A = symbolic_matrix("A", 2, 3)
    x = symbolic_vector("x", 3)
    assert A.shape == (2, 3) and x.shape == (3, 1)
    assert str(A[1, 2]) == "A_23" and str(x[0]) == "x_1"
    assert A[0, 0].is_real


@pytest.mark.parametrize("shape", [(0, 2), (2, -1), (1.5, 2), (True, 2)])
def test_symbolic_matrix_rejects_bad_shapes(shape):
    with pytest.raises(ValueError, match="positive integer"):
        symbolic_matrix("A", *shape)


def test_symbolic_matrix_rejects_empty_name():
    with pytest.raises(ValueError, match="name"):
        symbolic_matrix("", 2, 2)
    with pytest.raises(ValueError, match="name"):
        symbolic_vector("", 2)


def test_symbolic_gradient_is_denominator_layout():
    A = symbolic_matrix("A", 2, 3)
    x = symbolic_vector("x", 3)
    b = symbolic_vector("b", 2)
    g = symbolic_gradient(b.T * A * x, A)
    assert g.shape == A.shape
    assert matrices_equal(g, b * x.T)
    assert matrices_equal(symbolic_gradient(b.T * A * x, x), A.T * b)


def test_symbolic_gradient_rejects_non_scalar():
    x = symbolic_vector("x", 2)
    with pytest.raises(ValueError, match="scalar"):
        symbolic_gradient(x * x.T, x)


def test_matrices_equal_true_false_and_shape_error():
    A = symbolic_matrix("A", 2, 3)
    B = symbolic_matrix("B", 3, 2)
    assert matrices_equal((A * B).T, B.T * A.T)
    C = symbolic_matrix("C", 2, 2)
    D = symbolic_matrix("D", 2, 2)
    assert not matrices_equal(C * D, D * C)
    with pytest.raises(ValueError, match="different shapes"):
        matrices_equal(A, A.T)


@pytest.mark.parametrize(
    ("lhs", "rhs"),
    [("x", "x"), ("1", 1), (1, "1"), ([["x", 1]], [[1, 1]]), (("x",), (1,)), (b"1", 1),
     (np.eye(2), np.eye(2))],
)
def test_matrices_equal_refuses_strings_and_other_objects(lhs, rhs):
    # sympy would parse (evaluate) a string; the refusal comes first, with a message
    with pytest.raises(ValueError, match="must be a sympy expression"):
        matrices_equal(lhs, rhs)


def test_matrices_equal_does_not_evaluate_a_string(monkeypatch):
    # sympy.Matrix(["..."]) runs the string through eval: this one would set a variable
    # of the environment. matrices_equal must refuse it before sympy sees it.
    name = "MLNOTES_SYMPY_EVAL_PROBE"
    monkeypatch.delenv(name, raising=False)
    code = f"__import__('os').environ.setdefault('{name}', '1')"
    with pytest.raises(ValueError, match="Strings are refused"):
        matrices_equal([[code]], [[1]])
    with pytest.raises(ValueError, match="Strings are refused"):
        matrices_equal(1, code)
    assert name not in os.environ
    monkeypatch.delenv(name, raising=False)  # clean up should the check above fail


def test_matrices_equal_accepts_numbers_and_nested_lists():
    x = sp.Symbol("x", real=True)
    assert matrices_equal([[x, 2], [3.0, np.float64(4)]], sp.Matrix([[x, 2], [3, 4]]))
    assert matrices_equal((x + 1) ** 2, x**2 + 2 * x + 1)


def test_matrices_equal_on_scalars_needs_simplification():
    t = sp.Symbol("t", real=True)
    assert matrices_equal(sp.sin(t) ** 2 + sp.cos(t) ** 2, 1)
    assert not matrices_equal(sp.sin(t) ** 2, 1)


# --- accuracy measures ---------------------------------------------------------------


def test_lre_counts_correct_significant_digits():
    cert = np.array([1.0, -2.0, 300.0])
    assert lre(cert, cert) == 16.0  # exact: all that float64 carries
    assert lre(cert * (1 + 1e-7), cert) == pytest.approx(7.0, abs=1e-6)
    # the minimum over entries: one bad coefficient decides
    assert lre(cert + np.array([0.0, 0.0, 3e-2]), cert) == pytest.approx(4.0, abs=1e-9)
    # a certified zero is compared in absolute terms, as NIST does
    assert lre(np.array([1e-9, 1.0]), np.array([0.0, 1.0])) == pytest.approx(9.0)
    assert lre(np.array([2.0]), np.array([1.0])) == pytest.approx(0.0)


def test_relative_error_is_normwise():
    ref = np.array([3.0, 4.0])
    assert relative_error(ref, ref) == 0.0
    assert relative_error(np.array([3.0, 4.5]), ref) == pytest.approx(0.1)
    assert relative_error(np.array([[3.0], [4.5]]), ref.reshape(2, 1)) == pytest.approx(0.1)


@pytest.mark.parametrize("func", [lre, relative_error])
@pytest.mark.parametrize(
    ("estimate", "reference", "message"),
    [
        (np.ones(3), np.ones(2), "shape"),
        (np.array([np.nan]), np.ones(1), "estimate contains"),
        (np.ones(1), np.array([np.inf]), "reference contains"),
        (np.ones(1, dtype=complex), np.ones(1), "real"),
        ([], [], "empty"),
    ],
)
def test_accuracy_measures_reject_bad_input(func, estimate, reference, message):
    with pytest.raises(ValueError, match=message):
        func(estimate, reference)


def test_relative_error_to_zero_is_an_error():
    with pytest.raises(ValueError, match="reference is zero"):
        relative_error(np.ones(2), np.zeros(2))
