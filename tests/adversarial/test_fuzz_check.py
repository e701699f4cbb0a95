"""Fuzzing the self-check with notebook JSON: it never raises, and always answers in the report
format (report.json violation dicts).

Three sources of documents: random JSON-ish values; the real A3 and A4 release notebooks
mutated (keys dropped, values of the wrong type, huge strings, cells deleted, duplicated or
reordered, TODO markers broken, the release metadata scrambled); and those mutated notebooks
inside a submission zip, read by `check_notebook` (in memory) and extracted by the intake, which
must write nothing outside its extraction folder. Random archives are fuzzed in
tests/test_intake_fuzz.py; this file only adds notebook content to them.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.core.archive import STATUSES
from autograder.core.config import RULE_IDS, find_config, release_dir
from autograder.core.submission_zip import extract_submission
from autograder.student.check import CheckResult, check_notebook, format_result

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
RELEASES = {"A3": "linear_classifier.ipynb", "A4": "two_layer_net.ipynb"}
START, END = "START OF YOUR CODE", "END OF YOUR CODE"
VIOLATION_KEYS = {"rule", "severity", "message", "cell", "deduction"}
pytestmark = pytest.mark.filterwarnings("ignore")


def release_json(assignment: str) -> dict[str, Any]:
    return json.loads((release_dir(assignment) / RELEASES[assignment]).read_text(encoding="utf-8"))


BASES = {a: release_json(a) for a in RELEASES}


def assert_report_format(result: Any) -> None:
    """A CheckResult whose violations are report.json dicts, JSON-serialisable, printable."""
    assert isinstance(result, CheckResult)
    for violation in result.violations:
        d = violation.to_dict()
        assert VIOLATION_KEYS <= d.keys(), d
        assert d["rule"] in RULE_IDS, d
        assert d["severity"] in ("error", "warning"), d
        assert isinstance(d["message"], str) and d["message"].strip(), d
        assert d["cell"] is None or (type(d["cell"]) is int and d["cell"] >= 1), d
        assert isinstance(d["deduction"], (int, float)), d
    json.dumps(result.to_dict())
    format_result(result)


# ---------------------------------------------------------------------------------------------
# Random JSON-ish documents

SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
           | st.text(max_size=30))
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5)
                       | st.dictionaries(st.text(max_size=10), inner, max_size=5), max_leaves=30)
NOTEBOOK_KEYS = st.sampled_from(["cells", "metadata", "nbformat", "nbformat_minor", "worksheets",
                                 "cell_type", "source", "outputs", "execution_count", "autograder",
                                 "nbgrader", "grade_id", "assignment", "version", "id"])
NOTEBOOKISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5)
                           | st.dictionaries(NOTEBOOK_KEYS, inner, max_size=6), max_leaves=40)


@FUZZ
@given(st.dictionaries(NOTEBOOK_KEYS, NOTEBOOKISH, max_size=6))
def test_random_notebook_shaped_dicts_never_raise(doc: dict[str, Any]) -> None:
    assert_report_format(check_notebook(doc))


@FUZZ
@given(JSONISH | NOTEBOOKISH)
def test_any_json_file_never_raises(doc: Any) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nb.ipynb"
        path.write_text(json.dumps(doc), encoding="utf-8")
        result = check_notebook(path)
    assert_report_format(result)
    if not isinstance(doc, dict) or not isinstance(doc.get("cells"), list):
        assert [v.rule for v in result.violations] == ["notebook-invalid"]


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes_as_a_notebook_never_raise(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nb.ipynb"
        path.write_bytes(data)
        assert_report_format(check_notebook(path, assignment="A4"))


# ---------------------------------------------------------------------------------------------
# Mutated real releases

JUNK = st.sampled_from([None, 0, -1, 1.5, True, "", "x", [], {}, [None], {"x": 1}, "\x00\ud7ff"])


def _containers(node: Any, found: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in a JSON tree, outputs excluded (they are leaves)."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        found.append((node, key))
        if key != "outputs":
            _containers(value, found)
    return found


def _cell(nb: dict[str, Any], data: st.DataObject) -> dict[str, Any] | None:
    cells = nb.get("cells")
    if not isinstance(cells, list) or not cells:
        return None
    cell = cells[data.draw(st.integers(0, len(cells) - 1))]
    return cell if isinstance(cell, dict) else None


def drop_key(nb: dict[str, Any], data: st.DataObject) -> None:
    spots = [(c, k) for c, k in _containers(nb, []) if isinstance(c, dict)]
    if spots:
        container, key = data.draw(st.sampled_from(spots))
        container.pop(key, None)


def wrong_type(nb: dict[str, Any], data: st.DataObject) -> None:
    spots = _containers(nb, [])
    if spots:
        container, key = data.draw(st.sampled_from(spots))
        container[key] = data.draw(JUNK)


def huge_string(nb: dict[str, Any], data: st.DataObject) -> None:
    cell = _cell(nb, data)
    if cell is not None:
        unit = data.draw(st.sampled_from(["x", "def f():\n", "# comment\n", "é", "(" ]))
        cell["source"] = unit * data.draw(st.integers(10_000, 300_000))


def delete_cells(nb: dict[str, Any], data: st.DataObject) -> None:
    cells = nb.get("cells")
    if isinstance(cells, list) and cells:
        start = data.draw(st.integers(0, len(cells) - 1))
        del cells[start: start + data.draw(st.integers(1, 5))]


def duplicate_cell(nb: dict[str, Any], data: st.DataObject) -> None:
    cell = _cell(nb, data)
    if cell is not None:
        nb["cells"].insert(data.draw(st.integers(0, len(nb["cells"]))), copy.deepcopy(cell))


def reorder_cells(nb: dict[str, Any], data: st.DataObject) -> None:
    cells = nb.get("cells")
    if isinstance(cells, list) and len(cells) > 1:
        nb["cells"] = [cells[i] for i in data.draw(st.permutations(range(len(cells))))]


def break_markers(nb: dict[str, Any], data: st.DataObject) -> None:
    """Edit, delete, repeat or misplace the TODO marker lines."""
    cell = _cell(nb, data)
    if cell is None or not isinstance(cell.get("source"), (str, list)):
        return
    src = cell["source"] if isinstance(cell["source"], str) else "".join(map(str, cell["source"]))
    lines = src.split("\n")
    how = data.draw(st.sampled_from(["edit", "delete", "repeat", "insert", "swap"]))
    marks = [i for i, line in enumerate(lines) if START in line or END in line]
    if how == "insert" or not marks:
        at = data.draw(st.integers(0, len(lines)))
        lines.insert(at, data.draw(st.sampled_from([f"    # {START}", f"# {END}", START + END])))
    else:
        i = data.draw(st.sampled_from(marks))
        if how == "edit":
            lines[i] = lines[i].replace("do not edit", data.draw(st.text(max_size=8)))
        elif how == "delete":
            del lines[i]
        elif how == "repeat":
            lines.insert(i, lines[i])
        else:
            j = data.draw(st.sampled_from(marks))
            lines[i], lines[j] = lines[j], lines[i]
    cell["source"] = "\n".join(lines)


def random_source(nb: dict[str, Any], data: st.DataObject) -> None:
    cell = _cell(nb, data)
    if cell is not None:
        cell["source"] = data.draw(st.text(max_size=200) | st.lists(st.text(max_size=40), max_size=5))


def scramble_metadata(nb: dict[str, Any], data: st.DataObject) -> None:
    meta = nb.setdefault("metadata", {})
    if isinstance(meta, dict):
        meta["autograder"] = data.draw(
            JUNK | st.fixed_dictionaries({"assignment": st.sampled_from(["A3", "A4", "A9", "", 3]),
                                          "version": JUNK | st.text(max_size=5)}))


def change_type(nb: dict[str, Any], data: st.DataObject) -> None:
    cell = _cell(nb, data)
    if cell is not None:
        cell["cell_type"] = data.draw(st.sampled_from(["code", "markdown", "raw", "heading", ""]))


MUTATIONS = [drop_key, wrong_type, huge_string, delete_cells, duplicate_cell, reorder_cells,
             break_markers, random_source, scramble_metadata, change_type]


@st.composite
def mutated_release(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    assignment = draw(st.sampled_from(sorted(BASES)))
    nb = copy.deepcopy(BASES[assignment])
    data = draw(st.data())
    for mutation in draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=4)):
        mutation(nb, data)
    return assignment, nb


@FUZZ
@given(mutated_release())
def test_mutated_release_notebooks_never_raise(case: tuple[str, dict[str, Any]]) -> None:
    assignment, nb = case
    assert_report_format(check_notebook(nb))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / RELEASES[assignment]
        path.write_text(json.dumps(nb), encoding="utf-8")
        assert_report_format(check_notebook(path, assignment=assignment))


# ---------------------------------------------------------------------------------------------
# Mutated notebooks inside a submission zip


def _zip(assignment: str, notebook: bytes) -> bytes:
    name = RELEASES[assignment]
    files = {name: notebook}
    manifest = {"assignment": assignment, "student_id": "fuzz",
                "files": {k: hashlib.sha256(v).hexdigest() for k, v in files.items()}}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in files.items():
            zf.writestr(member, data)
        zf.writestr("MANIFEST.json", json.dumps(manifest))
    return buf.getvalue()


def _snapshot(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutated_release(), st.sampled_from(["utf-8", "bom", "crlf", "latin-1"]))
def test_mutated_notebooks_in_a_zip_are_checked_and_extracted_safely(
        case: tuple[str, dict[str, Any]], encoding: str) -> None:
    assignment, nb = case
    text = json.dumps(nb, ensure_ascii=False)
    data = (b"\xef\xbb\xbf" + text.encode() if encoding == "bom"
            else text.replace("\n", "\r\n").encode() if encoding == "crlf"
            else text.encode("latin-1", errors="replace") if encoding == "latin-1"
            else text.encode())
    with tempfile.TemporaryDirectory() as tmp:
        parent = Path(tmp)
        (parent / "outside").mkdir()
        archive = parent / f"{assignment}_fuzz.zip"
        archive.write_bytes(_zip(assignment, data))
        before = _snapshot(parent)
        assert_report_format(check_notebook(archive, assignment=assignment))
        assert _snapshot(parent) == before  # the self-check reads a zip in memory
        intake = extract_submission(archive, parent / "dest", find_config(assignment))
        assert intake.status in STATUSES
        new = _snapshot(parent) - before
        assert all(p == "dest" or p.startswith("dest/") for p in new), new
        if intake.ok:
            assert_report_format(check_notebook(intake.files[RELEASES[assignment]],
                                                assignment=assignment))
