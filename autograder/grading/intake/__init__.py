"""Intake at grading: the submissions of a class, one per student, from a folder or an LMS export.

`collect_submissions(path, assignment, config, ...)` reads a folder of zips or one export archive
(Canvas, Moodle, Gradescope or plain `A3_<id>.zip` names; extracted with
`autograder.core.archive`'s export limits), picks the export's one format, and settles who each
submission belongs to and which attempt is graded. Each entry is then extracted and checked on
its own by `autograder.core.submission_zip.extract_submission`.

Modules: `exports` (file-name formats of Canvas, Moodle, plain), `gradescope` (its export's
folders and times), `gradescope_metadata` (its YAML metadata file), `roster` (identity and
attempts). LMS presets and time sources: docs/submission.md.
"""

from __future__ import annotations

import importlib
import re
import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from autograder.core.archive import EXPORT_LIMITS, IntakeError, is_litter, safe_extract, walk_files
from autograder.core.config import AssignmentConfig
from autograder.core.submission_zip import MANIFEST_NAME
from autograder.grading.intake.exports import (
    GRADESCOPE_FOLDER,
    GRADESCOPE_METADATA,
    LMS_CHOICES,
    LMS_PATTERNS,
    Unit,
    WorkDir,
    lms_patterns,
    plain_units,
)
from autograder.grading.intake.roster import SubmissionEntry, load_roster, settle

if TYPE_CHECKING:
    from autograder.grading.intake.gradescope import parse_lms_time
    from autograder.grading.intake.gradescope_metadata import parse_gradescope_metadata

# Gradescope's reader (PyYAML, dateutil) is imported only for a Gradescope export, or when one of
# these names is asked for: `autograder grade` imports the intake before its first dispatch.
_GRADESCOPE_NAMES = {"parse_lms_time": "autograder.grading.intake.gradescope",
                     "parse_gradescope_metadata": "autograder.grading.intake.gradescope_metadata"}


def __getattr__(name: str) -> Any:
    if name not in _GRADESCOPE_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_GRADESCOPE_NAMES[name]), name)

__all__ = [
    "LMS_CHOICES",
    "LMS_PATTERNS",
    "IntakeError",
    "SubmissionEntry",
    "collect_submissions",
    "load_roster",
    "parse_gradescope_metadata",
    "parse_lms_time",
]

def collect_submissions(
    path: str | Path,
    assignment: str,
    config: AssignmentConfig,
    lms: str = "auto",
    roster: str | Path | Mapping[str, str] | None = None,
    pattern: str | None = None,
    work_dir: str | Path | None = None,
) -> list[SubmissionEntry]:
    """The submissions to grade in a folder of zips or one LMS export archive, one per student.

    `lms`: auto | canvas | moodle | gradescope | plain. `pattern`: a regex with a named group
    `lms_id` (and optionally `late`, `name`, `attempt`) tried before the presets. `roster`: CSV
    path or mapping from LMS id to course student id. An export archive is extracted safely into
    `work_dir` (a new temporary folder when None; the entries' paths point into it, so delete it
    after grading). Raises IntakeError only when the whole export is unusable.
    """
    if lms not in LMS_CHOICES:
        raise IntakeError("not-found", f"unknown LMS {lms!r}: use one of {', '.join(LMS_CHOICES)}")
    regexes = lms_patterns(lms, pattern)
    roster_map = load_roster(roster)
    source = Path(path)
    if not source.exists():
        raise IntakeError("not-found", f"{source}: no such file or folder")
    work = WorkDir(work_dir)
    if source.is_dir():
        units = _find_units(source, assignment, lms, regexes, work, from_archive=False)
        return settle(units, config, roster_map)
    root = work.path / "export"
    safe_extract(source, root, EXPORT_LIMITS)
    if _is_single_submission(root, config):
        shutil.rmtree(root, ignore_errors=True)
        units = plain_units([(source.name, source)], assignment, regexes, False, work)
    else:
        units = _find_units(root, assignment, lms, regexes, work, from_archive=True)
    return settle(units, config, roster_map)


def _is_single_submission(root: Path, config: AssignmentConfig) -> bool:
    """An archive handed to `grade` may be one student's zip rather than an export of many."""
    files = [rel for rel, _ in walk_files(root) if not is_litter(rel)]
    has_zips = any(rel.lower().endswith(".zip") for rel in files)
    has_meta = any(PurePosixPath(rel).name == GRADESCOPE_METADATA for rel in files)
    names = {PurePosixPath(rel).name for rel in files}
    return (
        not has_zips
        and not has_meta
        and (MANIFEST_NAME in names or bool(names & set(config.notebooks)))
    )


def _find_units(
    root: Path,
    assignment: str,
    lms: str,
    regexes: list[tuple[str, re.Pattern[str]]],
    work: WorkDir,
    from_archive: bool,
) -> list[Unit]:
    files = [(rel, p) for rel, p in walk_files(root) if not is_litter(rel)]
    # Gradescope's metadata sits at the top of its export (or of the one folder wrapping it); a
    # file of that name deeper down is a student's upload and never decides how to read the rest
    top = _export_top(files)
    meta = [rel for rel, _ in files if rel == f"{top}{GRADESCOPE_METADATA}"]
    entries = {rel[len(top):].split("/", 1)[0] for rel, _ in files if rel.startswith(top)}
    if any(e != GRADESCOPE_METADATA and not GRADESCOPE_FOLDER.fullmatch(e) for e in entries):
        meta = []  # beside Gradescope's metadata stand only its submission_<id>/ folders
    if lms == "gradescope" or (lms == "auto" and meta):
        if not meta:
            raise IntakeError("not-found", f"no {GRADESCOPE_METADATA} in the Gradescope export")
        from autograder.grading.intake.gradescope import gradescope_units

        return gradescope_units(root / meta[0], from_archive)
    return plain_units(files, assignment, regexes, from_archive, work)


def _export_top(files: list[tuple[str, Path]]) -> str:
    """The prefix of the export's top level: "" or "<folder>/" when one folder holds it all."""
    firsts = {rel.split("/", 1)[0] if "/" in rel else "" for rel, _ in files}
    return f"{firsts.pop()}/" if len(firsts) == 1 and "" not in firsts else ""

