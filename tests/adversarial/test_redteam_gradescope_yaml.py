"""Red team: a hostile `submission_metadata.yml` at the top of a Gradescope export.

The metadata decides whose grade each `submission_<id>/` folder is, so it is read with PyYAML but
never trusted as a program: no tag constructs an object, anchors and aliases cannot multiply the
work, a key written twice is not left to the parser's whim, and a file of any size or shape gives
one clear `IntakeError` (never a traceback) or is read as plain data.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.core.archive import IntakeError
from autograder.core.config import parse_config
from autograder.grading.intake import (
    collect_submissions,
    gradescope_metadata,
    parse_gradescope_metadata,
)
from autograder.grading.intake.gradescope_metadata import MAX_METADATA_BYTES, MAX_SUBMITTERS_READ

NB = "two_layer_net.ipynb"
CONFIG = parse_config({"assignment": {"name": "A4", "notebooks": [NB], "required_files": [NB]}})


def _student_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(NB, "{}")
    return buf.getvalue()


def _export(root: Path, metadata: str | bytes, folders: tuple[str, ...] = ("submission_1",)) -> Path:
    """A Gradescope export folder: the metadata file beside one student zip per folder."""
    for folder in folders:
        (root / folder).mkdir(parents=True)
        (root / folder / "A4_s01.zip").write_bytes(_student_zip())
    data = metadata.encode() if isinstance(metadata, str) else metadata
    (root / "submission_metadata.yml").write_bytes(data)
    return root


def _refusal(tmp_path: Path, metadata: str | bytes) -> IntakeError:
    export = _export(tmp_path / "export", metadata)
    with pytest.raises(IntakeError) as info:
        collect_submissions(export, "A4", CONFIG, work_dir=tmp_path / "w")
    assert "Traceback" not in info.value.message
    return info.value


def test_aliases_that_multiply_the_submitters_are_refused(tmp_path: Path) -> None:
    """Billion laughs aimed at what the intake reads: one list of submitters, aliased by many
    submissions, would have the intake build (submissions x submitters) entries."""
    people = "".join(f"  - :sid: s{i}\n" for i in range(2_000))
    refs = "".join(f"submission_{i}:\n  :submitters: *people\n" for i in range(2, 400))
    error = _refusal(tmp_path, f"submission_1:\n  :submitters: &people\n{people}{refs}")
    assert error.status == "corrupt"
    assert str(MAX_SUBMITTERS_READ) in error.message and "aliases" in error.message


def test_a_billion_laughs_in_the_results_costs_nothing_and_the_submitter_is_read(tmp_path: Path) -> None:
    lol = "  :results:\n    a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
    for level in "bcdefghi":  # 9 ** 9 items if anything expanded it
        prev = chr(ord(level) - 1)
        lol += f"    {level}: &{level} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
    metadata = ("submission_1:\n  :submitters:\n  - :sid: s01\n"
                "  :created_at: 2024-03-01 10:00:00 +0000\n" + lol)
    [entry] = collect_submissions(_export(tmp_path / "export", metadata), "A4", CONFIG,
                                  work_dir=tmp_path / "w")
    assert entry.student_id == "s01" and entry.time_source == "lms-metadata"


@pytest.mark.parametrize("tag", [
    "!!python/object/apply:os.system ['touch {marker}']",
    "!!python/object/new:subprocess.Popen [['touch', '{marker}']]",
    "!ruby/object:Gem::Installer\n      i: x",
])
def test_a_tag_never_runs_anything_and_a_tagged_sid_is_no_id(tmp_path: Path, tag: str) -> None:
    marker = tmp_path / "pwned"
    metadata = (
        "submission_1:\n  :submitters:\n"
        f"  - :sid: {tag.format(marker=marker)}\n    :email: s01@example.edu\n"
        f"  :created_at: !!python/object/apply:os.system ['touch {marker}']\n"
    )
    [entry] = collect_submissions(_export(tmp_path / "export", metadata), "A4", CONFIG,
                                  work_dir=tmp_path / "w")
    assert not marker.exists()
    # a tagged sid is not a text value: Gradescope's fallback, the email, names the submitter
    assert entry.lms_id == "s01@example.edu"
    assert entry.submitted_at is None and entry.time_source == "none"


@pytest.mark.parametrize("sid", ["!ruby/object:Sid s01", "!!python/name:os.system ''", "!!int 0123"])
def test_a_tagged_scalar_sid_is_no_id(tmp_path: Path, sid: str) -> None:
    meta = parse_gradescope_metadata(
        f"submission_1:\n  :submitters:\n  - :sid: {sid}\n    :email: s01@example.edu\n"
    )
    assert meta["submission_1"]["submitters"] == [{"email": "s01@example.edu"}]


@pytest.mark.parametrize(("metadata", "key", "expected"), [
    # a submitter's table aliased where a submission goes
    ("submission_1:\n  :submitters:\n  - &p\n    :sid: s01\nsubmission_2: *p\n",
     "submission_2", {"created_at": None, "submitters": []}),
    # a submission's table aliased where a submitter goes
    ("submission_1: &s\n  :created_at: x\nsubmission_2:\n  :submitters:\n  - *s\n",
     "submission_2", {"created_at": None, "submitters": [{}]}),
    # a text aliased where the submitters go
    ("submission_1:\n  :created_at: &t x\n  :submitters: *t\n",
     "submission_1", {"created_at": "x", "submitters": []}),
    # a list aliased where a text goes
    ("submission_1:\n  :submitters: &l\n  - :sid: s01\n  :created_at: *l\n",
     "submission_1", {"created_at": None, "submitters": [{"sid": "s01"}]}),
])
def test_an_alias_to_the_wrong_kind_of_value_counts_as_absent(metadata: str, key: str,
                                                              expected: dict) -> None:
    assert parse_gradescope_metadata(metadata)[key] == expected


def test_an_alias_to_no_anchor_is_refused(tmp_path: Path) -> None:
    error = _refusal(tmp_path, "submission_1:\n  :results: *nowhere\n")
    assert error.status == "corrupt" and "*nowhere names no anchor" in error.message


def test_a_python_tag_on_a_whole_submission_is_read_as_plain_data(tmp_path: Path) -> None:
    meta = parse_gradescope_metadata(
        "submission_1: !!python/object:os.Popen\n  :submitters:\n  - :sid: s01\n"
    )
    assert meta == {"submission_1": {"created_at": None, "submitters": [{"sid": "s01"}]}}


def test_a_submission_written_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    """PyYAML keeps the last of two equal keys without a word; which folder is whose must not
    depend on that."""
    error = _refusal(tmp_path, (
        "submission_1:\n  :submitters:\n  - :sid: s01\n"
        "submission_1:\n  :submitters:\n  - :sid: s02\n"
    ))
    assert error.status == "corrupt"
    assert "'submission_1' is written twice (lines 1 and 4)" in error.message


def test_a_sid_written_twice_in_one_submitter_is_refused(tmp_path: Path) -> None:
    error = _refusal(tmp_path, "submission_1:\n  :submitters:\n  - :sid: s01\n    :sid: s02\n")
    assert error.status == "corrupt" and "'sid' is written twice" in error.message


@pytest.mark.parametrize("document", ["- submission_1\n- submission_2\n", "just text\n", "42\n"])
def test_a_document_that_is_not_a_table_of_submissions_is_refused(tmp_path: Path, document: str) -> None:
    error = _refusal(tmp_path, document)
    assert error.status == "corrupt" and "not a table of submissions" in error.message


def test_two_documents_in_one_file_are_refused(tmp_path: Path) -> None:
    error = _refusal(tmp_path, "submission_1:\n  :created_at: x\n---\nsubmission_1:\n  :created_at: y\n")
    assert error.status == "corrupt" and "submission_metadata.yml cannot be read" in error.message


@pytest.mark.parametrize("nesting", ["[" * 50_000 + "]" * 50_000, "{a: " * 50_000 + "}" * 50_000])
def test_nesting_deeper_than_the_parser_allows_is_a_clear_refusal(tmp_path: Path, nesting: str) -> None:
    error = _refusal(tmp_path, f"submission_1:\n  :results: {nesting}\n")
    assert error.status == "corrupt" and "submission_metadata.yml cannot be read" in error.message


def test_the_nesting_limit_holds_without_libyaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pure-Python parser (a machine without libyaml) has no depth limit of its own."""
    monkeypatch.setattr(gradescope_metadata, "_LOADER", yaml.SafeLoader)
    error = _refusal(tmp_path, "submission_1:\n  :results: " + "[" * 5_000 + "]" * 5_000 + "\n")
    assert error.status == "corrupt"
    assert f"deeper than {gradescope_metadata.MAX_DEPTH} levels" in error.message


def test_a_metadata_file_over_the_limit_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    export = _export(tmp_path / "export", "")
    with open(export / "submission_metadata.yml", "wb") as fh:  # sparse: no disk is used
        fh.truncate(MAX_METADATA_BYTES + 1)
    with pytest.raises(IntakeError) as info:
        collect_submissions(export, "A4", CONFIG, work_dir=tmp_path / "w")
    assert info.value.status == "too-large" and "MiB" in info.value.message


def test_bytes_that_are_not_utf8_do_not_stop_the_export(tmp_path: Path) -> None:
    metadata = b"submission_1:\n  :submitters:\n  - :sid: s01\n    :name: J\xe9r\xf4me\n"
    [entry] = collect_submissions(_export(tmp_path / "export", metadata), "A4", CONFIG,
                                  work_dir=tmp_path / "w")
    assert entry.student_id == "s01" and entry.name is not None


@pytest.mark.parametrize("submission", [
    "  :submitters: s01\n",  # a scalar where the list goes
    "  :submitters:\n    :sid: s01\n",  # a table where the list goes
    "  :submitters:\n  - [s01, s02]\n",  # a list where a submitter goes
    "  :submitters:\n  - :sid: {a: s01}\n",  # a table where the id goes
    "  :submitters:\n  - :sid:\n",  # an empty id
])
def test_wrong_types_leave_the_folder_unidentified_not_a_crash(tmp_path: Path, submission: str) -> None:
    [entry] = collect_submissions(_export(tmp_path / "export", "submission_1:\n" + submission),
                                  "A4", CONFIG, work_dir=tmp_path / "w")
    assert entry.id_source == "unidentified" and entry.student_id.startswith("unidentified_")


# YAML's own punctuation, Ruby keys and a real metadata's lines: text near the parser's edges.
_FRAGMENTS = st.sampled_from([
    "submission_1:", ":submitters:", "- ", ":sid: ", "s01", ":created_at: ", "&a ", "*a", "!!str ",
    "!!python/object/apply:os.system ", "[", "]", "{", "}", ", ", "? ", ": ", "---", "...", "'", '"',
    "|", ">", "#", "%YAML 1.1", "<<: ", "~", "\n", "\n  ", "\n    ", "\t", "\ufeff", "\x00",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8)), max_size=40).map("".join))
def test_any_text_is_read_or_refused_with_a_status_never_an_exception(text: str) -> None:
    try:
        meta = parse_gradescope_metadata(text)
    except IntakeError as exc:
        assert exc.status == "corrupt" and exc.message.startswith("submission_metadata.yml")
        return
    for entry in meta.values():
        assert entry["created_at"] is None or isinstance(entry["created_at"], str)
        assert all(set(p) <= {"sid", "name", "email"} for p in entry["submitters"])


# Documents shaped like the metadata, with anchors and aliases placed anywhere: each node may
# carry an anchor &n0 or &n1, any node may be an alias *n0 or *n1 (defined or not), and each place
# may hold another kind of value (a submitter where a submission goes, a list where a time goes).
# Flow style: Ruby's leading colon is for block style, so the keys go without it here.
_NAME = st.sampled_from(["n0", "n1"])  # few names: an alias often finds its anchor
_ALIAS = _NAME.map(lambda n: f"*{n}")
_SCALAR = st.sampled_from(["s01", "'0123'", "~", "2024-03-01 10:00:00 +0000", "!!str x", "!!int 3",
                           "!ruby/object:X y", "''"])


def _anchored(node: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(st.one_of(st.just(""), _NAME.map(lambda n: f"&{n} ")), node).map("".join)


def _table(fields: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[str]:
    pairs = st.lists(st.sampled_from(sorted(fields)), unique=True, max_size=len(fields)).flatmap(
        lambda keys: st.tuples(*(fields[k].map(lambda v, k=k: f"{k}: {v}") for k in keys)))
    return _anchored(pairs.map(lambda items: "{" + ", ".join(items) + "}"))


_TEXT = st.one_of(_anchored(_SCALAR), _anchored(_SCALAR), _anchored(_SCALAR), _ALIAS)
_ANY = st.recursive(
    _TEXT,
    lambda inner: _anchored(st.lists(inner, max_size=3).map(lambda v: "[" + ", ".join(v) + "]")),
    max_leaves=8,
)
_SUBMITTER = st.one_of(_table({"sid": _TEXT, "name": _TEXT, "email": _ANY}), _ALIAS, _ANY)
_SUBMITTERS = st.one_of(
    _anchored(st.lists(_SUBMITTER, max_size=3).map(lambda v: "[" + ", ".join(v) + "]")), _ANY)
_SUBMISSION = st.one_of(
    _table({"created_at": st.one_of(_TEXT, _SUBMITTERS), "submitters": _SUBMITTERS,
            "results": _ANY}),
    _SUBMITTER,
    _ALIAS,
)
_SUBMISSION_KEY = st.sampled_from(["submission_1", "submission_2", "submission_3"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_SUBMISSION_KEY, _SUBMISSION), max_size=3, unique_by=lambda p: p[0]))
def test_any_metadata_shaped_document_with_aliases_is_read_or_refused(pairs: list) -> None:
    text = "".join(f"{key}: {node}\n" for key, node in pairs)
    try:
        meta = parse_gradescope_metadata(text)
    except IntakeError as exc:
        assert exc.status == "corrupt" and exc.message.startswith("submission_metadata.yml")
        return
    for entry in meta.values():
        assert set(entry) == {"created_at", "submitters"}
        assert entry["created_at"] is None or isinstance(entry["created_at"], str)
        assert all(set(p) <= {"sid", "name", "email"} for p in entry["submitters"])
        assert all(isinstance(v, str) for p in entry["submitters"] for v in p.values())
