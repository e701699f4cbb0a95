"""An assignment's stubs: functions a hidden test passes, by name, to a student's function.

A stub lives with its assignment, in `solutions/<A>/stubs.py` beside hidden_tests.py (only the
assignments whose tests pass one have that file). A test passes `ctx.stub("nn_probe_loss")`
where the student's code expects a `loss_func` or `pred_func`; the caller resolves the name:
the in-process caller to the function loaded here, the sandboxed worker to its own copy, made
from the source this object carries (the worker receives it with the graded module, so only
that assignment's stubs are ever in its worker).

Stubs run next to student code: numpy only, no grader imports, no hidden values (graded code
can read them). The stubs of a file are its top-level `def`s whose names do not start with `_`.
"""

from __future__ import annotations

import ast
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STUBS_FILE = "stubs.py"  # in solutions/<A>/, beside hidden_tests.py; never released
STUBS_FILENAME = "<assignment stubs>"  # the code's file name, in the worker too


class StubsError(ValueError):
    """A stubs file that cannot be used (the instructor's to fix); str() names the file."""


def stub_names(source: str, origin: str = STUBS_FILE) -> tuple[str, ...]:
    """The stubs a source defines: its top-level public `def`s, in order (StubsError if it does
    not parse)."""
    try:
        tree = ast.parse(source, origin)
    except SyntaxError as exc:
        raise StubsError(f"{origin}: line {exc.lineno}: {exc.msg}") from None
    return tuple(node.name for node in tree.body
                 if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"))


def exec_stubs(source: str, names: tuple[str, ...]) -> dict[str, Callable[..., Any]]:
    """Run a stubs source in a fresh module and return its stubs by name (the worker does the
    same with the source it receives: autograder.grading.worker.Worker.load_stubs)."""
    module = types.ModuleType("assignment_stubs")
    exec(compile(source, STUBS_FILENAME, "exec"), module.__dict__)  # noqa: S102 - instructor code
    return {name: module.__dict__[name] for name in names
            if isinstance(module.__dict__.get(name), types.FunctionType)}


@dataclass(frozen=True)
class Stubs:
    """The stubs of one assignment: their source (sent to the worker) and their names.

    `functions()` loads them in this process, once (the in-process caller calls them there).
    """

    source: str = ""
    names: tuple[str, ...] = ()
    origin: str = ""  # where the source came from, for messages
    _loaded: dict[str, Callable[..., Any]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_source(cls, source: str, origin: str = STUBS_FILE) -> Stubs:
        """Stubs from their source text (StubsError if it does not parse)."""
        return cls(source, stub_names(source, origin), origin)

    @classmethod
    def from_file(cls, path: str | Path) -> Stubs:
        """Stubs from a stubs.py (StubsError naming the file if it cannot be read or parsed)."""
        path = Path(path)
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise StubsError(f"{path}: cannot be read ({type(exc).__name__})") from None
        return cls.from_source(source, str(path))

    def functions(self) -> Mapping[str, Callable[..., Any]]:
        """The stubs as functions of this process, by name (loaded on first use)."""
        if self.names and not self._loaded:
            self._loaded.update(exec_stubs(self.source, self.names))
        return self._loaded

    def unknown(self, name: str) -> KeyError:
        """The error for a stub name this assignment does not define (names the known ones)."""
        known = ", ".join(self.names) or "none"
        where = f" in {Path(self.origin).name}" if self.origin else ""
        return KeyError(f"no stub named {name!r}{where}; this assignment's stubs: {known}")


NO_STUBS = Stubs()


def assignment_stubs(folder: str | Path) -> Stubs:
    """The stubs of the assignment whose solutions folder is `folder` (none without stubs.py)."""
    path = Path(folder) / STUBS_FILE
    return Stubs.from_file(path) if path.is_file() else NO_STUBS


def stubs_beside(module: types.ModuleType) -> Stubs:
    """The stubs beside a loaded hidden_tests.py (its folder's stubs.py; none if the module has
    no file, e.g. tests built in memory)."""
    file = getattr(module, "__file__", None)
    return assignment_stubs(Path(file).parent) if file and Path(file).is_file() else NO_STUBS
