"""The `autograder` command (also `python -m autograder`): the subcommands of README.md.

Each subcommand is implemented by `cli_<name>(args) -> int` in the module that does the work;
this file only parses arguments and turns unexpected failures into one clear line, never a
traceback for a student.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from autograder import __version__

# subcommand -> (module, function). Imported lazily so `check` stays fast and light.
HANDLERS: dict[str, tuple[str, str]] = {
    "release": ("autograder.authoring.release", "cli_release"),
    "check": ("autograder.student.check", "cli_check"),
    "submit": ("autograder.student.submission", "cli_submit"),
    "rescue": ("autograder.student.rescue", "cli_rescue"),
    "grade": ("autograder.grading.grade", "cli_grade"),
    "data": ("autograder.core.datasets", "cli_data"),
    "bundle": ("autograder.authoring.bundle", "cli_bundle"),
    "new": ("autograder.authoring.scaffold", "cli_new"),
    "measure": ("autograder.authoring.measure_source", "cli_measure"),
    "export-gradescope": ("autograder.grading.platforms.gradescope", "cli_export"),
    "export-prairielearn": ("autograder.grading.platforms.prairielearn", "cli_export"),
}


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="autograder",
        description="Backprop assignment kit: release, self-check, submit, rescue and grade.",
    )
    p.add_argument("--version", action="version", version=f"autograder {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("release", help="generate assignments/ from solutions/")
    s.add_argument("assignments", nargs="*", metavar="A", help="e.g. A3 A4 (default: all)")
    s.add_argument("--check", action="store_true", help="exit 1 if assignments/ is out of sync")
    s.add_argument("--course", help="course directory (default: this repository)")

    s = sub.add_parser("check", help="self-check a notebook or a submission zip")
    s.add_argument("path", help="a .ipynb or a submission .zip")
    s.add_argument("--assignment", help="A3, A4... (default: read from the notebook)")
    s.add_argument("--json", action="store_true", help="print the violations as JSON")
    s.add_argument("--course", help=argparse.SUPPRESS)

    s = sub.add_parser("submit", help="build the submission zip (runs the self-check first)")
    s.add_argument("assignment", metavar="A")
    s.add_argument("--student-id", required=True)
    s.add_argument("--dir", default=".", help="folder with your notebook and models")
    s.add_argument("--out", help="where to write A_<ID>.zip (default: --dir)")
    s.add_argument("--course", help=argparse.SUPPRESS)

    s = sub.add_parser("rescue", help="graft your TODO blocks into a clean release notebook")
    s.add_argument("notebook")
    s.add_argument("--assignment", help="A3, A4... (default: read from the notebook)")
    s.add_argument("-o", "--output", required=True)
    s.add_argument("--course", help=argparse.SUPPRESS)

    s = sub.add_parser("grade", help="grade a folder of zips or one LMS export zip")
    s.add_argument("assignment", metavar="A")
    s.add_argument("submissions")
    s.add_argument("--out", required=True)
    s.add_argument("--jobs", type=_positive, default=None, help="parallel workers (default: cores)")
    s.add_argument("--force", action="store_true")
    s.add_argument("--only", nargs="+", metavar="ID")
    s.add_argument("--db", help="SQLAlchemy URL (default: sqlite:///gradebook.db in --course)")
    s.add_argument("--course", help="course directory: it must hold solutions/<A>/ (hidden tests, "
                   "assignment.toml) and assignments/<A>/ (the releases); gradebook.db and autograded/ "
                   "go there too (default: this repository)")
    s.add_argument("--lms", default="auto", choices=["auto", "canvas", "moodle", "gradescope", "plain"],
                   help="how the export names students (default: recognise it)")
    s.add_argument("--roster", help="CSV mapping LMS ids to course student ids (lms_id,student_id)")
    s.add_argument("--pattern", help="regex with a named group `lms_id`, tried before the presets")
    s.add_argument("--no-worker-guard", action="store_true",
                   help="grade with the worker's audit hook off, to check that the sandbox alone "
                        "contains hostile code (the adversarial corpus does); never needed to grade")
    s.add_argument("--sandbox", default="auto", choices=["auto", "bwrap", "uid", "process"],
                   help="the isolation of student code (default: auto, the strongest that works "
                   "here; a level named that cannot work here stops the run)")

    s = sub.add_parser("data", help="download a dataset (cifar10)")
    s.add_argument("name", choices=["cifar10"])
    s.add_argument("--data-dir", help="where to put it (default: data/)")
    s.add_argument("--url", help=argparse.SUPPRESS)

    s = sub.add_parser("new", help="scaffold solutions/<A>/: source notebook, hidden tests, rubric")
    s.add_argument("assignment", metavar="A", help="e.g. A5")
    s.add_argument("--title", help="the assignment's title")
    s.add_argument("--course", help="course directory (default: this repository)")

    s = sub.add_parser("measure", help="run solutions/<A>/ with its solutions: grade cells' values, "
                       "models' accuracy vs the bands")
    s.add_argument("assignment", metavar="A", help="e.g. A3")
    s.add_argument("--course", help="course directory (default: this repository)")
    s.add_argument("--workdir", help="run in this folder and keep it (default: a new temporary one)")
    s.add_argument("--timeout", type=_positive, default=600, help="seconds per cell (default: 600)")

    s = sub.add_parser("bundle", help="write the student bundle (no solutions), leak-checked")
    s.add_argument("assignments", nargs="+", metavar="A", help="e.g. A3 A4")
    s.add_argument("-o", "--output", required=True, help="a new folder, or a path ending in .zip")
    s.add_argument("--course", help="course directory (default: this repository)")

    for name, what, out in (("export-gradescope", "a Gradescope autograder zip", "ZIP"),
                            ("export-prairielearn", "a PrairieLearn external grader", "DIR")):
        s = sub.add_parser(name, help=f"write {what} for one assignment")
        s.add_argument("assignment", metavar="A")
        s.add_argument("-o", "--output", required=True, metavar=out)
        s.add_argument("--course", help="course directory (default: this repository)")
    return p


def _handler(command: str) -> Callable[[argparse.Namespace], int] | None:
    """The command's function; None only when its module is not installed at all (the student
    kit ships without the authoring and grading roles). Every command is implemented: a module
    without its function is a bug, and raises."""
    module_name, func_name = HANDLERS[command]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name and (module_name + ".").startswith(exc.name + "."):  # it, or its package
            return None
        raise
    return getattr(module, func_name)


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's final flush does not fail again on the
    closed pipe (Python's documented way to leave quietly after a BrokenPipeError)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real stdout (an embedding, a test's capture)
        pass


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    handler = _handler(args.command)
    if handler is None:  # the student kit ships without the instructor's modules
        print(f"autograder {args.command}: this is an instructor command; it is not part of "
              "the student kit.")
        return 2
    try:
        return int(handler(args) or 0)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `autograder check ... | head`: the reader left, nothing went wrong
        _silence_stdout()
        return 128 + 13  # what a shell reports for a command stopped by SIGPIPE
    except Exception as exc:  # a bug of ours: one line, never a traceback for a student
        print(f"autograder {args.command}: unexpected error ({type(exc).__name__}: {exc}). "
              "Nothing was changed; please report this line to the course staff.", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
