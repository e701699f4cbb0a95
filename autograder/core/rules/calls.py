"""`forbidden-call`: names the assignment prohibits (`[policy].forbidden_calls`, e.g. np.vectorize).

A configured name is resolved the way the code resolves it: `np.vectorize` also catches
`import numpy as xp; xp.vectorize`, `from numpy import vectorize as v; v(...)` and
`f = np.vectorize`. A prefix forbids everything below it (`np.linalg` forbids `np.linalg.lstsq`).
Any reference counts, called or not: passing the function around is using it. Builtins that
`forbidden-import` always reports (`eval`, `exec`, `open`, `__import__`, ...) are not reported a
second time here, even when the configuration lists them.

Always forbidden, whatever the configuration (they reach the interpreter's internals, from
which the graded functions, the grader's frames and the builtins can be rewired): the
introspection attributes of `INTROSPECTION` (`__dict__`, `__traceback__`, `tb_frame`,
`f_globals`, `f_back`, `gi_frame`, `__closure__`, `__self__`, `__getattribute__`, ...), also
as a constant `getattr` name or a string key (`np.__dict__['__builtins__']`), and
`getattr`/`setattr`/`delattr`/`hasattr` with a computed name or passed around as a value (a
computed name can spell any of them). The dunders that lead around the import rules
(`__builtins__`, `__globals__`, `__code__`, `__subclasses__`, ...) stay `forbidden-import`.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import ClassVar

from autograder.core.integrity import StudentCode
from autograder.core.rules.astutil import (
    canonical,
    dotted_name,
    matches,
    references,
    resolve,
    walk_lines,
)
from autograder.core.rules.base import CheckContext, Finding, RuleInfo, where
from autograder.core.rules.imports import DANGEROUS_CALLS, ESCAPES

INTROSPECTION = {
    "__dict__", "__traceback__", "tb_frame", "tb_next", "f_globals", "f_locals", "f_back",
    "f_builtins", "f_code", "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code",
    "__closure__", "__self__", "__func__", "__wrapped__", "__getattribute__", "__defaults__",
    "__kwdefaults__", "__reduce__", "__reduce_ex__", "__objclass__",
}
NAMED_ATTRIBUTE_CALLS = {"getattr", "setattr", "delattr", "hasattr"}
_FIX = "remove it; graded code uses plain names and numpy, never the interpreter's internals."


class ForbiddenCall(RuleInfo):
    """References to prohibited functions or attributes in code the student wrote."""

    rule_id: ClassVar[str] = "forbidden-call"
    hint: ClassVar[str] = "Write this part yourself instead of calling the prohibited function."

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        yield from _introspection(ctx)
        forbidden = {
            canonical(name): name for name in ctx.config.forbidden_calls
            if name not in DANGEROUS_CALLS  # always forbidden-import: never reported twice
        }
        if not forbidden:
            return
        seen: set[tuple[int, int, str]] = set()
        for unit in ctx.units:
            if unit.tree is None:
                continue
            for node in references(unit.tree, unit.authored):
                path = resolve(node, ctx.aliases) or ""
                hit = next((f for f in forbidden if matches(path, f)), None)
                line = node.lineno
                if hit is None or not unit.wrote(line) or (unit.cell, line, hit) in seen:
                    continue
                seen.add((unit.cell, line, hit))
                used = dotted_name(node)
                also = "" if used == forbidden[hit] else f" ({forbidden[hit]})"
                yield Finding(
                    f"{where(unit.cell, line)}`{used}`{also} is prohibited "
                    "in this assignment — write it with other numpy operations.",
                    cell=unit.cell, line=line,
                )


def _introspection(ctx: CheckContext) -> Iterator[Finding]:
    """One finding per line that reaches the interpreter's internals (see the module doc)."""
    seen: set[tuple[int, int]] = set()
    for unit in ctx.units:
        if unit.tree is None:
            continue
        for line, what in _internals(unit, ctx.aliases):
            if unit.wrote(line) and (unit.cell, line) not in seen:
                seen.add((unit.cell, line))
                yield Finding(f"{where(unit.cell, line)}{what} — {_FIX}", cell=unit.cell, line=line)


def _internals(unit: StudentCode, aliases: dict[str, str]) -> Iterator[tuple[int, str]]:
    nodes = list(walk_lines(unit.tree, unit.authored))
    called = {id(n.func) for n in nodes if isinstance(n, ast.Call)}
    for node in nodes:
        if isinstance(node, ast.Attribute) and node.attr in INTROSPECTION:
            yield node.lineno, f"`.{node.attr}` reaches the interpreter's internals"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                node.value in INTROSPECTION | ESCAPES:
            yield node.lineno, f"`{node.value!r}` names one of the interpreter's internals"
        elif isinstance(node, ast.Name) and node.id in NAMED_ATTRIBUTE_CALLS and \
                isinstance(node.ctx, ast.Load) and id(node) not in called:
            yield node.lineno, f"`{node.id}` passed around hides which attribute is used"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in NAMED_ATTRIBUTE_CALLS and len(node.args) >= 2 and not (
                    isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            yield node.lineno, f"`{node.func.id}(...)` with a computed name hides which attribute is used"
