"""The process that runs student code, inside the sandbox (docs/sandbox.md).

Started by `autograder.grading.sandbox` as `python -I -S -c <boot> --in FD --out FD [--no-guard]`.
It reads messages from the pipe `--in` and answers on `--out` (autograder.grading.protocol):

    {"op": "load", "source": str, "allowed_imports": [...], "output_cap": int,
     "loop_free": [names], "stubs": {"source": str, "names": [names]}}
        -> {"ok": true, "functions": [names]} | an error reply
    {"op": "call", "func": name | func-tag, "calls": [[args, kwargs], ...], "seed": int}
        -> {"progress": i} after each call but the last, then
           {"ok": true, "value": [result, ...]} | an error reply
    {"op": "exit"}

Every reply after a load also carries "replaced" ({name: why}: graded names that are no longer
the function their own `def` created, see `OwnFunctions`), and a reply to a call of a
`loop_free` function carries "work": the Python-level work of each call run so far (plain
ints, see `WorkMeter`; -1 when the code switched the measurement off). The trusted side
decides what they mean.

The assignment's stubs (functions a hidden test passes by name, from its solutions/<A>/stubs.py)
come with the load and run before the guard is installed and before any student code. A call's
"func" may also be a stub (a FuncRef): a wrapper that calls the student function passed to it.

Error replies: {"ok": false, "kind": "exception"|"bad-result"|"no-module"|"stubs", "type": str,
"message": str} ("stubs": the assignment's stubs did not load: the grader's problem); an exception of
student code adds "line" (the graded module's line where it was raised, or null). Every reply carries "out" (the student's stdout/stderr, capped) and "guard"
(operations the import guard refused). No traceback frames are sent: grader code in them
would tell the student nothing and the grader's paths are none of their business.

The import guard (autograder.grading.worker_guard: an audit hook plus an `__import__` filter in
the student module's builtins) exists for clear early messages ("os is not allowed in graded code"); it is *not* a security
boundary. The sandbox holds with `--no-guard`, and the containment tests prove it.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

from autograder.grading.worker_guard import STUDENT_FILE, Guard

EXC_MESSAGE_CAP = 500


def _exc_text(exc: BaseException) -> str:
    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001 - a hostile __str__
        text = "<message could not be printed>"
    return text[:EXC_MESSAGE_CAP]


def _student_line(exc: BaseException) -> int | None:
    """The graded module's line where exc was raised (its innermost frame in the student's
    code), or the line a SyntaxError names; None when no frame is the student's."""
    if isinstance(exc, SyntaxError) and exc.filename == STUDENT_FILE:
        return exc.lineno if type(exc.lineno) is int else None
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == STUDENT_FILE and type(tb.tb_lineno) is int:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


# Python-level work counted per call before the meter stops counting (a naive loop over the
# probes' sizes stays far below it; honest vectorized code does a few hundred steps at most).
WORK_CAP = 200_000
WORK_TAMPERED = -1


def _numpy_dirs() -> tuple[str, ...]:
    """Where numpy's Python files are (numpy is loaded before any student code; no import here:
    the worker's guard is on by then)."""
    numpy = sys.modules.get("numpy")
    path = getattr(numpy, "__file__", None) or ""
    cut = max(path.rfind("/"), path.rfind("\\"))
    return (path[:cut + 1],) if cut > 0 else ()


class WorkMeter:
    """Counts the Python-level work of one call: Python frames entered plus lines run, in any
    code below the call (the student's, their lambdas, comprehensions and nested functions,
    numpy's Python wrappers, callbacks that np.vectorize or map run). Whole-array numpy work
    runs in C and costs nothing here, so honest vectorized code does the same work whatever
    the size of its inputs, while a Python loop over the data does more work on more data.

    Used as `with meter: func(...)`. The count is reported as tampered (`intact` False) when
    the code switched the tracer off or replaced it, or muted one of its own frames (its
    `f_trace` cleared: that frame's return never reaches the meter; or its `f_trace_lines`
    turned off): every traced frame must come back through the meter.
    """

    def __init__(self, cap: int = WORK_CAP, skip: tuple[str, ...] | None = None) -> None:
        self.cap = cap
        # numpy's own Python code (array printing, wrappers) is not the student's work: a debug
        # print(x) formats more entries for a larger x, and must never read as a loop. A loop
        # numpy runs over the student's function still shows in the student's own frames; the
        # numpy helpers that loop without one (apply_along_axis...) are forbidden calls.
        self.skip = _numpy_dirs() if skip is None else skip
        self.work = 0
        self.frames = 0  # frames entered while tracing
        self.returns = 0  # ... and seen returning through the meter
        self.capped = False
        self.muted = False
        self.intact = True

    def _on_call(self, frame: Any, event: str, arg: Any) -> Any:
        if self.skip and frame.f_code.co_filename.startswith(self.skip):
            return None  # not counted, no line events; calls it makes are still seen
        self.work += 1
        self.frames += 1
        if self.work >= self.cap:
            return self._stop(frame)
        return self._on_line

    def _on_line(self, frame: Any, event: str, arg: Any) -> Any:
        if event == "line":
            self.work += 1
            if self.work >= self.cap:
                return self._stop(frame)
        elif event == "return":
            self.returns += 1
            if not frame.f_trace_lines and not self.capped:
                self.muted = True
        return self._on_line

    def _stop(self, frame: Any) -> None:
        """Enough counted: tracing off, so an endless loop costs no more than it would."""
        self.capped = True
        sys.settrace(None)
        frame.f_trace_lines = False

    def __enter__(self) -> WorkMeter:
        sys.settrace(self._on_call)  # this frame began untraced: it is not counted
        return self

    def __exit__(self, *exc: Any) -> None:
        tracer = sys.gettrace()
        sys.settrace(None)
        # This frame is the one traced frame still open (entered through the meter, not yet
        # returned). Anything else unbalanced was muted by the code: it cannot be measured.
        open_frames = self.frames - self.returns
        self.intact = self.capped or (tracer == self._on_call and open_frames == 1 and not self.muted)

    def result(self) -> int:
        """The count, capped; WORK_TAMPERED when the code switched the meter off."""
        return min(self.work, self.cap) if self.intact else WORK_TAMPERED


class OwnFunctions:
    """Each graded name must stay the function its own `def` statement created.

    The graded module is trusted text (release cells with the student's TODO bodies), parsed
    here before any student code runs. Every top-level `def NAME` compiles to one code object
    in the module's constants; after the module ran, and before and after every call, NAME must
    be a plain function with exactly that code object, the module's globals and no closure.
    `NAME = other`, a decorator or closure swapped in, `NAME.__code__ = ...`, a second top-level
    `def NAME` (a body that left its block) or a rebinding made at run time all fail it.
    """

    def __init__(self, source: str, code: types.CodeType) -> None:
        self.code: dict[str, types.CodeType] = {}
        self.replaced: dict[str, str] = {}
        lines: dict[str, list[int]] = {}
        for node in ast.parse(source).body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([d.lineno for d in node.decorator_list] + [node.lineno])
                lines.setdefault(node.name, []).append(first)
        consts = {(c.co_name, c.co_firstlineno): c for c in code.co_consts
                  if isinstance(c, types.CodeType)}
        for name, found in lines.items():
            if len(found) > 1:
                self.replaced[name] = (f"line {found[-1]}: defined {len(found)} times at the top "
                                       "level of the graded code")
            elif (name, found[0]) in consts:
                self.code[name] = consts[(name, found[0])]
        self.lines = {name: found[-1] for name, found in lines.items()}

    def problem(self, namespace: dict[str, Any], name: str) -> str | None:
        """Why `name` is not the function its def created (None: it is)."""
        if name in self.replaced:
            return self.replaced[name]
        code = self.code.get(name)
        if code is None:
            return None  # not a graded name: nothing to compare with
        value = namespace.get(name)
        where = f"line {self.lines[name]}: "
        if type(value) is not types.FunctionType:
            return where + "no longer a function"
        if value.__code__ is not code:
            return where + f"replaced by another function (`{value.__code__.co_name[:60]}`)"
        if value.__globals__ is not namespace or value.__closure__ is not None:
            return where + "replaced by a rebuilt copy of itself"
        return None

    def verify(self, namespace: dict[str, Any]) -> None:
        """Record every graded name that is not its own function any more (first reason kept)."""
        for name in self.code:
            if name not in self.replaced:
                why = self.problem(namespace, name)
                if why:
                    self.replaced[name] = why


class Worker:
    """Holds the student module and answers the grader's messages."""

    def __init__(self, fd_in: int, fd_out: int, guard: bool, guard_log: int | None = None) -> None:
        from autograder.grading import protocol  # after sys.path is set up by the boot line

        self.protocol = protocol
        self.stubs: dict[str, Callable] = {}  # the assignment's stubs, by name (load_stubs)
        self.reader = protocol.FrameReader(fd_in, keeps=True)  # the grader's large arguments
        self.fd_out = fd_out
        self.guard_enabled = guard
        self.guard_log = guard_log  # write end of the guard's pipe to the grader
        self.guard: Guard | None = None
        self.module: types.ModuleType | None = None
        self.load_error: tuple[str, str] | None = None
        self.output_cap = 16384
        self.request_id: Any = None
        self.own: OwnFunctions | None = None  # the graded-name check, once a module is loaded
        self.loop_free: set[str] = set()  # functions whose calls are measured (WorkMeter)

    def serve(self) -> None:
        while True:
            try:
                msg = self.reader.read_message()
            except self.protocol.PipeClosed:
                return
            op = msg.get("op") if type(msg) is dict else None
            # Echoed in every reply and progress frame of this request (see sandbox._request).
            self.request_id = msg.get("id") if type(msg) is dict else None
            if op == "exit":
                return
            if op == "load":
                self.send(self.load(msg))
            elif op == "call":
                self.send(self.call(msg))
            else:
                self.send({"ok": False, "kind": "protocol", "type": "ProtocolError",
                           "message": f"unknown op {op!r}", "out": "", "guard": []})

    def send(self, reply: dict[str, Any]) -> None:
        reply["id"] = self.request_id
        try:
            self.protocol.write_message(self.fd_out, reply)
        except self.protocol.ProtocolError as exc:  # e.g. a result over the size cap
            self.protocol.write_message(self.fd_out, {
                "ok": False, "kind": "bad-result", "type": "BadResult",
                "message": f"the result cannot be sent ({exc})", "out": "", "guard": [],
                "id": self.request_id})

    def load(self, msg: dict[str, Any]) -> dict[str, Any]:
        import numpy as np  # noqa: F401 - loaded before the guard, as the preamble needs it

        self.output_cap = int(msg.get("output_cap", self.output_cap))
        loop_free = msg.get("loop_free", [])
        self.loop_free = {n for n in loop_free if type(n) is str} if type(loop_free) is list else set()
        sink = self.protocol.CappedText(self.output_cap)
        try:
            self.load_stubs(msg.get("stubs"))
        except Exception as exc:  # noqa: BLE001 - the instructor's stubs, reported as theirs
            return self._error("stubs", type(exc).__name__, _exc_text(exc), sink)
        if self.guard is None:  # installed once: a hook cannot be removed, and needs no switch
            self.guard = Guard(tuple(msg.get("allowed_imports", ("numpy", "math", "time"))),
                               self.guard_enabled, self.guard_log)
            self.guard.install()
        module = types.ModuleType("student")
        module.__dict__["__builtins__"] = self.guard.builtins_for_student()
        try:
            code = compile(msg["source"], STUDENT_FILE, "exec")
            self.own = OwnFunctions(msg["source"], code)  # before any student code runs
            with self._student_running(sink):
                exec(code, module.__dict__)  # noqa: S102 - this process exists to run it
        except BaseException as exc:  # noqa: BLE001 - SyntaxError, SystemExit, anything
            self.load_error = (type(exc).__name__, _exc_text(exc))
            reply = self._error("exception", *self.load_error, sink)
            reply["line"] = _student_line(exc)
            return reply
        self.module = module
        self.own.verify(vars(module))
        names = sorted(k for k, v in vars(module).items() if isinstance(v, types.FunctionType))
        return {"ok": True, "functions": names, "out": sink.getvalue(), "guard": self._refused(),
                "replaced": self._replaced()}

    def load_stubs(self, stubs: Any) -> None:
        """Run the assignment's stubs (trusted source, numpy only) in a module of their own and
        keep the named functions; before the guard and before any student code."""
        if type(stubs) is not dict or not stubs.get("names"):
            return
        namespace: dict[str, Any] = {"__name__": "assignment_stubs"}
        exec(compile(str(stubs["source"]), "<assignment stubs>", "exec"), namespace)  # noqa: S102
        self.stubs = {n: namespace[n] for n in stubs["names"]
                      if type(n) is str and isinstance(namespace.get(n), types.FunctionType)}

    def call(self, msg: dict[str, Any]) -> dict[str, Any]:
        import numpy as np

        sink = self.protocol.CappedText(self.output_cap)
        if self.module is None:
            kind, text = self.load_error or ("NotLoaded", "no module loaded")
            return self._error("no-module", kind, text, sink)
        name = msg.get("func")
        if type(name) is self.protocol.FuncRef:
            # A stub as the call target (a wrapper that calls the student's function passed to
            # it and returns what the grader cannot otherwise see, e.g. params updated in place).
            try:
                func = self._resolve(name)
            except LookupError as exc:
                return self._error("exception", "NameError", str(exc.args[0]), sink)
            name, measured = name.name, False
        else:
            measured = name in self.loop_free
            if type(name) is str and self._replaced_problem(name):
                return self._error("exception", "ReplacedFunction", self._replaced_message(name), sink)
            func = self._function(name)
        if func is None:
            return self._error("exception", "NameError", f"{name} is not defined", sink)
        results = []
        calls = msg.get("calls", [])
        work: list[int] | None = [] if measured else None
        for i, (args, kwargs) in enumerate(calls):
            try:
                args = [self._resolve(a) for a in args]
                kwargs = {k: self._resolve(v) for k, v in kwargs.items()}
            except LookupError as exc:
                return self._error("exception", "NameError", str(exc.args[0]), sink)
            np.random.seed(int(msg.get("seed", 0)) % 2**32)
            meter = WorkMeter() if work is not None else None
            try:
                with self._student_running(sink), meter or contextlib.nullcontext():
                    result = func(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - SystemExit from student code too
                reply = self._error("exception", type(exc).__name__, _exc_text(exc), sink,
                                    self._measured(work, meter))
                reply["line"] = _student_line(exc)
                return reply
            self._measured(work, meter)
            try:
                self.protocol.to_tagged(result, [])  # typed check now, with a clear message
            except self.protocol.ProtocolError as exc:
                return self._error("bad-result", "BadResult", f"{name} returned {exc}", sink)
            except RecursionError:
                return self._error("bad-result", "BadResult", f"{name} returned a value "
                                   "nested too deeply", sink)
            results.append(result)
            if i + 1 < len(calls):
                self.protocol.write_message(self.fd_out, {"progress": i, "id": self.request_id})
        reply = {"ok": True, "value": results, "out": sink.getvalue(), "guard": self._refused(),
                 "replaced": self._replaced()}
        if work is not None:
            reply["work"] = work
        return reply

    def _function(self, name: Any) -> Callable | None:
        if type(name) is str and self._replaced_problem(name):
            return None
        func = vars(self.module).get(name) if type(name) is str else None
        return func if isinstance(func, types.FunctionType) else None

    # ---- the graded-name check and the loop measurement (see OwnFunctions and WorkMeter)

    def _replaced_problem(self, name: str) -> str | None:
        if self.own is None or self.module is None:
            return None
        self.own.verify(vars(self.module))
        return self.own.replaced.get(name)

    def _replaced_message(self, name: str) -> str:
        return (f"`{name}` is not the function its own cell defines any more (your code "
                "replaced or redefined it), so it was not graded")

    def _replaced(self) -> dict[str, str]:
        if self.own is None:
            return {}
        if self.module is not None:
            self.own.verify(vars(self.module))
        return dict(self.own.replaced)

    @staticmethod
    def _measured(work: list[int] | None, meter: WorkMeter | None) -> list[int] | None:
        """Append this call's count to `work` (the reply's list) and return the list."""
        if work is not None and meter is not None:
            work.append(meter.result())
        return work

    def _resolve(self, value: Any) -> Any:
        """A FuncRef argument as the function it names (LookupError if there is none)."""
        if type(value) is not self.protocol.FuncRef:
            return value
        func = self.stubs.get(value.name) if value.kind == "stub" else self._function(value.name)
        if value.kind == "student" and self._replaced_problem(value.name):
            raise LookupError(self._replaced_message(value.name) + " (passed as a function argument)")
        if func is None:
            raise LookupError(f"{value.name} is not defined (passed as a function argument)")
        return func

    @contextlib.contextmanager
    def _student_running(self, sink: Any) -> Iterator[None]:
        """Student output goes to sink for the duration of the block."""
        saved = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = sink
        try:
            yield
        finally:
            sys.stdout, sys.stderr = saved

    def _refused(self) -> list[str]:
        """Always empty: the guard's refusals travel on their own pipe (Guard), where student
        code cannot erase them; the reply field stays for older graders."""
        return []

    def _error(self, kind: str, exc_type: str, message: str, sink: Any,
               work: list[int] | None = None) -> dict[str, Any]:
        reply = {"ok": False, "kind": kind, "type": exc_type[:100], "message": message,
                 "out": sink.getvalue(), "guard": self._refused(), "replaced": self._replaced()}
        if work is not None:
            reply["work"] = work
        return reply


def worker_args(fd_in: int, fd_out: int, guard_log: int, guard: bool) -> list[str]:
    """The worker's command-line arguments (`main`'s), for its pipes' fds: the same whether a
    worker is started fresh or forked by the zygote (worker_zygote)."""
    return (["--in", str(fd_in), "--out", str(fd_out), "--guard-log", str(guard_log)]
            + ([] if guard else ["--no-guard"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="autograder.grading.worker")
    parser.add_argument("--in", dest="fd_in", type=int, required=True)
    parser.add_argument("--out", dest="fd_out", type=int, required=True)
    parser.add_argument("--no-guard", action="store_true")
    parser.add_argument("--guard-log", dest="guard_log", type=int, default=None)
    opts = parser.parse_args(argv)
    # numpy and what it loads lazily on common paths, imported before any student code.
    import numpy  # noqa: F401
    import numpy.linalg  # noqa: F401
    import numpy.random  # noqa: F401

    worker = Worker(opts.fd_in, opts.fd_out, guard=not opts.no_guard, guard_log=opts.guard_log)
    worker.protocol.write_message(opts.fd_out, {"ready": True})  # the sandbox started
    worker.serve()
    return 0


def run(argv: list[str]) -> None:
    """The sandbox's entry point: serve, then end the process at once. Nothing of a worker is
    reused, so the interpreter's clean-up (numpy's and the student's objects, ~50 ms of CPU per
    submission) would be work for nothing; what was sent is already in the pipes."""
    import os  # before the student's code and its import guard

    if argv[:1] == ["--zygote"]:  # the long-lived parent of workers (worker_zygote)
        from autograder.grading.worker_zygote import main as zygote_main

        zygote_main(argv)
    code = main(argv)
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a stream the student's code broke: nothing to keep
            pass
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
