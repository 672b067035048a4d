"""Loaders for the small real data sets the book ships in ``mlnotes/data/``.

Every file there is a plain CSV with a header row; ``mlnotes/data/README.md`` records
where each one comes from. Nothing is downloaded at run time.
"""

from __future__ import annotations

from importlib import resources

import numpy as np

__all__: list[str] = []


def _read_csv(filename: str) -> tuple[list[str], np.ndarray]:
    """Read ``mlnotes/data/<filename>``: its header and its numeric body, as float64."""
    path = resources.files("mlnotes").joinpath("data", filename)
    with path.open("r", encoding="utf-8") as fh:
        header = fh.readline().strip().split(",")
        body = np.loadtxt(fh, delimiter=",", dtype=np.float64, ndmin=2)
    if body.shape[1] != len(header):
        raise ValueError(f"{filename}: {len(header)} column names but {body.shape[1]} columns.")
    return header, body
