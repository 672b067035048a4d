"""Benchmark of mlnotes.linear.normal_equation against numpy.linalg.lstsq.

Run:  python benchmarks/bench_linear.py [--n 1000000] [--d 50] [--repeats 5]

1. Speed, well-conditioned tall problem (default n = 10**6, d = 50, Gaussian X):
   ours and lstsq are called alternately, ``repeats`` times each, each call after a
   pause of SETTLE_SECONDS (so that OpenBLAS's spinning idle threads from the other
   library's call are asleep); the medians and their ratio (ours / lstsq; issue 10's
   target is <= 0.06) are printed. The floor is one pass over X forming X^T X (BLAS
   syrk); normal_equation computes X^T y in the same pass (row blocks in cache), one
   part of the rows per core (OpenBLAS's syrk parallelises over the d x d result
   only, which leaves a core idle at d = 50), and checks X for NaN/inf on the
   diagonal of X^T X, so it costs about that floor.
2. Accuracy, ill-conditioned tall problem: X = U diag(s) V^T with orthonormal U, V and
   singular values log-spaced from 1 to 1e-10 (cond(X) = 1e10), theta = V 1 (equal
   weight on every singular direction) and y = X theta exactly. Prints the relative
   error of theta for ours and for lstsq with its default rcond = eps * max(n, d)
   (target: ours <= 1e-6, while lstsq is off by more than 10%), and their times.

Memory: about 1.3 GB at the default size (X is 400 MB).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mlnotes.linear import ill_conditioned_problem, least_squares, normal_equation

# OpenBLAS's worker threads spin for a while (about 0.1 s) after a multithreaded call
# before they sleep; a call timed right after lstsq would share the cores with them.
# Each timed call starts after this pause, whichever library ran before it.
SETTLE_SECONDS = 0.5


def timed(f, *args, **kwargs):
    time.sleep(SETTLE_SECONDS)
    t0 = time.perf_counter()
    out = f(*args, **kwargs)
    return out, time.perf_counter() - t0


def speed(n: int, d: int, repeats: int, rng: np.random.Generator) -> None:
    X = rng.standard_normal((n, d))
    theta = rng.standard_normal(d)
    y = X @ theta + 0.1 * rng.standard_normal(n)
    ours_t, ref_t = [], []
    normal_equation(X, y)  # warm-up (loads LAPACK paths)
    for _ in range(repeats):
        ours, t = timed(least_squares, X, y)
        ours_t.append(t)
        ref, t = timed(np.linalg.lstsq, X, y)
        ref_t.append(t)
    theta_ours, info = ours.theta, ours
    diff = np.linalg.norm(theta_ours - ref[0]) / np.linalg.norm(ref[0])
    mo, mr = np.median(ours_t), np.median(ref_t)
    print(f"[speed] well-conditioned X: n={n}, d={d}, {repeats} interleaved repeats")
    print(f"  path: {info.method}, cond estimate of scaled X^T X: {info.cond_estimate:.3g}")
    print(f"  normal_equation median {mo:.4f} s   numpy.linalg.lstsq median {mr:.4f} s")
    print(f"  ratio ours/lstsq = {mo / mr:.3f}   (target <= 0.06)")
    print(
        f"  fastest runs: {min(ours_t):.4f} s and {min(ref_t):.4f} s, ratio "
        f"{min(ours_t) / min(ref_t):.3f} (less sensitive to a busy machine)"
    )
    print(f"  relative difference of the two solutions: {diff:.1e}")


def accuracy(n: int, d: int, cond: float, rng: np.random.Generator) -> None:
    X, y, theta = ill_conditioned_problem(n, d, cond, seed=rng)
    s = np.logspace(0, -np.log10(cond), d)
    info, to = timed(least_squares, X, y)
    ours = info.theta
    (ref, _, rank, _), tr = timed(np.linalg.lstsq, X, y)
    err = lambda a: np.linalg.norm(a - theta) / np.linalg.norm(theta)  # noqa: E731
    eps = np.finfo(float).eps
    print(f"[accuracy] ill-conditioned X: n={n}, d={d}, cond(X)={cond:.0e}, y = X theta exactly")
    print(f"  lstsq default rcond = eps*max(n,d) = {eps * max(n, d):.2e}; smallest s = {s[-1]:.0e}")
    print(
        f"  normal_equation: path {info.method}, rank {info.rank}, rel. error {err(ours):.2e}, {to:.2f} s"
    )
    print(f"  numpy.linalg.lstsq: rank {rank}, rel. error {err(ref):.2e}, {tr:.2f} s")
    print(f"  targets: ours <= 1e-6 -> {err(ours) <= 1e-6}; lstsq > 10% off -> {err(ref) > 0.1}")


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--d", type=int, default=50)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--cond", type=float, default=1e10)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    print(f"numpy {np.__version__}")
    speed(a.n, a.d, a.repeats, rng)
    accuracy(a.n, a.d, a.cond, rng)


if __name__ == "__main__":
    main()
