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

from autograder.core.config import REPO_ROOT, load_config
from autograder.grading.intake import collect_submissions

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


def test_an_export_of_one_student_folder_is_not_read_as_that_students_gradescope_export(tmp_path: Path) -> None:
    """Bypass of the top-level rule: a Moodle export holding one folder (the instructor downloads
    only the late or the selected submissions) has that folder as its "top", so the student's own
    `submission_metadata.yml` in it decides again, and names a classmate (graded into the same
    OUT/gradebook, the classmate's earlier result is replaced)."""
    attacker = tmp_path / "export" / "Att Acker_1002_assignsubmission_file_"
    (attacker / "submission_1").mkdir(parents=True)
    _zip(attacker / "A4_s03.zip")
    (attacker / "submission_metadata.yml").write_text(FAKE_METADATA)
    (attacker / "submission_1" / "two_layer_net.ipynb").write_text("{}")

    entries = collect_submissions(tmp_path / "export", "A4", CONFIG, work_dir=tmp_path / "w")

    assert [(e.lms, e.lms_id) for e in entries] == [("moodle", "1002")]
    assert "s01" not in {e.student_id for e in entries}


def _export_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _student_zip_bytes() -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("two_layer_net.ipynb", "{}")
    return buf.getvalue()


def test_one_students_long_file_name_does_not_refuse_the_whole_canvas_export(tmp_path: Path) -> None:
    """Canvas prefixes `<name>_<user id>_<attachment id>_` to the file name the student chose; a
    250-character upload name (or 100 CJK characters: 300 bytes) makes one export member longer
    than 255 bytes, and the intake refuses the *whole* export (`unsafe-path`): nobody in the class
    is graded. One student's member must only fail that student."""
    export = _export_zip(tmp_path / "canvas.zip", {
        "victimone_1000_5000_A4_s01.zip": _student_zip_bytes(),
        "attacker_1002_5002_" + "a" * 250 + ".zip": _student_zip_bytes(),
    })
    entries = collect_submissions(export, "A4", CONFIG, lms="canvas", work_dir=tmp_path / "w")
    assert "1000" in {e.lms_id for e in entries}


def test_one_students_odd_upload_does_not_refuse_the_whole_moodle_export(tmp_path: Path) -> None:
    """The same with Moodle, which keeps upload names as they are: a 100-character CJK name."""
    export = _export_zip(tmp_path / "moodle.zip", {
        "Victim One_1000_assignsubmission_file_/A4_s01.zip": _student_zip_bytes(),
        "Att Acker_1002_assignsubmission_file_/" + "字" * 100 + ".ipynb": b"{}",
    })
    entries = collect_submissions(export, "A4", CONFIG, lms="moodle", work_dir=tmp_path / "w")
    assert "1000" in {e.lms_id for e in entries}


def test_a_chosen_id_cannot_take_the_place_of_a_classmates_unidentified_submission(tmp_path: Path) -> None:
    """`unidentified_id()` promises it "cannot collide with a real id that a student chose", but
    the id pattern accepts `unidentified_<name>_<8 hex>`, and the hash is of a file name a
    classmate may use (`my homework.zip`). A zip named `A4_<that id>.zip`, newer, makes the
    classmate's submission an "other attempt" of the attacker's: it is never graded or reviewed."""
    from autograder.core.identity import unidentified_id

    subs = tmp_path / "subs"
    subs.mkdir()
    _zip(subs / "my homework.zip")
    _zip(subs / f"A4_{unidentified_id('my homework.zip')}.zip")
    import os
    import time

    os.utime(subs / "my homework.zip", (time.time() - 100, time.time() - 100))
    entries = collect_submissions(subs, "A4", CONFIG, work_dir=tmp_path / "w")
    graded = {e.path.name for e in entries}
    assert "my homework.zip" in graded, [(e.student_id, e.path.name) for e in entries]
