"""Execute the chapter notebooks so that a re-run changes nothing that did not change.

``make execute`` runs this file; ``tests/test_reexecution.py`` imports it. A notebook
is executed top to bottom in a fresh ``python3`` kernel (this environment's Python,
which imports ``mlnotes``) and stored in a canonical form:

- no per-cell execution timestamps (``record_timing=False``), which would change
  every line of the diff on every run;
- consecutive stream outputs of the same name merged into one, as the book build
  shows them (``nb_merge_streams: true`` in ``_config.yml``), however the kernel
  happened to split them;
- no stored output for a cell marked ``# NBVAL_IGNORE_OUTPUT`` (a timing): its
  numbers differ on every run, so the stored notebook keeps only its execution
  count, and the book, which executes the chapters when it is built, shows the
  numbers of the machine that built it;
- a fixed ``PYTHONHASHSEED`` and ``SOURCE_DATE_EPOCH``, so that nothing that is
  printed or drawn depends on string-hash order or on the date, and the same figure
  on the same machine gives the same PNG bytes.

Usage: ``python tests/notebooks.py chapters/*.ipynb`` (in place).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TIMEOUT = 600


def merge_streams(outputs: list) -> list:
    """Join consecutive ``stream`` outputs of the same name (stdout, stderr) into one."""
    merged: list = []
    for out in outputs:
        if (
            out.get("output_type") == "stream"
            and merged
            and merged[-1].get("output_type") == "stream"
            and merged[-1].get("name") == out.get("name")
        ):
            merged[-1]["text"] = merged[-1]["text"] + out["text"]
        else:
            merged.append(out)
    return merged


IGNORE_OUTPUT = "# NBVAL_IGNORE_OUTPUT"


def canonical(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Drop what changes on every run and is not content: timings, split streams."""
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        if cell.source.lstrip().startswith(IGNORE_OUTPUT):
            cell.outputs = []
        else:
            cell.outputs = merge_streams(cell.outputs)
    return nb


def execute(src: Path, dst: Path | None = None) -> None:
    """Execute ``src`` in a fresh kernel and write it, in canonical form, to ``dst``."""
    nb = nbformat.read(src, as_version=4)
    env = dict(os.environ, SOURCE_DATE_EPOCH="0", PYTHONHASHSEED="0")
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    client = NotebookClient(
        nb,
        timeout=TIMEOUT,
        kernel_name="python3",
        record_timing=False,
        startup_timeout=300,  # a loaded machine (CI runs other tests beside) starts slowly
        resources={"metadata": {"path": str(src.parent)}},
    )
    client.execute(env=env)  # keyword arguments reach the kernel's start
    nbformat.write(canonical(nb), dst or src)


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(f"executing {path}", flush=True)
        execute(Path(path))
