"""The integrity machinery: cell matching, TODO blocks, code as tokens, release versions,
and the graft that builds the graded module."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from fixtures import make_violations as mv

from autograder.authoring import release as release_module
from autograder.core.graft import graded_module_source, graft
from autograder.core.integrity import (
    END_MARKER,
    START_MARKER,
    code_difference,
    match_cells,
    scan_blocks,
    text_difference,
    tokens,
)
from autograder.core.module import PREAMBLE
from autograder.student.check import check_notebook


@pytest.fixture(scope="module")
def solved() -> nbformat.NotebookNode:
    return mv.solved_synthetic()


# --------------------------------------------------------------------------------------------
# matching
# --------------------------------------------------------------------------------------------


def test_markers_are_the_release_modules_markers() -> None:
    assert (START_MARKER, END_MARKER) == (release_module.START_MARKER, release_module.END_MARKER)


def test_untouched_notebook_matches_every_cell_by_grade_id(solved) -> None:
    m = match_cells(solved.cells, mv.make_release().cells)
    assert m.to_release == {i: i for i in range(len(solved.cells))}
    assert set(m.how.values()) == {"grade_id"}
    assert (m.added, m.deleted, m.moved, m.duplicated) == ([], [], [], [])


def test_cells_without_metadata_or_ids_are_matched_by_content(solved) -> None:
    m = match_cells(mv.strip_ids(solved).cells, mv.make_release().cells)
    assert m.to_release == {i: i for i in range(len(solved.cells))}
    assert m.added == m.deleted == []


def test_cells_without_grade_id_are_matched_by_cell_id(solved) -> None:
    nb = copy.deepcopy(solved)
    for cell in nb.cells:
        cell["metadata"] = {}
        cell["source"] = cell["source"] + "\n# changed"
    m = match_cells(nb.cells, mv.make_release().cells)
    assert set(m.how.values()) == {"id"} and len(m.to_release) == len(nb.cells)


def test_one_inserted_cell_is_one_added_cell_and_nothing_else(solved) -> None:
    nb = mv.added_cell_without_ids(solved, {})
    m = match_cells(nb.cells, mv.make_release().cells)
    assert len(m.added) == 1 and m.deleted == [] and m.moved == []


def test_pasted_copy_with_the_same_grade_id_is_the_duplicate_not_the_original(solved) -> None:
    nb = mv.duplicated_solution_cell(solved, {})
    nb.cells[2], nb.cells[3] = nb.cells[3], nb.cells[2]  # the copy now comes first
    m = match_cells(nb.cells, mv.make_release().cells)
    assert m.duplicated == [(2, 3, "grade_id")]
    assert m.to_release[3] == 2


def test_a_swap_reports_one_moved_cell(solved) -> None:
    m = match_cells(mv.swapped_cells(solved, {}).cells, mv.make_release().cells)
    assert len(m.moved) == 1


# --------------------------------------------------------------------------------------------
# TODO blocks
# --------------------------------------------------------------------------------------------


def _cell(body: str = "    pass") -> str:
    return f"def f(x):\n    {START_MARKER}\n{body}\n    {END_MARKER}\n    return x"


def test_scan_finds_the_block_and_its_indent() -> None:
    (block,) = scan_blocks(_cell()).blocks
    assert (block.start, block.end, block.indent) == (1, 3, "    ")


@pytest.mark.parametrize(("source", "problem", "line"), [
    (_cell().replace(f"    {END_MARKER}\n", ""), "no-end", 2),
    (_cell().replace(f"    {START_MARKER}\n", ""), "no-start", 3),
    (_cell().replace("do not edit", "do edit", 1), "edited", 2),
    (_cell().replace("START OF YOUR CODE", "start of your code"), "edited", 2),
])
def test_damaged_markers_are_named_with_their_line(source: str, problem: str, line: int) -> None:
    scan = scan_blocks(source, expected=1)
    assert (scan.problem, scan.line) == (problem, line)


def test_marker_whitespace_is_not_damage() -> None:
    source = _cell().replace(START_MARKER, START_MARKER.replace(" START", "   START") + "   ")
    assert scan_blocks(source, expected=1).problem is None


def test_a_block_fewer_than_the_release_is_missing() -> None:
    assert scan_blocks(_cell(), expected=2).problem == "missing"


# --------------------------------------------------------------------------------------------
# code as tokens
# --------------------------------------------------------------------------------------------


def test_layout_and_quote_style_are_not_differences() -> None:
    a = "def f(x):\n    return g(x, 'a')\n"
    b = 'def f( x ):\r\n\n  return g(x,"a")  \r\n'
    assert code_difference(a, b) is None


def test_a_changed_comment_is_a_comment_only_difference() -> None:
    diff = code_difference("x = 1  # one\n", "x = 1  # uno\n")
    assert diff is not None and diff.comment_only and diff.line == 1


def test_a_changed_docstring_counts_as_a_comment() -> None:
    diff = code_difference('def f():\n    """Doc."""\n    return 1', 'def f():\n    """Docs!"""\n    return 1')
    assert diff is not None and diff.comment_only and diff.line == 2


def test_a_changed_string_value_is_a_code_difference() -> None:
    diff = code_difference("print('a')", "print('b')")
    assert diff is not None and not diff.comment_only


def test_a_real_change_names_the_first_differing_line() -> None:
    diff = code_difference("a = 1\nb = 2\nc = 3", "a = 1\n\nb = 20\nc = 3")
    assert diff is not None and (diff.line, diff.release_line) == (3, 2)
    assert diff.release_text == "b = 2" and diff.student_text == "b = 20"


def test_moving_a_line_out_of_a_loop_is_a_difference() -> None:
    a = "for i in x:\n    f(i)\n    g(i)"
    b = "for i in x:\n    f(i)\ng(i)"
    assert code_difference(a, b) is not None


def test_todo_bodies_are_masked_out() -> None:
    release = _cell("    raise NotImplementedError")
    student = _cell("    y = x * 2\n    x = y")
    diff = code_difference(release, student, scan_blocks(release).blocks, scan_blocks(student).blocks)
    assert diff is None


def test_code_that_does_not_tokenize_is_compared_line_by_line() -> None:
    diff = code_difference("x = (1,\n 2)", "x = (1,\n 3")
    assert diff is not None and diff.line == 2


def test_tokens_split_code_and_comments() -> None:
    code, comments = tokens("x = 'a'  # note\n")
    assert [t.text for t in code][:3] == ["x", "=", "<STR>'a'"]
    assert [t.text for t in comments] == ["# note"]


def test_text_cells_ignore_whitespace_only() -> None:
    assert text_difference("# Title\n\nSome  text", "# Title\nSome text\n") is None
    assert text_difference("# Title\nSome text", "# Title\nOther text") == 2


# --------------------------------------------------------------------------------------------
# release versions
# --------------------------------------------------------------------------------------------


def test_notebook_is_checked_against_the_version_it_declares(tmp_path: Path, solved) -> None:
    course = mv.make_course(tmp_path, versions=("1", "2"))  # version 2 changed the intro
    path = mv.write(solved, tmp_path / "mine.ipynb")  # declares version 1
    result = check_notebook(path, course=course)
    assert (result.version, result.violations, result.notes) == ("1", [], [])


def test_missing_declared_version_falls_back_to_the_current_release_with_a_note(tmp_path: Path, solved) -> None:
    course = mv.make_course(tmp_path, versions=("1", "2"))
    nb = copy.deepcopy(solved)
    nb.metadata["autograder"]["version"] = "0"
    result = check_notebook(mv.write(nb, tmp_path / "mine.ipynb"), course=course)
    assert result.version == "2"
    assert len(result.notes) == 1 and "version '0'" in result.notes[0]
    assert "never published" in result.notes[0]
    assert [v.rule for v in result.violations] == ["locked-cell-modified"]  # v2's intro differs


# --------------------------------------------------------------------------------------------
# graft
# --------------------------------------------------------------------------------------------


def test_graded_module_holds_the_students_bodies_in_the_release_cells(solved) -> None:
    source = graded_module_source(solved, mv.make_release())
    assert source.startswith(PREAMBLE)
    assert "loss += float(np.dot(X[i], W)) ** 2" in source
    assert "learning_rate" not in source  # the free cell opts out of the module
    compile(source, "graded", "exec")


def test_graded_module_drops_changes_outside_the_todo_blocks(solved) -> None:
    nb = mv.outside_signature_changed(solved, {})
    source = graded_module_source(nb, mv.make_release())
    assert "extra_arg" not in source and "def loss_naive(W, X):" in source


def test_graft_reindents_a_body_written_at_another_indent(solved) -> None:
    nb = copy.deepcopy(solved)
    nb.cells[2]["source"] = nb.cells[2]["source"].replace("    ", "  ")
    compile(graded_module_source(nb, mv.make_release()), "graded", "exec")


def test_graft_keeps_the_stub_when_the_markers_are_damaged(solved) -> None:
    nb = mv.marker_deleted(solved, {})
    g = graft(nb, mv.make_release())
    assert g.info[2].problem == "markers" and not g.info[2].placed
    assert "raise NotImplementedError" in g.cells[2]["source"]


def test_graft_maps_module_lines_back_to_the_students_cells(solved) -> None:
    from autograder.core.graft import graded_module

    module = graded_module(graft(solved, mv.make_release()))
    line = module.source.split("\n").index("    for i in range(X.shape[0]):") + 1
    assert module.where(line) == (3, 5)
