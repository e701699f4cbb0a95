"""The worker's runtime: the interpreter, its stdlib, numpy and a staged copy of the worker's code.

Only the files of `WORKER_FILES` are staged (the worker's own modules, never grader code); the
staged copy is what bwrap binds read-only at SANDBOX_ROOT, and what the uid and process levels
put on the worker's sys.path.
"""

from __future__ import annotations

import atexit
import compileall
import functools
import glob
import hashlib
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from autograder.grading.sandbox.limits import SandboxError

PYTHON_ENV = "AUTOGRADER_WORKER_PYTHON"  # another interpreter for the worker (uid level)
SANDBOX_ROOT = "/opt/ag"  # worker code inside bwrap
SANDBOX_SITE = "/opt/site"  # numpy inside bwrap
# Paths inside the package: only these are staged for the worker (see _stage_worker_code).
WORKER_FILES = ("__init__.py", "grading/__init__.py", "grading/protocol.py", "grading/worker.py",
                "grading/worker_guard.py", "grading/worker_zygote.py")
BOOT = (
    "import sys; sys.path[:0] = {paths!r}; "
    "from autograder.grading.worker import run; run(sys.argv[1:])"
)


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
    package = Path(__file__).resolve().parents[2]  # autograder/
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
