"""`autograder grade`: a class of zips in, scores, feedback and the gradebook out (docs/grading.md).

The command (`cli_grade`) over three modules: `autograder.grading.pipeline` grades one student in
a pool worker (intake → check → graft → engine; a `GradeTask` in, a `GradeResult` out),
`autograder.grading.batch` plans the class, runs the pool and writes every report in the parent,
`autograder.grading.progress` shows it on the terminal.

A crash while grading one student becomes that student's `error` status with the message
(visible in grades.csv, summary.html, formgrader) and its traceback in OUT/<id>/grader.log; the
batch goes on. Details: docs/grading.md.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported on first use, below
    from autograder.grading.batch import ClassRun, grade_class, grading_key, plan, sha256_path
    from autograder.grading.pipeline import StepFailed, grade_one
    from autograder.grading.progress import Progress, print_table

# The names callers import from here (the command's public face). They are imported on first
# use (PEP 562): `autograder grade` starts the pool's fork server and the sandbox preflight
# before it imports the grading modules, so that their start overlaps these imports.
_EXPORTS = {
    "ClassRun": "autograder.grading.batch", "grade_class": "autograder.grading.batch",
    "grading_key": "autograder.grading.batch", "plan": "autograder.grading.batch",
    "sha256_path": "autograder.grading.batch", "StepFailed": "autograder.grading.pipeline",
    "grade_one": "autograder.grading.pipeline", "Progress": "autograder.grading.progress",
    "print_table": "autograder.grading.progress",
}
__all__ = ["ClassRun", "Progress", "StepFailed", "cli_grade", "grade_class", "grade_one",
           "grading_key", "plan", "print_table", "sha256_path"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value  # once: later lookups (and a test's monkeypatch) find it here
    return value


def cli_grade(args: argparse.Namespace) -> int:
    """`autograder grade A SUBMISSIONS --out OUT ...`: exit 0 when the class is done, even if
    students failed; 1 only when the class cannot be graded at all (clear message, no traceback)."""
    from autograder.grading.forkserver import start_fork_server

    start_fork_server()  # first: the server imports its preloads while this process goes on
    from autograder.grading import sandbox
    from autograder.grading.sandbox.preflight import BackgroundPreflight

    # Once, before any student: a machine that cannot sandbox stops here with one line. The
    # probe worker boots in its sandbox while this process imports what grading needs.
    check = BackgroundPreflight(args.sandbox, check=sandbox.preflight)
    try:
        return _grade(args, check)
    finally:
        check.join()


def _grade(args: argparse.Namespace, check: Any) -> int:
    """cli_grade once its fork server and preflight are started."""
    from autograder.core.archive import IntakeError
    from autograder.core.config import ConfigError, course_root, find_config
    from autograder.grading.sandbox import SandboxError

    this = sys.modules[__name__]  # its names, so that a test may replace grade_class or print_table
    grade_class, print_table = this.grade_class, this.print_table
    import autograder.grading.intake  # noqa: F401 - grade_class's, imported while the probe boots

    try:  # read and validated while the probe boots; grade_class finds it again, checked
        find_config(args.assignment, course_root(args.course))
    except ConfigError:
        pass  # said by grade_class, after the sandbox's check
    try:
        level = check.level()
    except SandboxError as exc:
        print(f"autograder grade: {exc}. Nothing was graded.", file=sys.stderr)
        return 1
    if level == "process":  # allowed for a non-root user, but say what it means
        print("autograder grade: warning: no sandbox here (level 'process'): student code runs "
              "as you, with resource limits only; install bubblewrap for level 'bwrap'.",
              file=sys.stderr)
    try:
        run = grade_class(args.assignment, args.submissions, args.out, jobs=args.jobs,
                          force=args.force, only=args.only, db=args.db, course=args.course,
                          lms=getattr(args, "lms", "auto"), roster=getattr(args, "roster", None),
                          pattern=getattr(args, "pattern", None), sandbox=level,
                          guard=not args.no_worker_guard)
    except (ConfigError, IntakeError, ValueError) as exc:
        print(f"autograder grade: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:
        if not _is_database_error(exc):
            raise
        # a wrong --db: say which option, not a driver traceback
        print(f"autograder grade: the gradebook at {args.db or 'the default'} cannot be used "
              f"({type(exc).__name__}: {str(exc).splitlines()[0]}); check --db "
              "(e.g. sqlite:////path/to/gradebook.db).", file=sys.stderr)
        return 1
    config = find_config(args.assignment, course_root(args.course))
    print_table(run, config)
    errors = sorted(sid for sid, r in run.reports.items() if r.get("status") == "error")
    if errors:  # a grader error is ours, not the student's: the run is not done
        print(f"autograder grade: {len(errors)} student(s) could not be graded because of a grader "
              f"error ({', '.join(errors[:5])}{', ...' if len(errors) > 5 else ''}); see "
              "summary.html. Rerunning grades them again.", file=sys.stderr)
        return 1
    return 0


def _is_database_error(exc: BaseException) -> bool:
    """Whether exc is SQLAlchemy's (opening the gradebook). SQLAlchemy is not imported for the
    check: it is loaded only when the gradebook is opened, and then only can it have raised."""
    sa_exc = sys.modules.get("sqlalchemy.exc")
    return sa_exc is not None and isinstance(exc, sa_exc.SQLAlchemyError)
