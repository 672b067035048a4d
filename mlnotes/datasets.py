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


# --- NIST StRD linear regression (chapter 2) -----------------------------------------

from typing import NamedTuple  # noqa: E402

#: NIST StRD linear least-squares data sets shipped in ``mlnotes/data/``: name ->
#: (polynomial degree in the single predictor ``x``, or None for Longley's six
#: predictors; whether the model has an intercept; NIST's level of difficulty).
NIST_STRD_MODELS: dict[str, tuple[int | None, bool, str]] = {
    "Norris": (1, True, "lower"),
    "Pontius": (2, True, "lower"),
    "NoInt1": (1, False, "average"),
    "NoInt2": (1, False, "average"),
    "Filip": (10, True, "higher"),
    "Longley": (None, True, "higher"),
    "Wampler1": (5, True, "higher"),
    "Wampler2": (5, True, "higher"),
    "Wampler3": (5, True, "higher"),
    "Wampler4": (5, True, "higher"),
    "Wampler5": (5, True, "higher"),
}


class NISTDataset(NamedTuple):
    """A NIST StRD linear regression problem with its certified answer.

    Attributes
    ----------
    name : str
        NIST's name, e.g. ``"Longley"``.
    X : ndarray, shape (n, p)
        Predictors, without an intercept column (for the polynomial models the columns
        are ``x, x**2, ..., x**degree``).
    y : ndarray, shape (n,)
        Response.
    intercept : bool
        Whether the certified model has an intercept ``B0`` (then the design matrix is
        ``mlnotes.linear.add_intercept(X)``).
    coef : ndarray
        NIST certified parameter estimates (``B0`` first when there is an intercept).
    coef_sd : ndarray
        NIST certified standard deviations of those estimates.
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    intercept: bool
    coef: np.ndarray
    coef_sd: np.ndarray

    @property
    def design(self) -> np.ndarray:
        """Return the full design matrix, ``X`` with a leading column of ones if ``intercept``."""
        if self.intercept:
            return np.hstack([np.ones((self.X.shape[0], 1)), self.X])
        return self.X


def load_nist_strd(name: str) -> NISTDataset:
    """Load a NIST StRD linear least-squares data set and its certified values.

    Chapter 2 (:ref:`ne-section-numerics`) measures the digits each solver keeps on
    these problems, as the log relative error :eq:`ne-lre`.

    The data and the certified values are NIST's (Statistical Reference Datasets,
    https://www.itl.nist.gov/div898/strd/lls/lls.shtml); ``mlnotes/data/README.md``
    records where the copies come from and how they were checked (an exact rational
    least-squares solve reproduces every certified value to 14 digits or more).

    Parameters
    ----------
    name : str
        One of ``NIST_STRD_MODELS`` (case-insensitive): Norris, Pontius, NoInt1,
        NoInt2, Filip, Longley, Wampler1 ... Wampler5.

    Returns
    -------
    NISTDataset

    Raises
    ------
    ValueError
        If ``name`` is not one of the shipped data sets.
    """
    names = {k.lower(): k for k in NIST_STRD_MODELS}
    if not isinstance(name, str) or name.lower() not in names:
        raise ValueError(
            f"name must be one of the shipped NIST StRD data sets {sorted(NIST_STRD_MODELS)}; "
            f"got {name!r}."
        )
    key = names[name.lower()]
    degree, intercept, _level = NIST_STRD_MODELS[key]
    _, body = _read_csv(f"nist_{key.lower()}.csv")
    y = body[:, 0].copy()
    if degree is None:
        X = body[:, 1:].copy()
    else:
        X = body[:, [1]] ** np.arange(1, degree + 1)
    _, cert = _read_csv(f"nist_{key.lower()}_certified.csv")
    return NISTDataset(key, X, y, intercept, cert[:, 0].copy(), cert[:, 1].copy())


def load_longley() -> NISTDataset:
    """The Longley (1967) macroeconomic data, NIST StRD version: 16 x 6, and certified values.

    The ill-conditioned example of chapter 2, :ref:`ne-section-numerics`.

    ``y`` is total employment; the six predictors are the GNP deflator, GNP,
    unemployment, armed forces, population and year. The columns are highly collinear
    (``cond(add_intercept(X))`` is about ``5e9``). Same as ``load_nist_strd("Longley")``.
    """
    return load_nist_strd("Longley")


__all__ += ["NIST_STRD_MODELS", "NISTDataset", "load_longley", "load_nist_strd"]
