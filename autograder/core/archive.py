"""Safe extraction: a zip (or a folder of loose files) unpacked into a private folder, or refused.

`safe_extract(zip_path, dest_dir, limits)` refuses, before a byte is written, anything that could
write outside `dest_dir` or exhaust the machine: absolute paths, `..`, links, devices, encrypted
members, too many members, too many bytes, zip-bomb ratios. The copy loop counts real bytes (zip
headers can lie). Every refusal is an `IntakeError` whose `status` is a key of `STATUSES`; on
failure `dest_dir` is emptied again, so half an archive is never graded. The archive is opened
read-only and never modified.

The student side uses it to read back the zip `autograder submit` made; grading uses it for each
student's zip and for a whole LMS export (`EXPORT_LIMITS`). Limits and statuses are documented in
docs/submission.md.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import stat
import struct
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

MiB = 1024 * 1024
CHUNK = 1 * MiB  # bytes copied per read: bounded memory whatever a member's size


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
    prepare_dest(dest)
    try:
        return _extract_checked(source, dest, limits)
    except BaseException:
        empty_folder(dest)
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


def prepare_dest(dest: Path) -> None:
    """Create `dest` (mode 0700) or check it is empty; IntakeError("io-error") otherwise."""
    try:
        dest.mkdir(parents=True, exist_ok=True, mode=0o700)
        if any(dest.iterdir()):
            raise IntakeError("io-error", f"{dest} is not empty: extraction needs a fresh folder")
    except OSError as exc:
        raise IntakeError("io-error", f"cannot create {dest}: {exc.strerror or exc}") from None


def empty_folder(dest: Path) -> None:
    """Remove what a failed extraction wrote (only inside dest; links are removed, not followed)."""
    for child in list(dest.iterdir()) if dest.is_dir() else []:
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def copy_folder(source: Path, dest: Path, limits: ExtractLimits) -> list[str]:
    """A folder of loose files (Gradescope, Moodle) copied like a zip: same limits, no links.

    Returns the relative posix paths copied; raises IntakeError like `safe_extract`.
    """
    copied: list[str] = []
    total = 0
    for rel, path in walk_files(source, refuse_links=True):
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


def walk_files(root: Path, refuse_links: bool = False) -> Iterator[tuple[str, Path]]:
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




def is_litter(rel: str) -> bool:
    """OS litter: __MACOSX/, .ipynb_checkpoints/, .DS_Store, AppleDouble '._x' files."""
    parts = PurePosixPath(rel).parts
    name = parts[-1] if parts else ""
    return (
        bool(LITTER_DIRS.intersection(parts[:-1])) or name in LITTER_FILES or name.startswith("._")
    )
