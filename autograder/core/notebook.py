"""Reading notebooks safely: one clear message naming the file, never a traceback.

Everything in the kit that opens a `.ipynb` (release, self-check, grading) goes through
`read_notebook`, so a broken file is reported the same way everywhere.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

# More cells than any real notebook has: the checks would cost the grader's own process minutes
# and gigabytes (400,000 empty cells fit in a 1 MB zip).
MAX_CELLS = 20_000


class NotebookError(ValueError):
    """A notebook cannot be used; the message names the file and what to do."""


_LONE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]", re.ASCII)  # the JSON escape of one half of a pair


def _encodes(data: Any) -> bool:
    """Whether every string in the parsed JSON is valid Unicode (no lone surrogate)."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_notebook(text: str, name: str = "notebook", max_cells: int | None = MAX_CELLS) -> NotebookNode:
    """Parse notebook JSON text into an nbformat 4 NotebookNode (`name` is used in messages).
    `max_cells`: refuse a notebook with more cells (None: any number, for rescue)."""
    # An editor that saves "UTF-8 with BOM" leaves the content intact: grade it rather than
    # refuse a whole submission over an encoding setting.
    text = text.removeprefix("\ufeff")
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(
            f"{name}: not a valid notebook (broken JSON at line {exc.lineno}, column {exc.colno}); "
            "restore it from a backup or re-download it"
        ) from None
    except (ValueError, RecursionError) as exc:  # a 5,000-digit number, lists nested 100,000 deep
        what = "nested too deeply" if isinstance(exc, RecursionError) else "a number too long"
        raise NotebookError(f"{name}: not a valid notebook (its JSON has {what}); restore it "
                            "from a backup or re-download it") from None
    if _LONE_SURROGATE.search(text) and not _encodes(data):
        raise NotebookError(f"{name}: not a valid notebook (it holds text that is not valid "
                            "Unicode); restore it from a backup or re-download it")
    if not isinstance(data, dict) or not isinstance(data.get("cells", None), list):
        if isinstance(data, dict) and isinstance(data.get("worksheets"), list):
            raise NotebookError(
                f"{name}: nbformat 3 notebook is too old; open it in Jupyter and save it again"
            )
        raise NotebookError(f"{name}: not a notebook (no list of cells)")
    if max_cells is not None and len(data["cells"]) > max_cells:
        raise NotebookError(
            f"{name}: not a usable notebook ({len(data['cells'])} cells; the assignments have about "
            f"a hundred, and at most {max_cells} are read); run `autograder rescue` on it to get "
            "your TODO blocks and answers into a clean copy")
    major = data.get("nbformat")
    if major != 4:
        raise NotebookError(
            f"{name}: nbformat {major} is not supported (need 4); open it in Jupyter and save it again"
        )
    for index, cell in enumerate(data["cells"], start=1):
        if not isinstance(cell, dict) or "cell_type" not in cell or "source" not in cell:
            raise NotebookError(f"{name}: cell {index} is damaged (no cell_type or source)")
    try:
        # reads() joins list sources into strings and upgrades minor versions; it only warns
        # about schema problems, which the policy checks report in their own words.
        return nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises many types for odd input; one line for all
        raise NotebookError(f"{name}: not a valid notebook ({type(exc).__name__}: {exc})") from None


def read_notebook(path: str | Path, max_cells: int | None = MAX_CELLS) -> NotebookNode:
    """Read a notebook file; a missing, unreadable or invalid file raises NotebookError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotebookError(f"{path}: not found") from None
    except UnicodeDecodeError:
        raise NotebookError(f"{path}: not a valid notebook (not UTF-8 text)") from None
    except OSError as exc:
        raise NotebookError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return parse_notebook(text, str(path), max_cells)


def notebook_text(nb: NotebookNode) -> str:
    """The notebook as JSON text the way Jupyter writes it (sorted keys, one trailing newline)."""
    text = nbformat.writes(nb)
    return text if text.endswith("\n") else text + "\n"
