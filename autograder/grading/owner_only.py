"""Owner-only folders and files for everything the grader writes (docs/sandbox.md, "uid").

At the `uid` sandbox level student code runs as an unprivileged uid on the host's file
system: it can read whatever is readable by "others". So the grader makes what it writes
owner-only itself, rather than trusting the operator's umask or chmod: OUT, the course's
writable folders (autograded/, submitted/, feedback/, grading/ with the overrides and the
score log), the gradebook file, and every report (0700 folders, 0600 files). At the other
levels this costs nothing and keeps student data private on shared machines as well.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600
# The course's folders the grader writes into (created if missing, made owner-only).
COURSE_WRITABLE = ("autograded", "submitted", "feedback", "grading")
# Folders of the course that are private anyway (the hidden tests and solutions, the demo's
# executed solutions): made owner-only too when this run grades at the uid level, where the
# worker could otherwise read them. (Under bwrap the worker sees none of the course.)
COURSE_PRIVATE_AT_UID = ("solutions", "build")


def _chmod_own(path: Path, mode: int) -> None:
    """chmod `path` (never through a link) if this user owns it; a shared folder (sticky or
    writable by others, such as /tmp itself) is never narrowed: others depend on it."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode) or st.st_uid != os.geteuid():
        return
    if stat.S_ISDIR(st.st_mode) and st.st_mode & (stat.S_ISVTX | stat.S_IWOTH):
        return
    if stat.S_IMODE(st.st_mode) != mode:
        os.chmod(path, mode)


def private_dir(path: str | Path) -> Path:
    """`path` as an owner-only folder: missing folders on the way are created 0700, and the
    folder itself is made 0700 if this user owns it (its existing parents are left alone)."""
    path = Path(path)
    missing = []
    p = path
    while not p.exists() and p != p.parent:
        missing.append(p)
        p = p.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass
        _chmod_own(folder, DIR_MODE)  # mkdir's mode is filtered by the umask
    _chmod_own(path, DIR_MODE)
    return path


def private_file(path: str | Path) -> None:
    """Make an existing file owner-only (0600) if this user owns it."""
    _chmod_own(Path(path), FILE_MODE)


def sqlite_path(db_url: str | None, course: str | Path) -> Path | None:
    """The file of a SQLite gradebook URL (the default one when None); None for other DBs."""
    if db_url is None:
        return Path(course).resolve() / "gradebook.db"
    prefix = "sqlite:///"
    if db_url.startswith(prefix) and len(db_url) > len(prefix):
        return Path(db_url[len(prefix):])
    return None


def secure_outputs(course: str | Path, out: str | Path, db_url: str | None = None,
                   extra: Iterable[str | Path] = (), sandbox: str = "auto") -> None:
    """OUT, the course's writable folders and the gradebook file, owner-only, before grading.

    `sandbox`: the level asked for (as `choose_level` takes it); at the uid level the course's
    instructor-only files and the kit's .git are made owner-only too.

    The SQLite gradebook is created empty and 0600 when missing (SQLite takes an empty file as
    a new database), so it is never world-readable, not even for a moment.
    """
    private_dir(out)
    for name in COURSE_WRITABLE:
        private_dir(Path(course) / name)
    if uid_level(sandbox):  # the course's and the kit's own (a --course elsewhere leaves the kit's)
        from autograder.core.config import REPO_ROOT

        roots = {Path(course).resolve(), REPO_ROOT.resolve()}
        extra = [*extra, *(root / name for root in roots for name in COURSE_PRIVATE_AT_UID),
                 REPO_ROOT / ".git"]  # its objects hold every committed hidden test
    for path in extra:
        _chmod_own(Path(path), DIR_MODE)
    db = sqlite_path(db_url, course)
    if db is not None:
        if not db.parent.exists():
            private_dir(db.parent)
        try:
            os.close(os.open(db, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE))
        except FileExistsError:
            pass
        except OSError:
            return  # a folder we cannot write: the gradebook will say so itself
        for suffix in ("", "-journal", "-wal", "-shm"):
            private_file(f"{db}{suffix}")


def uid_level(requested: str = "auto") -> bool:
    """Will this run's workers run at the uid level (`requested` as choose_level takes it)?"""
    from autograder.grading.sandbox import SandboxError, choose_level

    try:
        return choose_level(requested) == "uid"
    except SandboxError:
        return False


def readable_by_others(path: str | Path) -> bool:
    """Could another uid read `path` (every folder on the way searchable by others and the
    path itself readable by others)? For warnings about what the grader does not own."""
    p = Path(path).resolve()
    for folder in [*reversed(p.parents)]:
        try:
            if not folder.stat().st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    try:
        return bool(p.stat().st_mode & stat.S_IROTH)
    except OSError:
        return False
