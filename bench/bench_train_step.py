"""One SGD step of the A4 reference two-layer net against its GEMM lower bound.

    .venv/bin/python bench/bench_train_step.py [--repeat 100] [--threads 1] [--json-out F]

A training step at N = 200, D = 3072, H = 100, C = 10 (a CIFAR-10 minibatch) is dominated by
its matrix products: X W1 (N, D)x(D, H) and hidden W2 in the forward pass, X^T dpre and
hidden^T dscores and dscores W2^T in the backward pass (five, with the small ones). Everything
else (bias adds, ReLU, softmax, the update) is elementwise and O(N D + D H) at most. The ratio

    time of one step / time of its matrix products alone (same shapes, same BLAS)

says how much the reference spends outside BLAS; the goal is <= 1.3x. The step is the
reference's own code: nn_forward_backward plus the in-place update of nn_train, taken from
solutions/A4/two_layer_net.ipynb the way the grader builds its reference module. Prints
figures, asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure, best_interleaved, command_line, figure, write_figures  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SOURCE_NB = REPO / "solutions" / "A4" / "two_layer_net.ipynb"
N, D, H, C = 200, 3072, 100, 10
GOAL = "<= 1.3"


def _pin_threads(threads: int) -> None:
    # Must happen before numpy loads BLAS; the grader's sandbox runs single-threaded BLAS.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))


def _reference() -> Any:
    """The A4 reference module, built from the solution notebook like the grader's."""
    import nbformat

    from autograder.core.module import load_trusted_module, module_source

    return load_trusted_module(module_source(nbformat.read(SOURCE_NB, as_version=4).cells), "a4_ref")


def run(repeat: int = 100, threads: int = 1) -> list[Figure]:
    """Time one step and its GEMMs, interleaved; print and return the ratio."""
    _pin_threads(threads)
    import numpy as np

    ref = _reference()
    forward_backward = ref.nn_forward_backward
    rng = np.random.default_rng(0)
    X = rng.random((N, D)) - 0.5  # pixels in [0, 1], mean-subtracted
    y = rng.integers(0, C, size=N)
    params = ref.nn_init_params(D, H, C, std=1e-2, seed=0)
    learning_rate, reg = 1e-4, 5e-6

    def step() -> None:
        # the body of one nn_train iteration, minus the minibatch sampling
        _loss, grads = forward_backward(params, X, y, reg=reg)
        for key in params:
            params[key] -= learning_rate * grads[key]

    W1, W2 = params["W1"], params["W2"]
    hidden = np.maximum(0, X @ W1)
    dscores = rng.standard_normal((N, C))
    dpre = rng.standard_normal((N, H))

    def gemms() -> None:
        X.dot(W1)  # (N, D) x (D, H)   forward, first layer
        hidden.dot(W2)  # (N, H) x (H, C)   forward, second layer
        hidden.T.dot(dscores)  # (H, N) x (N, C)   dW2
        dscores.dot(W2.T)  # (N, C) x (C, H)   dhidden
        X.T.dot(dpre)  # (D, N) x (N, H)   dW1

    t_step, t_gemm = best_interleaved(step, gemms, repeat)
    flops = 2 * (N * D * H + N * H * C + H * N * C + N * C * H + D * N * H)
    print(f"two-layer net, one SGD step: N={N}, D={D}, H={H}, C={C}, BLAS threads={threads}, "
          f"numpy {np.__version__}")
    print(f"  step (forward + backward + update): {t_step * 1e3:8.3f} ms")
    print(f"  its matrix products alone:          {t_gemm * 1e3:8.3f} ms  "
          f"({flops / t_gemm / 1e9:.1f} GFLOP/s)")
    print(f"  ratio: {t_step / t_gemm:.2f}x   (goal {GOAL}x)")
    return [figure(
        "two-layer training step vs its GEMM lower bound", t_step / t_gemm, "x", GOAL,
        f"its 5 matrix products alone: {t_gemm * 1e3:.3f} ms (step {t_step * 1e3:.3f} ms), "
        f"N={N}, D={D}, H={H}, C={C}, {threads} BLAS thread(s)",
        command_line("bench_train_step.py", ["--repeat", str(repeat), "--threads", str(threads)]),
        step_ms=round(t_step * 1e3, 4), gemm_ms=round(t_gemm * 1e3, 4),
        gflops=round(flops / t_gemm / 1e9, 2), repeat=repeat, threads=threads)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1, as in the grader)")
    parser.add_argument("--json-out", help="write the figures as JSON to this file")
    args = parser.parse_args(argv)
    write_figures(args.json_out, run(args.repeat, args.threads))
    return 0


if __name__ == "__main__":
    sys.exit(main())
