"""Published release versions: the deterministic release notebook, its fingerprint, its version.

A release notebook is normalized (no outputs, the source's cell ids, no run or UI state) so that a
rerun is byte-identical; its fingerprint covers what integrity compares. The version is the
published one with exactly these fingerprints, else the next integer: reverting a source
reuses its old version, and a typo fixed after release gets a new one while the old is kept.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from autograder.authoring.lint import opted_out
from autograder.core.markers import is_locked, nbgrader_meta, solution_blocks
from autograder.core.notebook import read_notebook
from autograder.core.releases import RELEASES

# Cell metadata that records a run or a UI state, not content: dropped so reruns do not churn.
VOLATILE_CELL_METADATA = ("execution", "ExecuteTime", "collapsed", "scrolled")


def normalize(nb: NotebookNode, source: NotebookNode) -> NotebookNode:
    """Deterministic release notebook: source cell ids, no outputs, no run/UI state."""
    from nbgrader.utils import compute_checksum

    nb.nbformat, nb.nbformat_minor = 4, 5
    for cell, src in zip(nb.cells, source.cells, strict=True):
        cell.id = src.id  # the source's ids: stable across reruns and editors
        for key in VOLATILE_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            if nbgrader_meta(src).get("solution") and opted_out(src):
                if not solution_blocks(src.source)[0]:
                    # a free cell: students start from the instructor's text, not from a stub
                    cell.source = src.source
                    cell.metadata.nbgrader["checksum"] = compute_checksum(cell)
    language = nb.metadata.get("language_info")
    if language:
        language.pop("version", None)  # the Python version of the last run: pure churn
    return nb


def fingerprint(nb: Any) -> str:
    """sha256 over what integrity compares: each cell's type, source, grade_id and lock."""
    rows = []
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        rows.append([cell.cell_type, cell.source, meta.get("grade_id"), is_locked(meta)])
    blob = json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def published_fingerprints(dest: Path) -> dict[str, dict[str, str]]:
    """version -> {notebook name: fingerprint} of every release kept under dest/.releases/."""
    versions: dict[str, dict[str, str]] = {}
    root = dest / RELEASES
    if not root.is_dir():
        return versions
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name.isdigit()):
        versions[folder.name] = {
            path.stem: str(read_notebook(path).metadata.get("autograder", {}).get("fingerprint"))
            for path in sorted(folder.glob("*.ipynb"))
        }
    return versions


def pick_version(versions: dict[str, dict[str, str]], fingerprints: dict[str, str]) -> str:
    """The published version with exactly these fingerprints, else the next integer."""
    for version in sorted(versions, key=int):
        if versions[version] == fingerprints:
            return version
    return str(max((int(v) for v in versions), default=0) + 1)
