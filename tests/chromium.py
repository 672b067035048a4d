"""The headless Chromium that the browser test and `make pdf` (tools/build_pdf.py) drive.

Debian's package, as root, on a machine without a display or a network: the flags
turn off the sandbox (root), the GPU, and every background connection.
"""

import os
from pathlib import Path

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
