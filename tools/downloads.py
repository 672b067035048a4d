"""The downloads the landing page links to, written into the built site (`make pdf`).

_build/html/mlnotes.pdf            the whole book as one PDF (a copy of _build/pdf/mlnotes.pdf)
_build/html/mlnotes-html.zip       the built HTML book, to read offline (open index.html)
_build/html/mlnotes-notebooks.zip  the chapter notebooks with what runs them: the mlnotes
                                   package and its data, the pinned requirements.txt,
                                   pyproject.toml and the Makefile (`make lab`, `make book`)

GitHub Pages publishes _build/html, so the three files are served beside the pages. The
zips are reproducible: sorted entries, fixed timestamps (SOURCE_DATE_EPOCH if set).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
PDF = ROOT / "_build" / "pdf" / "mlnotes.pdf"
DOWNLOADS = ("mlnotes.pdf", "mlnotes-html.zip", "mlnotes-notebooks.zip")

# The book's sources that the notebooks need to run (and the book to build), not the tests.
NOTEBOOK_FILES = [
    "README.md",  # pyproject.toml names it as the package's readme
    "Makefile",
    "pyproject.toml",
    "requirements.txt",
    "_config.yml",
    "_toc.yml",
    "intro.md",
]
NOTEBOOK_DIRS = ["chapters", "mlnotes"]
SKIP_PARTS = {"__pycache__", ".ipynb_checkpoints"}
SKIP_SUFFIXES = {".pyc"}

HOW_TO_RUN = """\
ML Notes: the chapter notebooks and the code they run
=====================================================

chapters/   one notebook per chapter (stored with its outputs)
mlnotes/    the companion package the chapters import, with its data sets

With Python 3.11, make and pip (the libraries are pinned in requirements.txt):

    make lab     # creates .venv/, installs the pins and mlnotes, opens JupyterLab on chapters/
    make book    # builds the HTML book into _build/html/

Without make:

    python3 -m venv .venv
    .venv/bin/pip install -r requirements.txt
    .venv/bin/pip install --no-deps -e .
    .venv/bin/jupyter lab chapters
"""


def _stamp() -> tuple[int, int, int, int, int, int]:
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))  # 1980-01-01, zip's first day
    return time.gmtime(max(epoch, 315532800))[:6]


def _write_zip(target: Path, entries: list[tuple[str, Path | str]]) -> None:
    """Entries (name in the zip, file or text), sorted, with one fixed timestamp."""
    tmp = target.with_suffix(".zip.tmp")
    stamp = _stamp()
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, source in sorted(entries, key=lambda e: e[0]):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            data = source.encode() if isinstance(source, str) else source.read_bytes()
            zf.writestr(info, data)
    tmp.replace(target)


def _files(folder: Path) -> list[Path]:
    return [
        p
        for p in folder.rglob("*")
        if p.is_file()
        and not SKIP_PARTS.intersection(p.relative_to(folder).parts)
        and p.suffix not in SKIP_SUFFIXES
        and not any(part.endswith(".egg-info") for part in p.parts)
    ]


def main() -> int:
    if not (HTML / "index.html").exists():
        raise SystemExit("_build/html is missing: run `make book` first")
    if not PDF.exists():
        raise SystemExit(f"{PDF.relative_to(ROOT)} is missing: run `make pdf` first")

    shutil.copyfile(PDF, HTML / "mlnotes.pdf")

    site = [
        (f"mlnotes-html/{p.relative_to(HTML).as_posix()}", p)
        for p in _files(HTML)
        if p.relative_to(HTML).as_posix() not in DOWNLOADS and not p.name.endswith(".tmp")
    ]
    _write_zip(HTML / "mlnotes-html.zip", site)

    sources: list[tuple[str, Path | str]] = [("mlnotes-notebooks/HOW-TO-RUN.txt", HOW_TO_RUN)]
    sources += [(f"mlnotes-notebooks/{name}", ROOT / name) for name in NOTEBOOK_FILES]
    for folder in NOTEBOOK_DIRS:
        sources += [
            (f"mlnotes-notebooks/{p.relative_to(ROOT).as_posix()}", p)
            for p in _files(ROOT / folder)
        ]
    _write_zip(HTML / "mlnotes-notebooks.zip", sources)

    for name in DOWNLOADS:
        print(f"_build/html/{name}: {(HTML / name).stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
