"""Fixed start-up of `autograder grade`: from process start to the first submission in a worker.

    .venv/bin/python bench/bench_startup.py [--runs 3] [--assignment A3] [--json-out F]

Grades a class of one submission with `autograder grade A --jobs 1 --force`, each run a command
of its own, through bench/startup_probe.py, which records (bench/startup_hook.py in the pool's
fork server) when the parent dispatches the first submission and when a pool worker starts
grading it. The figure is the median, over the runs, of the seconds from the launch of the
command to that second moment: the interpreter, the imports of the grader and of its fork
server (started first, so that its preloads import beside the grader's own start-up), the
sandbox preflight (its probe worker boots on a thread of the grader meanwhile), the config, the
intake and the pool (goal <= 1 s).
Beside it: the CPU seconds spent until then (parent until dispatch, fork server, which imports
its preloads beside the parent, worker before the call), less disturbed by other programs on
the machine than wall time, and the baseline
`python -c pass` in the same run.

The import profile (`python -X importtime`) is taken once for the parent (until the dispatch;
the gradebook, imported on a thread meanwhile, shows only if its import ended before)
and once for the fork server's preloads (autograder.grading.forkserver.PRELOAD, in a fresh
interpreter). Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure, build_class, command_line, figure, grading_course, write_figures  # noqa: E402

GOAL = "<= 1"
HERE = Path(__file__).resolve().parent
PROBE = HERE / "startup_probe.py"
MARK = "startup_probe: first submission dispatched"  # startup_probe.MARK


def probe(assignment: str, subs: Path, course: Path, importtime: bool = False) -> dict[str, Any]:
    """One `autograder grade` of the class through the probe: its events (and profile)."""
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        events = Path(tmp) / "events.jsonl"
        env = {**os.environ, "STARTUP_OUT": str(events)}
        cmd = [sys.executable, *(["-X", "importtime"] if importtime else []), str(PROBE), "grade",
               assignment, str(subs), "--out", str(Path(tmp) / "out"), "--jobs", "1", "--force",
               "--course", str(course)]
        env["STARTUP_T0"] = repr(time.time())
        done = subprocess.run(cmd, cwd=course, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
            raise RuntimeError(f"autograder grade exited with {done.returncode}")
        got = {e["event"]: e for e in map(json.loads, events.read_text().splitlines())}
    if "worker" not in got:
        raise RuntimeError("the pool worker did not report (startup_hook not preloaded?)")
    if importtime:
        got["profile"] = top_imports(done.stderr)
    return got


def top_imports(stderr: str, count: int = 12) -> list[dict[str, Any]]:
    """The `count` slowest imports made at top level (not on behalf of another module) in a
    `-X importtime` log, up to the probe's mark (the first submission dispatched) when there
    is one: name and cumulative milliseconds."""
    rows = []
    for line in stderr.splitlines():
        if line == MARK:
            break
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _self_us, cumulative_us, name = line.split(":", 1)[1].split("|")
        if not name.startswith(" ") or name.startswith("  "):  # indented: imported by another
            continue
        rows.append({"module": name.strip(), "ms": round(int(cumulative_us) / 1000, 1)})
    return sorted(rows, key=lambda r: -r["ms"])[:count]


def server_profile() -> tuple[list[dict[str, Any]], float]:
    """(top imports, CPU seconds) of the fork server's preloads in a fresh interpreter."""
    from autograder.grading.forkserver import PRELOAD

    code = "import autograder\n" + "\n".join(f"import {m}" for m in PRELOAD)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True,
                          text=True, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return top_imports(done.stderr), cpu


def sweep_scan_seconds() -> float:
    """Wall seconds of the sandbox's search for world-writable folders in a fresh interpreter
    (autograder.grading.sandbox.slots.world_writable_dirs: at the uid sandbox level only, once
    per process that sweeps a slot; not on the path at the bwrap level; it grows with what the
    host's /tmp holds)."""
    code = ("import time; from autograder.grading.sandbox.slots import world_writable_dirs; "
            "t = time.perf_counter(); world_writable_dirs(); print(time.perf_counter() - t)")
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout.strip())


def interpreter_seconds(runs: int) -> float:
    """Median wall seconds of `python -c pass` (the floor of any command)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(assignment: str, runs: int) -> list[Figure]:
    """Measure the start-up `runs` times (and profile it once); the figure."""
    with tempfile.TemporaryDirectory(prefix="bench-startup-class-") as tmp:
        root = Path(tmp)
        print(f"{assignment}: building one submission ...", flush=True)
        subs = build_class(assignment, root / "class", 1)
        course = grading_course(root / "course", (assignment,))
        samples = [probe(assignment, subs, course) for _ in range(runs)]
        profiled = probe(assignment, subs, course, importtime=True)
    load = [round(x, 2) for x in os.getloadavg()]
    server_top, server_cpu = server_profile()
    scan = sweep_scan_seconds()
    bare = interpreter_seconds(max(runs, 3))
    rows = [{"to_dispatch_s": round(s["submit"]["seconds"], 3),
             "to_worker_s": round(s["worker"]["seconds"], 3),
             "parent_cpu_s": round(s["submit"]["cpu"], 3),
             "server_cpu_s": round(s["worker"]["server_cpu"], 3),
             "worker_cpu_s": round(s["worker"]["worker_cpu"], 3)} for s in samples]
    value = statistics.median(r["to_worker_s"] for r in rows)
    path_cpu = statistics.median(r["parent_cpu_s"] + r["server_cpu_s"] + r["worker_cpu_s"] for r in rows)
    for r in rows:
        print(f"  dispatched after {r['to_dispatch_s']:.2f} s, in a worker after {r['to_worker_s']:.2f} s; "
              f"CPU: parent {r['parent_cpu_s']:.2f} s, fork server {r['server_cpu_s']:.2f} s, "
              f"worker {r['worker_cpu_s']:.2f} s")
    print(f"  python -c pass: {bare:.3f} s; the sandbox's world-writable folder search (uid level "
          f"only): {scan:.2f} s; load average {load}")
    print("  parent's slowest top-level imports (ms): "
          + ", ".join(f"{r['module']} {r['ms']:.0f}" for r in profiled["profile"][:8]))
    print("  fork server's slowest preload imports (ms): "
          + ", ".join(f"{r['module']} {r['ms']:.0f}" for r in server_top[:8]))
    return [figure(
        f"fixed start-up of autograder grade ({assignment}: launch to the first submission in a worker)",
        value, "s", GOAL,
        f"python -c pass: {bare * 1000:.0f} ms; CPU until then: {path_cpu:.2f} s (parent until "
        f"dispatch + fork server, which runs beside it + worker)",
        command_line("bench_startup.py", ["--runs", str(runs), "--assignment", assignment]),
        runs=rows, cpu_on_path_s=round(path_cpu, 3), interpreter_s=round(bare, 4),
        sweep_scan_s=round(scan, 3), load_average=load,
        # set, the kit's own modules are compiled from source at every start (no .pyc written)
        dont_write_bytecode=bool(os.environ.get("PYTHONDONTWRITEBYTECODE")),
        parent_profile=profiled["profile"], server_profile=server_top,
        server_profile_cpu_s=round(server_cpu, 3),
        imported_by_first_call=profiled["worker"].get("imported_by_first_call", []),
        kit_modules_imported_by_first_call=profiled["worker"].get("kit_modules_imported_by_first_call", []))]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3, help="timed runs (default 3); one more is profiled")
    p.add_argument("--assignment", default="A3", choices=["A3", "A4"])
    p.add_argument("--json-out", help="write the figures as JSON to this file")
    args = p.parse_args(argv)
    write_figures(args.json_out, run(args.assignment, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
