"""One running worker process (started at a level, with its limits) and the spare worker.

Limits in every case: RLIMIT_AS, RLIMIT_CPU, RLIMIT_NPROC, RLIMIT_FSIZE, RLIMIT_CORE=0, single
threaded BLAS, a wall-clock timeout per call, output caps; the process group (and at the uid
levels every process of the slot's uid) is killed at the end.
"""

from __future__ import annotations

import atexit
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from typing import TYPE_CHECKING, Any

from autograder.grading import protocol
from autograder.grading.hidden import CappedWriter
from autograder.grading.sandbox.levels import bwrap_args, worker_env
from autograder.grading.sandbox.limits import Limits, SandboxError
from autograder.grading.sandbox.runtime import SANDBOX_ROOT, SANDBOX_SITE, boot_args, runtime
from autograder.grading.sandbox.slots import SlotLease, is_root, kill_uid, setpriv_args
from autograder.grading.worker import worker_args

if TYPE_CHECKING:
    from autograder.grading.sandbox.zygote import ForkedChild, Zygote


def limit_preexec(limits: Limits) -> Any:
    """Set the rlimits in the child before exec (inherited by bwrap, setpriv and the worker)."""
    mem = limits.memory_mb * 2**20
    settings = [
        ("RLIMIT_AS", mem, mem),
        ("RLIMIT_CPU", limits.cpu_s, limits.cpu_s + 1),
        ("RLIMIT_NPROC", limits.nproc, limits.nproc),
        ("RLIMIT_FSIZE", limits.fsize_mb * 2**20, limits.fsize_mb * 2**20),
        ("RLIMIT_CORE", 0, 0),
    ]

    def preexec() -> None:
        for name, soft, hard in settings:
            res = getattr(resource, name, None)
            if res is None:
                continue
            try:
                resource.setrlimit(res, (soft, hard))
            except (ValueError, OSError):
                pass  # not supported here (e.g. RLIMIT_AS on macOS): the OS offers less

    return preexec


def drain(fd: int, sink: CappedWriter) -> None:
    """Keep the start of what comes on fd (fd-level writes, interpreter errors; capped by
    sink), read and drop the rest, on a thread: a flood never blocks the writer or fills memory."""
    def run() -> None:
        try:
            while chunk := os.read(fd, 65536):
                sink.write(chunk.decode("utf-8", "replace"))
        except OSError:
            pass
        finally:
            os.close(fd)

    threading.Thread(target=run, daemon=True, name="autograder-drain").start()


class WorkerProcess:
    """One running worker: the process, its pipe ends, and a drain for its raw stdout/stderr."""

    def __init__(self, level: str, limits: Limits, uid: int | None, guard: bool,
                 python: str | None = None, zygote: Zygote | None = None) -> None:
        """zygote: fork the worker from this zygote (its sandbox, its uid) instead of starting
        a sandbox of its own (bwrap only; sandbox.zygote)."""
        self.level, self.limits, self.uid = level, limits, uid
        self.zygote = zygote
        rt = runtime(python)
        to_w_r, to_w_w = os.pipe()
        from_w_r, from_w_w = os.pipe()
        # The guard's refusals come on a pipe of their own, written by the audit hook itself:
        # student code can neither forge replies without them nor erase them (worker_guard.Guard).
        log_r, log_w = os.pipe()
        worker_argv = worker_args(to_w_r, from_w_w, log_w, guard)
        self.cwd: str | None = None
        if zygote is not None:  # the zygote's sandbox, command line and environment
            cmd, cwd, env = [], "/", {}
        elif level == "bwrap":
            cmd = bwrap_args(rt, limits, is_root())
            if is_root():
                cmd += setpriv_args(uid)
            cmd += boot_args([SANDBOX_ROOT, SANDBOX_SITE], rt) + worker_argv
            cwd, env = "/", {}
        else:
            self.cwd = tempfile.mkdtemp(prefix="autograder-run-")
            cmd = boot_args([rt.staging, rt.site], rt) + worker_argv
            if level == "uid":
                os.chown(self.cwd, uid, uid)
                cmd = setpriv_args(uid) + cmd
            cwd, env = self.cwd, worker_env(self.cwd)
        self.raw_output = CappedWriter(64 * 1024)
        out_r, out_w = os.pipe()
        try:
            if zygote is not None:
                self.proc: subprocess.Popen | ForkedChild = zygote.fork(
                    (to_w_r, from_w_w, log_w, out_w), guard, limits.load_timeout_s)
            else:
                self.proc = subprocess.Popen(
                    cmd, stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w, cwd=cwd, env=env,
                    pass_fds=(to_w_r, from_w_w, log_w), start_new_session=True,
                    preexec_fn=limit_preexec(limits),
                )
        except BaseException:
            os.close(to_w_w)
            os.close(from_w_r)
            os.close(log_r)
            os.close(out_r)
            raise
        finally:
            for fd in (to_w_r, from_w_w, out_w, log_w):
                os.close(fd)
        self.fd_out = to_w_w
        os.set_blocking(self.fd_out, False)
        self.guard_log = log_r
        os.set_blocking(log_r, False)
        self._guard_read = 0
        self._guard_partial = b""
        self._guard_closed = False
        # Replies are read with hard bounds (protocol.Bounds): by default no arrays and a small
        # JSON head; a call's reply gets bounds derived from its arguments (_request).
        self.reader = protocol.FrameReader(from_w_r, protocol.Bounds.for_reply())
        drain(out_r, self.raw_output)

    def read_guard_log(self, cap: int = 64 * 1024) -> list[str]:
        """The guard's refusals written since the last read (one per line; at most `cap` bytes
        over the worker's life are read, the rest is left unread)."""
        chunks = []
        while self._guard_read < cap:
            try:
                chunk = os.read(self.guard_log, min(65536, cap - self._guard_read))
            except (BlockingIOError, OSError):
                break
            if not chunk:
                # End of file: the worker's only write end is gone. While the worker runs, that
                # is its code closing (or dup2-ing over) the guard's pipe to hide refusals.
                if self.proc.poll() is None and not self._guard_closed:
                    self._guard_closed = True
                    chunks.append(b"\nclosing the grader's pipes is not allowed in graded code\n")
                break
            self._guard_read += len(chunk)
            chunks.append(chunk)
        data = self._guard_partial + b"".join(chunks)
        *lines, self._guard_partial = data.split(b"\n")
        return [line.decode("utf-8", "replace") for line in lines if line]

    def send(self, message: Any, timeout: float) -> None:
        """Send a value or the frames of one (list of bytes from protocol.encode)."""
        frames = message if type(message) is list else protocol.encode(message)
        protocol.write_frames(self.fd_out, frames, time.monotonic() + timeout)

    def receive(self, timeout: float, bounds: protocol.Bounds | None = None) -> Any:
        return self.reader.read_message(time.monotonic() + timeout, bounds)

    def exit_description(self) -> str:
        """Why the worker ended, in words a student can act on."""
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "the grading process stopped answering"
        sig = -code if code < 0 else code - 128 if code > 128 else 0
        reasons = {
            signal.SIGXCPU: "the CPU time limit was reached",
            signal.SIGKILL: "it was killed (memory or process limit?)",
            signal.SIGSEGV: "it crashed (segmentation fault)",
            signal.SIGXFSZ: "the file size limit was reached",
            signal.SIGABRT: "it aborted",
        }
        if sig:
            return reasons.get(sig, f"it was killed by signal {sig}")
        return f"it exited with code {code} (sys.exit/os._exit in your code?)"

    def kill(self, clean: bool = False) -> None:
        """SIGKILL the process group, then every process of the slot uid; close the pipes.

        clean: the worker exited on request. Under bwrap its pid namespace died with it, so
        nothing of the uid is left and the extra `kill -1` is skipped; at the uid level student
        processes may have left the process group (setsid), so the uid is always swept.
        """
        if self.zygote is not None:  # the whole sandbox goes, whatever the child did
            self.zygote.kill()
        else:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            sweep = self.level == "uid" or (self.level == "bwrap" and not clean)
            if self.uid is not None and sweep and is_root():
                kill_uid(self.uid)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        self._close_pipes()

    def _close_pipes(self) -> None:
        for fd in (self.fd_out, self.reader.fd, self.guard_log):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.cwd:
            shutil.rmtree(self.cwd, ignore_errors=True)

    def stop(self) -> None:
        """Ask the worker to exit, then kill whatever is left. A zygote's child that exited
        on request and left its sandbox as it started leaves the zygote alive for the next."""
        clean = False
        try:
            self.send({"op": "exit"}, timeout=0.5)
            clean = self.proc.wait(timeout=0.5) == 0
        except (protocol.ProtocolError, subprocess.TimeoutExpired):
            pass
        if clean and self.zygote is not None and getattr(self.proc, "clean", False):
            self._close_pipes()
            return
        self.kill(clean)


# --------------------------------------------------------------------------- stopping
#
# A submission's results are in once its last call has answered; what is left is the worker's
# exit, and under bwrap the teardown of its namespaces (30-100 ms, most of it waited for in
# Popen.wait's polling). `stop_later` does that on a thread, while the next submission is graded,
# and releases the worker's slot only once the worker is dead. The threads are not daemons:
# a process waits for them before it exits.

_stopping: list[threading.Thread] = []


def stop_later(worker: WorkerProcess, lease: SlotLease | None) -> None:
    """Stop `worker`, then release `lease`, on a thread of this process."""
    def stop() -> None:
        try:
            worker.stop()
        finally:
            if lease is not None:
                lease.release()

    thread = threading.Thread(target=stop, name="autograder-stop-worker")
    thread.start()
    _stopping[:] = [t for t in _stopping if t.is_alive()] + [thread]


def finish_stopping() -> None:
    """Wait until every worker handed to `stop_later` by this process is stopped."""
    while _stopping:
        _stopping.pop().join()


# --------------------------------------------------------------------------- the spare worker
#
# Starting a worker costs the interpreter's start and numpy's import (0.1-0.4 s). With
# `prestart`, the caller that takes a worker immediately launches the next one, which boots
# while this submission is graded. A spare has run no student code: each submission still gets
# a fresh process, its own slot uid, its own tmpfs. One spare per grading process at most.

_spare: tuple[int, tuple, SlotLease | None, WorkerProcess] | None = None


def _take_spare(key: tuple) -> tuple[SlotLease | None, WorkerProcess] | None:
    """The spare worker if it was started by this process with the same settings."""
    global _spare
    if _spare is None:
        return None
    pid, spare_key, lease, worker = _spare
    _spare = None
    if pid != os.getpid():  # inherited through fork (a process pool): the parent's, not ours
        return None
    if spare_key != key:
        worker.kill()
        if lease is not None:
            lease.release()
        return None
    return lease, worker


def _launch_spare(key: tuple, level: str, limits: Limits, guard: bool, python: str | None) -> None:
    global _spare
    discard_spare()
    lease = SlotLease(sweep=level == "uid") if level != "process" and is_root() else None
    try:
        worker = WorkerProcess(level, limits, lease.uid if lease else None, guard, python)
    except (OSError, SandboxError):
        if lease is not None:
            lease.release()
        return
    _spare = (os.getpid(), key, lease, worker)


def discard_spare() -> None:
    """Kill the spare worker of this process, if any (also at exit)."""
    global _spare
    if _spare is not None and _spare[0] == os.getpid():
        _, _, lease, worker = _spare
        worker.kill()
        if lease is not None:
            lease.release()
    _spare = None


def spare_uid() -> int | None:
    """The slot uid of this process's spare worker (tests exclude it from leftovers)."""
    if _spare is not None and _spare[0] == os.getpid() and _spare[2] is not None:
        return _spare[2].uid
    return None


atexit.register(discard_spare)
