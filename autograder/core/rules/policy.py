"""How one rule id is scored (`[rules.<id>]` of assignment.toml): a leaf module, so the rule
classes, which carry their default policy, need nothing else of the configuration."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RulePolicy:
    """How one rule id is scored: severity and deduction in points, capped per rule."""

    severity: str = "error"  # "error" | "warning"
    deduction: float = 0.0  # points taken per violation
    cap: float | None = None  # at most this many points for this rule in total


# What a rule costs when assignment.toml does not list it.
WARNING_WORTH_NOTHING = RulePolicy(severity="warning", deduction=0.0)
