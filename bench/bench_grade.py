"""Benchmark of `grade`: N sample A4 submissions at --jobs 1 and --jobs 2 (issue 8).

    .venv/bin/python bench/bench_grade.py [-n 200] [--jobs 1 2]

Prints submissions per second, the speedup over --jobs 1 and peak memory (max RSS of the
grader process, RUSAGE_SELF, and of its largest child: pool workers and sandboxes,
RUSAGE_CHILDREN). Each configuration runs in a fresh process so the figures do not mix.
The class cycles through the demo's cases (autograder/demo.py), copied under new student ids
(their manifests then name another id: a student-id-mismatch warning that costs nothing).
Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_class(root: Path, n: int) -> tuple[Path, Path]:
    """(course, submissions) with n zips cycled from the demo's students."""
    from autograder.demo import build_class

    course, demo_subs = build_class(root / "demo", echo=lambda *_: None)
    zips = sorted(demo_subs.glob("*.zip"))
    subs = root / "submissions"
    subs.mkdir()
    for i in range(n):
        shutil.copyfile(zips[i % len(zips)], subs / f"A4_b{i:04d}.zip")
    return course, subs


def one(course: Path, subs: Path, jobs: int) -> dict[str, float]:
    """Grade the class once with a fresh course state; the figures of this process."""
    import io

    from autograder.grade import grade_class

    state = Path(tempfile.mkdtemp(prefix="bench-course-"))
    for part in ("solutions", "assignments"):
        shutil.copytree(course / part, state / part)
    start = time.perf_counter()
    run = grade_class("A4", subs, state / "out", jobs=jobs, course=state, stream=io.StringIO())
    seconds = time.perf_counter() - start
    shutil.rmtree(state, ignore_errors=True)
    kib = 1024 if sys.platform != "darwin" else 1024 * 1024  # ru_maxrss: KiB on Linux, B on macOS
    return {
        "jobs": jobs,
        "n": len(run.reports),
        "seconds": seconds,
        "per_second": len(run.reports) / seconds,
        "errors": run.counts.get("error", 0),
        "peak_self_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / kib / 1024,
        # pool workers are children of multiprocessing's fork server, not of this process:
        # each reports its own peak (and its sandboxes'), see autograder.grade._peak_rss_kib
        "peak_child_mib": max(run.peak_worker_kib,
                              resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) * 1024 / kib / 1024,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=200)
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--one", nargs=3, metavar=("COURSE", "SUBS", "JOBS"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(one(Path(args.one[0]), Path(args.one[1]), int(args.one[2]))))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-grade-") as tmp:
        course, subs = make_class(Path(tmp), args.n)
        rows = []
        for jobs in args.jobs:
            out = subprocess.run([sys.executable, __file__, "--one", str(course), str(subs), str(jobs)],
                                 check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
    base = rows[0]["per_second"]
    print(f"grade A4: {args.n} submissions")
    print(f"{'jobs':>4} {'seconds':>8} {'subs/s':>7} {'speedup':>7} {'errors':>6} {'peak self MiB':>13} {'peak worker MiB':>15}")
    for r in rows:
        print(f"{r['jobs']:>4} {r['seconds']:>8.1f} {r['per_second']:>7.2f} {r['per_second'] / base:>7.2f}"
              f" {r['errors']:>6} {r['peak_self_mib']:>13.0f} {r['peak_child_mib']:>15.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
