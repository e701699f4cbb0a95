"""Reused sandboxes: the zygote of this grading process (docs/sandbox.md, "Reused sandboxes").

A fresh bwrap worker costs a new sandbox, an interpreter and numpy's import: about 0.26 s of
CPU per submission, a quarter of an A3 submission's. A zygote pays that once per grading
process: one bwrap sandbox whose Python (autograder.grading.worker_zygote) forks one child per
submission, and each child is a worker like any other (same protocol, limits and guard).

The sandbox is reused only after a child that exited on request (code 0) and a sweep that
found the sandbox as it started ("clean"). Anything else kills the whole sandbox, as a fresh
worker's would be, and the next submission gets a new zygote: a timeout, a crash, a protocol
error, a child killed by a signal, a closed guard pipe, a leftover process, file, pty, message
queue or IPC object, or a changed limit of the zygote.
"""

from __future__ import annotations

import atexit
import os
import select
import signal
import socket
import subprocess
import threading

from autograder.grading.hidden import CappedWriter
from autograder.grading.sandbox.levels import bwrap_args
from autograder.grading.sandbox.limits import Limits, SandboxError
from autograder.grading.sandbox.runtime import SANDBOX_ROOT, SANDBOX_SITE, boot_args, runtime
from autograder.grading.sandbox.slots import SlotLease, is_root, kill_uid, setpriv_args
from autograder.grading.sandbox.worker_process import drain, limit_preexec

REUSE_ENV = "AUTOGRADER_SANDBOX_REUSE"  # "0": a fresh sandbox for every submission
REPLY_CAP = 128  # the zygote's replies are short ASCII lines


class ForkedChild:
    """A worker forked by a zygote, seen like a `subprocess.Popen`: `pid`, `poll()`, `wait()`,
    `returncode` (negative: killed by that signal). `clean` says whether the zygote found the
    sandbox as it started after the child ended."""

    def __init__(self, zygote: Zygote, pid: int) -> None:
        self.zygote, self.pid = zygote, pid
        self.returncode: int | None = None
        self.clean = False

    def poll(self) -> int | None:
        if self.returncode is None:
            self._take(self.zygote.receive(0.0))
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            self._take(self.zygote.receive(timeout))
        if self.returncode is None:
            raise subprocess.TimeoutExpired("worker", timeout or 0.0)
        return self.returncode

    def _take(self, reply: bytes | None) -> None:
        """Read b"exit CODE clean|dirty WHY"; b"" (the zygote is gone) means killed."""
        if reply is None:
            return
        parts = reply.split(b" ")
        if len(parts) >= 3 and parts[0] == b"exit" and parts[1].lstrip(b"-").isdigit():
            self.returncode = int(parts[1])
            self.clean = parts[2] == b"clean" and len(parts) == 3
        else:  # the zygote died (its sandbox with it) or said something else
            self.returncode = -signal.SIGKILL
            self.zygote.kill()


class Zygote:
    """One bwrap sandbox whose Python forks workers; `fork` gives the next one."""

    def __init__(self, limits: Limits, python: str | None = None) -> None:
        root = is_root()
        self.lease = SlotLease() if root else None
        self.output = CappedWriter(16 * 1024)  # the zygote's own stderr, for a failed start
        self.dead = False
        rt = runtime(python)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        cmd = bwrap_args(rt, limits, root, mqueue=True)
        if self.lease is not None:
            cmd += setpriv_args(self.lease.uid)
        cmd += boot_args([SANDBOX_ROOT, SANDBOX_SITE], rt) + ["--zygote", str(theirs.fileno())]
        out_r, out_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w, cwd="/", env={},
                pass_fds=(theirs.fileno(),), start_new_session=True,
                preexec_fn=limit_preexec(limits))
        except OSError as exc:
            ours.close()
            os.close(out_r)
            self._release()
            raise SandboxError(f"the sandbox's zygote did not start ({exc})") from None
        finally:
            theirs.close()
            os.close(out_w)
        drain(out_r, self.output)
        self.sock = ours
        if self.receive(limits.load_timeout_s) != b"ready":
            self.kill()
            raise SandboxError("the sandbox's zygote did not start: "
                               f"{self.output.getvalue()[-2000:]}")

    @property
    def uid(self) -> int | None:
        return self.lease.uid if self.lease is not None else None

    def receive(self, timeout: float | None) -> bytes | None:
        """The zygote's next reply; None if none came within timeout; b"" if it is gone."""
        if self.dead:
            return b""
        ready = select.select([self.sock], [], [], timeout)[0]
        if not ready:
            return None
        try:
            return self.sock.recv(REPLY_CAP)
        except OSError:
            return b""

    def fork(self, fds: tuple[int, int, int, int], guard: bool, timeout: float) -> ForkedChild:
        """A new worker with these fds (requests in, replies out, guard log, raw output).
        SandboxError, and the zygote killed, if it does not answer in time."""
        try:
            socket.send_fds(self.sock, [b"fork" if guard else b"fork noguard"], list(fds))
            reply = self.receive(timeout)
        except OSError:
            reply = b""
        parts = (reply or b"").split(b" ")
        if len(parts) != 2 or parts[0] != b"pid" or not parts[1].isdigit():
            self.kill()
            raise SandboxError("the sandbox's zygote did not fork a worker")
        return ForkedChild(self, int(parts[1]))

    def close(self, timeout: float = 2.0) -> None:
        """End the zygote the quiet way (it exits when its socket closes), so that the CPU time
        of its children adds up in the sandbox's processes and reaches whoever reaps them (bwrap
        does not reap its pid 1: `make bench` is a child subreaper to count them); kill it if
        it does not end."""
        if self.dead:
            return
        self.sock.close()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def kill(self) -> None:
        """SIGKILL the sandbox and every process of its uid; give the slot back."""
        if self.dead:
            return
        self.dead = True
        if self.proc.returncode is None:  # once reaped, the number may be another's group
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if self.lease is not None:
            kill_uid(self.lease.uid)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.sock.close()
        self._release()

    def _release(self) -> None:
        if self.lease is not None:
            self.lease.release()
            self.lease = None


# --------------------------------------------------------------------------- this process's zygote

_zygote: tuple[int, tuple, Zygote] | None = None


def reuse_allowed() -> bool:
    """Reuse is on unless REUSE_ENV is "0", and only on the main thread: bwrap's
    --die-with-parent fires when the *thread* that started it ends."""
    return (os.environ.get(REUSE_ENV, "1") != "0"
            and threading.current_thread() is threading.main_thread())


def zygote_for(limits: Limits, python: str | None) -> Zygote:
    """This process's live zygote for these settings, started if there is none."""
    global _zygote
    key = (limits, python or "")
    if _zygote is not None:
        pid, zkey, zygote = _zygote
        if pid == os.getpid() and zkey == key and not zygote.dead and zygote.proc.poll() is None:
            return zygote
        if pid == os.getpid():
            zygote.close()
        _zygote = None
    zygote = Zygote(limits, python)
    _zygote = (os.getpid(), key, zygote)
    _close_at_exit()
    return zygote


def discard_zygote() -> None:
    """End this process's zygote, if any (also at exit)."""
    global _zygote
    if _zygote is not None and _zygote[0] == os.getpid():
        _zygote[2].close()
    _zygote = None


_registered: set[int] = set()


def _close_at_exit() -> None:
    """Close the zygote when this process ends: atexit, and in a process pool's worker (which
    ends with os._exit after multiprocessing's own exit hooks) a multiprocessing finalizer."""
    if os.getpid() in _registered:
        return
    _registered.add(os.getpid())
    from multiprocessing import util

    util.Finalize(None, discard_zygote, exitpriority=10)


def zygote_uid() -> int | None:
    """The slot uid of this process's zygote (tests exclude it from leftovers)."""
    if _zygote is not None and _zygote[0] == os.getpid() and not _zygote[2].dead:
        return _zygote[2].uid
    return None


atexit.register(discard_zygote)
