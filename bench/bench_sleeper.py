"""Benchmark: a "sleeper" submission against the per-submission time budget.

    .venv/bin/python bench/bench_sleeper.py [--assignment A3] [--margin 0.5]

The assignment's reference solution, with `time.sleep(call_timeout_s - margin)` at the top of
every graded function (every hidden-test group's function), graded once through the sandboxed
engine with the assignment's own [limits] (call_timeout_s, submission_seconds). Every call
passes its own limit; only the budget per submission stops it. Prints the wall time of that
grading, how many tests timed out, and, for comparison, how many calls the hidden tests make
(counted in-process on the honest reference) and what they would cost without a budget
(calls × sleep). Prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import sys
import time

from autograder.core.config import REPO_ROOT, load_config
from autograder.core.module import load_trusted_module, module_source
from autograder.core.notebook import read_notebook
from autograder.grading.engine import grade_module
from autograder.grading.hidden import (
    InProcessCaller,
    load_tests_module,
    run_hidden_tests,
    stubs_beside,
)
from autograder.grading.sandbox import Limits, discard_spare


class CountingCaller(InProcessCaller):
    """The in-process caller, counting the calls the hidden tests make."""

    calls = 0

    def call_many(self, name, calls, seed):  # type: ignore[override]
        CountingCaller.calls += len(calls)
        return super().call_many(name, calls, seed)


def sleeper_source(source: str, functions: set[str], seconds: float) -> str:
    """`time.sleep(seconds)` as the first statement of each top-level function in `functions`."""
    import ast

    lines = source.splitlines()
    starts = sorted((node.body[0].lineno, node.body[0].col_offset)
                    for node in ast.parse(source).body
                    if isinstance(node, ast.FunctionDef) and node.name in functions)
    for lineno, col in reversed(starts):  # before the first statement (the docstring, if any)
        lines.insert(lineno - 1, " " * col + f"time.sleep({seconds!r})")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--assignment", default="A3")
    p.add_argument("--margin", type=float, default=0.5, help="seconds under the call limit")
    args = p.parse_args(argv)
    sol = REPO_ROOT / "solutions" / args.assignment
    config = load_config(sol / "assignment.toml")
    limits = Limits.from_config(config.limits)
    cells = [c for nb in config.notebooks for c in read_notebook(sol / nb).cells]
    source = module_source(cells)
    ref = load_trusted_module(source, f"ref_{args.assignment}")
    tests = load_tests_module(sol / "hidden_tests.py")
    model_ids = {m.grade_id for m in config.models.values()}
    points = {g: v for g, v in config.tests.items() if g not in model_ids}
    run_hidden_tests(tests, CountingCaller(load_trusted_module(source, "honest"), stubs=stubs_beside(tests)), ref, points,
                     int(config.private.get("seed", 0)))
    nap = limits.call_timeout_s - args.margin
    student = sleeper_source(source, set(points), nap)
    start = time.perf_counter()
    result = grade_module(student, config, tests, ref, None, guard=False, prestart=False)
    seconds = time.perf_counter() - start
    discard_spare()
    statuses = [t["status"] for t in result.tests]
    print(f"{args.assignment}: call_timeout_s={limits.call_timeout_s:g}, "
          f"submission_seconds={limits.submission_seconds:g}, every graded function sleeps "
          f"{nap:g} s; sandbox {result.sandbox}")
    print(f"sleeper graded in {seconds:.1f} s: {statuses.count('timeout')} of {len(statuses)} "
          f"tests timed out, {statuses.count('passed')} passed")
    print(f"the hidden tests make {CountingCaller.calls} calls: without a budget about "
          f"{CountingCaller.calls * nap / 60:.0f} min ({CountingCaller.calls} x {nap:g} s)")
    for note in result.notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
