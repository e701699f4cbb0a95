"""Callers: what runs the student's functions for a hidden test.

`InProcessCaller` calls a module object directly (for instructors writing tests and mutation
checks); `autograder.grading.sandbox.SandboxCaller` calls the sandboxed worker. Both give the
test the same plain values: numpy arrays (exact ndarray), Python scalars, str, lists, tuples,
dicts — what `autograder.grading.protocol` lets through.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import types
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from autograder.grading import protocol
from autograder.grading.hidden.errors import StudentError, StudentTimeout, bad_result, raised
from autograder.grading.hidden.stubs import NO_STUBS, Stubs
from autograder.grading.protocol import CappedText, FuncRef, ProtocolError

OUTPUT_CAP = 8192  # characters of student output kept per test


def passed_functions(calls: Sequence[tuple[Sequence[Any], dict[str, Any]]]) -> set[str]:
    """The student functions passed as arguments (FuncRefs) in a batch of calls."""
    return {a.name for args, kwargs in calls for a in (*args, *kwargs.values())
            if type(a) is FuncRef and a.kind == "student"}


class Caller(Protocol):
    """Runs the student's functions. Values in and out are plain (see autograder.grading.protocol).

    `calls` of call_many are (args, kwargs) pairs; np.random is seeded with `seed` before every
    call. `name` is a student function's name, or a FuncRef("stub", ...) for a stub run as the
    target (Context.call_stub) with the student's functions passed in as FuncRefs. Raises StudentError / StudentTimeout. `take_output()` returns and clears the student's
    captured stdout/stderr. `stubs`: the assignment's stubs the caller can pass by name.
    """

    level: str
    stubs: Stubs

    def call(self, name: str, args: Sequence[Any], kwargs: dict[str, Any], seed: int) -> Any: ...

    def call_many(
        self, name: str, calls: Sequence[tuple[Sequence[Any], dict[str, Any]]], seed: int
    ) -> list[Any]: ...

    def take_output(self) -> str: ...


class CappedWriter(CappedText):
    """The student's output in the trusted process (in-process caller), `OUTPUT_CAP` by default."""

    def __init__(self, cap: int = OUTPUT_CAP) -> None:
        super().__init__(cap)


class _InProcessTimeout(BaseException):
    """Raised by the interval timer; a BaseException so `except Exception` in student code
    does not swallow it."""


class CallerBase:
    """What both callers share: one call is a batch of one (`call_many` does the work)."""

    stubs: Stubs = NO_STUBS

    def call(self, name: str, args: Sequence[Any], kwargs: dict[str, Any], seed: int) -> Any:
        return self.call_many(name, [(args, kwargs)], seed)[0]

    def call_many(
        self, name: str, calls: Sequence[tuple[Sequence[Any], dict[str, Any]]], seed: int
    ) -> list[Any]:
        raise NotImplementedError


class InProcessCaller(CallerBase):
    """Calls a module's functions in this process: for writing tests, never for grading.

    Arguments and results go through the same plain conversion as the pipe (a deep copy), so a
    test behaves as it will against the sandbox. `timeout` (seconds) works in the main thread
    on POSIX (an interval timer); elsewhere it is ignored. `stubs`: the assignment's stubs
    (autograder.grading.hidden.stubs.assignment_stubs), none by default.
    """

    level = "in-process"

    def __init__(self, module: types.ModuleType, timeout: float | None = None,
                 stubs: Stubs = NO_STUBS) -> None:
        self.module = module
        self.timeout = timeout
        self.stubs = stubs
        self._output = CappedWriter()

    def take_output(self) -> str:
        text, self._output = self._output.getvalue(), CappedWriter()
        return text

    def call_many(
        self, name: str, calls: Sequence[tuple[Sequence[Any], dict[str, Any]]], seed: int
    ) -> list[Any]:
        # A stub may be the target (ctx.call_stub): it gets the student's functions as FuncRefs.
        func = self._resolve(name) if type(name) is FuncRef else self._function(name)
        results = []
        for args, kwargs in calls:
            args, kwargs = protocol.roundtrip((list(args), dict(kwargs)))
            args = [self._resolve(a) for a in args]
            kwargs = {k: self._resolve(v) for k, v in kwargs.items()}
            np.random.seed(seed)
            result = self._run(func, args, kwargs)
            try:
                results.append(protocol.roundtrip(result))
            except ProtocolError as exc:
                raise bad_result(name.name if type(name) is FuncRef else name, exc) from None
        return results

    def _function(self, name: str) -> Callable:
        func = getattr(self.module, name, None)
        if not isinstance(func, types.FunctionType):
            raise StudentError("NameError", f"{name} is not defined as a function")
        return func

    def _resolve(self, value: Any) -> Any:
        if type(value) is not FuncRef:
            return value
        if value.kind == "stub":
            if value.name not in self.stubs.names:
                raise self.stubs.unknown(value.name)
            return self.stubs.functions()[value.name]
        return self._function(value.name)

    def _run(self, func: Callable, args: list[Any], kwargs: dict[str, Any]) -> Any:
        use_timer = (
            self.timeout is not None
            and hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
        )
        old_handler = None
        if use_timer:

            def on_alarm(signum: int, frame: Any) -> None:
                raise _InProcessTimeout

            old_handler = signal.signal(signal.SIGALRM, on_alarm)
            signal.setitimer(signal.ITIMER_REAL, self.timeout)
        try:
            with contextlib.redirect_stdout(self._output), contextlib.redirect_stderr(self._output):
                return func(*args, **kwargs)
        except _InProcessTimeout:
            raise StudentTimeout(f"no result within {self.timeout:g} s") from None
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - SystemExit too: student code ended
            raise raised(type(exc).__name__, str(exc), func.__name__) from None
        finally:
            if use_timer:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old_handler)
