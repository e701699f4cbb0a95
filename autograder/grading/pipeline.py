"""One student's grading steps, in a pool worker: a `GradeTask` in, a `GradeResult` out.

intake (safe unzip, structure, manifest) → prepare + check (one graft, integrity + rules) → hidden tests in
the sandbox (engine). `grade_one` never raises (outside strict mode): a submission that cannot go
further is `failed` with the reason; a crash of the grader itself (a step or a rule that raises)
is `error`, with the traceback in the result's diagnostics, which the parent writes to
OUT/<id>/grader.log. In strict mode (the test suite) such a crash is re-raised instead, so a
grader bug fails the tests rather than becoming one student's status.

The steps are an object with `run(task, work, found)` (`Pipeline`); `STEPS` is the real one.
Tests inject another (a stand-in for check/graft/engine) through `grade_class(pipeline=...)`.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Protocol

from autograder.core.config import AssignmentConfig, find_config, solution_dir
from autograder.core.contracts import (
    Diagnostics,
    GradeResult,
    GradeTask,
    TestOutcome,
    Violation,
)

HIDDEN_TESTS = "hidden_tests.py"

# Re-raise a grader crash instead of recording it as the student's `error` status. Off in
# production; tests/conftest.py turns it on for the suite (a crashing rule must fail a test).
STRICT = False


class StepFailed(Exception):
    """The submission cannot go further (status `failed`); the message says why."""


class GraderCrash(Exception):
    """A part of the grader failed without raising here (a rule crash the self-check recorded);
    the message is the recorded traceback."""


@dataclass
class Found:
    """What the steps found so far for one student: filled as they go, so a crash keeps it."""

    step: str = "start"
    violations: list[Violation] = field(default_factory=list)
    tests: list[TestOutcome] = field(default_factory=list)
    sandbox: str = ""
    notebooks: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # for the student (report.json `notes`)
    submission_notes: list[str] = field(default_factory=list)  # about the file (intake, release)
    log: list[str] = field(default_factory=list)  # for the staff only (grader.log)
    output: str = ""  # the student's captured output in the hidden tests


class Pipeline(Protocol):
    """The steps of one student's grading; picklable (it travels to the pool's workers)."""

    def run(self, task: GradeTask, work: Path, found: Found) -> None:
        """Grade `task` using the scratch folder `work`; fill `found`; raise StepFailed when the
        submission cannot go further."""


_CACHE: dict[tuple[str, str], tuple[ModuleType, ModuleType]] = {}


def trusted_modules(config: AssignmentConfig, course: Path) -> tuple[ModuleType, ModuleType]:
    """(hidden tests module, reference module), loaded once per worker process."""
    key = (config.name, str(course))
    if key not in _CACHE:
        from autograder.core.module import load_trusted_module, module_source
        from autograder.core.notebook import read_notebook
        from autograder.grading.hidden import load_tests_module

        sol = solution_dir(config.name, course)
        tests = load_tests_module(sol / HIDDEN_TESTS)
        cells = [c for nb in config.notebooks for c in read_notebook(sol / nb).cells]
        ref = load_trusted_module(module_source(cells), f"reference_{config.name}")
        _CACHE[key] = (tests, ref)
    return _CACHE[key]


def staged_files(files: Mapping[str, Path], dest: Path) -> Path:
    """The submission's files under their expected names in one folder (a nested folder or a
    renamed file in the zip is a zip-structure warning, never a lost model)."""
    dest.mkdir(parents=True, exist_ok=True)
    for name, path in files.items():
        shutil.copyfile(path, dest / name)
    return dest


def _as_submitted(message: str, private_copy: Path, submitted: str | Path, name: str) -> str:
    """Name the file as the student and the TA know it (`A4_s01.zip/two_layer_net.ipynb`),
    not as the grader's private, already deleted, extracted copy."""
    return message.replace(str(private_copy), f"{Path(submitted).name}/{name}")


@dataclass(frozen=True)
class StudentPipeline:
    """The real steps: intake → check → graft → engine."""

    def run(self, task: GradeTask, work: Path, found: Found) -> None:
        from autograder.core.submission_zip import extract_submission

        course = Path(task.course)
        config = find_config(task.assignment, course)
        found.step = "intake"
        if task.unidentified:  # nobody's grade: not graded, listed for review
            raise StepFailed(task.unidentified)
        intake = extract_submission(task.path, work / "submission", config)
        found.violations += [Violation.from_json(v) for v in intake.violations]
        if not intake.ok:
            raise StepFailed(intake.message)

        from autograder.core.prepared import prepare_notebook, run_checks
        from autograder.core.releases import Unusable

        modules = []
        for name in config.notebooks:
            path = intake.files[name]
            found.step = "check"
            found.notebooks[name] = path.read_text(encoding="utf-8", errors="replace")
            try:  # one parse, one release lookup, one graft: the rules and the engine share it
                checked = prepare_notebook(path, config.name, course)
            except Unusable as exc:
                message = _as_submitted(str(exc), path, task.path, name)
                found.violations.append(Violation(rule="notebook-invalid", severity="error",
                                                  message=message, file=name))
                raise StepFailed(message) from None
            rules = run_checks(checked)
            if rules.crashes:  # a rule that raised: no deduction would be sound (GraderCrash)
                raise GraderCrash("\n".join(rules.crashes))
            for v in rules.violations:
                data = v.to_dict()
                data.setdefault("file", name)
                data["message"] = _as_submitted(str(data.get("message", "")), path, task.path, name)
                found.violations.append(Violation.from_json(data))
            found.submission_notes += [f"{name}: {n}" for n in rules.notes]
            invalid = [v for v in rules.violations if v.rule == "notebook-invalid"]
            if invalid:
                raise StepFailed(_as_submitted(invalid[0].message, path, task.path, name))
            found.step = "graft"
            modules.append(checked.graded)  # the very module the rules analysed

        found.step = "engine"
        from autograder.grading.engine import grade_module
        from autograder.grading.measure import joined_where

        tests_module, ref_module = trusted_modules(config, course)
        # `where` maps a line of the joined module to the student's cell and line, so what the
        # worker finds while the code runs (a rebound name, a measured loop) names its place
        result = grade_module("\n".join(m.source for m in modules), config, tests_module, ref_module,
                              staged_files(intake.files, work / "files"), sandbox=task.sandbox,
                              guard=task.guard, where=joined_where(modules))
        found.tests = [TestOutcome.from_json(t) for t in result.tests]
        found.violations += [Violation.from_json(v) for v in result.violations]
        found.sandbox = result.sandbox
        found.notes = [str(n) for n in result.notes]  # e.g. the time budget, host litter
        found.log += [str(line) for line in result.log]  # the hidden tests' own tracebacks
        found.output = result.output


STEPS: Pipeline = StudentPipeline()


def _batch_level(sandbox: str) -> str:
    """The sandbox level this batch grades at, for a report whose student code never ran (its
    zip or notebook was unusable): report.json's `grader.sandbox` is always a level."""
    from autograder.grading.sandbox import SandboxError, choose_level

    try:
        return choose_level(sandbox)
    except SandboxError:
        return ""


def _peak_rss_kib() -> int:
    """Peak resident memory of this worker and of the sandboxes it waited for (KiB on Linux;
    pool workers are children of the fork server, so the parent cannot see them itself)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return 0
    return max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def grade_one(task: GradeTask, pipeline: Pipeline | None = None, strict: bool | None = None) -> GradeResult:
    """Grade one submission in this process (pool worker entry point).

    Never raises, except in strict mode (`strict`, default `STRICT`), where a grader crash is
    re-raised. `pipeline`: the steps (default `STEPS`).
    """
    strict = STRICT if strict is None else strict
    start = time.perf_counter()
    found = Found(violations=list(task.violations))
    status, message = "graded", ""
    work = Path(tempfile.mkdtemp(prefix=f"autograder-{task.assignment}-"))
    try:
        (pipeline or STEPS).run(task, work, found)
    except StepFailed as exc:
        status, message = "failed", str(exc)
        found.sandbox = found.sandbox or _batch_level(task.sandbox)
    except BaseException as exc:  # a grader bug costs this student an error status, not the batch
        if isinstance(exc, KeyboardInterrupt) or strict:
            raise
        status, message = "error", _error_message(found.step, exc)
        found.log.insert(0, f"grader error in step {found.step}:\n{traceback.format_exc()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    submission = replace(task.submission, notes=task.submission.notes + tuple(found.submission_notes))
    return GradeResult(
        student_id=task.student_id, status=status, message=message, tests=tuple(found.tests),
        violations=tuple(found.violations), sandbox=found.sandbox,
        seconds=time.perf_counter() - start, key=task.key, submission=submission,
        notes=tuple(found.notes), notebooks=dict(found.notebooks), rss_kib=_peak_rss_kib(),
        diagnostics=Diagnostics(log="\n\n".join(found.log), output=found.output))


def _error_message(step: str, exc: BaseException) -> str:
    """One line for the staff: the step, the exception and where it was raised (file:line)."""
    if isinstance(exc, GraderCrash):
        return f"grader error in step {step}: a rule crashed (see grader.log)"
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" at {Path(where.filename).name}:{where.lineno}" if where else ""
    return f"grader error in step {step}: {type(exc).__name__}: {exc}{at}"


def error_result(task: GradeTask, message: str, log: str = "") -> GradeResult:
    """The result of a student whose worker process itself died (or whose results could not
    be saved): status `error`, nothing graded."""
    return GradeResult(student_id=task.student_id, status="error", message=message,
                       violations=task.violations, key=task.key, submission=task.submission,
                       diagnostics=Diagnostics(log=log or message))
