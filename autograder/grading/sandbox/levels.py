"""Which isolation level a worker gets, and the command lines that build it.

Levels, strongest first (docs/sandbox.md says what each one guarantees):

* ``"bwrap"`` — root: bubblewrap sets up private mounts (only the Python runtime, numpy and the
  worker code, read-only; a size-limited tmpfs as /tmp and working directory; /proc, a minimal
  /dev) and new ipc/pid/net/uts namespaces; inside, ``setpriv`` drops to an unprivileged uid
  (one per worker slot) with no capabilities and no new privileges. Non-root: bubblewrap with
  ``--unshare-all`` as the calling user.
* ``"uid"`` — root without namespaces: the same uid drop and limits, no private mounts; the
  course files must not be readable by that uid.
* ``"process"`` — neither: a plain child with the limits the OS offers.

The level is always asked for explicitly (`choose_level(requested)`, from `autograder grade
--sandbox`); "auto" means the strongest one that works here.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys

from autograder.grading.sandbox.limits import Limits, SandboxError
from autograder.grading.sandbox.runtime import (
    PYTHON_ENV,
    SANDBOX_ROOT,
    SANDBOX_SITE,
    Runtime,
    runtime,
    runtime_readable_by_others,
)
from autograder.grading.sandbox.slots import MAX_SLOTS, UID_BASE, is_root, setpriv_args

LEVELS = ("bwrap", "uid", "process")
REQUESTS = ("auto", *LEVELS)  # what `--sandbox` accepts
THREAD_ENV = {
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}


def bwrap_args(rt: Runtime, limits: Limits, root: bool, mqueue: bool = False) -> list[str]:
    """The bwrap options: namespaces, the minimal read-only runtime, /tmp as a sized tmpfs.

    mqueue: also mount the sandbox's POSIX message queues on /dev/mqueue, so a zygote can see
    whether a child left one (they live as long as the ipc namespace, not the process)."""
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
    if mqueue:
        args += ["--mqueue", "/dev/mqueue"]
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


def bwrap_installed(root: bool) -> bool:
    """Are bubblewrap (and, for root, setpriv) on PATH? Not whether they work here."""
    return bool(shutil.which("bwrap")) and (not root or bool(shutil.which("setpriv")))


# (root, python) pairs for which a bwrap worker was started and answered in this process (the
# preflight's probe): bwrap_works need not start the interpreter again to say so.
_STARTED: set[tuple[bool, str | None]] = set()


def record_bwrap_worked(root: bool, python: str | None = None) -> None:
    """Note that a worker started under bwrap here (with the uid drop when root) answered."""
    _STARTED.add((root, python))


def forget_bwrap_worked(root: bool, python: str | None = None) -> None:
    """Undo record_bwrap_worked (a probe recorded in advance did not answer)."""
    _STARTED.discard((root, python))


def bwrap_works(root: bool, python: str | None = None) -> bool:
    """Can bwrap start the interpreter here (with the uid drop when root)? Checked once per
    process, or known from a worker that did (`record_bwrap_worked`)."""
    return (root, python) in _STARTED or _bwrap_starts(root, python)


@functools.lru_cache(maxsize=4)
def _bwrap_starts(root: bool, python: str | None = None) -> bool:
    """bwrap_works, by starting the interpreter under bwrap (a second or so on a busy host)."""
    if not bwrap_installed(root):
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



def choose_level(requested: str = "auto", python: str | None = None) -> str:
    """The level to use: `requested` if given (SandboxError if impossible), else the strongest.

    As root, "auto" never falls back to "process": student code would run as root.
    """
    root = is_root()
    python = python or os.environ.get(PYTHON_ENV) or None
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
