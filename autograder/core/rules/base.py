"""What every policy rule shares: the finding it yields, the violation it becomes, its context.

A rule is one small unit (STYLE.md, after nbgrader's preprocessors): a class with a `rule_id`
(docs/policy.md) and `check(ctx) -> Iterable[Finding]`. It knows nothing about severities or points:
the runner turns each finding into a `Violation` with the policy of `assignment.toml`
(`AssignmentConfig.rule`). The registered list is `autograder.core.rules.RULES`.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from autograder.core.rules.policy import WARNING_WORTH_NOTHING, RulePolicy

if TYPE_CHECKING:  # the configuration imports the rule registry: no import cycle at run time
    # and, for the notebook type, no nbformat (nor its jsonschema) in every importer of the
    # configuration, such as the grader before its first dispatch (docs/benchmarks.md)
    from nbformat import NotebookNode

    from autograder.core.config import AssignmentConfig


@dataclass(frozen=True)
class Finding:
    """What a rule saw, before the policy of assignment.toml is applied.

    message: one line, starting with "Cell N, line L:" when it has a place, ending with what to do.
    cell/line: 1-based, as Jupyter's "cell N" (all cells counted) and the line inside that cell.
    detail: optional extra lines (e.g. a short diff), printed indented under the message.
    warning_only: the finding can never be more than a warning worth nothing (e.g. an edited
    comment), whatever the rule's policy says.
    function: the graded function the finding is about, when there is one (a loop in a
    loop-free function): the grader's own findings about it are then the same mistake.
    count: how many findings this one stands for (`collapse` folds a flood of one rule's
    findings into one entry that is charged as all of them).
    """

    message: str
    cell: int | None = None
    line: int | None = None
    detail: str = ""
    warning_only: bool = False
    function: str = ""
    count: int = 1


@dataclass
class Violation:
    """One policy violation as it appears in the self-check and in report.json."""

    rule: str
    severity: str  # "error" | "warning"
    message: str
    cell: int | None = None  # 1-based, as Jupyter numbers cells
    line: int | None = None  # 1-based line inside that cell
    deduction: float = 0.0
    detail: str = ""
    warning_only: bool = False  # a free warning whatever the rule's policy (Finding.warning_only)
    function: str = ""  # the graded function it is about (Finding.function)
    count: int = 1  # how many findings it stands for (Finding.count)

    def to_dict(self) -> dict[str, Any]:
        """The violation dict of report.json (plus `line`, and `detail` if any)."""
        out: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "cell": self.cell,
            "line": self.line,
            "deduction": self.deduction,
        }
        if self.detail:
            out["detail"] = self.detail
        if self.warning_only:  # the scorer keeps it free (autograder.core.score.finding_cost)
            out["warning_only"] = True
        if self.function:  # one mistake with the grader's findings about it (score.same_mistake)
            out["function"] = self.function
        if self.count != 1:  # charged as this many findings (score.charged_findings)
            out["count"] = self.count
        return out

    def __str__(self) -> str:
        return f"{self.severity:<7} {self.rule}: {self.message}"


def to_violation(rule_id: str, finding: Finding, policy: RulePolicy) -> Violation:
    """Apply a rule's policy (severity, deduction) to one finding, as the scorer does."""
    from autograder.core.score import policy_cost  # the scorer reads the configuration

    severity, deduction = policy_cost(policy, finding.warning_only)
    deduction *= finding.count
    return Violation(
        rule=rule_id,
        severity=severity,
        message=finding.message,
        cell=finding.cell,
        line=finding.line,
        deduction=deduction,
        detail=finding.detail,
        warning_only=finding.warning_only,
        function=finding.function,
        count=finding.count,
    )


MAX_LISTED = 20  # findings of one rule listed one by one; the rest are folded into one entry


def collapse(found: list[Finding]) -> list[Finding]:
    """At most MAX_LISTED findings: the first MAX_LISTED - 1, then one that stands for the rest
    (and is charged as all of them), so 30,000 added cells make a report of a few lines."""
    if len(found) <= MAX_LISTED:
        return found
    rest = found[MAX_LISTED - 1:]
    cells = sorted({f.cell for f in rest if f.cell is not None})
    shown = ", ".join(map(str, cells[:10])) + (", …" if len(cells) > 10 else "")
    summary = Finding(
        f"…and {len(rest)} more findings like the ones above" + (f" (cells {shown})" if cells else "")
        + ": fix the first ones, then run the check again.",
        cell=rest[0].cell, warning_only=all(f.warning_only for f in rest),
        count=sum(f.count for f in rest))
    return [*found[:MAX_LISTED - 1], summary]


def where(cell: int | None, line: int | None = None) -> str:
    """The "Cell 7, line 12: " prefix of a message ("" when there is no place)."""
    if cell is None:
        return ""
    return f"Cell {cell}, line {line}: " if line else f"Cell {cell}: "


def cell_list(cells: list[int]) -> str:
    """[3, 4, 5, 9] -> "3-5, 9" (how the execution rules list cells)."""
    parts: list[str] = []
    run: list[int] = []
    for number in sorted(set(cells)):
        if run and number == run[-1] + 1:
            run.append(number)
            continue
        if run:
            parts.append(_run_text(run))
        run = [number]
    if run:
        parts.append(_run_text(run))
    return ", ".join(parts)


def _run_text(run: list[int]) -> str:
    return str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}"


@dataclass
class CheckContext:
    """Everything the rules look at: the student notebook, its release, the config.

    The expensive views (cell matching, the graft, the graded module, the student-written code)
    are computed once, on first use, and shared by all rules.
    """

    student: NotebookNode
    release: NotebookNode
    config: AssignmentConfig
    label: str = "notebook.ipynb"  # the file name shown in messages
    version: str = ""
    invalid: list[str] = field(default_factory=list)  # notebook-invalid messages, if any
    notes: list[str] = field(default_factory=list)  # remarks that are no violation (e.g. fallbacks)
    # One traceback text per rule that raised (prefixed with its id): the grader must not take a
    # crashed rule for a clean notebook (the score is not sound); the self-check keeps a note.
    crashes: list[str] = field(default_factory=list)
    # The prepared notebook (autograder.core.prepared.CheckedNotebook), when there is one: its
    # matching, graft and graded module are then the ones the rules read, not recomputed, so
    # the rules analyse the very module the grader runs.
    prepared: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, checked: Any) -> CheckContext:
        """The context of a prepared notebook (autograder.core.prepared.CheckedNotebook)."""
        return cls(checked.student, checked.release, checked.config, label=checked.label,
                   version=checked.version, prepared=checked)

    @property
    def assignment(self) -> str:
        return self.config.name

    def rescue_hint(self) -> str:
        """The command that repairs this notebook, ready to paste."""
        stem = Path(self.label).stem
        return (
            f"`autograder rescue {shlex.quote(self.label)} --assignment {self.assignment} "
            f"-o {shlex.quote(stem + '_rescued.ipynb')}`"
        )

    @cached_property
    def matching(self) -> Any:
        """Student cells matched to release cells (autograder.core.integrity.Matching)."""
        if self.prepared is not None:
            return self.prepared.matching
        from autograder.core.matching import match_cells

        return match_cells(self.student.cells, self.release.cells)

    @cached_property
    def graft(self) -> Any:
        """The student's TODO bodies grafted into the release cells (autograder.core.graft.Graft)."""
        if self.prepared is not None:
            return self.prepared.graft
        from autograder.core.graft import graft

        return graft(self.student, self.release, self.matching)

    @cached_property
    def graded(self) -> Any:
        """The graded module with its line map (autograder.core.graft.GradedModule)."""
        if self.prepared is not None:
            return self.prepared.graded
        from autograder.core.graft import graded_module

        return graded_module(self.graft)

    @cached_property
    def units(self) -> list[Any]:
        """The code the student wrote, per cell (autograder.core.integrity.StudentCode)."""
        from autograder.core.integrity import student_code

        return student_code(self.student, self.release, self.matching)

    @cached_property
    def aliases(self) -> dict[str, str]:
        """Local name -> dotted module path over all the student's code (`xp` -> `numpy`)."""
        from autograder.core.rules.astutil import collect_aliases

        return collect_aliases([unit.tree for unit in self.units if unit.tree is not None])


class RuleInfo:
    """What every rule class carries, the one definition the registries are derived from.

    rule_id: the stable id (docs/policy.md); hint: the one action shown under its violations
    in the feedback; default_policy: what a finding costs when assignment.toml does not list the
    rule; integrity: the rule compares the notebook with its release (rescue repairs those).
    """

    rule_id: ClassVar[str]
    hint: ClassVar[str]
    default_policy: ClassVar[RulePolicy] = WARNING_WORTH_NOTHING
    integrity: ClassVar[bool] = False


class Rule(Protocol):
    """One policy rule on a notebook: a stable rule id, its hint and a check over the context."""

    rule_id: ClassVar[str]
    hint: ClassVar[str]
    default_policy: ClassVar[RulePolicy]

    def check(self, ctx: CheckContext) -> Iterable[Finding]: ...
