"""Integrity of the code: read-only cells, code outside the TODO blocks, the markers.

Code is compared as tokens (`autograder.core.integrity.code_difference`): whitespace, blank lines,
line endings, indentation width and quote style never count. An edited comment or docstring is
a warning worth nothing. Markdown answers and free cells are the student's: never compared.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from autograder.core.integrity import Difference, cell_role, code_difference, text_difference
from autograder.core.markers import scan_blocks, source_of
from autograder.core.rules.base import CheckContext, Finding, RuleInfo, where


def same_type_pairs(ctx: CheckContext, role: str) -> Iterator[tuple[int, Any, Any]]:
    """(student index, student cell, release cell) for matched cells of one release role."""
    for s, r in sorted(ctx.matching.to_release.items()):
        mine, theirs = ctx.student.cells[s], ctx.release.cells[r]
        if mine.get("cell_type") == theirs.get("cell_type") and cell_role(theirs) == role:
            yield s, mine, theirs


def _changed(diff: Difference) -> str:
    if not diff.student_text:
        return f"`{diff.release_text}` is gone"
    if not diff.release_text:
        return f"`{diff.student_text}` was added"
    return f"`{diff.release_text}` became `{diff.student_text}`"


def _finding(ctx: CheckContext, s: int, diff: Difference, what: str, place: str) -> Finding:
    if diff.comment_only:
        return Finding(
            f"{where(s + 1, diff.line)}a comment or docstring {place} changed — "
            "that is allowed, but restore it if it was not on purpose.",
            cell=s + 1, line=diff.line, detail=diff.diff, warning_only=True,
        )
    return Finding(
        f"{where(s + 1, diff.line)}{what} changed ({_changed(diff)}) — restore it, "
        f"or run {ctx.rescue_hint()}.",
        cell=s + 1, line=diff.line, detail=diff.diff,
    )


class LockedCellModified(RuleInfo):
    """A read-only cell (code, markdown or raw) whose content changed."""

    rule_id: ClassVar[str] = "locked-cell-modified"
    hint: ClassVar[str] = "Restore the read-only cell with `autograder rescue`."
    integrity: ClassVar[bool] = True

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for s, mine, theirs in same_type_pairs(ctx, "locked"):
            if mine.get("cell_type") == "code":
                diff = code_difference(source_of(theirs), source_of(mine))
                if diff is not None:
                    yield _finding(ctx, s, diff, "code in this read-only cell", "in this read-only cell")
                continue
            line = text_difference(source_of(theirs), source_of(mine))
            if line is not None:
                yield Finding(
                    f"{where(s + 1, line)}this read-only text cell changed — restore it "
                    "(answers go in the cells that say YOUR ANSWER HERE).",
                    cell=s + 1, line=line,
                )


class OutsideTodoModified(RuleInfo):
    """Code of a solution cell changed outside its TODO blocks (markers intact)."""

    rule_id: ClassVar[str] = "outside-todo-modified"
    hint: ClassVar[str] = (
        "Keep your code between the START/END OF YOUR CODE lines; `autograder rescue` restores the rest."
    )
    integrity: ClassVar[bool] = True

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for s, mine, theirs in same_type_pairs(ctx, "todo"):
            r_src, s_src = source_of(theirs), source_of(mine)
            r_scan = scan_blocks(r_src)
            s_scan = scan_blocks(s_src, expected=len(r_scan.blocks))
            if s_scan.problem:
                continue  # todo-marker-damaged says it; without markers there is no "outside"
            diff = code_difference(r_src, s_src, r_scan.blocks, s_scan.blocks)
            if diff is not None:
                yield _finding(ctx, s, diff, "code outside the TODO block", "outside the TODO block")
        yield from _escaped_bodies(ctx)


def _escaped_bodies(ctx: CheckContext) -> Iterator[Finding]:
    """TODO bodies whose code leaves their block (the graft grades the release's stub instead)."""
    for filled in ctx.graft.info:
        for escape in filled.escapes:
            cell, line = filled.line_map[escape.line - 1] if escape.line <= len(filled.line_map) else (None, None)
            yield Finding(
                f"{where(cell, line)}{escape.why}: code in a TODO block must stay inside its "
                "function, so this block is graded as if it were empty. Indent it like the "
                "marker lines and use no `global`/`nonlocal`.",
                cell=cell, line=line,
            )


class TodoMarkerDamaged(RuleInfo):
    """A START/END marker line edited, deleted, added or out of order."""

    rule_id: ClassVar[str] = "todo-marker-damaged"
    hint: ClassVar[str] = (
        "Restore the START/END OF YOUR CODE lines exactly; `autograder rescue` does it for you."
    )
    integrity: ClassVar[bool] = True

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        for s, mine, theirs in same_type_pairs(ctx, "todo"):
            expected = len(scan_blocks(source_of(theirs)).blocks)
            scan = scan_blocks(source_of(mine), expected=expected)
            if scan.problem:
                yield Finding(
                    f"{where(s + 1, scan.line)}{_what(scan.problem, expected, len(scan.blocks))} — "
                    f"restore the marker lines exactly, or run {ctx.rescue_hint()}.",
                    cell=s + 1, line=scan.line,
                )


def _what(problem: str, expected: int, found: int) -> str:
    if problem == "edited":
        return "a TODO marker line was edited (it must read exactly as released)"
    if problem == "no-end":
        return "the END marker line of the TODO block that starts here was deleted or moved"
    if problem == "no-start":
        return "the START marker line of the TODO block that ends here was deleted or moved"
    if problem == "missing":
        return f"a TODO marker line was deleted (the release has {expected} TODO block(s), this cell {found})"
    return f"extra TODO marker lines (the release has {expected} TODO block(s), this cell {found})"

