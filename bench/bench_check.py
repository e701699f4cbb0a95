"""Benchmark `check_notebook` on a release-sized notebook (goal: <= 0.2 s per notebook).

Prints the median of N runs and its ratio to just reading the notebook with nbformat. Asserts
nothing about time. Uses the real A3/A4 releases with their solutions grafted in when they exist,
else the synthetic T1 release blown up to release size.

    .venv/bin/python bench/bench_check.py [-n 20] [--json-out F]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from common import Figure, command_line, figure, median_seconds, write_figures  # noqa: E402
from fixtures import make_violations as mv  # noqa: E402

from autograder.core.config import find_config, release_dir, solution_dir  # noqa: E402
from autograder.student.check import check_notebook  # noqa: E402

GOAL = "<= 0.2"


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


def run(runs: int = 20) -> list[Figure]:
    """Time check_notebook and nbformat.read on each notebook; print and return the figures."""
    figures = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, path, course in notebooks(Path(tmp)):
            cells = len(nbformat.read(str(path), as_version=4).cells)
            check = median_seconds(lambda p=path, c=course: check_notebook(p, course=c), runs)
            read = median_seconds(lambda p=path: nbformat.read(str(p), as_version=4), runs)
            size_kib = path.stat().st_size / 1024
            print(f"{label}: {cells} cells, {size_kib:.0f} KiB")
            print(f"  check_notebook  median {check * 1000:7.1f} ms over {runs} runs  (goal <= 200 ms)")
            print(f"  nbformat.read   median {read * 1000:7.1f} ms  -> check / read = {check / read:.1f}x")
            figures.append(figure(
                f"policy check of one notebook ({label})", check, "s", GOAL,
                f"nbformat.read of the same notebook: {read * 1000:.1f} ms (check / read = {check / read:.1f}x)",
                command_line("bench_check.py", ["-n", str(runs)]),
                check_ms=round(check * 1000, 2), read_ms=round(read * 1000, 2),
                check_over_read=round(check / read, 2), cells=cells, kib=round(size_kib), runs=runs))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="time `autograder check` on one notebook")
    parser.add_argument("-n", "--runs", type=int, default=20)
    parser.add_argument("--json-out", help="write the figures as JSON to this file")
    args = parser.parse_args(argv)
    write_figures(args.json_out, run(args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
