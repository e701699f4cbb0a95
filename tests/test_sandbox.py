"""Starting the worker: levels, the uid drop, limits, the filesystem view, restarts, the guard.

These run in CI as root with bubblewrap installed, where the strongest level must be used.
Only on a machine without bwrap (a student's laptop) are the bwrap-specific tests skipped.
"""

from __future__ import annotations

import os
import shutil
import sys
import time

import numpy as np
import pytest

from autograder.grading.hidden import StudentError, StudentTimeout
from autograder.grading.sandbox import (
    UID_BASE,
    Limits,
    SandboxCaller,
    SandboxError,
    choose_level,
    finish_stopping,
    is_root,
    runtime,
    runtime_readable_by_others,
)

ROOT_WITH_BWRAP = is_root() and shutil.which("bwrap") is not None
needs_bwrap = pytest.mark.skipif(not ROOT_WITH_BWRAP, reason="needs root and bubblewrap (CI)")

PROBES = '''
import math
import time

import numpy as np


def add(a, b):
    return a + b


def identity():
    import os
    return {"uid": os.getuid(), "gid": os.getgid(), "groups": list(os.getgroups()),
            "cwd": os.getcwd(), "root": sorted(os.listdir("/")),
            "threads": os.environ.get("OPENBLAS_NUM_THREADS", ""),
            "status": open("/proc/self/status").read()}


def limits():
    import resource
    return {name: list(resource.getrlimit(getattr(resource, name)))
            for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_CORE")}


def write_big(mb):
    import os
    try:
        with open("big.bin", "wb") as f:
            f.write(b"x" * (mb * 2**20))
        return "written"
    except OSError as exc:
        return type(exc).__name__
    finally:
        if os.path.exists("big.bin"):
            os.remove("big.bin")


def die(code):
    import os
    os._exit(code)


def spin():
    while True:
        pass


def imports_os():
    import os
    return os.getcwd()


def opens_file():
    return open("/etc/hostname").read()


def nap(seconds):
    time.sleep(seconds)
    return seconds
'''

FAST = Limits(call_timeout_s=2.0, load_timeout_s=20.0)


def caller(level: str = "auto", guard: bool = False, source: str = PROBES, **kw) -> SandboxCaller:
    return SandboxCaller(source, sandbox=level, limits=kw.pop("limits", FAST), guard=guard, **kw)


@needs_bwrap
def test_auto_picks_bwrap_as_root_when_bwrap_is_installed():
    assert choose_level("auto") == "bwrap"


def test_an_unknown_level_is_refused():
    with pytest.raises(SandboxError, match="unknown sandbox level"):
        choose_level("docker")


def test_limits_come_from_assignment_toml_and_ignore_unknown_keys():
    limits = Limits.from_config({"call_timeout_s": 3, "memory_mb": 512, "colour": 1})
    assert (limits.call_timeout_s, limits.memory_mb, limits.cpu_s) == (3.0, 512, Limits().cpu_s)


@needs_bwrap
def test_bwrap_worker_runs_as_an_unprivileged_uid_without_capabilities():
    with caller("bwrap") as c:
        info = c.call("identity", (), {}, 0)
        assert c.level == "bwrap"
    assert UID_BASE <= info["uid"] < UID_BASE + 512 and info["gid"] == info["uid"]
    assert info["groups"] == []
    status = dict(line.split(":\t", 1) for line in info["status"].splitlines() if ":\t" in line)
    assert int(status["CapEff"], 16) == 0 and int(status["CapBnd"], 16) == 0
    assert status["NoNewPrivs"].strip() == "1"


@needs_bwrap
def test_bwrap_worker_sees_only_the_runtime_and_a_private_tmp():
    with caller("bwrap") as c:
        info = c.call("identity", (), {}, 0)
    assert info["cwd"] == "/tmp" and info["threads"] == "1"
    assert "work" not in info["root"] and "home" not in info["root"]
    assert set(info["root"]) <= {"usr", "lib", "lib64", "lib32", "etc", "opt", "root", "proc",
                                 "dev", "tmp"}


@needs_bwrap
def test_two_workers_get_different_uids():
    with caller("bwrap") as a, caller("bwrap") as b:
        uid_a = a.call("identity", (), {}, 0)["uid"]
        uid_b = b.call("identity", (), {}, 0)["uid"]
    assert uid_a != uid_b


@pytest.mark.parametrize("level", ["bwrap", "process"])
def test_limits_are_set_in_the_worker(level):
    if level == "bwrap" and not ROOT_WITH_BWRAP:
        pytest.skip("needs root and bubblewrap (CI)")
    limits = Limits(call_timeout_s=5, memory_mb=1024, cpu_s=30, nproc=8, fsize_mb=4)
    with caller(level, limits=limits) as c:
        got = c.call("limits", (), {}, 0)
        assert c.call("write_big", (8,), {}, 0) in ("OSError", "PermissionError")
        assert c.call("write_big", (1,), {}, 0) == "written"
    assert got["RLIMIT_AS"] == [2**30, 2**30]
    assert got["RLIMIT_CPU"] == [30, 31]
    assert got["RLIMIT_NPROC"] == [8, 8]
    assert got["RLIMIT_FSIZE"] == [4 * 2**20, 4 * 2**20]
    assert got["RLIMIT_CORE"] == [0, 0]


def test_process_level_can_be_forced_and_is_reported():
    with caller("process") as c:
        assert c.call("add", (np.ones(2), 1.0), {}, 0).tolist() == [2.0, 2.0]
        assert c.level == "process"


def uid_level_python() -> str | None:
    """An interpreter the dropped uid can run: this one, else a system Python of the same
    version (here this one lives under a 0700 /root)."""
    if runtime_readable_by_others(runtime()):
        return None
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"):
        if os.path.exists(candidate):
            try:
                if runtime_readable_by_others(runtime(candidate)):
                    return candidate
            except SandboxError:
                continue
    pytest.skip(f"no Python {version} readable by other users on this machine")


def test_uid_level_refuses_a_runtime_the_dropped_uid_cannot_read():
    if not is_root() or runtime_readable_by_others(runtime()):
        pytest.skip("needs root and a runtime under a private directory")
    with pytest.raises(SandboxError, match="not readable by an unprivileged uid"):
        choose_level("uid")


def test_uid_level_drops_privileges_and_cannot_read_private_files(tmp_path):
    if not is_root():
        pytest.skip("the uid level needs root")
    python = uid_level_python()
    private = tmp_path / "course"
    private.mkdir(mode=0o700)
    (private / "secret.txt").write_text("SECRET")
    root_only = tmp_path / "root_only.txt"
    root_only.write_text("ROOT ONLY")
    root_only.chmod(0o600)
    source = PROBES + """
def read(path):
    try:
        return open(path).read()
    except OSError as exc:
        return type(exc).__name__
"""
    with caller("uid", source=source, python=python) as c:
        info = c.call("identity", (), {}, 0)
        assert c.level == "uid"
        assert c.call("read", (str(private / "secret.txt"),), {}, 0) == "PermissionError"
        assert c.call("read", (str(root_only),), {}, 0) == "PermissionError"
    assert info["uid"] >= UID_BASE and info["groups"] == []
    status = dict(line.split(":\t", 1) for line in info["status"].splitlines() if ":\t" in line)
    assert int(status["CapEff"], 16) == 0 and status["NoNewPrivs"].strip() == "1"


def test_a_level_asked_for_by_name_is_the_level_used():
    assert choose_level("process") == "process"


@needs_bwrap
def test_the_environment_does_not_change_the_level_asked_for_as_auto(monkeypatch):
    # The level is an explicit argument (`autograder grade --sandbox`), never read from the
    # environment by the sandbox itself.
    monkeypatch.setenv("AUTOGRADER_SANDBOX", "process")
    assert choose_level("auto") == "bwrap"


LITTER = PROBES + """
def tmpdir():
    import os
    import stat
    home = os.environ["TMPDIR"]
    st = os.stat(home)
    return {"path": home, "mode": stat.S_IMODE(st.st_mode), "owner": st.st_uid,
            "same": os.environ["TMP"] == os.environ["TEMP"] == os.environ["HOME"] == home}


def litter(name):
    import os
    made = []
    for folder in ("/tmp", "/var/tmp", "/dev/shm"):
        path = os.path.join(folder, name)
        with open(path, "w") as fh:
            fh.write("left behind")
        made.append(path)
    os.mkdir(os.path.join("/tmp", name + "-dir"))
    return made
"""


def test_uid_level_worker_has_a_private_temporary_folder_removed_afterwards():
    if not is_root():
        pytest.skip("the uid level needs root")
    with caller("uid", source=LITTER, python=uid_level_python()) as c:
        info = c.call("tmpdir", (), {}, 0)
        uid = c.lease.uid
    assert info["mode"] == 0o700 and info["owner"] == uid and info["same"]
    assert not os.path.exists(info["path"])


def test_uid_level_files_left_in_shared_temporary_folders_are_removed_and_noted():
    if not is_root():
        pytest.skip("the uid level needs root")
    name = f"ag-litter-{os.getpid()}-{time.monotonic_ns()}"
    with caller("uid", source=LITTER, python=uid_level_python()) as c:
        made = c.call("litter", (name,), {}, 0)
        assert all(os.path.exists(p) for p in made)  # written as the slot uid meanwhile
    assert [p for p in made + [f"/tmp/{name}-dir"] if os.path.exists(p)] == []
    assert sorted(c.litter) == sorted(made + [f"/tmp/{name}-dir"])
    assert any("4 file(s) or folder(s)" in note and "were removed" in note for note in c.notes)


def test_sweeping_a_uid_removes_only_what_it_owns(tmp_path):
    if not is_root():
        pytest.skip("chown needs root")
    from autograder.grading.sandbox import sweep_uid_files

    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    inner = shared / "open"
    inner.mkdir()
    inner.chmod(0o1777)
    mine, deep, other = shared / "left", inner / "deep", shared / "root-owned"
    for path in (mine, deep, other):
        path.write_text("x")
    os.chown(mine, UID_BASE + 500, UID_BASE + 500)
    os.chown(deep, UID_BASE + 500, UID_BASE + 500)
    removed = sweep_uid_files(UID_BASE + 500, roots=[str(shared)])
    assert sorted(removed) == sorted([str(mine), str(deep)])
    assert other.exists() and not mine.exists() and not deep.exists()


def test_a_dead_worker_is_restarted_for_the_next_call():
    with caller() as c:
        with pytest.raises(StudentError, match="exited with code 3"):
            c.call("die", (3,), {}, 0)
        assert c.call("add", (1.0, 2.0), {}, 0) == 3.0
        assert c.starts == 2


def test_a_hung_call_times_out_and_the_next_call_works():
    with caller(limits=Limits(call_timeout_s=0.5)) as c:
        with pytest.raises(StudentTimeout, match="no result within 0.5 s"):
            c.call("spin", (), {}, 0)
        assert c.call("add", (1.0, 2.0), {}, 0) == 3.0


def test_limits_read_the_submission_budget_from_assignment_toml():
    assert Limits().submission_seconds == 60.0
    assert Limits.from_config({"submission_seconds": 5}).submission_seconds == 5.0


def test_the_release_carries_the_submission_budget_to_students():
    from autograder.core.config import load_config, release_dir

    for assignment in ("A3", "A4"):
        config = load_config(release_dir(assignment) / "assignment.toml")
        assert config.limits["submission_seconds"] == config.submission_seconds == 60.0


def test_a_call_that_outlives_the_submission_budget_is_a_timeout_saying_so():
    limits = Limits(call_timeout_s=5.0, load_timeout_s=20.0, submission_seconds=1.0)
    with caller(limits=limits) as c:
        with pytest.raises(StudentTimeout, match=r"stopped, because the time budget .*\(1 s\)"):
            c.call("nap", (3.0,), {}, 0)
        assert c.budget_spent


def test_calls_after_the_budget_is_spent_are_timeouts_without_running():
    limits = Limits(call_timeout_s=5.0, load_timeout_s=20.0, submission_seconds=1.0)
    with caller(limits=limits) as c:
        with pytest.raises(StudentTimeout):
            c.call("nap", (3.0,), {}, 0)
        starts = c.starts
        with pytest.raises(StudentTimeout, match="not run, because the time budget"):
            c.call("add", (1.0, 2.0), {}, 0)
        assert c.starts == starts  # no worker was started for it
    assert any("time budget" in note for note in c.notes)


def test_a_module_that_cannot_load_fails_every_call_with_its_error():
    with caller(source="def add(a, b):\n    return a +\n") as c:
        for _ in range(2):
            with pytest.raises(StudentError, match="SyntaxError: your code could not be loaded"):
                c.call("add", (1.0, 2.0), {}, 0)
        assert c.starts == 1


def test_the_guard_refuses_imports_and_files_with_a_clear_message():
    with caller(guard=True) as c:
        with pytest.raises(StudentError, match="import os .*allowed imports: math, numpy, time"):
            c.call("imports_os", (), {}, 0)
        with pytest.raises(StudentError, match="opening files"):
            c.call("opens_file", (), {}, 0)
        assert c.call("add", (1.0, 2.0), {}, 0) == 3.0  # numpy still works under the guard
        assert any("import os" in v for v in c.violations)
        assert any("opening files" in v for v in c.violations)


def test_the_guard_lets_numpy_import_its_lazy_submodules_without_a_violation():
    source = PROBES + """
def lazy():
    return [float(np.fft.fft(np.ones(4))[0].real),
            float(np.polynomial.Polynomial([1.0, 2.0])(3.0)),
            float(np.ma.masked_array([1.0, 2.0]).sum())]
"""
    with caller(guard=True, source=source, limits=Limits(call_timeout_s=20.0)) as c:
        assert c.call("lazy", (), {}, 0) == [4.0, 7.0, 3.0]
        assert c.violations == []


def test_the_guard_lets_the_preamble_import_what_the_assignment_does_not_allow():
    with caller(guard=True, allowed_imports=("numpy",)) as c:
        assert c.call("add", (1.0, 2.0), {}, 0) == 3.0
        assert c.allowed_imports == ["math", "numpy", "time"]


def test_the_guard_is_on_unless_the_caller_switches_it_off(monkeypatch):
    """An explicit option, not the grader's environment, decides (the variable once read here
    no longer counts)."""
    monkeypatch.setenv("AUTOGRADER_WORKER_GUARD", "0")
    with SandboxCaller(PROBES, limits=FAST) as c:
        assert c.guard is True
    with SandboxCaller(PROBES, limits=FAST, guard=False) as c:
        assert c.guard is False
        assert isinstance(c.call("imports_os", (), {}, 0), str)
        assert c.violations == []


def test_no_worker_processes_outlive_the_caller():
    with caller() as c:
        c.call("add", (1.0, 2.0), {}, 0)
        pid = c.worker.proc.pid
    # Outside the uid level, close hands the worker to a thread that stops it (stop_later)
    finish_stopping()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_a_worker_stopped_later_releases_its_slot_only_once_it_is_stopped():
    from autograder.grading.sandbox.worker_process import stop_later

    events = []

    class Worker:
        def stop(self):
            time.sleep(0.05)
            events.append("stopped")

    class Lease:
        def release(self):
            events.append("released")

    stop_later(Worker(), Lease())
    finish_stopping()
    assert events == ["stopped", "released"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the OSError below
def test_a_worker_that_fails_to_stop_still_releases_its_slot():
    from autograder.grading.sandbox.worker_process import stop_later

    events = []

    class Worker:
        def stop(self):
            raise OSError("gone")

    class Lease:
        def release(self):
            events.append("released")

    stop_later(Worker(), Lease())
    finish_stopping()
    assert events == ["released"]


@pytest.mark.parametrize("how", ["kill binary", "fork"])
def test_sweeping_a_slot_uid_kills_all_its_processes(how):
    if not is_root() or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv")
    import subprocess

    from autograder.grading.sandbox.slots import (
        SlotLease,
        _kill_uid_by_fork,
        kill_uid,
        setpriv_args,
    )

    lease = SlotLease()  # a slot no other grading uses meanwhile
    try:
        procs = [subprocess.Popen([*setpriv_args(lease.uid), "sleep", "30"]) for _ in range(3)]
        time.sleep(0.2)
        (kill_uid if how == "kill binary" else _kill_uid_by_fork)(lease.uid)
        assert [p.wait(timeout=5) for p in procs] == [-9, -9, -9]
    finally:
        lease.release()


@pytest.mark.parametrize("sweep", [False, True])
def test_a_slot_sweeps_the_hosts_shared_folders_only_when_asked(monkeypatch, sweep: bool) -> None:
    """Only the uid level sweeps at a slot's acquisition: a worker in bwrap never sees the
    host's world-writable folders, and searching them costs seconds on a host with a big /tmp."""
    from autograder.grading.sandbox import slots

    swept: list[int] = []
    monkeypatch.setattr(slots, "is_root", lambda: True)
    monkeypatch.setattr(slots, "kill_uid", lambda uid: None)
    monkeypatch.setattr(slots, "sweep_uid_files", lambda uid: swept.append(uid) or [])
    lease = slots.SlotLease(sweep=sweep)
    try:
        assert swept == ([lease.uid] if sweep else [])
    finally:
        lease.release()
