"""`make demo`: the sample classes of A4 and A2 are graded to the scores their tables expect.

Each row says what the student did and what the kit must make of it. Each solved notebook is
run once per test session (cached in the session's temporary folder: tests/conftest.py);
grading the 14 + 3 students takes seconds.
"""

from __future__ import annotations

import csv
import io

import pytest

from demo.classroom import (
    A2_EXPECTED,
    A2_STUDENTS,
    CLASSES,
    EXPECTED,
    STUDENTS,
    differences,
    run_demo,
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """(root, assignment -> grade run) of one demo built and graded under a temporary root."""
    root = tmp_path_factory.mktemp("demo")
    return root, run_demo(root, jobs=2, stream=io.StringIO(), echo=lambda *_: None)


def test_the_demo_class_has_every_case_of_the_issue():
    assert len(STUDENTS) >= 12
    assert [s.sid for s in STUDENTS] == sorted(EXPECTED)


def test_the_a2_class_has_a_full_marks_a_partial_and_a_violation_student():
    assert [s.sid for s in A2_STUDENTS] == sorted(A2_EXPECTED)
    scores = [score for _status, score, _rules in A2_EXPECTED.values()]
    rules = [rules for _status, _score, rules in A2_EXPECTED.values()]
    assert max(scores) > min(scores) and [] in rules and any(rules)


def test_the_demo_grades_a4_and_a2_with_distinct_student_ids():
    assert [c.assignment for c in CLASSES] == ["A4", "A2"]
    assert not {s.sid for s in STUDENTS} & {s.sid for s in A2_STUDENTS}


def test_demo_scores_match_the_table(demo):
    _root, runs = demo
    assert differences(runs["A4"]) == []


def test_demo_a2_scores_match_the_table(demo):
    _root, runs = demo
    assert differences(runs["A2"], A2_EXPECTED) == []


def class_totals(course, assignment: str, expected: dict) -> tuple[dict, dict]:
    """(the gradebook's totals of `assignment` for its class, those of everyone else): one
    course holds both classes, and nbgrader exports a student without a submission as 0."""
    from autograder.grading.gradebook import default_db_url, export_totals

    totals = {sid: round(t, 4) for sid, t in export_totals(default_db_url(course), assignment).items()}
    return ({sid: t for sid, t in totals.items() if sid in expected},
            {sid: t for sid, t in totals.items() if sid not in expected})


@pytest.mark.parametrize(("assignment", "expected"), [("A4", EXPECTED), ("A2", A2_EXPECTED)])
def test_demo_writes_the_reports_and_the_gradebook_agrees(demo, assignment, expected):
    root, _runs = demo
    out = root / assignment / "out"
    with (out / "grades.csv").open() as fh:
        rows = {r["student_id"]: r for r in csv.DictReader(fh)}
    assert set(rows) == set(expected)
    assert all((out / sid / "feedback.html").is_file() for sid in expected)
    assert "data:image/png;base64," in (out / "summary.html").read_text()
    mine, others = class_totals(root / "course", assignment, expected)
    assert mine == {sid: round(float(r["score"]), 4) for sid, r in rows.items()}
    assert set(others) == (set(EXPECTED) | set(A2_EXPECTED)) - set(expected)  # the other class
    assert set(others.values()) == {0.0}


def test_tests_cache_the_solved_runs_outside_the_checkout(tmp_path_factory):
    from demo import solution

    assert solution.CACHE.is_relative_to(tmp_path_factory.getbasetemp().parent)
    assert not solution.CACHE.resolve().is_relative_to(solution.REPO_ROOT.resolve())


def test_a_second_build_reuses_the_run_of_the_solved_notebook(demo):
    from demo import solution

    said = []
    again = solution.executed_solution("A4", demo[0] / "course", echo=said.append)
    assert len(said) == 1 and said[0].startswith("Solved A4 notebook: reusing the run in ")
    assert set(again.files) == {"nn_best_model.npz"}


def test_a_run_stored_twice_keeps_the_first_and_leaves_no_staging_folder(tmp_path):
    import nbformat

    from demo.solution import _store

    nb = nbformat.v4.new_notebook()
    _store(tmp_path / "key", nb, "x.ipynb", {"m.npz": b"first"})
    _store(tmp_path / "key", nb, "x.ipynb", {"m.npz": b"second"})
    assert (tmp_path / "key" / "m.npz").read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["key"]


class FakeRun:
    def __init__(self, reports):
        self.reports = reports


def expected_reports(expected=EXPECTED):
    return {sid: {"status": status, "score": score, "violations": [{"rule": r} for r in rules]}
            for sid, (status, score, rules) in expected.items()}


def test_differences_is_empty_when_every_student_matches():
    assert differences(FakeRun(expected_reports())) == []


def test_differences_names_a_student_with_another_score():
    reports = expected_reports()
    reports["s03"]["score"] = 70.0
    (line,) = differences(FakeRun(reports))
    assert line.startswith("s03: expected graded 65") and "got graded 70" in line


def test_differences_names_an_errored_student():
    reports = expected_reports()
    reports["s05"] = {"status": "error", "score": None, "violations": []}
    (line,) = differences(FakeRun(reports))
    assert line.startswith("s05:") and "got error None" in line


def test_differences_names_a_student_without_a_report():
    reports = expected_reports()
    del reports["s14"]
    assert differences(FakeRun(reports)) == ["s14: expected graded, but it has no report"]


def test_demo_exits_1_when_a_student_differs_from_the_table(monkeypatch, tmp_path, capsys):
    import demo.classroom as demo_module

    reports, a2_reports = expected_reports(), expected_reports(A2_EXPECTED)
    for r in [*reports.values(), *a2_reports.values()]:
        r["max_score"] = 100.0
    reports["s07"]["violations"] = []
    monkeypatch.setattr(demo_module, "run_demo",
                        lambda root, jobs: {"A4": FakeRun(reports), "A2": FakeRun(a2_reports)})
    monkeypatch.setattr("autograder.grading.grade.print_table", lambda run, config: None)
    monkeypatch.setattr("autograder.core.config.find_config", lambda name, course: None)
    assert demo_module.main(["--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "1 of 14 students did not get the expected outcome" in err and "s07:" in err
    assert "A2:" not in err  # the A2 class matched its table


def test_demo_exits_0_and_says_so_when_every_student_matches(monkeypatch, tmp_path, capsys):
    import demo.classroom as demo_module

    reports, a2_reports = expected_reports(), expected_reports(A2_EXPECTED)
    for r in [*reports.values(), *a2_reports.values()]:
        r["max_score"] = 100.0
    monkeypatch.setattr(demo_module, "run_demo",
                        lambda root, jobs: {"A4": FakeRun(reports), "A2": FakeRun(a2_reports)})
    monkeypatch.setattr("autograder.grading.grade.print_table", lambda run, config: None)
    monkeypatch.setattr("autograder.core.config.find_config", lambda name, course: None)
    assert demo_module.main(["--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.err == "" and "All 17 students (A4: 14, A2: 3) got the outcome" in captured.out
    assert "s15: full marks: graded 56/100" in captured.out


def test_demo_stops_before_building_when_the_sandbox_is_missing(monkeypatch, tmp_path, capsys):
    import autograder.grading.sandbox as sandbox
    import demo.classroom as demo_module

    def no_sandbox():
        raise sandbox.SandboxError("the sandbox for student code is not available: install bubblewrap")

    def must_not_build(*a, **k):
        raise AssertionError("the class was built")

    monkeypatch.setattr(sandbox, "preflight", no_sandbox)
    monkeypatch.setattr(demo_module, "run_demo", must_not_build)
    assert demo_module.main(["--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bubblewrap" in err


# --- formgrader on the demo course ----------------------------------------------------------


def formgrader_get(port: int, token: str, path: str):
    import json
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                     headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def formgrader(demo):
    """`make formgrader`'s server on the demo course: (port, token), stopped afterwards."""
    import secrets
    import subprocess
    import time
    import urllib.error

    from autograder.grading.formgrader import free_port, server_command, server_env

    root, _run = demo
    course = root / "course"
    port, token = free_port(0), secrets.token_hex(16)
    server = subprocess.Popen(server_command(course, port), cwd=course, env=server_env(token),
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300  # a wait for start-up on a busy machine, not a measure
        while True:
            if server.poll() is not None:
                pytest.fail(f"the server exited: {server.stderr.read()[-2000:]}")
            try:
                formgrader_get(port, token, "/api/status")
                break
            except (urllib.error.URLError, ConnectionError):
                if time.monotonic() > deadline:
                    pytest.fail("the server did not answer")
                time.sleep(1)
        yield port, token
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def test_formgrader_lists_a4_with_its_14_submissions_and_a2_with_its_3(formgrader):
    port, token = formgrader
    assignments = formgrader_get(port, token, "/formgrader/api/assignments")
    assert sorted(a["name"] for a in assignments) == ["A2", "A4"]
    counts = {a["name"]: a["num_submissions"] for a in assignments}
    assert counts == {"A4": len(STUDENTS), "A2": len(A2_STUDENTS)}
    submissions = formgrader_get(port, token, "/formgrader/api/submissions/A4")
    assert sorted(s["student"] for s in submissions) == sorted(EXPECTED)
    assert all(s["autograded"] for s in submissions)


def test_formgrader_offers_the_inline_questions_for_manual_grading(formgrader):
    port, token = formgrader
    notebooks = formgrader_get(port, token, "/formgrader/api/submitted_notebooks/A4/two_layer_net")
    assert len(notebooks) == len(STUDENTS)
    assert all(nb["needs_manual_grade"] for nb in notebooks)


def test_formgrader_never_shows_a_negative_written_score(formgrader):
    port, token = formgrader
    submissions = formgrader_get(port, token, "/formgrader/api/submissions/A4")
    assert all(s["written_score"] >= 0 for s in submissions)
    assert {s["student"]: s["code_score"] for s in submissions}["s13"] == pytest.approx(EXPECTED["s13"][1])


def formgrader_put(port: int, token: str, path: str, body: dict):
    import json
    import urllib.request

    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=json.dumps(body).encode(),
                                     method="PUT", headers={"Authorization": f"token {token}",
                                                            "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_a_manual_grade_entered_in_formgrader_reaches_the_kits_grades(formgrader, demo):
    """Last in this module: it adds 5 manual points to s01 (the regrade keeps everything equal)."""
    from autograder.grading.grade import grade_class

    port, token = formgrader
    root, runs = demo
    run = runs["A4"]
    notebooks = formgrader_get(port, token, "/formgrader/api/submitted_notebooks/A4/two_layer_net")
    s01 = next(nb for nb in notebooks if nb["student"] == "s01")
    grades = formgrader_get(port, token, f"/formgrader/api/grades?submission_id={s01['id']}")
    question = next(g for g in grades if g["name"] == "inline_relu_gate")
    formgrader_put(port, token, f"/formgrader/api/grade/{question['id']}",
                   {"manual_score": 5, "extra_credit": 0})
    again = grade_class("A4", root / "A4" / "submissions", root / "A4" / "out", course=root / "course",
                        jobs=1, stream=io.StringIO())
    assert again.reports["s01"]["score"] == pytest.approx(run.reports["s01"]["score"] + 5)
    with (root / "A4" / "out" / "grades.csv").open() as fh:
        rows = {r["student_id"]: float(r["score"]) for r in csv.DictReader(fh)}
    mine, _others = class_totals(root / "course", "A4", EXPECTED)
    assert mine == {sid: round(s, 4) for sid, s in rows.items()}
