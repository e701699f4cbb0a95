"""`Context`: what a hidden test receives (calls into the student's code, the reference, checks).

Checks never raise: they record a pass or a failure into the current *unit* (a `ctx.case`
block, or the check itself when made outside any case) and return a bool.
"""

from __future__ import annotations

import contextlib
import traceback
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autograder.grading.hidden.callers import Caller, passed_functions
from autograder.grading.hidden.compare import (
    _CheckFailed,
    _compare,
    _difference,
    _differentiated,
    _index,
    _nbytes,
    _numeric,
    _replaced,
    _scalar,
    _wrt_label,
)
from autograder.grading.hidden.errors import StudentError, StudentTimeout, unusable_result
from autograder.grading.hidden.registry import stable_seed
from autograder.grading.hidden.stubs import NO_STUBS
from autograder.grading.protocol import FuncRef

BATCH_BYTES = 32 * 2**20  # argument bytes per call_many round trip of a gradient check


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



class Context:
    """What a hidden test receives: calls into the student's code, the reference, checks."""

    def __init__(self, caller: Caller, ref: types.ModuleType | None, test_name: str, seed: int,
                 shared: dict[str, Any] | None = None):
        self._caller = caller
        # What `once` computed for this submission, shared by all its tests (run_hidden_tests
        # passes one dict per submission; a lone Context has its own).
        self._shared: dict[str, Any] = {} if shared is None else shared
        self.ref = ref
        self.test_name = test_name
        self.rng = np.random.default_rng(stable_seed(seed, test_name))
        self._seed = seed
        self._scope = test_name  # what call seeds are drawn from (a `once` key while computing)
        self._calls = 0
        # (functions called, student functions passed) by each `once` computation under way
        self._recording: list[tuple[set[Any], set[str]]] = []
        self._timed_out: set[str | FuncRef] = set()
        self.units: list[Unit] = []
        self._case: Unit | None = None

    def once(self, key: str, compute: Callable[[Context], Any]) -> Any:
        """`compute(self)` the first time a test of this submission asks for `key`; the same
        value for every later test.

        For a fact several tests depend on and that costs real time to establish, e.g. that a
        function returns its gradient at CIFAR size, or the student's outputs on inputs that
        several tests check different parts of: asked of the student's code once per
        submission, not once per test. `compute` must record nothing (each test records its own
        check from the value) and catch the StudentError of its calls; it draws its inputs from
        `ctx.rng`, which is seeded by the key while it runs. Every test that uses the value counts as calling what `compute` called
        (the caller's `file_calls`): a finding about a function (replaced, looping) zeroes
        each test that graded its output, not only the first.
        """
        if key not in self._shared:
            record: tuple[set[Any], set[str]] = (set(), set())
            self._recording.append(record)
            # compute runs apart from the asking test, so the value is the same whichever test
            # asks first: `rng` is seeded by the key, its calls are seeded by the key (not by the
            # test's name and call count), and it starts with no function timed out
            saved = self.rng, self._scope, self._calls, self._timed_out
            self.rng = np.random.default_rng(stable_seed(self._seed, "once", key))
            self._scope, self._calls, self._timed_out = f"once\x1f{key}", 0, set()
            try:
                value = compute(self)
            finally:
                self._recording.pop()  # nested computations end in the reverse order
                hung = self._timed_out
                self.rng, self._scope, self._calls, self._timed_out = saved
                self._timed_out |= hung  # the test does not wait again on what hung here
            self._shared[key] = (value, record)
        else:
            value, record = self._shared[key]
            file_calls = getattr(self._caller, "file_calls", None)
            if file_calls is not None:
                file_calls(*record)
            for outer in self._recording:  # used inside another computation: it called these too
                outer[0].update(record[0])
                outer[1].update(record[1])
        return value

    # ---- calls into the student's code

    def func(self, name: str) -> FuncRef:
        """A reference to one of the student's functions, to pass as an argument."""
        return FuncRef("student", name)

    def stub(self, name: str) -> FuncRef:
        """A reference to one of the assignment's stubs (its solutions/<A>/stubs.py), to pass
        as an argument; KeyError naming the known stubs for any other name."""
        stubs = getattr(self._caller, "stubs", NO_STUBS)
        if name not in stubs.names:
            raise stubs.unknown(name)
        return FuncRef("stub", name)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """The student's `name(*args, **kwargs)`, run by the caller; a plain value."""
        return self._calls_of(name, [(args, kwargs)])[0]

    def call_stub(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """The assignment's stub `name(*args, **kwargs)`, run by the caller where student code
        runs; a plain value. For a wrapper that calls a student function passed to it
        (`ctx.func(...)`) and returns what that function's result does not show, e.g. a dict
        it updated in place. KeyError naming the known stubs for any other name."""
        ref = self.stub(name)
        return self._calls_of(ref, [(args, kwargs)])[0]

    def call_many(self, name: str, arg_list: Sequence[Sequence[Any]], **kwargs: Any) -> list[Any]:
        """`[name(*args, **kwargs) for args in arg_list]` in one round trip (same seed each)."""
        return self._calls_of(name, [(tuple(a), kwargs) for a in arg_list])

    def _calls_of(self, name: str | FuncRef, calls: list[tuple[Sequence[Any], dict[str, Any]]]) -> list:
        if name in self._timed_out:
            # A function that hung once in this test is not waited for again.
            raise StudentTimeout(f"{getattr(name, 'name', name)} timed out earlier in this test; "
                                 "not called again")
        self._calls += 1
        if self._recording:
            passed = passed_functions(calls)
            for called, passed_in in self._recording:
                called.add(name)
                passed_in |= passed
        seed = stable_seed(self._seed, self._scope, "call", self._calls)
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
            unit.internal = exc.detail  # the full message, for the staff's grader.log only
        except Exception as exc:  # noqa: BLE001 - a result the test could not use
            unit.fail(unusable_result(exc))
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
        directions: int | None = None,
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
        directions k: instead of entries, k random directions v (entries N(0, 1) from ctx.rng):
            numeric = (loss(x + h v) - loss(x - h v)) / (2h) against <analytic, v>,
        2k calls whatever the size of x; a wrong entry anywhere changes <analytic, v>, so each
        direction catches any wrong gradient (an entry-by-entry check of a sample may miss it).
        """
        label = f"gradient of {name} w.r.t. {_wrt_label(wrt)}"
        base = _differentiated(args, wrt)
        x = np.asarray(base, dtype=np.float64)
        try:
            grad = _numeric(analytic, x, f"analytic {label}")
        except _CheckFailed as exc:
            return self._record(False, str(exc))
        if grad.shape != x.shape:
            return self._record(False, f"{label}: analytic shape {grad.shape}, expected {x.shape}")
        if directions is not None:
            return self._check_directions(name, args, wrt, grad, x, loss_of, h, tol, directions, label)
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

    def _check_directions(self, name: str, args: Sequence[Any], wrt: int | tuple[int, str],
                          grad: np.ndarray, x: np.ndarray, loss_of: Callable[[Any], Any], h: float,
                          tol: float, k: int, label: str) -> bool:
        """check_gradient along k random directions (see there)."""
        V = self.rng.standard_normal((k, *x.shape))
        outs = self.call_many(name, [_replaced(args, wrt, x + step * v) for v in V for step in (h, -h)])
        try:
            losses = np.array([_scalar(loss_of(o)) for o in outs], dtype=np.float64)
        except _CheckFailed as exc:
            return self._record(False, f"{label}: {exc}")
        numeric = (losses[0::2] - losses[1::2]) / (2 * h)
        a = np.array([np.sum(grad * v) for v in V])
        bad = ~(np.abs(a - numeric) <= tol * np.maximum(1.0, np.abs(a) + np.abs(numeric)))
        if not bad.any():
            return self._record(True, "")
        head = (f"{label}: along {int(bad.sum())} of {k} random directions, the change it "
                "predicts differs from the change of your own loss (a centred difference)")
        nonfinite = ~np.isfinite(a[bad]) | ~np.isfinite(numeric[bad])
        return self._record(False, _difference(head, a[bad], numeric[bad], nonfinite, tol))
