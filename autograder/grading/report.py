"""What grading writes for people: report.json, feedback.html, summary.html, grades.csv (docs/grading.md).

`build_report` turns one worker result (`GradeResult`, see `autograder.grading.pipeline`) and the
score arithmetic into a `Report` (report.json is its `to_json()`); everything else renders
reports: feedback.html from a `Report`, grades.csv and summary.html from report.json's content
(the class's reports, some of them read back from disk). Rendering never sees the
hidden tests: only the messages the engine wrote for students, scrubbed once more here.
"""

from __future__ import annotations

import base64
import csv
import functools
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from autograder import __version__
from autograder.core.config import AssignmentConfig
from autograder.core.contracts import STATUSES as STATUSES  # re-exported: the statuses of a report
from autograder.core.contracts import (
    DeductionRow,
    GradeResult,
    GraderInfo,
    GroupRow,
    Report,
    TestOutcome,
)
from autograder.core.identity import printable, student_path
from autograder.core.rules import RULE_HINTS  # one action per rule, shown under each violation
from autograder.core.score import Override, ScoreResult, score_submission
from autograder.grading.overrides import atomic_write_text

GRADER_LOG = "grader.log"  # beside report.json: the staff's traceback of a student's grading
MAX_MESSAGE = 800  # characters of a test message shown to a student
MAX_DIFF_LINES = 12

_HIDDEN_PATH = re.compile(r"hidden_tests\.py|/solutions/|solutions[\\/]")
_SEED = re.compile(r"\bseed\s*[=:]\s*-?\d+", re.IGNORECASE)
# "got 0.12, expected 0.34": the reference's value on a hidden input is not the student's to see.
_EXPECTED = re.compile(r"\b(expected)\s+(?:-?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?|nan|inf)", re.IGNORECASE)


def student_safe(text: Any, limit: int = MAX_MESSAGE) -> str:
    """A message fit for a student: no line naming the hidden tests or the solutions, no seeds.

    The engine already writes student-facing messages; this is the second line of defence, so a
    traceback that slipped through never shows hidden-test source or paths.
    """
    lines = [ln for ln in str(text or "").splitlines() if not _HIDDEN_PATH.search(ln)]
    out = _EXPECTED.sub(r"\1 value hidden", _SEED.sub("seed=…", "\n".join(lines))).strip()
    return out if len(out) <= limit else out[: limit - 1] + "…"


def short_diff(diff: str) -> str:
    """A violation's diff, at most MAX_DIFF_LINES lines."""
    lines = str(diff or "").splitlines()
    if len(lines) > MAX_DIFF_LINES:
        lines = lines[:MAX_DIFF_LINES] + [f"… ({len(lines) - MAX_DIFF_LINES} more lines)"]
    return "\n".join(lines)


def _clean_test(t: TestOutcome) -> TestOutcome:
    return replace(t, message=student_safe(t.message))


def build_report(
    result: GradeResult,
    config: AssignmentConfig,
    overrides: Iterable[Override] = (),
) -> Report:
    """The report of one worker result (report.json's content is `Report.to_json()`; docs/grading.md).

    Severity and deduction of each violation come from the scorer (`score.charged_findings`,
    the one place that decides what a finding costs), so the report, the feedback and the
    gradebook show the same figure; a finding that costs less than its rule says gets a `note`.
    Every message is made student-safe here.
    """
    tests = tuple(_clean_test(t) for t in result.tests)
    scored: ScoreResult = score_submission([t.to_json() for t in tests],
                                           [v.to_json() for v in result.violations], config, overrides)
    violations = tuple(
        replace(v, message=student_safe(v.message), deduction=d, severity=severity, note=note,
                diff=short_diff(v.diff))
        for v, d, severity, note in zip(result.violations, scored.violation_deductions,
                                        scored.violation_severities, scored.violation_notes, strict=True)
    )
    log = GRADER_LOG if result.diagnostics.log or result.status == "error" else ""
    return Report(
        student_id=result.student_id,
        assignment=config.name,
        status=result.status,
        message=student_safe(result.message, 2000),
        score=scored.score,
        max_score=scored.max_score,
        points=scored.points,
        deduction=scored.deduction,
        groups=tuple(GroupRow(g.grade_id, g.score, g.max_score, g.manual, g.note)
                     for g in scored.groups.values()),
        tests=tests,
        violations=violations,
        deductions=tuple(DeductionRow(d.rule, d.count, d.raw, d.applied, d.waived)
                         for d in scored.deductions),
        overrides=tuple(scored.overrides),
        notes=tuple(student_safe(n, 500) for n in result.notes),
        submission=result.submission,
        grader=GraderInfo(version=__version__, sandbox=result.sandbox,
                          seconds=round(float(result.seconds), 3), key=result.key, log=log),
    )


# --- report.json ----------------------------------------------------------------------------


REPORT_SCHEMA = "report-v1.json"  # autograder/grading/schemas/: the versioned report.json schema


@functools.lru_cache(maxsize=1)
def report_schema() -> dict[str, Any]:
    """The JSON Schema of report.json (draft 2020-12), shipped with the package."""
    from importlib.resources import files

    return json.loads(files("autograder.grading").joinpath("schemas", REPORT_SCHEMA).read_text("utf-8"))


def validate_report(data: Mapping[str, Any]) -> None:
    """Raise jsonschema.ValidationError when `data` is not a report.json of this version."""
    import jsonschema

    jsonschema.validate(data, report_schema(), cls=jsonschema.Draft202012Validator)


def write_report_json(out_dir: str | Path, report: Report, validate: bool = False) -> Path:
    """OUT/<student_id>/report.json, atomically; `validate`: check it against the schema first
    (strict grading does, so the test suite checks every report it writes)."""
    data = report.to_json()
    if validate:
        validate_report(data)
    path = student_path(out_dir, report.student_id, "report.json")
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
    return path


def write_grader_log(out_dir: str | Path, result: GradeResult) -> Path | None:
    """OUT/<student_id>/grader.log (owner-only, like the reports) when grading went wrong or the
    hidden tests recorded their own tracebacks; None when there is nothing to say (a log left by
    an earlier run is then removed). For the staff only: it holds tracebacks and the student's
    captured output."""
    diagnostics = result.diagnostics
    path = student_path(out_dir, result.student_id, GRADER_LOG)
    if not diagnostics.log and result.status != "error":
        path.unlink(missing_ok=True)  # an earlier run's log no longer describes this report
        return None
    parts = [f"student {result.student_id}: status {result.status}",
             result.message, diagnostics.log]
    if diagnostics.output:
        parts.append("--- the student's output in the hidden tests ---\n" + diagnostics.output)
    # Student output and tracebacks quoting their text may carry terminal escapes (window
    # title, clipboard, clearing the screen) aimed at whoever `cat`s this file: neutralized.
    text = printable("\n\n".join(p for p in parts if p).rstrip(), keep="\n\t")
    atomic_write_text(path, text + "\n")
    return path


def read_report_json(out_dir: str | Path, student_id: str) -> dict[str, Any] | None:
    """The student's report.json, or None when missing or unreadable (then: grade again)."""
    try:
        path = student_path(out_dir, student_id, "report.json")
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # UnsafeIdError and JSONDecodeError are ValueErrors
        return None
    return data if isinstance(data, dict) and data.get("student_id") == student_id else None


# --- grades.csv -----------------------------------------------------------------------------


def group_ids(config: AssignmentConfig) -> list[str]:
    """The rubric's group columns: test groups then manual questions, in assignment.toml order."""
    return list(config.tests) + list(config.manual)


def violations_cell(report: Mapping[str, Any]) -> str:
    """`rule×count` per rule, `; `-separated, in report order (e.g. `cell-added×2; not-executed`)."""
    counts = Counter(v["rule"] for v in report.get("violations", []))
    return "; ".join(f"{rule}×{n}" if n > 1 else rule for rule, n in counts.items())


def _fmt(x: Any) -> str:
    if x is None:
        return ""
    return f"{float(x):g}"


def grades_rows(reports: Iterable[Mapping[str, Any]], config: AssignmentConfig) -> list[list[str]]:
    """Header + one row per student, sorted by student id.

    An errored student has an empty score (never a silent zero) and status `error` with the
    message; a manual question not graded yet is empty too.
    """
    gids = group_ids(config)
    header = ["student_id", "score", "max_score", *gids, "violations", "status", "message"]
    rows = [header]
    for r in sorted(reports, key=lambda r: str(r["student_id"])):
        error = r.get("status") == "error"
        groups = {g["grade_id"]: g for g in r.get("groups", [])}
        rows.append([
            str(r["student_id"]),
            "" if error else _fmt(r.get("score")),
            _fmt(r.get("max_score")),
            *("" if error else _fmt(groups.get(gid, {}).get("score")) for gid in gids),
            violations_cell(r),
            str(r.get("status", "")),
            " ".join(str(r.get("message", "")).split())[:300],
        ])
    return rows


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def csv_cell(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs (OWASP's CSV-injection rule): a cell that
    starts with `=`, `+`, `-`, `@`, a tab or a CR gets a leading `'`, unless it is a plain number."""
    if value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def write_csv(path: str | Path, rows: Iterable[Sequence[str]]) -> Path:
    """Rows as CSV, atomically, every cell neutralized with `csv_cell` (every CSV the kit writes
    goes through here: its cells carry student ids and messages)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([csv_cell(str(c)) for c in row] for row in rows)
    atomic_write_text(path, buf.getvalue())
    return Path(path)


def write_grades_csv(path: str | Path, reports: Iterable[Mapping[str, Any]], config: AssignmentConfig) -> Path:
    """OUT/grades.csv, atomically."""
    return write_csv(path, grades_rows(reports, config))


# --- HTML -------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _env():  # jinja2 is an instructor dependency: import it only when rendering
    """One environment per process: templates are compiled once, not once per student."""
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("autograder", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_feedback(report: Report, config: AssignmentConfig) -> str:
    """feedback.html for one student: self-contained (inline CSS, no links out), offline."""
    failed = [t for t in report.tests if t.status != "passed"]
    hints = {v.rule: RULE_HINTS.get(v.rule, "") for v in report.violations}
    return _env().get_template("feedback.html.j2").render(
        r=report, title=config.title, failed=failed, hints=hints, fmt=_fmt,
    )


def write_feedback(out_dir: str | Path, report: Report, config: AssignmentConfig) -> Path:
    """OUT/<student_id>/feedback.html, atomically."""
    path = student_path(out_dir, report.student_id, "feedback.html")
    atomic_write_text(path, render_feedback(report, config))
    return path


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def score_histogram(scores: Sequence[float], max_score: float) -> str:
    """A histogram of the class's scores as an embedded PNG (data: URL)."""
    from matplotlib.figure import Figure  # no pyplot: no global state, safe without a display

    fig = Figure(figsize=(6, 2.6))
    ax = fig.add_subplot()
    ax.hist(scores, bins=min(20, max(5, len(scores))), range=(0, max(max_score, 1e-9)),
            color="#4c72b0", edgecolor="white")
    ax.set_xlabel("score")
    ax.set_ylabel("students")
    ax.set_title(f"Scores (n={len(scores)}, max {max_score:g})")
    return _png(fig)


def pass_rate_chart(rates: Sequence[tuple[str, float]]) -> str:
    """Pass rate per test as a horizontal bar chart, embedded PNG."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 0.35 * max(len(rates), 1) + 0.8))
    ax = fig.add_subplot()
    names = [n for n, _ in rates][::-1]
    ax.barh(names, [100 * r for _, r in rates][::-1], color="#55a868")
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of graded students passing")
    ax.tick_params(axis="y", labelsize=7)
    return _png(fig)


def to_look_at(report: Mapping[str, Any]) -> list[str]:
    """Why a TA should open this submission by hand ([] when there is no reason)."""
    why = []
    if report.get("status") == "error":
        why.append("grader error: " + str(report.get("message", ""))[:200])
    elif report.get("status") == "failed":
        why.append("submission unusable: " + str(report.get("message", ""))[:200])
    rules = {v["rule"] for v in report.get("violations", [])}
    for rule, what in (("sandbox-violation", "possible cheating attempt"),
                       ("student-id-mismatch", "student id differs from the manifest"),
                       ("zip-manifest", "zip not made by the provided command")):
        if rule in rules:
            why.append(what)
    stuck = [t["name"] for t in report.get("tests", []) if t.get("status") in ("timeout", "error")]
    if stuck:
        why.append("tests timed out or crashed: " + ", ".join(stuck[:3]))
    if report.get("status") == "graded" and report.get("score", 0) == 0 and report.get("max_score"):
        why.append("score 0")
    why += [f"intake: {n}" for n in report.get("submission", {}).get("notes", [])]
    why += [f"grader: {n}" for n in report.get("notes", [])]
    if report.get("overrides"):
        why.append("TA override: " + "; ".join(report["overrides"]))
    return why


def summary_context(reports: Sequence[Mapping[str, Any]], config: AssignmentConfig) -> dict[str, Any]:
    """The numbers of summary.html, as plain data (tested without rendering)."""
    reports = sorted(reports, key=lambda r: str(r["student_id"]))
    graded = [r for r in reports if r.get("status") != "error"]
    status = Counter(str(r.get("status")) for r in reports)
    tests: dict[str, list[int]] = {}
    for r in graded:
        for t in r.get("tests", []):
            passed_total = tests.setdefault(t["name"], [0, 0])
            passed_total[0] += t.get("status") == "passed"
            passed_total[1] += 1
    rates = [(name, p / n) for name, (p, n) in tests.items() if n]
    rule_students: Counter[str] = Counter()
    rule_total: Counter[str] = Counter()
    for r in reports:
        rules = [v["rule"] for v in r.get("violations", [])]
        rule_total.update(rules)
        rule_students.update(set(rules))
    slowest = sorted(reports, key=lambda r: -float(r.get("grader", {}).get("seconds", 0.0)))[:10]
    scores = [float(r["score"]) for r in graded]
    return {
        "n": len(reports),
        "status": dict(status),
        "mean": sum(scores) / len(scores) if scores else 0.0,
        "scores": scores,
        "max_score": config.max_score,
        "pass_rates": rates,
        "violations": [(rule, rule_students[rule], rule_total[rule]) for rule, _ in rule_total.most_common()],
        "slowest": [(r["student_id"], float(r.get("grader", {}).get("seconds", 0.0))) for r in slowest],
        "look": [(r["student_id"], why) for r in reports if (why := to_look_at(r))],
        # the staff's tracebacks, one line per student whose grading left one (links relative
        # to summary.html: the log sits beside the student's report.json)
        "logs": [(r["student_id"], str(r.get("status", "")), f"{quote(str(r['student_id']))}/{log}")
                 for r in reports if (log := r.get("grader", {}).get("log"))],
    }


def render_summary(reports: Sequence[Mapping[str, Any]], config: AssignmentConfig) -> str:
    """summary.html: histogram, pass rate per test, violations per rule, slowest, to look at."""
    ctx = summary_context(reports, config)
    hist = score_histogram(ctx["scores"], config.max_score) if ctx["scores"] else ""
    rates = pass_rate_chart(ctx["pass_rates"]) if ctx["pass_rates"] else ""
    return _env().get_template("summary.html.j2").render(
        c=ctx, title=config.title, assignment=config.name, hist=hist, rates=rates,
        version=__version__,
    )


def write_summary(out_dir: str | Path, reports: Sequence[Mapping[str, Any]], config: AssignmentConfig) -> Path:
    path = Path(out_dir) / "summary.html"
    atomic_write_text(path, render_summary(reports, config))
    return path
