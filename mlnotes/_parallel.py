"""Sums over the examples, split across the cores.

OpenBLAS parallelises a matrix product over its result. The products of least
squares and of EM have a long inner dimension (the examples) and a small result
(``d x d``, ``k x d``), so BLAS leaves every core but one idle on them. Such a sum
is split here into one contiguous range of examples per BLAS thread, each range
summed by its own Python thread (numpy releases the GIL) with BLAS single-threaded
meanwhile, and the partial sums are added in range order. The split depends only
on the number of examples and of BLAS threads: a result is reproducible on a given
set-up, and the rounding differs from one set-up to another as BLAS's own does.

A split pays only when a part's numpy calls are long (a millisecond, not ten
microseconds): between calls a thread must take the GIL back, and two threads that
hand it to each other at every short call run slower than one (measured on EM's
cache-sized blocks at d = 10). The callers choose their parts with that in mind.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy  # noqa: F401 - loads BLAS before the controller looks for it
from threadpoolctl import ThreadpoolController

T = TypeVar("T")

_CONTROLLER = ThreadpoolController()


def n_parts(n: int, min_part: int) -> int:
    """How many ranges to split ``n`` examples into: one per BLAS thread (at most the
    machine's cores), each of at least ``min_part`` examples."""
    counts = [lib.num_threads for lib in _CONTROLLER.select(user_api="blas").lib_controllers]
    threads = max(1, min(max(counts, default=1), os.cpu_count() or 1))
    return max(1, min(threads, n // max(1, min_part)))


def ranges(n: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` contiguous ranges ``(lo, hi)`` covering ``0 .. n``, sizes within one."""
    bounds = [n * i // parts for i in range(parts + 1)]
    return list(itertools.pairwise(bounds))


def map_parts(fn: Callable[[int], T], parts: int) -> list[T]:
    """``[fn(0), ..., fn(parts - 1)]``, run in parallel with BLAS on one thread each.

    A single part also runs with BLAS on one thread: the products of a part are thin
    (a short result, or a block of cache size), and BLAS's threads cost more than
    they save on them (measured: up to four times slower for EM at d = 10).
    """
    with _CONTROLLER.limit(limits=1, user_api="blas"):
        if parts == 1:
            return [fn(0)]
        with ThreadPoolExecutor(parts) as pool:
            return list(pool.map(fn, range(parts)))


def sum_parts(fn: Callable[[int], tuple], parts: int) -> tuple:
    """The entrywise sum, in range order, of the tuples ``fn(0), ..., fn(parts - 1)``
    (run by :func:`map_parts`)."""
    sums = map_parts(fn, parts)
    total = list(sums[0])
    for part in sums[1:]:
        total = [a + b for a, b in zip(total, part, strict=True)]
    return tuple(total)
