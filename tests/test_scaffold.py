"""`autograder new`: a scaffold that releases at once and whose own solution gets full marks;
the release lint that refuses a name only the solution defines; the cells of each role the
scaffold writes (SourceNotebook)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from fixtures import make_violations as mv

from autograder.authoring.release import ReleaseError, build_release, lint_cell
from autograder.authoring.scaffold import ScaffoldError, SourceNotebook, scaffold, write_notebook
from autograder.grading.grade import grade_class
from autograder.student.submission import submit


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True)


def test_new_then_release_works_at_once(tmp_path: Path) -> None:
    made = _cli("new", "Z9", "--course", str(tmp_path))
    assert made.returncode == 0, made.stderr
    assert {p.name for p in (tmp_path / "solutions" / "Z9").iterdir()} == {
        "z9.ipynb", "hidden_tests.py", "assignment.toml"}
    released = _cli("release", "Z9", "--course", str(tmp_path))
    assert released.returncode == 0, released.stdout + released.stderr
    assert _cli("release", "Z9", "--check", "--course", str(tmp_path)).returncode == 0


def test_the_scaffolds_own_solution_gets_full_automatic_marks(tmp_path: Path) -> None:
    scaffold("Z9", course=tmp_path)
    assert _cli("release", "Z9", "--course", str(tmp_path)).returncode == 0
    source = nbformat.read(tmp_path / "solutions" / "Z9" / "z9.ipynb", as_version=4)
    release = nbformat.read(tmp_path / "assignments" / "Z9" / "z9.ipynb", as_version=4)
    solved = mv.solve(release, *mv.solution_bodies(source))
    work = tmp_path / "student"
    work.mkdir()
    nbformat.write(solved, work / "z9.ipynb")
    result = submit("Z9", "2022123456", work, out=tmp_path / "subs", course=tmp_path, echo=lambda *_: None)
    assert result.ok, result.problems
    run = grade_class("Z9", tmp_path / "subs", tmp_path / "out", course=tmp_path, jobs=1,
                      stream=open(os.devnull, "w"))
    report = run.reports["2022123456"]
    assert report["status"] == "graded", report["message"]
    assert report["score"] == pytest.approx(10.0), report["tests"]
    assert [v for v in report["violations"] if v["deduction"]] == []


def test_a_name_only_the_solution_defines_is_a_release_error(tmp_path: Path) -> None:
    scaffold("Z9", course=tmp_path)
    path = tmp_path / "solutions" / "Z9" / "z9.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "def relu_backward" in c.source)
    cell.source = cell.source.replace("    return dx\n    ### END SOLUTION", "    ### END SOLUTION\n    return dx")
    nbformat.write(nb, path)
    with pytest.raises(ReleaseError) as info:
        build_release("Z9", tmp_path)
    number = nb.cells.index(cell) + 1
    assert f"cell {number}" in str(info.value) and "'dx'" in str(info.value)
    assert "only the solution defines" in str(info.value)


@pytest.mark.parametrize("name", ["z9", "../A1", "A 1", ""])
def test_new_refuses_a_bad_name(tmp_path: Path, name: str) -> None:
    with pytest.raises(ScaffoldError):
        scaffold(name, course=tmp_path)
    assert not (tmp_path / "solutions").exists()


def test_new_never_overwrites_an_assignment(tmp_path: Path) -> None:
    scaffold("Z9", course=tmp_path)
    done = _cli("new", "Z9", "--course", str(tmp_path))
    assert done.returncode == 1 and "exists already" in done.stderr


# --------------------------------------------------------------------------- the scaffold's cells


def _roles(nb: SourceNotebook) -> dict[str, tuple[str, dict]]:
    return {c.id: (c.cell_type, dict(c.metadata)) for c in nb.cells}


def test_each_method_adds_one_cell_of_its_role_in_order():
    nb = SourceNotebook()
    nb.md("t", "# Title")
    nb.code("c", "x = 1")
    nb.solution("s", "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")
    nb.free("f", 'DATASET = "digits"')
    nb.grade("g", "f_group", 5, "assert f() == 1")
    nb.answer("a", "inline_q", 2.5, "### BEGIN SOLUTION\nyes\n### END SOLUTION")
    roles = {i: (t, m["nbgrader"]) for i, (t, m) in _roles(nb).items()}
    assert list(roles) == ["t", "c", "s", "f", "g", "a"]
    common = {"schema_version": 3}
    assert roles["t"] == ("markdown", {**common, "grade_id": "t", "solution": False, "grade": False, "locked": True})
    assert roles["c"] == ("code", {**common, "grade_id": "c", "solution": False, "grade": False, "locked": True})
    assert roles["s"] == ("code", {**common, "grade_id": "s", "solution": True, "grade": False, "locked": False})
    assert roles["f"] == ("code", {**common, "grade_id": "f", "solution": True, "grade": False, "locked": False})
    assert roles["g"] == ("code", {**common, "grade_id": "f_group", "solution": False, "grade": True,
                                   "locked": True, "points": 5})
    assert roles["a"] == ("markdown", {**common, "grade_id": "inline_q", "solution": True, "grade": True,
                                       "locked": False, "points": 2.5})


def test_only_the_free_cell_opts_out_of_the_module():
    nb = SourceNotebook()
    nb.solution("s", "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")
    nb.free("f", 'DATASET = "digits"')
    assert [c.metadata.get("autograder") for c in nb.cells] == [None, {"module": False}]


def test_cell_text_loses_its_surrounding_newlines_only():
    nb = SourceNotebook()
    nb.code("c", "\n\n  x = 1\n\n")
    assert nb.cells[0].source == "  x = 1"


def test_built_cells_pass_the_release_lint():
    nb = SourceNotebook()
    nb.solution("s", "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")
    nb.answer("a", "inline_q", 2, "### BEGIN SOLUTION\nyes\n### END SOLUTION")
    assert [lint_cell(c) for c in nb.cells] == [[], []]


def test_written_notebook_is_valid_and_saved_as_jupyter_saves_it(tmp_path):
    nb = SourceNotebook()
    nb.md("t", "# Title")
    write_notebook(nb.notebook(), tmp_path / "a.ipynb")
    text = (tmp_path / "a.ipynb").read_bytes()
    assert text.endswith(b"}\n")
    read = nbformat.read(tmp_path / "a.ipynb", as_version=4)
    assert read.metadata.kernelspec.name == "python3" and [c.id for c in read.cells] == ["t"]
    nbformat.write(read, tmp_path / "saved.ipynb")  # what JupyterLab does on save
    assert (tmp_path / "saved.ipynb").read_bytes() == text


def test_two_notebooks_do_not_share_their_metadata():
    first, second = SourceNotebook().notebook(), SourceNotebook().notebook()
    first.metadata.kernelspec["name"] = "other"
    assert second.metadata.kernelspec["name"] == "python3"
