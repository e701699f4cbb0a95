"""Second red team on reused sandboxes (the zygote, docs/sandbox.md "Reused sandboxes").

Each attack runs as one submission's code with the import guard OFF, then a probe runs as the
next submission graded by the same process. A test marked xfail(strict) shows state that
outlives a child while the sweep still calls the sandbox "clean" (the reason names the fix);
the others are probes that held and guard against regressions. The attacks of
tests/adversarial/test_zygote.py and tests/adversarial/test_redteam_zygote.py are not repeated.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import pytest
from test_engine import expected_level

from adversarial.zygote_support import run_in_zygote
from autograder.grading.hidden import StudentError
from autograder.grading.sandbox import Limits, SandboxCaller
from autograder.grading.sandbox.zygote import Zygote, discard_zygote

pytestmark = [
    pytest.mark.skipif(expected_level() != "bwrap",
                       reason="the zygote is the bwrap level's (CI has bwrap)"),
    pytest.mark.skipif(os.uname().machine != "x86_64",
                       reason="the probes make x86_64 system calls (CI is x86_64)"),
]
LIMITS = Limits(call_timeout_s=10.0, load_timeout_s=20.0)

SOURCE = '''
import ctypes, fcntl, os, struct

libc = ctypes.CDLL(None, use_errno=True)
SCHED_ATTR = "IIQiIQQQ"  # size, policy, flags, nice, priority, runtime, deadline, period

def stdin_flags():
    return fcntl.fcntl(0, fcntl.F_GETFL)

def mark_stdin():
    # fd 0 is the zygote's /dev/null: one open file description, shared by every child
    fcntl.fcntl(0, fcntl.F_SETFL, stdin_flags() | os.O_APPEND | os.O_NONBLOCK)
    return stdin_flags()

def sched_attr(pid=0):
    buf = ctypes.create_string_buffer(48)
    if libc.syscall(315, pid, buf, 48, 0) != 0:  # sched_getattr
        return -ctypes.get_errno()
    return list(struct.unpack(SCHED_ATTR, buf.raw))

def shorten_zygote_slice():
    zygote = os.getppid()
    nice = os.getpriority(os.PRIO_PROCESS, zygote)  # unchanged: the sweep compares it
    # SCHED_OTHER with sched_runtime 0.1 ms: the fair scheduler's custom slice (Linux >= 6.12)
    attr = struct.pack(SCHED_ATTR, 48, 0, 0, nice, 0, 100_000, 0, 0)
    if libc.syscall(314, zygote, attr, 0) != 0:  # sched_setattr
        return -ctypes.get_errno()
    return sched_attr(zygote)

def write(path, text):
    with open(path, "w") as f:  # closed here: a refused write raises, not ignored at exit
        f.write(text)

def keys():
    with open("/proc/keys") as f:  # the keys this uid may view, with their descriptions
        return f.read()

def leave_a_key():
    # a key's description is up to 4 KB of the submission's choosing
    return libc.syscall(248, b"user", b"answer-is-42", b"x", 1, -3)  # add_key to @s

def lock_user_keyring():
    """A key in the uid's user keyring, and the keyring made unwritable (KEYCTL_SETPERM: view,
    read, search, setattr; so the test can restore it): the next child cannot clear it."""
    key = libc.syscall(248, b"user", b"answer-in-user-ring", b"x", 1, -4)  # add_key to @u
    if key <= 0 or libc.syscall(250, 5, -4, 0x2B2B0000) != 0:
        return -ctypes.get_errno()
    return key

def shared_mappings():
    """Mappings shared with the zygote (so with every later child) that this child can write."""
    with open("/proc/self/maps") as f:
        return [line for line in f.read().splitlines() if line.split()[1][1::2] == "ws"]

def others():
    me = str(os.getpid())
    return sorted(p for p in os.listdir("/proc") if p.isdigit() and p not in ("1", "2", me))

def leave_stopped_traced_and_zombie():
    """A stopped process, a process stopped under a tracer, and a zombie whose parent lives on
    and never reaps it: each left for the sweep."""
    import signal, time
    stopped = os.fork()
    if stopped == 0:
        os.kill(os.getpid(), signal.SIGSTOP)
        os._exit(0)
    traced = os.fork()
    if traced == 0:
        libc.ptrace(0, 0, None, None)  # PTRACE_TRACEME: this child stops under its parent
        os.kill(os.getpid(), signal.SIGSTOP)
        os._exit(0)
    parent = os.fork()
    if parent == 0:  # a parent that never reaps its exited child
        os.setsid()
        if os.fork() == 0:
            os._exit(0)
        while True:
            time.sleep(0.01)
    time.sleep(0.2)
    return sorted(others())

def segfault():
    os.kill(os.getpid(), 11)

def kernel_settings_refused():
    """What a child tried to change in the namespaces and tmpfs the zygote keeps, and errno."""
    tried = {}
    tried["sethostname"] = 0 if libc.sethostname(b"answers", 7) == 0 else ctypes.get_errno()
    tried["setdomainname"] = 0 if libc.setdomainname(b"answers", 7) == 0 else ctypes.get_errno()
    for name, change in (
            ("chmod /tmp", lambda: os.chmod("/tmp", 0o1555)),
            ("utime /tmp", lambda: os.utime("/tmp", (1, 1))),
            ("xattr /tmp", lambda: os.setxattr("/tmp", "user.answers", b"42")),
            ("chmod /dev/mqueue", lambda: os.chmod("/dev/mqueue", 0o1555)),
            ("ns_last_pid", lambda: write("/proc/sys/kernel/ns_last_pid", "4242")),
            ("lo down", lambda: write("/proc/sys/net/ipv6/conf/lo/disable_ipv6", "1")),
            ("port range", lambda: write("/proc/sys/net/ipv4/ip_local_port_range",
                                       "40000 40001"))):
        try:
            change()
            tried[name] = 0
        except OSError as exc:
            tried[name] = exc.errno
    return tried

def writable_kernel_files():
    """Files under /proc/sys and /sys a write to which is not refused."""
    found = []
    for top in ("/proc/sys", "/sys"):
        for root, _, files in os.walk(top):
            for name in files:
                path = os.path.join(root, name)
                try:
                    fd = os.open(path, os.O_WRONLY)
                except OSError:
                    continue
                try:  # writable mode bits; the kernel may still refuse the write itself
                    os.write(fd, b"0")
                    found.append(path)
                except OSError:
                    pass
                finally:
                    os.close(fd)
    return sorted(found)
'''


def run(function: str) -> tuple[object, Zygote | None]:
    """Call `function` of SOURCE as one submission forked by this process's zygote."""
    return run_in_zygote(function, SOURCE, LIMITS)


def test_the_flags_of_the_inherited_stdin_do_not_reach_the_next_submission():
    discard_zygote()
    fresh, _ = run("stdin_flags")
    marked, first = run("mark_stdin")
    assert marked != fresh  # the attack did change the flags it could see
    seen, second = run("stdin_flags")
    assert first is not None and second is first  # reused: the sweep found it clean
    assert seen == fresh


def test_a_child_cannot_change_the_scheduler_slice_of_the_next_submission():
    discard_zygote()
    fresh, _ = run("sched_attr")
    assert isinstance(fresh, list), fresh
    changed, first = run("shorten_zygote_slice")
    if not isinstance(changed, list) or changed == fresh:
        pytest.xfail("no custom slice for fair tasks on this kernel (Linux < 6.12)")
    seen, second = run("sched_attr")
    assert seen == fresh or second is not first  # either as fresh, or the zygote was replaced


def test_a_child_cannot_change_the_namespaces_or_tmpfs_the_zygote_keeps():
    discard_zygote()
    tried, zygote = run("kernel_settings_refused")
    assert isinstance(tried, dict), tried
    assert all(code != 0 for code in tried.values()), tried


def test_no_kernel_setting_under_proc_sys_or_sys_is_writable_by_a_child():
    discard_zygote()
    found, _ = run("writable_kernel_files")
    assert found == [], found


def test_a_key_of_the_previous_child_is_not_listed_to_the_next():
    """Keys outlive a process (and their garbage collection is asynchronous): a child's key
    system calls are refused by the seccomp filter the zygote's child installs."""
    discard_zygote()
    added, first = run("leave_a_key")
    assert added == -1, added  # add_key refused
    seen, second = run("keys")
    assert isinstance(seen, str), seen
    assert "answer-is-42" not in seen or second is not first


def test_a_crashed_child_is_not_reported_as_closing_the_graders_pipes():
    # the guard log's end of file while poll() says "running" is read as the student's code
    # closing the pipe; a forked child's end is only known once the zygote has swept
    discard_zygote()
    for _ in range(3):
        with SandboxCaller(SOURCE, reuse=True, guard=False, limits=LIMITS) as caller:
            with pytest.raises(StudentError, match="segmentation fault"):
                caller.call_many("segfault", [((), {})], 0)
            assert caller.violations == []


# Run as the slot uid on the host: give its user keyring back its permissions, and empty it.
RESTORE_USER_KEYRING = ("import ctypes; libc = ctypes.CDLL(None, use_errno=True); "
                        "libc.syscall(250, 5, -4, 0x1F3F0000); libc.syscall(250, 7, -4)")


def test_a_child_cannot_keep_keys_in_the_uids_user_keyring_for_the_next():
    discard_zygote()
    uid = None
    try:
        with SandboxCaller(SOURCE, reuse=True, guard=False, limits=LIMITS) as caller:
            caller.start()
            first = caller.worker.zygote
            uid = first.uid
            locked = caller.call_many("lock_user_keyring", [((), {})], 0)[0]
        assert locked == -errno.ENOSYS, locked  # add_key refused by the child's filter
        seen, second = run("keys")
        assert isinstance(seen, str), seen
        assert "answer-in-user-ring" not in seen or second is not first
    finally:
        if uid is not None:  # the keyring belongs to the uid, not to the sandbox: put it back
            subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                            sys.executable, "-c", RESTORE_USER_KEYRING], check=True, timeout=30)


def test_a_child_shares_no_writable_memory_with_the_zygote():
    discard_zygote()
    found, _ = run("shared_mappings")
    assert found == [], found


def test_stopped_traced_and_zombie_processes_do_not_reach_the_next_submission():
    discard_zygote()
    left, _ = run("leave_stopped_traced_and_zombie")
    assert isinstance(left, list) and len(left) >= 4, left  # three children and a zombie
    seen, _ = run("others")
    assert seen == []
