"""nbgrader configuration of the course.

The course directory is this repository: instructor sources in solutions/, the student release in
assignments/. Generate the release with `autograder release` (it lints the sources, keeps every
published version and writes the public assignment.toml); it uses the same settings as this file
(autograder/authoring/release.py, nbgrader_config() — tests/test_release.py checks that they agree).
Plain `nbgrader` commands run from this folder (formgrader, autograde) read this file.
"""

import os
import sys

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

HERE = os.path.dirname(os.path.abspath(__file__))

# nbgrader runs the `alembic` executable when it creates a gradebook; it lives next to the
# venv's python, which is not on PATH unless the venv is activated.
_bin = os.path.dirname(sys.executable)
if _bin not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _bin + os.pathsep + os.environ.get("PATH", "")

c.CourseDirectory.root = HERE
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
# nbgrader's defaults plus the instructor-only files: hidden tests and the full rubric (its
# [private] table) are never copied into assignments/.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    "hidden_tests.py",
    "assignment.toml",
]

# Each ### BEGIN/END SOLUTION block becomes this stub, indented like the BEGIN line.
c.ClearSolutions.code_stub = {
    "python": (
        "# ========== START OF YOUR CODE (do not edit or delete this line) ==========\n"
        "raise NotImplementedError\n"
        "# =========== END OF YOUR CODE (do not edit or delete this line) ==========="
    )
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# A solution block outside a solution cell is an authoring mistake: fail instead of guessing.
c.ClearSolutions.enforce_metadata = True

# nbgrader's own generate_assignment (and formgrader's Generate button) would delete the kept
# versions in assignments/<A>/.releases/ and copy instructor files into the release: it refuses,
# before touching anything, and points to `autograder release` (autograder/grading/nbgrader_guard.py).
c.GenerateAssignment.exporter_class = "autograder.grading.nbgrader_guard.GenerateRefused"
# nbgrader's autograde (formgrader's Autograde button) would run student notebooks in a plain
# kernel, outside the sandbox: it refuses too and points to `autograder grade`.
c.Autograde.exporter_class = "autograder.grading.nbgrader_guard.AutogradeRefused"

# Solution cells cannot be deleted; grade and read-only cells cannot be edited or deleted.
c.LockCells.lock_solution_cells = True
c.LockCells.lock_grade_cells = True
c.LockCells.lock_readonly_cells = True
