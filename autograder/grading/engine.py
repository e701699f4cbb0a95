"""The hidden-test engine: one graded module in, plain results out (docs/sandbox.md).

`grade_module` starts one sandboxed worker for the submission (autograder.grading.sandbox), loads the
graded module into it, runs every hidden test through it (autograder.grading.hidden; a dead worker is
restarted for the next call), checks the best models in the trusted process (autograder.core.models)
and returns report.json's `tests` entries, the violations it found (`sandbox-violation` for what
the import guard refused, `model-invalid`), the sandbox level, the time taken and the student's
captured output. Hidden tests, the reference and every comparison stay in this process.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from autograder.core.config import AssignmentConfig
from autograder.core.models import check_model, gate_model
from autograder.grading.hidden import Stubs, collect_tests, run_hidden_tests, stubs_beside
from autograder.grading.hidden.errors import guard_operation
from autograder.grading.measure import (
    LOOPING_NOTE,
    REPLACED_NOTE,
    CallLog,
    loop_violations,
    looping_functions,
    measure_loops,
    replaced_violations,
    zero_tests,
)
from autograder.grading.sandbox import Limits, SandboxCaller


@dataclass
class EngineResult:
    """What the engine found for one submission (plain data, picklable across a process pool).

    tests: report.json `tests` entries (name, grade_id, score, max_score, status, message);
    violations: report.json `violations` entries; sandbox: "bwrap" | "uid" | "process";
    output: the student's captured stdout/stderr, per test, truncated; log: grader-side
    tracebacks for instructors (never for students); notes: what the student should know
    beyond the tests' results (the submission's time budget ran out; files the worker left in
    the machine's shared temporary folders were removed), plain sentences for report.json and
    feedback, without host paths.
    """

    tests: list[dict[str, Any]]
    violations: list[dict[str, Any]]
    sandbox: str
    seconds: float
    output: str = ""
    functions: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def grade_module(
    module_source: str,
    config: AssignmentConfig,
    tests_module: ModuleType,
    ref_module: ModuleType,
    submission_dir: Path | None,
    sandbox: str = "auto",
    *,
    limits: Limits | None = None,
    guard: bool | None = None,
    data_dir: str | None = None,
    prestart: bool = True,
    where: Callable[[int], tuple[int | None, int | None]] | None = None,
    stubs: Stubs | None = None,
) -> EngineResult:
    """Run the assignment's hidden tests and model checks for one graded module.

    module_source: the graded module (preamble + grafted cells) as text; it only ever runs in
    the worker. submission_dir: where the student's `.npz` models are (None: no model checks).
    sandbox: "auto" (the strongest level available) or a level to insist on. limits: default
    from `[limits]` of assignment.toml. guard: the worker's import guard (default on; off only
    to prove containment holds without it: `autograder grade --no-worker-guard`). prestart: boot the next
    submission's worker while this one is graded (autograder.grading.sandbox, "the spare worker").
    where: a graded-module line -> the student's (cell, line) (autograder.core.graft.GradedModule
    .where), for the places of violations found while running (None: they have no place).
    stubs: the assignment's stubs, which tests pass by name (default: the stubs.py beside the
    tests module's file, solutions/<A>/stubs.py; none if there is no such file).
    """
    start = time.perf_counter()
    model_ids = {spec.grade_id for spec in config.models.values()}
    points = {g: p for g, p in config.tests.items() if g not in model_ids}
    seed = int(config.private.get("seed", 0))
    limits = limits or Limits.from_config(config.limits)
    stubs = stubs if stubs is not None else stubs_beside(tests_module)
    with SandboxCaller(module_source, sandbox, limits, config.allowed_imports, guard,
                       prestart=prestart, loop_free=config.loop_free, stubs=stubs) as caller:
        caller.where = where  # the place of a student's exception, in their notebook
        calls = CallLog(caller)  # which functions each test called, for zero_tests below
        results = run_hidden_tests(tests_module, calls, ref_module, points, seed, on_result=calls.done)
        # loop-free, measured (autograder.grading.measure): after the tests, in the same worker
        measured, probe_notes = measure_loops(caller, tests_module, config.loop_free, seed)
        level, refused, functions = caller.level, list(caller.violations), list(caller.functions)
        replaced = dict(caller.replaced)
    report_notes = list(caller.notes)  # filled when the caller closed (budget, host litter)
    # A replaced graded function earns its tests nothing (also those that passed it along), a
    # loop-free function measured looping over its data the tests that call it.
    tests = zero_tests([r.report_entry() for r in results], calls, replaced, REPLACED_NOTE, passed=True)
    tests = zero_tests(tests, calls, looping_functions(config, module_source, measured), LOOPING_NOTE)
    tests += _groups_without_tests(tests_module, points)
    # A refused import is already a `forbidden-import` of the static rules (the message of the
    # failing test says what happened); counting it again here would punish one honest
    # mistake twice. Files, processes, network and ctypes are what this violation is for.
    violations = [_sandbox_violation(config, what) for what in refused
                  if not what.startswith("import ")]
    violations += replaced_violations(config, module_source, replaced, where)
    violations += loop_violations(config, module_source, measured, where)
    if submission_dir is not None:
        earned: dict[str, float] = {}
        for test in tests:  # points per hidden test and per group, for the models' `requires`
            earned[test["name"]] = float(test["score"])
            earned[test["grade_id"]] = earned.get(test["grade_id"], 0.0) + float(test["score"])
        for spec in config.models.values():
            entry, found = check_model(spec, config, Path(submission_dir), ref_module, data_dir)
            tests.append(gate_model(entry, spec, earned))
            violations += found
    output = "\n".join(f"--- {r.name} ---\n{r.output}" for r in results if r.output)
    log = [f"{r.name}:\n{r.internal}" for r in results if r.internal] + probe_notes
    return EngineResult(tests, violations, level, round(time.perf_counter() - start, 3),
                        output, functions, log, report_notes)


def _groups_without_tests(tests_module: ModuleType, points: dict[str, float]) -> list[dict]:
    """A group with points but no hidden test is the instructor's bug: shown, never silent."""
    have = {t.grade_id for t in collect_tests(tests_module)}
    return [{"name": gid, "grade_id": gid, "score": 0.0, "max_score": pts, "status": "error",
             "message": f"internal: no hidden test for group {gid!r}"}
            for gid, pts in points.items() if gid not in have]


def _sandbox_violation(config: AssignmentConfig, what: str) -> dict[str, Any]:
    policy = config.rule("sandbox-violation")
    return {"rule": "sandbox-violation", "severity": policy.severity,
            # guard_operation: the guard's wording only, never a path or name the student chose
            "message": f"Your code tried {guard_operation(what) or 'an operation'}, "
                       "which is not allowed in graded code.",
            "cell": None, "deduction": policy.deduction}
