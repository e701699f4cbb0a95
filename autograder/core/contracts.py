"""What crosses a step boundary while grading: typed, frozen, each with one to/from JSON pair.

The grading steps hand each other these objects and nothing else:

* `GradeTask`: one student's submission to grade (the parent builds it, a pool worker reads it);
* `Violation`: one policy finding (the rules, intake and the engine produce them);
* `TestOutcome`: one hidden test's or best model's result;
* `GradeResult`: what a worker found for one student, with its `Diagnostics` (the grader-side
  log that only staff read);
* `Report`: report.json (its JSON form is described by the versioned JSON Schema
  `autograder/grading/schemas/report-v1.json`).

`to_json()` gives plain JSON data (dicts, lists, str, float, int, bool, None); `from_json()`
reads it back, tolerating keys an older kit did not write (they take their defaults), so a
report.json written by a previous version still reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("graded", "failed", "error")  # failed: submission unusable; error: grader crashed
TEST_STATUSES = ("passed", "failed", "error", "timeout")


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


@dataclass(frozen=True)
class Violation:
    """One finding as report.json shows it.

    cell and line are 1-based (Jupyter's numbering) or None when the finding has no place;
    deduction is in rubric points; count is how many findings a folded flood stands for.
    """

    rule: str
    severity: str = "warning"  # "error" | "warning"
    message: str = ""
    cell: int | None = None
    line: int | None = None
    deduction: float = 0.0
    file: str | None = None  # the submitted file it is about (a notebook, a model)
    function: str | None = None  # the graded function it is about (one mistake, one charge)
    grade_id: str | None = None
    diff: str = ""  # what changed, shown under the message (at most a few lines)
    warning_only: bool = False  # a free warning whatever the rule's policy
    count: int = 1
    note: str = ""  # why it costs less than its rule says

    def to_json(self) -> dict[str, Any]:
        """The report.json entry: the five binding keys always, the others only when set."""
        out: dict[str, Any] = {"rule": self.rule, "severity": self.severity, "message": self.message,
                               "cell": self.cell, "deduction": self.deduction}
        for key in ("line", "grade_id", "file", "function"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.warning_only:  # kept, so a report re-scored later costs the same
            out["warning_only"] = True
        if self.count != 1:
            out["count"] = self.count
        if self.diff:
            out["diff"] = self.diff
        if self.note:
            out["note"] = self.note
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Violation:
        """A violation from its JSON form (a producer's `detail` is read as the diff)."""
        return cls(
            rule=str(data.get("rule", "")),
            severity=str(data.get("severity", "warning")),
            message=str(data.get("message", "") or ""),
            cell=_opt_int(data.get("cell")),
            line=_opt_int(data.get("line")),
            deduction=float(data.get("deduction") or 0.0),
            file=None if data.get("file") is None else str(data["file"]),
            function=str(data["function"]) if data.get("function") else None,
            grade_id=None if data.get("grade_id") is None else str(data["grade_id"]),
            diff=str(data.get("diff") or data.get("detail") or ""),
            warning_only=bool(data.get("warning_only", False)),
            count=max(1, int(data.get("count", 1) or 1)),
            note=str(data.get("note", "") or ""),
        )


@dataclass(frozen=True)
class TestOutcome:
    """One hidden test (or best-model check): points earned out of max_score, and why."""

    __test__ = False  # not a pytest test class, whatever its name

    name: str
    grade_id: str
    score: float
    max_score: float
    status: str  # one of TEST_STATUSES
    message: str = ""

    def to_json(self) -> dict[str, Any]:
        """The report.json `tests` entry."""
        return {"name": self.name, "grade_id": self.grade_id, "score": self.score,
                "max_score": self.max_score, "status": self.status, "message": self.message}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TestOutcome:
        """A test outcome from its JSON form; a score that is not a number raises ValueError."""
        return cls(name=str(data.get("name", "")), grade_id=str(data.get("grade_id", "")),
                   score=float(data.get("score") or 0.0), max_score=float(data.get("max_score") or 0.0),
                   status=str(data.get("status", "error")), message=str(data.get("message", "") or ""))


@dataclass(frozen=True)
class Submission:
    """What the LMS export and the intake say about the submitted file (report.json `submission`)."""

    file: str = ""
    sha256: str = ""
    submitted_at: str | None = None  # ISO 8601, from the LMS (never from the manifest)
    late: bool | None = None
    lms: str = ""
    notes: tuple[str, ...] = ()
    id_source: str = ""
    manifest_student_id: str | None = None
    other_attempts: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "sha256": self.sha256, "submitted_at": self.submitted_at,
                "late": self.late, "lms": self.lms, "notes": list(self.notes),
                "id_source": self.id_source, "manifest_student_id": self.manifest_student_id,
                "other_attempts": list(self.other_attempts)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Submission:
        late = data.get("late")
        manifest_id = data.get("manifest_student_id")
        return cls(file=str(data.get("file", "") or ""), sha256=str(data.get("sha256", "") or ""),
                   submitted_at=data.get("submitted_at") or None,
                   late=None if late is None else bool(late), lms=str(data.get("lms", "") or ""),
                   notes=tuple(str(n) for n in data.get("notes", []) or []),
                   id_source=str(data.get("id_source", "") or ""),
                   manifest_student_id=None if manifest_id is None else str(manifest_id),
                   other_attempts=tuple(str(a) for a in data.get("other_attempts", []) or []))


@dataclass(frozen=True)
class GradeTask:
    """One student's submission to grade, as the parent hands it to a pool worker.

    path: the zip or folder of loose files; course: the course directory; key: the grading key
    (autograder.grading.batch.grading_key); violations: what reading the LMS export found;
    unidentified: why the owner is unknown ("" when known; such a submission is not graded);
    sandbox: "auto" or a level to insist on; guard: the worker's audit hook on (it gives
    students early, clear refusals; switched off only to prove containment holds without it).
    """

    student_id: str
    path: str
    sha256: str
    assignment: str
    course: str
    key: str = ""
    violations: tuple[Violation, ...] = ()
    unidentified: str = ""
    submission: Submission = field(default_factory=Submission)
    sandbox: str = "auto"
    guard: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"student_id": self.student_id, "path": self.path, "sha256": self.sha256,
                "assignment": self.assignment, "course": self.course, "key": self.key,
                "violations": [v.to_json() for v in self.violations],
                "unidentified": self.unidentified, "submission": self.submission.to_json(),
                "sandbox": self.sandbox, "guard": self.guard}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GradeTask:
        return cls(student_id=str(data["student_id"]), path=str(data["path"]),
                   sha256=str(data.get("sha256", "")), assignment=str(data["assignment"]),
                   course=str(data["course"]), key=str(data.get("key", "")),
                   violations=tuple(Violation.from_json(v) for v in data.get("violations", [])),
                   unidentified=str(data.get("unidentified", "") or ""),
                   submission=Submission.from_json(data.get("submission", {}) or {}),
                   sandbox=str(data.get("sandbox", "auto")), guard=bool(data.get("guard", True)))


@dataclass(frozen=True)
class Diagnostics:
    """What the staff need to see why grading went wrong (never shown to the student).

    log: grader-side tracebacks (a crashing step, the hidden tests' internal errors), plain text
    for OUT/<student>/grader.log; output: the student's captured stdout/stderr per test.
    """

    log: str = ""
    output: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"log": self.log, "output": self.output}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Diagnostics:
        return cls(log=str(data.get("log", "") or ""), output=str(data.get("output", "") or ""))


@dataclass(frozen=True)
class GradeResult:
    """What a worker found for one student, before scoring.

    status: "graded", "failed" (the submission is unusable; message says why) or "error" (the
    grader crashed: the score is not sound; diagnostics.log has the traceback). notebooks: the
    submitted notebooks' text by file name (for nbgrader's autograded copy; not in report.json).
    seconds: wall time of the worker; rss_kib: its peak resident memory.
    """

    student_id: str
    status: str = "graded"
    message: str = ""
    tests: tuple[TestOutcome, ...] = ()
    violations: tuple[Violation, ...] = ()
    sandbox: str = ""
    seconds: float = 0.0
    key: str = ""
    submission: Submission = field(default_factory=Submission)
    notes: tuple[str, ...] = ()
    notebooks: Mapping[str, str] = field(default_factory=dict)
    rss_kib: int = 0
    diagnostics: Diagnostics = field(default_factory=Diagnostics)

    def to_json(self) -> dict[str, Any]:
        return {"student_id": self.student_id, "status": self.status, "message": self.message,
                "tests": [t.to_json() for t in self.tests],
                "violations": [v.to_json() for v in self.violations], "sandbox": self.sandbox,
                "seconds": self.seconds, "key": self.key, "submission": self.submission.to_json(),
                "notes": list(self.notes), "notebooks": dict(self.notebooks), "rss_kib": self.rss_kib,
                "diagnostics": self.diagnostics.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GradeResult:
        return cls(student_id=str(data["student_id"]), status=str(data.get("status", "graded")),
                   message=str(data.get("message", "") or ""),
                   tests=tuple(TestOutcome.from_json(t) for t in data.get("tests", [])),
                   violations=tuple(Violation.from_json(v) for v in data.get("violations", [])),
                   sandbox=str(data.get("sandbox", "") or ""), seconds=float(data.get("seconds", 0.0)),
                   key=str(data.get("key", "") or ""),
                   submission=Submission.from_json(data.get("submission", {}) or {}),
                   notes=tuple(str(n) for n in data.get("notes", []) or []),
                   notebooks=dict(data.get("notebooks", {}) or {}),
                   rss_kib=int(data.get("rss_kib", 0) or 0),
                   diagnostics=Diagnostics.from_json(data.get("diagnostics", {}) or {}))


@dataclass(frozen=True)
class GroupRow:
    """One rubric group in report.json: points earned (None: a manual question not graded yet)."""

    grade_id: str
    score: float | None
    max_score: float
    manual: bool = False
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"grade_id": self.grade_id, "score": self.score, "max_score": self.max_score,
                "manual": self.manual, "note": self.note}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GroupRow:
        score = data.get("score")
        return cls(grade_id=str(data["grade_id"]), score=None if score is None else float(score),
                   max_score=float(data.get("max_score", 0.0)), manual=bool(data.get("manual", False)),
                   note=str(data.get("note", "") or ""))


@dataclass(frozen=True)
class DeductionRow:
    """One rule's deductions in report.json: raw sum, what was applied after caps, waived or not."""

    rule: str
    count: int
    raw: float
    applied: float
    waived: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "count": self.count, "raw": self.raw, "applied": self.applied,
                "waived": self.waived}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DeductionRow:
        return cls(rule=str(data["rule"]), count=int(data.get("count", 0)), raw=float(data.get("raw", 0.0)),
                   applied=float(data.get("applied", 0.0)), waived=bool(data.get("waived", False)))


@dataclass(frozen=True)
class GraderInfo:
    """Who graded and how: kit version, sandbox level, seconds, grading key, and the name of the
    grader log beside report.json when grading went wrong ("" when there is none)."""

    version: str
    sandbox: str = ""
    seconds: float = 0.0
    key: str = ""
    log: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"version": self.version, "sandbox": self.sandbox,
                               "seconds": self.seconds, "key": self.key}
        if self.log:
            out["log"] = self.log
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GraderInfo:
        return cls(version=str(data.get("version", "")), sandbox=str(data.get("sandbox", "") or ""),
                   seconds=float(data.get("seconds", 0.0)), key=str(data.get("key", "") or ""),
                   log=str(data.get("log", "") or ""))


@dataclass(frozen=True)
class Report:
    """report.json: the scored, student-safe result of one submission (docs/grading.md)."""

    student_id: str
    assignment: str
    status: str
    message: str
    score: float
    max_score: float
    points: float
    deduction: float
    groups: tuple[GroupRow, ...]
    tests: tuple[TestOutcome, ...]
    violations: tuple[Violation, ...]
    deductions: tuple[DeductionRow, ...]
    overrides: tuple[str, ...]
    notes: tuple[str, ...]
    submission: Submission
    grader: GraderInfo
    autograded_dropped: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """report.json's content (validated by the report-v1 JSON Schema in the tests)."""
        out: dict[str, Any] = {
            "student_id": self.student_id, "assignment": self.assignment, "status": self.status,
            "message": self.message, "score": self.score, "max_score": self.max_score,
            "points": self.points, "deduction": self.deduction,
            "groups": [g.to_json() for g in self.groups], "tests": [t.to_json() for t in self.tests],
            "violations": [v.to_json() for v in self.violations],
            "deductions": [d.to_json() for d in self.deductions], "overrides": list(self.overrides),
            "notes": list(self.notes), "submission": self.submission.to_json(),
            "grader": self.grader.to_json(),
        }
        if self.autograded_dropped:
            out["autograded_dropped"] = {k: dict(v) for k, v in self.autograded_dropped.items()}
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Report:
        """A report from report.json; KeyError, TypeError or ValueError when it is not one."""
        return cls(
            student_id=str(data["student_id"]), assignment=str(data["assignment"]),
            status=str(data["status"]), message=str(data.get("message", "") or ""),
            score=float(data["score"]), max_score=float(data["max_score"]),
            points=float(data.get("points", 0.0)), deduction=float(data.get("deduction", 0.0)),
            groups=tuple(GroupRow.from_json(g) for g in data.get("groups", [])),
            tests=tuple(TestOutcome.from_json(t) for t in data["tests"]),
            violations=tuple(Violation.from_json(v) for v in data["violations"]),
            deductions=tuple(DeductionRow.from_json(d) for d in data.get("deductions", [])),
            overrides=tuple(str(o) for o in data.get("overrides", [])),
            notes=tuple(str(n) for n in data.get("notes", [])),
            submission=Submission.from_json(data.get("submission", {}) or {}),
            grader=GraderInfo.from_json(data["grader"]),
            autograded_dropped={str(k): dict(v) for k, v in (data.get("autograded_dropped") or {}).items()},
        )
