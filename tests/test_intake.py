"""Intake at grading (autograder.grading.intake): a class's submissions from a folder or an LMS
export (Canvas, Moodle, Gradescope, plain), identity and attempts, LMS times.

Every archive here is built by the test itself (no binary fixtures in the repository).
"""

from __future__ import annotations

import json
import os
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from intake_support import (
    CONFIG,
    CONTENT,
    REQUIRED,
    good_members,
    rules_of,
    student_zip,
    tree,
)

from autograder.core.archive import IntakeError
from autograder.core.submission_zip import extract_submission
from autograder.grading.intake import (
    collect_submissions,
    load_roster,
    parse_gradescope_metadata,
    parse_lms_time,
)


def zip_of_files(
    path: Path, files: dict[str, bytes | Path], dates: dict[str, tuple] | None = None
) -> Path:
    """An LMS export: members are bytes or the bytes of a file built by the test."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(dates or {}).get(name, (2024, 3, 1, 12, 0, 0)))
            zf.writestr(info, data.read_bytes() if isinstance(data, Path) else data)
    return path


def by_id(entries) -> dict:
    return {e.student_id: e for e in entries}


def test_canvas_folder_gives_lms_ids_names_and_late_flags(tmp_path: Path):
    student_zip(tmp_path / "export" / "doejane_12345_67890_A3_2022123456.zip", "2022123456")
    student_zip(tmp_path / "export" / "roesmith_LATE_23456_67891_A3_2022000002.zip", "2022000002")
    entries = by_id(collect_submissions(tmp_path / "export", "A3", CONFIG, work_dir=tmp_path / "w"))
    assert set(entries) == {"12345", "23456"}  # no roster: Canvas user ids
    assert (entries["12345"].lms, entries["12345"].name, entries["12345"].late) == (
        "canvas",
        "doejane",
        False,
    )
    assert entries["23456"].late is True
    assert entries["12345"].violations == []  # a Canvas id is not a course id: nothing to compare


def test_canvas_roster_maps_to_course_ids_and_flags_a_copied_zip(tmp_path: Path):
    student_zip(tmp_path / "export" / "doejane_12345_67890_A3_2022123456.zip", "2022123456")
    student_zip(
        tmp_path / "export" / "roesmith_23456_67891_A3_2022123456.zip", "2022123456"
    )  # a copy
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "Student,ID,SIS User ID,Section\n    Points Possible,,,\n"
        "Doe Jane,12345,2022123456,A\nRoe Smith,23456,2022000002,A\n"
    )
    entries = by_id(
        collect_submissions(
            tmp_path / "export", "A3", CONFIG, roster=roster, work_dir=tmp_path / "w"
        )
    )
    assert set(entries) == {"2022123456", "2022000002"}
    assert entries["2022123456"].violations == []
    copied = entries["2022000002"]
    assert copied.id_source == "roster" and copied.manifest_student_id == "2022123456"
    [v] = copied.violations
    assert v["rule"] == "student-id-mismatch" and v["severity"] == "error"
    assert "2022123456" in v["message"] and "2022000002" in v["message"]


def test_canvas_export_archive_keeps_the_latest_attempt_by_export_time(tmp_path: Path):
    early = student_zip(tmp_path / "src" / "early.zip", "2022123456")
    late = student_zip(tmp_path / "src" / "late.zip", "2022123456")
    export = zip_of_files(
        tmp_path / "submissions.zip",
        {
            "doejane_12345_99999_A3_2022123456.zip": early,  # larger attachment id, but older
            "doejane_12345_11111_A3_2022123456-1.zip": late,
        },
        dates={
            "doejane_12345_99999_A3_2022123456.zip": (2024, 3, 1, 9, 0, 0),
            "doejane_12345_11111_A3_2022123456-1.zip": (2024, 3, 2, 9, 0, 0),
        },
    )
    [entry] = collect_submissions(export, "A3", CONFIG, work_dir=tmp_path / "w")
    assert entry.path.name == "doejane_12345_11111_A3_2022123456-1.zip"
    assert entry.time_source == "export-member-date"
    assert [p.name for p in entry.other_attempts] == ["doejane_12345_99999_A3_2022123456.zip"]
    assert any("2 attempts" in n for n in entry.notes)
    assert entry.path.is_relative_to(tmp_path / "w")


def test_canvas_loose_uploads_are_gathered_under_their_original_names(tmp_path: Path):
    export = tmp_path / "export"
    export.mkdir()
    for attachment, (name, data) in enumerate(CONTENT.items(), start=100):
        (export / f"doejane_LATE_12345_{attachment}_{name}").write_bytes(data)
    (export / "grades.csv").write_text("not a submission")
    [entry] = collect_submissions(export, "A3", CONFIG, work_dir=tmp_path / "w")
    assert (entry.student_id, entry.late) == ("12345", True)
    assert sorted(p.name for p in entry.path.iterdir()) == sorted(REQUIRED)
    assert any("loose files" in n for n in entry.notes)


def test_equal_times_fall_back_to_the_canvas_upload_counter(tmp_path: Path):
    export = tmp_path / "export"
    for attachment in ("500", "70"):
        student_zip(export / f"doejane_12345_{attachment}_A3_2022123456.zip", "2022123456")
        os.utime(
            export / f"doejane_12345_{attachment}_A3_2022123456.zip", (1_700_000_000, 1_700_000_000)
        )
    [entry] = collect_submissions(export, "A3", CONFIG, lms="canvas", work_dir=tmp_path / "w")
    assert entry.path.name.startswith("doejane_12345_500_")


def test_moodle_export_with_participant_folders(tmp_path: Path):
    one = student_zip(tmp_path / "src" / "a.zip", "2022123456")
    two = student_zip(tmp_path / "src" / "b.zip", "2022000002")
    export = zip_of_files(
        tmp_path / "moodle.zip",
        {
            "Jane Doe_12345_assignsubmission_file_/A3_2022123456.zip": one,
            "José Núñez_23456_assignsubmission_file_/A3_2022000002.zip": two,
            "José Núñez_23456_assignsubmission_onlinetext_/onlinetext.html": b"<p>hi</p>",
        },
    )
    entries = by_id(
        collect_submissions(
            export,
            "A3",
            CONFIG,
            roster={"12345": "2022123456", "23456": "2022000002"},
            work_dir=tmp_path / "w",
        )
    )
    assert set(entries) == {"2022123456", "2022000002"}
    assert entries["2022000002"].lms == "moodle" and entries["2022000002"].name == "José Núñez"
    assert all(e.violations == [] for e in entries.values())


def test_moodle_loose_files_are_gathered_into_one_submission(tmp_path: Path):
    folder = tmp_path / "export" / "Jane Doe_12345_assignsubmission_file_"
    folder.mkdir(parents=True)
    for name, data in CONTENT.items():
        (folder / name).write_bytes(data)
    [entry] = collect_submissions(tmp_path / "export", "A3", CONFIG, work_dir=tmp_path / "w")
    assert entry.student_id == "12345" and entry.path.is_dir()
    assert sorted(p.name for p in entry.path.iterdir()) == sorted(REQUIRED)
    intake = extract_submission(entry.path, tmp_path / "dest", CONFIG)
    assert intake.ok and rules_of(intake) == ["zip-manifest"]  # loose files: no manifest


GRADESCOPE_YML = """\
submission_101:
  :submitters:
  - :name: Jane Doe
    :sid: '2022123456'
    :email: jane@example.edu
  :created_at: 2024-03-01 10:00:00.123456789 -0800
  :score: 0.0
  :status: processed
  :results:
    :tests:
    - :name: t
      :created_at: 2030-01-01 00:00:00 +0000
submission_102:
  :submitters:
  - :name: Roe Smith
    :sid: "2022000002"
    :email: roe@example.edu
  :created_at: 2024-03-01 11:00:00.000000000 -0800
submission_103:
  :submitters:
  - :name: Jane Doe
    :sid: '2022123456'
    :email: jane@example.edu
  :created_at: 2024-03-02 09:00:00.000000000 -0800
"""


def test_gradescope_export_uses_metadata_ids_and_times(tmp_path: Path):
    root = tmp_path / "assignment_42_export"
    (root / "submission_101").mkdir(parents=True)
    for name, data in good_members("2022123456").items():
        (root / "submission_101" / name).write_bytes(data)
    student_zip(root / "submission_102" / "A3_2022000002.zip", "2022123456")  # someone else's zip
    student_zip(root / "submission_103" / "A3_2022123456.zip", "2022123456")
    (root / "submission_metadata.yml").write_text(GRADESCOPE_YML)
    export = zip_of_files(
        tmp_path / "export.zip",
        {p.relative_to(tmp_path).as_posix(): p for p in sorted(root.rglob("*")) if p.is_file()},
    )
    entries = by_id(collect_submissions(export, "A3", CONFIG, work_dir=tmp_path / "w"))
    assert set(entries) == {"2022123456", "2022000002"}
    jane = entries["2022123456"]
    assert jane.lms == "gradescope" and jane.time_source == "lms-metadata"
    assert jane.submitted_at == datetime(2024, 3, 2, 17, 0, tzinfo=timezone.utc)
    assert jane.path.name == "A3_2022123456.zip" and jane.path.parent.name == "submission_103"
    assert [p.name for p in jane.other_attempts] == ["submission_101"]
    [v] = entries["2022000002"].violations
    assert v["rule"] == "student-id-mismatch"


def test_gradescope_metadata_parser_reads_only_the_submission_level():
    meta = parse_gradescope_metadata(GRADESCOPE_YML)
    assert meta["submission_101"]["created_at"] == "2024-03-01 10:00:00.123456789 -0800"
    assert meta["submission_101"]["submitters"] == [
        {"name": "Jane Doe", "sid": "2022123456", "email": "jane@example.edu"}
    ]
    assert meta["submission_102"]["submitters"][0]["sid"] == "2022000002"


def test_gradescope_group_submission_gives_one_entry_per_submitter(tmp_path: Path):
    root = tmp_path / "export"
    student_zip(root / "submission_7" / "A3_2022123456.zip", "2022123456")
    (root / "submission_metadata.yml").write_text(
        "submission_7:\n  :submitters:\n  - :name: A\n    :sid: '1'\n  - :name: B\n    :sid: '2'\n"
        "  :created_at: 2024-03-01 10:00:00 +0000\n"
    )
    entries = collect_submissions(root, "A3", CONFIG, work_dir=tmp_path / "w")
    assert sorted(e.student_id for e in entries) == ["1", "2"]


def test_gradescope_ids_and_times_keep_the_text_written():
    """YAML 1.1 would read an unquoted 0123 as the number 83 and a time as its own datetime."""
    meta = parse_gradescope_metadata(
        "submission_1:\n  :submitters:\n  - :sid: 0123\n  - :sid: 2022123456\n"
        "  :created_at: 2030-01-01 00:00:00.000000000 +00:00\n"
    )
    assert meta["submission_1"]["submitters"] == [{"sid": "0123"}, {"sid": "2022123456"}]
    assert meta["submission_1"]["created_at"] == "2030-01-01 00:00:00.000000000 +00:00"


def test_gradescope_ruby_tags_in_the_results_are_data_not_a_refusal():
    meta = parse_gradescope_metadata(
        "submission_1:\n  :submitters:\n  - :sid: s01\n"
        "  :results: !ruby/hash:ActiveSupport::HashWithIndifferentAccess\n"
        "    score: !ruby/object:BigDecimal 18:0.1e2\n"
    )
    assert meta["submission_1"]["submitters"] == [{"sid": "s01"}]


def test_gradescope_aliased_submitters_are_read_as_yaml_means_them():
    meta = parse_gradescope_metadata(
        "submission_1:\n  :submitters: &group\n  - :sid: s01\n  - :sid: s02\n"
        "submission_2:\n  :submitters: *group\n"
    )
    assert meta["submission_2"]["submitters"] == [{"sid": "s01"}, {"sid": "s02"}]


def test_gradescope_sid_tagged_as_text_is_text():
    meta = parse_gradescope_metadata("submission_1:\n  :submitters:\n  - :sid: !!str 0123\n")
    assert meta["submission_1"]["submitters"] == [{"sid": "0123"}]


@pytest.mark.parametrize("value", ["", " ~", " null"])
def test_gradescope_null_created_at_is_no_time(value: str):
    meta = parse_gradescope_metadata(f"submission_1:\n  :created_at:{value}\n")
    assert meta["submission_1"]["created_at"] is None


def test_gradescope_quoted_tilde_is_text_not_null():
    meta = parse_gradescope_metadata("submission_1:\n  :submitters:\n  - :name: '~'\n")
    assert meta["submission_1"]["submitters"] == [{"name": "~"}]


def test_gradescope_metadata_with_a_byte_order_mark_and_crlf_is_read():
    meta = parse_gradescope_metadata("\ufeffsubmission_1:\r\n  :submitters:\r\n  - :sid: s01\r\n")
    assert meta["submission_1"]["submitters"] == [{"sid": "s01"}]


def test_gradescope_submitter_without_sid_is_identified_by_email_through_the_roster(tmp_path: Path):
    root = tmp_path / "export"
    student_zip(root / "submission_7" / "A3_x.zip", "2022123456")
    (root / "submission_metadata.yml").write_text(
        "submission_7:\n  :submitters:\n  - :name: A\n    :email: a@example.edu\n"
    )
    [entry] = collect_submissions(root, "A3", CONFIG, roster={"a@example.edu": "2022123456"},
                                  work_dir=tmp_path / "w")
    assert entry.lms_id == "a@example.edu" and entry.student_id == "2022123456"
    assert "no student id (sid)" in " ".join(entry.notes)


def test_plain_folder_grades_under_the_file_name_and_flags_a_renamed_copy(tmp_path: Path):
    student_zip(tmp_path / "in" / "A3_2022123456.zip", "2022123456")
    student_zip(tmp_path / "in" / "A3_2022000002.zip", "2022123456")  # a friend's zip, renamed
    student_zip(tmp_path / "in" / "A4_2022000003.zip", "2022000003")  # another assignment
    entries = by_id(collect_submissions(tmp_path / "in", "A3", CONFIG, work_dir=tmp_path / "w"))
    assert entries["2022123456"].violations == []
    assert [v["rule"] for v in entries["2022000002"].violations] == ["student-id-mismatch"]
    # no pattern matched: the manifest never names the owner; a safe name, listed for review
    assert "2022000003" not in entries
    [odd] = [e for sid, e in entries.items() if sid.startswith("unidentified_")]
    assert odd.lms == "unknown" and odd.id_source == "unidentified"
    assert "matches no file-name pattern" in odd.unidentified
    assert "'2022000003'" in odd.unidentified  # what the manifest claims, for the TA to check


def test_custom_pattern_finds_the_lms_id(tmp_path: Path):
    student_zip(tmp_path / "in" / "hw3-s0042-final.zip", "2022123456")
    [entry] = collect_submissions(
        tmp_path / "in", "A3", CONFIG, pattern=r"hw3-(?P<lms_id>s\d+)-", work_dir=tmp_path / "w"
    )
    assert entry.student_id == "s0042" and entry.lms == "custom"


def test_pattern_without_lms_id_group_is_refused(tmp_path: Path):
    with pytest.raises(IntakeError, match="lms_id"):
        collect_submissions(tmp_path, "A3", CONFIG, pattern=r"(\d+)")


def test_one_student_zip_given_as_the_export_is_one_submission(tmp_path: Path):
    src = student_zip(tmp_path / "A3_2022123456.zip", "2022123456")
    [entry] = collect_submissions(src, "A3", CONFIG, work_dir=tmp_path / "w")
    assert entry.student_id == "2022123456" and entry.path == src


def test_unsafe_export_archive_is_refused_without_writing_outside(tmp_path: Path):
    export = zip_of_files(tmp_path / "export.zip", {"../../evil.zip": b"x"})
    before = tree(tmp_path)
    with pytest.raises(IntakeError) as info:
        collect_submissions(export, "A3", CONFIG, work_dir=tmp_path / "w")
    assert info.value.status == "unsafe-path"
    assert tree(tmp_path) - before <= {"w", "w/export"}


def test_roster_without_the_needed_columns_names_them(tmp_path: Path):
    (tmp_path / "r.csv").write_text("name,email\nJane,j@x\n")
    with pytest.raises(IntakeError, match="lms_id"):
        load_roster(tmp_path / "r.csv")


def test_lms_times_parse_with_offsets():
    assert parse_lms_time("2024-03-01 10:00:00.5 -0800") == datetime(
        2024, 3, 1, 18, 0, 0, 500000, tzinfo=timezone.utc
    )
    assert parse_lms_time("2024-03-01T10:00:00Z") == datetime(2024, 3, 1, 10, tzinfo=timezone.utc)
    assert parse_lms_time("yesterday") is None


def test_lms_time_with_a_colon_in_the_offset_and_nanoseconds():
    assert parse_lms_time("2019-01-28 11:22:01.491343000 -08:00") == datetime(
        2019, 1, 28, 19, 22, 1, 491343, tzinfo=timezone.utc
    )


def test_lms_time_without_a_zone_is_utc():
    assert parse_lms_time("2024-03-01 10:00:00") == datetime(2024, 3, 1, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["2024-03-01", "10:00:00", "2024", "March 3", "2024-03-01 10:00"])
def test_lms_time_missing_a_part_is_none_not_filled_from_today(text: str):
    assert parse_lms_time(text) is None


@pytest.mark.parametrize("text", ["2024-03-01 10:00:00 PST", "2024-13-01 10:00:00 +0000",
                                  "2024-03-01 10:00:00 +9999", "9" * 50])
def test_lms_time_that_cannot_be_one_instant_is_none(text: str):
    assert parse_lms_time(text) is None


def test_entries_serialize_to_json(tmp_path: Path):
    student_zip(tmp_path / "in" / "A3_2022123456.zip", "2022123456")
    [entry] = collect_submissions(tmp_path / "in", "A3", CONFIG)
    data = json.loads(json.dumps(entry.to_dict()))
    assert data["student_id"] == "2022123456" and data["time_source"] == "file-mtime"



# --- who decides (the manifest never does) ------------------------------------------------


def test_a_zip_named_by_no_pattern_cannot_take_a_classmates_identity(tmp_path: Path):
    student_zip(tmp_path / "in" / "A3_s77.zip", "s77", date=(2024, 3, 1, 12, 0, 0))
    student_zip(tmp_path / "in" / "my homework.zip", "s77", date=(2024, 3, 2, 12, 0, 0))  # newer
    entries = by_id(collect_submissions(tmp_path / "in", "A3", CONFIG, work_dir=tmp_path / "w"))
    own = entries["s77"]
    assert own.path.name == "A3_s77.zip" and own.other_attempts == []
    [odd] = [e for sid, e in entries.items() if sid != "s77"]
    assert odd.id_source == "unidentified" and odd.path.name == "my homework.zip"
    assert "'s77'" in odd.unidentified  # the claim is shown for a human, never acted on


@pytest.mark.parametrize("claim", ["../../x", "/tmp/abs", "zz/../v2", "a\x00b", "grades.csv",
                                   "<img src=x onerror=alert(1)>", "=HYPERLINK(\"x\")"])
def test_a_hostile_manifest_id_never_becomes_the_student_id(tmp_path: Path, claim: str):
    student_zip(tmp_path / "in" / "upload.zip", claim)
    [entry] = collect_submissions(tmp_path / "in", "A3", CONFIG, work_dir=tmp_path / "w")
    assert entry.student_id.startswith("unidentified_") and entry.id_source == "unidentified"
    assert "\x00" not in entry.unidentified


@pytest.mark.parametrize("name", ["A3_grades.csv.zip", "A3_-cmd.zip", "A3_con.zip"])
def test_a_file_name_id_that_is_not_a_valid_id_is_unidentified(tmp_path: Path, name: str):
    student_zip(tmp_path / "in" / name, "s1")
    [entry] = collect_submissions(tmp_path / "in", "A3", CONFIG, work_dir=tmp_path / "w")
    assert entry.id_source == "unidentified" and "cannot be used" in entry.unidentified


def test_a_roster_id_that_is_not_a_valid_id_is_unidentified(tmp_path: Path):
    student_zip(tmp_path / "export" / "doejane_12345_67890_A3.zip", "s1")
    [entry] = collect_submissions(tmp_path / "export", "A3", CONFIG, roster={"12345": "../x"},
                                  work_dir=tmp_path / "w")
    assert entry.id_source == "unidentified"


def test_a_moodle_looking_file_in_a_canvas_export_is_read_the_canvas_way(tmp_path: Path):
    export = tmp_path / "export"
    student_zip(export / "victimvic_111_70001_A3.zip", "s111")
    student_zip(export / "doejane_LATE_222_70002_A3.zip", "s222")
    # the attacker (Canvas user 333, late) uploads a file named like Moodle's pattern for user 111
    student_zip(export / "attackeran_LATE_333_70003_h_111_assignsubmission_file_A3.zip", "s111")
    entries = by_id(collect_submissions(export, "A3", CONFIG, work_dir=tmp_path / "w"))
    assert set(entries) == {"111", "222", "333"}
    assert entries["111"].path.name == "victimvic_111_70001_A3.zip"
    assert entries["111"].other_attempts == []
    assert entries["333"].lms == "canvas" and entries["333"].late is True
    assert entries["222"].late is True


def test_a_canvas_looking_file_in_a_moodle_export_is_read_the_moodle_way(tmp_path: Path):
    export = tmp_path / "export"
    student_zip(export / "Vic Tim_111_assignsubmission_file_" / "A3.zip", "s111")
    student_zip(export / "At Tacker_333_assignsubmission_file_" / "x_111_9_A3.zip", "s111")
    entries = by_id(collect_submissions(export, "A3", CONFIG, work_dir=tmp_path / "w"))
    assert set(entries) == {"111", "333"}
    assert entries["111"].path.name == "A3.zip" and entries["111"].other_attempts == []
