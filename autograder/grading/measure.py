"""Loop-free, measured; graded names, verified (the trusted side of both checks).

The worker measures, the grader decides. For every `[policy].loop_free` function the worker
counts the Python-level work of each call (autograder.grading.worker.WorkMeter: frames entered plus
lines run, in any Python code below the call) and sends the counts back as plain ints. Here the
function is called on inputs of growing size, built by the assignment's *loop probes*
(`@loop_probe` in hidden_tests.py), and if its work grows with the size, something in it
loops in Python over the data: `loop-in-vectorized`, whatever the disguise (a `for`,
recursion, `map`, a comprehension, np.vectorize's callbacks, a call to the naive version).
Whole-array numpy code does the same Python work on 8 examples as on 128.

The worker also reports graded names that are no longer the function their own `def` created
(autograder.grading.worker.OwnFunctions); each becomes one `sandbox-violation`, and the tests of that
function's group score 0.

Nothing the worker sends is trusted beyond its type: counts are ints, names must be functions
the graded module defines, and every message is written here.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograder.core.config import AssignmentConfig
from autograder.core.rules.base import where as where_text
from autograder.grading.hidden import StudentError, passed_functions, stable_seed
from autograder.grading.protocol import FuncRef
from autograder.grading.worker import WORK_CAP, WORK_TAMPERED

PROBES_ATTR = "__loop_probes__"
# The sizes a probe is built at. Three sizes a factor 4 apart: a loop over the data shows as
# work that changes by at least one step per added item, honest code does not change at all.
PROBE_SIZES = (8, 32, 128)
# Work may differ between two sizes by this much for nothing (a branch on the shape).
MIN_GROWTH = 12

Where = Callable[[int], "tuple[int | None, int | None]"]


# --------------------------------------------------------------------------- probes


@dataclass(frozen=True)
class LoopProbe:
    """How to call loop-free function `name` at size n: `build(rng, n)` -> its positional args."""

    name: str
    build: Callable[[np.random.Generator, int], Sequence[Any]]


def loop_probe(name: str) -> Callable[[Callable], Callable]:
    """Register, in hidden_tests.py, the inputs of size n for measuring loop-free `name`.

    The function gets a seeded `np.random.Generator` and a size n (8, 32, 128) and returns the
    positional arguments of one call, as plain values (arrays, numbers, dicts; a function
    argument as `student_function("...")`). Scale every axis the code must not loop over with
    n (examples, features, classes), keep inputs clear of ties.
    """
    if not isinstance(name, str) or not name:
        raise TypeError("loop_probe needs the function's name, e.g. @loop_probe('svm_loss_vectorized')")

    def register(func: Callable) -> Callable:
        func.__globals__.setdefault(PROBES_ATTR, []).append(LoopProbe(name, func))
        return func

    return register


def student_function(name: str) -> FuncRef:
    """A probe argument that is one of the student's functions (e.g. nn_predict's loss_func)."""
    return FuncRef("student", name)


def stub_function(name: str) -> FuncRef:
    """A probe argument that is one of the assignment's stubs (its stubs.py), so a function
    that takes a function is measured on its own work only."""
    return FuncRef("stub", name)


def collect_probes(module: types.ModuleType) -> dict[str, LoopProbe]:
    """The loop probes a hidden-tests module registers, by function name (the last one wins)."""
    return {probe.name: probe for probe in getattr(module, PROBES_ATTR, [])}


# --------------------------------------------------------------------------- measuring


@dataclass
class Measurement:
    """The work of one loop-free function at each probe size (None: that call gave no count)."""

    name: str
    sizes: list[int]
    work: list[int | None]
    passes: set[str] = field(default_factory=set)  # student functions its probe passes it

    @property
    def tampered(self) -> bool:
        return WORK_TAMPERED in self.work

    @property
    def grows(self) -> bool:
        """Python-level work that depends on the size of the input (or no honest amount of it)."""
        points = [(n, w) for n, w in zip(self.sizes, self.work, strict=True) if w is not None]
        if any(w >= WORK_CAP for _, w in points):
            return True
        return any(abs(w2 - w1) >= max(MIN_GROWTH, (n2 - n1) // 2)
                   for i, (n1, w1) in enumerate(points) for n2, w2 in points[i + 1:])


def measure_loops(
    caller: Any, tests_module: types.ModuleType, loop_free: Sequence[str], seed: int,
    sizes: Sequence[int] = PROBE_SIZES,
) -> tuple[list[Measurement], list[str]]:
    """Call each loop-free function on its probe's inputs, one size per call, and read back the
    worker's counts. Returns the measurements and notes for the instructor (a function without
    a probe is measured by nobody: it is the instructor's to add). A caller that does not
    measure (the in-process one) gives no measurements."""
    if not hasattr(caller, "work"):
        return [], []
    probes = collect_probes(tests_module)
    found, notes = [], []
    for name in loop_free:
        probe = probes.get(name)
        if probe is None:
            notes.append(f"internal: no @loop_probe for loop-free {name!r}: it was checked "
                         "statically only")
            continue
        measured = Measurement(name, list(sizes), [])
        try:
            # The first call at the smallest size warms up (numpy and the student's code do
            # some work once, on first use) and is not counted.
            for i, n in enumerate([sizes[0], *sizes]):
                args = tuple(probe.build(np.random.default_rng(stable_seed(seed, "loop", name, n)), n))
                measured.passes |= passed_functions([(args, {})])
                work = _work_of(caller, name, args, seed)
                if i:
                    measured.work.append(work)
        except Exception as exc:  # noqa: BLE001 - the probe's own bug: the instructor's to fix
            notes.append(f"internal: the @loop_probe of {name!r} failed ({type(exc).__name__}: "
                         f"{str(exc)[:200]}): it was checked statically only")
            continue
        found.append(measured)
    return found, notes


def _work_of(caller: Any, name: str, args: tuple, seed: int) -> int | None:
    """The worker's count for one call (None when the reply had none: a timeout, a crash)."""
    caller.work = []
    try:
        caller.call_many(name, [(args, {})], seed)
    except StudentError:
        pass  # the count of a call that raised is still a count
    caller.take_output()
    work = list(caller.work)
    return work[0] if work and work[0] >= WORK_TAMPERED else None


# --------------------------------------------------------------------------- violations


def _graph(source: str) -> Any:
    from autograder.core.rules.loops import call_graph

    return call_graph(source)


def loop_violations(
    config: AssignmentConfig, source: str, measured: Sequence[Measurement], where: Where | None = None,
) -> list[dict[str, Any]]:
    """One `loop-in-vectorized` per loop-free function whose work grows (or that switched the
    meter off), unless the static rule already charged it (it runs on the same graded module,
    see autograder.core.rules.loops) or it only grows through another flagged function it calls or
    is passed (one loop costs once, where it is)."""
    return _loops(config, source, measured, where)[0]


def looping_functions(config: AssignmentConfig, source: str, measured: Sequence[Measurement]) -> set[str]:
    """The loop-free functions measured looping over their data (their own loop, not one they
    reach in another flagged function): the tests that call them earn nothing, vectorizing
    them was the work. A loop only the static rule sees (a `for` over a dict's four keys, say)
    costs its deduction but not the tests: its work does not grow with the data."""
    return _loops(config, source, measured, None)[1]


def _loops(
    config: AssignmentConfig, source: str, measured: Sequence[Measurement], where: Where | None,
) -> tuple[list[dict[str, Any]], set[str]]:
    graph = _graph(source)
    if graph is None:
        return [], set()
    flagged = [m for m in measured if (m.grows or m.tampered) and m.name in graph.functions]

    def reaches(m: Measurement, other: str) -> bool:
        return m.name != other and (other in m.passes or graph.reaches(m.name, other, set()))

    # callees first, so a function that only calls a looping one is the one left out
    flagged.sort(key=lambda m: sum(reaches(m, o.name) for o in flagged))
    kept: list[Measurement] = []
    out, looping = [], set()
    for m in flagged:
        through = any(reaches(m, k.name) for k in kept)
        kept.append(m)
        if through:
            continue
        looping.add(m.name)
        if graph.loop(m.name) is None:  # else the static rule reports it (the same function)
            out.append(_loop_violation(config, graph, m, where))
    return out, looping


def _loop_violation(config: AssignmentConfig, graph: Any, m: Measurement, where: Where | None) -> dict:
    policy = config.rule("loop-in-vectorized")
    cell, line = _place(graph.functions[m.name].lineno, where)
    todo = "use whole-array numpy operations (broadcasting, fancy indexing) instead"
    if m.tampered:
        what = ("its Python-level work could not be measured: your code switched off Python's "
                "tracing while it ran")
    else:
        counts = ", ".join(f"{'?' if w is None else _count(w)} at size {n}"
                           for n, w in zip(m.sizes, m.work, strict=True))
        what = ("its Python-level work grows with the size of its input "
                f"({counts} steps): it loops in Python over the data, in some form "
                "(a loop, a comprehension, recursion, map, np.vectorize or a call to a "
                "function that loops)")
    return {"rule": "loop-in-vectorized", "severity": policy.severity,
            "message": f"{where_text(cell, line)}`{m.name}` must be loop-free, but {what} — {todo}.",
            "cell": cell, "line": line, "deduction": policy.deduction, "function": m.name}


def _count(w: int) -> str:
    return f"over {WORK_CAP:,}" if w >= WORK_CAP else f"{w:,}"


_LINE = re.compile(r"line (\d{1,9}):")


def replaced_violations(
    config: AssignmentConfig, source: str, replaced: dict[str, str], where: Where | None = None,
) -> list[dict[str, Any]]:
    """One `sandbox-violation` per graded name that is not its own def's function any more.
    Only names the graded module defines at top level count (anything else was forged)."""
    graph = _graph(source)
    functions = graph.functions if graph is not None else {}
    policy = config.rule("sandbox-violation")
    out = []
    for name in sorted(replaced):
        if name not in functions:
            continue
        match = _LINE.match(replaced[name])
        cell, line = _place(int(match.group(1)) if match else functions[name].lineno, where)
        out.append({
            "rule": "sandbox-violation", "severity": policy.severity,
            "message": f"{where_text(cell, line)}`{name}` is not the function its own cell "
                       "defines any more (your code rebound, redefined or rebuilt it), so its "
                       "tests score 0 — keep your code inside the function's TODO block, and "
                       "never assign to, decorate or redefine a graded function.",
            "cell": cell, "line": line, "deduction": policy.deduction, "function": name})
    return out


REPLACED_NOTE = "`{}` was replaced by your code, so this test scores 0."
LOOPING_NOTE = ("`{}` must be loop-free and it loops, so this test scores 0 (vectorizing it is "
                "the work this test grades).")


class CallLog:
    """A caller that remembers which student functions each hidden test called (`direct`) or
    passed as an argument (`passed`): "that function's tests" when a finding zeroes them.
    Give `done` as run_hidden_tests' on_result."""

    def __init__(self, caller: Any) -> None:
        self.caller = caller
        self.stubs = caller.stubs  # what ctx.stub checks names against
        self.direct: dict[str, set[str]] = {}
        self.passed: dict[str, set[str]] = {}
        self._direct: set[str] = set()
        self._passed: set[str] = set()

    def call_many(self, name: str, calls: Sequence[tuple[Sequence[Any], dict[str, Any]]], seed: int) -> list:
        self._direct.add(name)
        self._passed |= passed_functions(calls)
        return self.caller.call_many(name, calls, seed)

    def call(self, name: str, args: Sequence[Any], kwargs: dict[str, Any], seed: int) -> Any:
        return self.call_many(name, [(args, kwargs)], seed)[0]

    def take_output(self) -> str:
        return self.caller.take_output()

    def file_calls(self, direct: set[str], passed: set[str]) -> None:
        """The running test uses what another test's `ctx.once` computation called: file
        those calls under this test too."""
        self._direct |= direct
        self._passed |= passed

    def done(self, result: Any) -> None:
        """The test `result.name` ended: file what it called."""
        self.direct[result.name], self.passed[result.name] = self._direct, self._passed
        self._direct, self._passed = set(), set()

    def tests_of(self, names: Iterable[str], passed: bool = False) -> set[str]:
        """The tests that called one of `names` (or, with passed, also passed one along)."""
        names = set(names)
        return {test for test, called in self.direct.items()
                if called & names or passed and self.passed.get(test, set()) & names}


def zero_tests(
    tests: list[dict[str, Any]], log: CallLog, names: Iterable[str], note: str, passed: bool = False,
) -> list[dict[str, Any]]:
    """The test entries of the tests that called one of `names` at 0, the note (formatted with
    the function) ahead of their message. Tests that passed count too: what they checked was
    not the work they grade."""
    names = set(names)
    for entry in tests:
        test = str(entry.get("name"))
        if test in log.tests_of(names, passed) and entry.get("score", 0):
            called = sorted((log.direct.get(test, set()) | log.passed.get(test, set())) & names)
            entry["score"] = 0.0
            entry["status"] = "failed"
            entry["message"] = (note.format(called[0] if called else "?") + " "
                                + str(entry.get("message", ""))).strip()
    return tests


def joined_where(modules: Sequence[Any]) -> Where:
    """A `where` for graded modules (autograder.core.graft.GradedModule) joined with "\\n", as the
    grader joins an assignment's notebooks: a line of the joined source -> the student's
    (cell, line) in the notebook it came from."""
    def where(line: int) -> tuple[int | None, int | None]:
        for module in modules:
            count = module.source.count("\n") + 1
            if line <= count:
                return module.where(line)
            line -= count
        return None, None

    return where


def _place(module_line: int, where: Where | None) -> tuple[int | None, int | None]:
    if where is None:
        return None, None
    try:
        return where(module_line)
    except Exception:  # noqa: BLE001 - a place is a courtesy; the violation stands without it
        return None, None
