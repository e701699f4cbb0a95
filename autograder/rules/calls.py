"""`forbidden-call`: names the assignment prohibits (`[policy].forbidden_calls`, e.g. np.vectorize).

A configured name is resolved the way the code resolves it: `np.vectorize` also catches
`import numpy as xp; xp.vectorize`, `from numpy import vectorize as v; v(...)` and
`f = np.vectorize`. A prefix forbids everything below it (`np.linalg` forbids `np.linalg.lstsq`).
Any reference counts, called or not: passing the function around is using it. Builtins that
`forbidden-import` always reports (`eval`, `exec`, `open`, `__import__`, ...) are not reported a
second time here, even when the configuration lists them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from autograder.rules.astutil import canonical, dotted_name, matches, references, resolve
from autograder.rules.base import CheckContext, Finding, where
from autograder.rules.imports import DANGEROUS_CALLS


class ForbiddenCall:
    """References to prohibited functions or attributes in code the student wrote."""

    rule_id: ClassVar[str] = "forbidden-call"

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
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
