"""`make formgrader` (`python -m autograder.grading.formgrader [COURSE]`): JupyterLab with nbgrader's
formgrader on 127.0.0.1 for a course folder (build/demo/course by default), and its URL with
the token.

The course folder is where `autograder grade --course` (or `make demo`) keeps the gradebook and
`autograded/`. formgrader reads `nbgrader_config.py` from the folder it starts in; a course
without one gets a copy of this repository's (its paths are relative to the file), otherwise
formgrader's Manage Assignments and Manual Grading pages stay empty. The server listens on
127.0.0.1 only, behind a fresh random token; Ctrl-C stops it. docs/grading.md describes the
pages.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from autograder.core.config import REPO_ROOT

DEFAULT_COURSE = REPO_ROOT / "build" / "demo" / "course"
DEFAULT_PORT = 8888
HOST = "127.0.0.1"


def ensure_course_config(course: Path) -> bool:
    """Give `course` this repository's nbgrader_config.py if it has none; True if written."""
    target = course / "nbgrader_config.py"
    if target.exists():
        return False
    shutil.copyfile(REPO_ROOT / "nbgrader_config.py", target)
    return True


def free_port(preferred: int) -> int:
    """`preferred` if nothing listens on it on 127.0.0.1, else a free port the OS picks."""
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((HOST, port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free port on 127.0.0.1")


def server_command(course: Path, port: int) -> list[str]:
    """The JupyterLab command: 127.0.0.1 only, this port exactly (the printed URL must be
    right, so no silent retry on another one), no browser, the course as the root folder.
    The token goes in the environment (server_env), not on the command line that `ps` shows."""
    cmd = [sys.executable, "-m", "jupyterlab", f"--ServerApp.ip={HOST}", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", "--ServerApp.open_browser=False",
           f"--ServerApp.root_dir={course}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--ServerApp.allow_root=True")  # containers and course servers often run as root
    return cmd


def server_env(token: str) -> dict[str, str]:
    """The server's environment: its token, and the interpreter's bin first on PATH (nbgrader
    runs `alembic` when it creates a gradebook)."""
    env = dict(os.environ)
    env["JUPYTER_TOKEN"] = token
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    return env


def url(port: int, token: str) -> str:
    return f"http://{HOST}:{port}/formgrader?token={token}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.grading.formgrader",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("course", nargs="?", default=str(DEFAULT_COURSE),
                        help="the course folder (default: build/demo/course, made by `make demo`)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port on 127.0.0.1 (default {DEFAULT_PORT}, or a free one if taken)")
    args = parser.parse_args(argv)
    course = Path(args.course).resolve()
    if not course.is_dir():
        hint = "run `make demo` first" if course == DEFAULT_COURSE else "check the folder name"
        print(f"formgrader: there is no course folder {course}: {hint}.", file=sys.stderr)
        return 1
    if ensure_course_config(course):
        print(f"formgrader: wrote {course / 'nbgrader_config.py'} (a copy of the repository's).")
    if not (course / "gradebook.db").is_file():
        print(f"formgrader: {course} has no gradebook.db yet; grade into it with "
              f"`autograder grade A SUBMISSIONS --out OUT --course {course}`.")
    port = free_port(args.port)
    token = secrets.token_hex(24)
    print(f"Formgrader for {course}: starting JupyterLab on 127.0.0.1:{port} ...", flush=True)
    server = subprocess.Popen(server_command(course, port), cwd=course, env=server_env(token))
    try:
        if wait_until_ready(server, port, token):
            # after Jupyter's start-up log, so the line to open is the last one on the screen
            print(f"\nFormgrader is ready: {url(port, token)}\nOpen it in a browser on this "
                  "machine (or through an SSH tunnel); Ctrl-C stops the server.\n", flush=True)
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        server.wait()
        return 0


def wait_until_ready(server: subprocess.Popen, port: int, token: str) -> bool:
    """Poll the server's status API until it answers (True) or the process ends (False)."""
    import time
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"http://{HOST}:{port}/api/status",
                                     headers={"Authorization": f"token {token}"})
    while server.poll() is None:
        try:
            with urllib.request.urlopen(request, timeout=5):
                return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    return False


if __name__ == "__main__":
    sys.exit(main())
