"""What both platform exports share: packing a course into a folder, and grading one submission.

An export's folder (Gradescope's `/autograder/source`, PrairieLearn's `grader/`) holds:

    kit/          the autograder package and its pyproject.toml (installed by setup.sh, or put on
                  PYTHONPATH by the runner)
    course/       solutions/<A>/ (hidden tests, solution notebook, assignment.toml) and
                  assignments/<A>/ (the release, with every published version): made readable by
                  root only before any student code runs
    data/         digits.npz (the best models are scored on it)
    requirements.txt   the exact versions of the grading dependencies at export time

The platform root (`/autograder`, `/grade`) is read from AUTOGRADER_ROOT when it is set (tests).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

from autograder import __version__
from autograder.core.config import (
    REPO_ROOT,
    AssignmentConfig,
    course_root,
    find_config,
    release_dir,
    solution_dir,
)
from autograder.core.contracts import GradeTask, Submission

ROOT_ENV = "AUTOGRADER_ROOT"
# What grading imports, pinned at export time so the platform grades with what was tested here.
GRADING_DISTRIBUTIONS = ("numpy", "nbformat", "pyflakes", "jinja2")


def platform_root(default: str) -> Path:
    """The platform's fixed root, or AUTOGRADER_ROOT when it is set."""
    return Path(os.environ.get(ROOT_ENV) or default)


def requirements() -> str:
    """requirements.txt pinning the grading dependencies to the versions installed here."""
    lines = []
    for name in GRADING_DISTRIBUTIONS:
        try:
            lines.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return "\n".join(lines) + "\n"


def _copy_kit(dest: Path) -> None:
    """The autograder package (no caches) and a pyproject that installs only the base deps."""
    shutil.copytree(REPO_ROOT / "autograder", dest / "autograder",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (dest / "pyproject.toml").write_text(
        "[build-system]\nrequires = [\"setuptools>=64\"]\nbuild-backend = \"setuptools.build_meta\"\n\n"
        f"[project]\nname = \"autograder\"\nversion = \"{__version__}\"\nrequires-python = \">=3.10\"\n\n"
        "[tool.setuptools.packages.find]\ninclude = [\"autograder*\"]\n\n"
        "[tool.setuptools.package-data]\nautograder = [\"templates/*\", \"templates/bundle/*\"]\n",
        encoding="utf-8")


def pack(assignment: str, dest: Path, course: str | Path | None = None) -> AssignmentConfig:
    """Fill `dest` with the kit, the assignment's course files, the data and requirements.txt."""
    course_dir = course_root(course)
    config = find_config(assignment, course_dir)
    for part, folder in (("solutions", solution_dir(assignment, course_dir)),
                         ("assignments", release_dir(assignment, course_dir))):
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: missing (run `autograder release {assignment}`)")
        shutil.copytree(folder, dest / "course" / part / assignment,
                        ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
    _copy_kit(dest / "kit")
    (dest / "data").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO_ROOT / "data" / "digits.npz", dest / "data" / "digits.npz")
    (dest / "requirements.txt").write_text(requirements(), encoding="utf-8")
    (dest / "assignment.json").write_text(json.dumps({"assignment": assignment}) + "\n", encoding="utf-8")
    return config


def make_root_only(path: Path) -> None:
    """chmod go-rwx on the whole tree (the hidden tests and the solution): readable by root only.
    The worker drops to another uid before any student code runs."""
    for p in [path, *path.rglob("*")]:
        if not p.is_symlink():
            p.chmod(stat.S_IMODE(p.stat().st_mode) & 0o700)


def submission_path(folder: Path) -> Path:
    """What the student handed in: the one zip in `folder`, else the folder of loose files."""
    files = [p for p in folder.iterdir() if not p.name.startswith(".") and p.name != "__MACOSX"]
    zips = [p for p in files if p.suffix.lower() == ".zip" and p.is_file()]
    return zips[0] if len(zips) == 1 and len(files) == 1 else folder


def automatic_points(config: AssignmentConfig) -> float:
    """The points graded automatically (hidden tests and best models); the inline questions are
    graded by hand on the platform."""
    return float(sum(config.tests.values()))


def grade_submission(source: Path, submission: Path, sandbox: str = "auto") -> dict[str, Any]:
    """report.json (see docs/grading.md) for one submission, graded with the export's course.

    The same pipeline as `autograder grade` runs for one student (autograder.grading.pipeline.grade_one),
    in this process, with the worker sandboxed as usual; the score is computed by the same
    `build_report`. Never raises for a bad submission: it is the report's `failed` status.
    """
    from autograder.grading.batch import grading_key
    from autograder.grading.pipeline import grade_one
    from autograder.grading.report import build_report

    assignment = json.loads((source / "assignment.json").read_text())["assignment"]
    course = source / "course"
    config = find_config(assignment, course)
    os.environ.setdefault("AUTOGRADER_DATA_DIR", str(source / "data"))
    path = submission_path(submission)
    task = GradeTask(student_id="submission", path=str(path), sha256="", assignment=assignment,
                     course=str(course), key=grading_key(config, course), sandbox=sandbox,
                     submission=Submission(file=path.name))
    start = time.perf_counter()
    result = replace(grade_one(task), seconds=time.perf_counter() - start)
    return build_report(result, config).to_json()


def automatic_groups(report: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], list[Mapping[str, Any]]]]:
    """(group, its tests that did not pass) for each automatically graded group of a report:
    what both platforms show as one test each (the inline questions are graded by hand there)."""
    by_group: dict[str, list[Mapping[str, Any]]] = {}
    for test in report.get("tests", []):
        by_group.setdefault(str(test.get("grade_id", "")), []).append(test)
    return [(group, [t for t in by_group.get(group["grade_id"], []) if t.get("status") != "passed"])
            for group in report.get("groups", []) if not group.get("manual")]


def failing_text(failing: list[Mapping[str, Any]], bullet: str = "") -> str:
    """One line per test that did not pass, or "All checks passed."."""
    return "\n".join(f"{bullet}{t['name']}: {t['status']}. {t.get('message', '')}".rstrip()
                     for t in failing) or "All checks passed."


def output_text(report: Mapping[str, Any]) -> str:
    """The text a student sees on the platform: status, the policy findings with what each cost."""
    lines = []
    if report["status"] != "graded":
        lines.append(f"Your submission could not be graded: {report['message']}")
    for v in report.get("violations", []):
        where = f"cell {v['cell']}: " if v.get("cell") else ""
        cost = f" (−{v['deduction']:g} points)" if v.get("deduction") else ""
        lines.append(f"[{v['severity']}] {v['rule']}: {where}{v['message']}{cost}")
    if report.get("deduction"):
        lines.append(f"Policy deductions in total: −{report['deduction']:g} points.")
    lines.append(f"Graded by autograder {report['grader']['version']} "
                 f"(sandbox: {report['grader']['sandbox'] or 'none'}).")
    return "\n".join(lines)


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def run_export(command: str, export: Callable[..., Path], args: Any,
               done: Callable[[Path], str]) -> int:
    """One `autograder export-<platform>` command: build with `export(assignment, output,
    course)`, then print `done(out)`; exit 0, or 1 with the reason in one line."""
    try:
        out = export(args.assignment, args.output, getattr(args, "course", None))
    except Exception as exc:  # any reason the export cannot be built: one line, never a traceback
        print(f"autograder {command}: {exc}", file=sys.stderr)
        return 1
    print(done(out))
    return 0
