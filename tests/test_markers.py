"""The one parser of each marker (`autograder.core.markers`): solution blocks, TODO blocks, metadata."""

from __future__ import annotations

import nbformat

from autograder.core.markers import (
    CODE_STUB,
    END_MARKER,
    START_MARKER,
    grade_id,
    is_locked,
    is_solution_cell,
    is_stub_body,
    nbgrader_meta,
    scan_blocks,
    solution_blocks,
    solution_lines,
    source_of,
)

SOURCE = (
    "def f(x):\n"
    "    ### BEGIN SOLUTION\n"
    "    y = x + 1\n"
    "    ### END SOLUTION\n"
    "    z = 2\n"
    "    ### BEGIN SOLUTION\n"
    "    return y * z\n"
    "    ### END SOLUTION"
)


def test_solution_blocks_are_found_with_their_begin_and_end_lines() -> None:
    assert solution_blocks(SOURCE) == ([(2, 4), (6, 8)], [])


def test_solution_lines_are_the_lines_strictly_inside_each_block() -> None:
    assert solution_lines(SOURCE) == [["    y = x + 1"], ["    return y * z"]]


def test_an_unclosed_solution_block_is_a_problem_and_gives_no_lines() -> None:
    source = "def f():\n    ### BEGIN SOLUTION\n    return 1"
    assert solution_blocks(source) == ([], [(2, "### BEGIN SOLUTION without its ### END SOLUTION")])
    assert solution_lines(source) == []


def test_an_end_without_begin_is_a_problem() -> None:
    assert solution_blocks("x = 1\n### END SOLUTION")[1] == [(2, "### END SOLUTION without a ### BEGIN SOLUTION")]


def test_the_release_stub_is_one_todo_block_whose_body_is_unfinished() -> None:
    source = "def f():\n" + "\n".join("    " + line for line in CODE_STUB.split("\n"))
    scan = scan_blocks(source)
    assert scan.problem is None and len(scan.blocks) == 1
    body = [source.split("\n")[i] for i in scan.blocks[0].body]
    assert is_stub_body(body)
    assert not is_stub_body(["    return 1"])


def test_todo_markers_are_compared_with_whitespace_normalised() -> None:
    source = f"  {START_MARKER.replace(' START', '   START')}  \nx = 1\n{END_MARKER}"
    assert [(b.start, b.end) for b in scan_blocks(source).blocks] == [(0, 2)]


def test_metadata_getters_read_nbgrader_metadata() -> None:
    cell = nbformat.v4.new_code_cell("x = 1", metadata={"nbgrader": {"grade_id": "g1", "solution": True}})
    assert (grade_id(cell), is_solution_cell(cell)) == ("g1", True)
    assert is_locked({"grade": True}) and not is_locked({"grade": True, "solution": True})


def test_metadata_getters_survive_metadata_that_is_not_a_table() -> None:
    odd = {"cell_type": "code", "source": ["a = 1\r\n", 5, "b = 2"], "metadata": {"nbgrader": "yes"}}
    assert nbgrader_meta(odd) == {} and grade_id(odd) is None and not is_solution_cell(odd)
    assert nbgrader_meta({"metadata": []}) == {}
    assert source_of(odd) == "a = 1\nb = 2"
