"""Reused sandboxes: what one submission's code does to its zygote never reaches the next one.

Under bwrap a grading process forks each submission's worker from one long-lived zygote
(autograder.grading.sandbox.zygote, docs/sandbox.md "Reused sandboxes"). Each attack below runs
as a submission's code with the import guard OFF (it is not a security boundary), then a probe
runs as the next submission: it must find the sandbox exactly as a fresh one (no process but
pid 1, the zygote and itself; nothing in /tmp, /dev/mqueue or SysV IPC; the same limits, nice
value and CPU affinity; a session keyring of its own; only its own fds). An attack that leaves
something behind must also have cost the zygote its life (never reused dirty).
"""

from __future__ import annotations

import os

import pytest
from test_engine import expected_level

from adversarial.zygote_support import run_in_zygote
from autograder.grading.hidden import StudentTimeout
from autograder.grading.sandbox import Limits
from autograder.grading.sandbox.zygote import Zygote, discard_zygote

pytestmark = [
    pytest.mark.skipif(expected_level() != "bwrap",
                       reason="the zygote is the bwrap level's (CI has bwrap)"),
    pytest.mark.skipif(os.uname().machine != "x86_64",
                       reason="the probe makes x86_64 system calls (CI is x86_64)"),
]

PROBE = '''
import os, resource, ctypes, sys

def look():
    me = str(os.getpid())
    libc = ctypes.CDLL(None, use_errno=True)
    ipc = []
    for table in ("shm", "sem", "msg"):
        with open("/proc/sysvipc/" + table) as f:
            ipc += f.read().splitlines()[1:]
    keep = sorted(int(sys.argv[sys.argv.index(flag) + 1])
                  for flag in ("--in", "--out", "--guard-log"))
    return {
        "pids": sorted(p for p in os.listdir("/proc") if p.isdigit() and p not in ("1", "2", me)),
        "tmp": sorted(os.listdir("/tmp")),
        "mqueue": sorted(os.listdir("/dev/mqueue")),
        "pts": sorted(os.listdir("/dev/pts")),
        "ipc": ipc,
        "limits": [list(resource.getrlimit(getattr(resource, n)))
                   for n in sorted(dir(resource)) if n.startswith("RLIMIT_")],
        "nice": os.getpriority(os.PRIO_PROCESS, 0),
        "affinity": sorted(os.sched_getaffinity(0)),
        "keyring": libc.syscall(250, 0, -3, 0),  # keyctl(KEYCTL_GET_KEYRING_ID, session)
        "ioprio": libc.syscall(252, 1, 0),  # ioprio_get(IOPRIO_WHO_PROCESS, self)
        "fds": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
        "own_fds": [0, 1, 2] + keep,
        "parent": os.getppid(),
    }
'''

ATTACKS = {
    "a daemon (double fork, new session) left running": '''
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            import time
            while True:
                time.sleep(0.01)
        os._exit(0)
    os.wait()
''',
    "a file left in /tmp": '''
    with open("/tmp/answers.npy", "w") as f:
        f.write("for the next student")
''',
    "a hidden folder left in /tmp": '''
    os.makedirs("/tmp/.cache/x")
    os.chmod("/tmp/.cache", 0)
''',
    "a POSIX message queue": '''
    rt = ctypes.CDLL(None, use_errno=True)
    fd = rt.mq_open(b"/answers", os.O_CREAT | os.O_RDWR, 0o600, None)
    assert fd >= 0, ctypes.get_errno()
''',
    "a SysV shared memory segment": '''
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.shmget(4242, 4096, 0o1000 | 0o600) >= 0, ctypes.get_errno()
''',
    "a SysV semaphore": '''
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.semget(4243, 1, 0o1000 | 0o600) >= 0, ctypes.get_errno()
''',
    "the zygote's limits lowered (prlimit)": '''
    resource.prlimit(os.getppid(), resource.RLIMIT_NOFILE, (64, 64))
    resource.prlimit(os.getppid(), resource.RLIMIT_CPU, (2, 2))
''',
    "the zygote's nice value raised": '''
    os.setpriority(os.PRIO_PROCESS, os.getppid(), 19)
''',
    "the zygote pinned to one CPU": '''
    os.sched_setaffinity(os.getppid(), {sorted(os.sched_getaffinity(0))[0]})
''',
    "the zygote made a batch process": '''
    os.sched_setscheduler(os.getppid(), os.SCHED_BATCH, os.sched_param(0))
''',
    "the zygote's I/O priority lowered": '''
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.syscall(251, 1, os.getppid(), 3 << 13) == 0, ctypes.get_errno()  # class idle
''',
    # refused by the child's seccomp filter; kept in case the filter is ever missing
    "keys added to the uid's user, user-session and persistent keyrings": '''
    libc = ctypes.CDLL(None, use_errno=True)
    persistent = libc.syscall(250, 22, -1, -3)
    for ring in (-4, -5, persistent):
        assert libc.syscall(248, b"user", b"answers", b"42", 2, ring) > 0, ctypes.get_errno()
''',
    "a child that makes the zygote its tracer (PTRACE_TRACEME)": '''
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace(0, 0, None, None)
''',
    "a key added to the session keyring": '''
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.syscall(248, b"user", b"answers", b"42", 2, -3) > 0, ctypes.get_errno()
''',
    "the zygote stopped (SIGSTOP)": '''
    import signal
    os.kill(os.getppid(), signal.SIGSTOP)
''',
    "the zygote killed (SIGKILL)": '''
    import signal
    os.kill(os.getppid(), signal.SIGKILL)
''',
    "the zygote interrupted (SIGINT)": '''
    import signal
    os.kill(os.getppid(), signal.SIGINT)
''',
    "a pty left open by a daemon": '''
    if os.fork() == 0:
        os.setsid()
        fd = os.open("/dev/pts/ptmx", os.O_RDWR)
        import time
        while True:
            time.sleep(0.01)
    ''',
}
LEAVES_STATE = {"a file left in /tmp", "a hidden folder left in /tmp", "a POSIX message queue",
                "a SysV shared memory segment", "a SysV semaphore",
                "the zygote's limits lowered (prlimit)", "the zygote's nice value raised",
                "the zygote pinned to one CPU", "the zygote made a batch process",
                "the zygote's I/O priority lowered",
                "the zygote stopped (SIGSTOP)", "the zygote killed (SIGKILL)",
                "the zygote interrupted (SIGINT)"}
LIMITS = Limits(call_timeout_s=5.0, load_timeout_s=20.0)


def attack_source(body: str) -> str:
    """PROBE and `attack()` running `body` (indented by 4 already)."""
    return PROBE + "\n\ndef attack():\n    import os, resource, ctypes\n" + body + "\n    return 1\n"


def run(function: str, source: str) -> tuple[object, Zygote | None]:
    return run_in_zygote(function, source, LIMITS)


@pytest.fixture(scope="module")
def fresh() -> dict:
    """What a probe sees in a sandbox that ran nothing else (a new zygote's first child)."""
    discard_zygote()
    seen, zygote = run("look", PROBE)
    assert zygote is not None and isinstance(seen, dict)
    return seen


def assert_pristine(seen: dict, fresh: dict) -> None:
    for key in ("pids", "tmp", "mqueue", "pts", "ipc", "limits", "nice", "affinity", "ioprio"):
        assert seen[key] == fresh[key], key
    assert seen["fds"] in (seen["own_fds"], sorted(seen["own_fds"] + [max(seen["fds"])]))
    assert seen["keyring"] == -1  # the key system calls are refused to the child


def test_the_next_submission_reuses_a_clean_zygote(fresh):
    first, zygote = run("look", PROBE)
    second, same = run("look", PROBE)
    assert zygote is same and not zygote.dead  # reused: the point of a zygote
    assert first["parent"] == second["parent"] == 2
    assert_pristine(first, fresh)
    assert_pristine(second, fresh)


@pytest.mark.parametrize("name", list(ATTACKS), ids=list(ATTACKS))
def test_an_attack_on_the_zygote_never_reaches_the_next_submission(name, fresh):
    _, before = run("look", PROBE)
    value, used = run("attack", attack_source(ATTACKS[name]))
    assert used is None or used is before
    if name in LEAVES_STATE:  # the sandbox was not as it started: never served again
        assert before.dead
    seen, after = run("look", PROBE)
    assert isinstance(seen, dict), seen
    assert_pristine(seen, fresh)
    assert after is not None and not after.dead
    assert (after is not before) == before.dead


def test_the_zygote_cannot_be_traced_or_read_by_its_child(fresh):
    source = PROBE + '''
def peek():
    import os, ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    out = {"ptrace": libc.ptrace(16, os.getppid(), None, None)}  # PTRACE_ATTACH
    for what in ("mem", "environ", "fd", "maps"):
        try:
            path = "/proc/%d/%s" % (os.getppid(), what)
            os.listdir(path) if what == "fd" else open(path, "rb").read(1)
            out[what] = "read"
        except PermissionError:
            out[what] = "refused"
    return out
'''
    seen, zygote = run("peek", source)
    assert seen == {"ptrace": -1, "mem": "refused", "environ": "refused", "fd": "refused",
                    "maps": "refused"}
    assert zygote is not None and not zygote.dead


def test_the_key_system_calls_and_other_abis_are_refused_to_the_child(fresh):
    source = PROBE + '''
def calls():
    import os, ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    out = {}
    for name, args in {"add_key": (248, b"user", b"k", b"x", 1, -3),
                       "request_key": (249, b"user", b"k", None, 0),
                       "keyctl": (250, 0, -3, 0),
                       "x32 getpid": (0x40000000 + 39,)}.items():
        out[name] = (libc.syscall(*args), ctypes.get_errno())
    out["getpid"] = libc.syscall(39) == os.getpid()
    return out
'''
    seen, zygote = run("calls", source)
    enosys = (-1, 38)
    assert seen == {"add_key": enosys, "request_key": enosys, "keyctl": enosys,
                    "x32 getpid": enosys, "getpid": True}
    assert zygote is not None and not zygote.dead


def test_a_worker_killed_for_a_timeout_takes_its_zygote_with_it(fresh):
    _, before = run("look", PROBE)
    value, _ = run("spin", PROBE + "\ndef spin():\n    while True:\n        pass\n")
    assert isinstance(value, StudentTimeout)
    assert before.dead
    seen, after = run("look", PROBE)
    assert_pristine(seen, fresh)
    assert after is not before
