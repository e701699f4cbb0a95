"""Third red team on reused sandboxes (the zygote, docs/sandbox.md "Reused sandboxes").

Two questions. Fairness: does honest code (guard on) get the same values, output, loop
measurement and memory headroom from a worker forked by the zygote as from a fresh worker?
Trust: what state of the sandbox the zygote keeps between two children does the sweep not
compare, so that one submission's code (guard off) can pass data to the next?

A test marked xfail(strict) shows a real difference (the reason names the fix); the others are
probes that held and guard against regressions. The attacks of test_zygote.py,
test_redteam_zygote.py and test_redteam_zygote2.py are not repeated.
"""

from __future__ import annotations

import pytest
from test_engine import HONEST as HONEST_A9
from test_engine import expected_level, good_weights, grade, save_model

from adversarial.zygote_support import run_in_zygote
from autograder.grading.sandbox import Limits, SandboxCaller
from autograder.grading.sandbox.zygote import discard_zygote

pytestmark = pytest.mark.skipif(expected_level() != "bwrap",
                                reason="the zygote is the bwrap level's (CI has bwrap)")
LIMITS = Limits(call_timeout_s=10.0, load_timeout_s=20.0)

# Honest student code: numpy, a debug print, a numpy warning, the grader-seeded global random
# state, a Python loop (measured as "work") and a set of strings (its order follows the hash seed).
HONEST = '''
import numpy as np
import time


def summary(values):
    x = np.asarray(values, dtype=float)
    print("mean of", len(x), "values:", x.mean())
    with np.errstate(invalid="warn"):
        roots = np.sqrt(x - 2.0)  # a RuntimeWarning for the values below 2
    noise = np.random.rand(3)  # the grader seeds np.random before each call
    total = 0.0
    for v in x:  # a loop: the work meter counts it
        total += v
    started = time.perf_counter()
    return [float(np.nansum(roots)), noise.tolist(), total, time.perf_counter() >= started]


def deepest(n=0):
    try:
        return deepest(n + 1)
    except RecursionError:
        return n


def label_order(words):
    return list({str(w) for w in words})


def largest_array_mb(limit_mb):
    """The largest float64 array (in MB, 8 MB steps) this worker may still allocate."""
    size = limit_mb
    while size > 0:
        try:
            block = np.empty(size * 2**20 // 8)
            del block
            return size
        except MemoryError:
            size -= 8
    return 0
'''

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]


def honest(function: str, args: tuple, reuse: bool, limits: Limits = LIMITS) -> dict:
    """Call `function(*args)` of HONEST as one submission (guard on, `summary` measured):
    its value, output and work."""
    with SandboxCaller(HONEST, limits=limits, reuse=reuse, loop_free=("summary",)) as caller:
        value = caller.call_many(function, [(args, {})], 0)[0]
        return {"value": value, "output": caller.take_output(), "work": list(caller.work)}


def test_honest_code_gets_the_same_value_output_and_work_forked_as_fresh():
    discard_zygote()
    honest("summary", ([1.0],), reuse=True)  # the zygote has forked once already
    args = ([1.0, 2.0, 3.0, 4.0, 5.0],)
    forked = honest("summary", args, reuse=True)
    fresh = honest("summary", args, reuse=False)
    assert forked["value"][2] == 15.0 and forked["value"][3] is True
    assert "mean of 5 values: 3.0" in forked["output"]
    assert forked == fresh


def test_honest_code_has_the_same_memory_headroom_forked_as_fresh():
    """RLIMIT_AS counts what the zygote loaded (ctypes, socket...) in every child: the largest
    array an honest submission may allocate must not shrink by more than one 8 MB step."""
    limits = Limits(call_timeout_s=10.0, load_timeout_s=20.0, memory_mb=512)
    discard_zygote()
    forked = honest("largest_array_mb", (512,), reuse=True, limits=limits)["value"]
    fresh = honest("largest_array_mb", (512,), reuse=False, limits=limits)["value"]
    discard_zygote()  # its limits are not the other tests'
    assert 256 < fresh <= 512
    assert abs(forked - fresh) <= 8


def test_honest_recursion_reaches_the_same_depth_forked_as_fresh():
    discard_zygote()
    honest("deepest", (), reuse=True)  # the zygote has forked once already
    forked = honest("deepest", (), reuse=True)["value"]
    fresh = honest("deepest", (), reuse=False)["value"]
    assert fresh > 900
    assert forked == fresh


@pytest.mark.xfail(strict=True, reason=(
    "accepted (docs/sandbox.md, Reused sandboxes): every child of a zygote has the zygote's "
    "string hash seed, as it has its address-space layout and stack canary (fork copies them; "
    "-I ignores PYTHONHASHSEED): one draw per grading process instead of one per submission"))
def test_each_submission_gets_a_string_hash_seed_of_its_own():
    discard_zygote()
    first = honest("label_order", (WORDS,), reuse=True)["value"]
    orders = {tuple(honest("label_order", (WORDS,), reuse=True)["value"]) for _ in range(4)}
    # 10 strings: two independent seeds give the same order with a tiny chance (and five with
    # none worth counting); the same seed always does.
    assert orders != {tuple(first)}


def test_the_zygote_does_not_grow_over_many_children():
    """What the zygote's address space holds is in every child's RLIMIT_AS: it must not grow
    with the number of children it forked (a later submission would get less memory)."""
    discard_zygote()
    first, zygote = in_zygote("address_space_kb")
    for _ in range(20):
        last, same = in_zygote("address_space_kb")
    assert zygote is not None and same is zygote  # 21 children of one zygote
    assert isinstance(first, int) and abs(last - first) < 1024  # kB


# What a process inherits and honest code may meet (rlimits: MemoryError, RLIMIT_CPU; signal
# dispositions and mask: a numpy call interrupted or not; nice, affinity, umask...). Read with
# the guard off; the seccomp filter (forked only) and the autogroup's number are left out.
INHERITED = '''
import os, resource, signal

def inherited():
    out = {n: list(resource.getrlimit(getattr(resource, n)))
           for n in dir(resource) if n.startswith("RLIMIT_")}
    out["nice"] = os.getpriority(os.PRIO_PROCESS, 0)
    out["affinity"] = sorted(os.sched_getaffinity(0))
    out["autogroup nice"] = open("/proc/self/autogroup").read().split()[-1]
    for name in ("oom_score_adj", "timerslack_ns", "personality", "cgroup"):
        out[name] = open("/proc/self/" + name).read()
    with open("/proc/self/status") as f:
        for line in f:
            key, value = line.split(":", 1)
            if key.startswith(("Cap", "NoNewPrivs", "Sig", "Shd", "Umask", "Cpus_allowed_l")):
                out[key] = value.strip()
    out["handlers"] = {s.name: str(signal.getsignal(s)) for s in signal.Signals
                       if s not in (signal.SIGKILL, signal.SIGSTOP)}
    out["blocked"] = sorted(int(s) for s in signal.pthread_sigmask(signal.SIG_BLOCK, []))
    return out
'''


def test_a_forked_worker_inherits_what_a_fresh_one_starts_with():
    discard_zygote()
    run_in_zygote("inherited", INHERITED, LIMITS)
    forked, zygote = run_in_zygote("inherited", INHERITED, LIMITS)
    with SandboxCaller(INHERITED, reuse=False, guard=False, limits=LIMITS) as caller:
        fresh = caller.call_many("inherited", [((), {})], 0)[0]
    assert zygote is not None and isinstance(fresh, dict) and fresh["RLIMIT_AS"][0] > 0
    assert forked == fresh


# --------------------------------------------------------------------------- the kept /tmp
#
# The zygote keeps one tmpfs /tmp for all its children and requires it empty between two. An
# empty tmpfs still has state a child chooses: the inode number its next file gets (tmpfs
# numbers inodes per mount, one up per file ever created) and the time it was last changed.

TMPFS = '''
import os, time

def next_inode():
    path = "/tmp/probe"
    with open(path, "w"):
        pass
    number = os.stat(path).st_ino
    os.remove(path)
    return number

def burn_inodes(count):
    for i in range(count):
        path = "/tmp/b%d" % i
        with open(path, "w"):
            pass
        os.remove(path)
    return count

def sysv_ids():
    """The ids of a new message queue, semaphore set and shared memory segment (removed)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    queue = libc.msgget(0, 0o600)  # IPC_PRIVATE
    libc.msgctl(queue, 0, None)  # IPC_RMID
    sems = libc.semget(0, 1, 0o600)
    libc.semctl(sems, 0, 0, None)
    shm = libc.shmget(0, 4096, 0o600)
    libc.shmctl(shm, 0, None)
    return [queue, sems, shm]

def burn_sysv_ids(count):
    for _ in range(count):
        sysv_ids()
    return count

def address_space_kb():
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("VmSize:")).split()[1])

def tmp_times():
    st = os.stat("/tmp")
    return [st.st_mtime_ns, st.st_ctime_ns]

def touch_tmp_at(second):
    """Create and remove a file in /tmp once the clock's second is `second` mod 4."""
    while int(time.time()) % 4 != second:
        time.sleep(0.01)
    with open("/tmp/t", "w"):
        pass
    os.remove("/tmp/t")
    return tmp_times()
'''


def in_zygote(function: str, *args: object) -> tuple[object, object]:
    """`function(*args)` of TMPFS as the next child of this process's zygote (guard off): (its
    value, the zygote it came from; None when the worker was killed)."""
    if not args:
        return run_in_zygote(function, TMPFS, LIMITS)
    with SandboxCaller(TMPFS, reuse=True, guard=False, limits=LIMITS) as caller:
        value = caller.call_many(function, [(args, {})], 0)[0]
        zygote = caller.worker.zygote if caller.worker is not None else None
    return value, zygote


def test_the_inode_count_of_the_kept_tmp_does_not_reach_the_next_submission():
    """tmpfs numbers its inodes per mount: creating and removing files in /tmp leaves it empty
    but changes its times, which makes the sandbox dirty; the next child gets a new tmpfs."""
    discard_zygote()
    fresh, _ = in_zygote("next_inode")  # the first file of a new zygote's /tmp
    burnt, first = in_zygote("burn_inodes", 300)
    after, second = in_zygote("next_inode")
    assert burnt == 300 and first is not None
    assert second is not first and first.dead  # /tmp was written: never served again
    assert after == fresh


def test_when_the_previous_child_wrote_tmp_does_not_reach_the_next_submission():
    discard_zygote()
    fresh, zygote = in_zygote("tmp_times")
    marked, first = in_zygote("touch_tmp_at", 2)
    seen, second = in_zygote("tmp_times")
    assert first is zygote and marked != fresh  # the attack changed the times it could see
    assert not (second is zygote and seen == marked)



@pytest.mark.xfail(strict=True, reason=(
    "accepted side channel (docs/sandbox.md, Reused sandboxes): the IPC namespace the zygote "
    "keeps numbers SysV objects with a counter that only goes up, so a child's first id counts "
    "the objects earlier ones made, like the pid count"))
def test_the_sysv_id_count_of_the_kept_ipc_namespace_does_not_reach_the_next_submission():
    discard_zygote()
    in_zygote("sysv_ids")
    before, zygote = in_zygote("sysv_ids")
    burnt, first = in_zygote("burn_sysv_ids", 40)
    after, second = in_zygote("sysv_ids")
    assert isinstance(before, list) and min(before) >= 0, before
    assert burnt == 40 and zygote is not None and first is zygote
    assert not (second is zygote and after[0] - before[0] > 20)


# --------------------------------------------------------------------------- a grading run

# Everything this module's attacks leave in the kept sandbox, done by a submission's `add`.
HOSTILE_A9 = HONEST_A9.replace("    return a + b", """    import os
    for i in range(200):
        with open("/tmp/x%d" % i, "w"):
            pass
        os.remove("/tmp/x%d" % i)
    return a + b""", 1)


def test_an_honest_report_is_the_same_after_a_hostile_submission_as_in_a_fresh_sandbox(
        tmp_path, monkeypatch):
    model = save_model(tmp_path / "model", W=good_weights())
    monkeypatch.setenv("AUTOGRADER_SANDBOX_REUSE", "0")
    alone = grade(HONEST_A9, model, guard=True)
    monkeypatch.setenv("AUTOGRADER_SANDBOX_REUSE", "1")
    discard_zygote()
    grade(HONEST_A9, model, guard=True)
    hostile = grade(HOSTILE_A9, model)  # guard off: its code runs as written
    after = grade(HONEST_A9, model, guard=True)
    assert HOSTILE_A9 != HONEST_A9 and hostile.sandbox == "bwrap"
    assert hostile.tests == alone.tests  # its `add` ran to the end (the files were made)
    assert after.tests == alone.tests and after.violations == alone.violations
