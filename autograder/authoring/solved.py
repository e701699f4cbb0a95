"""The solved release: what an honest student who solved everything hands in.

The release notebook (assignments/<A>/) with each TODO block's body replaced by the matching
`### BEGIN SOLUTION` … `### END SOLUTION` block of the source notebook (solutions/<A>/), and each
markdown answer cell holding the source's model answer (its marker lines dropped). Every other
line, cell, id and metadata is the release's, so the result passes the self-check as it is.

It is not run: running it (and saving the best models) is the caller's business, e.g. the demo
classroom, the tests' fixtures and the benchmarks, which all start from this one builder.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from autograder.core.markers import (
    grade_id,
    has_markers,
    is_solution_cell,
    scan_blocks,
    solution_blocks,
    solution_lines,
    source_of,
)
from autograder.core.notebook import read_notebook


class SolvedReleaseError(ValueError):
    """The source and the release do not fit (a cell's block counts differ): one line naming it."""


def model_answer(source: str) -> str:
    """A markdown answer cell's source without its solution marker lines."""
    blocks, _problems = solution_blocks(source)
    markers = {number - 1 for block in blocks for number in block}
    return "\n".join(line for i, line in enumerate(source.split("\n")) if i not in markers)


def fill_todo_blocks(release_source: str, bodies: list[list[str]], where: str = "the cell") -> str:
    """A release cell's source with the body of each TODO block replaced by `bodies` (in order);
    the marker lines and everything outside the blocks kept."""
    lines = release_source.split("\n")
    scan = scan_blocks(release_source)
    if scan.problem is not None or len(scan.blocks) != len(bodies):
        raise SolvedReleaseError(f"{where}: the release has {len(scan.blocks)} TODO block(s), "
                                 f"the source {len(bodies)} solution block(s)")
    # from the last block up, so the earlier blocks' line numbers stay valid
    for block, body in reversed(list(zip(scan.blocks, bodies, strict=True))):
        lines[block.start + 1: block.end] = body
    return "\n".join(lines)


def solved_release(source_nb: Any, release_nb: Any) -> NotebookNode:
    """The release notebook with the source's solutions grafted in (a new notebook, not run).

    Cells are matched by nbgrader grade_id. A TODO cell gets the source's solution block bodies,
    an answer cell the model answer; free and locked cells stay as released.
    Raises SolvedReleaseError when a TODO cell's block count differs from the source's.
    """
    nb = copy.deepcopy(release_nb)
    by_id = {gid: cell for cell in source_nb.cells if (gid := grade_id(cell))}
    for cell in nb.cells:
        gid = grade_id(cell)
        source = by_id.get(gid) if gid else None
        if source is None:
            continue
        if not is_solution_cell(cell):  # locked: stays as released
            continue
        if cell.get("cell_type") == "code" and has_markers(source_of(cell)):  # a TODO cell
            cell.source = fill_todo_blocks(source_of(cell), solution_lines(source_of(source)),
                                           where=f"cell {gid}")
        elif cell.get("cell_type") == "markdown":  # an answer cell
            cell.source = model_answer(source_of(source))
    return nb


def solved_release_of(source_path: str | Path, release_path: str | Path) -> NotebookNode:
    """`solved_release` of two notebook files (e.g. solutions/A3/x.ipynb, assignments/A3/x.ipynb)."""
    return solved_release(read_notebook(source_path), read_notebook(release_path))
