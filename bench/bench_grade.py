"""Benchmark of `grade`: N sample A4 submissions at --jobs 1 and --jobs 2.

    .venv/bin/python bench/bench_grade.py [-n 200] [--jobs 1 2] [--baseline-n 10] [--json-out F]

Prints submissions per second, CPU seconds per submission (user + system of the whole
process tree of the configuration: grader, fork server, pool workers, sandboxes; the work done,
which does not grow when neighbours share the cores, so --jobs scaling can be read on a busy
machine), the speedup over --jobs 1 and peak memory (max RSS of the
grader process, RUSAGE_SELF, and of its largest child: pool workers and sandboxes,
RUSAGE_CHILDREN). Each configuration runs in a fresh process so the figures do not mix.
The class cycles through the demo's A4 cases (demo/students.py), copied under new student ids
(their manifests then name another id: a student-id-mismatch warning that costs nothing).
A class of --baseline-n submissions graded the same way at the first --jobs gives the peak
memory the big class is compared with (the grader's memory should not grow with the class).
Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure, become_subreaper, command_line, figure, run_measured, write_figures  # noqa: E402

SPEEDUP_GOAL = ">= 1.8"
MEMORY_GOAL = "<= 1.25"  # the kit's own: peak over N / peak over --baseline-n, i.e. no growth


def make_class(root: Path, n: int) -> tuple[Path, Path]:
    """(course, submissions) with n zips cycled from the demo's students."""
    from demo.classroom import build_class

    course, demo_subs = build_class(root / "demo", echo=lambda *_: None)
    zips = sorted(demo_subs.glob("*.zip"))
    subs = root / "submissions"
    subs.mkdir()
    for i in range(n):
        shutil.copyfile(zips[i % len(zips)], subs / f"A4_b{i:04d}.zip")
    return course, subs


def busy_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine so far, from /proc/stat ((0, 0) elsewhere)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    total = sum(fields[:8])  # user nice system idle iowait irq softirq steal
    return total - idle, total


def one(course: Path, subs: Path, jobs: int) -> dict[str, float]:
    """Grade the class once with a fresh course state; the figures of this process."""
    import io

    from autograder.grading.grade import grade_class

    state = Path(tempfile.mkdtemp(prefix="bench-course-"))
    for part in ("solutions", "assignments"):
        shutil.copytree(course / part, state / part)
    busy0, total0 = busy_ticks()
    start = time.perf_counter()
    run = grade_class("A4", subs, state / "out", jobs=jobs, course=state, stream=io.StringIO())
    seconds = time.perf_counter() - start
    busy1, total1 = busy_ticks()
    shutil.rmtree(state, ignore_errors=True)
    kib = 1024 if sys.platform != "darwin" else 1024 * 1024  # ru_maxrss: KiB on Linux, B on macOS
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "jobs": jobs,
        "n": len(run.reports),
        "seconds": seconds,
        "per_second": len(run.reports) / seconds,
        "errors": run.counts.get("error", 0),
        # the serial part: this (parent) process's CPU time, start-up included; and the time the
        # pool workers spent per submission (report.json grader.seconds: intake to hidden tests)
        "parent_cpu_s": usage.ru_utime + usage.ru_stime,
        # cores busy on average while grading (the whole machine: this run and anything else)
        "busy_cores": (busy1 - busy0) / (total1 - total0) * (os.cpu_count() or 1) if total1 > total0 else None,
        "worker_s": sum(float(r.get("grader", {}).get("seconds", 0.0)) for r in run.reports.values()),
        "peak_self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / kib / 1024,
        # pool workers are children of multiprocessing's fork server, not of this process:
        # each reports its own peak (and its sandboxes'), see autograder.grading.grade._peak_rss_kib
        "peak_child_mib": max(run.peak_worker_kib,
                              resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) * 1024 / kib / 1024,
    }


def _fresh(course: Path, subs: Path, jobs: int) -> dict[str, Any]:
    """`one` in a fresh interpreter (so peak memory is this configuration's only), with the CPU
    seconds of its whole process tree (`cpu_s`, start-up and class copy included, and per
    submission `cpu_per_submission`)."""
    _seconds, cpu, done = run_measured([sys.executable, __file__, "--one", str(course), str(subs), str(jobs)])
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-4000:])
        raise subprocess.CalledProcessError(done.returncode, done.args)
    row = json.loads(done.stdout.strip().splitlines()[-1])
    row["cpu_s"] = cpu
    row["cpu_per_submission"] = cpu / row["n"] if row["n"] else None
    return row


def run(n: int = 200, jobs: list[int] | None = None, baseline_n: int = 10) -> list[Figure]:
    """Grade the class at each --jobs (and the small class); print and return the figures."""
    jobs = jobs or [1, 2]
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        course, subs = make_class(Path(tmp), n)
        rows = [_fresh(course, subs, j) for j in jobs]
        small = None
        if baseline_n:
            small_subs = Path(tmp) / "small"
            small_subs.mkdir()
            for z in sorted(subs.glob("*.zip"))[:baseline_n]:
                shutil.copyfile(z, small_subs / z.name)
            small = _fresh(course, small_subs, jobs[0])
    base = rows[0]["per_second"]
    print(f"grade A4: {n} submissions")
    print(f"{'jobs':>4} {'n':>4} {'seconds':>8} {'subs/s':>7} {'CPU s/sub':>9} {'speedup':>7} {'errors':>6} "
          f"{'peak self MiB':>13} {'peak worker MiB':>15}")
    for r in rows + ([small] if small else []):
        print(f"{r['jobs']:>4} {r['n']:>4} {r['seconds']:>8.1f} {r['per_second']:>7.2f} "
              f"{r['cpu_per_submission'] or 0:>9.2f} "
              f"{r['per_second'] / base:>7.2f} {r['errors']:>6} {r['peak_self_mib']:>13.0f} {r['peak_child_mib']:>15.0f}")
    args = ["-n", str(n), "--jobs", *map(str, jobs), "--baseline-n", str(baseline_n)]
    figures = []
    if len(rows) > 1:
        last = rows[-1]
        figures.append(figure(
            f"grading speedup --jobs {last['jobs']} vs --jobs {rows[0]['jobs']} ({n} A4 submissions)",
            last["per_second"] / base, "x", SPEEDUP_GOAL,
            f"--jobs {rows[0]['jobs']}: {base:.2f} submissions/s ({rows[0]['seconds']:.1f} s, CPU "
            f"{rows[0]['cpu_per_submission'] or 0:.2f} s per submission); --jobs {last['jobs']}: "
            f"{last['per_second']:.2f}/s ({last['seconds']:.1f} s, CPU {last['cpu_per_submission'] or 0:.2f} s "
            "per submission)",
            command_line("bench_grade.py", args), rows=rows))
    if small:
        peak = max(r["peak_self_mib"] for r in rows)
        worker = max(r["peak_child_mib"] for r in rows)
        figures.append(figure(
            f"grader peak memory over {n} submissions, against {baseline_n}",
            peak / small["peak_self_mib"], "x", MEMORY_GOAL,
            f"peak over {baseline_n} submissions: {small['peak_self_mib']:.0f} MiB; over {n}: "
            f"{peak:.0f} MiB (largest worker with its sandbox: {worker:.0f} MiB)",
            command_line("bench_grade.py", args), peak_self_mib=round(peak, 1),
            peak_worker_mib=round(worker, 1), baseline_peak_self_mib=round(small["peak_self_mib"], 1),
            small_class=small))
    return figures


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=200)
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--baseline-n", type=int, default=10,
                   help="a small class for the memory baseline (0: skip it)")
    p.add_argument("--json-out", help="write the figures as JSON to this file")
    p.add_argument("--one", nargs=3, metavar=("COURSE", "SUBS", "JOBS"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(Path(args.one[0]), Path(args.one[1]), int(args.one[2]))))
        return 0
    become_subreaper()  # each configuration's fork server and workers: their CPU time counts
    write_figures(args.json_out, run(args.n, args.jobs, args.baseline_n))
    return 0


if __name__ == "__main__":
    sys.exit(main())
