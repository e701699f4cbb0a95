"""`forbidden-import`: only the libraries of `[policy].allowed_imports`.

Looks at all the code the student could have written (TODO bodies, added cells, free cells,
changed lines anywhere) and catches every way in: `import`/`from` (aliased or not), relative
imports, `__import__`, `importlib`, `exec`/`eval`/`compile`, `open`, `getattr`/`setattr` on a
module or the builtins, `globals()`/`vars()`, `sys.modules`, dunder escapes such as
`__builtins__` or `__subclasses__`, numpy's file functions and `np.ctypeslib` (`open` and
`ctypes` by other names), and IPython `!shell` and `%magic` lines (which are not Python:
they are found before parsing, where a logical line starts, read as tokens: see
`autograder.core.integrity.split_magics`). A cell that does not parse is scanned line by line for
import statements.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import ClassVar

from autograder.core.integrity import StudentCode
from autograder.core.rules.astutil import dotted_name, resolve, walk_lines
from autograder.core.rules.base import CheckContext, Finding, RuleInfo, where

# builtins that run code, import, or touch files or the interpreter's namespaces
DANGEROUS_CALLS = {
    "__import__": "imports a module by name",
    "exec": "runs code from a string",
    "eval": "runs code from a string",
    "compile": "builds code from a string",
    "open": "reads or writes files",
    "globals": "reaches into the module's namespace",
    "vars": "reaches into a namespace",
    "locals": "reaches into a namespace",
    "breakpoint": "starts a debugger",
    "get_ipython": "runs IPython commands",
}
ATTRIBUTE_CALLS = {"getattr", "setattr", "delattr"}
ESCAPES = {
    "__builtins__", "__import__", "__loader__", "__spec__", "__globals__", "__subclasses__",
    "__code__", "__bases__", "__mro__", "__base__",
}
# numpy's own ways to the file system and to C libraries: `open` and `import ctypes` under
# other names (found by the adversarial corpus: np.fromfile could read the hidden tests by path
# and np.ctypeslib load libc without one import statement). A prefix covers what is below it.
NUMPY_ESCAPES = {
    "numpy.ctypeslib": "loads C libraries (ctypes through numpy)",
    "numpy.lib.format": "reads or writes files",
    "numpy.lib.npyio": "reads or writes files",
    "numpy.lib.DataSource": "opens files or URLs",
    "numpy.DataSource": "opens files or URLs",
    "numpy.f2py": "compiles and runs programs",
    "numpy.distutils": "compiles and runs programs",
    "numpy.memmap": "maps a file into memory",
    **{f"numpy.{name}": "reads or writes files" for name in (
        "load", "save", "savez", "savez_compressed", "loadtxt", "savetxt", "genfromtxt",
        "fromfile", "fromregex")},
}
# Python modules numpy's own modules import, reachable as their attributes
# (`np.ma.core.inspect`, `np.ma.core.builtins`, `np.testing.extbuild.sys`): imports by other
# names. No public numpy name is spelled like one of these.
PYTHON_MODULES_IN_NUMPY = {
    "sys", "os", "builtins", "inspect", "subprocess", "ctypes", "importlib", "gc", "operator",
    "functools", "itertools", "types", "pathlib", "tempfile", "shutil", "io", "pickle",
    "threading", "weakref", "platform", "sysconfig", "fileinput", "codecs", "textwrap",
    "warnings", "abc", "argparse", "contextlib", "traceback", "signal", "socket",
}
FILE_METHODS = {"tofile": "writes an array to a file", "dump": "pickles an array to a file"}
_TEXT_IMPORT = re.compile(r"^\s*(?:import\s+([\w.]+)|from\s+(\.*[\w.]*)\s+import\b)")


class ForbiddenImport(RuleInfo):
    """Imports (and the ways around an import) outside the allow-list."""

    rule_id: ClassVar[str] = "forbidden-import"
    hint: ClassVar[str] = "Use only the allowed libraries (numpy, math, time) in your solution."

    def check(self, ctx: CheckContext) -> Iterator[Finding]:
        allowed = set(ctx.config.allowed_imports)
        hint = ", ".join(sorted(allowed)) or "nothing"
        seen: set[tuple[int, int]] = set()
        for unit in ctx.units:
            for line, what in _problems(unit, allowed, ctx.aliases):
                if unit.wrote(line) and (unit.cell, line) not in seen:
                    seen.add((unit.cell, line))
                    yield Finding(
                        f"{where(unit.cell, line)}{what} — remove it; your code may use only {hint}.",
                        cell=unit.cell, line=line,
                    )


def _problems(unit: StudentCode, allowed: set[str], aliases: dict[str, str]) -> Iterator[tuple[int, str]]:
    for line, text in unit.magics:
        yield line, f"`{_short(text)}` is a shell or magic command, not Python"
    if unit.tree is None:
        yield from _text_imports(unit.source, allowed)
        return
    for node in walk_lines(unit.tree, unit.authored):
        found = _node_problem(node, allowed, aliases)
        if found:
            yield node.lineno, found  # type: ignore[attr-defined]


def _node_problem(node: ast.AST, allowed: set[str], aliases: dict[str, str]) -> str | None:
    if isinstance(node, ast.Import):
        bad = [a.name for a in node.names if a.name.split(".")[0] not in allowed
               or _numpy_path_escape(a.name)]
        return f"`import {', '.join(bad)}` is not allowed" if bad else None
    if isinstance(node, ast.ImportFrom):
        if node.level:
            return "a relative import is not allowed"
        top = (node.module or "").split(".")[0]
        if top not in allowed:
            return f"`from {node.module} import ...` is not allowed"
        bad = [a.name for a in node.names if _numpy_path_escape(f"{node.module}.{a.name}")]
        return f"`from {node.module} import {', '.join(bad)}` is not allowed" if bad else None
    if isinstance(node, ast.Call):
        return _call_problem(node, aliases)
    if isinstance(node, ast.Attribute) and node.attr in ESCAPES:
        return f"`.{node.attr}` reaches around the import rules"
    if isinstance(node, (ast.Attribute, ast.Name)):
        found = _numpy_escape(node, aliases)
        if found:
            return found
    if isinstance(node, ast.Name) and node.id in ESCAPES | {"importlib", "builtins"}:
        return f"`{node.id}` reaches around the import rules"
    if isinstance(node, ast.Attribute) and node.attr == "modules" and resolve(node.value, aliases) == "sys":
        return "`sys.modules` reaches around the import rules"
    return None


def _numpy_path_escape(path: str) -> str | None:
    """What a dotted numpy path reaches that `open`/`ctypes` would (None: ordinary numpy)."""
    for prefix, what in NUMPY_ESCAPES.items():
        if path == prefix or path.startswith(prefix + "."):
            return what
    private = [p for p in path.split(".")[1:] if p.startswith("_") and not p.endswith("__")]
    if path.startswith("numpy.") and private:
        return "is numpy's private code (it reaches os and files)"
    python = [p for p in path.split(".")[1:] if p in PYTHON_MODULES_IN_NUMPY]
    if path.startswith("numpy.") and python:
        return f"reaches Python's `{python[0]}` module through numpy (an import by another name)"
    return None


def _numpy_escape(node: ast.Attribute | ast.Name, aliases: dict[str, str]) -> str | None:
    what = _numpy_path_escape(resolve(node, aliases) or "")
    if what:
        return f"`{dotted_name(node)}` {what}"
    if isinstance(node, ast.Attribute) and node.attr in FILE_METHODS:
        return f"`.{node.attr}(...)` {FILE_METHODS[node.attr]}"
    return None


def _call_problem(node: ast.Call, aliases: dict[str, str]) -> str | None:
    func = node.func
    if isinstance(func, ast.Name) and func.id in DANGEROUS_CALLS:
        if func.id == "vars" and node.args and not _is_module(node.args[0], aliases):
            return None
        return f"`{func.id}(...)` {DANGEROUS_CALLS[func.id]}"
    if isinstance(func, ast.Name) and func.id in ATTRIBUTE_CALLS and node.args:
        computed = len(node.args) >= 2 and not (
            isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str))
        if _is_module(node.args[0], aliases) and not computed:  # computed: forbidden-call's
            return f"`{func.id}({dotted_name(node.args[0])}, ...)` on a module hides what is used"
    path = resolve(func, aliases) or ""
    if path.startswith("importlib") or path.split(".")[-1] == "__import__":
        return f"`{path}(...)` imports a module by name"
    return None


def _is_module(node: ast.AST, aliases: dict[str, str]) -> bool:
    dotted = dotted_name(node)
    if dotted is None:
        return False
    head = dotted.split(".")[0]
    return head in aliases or head in ("__builtins__", "builtins", "sys", "os")


def _text_imports(source: str, allowed: set[str]) -> Iterator[tuple[int, str]]:
    for index, line in enumerate(source.split("\n")):
        match = _TEXT_IMPORT.match(line)
        if match:
            module = match.group(1) or match.group(2) or ""
            if module.startswith(".") or module.split(".")[0] not in allowed:
                yield index + 1, f"`{_short(line.strip())}` is not allowed"


def _short(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."
