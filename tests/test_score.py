"""Score = rubric points − capped deductions, never below 0; TA overrides on top."""

from __future__ import annotations

import json

import pytest

from autograder.core.config import parse_config
from autograder.core.score import score_submission
from autograder.grading.overrides import (
    add_override,
    atomic_write_text,
    load_overrides,
    log_score_change,
    overrides_path,
    read_score_log,
)


def make_config(total_cap: float | None = 6.0):
    data = {
        "assignment": {"name": "AX", "notebooks": ["nb.ipynb"]},
        "tests": {"loss": 10, "grad": 6},
        "manual": {"inline_q1": 4},
        "rules": {
            "cell-added": {"severity": "error", "deduction": 1.0, "cap": 2.0},
            "forbidden-import": {"severity": "error", "deduction": 5.0},
            "not-executed": {"severity": "warning", "deduction": 0.0},
            "outside-todo-modified": {"severity": "error", "deduction": 2.0, "cap": 4.0},
        },
    }
    if total_cap is not None:
        data["deductions"] = {"total_cap": total_cap}
    return parse_config(data)


def tst(grade_id: str, score: float, max_score: float, status: str = "passed") -> dict:
    return {"name": f"t_{grade_id}_{score}", "grade_id": grade_id, "score": score,
            "max_score": max_score, "status": status, "message": ""}


def viol(rule: str) -> dict:
    return {"rule": rule, "severity": "error", "message": "x", "cell": 3}


FULL = [tst("loss", 5, 5), tst("loss", 5, 5), tst("grad", 6, 6)]


def test_full_marks_without_violations_is_the_auto_part_of_the_rubric():
    r = score_submission(FULL, [], make_config())
    assert (r.points, r.deduction, r.score, r.max_score) == (16.0, 0.0, 16.0, 20.0)
    assert r.groups["inline_q1"].score is None and r.groups["inline_q1"].manual


def test_group_points_are_clipped_to_the_rubric():
    r = score_submission([tst("loss", 8, 5), tst("loss", 8, 5)], [], make_config())
    assert r.groups["loss"].score == 10.0


def test_group_without_any_test_scores_zero_and_says_so():
    r = score_submission([tst("loss", 10, 10)], [], make_config())
    assert r.groups["grad"].score == 0.0
    assert "no test" in r.groups["grad"].note


def test_nan_test_score_never_becomes_points():
    r = score_submission([tst("loss", float("nan"), 10)], [], make_config())
    assert r.groups["loss"].score == 0.0


def test_deduction_per_violation_is_capped_per_rule():
    r = score_submission(FULL, [viol("cell-added")] * 3, make_config())
    assert r.deduction == 2.0
    assert r.violation_deductions == [1.0, 1.0, 0.0]
    (d,) = r.deductions
    assert (d.rule, d.count, d.raw, d.applied) == ("cell-added", 3, 3.0, 2.0)


def test_total_cap_limits_all_rules_together_in_rule_id_order():
    vs = [viol("forbidden-import"), viol("cell-added"), viol("cell-added")]
    r = score_submission(FULL, vs, make_config(total_cap=6.0))
    # cell-added comes before forbidden-import in RULE_IDS: 2 + min(5, 4) = 6
    assert r.deduction == 6.0
    assert r.violation_deductions == [4.0, 1.0, 1.0]
    assert sum(r.violation_deductions) == r.deduction


def test_score_never_goes_below_zero():
    r = score_submission([tst("loss", 1, 10)], [viol("forbidden-import")], make_config(None))
    assert r.points == 1.0 and r.deduction == 5.0 and r.score == 0.0


def test_rules_the_toml_does_not_name_are_free_warnings():
    r = score_submission(FULL, [viol("cell-deleted"), viol("not-executed")], make_config())
    assert r.deduction == 0.0 and r.score == 16.0
    assert {d.rule: d.severity for d in r.deductions} == {"cell-deleted": "warning", "not-executed": "warning"}


def test_unknown_rule_id_costs_nothing_and_is_kept():
    r = score_submission(FULL, [viol("future-rule")], make_config())
    assert r.deduction == 0.0 and r.deductions[0].rule == "future-rule"


def test_waiver_removes_a_rules_deductions_and_is_described():
    from autograder.core.score import Override

    o = Override("s1", "waive", "forbidden-import", None, "allowed by email", by="ta")
    r = score_submission(FULL, [viol("forbidden-import")], make_config(), [o])
    assert r.deduction == 0.0 and r.score == 16.0
    assert r.overrides == ["forbidden-import deductions waived by ta: allowed by email"]


def test_group_override_sets_a_manual_question_within_its_points():
    from autograder.core.score import Override

    o = Override("s1", "group", "inline_q1", 9.0, "good answer")
    r = score_submission(FULL, [], make_config(), [o])
    assert r.groups["inline_q1"].score == 4.0 and r.score == 20.0


def test_score_override_replaces_the_final_score():
    from autograder.core.score import Override

    o = Override("s1", "score", "", 12.5, "regraded by hand")
    r = score_submission(FULL, [viol("forbidden-import")], make_config(), [o])
    assert r.score == 12.5


def test_same_inputs_give_the_same_score_exactly():
    tests = [tst("loss", 1 / 3, 5), tst("loss", 2 / 3, 5), tst("grad", 0.1 + 0.2, 6)]
    a = score_submission(tests, [viol("cell-added")], make_config())
    b = score_submission(list(reversed(tests)), [viol("cell-added")], make_config())
    assert a.to_dict() == b.to_dict()


def test_overrides_survive_in_their_own_file_and_replace_same_target(tmp_path):
    add_override(tmp_path, "AX", "s1", "group", "inline_q1", 3, "first look")
    add_override(tmp_path, "AX", "s1", "group", "inline_q1", 4, "second look", by="ta")
    add_override(tmp_path, "AX", "s2", "waive", "cell-added", reason="jupyter glitch")
    got = load_overrides(tmp_path, "AX")
    assert [o.value for o in got["s1"]] == [4.0]
    assert got["s2"][0].kind == "waive"
    assert overrides_path(tmp_path, "AX").parent.name == "AX"


def test_override_without_reason_is_refused(tmp_path):
    with pytest.raises(ValueError, match="reason"):
        add_override(tmp_path, "AX", "s1", "score", value=3, reason=" ")


def test_broken_overrides_file_is_an_error_naming_the_file(tmp_path):
    path = overrides_path(tmp_path, "AX")
    path.parent.mkdir(parents=True)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="overrides.json"):
        load_overrides(tmp_path, "AX")


def test_score_log_records_changes_with_cause_and_skips_no_change(tmp_path):
    assert log_score_change(tmp_path, "AX", "s1", None, 10.0, "first grade")
    assert log_score_change(tmp_path, "AX", "s1", 10.0, 10.0, "regrade (--force)") is None
    assert log_score_change(tmp_path, "AX", "s1", 10.0, 12.0, "override: x")
    log = read_score_log(tmp_path, "AX")
    assert [(e["old"], e["new"], e["cause"]) for e in log] == [
        (None, 10.0, "first grade"), (10.0, 12.0, "override: x")]


def test_atomic_write_leaves_no_temp_file_and_replaces(tmp_path):
    target = tmp_path / "d" / "f.json"
    atomic_write_text(target, json.dumps({"a": 1}))
    atomic_write_text(target, json.dumps({"a": 2}))
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["f.json"]


def test_atomic_write_gives_an_owner_only_file_in_an_owner_only_folder(tmp_path):
    """Reports hold student data, and at the uid sandbox level student code runs as another
    uid on this host: what the grader writes is 0600 in a 0700 folder, whatever the umask."""
    target = tmp_path / "out" / "r.json"
    atomic_write_text(target, "{}")
    assert target.stat().st_mode & 0o777 == 0o600
    assert target.parent.stat().st_mode & 0o777 == 0o700
