"""`autograder release`: lint, nbgrader generate_assignment, versions, --check; nbgrader's own generate refused.

Every test works on a copy of tests/fixtures/course in tmp_path; nothing is written in the repo.
"""

from __future__ import annotations

import argparse
import os
import runpy
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from autograder.authoring import release as rel
from autograder.core.config import load_config, public_part, tomllib
from autograder.core.notebook import NotebookError, read_notebook

pytest.importorskip("nbgrader", reason="the release needs nbgrader (instructor extra)")

FIXTURE = Path(__file__).parent / "fixtures" / "course"
REPO = Path(__file__).resolve().parent.parent
NB = Path("solutions/F1/fixture.ipynb")
OUT = Path("assignments/F1")


def copy_course(dest: Path) -> Path:
    shutil.copytree(FIXTURE, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def edit_source(course: Path, change: Callable[[nbformat.NotebookNode], None]) -> None:
    nb = nbformat.read(course / NB, as_version=4)
    change(nb)
    nbformat.write(nb, course / NB)


def cell(nb: nbformat.NotebookNode, cell_id: str) -> nbformat.NotebookNode:
    return next(c for c in nb.cells if c.id == cell_id)


@pytest.fixture
def course(tmp_path: Path) -> Path:
    return copy_course(tmp_path / "course")


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fixture course released once (tests using it must not modify it)."""
    course = copy_course(tmp_path_factory.mktemp("released") / "course")
    assert rel.release(course=course) == 0
    return course


# --- what the release contains ----------------------------------------------------------------


def test_release_writes_notebook_kept_version_public_toml_and_release_files(released: Path) -> None:
    files = sorted(tree(released / OUT))
    assert files == [".releases/1/fixture.ipynb", "assignment.toml", "fixture.ipynb", "notes.txt"]
    assert (released / OUT / "fixture.ipynb").read_bytes() == (
        released / OUT / ".releases/1/fixture.ipynb"
    ).read_bytes()


def test_release_metadata_names_assignment_version_and_fingerprint(released: Path) -> None:
    nb = read_notebook(released / OUT / "fixture.ipynb")
    meta = nb.metadata["autograder"]
    assert meta["assignment"] == "F1" and meta["version"] == "1"
    assert meta["fingerprint"] == rel.fingerprint(nb)
    assert meta["fingerprint"].startswith("sha256:") and len(meta["fingerprint"]) == 7 + 64


def test_no_solution_line_hidden_test_line_or_private_value_reaches_assignments(
    released: Path,
) -> None:
    source = read_notebook(released / NB)
    secrets = [line.strip() for c in source.cells for line in rel.iter_solution_lines(c.source)]
    answer = cell(source, "q1-answer").source
    hidden = (released / "solutions/F1/hidden_tests.py").read_text().splitlines()
    secrets += [answer] + [line.strip() for line in hidden if line.strip()]
    private = load_config(released / "solutions/F1/assignment.toml").private
    secrets += [str(v) for v in private.values()] + ["SECRET"]
    assert len(secrets) > 10
    published = tree(released / "assignments")
    assert "hidden_tests.py" not in {Path(p).name for p in published}
    for path, data in published.items():
        text = data.decode("utf-8")
        for secret in secrets:
            assert secret not in text, f"{secret!r} leaked into assignments/{path}"


def test_public_toml_is_everything_but_private(released: Path) -> None:
    raw = load_config(released / "solutions/F1/assignment.toml").raw
    public = tomllib.loads((released / OUT / "assignment.toml").read_text())
    assert "private" not in public
    assert public == public_part(raw)


def test_every_release_cell_has_grade_id_and_only_solution_cells_are_editable(
    released: Path,
) -> None:
    nb = read_notebook(released / OUT / "fixture.ipynb")
    ids = [c.metadata.nbgrader["grade_id"] for c in nb.cells]
    assert all(ids) and len(set(ids)) == len(ids)
    for c in nb.cells:
        meta = c.metadata.nbgrader
        assert c.metadata["deletable"] is False
        if meta["solution"]:
            assert meta["locked"] is False and c.metadata.get("editable", True) is True
        else:
            assert meta["locked"] is True and c.metadata["editable"] is False
    assert cell(nb, "intro").metadata.nbgrader["grade_id"] == "cell-intro"  # from the cell id


def test_each_block_becomes_the_markers_with_the_begin_line_indent(released: Path) -> None:
    nb = read_notebook(released / OUT / "fixture.ipynb")
    for cell_id, indent in (("sol-add", "    "), ("sol-scale", "        ")):
        lines = cell(nb, cell_id).source.split("\n")
        start = lines.index(indent + rel.START_MARKER)
        assert lines[start + 1 : start + 3] == [
            indent + "raise NotImplementedError",
            indent + rel.END_MARKER,
        ]
    assert rel.START_MARKER.startswith("# ==") and "do not edit" in rel.END_MARKER


def test_answer_cell_gets_text_stub_and_free_cell_is_kept(released: Path) -> None:
    nb = read_notebook(released / OUT / "fixture.ipynb")
    assert cell(nb, "q1-answer").source == rel.TEXT_STUB
    source = read_notebook(released / NB)
    assert cell(nb, "free-lr").source == cell(source, "free-lr").source


def test_release_has_no_outputs_and_keeps_the_source_cell_ids(released: Path) -> None:
    nb = read_notebook(released / OUT / "fixture.ipynb")
    assert [c.id for c in nb.cells] == [c.id for c in read_notebook(released / NB).cells]
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code)


def test_release_creates_no_gradebook(released: Path) -> None:
    assert not list(released.rglob("*.db"))


# --- determinism and versions -----------------------------------------------------------------


def test_regenerating_twice_is_byte_identical(course: Path, tmp_path: Path) -> None:
    assert rel.release(course=course) == 0
    first = tree(course / "assignments")
    assert rel.release(course=course) == 0
    assert tree(course / "assignments") == first
    # from scratch in another folder too: nothing depends on time, path or the last run
    other = copy_course(tmp_path / "other")
    assert rel.release(course=other) == 0
    assert tree(other / "assignments") == first


def test_changed_source_gets_next_version_and_old_version_is_kept(course: Path) -> None:
    assert rel.release(course=course) == 0
    v1 = (course / OUT / ".releases/1/fixture.ipynb").read_bytes()
    edit_source(course, lambda nb: setattr(cell(nb, "intro"), "source", "# Fixed typo"))
    assert rel.release(course=course) == 0
    assert (course / OUT / ".releases/1/fixture.ipynb").read_bytes() == v1
    nb = read_notebook(course / OUT / "fixture.ipynb")
    assert nb.metadata.autograder["version"] == "2"
    assert (course / OUT / ".releases/2/fixture.ipynb").read_bytes() == (
        course / OUT / "fixture.ipynb"
    ).read_bytes()


def test_reverted_source_reuses_the_version_with_the_same_fingerprint(course: Path) -> None:
    original = (course / NB).read_bytes()
    assert rel.release(course=course) == 0
    edit_source(course, lambda nb: setattr(cell(nb, "intro"), "source", "# Changed"))
    assert rel.release(course=course) == 0
    (course / NB).write_bytes(original)
    assert rel.release(course=course) == 0
    assert read_notebook(course / OUT / "fixture.ipynb").metadata.autograder["version"] == "1"
    assert sorted(p.name for p in (course / OUT / ".releases").iterdir()) == ["1", "2"]


def test_pick_version_reuses_match_else_next_integer() -> None:
    versions = {"1": {"a": "sha256:1"}, "2": {"a": "sha256:2"}}
    assert rel.pick_version(versions, {"a": "sha256:1"}) == "1"
    assert rel.pick_version(versions, {"a": "sha256:3"}) == "3"
    assert rel.pick_version({}, {"a": "sha256:3"}) == "1"


# --- --check ----------------------------------------------------------------------------------


def test_check_passes_when_in_sync_and_writes_nothing(
    course: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rel.release(course=course) == 0
    before = tree(course)
    assert rel.release(course=course, check=True) == 0
    assert tree(course) == before
    assert "in sync" in capsys.readouterr().out


def test_check_names_the_stale_cell_and_writes_nothing(
    course: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rel.release(course=course) == 0
    edit_source(course, lambda nb: setattr(cell(nb, "test-add"), "source", "assert True"))
    before = tree(course)
    capsys.readouterr()
    assert rel.release(["F1"], course=course, check=True) == 1
    out = capsys.readouterr().out
    assert "F1: assignments/F1/fixture.ipynb differs in cell 4 (add)" in out
    assert tree(course) == before
    assert not list(course.rglob("*.db"))


def test_check_fails_when_nothing_was_released(
    course: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rel.release(course=course, check=True) == 1
    assert "assignments/F1/fixture.ipynb is missing" in capsys.readouterr().out
    assert not (course / "assignments").exists()


def test_check_flags_a_file_the_release_does_not_produce(
    course: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rel.release(course=course) == 0
    (course / OUT / "hidden_tests.py").write_text("leaked = True\n")
    assert rel.release(course=course, check=True) == 1
    assert (
        "assignments/F1/hidden_tests.py is not produced by the release" in capsys.readouterr().out
    )


# --- lint: each mistake refused, naming file, cell and line ------------------------------------


def _drop_end(nb: nbformat.NotebookNode) -> None:
    c = cell(nb, "sol-add")
    c.source = c.source.replace("    ### END SOLUTION", "")


def _drop_begin(nb: nbformat.NotebookNode) -> None:
    c = cell(nb, "sol-scale")
    c.source = c.source.replace("        ### BEGIN SOLUTION\n", "")


def _duplicate_id(nb: nbformat.NotebookNode) -> None:
    cell(nb, "sol-scale").metadata.nbgrader["grade_id"] = "add_vectors"


def _points(nb: nbformat.NotebookNode) -> None:
    cell(nb, "test-add").metadata.nbgrader["points"] = 3


def _no_grade_cell(nb: nbformat.NotebookNode) -> None:
    meta = cell(nb, "test-add").metadata.nbgrader
    meta.update(grade=False, locked=True)
    del meta["points"]


def _not_definition(nb: nbformat.NotebookNode) -> None:
    c = cell(nb, "sol-add")
    c.source += "\n\nprint(add_vectors(1, 2))"


def _block_outside_def(nb: nbformat.NotebookNode) -> None:
    cell(nb, "sol-add").source = "### BEGIN SOLUTION\nX = 1\n### END SOLUTION"


def _block_in_readonly(nb: nbformat.NotebookNode) -> None:
    cell(nb, "demo").source = "x = 1\n### BEGIN SOLUTION\ny = 2\n### END SOLUTION"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_drop_end, "cell 3, line 3: ### BEGIN SOLUTION without its ### END SOLUTION"),
        (_drop_begin, "cell 5, line 11: ### END SOLUTION without a ### BEGIN SOLUTION"),
        (_duplicate_id, "cell 5: duplicate grade_id 'add_vectors' (also solutions/F1/fixture.ipynb, cell 3)"),
        (_points, "cell 4: grade cell 'add' has 3 points, [tests].add in solutions/F1/assignment.toml says 2"),
        (_no_grade_cell, "solutions/F1/assignment.toml: [tests].add has no grade cell in the notebook"),
        (_not_definition, "cell 3, line 8: `print(add_vectors(1, 2))`: a solution cell may only hold"),
        (_block_outside_def, "cell 3, line 1: the solution block must be inside a function body"),
        (_block_in_readonly, "cell 9, line 2: solution block in a cell that is not a solution cell"),
    ],
    ids=["missing-end", "missing-begin", "duplicate-id", "points", "group-without-cell",
         "not-definition", "block-outside-def", "block-in-readonly"],
)  # fmt: skip
def test_lint_refuses_naming_cell_and_line(
    course: Path,
    capsys: pytest.CaptureFixture[str],
    change: Callable[[nbformat.NotebookNode], None],
    expected: str,
) -> None:
    edit_source(course, change)
    assert rel.release(course=course) == 1
    out = capsys.readouterr().out
    assert expected in out
    assert "Traceback" not in out
    assert not (course / "assignments").exists()


def test_opted_out_cell_may_hold_top_level_code(course: Path) -> None:
    def opt_out(nb: nbformat.NotebookNode) -> None:
        c = cell(nb, "free-lr")
        c.source = "LEARNING_RATE = 1e-3\nprint(LEARNING_RATE)"

    edit_source(course, opt_out)
    assert rel.release(course=course) == 0


def test_definition_cell_accepts_imports_defs_classes_and_constants() -> None:
    source = (
        '"""Doc."""\nimport math\nfrom math import pi\nN: int = 3\nSIZES = (1, -2, 3 * 4)\n'
        "A, B = 1, 2\nclass K:\n    pass\ndef f(x):\n    ### BEGIN SOLUTION\n    return x\n"
        "    ### END SOLUTION\n"
    )
    c = nbformat.v4.new_code_cell(
        source, metadata={"nbgrader": {"solution": True, "grade_id": "x"}}
    )
    assert rel.lint_cell(c) == []
    c.source = "W = np.zeros(3)"
    assert "may only hold" in rel.lint_cell(c)[0][1]


# --- errors are one line, never a traceback ----------------------------------------------------


def test_unknown_assignment_is_one_line(course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert rel.release(["A9"], course=course) == 1
    assert capsys.readouterr().out == "A9: no solutions/A9/assignment.toml (assignments: F1)\n"


def test_misspelled_key_in_assignment_toml_stops_the_release_naming_it(
    course: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    toml = course / "solutions/F1/assignment.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("allowed_imports", "alowed_imports"),
                    encoding="utf-8")
    assert rel.release(["F1"], course=course) == 1
    assert capsys.readouterr().out == (
        "F1: solutions/F1/assignment.toml: unknown key 'alowed_imports' in [policy] "
        "(did you mean 'allowed_imports'?)\n")
    assert not (course / OUT).exists()


def test_broken_notebook_json_is_one_line_naming_the_file(
    course: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (course / NB).write_text('{"cells": [', encoding="utf-8")
    args = argparse.Namespace(assignments=["F1"], check=False, course=str(course))
    assert rel.cli_release(args) == 1
    out = capsys.readouterr().out
    assert "fixture.ipynb: not a valid notebook (broken JSON" in out
    assert len(out.strip().splitlines()) == 1


def test_nbgrader_failure_is_one_line_with_its_reason(
    course: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_source(course, lambda nb: nb.metadata.kernelspec.update(language="julia"))
    assert rel.release(course=course) == 1
    out = capsys.readouterr().out
    assert out.startswith("F1: solutions/F1: nbgrader generate_assignment failed: ValueError:")
    assert "julia" in out and len(out.strip().splitlines()) == 1


def test_read_notebook_names_the_file_for_each_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ipynb"
    with pytest.raises(NotebookError, match="bad.ipynb: not found"):
        read_notebook(bad)
    bad.write_text('{"nbformat": 3, "worksheets": []}')
    with pytest.raises(NotebookError, match="bad.ipynb: nbformat 3 notebook is too old"):
        read_notebook(bad)
    bad.write_bytes(b"\xff\xfe")
    with pytest.raises(NotebookError, match="bad.ipynb: not a valid notebook"):
        read_notebook(bad)


# --- nbgrader_config.py -------------------------------------------------------------------------


def test_nbgrader_config_py_is_the_packages_course_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from traitlets.config.loader import PyFileConfigLoader

    from autograder.authoring.generate import course_config

    monkeypatch.setenv("PATH", "/usr/bin")
    c = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    assert c.CourseDirectory.root == str(REPO)
    assert c.CourseDirectory.source_directory == "solutions"
    assert c.CourseDirectory.release_directory == "assignments"
    assert set(rel.NEVER_RELEASED) <= set(c.CourseDirectory.ignore)
    ours = rel.nbgrader_config("/tmp")
    assert c.CourseDirectory.ignore == ours.CourseDirectory.ignore
    assert c.ClearSolutions.code_stub == {"python": rel.CODE_STUB}
    assert c.ClearSolutions.text_stub == rel.TEXT_STUB
    assert c.LockCells == ours.LockCells
    # one definition: the file loads the package's settings, section by section
    package = course_config(REPO)
    for section in ("CourseDirectory", "ClearSolutions", "LockCells", "GenerateAssignment",
                    "Autograde"):
        assert c[section] == package[section], section
    # alembic (needed to create a gradebook) is found without activating the venv
    assert os.environ["PATH"].split(os.pathsep)[0] == os.path.dirname(sys.executable)


def test_make_fixture_script_reproduces_the_committed_notebook(tmp_path: Path) -> None:
    script = copy_course(tmp_path / "c") / "make_fixture.py"
    runpy.run_path(str(script), run_name="__main__")
    assert (tmp_path / "c" / NB).read_bytes() == (FIXTURE / NB).read_bytes()


def test_a_course_without_assignments_is_an_error_not_a_silent_pass(tmp_path, capsys):
    from autograder.authoring.release import release

    # a wrong --course in CI must fail, not pass with nothing checked
    assert release(course=tmp_path, check=True) == 1
    assert release(course=tmp_path) == 1
    assert "nothing to release" in capsys.readouterr().out


# --- nbgrader's own generate_assignment in this course -------------------------------------------


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """The repository's course files (config, A3's solutions and release) in a tmp folder."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root)
    for part in ("solutions", "assignments"):
        shutil.copytree(REPO / part / "A3", root / part / "A3",
                        ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_nbgraders_generate_assignment_refuses_and_points_to_autograder_release(
    repo_copy: Path,
) -> None:
    import subprocess

    before = tree(repo_copy / "assignments")
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "nbgrader"),
                           "generate_assignment", "A3", "--force"], cwd=repo_copy, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "autograder release A3" in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert tree(repo_copy / "assignments") == before
    assert rel.release(["A3"], course=repo_copy, check=True) == 0


def test_formgraders_generate_button_refuses_and_changes_nothing(repo_copy: Path) -> None:
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    before = tree(repo_copy / "assignments")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(repo_copy)).load_config()
    config.CourseDirectory.db_url = f"sqlite:///{repo_copy / 'gradebook.db'}"
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    result = api.generate_assignment("A3", force=True)
    assert result["success"] is False
    assert "autograder release A3" in result["log"]
    assert tree(repo_copy / "assignments") == before


def test_autograder_release_is_not_refused_by_the_course_config(repo_copy: Path) -> None:
    shutil.rmtree(repo_copy / "assignments")
    assert rel.release(["A3"], course=repo_copy) == 0
    assert rel.release(["A3"], course=repo_copy, check=True) == 0


def test_nbgraders_autograde_refuses_and_points_to_autograder_grade(repo_copy: Path) -> None:
    import subprocess

    submitted = repo_copy / "submitted" / "s1" / "A3"
    submitted.mkdir(parents=True)
    shutil.copy(repo_copy / "assignments" / "A3" / "linear_classifier.ipynb", submitted)
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "nbgrader"),
                           "autograde", "A3", "--force"], cwd=repo_copy, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "autograder grade A3" in done.stdout + done.stderr
    assert not (repo_copy / "autograded").exists()
