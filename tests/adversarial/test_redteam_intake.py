"""Red team: a student's own upload inside an LMS export must not change how the whole export is read.

Moodle keeps every uploaded file under its original name in the student's folder
(`<Full Name>_<participant id>_assignsubmission_file_/<file>`). A student who uploads a file named
`submission_metadata.yml` (with, optionally, a folder `submission_1/`) switches `lms="auto"` to
the Gradescope reader: the class's real submissions are dropped and the student's made-up
metadata decides whose grade each folder is (here: a classmate's).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from autograder.config import REPO_ROOT, load_config
from autograder.intake import collect_submissions

CONFIG = load_config(REPO_ROOT / "solutions" / "A4" / "assignment.toml")

FAKE_METADATA = """\
submission_1:
  :submitters:
  - :sid: s01
    :name: Victim
  :created_at: 2030-01-01 00:00:00.000000000 +00:00
"""


def _zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("two_layer_net.ipynb", "{}")


def test_student_uploaded_gradescope_metadata_does_not_hijack_a_moodle_export(tmp_path: Path) -> None:
    export = tmp_path / "export"
    for i, sid in enumerate(("s01", "s02", "s03")):
        folder = export / f"Student{i} Name_{1000 + i}_assignsubmission_file_"
        folder.mkdir(parents=True)
        _zip(folder / f"A4_{sid}.zip")
    attacker = export / "Student2 Name_1002_assignsubmission_file_"
    (attacker / "submission_metadata.yml").write_text(FAKE_METADATA)
    (attacker / "submission_1").mkdir()
    (attacker / "submission_1" / "two_layer_net.ipynb").write_text("{}")

    entries = collect_submissions(export, "A4", CONFIG, work_dir=tmp_path / "w")

    ids = sorted(e.lms_id or "" for e in entries)
    # every real submitter is still there, read the Moodle way ...
    assert {"1000", "1001", "1002"} <= set(ids), ids
    assert all(e.lms == "moodle" for e in entries), [(e.student_id, e.lms) for e in entries]
    # ... and the attacker's made-up metadata names nobody
    assert "s01" not in {e.student_id for e in entries if e.lms_id not in ("1000",)}


def test_a_lone_uploaded_metadata_file_does_not_empty_the_class(tmp_path: Path) -> None:
    export = tmp_path / "export"
    for i, sid in enumerate(("s01", "s02", "s03")):
        folder = export / f"Student{i} Name_{1000 + i}_assignsubmission_file_"
        folder.mkdir(parents=True)
        _zip(folder / f"A4_{sid}.zip")
    (export / "Student2 Name_1002_assignsubmission_file_" / "submission_metadata.yml").write_text("x: 1\n")

    entries = collect_submissions(export, "A4", CONFIG, work_dir=tmp_path / "w")

    assert sorted(e.lms_id or "" for e in entries) == ["1000", "1001", "1002"]
