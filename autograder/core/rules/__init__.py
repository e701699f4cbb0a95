"""The policy rules, one small class per rule id (docs/policy.md), registered in one list.

Each rule class carries its `rule_id`, its `hint` (the action shown under its violations) and
its `default_policy` (`base.RuleInfo`); a notebook rule also has `check(ctx) -> Iterable[Finding]`.
`CATALOG` lists every rule class in pipeline order, and everything else is derived from it:
`RULE_IDS`, `RULE_HINTS`, `DEFAULT_POLICIES`, `INTEGRITY_RULES` and `RULES` (the notebook rules
that `run_rules` runs, applying the assignment's policy to what they find). Adding a rule touches
its own module and `CATALOG`. Order: data flow (zip, notebook, integrity, AST rules, execution,
models, the sandbox).
"""

from __future__ import annotations

import traceback
from collections.abc import Sequence

from autograder.core.rules.base import (
    CheckContext,
    Finding,
    Rule,
    RuleInfo,
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
from autograder.core.rules.pipeline import (
    ModelInvalid,
    SandboxViolation,
    StudentIdMismatch,
    ZipManifest,
    ZipStructure,
)
from autograder.core.rules.policy import RulePolicy

# The notebook rules, in the order they run.
NOTEBOOK_RULES: tuple[type[RuleInfo], ...] = (
    NotebookInvalid,
    CellAdded,
    CellDeleted,
    CellReordered,
    CellDuplicated,
    CellTypeChanged,
    LockedCellModified,
    OutsideTodoModified,
    TodoMarkerDamaged,
    ForbiddenImport,
    ForbiddenCall,
    LoopInVectorized,
    UndefinedName,
    NotExecuted,
    OutputsCleared,
)
# Every rule class, in pipeline order: the one registry.
CATALOG: tuple[type[RuleInfo], ...] = (
    ZipStructure, ZipManifest, StudentIdMismatch, *NOTEBOOK_RULES, ModelInvalid, SandboxViolation,
)

# Every rule id (docs/policy.md), in pipeline order. Reports, assignment.toml and tests use these.
RULE_IDS: tuple[str, ...] = tuple(cls.rule_id for cls in CATALOG)
# One action per rule id, shown under its violations in the feedback.
RULE_HINTS: dict[str, str] = {cls.rule_id: cls.hint for cls in CATALOG}
# What a finding of each rule costs when assignment.toml does not list the rule.
DEFAULT_POLICIES: dict[str, RulePolicy] = {cls.rule_id: cls.default_policy for cls in CATALOG}
# The rules that compare the notebook with its release.
INTEGRITY_RULES: tuple[str, ...] = tuple(cls.rule_id for cls in NOTEBOOK_RULES if cls.integrity)
# The notebook rules, ready to run.
RULES: list[Rule] = [cls() for cls in NOTEBOOK_RULES]  # type: ignore[misc]  # each has check()


def run_rules(ctx: CheckContext, rules: Sequence[Rule] | None = None) -> list[Violation]:
    """Run the rules in order; a notebook-invalid finding stops the check (nothing else is sound)."""
    out: list[Violation] = []
    for rule in RULES if rules is None else rules:
        try:
            found: list[Finding] = collapse(list(rule.check(ctx)))
        except Exception as exc:  # a rule must never turn a student's odd notebook into a traceback
            ctx.notes.append(f"{rule.rule_id}: could not be checked ({type(exc).__name__}: {exc})")
            ctx.crashes.append(f"{rule.rule_id}:\n{traceback.format_exc()}")
            continue
        policy = policy_of(ctx, rule.rule_id)
        out.extend(to_violation(rule.rule_id, finding, policy) for finding in found)
        if rule.rule_id == "notebook-invalid" and out:
            break
    return out


def policy_of(ctx: CheckContext, rule_id: str) -> RulePolicy:
    """The rule's policy from assignment.toml, else the rule class's default policy."""
    if rule_id not in DEFAULT_POLICIES:
        raise KeyError(f"unknown rule id {rule_id!r}")
    return ctx.config.rules.get(rule_id, DEFAULT_POLICIES[rule_id])


def rule(rule_id: str) -> Rule:
    """The registered rule with this id."""
    for candidate in RULES:
        if candidate.rule_id == rule_id:
            return candidate
    raise KeyError(rule_id)


__all__ = [
    "CATALOG", "DEFAULT_POLICIES", "INTEGRITY_RULES", "NOTEBOOK_RULES", "RULES", "RULE_HINTS", "RULE_IDS",
    "CheckContext", "Finding", "RuleInfo", "RulePolicy", "Violation", "policy_of", "rule", "run_rules",
]
