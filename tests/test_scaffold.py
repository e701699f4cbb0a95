"""`autograder new`: a scaffold that releases at once and whose own solution gets full marks;
the release lint that refuses a name only the solution defines."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from fixtures import make_violations as mv

from autograder.authoring.release import ReleaseError, build_release
from autograder.authoring.scaffold import ScaffoldError, scaffold
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
