"""What every assignment of the course must satisfy, checked for each of them:

* the source notebook is stored as Jupyter saves it, its grade cells carry the points of
  assignment.toml, every cell has a stable id and a grade_id, and the last cell builds the
  submission;
* the release is in sync with the source, leaks no solution line, keeps the TODO markers, locks
  every non-solution cell, carries the points of assignment.toml, and keeps the free cell;
* every graded function has hidden tests.

What is particular to one assignment (its functions, its notebook run, its mutants) is in
tests/test_a3.py and tests/test_a4.py.
"""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest
from assignment_support import ASSIGNMENTS, REPO, Assignment, nbgrader

from autograder.authoring.release import END_MARKER, START_MARKER
from autograder.grading.hidden import collect_tests

pytest_plugins = ["assignment_support"]


@pytest.fixture(scope="module", params=ASSIGNMENTS, ids=lambda a: a.name)
def assignment(request: pytest.FixtureRequest) -> Assignment:
    return request.param


def _solution_lines(source: str) -> list[str]:
    lines, inside = [], False
    for line in source.split("\n"):
        if "BEGIN SOLUTION" in line:
            inside = True
        elif "END SOLUTION" in line:
            inside = False
        elif inside and line.strip():
            lines.append(line.strip())
    return lines


# --------------------------------------------------------------------------- the source notebook


def test_source_notebook_is_stored_as_jupyter_saves_it(assignment, source_nb, tmp_path):
    """So that opening and saving it in JupyterLab changes nothing but what was edited."""
    nbformat.write(source_nb, tmp_path / "saved.ipynb")
    assert (tmp_path / "saved.ipynb").read_bytes() == assignment.source_nb.read_bytes()


def test_source_grade_cell_points_equal_assignment_toml(source_nb, cfg):
    graded = [c for c in source_nb.cells if nbgrader(c).get("grade")]
    code = {nbgrader(c)["grade_id"]: nbgrader(c)["points"] for c in graded if c.cell_type == "code"}
    manual = {nbgrader(c)["grade_id"]: nbgrader(c)["points"] for c in graded if c.cell_type == "markdown"}
    assert code == cfg.tests and manual == cfg.manual


def test_every_cell_has_a_stable_id_and_a_grade_id(assignment, source_nb):
    ids = [cell.id for cell in source_nb.cells]
    assert len(set(ids)) == len(ids)
    assert all(cell.id.startswith(f"{assignment.prefix}-") for cell in source_nb.cells)
    assert all(nbgrader(cell).get("grade_id") for cell in source_nb.cells)


def test_last_cell_builds_the_submission(assignment, source_nb):
    last = source_nb.cells[-1]
    assert last.cell_type == "code"
    assert "from autograder.submission import submit_from_notebook" in last.source
    assert f'submit_from_notebook("{assignment.name}", student_id=STUDENT_ID)' in last.source
    assert "except ImportError" in last.source and "not available yet" in last.source


# --------------------------------------------------------------------------- the release


def test_release_is_in_sync_with_the_source(assignment):
    done = subprocess.run([sys.executable, "-m", "autograder", "release", assignment.name, "--check"],
                          cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_release_holds_no_solution_line(assignment, source_nb, release_nb):
    released = "\n".join(cell.source for cell in release_nb.cells)
    released_lines = {line.strip() for line in released.split("\n")}
    solution_lines = [line for cell in source_nb.cells for line in _solution_lines(cell.source)]
    assert len(solution_lines) > assignment.solution_lines  # the check below is not vacuous
    leaked = [line for line in solution_lines if line in released_lines]
    assert not leaked
    assert "BEGIN SOLUTION" not in released and "END SOLUTION" not in released


def test_release_has_one_todo_block_per_solution_block(assignment, source_nb, release_nb):
    for src, rel in zip(source_nb.cells, release_nb.cells, strict=True):
        blocks = src.source.count("### BEGIN SOLUTION")
        if src.cell_type == "code":
            assert rel.source.count(START_MARKER) == blocks == rel.source.count(END_MARKER), src.id
            if blocks:
                lines = [line.strip() for line in rel.source.split("\n")]
                i = lines.index(START_MARKER)
                assert lines[i + 1 : i + 3] == ["raise NotImplementedError", END_MARKER]
        elif blocks:
            assert "YOUR ANSWER HERE" in rel.source
    assert sum(c.source.count(START_MARKER) for c in release_nb.cells) == assignment.todo_blocks


def test_release_locks_every_cell_but_the_solution_cells(source_nb, release_nb):
    assert [c.id for c in release_nb.cells] == [c.id for c in source_nb.cells]
    for cell in release_nb.cells:
        meta = nbgrader(cell)
        assert meta.get("locked") is (not meta.get("solution")), cell.id


def test_grade_cell_points_equal_assignment_toml(release_nb, cfg):
    code = {nbgrader(c)["grade_id"]: nbgrader(c)["points"] for c in release_nb.cells
            if nbgrader(c).get("grade") and c.cell_type == "code"}
    manual = {nbgrader(c)["grade_id"]: nbgrader(c)["points"] for c in release_nb.cells
              if nbgrader(c).get("grade") and c.cell_type == "markdown"}
    assert code == cfg.tests and manual == cfg.manual
    assert sum(code.values()) + sum(manual.values()) == cfg.max_score == 100


def test_release_keeps_the_free_cell_and_has_no_outputs(release_nb):
    assert any('DATASET = "digits"' in c.source for c in release_nb.cells)
    assert all(not c.get("outputs") for c in release_nb.cells if c.cell_type == "code")


# --------------------------------------------------------------------------- hidden tests


def test_every_graded_function_has_hidden_tests(tests_module, cfg):
    groups = {t.grade_id for t in collect_tests(tests_module)}
    models = {m.grade_id for m in cfg.models.values()}
    assert groups == set(cfg.tests) - models
