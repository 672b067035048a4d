"""The student edition (`make student`) keeps the answers hidden.

After each exercise's solution a chapter has a code cell tagged ``answer-check`` that
checks the worked answer; before it, a visible ``check_...`` helper that tells a
reader's answer right or wrong without revealing it. The student edition
(tools/student_edition.py) takes the answer-check cells off its pages, puts a note
naming the helpers in their place, drops the solutions, and strips both from the
notebooks it offers for download; the book (the teacher's edition) shows everything.

The notebook checks are instant. The checks on the built pages need `make student`
(and `make book`) and are skipped when a build is missing or older than the chapters.
"""

import html
import re
import sys
from pathlib import Path

import nbformat
import pytest

from conftest import HTML, ROOT, article_html

sys.path.insert(0, str(ROOT / "tools"))
import student_edition as se

STUDENT = ROOT / "_build" / "student" / "_build" / "html"
CHAPTERS = sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))
HIDDEN = {"remove-cell", "remove-input", "remove_cell", "remove_input"}


def _tags(cell) -> set[str]:
    return set(cell.metadata.get("tags", []))


def _checks(nb) -> list[tuple[int, object]]:
    return [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code" and se.TAG in _tags(c)]


def _runs(nb) -> list[list[tuple[int, object]]]:
    """Consecutive answer-check cells: one worked answer, one note in the student edition."""
    runs: list[list[tuple[int, object]]] = []
    for i, c in _checks(nb):
        if runs and runs[-1][-1][0] == i - 1:
            runs[-1].append((i, c))
        else:
            runs.append([(i, c)])
    return runs


def _telling_lines(nb, cell) -> list[str]:
    """Lines of an answer-check cell that no other code cell of the chapter has."""
    others = {
        line.strip()
        for c in nb.cells
        if c.cell_type == "code" and c is not cell
        for line in c.source.splitlines()
    }
    return [
        line.strip()
        for line in cell.source.splitlines()
        if len(line.strip()) >= 20
        and not line.strip().startswith("#")
        and line.strip() not in others
    ]


def _lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines()}


def _page_text(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", article_html(path)))


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=lambda p: p.name)
def test_every_solution_has_an_answer_check_calling_a_visible_helper(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    solutions = [
        i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and "{solution}" in c.source
    ]
    assert solutions, "a numbered chapter has exercises with solutions"
    checks = [i for i, _ in _checks(nb)]
    for i, end in zip(solutions, [*solutions[1:], len(nb.cells)], strict=True):
        assert any(i < j < end for j in checks), (
            f"the solution in cell {i} has no code cell tagged {se.TAG!r} after it"
        )
    for run in _runs(nb):
        i = run[0][0]
        source = "\n".join(cell.source for _, cell in run)
        calls = se.helpers_called(source)
        assert calls, f"the answer-check cell(s) from {i} call no check_ helper"
        assert re.search(r"^assert check_\w+\(", source, re.M), (
            f"the answer-check cell(s) from {i} do not assert that the worked answer passes"
        )
        visible = [
            c.source
            for c in nb.cells[:i]
            if c.cell_type == "code" and se.TAG not in _tags(c) and not _tags(c) & HIDDEN
        ]
        defined = se.helper_signatures(visible)
        missing = [name for name in calls if name not in defined]
        assert not missing, f"cell {i} calls {missing}, which no visible cell before it defines"


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=lambda p: p.name)
def test_the_notebook_for_download_has_no_answers(nb_path):
    nb = nbformat.read(nb_path, as_version=4)
    n_exercises = sum(c.source.count("{exercise}") for c in nb.cells if c.cell_type == "markdown")
    student = se.student_notebook(nbformat.read(nb_path, as_version=4))
    assert not _checks(student)
    assert not any("{solution}" in c.source for c in student.cells), "a solution is left"
    text = "\n".join(c.source for c in student.cells)
    assert text.count("{exercise}") == n_exercises, "an exercise was dropped"
    assert text.count("**Check your answer**") == len(_runs(nb))
    lines = _lines(text)
    for _, cell in _checks(nb):
        leaked = [line for line in _telling_lines(nb, cell) if line in lines]
        assert not leaked, f"answer-check code left in the student notebook: {leaked[:3]}"


def _built(root: Path, name: str) -> Path:
    page = root / "chapters" / f"{name}.html"
    if not page.exists():
        pytest.skip(f"{page.relative_to(ROOT)} is missing (make student / make book)")
    if page.stat().st_mtime < (ROOT / "chapters" / f"{name}.ipynb").stat().st_mtime:
        pytest.skip(f"{page.relative_to(ROOT)} is older than its chapter")
    return page


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=lambda p: p.name)
def test_student_pages_hide_the_answers_and_show_the_helpers(nb_path):
    page = _built(STUDENT, nb_path.stem)
    nb = nbformat.read(nb_path, as_version=4)
    text = _page_text(page)
    raw = page.read_text(encoding="utf-8")
    checks = _checks(nb)
    lines = _lines(text)
    for i, cell in checks:
        leaked = [line for line in _telling_lines(nb, cell) if line in lines]
        assert not leaked, f"cell {i} (answer-check) is on the student page: {leaked[:3]}"
    assert "tag_answer-check" not in raw
    notes = re.findall(r'<p class="student-check">(.*?)</p>', raw, re.S)
    runs = len(_runs(nb))
    assert len(notes) == runs, f"{len(notes)} notes for {runs} runs of answer-check cells"
    for note in notes:
        for name in re.findall(r"check_\w+", html.unescape(re.sub(r"<[^>]+>", "", note))):
            assert f"def {name}(" in text, f"the helper {name} is not shown on the page"
    assert "Solution to Exercise" not in text, "a solution is shown in the student edition"
    assert "Exercise" in text


@pytest.mark.parametrize("nb_path", CHAPTERS, ids=lambda p: p.name)
def test_teacher_pages_still_show_the_answer_checks(nb_path):
    page = _built(HTML, nb_path.stem)
    nb = nbformat.read(nb_path, as_version=4)
    lines = _lines(_page_text(page))
    for i, cell in _checks(nb):
        telling = _telling_lines(nb, cell)
        assert telling and all(line in lines for line in telling), f"cell {i} is not in the book"
    assert "student-check" not in page.read_text(encoding="utf-8")
    assert "Solution to Exercise" in _page_text(page)
