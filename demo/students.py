"""The sample classes: who the students are, what each did, and the zip each hands in.

Every student starts from the solved, run notebook (demo.solution) and is derived from it by
edits of TODO bodies and cells (demo.edits); the zip is made with the submission API
(`autograder.student.submission.submit`) unless the case is about the zip itself.

A4: full marks, typical bugs, policy violations, zip mistakes and two cheating attempts.
A2: full marks, a bug that costs part of one test group, and a policy violation.
Each student has the outcome the grader must give (`EXPECTED`, `A2_EXPECTED`); the demo checks it.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autograder.core.config import REPO_ROOT
from demo.edits import Edit, add_cell_after, as_handed_in, clear_outputs, edit_code
from demo.solution import Solution, executed_solution

Outcome = tuple[str, float, list[str]]
"""(status, score, sorted rule ids) of one student's report."""


@dataclass(frozen=True)
class Student:
    """One demo student: who, what they did, and how their zip is made."""

    sid: str
    what: str
    edits: tuple[Edit, ...] = ()
    packaging: str = "submit"  # submit | no-manifest | nested | no-model


@dataclass(frozen=True)
class SampleClass:
    """One assignment's sample class and the outcome the grader must give each student."""

    assignment: str
    students: tuple[Student, ...]
    expected: dict[str, Outcome] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# A4: the two-layer net


FB = "a4-forward-backward"
STUDENTS: tuple[Student, ...] = (
    Student("s01", "full marks"),
    Student("s02", "full marks, second student"),
    Student("s03", "bug: no regularization gradient on W1",
            (edit_code(FB, 'grads["W1"] = X.T.dot(dpre) + 2 * reg * W1', 'grads["W1"] = X.T.dot(dpre)'),)),
    Student("s04", "bug: softmax without the max shift",
            (edit_code(FB, "shifted = scores - scores.max(axis=1, keepdims=True)", "shifted = scores"),)),
    Student("s05", "bug: wrong ReLU backward (no gate)",
            (edit_code(FB, "dpre = dhidden * (hidden > 0)", "dpre = dhidden"),)),
    Student("s06", "violation: code outside a TODO block",
            (edit_code(FB, "    N, D = X.shape\n", "    N, D = X.shape\n    print('shapes', N, D)\n"),)),
    Student("s07", "violation: an added cell",
            (add_cell_after("a4-load-data", "print(X_train.shape, X_val.shape)"),)),
    Student("s08", "violation: a forbidden import (in the free settings cell)",
            (edit_code("a4-settings", 'DATASET = "digits"', 'import os\nDATASET = "digits"'),)),
    Student("s09", "violation: notebook saved without outputs", (clear_outputs,)),
    Student("s10", "violation: a self-made zip without MANIFEST.json", packaging="no-manifest"),
    Student("s11", "violation: files in a nested folder", packaging="nested"),
    Student("s12", "violation: the best model not submitted", packaging="no-model"),
    Student("s13", "cheating: monkeypatches np.allclose, predicts nothing",
            (edit_code("a4-predict", "y_pred = np.argmax(scores, axis=1)  # (N,)",
                       "np.allclose = lambda *a, **k: True\n"
                       "    np.testing.assert_allclose = lambda *a, **k: None\n"
                       "    y_pred = np.zeros(X.shape[0], dtype=int)"),)),
    Student("s14", "cheating: returns an object whose __eq__ is always True",
            (edit_code("a4-predict", "y_pred = np.argmax(scores, axis=1)  # (N,)",
                       "class AlwaysEqual:\n"
                       "        def __eq__(self, other):\n"
                       "            return True\n"
                       "    y_pred = AlwaysEqual()"),)),
)

# student -> (status, score out of 100 with the 20 manual points not graded yet, rule ids)
EXPECTED: dict[str, Outcome] = {
    "s01": ("graded", 80.0, []),  # full marks (of the 80 automatic points)
    "s02": ("graded", 80.0, []),  # full marks, a second student: the same score
    "s03": ("graded", 65.0, []),  # no reg gradient on W1: nn_backward 9/20, nn_train 8/12
    "s04": ("graded", 78.333333, []),  # no max shift: the large-scores part of nn_loss
    "s05": ("graded", 56.0, []),  # no ReLU gate: nn_backward 0/20, nn_train 8/12
    "s06": ("graded", 79.0, ["outside-todo-modified"]),  # -1, the graft ignores the edit
    "s07": ("graded", 79.5, ["cell-added"]),  # -0.5
    "s08": ("graded", 75.0, ["forbidden-import"]),  # -5, even in a free cell
    "s09": ("graded", 79.0, ["not-executed"]),  # -1
    "s10": ("graded", 78.0, ["zip-manifest"]),  # -2: not made by `autograder submit`
    "s11": ("graded", 80.0, ["zip-structure"]),  # nested folder: a warning, graded anyway
    "s12": ("graded", 60.0, ["zip-structure"]),  # no model file: nn_best_model 0/20
    "s13": ("graded", 62.0, ["sandbox-violation"]),  # np.allclose patched: -10, predict 0
    "s14": ("graded", 72.0, []),  # __eq__ always True: does not cross the sandbox, 0 points
}

A4_CLASS = SampleClass("A4", STUDENTS, EXPECTED)


# ---------------------------------------------------------------------------------------------
# A2: backprop basics (ids after A4's: one gradebook holds both classes)


A2_STUDENTS: tuple[Student, ...] = (
    Student("s15", "full marks"),
    Student("s16", "bug: the graph assigns a gradient instead of accumulating it",
            (edit_code("a2-api", "grads[name] = grads.get(name, 0.0) + g", "grads[name] = g"),)),
    Student("s17", "violation: a Python loop in matmul_backward",
            (edit_code("a2-matmul-backward", "    dx = dy @ w.T\n",
                       "    dx = np.zeros_like(x)\n"
                       "    for n in range(x.shape[0]):\n"
                       "        dx[n] = dy[n] @ w.T\n"),)),
)

# student -> (status, score out of 66 with the 10 manual points not graded yet, rule ids)
A2_EXPECTED: dict[str, Outcome] = {
    "s15": ("graded", 56.0, []),  # full marks (of the 56 automatic points)
    "s16": ("graded", 53.090909, []),  # the graph's backward: 2 of its 4 checks, 2.91/5.82
    "s17": ("graded", 41.0, ["loop-in-vectorized"]),  # -5, and matmul_backward's tests 0/10
}

A2_CLASS = SampleClass("A2", A2_STUDENTS, A2_EXPECTED)

CLASSES: tuple[SampleClass, ...] = (A4_CLASS, A2_CLASS)


# ---------------------------------------------------------------------------------------------
# Building


def _rezip(src: Path, dest: Path, keep: Callable[[str], bool], prefix: str = "") -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if keep(info.filename):
                zout.writestr(prefix + info.filename, zin.read(info))


def build_student(student: Student, solution: Solution, work: Path, subs: Path, course: Path) -> Path:
    """The student's folder (notebook + saved files) under `work` and their zip in `subs`
    (`<A>_<sid>.zip`), as the case says. Raises RuntimeError when `submit` refuses it."""
    import nbformat

    from autograder.student.submission import submit

    assignment, name = solution.assignment, solution.notebook_name
    nb = copy.deepcopy(solution.notebook)
    as_handed_in(nb, student.sid)
    for edit in student.edits:
        edit(nb)
    folder = work / student.sid
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / name)
    for file, data in solution.files.items():
        (folder / file).write_bytes(data)
    zip_path = subs / f"{assignment}_{student.sid}.zip"
    if student.packaging == "no-manifest":  # zipped by hand: the files, no MANIFEST.json
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
            for file in (name, *solution.files):
                zf.write(folder / file, file)
        return zip_path
    made = work / "zips" / student.sid
    made.mkdir(parents=True)
    result = submit(assignment, student.sid, folder, out=made, course=course, echo=lambda *_: None)
    if not result.ok or result.zip_path is None:
        raise RuntimeError(f"demo: submit refused {student.sid}: {'; '.join(result.problems)}")
    if student.packaging == "nested":  # the student zipped their folder: everything one level down
        _rezip(result.zip_path, zip_path, lambda n: True, prefix=f"{student.sid}/")
    elif student.packaging == "no-model":
        _rezip(result.zip_path, zip_path, lambda n: n not in solution.files)
    else:
        shutil.copyfile(result.zip_path, zip_path)
    return zip_path


COURSE_STATE = ("autograded", "submitted", "grading", "gradebook.db")


def demo_course(dest: Path, assignments: tuple[str, ...] = ("A4",)) -> Path:
    """A fresh course folder at `dest`: the assignments' solutions and releases copied, no
    course state (gradebook, autograded/, ...), and the repository's nbgrader_config.py, so
    formgrader started there (`make formgrader`) lists the assignments and their submissions."""
    for state in COURSE_STATE:
        path = dest / state
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    for assignment in assignments:
        for part in ("solutions", "assignments"):
            target = dest / part / assignment
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(REPO_ROOT / part / assignment, target)
    shutil.copyfile(REPO_ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    return dest


def build_class(root: Path, students: tuple[Student, ...] = STUDENTS,
                echo: Callable[[str], None] = print, cache: Path | None = None,
                assignment: str = "A4", course: Path | None = None) -> tuple[Path, Path]:
    """(course dir, submissions dir) of a sample class of `assignment` under `root`.

    `course`: an existing course folder to add the class to (e.g. one holding several
    assignments); default a fresh `root/course` with this assignment only. The zips go to
    `root/submissions` (a fresh folder). `cache`: where the solved notebook's run is kept
    (default demo.solution.CACHE), so it runs once per content change.
    """
    course = course or demo_course(root / "course", (assignment,))
    solution = executed_solution(assignment, course, cache, echo)
    subs = root / "submissions"
    shutil.rmtree(subs, ignore_errors=True)
    subs.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="autograder-demo-") as tmp:
        for student in students:
            build_student(student, solution, Path(tmp), subs, course)
    echo(f"Sample class {assignment}: {len(students)} submissions in {subs}")
    return course, subs
