"""The solved release (autograder.authoring.solved): the release with the source's solutions in it,
the one builder the demo, the tests' fixtures and the benchmarks start from."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest

from autograder.authoring.solved import (
    SolvedReleaseError,
    fill_todo_blocks,
    model_answer,
    solved_release,
    solved_release_of,
)
from autograder.core.markers import (
    grade_id,
    is_solution_cell,
    is_solution_marker,
    scan_blocks,
    solution_lines,
    source_of,
)
from autograder.core.module import module_source
from autograder.core.notebook import read_notebook

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = {"A2": "backprop_basics.ipynb", "A3": "linear_classifier.ipynb", "A4": "two_layer_net.ipynb"}


def _paths(assignment: str):
    name = NOTEBOOKS[assignment]
    return REPO_ROOT / "solutions" / assignment / name, REPO_ROOT / "assignments" / assignment / name


def _without_markers(text: str) -> list[str]:
    """The code's tokens (whitespace-split), solution and TODO marker lines dropped."""
    keep = [line for line in text.split("\n")
            if not is_solution_marker(line) and "OF YOUR CODE" not in line]
    return "\n".join(keep).split()


@pytest.mark.parametrize("assignment", sorted(NOTEBOOKS))
def test_solved_release_runs_the_sources_code(assignment):
    source, release = _paths(assignment)
    solved = solved_release_of(source, release)
    assert _without_markers(module_source(solved.cells)) == \
        _without_markers(module_source(read_notebook(source).cells))


@pytest.mark.parametrize("assignment", sorted(NOTEBOOKS))
def test_solved_release_leaves_no_stub(assignment):
    solved = solved_release_of(*_paths(assignment))
    for cell in solved.cells:
        if cell.cell_type == "code":
            assert "raise NotImplementedError" not in source_of(cell), grade_id(cell)
        elif is_solution_cell(cell):  # an answer cell
            assert "YOUR ANSWER HERE" not in source_of(cell), grade_id(cell)


@pytest.mark.parametrize("assignment", sorted(NOTEBOOKS))
def test_solved_release_keeps_the_release_outside_the_todo_blocks(assignment):
    _source, release_path = _paths(assignment)
    release = read_notebook(release_path)
    solved = solved_release_of(*_paths(assignment))
    assert [(c.cell_type, c.get("id"), c.metadata) for c in solved.cells] == \
        [(c.cell_type, c.get("id"), c.metadata) for c in release.cells]
    assert solved.metadata == release.metadata
    for mine, theirs in zip(solved.cells, release.cells, strict=True):
        if mine.cell_type != "code":
            continue
        mine_lines, theirs_lines = source_of(mine).split("\n"), source_of(theirs).split("\n")
        mine_blocks, theirs_blocks = scan_blocks(source_of(mine)).blocks, scan_blocks(source_of(theirs)).blocks
        assert len(mine_blocks) == len(theirs_blocks)
        outside_mine = [line for i, line in enumerate(mine_lines)
                        if not any(b.start < i < b.end for b in mine_blocks)]
        outside_theirs = [line for i, line in enumerate(theirs_lines)
                          if not any(b.start < i < b.end for b in theirs_blocks)]
        assert outside_mine == outside_theirs, grade_id(mine)


def test_solved_release_does_not_change_its_inputs():
    source_path, release_path = _paths("A2")
    source, release = read_notebook(source_path), read_notebook(release_path)
    before = nbformat.writes(release), nbformat.writes(source)
    solved_release(source, release)
    assert (nbformat.writes(release), nbformat.writes(source)) == before


def test_each_todo_block_gets_its_own_solution_block_in_order():
    release = "def f(x):\n    # ========== START OF YOUR CODE (do not edit or delete this line) ==========\n" \
              "    raise NotImplementedError\n" \
              "    # =========== END OF YOUR CODE (do not edit or delete this line) ===========\n" \
              "    y = x\n" \
              "    # ========== START OF YOUR CODE (do not edit or delete this line) ==========\n" \
              "    raise NotImplementedError\n" \
              "    # =========== END OF YOUR CODE (do not edit or delete this line) ===========\n"
    source = "def f(x):\n    ### BEGIN SOLUTION\n    a = 1\n    b = 2\n    ### END SOLUTION\n" \
             "    y = x\n    ### BEGIN SOLUTION\n    return y + a + b\n    ### END SOLUTION\n"
    filled = fill_todo_blocks(release, solution_lines(source)).split("\n")
    assert filled[2:4] == ["    a = 1", "    b = 2"]
    assert filled[7] == "    return y + a + b"
    assert "raise NotImplementedError" not in "\n".join(filled)


def test_a_cell_whose_block_counts_differ_is_refused_with_its_grade_id():
    source_path, release_path = _paths("A2")
    source = read_notebook(source_path)
    bad = copy.deepcopy(source)
    cell = next(c for c in bad.cells if grade_id(c) == "a2-matmul-backward")
    cell.source += "\n\ndef extra():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n"
    with pytest.raises(SolvedReleaseError, match="a2-matmul-backward"):
        solved_release(bad, read_notebook(release_path))


def test_model_answer_drops_only_the_marker_lines():
    text = "**Your answer:**\n\n### BEGIN SOLUTION\nBecause the gate is closed.\n### END SOLUTION"
    assert model_answer(text) == "**Your answer:**\n\nBecause the gate is closed."
