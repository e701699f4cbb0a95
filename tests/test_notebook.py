"""Reading notebooks: what is accepted, and one clear line for what is not."""

from __future__ import annotations

import json

import nbformat
import pytest

from autograder.core.notebook import NotebookError, parse_notebook

NB = nbformat.writes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")]))


def test_a_byte_order_mark_is_read_like_plain_utf8() -> None:
    assert parse_notebook("\ufeff" + NB, "nb.ipynb") == parse_notebook(NB, "nb.ipynb")


@pytest.mark.parametrize(("text", "words"), [
    ("{", "broken JSON at line 1"),
    (json.dumps({"nbformat": 3, "worksheets": []}), "nbformat 3"),
    (json.dumps({"cells": [], "nbformat": 5}), "nbformat 5"),
    (json.dumps([1, 2]), "no list of cells"),
])
def test_bad_text_is_one_line_naming_the_file(text: str, words: str) -> None:
    with pytest.raises(NotebookError) as info:
        parse_notebook(text, "hw.ipynb")
    assert str(info.value).startswith("hw.ipynb: ") and words in str(info.value)
    assert "\n" not in str(info.value)


def test_a_notebook_of_absurdly_many_cells_is_refused_early_but_rescue_reads_it() -> None:
    import json

    import pytest

    from autograder.core.notebook import MAX_CELLS, NotebookError, parse_notebook

    cells = [{"cell_type": "raw", "metadata": {}, "source": ""}] * (MAX_CELLS + 1)
    text = json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 4})
    with pytest.raises(NotebookError, match="autograder rescue"):
        parse_notebook(text, "big.ipynb")
    assert len(parse_notebook(text, "big.ipynb", max_cells=None).cells) == MAX_CELLS + 1
