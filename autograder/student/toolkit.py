"""Helpers students import in the notebooks: gradient checks, seeding, timing and plots.

    from autograder.student.toolkit import rel_error, grad_check_sparse, plot_training_stats

Only numpy and matplotlib are used, so this module runs wherever the notebooks run (Colab,
old laptops). Every plot builds its figure through pyplot (so notebooks show it inline) and
returns the matplotlib Figure; end the line with `;` in a notebook to avoid a second copy.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

# --------------------------------------------------------------------------- numerics


def rel_error(x: Any, y: Any, eps: float = 1e-8) -> float:
    """Maximum relative error between two arrays (or numbers) of the same shape.

    rel_error = max_i |x_i - y_i| / max(eps, |x_i| + |y_i|)

    `eps` keeps it finite when both values are 0 (the error is then 0). Rule of thumb for
    float64 gradients: below 1e-7 is right, around 1e-4 is suspicious, above 1e-2 is wrong.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(eps, np.abs(x) + np.abs(y))))


def _require_float(x: np.ndarray) -> None:
    # x[ix] += h on an integer array silently rounds h away and every derivative becomes 0.
    if not (isinstance(x, np.ndarray) and np.issubdtype(x.dtype, np.floating)):
        raise TypeError("x must be a float numpy array (e.g. x.astype(np.float64))")


def eval_numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5, verbose: bool = False
) -> np.ndarray:
    """Numerical gradient of a scalar function at x, by centered differences.

    df/dx_i ~= (f(x + h e_i) - f(x - h e_i)) / (2h), for every entry i of x.

    Inputs:
    - f: function taking x (the same array, changed in place) and returning a scalar.
    - x: float array of any shape; restored to its original values on return.
    - h: step size.
    - verbose: print each index and its derivative.

    Returns grad: float64 array of the same shape as x. Costs 2 * x.size calls of f.
    """
    _require_float(x)
    grad = np.zeros(x.shape, dtype=np.float64)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        x[ix] = old + h
        fxph = float(f(x))
        x[ix] = old - h
        fxmh = float(f(x))
        x[ix] = old  # restore before anything can fail or be read
        grad[ix] = (fxph - fxmh) / (2 * h)
        if verbose:
            print(ix, grad[ix])
    return grad


def grad_check_sparse(
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    analytic_grad: np.ndarray,
    num_checks: int = 10,
    h: float = 1e-5,
    seed: int | None = None,
    verbose: bool = True,
) -> list[float]:
    """Compare an analytic gradient with centered differences at a few random entries of x.

    Inputs:
    - f: function taking x (changed in place, then restored) and returning a scalar.
    - x: float array of shape S, the point where the gradient is checked.
    - analytic_grad: array of shape S, your gradient of f at x.
    - num_checks: how many random entries to check (entries may repeat).
    - h: step size.  seed: for the random entries (None: different each call; the global
      numpy random state is not touched either way).
    - verbose: print "numerical: ... analytic: ... relative error: ..." per entry.

    Returns the relative errors, one per check (0 when both values are 0, never a NaN).
    """
    _require_float(x)
    analytic_grad = np.asarray(analytic_grad)
    if analytic_grad.shape != x.shape:
        raise ValueError(f"analytic_grad has shape {analytic_grad.shape}, x has shape {x.shape}")
    rng = np.random.default_rng(seed)
    errors = []
    for _ in range(num_checks):
        ix = tuple(int(rng.integers(n)) for n in x.shape)
        old = x[ix]
        x[ix] = old + h
        fxph = float(f(x))
        x[ix] = old - h
        fxmh = float(f(x))
        x[ix] = old
        numerical = (fxph - fxmh) / (2 * h)
        analytic = float(analytic_grad[ix])
        errors.append(rel_error(numerical, analytic))
        if verbose:
            print(
                f"numerical: {numerical:f} analytic: {analytic:f}, relative error: {errors[-1]:e}"
            )
    return errors


def reset_seed(seed: int = 0) -> None:
    """Seed numpy's global generator and Python's `random`, for reproducible cells."""
    np.random.seed(seed)
    random.seed(seed)


def time_function(f: Callable[..., Any], *args: Any, repeat: int = 3, **kwargs: Any) -> float:
    """Best wall-clock time in seconds of `f(*args, **kwargs)` over `repeat` runs.

    The minimum is the least noisy estimate (other processes only ever add time).
    """
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        f(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best


# --------------------------------------------------------------------------- plots


def _plt() -> Any:
    # Imported on first use: the numeric helpers above stay importable (and fast) without it.
    import matplotlib.pyplot as plt

    return plt


def plot_loss_history(loss_history: Sequence[float], title: str = "Training loss") -> Any:
    """Line plot of the loss per iteration. loss_history: length T. Returns the Figure."""
    fig, ax = _plt().subplots(figsize=(6, 4))
    ax.plot(np.arange(len(loss_history)), np.asarray(loss_history, dtype=np.float64))
    ax.set(title=title, xlabel="iteration", ylabel="loss")
    fig.tight_layout()
    return fig


def plot_accuracy_history(
    train_acc: Sequence[float], val_acc: Sequence[float], title: str = "Classification accuracy"
) -> Any:
    """Train and validation accuracy (fractions 0..1) per epoch. Returns the Figure."""
    fig, ax = _plt().subplots(figsize=(6, 4))
    _accuracy_axes(ax, train_acc, val_acc, title)
    fig.tight_layout()
    return fig


def _accuracy_axes(
    ax: Any, train_acc: Sequence[float], val_acc: Sequence[float], title: str
) -> None:
    ax.plot(np.arange(len(train_acc)), train_acc, "o-", label="train")
    ax.plot(np.arange(len(val_acc)), val_acc, "o-", label="val")
    ax.set(title=title, xlabel="epoch", ylabel="accuracy")
    ax.legend()


def plot_training_stats(stats: Mapping[str, Sequence[float]]) -> Any:
    """Loss history and train/val accuracy side by side.

    stats: the dict `nn_train` returns, with `loss_history` (per iteration) and
    `train_acc_history`, `val_acc_history` (per epoch, fractions 0..1). Returns the Figure.
    """
    fig, (ax_loss, ax_acc) = _plt().subplots(1, 2, figsize=(12, 4))
    ax_loss.plot(stats["loss_history"])
    ax_loss.set(title="Loss history", xlabel="iteration", ylabel="loss")
    _accuracy_axes(
        ax_acc, stats["train_acc_history"], stats["val_acc_history"], "Classification accuracy"
    )
    fig.tight_layout()
    return fig


def _to_uint8_image(values: np.ndarray) -> np.ndarray:
    """Rescale any array linearly to 0..255 (a constant array becomes 0) as uint8."""
    lo, hi = float(values.min()), float(values.max())
    scaled = (values - lo) / (hi - lo) if hi > lo else np.zeros_like(values, dtype=np.float64)
    return (255.0 * scaled).astype(np.uint8)


def _show_image(ax: Any, image: np.ndarray) -> None:
    if image.ndim == 2:  # gray (digits): fixed 0..255 range, not matplotlib's auto-contrast
        ax.imshow(image, cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(image)
    ax.axis("off")


def _as_images(X: np.ndarray, image_shape: Sequence[int]) -> np.ndarray:
    """Rows of X (N, D), (N, D + 1) with the bias column, or (N, *image_shape) as images."""
    X = np.asarray(X)
    D = int(np.prod(image_shape))
    flat = X.reshape(len(X), -1)
    if flat.shape[1] not in (D, D + 1):
        raise ValueError(
            f"rows of X have {flat.shape[1]} values; image_shape {tuple(image_shape)} needs {D}"
        )
    return flat[:, :D].reshape((len(X), *image_shape))


def show_weight_templates(
    W: np.ndarray, image_shape: Sequence[int], class_names: Sequence[str]
) -> Any:
    """Show each class's weights as an image (the "template" a linear classifier learns).

    Inputs:
    - W: weights of shape (D, C), or (D + 1, C) with the bias trick (the last row, the bias,
      is dropped). D = prod(image_shape).
    - image_shape: (8, 8) for digits (gray) or (32, 32, 3) for CIFAR-10 (color).
    - class_names: C names, used as titles.
    Each template is rescaled to 0..255 on its own. Returns the Figure.
    """
    W = np.asarray(W)
    if W.ndim != 2 or W.shape[1] != len(class_names):
        raise ValueError(
            f"W must have shape (D, C) with C = {len(class_names)} classes; got {W.shape}"
        )
    templates = _as_images(W.T, image_shape)
    cols = min(len(class_names), 5)
    rows = -(-len(class_names) // cols)
    # constrained layout is computed at draw time, so a `plt.suptitle(...)` the notebook adds
    # afterwards gets room above the first row's titles (tight_layout ran too early for it)
    fig, axes = _plt().subplots(rows, cols, figsize=(2 * cols, 2.2 * rows), squeeze=False,
                                layout="constrained")
    for ax in axes.flat:
        ax.axis("off")
    for ax, template, name in zip(axes.flat, templates, class_names, strict=False):
        _show_image(ax, _to_uint8_image(template))
        ax.set_title(str(name))
    return fig


def plot_search_heatmap(
    results: Mapping[tuple[float, float], float], title: str = "Validation accuracy"
) -> Any:
    """Heatmap of a hyperparameter search.

    results: dict (learning_rate, reg) -> validation accuracy (0..1). Rows are learning rates,
    columns regularization strengths, both sorted and labelled in scientific notation (they
    are usually searched on a log scale); untried pairs are blank. Returns the Figure.
    """
    if not results:
        raise ValueError("results is empty: run the search first")
    lrs = sorted({lr for lr, _ in results})
    regs = sorted({reg for _, reg in results})
    grid = np.full((len(lrs), len(regs)), np.nan)
    for (lr, reg), acc in results.items():
        grid[lrs.index(lr), regs.index(reg)] = acc
    fig, ax = _plt().subplots(figsize=(1.2 * len(regs) + 3, 0.8 * len(lrs) + 2))
    image = ax.imshow(grid, cmap="viridis", aspect="auto")
    for (i, j), acc in np.ndenumerate(grid):
        if not np.isnan(acc):
            ax.text(j, i, f"{acc:.3f}", ha="center", va="center", color="w", fontsize=8)
    ax.set_xticks(range(len(regs)), [f"{r:.0e}" for r in regs], rotation=45)
    ax.set_yticks(range(len(lrs)), [f"{lr:.0e}" for lr in lrs])
    ax.set(
        title=title,
        xlabel="regularization strength (log scale)",
        ylabel="learning rate (log scale)",
    )
    fig.colorbar(image, ax=ax, label="validation accuracy")
    fig.tight_layout()
    return fig


def show_sample_images(
    X: np.ndarray,
    y: np.ndarray,
    class_names: Sequence[str],
    image_shape: Sequence[int],
    samples_per_class: int = 7,
    seed: int = 0,
) -> Any:
    """A grid of random training images: one column per class, `samples_per_class` rows.

    Inputs:
    - X: (N, D), (N, D + 1) (bias column ignored) or (N, *image_shape); raw or mean-subtracted,
      each image is rescaled to 0..255 on its own for display.
    - y: (N,) ints in 0..C-1.  class_names: C names.  image_shape: (8, 8) or (32, 32, 3).
    - seed: which samples are drawn (the global random state is not touched).
    Returns the Figure.
    """
    images = _as_images(X, image_shape)
    y = np.asarray(y)
    rng = np.random.default_rng(seed)
    C = len(class_names)
    fig, axes = _plt().subplots(samples_per_class, C, figsize=(C, samples_per_class), squeeze=False)
    for c, name in enumerate(class_names):
        idxs = np.flatnonzero(y == c)
        chosen = (
            rng.choice(idxs, min(samples_per_class, len(idxs)), replace=False) if len(idxs) else []
        )
        for row in range(samples_per_class):
            ax = axes[row, c]
            ax.axis("off")
            if row < len(chosen):
                _show_image(ax, _to_uint8_image(images[chosen[row]]))
        axes[0, c].set_title(str(name), fontsize=9)
    fig.tight_layout()
    return fig
