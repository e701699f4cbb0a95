"""Grading throughput: `autograder grade` against `nbgrader autograde`, same submissions.

    .venv/bin/python bench/bench_vs_nbgrader.py [-n 100] [--jobs J] [--assignments A3 A4] [--keep DIR]

For each assignment, a class of n zips is built with the demo's builders (demo/students.py:
the solved release (autograder.authoring.solved) run once, then per-student edits of TODO
bodies and cells, zipped with the submission API; A3's ten students are in bench/common.py).
Past ten students the class cycles through the first ten, copied under new student ids (their
manifests then name another id: a student-id-mismatch warning, no points). Then, on the same
students:

* `autograder grade <A> <zips> --force` in a fresh course copy (a command of its own:
  interpreter start, pool and sandbox workers, gradebook, reports, all included), with its
  default of one job per core (`--jobs J` sets another: `--jobs 1` is one core, as nbgrader).
  It runs before and after nbgrader; the slower of the two runs is the one compared (the ratio
  can only be understated by that choice).
* `nbgrader autograde <A> --force` in an nbgrader course whose source notebook carries the same
  hidden tests in nbgrader's form (bench/nbgrader_form/course.py: a ### BEGIN HIDDEN TESTS block
  in each grade cell runs that group's @hidden_test functions in the student's kernel), with
  each student's notebook and model files taken unchanged from their zip. nbgrader runs every
  notebook from the top, training and hyperparameter search included: that is the point.

Both run with single-threaded BLAS (the grader's workers always do), with nbgrader's per-cell
timeout raised so that nothing is cut short. Each tool runs as an instructor runs it: nbgrader
autograde grades one notebook at a time (it has no parallel mode), the kit one submission per
core. The first figure is nbgrader's time / the grader's time (goal >= 50x). The second is the
work: nbgrader's CPU seconds / the grader's (user + system of each command's whole process
tree: the grader's fork server, pool workers and sandboxes, nbgrader's kernels), which does not
depend on the number of cores or on the neighbours on a shared machine. Also printed: both graders' automatic
points per student (manual questions and the kit's deductions left out), as a check that the
tests are equivalent. Asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    Figure,
    become_subreaper,
    build_class,
    command_line,
    figure,
    grading_course,
    run_measured,
    write_figures,
)
from nbgrader_form.course import (  # noqa: E402
    autograde_command,
    build_course,
    nbgrader_env,
    nbgrader_scores,
)

GOAL = ">= 50"
BASE_CLASS = 10  # distinct sample students; a larger class cycles through them


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of its process tree) of a command (its output kept; shown
    only when it fails)."""
    seconds, cpu, done = run_measured(cmd, cwd=cwd, env=nbgrader_env())
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise RuntimeError(f"{' '.join(cmd[:4])} ... exited with {done.returncode}")
    return seconds, cpu


def time_autograder(assignment: str, subs: Path, root: Path, jobs: int | None = None,
                    ) -> tuple[float, float, dict[str, dict[str, float]]]:
    """(wall seconds and CPU seconds of `autograder grade` with `jobs` (None: its default, one
    per core), student -> {grade_id: points}) in a fresh course."""
    course = grading_course(Path(tempfile.mkdtemp(prefix=f"ag-{assignment}-", dir=root)), (assignment,))
    out = course / "out"
    job_args = [] if jobs is None else ["--jobs", str(jobs)]
    seconds, cpu = timed([sys.executable, "-m", "autograder", "grade", assignment, str(subs), "--out",
                          str(out), *job_args, "--force", "--course", str(course)], cwd=course)
    scores = {}
    for report in sorted(out.glob("*/report.json")):
        data = json.loads(report.read_text())
        scores[data["student_id"]] = {g["grade_id"]: float(g["score"] or 0.0)
                                      for g in data.get("groups", []) if not g.get("manual")}
    return seconds, cpu, scores


def class_of(assignment: str, root: Path, n: int) -> Path:
    """n zips: the first min(n, BASE_CLASS) sample students, then copies of them in turn under
    new ids (`t01`, then `t01r1`, ...)."""
    subs = build_class(assignment, root / f"class-{assignment}", min(n, BASE_CLASS))
    base = sorted(subs.glob("*.zip"))
    for i in range(len(base), n):
        src = base[i % len(base)]
        shutil.copyfile(src, subs / f"{src.stem}r{i // len(base)}.zip")
    return subs


def import_seconds(module: str, runs: int = 3) -> float:
    """Median seconds `import module` adds to a fresh interpreter (part of every grader's start)."""
    def once(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=nbgrader_env())
        return time.perf_counter() - start

    bare = statistics.median(once("pass") for _ in range(runs))
    return max(statistics.median(once(f"import {module}") for _ in range(runs)) - bare, 0.0)


def compare_scores(ours: dict[str, dict[str, float]], theirs: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Per student: both graders' automatic points and the groups where they differ."""
    rows = []
    for sid in sorted(set(ours) | set(theirs)):
        a, b = ours.get(sid, {}), theirs.get(sid, {})
        groups = sorted(set(a) & set(b))
        rows.append({
            "student": sid,
            "autograder": round(sum(a.get(g, 0.0) for g in groups), 3),
            "nbgrader": round(sum(b.get(g, 0.0) for g in groups), 3),
            "differ": {g: [round(a[g], 3), round(b[g], 3)] for g in groups if abs(a[g] - b[g]) > 1e-3},
        })
    return rows


def bench_assignment(assignment: str, n: int, root: Path, jobs: int | None = None) -> list[Figure]:
    """Build the class and both courses, time both graders, return the throughput figure.

    Also times both on the class's first student alone: (time for n - time for 1) / (n - 1)
    is each grader's cost per further submission, the rest its fixed cost (start-up, imports,
    gradebook); both go into the figure's details.
    """
    print(f"{assignment}: building {n} submissions and the nbgrader-form course ...", flush=True)
    subs = class_of(assignment, root, n)
    zips = {p.stem.split("_", 1)[1]: p for p in sorted(subs.glob("*.zip"))}
    course = build_course(root / f"nbgrader-{assignment}", assignment, zips)
    first_sid = next(iter(zips))
    one = root / f"one-{assignment}"
    one.mkdir()
    shutil.copyfile(zips[first_sid], one / zips[first_sid].name)

    n = len(zips)
    kit = f"autograder grade --jobs {jobs or os.cpu_count()}"
    first, first_cpu, ours = time_autograder(assignment, subs, root, jobs)
    print(f"  {kit}: {first:7.1f} s, CPU {first_cpu:7.1f} s", flush=True)
    nbgrader_s, nbgrader_cpu = timed(autograde_command(assignment), cwd=course)
    print(f"  nbgrader autograde:        {nbgrader_s:7.1f} s, CPU {nbgrader_cpu:7.1f} s", flush=True)
    second, second_cpu, _ = time_autograder(assignment, subs, root, jobs)
    print(f"  {kit}: {second:7.1f} s, CPU {second_cpu:7.1f} s (again, after nbgrader)",
          flush=True)
    # the slower run is compared, with its own CPU time
    ours_s, ours_cpu = max((first, first_cpu), (second, second_cpu))
    ratio = nbgrader_s / ours_s
    # the split into fixed and per-submission costs is noisy on a shared machine: the faster of
    # two one-submission runs (this can only make the kit's cost per submission look larger)
    ours_one, ours_one_cpu = min(time_autograder(assignment, one, root, jobs)[:2] for _ in range(2))
    nbgrader_one, nbgrader_one_cpu = timed(autograde_command(assignment) + ["--student", first_sid], cwd=course)
    print(f"  one submission ({first_sid}): autograder {ours_one:.1f} s (CPU {ours_one_cpu:.1f} s), "
          f"nbgrader {nbgrader_one:.1f} s (CPU {nbgrader_one_cpu:.1f} s)")
    cost = {"autograder": _split(ours_s, ours_one, n), "nbgrader": _split(nbgrader_s, nbgrader_one, n)}
    cpu_cost = {"autograder": _split(ours_cpu, ours_one_cpu, n),
                "nbgrader": _split(nbgrader_cpu, nbgrader_one_cpu, n)}
    imports = {m: round(import_seconds(m), 2) for m in ("nbformat", "rfc3987_syntax", "nbgrader.api")}
    print(f"  import cost in a fresh interpreter: {imports}")
    rows = compare_scores(ours, nbgrader_scores(course, assignment))
    same = sum(not r["differ"] for r in rows)
    print(f"  {assignment}: nbgrader / autograder = {ratio:.1f}x  (goal {GOAL}x); "
          f"{n} submissions, {n / ours_s:.2f}/s against {n / nbgrader_s:.3f}/s")
    for who, (fixed, per) in cost.items():
        cpu_fixed, cpu_per = cpu_cost[who]
        print(f"  {who:>10}: about {fixed:.1f} s fixed + {per:.2f} s per submission (wall); "
              f"CPU {cpu_fixed:.1f} s fixed + {cpu_per:.2f} s per submission")
    print(f"  automatic points per student (autograder | nbgrader), same in {same} of {len(rows)}:")
    for r in rows:
        diff = "  differ: " + ", ".join(f"{g} {a:g}|{b:g}" for g, (a, b) in r["differ"].items()) if r["differ"] else ""
        print(f"    {r['student']}: {r['autograder']:6.2f} | {r['nbgrader']:6.2f}{diff}")
    args = ["-n", str(n), "--assignments", assignment] + ([] if jobs is None else ["--jobs", str(jobs)])
    work = figure(
        f"grading work {assignment} (CPU seconds: nbgrader autograde / autograder grade)",
        nbgrader_cpu / ours_cpu, "x", "information",
        f"CPU per submission (whole run / n, start-up included): nbgrader {nbgrader_cpu / n:.2f} s, "
        f"autograder {ours_cpu / n:.2f} s; {n} submissions",
        command_line("bench_vs_nbgrader.py", args))
    return [figure(
        f"grading throughput {assignment} ({kit} vs nbgrader autograde)", ratio, "x", GOAL,
        f"nbgrader autograde: {nbgrader_s:.1f} s for {n} submissions ({kit}: {ours_s:.1f} s); "
        f"CPU per submission (whole run / n): nbgrader {nbgrader_cpu / n:.2f} s, autograder "
        f"{ours_cpu / n:.2f} s",
        command_line("bench_vs_nbgrader.py", args),
        submissions=n, autograder_seconds=[round(first, 2), round(second, 2)],
        autograder_seconds_compared=round(ours_s, 2), nbgrader_seconds=round(nbgrader_s, 2),
        cpu_seconds={"autograder": round(ours_cpu, 2), "nbgrader": round(nbgrader_cpu, 2)},
        cpu_per_submission={"autograder": round(ours_cpu / n, 3), "nbgrader": round(nbgrader_cpu / n, 3)},
        one_submission_cpu_seconds={"autograder": round(ours_one_cpu, 2), "nbgrader": round(nbgrader_one_cpu, 2)},
        fixed_cpu_seconds={k: round(v[0], 2) for k, v in cpu_cost.items()},
        per_submission_cpu_seconds={k: round(v[1], 3) for k, v in cpu_cost.items()},
        autograder_per_second=round(n / ours_s, 3), nbgrader_per_second=round(n / nbgrader_s, 4),
        one_submission_seconds={"autograder": round(ours_one, 2), "nbgrader": round(nbgrader_one, 2)},
        fixed_seconds={k: round(v[0], 2) for k, v in cost.items()},
        per_submission_seconds={k: round(v[1], 3) for k, v in cost.items()},
        import_seconds=imports, same_points=same, scores=rows, jobs=jobs or os.cpu_count()), work]


def _split(total: float, one: float, n: int) -> tuple[float, float]:
    """(fixed seconds, seconds per further submission) from the times for n and for 1."""
    if n < 2:
        return one, 0.0
    per = max((total - one) / (n - 1), 0.0)
    return max(total - n * per, 0.0), per


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=100, help="submissions per assignment (default 100)")
    p.add_argument("--jobs", type=int, help="the kit's --jobs (default: its own, one per core)")
    p.add_argument("--assignments", nargs="+", default=["A3", "A4"], choices=["A3", "A4"])
    p.add_argument("--keep", help="build everything in this folder and keep it (default: a temp folder)")
    p.add_argument("--json-out", help="write the figures as JSON to this file")
    args = p.parse_args(argv)
    figures = []
    become_subreaper()  # the graders' fork servers and kernels: their CPU time counts
    with tempfile.TemporaryDirectory(prefix="bench-vs-nbgrader-") as tmp:
        root = Path(args.keep).resolve() if args.keep else Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        for assignment in args.assignments:
            figures += bench_assignment(assignment, args.n, root, args.jobs)
    write_figures(args.json_out, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
