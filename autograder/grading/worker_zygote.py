"""The zygote: one long-lived parent of workers inside one bwrap sandbox (docs/sandbox.md,
"Reused sandboxes").

Started by `autograder.grading.sandbox.zygote` as `python -I -S -B -c <boot> --zygote FD`, FD
one end of a SOCK_SEQPACKET socket pair. It loads numpy and the worker's modules once, makes
itself non-dumpable (a process of the same uid can then neither ptrace it nor open its /proc
files) and a child subreaper (what a child leaves behind becomes its child), takes a snapshot
of its own settings, and says b"ready". Then, for each request on FD:

    b"fork" | b"fork noguard", with 4 fds (requests in, replies out, guard log, raw output)
        -> b"pid N", then, once the child has ended and the sandbox is as it was at the start,
           b"exit CODE clean"; or b"exit CODE dirty WHY", and the zygote exits.

The child keeps only the 4 fds it was given (the control socket and everything else are
closed before any student code runs; stdin is a /dev/null of its own), starts a session of its
own, joins a session keyring of its own and empties the slot uid's lasting keyrings (user,
user-session, persistent), installs a seccomp filter that refuses the key system calls from
then on, and runs the usual `worker.run`: the same protocol, limits and guard as a fresh
worker. The zygote itself never reads a byte of student data.

Between two children the sandbox must be as it started, or it is given up ("dirty"): no process
but pid 1 and the zygote (the rest are killed with kill(-1) from the slot uid), nothing in /tmp,
/dev/shm, /dev/mqueue, no pty, no SysV IPC object, no socket in the sandbox's network namespace,
the folders' mode, owner and change times unchanged (creating and removing a file changes them,
and the tmpfs's inode counter), and the zygote's own rlimits, nice value, scheduling attributes,
CPU affinity, I/O priority and autogroup unchanged (a process of the same uid can change those,
and children inherit them).
Standard library only: staged with the worker (runtime.WORKER_FILES).
"""

from __future__ import annotations

import os
import signal
import sys
import time

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
KEYCTL_JOIN_SESSION_KEYRING = 1
KEYCTL_CLEAR = 7
KEYCTL_UNLINK = 9
KEYCTL_GET_PERSISTENT = 22
KEY_SPEC_SESSION_KEYRING = -3
KEY_SPEC_USER_KEYRING = -4
KEY_SPEC_USER_SESSION_KEYRING = -5
IOPRIO_WHO_PROCESS = 1
# System call numbers the C library has no wrapper for, by machine (elsewhere: not made).
SYSCALLS = {"x86_64": {"keyctl": 250, "ioprio_get": 252, "sched_getattr": 315},
            "aarch64": {"keyctl": 219, "ioprio_get": 31, "sched_getattr": 275}}
SCHED_ATTR_SIZE = 56  # struct sched_attr, its latest size (the kernel fills what it knows)
# The key system calls (add_key, request_key, keyctl) a child may not make (_refuse_keys): keys
# are kernel state of the slot uid that outlives a process, and their garbage collection is
# asynchronous. The audit architecture of each machine, since system calls of another ABI (i386
# through int 0x80, x32) have other numbers and are refused whole.
KEY_SYSCALLS = {"x86_64": (0xC000003E, (248, 249, 250)), "aarch64": (0xC00000B7, (217, 218, 219))}
EMPTY_DIRS = ("/tmp", "/dev/shm", "/dev/mqueue")
SYSV_IPC = ("/proc/sysvipc/shm", "/proc/sysvipc/sem", "/proc/sysvipc/msg")
# The sandbox's network namespace outlives a child: its sockets (a TCP connection stays 60 s in
# TIME_WAIT) must be gone, or the next child could see them and not bind their ports.
NET_TABLES = ("tcp", "tcp6", "udp", "udp6", "raw", "raw6", "unix", "packet")
SWEEP_SECONDS = 2.0  # leftover processes must be gone within this, or the sandbox is dirty
MAX_CHILDREN = 1000  # a zygote retires after this many children (its own CPU clock counts too)


_LIBC: list = []  # the C library, loaded once (ctypes: the guard refuses it to student code)


def _libc() -> object:
    if not _LIBC:
        import ctypes

        _LIBC.append(ctypes.CDLL(None, use_errno=True))
    return _LIBC[0]


def _syscall(name: str, *args: object) -> int | None:
    """A system call by name on the machines SYSCALLS knows; None elsewhere."""
    number = SYSCALLS.get(os.uname().machine, {}).get(name)
    return None if number is None else _libc().syscall(number, *args)


def _settings() -> tuple:
    """What a child inherits from the zygote and a process of the same uid may change."""
    import resource

    limits = tuple(resource.getrlimit(getattr(resource, name)) for name in sorted(dir(resource))
                   if name.startswith("RLIMIT_"))
    return (limits, os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0),
            os.sched_getparam(0).sched_priority, frozenset(os.sched_getaffinity(0)),
            _syscall("ioprio_get", IOPRIO_WHO_PROCESS, 0), _sched_attr(),
            _read("/proc/self/autogroup"),
            tuple(_read("/proc/net/" + table) for table in NET_TABLES),
            tuple(_folder_stamp(folder) for folder in (*EMPTY_DIRS, "/dev/pts")))


def _folder_stamp(folder: str) -> tuple | None:
    """A folder's mode, owner and change times: a child that created or removed anything there
    changed them (and with them the tmpfs's inode counter), even if it left the folder empty."""
    try:
        st = os.stat(folder)
    except OSError:
        return None
    return st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_ctime_ns


def _sched_attr() -> bytes | None:
    """The zygote's whole scheduling attributes (policy, nice, the fair scheduler's slice...)."""
    import ctypes

    buf = ctypes.create_string_buffer(SCHED_ATTR_SIZE)
    done = _syscall("sched_getattr", 0, buf, SCHED_ATTR_SIZE, 0)
    return buf.raw if done == 0 else None


def _refuse_keys() -> bool:
    """Install a seccomp filter (inherited by everything the child starts, never removable) that
    answers ENOSYS to the key system calls and to every system call of another ABI; whether it
    was installed (not on a machine KEY_SYSCALLS does not know, or without seccomp)."""
    import ctypes
    import errno

    spec = KEY_SYSCALLS.get(os.uname().machine)
    if spec is None:
        return False
    arch, numbers = spec
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, JMP|JEQ|K, JMP|JGE|K, RET|K
    allow, refuse = 0x7FFF0000, 0x00050000 | errno.ENOSYS  # SECCOMP_RET_ALLOW, RET_ERRNO
    # A jump from instruction i by offset o goes to instruction i + 1 + o.
    tests = [(jge, 0x40000000)] + [(jeq, nr) for nr in numbers]  # x32 numbers, the key calls
    refuse_at = 4 + len(tests) + 1  # after the tests and the "allow"
    program = [(ld_abs, 0, 0, 4),  # seccomp_data.arch
               (jeq, 1, 0, arch), (ret, 0, 0, refuse),  # another ABI: refused whole
               (ld_abs, 0, 0, 0)]  # seccomp_data.nr
    program += [(op, refuse_at - (4 + i) - 1, 0, k) for i, (op, k) in enumerate(tests)]
    program += [(ret, 0, 0, allow), (ret, 0, 0, refuse)]
    assert len(program) == refuse_at + 1

    class Filter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                    ("k", ctypes.c_uint32)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]

    filters = (Filter * len(program))(*program)
    libc = _libc()
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return False
    return libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER,
                      ctypes.byref(Program(len(program), filters)), 0, 0) == 0


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _others() -> list[str]:
    """Processes in the sandbox's pid namespace besides pid 1 (bwrap) and the zygote."""
    me = str(os.getpid())
    return [p for p in os.listdir("/proc") if p.isdigit() and p not in ("1", me)]


def _sweep(baseline: tuple) -> str:
    """'' if the sandbox is as it started (leftover processes killed), else why it is not."""
    deadline = time.monotonic() + SWEEP_SECONDS
    while True:
        try:
            os.kill(-1, signal.SIGKILL)  # every process this uid may signal but pid 1 and us
        except ProcessLookupError:
            pass
        _reap()
        if not _others():
            break
        if time.monotonic() > deadline:
            return "processes-left"
        time.sleep(0.002)
    for folder in EMPTY_DIRS:
        if os.path.isdir(folder) and os.listdir(folder):
            return "files-left"
    if os.path.isdir("/dev/pts") and set(os.listdir("/dev/pts")) - {"ptmx"}:
        return "pty-left"
    for table in SYSV_IPC:
        try:
            with open(table, "rb") as f:
                if len(f.read().splitlines()) > 1:
                    return "ipc-left"
        except FileNotFoundError:
            pass
    if _settings() != baseline:
        return "settings-changed"
    return ""


def _wait_for_end(pid: int) -> int:
    """The wait status of the child's end (a child that made the zygote its tracer, with
    PTRACE_TRACEME, also reports its stops: those are waited past)."""
    while True:
        _, status = os.waitpid(pid, 0)
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            return status


def _own_keyrings() -> None:
    """Keys one child adds must not reach the next: leave the session keyring inherited from
    the grader for a new, empty one of this child's own, and empty the keyrings of the slot
    uid that outlive a process (its user, user-session and persistent keyrings). Best effort:
    where keyctl is refused (some containers' seccomp), a child cannot add keys either."""
    try:
        _syscall("keyctl", KEYCTL_JOIN_SESSION_KEYRING, None)
        for ring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING):
            _syscall("keyctl", KEYCTL_CLEAR, ring)
        persistent = _syscall("keyctl", KEYCTL_GET_PERSISTENT, -1, KEY_SPEC_SESSION_KEYRING)
        if persistent is not None and persistent > 0:
            _syscall("keyctl", KEYCTL_CLEAR, persistent)
            _syscall("keyctl", KEYCTL_UNLINK, persistent, KEY_SPEC_SESSION_KEYRING)
    except (OSError, AttributeError):
        pass


def _child(control: int, fds: list[int], guard: bool) -> None:
    """Become a worker with exactly `fds` (never returns)."""
    try:
        fd_in, fd_out, fd_log, fd_raw = fds
        os.close(control)
        # stdin, stdout and stderr of its own: an inherited open file is shared with the zygote
        # and every later child (its flags, owner and locks outlive this child).
        null = os.open("/dev/null", os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        os.dup2(fd_raw, 1)
        os.dup2(fd_raw, 2)
        keep = {0, 1, 2, fd_in, fd_out, fd_log}
        for name in os.listdir("/proc/self/fd"):
            if int(name) not in keep:
                try:
                    os.close(int(name))
                except OSError:
                    pass  # the listing's own fd, closed already
        # A session (so a scheduler autogroup, whose nice value a process may change) of its
        # own, as bwrap --new-session gives a fresh worker.
        os.setsid()
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a fresh interpreter
        libc = _libc()
        libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # a fresh worker is dumpable; nothing can be read
        _own_keyrings()
        _refuse_keys()
        from autograder.grading.worker import run, worker_args

        # A fresh worker's `run` is called from the boot line, one frame deep; here the
        # zygote's frames are below it: give the student's code the same recursion depth.
        depth, frame = 0, sys._getframe()
        while frame is not None:
            depth, frame = depth + 1, frame.f_back
        sys.setrecursionlimit(sys.getrecursionlimit() + depth - 1)
        args = worker_args(fd_in, fd_out, fd_log, guard)
        sys.argv[:] = ["-c", *args]  # what a fresh worker's command line would be
        run(args)
    finally:
        os._exit(70)


def serve_forks(control: int) -> None:
    """The zygote's loop (never returns: it ends the process)."""
    import socket

    import numpy  # noqa: F401 - what every worker loads, loaded once here
    import numpy.linalg  # noqa: F401
    import numpy.random  # noqa: F401

    import autograder.grading.protocol  # noqa: F401
    import autograder.grading.worker  # noqa: F401
    import autograder.grading.worker_guard  # noqa: F401

    libc = _libc()
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) or libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0):
        os._exit(3)
    # A signal from a child must end the zygote (a restart), never run Python code in it.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    sock = socket.socket(fileno=control)
    baseline = _settings()
    if _sweep(baseline):
        os._exit(4)
    sock.send(b"ready")
    for _ in range(MAX_CHILDREN):
        msg, fds, _flags, _addr = socket.recv_fds(sock, 64, 4)
        if msg not in (b"fork", b"fork noguard") or len(fds) != 4:
            os._exit(0)  # the grader closed the socket (or sent nonsense): nothing to serve
        pid = os.fork()
        if pid == 0:
            _child(control, fds, msg == b"fork")
        for fd in fds:
            os.close(fd)
        sock.send(b"pid %d" % pid)
        status = _wait_for_end(pid)
        why = _sweep(baseline)
        verdict = b"dirty " + why.encode() if why else b"clean"
        sock.send(b"exit %d %s" % (os.waitstatus_to_exitcode(status), verdict))
        if why:
            os._exit(0)
    os._exit(0)


def main(argv: list[str]) -> None:
    if len(argv) != 2 or argv[0] != "--zygote" or not argv[1].isdigit():
        sys.exit("usage: --zygote FD")
    serve_forks(int(argv[1]))
