"""Execution state: every code cell ran, with its outputs kept. Lenient by design.

Reported once per notebook, listing the cells. Rules we can check from the saved file alone:

* `not-executed`: a non-empty code cell with no execution count and no outputs never ran.
  Cells that did not run because an earlier cell raised are listed with that error
  (`NotImplementedError` means a TODO is not done yet). Cells run out of order (a later cell with
  a smaller execution count) are a warning worth nothing, under the same rule id.
* `outputs-cleared`: a cell that ran (it has an execution count) but has no outputs although it
  must produce some: a top-level `print(...)`, `display(...)` or `plt.show()` (also inside a
  top-level `for`/`with`), or a last statement that is a bare expression other than a call and
  not silenced with `;` (Jupyter shows its value). Calls are not counted: they may return None.
* The last code cell of the release (the one that builds the submission zip) is exempt from both.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any, ClassVar

from autograder.core.integrity import split_magics
from autograder.core.markers import source_of
from autograder.core.rules.base import CheckContext, Finding, RuleInfo, cell_list, where

RUN_ALL = "Kernel → Restart & Run All, then save"


def code_cells(ctx: CheckContext) -> list[int]:
    """0-based indices of the student's non-empty code cells, the zip cell excluded."""
    cells = ctx.student.cells
    code = [i for i, c in enumerate(cells) if c.get("cell_type") == "code" and source_of(c).strip()]
    release_code = [r for r, c in enumerate(ctx.release.cells) if c.get("cell_type") == "code"]
    exempt = ctx.matching.to_student.get(release_code[-1]) if release_code else None
    if exempt is None and code:
        exempt = code[-1]
    return [i for i in code if i != exempt]


def _count(cell: Any) -> int | None:
    count = cell.get("execution_count")
    return count if isinstance(count, int) else None


def first_error(ctx: CheckContext, cells: list[int]) -> tuple[int, str] | None:
    """(index, exception name) of the first cell whose outputs hold an error."""
    for i in cells:
        for out in ctx.student.cells[i].get("outputs", []) or []:
            if out.get("output_type") == "error":
                return i, str(out.get("ename") or "an error")
    return None


class NotExecuted(RuleInfo):
    """Code cells that never ran (with the error that stopped them), and out-of-order runs."""

    rule_id: ClassVar[str] = "not-executed"
    hint: ClassVar[str] = "Run all cells (Kernel → Restart & Run All) and save before submitting."

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        cells = code_cells(ctx)
        never = [i for i in cells if _count(ctx.student.cells[i]) is None
                 and not ctx.student.cells[i].get("outputs")]
        if never:
            yield self._never_ran(ctx, cells, never)
        yield from self._out_of_order(ctx, cells)

    @staticmethod
    def _never_ran(ctx: CheckContext, cells: list[int], never: list[int]) -> Finding:
        error = first_error(ctx, cells)
        before = [i for i in never if error is None or i < error[0]]
        after = [i for i in never if error is not None and i > error[0]]
        parts = []
        if before and len(before) == len(cells):
            parts.append("no code cell has run (or all outputs were cleared)")
        elif before:
            parts.append(f"cell(s) {cell_list([i + 1 for i in before])} never ran")
        todo = RUN_ALL
        if after and error is not None:
            cause = error[1]
            if cause == "NotImplementedError":
                cause += " (a TODO is not done yet)"
                todo = f"finish that TODO, then {RUN_ALL}"
            else:
                todo = f"fix cell {error[0] + 1}, then {RUN_ALL}"
            parts.append(f"cell(s) {cell_list([i + 1 for i in after])} did not run after "
                         f"cell {error[0] + 1} raised {cause}")
        first = min(never) + 1
        return Finding(f"{where(first)}{'; '.join(parts)} — {todo}.", cell=first)

    @staticmethod
    def _out_of_order(ctx: CheckContext, cells: list[int]) -> Iterator[Finding]:
        latest: tuple[int, int] | None = None  # (count, index) of the highest count so far
        for i in cells:
            count = _count(ctx.student.cells[i])
            if count is None:
                continue
            if latest is not None and count < latest[0]:
                yield Finding(
                    f"{where(i + 1)}cells were run out of order (cell {i + 1} ran before cell "
                    f"{latest[1] + 1}) — {RUN_ALL}, so the outputs match the code.",
                    cell=i + 1, warning_only=True,
                )
                return
            latest = (count, i) if latest is None or count > latest[0] else latest


class OutputsCleared(RuleInfo):
    """Cells that ran but lost the outputs they must have."""

    rule_id: ClassVar[str] = "outputs-cleared"
    hint: ClassVar[str] = "Run all cells and save with the outputs kept."

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        cleared = [
            i for i in code_cells(ctx)
            if _count(ctx.student.cells[i]) is not None
            and not ctx.student.cells[i].get("outputs")
            and produces_output(source_of(ctx.student.cells[i]))
        ]
        if cleared:
            yield Finding(
                f"{where(cleared[0] + 1)}cell(s) {cell_list([i + 1 for i in cleared])} ran but their "
                f"outputs were cleared — {RUN_ALL} with the outputs kept.",
                cell=cleared[0] + 1,
            )


def produces_output(source: str) -> bool:
    """Whether a cell surely shows something when it runs (see the module docstring)."""
    clean, _ = split_magics(source)
    try:
        body = ast.parse(clean).body
    except (SyntaxError, ValueError, RecursionError):
        return False
    if any(_shows(stmt) for stmt in body):
        return True
    last = body[-1] if body else None
    return (
        isinstance(last, ast.Expr)
        and not isinstance(last.value, (ast.Call, ast.Constant, ast.Await, ast.Yield))
        and not clean.rstrip().endswith(";")
    )


def _shows(stmt: ast.stmt) -> bool:
    if isinstance(stmt, (ast.For, ast.With)):
        return any(_shows(inner) for inner in stmt.body)
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return False
    func = stmt.value.func
    name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    return name in ("print", "display") or (name == "show" and isinstance(func, ast.Attribute))
