"""Running one "submission" after another through this process's zygote: the reused-sandbox
tests (test_zygote.py and the red teams' modules) share it."""

from __future__ import annotations

from autograder.grading.hidden import StudentError, StudentTimeout
from autograder.grading.sandbox import Limits, SandboxCaller
from autograder.grading.sandbox.zygote import Zygote

LIMITS = Limits(call_timeout_s=5.0, load_timeout_s=20.0)


def run_in_zygote(function: str, source: str, limits: Limits = LIMITS,
                  ) -> tuple[object, Zygote | None]:
    """Call `function()` of `source` as one submission, guard off, in a worker forked by this
    process's zygote: (its value or the error it raised, the zygote it came from; None when the
    worker was killed)."""
    with SandboxCaller(source, reuse=True, guard=False, limits=limits) as caller:
        try:
            value: object = caller.call_many(function, [((), {})], 0)[0]
        except (StudentError, StudentTimeout) as exc:
            value = exc
        zygote = caller.worker.zygote if caller.worker is not None else None
    return value, zygote
