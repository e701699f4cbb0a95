"""Submission zips built by the intake tests themselves (no binary fixtures in the repository):
what `autograder submit` puts in a zip, members with raw modes or flags, and an A3-like config.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zipfile
from pathlib import Path

from autograder.core.config import parse_config

NB = "linear_classifier.ipynb"
SVM = "svm_best_model.npz"
SOFTMAX = "softmax_best_model.npz"
REQUIRED = (NB, SVM, SOFTMAX)
CONTENT = {
    NB: b'{"cells": [], "nbformat": 4, "nbformat_minor": 5, "metadata": {}}\n',
    SVM: b"svm model bytes",
    SOFTMAX: b"softmax model bytes",
}


def make_config(structure: str = "warning", manifest: str = "error", mismatch: str = "error"):
    return parse_config(
        {
            "assignment": {"name": "A3", "notebooks": [NB], "required_files": list(REQUIRED)},
            "rules": {
                "zip-structure": {"severity": structure, "deduction": 0.0},
                "zip-manifest": {"severity": manifest, "deduction": 2.0},
                "student-id-mismatch": {"severity": mismatch, "deduction": 0.0},
            },
        }
    )


CONFIG = make_config()


def manifest_for(
    files: dict[str, bytes], student_id: str = "2022123456", assignment: str = "A3"
) -> bytes:
    return json.dumps(
        {
            "assignment": assignment,
            "student_id": student_id,
            "kit_version": "0.1.0",
            "numpy_version": "2.0",
            "release_version": "1",
            "created_at": "2024-01-01T00:00:00+00:00",
            "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
        }
    ).encode()


def good_members(student_id: str = "2022123456", prefix: str = "") -> dict[str, bytes]:
    """What `autograder submit` puts in a zip, optionally under a folder prefix."""
    members = {prefix + name: data for name, data in CONTENT.items()}
    members[prefix + "MANIFEST.json"] = manifest_for(CONTENT, student_id)
    return members


def write_zip(
    path: Path,
    members: dict[str, bytes],
    date=(2024, 3, 1, 12, 0, 0),
    compression: int = zipfile.ZIP_DEFLATED,
) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=date)
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return path


def add_member(path: Path, name: str, data: bytes, mode: int | None = None) -> Path:
    """Append one member, with raw unix mode bits when given."""
    with zipfile.ZipFile(path, "a") as zf:
        info = zipfile.ZipInfo(name, date_time=(2024, 3, 1, 12, 0, 0))
        if mode is not None:
            info.external_attr = mode << 16
            info.create_system = 3
        zf.writestr(info, data)
    return path


def set_flag_bits(path: Path, name: str, bits: int) -> Path:
    """Set general-purpose flag bits of one member in both its headers (zipfile resets them)."""
    data = bytearray(path.read_bytes())
    raw = name.encode()
    for sig, flag_at, name_len_at, name_at in (
        (b"PK\x03\x04", 6, 26, 30),
        (b"PK\x01\x02", 8, 28, 46),
    ):
        at = data.find(sig)
        while at >= 0:
            (length,) = struct.unpack_from("<H", data, at + name_len_at)
            if bytes(data[at + name_at : at + name_at + length]) == raw:
                (flags,) = struct.unpack_from("<H", data, at + flag_at)
                struct.pack_into("<H", data, at + flag_at, flags | bits)
            at = data.find(sig, at + 4)
    path.write_bytes(bytes(data))
    return path


def tree(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")}


def rules_of(intake) -> list[str]:
    return [v["rule"] for v in intake.violations]


def student_zip(path: Path, student_id: str, date=(2024, 3, 1, 12, 0, 0)) -> Path:
    """A zip as `autograder submit` makes it, written at `path` (its folders made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_zip(path, good_members(student_id), date=date)
