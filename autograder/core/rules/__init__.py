"""The policy rules, one small unit per rule id (docs/policy.md), registered in one list: `RULES`.

Each rule is a class with `rule_id` and `check(ctx) -> Iterable[Finding]` (see `base.py`);
`run_rules` applies the assignment's policy (severity, deduction) to what they find. Adding a rule
touches its own module and this list. Order: data flow (notebook, integrity, AST rules, execution).
"""

from __future__ import annotations

from collections.abc import Sequence

from autograder.core.config import RulePolicy
from autograder.core.rules.base import (
    CheckContext,
    Finding,
    Rule,
    Violation,
    collapse,
    to_violation,
)
from autograder.core.rules.calls import ForbiddenCall
from autograder.core.rules.cells import (
    CellAdded,
    CellDeleted,
    CellDuplicated,
    CellReordered,
    CellTypeChanged,
)
from autograder.core.rules.code import LockedCellModified, OutsideTodoModified, TodoMarkerDamaged
from autograder.core.rules.execution import NotExecuted, OutputsCleared
from autograder.core.rules.imports import ForbiddenImport
from autograder.core.rules.invalid import NotebookInvalid
from autograder.core.rules.loops import LoopInVectorized
from autograder.core.rules.names import UndefinedName

RULES: list[Rule] = [
    NotebookInvalid(),
    CellAdded(),
    CellDeleted(),
    CellReordered(),
    CellDuplicated(),
    CellTypeChanged(),
    LockedCellModified(),
    OutsideTodoModified(),
    TodoMarkerDamaged(),
    ForbiddenImport(),
    ForbiddenCall(),
    LoopInVectorized(),
    UndefinedName(),
    NotExecuted(),
    OutputsCleared(),
]

# The rules that compare the notebook with its release.
INTEGRITY_RULES = (
    "cell-added", "cell-deleted", "cell-reordered", "cell-duplicated", "cell-type-changed",
    "locked-cell-modified", "outside-todo-modified", "todo-marker-damaged",
)


def run_rules(ctx: CheckContext, rules: Sequence[Rule] | None = None) -> list[Violation]:
    """Run the rules in order; a notebook-invalid finding stops the check (nothing else is sound)."""
    out: list[Violation] = []
    for rule in RULES if rules is None else rules:
        try:
            found: list[Finding] = collapse(list(rule.check(ctx)))
        except Exception as exc:  # a rule must never turn a student's odd notebook into a traceback
            ctx.notes.append(f"{rule.rule_id}: could not be checked ({type(exc).__name__}: {exc})")
            continue
        policy = policy_of(ctx, rule.rule_id)
        out.extend(to_violation(rule.rule_id, finding, policy) for finding in found)
        if rule.rule_id == "notebook-invalid" and out:
            break
    return out


def policy_of(ctx: CheckContext, rule_id: str) -> RulePolicy:
    """The rule's policy from assignment.toml; a notebook that cannot be read is always an error."""
    if rule_id == "notebook-invalid" and rule_id not in ctx.config.rules:
        return RulePolicy(severity="error")
    return ctx.config.rule(rule_id)


def rule(rule_id: str) -> Rule:
    """The registered rule with this id."""
    for candidate in RULES:
        if candidate.rule_id == rule_id:
            return candidate
    raise KeyError(rule_id)


__all__ = ["RULES", "INTEGRITY_RULES", "CheckContext", "Finding", "Violation", "run_rules", "rule", "policy_of"]
