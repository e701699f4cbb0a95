"""A CIFAR-10 archive is extracted with tarfile's "data" filter: whatever modes its members
claim, the files land as plain data (no setuid/setgid bit, not writable by others)."""

from __future__ import annotations

import importlib.util
import io
import stat
import tarfile
from pathlib import Path

from autograder.core.datasets import CIFAR10_DIRNAME, _extract

_spec = importlib.util.spec_from_file_location(
    "cifar10_fixture", Path(__file__).parents[1] / "fixtures" / "cifar10_fixture.py")
fixture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixture)


def _archive_with_modes(tmp_path: Path, mode: int) -> Path:
    """The fixture archive, every file member claiming `mode`."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in fixture.make_batches().items():
            info = tarfile.TarInfo(f"{CIFAR10_DIRNAME}/{name}")
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "cifar.tar.gz"
    path.write_bytes(buf.getvalue())
    return path


def test_setuid_and_world_writable_members_are_extracted_as_plain_files(tmp_path: Path) -> None:
    archive = _archive_with_modes(tmp_path, 0o6777)
    root = _extract(archive, tmp_path / "out", label="cifar.tar.gz")
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in root.iterdir()}
    assert "test_batch" in modes
    for name, mode in modes.items():
        assert not mode & (stat.S_ISUID | stat.S_ISGID | stat.S_IWOTH), (name, oct(mode))
