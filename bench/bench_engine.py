"""Benchmark: grading one submission with the hidden-test engine, worker start included.

    .venv/bin/python bench/bench_engine.py [--repeat 10] [--only synthetic A2 A3 A4]

For each submission (a small synthetic assignment, and the A2, A3 and A4 reference solutions when
solutions/ has them), grades it `--repeat` times with `engine.grade_module` at the "bwrap" level
(when available: root + bubblewrap) and at the "process" level, and prints the median wall time
per submission at each level and their ratio, next to "in-process": the same hidden tests
calling the module directly, i.e. what the tests cost without any worker. The issue's goal is <= 0.3 s per submission;
this prints figures and asserts nothing about time (the machine's load decides too much).
Best models are not checked here (no submission folder): that is a dataset load + one predict.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import types
from typing import Any

from autograder.core.config import REPO_ROOT, AssignmentConfig, load_config, parse_config
from autograder.core.module import PREAMBLE, load_trusted_module, module_source
from autograder.grading.engine import grade_module
from autograder.grading.hidden import InProcessCaller, run_hidden_tests, stubs_beside
from autograder.grading.sandbox import SandboxError, choose_level, discard_spare

SYNTHETIC = PREAMBLE + '''

def add(a, b):
    return a + b


def linear_loss(W, X, y, reg):
    N, C = X.shape[0], W.shape[1]
    diff = X @ W - np.eye(C)[y]
    loss = 0.5 * np.sum(diff ** 2) / N + reg * np.sum(W * W)
    return loss, X.T @ diff / N + 2 * reg * W
'''

SYNTHETIC_TESTS = '''
from autograder.grading.hidden import hidden_test


@hidden_test("add")
def add_matches(ctx):
    a, b = ctx.rng.normal(size=(50, 10)), ctx.rng.normal(size=(50, 10))
    ctx.assert_close(ctx.call("add", a, b), ctx.ref.add(a, b), what="a + b")


@hidden_test("loss")
def loss_and_gradient(ctx):
    W, X, y = ctx.rng.normal(size=(20, 5)), ctx.rng.normal(size=(40, 20)), ctx.rng.integers(0, 5, 40)
    loss, dW = ctx.call("linear_loss", W, X, y, 0.1)
    ref_loss, ref_dW = ctx.ref.linear_loss(W, X, y, 0.1)
    ctx.assert_close(loss, ref_loss, what="loss")
    ctx.assert_close(dW, ref_dW, what="dW")
    ctx.check_gradient("linear_loss", (W, X, y, 0.1), 0, dW, num_checks=20)
'''


def synthetic() -> tuple[str, AssignmentConfig, types.ModuleType, types.ModuleType]:
    config = parse_config({"assignment": {"name": "bench", "notebooks": ["bench.ipynb"]},
                           "tests": {"add": 1, "loss": 1}, "private": {"seed": 1}})
    tests = load_trusted_module(SYNTHETIC_TESTS, "bench_hidden_tests")
    return SYNTHETIC, config, tests, load_trusted_module(SYNTHETIC, "bench_reference")


def real(assignment: str) -> tuple[str, AssignmentConfig, types.ModuleType, types.ModuleType] | None:
    from autograder.core.notebook import read_notebook
    from autograder.grading.hidden import load_tests_module

    sol = REPO_ROOT / "solutions" / assignment
    if not (sol / "hidden_tests.py").is_file():
        return None
    config = load_config(sol / "assignment.toml")
    cells = [c for nb in config.notebooks for c in read_notebook(sol / nb).cells]
    source = module_source(cells)
    return source, config, load_tests_module(sol / "hidden_tests.py"), load_trusted_module(
        source, f"bench_ref_{assignment}")


def time_grading(case: tuple[Any, ...], level: str, repeat: int, prestart: bool) -> float:
    """Median seconds per submission; level "in-process" runs the same hidden tests against
    the module in this process (no worker, no sandbox): what the tests themselves cost."""
    source, config, tests, ref = case
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        if level == "in-process":
            student = load_trusted_module(source, "bench_student")
            points = {g: p for g, p in config.tests.items()
                      if g not in {m.grade_id for m in config.models.values()}}
            run_hidden_tests(tests, InProcessCaller(student, stubs=stubs_beside(tests)), ref, points,
                             int(config.private.get("seed", 0)))
        else:
            grade_module(source, config, tests, ref, None, sandbox=level, prestart=prestart)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=10)
    p.add_argument("--only", nargs="+", default=["synthetic", "A2", "A3", "A4"])
    p.add_argument("--no-prestart", action="store_true",
                   help="start each worker only when its submission is graded (no spare)")
    args = p.parse_args(argv)
    levels = []
    try:
        levels.append(choose_level("bwrap"))
    except SandboxError as exc:
        print(f"bwrap level not available here: {exc}")
    levels += ["process", "in-process"]
    prestart = not args.no_prestart
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}; {args.repeat} "
          f"gradings per submission and level, worker start included, prestart={prestart}")
    print(f"{'submission':<12}" + "".join(f"{lvl:>14}" for lvl in levels)
          + (f"{'bwrap/process':>15}" if levels[0] == "bwrap" else ""))
    for name in args.only:
        case = synthetic() if name == "synthetic" else real(name)
        if case is None:
            print(f"{name:<12} (no hidden tests in solutions/{name})")
            continue
        time_grading(case, "process", 1, prestart)  # warm-up: imports, runtime, staging
        medians = [time_grading(case, lvl, args.repeat, prestart) for lvl in levels]
        ratio = f"{medians[0] / medians[1]:>14.2f}x" if levels[0] == "bwrap" else ""
        print(f"{name:<12}" + "".join(f"{m:>13.3f}s" for m in medians) + ratio)
    discard_spare()
    return 0


if __name__ == "__main__":
    sys.exit(main())
