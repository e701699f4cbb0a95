"""`SandboxCaller`: the hidden tests' caller backed by a sandboxed worker (the RPC side)."""

from __future__ import annotations

import ast
import functools
import time
from collections.abc import Sequence
from typing import Any

from autograder.core.module import PREAMBLE
from autograder.grading import protocol
from autograder.grading.hidden import (
    NO_STUBS,
    CallerBase,
    CappedWriter,
    Stubs,
    StudentError,
    StudentTimeout,
)
from autograder.grading.hidden.errors import Where, from_reply
from autograder.grading.sandbox.levels import choose_level
from autograder.grading.sandbox.limits import Limits, SandboxError
from autograder.grading.sandbox.slots import SlotLease, is_root, sweep_uid_files
from autograder.grading.sandbox.worker_process import (
    WorkerProcess,
    _launch_spare,
    _take_spare,
    stop_later,
)
from autograder.grading.sandbox.zygote import reuse_allowed, zygote_for

MAX_RESTARTS = 8  # worker starts per submission after the first, then calls are refused


@functools.lru_cache(maxsize=1)
def preamble_imports() -> frozenset[str]:
    """Top-level modules the graded module's preamble imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(PREAMBLE)):
        if isinstance(node, ast.Import):
            names.update(a.name.partition(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.partition(".")[0])
    return frozenset(names)



class SandboxCaller(CallerBase):
    """The hidden-test caller backed by a sandboxed worker (same interface as InProcessCaller).

    One worker serves all calls of a submission; a worker that died, hung or sent garbage is
    killed, and the next call starts a fresh one (up to MAX_RESTARTS). `violations` collects
    what the import guard refused; `level` is the sandbox level used.
    """

    def __init__(
        self,
        module_source: str,
        sandbox: str = "auto",
        limits: Limits | None = None,
        allowed_imports: Sequence[str] = ("numpy", "math", "time"),
        guard: bool | None = None,
        python: str | None = None,
        prestart: bool = False,
        loop_free: Sequence[str] = (),
        stubs: Stubs = NO_STUBS,
        reuse: bool | None = None,
    ) -> None:
        self.source = module_source
        # The assignment's stubs (solutions/<A>/stubs.py): sent with the graded module, so the
        # worker holds this assignment's stubs only.
        self.stubs = stubs
        # Calls of these are measured in the worker (its WorkMeter); `work` holds the counts of
        # the last reply and `replaced` the graded names that are not their own def any more:
        # plain, untrusted numbers and texts, read by autograder.grading.measure.
        self.loop_free = [str(n) for n in loop_free]
        self.work: list[int] = []
        self.replaced: dict[str, str] = {}
        self.python = python
        self.prestart = prestart
        # Fork the worker from this process's zygote (sandbox.zygote) instead of starting a
        # sandbox: for a process that grades many submissions (by default, one that prestarts).
        self.reuse = prestart if reuse is None else reuse
        self.limits = limits or Limits()
        # The graded module's fixed preamble (module.PREAMBLE) imports math, time and numpy
        # whatever the assignment allows: the guard must let the preamble itself load.
        self.allowed_imports = sorted(set(allowed_imports) | preamble_imports())
        # The guard is on unless the caller says otherwise (the containment tests switch it off:
        # `autograder grade --no-worker-guard`, or guard=False here).
        self.guard = True if guard is None else guard
        self.level = choose_level(sandbox, python)
        self.lease: SlotLease | None = None  # taken with the first worker
        self.worker: WorkerProcess | None = None
        self.kept = protocol.KeptArrays()  # the large arguments the current worker keeps
        self.starts = 0
        self.load_error: StudentError | None = None
        # graded-module line -> the student's (cell, line), for the place of their exceptions
        self.where: Where | None = None
        self.functions: list[str] = []
        self.violations: list[str] = []
        self._output = CappedWriter(self.limits.output_kb * 1024)
        self._seq = 0  # request id: the worker echoes it, so a late or forged reply is told apart
        self.spent = 0.0  # seconds of the submission's time budget used (Limits.submission_seconds)
        self.budget_spent = False  # a call was cut short or refused because the budget ran out
        self.notes: list[str] = []  # for the report: what happened beyond the tests' results
        self.litter: list[str] = []  # host paths the slot uid left and that were removed (uid)

    # ---- lifecycle

    def __enter__(self) -> SandboxCaller:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self.worker is not None:
            self._take_guard_log(self.worker)
            if self.level == "uid" or self.worker.zygote is not None:
                # uid: its files are swept below, once all its processes are dead; a zygote's
                # child: its sandbox is swept before the next child (a few ms)
                self.worker.stop()
            else:  # nothing of it outlives its namespaces: its exit need not hold up the next one
                stop_later(self.worker, self.lease)
                self.lease = None
            self.worker = None
        if self.lease is not None:
            if self.level == "uid" and is_root():  # all its processes are dead by now
                self.litter += sweep_uid_files(self.lease.uid)
                if self.litter:
                    self.notes.append(
                        f"Your code left {len(self.litter)} file(s) or folder(s) in the grading "
                        "machine's shared folders (such as /tmp); they were removed. Graded code "
                        "should not write files.")
            self.lease.release()
            self.lease = None
        if self.budget_spent and not any("time budget" in n for n in self.notes):
            self.notes.append(
                f"The time budget for running your whole submission "
                f"({self.limits.submission_seconds:g} s) was spent before every test had run: "
                "the calls after that were not run and count as timeouts. Make the slow "
                "functions faster (the tests' messages say which ones timed out).")

    def start(self) -> None:
        """Start a worker and load the graded module into it (a load error is remembered and
        raised by every call: the student's code did not even define its functions)."""
        if self.starts > MAX_RESTARTS:
            raise StudentError("WorkerDied", "the grading process had to be restarted too "
                               "often; the remaining calls were not run")
        self.starts += 1
        self.kept = protocol.KeptArrays()  # a new worker keeps nothing yet
        if self.level == "bwrap" and self.reuse and reuse_allowed():
            try:  # a fresh sandbox (below) if the zygote's does not work
                self.worker = self._ready(self._forked(), fallback=True)
            except SandboxError:
                self.worker = None
        key = (self.level, self.limits, self.guard, self.python or "")
        spare = (_take_spare(key) if self.prestart and self.lease is None and self.worker is None
                 else None)
        if spare is not None:
            self.lease, worker = spare
            self.worker = self._ready(worker, fallback=True)
        if self.worker is None:
            if self.lease is None and self.level != "process" and is_root():
                self.lease = SlotLease(sweep=self.level == "uid")
            uid = self.lease.uid if self.lease else None
            worker = WorkerProcess(self.level, self.limits, uid, self.guard, self.python)
            self.worker = self._ready(worker, fallback=False)
        if self.prestart and self.starts == 1 and self.worker.zygote is None:
            _launch_spare(key, self.level, self.limits, self.guard, self.python)
        self._seq += 1
        reply = self._request({"op": "load", "id": self._seq, "source": self.source,
                               "allowed_imports": self.allowed_imports,
                               "output_cap": self.limits.output_kb * 1024,
                               "loop_free": self.loop_free,
                               "stubs": {"source": self.stubs.source, "names": list(self.stubs.names)}},
                              self.limits.load_timeout_s, "loading your code", load=True)
        self.functions = list(reply.get("functions", []))

    def _forked(self) -> WorkerProcess:
        """A worker forked by this process's zygote; a zygote that does not fork (a child
        stopped it, say) is killed by `fork` and replaced by a new one, once."""
        def fork() -> WorkerProcess:
            zygote = zygote_for(self.limits, self.python)
            return WorkerProcess(self.level, self.limits, zygote.uid, self.guard, self.python,
                                 zygote=zygote)

        try:
            return fork()
        except SandboxError:
            return fork()

    def _ready(self, worker: WorkerProcess, fallback: bool) -> WorkerProcess | None:
        """worker once it said it is ready; None if a spare did not (a fresh one is started),
        SandboxError if a fresh one did not: the sandbox itself is broken."""
        try:
            ready = worker.receive(self.limits.load_timeout_s)
            if ready == {"ready": True}:
                return worker
            problem = f"it sent {str(ready)[:100]} instead of ready"
        except protocol.ProtocolError as exc:
            problem = str(exc)
        worker.kill()
        if fallback:
            return None
        raise SandboxError(f"the {self.level} worker did not start ({problem}): "
                           f"{worker.raw_output.getvalue()[-2000:]}")

    def _kill_worker(self) -> None:
        if self.worker is not None:
            self._take_guard_log(self.worker)
            self.worker.kill()
            self.worker = None

    def _take_guard_log(self, worker: WorkerProcess) -> None:
        """What the guard refused (its own pipe), into `violations` (distinct, capped)."""
        for line in worker.read_guard_log():
            if line[:300] not in self.violations and len(self.violations) < 50:
                self.violations.append(line[:300])

    # ---- the caller interface

    def take_output(self) -> str:
        text = self._output.getvalue()
        self._output = CappedWriter(self.limits.output_kb * 1024)
        return text

    def call_many(
        self, name: str, calls: Sequence[tuple[Sequence[Any], dict[str, Any]]], seed: int
    ) -> list[Any]:
        if self.load_error is not None:
            raise self.load_error
        # The message carries a stub target as its FuncRef tag (ctx.call_stub); texts name it.
        message_func, name = name, name.name if type(name) is protocol.FuncRef else name
        self._check_budget(name)  # before a worker is started for nothing
        if self.worker is None:
            try:
                self.start()
            except StudentError as exc:  # the module cannot be loaded: no call can succeed
                self.load_error = exc
                raise
        self._seq += 1
        message = {"op": "call", "id": self._seq, "func": message_func, "seed": int(seed),
                   "calls": [[list(a), dict(k)] for a, k in calls]}
        try:
            frames = protocol.encode(message, self.kept)
        except protocol.ProtocolError as exc:  # the hidden test passed a non-plain argument
            self.kept = protocol.KeptArrays()  # slots it named were never sent: forget them all
            raise TypeError(f"ctx.call({name!r}, ...): an argument cannot be sent ({exc})") from None
        bounds = protocol.Bounds.for_reply(len(calls), protocol.array_bytes(message["calls"]))
        reply = self._request(frames, self.limits.call_timeout_s, f"{name}", len(calls),
                              bounds=bounds)
        value = reply.get("value")
        if type(value) is not list or len(value) != len(calls):
            self._kill_worker()
            raise StudentError("BadResult", f"{name}: the worker sent a malformed answer")
        return value

    def _request(self, message: Any, timeout: float, what: str, calls: int = 1,
                 load: bool = False, bounds: protocol.Bounds | None = None) -> dict[str, Any]:
        """Send a message and wait for its final reply.

        A batch of `calls` gets `timeout` per call: the worker reports progress after each call
        but the last, and each progress frame restarts the clock. Progress must count up
        (0, 1, ...) and stops at calls - 1, so student code writing forged progress frames on
        the pipe cannot keep a hung batch alive; the whole batch never gets more than
        calls * timeout, and never more than what is left of the submission's time budget.

        Every reply carries the id of its request: one with an older id is a reply that came
        late because student code wrote a forged one first, and is skipped; any other id is an
        error.
        """
        worker = self.worker
        assert worker is not None
        seq = self._seq
        budget = self.limits.submission_seconds
        self._check_budget(what)
        start = time.monotonic()
        budget_deadline = start + budget - self.spent
        hard_deadline = min(start + calls * timeout, budget_deadline)
        try:
            worker.send(message, min(timeout, budget_deadline - start))
            expected = 0
            while True:
                left = min(timeout, hard_deadline - time.monotonic())
                reply = worker.receive(max(left, 0.0), bounds)
                if type(reply) is dict and reply.get("id") != seq:
                    rid = reply.get("id")
                    if type(rid) is int and rid < seq:
                        continue  # the real reply to an earlier request, after a forged one
                    raise protocol.ProtocolError("a reply to another request")
                if type(reply) is dict and set(reply) == {"progress", "id"}:
                    if reply["progress"] != expected or expected >= calls - 1:
                        raise protocol.ProtocolError("progress out of order")
                    expected += 1
                    continue
                break
        except protocol.PipeTimeout:
            self._kill_worker()
            if time.monotonic() >= budget_deadline:
                self.budget_spent = True
                raise StudentTimeout(f"{what}: stopped, because {self._budget_text()} is "
                                     "spent") from None
            raise StudentTimeout(f"{what}: no result within {timeout:g} s") from None
        except protocol.PipeClosed:
            why = worker.exit_description()
            self._kill_worker()
            raise StudentError("WorkerDied", f"the grading process ended during {what}: {why}") from None
        except protocol.ProtocolError as exc:
            self._kill_worker()
            raise StudentError("BadResult", f"{what}: the worker sent something that is not a "
                               f"plain result ({exc})") from None
        finally:
            self.spent += time.monotonic() - start
        if type(reply) is not dict:
            self._kill_worker()
            raise StudentError("BadResult", f"{what}: malformed reply")
        self._absorb(reply)
        if reply.get("ok") is True:
            return reply
        if load and reply.get("kind") == "stubs":  # the instructor's stubs, not the student
            raise SandboxError(f"the assignment's stubs did not load in the worker: "
                               f"{str(reply.get('type'))[:100]}: {str(reply.get('message'))[:300]}")
        # The message of an error reply is untrusted and may echo hidden inputs: from_reply shows
        # the student only what the grader can vouch for (the full text goes to grader.log).
        error = from_reply(reply, what, self.where, load, self.source, self.allowed_imports)
        if load:
            self.load_error = error
        raise error

    def _check_budget(self, what: str) -> None:
        """StudentTimeout when the submission's time budget is spent (nothing more is run)."""
        if self.spent >= self.limits.submission_seconds:
            self.budget_spent = True
            raise StudentTimeout(f"{what}: not run, because {self._budget_text()} is spent")

    def _budget_text(self) -> str:
        return (f"the time budget for running your whole submission "
                f"({self.limits.submission_seconds:g} s)")

    def _absorb(self, reply: dict[str, Any]) -> None:
        work = reply.get("work")
        self.work = [w for w in work[:1000] if type(w) is int] if type(work) is list else []
        replaced = reply.get("replaced")
        if type(replaced) is dict:
            for name, why in list(replaced.items())[:100]:
                if type(name) is str and type(why) is str:
                    self.replaced.setdefault(name[:100], why[:300])
        out = reply.get("out")
        if type(out) is str and out:
            self._output.write(out)
        if self.worker is not None:
            self._take_guard_log(self.worker)
