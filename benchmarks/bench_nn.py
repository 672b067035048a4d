"""One training step's gradient: mlnotes.nn (numpy) against PyTorch's autograd (CPU).

The step is a forward and a backward pass of a 784 -> 256 -> 10 ReLU network on a batch
of 256, in float64, for the book's cost (mean over examples of 1/2 ||h - y||^2):

- ours:  ``out, cache = nn.forward(params, X); nn.backward(params, cache, Y)``;
- torch: the same network with ``torch.nn.functional.linear`` and ``torch.relu``, then
  ``torch.autograd.grad`` of the cost with respect to the four parameter tensors (fresh
  gradient tensors each call, as ours; X does not require a gradient in either).

Both use the same number of threads (``--threads``, default 1): numpy's BLAS through
threadpoolctl and ``torch.set_num_threads``. The two are called alternately, ``--repeats``
times, each time ``--number`` calls in a row; the medians of the per-call times are
compared. Ratio = ours / torch (the issue's target is <= 0.8).

Also printed: the achieved GFLOP/s of each step (the matrix products' flops divided by
the time) against the float64 matmul rate of the machine, measured in the same run with
a 1024 x 1024 product in numpy and in torch; and the largest relative difference between
the two gradients.

Run:  .venv/bin/python benchmarks/bench_nn.py [--threads 1] [--repeats 31] [--number 10]
(needs ``pip install -r requirements-bench.txt``). numpy's OpenBLAS picks its kernels at
import time; if OPENBLAS_CORETYPE is set (this project's CI pins it), it uses those, which
may be older than the CPU's. To measure the machine as it is, unset it for this command:
``env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/bench_nn.py``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import time

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from mlnotes import nn

SIZES = [784, 256, 10]
BATCH = 256


def matmul_flops(sizes: list[int], n: int) -> int:
    """Flops of the matrix products of one forward + backward (no input gradient for X)."""
    layers = list(itertools.pairwise(sizes))
    fwd = sum(2 * n * i * o for i, o in layers)
    bwd = sum(2 * n * i * o * (2 if k > 0 else 1) for k, (i, o) in enumerate(layers))
    return fwd + bwd


def per_call(fn, number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=31)
    ap.add_argument("--number", type=int, default=10)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    params = nn.init_params(SIZES, seed=0)
    params = [(W, 0.1 * rng.standard_normal(b.shape)) for W, b in params]
    X = rng.standard_normal((BATCH, SIZES[0]))
    Y = rng.standard_normal((BATCH, SIZES[-1]))

    tparams = [t for W, b in params for t in (torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True))]
    tX, tY = torch.tensor(X), torch.tensor(Y)

    def ours():
        _, cache = nn.forward(params, X)
        return nn.backward(params, cache, Y)

    def theirs():
        W1, b1, W2, b2 = tparams
        h = torch.nn.functional.linear(torch.relu(torch.nn.functional.linear(tX, W1, b1)), W2, b2)
        r = h - tY
        J = 0.5 * (r * r).sum() / BATCH
        return torch.autograd.grad(J, tparams)

    with threadpool_limits(limits=args.threads):
        blas = [(i["internal_api"], i.get("version"), i.get("architecture"), i["num_threads"]) for i in threadpool_info()]

        # accuracy: both gradients, float64
        g_ours = [a for pair in ours() for a in pair]
        g_torch = [t.numpy() for t in theirs()]
        rel = max(float(np.linalg.norm(a - b) / np.linalg.norm(b)) for a, b in zip(g_ours, g_torch, strict=True))

        for _ in range(20):  # warm-up
            ours()
            theirs()
        t_ours, t_torch = [], []
        for _ in range(args.repeats):
            t_ours.append(per_call(ours, args.number))
            t_torch.append(per_call(theirs, args.number))
        m_ours, m_torch = float(np.median(t_ours)), float(np.median(t_torch))

        # the machine's float64 matmul rate, same threads, same run
        A, B = rng.standard_normal((1024, 1024)), rng.standard_normal((1024, 1024))
        tA, tB = torch.tensor(A), torch.tensor(B)
        gemm_np, gemm_torch = [], []
        for _ in range(7):
            gemm_np.append(per_call(lambda: A @ B, 3))
            gemm_torch.append(per_call(lambda: tA @ tB, 3))
        flops_gemm = 2 * 1024**3
        rate_np = flops_gemm / float(np.median(gemm_np)) / 1e9
        rate_torch = flops_gemm / float(np.median(gemm_torch)) / 1e9

    flops = matmul_flops(SIZES, BATCH)
    print(f"network {'-'.join(map(str, SIZES))}, batch {BATCH}, float64, forward + backward")
    print(f"threads: {args.threads} (numpy BLAS via threadpoolctl, torch.set_num_threads); "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print(f"numpy {np.__version__}, BLAS {blas}; torch {torch.__version__}")
    print(f"gradient agreement: max relative difference (norm-wise, per tensor) {rel:.1e}")
    print(f"time per step: ours {m_ours * 1e3:.3f} ms, torch {m_torch * 1e3:.3f} ms "
          f"(median of {args.repeats} x {args.number} calls, interleaved)")
    print(f"ratio ours / torch: {m_ours / m_torch:.2f}   (target <= 0.8)")
    print(f"step: {flops / 1e6:.1f} MFLOP in matrix products -> ours {flops / m_ours / 1e9:.1f} GFLOP/s, "
          f"torch {flops / m_torch / 1e9:.1f} GFLOP/s")
    print(f"machine float64 matmul (1024^3): numpy {rate_np:.1f} GFLOP/s, torch {rate_torch:.1f} GFLOP/s; "
          f"ours reaches {flops / m_ours / 1e9 / rate_np:.0%} of numpy's rate")


if __name__ == "__main__":
    main()
