"""Score = rubric points − capped deductions, never below 0; TA overrides on top (docs/grading.md).

Pure functions, no I/O (the override store and the score log are grading's:
autograder.grading.overrides), so a regrade of the same results always gives the same score and
the tests can state the arithmetic exactly.

The order is fixed and documented in docs/grading.md:

1. group points: each test group (grade_id of `[tests]`) earns the sum of its tests' scores,
   clipped to the group's points; a group no test reported on earns 0 and says so;
2. TA overrides of a group (`kind="group"`) replace that group's points;
3. deductions: what each finding costs is decided here and only here (`finding_cost`): the
   rule's severity and deduction from `assignment.toml` (a rule it does not list is a warning
   worth 0), except that a finding the checker marked `warning_only` (an edited comment, cells
   run out of order) is a free warning whatever the rule says. A finding is charged once, whichever
   rules it triggers (`same_mistake`): findings at the same cell and line, or about the same
   function, form one mistake, charged at its most expensive finding, the others free. Then the
   charges are summed per rule id and capped per rule, then capped in total (rules in RULE_IDS
   order, so the cap is deterministic); a TA waiver (`kind="waive"`) removes a rule's deductions;
4. score = max(0, points − deductions); a TA override of the total (`kind="score"`) replaces it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from autograder.core.config import RULE_IDS, AssignmentConfig, RulePolicy

# Every score is rounded so that float noise never makes two identical regrades differ.
DIGITS = 6
OVERRIDE_KINDS = ("group", "waive", "score")


def _round(x: float) -> float:
    return round(float(x) + 0.0, DIGITS) + 0.0  # + 0.0 turns -0.0 into 0.0


@dataclass(frozen=True)
class Override:
    """A TA's decision, stored apart from the automatic scores (survives --force).

    kind "group": `target` is a grade_id (a test group or a manual question), `value` its points;
    kind "waive": `target` is a rule id, its deductions are waived (`value` unused);
    kind "score": `target` is "", `value` the final score.
    """

    student_id: str
    kind: str
    target: str
    value: float | None
    reason: str
    by: str = ""
    at: str = ""

    def describe(self) -> str:
        who = f" by {self.by}" if self.by else ""
        if self.kind == "waive":
            return f"{self.target} deductions waived{who}: {self.reason}"
        if self.kind == "group":
            return f"{self.target} set to {self.value:g}{who}: {self.reason}"
        return f"score set to {self.value:g}{who}: {self.reason}"


@dataclass
class GroupScore:
    """One test group (or manual question) of the rubric."""

    grade_id: str
    score: float | None  # None: not graded yet (manual questions before a TA grades them)
    max_score: float
    manual: bool = False
    tests: int = 0
    passed: int = 0
    note: str = ""


@dataclass
class RuleDeduction:
    """The deductions of one rule id: raw sum, after the rule cap, after the total cap."""

    rule: str
    severity: str
    count: int
    raw: float
    applied: float
    waived: bool = False


@dataclass
class ScoreResult:
    """Everything a report needs about the arithmetic, in plain types."""

    points: float  # sum of the groups' points before deductions
    deduction: float  # total points taken, after caps and waivers
    score: float
    max_score: float
    groups: dict[str, GroupScore]
    deductions: list[RuleDeduction]
    violation_deductions: list[float]  # per input violation, in input order; sums to `deduction`
    overrides: list[str] = field(default_factory=list)  # descriptions of the overrides applied
    # per input violation: its severity (finding_cost) and why it costs less than its rule's
    # deduction ("" when it does not)
    violation_severities: list[str] = field(default_factory=list)
    violation_notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def group_points(tests: Iterable[Mapping[str, Any]], config: AssignmentConfig) -> dict[str, GroupScore]:
    """Points per rubric group from the tests (report.json form), clipped to the group's points.

    Manual questions (`[manual]`) start ungraded (score None). A test naming a grade_id that the
    rubric does not know is ignored here: the engine reports it, the rubric decides the points.
    """
    groups: dict[str, GroupScore] = {
        gid: GroupScore(gid, 0.0, float(pts)) for gid, pts in config.tests.items()
    }
    for gid, pts in config.manual.items():
        groups[gid] = GroupScore(gid, None, float(pts), manual=True, note="graded by hand")
    seen: set[str] = set()
    for test in tests:
        gid = str(test.get("grade_id", ""))
        group = groups.get(gid)
        if group is None or group.manual:
            continue
        seen.add(gid)
        score = float(test.get("score") or 0.0)
        if not math.isfinite(score):  # a NaN from a broken test must never become points
            score = 0.0
        group.score = (group.score or 0.0) + max(score, 0.0)
        group.tests += 1
        group.passed += int(test.get("status") == "passed")
    for gid, group in groups.items():
        if group.manual:
            continue
        group.score = _round(min(group.score or 0.0, group.max_score))
        if gid not in seen:
            group.note = "no test ran for this group"
    return groups


def finding_cost(rule: str, config: AssignmentConfig, warning_only: bool = False) -> tuple[str, float]:
    """(severity, points per finding) of one finding: the one place that decides what it costs.

    `assignment.toml`'s `[rules.<id>]` decides (a rule it does not list is a warning worth 0, and
    an unknown rule id costs nothing); a finding the checker marked warning-only is a warning
    worth 0 whatever the rule's policy says (docs/policy.md).
    """
    if rule not in RULE_IDS:
        return "warning", 0.0
    return policy_cost(config.rule(rule), warning_only)


def policy_cost(policy: RulePolicy, warning_only: bool = False) -> tuple[str, float]:
    """(severity, points per finding) under one rule's policy; the self-check uses it too, so
    `autograder check` and the grader never disagree about a finding."""
    if warning_only:
        return "warning", 0.0
    return policy.severity, float(policy.deduction)


def same_mistake(violations: Sequence[Mapping[str, Any]]) -> list[int]:
    """For each violation, the index of the first violation of its mistake (itself if none).

    Two findings are the same mistake when they point at the same place (same file, cell and
    line) or name the same function (`function`, e.g. a loop found statically and measured in the
    worker): `np.vectorize` on one line is a forbidden call and a loop in a loop-free function, but
    one mistake. Connected findings form one group (a union-find over those keys).
    """
    parent = list(range(len(violations)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first_with: dict[tuple[Any, ...], int] = {}
    for index, v in enumerate(violations):
        keys = []
        if v.get("cell") is not None and v.get("line") is not None:
            keys.append(("at", v.get("file"), v.get("cell"), v.get("line")))
        if v.get("function"):  # one graded module for all notebooks: a name is unique in it
            keys.append(("function", v.get("function")))
        for key in keys:
            if key in first_with:
                a, b = find(first_with[key]), find(index)
                parent[max(a, b)] = min(a, b)
            else:
                first_with[key] = index
    return [find(i) for i in range(len(violations))]


@dataclass(frozen=True)
class Charge:
    """What one finding is charged before the caps, and why when it is less than its rule's."""

    severity: str
    points: float
    note: str = ""  # shown to the student next to the finding when it is not charged


# The guard's refusal as the failing test reports it, and the module a static finding names.
_REFUSED_IMPORT = re.compile(r"\bimport ([A-Za-z_]\w*) \(allowed imports")
_NAMED_MODULE = re.compile(r"`(?:import|from)\s+([A-Za-z_]\w*)")


def refused_imports(tests: Iterable[Mapping[str, Any]]) -> set[str]:
    """Modules whose import the worker refused in a hidden test that did not pass."""
    return {
        match.group(1)
        for t in tests if t.get("status") != "passed"
        for match in _REFUSED_IMPORT.finditer(str(t.get("message", "")))
    }


def charged_findings(
    violations: Sequence[Mapping[str, Any]],
    config: AssignmentConfig,
    tests: Iterable[Mapping[str, Any]] = (),
) -> list[Charge]:
    """Per violation, what it is charged before the caps (one mistake, one charge).

    * `finding_cost` decides the points of each finding;
    * a `forbidden-import` whose import the sandbox refused while a hidden test ran, and that
      test did not pass, is charged by the points that test lost, not by a deduction as well
      (as `undefined-name`: the code could not run, so it gained nothing);
    * the findings of one mistake (`same_mistake`) are charged once, at the most expensive one.
    """
    refused = refused_imports(tests)
    out: list[Charge] = []
    for v in violations:
        rule = str(v.get("rule", ""))
        severity, points = finding_cost(rule, config, bool(v.get("warning_only")))
        points *= max(1, int(v.get("count", 1) or 1))  # a folded flood is charged as all of it
        note = ""
        named = _NAMED_MODULE.search(str(v.get("message", "")))
        if rule == "forbidden-import" and points and named and named.group(1) in refused:
            points, note = 0.0, ("not deducted: the grader refused this import, so the tests of the "
                                 "function that needs it failed, and that already cost their points")
        out.append(Charge(severity, points, note))
    groups: dict[int, list[int]] = {}
    for index, root in enumerate(same_mistake(violations)):
        groups.setdefault(root, []).append(index)
    for members in groups.values():
        charged = [i for i in members if out[i].points > 0]
        if len(charged) < 2:
            continue
        keep = max(charged, key=lambda i: (out[i].points, -i))  # the most expensive, then the first
        for i in charged:
            if i != keep:
                rule = violations[keep].get("rule", "")
                out[i] = Charge(out[i].severity, 0.0,
                                f"not deducted again: the same mistake is charged under {rule}")
    return out


def rule_deductions(
    violations: Iterable[Mapping[str, Any]],
    config: AssignmentConfig,
    waived: Iterable[str] = (),
    tests: Iterable[Mapping[str, Any]] = (),
) -> tuple[list[RuleDeduction], list[float]]:
    """Deductions per rule id (capped per rule, then in total) and per violation.

    Each finding costs what `charged_findings` says (free warnings and the repeats of one
    mistake cost 0). The per-violation amounts are what the report shows next to each violation:
    the rule's applied total is spread over its violations in order, so they add up exactly.
    """
    violations = list(violations)
    waived = set(waived)
    charges = charged_findings(violations, config, tests)
    by_rule: dict[str, list[int]] = {}
    for index, v in enumerate(violations):
        by_rule.setdefault(str(v.get("rule", "")), []).append(index)

    per_violation = [0.0] * len(violations)
    result: list[RuleDeduction] = []
    remaining = config.total_deduction_cap  # None: no total cap
    # Unknown rule ids (a newer checker than the config) cost nothing but are still reported.
    ordered = [r for r in RULE_IDS if r in by_rule] + sorted(r for r in by_rule if r not in RULE_IDS)
    for rule in ordered:
        indices = by_rule[rule]
        policy = config.rule(rule) if rule in RULE_IDS else None
        raw = sum(charges[i].points for i in indices)
        applied = raw if policy is None or policy.cap is None else min(raw, policy.cap)
        if rule in waived:
            applied = 0.0
        if remaining is not None:
            applied = min(applied, remaining)
            remaining -= applied
        applied = _round(max(applied, 0.0))
        result.append(
            RuleDeduction(
                rule=rule,
                severity=policy.severity if policy else "warning",
                count=len(indices),
                raw=_round(raw),
                applied=applied,
                waived=rule in waived,
            )
        )
        left = applied
        for i in indices:  # spread the applied amount over the rule's violations, in order
            take = _round(min(charges[i].points, left))
            per_violation[i] = take
            left = _round(left - take)
    return result, per_violation


def score_submission(
    tests: Iterable[Mapping[str, Any]],
    violations: Iterable[Mapping[str, Any]],
    config: AssignmentConfig,
    overrides: Iterable[Override] = (),
) -> ScoreResult:
    """The score of one submission: rubric points − capped deductions, never below 0.

    `tests` and `violations` are in report.json form. `overrides` are this student's
    TA overrides, applied in the order documented at the top of this module.
    """
    overrides = list(overrides)
    tests = list(tests)
    violations = list(violations)
    groups = group_points(tests, config)
    applied: list[str] = []
    for o in overrides:
        if o.kind == "group" and o.target in groups and o.value is not None:
            group = groups[o.target]
            group.score = _round(min(max(float(o.value), 0.0), group.max_score))
            group.note = f"set by TA: {o.reason}"
            applied.append(o.describe())
    waived = [o.target for o in overrides if o.kind == "waive"]
    applied += [o.describe() for o in overrides if o.kind == "waive"]
    deductions, per_violation = rule_deductions(violations, config, waived, tests)
    charges = charged_findings(violations, config, tests)

    points = _round(sum(g.score or 0.0 for g in groups.values()))
    total = _round(sum(d.applied for d in deductions))
    score = _round(max(points - total, 0.0))
    for o in overrides:
        if o.kind == "score" and o.value is not None:
            score = _round(max(float(o.value), 0.0))
            applied.append(o.describe())
    return ScoreResult(
        points=points,
        deduction=total,
        score=score,
        max_score=_round(config.max_score),
        groups=groups,
        deductions=deductions,
        violation_deductions=per_violation,
        overrides=applied,
        violation_severities=[c.severity for c in charges],
        violation_notes=[c.note for c in charges],
    )
