"""The weight-template grids leave room for the title a notebook adds with plt.suptitle."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from autograder.student.toolkit import show_weight_templates  # noqa: E402


@pytest.mark.parametrize(("shape", "classes"), [((8, 8), 10), ((32, 32, 3), 10), ((8, 8), 3)])
def test_a_suptitle_added_afterwards_sits_above_the_first_rows_titles(shape, classes):
    W = np.random.default_rng(0).normal(size=(int(np.prod(shape)) + 1, classes))
    fig = show_weight_templates(W, shape, [f"class {c}" for c in range(classes)])
    title = plt.suptitle("SVM templates")  # as the A3 and A4 notebooks do
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    top_of_titles = max(ax.title.get_window_extent(renderer).y1 for ax in fig.axes)
    assert title.get_window_extent(renderer).y0 >= top_of_titles
    plt.close(fig)
