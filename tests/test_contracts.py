"""The typed contracts between the grading steps: each survives its JSON form unchanged, and
report.json keeps its documented shape (the versioned schema)."""

from __future__ import annotations

import json

import jsonschema
import pytest

from autograder.core.config import parse_config
from autograder.core.contracts import (
    Diagnostics,
    GradeResult,
    GradeTask,
    Report,
    Submission,
    TestOutcome,
    Violation,
)
from autograder.grading.report import build_report, validate_report

CONFIG = parse_config({
    "assignment": {"name": "AX", "notebooks": ["nb.ipynb"]},
    "tests": {"loss": 10},
    "manual": {"inline_q1": 4},
    "rules": {"cell-added": {"severity": "error", "deduction": 1.0}},
})

VIOLATION = Violation(rule="cell-added", severity="error", message="Cell 9 was added", cell=9, line=2,
                      deduction=1.0, file="nb.ipynb", function="svm_loss", diff="+ x", count=3)
TEST = TestOutcome(name="loss_matches", grade_id="loss", score=10.0, max_score=10.0, status="passed")
SUBMISSION = Submission(file="AX_s1.zip", sha256="ab", submitted_at="2026-01-01T10:00:00+00:00",
                        late=False, lms="canvas", notes=("renamed",), id_source="roster",
                        manifest_student_id="s1", other_attempts=("AX_s1-1.zip",))


def result(**kw) -> GradeResult:
    base = dict(student_id="s1", tests=(TEST,), violations=(VIOLATION,), sandbox="bwrap", seconds=1.5,
                key="sha256:k", submission=SUBMISSION, notes=("time budget",))
    base.update(kw)
    return GradeResult(**base)


@pytest.mark.parametrize("value", [VIOLATION, TEST, SUBMISSION, Diagnostics(log="tb", output="hi")],
                         ids=["violation", "test", "submission", "diagnostics"])
def test_a_contract_survives_its_json_form(value):
    again = type(value).from_json(json.loads(json.dumps(value.to_json())))
    assert again == value


def test_a_task_survives_its_json_form():
    task = GradeTask(student_id="s1", path="/x/AX_s1.zip", sha256="ab", assignment="AX", course="/c",
                     key="k", violations=(VIOLATION,), unidentified="", submission=SUBMISSION,
                     sandbox="bwrap")
    assert GradeTask.from_json(json.loads(json.dumps(task.to_json()))) == task


def test_a_grade_result_survives_its_json_form():
    value = result(notebooks={"nb.ipynb": "{}"}, rss_kib=12, diagnostics=Diagnostics(log="Traceback"))
    assert GradeResult.from_json(json.loads(json.dumps(value.to_json()))) == value


def test_a_report_survives_its_json_form():
    report = build_report(result(), CONFIG)
    assert Report.from_json(json.loads(json.dumps(report.to_json()))) == report


def test_a_producers_detail_becomes_the_diff():
    assert Violation.from_json({"rule": "cell-added", "detail": "- a\n+ b"}).diff == "- a\n+ b"


def test_a_violation_writes_the_five_documented_keys_even_when_empty():
    assert Violation(rule="not-executed").to_json() == {
        "rule": "not-executed", "severity": "warning", "message": "", "cell": None, "deduction": 0.0}


@pytest.mark.parametrize("status", ["graded", "failed", "error"])
def test_every_status_of_report_validates_against_the_schema(status):
    diagnostics = Diagnostics(log="Traceback ...") if status == "error" else Diagnostics()
    report = build_report(result(status=status, message="why", diagnostics=diagnostics), CONFIG)
    validate_report(report.to_json())


def test_a_report_with_everything_optional_validates():
    data = build_report(result(diagnostics=Diagnostics(log="internal")), CONFIG).to_json()
    data["autograded_dropped"] = {"nb.ipynb": {"output text/html": 2}}
    assert data["grader"]["log"] == "grader.log"
    validate_report(data)


def test_the_schema_refuses_a_key_nothing_documents():
    data = build_report(result(), CONFIG).to_json()
    data["violations"][0]["expected"] = 1
    with pytest.raises(jsonschema.ValidationError):
        validate_report(data)


def test_the_schema_refuses_a_report_without_a_documented_key():
    data = build_report(result(), CONFIG).to_json()
    del data["grader"]["sandbox"]
    with pytest.raises(jsonschema.ValidationError):
        validate_report(data)
