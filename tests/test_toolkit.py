"""The student toolkit: numerics, seeding, timing, and plots (non-interactive Agg backend)."""

from __future__ import annotations

import random

import matplotlib

matplotlib.use("Agg")  # before pyplot is imported anywhere: tests never open windows

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from autograder.student import toolkit  # noqa: E402
from autograder.student.toolkit import (  # noqa: E402
    eval_numerical_gradient,
    grad_check_sparse,
    plot_accuracy_history,
    plot_loss_history,
    plot_search_heatmap,
    plot_training_stats,
    rel_error,
    reset_seed,
    show_sample_images,
    show_weight_templates,
    time_function,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# --------------------------------------------------------------------------- rel_error


def test_rel_error_is_max_of_elementwise_relative_errors():
    x = np.array([1.0, 2.0, 0.0])
    y = np.array([1.0, 1.0, 0.0])
    assert rel_error(x, y) == pytest.approx(1.0 / 3.0)


def test_rel_error_of_two_zeros_is_zero_not_nan():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0


def test_rel_error_accepts_scalars():
    assert rel_error(1.0, 1.0 + 1e-9) < 1e-9


# --------------------------------------------------------------------------- numerical gradients


def test_numerical_gradient_of_quadratic_matches_analytic():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(3, 4))
    x = rng.normal(size=(3, 4))
    grad = eval_numerical_gradient(lambda z: float(np.sum(A * z**2)), x)
    assert grad.shape == x.shape
    assert rel_error(grad, 2 * A * x) < 1e-8


def test_numerical_gradient_restores_x():
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    before = x.copy()
    eval_numerical_gradient(lambda z: float(np.sum(np.sin(z))), x)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_refuses_integer_arrays():
    with pytest.raises(TypeError, match="float"):
        eval_numerical_gradient(lambda z: float(np.sum(z)), np.arange(3))


def test_numerical_gradient_verbose_prints_each_entry(capsys):
    eval_numerical_gradient(lambda z: float(np.sum(z)), np.zeros(3), verbose=True)
    assert len(capsys.readouterr().out.strip().splitlines()) == 3


def test_grad_check_sparse_with_zero_gradients_reports_zero_errors(capsys):
    x = np.ones((4, 5))
    errors = grad_check_sparse(lambda z: 3.0, x, np.zeros_like(x), num_checks=6, seed=0)
    assert errors == [0.0] * 6
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 6 and all("relative error" in line for line in lines)


def test_grad_check_sparse_small_errors_for_right_gradient_and_large_for_wrong():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(5, 3))
    f = lambda z: float(np.sum(z**3))  # noqa: E731
    good = grad_check_sparse(f, x, 3 * x**2, num_checks=8, seed=0, verbose=False)
    bad = grad_check_sparse(f, x, 3 * x**2 + 1.0, num_checks=8, seed=0, verbose=False)
    assert max(good) < 1e-7
    assert min(bad) > 1e-3


def test_grad_check_sparse_restores_x_and_is_reproducible_with_seed():
    x = np.arange(12.0).reshape(3, 4)
    before = x.copy()
    f = lambda z: float(np.sum(z * np.arange(12.0).reshape(3, 4)))  # noqa: E731
    grad = np.arange(12.0).reshape(3, 4) + 0.01
    a = grad_check_sparse(f, x, grad, num_checks=5, seed=3, verbose=False)
    b = grad_check_sparse(f, x, grad, num_checks=5, seed=3, verbose=False)
    assert a == b
    np.testing.assert_array_equal(x, before)


def test_grad_check_sparse_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="shape"):
        grad_check_sparse(lambda z: 0.0, np.zeros((2, 2)), np.zeros(4), verbose=False)


# --------------------------------------------------------------------------- seeding and timing


def test_reset_seed_makes_numpy_and_random_repeat():
    reset_seed(5)
    first = (np.random.rand(3), random.random())
    reset_seed(5)
    second = (np.random.rand(3), random.random())
    np.testing.assert_array_equal(first[0], second[0])
    assert first[1] == second[1]


def test_time_function_returns_best_of_repeats_and_passes_arguments(monkeypatch):
    # A scripted clock (start, end per run: 5, 2, 9 and 8 s), so the test counts, never times.
    ticks = iter([0.0, 5.0, 10.0, 12.0, 20.0, 29.0, 30.0, 38.0])
    monkeypatch.setattr(toolkit.time, "perf_counter", lambda: next(ticks))
    calls = []
    seconds = time_function(lambda a, b=0: calls.append((a, b)), 1, b=2, repeat=4)
    assert calls == [(1, 2)] * 4
    assert seconds == 2.0


def test_time_function_refuses_zero_repeats():
    with pytest.raises(ValueError):
        time_function(lambda: None, repeat=0)


# --------------------------------------------------------------------------- plots


def test_toolkit_imports_no_instructor_packages():
    source = open(toolkit.__file__, encoding="utf-8").read()
    for name in ("nbgrader", "rich", "jinja2", "nbclient"):
        assert f"import {name}" not in source and f"from {name}" not in source


def test_plot_loss_history_draws_one_line_of_the_losses():
    fig = plot_loss_history([3.0, 2.0, 1.5], title="SVM loss")
    assert isinstance(fig, Figure)
    (ax,) = fig.axes
    assert ax.get_title() == "SVM loss"
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), [3.0, 2.0, 1.5])


def test_plot_accuracy_history_has_train_and_val_lines():
    fig = plot_accuracy_history([0.1, 0.5], [0.1, 0.4])
    labels = [line.get_label() for line in fig.axes[0].lines]
    assert labels == ["train", "val"]


def test_plot_training_stats_shows_loss_and_accuracies_side_by_side():
    stats = {
        "loss_history": [2.3, 2.0, 1.7],
        "train_acc_history": [0.2, 0.4],
        "val_acc_history": [0.2, 0.3],
    }
    fig = plot_training_stats(stats)
    ax_loss, ax_acc = fig.axes
    np.testing.assert_array_equal(ax_loss.lines[0].get_ydata(), [2.3, 2.0, 1.7])
    assert len(ax_acc.lines) == 2


@pytest.mark.parametrize(
    ("image_shape", "bias", "expected_ndim"),
    [((8, 8), True, 2), ((8, 8), False, 2), ((32, 32, 3), True, 3)],
)
def test_weight_templates_one_image_per_class_rescaled_to_0_255(image_shape, bias, expected_ndim):
    D = int(np.prod(image_shape))
    W = np.random.default_rng(0).normal(size=(D + int(bias), 10))
    fig = show_weight_templates(W, image_shape, [str(c) for c in range(10)])
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(images) == 10
    assert all(np.asarray(im).ndim == expected_ndim for im in images)
    assert all(np.asarray(im).min() == 0 and np.asarray(im).max() == 255 for im in images)
    assert [ax.get_title() for ax in fig.axes if ax.images] == [str(c) for c in range(10)]


def test_weight_templates_refuse_wrong_shape():
    with pytest.raises(ValueError, match="needs 64"):
        show_weight_templates(np.zeros((70, 10)), (8, 8), [str(c) for c in range(10)])


def test_weight_template_of_constant_weights_is_black_not_nan():
    fig = show_weight_templates(np.zeros((64, 2)), (8, 8), ["a", "b"])
    assert np.asarray(fig.axes[0].images[0].get_array()).max() == 0


def test_search_heatmap_places_each_result_and_labels_axes():
    results = {(1e-3, 1e-4): 0.5, (1e-3, 1e-2): 0.6, (1e-2, 1e-4): 0.7}
    fig = plot_search_heatmap(results)
    ax = fig.axes[0]
    grid = np.ma.filled(ax.images[0].get_array(), np.nan)
    assert grid.shape == (2, 2)
    assert grid[0, 0] == 0.5 and grid[0, 1] == 0.6 and grid[1, 0] == 0.7 and np.isnan(grid[1, 1])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1e-03", "1e-02"]
    assert "learning rate" in ax.get_ylabel() and "regularization" in ax.get_xlabel()


def test_search_heatmap_refuses_empty_results():
    with pytest.raises(ValueError, match="empty"):
        plot_search_heatmap({})


def test_sample_images_grid_has_requested_samples_per_class():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 65))  # mean-subtracted digits with the bias column
    y = np.arange(40) % 4
    fig = show_sample_images(X, y, ["a", "b", "c", "d"], (8, 8), samples_per_class=3)
    shown = [ax for ax in fig.axes if ax.images]
    assert len(fig.axes) == 12 and len(shown) == 12
    assert [fig.axes[c].get_title() for c in range(4)] == ["a", "b", "c", "d"]
