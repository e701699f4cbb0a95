"""The one release resolver: which published release a student notebook is checked and grafted against.

Every release ever published is kept under `assignments/<A>/.releases/<version>/`. A student
notebook declares the version it was made from (`metadata.autograder.version`); it is checked
against exactly that version when it is a published one, else against the current release, with a
note saying so. The self-check, rescue and grading all resolve releases here (docs/release.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from autograder.core.config import AssignmentConfig, release_dir
from autograder.core.identity import shown_id
from autograder.core.markers import grade_id
from autograder.core.notebook import NotebookError, read_notebook

RELEASES = ".releases"  # the folder, inside assignments/<A>/, that keeps every published version


class Unusable(Exception):
    """The notebook cannot be checked or graded; str() is the one-line notebook-invalid message."""


def declared(nb: Any) -> dict[str, Any]:
    """metadata.autograder of a notebook ({} if absent or not a table)."""
    meta = nb.get("metadata", {}).get("autograder")
    return dict(meta) if isinstance(meta, dict) else {}


_RELEASE_CACHE: dict[tuple[str, int, int], NotebookNode] = {}


def read_release(path: Path) -> NotebookNode:
    """Read a release notebook, cached while the file is unchanged (grading checks many).

    The cached node is shared: callers never modify it (the graft works on deep copies)."""
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _RELEASE_CACHE:
        if len(_RELEASE_CACHE) > 32:
            _RELEASE_CACHE.clear()
        _RELEASE_CACHE[key] = read_notebook(path)
    return _RELEASE_CACHE[key]


def published_versions(assignment: str, notebook: str, course: str | Path | None) -> dict[str, Path]:
    """{version: kept release notebook} for every version published under `.releases/`.

    The folder is listed, never indexed by a string a notebook carries: a declared version is
    only ever compared with these names, so `../../solutions/A3` or a classmate's folder can
    never become "the release" a submission is checked and grafted against.
    """
    root = release_dir(assignment, course) / RELEASES
    try:
        entries = list(root.iterdir())
    except OSError:
        return {}
    out = {}
    for entry in entries:
        kept = entry / notebook
        if entry.is_dir() and not entry.is_symlink() and kept.is_file() and not kept.is_symlink():
            out[entry.name] = kept
    return out


def find_release(
    assignment: str, notebook: str, version: object, course: str | Path | None
) -> tuple[NotebookNode, str, list[str]]:
    """(release notebook, its version, notes): the declared version when it is a published one
    (an exact match of the name), else the current release with a note for review.

    Raises Unusable when the kit has no release of the assignment, or it is damaged."""
    kept = published_versions(assignment, notebook, course)
    if isinstance(version, str) and version in kept:
        return _read_or_unusable(kept[version]), version, []
    current = release_dir(assignment, course) / notebook
    if not current.is_file():
        raise Unusable(f"no release of {assignment} ({notebook}) in this kit — update the kit "
                       "(or check the assignment name).")
    release = _read_or_unusable(current)
    now = str(declared(release).get("version", "?"))
    shown = shown_id(version, 40) if version not in (None, "") else ""
    if isinstance(version, str) and version == now:
        notes = []
    elif shown:
        notes = [f"your notebook declares release version {shown!r} of {assignment}, which was "
                 f"never published; it was checked against the current release (version {now})."]
    else:
        notes = [f"your notebook declares no release version; the current release of {assignment} "
                 f"(version {now}) was used."]
    return release, now, notes


def _read_or_unusable(path: Path) -> NotebookNode:
    try:
        return read_release(path)
    except NotebookError as exc:
        raise Unusable(f"the release notebook is damaged ({exc}) — update the kit.") from None


def pick_notebook(
    config: AssignmentConfig, label: str, nb: Any, course: str | Path | None = None
) -> str:
    """Which of the assignment's notebooks this one is (by file name, else the only one, else
    the one sharing the most grade_ids with it)."""
    name = Path(label).name
    if name in config.notebooks or len(config.notebooks) == 1:
        return name if name in config.notebooks else config.notebooks[0]
    ids = {grade_id(c) for c in nb.cells}
    return max(config.notebooks, key=lambda n: len(ids & _release_ids(config.name, n, course)))


def _release_ids(assignment: str, name: str, course: str | Path | None = None) -> set[Any]:
    path = release_dir(assignment, course) / name
    if not path.is_file():
        return set()
    return {grade_id(c) for c in read_release(path).cells}
