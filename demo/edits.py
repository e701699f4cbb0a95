"""Edits of a solved notebook as a student makes them, to derive a class from one solution.

Each `Edit` changes a notebook in place; cells are found by their nbgrader grade_id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Edit = Callable[[Any], None]


def cell_gid(cell: Any) -> str:
    """The cell's nbgrader grade_id ("" when it has none)."""
    return str(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", ""))


def edit_code(grade_id: str, old: str, new: str) -> Edit:
    """An edit that replaces `old` by `new` in the cell `grade_id` (it must be there once)."""
    def apply(nb: Any) -> None:
        (cell,) = [c for c in nb.cells if cell_gid(c) == grade_id]
        if cell.source.count(old) != 1:
            raise ValueError(f"demo: {old!r} is not once in cell {grade_id}")
        cell.source = cell.source.replace(old, new)
    return apply


def add_cell_after(grade_id: str, source: str) -> Edit:
    """An edit that inserts a code cell after the cell `grade_id`, run like a scratch cell."""
    def apply(nb: Any) -> None:
        from nbformat.v4 import new_code_cell, new_output

        index = next(i for i, c in enumerate(nb.cells) if cell_gid(c) == grade_id)
        # run right after the cell above it, like a student's scratch cell
        cell = new_code_cell(source, execution_count=nb.cells[index].get("execution_count"),
                             outputs=[new_output("stream", name="stdout", text="(scratch output)\n")])
        nb.cells.insert(index + 1, cell)
    return apply


def clear_outputs(nb: Any) -> None:
    """A notebook saved without being run (or with its outputs cleared)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None


PLACEHOLDER_ID = 'STUDENT_ID = "your-student-id"'
SUBMIT_CALL = "submit_from_notebook("


def as_handed_in(nb: Any, student_id: str) -> None:
    """The solved run as a student saves it: their id in the settings cell, and the submit
    cell without output (it is run after the notebook was saved; the solved run's output
    says the id was still the placeholder)."""
    (settings,) = [c for c in nb.cells if c.cell_type == "code" and PLACEHOLDER_ID in c.source]
    settings.source = settings.source.replace(PLACEHOLDER_ID, f'STUDENT_ID = "{student_id}"')
    for cell in nb.cells:
        if cell.cell_type == "code" and SUBMIT_CALL in cell.source:
            cell.outputs, cell.execution_count = [], None
