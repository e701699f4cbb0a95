"""What the benchmarks share: timing helpers, figures, the machine, sample classes.

A *figure* is one measured number with its goal and the baseline it was measured against in the
same run (these machines are noisy: a ratio measured side by side says more than a time). Every
bench_*.py can write its figures as JSON (`--json-out FILE`); bench/run_all.py collects them into
build/bench/results.json and docs/benchmarks.md.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# The demo classroom (demo/) lives beside the package, at the repository's top.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "build" / "bench"


# --------------------------------------------------------------------------------------------
# timing


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    """Median wall time of fn() over `runs` calls, after one warm-up call."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def best_interleaved(f: Callable[[], object], g: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall-clock times of f() and of g() over `repeat` alternating runs (after a warm-up).

    Alternating the two keeps a busy machine from favouring one of them; the minimum is the
    least noisy estimate (other processes only ever add time).
    """
    f()
    g()
    best_f = best_g = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        best_f = min(best_f, time.perf_counter() - start)
        start = time.perf_counter()
        g()
        best_g = min(best_g, time.perf_counter() - start)
    return best_f, best_g


def become_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux prctl
    PR_SET_CHILD_SUBREAPER); whether that worked.

    A grader's fork server (and the pool workers it reaps) outlives the command that started
    it by a moment and is then orphaned: without this its CPU time is lost to
    RUSAGE_CHILDREN. As a subreaper, this process inherits it and `reap_descendants` collects
    its time.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER = 36
    except (OSError, AttributeError):
        return False


def reap_descendants(timeout: float = 60.0) -> None:
    """Wait (at most `timeout` s) for every remaining child, orphans inherited as a subreaper
    included, so that their CPU time is in RUSAGE_CHILDREN."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # no children left
        if pid == 0:
            time.sleep(0.02)


def children_cpu_seconds() -> float:
    """User + system CPU seconds of this process's reaped children (and theirs) so far."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_measured(cmd: list[str], cwd: Path | None = None, env: dict[str, str] | None = None,
                 ) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """(wall seconds, CPU seconds, the completed process) of a command and all its descendants.

    CPU is user + system of the command's whole process tree (RUSAGE_CHILDREN before and
    after, the descendants it leaves behind reaped too, see `become_subreaper`): the work done,
    which unlike wall time does not grow when other programs share the cores. Call
    `become_subreaper()` once first; this process must have no other children running.
    """
    cpu0 = children_cpu_seconds()
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    reap_descendants()
    return seconds, children_cpu_seconds() - cpu0, done


# --------------------------------------------------------------------------------------------
# figures


@dataclass
class Figure:
    """One benchmark figure, as results.json stores it.

    goal: text such as ">= 20" (in `unit`); met: whether value meets it; baseline: what the
    value was measured against in the same run (text with the number); command: how to
    reproduce it; details: the raw numbers behind it.
    """

    name: str
    value: float
    unit: str
    goal: str
    met: bool
    baseline: str
    command: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def meets(value: float, goal: str) -> bool:
    """Whether value meets a goal written as '>= X' or '<= X' (X a number); a figure given as
    "information" has no goal of its own (it explains another one) and always meets it."""
    if goal == "information":
        return True
    op, number = goal.split()[:2]
    limit = float(number)
    if op == ">=":
        return value >= limit
    if op == "<=":
        return value <= limit
    raise ValueError(f"goal must start with >= or <=: {goal!r}")


def figure(name: str, value: float, unit: str, goal: str, baseline: str, command: str,
           **details: Any) -> Figure:
    """A Figure whose `met` is computed from value and goal."""
    return Figure(name, round(float(value), 4), unit, goal, meets(value, goal), baseline, command,
                  details)


def command_line(script: str, args: list[str]) -> str:
    """How to reproduce a figure from the repository root."""
    return " ".join([".venv/bin/python", f"bench/{script}", *args]).strip()


def write_figures(path: str | Path | None, figures: list[Figure]) -> None:
    """Write figures as a JSON list (the --json-out of every bench); nothing when path is None."""
    if path:
        Path(path).write_text(json.dumps([f.to_dict() for f in figures], indent=1) + "\n")


def run_bench(script: str, args: list[str], env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Run bench/<script> in a fresh process (its output shown as it goes); its figures."""
    with tempfile.TemporaryDirectory(prefix="bench-json-") as tmp:
        out = Path(tmp) / "figures.json"
        cmd = [sys.executable, str(REPO / "bench" / script), *args, "--json-out", str(out)]
        subprocess.run(cmd, cwd=REPO, env=env, check=True)
        return json.loads(out.read_text())


# --------------------------------------------------------------------------------------------
# the machine


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _blas() -> str:
    """numpy's BLAS: threadpoolctl's view when installed, else numpy's build configuration."""
    try:
        from threadpoolctl import threadpool_info

        libs = [f"{i.get('internal_api')} {i.get('version')} ({i.get('threading_layer')}, "
                f"{i.get('num_threads')} threads, {i.get('architecture')})"
                for i in threadpool_info() if i.get("user_api") == "blas"]
        if libs:
            return "; ".join(libs)
    except ImportError:
        pass
    import numpy as np

    try:
        config = np.show_config(mode="dicts")
        blas = config["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')} (from numpy's build configuration)"
    except Exception:  # noqa: BLE001 - older numpy: no dict mode
        return "unknown"


def machine_info() -> dict[str, Any]:
    """CPU, cores, memory, Python, numpy, BLAS, load average and date of this run."""
    import numpy as np

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "memory_gib": _memory_gib(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": _blas(),
        "blas_env": {k: os.environ[k] for k in sorted(os.environ)
                     if k.startswith(("OPENBLAS_", "OMP_NUM", "MKL_NUM"))},
        "load_average": [round(x, 2) for x in load],
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git_commit(),
    }


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True,
                               text=True, timeout=30).stdout.strip()
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


# --------------------------------------------------------------------------------------------
# sample classes: the demo's builders (demo/), for A4 and A3


def a4_students(count: int = 10) -> tuple[Any, ...]:
    """`count` of the demo's A4 students, those whose zip holds a notebook of its own first
    (full marks, bugs, violations, cheating), the zip-packaging cases last."""
    from demo.classroom import STUDENTS

    own = [s for s in STUDENTS if s.packaging == "submit"]
    rest = [s for s in STUDENTS if s.packaging != "submit"]
    return tuple((own + rest)[:count])


def a3_students() -> tuple[Any, ...]:
    """Ten A3 students in the demo's style: full marks, bugs, violations, a cheat."""
    from demo.classroom import Student, add_cell_after, clear_outputs, edit_code

    return (
        Student("t01", "full marks"),
        Student("t02", "full marks, second student"),
        Student("t03", "bug: no regularization gradient in svm_loss_vectorized",
                (edit_code("a3-svm-vec", "dW = X.T.dot(dscores) / num_train + 2 * reg * W",
                           "dW = X.T.dot(dscores) / num_train"),)),
        Student("t04", "bug: softmax_loss_naive without the max shift",
                (edit_code("a3-softmax-naive", "scores = scores - np.max(scores)  # the largest", "# the largest"),)),
        Student("t05", "bug: sample_batch draws the labels of other rows",
                (edit_code("a3-sample-batch", "y_batch = y[indices]",
                           "y_batch = y[np.random.choice(num_train, batch_size)]"),)),
        Student("t06", "violation: a loop in softmax_loss_vectorized",
                (edit_code("a3-softmax-vec", "dscores[rows, y] -= 1",
                           "for i in range(num_train):\n        dscores[i, y[i]] -= 1"),)),
        Student("t07", "violation: code outside a TODO block",
                (edit_code("a3-svm-naive", "    loss = 0.0\n", "    loss = 0.0\n    print('D, C =', W.shape)\n"),)),
        Student("t08", "violation: an added cell",
                (add_cell_after("a3-load-data", "print(X_train.shape, X_val.shape)"),)),
        Student("t09", "violation: notebook saved without outputs", (clear_outputs,)),
        Student("t10", "cheating: monkeypatches np.allclose, predicts class 0",
                (edit_code("a3-predict", "y_pred = np.argmax(X.dot(W), axis=1)",
                           "np.allclose = lambda *a, **k: True\n"
                           "    y_pred = np.zeros(X.shape[0], dtype=np.int64)"),)),
    )


def build_class(assignment: str, root: Path, count: int = 10) -> Path:
    """A folder of `count` zips of `assignment` (A3: a3_students, A4: the demo's class), made
    by the demo's builder from the solved release (autograder.authoring.solved), run once and
    cached (demo.solution)."""
    from demo.classroom import build_class as demo_class

    if assignment == "A4":
        students = a4_students(count)
    elif assignment == "A3":
        students = a3_students()[:count]
    else:
        raise ValueError(f"no sample class for {assignment}")
    _course, subs = demo_class(root, students=students, echo=lambda *_: None, assignment=assignment)
    return subs


def grading_course(root: Path, assignments: tuple[str, ...]) -> Path:
    """A fresh course folder for `autograder grade --course`: solutions/ and assignments/ copied."""
    for assignment in assignments:
        for part in ("solutions", "assignments"):
            shutil.copytree(REPO / part / assignment, root / part / assignment)
    return root
