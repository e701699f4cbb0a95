"""Imported by the grader's fork server when bench/startup_probe.py runs it (see there).

Records the fork server's CPU seconds once its preloads are imported, and wraps
`autograder.grading.pipeline.grade_one` so that a worker's first call records when it began.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time

import autograder.grading.pipeline as pipeline


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


SERVER_CPU = _cpu()  # the fork server's, its preloads imported
_grade_one = pipeline.grade_one
_seen: list[bool] = []


def grade_one(*args, **kwargs):
    """`grade_one`, recording the first call of this worker (a `worker` event)."""
    if _seen:
        return _grade_one(*args, **kwargs)
    _seen.append(True)
    # a forked child's CPU counters start at zero: this is the worker's own time so far
    event = {"event": "worker", "seconds": time.time() - float(os.environ["STARTUP_T0"]),
             "server_cpu": SERVER_CPU, "worker_cpu": _cpu()}
    before = set(sys.modules)
    try:
        return _grade_one(*args, **kwargs)
    finally:
        new = set(sys.modules) - before
        event["imported_by_first_call"] = sorted({m.split(".")[0] for m in new})
        # the kit's own modules by their full names (which one the fork server could preload)
        event["kit_modules_imported_by_first_call"] = sorted(m for m in new if m.startswith("autograder."))
        event["first_call_seconds"] = time.time() - float(os.environ["STARTUP_T0"]) - event["seconds"]
        with open(os.environ["STARTUP_OUT"], "a") as f:
            f.write(json.dumps(event) + "\n")


pipeline.grade_one = grade_one
