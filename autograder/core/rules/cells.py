"""Integrity of the cell list: added, deleted, moved, duplicated, type-changed.

All five read the one matching of student cells to release cells (`autograder.core.integrity`), so
one inserted cell is exactly one `cell-added` and never "every later cell changed".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from autograder.core.markers import grade_id, source_of
from autograder.core.rules.base import CheckContext, Finding, RuleInfo, where


def describe(cell: object) -> str:
    """A short handle for a release cell: its grade_id and first line."""
    first = next((line.strip() for line in source_of(cell).split("\n") if line.strip()), "")
    first = first if len(first) <= 50 else first[:47] + "..."
    gid = grade_id(cell)
    return f"`{gid}`: {first!r}" if gid else repr(first)


def _after(ctx: CheckContext, r: int) -> int:
    """The student's cell number at which release cell r belongs (1-based)."""
    for prev in range(r - 1, -1, -1):
        s = ctx.matching.to_student.get(prev)
        if s is not None:
            return s + 2
    return 1


class CellAdded(RuleInfo):
    """A student cell that matches no release cell (empty cells are ignored)."""

    rule_id: ClassVar[str] = "cell-added"
    hint: ClassVar[str] = (
        "Delete the cells you added (scratch work belongs in a separate notebook), or run `autograder rescue`."
    )
    integrity: ClassVar[bool] = True

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for s in ctx.matching.added:
            kind = ctx.student.cells[s].get("cell_type", "code")
            what = "put your code inside a TODO block" if kind == "code" else "keep notes in a TODO block comment"
            yield Finding(
                f"{where(s + 1)}this {kind} cell is not in the release (added) — delete it; {what}.",
                cell=s + 1,
            )


class CellDeleted(RuleInfo):
    """A release cell with content that no student cell matches."""

    rule_id: ClassVar[str] = "cell-deleted"
    hint: ClassVar[str] = "Restore the deleted cell with `autograder rescue`."
    integrity: ClassVar[bool] = True

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for r in ctx.matching.deleted:
            at = _after(ctx, r)
            yield Finding(
                f"{where(at)}a release cell is missing here ({describe(ctx.release.cells[r])}) — "
                f"restore it, or run {ctx.rescue_hint()}.",
                cell=at,
            )


class CellReordered(RuleInfo):
    """Student cells outside the longest run that keeps the release order."""

    rule_id: ClassVar[str] = "cell-reordered"
    hint: ClassVar[str] = "Put the cells back in their order with `autograder rescue`."
    integrity: ClassVar[bool] = True

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for s in ctx.matching.moved:
            r = ctx.matching.to_release[s]
            prev = ctx.matching.to_student.get(r - 1) if r else None
            place = "first" if r == 0 else (
                f"right after your cell {prev + 1}" if prev is not None else f"as cell {r + 1}"
            )
            yield Finding(
                f"{where(s + 1)}this cell was moved; in the release it comes {place} — move it back.",
                cell=s + 1,
            )


class CellDuplicated(RuleInfo):
    """A second cell with the grade_id (or the exact content) of a matched cell."""

    rule_id: ClassVar[str] = "cell-duplicated"
    hint: ClassVar[str] = "Delete the copy of the cell, or run `autograder rescue`."
    integrity: ClassVar[bool] = True

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for copy, original, how in ctx.matching.duplicated:
            gid = grade_id(ctx.student.cells[copy])
            why = f"it has the grade_id `{gid}` of cell {original + 1}" if how == "grade_id" and gid else (
                f"it repeats cell {original + 1}"
            )
            yield Finding(
                f"{where(copy + 1)}this cell is a copy ({why}) — delete the copy; "
                "keep your work in the original cell.",
                cell=copy + 1,
            )


class CellTypeChanged(RuleInfo):
    """A matched cell whose type (code/markdown/raw) is not the release's."""

    rule_id: ClassVar[str] = "cell-type-changed"
    hint: ClassVar[str] = "Change the cell back to its original type, or run `autograder rescue`."
    integrity: ClassVar[bool] = True

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for s, r in sorted(ctx.matching.to_release.items()):
            mine = ctx.student.cells[s].get("cell_type")
            theirs = ctx.release.cells[r].get("cell_type")
            if mine != theirs:
                key = {"code": "Y", "markdown": "M", "raw": "R"}.get(str(theirs), "Y")
                yield Finding(
                    f"{where(s + 1)}this cell was changed from {theirs} to {mine} — change it back "
                    f"(in Jupyter: Esc, then {key}).",
                    cell=s + 1,
                )
