"""Benchmark: naive (loops) vs vectorized SVM and softmax losses of the A3 reference solution.

    .venv/bin/python bench/bench_losses.py [--N 500] [--D 3073] [--C 10] [--repeat 5]

Random data of CIFAR-10's size after the bias trick (D = 3073), as in the notebook's timing
cells. Prints the best time of each version and the speedup (the goal is >= 50x); asserts
nothing about time. The functions are taken from solutions/A3/linear_classifier.ipynb, the same
way the grader builds its reference module.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbformat
import numpy as np

from autograder.module import load_trusted_module, module_source

REPO = Path(__file__).resolve().parent.parent
SOURCE_NB = REPO / "solutions" / "A3" / "linear_classifier.ipynb"


def best_time(f, *args, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        f(*args)
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--N", type=int, default=500)
    p.add_argument("--D", type=int, default=3073)
    p.add_argument("--C", type=int, default=10)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)

    ref = load_trusted_module(module_source(nbformat.read(SOURCE_NB, as_version=4).cells), "a3_ref")
    rng = np.random.default_rng(0)
    W = 0.0001 * rng.standard_normal((args.D, args.C))
    X = rng.standard_normal((args.N, args.D))
    y = rng.integers(0, args.C, size=args.N)
    reg = 5e-6

    print(f"A3 losses, N={args.N}, D={args.D}, C={args.C}, best of {args.repeat}; numpy {np.__version__}")
    for loss in ("svm", "softmax"):
        naive = getattr(ref, f"{loss}_loss_naive")
        vectorized = getattr(ref, f"{loss}_loss_vectorized")
        (l_n, g_n), (l_v, g_v) = naive(W, X, y, reg), vectorized(W, X, y, reg)
        t_n = best_time(naive, W, X, y, reg, repeat=args.repeat)
        t_v = best_time(vectorized, W, X, y, reg, repeat=args.repeat)
        print(f"{loss:>8}: naive {t_n * 1e3:9.2f} ms   vectorized {t_v * 1e3:7.3f} ms   "
              f"speedup {t_n / t_v:6.0f}x   (loss difference {abs(l_n - l_v):.1e}, "
              f"gradient difference {np.linalg.norm(g_n - g_v):.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
