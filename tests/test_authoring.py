"""Authoring with the source notebook as the source: an edit saved by Jupyter reaches the release,
and `autograder measure` runs a source notebook with its solutions and reports what it measures
(grade cells, the models' accuracy against their bands)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.authoring.measure_source import (
    MAX_PRINTED_LINES,
    TAIL_LINES,
    CellRun,
    SourceRun,
    report_lines,
    run_source,
)
from autograder.authoring.scaffold import scaffold

REPO = Path(__file__).resolve().parent.parent

pytest.importorskip("nbclient", reason="measure runs notebooks with nbclient (instructor extra)")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "autograder", *args], capture_output=True, text=True,
                          timeout=600)


def _edit(path: Path, cell_id: str, change) -> None:
    """Change one cell's source and save the notebook as JupyterLab does (nbformat.write)."""
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.id == cell_id)
    cell.source = change(cell.source)
    nbformat.write(nb, path)


# --------------------------------------------------------------------------- the source is the source


@pytest.fixture
def a3_course(tmp_path: Path) -> Path:
    """The repository's course files for A3 (config, solutions, releases) in a tmp folder."""
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(REPO / "nbgrader_config.py", root)
    for part in ("solutions", "assignments"):
        shutil.copytree(REPO / part / "A3", root / part / "A3", ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_no_generator_script_remains_under_solutions():
    """No Python file there writes notebooks: the .ipynb files are the sources."""
    scripts = [p for p in (REPO / "solutions").rglob("*.py") if "__pycache__" not in p.parts]
    assert [p.relative_to(REPO).as_posix() for p in scripts
            if p.name == "build_notebook.py" or "nbformat" in p.read_text(encoding="utf-8")] == []


def test_a_markdown_edit_saved_by_jupyter_reaches_the_release(a3_course: Path):
    source = a3_course / "solutions" / "A3" / "linear_classifier.ipynb"
    sentence = "Tip from the course staff: read each docstring's shapes before you start."
    assert _cli("release", "A3", "--check", "--course", str(a3_course)).returncode == 0
    _edit(source, "a3-sgd-md", lambda text: text + "\n\n" + sentence)
    assert _cli("release", "A3", "--check", "--course", str(a3_course)).returncode == 1  # now stale
    done = _cli("release", "A3", "--course", str(a3_course))
    assert done.returncode == 0, done.stdout + done.stderr
    released = nbformat.read(a3_course / "assignments" / "A3" / "linear_classifier.ipynb", as_version=4)
    assert sentence in next(c for c in released.cells if c.id == "a3-sgd-md").source
    checked = _cli("release", "A3", "--check", "--course", str(a3_course))
    assert checked.returncode == 0, checked.stdout + checked.stderr


# --------------------------------------------------------------------------- autograder measure


@pytest.fixture
def z9(tmp_path: Path) -> Path:
    """A fresh course holding the scaffold Z9; its source notebook."""
    scaffold("Z9", course=tmp_path)
    return tmp_path


def test_measure_reports_each_grade_cell_with_what_it_printed(z9: Path, tmp_path: Path):
    run = run_source("Z9", course=z9, workdir=tmp_path / "work")
    graded = [c for c in run.cells if c.grade_id is not None]
    assert [(c.grade_id, c.points, c.error) for c in graded] == [("relu_backward", 10.0, None)]
    assert "relu_backward: OK" in graded[0].printed
    assert run.ok and run.errors == []
    text = "\n".join(report_lines(run))
    assert "relu_backward (10 points): passed" in text and "relu_backward: OK" in text


def test_measure_names_the_grade_cell_whose_sanity_value_the_solution_no_longer_gives(z9: Path):
    _edit(z9 / "solutions" / "Z9" / "z9.ipynb", "z9-relu-check",
          lambda text: text.replace("[4.0, 0.0, 6.0]", "[4.0, 0.0, 7.0]"))
    done = _cli("measure", "Z9", "--course", str(z9))
    assert done.returncode == 1
    assert "relu_backward (10 points): ERROR" in done.stdout
    assert "AssertionError: dx differs" in done.stdout
    assert "[4. 0. 6.]" in done.stdout  # the reference's value, to paste into the check


def test_measure_grades_the_saved_model_against_its_band(z9: Path, tmp_path: Path):
    """A model that predicts one class for every image is far below the full-credit bar."""
    folder = z9 / "solutions" / "Z9"
    config = (folder / "assignment.toml").read_text(encoding="utf-8")
    config = config.replace("[manual]", "one_class_model = 10\n\n[manual]", 1)
    config += ('\n[models.one_class_model]\nfile = "model.npz"\ngrade_id = "one_class_model"\n'
               'predict = "predict"\nkeys = { W = ["D", "C"] }\n'
               "bands.digits = { floor = 0.5, full = 0.9 }\n")
    (folder / "assignment.toml").write_text(config, encoding="utf-8")
    nb = nbformat.read(folder / "z9.ipynb", as_version=4)
    predict = nbformat.v4.new_code_cell(
        "def predict(W, X):\n    return np.argmax(X.dot(W), axis=1)", id="z9-predict",
        metadata={"nbgrader": {"grade": False, "grade_id": "z9-predict", "locked": False,
                               "schema_version": 3, "solution": True}})
    save = nbformat.v4.new_code_cell(
        "from autograder.core.datasets import load_dataset\n"
        'D = load_dataset("digits")["X_test"].shape[1]\n'
        'np.savez("model.npz", W=np.zeros((D, 10)))', id="z9-save",
        metadata={"nbgrader": {"grade": True, "grade_id": "one_class_model", "locked": True,
                               "points": 10, "schema_version": 3, "solution": False}})
    nb.cells[-1:-1] = [predict, save]
    nbformat.write(nb, folder / "z9.ipynb")
    run = run_source("Z9", course=z9, workdir=tmp_path / "work")
    assert run.errors == []
    assert [m["name"] for m in run.models] == ["one_class_model"]
    assert run.models[0]["status"] == "failed" and "full credit at 0.900" in run.models[0]["message"]
    assert not run.ok
    assert "model one_class_model: test accuracy" in "\n".join(report_lines(run))


def test_measure_of_an_unknown_assignment_says_so_in_one_line(tmp_path: Path):
    done = _cli("measure", "Q1", "--course", str(tmp_path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "assignment.toml: not found" in done.stderr


def test_report_of_a_long_output_keeps_its_head_and_its_last_lines(tmp_path: Path):
    printed = "".join(f"line {i}\n" for i in range(MAX_PRINTED_LINES + 10))
    run = SourceRun("Z9", tmp_path, 1.0, cells=[CellRun("z9.ipynb", 3, "c", "g", 1.0, printed, None)])
    shown = [line.strip() for line in report_lines(run)[2:-1]]
    assert len(shown) == MAX_PRINTED_LINES + 1  # and one line saying how many were left out
    assert shown[0] == "line 0" and shown[-1] == f"line {MAX_PRINTED_LINES + 9}"
    assert shown[-TAIL_LINES - 1] == "... (10 lines left out)"
