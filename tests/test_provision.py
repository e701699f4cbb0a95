"""`make setup` provisions the sandbox where it can and says in one line what it did."""

from __future__ import annotations

import subprocess

import pytest

import autograder.grading.provision as provision


class FakeApt:
    """apt-get as a recorder: `installs` says which packages a successful install provides."""

    def __init__(self, machine: set[str], fail_first: bool = False, error: str = "") -> None:
        self.machine, self.fail_first, self.error, self.calls = machine, fail_first, error, []

    def __call__(self, cmd):
        self.calls.append(list(cmd))
        if cmd[1] == "update":
            return subprocess.CompletedProcess(cmd, 0, "", "")
        if self.error or (self.fail_first and len(self.calls) == 1):
            return subprocess.CompletedProcess(cmd, 100, "", f"E: {self.error or 'no lists'}\n")
        for exe, pkg in provision.NEEDED:
            if pkg in cmd:
                self.machine.add(exe)
        return subprocess.CompletedProcess(cmd, 0, "", "")


@pytest.fixture
def machine(monkeypatch):
    """The executables this fake machine has (apt-get only unless a test adds more)."""
    have = {"apt-get"}
    monkeypatch.setattr(provision.shutil, "which",
                        lambda name, *a, **k: f"/usr/bin/{name}" if name in have else None)
    monkeypatch.setattr(provision, "level_sentence", lambda: "grading runs at level 'bwrap'")
    monkeypatch.setattr(provision.sys, "platform", "linux")
    monkeypatch.delenv(provision.SKIP_ENV, raising=False)
    return have


def test_root_without_bubblewrap_installs_it_and_setpriv_with_apt(machine):
    apt = FakeApt(machine)
    line = provision.provision(run=apt, is_root=True)
    assert apt.calls[0][:2] == ["apt-get", "install"] and {"bubblewrap", "util-linux"} <= set(apt.calls[0])
    assert line == ("sandbox: installed bubblewrap and util-linux with apt-get; "
                    "grading runs at level 'bwrap'")


def test_nothing_is_installed_when_both_are_there(machine):
    machine.update({"bwrap", "setpriv"})
    apt = FakeApt(machine)
    line = provision.provision(run=apt, is_root=True)
    assert apt.calls == [] and line.startswith("sandbox: bubblewrap and setpriv already installed;")


def test_a_user_is_told_what_to_install_and_apt_is_not_called(machine):
    machine.add("setpriv")
    apt = FakeApt(machine)
    line = provision.provision(run=apt, is_root=False)
    assert apt.calls == [] and "not root, so bubblewrap not installed" in line


def test_the_package_lists_are_refreshed_only_when_the_install_fails(machine):
    apt = FakeApt(machine, fail_first=True)
    line = provision.provision(run=apt, is_root=True)
    assert [c[1] for c in apt.calls] == ["install", "update", "install"]
    assert "installed bubblewrap and util-linux with apt-get" in line


def test_an_apt_failure_is_one_line_with_apts_own_reason(machine):
    apt = FakeApt(machine, error="Unable to locate package bubblewrap")
    line = provision.provision(run=apt, is_root=True)
    assert "apt-get could not install bubblewrap and util-linux (E: Unable to locate package" in line
    assert "\n" not in line


def test_the_skip_variable_keeps_apt_away(machine, monkeypatch):
    monkeypatch.setenv(provision.SKIP_ENV, "1")
    apt = FakeApt(machine)
    line = provision.provision(run=apt, is_root=True)
    assert apt.calls == [] and provision.SKIP_ENV in line


def test_the_level_sentence_comes_from_a_real_worker_start():
    assert provision.level_sentence().startswith("grading runs at level '")


def test_check_is_0_where_a_worker_starts():
    assert provision.main(["--check"]) == 0


def test_check_is_1_with_one_line_naming_what_to_install(monkeypatch, capsys):
    import autograder.grading.sandbox as sandbox

    def no_sandbox():
        raise sandbox.SandboxError("the sandbox for student code is not available: install bubblewrap")

    monkeypatch.setattr(sandbox, "preflight", no_sandbox)
    assert provision.main(["--check"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "install bubblewrap" in err


def test_a_package_apt_calls_installed_but_still_missing_is_named(machine):
    class NoOpApt(FakeApt):
        def __call__(self, cmd):
            self.calls.append(list(cmd))
            return subprocess.CompletedProcess(cmd, 0, "", "")

    machine.add("setpriv")
    line = provision.provision(run=NoOpApt(machine), is_root=True)
    assert "apt-get reports bubblewrap installed, but `bwrap` is still not found" in line
