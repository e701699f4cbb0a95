"""Containment: hostile TODO bodies gain nothing and leave no trace.

Every test runs with the worker's import guard OFF (it is only there for friendly messages), at
the strongest sandbox level of the machine (bwrap in CI). Each grades a hostile submission —
the synthetic assignment of test_engine.py with `add` replaced by the attack, so the honest
`linear_loss` in the same run must still earn its points — and then an honest submission,
which must get full marks: the grader is unaffected.
"""

from __future__ import annotations

import os
import pickle
import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from test_engine import (
    FAST,
    HONEST,
    assert_full_marks,
    by_name,
    expected_level,
    good_weights,
    grade,
    save_model,
)

from autograder.core.config import REPO_ROOT
from autograder.grading.sandbox import UID_BASE, Limits, SlotLease, finish_stopping, spare_uid
from autograder.grading.sandbox.zygote import zygote_uid

LEVEL = expected_level()
pytestmark = pytest.mark.skipif(
    LEVEL == "process", reason="a plain child process contains nothing (students' machines)"
)
SECRET = "TOP-SECRET-HIDDEN-TEST-4242"


def attack(body: str) -> str:
    """The honest module with add's body replaced by `body` (indented by 4 in the result)."""
    lines = "\n".join("    " + line if line else "" for line in body.strip("\n").splitlines())
    return HONEST.replace("    return a + b", lines)


def add_test(result) -> dict:
    return by_name(result)["add_matches_reference"]


def assert_rest_graded(result) -> None:
    """The honest part of the hostile submission earned its points in the same run."""
    tests = by_name(result)
    assert tests["loss_matches_reference"]["status"] == "passed"
    assert tests["loss_gradient_agrees_with_its_loss"]["status"] == "passed"
    assert result.sandbox == LEVEL


@pytest.fixture(scope="module")
def honest_dir(tmp_path_factory) -> Path:
    return save_model(tmp_path_factory.mktemp("honest"), W=good_weights())


@pytest.fixture
def then_honest(honest_dir):
    """After the hostile run: an honest submission still gets full marks."""
    yield
    assert_full_marks(grade(HONEST, honest_dir))


@pytest.fixture
def fake_course(tmp_path) -> Path:
    """A course directory with a solutions/ folder, private to root as a course should be."""
    sol = tmp_path / "course" / "solutions" / "A9"
    sol.mkdir(parents=True)
    (sol / "hidden_tests.py").write_text(f"# {SECRET}\n")
    for d in (tmp_path / "course", tmp_path / "course" / "solutions", sol):
        d.chmod(0o700)
    return tmp_path / "course"


def slot_processes(uids: set[int]) -> list[int]:
    """Pids of processes running as one of `uids` (slots this test used; other gradings may
    run on the machine), except the spare worker booting for the next submission (it has run
    no student code) and the zygote itself (pid 2 of its sandbox: its children and what they
    left are swept before the next child). Workers still being stopped in the background are
    waited for first."""
    finish_stopping()
    uids = uids - {spare_uid()}
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = dict(line.split(":", 1) for line in (entry / "status").read_text().splitlines())
        except (OSError, ValueError):
            continue
        uid = int(status["Uid"].split()[0])
        if uid == zygote_uid() and status.get("NSpid", "").split()[-1:] == ["2"]:
            continue
        if uid in uids:
            pids.append(int(entry.name))
    return pids


# --------------------------------------------------------------------------- gaining points


def test_monkeypatching_numpy_and_builtins_gains_nothing(then_honest):
    result = grade(attack('''
import builtins
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda *args, **kwargs: np.ones(np.shape(args[0]), dtype=bool)
np.array_equal = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
np.testing.assert_array_almost_equal = lambda *args, **kwargs: None
builtins.abs = lambda x: 0
builtins.max = lambda *args, **kwargs: 0
builtins.all = lambda *args: True
return a - b
'''))
    entry = add_test(result)
    assert entry["score"] == 0.0 and entry["status"] == "failed"
    assert "from the expected value" in entry["message"] and "off by" in entry["message"]


def test_an_object_equal_to_everything_gains_nothing(then_honest):
    result = grade(attack('''
class Equal:
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False
    def __array__(self, dtype=None, copy=None):
        return np.asarray(a) + np.asarray(b)
    def __float__(self):
        return float(np.sum(a + b))
return Equal()
'''))
    entry = add_test(result)
    assert entry["score"] == 0.0 and entry["status"] == "error"
    assert "BadResult" in entry["message"] and "object of type" in entry["message"]
    assert_rest_graded(result)


def test_an_ndarray_subclass_gains_nothing(then_honest):
    result = grade(attack('''
class Liar(np.ndarray):
    def __eq__(self, other):
        return np.ones(self.shape, dtype=bool)
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.zeros(self.shape)
    def __sub__(self, other):
        return np.zeros(self.shape)
    __rsub__ = __sub__
return np.zeros(np.shape(a + b)).view(Liar)
'''))
    entry = add_test(result)
    assert entry["score"] == 0.0 and "ndarray subclass" in entry["message"]
    assert_rest_graded(result)


# --------------------------------------------------------------------------- seeing the host


def test_the_course_files_are_not_readable(fake_course, then_honest):
    real = REPO_ROOT / "solutions"
    paths = [str(fake_course / "solutions" / "A9" / "hidden_tests.py"),
             str(real / "A3" / "hidden_tests.py"), str(real / "A3" / "assignment.toml"),
             "../solutions/A9/hidden_tests.py", "solutions/A9/hidden_tests.py"]
    result = grade(attack(f'''
import ctypes
import os
paths = {paths!r}
found = []
for path in paths:
    try:
        found.append("read:" + open(path).read())
    except Exception as exc:
        found.append("open:" + type(exc).__name__)
libc = ctypes.CDLL(None)
libc.open.argtypes = [ctypes.c_char_p, ctypes.c_int]
for path in paths:
    fd = libc.open(path.encode(), 0)
    found.append("libc:" + (os.read(fd, 4096).decode() if fd >= 0 else "failed"))
for folder in ({str(fake_course)!r}, {str(real)!r}):
    try:
        found.append("list:" + ",".join(os.listdir(folder)))
    except Exception as exc:
        found.append("list:" + type(exc).__name__)
print("FOUND", found)
return a + b
'''))
    assert "FOUND" in result.output
    assert SECRET not in result.output and "BEGIN SOLUTION" not in result.output
    assert "[private]" not in result.output and "hidden_test" not in result.output
    assert "libc:failed" in result.output and "read:" not in result.output
    assert add_test(result)["status"] == "passed"
    assert_rest_graded(result)


def test_a_root_only_file_is_not_readable(tmp_path, then_honest):
    private = tmp_path / "root_only.txt"
    private.write_text(SECRET)
    private.chmod(0o600)
    # /proc/1/environ: pid 1 of the sandbox's pid namespace runs as root (bwrap's init).
    result = grade(attack(f'''
found = []
for path in ({str(private)!r}, "/proc/1/environ", "/proc/1/root/etc/shadow", "/etc/shadow"):
    try:
        found.append(open(path, "rb").read().decode("latin-1"))
    except Exception as exc:
        found.append(type(exc).__name__)
print("FOUND", found)
return a + b
'''))
    assert "FOUND" in result.output and SECRET not in result.output
    assert "PermissionError" in result.output or "FileNotFoundError" in result.output
    assert "root:" not in result.output
    assert_rest_graded(result)


def test_a_socket_cannot_connect_to_the_host(then_honest):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    server.settimeout(0.2)
    port = server.getsockname()[1]
    accepted: list = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            accepted.append(conn.recv(100))
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        result = grade(attack(f'''
import socket
outcome = []
for host in ("127.0.0.1", "localhost", "10.0.2.2"):
    try:
        s = socket.create_connection((host, {port}), timeout=0.5)
        s.sendall(b"stolen")
        outcome.append("connected")
    except Exception as exc:
        outcome.append(type(exc).__name__)
print("NET", outcome)
return a + b
'''))
    finally:
        stop.set()
        thread.join(2)
        server.close()
    assert accepted == []
    assert "NET" in result.output and "connected" not in result.output
    assert_rest_graded(result)


def test_commands_leave_no_trace_on_the_host(tmp_path, then_honest):
    trace = tmp_path / "trace"
    trace.mkdir()
    # World-writable under bwrap: only the private mounts keep the worker out. At the uid level
    # the host is visible, so the folder is root's (0755) as a course folder would be.
    trace.chmod(0o777 if LEVEL == "bwrap" else 0o755)
    tmp_path.chmod(0o755)
    libc_dir = os.path.dirname(os.path.realpath(_libc_path()))
    result = grade(attack(f'''
import os
import subprocess
t = {str(trace)!r}
outcome = []
outcome.append(os.system("touch " + t + "/os_system"))
for argv in (["touch", t + "/subprocess"], ["/usr/bin/touch", t + "/subprocess_abs"],
             ["/bin/sh", "-c", "touch " + t + "/sh"]):
    try:
        outcome.append(subprocess.run(argv).returncode)
    except Exception as exc:
        outcome.append(type(exc).__name__)
try:
    libc = np.ctypeslib.load_library("libc.so.6", {libc_dir!r})
    outcome.append(libc.system((("touch " + t + "/ctypes_system")).encode()))
    outcome.append(libc.open((t + "/ctypes_open").encode(), 0o101, 0o644))
except Exception as exc:
    outcome.append(type(exc).__name__)
try:
    open(t + "/python_open", "w").write("x")
except Exception as exc:
    outcome.append(type(exc).__name__)
print("TRACE", outcome)
return a + b
'''))
    assert "TRACE" in result.output
    assert sorted(os.listdir(trace)) == []
    assert add_test(result)["status"] == "passed"
    assert_rest_graded(result)


def _libc_path() -> str:
    for line in Path("/proc/self/maps").read_text().splitlines():
        if "libc.so" in line or "libc-" in line:
            return line.split()[-1]
    return "/lib/x86_64-linux-gnu/libc.so.6"


# --------------------------------------------------------------------------- resources


def test_an_infinite_loop_times_out_and_later_tests_still_run(then_honest):
    limits = Limits(call_timeout_s=1.0, load_timeout_s=20.0)
    result = grade(attack("while True:\n    pass"), limits=limits)
    entry = add_test(result)
    assert entry["status"] == "timeout" and entry["score"] == 0.0
    assert "no result within 1 s" in entry["message"]
    assert_rest_graded(result)


def test_a_50_gib_allocation_is_an_error_and_the_grader_is_fine(then_honest):
    result = grade(attack("big = np.ones(50 * 2**30 // 8)\nreturn a + b"))
    entry = add_test(result)
    assert entry["status"] == "error" and "MemoryError" in entry["message"]
    assert_rest_graded(result)
    np.ones(10**6)  # this process allocates as before


def test_a_fork_bomb_is_contained(monkeypatch, then_honest):
    used: set[int] = set()
    acquire = SlotLease.__init__

    def spy(self, *args, **kwargs):
        acquire(self, *args, **kwargs)
        used.add(self.uid)

    monkeypatch.setattr(SlotLease, "__init__", spy)
    limits = Limits(call_timeout_s=1.0, load_timeout_s=20.0, nproc=16)
    result = grade(attack('''
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
'''), limits=limits)
    entry = add_test(result)
    assert entry["status"] in ("timeout", "error") and entry["score"] == 0.0
    assert_rest_graded(result)
    if LEVEL in ("bwrap", "uid"):
        assert used and all(uid >= UID_BASE for uid in used)
    deadline = time.monotonic() + 5
    while slot_processes(used) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert slot_processes(used) == []


@pytest.mark.parametrize("body, words", [
    ("import sys\nsys.exit(0)", "SystemExit"),
    ("import sys\nsys.exit('bye')", "SystemExit raised in add"),  # its message only in grader.log
    ("import os\nos._exit(0)", "exited with code 0"),
    ("import os\nos._exit(7)", "exited with code 7"),
    ("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)", "killed"),
])
def test_exiting_from_a_function_is_an_error(body, words, then_honest):
    result = grade(attack(body))
    entry = add_test(result)
    assert entry["status"] == "error" and words in entry["message"]
    assert_rest_graded(result)


def test_an_output_flood_is_capped(then_honest):
    result = grade(attack('''
import os
import sys
for _ in range(100000):
    print("flood " * 20)
sys.stderr.write("e" * 10_000_000)
os.write(1, b"x" * 5_000_000)
os.write(2, b"y" * 5_000_000)
return a + b
'''))
    assert add_test(result)["status"] == "passed"
    assert len(result.output) < 100_000 and "more characters" in result.output
    assert_rest_graded(result)


# --------------------------------------------------------------------------- models


class Payload:
    """Unpickling this runs a shell command that leaves a file behind."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_a_pickle_payload_inside_an_npz_never_runs(tmp_path, honest_dir, then_honest):
    marker = tmp_path / "unpickled"
    folder = tmp_path / "submission"
    folder.mkdir()
    np.savez(folder / "lin_model.npz", W=np.array([Payload(marker)], dtype=object))
    assert pickle.loads(pickle.dumps(Payload(tmp_path / "probe"))) == 0  # the payload is live
    assert (tmp_path / "probe").exists()
    result = grade(HONEST, folder, limits=FAST)
    entry = by_name(result)["lin_model"]
    assert entry["score"] == 0.0 and "Python objects" in entry["message"]
    assert [v["rule"] for v in result.violations] == ["model-invalid"]
    assert not marker.exists()
