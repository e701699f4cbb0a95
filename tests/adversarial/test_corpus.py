"""The adversarial corpus, graded for real: every case of cases.py gets its expected outcome.

Two `autograder grade A4 ... --jobs 2` runs (the command an operator types, in a fresh process
so the worker's environment is exactly what the run says): one with the audit hook on (the
mistakes, zips, models, formats, archives and the hook's own catches) and one with it OFF
(`--no-worker-guard`: tampering and resource abuse, where containment must hold without
it). Each run holds an honest control that must get full automatic marks in the same batch.

Host traces looked for after the runs: a marker file per case in a world-writable host folder
(never created), a world-readable host file, the course's hidden tests and solutions and an
environment variable of the grader (their secret strings never appear in anything the grader
wrote: OUT, autograded/, the gradebook, the score log, the command's output), and files in the
host's /tmp.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adversarial.cases import (
    ASSIGNMENT,
    CASES,
    CORPUS_RESULT,
    FULL,
    SECRET_ENV,
    SECRET_ENV_NAME,
    SECRET_FILE,
    SECRET_HIDDEN,
    SECRET_SOLUTION,
    SECRETS,
    Case,
    Host,
    Kit,
)
from autograder.core.config import RULE_IDS
from demo import classroom as demo

CALL_TIMEOUT_S = 3  # the course copy's [limits]: an infinite loop costs 3 s, not 10
RUN_TIMEOUT_S = 600


@dataclass
class Run:
    """One `autograder grade` run of part of the corpus."""

    cases: list[Case]
    course: Path
    out: Path
    reports: dict[str, dict[str, Any]]
    csv_rows: dict[str, dict[str, str]]
    output: str
    seconds: float


# ---------------------------------------------------------------------------------------------
# Building the class


def make_course(root: Path) -> Path:
    """A copy of the A4 course with a secret in its hidden tests and a short call timeout."""
    course = demo.demo_course(root)
    sol = course / "solutions" / ASSIGNMENT
    tests = sol / "hidden_tests.py"  # first line: a thief reading the start gets the secret
    tests.write_text(f"# {SECRET_HIDDEN}\n" + tests.read_text(encoding="utf-8"), encoding="utf-8")
    nb_path = sol / demo.NOTEBOOK  # the secret rides in metadata: the reference is unchanged
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    nb["metadata"]["adversarial"] = SECRET_SOLUTION
    nb_path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    toml = sol / "assignment.toml"
    text, n = re.subn(r"call_timeout_s = \d+", f"call_timeout_s = {CALL_TIMEOUT_S}",
                      toml.read_text(encoding="utf-8"))
    assert n == 1, "solutions/A4/assignment.toml has no [limits] call_timeout_s any more"
    toml.write_text(text, encoding="utf-8")
    for folder in (course, course / "solutions", sol):  # as an operator should (docs/sandbox.md)
        folder.chmod(0o700)
    return course


def make_host(root: Path) -> Host:
    root.mkdir()
    root.chmod(0o1777)  # anyone may write here: only the sandbox's mounts keep a worker out
    secret = root / "secret.txt"
    secret.write_text(f"{SECRET_FILE}\n", encoding="utf-8")
    secret.chmod(0o644)
    return Host(root=root, secret=secret, tmp_name=f"ag-adversarial-{os.getpid()}-{root.stat().st_ino}")


def build(cases: list[Case], root: Path, host: Host, solved: Any, model: bytes) -> Kit:
    course = make_course(root / "course")
    subs = root / "submissions"
    subs.mkdir(parents=True)
    kit = Kit(solved, model, course, subs, root / "work", host)
    for case in cases:
        case.build(kit, case.sid)
    return kit


def grade(kit: Kit, cases: list[Case], guard: bool) -> Run:
    """`autograder grade A4 SUBS --out OUT --jobs 2 --course COURSE` in a fresh process."""
    out = kit.course.parent / "out"
    env = {**os.environ, SECRET_ENV_NAME: SECRET_ENV}
    cmd = [sys.executable, "-m", "autograder", "grade", ASSIGNMENT, str(kit.subs), "--out", str(out),
           "--jobs", "2", "--course", str(kit.course), *([] if guard else ["--no-worker-guard"])]
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    seconds = time.perf_counter() - start
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    reports = {}
    for case in cases:
        path = out / case.sid / "report.json"
        reports[case.sid] = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    with (out / "grades.csv").open(newline="", encoding="utf-8") as fh:
        rows = {r["student_id"]: r for r in csv.DictReader(fh)}
    return Run(cases, kit.course, out, reports, rows, proc.stdout + proc.stderr, seconds)


# ---------------------------------------------------------------------------------------------
# Fixtures: the class is built and graded once per session


@pytest.fixture(scope="session")
def solved() -> tuple[Any, bytes]:
    """The solved, run A4 notebook and its best model (cached for the session: demo.solution)."""
    with tempfile.TemporaryDirectory(prefix="ag-adversarial-") as tmp:
        course = demo.demo_course(Path(tmp))
        solution = demo.executed_solution(demo.ASSIGNMENT, course, echo=lambda *_: None)
        return solution.notebook, solution.files[demo.MODEL]


@pytest.fixture(scope="session")
def host() -> Iterator[Host]:
    """The host folder lives in the host's /tmp, world-traversable, not under pytest's 0700
    tmp_path: so only the sandbox's mounts (not a private parent folder) keep a worker out."""
    parent = Path(tempfile.mkdtemp(prefix="ag-adversarial-"))
    parent.chmod(0o755)
    made = make_host(parent / "host")
    try:
        yield made
    finally:
        shutil.rmtree(parent, ignore_errors=True)
        for leftover in Path("/tmp").glob(f"{made.tmp_name}*"):  # only if containment failed
            leftover.unlink(missing_ok=True)


def _graded(guard: bool, tmp_path_factory, host: Host, solved: tuple[Any, bytes]) -> Run:
    cases = [c for c in CASES if c.guard == guard]
    root = tmp_path_factory.mktemp("guard-on" if guard else "guard-off")
    kit = build(cases, root, host, *solved)
    return grade(kit, cases, guard)


@pytest.fixture(scope="session")
def run_on(tmp_path_factory, host, solved) -> Run:
    return _graded(True, tmp_path_factory, host, solved)


@pytest.fixture(scope="session")
def run_off(tmp_path_factory, host, solved) -> Run:
    return _graded(False, tmp_path_factory, host, solved)


def run_of(case: Case, request: pytest.FixtureRequest) -> Run:
    return request.getfixturevalue("run_on" if case.guard else "run_off")


# ---------------------------------------------------------------------------------------------
# Judging one case


def outcome_problems(case: Case, report: dict[str, Any]) -> list[str]:
    """Where the report differs from the case's Expected (empty: caught as expected)."""
    exp = case.expected
    if not report:
        return ["no report.json: the submission was lost"]
    problems = []
    if report["status"] != exp.status:
        problems.append(f"status {report['status']!r} ({report.get('message', '')[:200]}), "
                        f"expected {exp.status!r}")
    flagged = {v["rule"] for v in report["violations"]}
    if not exp.rules <= flagged:
        problems.append(f"rules {sorted(exp.rules - flagged)} not flagged (got {sorted(flagged)})")
    if exp.exact and flagged != set(exp.rules):
        problems.append(f"unexpected rules {sorted(flagged - exp.rules)}")
    tests = {t["name"]: t for t in report["tests"]}
    for name, status in exp.tests.items():
        got = tests.get(name, {}).get("status")
        ok = got not in (None, "passed") if status == "!passed" else got == status
        if not ok:
            problems.append(f"test {name}: {got!r}, expected {status!r} "
                            f"({tests.get(name, {}).get('message', '')[:200]})")
    score = float(report.get("score") or 0.0)
    if score > exp.cap + 1e-6:
        problems.append(f"score {score:g} above its cap {exp.cap:g}")
    if score < exp.floor - 1e-6:
        problems.append(f"score {score:g} below {exp.floor:g}: honest work lost points")
    return problems


def trace_problems(case: Case, run: Run, host: Host) -> list[str]:
    """Host traces of this case: its marker files, /tmp files, and secrets in what it produced."""
    problems = [f"left {p} on the host" for p in host.traces(case.sid)]
    mine = [run.out / case.sid, run.course / "autograded" / case.sid]
    for folder in mine:
        for path in (folder.rglob("*") if folder.is_dir() else []):
            if path.is_file():
                data = path.read_bytes()
                problems += [f"{secret!r} in {path}" for secret in SECRETS if secret.encode() in data]
    return problems


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.sid)
def test_case_gets_its_expected_outcome_and_leaves_no_trace(case: Case, request, host) -> None:
    run = run_of(case, request)
    report = run.reports.get(case.sid, {})
    caught = outcome_problems(case, report)
    traces = trace_problems(case, run, host)
    # For the summary table (conftest.py): on the test's report, which pytest-xdist's workers
    # send back to the process that prints it (a module-level dict would stay in the worker).
    request.node.user_properties.append((CORPUS_RESULT, (case.sid, {
        "caught": not caught, "contained": not traces,
        "control": case.kind == "control" and not caught,
        "seconds": float(report.get("grader", {}).get("seconds", 0.0) or 0.0)})))
    assert not caught + traces, f"{case.sid} ({case.what}):\n  " + "\n  ".join(caught + traces)


# ---------------------------------------------------------------------------------------------
# The whole runs


@pytest.mark.parametrize("guard", [True, False], ids=["hook-on", "hook-off"])
def test_every_submission_is_in_grades_csv_and_nothing_is_lost(guard, request) -> None:
    run = request.getfixturevalue("run_on" if guard else "run_off")
    assert set(run.csv_rows) == {c.sid for c in run.cases}
    assert all(r["status"] in ("graded", "failed") for r in run.csv_rows.values()), \
        [(sid, r["status"], r["message"]) for sid, r in run.csv_rows.items() if r["status"] == "error"]
    assert "Traceback" not in run.output


def test_no_secret_anywhere_the_grader_writes(run_on, run_off) -> None:
    """OUT, autograded/, the gradebook, the score log and the command's output of both runs."""
    for run in (run_on, run_off):
        assert not [s for s in SECRETS if s in run.output]
        for root in (run.out, run.course / "autograded", run.course / "grading"):
            for path in root.rglob("*"):
                if path.is_file():
                    data = path.read_bytes()
                    assert not [s for s in SECRETS if s.encode() in data], path
        db = (run.course / "gradebook.db").read_bytes()
        assert not [s for s in SECRETS if s.encode() in db]


def test_no_trace_on_the_host_after_both_runs(run_on, run_off, host) -> None:
    assert host.traces() == []
    assert not Path("/pwned").exists() and not (run_on.out.parent / "pwned").exists()


def test_the_containment_run_really_had_the_audit_hook_off(run_on, run_off) -> None:
    """The hook turns refused operations into sandbox-violation: none may appear with it off,
    while the same attacks with it on are flagged (else the 'contained' column proves nothing)."""
    off = [sid for sid, r in run_off.reports.items()
           if any(v["rule"] == "sandbox-violation" for v in r.get("violations", []))]
    assert off == []
    on = {sid for sid, r in run_on.reports.items()
          if any(v["rule"] == "sandbox-violation" for v in r.get("violations", []))}
    assert {"sbx-open-secrets", "sbx-numpy-io", "sbx-ctypeslib"} <= on


def test_both_runs_used_the_strongest_sandbox(run_on, run_off) -> None:
    levels = {r["grader"]["sandbox"] for run in (run_on, run_off) for r in run.reports.values()
              if r.get("status") == "graded"}
    assert levels == {"bwrap"} if os.geteuid() == 0 else levels <= {"bwrap", "process"}


def test_the_honest_controls_get_full_automatic_marks(run_on, run_off) -> None:
    for run, sid in ((run_on, "ok-honest"), (run_off, "ok-honest-off")):
        report = run.reports[sid]
        assert report["score"] == FULL and report["violations"] == []
        assert all(t["status"] == "passed" for t in report["tests"])


def test_the_output_flood_is_capped_in_the_reports(run_off) -> None:
    for name in ("report.json", "feedback.html"):
        assert (run_off.out / "res-output-flood" / name).stat().st_size < 512 * 1024


def test_every_rule_id_is_expected_at_least_twice() -> None:
    counts = Counter(rule for case in CASES for rule in case.expected.rules)
    assert {rule: counts[rule] for rule in RULE_IDS if counts[rule] < 2} == {}


def test_every_rule_id_was_flagged_at_least_twice(run_on, run_off) -> None:
    counts = Counter(v["rule"] for run in (run_on, run_off) for r in run.reports.values()
                     for v in r.get("violations", []))
    assert {rule: counts[rule] for rule in RULE_IDS if counts[rule] < 2} == {}


def test_the_corpus_has_at_least_30_cases_of_every_kind_the_issue_lists() -> None:
    kinds = Counter(c.kind for c in CASES)
    assert len(CASES) >= 30
    assert {"control", "mistake", "zip", "model", "format", "archive", "tamper", "resource",
            "sandbox"} <= set(kinds)
