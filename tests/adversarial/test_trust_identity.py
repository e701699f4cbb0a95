"""Hostile ids, names and markup in one real A4 batch, beside honest controls.

One class is built from the real A4 release (the instructor's solution, run once and cached) and
graded with `grade_class`. Hostile submissions try to:
- write outside OUT or autograded/ (traversal, absolute, `zz/../victim`, NUL in the manifest id);
- replace a classmate's report or notebook (`zz/../v2`), or take a classmate's identity (a zip
  named by no pattern, newer, whose manifest names a classmate);
- stop the batch (an id of `grades.csv`, a NUL byte);
- put script or a formula in what instructors open (HTML and formula ids; a `text/html` output
  with `<script>`, an `<img onerror>` in an answer cell, a forged grade_id attribute).
Every hostile entry must be caught (unidentified and failed, or its markup gone) and contained
(nothing outside OUT/autograded, the victims' results intact), while the honest controls keep
full automatic marks in the same batch.
"""

from __future__ import annotations

import copy
import csv
import json
import os
import shutil
import zipfile
from pathlib import Path
from typing import Any

import nbformat
import pytest

from autograder.grading.grade import grade_class
from demo import classroom as demo

HONEST = ("v1", "v2", "s77")
FULL = 80.0  # A4's automatic points


def _rewrite_manifest(src: Path, dest: Path, student_id: str) -> Path:
    """A copy of an honest zip whose MANIFEST.json names someone else."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "MANIFEST.json":
                manifest = json.loads(data)
                manifest["student_id"] = student_id
                data = json.dumps(manifest).encode()
            zout.writestr(info, data)
    return dest


def _markup_edits(nb: Any) -> None:
    """An honest notebook carrying script in an output, an answer and a grade_id."""
    code = next(c for c in nb.cells if c.cell_type == "code" and c.get("outputs"))
    code.outputs.append(nbformat.from_dict({
        "output_type": "display_data", "metadata": {},
        "data": {"text/html": "<script>alert('XSS-OUTPUT')</script>",
                 "application/javascript": "alert('XSS-JS')", "text/plain": "plain"}}))
    answer = next(c for c in nb.cells if c.cell_type == "markdown"
                  and (c.metadata.get("nbgrader") or {}).get("solution"))
    answer.source += "\n\n<img src=x onerror=\"alert('XSS-ANSWER')\">"
    locked = next(c for c in nb.cells if c.cell_type == "markdown"
                  and not (c.metadata.get("nbgrader") or {}).get("solution"))
    locked.metadata.setdefault("nbgrader", {})["grade_id"] = '"><script>alert(\'XSS-ID\')</script>'


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("trust-identity")
    students = tuple(demo.Student(sid, "honest control") for sid in HONEST) + (
        demo.Student("v3", "honest, with markup", (_markup_edits,)),)
    course, subs = demo.build_class(root, students, echo=lambda *_: None)
    honest = subs / "A4_v1.zip"
    hostile = {
        "traversal.zip": "../../escaped-traversal",
        "absolute.zip": str(root / "escaped-absolute"),
        "sneaky.zip": "zz/../v2",
        "nul.zip": "v1\x00x",
        "my homework.zip": "s77",
        "markup.zip": "<img src=x onerror=alert(1)>",
        "formula.zip": '=HYPERLINK("http://x","y")',
    }
    for name, claim in hostile.items():
        _rewrite_manifest(honest, subs / name, claim)
    newer = os.stat(subs / "A4_s77.zip").st_mtime + 3600
    os.utime(subs / "my homework.zip", (newer, newer))
    for name in ("A4_grades.csv.zip", "A4_-2+3.zip", "A4_summary.html.zip"):
        shutil.copyfile(honest, subs / name)
    out = root / "out"
    before = {p for p in root.rglob("*")}
    run = grade_class("A4", subs, out, course=course, jobs=2, stream=open(os.devnull, "w"))
    after = {p for p in root.rglob("*")}
    return {"root": root, "course": course, "subs": subs, "out": out, "run": run,
            "new": after - before, "hostile": hostile}


def test_the_batch_grades_every_file_and_keeps_the_controls_at_full_marks(batch) -> None:
    reports = batch["run"].reports
    assert len(reports) == 4 + len(batch["hostile"]) + 3
    for sid in (*HONEST, "v3"):
        assert reports[sid]["status"] == "graded", reports[sid]["message"]
        assert reports[sid]["score"] == pytest.approx(FULL), (sid, reports[sid]["tests"])


def test_hostile_ids_become_unidentified_failed_entries_listed_for_review(batch) -> None:
    odd = {sid: r for sid, r in batch["run"].reports.items() if sid.startswith("unidentified_")}
    assert len(odd) == len(batch["hostile"]) + 3
    for report in odd.values():
        assert report["status"] == "failed" and "Whose submission this is is unknown" in report["message"]
    summary = (batch["out"] / "summary.html").read_text()
    assert summary.count("Whose submission this is is unknown") >= len(odd)


def test_nothing_is_written_outside_out_and_the_course(batch) -> None:
    root, out, course = batch["root"], batch["out"], batch["course"]
    stray = [p for p in batch["new"] if out not in p.parents and p != out
             and course not in p.parents]
    assert stray == []
    assert not (root / "escaped-absolute").exists() and not (root.parent / "escaped-traversal").exists()
    for folder in (out, course / "autograded"):
        names = {p.name for p in folder.iterdir()}
        assert names <= set(batch["run"].reports) | {"grades.csv", "summary.html"}


def test_a_classmate_keeps_their_own_report_and_notebook(batch) -> None:
    out, course = batch["out"], batch["course"]
    for sid in ("v1", "v2", "s77"):
        report = json.loads((out / sid / "report.json").read_text())
        assert report["student_id"] == sid and report["score"] == pytest.approx(FULL)
        assert report["submission"]["file"] == f"A4_{sid}.zip"
        assert (course / "autograded" / sid / "A4" / demo.NOTEBOOK).is_file()
    assert batch["run"].reports["s77"]["submission"]["other_attempts"] == []
    assert (out / "grades.csv").is_file() and (out / "summary.html").is_file()


def test_grades_csv_carries_no_formula(batch) -> None:
    with open(batch["out"] / "grades.csv", newline="") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    for cell in cells:
        assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
        assert not cell.startswith("-") or cell.lstrip("-").replace(".", "").isdigit(), cell


def test_no_script_reaches_formgrader_or_the_gradebook(batch) -> None:
    from nbconvert import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers

    course = batch["course"]
    with zipfile.ZipFile(batch["subs"] / "A4_v3.zip") as zf:  # the attack was really submitted
        submitted = zf.read(demo.NOTEBOOK).decode()
    assert all(m in submitted for m in ("XSS-OUTPUT", "XSS-ANSWER", "XSS-ID"))
    path = course / "autograded" / "v3" / "A4" / demo.NOTEBOOK
    text = path.read_text()
    for marker in ("XSS-OUTPUT", "XSS-JS", "onerror", "XSS-ID"):
        assert marker not in text
    exporter = HTMLExporter(template_name="formgrade", extra_template_basedirs=[handlers.template_path])
    resources = {"assignment_id": "A4", "notebook_id": "two_layer_net", "submission_id": "x",
                 "index": 0, "total": 1, "base_url": "", "student": "v3", "last_name": "",
                 "first_name": "", "notebook_path": str(path)}
    html, _ = exporter.from_filename(str(path), resources=copy.deepcopy(resources))
    for marker in ("XSS-OUTPUT", "XSS-JS", "XSS-ANSWER", "XSS-ID", "onerror"):
        assert marker not in html
    import sqlite3

    with sqlite3.connect(course / "gradebook.db") as db:
        ids = {row[0] for row in db.execute("select id from student")}
    assert ids == {*HONEST, "v3"}
