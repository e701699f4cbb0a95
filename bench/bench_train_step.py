"""One SGD step of the A4 reference two-layer net against its GEMM lower bound (issue 4).

    .venv/bin/python bench/bench_train_step.py [--repeat 100] [--threads 1]

A training step at N = 200, D = 3072, H = 100, C = 10 (a CIFAR-10 minibatch) is dominated by
its four matrix products: X W1 (N, D)x(D, H) and hidden W2 in the forward pass, X^T dpre and
hidden^T dscores and dscores W2^T in the backward pass (five, with the small ones). Everything
else (bias adds, ReLU, softmax, the update) is elementwise and O(N D + D H) at most. The ratio

    time of one step / time of its matrix products alone (same shapes, same BLAS)

says how much the reference spends outside BLAS; the goal is <= 1.3x. The step is the
reference's own code: nn_forward_backward plus the in-place update of nn_train, taken from
solutions/A4/build_notebook.py. Prints figures, asserts nothing about time.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
N, D, H, C = 200, 3072, 100, 10


def _pin_threads(threads: int) -> None:
    # Must happen before numpy loads BLAS; the grader's sandbox runs single-threaded BLAS.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(threads))


def _reference():
    spec = importlib.util.spec_from_file_location("a4_build", REPO / "solutions" / "A4" / "build_notebook.py")
    builder = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(builder)
    return builder.reference_namespace()


def _best_interleaved(f, g, repeat: int) -> tuple[float, float]:
    """Best wall-clock times of f() and of g() over `repeat` alternating runs (after a warm-up).

    Alternating the two keeps a busy machine from favouring one of them; the minimum is the
    least noisy estimate (other processes only ever add time).
    """
    f()
    g()
    best_f = best_g = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        best_f = min(best_f, time.perf_counter() - start)
        start = time.perf_counter()
        g()
        best_g = min(best_g, time.perf_counter() - start)
    return best_f, best_g


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads (default 1, as in the grader)")
    args = parser.parse_args(argv)
    _pin_threads(args.threads)
    import numpy as np

    ns = _reference()
    forward_backward = ns["nn_forward_backward"]
    rng = np.random.default_rng(0)
    X = rng.random((N, D)) - 0.5  # pixels in [0, 1], mean-subtracted
    y = rng.integers(0, C, size=N)
    params = ns["nn_init_params"](D, H, C, std=1e-2, seed=0)
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

    t_step, t_gemm = _best_interleaved(step, gemms, args.repeat)
    flops = 2 * (N * D * H + N * H * C + H * N * C + N * C * H + D * N * H)
    print(f"two-layer net, one SGD step: N={N}, D={D}, H={H}, C={C}, BLAS threads={args.threads}, "
          f"numpy {np.__version__}")
    print(f"  step (forward + backward + update): {t_step * 1e3:8.3f} ms")
    print(f"  its matrix products alone:          {t_gemm * 1e3:8.3f} ms  "
          f"({flops / t_gemm / 1e9:.1f} GFLOP/s)")
    print(f"  ratio: {t_step / t_gemm:.2f}x   (goal <= 1.3x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
