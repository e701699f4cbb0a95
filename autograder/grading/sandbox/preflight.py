"""The check a batch makes once before its first student: can student code be sandboxed here?"""

from __future__ import annotations

from autograder.grading.hidden import StudentError
from autograder.grading.sandbox import levels
from autograder.grading.sandbox.caller import SandboxCaller
from autograder.grading.sandbox.limits import SandboxError

# A batch checks the sandbox once before its first student: a machine that cannot run student
# code safely stops with one line saying what to install, instead of giving every student the
# same grader error (and the instructor a report full of host paths).

PROBE_SOURCE = "def autograder_probe(x):\n    return x + 1\n"


def preflight(requested: str = "auto", python: str | None = None) -> str:
    """Start one sandboxed worker and call it once: the level a batch will grade at.

    requested: "auto" (the strongest level that works here) or a level to insist on (a level
    that cannot work here is an error, never a silent fallback). Raises SandboxError with a
    one-line message naming what to install when student code cannot be run safely here (as
    root without bubblewrap it is never run as root instead).
    """
    try:
        level = levels.choose_level(requested, python)
    except SandboxError as exc:
        # An explicit level says why that one cannot work; "auto" says what to install.
        why = f"{exc}; " if requested != "auto" else ""
        raise SandboxError(f"the sandbox for student code is not available: {why}"
                           f"{levels.install_hint()}") from None
    try:
        with SandboxCaller(PROBE_SOURCE, level, python=python) as caller:
            answer = caller.call("autograder_probe", [41], {}, 0)
    except (SandboxError, StudentError, OSError) as exc:
        reason = exc.message if isinstance(exc, StudentError) else type(exc).__name__
        raise SandboxError(f"the {level} sandbox does not start here ({reason[:120]}): "
                           f"{levels.install_hint()}") from None
    if answer != 42:
        raise SandboxError(f"the {level} sandbox answered {str(answer)[:40]} to a test call: "
                           f"{levels.install_hint()}")
    return level
