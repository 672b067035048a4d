"""``make execute`` is idempotent: re-executing an unchanged chapter changes nothing.

A contributor's diff must show only what their change changed. Each chapter is
executed twice with ``tests/notebooks.py`` (what ``make execute`` runs):

- the two runs give the same bytes, figures included (nothing depends on the clock,
  on string-hash order or on unseeded randomness);
- each run equals the stored notebook, except for the PNG bytes of figures, which
  may differ in the last bits of a plotted value on another CPU (their presence,
  size and place must still match). So a stored notebook with timestamps, split
  streams or stale outputs fails here, on any machine.
"""

from __future__ import annotations

import copy
import json

import pytest
from nbformat import v4

from conftest import ROOT
from notebooks import canonical, execute

CHAPTERS = sorted((ROOT / "chapters").glob("*.ipynb"))


def without_images(nb: dict) -> dict:
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            for mime in list(out.get("data", {})):
                if mime.startswith("image/"):
                    out["data"][mime] = "<image>"
    return nb


def first_difference(stored: dict, fresh: dict) -> str:
    if stored.get("metadata") != fresh.get("metadata"):
        return f"notebook metadata: {stored.get('metadata')} != {fresh.get('metadata')}"
    for i, (a, b) in enumerate(zip(stored["cells"], fresh["cells"], strict=True)):
        if a != b:
            keys = [k for k in set(a) | set(b) if a.get(k) != b.get(k)]
            return f"cell {i} ({a.get('id')}) differs in {sorted(keys)}:\n{a}\n!=\n{b}"
    return "the JSON layout (indentation, key order)"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=lambda p: p.name)
def test_executing_twice_changes_nothing(chapter, tmp_path):
    first, second = tmp_path / "first.ipynb", tmp_path / "second.ipynb"
    # The kernel runs in a copy's folder, so that relative paths resolve as in chapters/.
    execute(chapter, first)
    execute(chapter, second)
    assert first.read_bytes() == second.read_bytes(), (
        "two executions on the same machine gave different bytes: "
        + first_difference(json.loads(first.read_text()), json.loads(second.read_text()))
    )
    stored, fresh = json.loads(chapter.read_text()), json.loads(first.read_text())
    stored, fresh = without_images(stored), without_images(fresh)
    if json.dumps(stored, indent=1) != json.dumps(fresh, indent=1):  # key order counts too
        pytest.fail(
            f"{chapter.name} is not stored as `make execute` writes it; run `make execute`. "
            "First difference: " + first_difference(stored, fresh)
        )


def test_the_executor_drops_timings_and_merges_streams():
    cell = v4.new_code_cell("print(1); print(2)")
    cell.metadata["execution"] = {"iopub.execute_input": "2026-11-28T04:24:38.031761Z"}
    cell.outputs = [
        v4.new_output("stream", name="stdout", text="1\n"),
        v4.new_output("stream", name="stdout", text="2\n"),
        v4.new_output("stream", name="stderr", text="w\n"),
    ]
    timing = v4.new_code_cell("# NBVAL_IGNORE_OUTPUT\nprint(time.time())")
    timing.outputs = [v4.new_output("stream", name="stdout", text="1764000000.1\n")]
    nb = canonical(v4.new_notebook(cells=[cell, timing]))
    assert "execution" not in nb.cells[0].metadata
    assert [(o.name, o.text) for o in nb.cells[0].outputs] == [("stdout", "1\n2\n"), ("stderr", "w\n")]
    assert nb.cells[1].outputs == []
