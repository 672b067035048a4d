"""The same book on every machine: every chapter under nbval on several simulated machines.

A printed number must come out the same on any IEEE-754 machine with the pinned
libraries, whatever its BLAS kernels and thread count (README, "Working on a
chapter"). Rounding inside a matrix product depends on the kernel OpenBLAS picks for
the CPU (the order of the additions, fused multiply-adds, the blocking) and on the
number of threads. This test simulates other machines on this one: it runs
``pytest chapters/`` (nbval, strict) in a subprocess once per configuration, with
OpenBLAS forced onto another kernel family or onto one thread, and fails if any
cell's output differs from the stored one.

Before each run it checks, with threadpoolctl in a fresh interpreter, that the
configuration really took effect: a forced kernel that OpenBLAS silently ignored
would make the test pass without testing anything.

One configuration only: ``.venv/bin/pytest chapters/`` (the environment as it is);
one of these: ``.venv/bin/pytest tests/test_portability.py -k Prescott``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

# Variables that choose OpenBLAS's kernels and threads. Every configuration starts
# from the environment without them (the machine's own choice), as a reader's does.
BLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return set(line.split(":", 1)[1].split())
    return set()


def _kernel_families() -> list[tuple[str, tuple[str, ...], str | None]]:
    """(OPENBLAS_CORETYPE, names OpenBLAS may report for it, reason it cannot run here)."""
    machine, flags = platform.machine().lower(), _cpu_flags()
    if machine in {"x86_64", "amd64"}:
        return [
            # AVX2 + FMA kernels: most x86 laptops and servers since 2013.
            ("Haswell", ("haswell",), None if {"avx2", "fma"} <= flags else "no AVX2/FMA"),
            # AVX without FMA: the laptops of 2011-2013, and what differs most in rounding
            # (no fused multiply-add).
            ("Sandybridge", ("sandybridge",), None if "avx" in flags else "no AVX"),
            # The generic SSE3 kernels, which every x86-64 CPU runs (OpenBLAS may
            # report this family under the name of its oldest member, Katmai).
            ("Prescott", ("prescott", "katmai"), None),
        ]
    if machine in {"aarch64", "arm64"}:
        return [
            ("ARMV8", ("armv8",), None),
            ("NEOVERSEN1", ("neoversen1",), None if "asimd" in flags else "no ASIMD"),
        ]
    return []


def _configurations():
    base = {"default": {}, "single-thread": {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}}
    params = [pytest.param(env, None, id=name) for name, env in base.items()]
    for coretype, reported, why_not in _kernel_families():
        marks = [pytest.mark.skip(reason=f"this CPU cannot run {coretype}: {why_not}")] if why_not else []
        params.append(
            pytest.param({"OPENBLAS_CORETYPE": coretype}, reported, id=coretype, marks=marks)
        )
    return params


def _environment(changes: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in BLAS_VARS}
    # The subprocess is a test run of its own, not part of this one.
    env = {k: v for k, v in env.items() if not k.startswith(("PYTEST_", "COV_"))}
    env.update(changes)
    return env


def _blas_in(env: dict[str, str]) -> dict:
    probe = (
        "import json, numpy, threadpoolctl; "
        "print(json.dumps([i for i in threadpoolctl.threadpool_info() if i['user_api'] == 'blas']))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    ).stdout
    found = json.loads(out)
    assert len(found) == 1, f"expected numpy's one BLAS library, found {found}"
    return found[0]


@pytest.mark.parametrize(("changes", "reported"), _configurations())
def test_every_chapter_gives_the_stored_outputs(changes, reported):
    env = _environment(changes)
    blas = _blas_in(env)
    if reported is not None:
        if blas["internal_api"] != "openblas":
            pytest.skip(f"numpy uses {blas['internal_api']}, not OpenBLAS: no kernel families to force")
        assert blas["architecture"].lower() in reported, (
            f"OPENBLAS_CORETYPE={changes['OPENBLAS_CORETYPE']} did not take effect: OpenBLAS "
            f"runs its {blas['architecture']} kernels"
        )
    if "OPENBLAS_NUM_THREADS" in changes:
        assert blas["num_threads"] == 1, f"BLAS still runs {blas['num_threads']} threads"

    start = time.perf_counter()
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "chapters/", "-q", "-n", "2", "--dist", "loadfile",
         "-p", "no:cacheprovider", "--color=no"],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    seconds = time.perf_counter() - start
    summary = run.stdout.strip().splitlines()[-1] if run.stdout.strip() else "(no output)"
    print(f"{blas['architecture']} kernels, {blas['num_threads']} thread(s): {summary} ({seconds:.0f} s)")
    assert run.returncode == 0, (
        f"chapters differ from their stored outputs with BLAS = {blas['architecture']} "
        f"kernels, {blas['num_threads']} thread(s) ({changes or 'machine default'}). "
        "A printed number depends on rounding: print what the text claims (a bound, a "
        "class) and assert the value within bounds (README, 'Working on a chapter').\n"
        + run.stdout[-6000:] + run.stderr[-2000:]
    )
