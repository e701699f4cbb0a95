"""The `autograder` entry point: help, version, later commands, both invocations."""

from __future__ import annotations

import subprocess
import sys

from autograder import __version__
from autograder.cli import main


def test_version_and_help(capsys) -> None:
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert __version__ in capsys.readouterr().out
    assert main([]) == 2
    assert "release" in capsys.readouterr().out


def test_later_commands_say_not_available(capsys) -> None:
    assert main(["bundle"]) == 2
    assert "not available yet" in capsys.readouterr().out


def test_python_dash_m_works() -> None:
    out = subprocess.run([sys.executable, "-m", "autograder", "--help"],
                         capture_output=True, text=True, check=True).stdout
    for command in ("release", "check", "submit", "rescue", "grade"):
        assert command in out


def test_the_kit_does_not_load_jsonschemas_slow_iri_grammar() -> None:
    # A fresh interpreter: `autograder check` must not pay ~1.2 s compiling rfc3987 grammars.
    code = "import autograder.check, sys; print(sys.modules.get('rfc3987_syntax', 'absent'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() in ("None", "absent")
