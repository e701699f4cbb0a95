"""Starting the worker at the strongest isolation available, and calling it.

Levels, strongest first (docs/sandbox.md says what each one guarantees):

* ``"bwrap"`` — root: bubblewrap sets up private mounts (only the Python runtime, numpy and the
  worker code, read-only; a size-limited tmpfs as /tmp and working directory; /proc, a minimal
  /dev) and new ipc/pid/net/uts namespaces; inside, ``setpriv`` drops to an unprivileged uid
  (one per worker slot) with no capabilities and no new privileges. Non-root: bubblewrap with
  ``--unshare-all`` as the calling user.
* ``"uid"`` — root without namespaces: the same uid drop and limits, no private mounts; the
  course files must not be readable by that uid.
* ``"process"`` — neither: a plain child with the limits the OS offers.

Limits in every case: RLIMIT_AS, RLIMIT_CPU, RLIMIT_NPROC, RLIMIT_FSIZE, RLIMIT_CORE=0, single
threaded BLAS, a wall-clock timeout per call, output caps; the process group (and at the uid
levels every process of the slot's uid) is killed at the end.
"""

from __future__ import annotations

import ast
import atexit
import compileall
import fcntl
import functools
import glob
import hashlib
import json
import os
import pwd
import resource
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from autograder.grading import protocol
from autograder.core.config import DEFAULT_SUBMISSION_SECONDS
from autograder.grading.hidden import CallerBase, CappedWriter, StudentError, StudentTimeout
from autograder.core.module import PREAMBLE

LEVELS = ("bwrap", "uid", "process")
PYTHON_ENV = "AUTOGRADER_WORKER_PYTHON"  # another interpreter for the worker (uid level)
LEVEL_ENV = "AUTOGRADER_SANDBOX"  # forces a level where "auto" is asked for (e.g. uid)
# World-writable folders of the host where a slot uid could leave files at the uid level (under
# bwrap it sees none of them); swept after each submission (sweep_uid_files).
SHARED_TMP = ("/tmp", "/var/tmp", "/dev/shm")
UID_BASE = 61000  # worker slot k runs as uid/gid UID_BASE + k
MAX_SLOTS = 512
MAX_RESTARTS = 8  # worker starts per submission after the first, then calls are refused
SANDBOX_ROOT = "/opt/ag"  # worker code inside bwrap
SANDBOX_SITE = "/opt/site"  # numpy inside bwrap
# Paths inside the package: only these are staged for the worker (see _stage_worker_code).
WORKER_FILES = ("__init__.py", "grading/__init__.py", "grading/protocol.py", "grading/stubs.py",
                "grading/worker.py")
BOOT = (
    "import sys; sys.path[:0] = {paths!r}; "
    "from autograder.grading.worker import main; sys.exit(main(sys.argv[1:]))"
)
THREAD_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}


class SandboxError(RuntimeError):
    """The sandbox could not be set up: a grader-side problem, never the student's."""


@dataclass(frozen=True)
class Limits:
    """Resource limits of one worker; `assignment.toml [limits]` overrides any of them."""

    call_timeout_s: float = 10.0  # wall clock per call (a batch: per call in it)
    load_timeout_s: float = 20.0  # worker start + exec of the graded module
    memory_mb: int = 2048  # RLIMIT_AS
    cpu_s: int = 300  # RLIMIT_CPU over the worker's life
    nproc: int = 32  # RLIMIT_NPROC of the slot uid (threads count too)
    fsize_mb: int = 16  # RLIMIT_FSIZE
    tmpfs_mb: int = 64  # size of the sandbox's /tmp (bwrap)
    output_kb: int = 16  # student stdout/stderr kept per call
    # Wall clock spent running the student's code over the whole submission (loading it and
    # every call), on top of the per-call limit: once spent, the remaining calls are timeouts.
    submission_seconds: float = DEFAULT_SUBMISSION_SECONDS

    @classmethod
    def from_config(cls, limits: dict[str, float] | None) -> Limits:
        """Limits with the keys of `[limits]` that this class knows (others are ignored)."""
        known = {f.name: f.type for f in fields(cls)}
        kw: dict[str, Any] = {}
        for key, value in (limits or {}).items():
            if key in known:
                kw[key] = float(value) if known[key] in (float, "float") else int(value)
        return cls(**kw)


# --------------------------------------------------------------------------- the runtime


@dataclass(frozen=True)
class Runtime:
    """Where the interpreter, its stdlib, numpy and the worker code are on the host."""

    python: str  # the real interpreter binary (not a venv symlink)
    stdlib: str
    libs: tuple[str, ...]  # libpython shared objects, if the interpreter uses one
    numpy_dirs: tuple[str, ...]  # numpy/ and numpy.libs/ (the wheel's bundled OpenBLAS)
    site: str  # the directory holding numpy/
    staging: str  # a private copy of the worker's modules


def runtime(python: str | None = None) -> Runtime:
    """The runtime of the worker: this interpreter, or `python` / $AUTOGRADER_WORKER_PYTHON
    (same major.minor, so this numpy loads in it) — e.g. a world-readable system Python for
    the uid level when this one lives under a 0700 home."""
    return _runtime(python or os.environ.get(PYTHON_ENV) or "")


@functools.lru_cache(maxsize=4)
def _runtime(python: str) -> Runtime:
    numpy_pkg = os.path.dirname(os.path.realpath(np.__file__))
    site = os.path.dirname(numpy_pkg)
    numpy_dirs = tuple(p for p in (numpy_pkg, os.path.join(site, "numpy.libs")) if os.path.isdir(p))
    if python:
        info = _describe_interpreter(python)
    else:
        info = {"python": os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable),
                "stdlib": sysconfig.get_paths()["stdlib"],
                "libdir": sysconfig.get_config_var("LIBDIR") or "",
                "shared": bool(sysconfig.get_config_var("Py_ENABLE_SHARED")),
                "version": sysconfig.get_config_var("VERSION")}
    libs: tuple[str, ...] = ()
    if info["shared"] and info["libdir"]:
        pattern = os.path.join(info["libdir"], f"libpython{info['version']}*.so*")
        libs = tuple(sorted(glob.glob(pattern)))
    return Runtime(info["python"], info["stdlib"], libs, numpy_dirs, site, _stage_worker_code())


def _describe_interpreter(python: str) -> dict[str, Any]:
    """Ask another interpreter where its stdlib is; it must match this one's version."""
    code = ("import json, sys, sysconfig; print(json.dumps({'python': sys.executable, "
            "'stdlib': sysconfig.get_paths()['stdlib'], 'libdir': sysconfig.get_config_var("
            "'LIBDIR') or '', 'shared': bool(sysconfig.get_config_var('Py_ENABLE_SHARED')), "
            "'version': sysconfig.get_config_var('VERSION')}))")
    try:
        done = subprocess.run([python, "-I", "-S", "-c", code], capture_output=True, text=True,
                              timeout=30, check=True)
        info = json.loads(done.stdout)
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        raise SandboxError(f"worker interpreter {python!r} is not usable ({exc})") from None
    if info["version"] != sysconfig.get_config_var("VERSION"):
        raise SandboxError(f"worker interpreter {python!r} is Python {info['version']}; numpy "
                           f"here is built for {sysconfig.get_config_var('VERSION')}")
    info["python"] = os.path.realpath(info["python"])
    return info


INIT_TEXT = '"""Worker-side copy of autograder (sandbox)."""\n'


def _worker_sources() -> dict[str, bytes]:
    package = Path(__file__).resolve().parents[1]
    return {name: INIT_TEXT.encode() if name.endswith("__init__.py") else (package / name).read_bytes()
            for name in WORKER_FILES}


@functools.lru_cache(maxsize=1)
def _stage_worker_code() -> str:
    """A directory with a copy of the worker's modules (not the whole package: its __init__ may
    grow imports), precompiled, 0755/0644, for every worker to import quickly.

    Named after the hash of the sources and shared by all grading processes (a process pool's
    children end with os._exit, so per-process copies would pile up in /tmp). An existing one
    is used only if this user owns it, nobody else can write it, and its files are identical;
    otherwise a private copy is made (removed at exit).
    """
    sources = _worker_sources()
    digest = hashlib.sha256(b"".join(n.encode() + b"\0" + d for n, d in sources.items()))
    shared = Path(tempfile.gettempdir()) / f"autograder-worker-{os.geteuid()}-{digest.hexdigest()[:16]}"
    if _trusted_staging(shared, sources):
        return str(shared)
    staging = Path(tempfile.mkdtemp(prefix="autograder-worker-"))
    pkg = staging / "autograder"
    pkg.mkdir()
    for name, data in sources.items():
        (pkg / name).parent.mkdir(exist_ok=True)
        (pkg / name).write_bytes(data)
    compileall.compile_dir(str(pkg), quiet=1)
    for root, dirs, files in os.walk(staging):
        for d in dirs:
            os.chmod(os.path.join(root, d), 0o755)
        for f in files:
            os.chmod(os.path.join(root, f), 0o644)
    os.chmod(staging, 0o755)
    try:
        os.rename(staging, shared)  # atomic; fails if another process got there first
    except OSError:
        if _trusted_staging(shared, sources):
            shutil.rmtree(staging, ignore_errors=True)
            return str(shared)
        atexit.register(shutil.rmtree, str(staging), True)
        return str(staging)
    return str(shared)


def _trusted_staging(path: Path, sources: dict[str, bytes]) -> bool:
    """Owned by us, writable by nobody else, with exactly these sources."""
    try:
        if not path.is_dir() or path.is_symlink():
            return False
        for p in (path, *sorted(path.rglob("*"))):  # also __pycache__ and its .pyc files
            st = p.lstat()
            if st.st_uid != os.geteuid() or st.st_mode & 0o022 or p.is_symlink():
                return False
        return all((path / "autograder" / n).read_bytes() == d for n, d in sources.items())
    except OSError:
        return False


def boot_args(paths: Sequence[str], runtime_: Runtime) -> list[str]:
    """`python -I -S -B -c <boot>`: isolated mode, no site, no bytecode writing."""
    return [runtime_.python, "-I", "-S", "-B", "-c", BOOT.format(paths=list(paths))]


# --------------------------------------------------------------------------- levels


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def setpriv_args(uid: int) -> list[str]:
    """Drop to uid/gid with no groups, no capabilities (also not inheritable or in the bounding
    set) and no_new_privs, so setuid binaries cannot give anything back."""
    exe = shutil.which("setpriv") or "/usr/bin/setpriv"
    return [exe, f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


def bwrap_args(rt: Runtime, limits: Limits, root: bool) -> list[str]:
    """The bwrap options: namespaces, the minimal read-only runtime, /tmp as a sized tmpfs."""
    if root:
        # --unshare-all would add a user namespace mapping only uid 0: the setpriv drop fails.
        ns = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
              "--unshare-cgroup-try"]
    else:
        ns = ["--unshare-all"]
    args = [shutil.which("bwrap") or "bwrap", *ns, "--die-with-parent", "--new-session",
            "--hostname", "sandbox", "--clearenv"]
    binds: list[tuple[str, str]] = [(rt.python, rt.python), (rt.stdlib, rt.stdlib)]
    binds += [(lib, lib) for lib in rt.libs]
    binds += [(d, f"{SANDBOX_SITE}/{os.path.basename(d)}") for d in rt.numpy_dirs]
    binds.append((rt.staging, SANDBOX_ROOT))
    if root:
        setpriv = os.path.realpath(setpriv_args(0)[0])
        binds.append((setpriv, setpriv))
    for sysdir in ("/usr/lib", "/usr/lib64", "/lib", "/lib64", "/lib32", "/usr/lib32"):
        if os.path.isdir(sysdir) and not os.path.islink(sysdir):
            binds.append((sysdir, sysdir))
    if os.path.exists("/etc/ld.so.cache"):
        binds.append(("/etc/ld.so.cache", "/etc/ld.so.cache"))
    binds = _dedupe(binds)
    dests = [d for _, d in binds]
    # Parents of mount points are made 0755 so the dropped uid can traverse them, even where
    # the host's are 0700 (Python under /root).
    for parent in _parents(dests):
        args += ["--perms", "0755", "--dir", parent]
    for src, dest in binds:
        args += ["--ro-bind", src, dest]
    for link in ("/lib", "/lib64", "/lib32"):  # merged-/usr systems: /lib -> usr/lib
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
    args += ["--proc", "/proc", "--dev", "/dev",
             "--perms", "1777", "--size", str(limits.tmpfs_mb * 2**20), "--tmpfs", "/tmp",
             "--chdir", "/tmp"]
    for key, value in worker_env("/tmp").items():
        args += ["--setenv", key, value]
    return args


def _dedupe(binds: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Drop binds already covered by a bind of a parent directory (same source and dest)."""
    out: list[tuple[str, str]] = []
    for src, dest in sorted(set(binds), key=lambda b: b[1]):
        covered = any(dest.startswith(d + "/") and src.startswith(s + "/") and
                      dest[len(d):] == src[len(s):] for s, d in out)
        if not covered:
            out.append((src, dest))
    return out


def _parents(dests: list[str]) -> list[str]:
    """Every ancestor directory of the mount points (not / and not inside another mount)."""
    parents: set[str] = set()
    for dest in dests:
        p = os.path.dirname(dest)
        while p not in ("/", ""):
            parents.add(p)
            p = os.path.dirname(p)
    inside = {p for p in parents for d in dests if p == d or p.startswith(d + "/")}
    return sorted(parents - inside, key=lambda p: (p.count("/"), p))


def worker_env(home: str) -> dict[str, str]:
    """The worker's whole environment: HOME and every temporary-folder variable point at its
    private working folder (the uid level: 0700, owned by the slot uid, removed afterwards)."""
    return {"PATH": "/usr/bin:/bin", "HOME": home, "LANG": "C.UTF-8", "TMPDIR": home,
            "TMP": home, "TEMP": home, **THREAD_ENV}


@functools.lru_cache(maxsize=4)
def bwrap_works(root: bool, python: str | None = None) -> bool:
    """Can bwrap start the interpreter here (with the uid drop when root)? Checked once."""
    if not shutil.which("bwrap") or (root and not shutil.which("setpriv")):
        return False
    rt = runtime(python)
    cmd = bwrap_args(rt, Limits(), root)
    if root:
        cmd += setpriv_args(UID_BASE + MAX_SLOTS)  # a probe uid outside the slot range
    cmd += [rt.python, "-I", "-S", "-c", "import os; assert os.getuid() != 0 or " + str(not root)]
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def runtime_readable_by_others(rt: Runtime) -> bool:
    """At the uid level the dropped uid must read the interpreter, stdlib and numpy."""
    def ok(path: str) -> bool:
        p = Path(path)
        for q in [*reversed(p.parents), p]:
            try:
                mode = q.stat().st_mode
            except OSError:
                return False
            if q.is_dir() and not mode & 0o001:
                return False
        return bool(p.stat().st_mode & 0o004)

    return all(ok(p) for p in (rt.python, rt.stdlib, *rt.numpy_dirs, rt.staging))


def choose_level(requested: str = "auto", python: str | None = None) -> str:
    """The level to use: `requested` if given (SandboxError if impossible), else the strongest.

    As root, "auto" never falls back to "process": student code would run as root.
    """
    root = is_root()
    python = python or os.environ.get(PYTHON_ENV) or None
    if requested == "auto":  # the operator may insist on a level for the whole run
        requested = os.environ.get(LEVEL_ENV, "").strip() or "auto"
    if requested not in ("auto", *LEVELS):
        raise SandboxError(f"unknown sandbox level {requested!r} (auto, {', '.join(LEVELS)})")
    if requested == "process":
        return "process"
    if requested in ("auto", "bwrap") and bwrap_works(root, python):
        return "bwrap"
    if requested == "bwrap":
        raise SandboxError("bwrap is not usable here (install bubblewrap; namespaces allowed?)")
    if root and shutil.which("setpriv"):
        if runtime_readable_by_others(runtime(python)):
            return "uid"
        raise SandboxError(
            f"sandbox level 'uid': the Python runtime ({runtime(python).python}) or numpy is not "
            f"readable by an unprivileged uid; install them world-readable (or point {PYTHON_ENV} "
            "at a world-readable interpreter of the same version), or install bubblewrap"
        )
    if requested == "uid":
        raise SandboxError("sandbox level 'uid' needs root and setpriv")
    if root:
        raise SandboxError("running as root without bubblewrap or setpriv: refusing to run "
                           "student code as root (pass sandbox='process' to force it)")
    return "process"


@functools.lru_cache(maxsize=1)
def preamble_imports() -> frozenset[str]:
    """Top-level modules the graded module's preamble imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(PREAMBLE)):
        if isinstance(node, ast.Import):
            names.update(a.name.partition(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.partition(".")[0])
    return frozenset(names)


# --------------------------------------------------------------------------- slots


class SlotLease:
    """An exclusive worker slot (uid UID_BASE + k) across processes, via a lock file."""

    def __init__(self, uid_base: int = UID_BASE) -> None:
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
            if is_root():
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


# --------------------------------------------------------------------------- the worker process


def _limit_preexec(limits: Limits) -> Any:
    """Set the rlimits in the child before exec (inherited by bwrap, setpriv and the worker)."""
    mem = limits.memory_mb * 2**20
    settings = [
        ("RLIMIT_AS", mem, mem),
        ("RLIMIT_CPU", limits.cpu_s, limits.cpu_s + 1),
        ("RLIMIT_NPROC", limits.nproc, limits.nproc),
        ("RLIMIT_FSIZE", limits.fsize_mb * 2**20, limits.fsize_mb * 2**20),
        ("RLIMIT_CORE", 0, 0),
    ]

    def preexec() -> None:
        for name, soft, hard in settings:
            res = getattr(resource, name, None)
            if res is None:
                continue
            try:
                resource.setrlimit(res, (soft, hard))
            except (ValueError, OSError):
                pass  # not supported here (e.g. RLIMIT_AS on macOS): the OS offers less

    return preexec


class WorkerProcess:
    """One running worker: the process, its pipe ends, and a drain for its raw stdout/stderr."""

    def __init__(self, level: str, limits: Limits, uid: int | None, guard: bool,
                 python: str | None = None) -> None:
        self.level, self.limits, self.uid = level, limits, uid
        rt = runtime(python)
        to_w_r, to_w_w = os.pipe()
        from_w_r, from_w_w = os.pipe()
        # The guard's refusals come on a pipe of their own, written by the audit hook itself:
        # student code can neither forge replies without them nor erase them (worker.Guard).
        log_r, log_w = os.pipe()
        worker_argv = (["--in", str(to_w_r), "--out", str(from_w_w), "--guard-log", str(log_w)]
                       + ([] if guard else ["--no-guard"]))
        self.cwd: str | None = None
        if level == "bwrap":
            cmd = bwrap_args(rt, limits, is_root())
            if is_root():
                cmd += setpriv_args(uid)
            cmd += boot_args([SANDBOX_ROOT, SANDBOX_SITE], rt) + worker_argv
            cwd, env = "/", {}
        else:
            self.cwd = tempfile.mkdtemp(prefix="autograder-run-")
            cmd = boot_args([rt.staging, rt.site], rt) + worker_argv
            if level == "uid":
                os.chown(self.cwd, uid, uid)
                cmd = setpriv_args(uid) + cmd
            cwd, env = self.cwd, worker_env(self.cwd)
        self.raw_output = CappedWriter(64 * 1024)
        out_r, out_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out_w, stderr=out_w, cwd=cwd, env=env,
                pass_fds=(to_w_r, from_w_w, log_w), start_new_session=True,
                preexec_fn=_limit_preexec(limits),
            )
        finally:
            for fd in (to_w_r, from_w_w, out_w, log_w):
                os.close(fd)
        self.fd_out = to_w_w
        os.set_blocking(self.fd_out, False)
        self.guard_log = log_r
        os.set_blocking(log_r, False)
        self._guard_read = 0
        self._guard_partial = b""
        self._guard_closed = False
        # Replies are read with hard bounds (protocol.Bounds): by default no arrays and a small
        # JSON head; a call's reply gets bounds derived from its arguments (_request).
        self.reader = protocol.FrameReader(from_w_r, protocol.Bounds.for_reply())
        self._drain = threading.Thread(target=self._drain_output, args=(out_r,), daemon=True)
        self._drain.start()

    def _drain_output(self, fd: int) -> None:
        """Keep the first 64 KiB of raw output (fd-level writes, interpreter errors), read and
        drop the rest, so a flood never blocks the worker or fills memory."""
        try:
            while chunk := os.read(fd, 65536):
                self.raw_output.write(chunk.decode("utf-8", "replace"))
        except OSError:
            pass
        finally:
            os.close(fd)

    def read_guard_log(self, cap: int = 64 * 1024) -> list[str]:
        """The guard's refusals written since the last read (one per line; at most `cap` bytes
        over the worker's life are read, the rest is left unread)."""
        chunks = []
        while self._guard_read < cap:
            try:
                chunk = os.read(self.guard_log, min(65536, cap - self._guard_read))
            except (BlockingIOError, OSError):
                break
            if not chunk:
                # End of file: the worker's only write end is gone. While the worker runs, that
                # is its code closing (or dup2-ing over) the guard's pipe to hide refusals.
                if self.proc.poll() is None and not self._guard_closed:
                    self._guard_closed = True
                    chunks.append(b"\nclosing the grader's pipes is not allowed in graded code\n")
                break
            self._guard_read += len(chunk)
            chunks.append(chunk)
        data = self._guard_partial + b"".join(chunks)
        *lines, self._guard_partial = data.split(b"\n")
        return [line.decode("utf-8", "replace") for line in lines if line]

    def send(self, message: Any, timeout: float) -> None:
        """Send a value or the frames of one (list of bytes from protocol.encode)."""
        frames = message if type(message) is list else protocol.encode(message)
        protocol.write_frames(self.fd_out, frames, time.monotonic() + timeout)

    def receive(self, timeout: float, bounds: protocol.Bounds | None = None) -> Any:
        return self.reader.read_message(time.monotonic() + timeout, bounds)

    def exit_description(self) -> str:
        """Why the worker ended, in words a student can act on."""
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "the grading process stopped answering"
        sig = -code if code < 0 else code - 128 if code > 128 else 0
        reasons = {
            signal.SIGXCPU: "the CPU time limit was reached",
            signal.SIGKILL: "it was killed (memory or process limit?)",
            signal.SIGSEGV: "it crashed (segmentation fault)",
            signal.SIGXFSZ: "the file size limit was reached",
            signal.SIGABRT: "it aborted",
        }
        if sig:
            return reasons.get(sig, f"it was killed by signal {sig}")
        return f"it exited with code {code} (sys.exit/os._exit in your code?)"

    def kill(self, clean: bool = False) -> None:
        """SIGKILL the process group, then every process of the slot uid; close the pipes.

        clean: the worker exited on request. Under bwrap its pid namespace died with it, so
        nothing of the uid is left and the extra `kill -1` is skipped; at the uid level student
        processes may have left the process group (setsid), so the uid is always swept.
        """
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        sweep = self.level == "uid" or (self.level == "bwrap" and not clean)
        if self.uid is not None and sweep and is_root():
            kill_uid(self.uid)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for fd in (self.fd_out, self.reader.fd, self.guard_log):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.cwd:
            shutil.rmtree(self.cwd, ignore_errors=True)

    def stop(self) -> None:
        """Ask the worker to exit, then kill whatever is left."""
        clean = False
        try:
            self.send({"op": "exit"}, timeout=0.5)
            clean = self.proc.wait(timeout=0.5) == 0
        except (protocol.ProtocolError, subprocess.TimeoutExpired):
            pass
        self.kill(clean)


# --------------------------------------------------------------------------- the spare worker
#
# Starting a worker costs the interpreter's start and numpy's import (0.1-0.4 s). With
# `prestart`, the caller that takes a worker immediately launches the next one, which boots
# while this submission is graded. A spare has run no student code: each submission still gets
# a fresh process, its own slot uid, its own tmpfs. One spare per grading process at most.

_spare: tuple[int, tuple, SlotLease | None, WorkerProcess] | None = None


def _take_spare(key: tuple) -> tuple[SlotLease | None, WorkerProcess] | None:
    """The spare worker if it was started by this process with the same settings."""
    global _spare
    if _spare is None:
        return None
    pid, spare_key, lease, worker = _spare
    _spare = None
    if pid != os.getpid():  # inherited through fork (a process pool): the parent's, not ours
        return None
    if spare_key != key:
        worker.kill()
        if lease is not None:
            lease.release()
        return None
    return lease, worker


def _launch_spare(key: tuple, level: str, limits: Limits, guard: bool, python: str | None) -> None:
    global _spare
    discard_spare()
    lease = SlotLease() if level != "process" and is_root() else None
    try:
        worker = WorkerProcess(level, limits, lease.uid if lease else None, guard, python)
    except (OSError, SandboxError):
        if lease is not None:
            lease.release()
        return
    _spare = (os.getpid(), key, lease, worker)


def discard_spare() -> None:
    """Kill the spare worker of this process, if any (also at exit)."""
    global _spare
    if _spare is not None and _spare[0] == os.getpid():
        _, _, lease, worker = _spare
        worker.kill()
        if lease is not None:
            lease.release()
    _spare = None


def spare_uid() -> int | None:
    """The slot uid of this process's spare worker (tests exclude it from leftovers)."""
    if _spare is not None and _spare[0] == os.getpid() and _spare[2] is not None:
        return _spare[2].uid
    return None


atexit.register(discard_spare)


# --------------------------------------------------------------------------- the caller


class SandboxCaller(CallerBase):
    """The hidden-test caller backed by a sandboxed worker (same interface as InProcessCaller).

    One worker serves all calls of a submission; a worker that died, hung or sent garbage is
    killed, and the next call starts a fresh one (up to MAX_RESTARTS). `violations` collects
    what the import guard refused; `level` is the sandbox level used.
    """

    def __init__(
        self,
        module_source: str,
        sandbox: str = "auto",
        limits: Limits | None = None,
        allowed_imports: Sequence[str] = ("numpy", "math", "time"),
        guard: bool | None = None,
        python: str | None = None,
        prestart: bool = False,
        loop_free: Sequence[str] = (),
    ) -> None:
        self.source = module_source
        # Calls of these are measured in the worker (its WorkMeter); `work` holds the counts of
        # the last reply and `replaced` the graded names that are not their own def any more:
        # plain, untrusted numbers and texts, read by autograder.grading.measure.
        self.loop_free = [str(n) for n in loop_free]
        self.work: list[int] = []
        self.replaced: dict[str, str] = {}
        self.python = python
        self.prestart = prestart
        self.limits = limits or Limits()
        # The graded module's fixed preamble (module.PREAMBLE) imports math, time and numpy
        # whatever the assignment allows: the guard must let the preamble itself load.
        self.allowed_imports = sorted(set(allowed_imports) | preamble_imports())
        # AUTOGRADER_WORKER_GUARD=0 switches the guard off (the containment tests do).
        env_guard = os.environ.get("AUTOGRADER_WORKER_GUARD", "1") not in ("0", "off", "false")
        self.guard = env_guard if guard is None else guard
        self.level = choose_level(sandbox, python)
        self.lease: SlotLease | None = None  # taken with the first worker
        self.worker: WorkerProcess | None = None
        self.starts = 0
        self.load_error: StudentError | None = None
        self.functions: list[str] = []
        self.violations: list[str] = []
        self._output = CappedWriter(self.limits.output_kb * 1024)
        self._seq = 0  # request id: the worker echoes it, so a late or forged reply is told apart
        self.spent = 0.0  # seconds of the submission's time budget used (Limits.submission_seconds)
        self.budget_spent = False  # a call was cut short or refused because the budget ran out
        self.notes: list[str] = []  # for the report: what happened beyond the tests' results
        self.litter: list[str] = []  # host paths the slot uid left and that were removed (uid)

    # ---- lifecycle

    def __enter__(self) -> SandboxCaller:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self.worker is not None:
            self._take_guard_log(self.worker)
            self.worker.stop()
            self.worker = None
        if self.lease is not None:
            if self.level == "uid" and is_root():  # all its processes are dead by now
                self.litter += sweep_uid_files(self.lease.uid)
                if self.litter:
                    self.notes.append(
                        f"Your code left {len(self.litter)} file(s) or folder(s) in the grading "
                        "machine's shared folders (such as /tmp); they were removed. Graded code "
                        "should not write files.")
            self.lease.release()
            self.lease = None
        if self.budget_spent and not any("time budget" in n for n in self.notes):
            self.notes.append(
                f"The time budget for running your whole submission "
                f"({self.limits.submission_seconds:g} s) was spent before every test had run: "
                "the calls after that were not run and count as timeouts. Make the slow "
                "functions faster (the tests' messages say which ones timed out).")

    def start(self) -> None:
        """Start a worker and load the graded module into it (a load error is remembered and
        raised by every call: the student's code did not even define its functions)."""
        if self.starts > MAX_RESTARTS:
            raise StudentError("WorkerDied", "the grading process had to be restarted too "
                               "often; the remaining calls were not run")
        self.starts += 1
        key = (self.level, self.limits, self.guard, self.python or "")
        spare = _take_spare(key) if self.prestart and self.lease is None else None
        if spare is not None:
            self.lease, worker = spare
            self.worker = self._ready(worker, fallback=True)
        if self.worker is None:
            if self.lease is None and self.level != "process" and is_root():
                self.lease = SlotLease()
            uid = self.lease.uid if self.lease else None
            worker = WorkerProcess(self.level, self.limits, uid, self.guard, self.python)
            self.worker = self._ready(worker, fallback=False)
        if self.prestart and self.starts == 1:
            _launch_spare(key, self.level, self.limits, self.guard, self.python)
        self._seq += 1
        reply = self._request({"op": "load", "id": self._seq, "source": self.source,
                               "allowed_imports": self.allowed_imports,
                               "output_cap": self.limits.output_kb * 1024,
                               "loop_free": self.loop_free},
                              self.limits.load_timeout_s, "loading your code", load=True)
        self.functions = list(reply.get("functions", []))

    def _ready(self, worker: WorkerProcess, fallback: bool) -> WorkerProcess | None:
        """worker once it said it is ready; None if a spare did not (a fresh one is started),
        SandboxError if a fresh one did not: the sandbox itself is broken."""
        try:
            ready = worker.receive(self.limits.load_timeout_s)
            if ready == {"ready": True}:
                return worker
            problem = f"it sent {str(ready)[:100]} instead of ready"
        except protocol.ProtocolError as exc:
            problem = str(exc)
        worker.kill()
        if fallback:
            return None
        raise SandboxError(f"the {self.level} worker did not start ({problem}): "
                           f"{worker.raw_output.getvalue()[-2000:]}")

    def _kill_worker(self) -> None:
        if self.worker is not None:
            self._take_guard_log(self.worker)
            self.worker.kill()
            self.worker = None

    def _take_guard_log(self, worker: WorkerProcess) -> None:
        """What the guard refused (its own pipe), into `violations` (distinct, capped)."""
        for line in worker.read_guard_log():
            if line[:300] not in self.violations and len(self.violations) < 50:
                self.violations.append(line[:300])

    # ---- the caller interface

    def take_output(self) -> str:
        text = self._output.getvalue()
        self._output = CappedWriter(self.limits.output_kb * 1024)
        return text

    def call_many(
        self, name: str, calls: Sequence[tuple[Sequence[Any], dict[str, Any]]], seed: int
    ) -> list[Any]:
        if self.load_error is not None:
            raise self.load_error
        self._check_budget(name)  # before a worker is started for nothing
        if self.worker is None:
            try:
                self.start()
            except StudentError as exc:  # the module cannot be loaded: no call can succeed
                self.load_error = exc
                raise
        self._seq += 1
        message = {"op": "call", "id": self._seq, "func": name, "seed": int(seed),
                   "calls": [[list(a), dict(k)] for a, k in calls]}
        try:
            frames = protocol.encode(message)
        except protocol.ProtocolError as exc:  # the hidden test passed a non-plain argument
            raise TypeError(f"ctx.call({name!r}, ...): an argument cannot be sent ({exc})") from None
        bounds = protocol.Bounds.for_reply(len(calls), protocol.array_bytes(message["calls"]))
        reply = self._request(frames, self.limits.call_timeout_s, f"{name}", len(calls),
                              bounds=bounds)
        value = reply.get("value")
        if type(value) is not list or len(value) != len(calls):
            self._kill_worker()
            raise StudentError("BadResult", f"{name}: the worker sent a malformed answer")
        return value

    def _request(self, message: Any, timeout: float, what: str, calls: int = 1,
                 load: bool = False, bounds: protocol.Bounds | None = None) -> dict[str, Any]:
        """Send a message and wait for its final reply.

        A batch of `calls` gets `timeout` per call: the worker reports progress after each call
        but the last, and each progress frame restarts the clock. Progress must count up
        (0, 1, ...) and stops at calls - 1, so student code writing forged progress frames on
        the pipe cannot keep a hung batch alive; the whole batch never gets more than
        calls * timeout, and never more than what is left of the submission's time budget.

        Every reply carries the id of its request: one with an older id is a reply that came
        late because student code wrote a forged one first, and is skipped; any other id is an
        error.
        """
        worker = self.worker
        assert worker is not None
        seq = self._seq
        budget = self.limits.submission_seconds
        self._check_budget(what)
        start = time.monotonic()
        budget_deadline = start + budget - self.spent
        hard_deadline = min(start + calls * timeout, budget_deadline)
        try:
            worker.send(message, min(timeout, budget_deadline - start))
            expected = 0
            while True:
                left = min(timeout, hard_deadline - time.monotonic())
                reply = worker.receive(max(left, 0.0), bounds)
                if type(reply) is dict and reply.get("id") != seq:
                    rid = reply.get("id")
                    if type(rid) is int and rid < seq:
                        continue  # the real reply to an earlier request, after a forged one
                    raise protocol.ProtocolError("a reply to another request")
                if type(reply) is dict and set(reply) == {"progress", "id"}:
                    if reply["progress"] != expected or expected >= calls - 1:
                        raise protocol.ProtocolError("progress out of order")
                    expected += 1
                    continue
                break
        except protocol.PipeTimeout:
            self._kill_worker()
            if time.monotonic() >= budget_deadline:
                self.budget_spent = True
                raise StudentTimeout(f"{what}: stopped, because {self._budget_text()} is "
                                     "spent") from None
            raise StudentTimeout(f"{what}: no result within {timeout:g} s") from None
        except protocol.PipeClosed:
            why = worker.exit_description()
            self._kill_worker()
            raise StudentError("WorkerDied", f"the grading process ended during {what}: {why}") from None
        except protocol.ProtocolError as exc:
            self._kill_worker()
            raise StudentError("BadResult", f"{what}: the worker sent something that is not a "
                               f"plain result ({exc})") from None
        finally:
            self.spent += time.monotonic() - start
        if type(reply) is not dict:
            self._kill_worker()
            raise StudentError("BadResult", f"{what}: malformed reply")
        self._absorb(reply)
        if reply.get("ok") is True:
            return reply
        error = StudentError(str(reply.get("type", "Error")), str(reply.get("message", "")))
        if load:
            self.load_error = StudentError(
                error.exc_type, f"your code could not be loaded: {error.message}")
            raise self.load_error
        raise error

    def _check_budget(self, what: str) -> None:
        """StudentTimeout when the submission's time budget is spent (nothing more is run)."""
        if self.spent >= self.limits.submission_seconds:
            self.budget_spent = True
            raise StudentTimeout(f"{what}: not run, because {self._budget_text()} is spent")

    def _budget_text(self) -> str:
        return (f"the time budget for running your whole submission "
                f"({self.limits.submission_seconds:g} s)")

    def _absorb(self, reply: dict[str, Any]) -> None:
        work = reply.get("work")
        self.work = [w for w in work[:1000] if type(w) is int] if type(work) is list else []
        replaced = reply.get("replaced")
        if type(replaced) is dict:
            for name, why in list(replaced.items())[:100]:
                if type(name) is str and type(why) is str:
                    self.replaced.setdefault(name[:100], why[:300])
        out = reply.get("out")
        if type(out) is str and out:
            self._output.write(out)
        if self.worker is not None:
            self._take_guard_log(self.worker)


# --------------------------------------------------------------------------- preflight
#
# A batch checks the sandbox once before its first student: a machine that cannot run student
# code safely stops with one line saying what to install, instead of giving every student the
# same grader error (and the instructor a report full of host paths).

PROBE_SOURCE = "def autograder_probe(x):\n    return x + 1\n"


def install_hint() -> str:
    """What to install (or change) so that the sandbox works here, as one sentence."""
    if not sys.platform.startswith("linux"):
        return ("grading needs Linux with bubblewrap: grade on a Linux machine, in a Linux "
                "container or in WSL2 (the self-check works everywhere)")
    missing = [name for exe, name in (("bwrap", "bubblewrap"), ("setpriv", "setpriv (util-linux)"))
               if not shutil.which(exe) and (exe == "bwrap" or is_root())]
    if missing:
        how = ("`apt-get install bubblewrap util-linux` as root, or `make setup` as root"
               if is_root() else "ask an administrator for `apt-get install bubblewrap`")
        return f"install {' and '.join(missing)} ({how})"
    return ("bubblewrap is installed but cannot start the worker here (namespaces or mounts "
            "refused, as in some containers): allow them, or grade where they are allowed")


def preflight(requested: str = "auto", python: str | None = None) -> str:
    """Start one sandboxed worker and call it once: the level a batch will grade at.

    Raises SandboxError with a one-line message naming what to install when student code cannot
    be run safely here (as root without bubblewrap it is never run as root instead).
    """
    try:
        level = choose_level(requested, python)
    except SandboxError:
        raise SandboxError(f"the sandbox for student code is not available: {install_hint()}") from None
    try:
        with SandboxCaller(PROBE_SOURCE, level, python=python) as caller:
            answer = caller.call("autograder_probe", [41], {}, 0)
    except (SandboxError, StudentError, OSError) as exc:
        reason = exc.message if isinstance(exc, StudentError) else type(exc).__name__
        raise SandboxError(f"the {level} sandbox does not start here ({reason[:120]}): "
                           f"{install_hint()}") from None
    if answer != 42:
        raise SandboxError(f"the {level} sandbox answered {str(answer)[:40]} to a test call: "
                           f"{install_hint()}")
    return level
