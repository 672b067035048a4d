"""Sphinx extension of the student edition (`make student`): answers stay hidden.

sphinx-exercise's ``hide_solutions`` removes the solutions, but after each exercise
the chapters have a code cell, tagged ``answer-check``, that checks the worked answer
(and may print it). In the student edition that cell is taken off the page and a note
takes its place: "Check your answer with ``check_norm_gradient(grad)``", naming the
``check_...`` helpers the cell calls, which the chapter defines in a visible cell
before it and which say right or wrong without giving the value away.

The cell is removed from the page, not from the notebook: it still runs when the
chapter is executed. Several of these cells draw from the chapter's shared random
generator or define names, so deleting them would change what later cells compute;
and the notebooks stay byte for byte those of the book, so the student build reuses
the book's execution cache and shows exactly the outputs that the tests checked.

The notebooks that the student edition offers for download (``_sources``) are
rewritten the same way at the end of the build: the ``answer-check`` cells become the
note and the ``{solution}`` blocks are left out.

Loaded only by `make student` (the book itself does not use it); a cell that calls no
``check_`` helper, or a helper that no visible cell of the page defines, is a warning,
which fails the build (``-W``).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util import logging

TAG = "answer-check"
CALL = re.compile(r"\b(check_\w+)\s*\(")
SOLUTION = re.compile(r"^(`{3,}|:{3,})\{solution\}.*?^\1[ \t]*$\n?", re.M | re.S)
NOTE_CLASS = "student-check"

logger = logging.getLogger(__name__)


def helpers_called(source: str) -> list[str]:
    """The check_ helpers an answer-check cell calls, in order, each once."""
    return list(dict.fromkeys(CALL.findall(source)))


def helper_signatures(sources: list[str]) -> dict[str, str]:
    """check_name -> its parameters, from the ``def check_name(...)`` of visible cells."""
    found = {}
    for source in sources:
        for m in re.finditer(r"^def (check_\w+)\(([^)]*)\)", source, re.M):
            found[m.group(1)] = re.sub(r"\s+", " ", m.group(2)).strip()
    return found


def note_text(calls: list[str], signatures: dict[str, str]) -> list[str]:
    """The helper calls to show in the note: ``check_x(params)``."""
    return [f"{name}({signatures.get(name, 'your_answer')})" for name in calls]


def _is_answer_check(node: nodes.Node) -> bool:
    return (
        isinstance(node, nodes.container)
        and node.get("nb_element") == "cell_code"
        and TAG in (node.get("cell_metadata") or {}).get("tags", [])
    )


def _code(cell: nodes.container) -> str:
    for child in cell.findall(nodes.container):
        if child.get("nb_element") == "cell_code_source":
            return "\n".join(b.astext() for b in child.findall(nodes.literal_block))
    return ""


def _note(calls: list[str]) -> nodes.paragraph:
    para = nodes.paragraph(classes=[NOTE_CLASS])
    para += nodes.strong(text="Check your answer")
    para += nodes.Text(" with ")
    for i, call in enumerate(calls):
        if i:
            para += nodes.Text(" and " if i == len(calls) - 1 else ", ")
        para += nodes.literal(text=call)
    para += nodes.Text(
        ": defined above, it says whether your answer is right without giving it away."
    )
    return para


def _groups(checks: list[nodes.container]) -> list[list[nodes.container]]:
    """Runs of answer-check cells that follow each other with nothing in between: a
    worked solution may take several cells, of which one calls the helper."""
    groups: list[list[nodes.container]] = []
    for cell in checks:
        prev = groups[-1][-1] if groups else None
        if prev is not None and prev.parent is cell.parent and (
            cell.parent.index(cell) == cell.parent.index(prev) + 1
        ):
            groups[-1].append(cell)
        else:
            groups.append([cell])
    return groups


def replace_answer_checks(app: Sphinx, doctree: nodes.document) -> None:
    cells = [n for n in doctree.findall(nodes.container) if n.get("nb_element") == "cell_code"]
    checks = [c for c in cells if _is_answer_check(c)]
    if not checks:
        return
    signatures = helper_signatures([_code(c) for c in cells if not _is_answer_check(c)])
    for group in _groups(checks):
        calls = list(dict.fromkeys(c for cell in group for c in helpers_called(_code(cell))))
        where = (app.env.docname, group[0].line)
        if not calls:
            logger.warning("an answer-check cell calls no check_ helper", location=where)
        missing = [c for c in calls if c not in signatures]
        if missing:
            logger.warning(
                f"answer-check cell: no visible cell defines {', '.join(missing)}",
                location=where,
            )
        # not replace_self, which would give the note the cell's classes and attributes
        group[0].parent.replace(group[0], _note(note_text(calls, signatures)))
        for cell in group[1:]:
            cell.parent.remove(cell)


def _is_check_cell(cell) -> bool:
    return cell.cell_type == "code" and TAG in cell.metadata.get("tags", [])


def student_notebook(nb) -> object:
    """A notebook for the student: answer-check cells become the note, no solutions."""
    import nbformat

    signatures = helper_signatures([c.source for c in nb.cells
                                    if c.cell_type == "code" and not _is_check_cell(c)])
    cells = []
    for is_check, run in itertools.groupby(nb.cells, _is_check_cell):
        if is_check:  # one note for a run of answer-check cells
            calls = helpers_called("\n".join(c.source for c in run))
            cells.append(
                nbformat.v4.new_markdown_cell(
                    "**Check your answer** with "
                    + " and ".join(f"`{c}`" for c in note_text(calls, signatures))
                    + " (defined above)."
                )
            )
            continue
        for cell in run:
            if cell.cell_type == "markdown":
                cell.source = SOLUTION.sub("", cell.source)
            cells.append(cell)
    nb.cells = cells
    return nb


def rewrite_downloads(app: Sphinx, exception: Exception | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    import nbformat

    for path in sorted(Path(app.outdir, "_sources").rglob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        nbformat.write(student_notebook(nb), path)


def setup(app: Sphinx) -> dict:
    app.connect("doctree-read", replace_answer_checks)
    app.connect("build-finished", rewrite_downloads)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
