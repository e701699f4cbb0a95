"""The graft keeps every TODO body inside its own block, and the release is looked up, not joined.

A body that dedents to module level, declares `global`/`nonlocal`, or opens a string that runs
past its END marker is graded as the release's stub, with an outside-todo-modified finding.
"""

from __future__ import annotations

import ast
import copy
import shutil
from pathlib import Path

import nbformat
import pytest
from fixtures import make_violations as mv

from autograder.core.graft import escaped_statements, graded_module, graft
from autograder.core.module import module_source
from autograder.core.releases import find_release
from autograder.student.check import check_notebook


@pytest.fixture(scope="module")
def solved() -> nbformat.NotebookNode:
    return mv.solved_synthetic()


def _with_body(solved: nbformat.NotebookNode, body: str | dict[int, str]) -> nbformat.NotebookNode:
    """`body` in loss_vectorized's block, or {block: body} for the cell's two blocks."""
    nb = copy.deepcopy(solved)
    index = mv.find_function(nb, "loss_vectorized")[0]
    source = nb.cells[index]["source"]
    wanted = body if isinstance(body, dict) else {1: body}
    bodies = [wanted.get(b, mv.body_of(nb, index, b)) for b in range(2)]
    nb.cells[index]["source"] = mv.set_bodies(source, bodies)  # exactly as written: no re-indent
    return nb


def _graded(nb: nbformat.NotebookNode) -> str:
    return graded_module(graft(nb, mv.make_release())).source


ESCAPES = {
    "dedent to module level": "    return 0.0\nloss_naive = square",
    "rebind through global": "    global loss_naive\n    loss_naive = square\n    return 0.0",
    "nonlocal": "    def inner():\n        nonlocal W\n        W = 0\n    return 0.0",
    "string swallowing the code between two blocks": {0: "    _ = '''", 1: "'''\n    return 0.0"},
    # Python resets the indentation column at a form feed: `    \x0cx` is at module level.
    # The escaped `def` absorbs the release's lines after END, so the body parses on its own.
    "form feed in the indentation": "    return 0.0\n    \x0closs_naive = square\n    \x0cdef _tail():",
    "vertical tab in the indentation": "    return 0.0\n    \x0bloss_naive = square",
}


@pytest.mark.parametrize("body", ESCAPES.values(), ids=list(ESCAPES))
def test_a_body_that_leaves_its_block_is_graded_as_the_stub_and_flagged(solved, tmp_path: Path,
                                                                       body: str) -> None:
    nb = _with_body(solved, body)
    source = _graded(nb)
    for planted in ("loss_naive = square", "global ", "nonlocal", "_ = '''", "return 0.0"):
        assert planted not in source
    namespace: dict = {}
    exec(compile(source, "graded", "exec"), namespace)  # the module still imports
    with pytest.raises(NotImplementedError):
        namespace["loss_vectorized"](None, None)
    result = check_notebook(mv.write(nb, tmp_path / "mine.ipynb"), course=mv.make_course(tmp_path))
    found = [v for v in result.violations if v.rule == "outside-todo-modified"]
    assert found and "graded as if it were empty" in found[0].message
    assert found[0].cell is not None


HONEST = {
    "string continued at column 0": '    doc = """first\nsecond line at column 0"""\n    return float(np.sum(square(X @ W)))',
    "brackets over lines": "    s = np.sum(\n  square(X @ W))\n    return float(s)",
    "nested function and semicolons": "    def f(a):\n        return a; \n    x = 1; y = 2\n    return float(np.sum(square(X @ W)))",
}


@pytest.mark.parametrize("body", HONEST.values(), ids=list(HONEST))
def test_honest_bodies_stay_in_their_block(solved, tmp_path: Path, body: str) -> None:
    nb = _with_body(solved, body)
    assert body.split("\n")[0].strip() in _graded(nb)
    result = check_notebook(mv.write(nb, tmp_path / "mine.ipynb"), course=mv.make_course(tmp_path))
    assert [v.rule for v in result.violations if v.rule == "outside-todo-modified"] == []


def test_the_graft_equals_plain_module_source_for_an_honest_notebook(solved) -> None:
    assert _graded(solved) == module_source(graft(solved, mv.make_release()).cells)


@pytest.mark.parametrize("version", ["../../../solutions/T1", "../../autograded/victim/T1",
                                     "/etc", "1/../1", "", None, 1, ["1"]])
def test_a_declared_version_is_looked_up_among_published_ones_never_joined(tmp_path: Path,
                                                                          version: object) -> None:
    course = mv.make_course(tmp_path, versions=("1", "2"))
    # a notebook planted where a joined path would lead: it must never be read as the release
    for planted in (course / "solutions" / "T1", course / "autograded" / "victim" / "T1"):
        planted.mkdir(parents=True)
        shutil.copyfile(course / "assignments" / "T1" / ".releases" / "1" / "mini.ipynb",
                        planted / "mini.ipynb")
    release, used, notes = find_release("T1", "mini.ipynb", version, course)
    assert used == "2" and release.metadata["autograder"]["version"] == "2"
    assert len(notes) == 1


def test_a_published_version_is_used_as_declared(tmp_path: Path) -> None:
    course = mv.make_course(tmp_path, versions=("1", "2"))
    release, used, notes = find_release("T1", "mini.ipynb", "1", course)
    assert (used, notes, release.metadata["autograder"]["version"]) == ("1", [], "1")


@pytest.mark.parametrize("meta", ["yes", ["grade_id", "loss_naive"], 7, None],
                         ids=["a string", "a list", "a number", "null"])
def test_nbgrader_metadata_that_is_not_a_table_crashes_no_rule(solved, tmp_path: Path, meta: object) -> None:
    nb = copy.deepcopy(solved)
    for cell in nb.cells:  # every cell claims to be something it cannot be
        cell.metadata["nbgrader"] = meta
    result = check_notebook(mv.write(nb, tmp_path / "mine.ipynb"), course=mv.make_course(tmp_path))
    assert result.crashes == [] and not [n for n in result.notes if "could not be checked" in n]
    assert result.checked is not None
    compile(result.checked.graded.source, "graded", "exec")  # the graft still builds a module


def test_a_planted_published_version_folder_that_is_a_symlink_is_never_the_release(tmp_path: Path) -> None:
    course = mv.make_course(tmp_path, versions=("1", "2"))
    elsewhere = tmp_path / "elsewhere"
    mv.write(mv.make_release("1"), elsewhere / "mini.ipynb")
    (course / "assignments" / "T1" / ".releases" / "evil").symlink_to(elsewhere, target_is_directory=True)
    release, used, notes = find_release("T1", "mini.ipynb", "evil", course)
    assert used == "2" and len(notes) == 1


def test_a_statement_at_module_level_inside_a_span_is_found_on_the_parsed_cell() -> None:
    # Decided on the AST, not on columns: here the tokenizer's column for `x` is 5 (past the
    # markers' 4), yet Python runs it at module level.
    source = "def f():\n    # BEGIN\n    y = 1\n    \x0cx = 2\n    # END\n"
    assert escaped_statements(ast.parse(source), [(3, 4, 4)]) == {0: 4}


def test_statements_nested_in_their_block_are_not_escapes() -> None:
    source = ("def f(a):\n    for i in a:\n        # BEGIN\n        try:\n            y = i\n"
              "        except ValueError:\n            y = 0\n        z = y\n        # END\n    return 1\n")
    assert escaped_statements(ast.parse(source), [(4, 8, 8)]) == {}
