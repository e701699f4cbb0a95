"""Benchmark: naive (loops) vs vectorized SVM and softmax losses of the A3 reference solution.

    .venv/bin/python bench/bench_losses.py [--N 500] [--D 3073] [--C 10] [--repeat 5]
                                           [--threads T] [--json-out F]

Random data of CIFAR-10's size after the bias trick (D = 3073), as in the notebook's timing
cells. The figure is the vectorized loss against its physical bound: the two matrix products
it cannot do without (X W and X^T dscores), timed alone in the same run (goal <= 1.15x). The
naive version's time and the speedup over it are given as information: at these shapes the
skinny products bound any vectorized version, so the speedup says more about the machine's
BLAS than about the code. Asserts nothing about time. The functions are taken from solutions/A3/linear_classifier.ipynb, the same
way the grader builds its reference module. `--threads` pins the BLAS threads (default: as the
environment says, like a student's notebook). Also printed: the two matrix products every
vectorized loss needs (X W and X^T dscores) timed alone, the floor of its time, and with it
the highest speedup the naive version allows on this machine (naive time / that floor).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure, best_interleaved, command_line, figure, write_figures  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SOURCE_NB = REPO / "solutions" / "A3" / "linear_classifier.ipynb"
GOAL = "<= 1.15"  # the vectorized loss / its two matrix products


def best_time(f: Callable[..., Any], *args: Any, repeat: int) -> float:
    """The fastest of `repeat` calls f(*args), in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        f(*args)
        best = min(best, time.perf_counter() - start)
    return best


def run(N: int = 500, D: int = 3073, C: int = 10, repeat: int = 5,
        threads: int | None = None) -> list[Figure]:
    """Time both versions of both losses; print and return the speedups."""
    if threads is not None:  # before numpy loads BLAS
        for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)
    import nbformat
    import numpy as np

    from autograder.core.module import load_trusted_module, module_source

    ref = load_trusted_module(module_source(nbformat.read(SOURCE_NB, as_version=4).cells), "a3_ref")
    rng = np.random.default_rng(0)
    W = 0.0001 * rng.standard_normal((D, C))
    X = rng.standard_normal((N, D))
    y = rng.integers(0, C, size=N)
    reg = 5e-6
    args = ["--N", str(N), "--D", str(D), "--C", str(C), "--repeat", str(repeat)]
    args += ["--threads", str(threads)] if threads is not None else []
    blas = f"BLAS threads {threads}" if threads is not None else "BLAS threads as the environment says"
    dscores = rng.standard_normal((N, C))

    def gemms() -> None:
        X.dot(W)  # (N, D) x (D, C): the scores
        X.T.dot(dscores)  # (D, N) x (N, C): dW

    flops = 2 * 2 * N * D * C

    print(f"A3 losses, N={N}, D={D}, C={C}, best of {repeat}; numpy {np.__version__}; {blas}")
    figures = []
    for loss in ("svm", "softmax"):
        naive = getattr(ref, f"{loss}_loss_naive")
        vectorized = getattr(ref, f"{loss}_loss_vectorized")
        (l_n, g_n), (l_v, g_v) = naive(W, X, y, reg), vectorized(W, X, y, reg)
        t_n = best_time(naive, W, X, y, reg, repeat=repeat)
        # alternated with the two matrix products it needs, timed alone: the floor of its time
        t_v, t_g = best_interleaved(lambda f=vectorized: f(W, X, y, reg), gemms, repeat)
        gflops = flops / t_g / 1e9
        print(f"{loss:>8}: naive {t_n * 1e3:9.2f} ms   vectorized {t_v * 1e3:7.3f} ms   "
              f"speedup {t_n / t_v:6.0f}x   (loss difference {abs(l_n - l_v):.1e}, "
              f"gradient difference {np.linalg.norm(g_n - g_v):.1e})")
        print(f"{'':>10}its two matrix products alone {t_g * 1e3:.3f} ms ({gflops:.1f} GFLOP/s): "
              f"the highest speedup the naive version allows here is {t_n / t_g:.0f}x")
        print(f"{'':>10}vectorized / its matrix products: {t_v / t_g:.2f}x   (goal {GOAL}x)")
        figures.append(figure(
            f"{loss} loss: vectorized vs its two matrix products", t_v / t_g, "x", GOAL,
            f"X W and X^T dscores alone: {t_g * 1e3:.2f} ms (vectorized {t_v * 1e3:.2f} ms); "
            f"naive {t_n * 1e3:.1f} ms, {t_n / t_v:.0f}x slower than vectorized (information); "
            f"N={N}, D={D}, C={C}, {blas}",
            command_line("bench_losses.py", args),
            naive_ms=round(t_n * 1e3, 3), vectorized_ms=round(t_v * 1e3, 4), N=N, D=D, C=C, repeat=repeat,
            threads=threads, gemm_ms=round(t_g * 1e3, 4), gemm_gflops=round(gflops, 1),
            speedup_cap=round(t_n / t_g, 1), speedup=round(t_n / t_v, 1)))
    return figures


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--N", type=int, default=500)
    p.add_argument("--D", type=int, default=3073)
    p.add_argument("--C", type=int, default=10)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--threads", type=int, help="pin BLAS to this many threads (default: the environment's)")
    p.add_argument("--json-out", help="write the figures as JSON to this file")
    args = p.parse_args(argv)
    write_figures(args.json_out, run(args.N, args.D, args.C, args.repeat, args.threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
