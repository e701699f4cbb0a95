"""`make demo`: the sample class of A4 is graded to the scores this table expects.

Each row says what the student did and what the kit must make of it. The solved notebook is
run once and cached in build/demo/cache/ (shared with `make demo`); grading the 14 students
takes seconds.
"""

from __future__ import annotations

import csv
import io

import pytest

from autograder.demo import STUDENTS, missing_parts, run_demo

# student -> (status, score out of 100 with the 20 manual points not graded yet, rule ids)
EXPECTED: dict[str, tuple[str, float, list[str]]] = {
    "s01": ("graded", 80.0, []),  # full marks (of the 80 automatic points)
    "s02": ("graded", 80.0, []),  # full marks, a second student: the same score
    "s03": ("graded", 65.0, []),  # no reg gradient on W1: nn_backward 9/20, nn_train 8/12
    "s04": ("graded", 78.333333, []),  # no max shift: the large-scores part of nn_loss
    "s05": ("graded", 62.0, []),  # no ReLU gate: nn_backward 6/20, nn_train 8/12
    "s06": ("graded", 79.0, ["outside-todo-modified"]),  # −1, the graft ignores the edit
    "s07": ("graded", 79.5, ["cell-added"]),  # −0.5
    "s08": ("graded", 75.0, ["forbidden-import"]),  # −5, even in a free cell
    "s09": ("graded", 79.0, ["not-executed"]),  # −1
    "s10": ("graded", 78.0, ["zip-manifest"]),  # −2: not made by `autograder submit`
    "s11": ("graded", 80.0, ["zip-structure"]),  # nested folder: a warning, graded anyway
    "s12": ("graded", 60.0, ["zip-structure"]),  # no model file: nn_best_model 0/20
    "s13": ("graded", 62.0, ["sandbox-violation"]),  # np.allclose patched: −10, predict 0
    "s14": ("graded", 72.0, []),  # __eq__ always True: does not cross the sandbox, 0 points
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    missing = missing_parts()
    if missing:
        pytest.fail("demo parts missing: " + "; ".join(missing))
    root = tmp_path_factory.mktemp("demo")
    return root, run_demo(root, jobs=2, stream=io.StringIO(), echo=lambda *_: None)


def test_the_demo_class_has_every_case_of_the_issue():
    assert len(STUDENTS) >= 12
    assert [s.sid for s in STUDENTS] == sorted(EXPECTED)


def test_demo_scores_match_the_table(demo):
    _root, run = demo
    got = {sid: (r["status"], r["score"], sorted({v["rule"] for v in r["violations"]}))
           for sid, r in run.reports.items()}
    assert set(got) == set(EXPECTED)
    for sid, (status, score, rules) in EXPECTED.items():
        assert got[sid][0] == status, sid
        assert got[sid][1] == pytest.approx(score, abs=1e-4), sid
        assert got[sid][2] == rules, sid


def test_demo_writes_the_reports_and_the_gradebook_agrees(demo):
    from autograder.gradebook import default_db_url, export_totals

    root, _run = demo
    out = root / "out"
    with (out / "grades.csv").open() as fh:
        rows = {r["student_id"]: r for r in csv.DictReader(fh)}
    assert set(rows) == set(EXPECTED)
    assert all((out / sid / "feedback.html").is_file() for sid in EXPECTED)
    assert "data:image/png;base64," in (out / "summary.html").read_text()
    totals = export_totals(default_db_url(root / "course"), "A4")
    assert {sid: round(t, 4) for sid, t in totals.items()} == {
        sid: round(float(r["score"]), 4) for sid, r in rows.items()}


def test_demo_says_what_is_missing_and_exits_0(monkeypatch, capsys):
    import autograder.demo as demo_module

    monkeypatch.setattr(demo_module, "missing_parts", lambda: ["the sandboxed hidden-test engine"])
    assert demo_module.main([]) == 0
    out = capsys.readouterr().out
    assert "not available yet" in out and "hidden-test engine" in out and "Nothing was graded" in out
