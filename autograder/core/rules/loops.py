"""`loop-in-vectorized`: the functions of `[policy].loop_free` must not loop.

Checked on the graded module (the graft), the code the grader will run. A loop is a `for` or
`while` statement, a comprehension or generator expression, or a loop in disguise: `np.vectorize`,
`np.frompyfunc`, `np.apply_along_axis`, `np.apply_over_axes`, `np.fromiter`, `map`, `filter`
(any reference to them, called or not, by any alias or a constant `getattr`), recursion (also
of nested functions or lambdas, and a function applied to itself), or a call to another
function of the graded module that loops (followed transitively). A `for` or comprehension over
a literal tuple or list (`for k in ('W1', 'W2')`) runs a fixed number of times: not a loop.

This is the static half: the worker also measures each loop-free function's Python-level work
on growing inputs (autograder.grading.measure), which no disguise escapes.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

from autograder.core.rules.astutil import collect_aliases, dotted_name, resolve
from autograder.core.rules.base import CheckContext, Finding, RuleInfo, where

DISGUISED = {
    "numpy.vectorize", "numpy.frompyfunc", "numpy.apply_along_axis", "numpy.apply_over_axes",
    "numpy.fromiter", "map", "filter",
}
# numpy's loop helpers also under their longer paths (np.lib.function_base.vectorize, ...)
_NUMPY_LOOPERS = {p.rpartition(".")[2] for p in DISGUISED if p.startswith("numpy.")}
_LOOPS: dict[type, str] = {
    ast.For: "a `for` loop", ast.AsyncFor: "a `for` loop", ast.While: "a `while` loop",
    ast.ListComp: "a list comprehension", ast.SetComp: "a set comprehension",
    ast.DictComp: "a dict comprehension", ast.GeneratorExp: "a generator expression",
}


@dataclass(frozen=True)
class Loop:
    """Where a function loops: the function, the module line, and what the loop is."""

    function: str
    line: int
    what: str


class CallGraph:
    """The module-level functions of the graded module, what each loops on, whom each calls."""

    def __init__(self, tree: ast.Module) -> None:
        self.aliases = collect_aliases([tree])
        self.functions = {
            node.name: node for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        self.direct = lru_cache(maxsize=None)(self._direct)  # type: ignore[method-assign]
        self.callees = lru_cache(maxsize=None)(self._callees)  # type: ignore[method-assign]

    def _direct(self, name: str) -> Loop | None:
        func = self.functions[name]
        local = _bound_names(func)
        own = collect_aliases([func])  # what the function's own names stand for
        for node in ast.walk(func):
            if type(node) in _LOOPS and not _over_literals(node):
                return Loop(name, node.lineno, _LOOPS[type(node)])  # type: ignore[attr-defined]
            path = self._disguised(node, local, own)
            if path:
                return Loop(name, node.lineno, f"`{path.replace('numpy.', 'np.')}`")  # type: ignore[attr-defined]
        return _nested_recursion(name, func)

    def _disguised(self, node: ast.AST, local: set[str], own: dict[str, str]) -> str | None:
        """The loop helper a name, attribute or constant getattr refers to (None: none).
        A name the function binds itself means what the function bound it to (a local variable
        that happens to be called `filter` is no loop); other names, what the module says."""
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            return None
        if not isinstance(node, (ast.Name, ast.Attribute, ast.Call)):
            return None
        head = _head(node)
        aliases = own if head in local else self.aliases
        if head in local and head not in own:
            return None
        path = resolve(node, aliases) or ""
        if path in DISGUISED:
            return path
        if path.startswith("numpy.") and path.rpartition(".")[2] in _NUMPY_LOOPERS:
            return path
        return None

    def _callees(self, name: str) -> list[tuple[int, str]]:
        """(line, callee) for each call or reference to another module function."""
        out = []
        for node in ast.walk(self.functions[name]):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in self.functions:
                out.append((node.lineno, node.id))
        return sorted(out)

    def loop(self, name: str, path: tuple[str, ...] = (), seen: set[str] | None = None) -> Loop | None:
        """The first loop `name` runs, itself or through the functions it calls."""
        seen = set() if seen is None else seen
        found = self.direct(name)
        if found:
            return found
        for line, callee in self.callees(name):
            if callee == name or callee in path:
                return Loop(name, line, f"recursion (a call to `{callee}`)")
            if callee in seen:
                continue
            seen.add(callee)
            found = self.loop(callee, (*path, name), seen)
            if found:
                return found
        return None

    def call_line(self, name: str, target: str) -> int:
        """The line where `name` first reaches `target` (directly or through its callees)."""
        for line, callee in self.callees(name):
            if callee == target or self.reaches(callee, target, {name}):
                return line
        return self.functions[name].lineno

    def reaches(self, name: str, target: str, seen: set[str]) -> bool:
        if name == target:
            return True
        seen.add(name)
        return any(c not in seen and self.reaches(c, target, seen) for _, c in self.callees(name))


def _head(node: ast.AST) -> str | None:
    """The name an attribute chain (or constant getattr) starts from."""
    dotted = dotted_name(node)
    return dotted.partition(".")[0] if dotted else None


def _bound_names(func: ast.AST) -> set[str]:
    """Names a function binds itself: its arguments and whatever it assigns."""
    names = {a.arg for a in ast.walk(func) if isinstance(a, ast.arg)}
    names |= {n.id for n in ast.walk(func) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    return names


def _over_literals(node: ast.AST) -> bool:
    """A `for` or comprehension over literal tuples/lists only: a fixed number of rounds."""
    if isinstance(node, (ast.For, ast.AsyncFor)):
        iters = [node.iter]
    elif isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        iters = [g.iter for g in node.generators]
    else:
        return False
    return all(isinstance(i, (ast.Tuple, ast.List)) and not any(isinstance(e, ast.Starred) for e in i.elts)
               for i in iters)


def _nested_recursion(name: str, func: ast.AST) -> Loop | None:
    """Recursion inside a function: nested functions or lambdas that reach themselves, or a
    function applied to itself (`f(f, ...)`, how a lambda recurses without a name)."""
    nested: dict[str, ast.AST] = {}
    for node in ast.walk(func):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node is not func:
            nested[node.name] = node
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
            nested.update({t.id: node.value for t in node.targets if isinstance(t, ast.Name)})
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if any(isinstance(a, ast.Name) and a.id == node.func.id for a in node.args):
                return Loop(name, node.lineno, f"recursion (`{node.func.id}` applied to itself)")
    calls = {n: {m.id for m in ast.walk(body) if isinstance(m, ast.Name) and m.id in nested}
             for n, body in nested.items()}
    for start, body in nested.items():
        seen, todo = set(), list(calls[start])
        while todo:
            current = todo.pop()
            if current == start:
                return Loop(name, body.lineno, f"recursion (the nested function `{start}` calls itself)")  # type: ignore[attr-defined]
            if current not in seen:
                seen.add(current)
                todo.extend(calls[current])
    return None


@lru_cache(maxsize=4)
def call_graph(source: str) -> CallGraph | None:
    """The CallGraph of a graded module's source (None: it does not parse), built once per
    source: the rule and the grader's loop measurements ask for the same module's graph several
    times per submission. A CallGraph is never changed after it is built."""
    try:
        return CallGraph(ast.parse(source))
    except (SyntaxError, ValueError, RecursionError):
        return None


def charged_loops(graph: CallGraph, loop_free: Sequence[str]) -> list[tuple[str, Loop]]:
    """(loop-free function, its loop) for each loop the rule reports: one loop costs once, so a
    loop reached from several loop-free functions (nn_forward_backward calls nn_forward_pass)
    is reported where it is, before any function that reaches it. The grader uses the same
    list (autograder.grading.measure), so the self-check and the grader charge the same functions."""
    looping = [(name, graph.loop(name)) for name in loop_free if name in graph.functions]
    ordered = sorted(((n, f) for n, f in looping if f), key=lambda nf: nf[1].function != nf[0])
    reported: set[tuple[str, int]] = set()
    out = []
    for name, found in ordered:
        if (found.function, found.line) not in reported:
            reported.add((found.function, found.line))
            out.append((name, found))
    return out


class LoopInVectorized(RuleInfo):
    """Loop-free functions that loop, themselves or through what they call."""

    rule_id: ClassVar[str] = "loop-in-vectorized"
    hint: ClassVar[str] = "Remove the Python loop: use numpy operations on whole arrays."

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        if not ctx.config.loop_free:
            return
        graph = call_graph(ctx.graded.source)
        if graph is None:
            return  # undefined-name reports code that does not parse
        for name, found in charged_loops(graph, ctx.config.loop_free):
            yield self._finding(ctx, graph, name, found)

    @staticmethod
    def _finding(ctx: CheckContext, graph: CallGraph, name: str, found: Loop) -> Finding:
        todo = "use whole-array numpy operations (broadcasting, fancy indexing) instead"
        cell, line = ctx.graded.where(found.line)
        if found.function == name:
            return Finding(
                f"{where(cell, line)}`{name}` must be loop-free but has {found.what} — {todo}.",
                cell=cell, line=line, function=name,
            )
        call_cell, call_line = ctx.graded.where(graph.call_line(name, found.function))
        return Finding(
            f"{where(call_cell, call_line)}`{name}` must be loop-free but calls `{found.function}`, "
            f"which has {found.what} ({where(cell, line).rstrip(': ') or 'in the release code'}) — {todo}.",
            cell=call_cell, line=call_line, function=name,
        )
