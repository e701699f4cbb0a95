"""`python -m autograder.grading.provision` (run by `make setup`): install what the sandbox needs where
this process can, then say in one line what it did and at which level grading will run.

As root on a Debian/Ubuntu machine it installs bubblewrap and util-linux (setpriv) with apt-get.
Anywhere else it installs nothing and names what an administrator should install. It never
fails the setup: `autograder grade` and `make demo` check the sandbox again before grading and
stop there with the same advice. docs/sandbox.md says what each level guarantees.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence

# executable -> Debian package that provides it
NEEDED = (("bwrap", "bubblewrap"), ("setpriv", "util-linux"))
SKIP_ENV = "AUTOGRADER_NO_PROVISION"  # set to 1 to never call apt-get (e.g. a managed machine)

Runner = Callable[[Sequence[str]], subprocess.CompletedProcess]


def missing_packages() -> list[str]:
    """Debian packages whose executables the sandbox needs and this machine lacks."""
    return [pkg for exe, pkg in NEEDED if not shutil.which(exe)]


def _run(cmd: Sequence[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    return subprocess.run(list(cmd), stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          env=env, timeout=600)


def apt_install(packages: Sequence[str], run: Runner = _run) -> str | None:
    """Install `packages` with apt-get; None when it worked, else apt's last line of error.

    The package lists are refreshed only when the install fails without them (an offline
    machine with current lists needs no network)."""
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]
    try:
        done = run(install)
        if done.returncode != 0:
            run(["apt-get", "update", "-qq"])
            done = run(install)
    except (OSError, subprocess.SubprocessError) as exc:
        return type(exc).__name__
    if done.returncode == 0:
        return None
    lines = [line for line in (done.stderr or done.stdout or "").splitlines() if line.strip()]
    return lines[-1][:200] if lines else f"exit code {done.returncode}"


def provision(run: Runner = _run, is_root: bool | None = None) -> str:
    """Install what is missing where possible; the one line to print."""
    if not sys.platform.startswith("linux"):
        return ("sandbox: nothing installed (not Linux): the self-check runs here at level "
                "'process'; grade on Linux with bubblewrap (a Linux container or WSL2 works)")
    root = (os.geteuid() == 0) if is_root is None else is_root
    missing = missing_packages()
    if not missing:
        did = "bubblewrap and setpriv already installed"
    elif not root:
        did = f"not root, so {' and '.join(missing)} not installed"
    elif os.environ.get(SKIP_ENV, "") not in ("", "0"):
        did = f"{' and '.join(missing)} not installed ({SKIP_ENV} is set)"
    elif not shutil.which("apt-get"):
        did = f"no apt-get here, so {' and '.join(missing)} not installed"
    else:
        error = apt_install(missing, run)
        still = missing_packages()
        if error is not None:
            did = f"apt-get could not install {' and '.join(missing)} ({error})"
        elif still:  # e.g. installed already, but not on PATH or not executable
            exes = " and ".join(f"`{exe}`" for exe, pkg in NEEDED if pkg in still)
            did = f"apt-get reports {' and '.join(missing)} installed, but {exes} is still not found"
        else:
            did = f"installed {' and '.join(missing)} with apt-get"
    return f"sandbox: {did}; {level_sentence()}"


def level_sentence() -> str:
    """Which level grading gets here, or what stops it (from a real worker start)."""
    from autograder.grading.sandbox import SandboxError, preflight

    try:
        level = preflight()
    except SandboxError as exc:
        return f"grading cannot run here yet: {str(exc).split(': ', 1)[-1]}"
    if level == "process":
        return ("grading runs at level 'process' (no isolation from your files: install "
                "bubblewrap for level 'bwrap')")
    return f"grading runs at level '{level}'"


def check() -> int:
    """`--check` (run by `make test` before pytest): 0 when a sandboxed worker starts here, else
    1 with one line naming what to install (the sandbox tests need it and would fail anyway)."""
    from autograder.grading.sandbox import SandboxError, preflight

    try:
        preflight()
    except SandboxError as exc:
        print(f"sandbox: {exc}; the test suite needs it.", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.grading.provision",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="install nothing; exit 1 with one line if the sandbox cannot start")
    args = parser.parse_args(argv)
    if args.check:
        return check()
    print(provision())
    return 0


if __name__ == "__main__":
    sys.exit(main())
