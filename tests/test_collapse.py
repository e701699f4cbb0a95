"""A flood of one rule's findings is listed briefly and charged exactly as before."""

from __future__ import annotations

from autograder.core.rules.base import MAX_LISTED, Finding, collapse


def test_a_flood_of_findings_is_folded_into_one_entry_standing_for_the_rest() -> None:
    found = [Finding(f"Cell {i}: added", cell=i) for i in range(1, 1001)]
    folded = collapse(found)
    assert len(folded) == MAX_LISTED
    assert folded[:-1] == found[:MAX_LISTED - 1]
    assert folded[-1].count == 1000 - (MAX_LISTED - 1)
    assert sum(f.count for f in folded) == 1000
    assert "981 more findings" in folded[-1].message


def test_a_few_findings_are_listed_as_they_are() -> None:
    found = [Finding("x", cell=1), Finding("y", cell=2)]
    assert collapse(found) == found


def test_a_folded_entry_is_charged_as_all_the_findings_it_stands_for() -> None:
    from autograder.core.config import parse_config
    from autograder.core.score import charged_findings

    config = parse_config({"assignment": {"name": "T", "notebooks": ["t.ipynb"]},
                           "rules": {"cell-added": {"severity": "warning", "deduction": 0.5}},
                           "private": {"seed": 1}})
    one = {"rule": "cell-added", "message": "m", "cell": 3}
    charges = charged_findings([one, {**one, "cell": 4, "count": 7}], config)
    assert [c.points for c in charges] == [0.5, 3.5]
