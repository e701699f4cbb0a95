"""`python -m demo.classroom` (`make demo`): a sample class of A4 graded end to end, offline.

1. `autograder release --check`: the committed release matches the solutions;
2. a solved notebook: the release with the solution bodies put into its TODO blocks, run once
   start to end on digits (outputs and the saved best model, as a student's would be; cached
   in build/demo/cache/ by content, so a second demo skips the run);
3. a class of students derived from it by editing TODO bodies and cells, each zipped with the
   submission API (`autograder.student.submission.submit`) unless the case is about the zip itself:
   full marks, typical bugs, policy violations, two cheating attempts (STUDENTS below);
4. `grade` on the class with the progress bar into build/demo/ (its own course copy, so the
   gradebook and autograded/ stay there), then the final table and where the reports are.

It exits 0 only when every student's outcome is the one EXPECTED below. Before anything is built
it checks that student code can be sandboxed here (`autograder.grading.sandbox.preflight`) and otherwise
stops with one line saying what to install.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.core.config import REPO_ROOT, release_dir, solution_dir

ASSIGNMENT = "A4"
NOTEBOOK = "two_layer_net.ipynb"
MODEL = "nn_best_model.npz"
DEMO_DIR = REPO_ROOT / "build" / "demo"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
SUBMIT_CELL = "a4-submit"
# per cell of the solved notebook; the search cell takes ~30 s on an idle core, minutes on a busy one
CELL_TIMEOUT_S = 1800
START_WORDS, END_WORDS = "START OF YOUR CODE", "END OF YOUR CODE"

Edit = Callable[[Any], None]


# ---------------------------------------------------------------------------------------------
# Notebook surgery


def _gid(cell: Any) -> str:
    return str(cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", ""))


def solution_bodies(source: str) -> list[list[str]]:
    """The lines strictly inside each BEGIN/END SOLUTION block, in order."""
    bodies, current = [], None
    for line in source.splitlines():
        if line.strip() == BEGIN:
            current = []
        elif line.strip() == END and current is not None:
            bodies.append(current)
            current = None
        elif current is not None:
            current.append(line)
    return bodies


def fill_todo_blocks(release_src: str, bodies: list[list[str]]) -> str:
    """The release cell with each START/END OF YOUR CODE block's body replaced, markers kept."""
    out, inside, index = [], False, 0
    for line in release_src.splitlines():
        if START_WORDS in line:
            out.append(line)
            out.extend(bodies[index])
            index, inside = index + 1, True
        elif END_WORDS in line:
            out.append(line)
            inside = False
        elif not inside:
            out.append(line)
    return "\n".join(out)


def solved_notebook(source_nb: Any, release_nb: Any) -> Any:
    """The release notebook as a student who solved everything would have it (not run yet)."""
    nb = copy.deepcopy(release_nb)
    by_id = {_gid(c): c for c in source_nb.cells if _gid(c)}
    for cell in nb.cells:
        src = by_id.get(_gid(cell))
        if src is None:
            continue
        if cell.cell_type == "code" and START_WORDS in cell.source:
            cell.source = fill_todo_blocks(cell.source, solution_bodies(src.source))
        elif cell.cell_type == "markdown" and "YOUR ANSWER HERE" in cell.source:
            # the model answer, so formgrader has something to grade, without the solution
            # markers a student never sees
            cell.source = "\n".join(line for line in src.source.splitlines()
                                    if line.strip() not in (BEGIN, END))
    return nb


def edit_code(grade_id: str, old: str, new: str) -> Edit:
    """An edit that replaces `old` by `new` in the cell `grade_id` (it must be there once)."""
    def apply(nb: Any) -> None:
        (cell,) = [c for c in nb.cells if _gid(c) == grade_id]
        if cell.source.count(old) != 1:
            raise ValueError(f"demo: {old!r} is not once in cell {grade_id}")
        cell.source = cell.source.replace(old, new)
    return apply


def add_cell_after(grade_id: str, source: str) -> Edit:
    def apply(nb: Any) -> None:
        from nbformat.v4 import new_code_cell, new_output

        index = next(i for i, c in enumerate(nb.cells) if _gid(c) == grade_id)
        # run right after the cell above it, like a student's scratch cell
        cell = new_code_cell(source, execution_count=nb.cells[index].get("execution_count"),
                             outputs=[new_output("stream", name="stdout", text="(scratch output)\n")])
        nb.cells.insert(index + 1, cell)
    return apply


def clear_outputs(nb: Any) -> None:
    """A notebook saved without being run (or with its outputs cleared)."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None


# ---------------------------------------------------------------------------------------------
# The class


@dataclass(frozen=True)
class Student:
    """One demo student: who, what they did, and how their zip is made."""

    sid: str
    what: str
    edits: tuple[Edit, ...] = ()
    packaging: str = "submit"  # submit | no-manifest | nested | no-model


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
EXPECTED: dict[str, tuple[str, float, list[str]]] = {
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
SCORE_TOLERANCE = 1e-4


def outcomes(run: Any) -> dict[str, tuple[str, float, list[str]]]:
    """student -> (status, score, sorted rule ids) of a grade run, the shape of EXPECTED."""
    return {sid: (r["status"], r["score"], sorted({v["rule"] for v in r["violations"]}))
            for sid, r in run.reports.items()}


def differences(run: Any, expected: dict[str, tuple[str, float, list[str]]] = EXPECTED) -> list[str]:
    """One line per student whose outcome is not the expected one ([] when all match)."""
    got = outcomes(run)
    lines = []
    for sid in sorted(set(expected) | set(got)):
        if sid not in got:
            lines.append(f"{sid}: expected {expected[sid][0]}, but it has no report")
            continue
        if sid not in expected:
            lines.append(f"{sid}: graded, but the demo has no such student")
            continue
        (status, score, rules), (want_status, want_score, want_rules) = got[sid], expected[sid]
        if (status != want_status or rules != want_rules
                or score is None or abs(score - want_score) > SCORE_TOLERANCE):
            lines.append(f"{sid}: expected {want_status} {want_score:g} {want_rules}, "
                         f"got {status} {score if score is None else f'{score:g}'} {rules}")
    return lines


# ---------------------------------------------------------------------------------------------
# Building


def _fingerprint(*texts: str) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode())
    return h.hexdigest()[:16]


def executed_solution(course: Path, cache: Path, echo: Callable[[str], None]) -> tuple[Any, bytes]:
    """(the solved notebook run start to end, the best model it saved), cached by content."""
    import nbformat

    from autograder.core.notebook import read_notebook

    source = read_notebook(solution_dir(ASSIGNMENT, course) / NOTEBOOK)
    release = read_notebook(release_dir(ASSIGNMENT, course) / NOTEBOOK)
    solved = solved_notebook(source, release)
    key = _fingerprint(nbformat.writes(solved), (REPO_ROOT / "data" / "digits.npz").name)
    nb_path, model_path = cache / key / NOTEBOOK, cache / key / MODEL
    if nb_path.is_file() and model_path.is_file():
        echo(f"Solved notebook: reusing the run in {nb_path.parent}")
        return read_notebook(nb_path), model_path.read_bytes()
    from nbclient import NotebookClient
    from traitlets.config import Config

    echo("Solved notebook: running it start to end on digits (once; it is cached) ...")
    with tempfile.TemporaryDirectory(prefix="autograder-demo-run-") as tmp:
        work = Path(tmp)
        # local sockets in the run's private folder: no TCP port, nothing for others to reach
        # (nbclient still owns the kernel manager, so it shuts the kernel down at the end)
        ipc = Config({"KernelManager": {"transport": "ipc", "ip": str(work / "kernel")}})
        client = NotebookClient(solved, config=ipc, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                resources={"metadata": {"path": str(work)}})
        try:
            client.execute()
        except Exception as exc:  # nbclient's CellTimeoutError, DeadKernelError, ...: one line
            first = (str(exc).strip().splitlines() or [""])[0]
            raise RuntimeError(f"the solved notebook did not run: {type(exc).__name__}: {first}") from None
        errors = [o for c in solved.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        if errors:
            raise RuntimeError(f"the solved notebook failed: {errors[0].get('ename')}: {errors[0].get('evalue')}")
        model = (work / MODEL).read_bytes()
    nb_path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(solved, nb_path)
    model_path.write_bytes(model)
    return solved, model


def _rezip(src: Path, dest: Path, keep: Callable[[str], bool], prefix: str = "") -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            if keep(info.filename):
                zout.writestr(prefix + info.filename, zin.read(info))


def build_student(student: Student, solved: Any, model: bytes, work: Path, subs: Path,
                  course: Path) -> Path:
    """The student's folder (notebook + model) and their zip in `subs`, as the case says."""
    import nbformat

    from autograder.student.submission import submit

    nb = copy.deepcopy(solved)
    edit_code("a4-settings", 'STUDENT_ID = "your-student-id"', f'STUDENT_ID = "{student.sid}"')(nb)
    # The saved notebook as a student uploads it: saved, then the submit cell run, so the file
    # holds no output of that cell (the solved run's says the id was still the placeholder).
    for cell in nb.cells:
        if _gid(cell) == SUBMIT_CELL:
            cell.outputs, cell.execution_count = [], None
    for edit in student.edits:
        edit(nb)
    folder = work / student.sid
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / NOTEBOOK)
    (folder / MODEL).write_bytes(model)
    zip_path = subs / f"{ASSIGNMENT}_{student.sid}.zip"
    if student.packaging == "no-manifest":  # zipped by hand: the files, no MANIFEST.json
        with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in (NOTEBOOK, MODEL):
                zf.write(folder / f, f)
        return zip_path
    made = work / "zips" / student.sid
    made.mkdir(parents=True)
    result = submit(ASSIGNMENT, student.sid, folder, out=made, course=course, echo=lambda *_: None)
    if not result.ok or result.zip_path is None:
        raise RuntimeError(f"demo: submit refused {student.sid}: {'; '.join(result.problems)}")
    if student.packaging == "nested":  # the student zipped their folder: everything one level down
        _rezip(result.zip_path, zip_path, lambda n: True, prefix=f"{student.sid}/")
    elif student.packaging == "no-model":
        _rezip(result.zip_path, zip_path, lambda n: n != MODEL)
    else:
        shutil.copyfile(result.zip_path, zip_path)
    return zip_path


def demo_course(dest: Path) -> Path:
    """A course folder for the demo: A4's solutions and release copied, state kept beside them,
    and the repository's nbgrader_config.py, so formgrader started there (`make formgrader`)
    lists the assignment and its submissions."""
    for part in ("solutions", "assignments"):
        target = dest / part / ASSIGNMENT
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(REPO_ROOT / part / ASSIGNMENT, target)
    shutil.copyfile(REPO_ROOT / "nbgrader_config.py", dest / "nbgrader_config.py")
    return dest


def build_class(root: Path, students: tuple[Student, ...] = STUDENTS,
                echo: Callable[[str], None] = print, cache: Path | None = None) -> tuple[Path, Path]:
    """(course dir, submissions dir) of a fresh sample class under `root`.

    `cache`: where the run of the solved notebook is kept (default build/demo/cache, shared
    by every demo and by tests/test_demo.py, so the notebook runs once per content change).
    """
    course = demo_course(root / "course")
    for state in ("autograded", "submitted", "grading", "gradebook.db"):
        path = course / state
        shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
    solved, model = executed_solution(course, cache or DEMO_DIR / "cache", echo)
    subs = root / "submissions"
    shutil.rmtree(subs, ignore_errors=True)
    subs.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="autograder-demo-") as tmp:
        for student in students:
            build_student(student, solved, model, Path(tmp), subs, course)
    echo(f"Sample class: {len(students)} submissions in {subs}")
    return course, subs


# ---------------------------------------------------------------------------------------------
# The command


def missing_parts() -> list[str]:
    """What the demo needs that this kit does not have yet (or cannot run here)."""
    from autograder.grading.grade import missing_steps

    missing = missing_steps()
    for module, what in (("autograder.student.submission", "the submission zip (autograder/student/submission.py)"),
                         ("autograder.authoring.release", "the release (autograder/authoring/release.py)"),
                         ("nbclient", "nbclient, to run the solved notebook (pip install -e '.[instructor]')"),
                         ("nbgrader", "nbgrader (pip install -e '.[instructor]')")):
        try:
            __import__(module)
        except ModuleNotFoundError:
            missing.append(what)
    for part in (solution_dir(ASSIGNMENT) / NOTEBOOK, release_dir(ASSIGNMENT) / NOTEBOOK,
                 solution_dir(ASSIGNMENT) / "hidden_tests.py"):
        if not part.is_file():
            missing.append(f"{part.relative_to(REPO_ROOT)}")
    return missing


def run_demo(root: Path = DEMO_DIR, jobs: int | None = None, stream: Any = None,
             echo: Callable[[str], None] = print) -> Any:
    """Build the class and grade it; returns the grade run (see autograder.grading.grade.ClassRun)."""
    from autograder.grading.grade import grade_class

    course, subs = build_class(root, echo=echo)
    return grade_class(ASSIGNMENT, subs, root / "out", jobs=jobs, force=True, course=course,
                       stream=stream)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.classroom", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEMO_DIR), help="where to build and grade (default build/demo)")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args(argv)

    missing = missing_parts()
    if missing:
        print("The demo needs parts of the kit that are not available yet:")
        for m in missing:
            print(f"  - {m}")
        print("Nothing was graded.")
        return 1
    from autograder.authoring.release import release
    from autograder.core.config import find_config
    from autograder.grading.grade import print_table
    from autograder.grading.sandbox import SandboxError, preflight

    try:  # before the class is built: a machine that cannot sandbox stops here, in one line
        level = preflight()
    except SandboxError as exc:
        print(f"make demo: {exc}. Nothing was graded.", file=sys.stderr)
        return 1

    print(f"1. Release check ({ASSIGNMENT})")
    if release([ASSIGNMENT], check=True) != 0:
        print(f"   assignments/{ASSIGNMENT} is out of sync with solutions/: run `autograder release {ASSIGNMENT}`.")
        return 1
    root = Path(args.out).resolve()
    print(f"2. Building the sample class (student code runs in the {level} sandbox)")
    try:
        run = run_demo(root, args.jobs)
    except RuntimeError as exc:  # the solved notebook or a demo student could not be built
        print(f"make demo: {exc}. Nothing was graded.", file=sys.stderr)
        return 1
    print("3. Results")
    print_table(run, find_config(ASSIGNMENT, root / "course"))
    for s in STUDENTS:
        r = run.reports.get(s.sid)
        if r is not None:
            score = "" if r["score"] is None else f" {r['score']:g}/{r['max_score']:g}"
            print(f"   {s.sid}: {s.what}: {r['status']}{score}")
    print(f"Course state (gradebook.db, autograded/): {root / 'course'}")
    wrong = differences(run)
    if wrong:
        print(f"make demo: {len(wrong)} of {len(STUDENTS)} students did not get the expected "
              "outcome:", file=sys.stderr)
        for line in wrong:
            print(f"   {line}", file=sys.stderr)
        return 1
    print(f"All {len(STUDENTS)} students got the outcome the demo expects.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
