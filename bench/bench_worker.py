"""Benchmark: the CPU one sandbox worker costs, against the interpreter and numpy it must load.

    .venv/bin/python bench/bench_worker.py [-n 20] [--level auto]

Each submission gets a worker of its own: a fresh one (its own bubblewrap sandbox, interpreter
and numpy), or under bwrap in a process that grades many, a child forked by the process's
zygote (docs/sandbox.md, "Reused sandboxes"). This measures what one worker's whole life costs
the machine, in CPU seconds: started, the graded module loaded, one call answered, stopped
(for a forked one: the zygote's sweep after it included). The baseline, in the same run:
`python -I -S -B -c "import numpy, numpy.linalg, numpy.random"` ended with os._exit,
single-threaded BLAS, the floor any fresh process with numpy pays. All are counted from
/proc/stat (every process on the machine, the sandbox's included), so run it on a quiet
machine; they are alternated. Values: fresh worker / floor and forked worker / floor
(information: what a worker adds to, or saves of, the numpy it needs). Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import command_line, figure, write_figures  # noqa: E402

SOURCE = "import numpy as np\n\n\ndef add(a, b):\n    return a + b\n"
FLOOR = "import os, numpy, numpy.linalg, numpy.random; os._exit(0)"


def machine_cpu() -> float:
    """CPU seconds the whole machine spent so far (user, nice, system, irq, softirq)."""
    with open("/proc/stat") as fh:
        fields = [int(v) for v in fh.readline().split()[1:8]]
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6]
    return busy / os.sysconf("SC_CLK_TCK")


def one_worker(level: str, reuse: bool = False) -> None:
    """One worker's life: fresh, or (reuse) forked by this process's zygote."""
    import numpy as np

    from autograder.grading.sandbox import SandboxCaller, finish_stopping

    with SandboxCaller(SOURCE, level, reuse=reuse) as caller:
        caller.call_many("add", [((np.ones(3), np.ones(3)), {})], seed=0)
    finish_stopping()  # a fresh worker is stopped on a thread: its exit counts here


def floor() -> None:
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-I", "-S", "-B", "-c",
                    f"import sys; sys.path[:0] = {[p for p in sys.path if p]!r}; {FLOOR}"],
                   check=True, env=env)


def measured(fn, runs: int) -> float:
    """Machine CPU seconds per fn() over `runs` calls (after one warm-up)."""
    fn()
    start = machine_cpu()
    for _ in range(runs):
        fn()
    time.sleep(0.2)  # let the last exits be accounted
    return (machine_cpu() - start) / runs


def run(n: int, level: str) -> list:
    from autograder.grading.sandbox import choose_level
    from autograder.grading.sandbox.zygote import discard_zygote

    level = choose_level(level)
    worker = forked = floor_s = 0.0
    rounds = 2  # alternated, each half of the runs
    for _ in range(rounds):
        worker += measured(lambda: one_worker(level), max(n // rounds, 1)) / rounds
        if level == "bwrap":  # the zygote's start is in the warm-up run, as in a grading process
            forked += measured(lambda: one_worker(level, reuse=True), max(n // rounds, 1)) / rounds
            discard_zygote()
        floor_s += measured(floor, max(n // rounds, 1)) / rounds
    print(f"one {level} worker (start, load, one call, stop): {worker * 1e3:.0f} ms of machine CPU; "
          f"forked by the zygote: {forked * 1e3:.0f} ms; python with numpy alone: "
          f"{floor_s * 1e3:.0f} ms; ratio {worker / floor_s:.2f}x")
    command = command_line("bench_worker.py", ["-n", str(n), "--level", level])
    figures = [figure(
        f"CPU of one sandbox worker's life ({level}) vs python + numpy", worker / floor_s, "x",
        "information",
        f"python -I -S -B with numpy, single-threaded BLAS: {floor_s * 1e3:.0f} ms of machine CPU; "
        f"the worker: {worker * 1e3:.0f} ms (start, load, one call, stop); {n} of each, alternated",
        command, worker_ms=round(worker * 1e3, 1), floor_ms=round(floor_s * 1e3, 1), runs=n,
        level=level)]
    if level == "bwrap":
        figures.append(figure(
            "CPU of one forked worker's life (the zygote's child) vs python + numpy",
            forked / floor_s, "x", "information",
            f"python -I -S -B with numpy: {floor_s * 1e3:.0f} ms of machine CPU; a fresh "
            f"worker: {worker * 1e3:.0f} ms; a worker forked by the zygote: {forked * 1e3:.0f} ms "
            f"(fork, load, one call, stop, the zygote's sweep); {n} of each, alternated",
            command, forked_ms=round(forked * 1e3, 1), worker_ms=round(worker * 1e3, 1),
            floor_ms=round(floor_s * 1e3, 1), runs=n, level=level))
    return figures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("-n", type=int, default=20, help="workers (and floors) to measure")
    p.add_argument("--level", default="auto", help="sandbox level (default: the strongest here)")
    p.add_argument("--json-out", help="write the figures as JSON to this file")
    args = p.parse_args(argv)
    write_figures(args.json_out, run(args.n, args.level))
    return 0


if __name__ == "__main__":
    sys.exit(main())
