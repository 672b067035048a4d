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


def load_faithful() -> tuple[np.ndarray, list[str]]:
    """The Old Faithful geyser data (R's ``faithful``): 272 eruptions, 2 columns.

    Column 0 is the eruption duration and column 1 the waiting time to the next
    eruption, both in minutes. Chapter 5 fits a two-component Gaussian mixture to it
    (see :numref:`fig-gmm-faithful-em`); the provenance (R ``datasets`` package, from
    Härdle 1991; see also Azzalini and Bowman 1990) is in ``mlnotes/data/README.md``.

    Returns
    -------
    X : ndarray of shape (272, 2)
        float64; rows are eruptions, in the order of the R data set.
    names : list of str
        ``["eruptions", "waiting"]``.
    """
    header, body = _read_csv("faithful.csv")
    return body, header


__all__ += ["load_faithful"]
