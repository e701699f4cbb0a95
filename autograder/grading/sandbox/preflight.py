"""The check a batch makes once before its first student: can student code be sandboxed here?"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from autograder.grading.hidden import StudentError
from autograder.grading.sandbox import levels
from autograder.grading.sandbox.caller import SandboxCaller
from autograder.grading.sandbox.limits import SandboxError
from autograder.grading.sandbox.runtime import PYTHON_ENV

# A batch checks the sandbox once before its first student: a machine that cannot run student
# code safely stops with one line saying what to install, instead of giving every student the
# same grader error (and the instructor a report full of host paths).

PROBE_SOURCE = "def autograder_probe(x):\n    return x + 1\n"


def preflight(requested: str = "auto", python: str | None = None,
              answered: Callable[[str], None] | None = None) -> str:
    """Start one sandboxed worker and call it once: the level a batch will grade at.

    requested: "auto" (the strongest level that works here) or a level to insist on (a level
    that cannot work here is an error, never a silent fallback). Raises SandboxError with a
    one-line message naming what to install when student code cannot be run safely here (as
    root without bubblewrap it is never run as root instead). answered(level) is called as soon
    as the worker gave the right answer, before it is stopped (`BackgroundPreflight`).

    Where bubblewrap is installed and may be used, its probe worker is started at once: when it
    answers, bwrap is known to work (`levels.record_bwrap_worked`) without the separate check
    `choose_level` makes; when it does not, the level is chosen and probed as without it.
    """
    python = python or os.environ.get(PYTHON_ENV) or None
    root = levels.is_root()
    if requested in ("auto", "bwrap") and levels.bwrap_installed(root):
        levels.record_bwrap_worked(root, python)  # so that the probe's caller starts at bwrap
        try:
            return _probe("bwrap", python, answered)
        except SandboxError:
            levels.forget_bwrap_worked(root, python)  # the usual check decides below
    try:
        level = levels.choose_level(requested, python)
    except SandboxError as exc:
        # An explicit level says why that one cannot work; "auto" says what to install.
        why = f"{exc}; " if requested != "auto" else ""
        raise SandboxError(f"the sandbox for student code is not available: {why}"
                           f"{levels.install_hint()}") from None
    return _probe(level, python, answered)


def _probe(level: str, python: str | None, answered: Callable[[str], None] | None) -> str:
    """Start a worker at `level`, call it once; `level`, or SandboxError saying what failed."""
    try:
        with SandboxCaller(PROBE_SOURCE, level, python=python) as caller:
            answer = caller.call("autograder_probe", [41], {}, 0)
            if answer == 42 and answered is not None:
                answered(level)
    except (SandboxError, StudentError, OSError) as exc:
        reason = exc.message if isinstance(exc, StudentError) else type(exc).__name__
        raise SandboxError(f"the {level} sandbox does not start here ({reason[:120]}): "
                           f"{levels.install_hint()}") from None
    if answer != 42:
        raise SandboxError(f"the {level} sandbox answered {str(answer)[:40]} to a test call: "
                           f"{levels.install_hint()}")
    return level


class BackgroundPreflight:
    """`preflight` on a thread of its own, started at once: the grader goes on with its start-up
    (imports, config, intake) while the probe worker boots in its sandbox. `level()` waits for
    the worker's answer (or raises the preflight's SandboxError); the probe worker is stopped on
    the thread after it answered, and `join()` waits for that (call it before exiting)."""

    def __init__(self, requested: str = "auto", python: str | None = None,
                 check: Callable[..., str] | None = None) -> None:
        """`check`: the preflight function (default `preflight`), called as
        check(requested, python, answered)."""
        self._answer = threading.Event()
        self._level = ""
        self._error: BaseException | None = None
        self._check = check or preflight
        self._thread = threading.Thread(target=self._run, args=(requested, python),
                                        name="sandbox-preflight", daemon=True)
        self._thread.start()

    def _answered(self, level: str) -> None:
        self._level = level
        self._answer.set()

    def _run(self, requested: str, python: str | None) -> None:
        try:
            self._level = self._check(requested, python, answered=self._answered)
        except BaseException as exc:  # noqa: BLE001 - handed to the thread that waits in level()
            self._error = exc
        finally:
            self._answer.set()

    def level(self) -> str:
        """The level the batch grades at, once the probe answered; raises what preflight raised."""
        self._answer.wait()
        if self._error is not None and not self._level:
            raise self._error
        return self._level

    def join(self) -> None:
        """Wait until the probe worker is stopped."""
        self._thread.join()
