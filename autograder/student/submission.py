"""`autograder submit`: the submission zip and its MANIFEST.json (docs/submission.md).

A student runs `autograder submit A3 --student-id ID` (or `make submission A=A3 ID=...`, or
`submit_from_notebook("A3", student_id=ID)` in the notebook's last cell). The command:

1. checks the student id (it becomes part of a file name, so no path characters);
2. collects the files `assignment.toml` requires from the folder and refuses, with a numbered
   list of what to do, when one is missing, the notebook is not a notebook, or a model `.npz`
   cannot be read (`allow_pickle=False`: nothing is ever unpickled);
3. runs the self-check (`autograder.student.check`) and prints one line per violation; violations do not
   stop the zip, they are shown loudly so the student can fix them first;
4. writes `<A>_<ID>.zip` atomically (temporary file + rename): the files at the zip root in the
   order of `required_files`, then `MANIFEST.json` with their sha256;
5. reads the zip back with the grader's own intake, so what the student uploads is what grades.

Details and the reasons behind them: docs/submission.md.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

import autograder
from autograder.core.archive import STUDENT_LIMITS, MiB
from autograder.core.config import (
    CONFIG_NAME,
    AssignmentConfig,
    ConfigError,
    find_config,
    load_config,
)
from autograder.core.identity import id_problem, shown_id
from autograder.core.submission_zip import MANIFEST_NAME, canonical_name, extract_submission

# Letters, digits, '-', '_' and '.', not starting with '.', at most 64 characters: safe in a
# file name on every OS and in an LMS upload, and never a path.
# What a notebook's `STUDENT_ID = ...` line holds before the student fills it in.
PLACEHOLDER_RE = re.compile(
    r"^(your[ _-]?(student[ _-]?)?id.*|student[ _-]?id|none|todo|x+|0+)$", re.I
)
SAVE_REMINDER = (
    "Reminder: save the notebook first (Ctrl+S, or File > Save Notebook): the zip is made from "
    "the file on disk, not from what you see on screen."
)
MTIME_SLACK_S = 1.0  # file systems with coarse timestamps must not make a saved notebook "older"


class SubmitRefused(Exception):
    """The zip cannot be made; `problems` says what to do, one action per line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class SubmitResult:
    """What `submit` did: the zip it wrote, or the problems that stopped it."""

    ok: bool
    zip_path: Path | None = None
    problems: list[str] = field(default_factory=list)  # why no zip was written
    violations: list[dict[str, Any]] = field(default_factory=list)  # from the self-check
    warnings: list[str] = field(default_factory=list)
    manifest: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def __repr__(self) -> str:  # the notebook's last cell shows this: keep it to one line
        if self.ok:
            return f"SubmitResult(ok=True, zip={str(self.zip_path)!r}, violations={len(self.violations)})"
        return f"SubmitResult(ok=False, problems={len(self.problems)})"


# ---------------------------------------------------------------------------------------------
# Inputs


def validate_student_id(student_id: Any) -> str:
    """The student id as a string, or SubmitRefused saying exactly what is wrong with it."""
    sid = str(student_id).strip() if student_id is not None else ""
    if not sid or PLACEHOLDER_RE.search(sid):
        raise SubmitRefused(
            [
                f"Student id {sid!r} is not filled in: put your own student id "
                "(e.g. --student-id 2022123456, or STUDENT_ID in the notebook)."
            ]
        )
    problem = id_problem(sid)
    if problem:
        bad = sorted({c for c in sid if not re.match(r"[A-Za-z0-9._-]", c)})
        why = (
            f"it contains {' '.join(repr(c) for c in bad)}"
            if bad
            else f"it starts with {sid[0]!r}"
            if not sid[0].isalnum()
            else "it is longer than 64 characters"
            if len(sid) > 64
            else problem
        )
        raise SubmitRefused(
            [
                f"Student id {shown_id(sid)!r} cannot be used: {why}. Use only letters A-Z, "
                "digits, '-', '_' and '.' (starting with a letter or digit), as in 2022123456."
            ]
        )
    return sid


def load_assignment(
    assignment: str, directory: Path, course: str | Path | None
) -> AssignmentConfig:
    """The assignment's config: the course's, else the released one next to the notebook."""
    local = directory / CONFIG_NAME
    if course is None and local.is_file():
        config = load_config(local)
        if config.name == assignment:
            return config
    return find_config(assignment, course)


def _read_required(config: AssignmentConfig, directory: Path) -> tuple[dict[str, bytes], list[str]]:
    """The bytes of every required file (read once: what is hashed is what is zipped)."""
    contents: dict[str, bytes] = {}
    problems: list[str] = []
    present = sorted(p.name for p in directory.iterdir() if p.is_file())
    for name in config.required_files:
        path = directory / name
        try:
            contents[name] = path.read_bytes()
        except FileNotFoundError:
            problems.append(_missing_message(name, config, directory, present))
        except OSError as exc:
            problems.append(
                f"{name} cannot be read ({exc.strerror or exc}): close programs using it and try again."
            )
    return contents, problems


def _missing_message(
    name: str, config: AssignmentConfig, directory: Path, present: list[str]
) -> str:
    renamed = [p for p in present if p != name and canonical_name(p) == name.casefold()]
    if renamed:
        return (
            f"{name} is missing from {directory}, but '{renamed[0]}' is there: rename it to {name}."
        )
    if name in config.notebooks:
        return (
            f"{name} is missing from {directory}: run the command in the folder of your notebook "
            "(or pass --dir), and keep the notebook's name unchanged."
        )
    return (
        f"{name} is missing from {directory}: run the notebook's locked search cell that "
        "saves it, then submit again."
    )


def _check_notebook_file(name: str, data: bytes) -> tuple[Any | None, str | None]:
    """(parsed notebook, None) or (None, problem) for a notebook that is not a notebook."""
    from autograder.core.notebook import NotebookError, parse_notebook

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return (
            None,
            f"{name} is not a notebook (not UTF-8 text): restore it from a backup or `autograder rescue`.",
        )
    try:
        return parse_notebook(text, name), None
    except NotebookError as exc:
        return None, f"{exc}. If Jupyter still opens it, save it again (File > Save Notebook)."


def inspect_npz(data: bytes) -> dict[str, tuple[int, ...]]:
    """Array name -> shape of an `.npz`, read with allow_pickle=False (ValueError if unusable)."""
    try:
        loaded = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # np.load raises ValueError, OSError, BadZipFile... for junk
        raise ValueError(f"not a readable .npz ({type(exc).__name__}: {exc})") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError("a single .npy array, not an .npz archive")
    with loaded:
        try:
            return {key: tuple(loaded[key].shape) for key in loaded.files}
        except Exception as exc:  # object arrays need pickle: refused on purpose
            raise ValueError(f"an array cannot be read without pickle ({exc})") from None


def _check_model(name: str, data: bytes, config: AssignmentConfig) -> tuple[str | None, str | None]:
    """(one-line description, None) or (None, problem) for a model file."""
    try:
        shapes = inspect_npz(data)
    except ValueError as exc:
        return (
            None,
            f"{name} is {exc}: run the notebook's locked search cell that saves it again.",
        )
    if not shapes:
        return None, f"{name} holds no arrays: run the cell that saves your best model again."
    spec = next((m for m in config.models.values() if m.file == name), None)
    missing = sorted(set(spec.keys) - set(shapes)) if spec else []
    listed = ", ".join(f"{k} {v}" for k, v in shapes.items())
    note = f" (missing {', '.join(missing)}: the model cannot be graded)" if missing else ""
    return f"{name}: {listed}{note}", None


# ---------------------------------------------------------------------------------------------
# Self-check


def run_self_check(
    paths: list[Path], assignment: str, course: str | Path | None
) -> tuple[list[dict[str, Any]], list[str]]:
    """(violations as dicts, lines to print). A missing or failing checker never blocks a zip."""
    unavailable = (
        "Self-check not available in this version of the kit: building the zip without it."
    )
    try:
        from autograder.student.check import check_notebook
    except ModuleNotFoundError as exc:
        if exc.name == "autograder.student.check":
            return [], [unavailable]
        return [], [f"Self-check could not start ({exc}): building the zip without it."]
    except ImportError:  # the module exists but does not offer check_notebook yet
        return [], [unavailable]
    violations: list[dict[str, Any]] = []
    lines: list[str] = []
    for path in paths:
        try:
            result = check_notebook(path, assignment=assignment, course=course)
        except Exception as exc:  # a checker bug must not stop a student from submitting
            lines.append(
                f"Self-check of {path.name} could not run ({type(exc).__name__}: {exc}); "
                f"building the zip anyway. Run `autograder check {path.name}` to see why."
            )
            continue
        found = [v.to_dict() for v in result.violations]
        violations.extend(found)
        lines.append(_summary_line(path.name, found))
        lines.extend(format_violation(v) for v in found)
    return violations, lines


def _summary_line(name: str, found: list[dict[str, Any]]) -> str:
    errors = sum(1 for v in found if v.get("severity") == "error")
    warnings = len(found) - errors
    if not found:
        return f"Self-check of {name}: no problems found."
    return f"Self-check of {name}: {errors} error(s), {warnings} warning(s):"


def format_violation(v: dict[str, Any]) -> str:
    """'  error    cell 7, line 12  [forbidden-call] message' (one line per violation)."""
    where = []
    if v.get("cell") is not None:
        where.append(f"cell {v['cell']}")
    if v.get("line") is not None:
        where.append(f"line {v['line']}")
    place = ", ".join(where)
    message = str(v.get("message", ""))
    if place and message.casefold().startswith(place.casefold()):
        place = ""  # the checker's message already starts with "Cell 7, line 12:"
    severity = str(v.get("severity", "?"))
    return f"  {severity:<8} {place + '  ' if place else ''}[{v.get('rule', '?')}] {message}"


# ---------------------------------------------------------------------------------------------
# The zip


def build_manifest(
    config: AssignmentConfig, student_id: str, contents: dict[str, bytes], release: str | None
) -> dict[str, Any]:
    """MANIFEST.json (docs/submission.md). The grader compares hashes; it never trusts the time."""
    return {
        "assignment": config.name,
        "student_id": student_id,
        "kit_version": autograder.__version__,
        "numpy_version": np.__version__,
        "release_version": release,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in contents.items()},
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


ZipDate = tuple[int, int, int, int, int, int]


def _zip_date(path: Path | None) -> ZipDate:
    """The file's mtime (now for None) as a zip date; zip stores only years 1980 to 2107."""
    try:
        stamp = time.localtime(path.stat().st_mtime if path else None)
    except (OSError, OverflowError, ValueError):
        stamp = time.localtime()
    year = min(max(stamp.tm_year, 1980), 2107)
    return (year, stamp.tm_mon, stamp.tm_mday, stamp.tm_hour, stamp.tm_min, stamp.tm_sec)


def write_zip(target: Path, members: list[tuple[str, bytes, ZipDate]]) -> None:
    """Write the zip atomically: a temporary file in the same folder, fsync, then rename."""
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                for name, data, date in members:
                    info = zipfile.ZipInfo(name, date_time=date)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    info.external_attr = 0o644 << 16  # a plain file for every unzip tool
                    zf.writestr(info, data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def zip_name(config: AssignmentConfig, student_id: str) -> str:
    return f"{config.name}_{student_id}.zip"


def _target_path(out: str | Path | None, directory: Path, name: str) -> Path:
    """--out is a folder (the zip gets its standard name) or a path ending in .zip."""
    if out is None:
        return directory / name
    out_path = Path(out).expanduser()
    if out_path.suffix.lower() == ".zip" and not out_path.is_dir():
        return out_path.resolve()
    out_path.mkdir(parents=True, exist_ok=True)
    return out_path.resolve() / name


def _verify_zip(target: Path, config: AssignmentConfig) -> str | None:
    """Read the zip back exactly as the grader will; a problem here is the kit's bug."""
    with tempfile.TemporaryDirectory(prefix="autograder-verify-") as tmp:
        intake = extract_submission(target, Path(tmp) / "x", config)
        problems = [v["message"] for v in intake.violations]
        if not intake.ok or problems:
            return intake.message + ("; " + "; ".join(problems) if problems else "")
    return None


# ---------------------------------------------------------------------------------------------
# submit


def submit(
    assignment: str,
    student_id: Any,
    directory: str | Path = ".",
    out: str | Path | None = None,
    course: str | Path | None = None,
    echo: Callable[[str], None] = print,
) -> SubmitResult:
    """Build `<A>_<ID>.zip` from `directory`; print what happens. Never raises on bad input."""
    try:
        result = _submit(
            assignment, student_id, Path(directory).expanduser().resolve(), out, course, echo
        )
    except SubmitRefused as exc:
        result = SubmitResult(ok=False, problems=exc.problems)
    except ConfigError as exc:
        result = SubmitResult(ok=False, problems=[f"{exc}"])
    except Exception as exc:  # an unexpected failure is a clear line, never a traceback
        result = SubmitResult(
            ok=False,
            problems=[
                f"Unexpected error while building the zip ({type(exc).__name__}: {exc}). "
                "Please report it to the course staff with this message."
            ],
        )
    if not result.ok:
        echo("")
        echo("Submission NOT created. Fix these first, then run the command again:")
        for number, problem in enumerate(result.problems, start=1):
            echo(f"  {number}. {problem}")
    return result


def _submit(
    assignment: str,
    student_id: Any,
    directory: Path,
    out: str | Path | None,
    course: str | Path | None,
    echo: Callable[[str], None],
) -> SubmitResult:
    sid = validate_student_id(student_id)
    if not directory.is_dir():
        raise SubmitRefused(
            [f"{directory} is not a folder: pass --dir with the folder of your notebook."]
        )
    config = load_assignment(assignment, directory, course)
    echo(f"Submitting {config.name} for student {sid} from {directory}")
    contents, problems = _read_required(config, directory)
    release, descriptions = _validate_contents(config, contents, problems)
    if problems:
        raise SubmitRefused(problems)
    for line in descriptions:
        echo(f"  {line}")
    result = SubmitResult(ok=False)
    if release is None:
        result.warnings.append(
            "The notebook has no release version in its metadata: was it made from the "
            "course's release? Integrity will be checked against the latest release."
        )
    nb_paths = [directory / nb for nb in config.notebooks]
    result.violations, lines = run_self_check(nb_paths, config.name, course)
    for line in lines:
        echo(line)
    unusable = [v["message"] for v in result.violations if v.get("rule") == "notebook-invalid"]
    if unusable:  # e.g. another assignment's notebook: the grader could give it nothing
        raise SubmitRefused([f"{m} Fix this before you submit: the grader cannot use this notebook."
                             for m in unusable])
    target = _target_path(out, directory, zip_name(config, sid))
    result.manifest = build_manifest(config, sid, contents, release)
    members = [
        (name, contents[name], _zip_date(directory / name)) for name in config.required_files
    ]
    manifest_bytes = (json.dumps(result.manifest, indent=2, sort_keys=True) + "\n").encode("utf-8")
    members.append((MANIFEST_NAME, manifest_bytes, _zip_date(None)))
    write_zip(target, members)
    problem = _verify_zip(target, config)
    if problem is not None:
        target.unlink(missing_ok=True)
        raise SubmitRefused(
            [
                f"The zip did not read back correctly ({problem}). Please report this to the course staff."
            ]
        )
    result.ok, result.zip_path = True, target
    _report_success(result, echo)
    return result


def _validate_contents(
    config: AssignmentConfig, contents: dict[str, bytes], problems: list[str]
) -> tuple[str | None, list[str]]:
    """Check notebooks and models; append problems; return (release version, descriptions)."""
    release: str | None = None
    descriptions: list[str] = []
    for name, data in contents.items():
        if len(data) > STUDENT_LIMITS.max_member_bytes:  # the grader would refuse the whole zip
            problems.append(
                f"{name} is {len(data) / MiB:.1f} MiB, more than the "
                f"{STUDENT_LIMITS.max_member_bytes / MiB:.0f} "
                "MiB the grader accepts: clear the outputs of cells that print or plot a lot, "
                "run them again with less output, save, and submit again."
            )
            continue
        if name in config.notebooks:
            nb, problem = _check_notebook_file(name, data)
            if problem:
                problems.append(problem)
                continue
            version = (nb.get("metadata", {}).get("autograder", {}) or {}).get("version")
            release = release or (str(version) if version is not None else None)
            descriptions.append(f"{name}: {len(nb['cells'])} cells, release {version or '?'}")
        elif name.lower().endswith(".npz"):
            description, problem = _check_model(name, data, config)
            if problem:
                problems.append(problem)
            else:
                descriptions.append(description or name)
        else:
            descriptions.append(f"{name}: {len(data)} bytes")
    return release, descriptions


def _report_success(result: SubmitResult, echo: Callable[[str], None]) -> None:
    for warning in result.warnings:
        echo(f"Warning: {warning}")
    errors = sum(1 for v in result.violations if v.get("severity") == "error")
    if errors:
        echo("")
        echo("!" * 78)
        echo(
            f"!! The self-check found {errors} error(s) (listed above). The zip was built, but these"
        )
        echo("!! will cost points at grading. Fix them, then run this command again.")
        echo("!" * 78)
    assert result.zip_path is not None
    size_kb = result.zip_path.stat().st_size / 1024
    files = len(result.manifest["files"]) if result.manifest else 0
    echo("")
    echo(f"Wrote {result.zip_path} ({files} files + {MANIFEST_NAME}, {size_kb:.0f} KB).")
    echo("Upload this file as it is: do not unzip, rename or re-zip it.")


def cli_submit(args: argparse.Namespace) -> int:
    """`autograder submit A --student-id ID [--dir D] [--out O]`: 0 zip written, 1 refused."""
    result = submit(
        args.assignment,
        args.student_id,
        directory=args.dir or ".",
        out=args.out,
        course=getattr(args, "course", None),
    )
    return result.exit_code


# ---------------------------------------------------------------------------------------------
# From the notebook's last cell


def unsaved_problems(config: AssignmentConfig, directory: Path) -> list[str]:
    """Signs that the notebook on disk is not what the student sees: no outputs at all, or
    older than a model file the notebook wrote (cells were run after the last save)."""
    problems: list[str] = []
    models = [
        directory / f
        for f in config.required_files
        if f.lower().endswith(".npz") and (directory / f).is_file()
    ]
    for name in config.notebooks:
        path = directory / name
        try:
            nb = json.loads(path.read_text(encoding="utf-8"))
            cells = [
                c
                for c in nb.get("cells", [])
                if isinstance(c, dict) and c.get("cell_type") == "code"
            ]
            saved_at = path.stat().st_mtime
        except (OSError, ValueError, AttributeError):
            continue  # missing or broken: submit() says what to do about it
        if cells and not any(c.get("outputs") for c in cells):
            problems.append(
                f"{name} on disk has no outputs: save the notebook (Ctrl+S, or File > Save "
                "Notebook), then run this cell again."
            )
            continue
        newer = [m.name for m in models if m.stat().st_mtime > saved_at + MTIME_SLACK_S]
        if newer:
            problems.append(
                f"{name} on disk is older than {', '.join(newer)}: you ran cells after your last "
                "save. Save the notebook (Ctrl+S), then run this cell again."
            )
    return problems


def submit_from_notebook(
    assignment: str, student_id: Any, directory: str | Path | None = None
) -> SubmitResult:
    """The notebook's last cell: `submit_from_notebook("A3", student_id=STUDENT_ID)`.

    The folder is the kernel's working directory (Jupyter starts it in the notebook's folder).
    Jupyter has no reliable save API without JavaScript, so this checks the file on disk instead
    and stops with what to do when the notebook looks unsaved.
    """
    print(SAVE_REMINDER)
    folder = Path(directory) if directory is not None else Path.cwd()
    try:
        config = load_assignment(assignment, folder.resolve(), None)
        problems = unsaved_problems(config, folder.resolve())
    except ConfigError:
        problems = []  # submit() reports the missing config with its own message
    except Exception as exc:  # never a traceback in a student's notebook
        problems = [f"Could not inspect the notebook on disk ({type(exc).__name__}: {exc})."]
    if problems:
        print("")
        print("Submission NOT created. Fix these first, then run this cell again:")
        for number, problem in enumerate(problems, start=1):
            print(f"  {number}. {problem}")
        return SubmitResult(ok=False, problems=problems)
    result = submit(assignment, student_id, directory=folder)
    sys.stdout.flush()
    return result
