"""nbgrader's part of `autograder release`: its settings, and generate_assignment in a throw-away course.

`nbgrader_config()` is the one definition of how nbgrader makes this kit's release (the TODO-block
stub, cell locking, the instructor-only files it must never copy). `autograder release` runs it
in a temporary course without any database; the course's own `nbgrader_config.py` loads
`course_config()`, the same settings on solutions/ and assignments/ plus the guards that make
nbgrader's own generate_assignment and autograde refuse (autograder.grading.nbgrader_guard).
"""

from __future__ import annotations

import copy
import logging
import re
import tempfile
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from autograder.authoring.lint import release_grade_id
from autograder.core.config import CONFIG_NAME, RELEASE_DIR, SOLUTIONS_DIR
from autograder.core.markers import CODE_STUB, TEXT_STUB, has_role, nbgrader_meta
from autograder.core.notebook import notebook_text, read_notebook

HIDDEN_TESTS = "hidden_tests.py"
STUBS = "stubs.py"  # the functions hidden tests pass by name (autograder.grading.hidden.stubs)
# Instructor-only files: never copied into assignments/ (nbgrader's default ignores + ours).
NEVER_RELEASED = (HIDDEN_TESTS, STUBS, CONFIG_NAME)
COURSE_IGNORE = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", *NEVER_RELEASED]
# Referenced by name (nbgrader imports them), so authoring does not import grading.
GENERATE_GUARD = "autograder.grading.nbgrader_guard.GenerateRefused"
AUTOGRADE_GUARD = "autograder.grading.nbgrader_guard.AutogradeRefused"


class ReleaseError(Exception):
    """The release cannot be made; str() is one line naming the file (and cell)."""


def prepare_source(nb: NotebookNode) -> NotebookNode:
    """A copy where every cell without a role is read-only and has a stable grade_id."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        if not has_role(nbgrader_meta(cell)):
            cell.metadata["nbgrader"] = {
                "grade": False,
                "solution": False,
                "locked": True,
                "grade_id": release_grade_id(cell),
                "schema_version": 3,
            }
    return nb


def nbgrader_config(
    root: str | Path, source_directory: str = SOLUTIONS_DIR, release_directory: str = RELEASE_DIR
) -> Any:
    """The nbgrader `Config` (traitlets) of a course at `root`: how nbgrader makes the release.

    Each solution block becomes CODE_STUB (markdown answers TEXT_STUB); every cell is locked but
    the solution cells; the instructor-only files are ignored, so never copied.
    """
    from traitlets.config import Config

    c = Config()
    c.CourseDirectory.root = str(root)
    c.CourseDirectory.source_directory = source_directory
    c.CourseDirectory.release_directory = release_directory
    c.CourseDirectory.ignore = list(COURSE_IGNORE)
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    c.ClearSolutions.text_stub = TEXT_STUB
    # A solution block outside a solution cell is an authoring mistake: fail instead of guessing.
    c.ClearSolutions.enforce_metadata = True
    c.LockCells.lock_solution_cells = True
    c.LockCells.lock_grade_cells = True
    c.LockCells.lock_readonly_cells = True
    return c


def course_config(root: str | Path) -> Any:
    """The settings of the course's nbgrader_config.py: `nbgrader_config(root)` on solutions/
    and assignments/, with nbgrader's own generate_assignment and autograde (formgrader's
    Generate and Autograde buttons) refused: they would delete the kept versions under
    assignments/<A>/.releases/ and run student code outside the sandbox."""
    c = nbgrader_config(root)
    c.GenerateAssignment.exporter_class = GENERATE_GUARD
    c.Autograde.exporter_class = AUTOGRADE_GUARD
    return c


def _throwaway_config(root: str | Path) -> Any:
    """`nbgrader_config` for the temporary course `autograder release` runs nbgrader in."""
    c = nbgrader_config(root, "source", "release")
    # No gradebook at all (SaveCells off, no_database); the URL is a temp file as a safety net.
    c.CourseDirectory.db_url = f"sqlite:///{Path(root) / 'unused-gradebook.db'}"
    c.SaveCells.enabled = False
    c.GenerateAssignment.no_database = True
    return c


class _Capture(logging.Handler):
    """Keeps nbgrader's error log so a failure becomes one line instead of a traceback dump."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())

    def reason(self) -> str:
        # the last "SomeError: message" line of a logged traceback says what went wrong
        for message in reversed(self.messages):
            for line in reversed(message.strip().splitlines()):
                if re.match(r"^[\w.]+(Error|Exception): ", line):
                    return line
        return self.messages[-1].strip().splitlines()[0] if self.messages else "unknown error"


def run_nbgrader(assignment: str, notebooks: dict[str, NotebookNode]) -> dict[str, NotebookNode]:
    """nbgrader generate_assignment on these notebooks, in a temp course; the release notebooks."""
    try:
        from nbgrader.converters import GenerateAssignment
        from nbgrader.coursedir import CourseDirectory
    except ImportError:
        raise ReleaseError(
            "nbgrader is not installed: run `make setup` (the [instructor] extra, Python >= 3.11)"
        ) from None

    capture = _Capture()
    nblog = logging.getLogger("autograder.authoring.release.nbgrader")
    nblog.propagate = False  # nbgrader's info chatter is not for the instructor's terminal
    nblog.handlers = [capture]
    with tempfile.TemporaryDirectory(prefix="autograder-release-") as tmp:
        source = Path(tmp, "source", assignment)
        source.mkdir(parents=True)
        for name, nb in notebooks.items():
            (source / f"{name}.ipynb").write_text(notebook_text(nb), encoding="utf-8")
        config = _throwaway_config(tmp)
        coursedir = CourseDirectory(config=config, log=nblog)
        coursedir.assignment_id = assignment
        converter = GenerateAssignment(coursedir=coursedir, config=config, log=nblog)
        try:
            converter.start()
        except Exception as exc:
            raise ReleaseError(
                f"{SOLUTIONS_DIR}/{assignment}: nbgrader generate_assignment failed: "
                f"{capture.reason() if capture.messages else exc}"
            ) from None
        out = Path(tmp, "release", assignment)
        return {name: read_notebook(out / f"{name}.ipynb") for name in notebooks}
