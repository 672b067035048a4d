"""One training step's gradient: mlnotes.nn (numpy) against PyTorch's autograd (CPU).

The step is a forward and a backward pass of a ReLU network, in float64, for the
book's cost (mean over examples of 1/2 ||h - y||^2), on two networks:

- 64 -> 64 -> 10 with a batch of 16, where the per-call overhead (argument checks,
  Python and dispatch) dominates: the target is ours <= 0.35x torch;
- 784 -> 256 -> 10 with a batch of 256, where both are bound by the matrix products:
  the target is ours >= 90% of numpy's float64 matmul rate (the torch ratio is
  reported too).

- ours:  ``out, cache = nn.forward(params, X); nn.backward(params, cache, Y)`` (the
  public functions, with their argument checks);
- torch: the same network (``tests/references.py``, shared with the tests), then
  ``torch.autograd.grad`` of the cost with respect to the parameter tensors (fresh
  gradient tensors each call, as ours; X does not require a gradient in either).

Both use the same number of threads (``--threads``, default 1): numpy's BLAS through
threadpoolctl and ``torch.set_num_threads``. The two are called alternately, ``--repeats``
times, each time ``--number`` calls in a row; the medians of the per-call times are
compared. Ratio = ours / torch. Also printed: the achieved GFLOP/s of each step against
the machine's float64 matmul rate (a 1024 x 1024 product, same run, same threads), and
the largest relative difference between the two gradients. Also timed in the same loop,
for information: numpy's matrix products of the step alone (the same shapes and layouts as
ours, nothing else), so that the share of the step spent outside them (elementwise passes,
argument checks, Python) is seen apart from the products' own speed, which depends on
their shapes and on the memory traffic of a shared host (its caches): when the host is
busy the products slow down, ours and torch's steps with them, but not the 1024 x 1024
reference, bound by arithmetic (its blocks are reused from the core's own cache). The
rate a network's step is held against is the median of 1024 x 1024 products timed in
its own loop, one before each pair of steps (followed by an untimed call of each
library, as the product leaves the caches cold), so that the machine's drifting speed
(a shared virtual machine's) enters the step and the reference alike.

Run:  .venv/bin/python benchmarks/bench_nn.py [--threads 1] [--repeats 31] [--number 10]
(``make bench`` installs requirements-bench.txt and unsets OPENBLAS_CORETYPE, which
slows a current numpy where it is set).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_info, threadpool_limits

from mlnotes import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from references import torch_cost, torch_mlp  # the tests' network, built once

NETWORKS = [([64, 64, 10], 16, "ratio <= 0.35"), ([784, 256, 10], 256, ">= 90% of matmul rate")]


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


def measure(sizes, batch, args, rng, gemm):
    params = nn.init_params(sizes, seed=0)
    params = [(W, 0.1 * rng.standard_normal(b.shape)) for W, b in params]
    X = rng.standard_normal((batch, sizes[0]))
    Y = rng.standard_normal((batch, sizes[-1]))
    tensors = torch_mlp(params)
    tX, tY = torch.tensor(X), torch.tensor(Y)

    def ours():
        _, cache = nn.forward(params, X)
        return nn.backward(params, cache, Y)

    def theirs():
        return torch.autograd.grad(torch_cost(tensors, tX, tY), tensors)

    _, cache = nn.forward(params, X)
    acts, weights = cache.a, [W for W, _ in params]
    dzs = [rng.standard_normal(z.shape) for z in cache.z]

    def products():  # the step's matrix products alone, as nn computes them
        for i, (a, W, dz) in enumerate(zip(acts, weights, dzs, strict=True)):
            a @ W.T  # forward: Z = A W^T
            dz.T @ a  # Lemma 1: dW = dZ^T A
            if i:
                dz @ W  # Lemma 3: dA = dZ W

    g_ours = [a for pair in ours() for a in pair]
    g_torch = [t.numpy() for t in theirs()]
    rel = max(float(np.linalg.norm(a - b) / np.linalg.norm(b)) for a, b in zip(g_ours, g_torch, strict=True))
    for _ in range(20):  # warm-up
        ours()
        theirs()
    t_ours, t_torch, t_prod, t_gemm = [], [], [], []
    for _ in range(args.repeats):
        t_gemm.append(per_call(gemm, 1))
        ours(), theirs()  # untimed: the product has left the caches cold for both
        t_ours.append(per_call(ours, args.number))
        t_torch.append(per_call(theirs, args.number))
        t_prod.append(per_call(products, args.number))
    return rel, float(np.median(t_ours)), float(np.median(t_torch)), float(np.median(t_prod)), t_gemm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=31)
    ap.add_argument("--number", type=int, default=10)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    with threadpool_limits(limits=args.threads):
        blas = [(i["internal_api"], i.get("version"), i.get("architecture"), i["num_threads"]) for i in threadpool_info()]
        # the machine's float64 matmul rate, same threads, same run: numpy's product is
        # timed between the two libraries' steps (the machine's speed drifts), torch's after
        A, B = rng.standard_normal((1024, 1024)), rng.standard_normal((1024, 1024))
        tA, tB = torch.tensor(A), torch.tensor(B)
        results = [measure(sizes, batch, args, rng, lambda: A @ B) for sizes, batch, _ in NETWORKS]
        gemm_np = [t for *_, t_gemm in results for t in t_gemm]
        gemm_torch = [per_call(lambda: tA @ tB, 3) for _ in range(7)]
        flops_gemm = 2 * 1024**3
        rate_np = flops_gemm / float(np.median(gemm_np)) / 1e9
        rate_torch = flops_gemm / float(np.median(gemm_torch)) / 1e9

    print(f"threads: {args.threads} (numpy BLAS via threadpoolctl, torch.set_num_threads); "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print(f"numpy {np.__version__}, BLAS {blas}; torch {torch.__version__}")
    print(f"machine float64 matmul (1024^3): numpy {rate_np:.1f} GFLOP/s, torch {rate_torch:.1f} GFLOP/s")
    for (sizes, batch, target), (rel, m_ours, m_torch, m_prod, t_gemm) in zip(NETWORKS, results, strict=True):
        flops = matmul_flops(sizes, batch)
        rate = flops_gemm / float(np.median(t_gemm)) / 1e9  # timed beside this network's steps
        print(f"network {'-'.join(map(str, sizes))}, batch {batch}, float64, forward + backward "
              f"(target: {target})")
        print(f"  gradient agreement: max relative difference (norm-wise, per tensor) {rel:.1e}")
        print(f"  time per step: ours {m_ours * 1e6:.1f} us, torch {m_torch * 1e6:.1f} us "
              f"(median of {args.repeats} x {args.number} calls, interleaved)")
        print(f"  ratio ours / torch: {m_ours / m_torch:.2f}")
        print(f"  {flops / 1e6:.2f} MFLOP in matrix products -> ours {flops / m_ours / 1e9:.1f} GFLOP/s "
              f"({flops / m_ours / 1e9 / rate:.0%} of numpy's matmul rate, {rate:.1f} GFLOP/s "
              f"in this loop), torch {flops / m_torch / 1e9:.1f} GFLOP/s")
        print(f"  numpy's products of the step alone: {m_prod * 1e6:.1f} us, {flops / m_prod / 1e9:.1f} "
              f"GFLOP/s ({flops / m_prod / 1e9 / rate:.0%} of the matmul rate); ours spends "
              f"{m_prod / m_ours:.0%} of its step in them (information)")


if __name__ == "__main__":
    main()
