"""`undefined-name`: names the graded module uses but never defines.

The graded module is built exactly as the grader builds it (graft, then
`autograder.core.module.module_source`) and analysed with pyflakes. A global that only a later driver
cell sets works in the notebook and fails at grading: the student hears it now. Graded code that
does not even parse (e.g. a TODO body with a syntax error) is reported here too, on the student's
cell and line, since the grader could not import it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import ClassVar

from autograder.core.rules.base import CheckContext, Finding, RuleInfo, where

try:  # pyflakes comes with the [instructor] extra; students without it skip this rule
    from pyflakes import checker as _checker
    from pyflakes import messages as _messages
except ImportError:  # pragma: no cover - depends on the installation
    _checker = None  # type: ignore[assignment]
    _messages = None  # type: ignore[assignment]

MISSING_PYFLAKES = "undefined names were not checked: install pyflakes (`pip install pyflakes`)."


class UndefinedName(RuleInfo):
    """Names the graded module uses and does not define; graded code that does not parse."""

    rule_id: ClassVar[str] = "undefined-name"
    hint: ClassVar[str] = (
        "Define every name your functions use inside the solution cells, not in a later cell."
    )

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        try:
            tree = ast.parse(ctx.graded.source)
        except SyntaxError as exc:
            yield _syntax_finding(ctx, exc.lineno or 1, exc.msg)
            return
        except (ValueError, RecursionError) as exc:
            yield _syntax_finding(ctx, 1, str(exc))
            return
        if _checker is None:
            ctx.notes.append(MISSING_PYFLAKES)
            return
        seen: set[tuple[str, int | None]] = set()
        undefined = (_messages.UndefinedName, _messages.UndefinedLocal, _messages.UndefinedExport)
        for message in _checker.Checker(tree, filename="graded module").messages:
            if not isinstance(message, undefined):
                continue
            name = str(message.message_args[0])
            cell, line = ctx.graded.where(message.lineno)
            if (name, cell) in seen:
                continue
            seen.add((name, cell))
            yield Finding(
                f"{where(cell, line)}`{name}` is used but not defined in the graded code (the grader "
                "imports only your function definitions, with numpy as np, math and time) — define "
                "it inside the function or pass it as an argument.",
                cell=cell, line=line,
            )


def _syntax_finding(ctx: CheckContext, module_line: int, msg: str) -> Finding:
    cell, line = ctx.graded.where(module_line)
    return Finding(
        f"{where(cell, line)}this code does not parse (SyntaxError: {msg}), so the grader cannot "
        "import any of your functions — fix it and run the cell.",
        cell=cell, line=line,
    )
