"""`python -m demo.classroom` (`make demo`): sample classes of A4 and A2 graded end to end, offline.

1. `autograder release --check` for each assignment: the committed release matches the solutions;
2. per assignment, the solved notebook (the release with the solution blocks in its TODO
   blocks, `autograder.authoring.solved`) run once start to end, as a student's would be
   (outputs and the saved best models; cached in build/demo/cache/ by content, so a second demo
   skips the run), and a class of students derived from it (demo.students: full marks, typical
   bugs, policy violations, zip mistakes, cheating attempts), each zipped with the submission
   API unless the case is about the zip itself;
3. `grade` on each class with the progress bar, into one course folder (build/demo/course: the
   gradebook and autograded/ of both assignments, for `make formgrader`) and
   build/demo/<A>/out/, then the final tables and where the reports are.

It exits 0 only when every student's outcome is the one the class expects (demo.students).
Before anything is built it checks that student code can be sandboxed here
(`autograder.grading.sandbox.preflight`) and otherwise stops with one line saying what to install.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from autograder.core.config import REPO_ROOT

# The fixture factory's names, importable from here as before the split (tests, bench).
from demo.edits import Edit, add_cell_after, clear_outputs, edit_code  # noqa: F401
from demo.solution import Solution, executed_solution  # noqa: F401
from demo.students import (  # noqa: F401
    A2_CLASS,
    A2_EXPECTED,
    A2_STUDENTS,
    A4_CLASS,
    CLASSES,
    EXPECTED,
    STUDENTS,
    Outcome,
    SampleClass,
    Student,
    build_class,
    build_student,
    demo_course,
)

DEMO_DIR = REPO_ROOT / "build" / "demo"
# A4's class, the one most tests and the adversarial corpus build on
ASSIGNMENT, NOTEBOOK, MODEL = "A4", "two_layer_net.ipynb", "nn_best_model.npz"
SCORE_TOLERANCE = 1e-4


def outcomes(run: Any) -> dict[str, Outcome]:
    """student -> (status, score, sorted rule ids) of a grade run, the shape of EXPECTED."""
    return {sid: (r["status"], r["score"], sorted({v["rule"] for v in r["violations"]}))
            for sid, r in run.reports.items()}


def differences(run: Any, expected: dict[str, Outcome] = EXPECTED) -> list[str]:
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


def run_demo(root: Path = DEMO_DIR, jobs: int | None = None, stream: Any = None,
             echo: Callable[[str], None] = print,
             classes: tuple[SampleClass, ...] = CLASSES) -> dict[str, Any]:
    """Build every class into one course (`root/course`) and grade each into `root/<A>/out`.

    Returns assignment -> its grade run (autograder.grading.grade.ClassRun), in `classes` order.
    """
    from autograder.grading.grade import grade_class

    course = demo_course(root / "course", tuple(c.assignment for c in classes))
    built = {c.assignment: build_class(root / c.assignment, c.students, echo=echo,
                                       assignment=c.assignment, course=course)[1]
             for c in classes}
    return {c.assignment: grade_class(c.assignment, built[c.assignment], root / c.assignment / "out",
                                      jobs=jobs, force=True, course=course, stream=stream)
            for c in classes}


def main(argv: list[str] | None = None) -> int:
    """`make demo`: 0 when every student got the expected outcome, 1 (with one line why) if not."""
    parser = argparse.ArgumentParser(prog="python -m demo.classroom", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEMO_DIR), help="where to build and grade (default build/demo)")
    parser.add_argument("--jobs", type=int, default=None)
    args = parser.parse_args(argv)

    from autograder.authoring.release import release
    from autograder.core.config import find_config
    from autograder.grading.grade import print_table
    from autograder.grading.sandbox import SandboxError, preflight

    try:  # before the class is built: a machine that cannot sandbox stops here, in one line
        level = preflight()
    except SandboxError as exc:
        print(f"make demo: {exc}. Nothing was graded.", file=sys.stderr)
        return 1

    names = [c.assignment for c in CLASSES]
    print(f"1. Release check ({', '.join(names)})")
    if release(names, check=True) != 0:
        print(f"   assignments/ is out of sync with solutions/: run `autograder release {' '.join(names)}`.")
        return 1
    root = Path(args.out).resolve()
    print(f"2. Building the sample classes (student code runs in the {level} sandbox)")
    try:
        runs = run_demo(root, args.jobs)
    except RuntimeError as exc:  # a solved notebook or a demo student could not be built
        print(f"make demo: {exc}. Nothing was graded.", file=sys.stderr)
        return 1
    print("3. Results")
    for c in CLASSES:
        run = runs[c.assignment]
        print_table(run, find_config(c.assignment, root / "course"))
        for s in c.students:
            r = run.reports.get(s.sid)
            if r is not None:
                score = "" if r["score"] is None else f" {r['score']:g}/{r['max_score']:g}"
                print(f"   {s.sid}: {s.what}: {r['status']}{score}")
    print(f"Course state (gradebook.db, autograded/; `make formgrader`): {root / 'course'}")
    failed = False
    for c in CLASSES:
        wrong = differences(runs[c.assignment], c.expected)
        if wrong:
            failed = True
            print(f"make demo: {c.assignment}: {len(wrong)} of {len(c.students)} students did not get "
                  "the expected outcome:", file=sys.stderr)
            for line in wrong:
                print(f"   {line}", file=sys.stderr)
    if failed:
        return 1
    total = sum(len(c.students) for c in CLASSES)
    print(f"All {total} students ({', '.join(f'{c.assignment}: {len(c.students)}' for c in CLASSES)}) "
          "got the outcome the demo expects.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
