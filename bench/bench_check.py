"""Benchmark `check_notebook` on a release-sized notebook (issue 5 goal: <= 0.2 s per notebook).

Prints the median of N runs and its ratio to just reading the notebook with nbformat. Asserts
nothing about time. Uses the real A3/A4 releases with their solutions grafted in when they exist,
else the synthetic T1 release blown up to release size.

    .venv/bin/python bench/bench_check.py [-n 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from fixtures import make_violations as mv  # noqa: E402

from autograder.check import check_notebook  # noqa: E402
from autograder.config import find_config, release_dir, solution_dir  # noqa: E402


def median_seconds(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm caches (the release notebook is cached per file, as in a grading batch)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def notebooks(tmp: Path) -> list[tuple[str, Path, Path | None]]:
    """(label, student notebook path, course) for each benchmarked notebook."""
    out: list[tuple[str, Path, Path | None]] = []
    for assignment in ("A3", "A4"):
        try:
            name = find_config(assignment).notebooks[0]
        except Exception:
            continue
        if (release_dir(assignment) / name).is_file() and (solution_dir(assignment) / name).is_file():
            nb = mv.solved_real(release_dir(assignment) / name, assignment, name)
            out.append((f"{assignment} {name}", mv.write(nb, tmp / name), None))
    if not out:  # the real releases are not there: a synthetic one of release size
        course = mv.make_course(tmp / "course")
        nb = mv.solved_synthetic()
        nb.cells = nb.cells[:-1] * 6 + nb.cells[-1:]
        out.append(("synthetic T1 x6", mv.write(nb, tmp / mv.NOTEBOOK), course))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="time `autograder check` on one notebook")
    parser.add_argument("-n", "--runs", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        for label, path, course in notebooks(Path(tmp)):
            cells = len(nbformat.read(str(path), as_version=4).cells)
            check = median_seconds(lambda p=path, c=course: check_notebook(p, course=c), args.runs)
            read = median_seconds(lambda p=path: nbformat.read(str(p), as_version=4), args.runs)
            print(f"{label}: {cells} cells, {path.stat().st_size / 1024:.0f} KiB")
            print(f"  check_notebook  median {check * 1000:7.1f} ms over {args.runs} runs  (goal <= 200 ms)")
            print(f"  nbformat.read   median {read * 1000:7.1f} ms  -> check / read = {check / read:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
