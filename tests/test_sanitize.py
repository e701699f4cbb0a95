"""What a notebook may carry into autograded/ (formgrader's view): inert parts only, and an
honest answer exactly as written."""

from __future__ import annotations

import pytest

from autograder.grading.sanitize import clean_markdown, safe_notebook

HONEST = [
    "The gradient is $\\frac{\\partial L}{\\partial W} = X^\\top (P - Y)$, and $a_1 < b_2$.",
    "See [the notes](https://cs231n.github.io/optimization-2/) and ![fig](attachment:grad.png).",
    "A list:\n\n1. `x[y]` indexes\n2. **bold** and _it_ [ref][1]\n\n[1]: http://example.com",
    "Relative [link](#part-2) and a table | a | b |",
]


@pytest.mark.parametrize("text", HONEST)
def test_an_honest_answer_is_kept_as_written(text: str) -> None:
    assert clean_markdown(text) == text


@pytest.mark.parametrize("text", ["<img src=x onerror=alert(1)>", "<script>alert(1)</script>"])
def test_raw_html_that_could_run_is_removed(text: str) -> None:
    cleaned = clean_markdown(text)
    assert "onerror" not in cleaned and "<script" not in cleaned


def test_a_script_link_in_markdown_syntax_is_shown_as_text() -> None:
    cleaned = clean_markdown("click [here](javascript:alert(1)) ```")
    assert cleaned.startswith("*(Shown as plain text")
    assert "````text\n" in cleaned  # a fence longer than the backticks inside


def test_only_safe_outputs_and_metadata_survive() -> None:
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"evil": "<script>"}, "cells": [
        {"cell_type": "code", "id": "a", "source": "x", "execution_count": 1,
         "metadata": {"nbgrader": {"grade_id": "\"><script>", "points": 1}, "tags": ["x"]},
         "outputs": [{"output_type": "display_data", "metadata": {"width": "<x>"},
                      "data": {"text/html": "<script>", "text/plain": "ok",
                               "image/png": "not base64 <script>"}}]}]}
    safe, dropped = safe_notebook(nb, {"kernelspec": {"name": "python3"}})
    cell = safe["cells"][0]
    assert safe["metadata"] == {"kernelspec": {"name": "python3"}}
    assert cell["outputs"] == [{"output_type": "display_data", "data": {"text/plain": "ok"}, "metadata": {}}]
    assert "grade_id" not in cell["metadata"].get("nbgrader", {})
    assert dropped["output text/html"] == 1 and dropped["output image/png"] == 1
