"""`autograder check`: the self-check, all policy rules on one notebook or submission zip.

`check_notebook` loads the notebook (from a file, from inside a zip, or as given), prepares it
as the grader does (`autograder.core.prepared`: the release version it declares, else the current
release with a note; the graft and the graded module) and runs the registered rules
(`autograder.core.rules.RULES`). Anything that makes the file uncheckable is one
`notebook-invalid` violation with a clear message, never a traceback. Exit code of the command:
0 without errors (warnings allowed), 1 with errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from nbformat import NotebookNode

from autograder.core.config import AssignmentConfig, ConfigError, find_config
from autograder.core.notebook import NotebookError, parse_notebook
from autograder.core.prepared import (
    CheckedNotebook,
    config_or_unusable,
    declared_assignment,
    load_notebook,
    prepare_notebook,
    run_checks,
)
from autograder.core.releases import Unusable, declared, find_release, pick_notebook
from autograder.core.rules import Violation

# Read from here by older callers; they live in autograder.core.releases and core.prepared.
__all__ = ["CheckResult", "Unusable", "check_notebook", "cli_check", "declared", "find_release",
           "format_result", "invalid", "pick_notebook"]

MAX_NOTEBOOK_BYTES = 64 * 1024 * 1024  # a notebook inside a zip larger than this is refused
MAX_ZIP_RATIO = 200  # uncompressed / compressed size above which a member looks like a zip bomb


@dataclass
class CheckResult:
    """The outcome of one self-check."""

    path: str
    assignment: str | None = None
    version: str | None = None
    violations: list[Violation] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unfinished: list[int] = field(default_factory=list)  # cells with a TODO block not done yet
    crashes: list[str] = field(default_factory=list)  # a traceback per rule that raised (for the grader)
    # the release notebook it was checked against: the grader grafts into this very one
    release: NotebookNode | None = field(default=None, repr=False, compare=False)
    # the prepared notebook the rules ran on (None when it could not be prepared)
    checked: CheckedNotebook | None = field(default=None, repr=False, compare=False)

    @property
    def errors(self) -> int:
        return sum(v.severity == "error" for v in self.violations)

    @property
    def warnings(self) -> int:
        return sum(v.severity == "warning" for v in self.violations)

    @property
    def ok(self) -> bool:
        return self.errors == 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "assignment": self.assignment,
            "version": self.version,
            "errors": self.errors,
            "warnings": self.warnings,
            "violations": [v.to_dict() for v in self.violations],
            "notes": list(self.notes),
        }


# --------------------------------------------------------------------------------------------
# loading
# --------------------------------------------------------------------------------------------


def load_student(
    path_or_nb: str | Path | dict[str, Any], assignment: str | None, course: str | Path | None
) -> tuple[NotebookNode, str, str]:
    """(notebook, label for messages, path shown in the result); raises Unusable."""
    if not isinstance(path_or_nb, dict):
        path = Path(path_or_nb)
        if path.is_file() and (path.suffix.lower() == ".zip" or zipfile.is_zipfile(path)):
            nb, member = notebook_from_zip(path, assignment, course)
            return nb, member, f"{path}!{member}"
    return load_notebook(path_or_nb)


def notebook_from_zip(
    path: Path, assignment: str | None, course: str | Path | None
) -> tuple[NotebookNode, str]:
    """Read the assignment's notebook from a submission zip, in memory, never extracting it."""
    wanted: tuple[str, ...] = ()
    if assignment:
        wanted = config_or_unusable(assignment, course).notebooks
    try:
        with zipfile.ZipFile(path) as zf:
            info = _pick_member(path, zf.infolist(), wanted)
            if info.file_size > MAX_NOTEBOOK_BYTES or (
                info.compress_size and info.file_size > 1_000_000
                and info.file_size / info.compress_size > MAX_ZIP_RATIO
            ):
                raise Unusable(f"{path}: {info.filename} is far too large for a notebook — "
                               "clear huge outputs and build the zip again.")
            with zf.open(info) as member:
                data = member.read(MAX_NOTEBOOK_BYTES + 1)
    except zipfile.BadZipFile:
        raise Unusable(f"{path}: not a valid zip file — build it again with `autograder submit`.") from None
    except (OSError, RuntimeError, NotImplementedError) as exc:  # encrypted, unsupported method
        raise Unusable(f"{path}: cannot read the zip ({exc}) — build it again with `autograder submit`.") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise Unusable(f"{path}: {info.filename} is not a notebook (not UTF-8 text).") from None
    try:
        return parse_notebook(text, f"{path}:{info.filename}"), PurePosixPath(info.filename).name
    except NotebookError as exc:
        raise Unusable(str(exc)) from None


def _pick_member(path: Path, infos: list[zipfile.ZipInfo], wanted: tuple[str, ...]) -> zipfile.ZipInfo:
    files = [i for i in infos if not i.is_dir() and not i.filename.startswith("__MACOSX/")]
    root = [i for i in files if "/" not in i.filename.strip("/") and i.filename.endswith(".ipynb")]
    if wanted:
        for info in root:
            if info.filename in wanted:
                return info
        nested = [i.filename for i in files if PurePosixPath(i.filename).name in wanted]
        if nested:
            raise Unusable(f"{path}: {nested[0]} is in a folder; the notebook must be at the zip root — "
                           "build the zip with `autograder submit`.")
        raise Unusable(f"{path}: no {' or '.join(wanted)} at the zip root — build the zip with "
                       "`autograder submit`.")
    if len(root) == 1:
        return root[0]
    if not root:
        raise Unusable(f"{path}: no notebook (.ipynb) at the zip root — build the zip with "
                       "`autograder submit`.")
    raise Unusable(f"{path}: several notebooks in the zip — say which assignment with --assignment.")


# --------------------------------------------------------------------------------------------
# the check
# --------------------------------------------------------------------------------------------


def check_notebook(
    path_or_nb: str | Path | dict[str, Any],
    assignment: str | None = None,
    course: str | Path | None = None,
) -> CheckResult:
    """Run every policy rule on a notebook (path, submission zip, or notebook dict/NotebookNode)."""
    if not isinstance(path_or_nb, dict) and _is_zip(Path(path_or_nb)):
        return check_zip(Path(path_or_nb), assignment, course)
    shown = str(path_or_nb) if not isinstance(path_or_nb, dict) else "<notebook>"
    result = CheckResult(path=shown, assignment=assignment)
    try:
        with warnings.catch_warnings():  # nbformat's schema warnings: the rules say it better
            warnings.simplefilter("ignore")
            checked = prepare(path_or_nb, assignment, course, result)
    except Unusable as exc:
        result.violations = [invalid(str(exc))]
        return result
    found = run_checks(checked)
    result.violations, result.notes, result.crashes = found.violations, found.notes, found.crashes
    from autograder.core.integrity import unfinished_blocks

    left = unfinished_blocks(checked.student)
    result.unfinished = sorted({cell for cell, _ in left})
    if left:  # not a policy problem, but "OK" alone would read as "ready to submit"
        result.notes.append(
            f"{len(left)} TODO block(s) are not done yet (they still raise NotImplementedError): "
            f"cell(s) {', '.join(map(str, result.unfinished))}. Finish them before you submit.")
    return result


def _is_zip(path: Path) -> bool:
    return path.is_file() and (path.suffix.lower() == ".zip" or zipfile.is_zipfile(path))


def check_zip(path: Path, assignment: str | None, course: str | Path | None) -> CheckResult:
    """A submission zip gets what grading gives it, with the same rule ids: the intake's
    zip-structure and zip-manifest rules, model-invalid for a model file of the wrong shape,
    then every notebook rule on the notebook it holds. Extracted into a private temporary
    folder (never next to the zip), which is removed."""
    import tempfile

    from autograder.core.submission_zip import extract_submission

    result = CheckResult(path=str(path), assignment=assignment)
    try:
        result.assignment = assignment or _assignment_of_zip(path, course)
        config = config_or_unusable(result.assignment, course)
    except Unusable as exc:
        result.violations = [invalid(str(exc))]
        return result
    with tempfile.TemporaryDirectory(prefix="autograder-check-") as tmp:
        intake = extract_submission(path, Path(tmp) / "submission", config)
        result.violations = [_violation(v) for v in intake.violations]
        if not intake.ok:
            result.violations.append(invalid(intake.message))
            return result
        for name in config.notebooks:
            inner = check_notebook(intake.files[name], result.assignment, course)
            for v in inner.violations:
                v.message = v.message.replace(str(intake.files[name]), f"{path.name}!{name}")
            result.violations += inner.violations
            result.notes += inner.notes
            result.version = result.version or inner.version
            result.path = f"{path}!{name}"
        result.violations += _model_violations(config, intake.files)
    return result


def _assignment_of_zip(path: Path, course: str | Path | None) -> str:
    """The assignment a zip is for: its notebook's release metadata, else its name (A3_<id>)."""
    try:
        nb, member = notebook_from_zip(path, None, course)
        return declared_assignment(nb, member, None)[0]
    except Unusable as first:
        prefix = path.name.split("_", 1)[0]
        try:
            find_config(prefix, course)
        except ConfigError:
            raise first from None  # the notebook's problem is the one to report
        return prefix


def _violation(found: dict[str, Any]) -> Violation:
    return Violation(rule=found["rule"], severity=found["severity"], message=found["message"],
                     cell=found.get("cell"), line=found.get("line"),
                     deduction=float(found.get("deduction") or 0.0),
                     warning_only=bool(found.get("warning_only")), count=int(found.get("count", 1) or 1))


def _model_violations(config: AssignmentConfig, files: dict[str, Path]) -> list[Violation]:
    """model-invalid for each saved model the grader would refuse (a missing one is the
    intake's zip-structure business); skipped when the graded dataset is not on this machine."""
    from autograder.core.datasets import DatasetError
    from autograder.core.models import ModelInvalid, validated_model

    found = []
    policy = config.rule("model-invalid")
    for spec in config.models.values():
        if spec.file not in files:
            continue
        try:
            validated_model(spec, config, files[spec.file])
        except ModelInvalid as exc:
            found.append(Violation(rule="model-invalid", severity=policy.severity, message=str(exc),
                                   deduction=policy.deduction))
        except DatasetError:
            continue
    return found


def prepare(
    path_or_nb: str | Path | dict[str, Any], assignment: str | None, course: str | Path | None,
    result: CheckResult,
) -> CheckedNotebook:
    """Load and prepare the notebook as the grader does; fill in what the result reports."""
    student, label, result.path = load_student(path_or_nb, assignment, course)
    checked = prepare_notebook(student, assignment, course, label=label, path=result.path)
    result.assignment, result.version = checked.assignment, checked.version
    result.release, result.checked = checked.release, checked
    return checked


def invalid(message: str) -> Violation:
    """The notebook-invalid violation for a file that cannot be checked."""
    return Violation(rule="notebook-invalid", severity="error", message=message)


# --------------------------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------------------------


def format_result(result: CheckResult) -> str:
    """The human-readable report: a summary line, one line per violation, then the notes."""
    release = f"{result.assignment} release {result.version}" if result.version else result.assignment
    if not result.violations and result.unfinished:
        head = (f"{result.path}: no policy problems found ({release}), but some TODO blocks are "
                "not done yet (see the note below).")
    elif not result.violations:
        head = f"{result.path}: OK — no policy problems found ({release})."
    else:
        head = (f"{result.path}: {result.errors} error(s), {result.warnings} warning(s)"
                + (f" (checked against {release})" if result.version else ""))
    lines = [head]
    for v in result.violations:
        lines.append(f"  {v.severity:<7} {v.rule:<22} {v.message}")
        lines.extend(f"{'':<33}{d}" for d in v.detail.split("\n") if v.detail)
    lines.extend(f"  note: {note}" for note in result.notes)
    return "\n".join(lines)


def cli_check(args: argparse.Namespace) -> int:
    """`autograder check PATH [--assignment A] [--json]`: 0 without errors, 1 with errors."""
    result = check_notebook(args.path, getattr(args, "assignment", None), getattr(args, "course", None))
    if getattr(args, "json", False):
        print(json.dumps([v.to_dict() for v in result.violations], indent=2))
        for note in result.notes:
            print(f"note: {note}", file=sys.stderr)
    else:
        print(format_result(result))
    return 1 if result.errors else 0
