"""`make formgrader`: the server command, the course's nbgrader_config.py, the port, the token.

The server itself is started on the demo course in tests/test_demo.py (formgrader's API lists
the 14 submissions there).
"""

from __future__ import annotations

import socket
from pathlib import Path

import autograder.grading.formgrader as fg


def test_the_server_listens_on_127_0_0_1_on_exactly_the_printed_port(tmp_path: Path) -> None:
    cmd = fg.server_command(tmp_path, 8899)
    assert "--ServerApp.ip=127.0.0.1" in cmd and "--ServerApp.port=8899" in cmd
    assert "--ServerApp.port_retries=0" in cmd and f"--ServerApp.root_dir={tmp_path}" in cmd


def test_the_token_is_in_the_environment_not_on_the_command_line(tmp_path: Path) -> None:
    token = "a" * 48
    assert not any(token in part for part in fg.server_command(tmp_path, 8899))
    assert fg.server_env(token)["JUPYTER_TOKEN"] == token


def test_the_url_has_the_token_and_the_formgrader_page() -> None:
    assert fg.url(8899, "abc") == "http://127.0.0.1:8899/formgrader?token=abc"


def test_a_course_without_nbgrader_config_gets_the_repositorys(tmp_path: Path) -> None:
    assert fg.ensure_course_config(tmp_path) is True
    assert (tmp_path / "nbgrader_config.py").read_text() == (
        fg.REPO_ROOT / "nbgrader_config.py").read_text()


def test_a_course_config_of_its_own_is_kept(tmp_path: Path) -> None:
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    assert fg.ensure_course_config(tmp_path) is False
    assert (tmp_path / "nbgrader_config.py").read_text() == "c = get_config()\n"


def test_a_taken_port_is_replaced_by_a_free_one() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        other = fg.free_port(port)
    assert other != port and other > 0


def test_a_missing_demo_course_says_to_run_make_demo(monkeypatch, tmp_path: Path, capsys) -> None:
    monkeypatch.setattr(fg, "DEFAULT_COURSE", tmp_path / "build" / "demo" / "course")
    assert fg.main([str(tmp_path / "build" / "demo" / "course")]) == 1
    assert "run `make demo` first" in capsys.readouterr().err


def test_a_server_that_exits_is_not_reported_ready() -> None:
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    assert fg.wait_until_ready(dead, fg.free_port(0), "token") is False
