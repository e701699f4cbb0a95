"""Release lint: the release, with its stubs, defines every name it uses.

A student starts from the release, where each solution block is `raise NotImplementedError`. A
name that only the solution defined (`return dx` after the block, a driver cell that reads a
variable set inside a block) is then undefined in every untouched notebook: the self-check
flags `undefined-name` on code the student never wrote, and the notebook fails when run. So the
release's code cells are read as one module, in order (the way Jupyter runs them), and pyflakes'
undefined names are authoring errors, each named by notebook, cell and line.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from autograder.core.markers import source_of

# Names a Jupyter kernel defines that a plain module does not.
KERNEL_NAMES = frozenset({"display", "get_ipython", "In", "Out", "exit", "quit"})


def _code(nb: Any) -> tuple[str, list[tuple[int, int]]]:
    """The notebook's code cells as one module (magics and shell lines blanked) and, per line,
    (cell number from 1, line in the cell)."""
    lines: list[str] = []
    where: list[tuple[int, int]] = []
    for number, cell in enumerate(nb.cells, start=1):
        if cell.get("cell_type") != "code":
            continue
        source = source_of(cell)
        for i, line in enumerate(source.split("\n"), start=1):
            lines.append("" if line.lstrip().startswith(("%", "!")) else line)
            where.append((number, i))
        lines.append("")
        where.append((number, len(source.split("\n")) + 1))
    return "\n".join(lines), where


def _graded_module(nb: Any) -> tuple[str, list[tuple[int | None, int | None]]]:
    """The graded module of the untouched release (what the self-check analyses) and its map."""
    from autograder.core.graft import graded_module, graft

    module = graded_module(graft(nb, nb))
    return module.source, module.line_map


def _undefined(source: str, where: list[Any]) -> tuple[list[tuple[Any, Any, str]], str]:
    """([(cell, line, name)] pyflakes finds undefined in `source`, parse error or "")."""
    from pyflakes import checker, messages

    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        line = exc.lineno or 1
        cell, at = where[line - 1] if line <= len(where) else (None, None)
        return [], f"cell {cell}, line {at}: the release does not parse ({exc.msg})"
    found = checker.Checker(tree, filename="release", builtins=KERNEL_NAMES)
    return [(*(where[m.lineno - 1] if m.lineno <= len(where) else (None, None)), m.message_args[0])
            for m in found.messages if isinstance(m, messages.UndefinedName)], ""


def undefined_names(notebooks: Mapping[str, Any], folder: str) -> list[str]:
    """One line per name a released notebook uses but does not define ([] when clean): in its
    graded module (the definition cells, as the self-check reads them) and in the notebook run
    from top to bottom."""
    problems: list[str] = []
    for name, nb in notebooks.items():
        seen: set[tuple[Any, Any, str]] = set()
        for source, where in (_graded_module(nb), _code(nb)):
            found, error = _undefined(source, where)
            if error:
                problems.append(f"{folder}/{name}.ipynb, {error}")
            for cell, line, used in found:
                if (cell, line, used) in seen:
                    continue
                seen.add((cell, line, used))
                problems.append(
                    f"{folder}/{name}.ipynb, cell {cell}, line {line}: the release uses {used!r}, "
                    "which only the solution defines: define it outside the solution block (or "
                    "move its use inside the block)")
    return problems
