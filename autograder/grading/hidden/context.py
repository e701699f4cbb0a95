"""The hidden-test API (`hidden_test`, `Context`) and its runner (docs/architecture.md).

A hidden test is a plain function of a `Context`, registered with `@hidden_test(grade_id)`.
It builds inputs in the trusted process, runs the student's functions through a *caller*
(`ctx.call`, `ctx.call_many`), and compares with the trusted reference (`ctx.ref`) using
`ctx.assert_close`, `ctx.check` and `ctx.check_gradient`. Checks never raise: they record a
pass or a failure into the current *unit* (a `ctx.case` block, or the check itself when made
outside any case) and return a bool. A test's score is its share of the group's points times
passed units / units.

Callers: `InProcessCaller` calls a module object directly (for instructors writing tests and
mutation checks); `autograder.grading.sandbox.SandboxCaller` calls the sandboxed worker. Both give the
test the same plain values: numpy arrays (exact ndarray), Python scalars, str, lists, tuples,
dicts — what `autograder.grading.protocol` lets through.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import signal
import threading
import traceback
import types
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from autograder.grading import protocol
from autograder.grading.protocol import CappedText, FuncRef, ProtocolError
from autograder.grading.stubs import STUBS

REGISTRY_ATTR = "__hidden_tests__"
MESSAGE_CAP = 2000  # characters of a test's message
OUTPUT_CAP = 8192  # characters of student output kept per test
EXC_MESSAGE_CAP = 500  # characters of a student exception's message
BATCH_BYTES = 32 * 2**20  # argument bytes per call_many round trip of a gradient check


# --------------------------------------------------------------------------- registration


@dataclass(frozen=True)
class HiddenTest:
    """One registered hidden test: `func(ctx)` earns `weight` shares of group `grade_id`.

    `requires`: names of earlier tests that must each pass at least one unit before this one
    counts (see `hidden_test`).
    """

    name: str
    grade_id: str
    weight: float
    func: Callable[[Context], Any]
    requires: tuple[str, ...] = ()


def hidden_test(
    grade_id: str, weight: float = 1.0, requires: str | Sequence[str] = ()
) -> Callable[[Callable], Callable]:
    """Register a test function of the group `grade_id` in the module that defines it.

    requires: the name(s) of earlier tests of the same module that compare the same function
    with the reference. A self-consistency test (a gradient against the function's own loss,
    the same loss with shifted scores) passes for a function that does no work at all, e.g. one
    returning `(0.0, zeros)`; with `requires` it counts only once every named test has passed
    at least one unit (the function matches the reference on a case). Until then it is not run
    and scores 0, and its message says which test to pass first.
    """
    if not isinstance(grade_id, str) or not grade_id:
        raise TypeError("hidden_test needs a grade_id string, e.g. @hidden_test('svm_loss_naive')")
    if not weight > 0:
        raise ValueError(f"hidden_test weight must be > 0, got {weight!r}")
    needed = (requires,) if isinstance(requires, str) else tuple(requires)
    if not all(isinstance(r, str) and r for r in needed):
        raise TypeError(f"hidden_test requires names of tests, got {requires!r}")

    def register(func: Callable) -> Callable:
        spec = HiddenTest(func.__name__, grade_id, float(weight), func, needed)
        func.__hidden_test__ = spec  # type: ignore[attr-defined]
        func.__globals__.setdefault(REGISTRY_ATTR, []).append(spec)
        return func

    return register


def collect_tests(module: types.ModuleType) -> list[HiddenTest]:
    """The hidden tests a module defines, in definition order; names must be unique."""
    specs = list(getattr(module, REGISTRY_ATTR, []))
    if not specs:  # a module whose functions were decorated elsewhere: scan its attributes
        specs = [v.__hidden_test__ for v in vars(module).values() if hasattr(v, "__hidden_test__")]
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise ValueError(f"two hidden tests are named {spec.name!r}")
        # The runner decides from results it already has: a prerequisite must come first.
        for name in spec.requires:
            if name not in seen:
                raise ValueError(f"hidden test {spec.name!r} requires {name!r}, which is not a "
                                 "test defined before it")
        seen.add(spec.name)
    return specs


def load_tests_module(path: str | Path) -> types.ModuleType:
    """Import a hidden_tests.py from its path under a unique module name (trusted code)."""
    path = Path(path)
    name = f"_hidden_tests_{path.parent.name}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load hidden tests from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stable_seed(*parts: Any) -> int:
    """A 32-bit seed from parts, stable across runs and machines (unlike Python's hash)."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")


# --------------------------------------------------------------------------- student errors


class StudentError(Exception):
    """The student's code raised (or could not be called); `exc_type: message` is shown."""

    status = "error"

    def __init__(self, exc_type: str, message: str = "", output: str = "") -> None:
        self.exc_type = exc_type
        self.message = message[:EXC_MESSAGE_CAP]
        self.output = output
        super().__init__(self.text)

    @property
    def text(self) -> str:
        return f"{self.exc_type}: {self.message}" if self.message else self.exc_type


class StudentTimeout(StudentError):
    """The student's call ran past its wall-clock limit (the worker was killed)."""

    status = "timeout"

    def __init__(self, message: str = "", output: str = "") -> None:
        super().__init__("Timeout", message or "the call did not finish in time", output)


def bad_result(name: str, exc: ProtocolError) -> StudentError:
    """The error for a result that cannot cross the pipe (object, subclass, wrong dtype...)."""
    return StudentError("BadResult", f"{name} returned {exc}")


# --------------------------------------------------------------------------- callers


class Caller(Protocol):
    """Runs the student's functions. Values in and out are plain (see autograder.grading.protocol).

    `calls` of call_many are (args, kwargs) pairs; np.random is seeded with `seed` before every
    call. Raises StudentError / StudentTimeout. `take_output()` returns and clears the student's
    captured stdout/stderr.
    """

    level: str

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
    on POSIX (an interval timer); elsewhere it is ignored.
    """

    level = "in-process"

    def __init__(self, module: types.ModuleType, timeout: float | None = None) -> None:
        self.module = module
        self.timeout = timeout
        self._output = CappedWriter()

    def take_output(self) -> str:
        text, self._output = self._output.getvalue(), CappedWriter()
        return text

    def call_many(
        self, name: str, calls: Sequence[tuple[Sequence[Any], dict[str, Any]]], seed: int
    ) -> list[Any]:
        func = self._function(name)
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
                raise bad_result(name, exc) from None
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
            if value.name not in STUBS:
                raise KeyError(f"no stub named {value.name!r} in autograder.grading.stubs")
            return STUBS[value.name]
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
            raise StudentError(type(exc).__name__, str(exc)) from None
        finally:
            if use_timer:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, old_handler)


# --------------------------------------------------------------------------- the context


@dataclass
class Unit:
    """A scored unit: a `ctx.case` block or a lone check. Passes iff no failure was recorded."""

    label: str
    failures: list[str] = field(default_factory=list)
    status: str = "passed"  # passed | failed | error | timeout
    checks: int = 0
    internal: str = ""  # grader traceback when the test's own code failed on a result

    def fail(self, message: str, status: str = "failed") -> None:
        self.failures.append(message)
        if _RANK[status] > _RANK[self.status]:
            self.status = status


_RANK = {"passed": 0, "failed": 1, "error": 2, "timeout": 3}


def _index(idx: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(int(i)) for i in idx) + "]" if idx else "[]"


class _CheckFailed(Exception):
    """A value that cannot be compared; the message says why."""


class Context:
    """What a hidden test receives: calls into the student's code, the reference, checks."""

    def __init__(self, caller: Caller, ref: types.ModuleType | None, test_name: str, seed: int):
        self._caller = caller
        self.ref = ref
        self.test_name = test_name
        self.rng = np.random.default_rng(stable_seed(seed, test_name))
        self._seed = seed
        self._calls = 0
        self._timed_out: set[str] = set()
        self.units: list[Unit] = []
        self._case: Unit | None = None

    # ---- calls into the student's code

    def func(self, name: str) -> FuncRef:
        """A reference to one of the student's functions, to pass as an argument."""
        return FuncRef("student", name)

    def stub(self, name: str) -> FuncRef:
        """A reference to a grader stub (autograder.grading.stubs), to pass as an argument."""
        if name not in STUBS:
            raise KeyError(f"no stub named {name!r}; known: {sorted(STUBS)}")
        return FuncRef("stub", name)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """The student's `name(*args, **kwargs)`, run by the caller; a plain value."""
        return self._calls_of(name, [(args, kwargs)])[0]

    def call_many(self, name: str, arg_list: Sequence[Sequence[Any]], **kwargs: Any) -> list[Any]:
        """`[name(*args, **kwargs) for args in arg_list]` in one round trip (same seed each)."""
        return self._calls_of(name, [(tuple(a), kwargs) for a in arg_list])

    def _calls_of(self, name: str, calls: list[tuple[Sequence[Any], dict[str, Any]]]) -> list:
        if name in self._timed_out:
            # A function that hung once in this test is not waited for again.
            raise StudentTimeout(f"{name} timed out earlier in this test; not called again")
        self._calls += 1
        seed = stable_seed(self._seed, self.test_name, "call", self._calls)
        try:
            return self._caller.call_many(name, calls, seed)
        except StudentTimeout:
            self._timed_out.add(name)
            raise

    # ---- units

    @contextlib.contextmanager
    def case(self, label: str) -> Iterator[Unit]:
        """A unit that passes iff every check inside passes. Student errors inside it fail the
        case and the test goes on."""
        if self._case is not None:
            raise RuntimeError("ctx.case blocks do not nest")
        unit = Unit(label)
        self.units.append(unit)
        self._case = unit
        try:
            yield unit
        except StudentError as exc:
            unit.fail(exc.text, exc.status)
        except Exception as exc:  # noqa: BLE001 - a result the test could not use
            unit.fail(f"could not check the result ({type(exc).__name__}: {exc})")
            unit.internal = traceback.format_exc()
        finally:
            self._case = None

    def _record(self, passed: bool, message: str) -> bool:
        unit = self._case
        if unit is None:
            unit = Unit("")
            self.units.append(unit)
        unit.checks += 1
        if not passed:
            unit.fail(message)
        return passed

    # ---- checks

    def check(self, cond: Any, what: str, detail: str = "") -> bool:
        """Record that `cond` holds; on failure the message is `what: detail`."""
        try:
            ok = bool(cond)
        except Exception as exc:  # noqa: BLE001 - e.g. the truth value of an array
            ok, detail = False, f"{detail} (condition not a bool: {exc})".strip()
        return self._record(ok, f"{what}: {detail}" if detail else what)

    def assert_close(
        self,
        actual: Any,
        expected: Any,
        rtol: float = 1e-6,
        atol: float = 1e-8,
        what: str = "",
    ) -> bool:
        """Record |actual - expected| <= atol + rtol * |expected| elementwise.

        actual must be a number or a plain float array (int allowed where expected is int) of
        expected's shape, without NaN/inf where expected is finite. The failure message gives
        how many entries differ, how many are NaN/inf, and the band of the largest relative
        difference (`BANDS`): never an expected value, nor an error it could be worked out from.
        """
        what = what or "value"
        exp = np.asarray(expected)
        if exp.dtype.kind not in "biuf":
            raise TypeError(f"assert_close: expected {what} must be numeric, got {exp.dtype}")
        try:
            act = _numeric(actual, exp, what)
        except _CheckFailed as exc:
            return self._record(False, str(exc))
        return self._record(*_compare(act, exp.astype(np.float64), rtol, atol, what))

    def check_gradient(
        self,
        name: str,
        args: Sequence[Any],
        wrt: int | tuple[int, str],
        analytic: Any,
        loss_of: Callable[[Any], Any] = lambda out: out[0],
        h: float = 1e-5,
        tol: float = 1e-6,
        num_checks: int | None = None,
    ) -> bool:
        """Compare `analytic` with centered differences of the student's own `name(*args)`.

        wrt: the index of the argument to perturb, or (index, key) for a dict argument
        (e.g. (0, "W1") for params["W1"]). loss_of turns the function's output into the scalar
        loss (default: out[0]). Each checked entry i gets
            numeric_i = (loss(x + h e_i) - loss(x - h e_i)) / (2h)
        from one batched call_many, computed here (trusted side), and passes when
            |analytic_i - numeric_i| <= tol * max(1, |analytic_i| + |numeric_i|)
        (relative for large gradients, absolute near 0, where rounding dominates).
        num_checks None checks every entry, else a sample drawn from ctx.rng.
        """
        label = f"gradient of {name} w.r.t. {_wrt_label(wrt)}"
        base = _get(args, wrt)
        x = np.asarray(base, dtype=np.float64)
        try:
            grad = _numeric(analytic, x, f"analytic {label}")
        except _CheckFailed as exc:
            return self._record(False, str(exc))
        if grad.shape != x.shape:
            return self._record(False, f"{label}: analytic shape {grad.shape}, expected {x.shape}")
        flat_idx = np.arange(x.size)
        if num_checks is not None and num_checks < x.size:
            flat_idx = np.sort(self.rng.choice(x.size, size=num_checks, replace=False))
        arg_list = []
        for i in flat_idx:
            idx = np.unravel_index(i, x.shape)
            for step in (h, -h):
                xp = x.copy()
                xp[idx] += step
                arg_list.append(_replaced(args, wrt, xp))
        # Batches of at most ~BATCH_BYTES of arguments: one round trip for small problems,
        # bounded messages (the pipe caps frames) for big ones.
        per_call = max(1, _nbytes(arg_list[0]))
        size = max(2, BATCH_BYTES // per_call)
        outs: list[Any] = []
        for start in range(0, len(arg_list), size):
            outs += self.call_many(name, arg_list[start:start + size])
        try:
            losses = np.array([_scalar(loss_of(o)) for o in outs], dtype=np.float64)
        except _CheckFailed as exc:
            return self._record(False, f"{label}: {exc}")
        numeric = (losses[0::2] - losses[1::2]) / (2 * h)
        a = grad.reshape(-1)[flat_idx]
        err = np.abs(a - numeric)
        bound = tol * np.maximum(1.0, np.abs(a) + np.abs(numeric))
        bad = ~(err <= bound)
        if not bad.any():
            return self._record(True, "")
        k = int(np.argmax(bad))
        idx = tuple(int(j) for j in np.unravel_index(flat_idx[k], x.shape))
        # The same form as assert_close (no values): the numeric gradient is the student's own,
        # but one rule for every message is the one that cannot leak by mistake.
        head = (f"{label}: {int(bad.sum())} of {len(a)} entries differ from the numeric gradient "
                f"of your own loss, the first at {_index(idx)}")
        nonfinite = ~np.isfinite(a[bad]) | ~np.isfinite(numeric[bad])
        return self._record(False, _difference(head, a[bad], numeric[bad], nonfinite, tol))


def _nbytes(value: Any) -> int:
    """Bytes of the arrays in a nested argument (what a call costs on the pipe)."""
    if type(value) is np.ndarray:
        return value.nbytes
    if type(value) in (list, tuple):
        return sum(_nbytes(v) for v in value)
    if type(value) is dict:
        return sum(_nbytes(v) for v in value.values())
    return 16


def _wrt_label(wrt: int | tuple[int, str]) -> str:
    return f"{wrt[1]}" if isinstance(wrt, tuple) else f"argument {wrt}"


def _get(args: Sequence[Any], wrt: int | tuple[int, str]) -> Any:
    return args[wrt[0]][wrt[1]] if isinstance(wrt, tuple) else args[wrt]


def _replaced(args: Sequence[Any], wrt: int | tuple[int, str], value: np.ndarray) -> tuple:
    new = list(args)
    if isinstance(wrt, tuple):
        i, key = wrt
        new[i] = {**new[i], key: value}
    else:
        new[wrt] = value
    return tuple(new)


def _scalar(value: Any) -> float:
    if type(value) in (float, int) or (type(value) is np.ndarray and value.size == 1):
        return float(np.asarray(value).reshape(-1)[0])
    raise _CheckFailed(f"the loss is a {protocol.describe(value)}, not a number")


def _numeric(actual: Any, expected: np.ndarray, what: str) -> np.ndarray:
    """actual as a float64 array, or _CheckFailed naming what is wrong with it."""
    cls = type(actual)
    if cls is bool or cls is np.ndarray and actual.dtype.kind == "b":
        raise _CheckFailed(f"{what}: got booleans, expected numbers")
    if cls in (int, float):
        arr = np.asarray(actual, dtype=np.float64)
    elif cls is np.ndarray:
        if actual.dtype.kind not in "iuf":
            raise _CheckFailed(f"{what}: got an array of dtype {actual.dtype}, expected numbers")
        if actual.dtype.kind in "iu" and expected.dtype.kind == "f":
            raise _CheckFailed(f"{what}: got an integer array ({actual.dtype}), expected floats")
        arr = actual.astype(np.float64)
    elif cls in (list, tuple):
        try:
            arr = np.asarray(actual)
        except ValueError:
            raise _CheckFailed(f"{what}: got a ragged {cls.__name__}, expected numbers") from None
        if arr.dtype.kind not in "iuf":
            raise _CheckFailed(f"{what}: got a {cls.__name__} that is not all numbers")
        arr = arr.astype(np.float64)
    else:
        raise _CheckFailed(f"{what}: got {protocol.describe(actual)}, expected numbers")
    if arr.shape != expected.shape:
        raise _CheckFailed(f"{what}: shape {arr.shape}, expected {expected.shape}")
    return arr


def _compare(a: np.ndarray, e: np.ndarray, rtol: float, atol: float, what: str) -> tuple[bool, str]:
    """(passed, message) for |a - e| <= atol + rtol |e| elementwise, NaN never close.

    The message never lets the expected values be worked out (see `_difference`): it says how
    many entries differ and how far off the worst one is in a coarse band.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a - e)
        ok = diff <= atol + rtol * np.abs(e)
        same_special = (np.isnan(a) & np.isnan(e)) | (np.isinf(e) & (a == e))
        ok |= same_special
    if ok.all():
        return True, ""
    bad = ~ok
    nonfinite = ~np.isfinite(a) & np.isfinite(e)
    if a.ndim == 0:
        head = f"{what} differs from the expected value"
    else:
        head = f"{what}: {int(bad.sum())} of {a.size} entries differ from the expected values"
    return False, _difference(head, a[bad], e[bad], nonfinite[bad], rtol)


def relative_difference(a: np.ndarray, e: np.ndarray) -> np.ndarray:
    """|a - e| / max(|a|, |e|) elementwise: 0 when equal, at most 2, never inf or absurd.

    Symmetric in a and e, so an entry whose expected value is 0 gives 1 (100%) for any nonzero
    answer, instead of a division by ~0. NaN where either side is not finite.
    """
    a, e = np.asarray(a, dtype=np.float64), np.asarray(e, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        scale = np.maximum(np.abs(a), np.abs(e))
        rel = np.where(scale > 0, np.abs(a - e) / np.where(scale > 0, scale, 1.0), 0.0)
    return np.where(np.isfinite(a) & np.isfinite(e), rel, np.nan)


# Bands of the largest relative difference shown to students: (upper bound, wording). Coarse on
# purpose: an answer more than 10% off gets the same words whatever the expected value, and a
# closer one learns only its band, so no series of answers (0, 1, 2x, ...) gives the expected
# value away. rtol is named so a student whose error is only rounding can tell.
BANDS = ((1e-3, "by less than 0.1%"), (1e-1, "by 0.1% to 10%"), (np.inf, "by more than 10%"))


def band(rel: float) -> str:
    """The coarse band of a relative difference, as words: 'by more than 10%'."""
    return next(words for bound, words in BANDS if rel < bound)


def _difference(head: str, a: np.ndarray, e: np.ndarray, nonfinite: np.ndarray, rtol: float) -> str:
    """head + what is wrong with the differing entries `a` (expected `e`), in a form that never
    reveals `e`: NaN/inf counts and the band of the largest relative difference."""
    parts = [head]
    if nonfinite.any():
        parts.append(f"{int(nonfinite.sum())} of them NaN or inf")
    rel = relative_difference(a[~nonfinite], e[~nonfinite])
    rel = rel[np.isfinite(rel)]
    if rel.size:
        largest = float(rel.max())
        words = "off" if a.size == 1 and not nonfinite.any() else "the worst entry is off"
        parts.append(f"{words} {band(largest)} (relative; the tolerance is {rtol:g})")
    return "; ".join(parts)


# --------------------------------------------------------------------------- the runner


@dataclass
class TestResult:
    """One test's outcome, as a report.json `tests` entry plus extras.

    `output` is the student's captured stdout/stderr during the test (truncated); `internal`
    a grader-side traceback for instructors (never shown to students).
    """

    __test__ = False  # not a pytest test class

    name: str
    grade_id: str
    score: float
    max_score: float
    status: str
    message: str
    output: str = ""
    internal: str = ""
    passed_units: int = 0  # what `requires` of a later test looks at

    def report_entry(self) -> dict[str, Any]:
        """The report.json entry (name, grade_id, score, max_score, status, message)."""
        d = asdict(self)
        return {k: d[k] for k in ("name", "grade_id", "score", "max_score", "status", "message")}


def shares(tests: Sequence[HiddenTest], points: dict[str, float]) -> dict[str, float]:
    """Points of each test: a group's points split across its tests by weight."""
    totals: dict[str, float] = {}
    for t in tests:
        totals[t.grade_id] = totals.get(t.grade_id, 0.0) + t.weight
    return {t.name: points.get(t.grade_id, 0.0) * t.weight / totals[t.grade_id] for t in tests}


def run_hidden_tests(
    tests_module: types.ModuleType,
    caller: Caller,
    ref_module: types.ModuleType | None,
    points: dict[str, float],
    seed: int,
    on_result: Callable[[TestResult], None] | None = None,
) -> list[TestResult]:
    """Run every hidden test of tests_module against the caller; one TestResult each.

    Failures of one test never stop the others. `on_result` is called after each test (the
    engine uses it to restart a dead worker).
    """
    tests = collect_tests(tests_module)
    share = shares(tests, points)
    results = []
    done: dict[str, TestResult] = {}
    for test in tests:
        result = run_one(test, caller, ref_module, share[test.name], seed, prior=done)
        done[test.name] = result
        if test.grade_id not in points:
            result.message = (result.message + " (no points: grade_id not in [tests])").strip()
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results


def run_one(
    test: HiddenTest,
    caller: Caller,
    ref: types.ModuleType | None,
    max_score: float,
    seed: int,
    prior: Mapping[str, TestResult] | None = None,
) -> TestResult:
    """Run one test function and score it from its units.

    prior: the results of the tests run before it (by name). A test with `requires` is run
    only when each required test is in prior with at least one passed unit; otherwise it
    scores 0 unrun. Without prior (None) a test with `requires` is never counted: gating is
    what makes its points mean something.
    """
    missing = [name for name in test.requires
               if prior is None or name not in prior or prior[name].passed_units == 0]
    if missing:
        return TestResult(test.name, test.grade_id, 0.0, max_score, "failed", _gated(missing))
    ctx = Context(caller, ref, test.name, seed)
    internal = ""
    try:
        test.func(ctx)
    except StudentError as exc:  # outside any case: the test ends here
        unit = Unit("")
        unit.fail(exc.text, exc.status)
        ctx.units.append(unit)
    except Exception as exc:  # noqa: BLE001 - the student's result broke the test's code
        unit = Unit("")
        unit.fail(f"could not check the result ({type(exc).__name__}: {str(exc)[:200]})", "error")
        ctx.units.append(unit)
        internal = traceback.format_exc()
    output = _cap(caller.take_output(), OUTPUT_CAP)
    internal = internal or "\n".join(u.internal for u in ctx.units if u.internal)
    if not ctx.units:
        return TestResult(test.name, test.grade_id, 0.0, max_score, "error",
                          "internal: the test made no checks", output, internal)
    passed = sum(u.status == "passed" for u in ctx.units)
    status = max((u.status for u in ctx.units), key=_RANK.__getitem__)
    score = round(max_score * passed / len(ctx.units), 6)
    return TestResult(test.name, test.grade_id, score, max_score, status,
                      _message(ctx.units), output, internal, passed)


def _gated(missing: Sequence[str]) -> str:
    """The message of a test held back by `requires` (names are the report's test names)."""
    names = " and ".join(missing)
    return (f"Not run yet: this check counts once your function gives the expected result on at "
            f"least one case of {names}. Make that test pass on one case first.")


def _message(units: list[Unit]) -> str:
    """What went wrong, first failing units first; '' when all passed."""
    bad = [u for u in units if u.status != "passed"]
    if not bad:
        return ""
    lines = []
    if len(units) > 1:
        lines.append(f"{len(units) - len(bad)} of {len(units)} checks passed.")
    for u in bad[:3]:
        text = "; ".join(u.failures[:2])
        lines.append(f"[{u.label}] {text}" if u.label else text)
    if len(bad) > 3:
        lines.append(f"... and {len(bad) - 3} more")
    return _cap("\n".join(lines), MESSAGE_CAP)


def _cap(text: str, cap: int) -> str:
    return text if len(text) <= cap else text[:cap] + f"\n[... {len(text) - cap} more characters]"


__all__ = [
    "Caller",
    "Context",
    "HiddenTest",
    "InProcessCaller",
    "StudentError",
    "StudentTimeout",
    "TestResult",
    "collect_tests",
    "hidden_test",
    "load_tests_module",
    "run_hidden_tests",
    "stable_seed",
]
