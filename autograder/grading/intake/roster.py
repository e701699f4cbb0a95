"""Whose submission each found unit is, and which attempt of a student is graded.

The LMS is authoritative: its id (mapped to the course's student id through the roster, when one
is given) names the owner; a MANIFEST.json's id is only compared with it (rule
`student-id-mismatch`), never used instead, since a zip cannot name its own owner. An id that
`autograder.core.identity` refuses makes the submission `unidentified` (graded as failed under a
safe name, listed for review). Of several attempts, the latest by LMS time is graded.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from autograder.core.archive import IntakeError
from autograder.core.config import AssignmentConfig
from autograder.core.identity import id_problem, shown_id, unidentified_id
from autograder.core.submission_zip import peek_manifest, violation
from autograder.grading.intake.exports import Unit


@dataclass
class SubmissionEntry:
    """One student's submission to grade, with who and when according to the LMS."""

    student_id: str
    path: Path  # the student's zip, or a folder of loose files
    lms: str  # canvas | moodle | gradescope | plain | unknown
    lms_id: str | None = None
    name: str | None = None  # the student's name as the LMS spells it, when it does
    submitted_at: datetime | None = None
    time_source: str = "none"  # lms-metadata | export-member-date | file-mtime | none
    late: bool | None = None  # None: the LMS does not say
    id_source: str = "lms"  # roster | lms | unidentified
    manifest_student_id: str | None = None
    unidentified: str = ""  # why no valid id was found: graded as failed, listed for review
    violations: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    other_attempts: list[Path] = field(default_factory=list)
    attempt: int = 0  # the LMS's upload counter, a tie-breaker between equal times

    def to_dict(self) -> dict[str, Any]:
        return {
            "student_id": self.student_id,
            "path": str(self.path),
            "lms": self.lms,
            "lms_id": self.lms_id,
            "name": self.name,
            "submitted_at": self.submitted_at.isoformat() if self.submitted_at else None,
            "time_source": self.time_source,
            "late": self.late,
            "id_source": self.id_source,
            "manifest_student_id": self.manifest_student_id,
            "unidentified": self.unidentified,
            "violations": list(self.violations),
            "notes": list(self.notes),
            "other_attempts": [str(p) for p in self.other_attempts],
        }


def load_roster(roster: str | Path | Mapping[str, str] | None) -> dict[str, str] | None:
    """LMS id -> course student id, from a CSV with columns `lms_id,student_id`.

    Canvas's gradebook export works as is (`ID` is the Canvas user id, `SIS User ID` the course
    id); rows with an empty id (Canvas's "Points Possible" line) are skipped.
    """
    if roster is None or isinstance(roster, Mapping):
        return None if roster is None else {str(k): str(v) for k, v in roster.items()}
    path = Path(roster)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = {c.strip().casefold(): c for c in reader.fieldnames or []}
            lms_col = next(
                (
                    columns[c]
                    for c in ("lms_id", "id", "user_id", "canvas_id", "moodle_id")
                    if c in columns
                ),
                None,
            )
            sid_col = next(
                (
                    columns[c]
                    for c in ("student_id", "sis user id", "sis_user_id", "id number")
                    if c in columns
                ),
                None,
            )
            if lms_col is None or sid_col is None:
                raise IntakeError(
                    "not-found",
                    f"{path}: the roster needs columns 'lms_id' and 'student_id' "
                    f"(found: {', '.join(reader.fieldnames or []) or 'none'})",
                )
            return {
                row[lms_col].strip(): row[sid_col].strip()
                for row in reader
                if (row.get(lms_col) or "").strip() and (row.get(sid_col) or "").strip()
            }
    except OSError as exc:
        raise IntakeError(
            "not-found", f"{path}: cannot read the roster ({exc.strerror or exc})"
        ) from None


def settle(
    units: list[Unit], config: AssignmentConfig, roster: dict[str, str] | None
) -> list[SubmissionEntry]:
    """One entry per student: each unit identified, then the latest attempt kept."""
    entries = [identify(u, config, roster) for u in units]
    return case_twins_for_review(keep_latest(entries))


def case_twins_for_review(entries: list[SubmissionEntry]) -> list[SubmissionEntry]:
    """Ids equal but for case (`Bob`, `bob`) are one report folder on a case-insensitive file
    system (macOS, Windows, a course folder copied there): of such twins the id that sorts first
    is kept and each other entry becomes `unidentified` (graded as failed under a safe name,
    listed for review), never graded into its twin's folder. `entries`: one per id, sorted."""
    first: dict[str, SubmissionEntry] = {}
    out: list[SubmissionEntry] = []
    for entry in entries:
        if entry.id_source == "unidentified":
            out.append(entry)
            continue
        twin = first.setdefault(entry.student_id.casefold(), entry)
        if twin is not entry:
            why = (f"Whose submission this is is unknown: its id {shown_id(entry.student_id)!r} "
                   f"(from '{shown_id(entry.path.name)}') differs only in case from the id "
                   f"{shown_id(twin.student_id)!r} (from '{shown_id(twin.path.name)}'), and the two "
                   "would share one report folder on some file systems. Find out whose it is, "
                   "then rename it or map it with --roster and grade again.")
            entry = replace(entry, student_id=unidentified_id(entry.path.name),
                            id_source="unidentified", unidentified=why, violations=[])
        out.append(entry)
    return out


def identify(
    unit: Unit, config: AssignmentConfig, roster: dict[str, str] | None
) -> SubmissionEntry:
    """Whose submission this is: the LMS id (through the roster when there is one), which for a
    plain folder is the `A3_<id>.zip` file name. The manifest's id is only compared with it
    (student-id-mismatch), never used instead: a zip cannot name its own owner. Without a valid
    id the entry is `unidentified` (graded as failed under a safe name, listed for review)."""
    manifest = peek_manifest(unit.path)
    claimed = manifest.get("student_id") if manifest else None
    claimed = claimed if isinstance(claimed, str) else None
    notes = list(unit.notes)
    student_id, id_source, why = "", "unidentified", ""
    if unit.lms_id and roster is not None and unit.lms_id in roster:
        student_id, id_source = roster[unit.lms_id], "roster"
    elif unit.lms_id:
        student_id, id_source = unit.lms_id, "lms"
        if roster is not None:
            notes.append(f"LMS id {shown_id(unit.lms_id)} is not in the roster: graded under the LMS id")
    else:
        why = f"'{shown_id(unit.rel or unit.path.name)}' matches no file-name pattern of this export"
    problem = id_problem(student_id) if student_id else ""
    if problem:
        why = f"the id {shown_id(student_id)!r} found for it cannot be used: {problem}"
    if why:
        hint = (f" Its MANIFEST.json names {shown_id(claimed)!r}: if that is right, give it the "
                f"name {config.name}_<id>.zip (or map it with --roster or --pattern) and grade again."
                if claimed else " Find out whose it is, then rename it or map it with --roster.")
        why = f"Whose submission this is is unknown: {why}.{hint}"
        student_id, id_source = unidentified_id(unit.rel or unit.path.name), "unidentified"
    entry = SubmissionEntry(
        student_id=student_id,
        path=unit.path,
        lms=unit.lms,
        lms_id=unit.lms_id,
        name=unit.name,
        submitted_at=unit.submitted_at,
        time_source=unit.time_source,
        late=unit.late,
        id_source=id_source,
        manifest_student_id=claimed,
        unidentified=why,
        notes=notes,
        attempt=unit.attempt,
    )
    # Canvas and Moodle user ids are not course ids: without a roster there is nothing to compare.
    comparable = id_source == "roster" or (
        id_source == "lms" and unit.lms in ("gradescope", "plain", "custom")
    )
    if claimed and comparable and claimed != student_id:
        entry.violations.append(
            violation(
                config,
                "student-id-mismatch",
                f"MANIFEST.json says student {shown_id(claimed)!r} but the LMS submission belongs "
                f"to '{student_id}': graded as '{student_id}'. Was this zip made by someone else?",
            )
        )
    return entry


def keep_latest(entries: list[SubmissionEntry]) -> list[SubmissionEntry]:
    """One entry per student: the latest by LMS time (then upload counter, then path)."""
    never = datetime.min.replace(tzinfo=timezone.utc)
    by_student: dict[str, list[SubmissionEntry]] = {}
    for entry in entries:
        by_student.setdefault(entry.student_id, []).append(entry)
    kept: list[SubmissionEntry] = []
    for student_id in sorted(by_student):
        attempts = sorted(
            by_student[student_id], key=lambda e: (e.submitted_at or never, e.attempt, str(e.path))
        )
        latest = attempts[-1]
        if len(attempts) > 1:
            latest.other_attempts = [e.path for e in attempts[:-1]]
            when = (
                latest.submitted_at.isoformat() if latest.submitted_at else "no time in the export"
            )
            latest.notes.append(
                f"{len(attempts)} attempts: graded the latest ({latest.path.name}, {when}); "
                "not graded: " + ", ".join(e.path.name for e in attempts[:-1])
            )
        kept.append(latest)
    return kept
