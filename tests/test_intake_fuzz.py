"""Fuzzing the intake: random and mutated archives never crash it and never write outside.

Each example runs in a fresh parent folder holding the archive and a sibling folder; after
`extract_submission`, the only new paths in that parent may be under `dest/`, and `dest/` holds
only regular files and folders (no links, no devices).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autograder.core.archive import STATUSES, ExtractLimits
from autograder.core.config import parse_config
from autograder.core.submission_zip import Intake, extract_submission

NB = "linear_classifier.ipynb"
CONFIG = parse_config(
    {
        "assignment": {
            "name": "A3",
            "notebooks": [NB],
            "required_files": [NB, "svm_best_model.npz"],
        },
    }
)
# Small limits so that size and count checks are reached by small fuzzed inputs too.
LIMITS = ExtractLimits(
    max_members=20,
    max_member_bytes=64 * 1024,
    max_total_bytes=128 * 1024,
    ratio_min_bytes=4096,
    max_archive_bytes=1024 * 1024,
)
pytestmark = pytest.mark.filterwarnings("ignore:Duplicate name")
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _valid_zip(compression: int, prefix: str = "") -> bytes:
    files = {NB: b'{"cells": [], "nbformat": 4}', "svm_best_model.npz": bytes(range(256)) * 4}
    manifest = {
        "assignment": "A3",
        "student_id": "1",
        "files": {k: hashlib.sha256(v).hexdigest() for k, v in files.items()},
    }
    files["MANIFEST.json"] = json.dumps(manifest).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in files.items():
            zf.writestr(prefix + name, data)
    return buf.getvalue()


BASES = [
    _valid_zip(zipfile.ZIP_STORED),
    _valid_zip(zipfile.ZIP_DEFLATED),
    _valid_zip(zipfile.ZIP_DEFLATED, "sub/"),
]


def _snapshot(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def run_intake(archive: bytes) -> None:
    """Extract `archive` in a fresh parent folder and check the two properties."""
    with tempfile.TemporaryDirectory() as tmp:
        parent = Path(tmp)
        (parent / "outside").mkdir()
        (parent / "s.zip").write_bytes(archive)
        before = _snapshot(parent)
        result = extract_submission(parent / "s.zip", parent / "dest", CONFIG, LIMITS)
        assert isinstance(result, Intake)
        assert result.status in STATUSES, result.status
        new = _snapshot(parent) - before
        assert all(p == "dest" or p.startswith("dest/") for p in new), new
        assert (parent / "s.zip").read_bytes() == archive  # never modified
        for path in (parent / "dest").rglob("*"):
            mode = path.lstat().st_mode
            assert stat.S_ISREG(mode) or stat.S_ISDIR(mode), path
        if not result.ok and result.status != "missing-notebook":
            assert not any((parent / "dest").iterdir())  # a refused archive leaves nothing behind


@FUZZ
@given(st.binary(max_size=4096))
def test_random_bytes_never_crash_or_escape(data: bytes):
    run_intake(data)


@st.composite
def mutated_archive(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["flip", "set16", "set32", "truncate", "insert", "delete"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "set16" and len(data) >= at + 2:  # hits sizes, counts, flags, name lengths
            data[at : at + 2] = draw(st.integers(0, 0xFFFF)).to_bytes(2, "little")
        elif kind == "set32" and len(data) >= at + 4:  # hits offsets, CRCs, 32-bit sizes, modes
            data[at : at + 4] = draw(st.integers(0, 0xFFFFFFFF)).to_bytes(4, "little")
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 16))]
    return bytes(data)


@FUZZ
@given(mutated_archive())
def test_mutated_valid_archives_never_crash_or_escape(data: bytes):
    run_intake(data)


NASTY_PARTS = st.sampled_from(
    [
        "..",
        ".",
        "",
        "a",
        "sub",
        NB,
        "MANIFEST.json",
        "__MACOSX",
        "C:",
        "~",
        "..\\x",
        "x\\..\\..",
        "\u00e9",
        " ",
        "outside",
        "dest",
        "s.zip",
        "a" * 300,
    ]
)
# Mostly plain files and folders: one link or device refuses the whole archive before anything
# is written, so it must stay rare for the writing paths to be explored.
KINDS = st.sampled_from([0, stat.S_IFREG, stat.S_IFREG, stat.S_IFDIR])
SPECIAL = st.sampled_from([None, None, None, stat.S_IFLNK, stat.S_IFCHR, stat.S_IFIFO])


@st.composite
def crafted_archive(draw: st.DrawFn) -> bytes:
    """Well-formed zips whose names, modes, flags and sizes are hostile."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        count = draw(st.integers(0, 8))
        special_at = draw(st.integers(0, max(count - 1, 0)))
        special = draw(SPECIAL)
        for index in range(count):
            parts = draw(st.lists(NASTY_PARTS, min_size=1, max_size=4))
            name = draw(st.sampled_from(["", "/", "../"])) + "/".join(parts)
            if not name:
                continue
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            kind = special if special is not None and index == special_at else draw(KINDS)
            info.external_attr = (kind | 0o644) << 16
            info.compress_type = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
            size = draw(st.sampled_from([0, 0, 10, 10, 5000, 70 * 1024]))
            content = draw(st.sampled_from([b"\0", b"x", os.urandom(16)])) * size
            try:
                zf.writestr(info, content[:size] if size else b"")
            except (ValueError, OSError):  # names zipfile itself refuses to write
                continue
    return buf.getvalue()


@FUZZ
@given(crafted_archive())
def test_hostile_names_and_modes_never_escape(data: bytes):
    run_intake(data)
