"""The unprivileged uids workers run as: one slot per live worker, dropping to its uid
(setpriv), and killing and sweeping what a slot uid left behind (processes; files in the host's
world-writable folders)."""

from __future__ import annotations

import fcntl
import functools
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from autograder.grading.sandbox.limits import SandboxError

# World-writable folders of the host where a slot uid could leave files at the uid level (under
# bwrap it sees none of them); swept after each submission (sweep_uid_files).
SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm")
UID_BASE = 61000  # worker slot k runs as uid/gid UID_BASE + k
MAX_SLOTS = 512


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def setpriv_args(uid: int) -> list[str]:
    """Drop to uid/gid with no groups, no capabilities (also not inheritable or in the bounding
    set) and no_new_privs, so setuid binaries cannot give anything back."""
    exe = shutil.which("setpriv") or "/usr/bin/setpriv"
    return [exe, f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]



class SlotLease:
    """An exclusive worker slot (uid UID_BASE + k) across processes, via a lock file."""

    def __init__(self, uid_base: int = UID_BASE, sweep: bool = False) -> None:
        """`sweep`: also remove what an earlier holder of the slot's uid left in the host's
        world-writable folders (the uid level only: a worker in bwrap sees none of them, and
        the search costs seconds on a host with a large /tmp)."""
        lock_dir = _own_private_dir(Path(tempfile.gettempdir()) / f"autograder-slots-{os.geteuid()}")
        for k in range(MAX_SLOTS):
            uid = uid_base + k
            if _uid_in_use(uid):
                continue
            fd = os.open(lock_dir / f"slot-{k}", os.O_CREAT | os.O_RDWR, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            self.fd, self.slot, self.uid = fd, k, uid
            kill_uid(uid)  # leftovers of a grader that was killed
            if sweep and is_root():
                sweep_uid_files(uid)
            return
        raise SandboxError(f"no free worker slot among {MAX_SLOTS}")

    def release(self) -> None:
        """Give the slot back (its processes were killed by WorkerProcess.kill; the next
        holder kills any leftovers again when it acquires the slot)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _own_private_dir(path: Path) -> Path:
    """`path` as a 0700 folder of this user. Its name is predictable (a slot uid could make it
    first at the uid level, to tamper with the slots' locks): anything there that is not ours,
    or that others may write, is removed first."""
    try:
        st = path.lstat()
        if (not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid()
                or st.st_mode & 0o077):
            if stat.S_ISDIR(st.st_mode):
                shutil.rmtree(path)
            else:
                path.unlink()
    except FileNotFoundError:
        pass
    path.mkdir(mode=0o700, exist_ok=True)
    return path


_NOT_SEARCHED = ("/proc", "/sys")
# Where a system keeps folders that everyone may write (the program folders /usr, /bin, /lib
# have none, and are large): searched once for them.
_SEARCHED = ("/tmp", "/var", "/run", "/dev", "/home", "/srv", "/opt", "/mnt", "/media")


@functools.lru_cache(maxsize=1)
def world_writable_dirs(limit: int = 2_000_000) -> tuple[str, ...]:
    """The host's folders that any uid may write in, under the places systems keep them
    (`_SEARCHED`; found once per process, at most `limit` entries looked at): a slot uid can
    leave something only there, so the sweep after each submission searches these, not only
    /tmp (/run/lock is one on Debian). A folder others cannot enter is not searched."""
    found: list[str] = []
    pending, seen = [d for d in _SEARCHED if os.path.isdir(d) and not os.path.islink(d)], 0
    while pending and seen < limit:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if entry.path in _NOT_SEARCHED:
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode) and st.st_mode & 0o001:  # others can only get in here
                if st.st_mode & 0o002:
                    found.append(entry.path)  # its contents are searched by the sweep itself
                else:
                    pending.append(entry.path)
    return tuple(sorted(set(found) | {d for d in SHARED_TMP if os.path.isdir(d)}))


def sweep_uid_files(uid: int, roots: Sequence[str] | None = None, limit: int = 200_000) -> list[str]:
    """Remove what `uid` owns in the host's world-writable folders; the paths removed.

    Called once every process of the uid is dead. A slot uid can only create something where
    others may write, so only folders writable by all are searched (and at most `limit`
    entries); what the uid owns goes whole (a folder with its contents; links are removed, not
    followed).
    """
    removed: list[str] = []
    roots = world_writable_dirs() if roots is None else roots
    pending = [r for r in roots if os.path.isdir(r) and not os.path.islink(r)]
    seen = 0
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > limit:
                return removed
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if st.st_uid == uid:
                try:
                    if stat.S_ISDIR(st.st_mode):
                        shutil.rmtree(entry.path)
                    else:
                        os.unlink(entry.path)
                    removed.append(entry.path)
                except OSError:
                    pass
            elif stat.S_ISDIR(st.st_mode) and st.st_mode & 0o002:
                pending.append(entry.path)
    return removed


def _uid_in_use(uid: int) -> bool:
    """A uid that belongs to an account must never be a slot (we kill all its processes)."""
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        return False


def kill_uid(uid: int) -> None:
    """SIGKILL every process of uid: `kill -KILL -1` run as that uid (a process may signal its
    own uid's processes, and -1 means all of them but itself)."""
    kill = shutil.which("kill")
    if kill and shutil.which("setpriv"):
        try:
            subprocess.run([*setpriv_args(uid)[:-1], kill, "-KILL", "-1"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=10)
            return
        except (OSError, subprocess.TimeoutExpired):
            pass
    _kill_uid_by_fork(uid)


def _kill_uid_by_fork(uid: int) -> None:
    """The same without a `kill` binary: a forked child drops to uid and calls kill(-1)."""
    pid = os.fork()
    if pid == 0:  # the child only makes system calls, then leaves without cleanup
        try:
            os.setgroups([])
            os.setgid(uid)
            os.setuid(uid)
            os.kill(-1, signal.SIGKILL)
        except BaseException:  # noqa: BLE001 - nothing to report from here
            pass
        os._exit(0)
    os.waitpid(pid, 0)
