"""The lint of `autograder release`: source-notebook problems found before nbgrader runs.

One line per problem, naming the file, the cell and the line: solution markers that do not pair,
cells without ids or grade_ids, grade cells whose points disagree with assignment.toml, and
solution cells that would not import cleanly into the graded module (only imports, def, class
and constant assignments; each solution block inside a function body).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from autograder.core.config import CONFIG_NAME, SOLUTIONS_DIR, AssignmentConfig
from autograder.core.markers import has_role, nbgrader_meta, solution_blocks


def opted_out(cell: Any) -> bool:
    """Opted out of the graded module and the definition lint (metadata.autograder.module false)."""
    opt = cell.get("metadata", {}).get("autograder", {}) or {}
    return opt.get("module", True) is False


def _where(path: str, cell: int | None = None, line: int | None = None) -> str:
    where = path
    if cell is not None:
        where += f", cell {cell}"
    if line is not None:
        where += f", line {line}"
    return where


_NOT_CONSTANT = (
    ast.Call, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
    ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom,
)  # fmt: skip


def _is_definition(node: ast.stmt) -> bool:
    """Imports, def, class, a docstring, or NAME = <expression without calls>."""
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef)):
        return True
    if isinstance(node, (ast.ClassDef, ast.Pass)):
        return True
    if isinstance(node, ast.Expr):
        return isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names_only = all(
            isinstance(t, ast.Name)
            or (isinstance(t, ast.Tuple) and all(isinstance(e, ast.Name) for e in t.elts))
            for t in targets
        )
        value = node.value
        return names_only and (
            value is None or not any(isinstance(n, _NOT_CONSTANT) for n in ast.walk(value))
        )
    return False


def _inside_function(tree: ast.Module, begin: int, end: int, indent: int) -> bool:
    """True if the block between lines begin and end lies in the body of some def."""
    functions = [
        n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    statements = [n for n in ast.walk(tree) if isinstance(n, ast.stmt) and begin < n.lineno < end]
    if not statements:  # a block of comments only: its indent must be a def's body indent
        return any(f.lineno < begin and indent > f.col_offset for f in functions)
    first = min(statements, key=lambda n: n.lineno)
    return any(f.body[0].lineno <= first.lineno <= (f.end_lineno or f.lineno) for f in functions)


def _lint_definition_cell(cell: Any, blocks: list[tuple[int, int]]) -> list[tuple[int, str]]:
    """(line, problem) pairs for a solution code cell that goes into the graded module."""
    try:
        tree = ast.parse(cell.source)
    except SyntaxError as exc:
        return [(exc.lineno or 1, f"not valid Python ({exc.msg})")]
    problems = []
    for node in tree.body:
        if not _is_definition(node):
            text = cell.source.split("\n")[node.lineno - 1].strip()
            problems.append((
                node.lineno,
                f"`{text[:50]}`: a solution cell may only hold imports, def, class and constant "
                "assignments (move this to a read-only cell, or opt the cell out with "
                "metadata.autograder = {\"module\": false})",
            ))  # fmt: skip
    lines = cell.source.split("\n")
    for begin, end in blocks:
        indent = len(lines[begin - 1]) - len(lines[begin - 1].lstrip())
        if not _inside_function(tree, begin, end, indent):
            problems.append((begin, "the solution block must be inside a function body"))
    return problems


def lint_cell(cell: Any) -> list[tuple[int | None, str]]:
    """Problems of one cell alone, as (line or None, message)."""
    meta = nbgrader_meta(cell)
    blocks, problems = solution_blocks(cell.get("source", ""))
    found: list[tuple[int | None, str]] = list(problems)
    if not cell.get("id"):
        found.append(
            (None, "the cell has no id: save the notebook with Jupyter >= 3 (nbformat 4.5)")
        )
    if blocks and not meta.get("solution"):
        found.append((blocks[0][0], "solution block in a cell that is not a solution cell"))
    if has_role(meta) and not meta.get("grade_id"):
        found.append((None, "nbgrader cell without a grade_id"))
    if meta.get("grade") and "points" not in meta:
        found.append((None, f"grade cell {meta.get('grade_id')!r} has no points"))
    if cell.get("cell_type") == "markdown" and meta.get("solution") and not meta.get("grade"):
        found.append((None, "a markdown answer cell must be a grade cell with points ([manual])"))
    if (
        cell.get("cell_type") == "code"
        and meta.get("solution")
        and not opted_out(cell)
        and not problems
    ):
        found.extend(_lint_definition_cell(cell, blocks))
    return found


def release_grade_id(cell: Any) -> str:
    """The grade_id a cell has in the release: its own, else one derived from its cell id."""
    return str(nbgrader_meta(cell).get("grade_id") or f"cell-{cell.get('id', '')}")


def _lint_points(
    cfg: AssignmentConfig, graded: dict[str, tuple[str, int, str, float]], label: str
) -> list[str]:
    """Notebook points vs [tests]/[manual]: graded maps grade_id -> (file, cell, table, points)."""
    errors = []
    for grade_id, (path, number, table, points) in graded.items():
        expected = (cfg.tests if table == "tests" else cfg.manual).get(grade_id)
        if expected is None:
            errors.append(
                f"{_where(path, number)}: grade cell {grade_id!r} ({points:g} points) is not in "
                f"[{table}] of {label}"
            )
        elif abs(expected - points) > 1e-9:
            errors.append(
                f"{_where(path, number)}: grade cell {grade_id!r} has {points:g} points, "
                f"[{table}].{grade_id} in {label} says {expected:g}"
            )
    # best models are graded from their .npz file and need no cell
    model_ids = {m.grade_id for m in cfg.models.values()}
    for table, groups in (("tests", cfg.tests), ("manual", cfg.manual)):
        for grade_id in groups:
            if grade_id not in graded and grade_id not in model_ids:
                errors.append(f"{label}: [{table}].{grade_id} has no grade cell in the notebook")
    return errors


def lint_assignment(cfg: AssignmentConfig, notebooks: dict[str, NotebookNode]) -> list[str]:
    """Every problem of the source notebooks, one line each, naming file, cell and line."""
    errors: list[str] = []
    seen: dict[str, str] = {}
    graded: dict[str, tuple[str, int, str, float]] = {}
    folder = Path(SOLUTIONS_DIR) / cfg.name
    for name, nb in notebooks.items():
        path = str(folder / f"{name}.ipynb")
        for number, cell in enumerate(nb.cells, start=1):
            errors += [f"{_where(path, number, line)}: {msg}" for line, msg in lint_cell(cell)]
            meta = nbgrader_meta(cell)
            grade_id = release_grade_id(cell)
            if grade_id in seen:
                errors.append(
                    f"{_where(path, number)}: duplicate grade_id {grade_id!r} "
                    f"(also {seen[grade_id]})"
                )
            seen.setdefault(grade_id, _where(path, number))
            if meta.get("grade") and "points" in meta:
                table = "tests" if cell.cell_type == "code" else "manual"
                graded.setdefault(grade_id, (path, number, table, float(meta["points"])))
    errors += _lint_points(cfg, graded, str(folder / CONFIG_NAME))
    return errors
