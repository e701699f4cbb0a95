"""One submission zip: its file set (rule zip-structure) and its MANIFEST.json (rule zip-manifest).

`extract_submission(zip_path, dest_dir, config) -> Intake` unpacks one student's zip (or a folder
of loose files) with `autograder.core.archive`'s limits into a private folder, then matches its
files to the assignment's required names and verifies them against the manifest written by
`autograder submit`. Every failure becomes the returned `Intake.status` with a clear message: no
exception escapes, nothing is written outside `dest_dir`.

The student side runs it on the zip it just made (what the student uploads is what grades); the
grader runs it on every student's submission. Rules and statuses: docs/submission.md.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from autograder.core.archive import (
    CHUNK,
    STUDENT_LIMITS,
    ExtractLimits,
    IntakeError,
    MiB,
    copy_folder,
    empty_folder,
    is_litter,
    prepare_dest,
    safe_extract,
    walk_files,
)
from autograder.core.config import AssignmentConfig

MANIFEST_NAME = "MANIFEST.json"
MAX_MANIFEST_BYTES = 1 * MiB  # a real manifest is a few hundred bytes


@dataclass
class Intake:
    """One student's extracted submission and what rule zip-structure/zip-manifest found."""

    status: str
    message: str
    source: Path
    root: Path
    files: dict[str, Path] = field(default_factory=dict)  # expected name -> extracted file
    violations: list[dict[str, Any]] = field(default_factory=list)
    manifest: dict[str, Any] | None = None
    extra: list[str] = field(default_factory=list)  # members ignored with a warning
    ignored: list[str] = field(default_factory=list)  # OS litter ignored silently

    @property
    def ok(self) -> bool:
        """True when the submission can be graded (status "ok")."""
        return self.status == "ok"

    @property
    def manifest_student_id(self) -> str | None:
        """The student id MANIFEST.json claims, when it holds a string (never trusted alone)."""
        value = (self.manifest or {}).get("student_id")
        return value if isinstance(value, str) else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (paths as strings)."""
        return {
            "status": self.status,
            "message": self.message,
            "source": str(self.source),
            "files": {k: str(v) for k, v in self.files.items()},
            "violations": list(self.violations),
            "extra": list(self.extra),
            "ignored": list(self.ignored),
        }


def violation(
    config: AssignmentConfig, rule: str, message: str, severity: str | None = None
) -> dict[str, Any]:
    """A violation in report.json's form; severity from assignment.toml unless forced."""
    return {
        "rule": rule,
        "severity": severity or config.rule(rule).severity,
        "message": message,
        "cell": None,
        "deduction": 0.0,  # the scorer applies assignment.toml's deductions and caps
    }


# ---------------------------------------------------------------------------------------------
# Rule zip-structure: the exact file set


_RENAMES = (
    re.compile(r"^copy of\s+", re.I),  # Google Drive / Colab: "Copy of x"
    re.compile(r"\s*\(\d+\)$"),  # browsers, Windows: "x (1)"
    re.compile(r"-copy\d*$", re.I),  # Jupyter "Make a copy": "x-Copy1"
    re.compile(r"\s+-\s+copy(\s*\(\d+\))?$", re.I),  # Windows Explorer: "x - Copy (2)"
    re.compile(r"\s+copy(\s+\d+)?$", re.I),  # macOS Finder: "x copy 2"
)


def canonical_name(name: str) -> str:
    """The name a renamed copy came from: 'Copy of x (1).ipynb' -> 'x.ipynb' (case-folded)."""
    path = PurePosixPath(name)
    stem, suffix = path.stem.strip(), path.suffix
    while True:
        before = stem
        for pattern in _RENAMES:
            stem = pattern.sub("", stem).strip()
        if stem == before:
            return (stem + suffix).casefold()


def _depth(rel: str) -> int:
    return rel.count("/")


def match_files(
    found: Iterable[str], required: Iterable[str]
) -> tuple[dict[str, str], dict[str, str], list[str]]:
    """Match extracted paths to the required names.

    Returns (expected -> path, expected -> path of those matched only by a renamed copy, the
    paths left over). An exact name wins over a renamed copy; the shallowest path wins among
    equals, so a stray copy in a subfolder never replaces the file at the root.
    """
    pool = sorted(found, key=lambda r: (_depth(r), r))
    matched: dict[str, str] = {}
    renamed: dict[str, str] = {}
    for name in required:
        exact = [r for r in pool if PurePosixPath(r).name == name]
        if exact:
            matched[name] = exact[0]
            pool.remove(exact[0])
    for name in required:
        if name in matched:
            continue
        similar = [r for r in pool if canonical_name(PurePosixPath(r).name) == name.casefold()]
        if similar:
            matched[name] = renamed[name] = similar[0]
            pool.remove(similar[0])
    return matched, renamed, pool


def _structure_violations(
    config: AssignmentConfig, matched: dict[str, str], renamed: dict[str, str], extra: list[str]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    folders = sorted({str(PurePosixPath(r).parent) for r in matched.values() if "/" in r})
    if folders:
        where = ", ".join(f"'{f}/'" for f in folders)
        out.append(
            violation(
                config,
                "zip-structure",
                f"The files are inside the folder {where} instead of at the zip root; graded "
                "anyway. Make the zip with `autograder submit`, which puts them at the root.",
            )
        )
    for expected, rel in renamed.items():
        out.append(
            violation(
                config,
                "zip-structure",
                f"'{PurePosixPath(rel).name}' should be named '{expected}'; graded as "
                f"'{expected}'. Do not rename the kit's files.",
            )
        )
    for expected in config.required_files:
        if expected not in matched:
            out.append(
                violation(
                    config,
                    "zip-structure",
                    f"'{expected}' is missing from the zip; make the zip with `autograder submit`, "
                    "which lists what is missing.",
                )
            )
    if extra:
        shown = ", ".join(f"'{r}'" for r in extra[:10]) + (" ..." if len(extra) > 10 else "")
        out.append(
            violation(
                config,
                "zip-structure",
                f"Extra files ignored: {shown}. Only the kit's files are graded.",
                severity="warning",
            )
        )
    return out


# ---------------------------------------------------------------------------------------------
# Rule zip-manifest


def sha256_file(path: Path) -> str:
    """The file's sha256 as lowercase hex (what MANIFEST.json records), read in CHUNK pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def parse_manifest(data: bytes) -> dict[str, Any]:
    """MANIFEST.json bytes -> dict, or ValueError with a short reason."""
    if len(data) > MAX_MANIFEST_BYTES:
        raise ValueError("larger than a manifest can be")
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files", {}), dict):
        raise ValueError("not a manifest (no 'files' table)")
    return manifest


def _manifest_violations(
    config: AssignmentConfig, root: Path, manifest_rel: str | None, matched: dict[str, str]
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    if manifest_rel is None:
        return None, [
            violation(
                config,
                "zip-manifest",
                f"No {MANIFEST_NAME}: the zip was not made with `autograder submit`, so its "
                "files cannot be verified. Use `autograder submit` next time.",
            )
        ]
    try:
        manifest = parse_manifest((root / manifest_rel).read_bytes())
    except (OSError, ValueError) as exc:
        return None, [violation(config, "zip-manifest", f"{MANIFEST_NAME} is damaged: {exc}.")]
    out: list[dict[str, Any]] = []
    if manifest.get("assignment") not in (None, config.name):
        out.append(
            violation(
                config,
                "zip-manifest",
                f"{MANIFEST_NAME} is for assignment {manifest.get('assignment')!r}, graded as "
                f"{config.name}: check you submitted the right zip.",
            )
        )
    hashes = manifest.get("files", {})
    for expected, rel in matched.items():
        recorded = hashes.get(expected)
        if recorded is None:
            out.append(
                violation(config, "zip-manifest", f"'{expected}' is not listed in {MANIFEST_NAME}.")
            )
        elif str(recorded).lower() != sha256_file(root / rel):
            out.append(
                violation(
                    config,
                    "zip-manifest",
                    f"'{expected}' was changed after the zip was made (its sha256 differs from "
                    f"{MANIFEST_NAME}). Re-run `autograder submit` after your last edit.",
                )
            )
    return manifest, out


# ---------------------------------------------------------------------------------------------
# One student's submission


def extract_submission(
    zip_path: str | Path,
    dest_dir: str | Path,
    config: AssignmentConfig,
    limits: ExtractLimits = STUDENT_LIMITS,
) -> Intake:
    """Extract one submission (a zip, or a folder of loose files) and check its structure.

    Never raises: every problem is the returned Intake's `status` and `message`. `dest_dir` must
    not exist or be empty; nothing is written outside it.
    """
    source, root = Path(zip_path), Path(dest_dir)
    try:
        if source.is_dir():
            prepare_dest(root)
            try:
                members = copy_folder(source, root, limits)
            except BaseException:
                empty_folder(root)
                raise
        else:
            members = safe_extract(source, root, limits)
        return _analyse(source, root, members, config)
    except IntakeError as exc:
        # name the file once: some messages start with it already ("A4_s15.zip is incomplete")
        named = exc.message if exc.message.startswith(source.name) else f"{source.name}: {exc.message}"
        return Intake(status=exc.status, message=named, source=source, root=root)
    except Exception as exc:  # a bug must cost one student a clear status, not the batch
        return Intake(
            status="internal-error",
            message=f"{source.name}: intake failed ({type(exc).__name__}: {exc})",
            source=source,
            root=root,
        )


def _analyse(source: Path, root: Path, members: list[str], config: AssignmentConfig) -> Intake:
    ignored = [m for m in members if is_litter(m)]
    useful = [m for m in members if not is_litter(m)]
    manifests = sorted(
        (m for m in useful if PurePosixPath(m).name == MANIFEST_NAME), key=lambda r: (_depth(r), r)
    )
    manifest_rel = manifests[0] if manifests else None
    others = [m for m in useful if m != manifest_rel]
    matched, renamed, extra = match_files(others, config.required_files)
    violations = _structure_violations(config, matched, renamed, extra)
    manifest, manifest_violations = _manifest_violations(config, root, manifest_rel, matched)
    intake = Intake(
        status="ok",
        message=f"{source.name}: extracted",
        source=source,
        root=root,
        files={k: root / v for k, v in matched.items()},
        violations=violations + manifest_violations,
        manifest=manifest,
        extra=extra,
        ignored=ignored,
    )
    missing = [nb for nb in config.notebooks if nb not in matched]
    if missing:
        intake.status = "missing-notebook"
        intake.message = (
            f"{source.name}: {', '.join(missing)} not found in the submission "
            f"(it holds: {', '.join(others[:10]) or 'no files'})"
        )
    return intake



def peek_manifest(path: Path) -> dict[str, Any] | None:
    """The MANIFEST.json of a zip or folder, read with limits and without extracting; None if absent."""
    try:
        if path.is_dir():
            candidates = sorted(
                (rel for rel, _ in walk_files(path) if PurePosixPath(rel).name == MANIFEST_NAME),
                key=lambda r: (_depth(r), r),
            )
            return parse_manifest((path / candidates[0]).read_bytes()) if candidates else None
        with open(path, "rb") as fh, zipfile.ZipFile(fh) as zf:
            infos = [
                i
                for i in zf.infolist()
                if PurePosixPath(i.filename.replace("\\", "/")).name == MANIFEST_NAME
                and not is_litter(i.filename)
            ]
            if not infos:
                return None
            info = min(infos, key=lambda i: (i.filename.count("/"), i.filename))
            if info.flag_bits & 0x1 or info.file_size > MAX_MANIFEST_BYTES:
                return None
            with zf.open(info) as fh_member:
                return parse_manifest(fh_member.read(MAX_MANIFEST_BYTES + 1))
    except Exception:  # a damaged archive is reported by extract_submission, not here
        return None

