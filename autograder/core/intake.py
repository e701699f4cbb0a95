"""Intake: safe extraction of submission zips and a class's LMS export (docs/submission.md).

Two jobs, both run by the grader before anything looks at a student's code:

* `extract_submission(zip_path, dest_dir, config) -> Intake` unpacks one student's zip into a
  private directory, refusing anything that could write elsewhere or exhaust the machine, then
  checks rule `zip-structure` (the exact file set) and rule `zip-manifest` (MANIFEST.json written
  by `autograder submit`). Every failure becomes that student's `Intake.status` with a clear
  message: no exception escapes, nothing is written outside `dest_dir`, the archive is opened
  read-only and never modified.
* `collect_submissions(path, assignment, config, ...) -> list[SubmissionEntry]` finds the
  submissions of a class in a folder of zips or in one LMS export archive (Canvas, Moodle,
  Gradescope, or plain `A3_<ID>.zip` names). The LMS is authoritative for who submitted and when;
  the manifest's student id is only compared with it (rule `student-id-mismatch`).

Limits, statuses, LMS presets and time sources are documented in docs/submission.md.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import os
import re
import shutil
import stat
import struct
import tempfile
import time
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from autograder.core.config import AssignmentConfig
from autograder.core.identity import id_problem, shown_id, unidentified_id

MiB = 1024 * 1024
MANIFEST_NAME = "MANIFEST.json"
MAX_MANIFEST_BYTES = 1 * MiB  # a real manifest is a few hundred bytes
CHUNK = 1 * MiB

# OS litter that archivers add on their own: ignored without a word (not the student's doing).
LITTER_DIRS = frozenset({"__MACOSX", ".ipynb_checkpoints"})
LITTER_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


@dataclass(frozen=True)
class ExtractLimits:
    """What one archive may contain before it is refused.

    `max_ratio` only applies to members larger than `ratio_min_bytes`: a small file that
    compresses well harms nobody (an all-zero model compresses ~1000x), a large one is a bomb.
    """

    max_members: int = 200
    max_member_bytes: int = 100 * MiB
    max_total_bytes: int = 300 * MiB
    max_ratio: float = 200.0
    ratio_min_bytes: int = 8 * MiB
    max_archive_bytes: int = 300 * MiB
    # An export holds many students' files: one student's odd member name (too long for a file
    # system, a file where another member needs a folder) is renamed, never the whole export
    # refused. One student's zip refuses such names (the student fixes them).
    rename_odd_members: bool = False


STUDENT_LIMITS = ExtractLimits()
# An LMS export holds a whole class's zips (already compressed, so ratios stay near 1).
EXPORT_LIMITS = ExtractLimits(
    max_members=20_000,
    max_member_bytes=300 * MiB,
    max_total_bytes=20 * 1024 * MiB,
    max_archive_bytes=20 * 1024 * MiB,
    rename_odd_members=True,
)

# status -> what it means; every status but "ok" means the submission cannot be graded as is.
STATUSES: dict[str, str] = {
    "ok": "extracted and checked",
    "not-found": "the submission file does not exist",
    "not-a-zip": "the file is not a zip archive",
    "truncated": "the zip is incomplete (cut off during upload or download)",
    "corrupt": "the zip is damaged (bad headers or checksums)",
    "encrypted": "the zip is password-protected",
    "unsupported": "the zip uses a compression method the grader does not read",
    "unsafe-path": "a member would be written outside the extraction folder",
    "symlink": "the zip contains a symbolic link",
    "special-file": "the zip contains a device, pipe or socket",
    "too-many-files": "the zip has too many members",
    "too-large": "the zip unpacks to too many bytes",
    "zip-bomb": "a member's compression ratio is that of a zip bomb",
    "missing-notebook": "the notebook is not in the submission",
    "io-error": "the extraction folder could not be written",
    "internal-error": "the intake failed unexpectedly (a bug: please report it)",
}


class IntakeError(ValueError):
    """A submission (or a whole export) cannot be used; `status` is a key of STATUSES."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


# ---------------------------------------------------------------------------------------------
# Results


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
        return self.status == "ok"

    @property
    def manifest_student_id(self) -> str | None:
        value = (self.manifest or {}).get("student_id")
        return value if isinstance(value, str) else None

    def to_dict(self) -> dict[str, Any]:
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
# Safe extraction


def shown(name: str) -> str:
    """A member name fit for a message: quoted, shortened, control characters escaped."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in name[:120])
    return f"'{text}{'...' if len(name) > 120 else ''}'"


def _shortened(part: str) -> str:
    """A name component short enough for any file system (255 bytes), the same every time:
    its start, a hash of the whole, its extension."""
    stem, dot, ext = part.rpartition(".")
    ext = f".{ext}" if dot and len(ext) <= 16 else ""
    head = part.encode("utf-8", "surrogateescape")[:120].decode("utf-8", "ignore")
    digest = hashlib.sha256(part.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f"{head}~{digest}{ext}"


def member_parts(name: str, shorten: bool = False) -> tuple[str, ...]:
    """The path components of a member name, or IntakeError("unsafe-path") if it escapes.

    Backslashes count as separators (zips made on Windows use them); `.` and empty components
    are dropped; absolute paths, drive letters, `..` and NUL bytes are refused.
    """
    if "\x00" in name:
        raise IntakeError("unsafe-path", f"member {shown(name)} has a NUL byte in its name")
    posix = name.replace("\\", "/")
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix):
        raise IntakeError("unsafe-path", f"member {shown(name)} has an absolute path")
    parts = tuple(p for p in posix.split("/") if p not in ("", "."))
    if ".." in parts:
        raise IntakeError("unsafe-path", f"member {shown(name)} points outside the archive ('..')")
    if shorten:
        parts = tuple(_shortened(p) if len(p.encode("utf-8", "surrogateescape")) > 255 else p
                      for p in parts)
    if any(len(p.encode("utf-8", "surrogateescape")) > 255 for p in parts) or len(posix) > 4096:
        raise IntakeError(
            "unsafe-path", f"member {shown(name)} has a name too long for a file system"
        )
    return parts


def _member_kind(info: zipfile.ZipInfo) -> str:
    """'dir', 'file', or IntakeError for links and special files (unix mode in external_attr)."""
    mode = (info.external_attr >> 16) & 0xFFFF
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        raise IntakeError("symlink", f"member {shown(info.filename)} is a symbolic link")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise IntakeError(
            "special-file", f"member {shown(info.filename)} is a device, pipe or socket"
        )
    return "dir" if kind == stat.S_IFDIR or info.filename.endswith(("/", "\\")) else "file"


def _eocd_entry_count(path: Path) -> int | None:
    """Members announced by the end-of-central-directory record, read before zipfile does.

    zipfile builds every ZipInfo before we can count them, so a crafted archive with millions of
    empty entries would cost gigabytes of memory first. None when the record is not found.
    """
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        tail = min(size, 22 + 65535)
        fh.seek(size - tail)
        data = fh.read(tail)
    at = data.rfind(b"PK\x05\x06")
    if at < 0 or len(data) - at < 22:
        return None
    (entries,) = struct.unpack("<H", data[at + 10 : at + 12])
    return entries  # 0xFFFF means zip64: more than any limit we use


def _head(path: Path, size: int) -> bytes:
    """The first `size` bytes of the file (fewer if it is shorter); b"" if it cannot be read."""
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError:
        return b""


def _not_a_zip_message(path: Path) -> str:
    """Name what the file really is when we can tell (a renamed .rar or notebook, say)."""
    head = _head(path, 8)
    known = {
        b"Rar!": "a RAR archive",
        b"7z\xbc\xaf": "a 7-Zip archive",
        b"\x1f\x8b": "a gzip file",
        b"{": "a notebook or JSON file",
        b"%PDF": "a PDF",
    }
    for magic, what in known.items():
        if head.lstrip().startswith(magic):
            return f"{path.name} is {what}, not a zip: submit the zip made by `autograder submit`"
    if not head:
        return f"{path.name} is empty: upload the zip made by `autograder submit` again"
    return f"{path.name} is not a zip archive: submit the zip made by `autograder submit`"


@dataclass(frozen=True)
class _Planned:
    info: zipfile.ZipInfo
    parts: tuple[str, ...]
    is_dir: bool


def _plan(infos: list[zipfile.ZipInfo], limits: ExtractLimits) -> list[_Planned]:
    """Check every member against the limits before a single byte is written."""
    if len(infos) > limits.max_members:
        raise IntakeError(
            "too-many-files", f"the zip has {len(infos)} members (limit {limits.max_members})"
        )
    plan: list[_Planned] = []
    seen: set[tuple[str, ...]] = set()
    total = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise IntakeError(
                "encrypted", f"member {shown(info.filename)} is encrypted (password-protected zip)"
            )
        parts = member_parts(info.filename, shorten=limits.rename_odd_members)
        is_dir = _member_kind(info) == "dir"
        if not parts:
            continue  # "./" or "/" alone: nothing to write
        if not is_dir:
            if parts in seen:
                raise IntakeError("corrupt", f"the zip has two members named {'/'.join(parts)!r}")
            seen.add(parts)
            _check_sizes(info, limits)
            total += info.file_size
            if total > limits.max_total_bytes:
                raise IntakeError(
                    "too-large", f"the zip unpacks to more than {limits.max_total_bytes // MiB} MiB"
                )
        plan.append(_Planned(info, parts, is_dir))
    dirs = {p.parts[:i] for p in plan for i in range(1, len(p.parts))}
    clash = seen & dirs
    if clash and limits.rename_odd_members:  # the file moves aside; the folder's files stay
        plan = [_Planned(p.info, (*p.parts[:-1], p.parts[-1] + "~file"), p.is_dir)
                if p.parts in clash and not p.is_dir else p for p in plan]
        clash = set()
    if clash:
        raise IntakeError(
            "corrupt", f"{'/'.join(sorted(clash)[0])!r} is both a file and a folder in the zip"
        )
    return plan


def _check_sizes(info: zipfile.ZipInfo, limits: ExtractLimits) -> None:
    """Declared size and ratio of one member (the copy loop enforces the real byte counts)."""
    name = shown(info.filename)
    if info.file_size > limits.max_member_bytes:
        raise IntakeError(
            "too-large",
            f"member {name} unpacks to {info.file_size // MiB} MiB (limit {limits.max_member_bytes // MiB} MiB)",
        )
    if info.file_size > limits.ratio_min_bytes:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_ratio:
            raise IntakeError(
                "zip-bomb",
                f"member {name} expands {ratio:.0f}x (limit {limits.max_ratio:.0f}x): a zip bomb",
            )


def _zip_time(info: zipfile.ZipInfo) -> float | None:
    """The member's date as a POSIX time (zip dates are local time, as `unzip` reads them)."""
    try:
        return time.mktime((*info.date_time, 0, 0, -1))
    except (OverflowError, ValueError):
        return None


def _inside(dest: Path, target: Path) -> bool:
    real_dest = os.path.realpath(dest)
    return os.path.realpath(target).startswith(real_dest + os.sep)


def _write_member(
    zf: zipfile.ZipFile, item: _Planned, dest: Path, limits: ExtractLimits, budget: list[int]
) -> None:
    """Stream one member to disk, counting real bytes (headers can lie), never following links."""
    target = dest.joinpath(*item.parts)
    if not _inside(dest, target):  # cannot happen after member_parts; kept as the last guard
        raise IntakeError(
            "unsafe-path", f"member {shown(item.info.filename)} resolves outside the folder"
        )
    if item.is_dir:
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
        return
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    written = 0
    with zf.open(item.info) as src, os.fdopen(os.open(target, flags, 0o600), "wb") as out:
        while chunk := src.read(CHUNK):
            written += len(chunk)
            budget[0] += len(chunk)
            if written > limits.max_member_bytes or budget[0] > limits.max_total_bytes:
                raise IntakeError(
                    "too-large",
                    f"member {shown(item.info.filename)} unpacks to more bytes than allowed",
                )
            out.write(chunk)
    mtime = _zip_time(item.info)
    if mtime is not None:
        os.utime(target, (mtime, mtime))


# Errors of the grader's own disk (not of the archive): the batch operator must act, not the student.
_DISK_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS, errno.EMFILE, errno.EPERM}
)


def _read_error(exc: BaseException) -> IntakeError:
    """Turn what zipfile/zlib raise while reading into a status."""
    text = str(exc)
    if isinstance(exc, IntakeError):
        return exc
    if isinstance(exc, NotImplementedError):
        return IntakeError("unsupported", f"{text}: re-make the zip with `autograder submit`")
    if isinstance(exc, RuntimeError) and "encrypted" in text.lower():
        return IntakeError("encrypted", "the zip is password-protected")
    if isinstance(exc, (EOFError, struct.error)):
        return IntakeError(
            "truncated", f"the zip ends too early ({type(exc).__name__}): upload it again"
        )
    if isinstance(exc, FileExistsError):  # two names equal on a case-insensitive file system
        return IntakeError(
            "corrupt", f"the zip has two members with the same name ({exc.filename})"
        )
    if isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS:
        return IntakeError("io-error", f"cannot extract: {exc}")
    if isinstance(exc, OSError):  # seeks and reads at offsets a damaged directory points to
        return IntakeError("corrupt", f"the zip is damaged ({exc.strerror or exc})")
    if "CRC" in text or "Bad CRC" in text:
        return IntakeError("corrupt", f"the zip is damaged (a checksum does not match: {text})")
    return IntakeError("corrupt", f"the zip is damaged ({type(exc).__name__}: {text})")


def safe_extract(
    zip_path: str | Path, dest_dir: str | Path, limits: ExtractLimits = STUDENT_LIMITS
) -> list[str]:
    """Extract a zip into `dest_dir` (created empty, mode 0700) or raise IntakeError.

    Returns the member paths written (posix, relative). On failure `dest_dir` is emptied again, so
    half an archive is never graded. The archive is opened read-only through a file object.
    """
    source = Path(zip_path)
    dest = Path(dest_dir)
    _prepare_dest(dest)
    try:
        return _extract_checked(source, dest, limits)
    except BaseException:
        _empty(dest)
        raise


def _extract_checked(source: Path, dest: Path, limits: ExtractLimits) -> list[str]:
    try:
        size = source.stat().st_size
    except OSError as exc:
        raise IntakeError("not-found", f"{source}: {exc.strerror or exc}") from None
    if size > limits.max_archive_bytes:
        raise IntakeError(
            "too-large",
            f"{source.name} is {size // MiB} MiB (limit {limits.max_archive_bytes // MiB} MiB)",
        )
    announced = _eocd_entry_count(source)
    if announced is not None and announced > limits.max_members:
        raise IntakeError(
            "too-many-files", f"the zip announces {announced} members (limit {limits.max_members})"
        )
    written: list[str] = []
    try:
        with open(source, "rb") as fh, zipfile.ZipFile(fh, "r") as zf:
            plan = _plan(zf.infolist(), limits)
            budget = [0]
            for item in plan:
                _write_member(zf, item, dest, limits, budget)
                if not item.is_dir:
                    written.append("/".join(item.parts))
    except zipfile.BadZipFile as exc:
        if "not a zip file" in str(exc).lower():
            raise _open_error(source) from None
        raise _read_error(exc) from None
    except IntakeError:
        raise
    except Exception as exc:  # zipfile/zlib raise many types on crafted input: all are a status
        raise _read_error(exc) from None
    return written


def _open_error(source: Path) -> IntakeError:
    """zipfile found no end record: a cut-off zip if it starts like one, else not a zip."""
    if _head(source, 4) == b"PK\x03\x04":
        return IntakeError(
            "truncated",
            f"{source.name} is incomplete (cut off during upload or download): upload it again",
        )
    return IntakeError("not-a-zip", _not_a_zip_message(source))


def _prepare_dest(dest: Path) -> None:
    try:
        dest.mkdir(parents=True, exist_ok=True, mode=0o700)
        if any(dest.iterdir()):
            raise IntakeError("io-error", f"{dest} is not empty: extraction needs a fresh folder")
    except OSError as exc:
        raise IntakeError("io-error", f"cannot create {dest}: {exc.strerror or exc}") from None


def _empty(dest: Path) -> None:
    """Remove what a failed extraction wrote (only inside dest; links are removed, not followed)."""
    for child in list(dest.iterdir()) if dest.is_dir() else []:
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def _copy_folder(source: Path, dest: Path, limits: ExtractLimits) -> list[str]:
    """A folder of loose files (Gradescope, Moodle) copied like a zip: same limits, no links."""
    copied: list[str] = []
    total = 0
    for rel, path in _walk_files(source, refuse_links=True):
        if len(copied) >= limits.max_members:
            raise IntakeError(
                "too-many-files", f"{source.name} has more than {limits.max_members} files"
            )
        st = path.stat()
        total += st.st_size
        if st.st_size > limits.max_member_bytes or total > limits.max_total_bytes:
            raise IntakeError("too-large", f"{rel} makes the submission larger than allowed")
        target = dest.joinpath(*PurePosixPath(rel).parts)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        shutil.copyfile(path, target, follow_symlinks=False)
        os.utime(target, (st.st_mtime, st.st_mtime))
        copied.append(rel)
    return copied


def _walk_files(root: Path, refuse_links: bool = False) -> Iterator[tuple[str, Path]]:
    """(relative posix path, path) of the regular files under root, sorted, links not followed."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(filenames) + [d for d in dirnames if (base / d).is_symlink()]:
            path = base / name
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                if refuse_links:
                    raise IntakeError("symlink", f"{rel} is a symbolic link")
                continue
            if not stat.S_ISREG(path.lstat().st_mode):
                if refuse_links:
                    raise IntakeError("special-file", f"{rel} is not a regular file")
                continue
            yield rel, path


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


def is_litter(rel: str) -> bool:
    """OS litter: __MACOSX/, .ipynb_checkpoints/, .DS_Store, AppleDouble '._x' files."""
    parts = PurePosixPath(rel).parts
    name = parts[-1] if parts else ""
    return (
        bool(LITTER_DIRS.intersection(parts[:-1])) or name in LITTER_FILES or name.startswith("._")
    )


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
            _prepare_dest(root)
            try:
                members = _copy_folder(source, root, limits)
            except BaseException:
                _empty(root)
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


# ---------------------------------------------------------------------------------------------
# A class: LMS exports


# Regexes on the path relative to the export root. Named groups: lms_id (required), name, late,
# attempt (a number that grows with each upload, a tie-breaker between equal times), file.
LMS_PATTERNS: dict[str, str] = {
    # Canvas "Download submissions": <sortablename>[_LATE]_<user id>_<attachment id>_<file name>
    "canvas": r"(?:^|/)(?P<name>[^/_]+)_(?P<late>LATE_)?(?P<lms_id>\d+)_(?P<attempt>\d+)_(?P<file>[^/]+)$",
    # Moodle "Download all submissions": <Full Name>_<participant id>_assignsubmission_file_[/]<file>
    # (names hold no "_" in either LMS's export, which keeps the two patterns disjoint: a file a
    # student named like the other LMS's pattern cannot match at the start of a path component)
    "moodle": r"(?:^|/)(?P<name>[^/_]+)_(?P<lms_id>\d+)_assignsubmission_file_/?(?P<file>.+)$",
    # `autograder submit` names: <A>_<student id>.zip, browsers may add " (1)"
    "plain": r"(?:^|/)(?P<assignment>[A-Za-z]+\d+)_(?P<lms_id>[A-Za-z0-9_-][A-Za-z0-9._-]*?)(?: \((?P<attempt>\d+)\))?\.zip$",
}
AUTO_ORDER = ("moodle", "canvas", "plain")
MOODLE_OTHER = re.compile(r"_\d+_assignsubmission_(?!file_)[a-z]+_(?:/|$)")
GRADESCOPE_METADATA = "submission_metadata.yml"
_GRADESCOPE_FOLDER = re.compile(r"submission_\d+")
LMS_CHOICES = ("auto", "canvas", "moodle", "gradescope", "plain")


@dataclass
class SubmissionEntry:
    """One student's submission to grade, with who and when according to the LMS."""

    student_id: str
    path: Path  # the student's zip, or a folder of loose files
    lms: str  # canvas | moodle | gradescope | plain | unknown
    lms_id: str | None = None
    name: str | None = None  # the student's name as the LMS spells it, when it does
    submitted_at: datetime | None = None
    time_source: str = "none"  # lms-metadata | export-member-date | file-mtime | none
    late: bool | None = None  # None: the LMS does not say
    id_source: str = "lms"  # roster | lms | unidentified
    manifest_student_id: str | None = None
    unidentified: str = ""  # why no valid id was found: graded as failed, listed for review
    violations: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    other_attempts: list[Path] = field(default_factory=list)
    attempt: int = 0  # the LMS's upload counter, a tie-breaker between equal times

    def to_dict(self) -> dict[str, Any]:
        return {
            "student_id": self.student_id,
            "path": str(self.path),
            "lms": self.lms,
            "lms_id": self.lms_id,
            "name": self.name,
            "submitted_at": self.submitted_at.isoformat() if self.submitted_at else None,
            "time_source": self.time_source,
            "late": self.late,
            "id_source": self.id_source,
            "manifest_student_id": self.manifest_student_id,
            "unidentified": self.unidentified,
            "violations": list(self.violations),
            "notes": list(self.notes),
            "other_attempts": [str(p) for p in self.other_attempts],
        }


@dataclass
class _Unit:
    """A submission found in the export, before identity and attempts are settled."""

    path: Path
    lms: str
    lms_id: str | None
    name: str | None = None
    late: bool | None = None
    attempt: int = 0
    submitted_at: datetime | None = None
    time_source: str = "none"
    notes: list[str] = field(default_factory=list)
    rel: str = ""  # where the export holds it: what an unidentified submission is named after


def load_roster(roster: str | Path | Mapping[str, str] | None) -> dict[str, str] | None:
    """LMS id -> course student id, from a CSV with columns `lms_id,student_id`.

    Canvas's gradebook export works as is (`ID` is the Canvas user id, `SIS User ID` the course
    id); rows with an empty id (Canvas's "Points Possible" line) are skipped.
    """
    if roster is None or isinstance(roster, Mapping):
        return None if roster is None else {str(k): str(v) for k, v in roster.items()}
    path = Path(roster)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = {c.strip().casefold(): c for c in reader.fieldnames or []}
            lms_col = next(
                (
                    columns[c]
                    for c in ("lms_id", "id", "user_id", "canvas_id", "moodle_id")
                    if c in columns
                ),
                None,
            )
            sid_col = next(
                (
                    columns[c]
                    for c in ("student_id", "sis user id", "sis_user_id", "id number")
                    if c in columns
                ),
                None,
            )
            if lms_col is None or sid_col is None:
                raise IntakeError(
                    "not-found",
                    f"{path}: the roster needs columns 'lms_id' and 'student_id' "
                    f"(found: {', '.join(reader.fieldnames or []) or 'none'})",
                )
            return {
                row[lms_col].strip(): row[sid_col].strip()
                for row in reader
                if (row.get(lms_col) or "").strip() and (row.get(sid_col) or "").strip()
            }
    except OSError as exc:
        raise IntakeError(
            "not-found", f"{path}: cannot read the roster ({exc.strerror or exc})"
        ) from None


def collect_submissions(
    path: str | Path,
    assignment: str,
    config: AssignmentConfig,
    lms: str = "auto",
    roster: str | Path | Mapping[str, str] | None = None,
    pattern: str | None = None,
    work_dir: str | Path | None = None,
) -> list[SubmissionEntry]:
    """The submissions to grade in a folder of zips or one LMS export archive, one per student.

    `lms`: auto | canvas | moodle | gradescope | plain. `pattern`: a regex with a named group
    `lms_id` (and optionally `late`, `name`, `attempt`) tried before the presets. `roster`: CSV
    path or mapping from LMS id to course student id. An export archive is extracted safely into
    `work_dir` (a new temporary folder when None; the entries' paths point into it, so delete it
    after grading). Raises IntakeError only when the whole export is unusable.
    """
    if lms not in LMS_CHOICES:
        raise IntakeError("not-found", f"unknown LMS {lms!r}: use one of {', '.join(LMS_CHOICES)}")
    regexes = _patterns(lms, pattern)
    roster_map = load_roster(roster)
    source = Path(path)
    if not source.exists():
        raise IntakeError("not-found", f"{source}: no such file or folder")
    work = _WorkDir(work_dir)
    if source.is_dir():
        units = _find_units(source, assignment, lms, regexes, work, from_archive=False)
        return _settle(units, config, roster_map)
    root = work.path / "export"
    safe_extract(source, root, EXPORT_LIMITS)
    if _is_single_submission(root, config):
        shutil.rmtree(root, ignore_errors=True)
        units = _plain_units([(source.name, source)], assignment, regexes, False, work)
    else:
        units = _find_units(root, assignment, lms, regexes, work, from_archive=True)
    return _settle(units, config, roster_map)


class _WorkDir:
    """The folder for an extracted export and gathered loose files, created on first use."""

    def __init__(self, path: str | Path | None) -> None:
        self._path = Path(path) if path is not None else None

    @property
    def path(self) -> Path:
        if self._path is None:
            self._path = Path(tempfile.mkdtemp(prefix="autograder-intake-"))
        self._path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self._path


def _patterns(lms: str, pattern: str | None) -> list[tuple[str, re.Pattern[str]]]:
    """(lms name, regex) candidates for the export's format (`_export_format` picks one)."""
    if pattern:
        try:
            custom = re.compile(pattern)
        except re.error as exc:
            raise IntakeError(
                "not-found", f"--pattern {pattern!r} is not a valid regex: {exc}"
            ) from None
        if "lms_id" not in custom.groupindex:
            raise IntakeError(
                "not-found", f"--pattern {pattern!r} needs a named group (?P<lms_id>...)"
            )
        # the instructor's pattern is the export's format: nothing else is tried
        return [(lms if lms in ("canvas", "moodle") else "custom", custom)]
    names = AUTO_ORDER if lms in ("auto", "gradescope") else (lms,)
    return [(name, re.compile(LMS_PATTERNS[name])) for name in names]


def _export_format(
    files: list[tuple[str, Path]], assignment: str, regexes: list[tuple[str, re.Pattern[str]]]
) -> list[tuple[str, re.Pattern[str]]]:
    """The one format this export is in, decided from all its files at once.

    Each candidate scores the number of files it names, then how near the top of the export its
    matches start (an LMS names the top-level entries; a student names only what is inside).
    A file a student called `h_111_assignsubmission_file_A3.zip` in a Canvas export is then still
    read the Canvas way, so it can never be taken for LMS user 111's submission.
    """
    if len(regexes) <= 1:
        return regexes
    best: tuple[tuple[int, int, int], int] | None = None
    for order, candidate in enumerate(regexes):
        count = depth = 0
        for rel, _ in files:
            hit = _first_match(rel, assignment, [candidate])
            if hit is not None:
                count += 1
                depth += rel[: hit[1].start()].count("/") + (hit[1].group(0).startswith("/"))
        score = (count, -depth, -order)
        if best is None or score > best[0]:
            best = (score, order)
    assert best is not None
    return [regexes[best[1]]]


def _is_single_submission(root: Path, config: AssignmentConfig) -> bool:
    """An archive handed to `grade` may be one student's zip rather than an export of many."""
    files = [rel for rel, _ in _walk_files(root) if not is_litter(rel)]
    has_zips = any(rel.lower().endswith(".zip") for rel in files)
    has_meta = any(PurePosixPath(rel).name == GRADESCOPE_METADATA for rel in files)
    names = {PurePosixPath(rel).name for rel in files}
    return (
        not has_zips
        and not has_meta
        and (MANIFEST_NAME in names or bool(names & set(config.notebooks)))
    )


def _find_units(
    root: Path,
    assignment: str,
    lms: str,
    regexes: list[tuple[str, re.Pattern[str]]],
    work: _WorkDir,
    from_archive: bool,
) -> list[_Unit]:
    files = [(rel, p) for rel, p in _walk_files(root) if not is_litter(rel)]
    # Gradescope's metadata sits at the top of its export (or of the one folder wrapping it); a
    # file of that name deeper down is a student's upload and never decides how to read the rest
    top = _export_top(files)
    meta = [rel for rel, _ in files if rel == f"{top}{GRADESCOPE_METADATA}"]
    entries = {rel[len(top):].split("/", 1)[0] for rel, _ in files if rel.startswith(top)}
    if any(e != GRADESCOPE_METADATA and not _GRADESCOPE_FOLDER.fullmatch(e) for e in entries):
        meta = []  # beside Gradescope's metadata stand only its submission_<id>/ folders
    if lms == "gradescope" or (lms == "auto" and meta):
        if not meta:
            raise IntakeError("not-found", f"no {GRADESCOPE_METADATA} in the Gradescope export")
        return _gradescope_units(root / meta[0], from_archive)
    return _plain_units(files, assignment, regexes, from_archive, work)


def _export_top(files: list[tuple[str, Path]]) -> str:
    """The prefix of the export's top level: "" or "<folder>/" when one folder holds it all."""
    firsts = {rel.split("/", 1)[0] if "/" in rel else "" for rel, _ in files}
    return f"{firsts.pop()}/" if len(firsts) == 1 and "" not in firsts else ""


def _file_time(path: Path, from_archive: bool) -> tuple[datetime | None, str]:
    """The time an LMS export gives a file: the export's member date (kept as mtime) or mtime."""
    try:
        if path.is_dir():
            stamps = [p.stat().st_mtime for _, p in _walk_files(path)] or [path.stat().st_mtime]
            ts = max(stamps)
        else:
            ts = path.stat().st_mtime
        return datetime.fromtimestamp(ts, tz=timezone.utc), (
            "export-member-date" if from_archive else "file-mtime"
        )
    except (OSError, OverflowError, ValueError):
        return None, "none"


def _plain_units(
    files: list[tuple[str, Path]],
    assignment: str,
    regexes: list[tuple[str, re.Pattern[str]]],
    from_archive: bool,
    work: _WorkDir,
) -> list[_Unit]:
    """Canvas, Moodle and plain names: each zip is one attempt; loose files are gathered."""
    units: list[_Unit] = []
    loose: dict[tuple[str, str], list[tuple[re.Match[str], str, Path]]] = {}
    # Moodle's online-text and comment plugins are not file submissions
    files = [(rel, path) for rel, path in files if not MOODLE_OTHER.search(rel)]
    regexes = _export_format(files, assignment, regexes)
    for rel, path in files:
        hit = _first_match(rel, assignment, regexes)
        if hit is None:
            if path.suffix.lower() in (".zip", ".ipynb"):  # could be a student's: never dropped
                units.append(_unknown_unit(rel, path, from_archive))
            continue  # anything else (a roster, a README) is not a submission
        lms_name, m = hit
        if path.suffix.lower() == ".zip":
            units.append(_unit_from_match(lms_name, m, path, from_archive, rel))
        else:
            loose.setdefault((lms_name, m.group("lms_id")), []).append((m, rel, path))
    zipped = {(u.lms, u.lms_id) for u in units}
    for (lms_name, lms_id), group in sorted(loose.items()):
        if (lms_name, lms_id) in zipped:
            for u in units:  # a zip was uploaded too: it is the submission, the rest is noise
                if (u.lms, u.lms_id) == (lms_name, lms_id):
                    u.notes.append(
                        "also uploaded loose files (ignored): "
                        + ", ".join(r for _, r, _ in group[:5])
                    )
            continue
        units.append(_gather_loose(lms_name, lms_id, group, work.path, from_archive))
    return units


def _first_match(
    rel: str, assignment: str, regexes: list[tuple[str, re.Pattern[str]]]
) -> tuple[str, re.Match[str]] | None:
    for lms_name, regex in regexes:
        m = regex.search(rel)
        if m is None:
            continue
        named = m.groupdict().get("assignment")
        if named is not None and named.casefold() != assignment.casefold():
            continue  # another assignment's zip (A4_x.zip in an A3 batch): not a match
        return lms_name, m
    return None


def _group(m: re.Match[str], name: str) -> str | None:
    return m.groupdict().get(name)


def _unit_from_match(
    lms_name: str, m: re.Match[str], path: Path, from_archive: bool, rel: str = ""
) -> _Unit:
    when, source = _file_time(path, from_archive)
    attempt = _group(m, "attempt")
    late = bool(_group(m, "late")) if "late" in m.re.groupindex else None  # only Canvas says
    return _Unit(
        path=path,
        lms=lms_name,
        lms_id=m.group("lms_id"),
        name=_group(m, "name"),
        late=late,
        attempt=int(attempt) if attempt and attempt.isdigit() else 0,
        submitted_at=when,
        time_source=source,
        rel=rel or path.name,
    )


def _unknown_unit(rel: str, path: Path, from_archive: bool) -> _Unit:
    when, source = _file_time(path, from_archive)
    return _Unit(
        path=path,
        lms="unknown",
        lms_id=None,
        submitted_at=when,
        time_source=source,
        rel=rel,
        notes=[f"'{rel}' matches no file-name pattern of this export"],
    )


def _gather_loose(
    lms_name: str,
    lms_id: str,
    group: list[tuple[re.Match[str], str, Path]],
    work: Path,
    from_archive: bool,
) -> _Unit:
    """Files a student uploaded one by one (no zip) become one folder named for them."""
    # A custom pattern's lms_id may hold any character: keep the folder name one safe component.
    folder = work / "loose" / re.sub(r"[^A-Za-z0-9._-]", "_", f"{lms_name}_{lms_id}")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    latest: dict[str, tuple[int, Path]] = {}
    for m, rel, path in group:
        name = PurePosixPath(_group(m, "file") or rel).name
        if name in ("", ".", ".."):
            continue
        attempt = int(_group(m, "attempt") or 0) if (_group(m, "attempt") or "").isdigit() else 0
        if name not in latest or attempt >= latest[name][0]:
            latest[name] = (attempt, path)
    for name, (_, path) in latest.items():
        shutil.copyfile(path, folder / name, follow_symlinks=False)
        os.utime(folder / name, (path.stat().st_mtime,) * 2)
    first = group[0][0]
    unit = _unit_from_match(lms_name, first, folder, from_archive)
    unit.attempt = max((a for a, _ in latest.values()), default=0)
    unit.late = None if unit.late is None else any(bool(_group(m, "late")) for m, _, _ in group)
    unit.notes.append("uploaded loose files instead of the zip: " + ", ".join(sorted(latest)))
    return unit


# --- Gradescope


def parse_gradescope_metadata(text: str) -> dict[str, dict[str, Any]]:
    """The parts of Gradescope's submission_metadata.yml the intake needs, without a YAML library.

    Returns {folder: {"created_at": str | None, "submitters": [{"sid", "name", "email"}]}}.
    Keys may carry Ruby's leading colon (`:sid:`) or not. Only the submission's direct keys and
    its submitters are read; nested results (which can hold anything) are skipped by indent.
    """
    out: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    child_indent: int | None = None
    in_submitters = False
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        line = raw.strip()
        if indent == 0:
            key, _ = _yaml_pair(line)
            current = out.setdefault(key, {"created_at": None, "submitters": []}) if key else None
            child_indent, in_submitters = None, False
            continue
        if current is None:
            continue
        if child_indent is None:
            child_indent = indent
        if indent == child_indent and not line.startswith("-"):
            key, value = _yaml_pair(line)
            in_submitters = key == "submitters"
            if key == "created_at" and value:
                current["created_at"] = value
            continue
        if in_submitters and indent >= child_indent:
            _submitter_line(current["submitters"], line)
    return out


def _submitter_line(submitters: list[dict[str, str]], line: str) -> None:
    if line.startswith("-"):
        submitters.append({})
        line = line[1:].strip()
        if not line:
            return
    if not submitters:
        return
    key, value = _yaml_pair(line)
    if key in ("sid", "name", "email") and value is not None:
        submitters[-1][key] = value


def _yaml_pair(line: str) -> tuple[str | None, str | None]:
    """':key: value' or 'key: value' -> (key, unquoted value or None)."""
    m = re.match(r"^:?([A-Za-z0-9_]+):(?:\s+(.*))?$", line)
    if not m:
        return None, None
    value = (m.group(2) or "").strip()
    if value in ("", "~", "null"):
        return m.group(1), None
    if len(value) >= 2 and value[0] == value[-1] == "'":
        value = value[1:-1].replace("''", "'")
    elif len(value) >= 2 and value[0] == value[-1] == '"':
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = value[1:-1]
    return m.group(1), value


def parse_lms_time(text: str | None) -> datetime | None:
    """'2022-10-01 12:00:00.123456789 -0700' (Gradescope) or ISO 8601 -> aware datetime."""
    if not text:
        return None
    m = re.match(
        r"^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d+))?\s*(Z|[+-]\d\d:?\d\d)?$", text.strip()
    )
    if not m:
        return None
    day, clock, fraction, zone = m.groups()
    try:
        when = datetime.fromisoformat(f"{day}T{clock}").replace(
            microsecond=int((fraction or "0")[:6].ljust(6, "0"))
        )
    except ValueError:
        return None
    offset = timedelta(0)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return when.replace(tzinfo=timezone(offset))


def _gradescope_units(meta_path: Path, from_archive: bool) -> list[_Unit]:
    """One unit per submitter of each `submission_<id>/` folder next to the metadata file."""
    try:
        meta = parse_gradescope_metadata(meta_path.read_text(encoding="utf-8", errors="replace"))
    except OSError as exc:
        raise IntakeError(
            "not-found", f"{meta_path}: cannot read ({exc.strerror or exc})"
        ) from None
    base = meta_path.parent
    units: list[_Unit] = []
    for folder in sorted(
        p for p in base.iterdir() if p.is_dir() and not p.is_symlink() and not is_litter(p.name)
    ):
        info = meta.get(folder.name)
        path = _folder_submission(folder)
        attempt = (
            int(folder.name.rsplit("_", 1)[-1]) if folder.name.rsplit("_", 1)[-1].isdigit() else 0
        )
        if info is None:
            unit = _unknown_unit(folder.name, path, from_archive)
            unit.notes[0] = f"'{folder.name}' is not in {GRADESCOPE_METADATA}"
            units.append(unit)
            continue
        when = parse_lms_time(info.get("created_at"))
        submitters = info["submitters"] or [{}]
        for person in submitters:
            lms_id = person.get("sid") or person.get("email")
            unit = _Unit(
                path=path,
                lms="gradescope",
                lms_id=lms_id,
                name=person.get("name"),
                attempt=attempt,
                submitted_at=when,
                time_source="lms-metadata" if when else "none",
                rel=folder.name,
            )
            if not person.get("sid"):
                unit.notes.append(
                    "Gradescope has no student id (sid) for this submitter"
                    + (f"; using the email {lms_id}" if lms_id else "")
                )
            units.append(unit)
    return units


def _folder_submission(folder: Path) -> Path:
    """A Gradescope/Moodle folder holding exactly one zip (and litter) is that zip; else the folder."""
    files = [(rel, p) for rel, p in _walk_files(folder) if not is_litter(rel)]
    zips = [p for rel, p in files if rel.lower().endswith(".zip")]
    return zips[0] if len(zips) == 1 and len(files) == 1 else folder


# --- identity, attempts


def peek_manifest(path: Path) -> dict[str, Any] | None:
    """The MANIFEST.json of a zip or folder, read with limits and without extracting; None if absent."""
    try:
        if path.is_dir():
            candidates = sorted(
                (rel for rel, _ in _walk_files(path) if PurePosixPath(rel).name == MANIFEST_NAME),
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


def _settle(
    units: list[_Unit], config: AssignmentConfig, roster: dict[str, str] | None
) -> list[SubmissionEntry]:
    entries = [_identify(u, config, roster) for u in units]
    return _keep_latest(entries)


def _identify(
    unit: _Unit, config: AssignmentConfig, roster: dict[str, str] | None
) -> SubmissionEntry:
    """Whose submission this is: the LMS id (through the roster when there is one), which for a
    plain folder is the `A3_<id>.zip` file name. The manifest's id is only compared with it
    (student-id-mismatch), never used instead: a zip cannot name its own owner. Without a valid
    id the entry is `unidentified` (graded as failed under a safe name, listed for review)."""
    manifest = peek_manifest(unit.path)
    claimed = manifest.get("student_id") if manifest else None
    claimed = claimed if isinstance(claimed, str) else None
    notes = list(unit.notes)
    student_id, id_source, why = "", "unidentified", ""
    if unit.lms_id and roster is not None and unit.lms_id in roster:
        student_id, id_source = roster[unit.lms_id], "roster"
    elif unit.lms_id:
        student_id, id_source = unit.lms_id, "lms"
        if roster is not None:
            notes.append(f"LMS id {shown_id(unit.lms_id)} is not in the roster: graded under the LMS id")
    else:
        why = f"'{shown_id(unit.rel or unit.path.name)}' matches no file-name pattern of this export"
    problem = id_problem(student_id) if student_id else ""
    if problem:
        why = f"the id {shown_id(student_id)!r} found for it cannot be used: {problem}"
    if why:
        hint = (f" Its MANIFEST.json names {shown_id(claimed)!r}: if that is right, give it the "
                f"name {config.name}_<id>.zip (or map it with --roster or --pattern) and grade again."
                if claimed else " Find out whose it is, then rename it or map it with --roster.")
        why = f"Whose submission this is is unknown: {why}.{hint}"
        student_id, id_source = unidentified_id(unit.rel or unit.path.name), "unidentified"
    entry = SubmissionEntry(
        student_id=student_id,
        path=unit.path,
        lms=unit.lms,
        lms_id=unit.lms_id,
        name=unit.name,
        submitted_at=unit.submitted_at,
        time_source=unit.time_source,
        late=unit.late,
        id_source=id_source,
        manifest_student_id=claimed,
        unidentified=why,
        notes=notes,
        attempt=unit.attempt,
    )
    # Canvas and Moodle user ids are not course ids: without a roster there is nothing to compare.
    comparable = id_source == "roster" or (
        id_source == "lms" and unit.lms in ("gradescope", "plain", "custom")
    )
    if claimed and comparable and claimed != student_id:
        entry.violations.append(
            violation(
                config,
                "student-id-mismatch",
                f"MANIFEST.json says student {shown_id(claimed)!r} but the LMS submission belongs "
                f"to '{student_id}': graded as '{student_id}'. Was this zip made by someone else?",
            )
        )
    return entry


def _keep_latest(entries: list[SubmissionEntry]) -> list[SubmissionEntry]:
    """One entry per student: the latest by LMS time (then upload counter, then path)."""
    never = datetime.min.replace(tzinfo=timezone.utc)
    by_student: dict[str, list[SubmissionEntry]] = {}
    for entry in entries:
        by_student.setdefault(entry.student_id, []).append(entry)
    kept: list[SubmissionEntry] = []
    for student_id in sorted(by_student):
        attempts = sorted(
            by_student[student_id], key=lambda e: (e.submitted_at or never, e.attempt, str(e.path))
        )
        latest = attempts[-1]
        if len(attempts) > 1:
            latest.other_attempts = [e.path for e in attempts[:-1]]
            when = (
                latest.submitted_at.isoformat() if latest.submitted_at else "no time in the export"
            )
            latest.notes.append(
                f"{len(attempts)} attempts: graded the latest ({latest.path.name}, {when}); "
                "not graded: " + ", ".join(e.path.name for e in attempts[:-1])
            )
        kept.append(latest)
    return kept
