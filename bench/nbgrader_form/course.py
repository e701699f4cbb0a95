"""An nbgrader course with the kit's hidden tests in nbgrader's form, for bench_vs_nbgrader.py.

    build_course(root, "A3", {"s01": Path("A3_s01.zip"), ...})

lays out, under `root`:

    nbgrader_config.py          the kit's stubs and lock settings, a gradebook in root,
                                generous execution timeouts (nbgrader's default is 30 s a cell)
    source/<A>/<nb>.ipynb       solutions/<A>/<nb>.ipynb prepared as `autograder release` prepares
                                it (same grade_ids), every grade cell of a [tests] group ending in
                                a ### BEGIN HIDDEN TESTS / ### END HIDDEN TESTS block
    hidden/<A>/                 hidden_tests.py, assignment.toml and the source notebook (the
                                reference), read by the hidden blocks; hidden/kernel_tests.py
    submitted/<sid>/<A>/        each student's notebook and model files, byte for byte the ones
                                in their zip

and runs `nbgrader generate_assignment <A>` there (which records the grade cells, hidden tests
included, in the gradebook). `nbgrader autograde <A> --force` in `root` then grades the class:
it restores the grade cells from the gradebook, runs each notebook from the top in a fresh
kernel, and scores each grade cell by its output (an error: 0, a number: partial credit).

The hidden block of group G is

    ### BEGIN HIDDEN TESTS
    import sys as _sys
    ...
    _kernel_tests.group_score("<root>/hidden/<A>", "G", globals())
    ### END HIDDEN TESTS

i.e. the group's `@hidden_test` functions of solutions/<A>/hidden_tests.py (or the best-model
check) run in the student's kernel: equivalent checks, in nbgrader's way (kernel_tests.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from autograder.core.config import load_config, solution_dir

HERE = Path(__file__).resolve().parent
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"

CONFIG_TEMPLATE = '''"""nbgrader configuration of the benchmark's nbgrader-form course (bench/nbgrader_form)."""
import os

from autograder.authoring.release import COURSE_IGNORE, CODE_STUB, TEXT_STUB

c = get_config()  # noqa: F821 - provided by nbgrader

HERE = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = HERE
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(HERE, "gradebook.db")
c.CourseDirectory.ignore = list(COURSE_IGNORE) + ["hidden"]
c.ClearSolutions.code_stub = {{"python": CODE_STUB}}
c.ClearSolutions.text_stub = TEXT_STUB
c.ClearSolutions.enforce_metadata = True
c.LockCells.lock_solution_cells = True
c.LockCells.lock_grade_cells = True
c.LockCells.lock_readonly_cells = True
# A student's notebook trains and searches: nbgrader's 30 s per cell would time out cells that
# the students ran fine. Generous limits, so that nothing is cut short.
c.Execute.timeout = {cell_timeout}
c.Execute.startup_timeout = 120
'''


def nbgrader_env() -> dict[str, str]:
    """The environment for nbgrader and autograder commands: the venv's bin on PATH (nbgrader
    runs `alembic`), single-threaded BLAS as in the grader's workers (--jobs 1 is one core for
    both graders; OPENBLAS_CORETYPE and friends are left as they are)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = "1"
    return env


def hidden_block(hidden_dir: Path, grade_id: str) -> str:
    """The ### BEGIN/END HIDDEN TESTS block that scores group `grade_id` in the kernel."""
    root = str(hidden_dir.parent)
    return "\n".join([
        BEGIN_HIDDEN,
        "import sys as _sys",
        f"if {root!r} not in _sys.path:",
        f"    _sys.path.insert(0, {root!r})",
        "import kernel_tests as _kernel_tests",
        f"_kernel_tests.group_score({str(hidden_dir)!r}, {grade_id!r}, globals())",
        END_HIDDEN,
    ])


def source_notebook(assignment: str, name: str, hidden_dir: Path) -> Any:
    """solutions/<A>/<name> with release grade_ids and a hidden block in each graded grade cell."""
    from autograder.authoring.release import prepare_source
    from autograder.core.notebook import read_notebook

    config = load_config(solution_dir(assignment) / "assignment.toml")
    nb = prepare_source(read_notebook(solution_dir(assignment) / name))
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and meta.get("grade_id") in config.tests:
            cell.source = cell.source.rstrip("\n") + "\n\n" + hidden_block(hidden_dir, meta["grade_id"])
    return nb


def grade_cells_with_hidden_tests(nb: Any) -> list[str]:
    """grade_ids of the cells that carry a hidden block (what the course grades)."""
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if c.cell_type == "code" and BEGIN_HIDDEN in c.source]


def _student_files(zip_path: Path, wanted: set[str], dest: Path) -> list[str]:
    """Copy the wanted files (by base name, wherever they are in the zip) to dest, unchanged."""
    dest.mkdir(parents=True, exist_ok=True)
    found = []
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            base = Path(info.filename).name
            if base in wanted and not info.is_dir() and "__MACOSX" not in info.filename:
                (dest / base).write_bytes(zf.read(info))
                found.append(base)
    return sorted(found)


def build_course(root: Path, assignment: str, zips: dict[str, Path], cell_timeout: int = 1800) -> Path:
    """The nbgrader-form course for these students' zips, generated and ready to autograde."""
    import nbformat

    config = load_config(solution_dir(assignment) / "assignment.toml")
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(CONFIG_TEMPLATE.format(cell_timeout=cell_timeout))
    hidden = root / "hidden" / assignment
    hidden.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(HERE / "kernel_tests.py", root / "hidden" / "kernel_tests.py")
    for f in ("hidden_tests.py", "assignment.toml", *config.notebooks):
        shutil.copyfile(solution_dir(assignment) / f, hidden / f)
    if (solution_dir(assignment) / "stubs.py").is_file():  # what the tests pass by name
        shutil.copyfile(solution_dir(assignment) / "stubs.py", hidden / "stubs.py")
    source = root / "source" / assignment
    source.mkdir(parents=True, exist_ok=True)
    for name in config.notebooks:
        nbformat.write(source_notebook(assignment, name, hidden), source / name)
    subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force"],
                   cwd=root, env=nbgrader_env(), check=True, capture_output=True, text=True)
    wanted = set(config.required_files) | set(config.notebooks)
    for sid, zip_path in zips.items():
        _student_files(zip_path, wanted, root / "submitted" / sid / assignment)
    return root


def autograde_command(assignment: str) -> list[str]:
    """The timed command, run in the course root."""
    return [sys.executable, "-m", "nbgrader", "autograde", assignment, "--force"]


def nbgrader_scores(root: Path, assignment: str) -> dict[str, dict[str, float]]:
    """student -> {grade_id: auto score} of the code grade cells, from the course's gradebook."""
    from nbgrader.api import Gradebook

    out: dict[str, dict[str, float]] = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        for sub in gb.assignment_submissions(assignment):
            scores = out.setdefault(sub.student.id, {})
            for nb in sub.notebooks:
                for grade in nb.grades:
                    if grade.cell.cell_type == "code":
                        scores[grade.name] = float(grade.auto_score or 0.0)
    return out


__all__ = ["autograde_command", "build_course", "nbgrader_env", "nbgrader_scores"]
