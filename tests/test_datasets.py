"""Datasets: the committed digits set, and CIFAR-10 downloaded from a local server (offline)."""

from __future__ import annotations

import argparse
import hashlib
import http.server
import importlib.util
import io
import pickle
import socket
import tarfile
import threading
from pathlib import Path

import numpy as np
import pytest

from autograder.core import datasets
from autograder.core.datasets import (
    CIFAR10_DIRNAME,
    DatasetError,
    cli_data,
    download_cifar10,
    load_cifar10_batch,
    load_dataset,
)

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location(
    "cifar10_fixture", Path(__file__).parent / "fixtures" / "cifar10_fixture.py"
)
fixture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixture)

SMALL_CIFAR = {"num_train": 15, "num_val": 5, "num_test": 6, "num_dev": 4}


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a socket fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the network was used")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


# --------------------------------------------------------------------------- digits


def test_committed_digits_match_the_sha256_in_data_readme():
    digest = hashlib.sha256((REPO / "data" / "digits.npz").read_bytes()).hexdigest()
    assert digest in (REPO / "data" / "README.md").read_text(encoding="utf-8")


def test_committed_digits_have_1797_uint8_images_0_to_16():
    with np.load(REPO / "data" / "digits.npz", allow_pickle=False) as npz:
        assert npz["images"].shape == (1797, 8, 8) and npz["images"].dtype == np.uint8
        assert npz["images"].max() == 16
        assert sorted(set(npz["labels"].tolist())) == list(range(10))


def test_digits_default_split_shapes_and_types(no_network):
    data = load_dataset("digits")
    sizes = {"train": 1257, "val": 240, "test": 300, "dev": 100}
    for split, n in sizes.items():
        assert data[f"X_{split}"].shape == (n, 65) and data[f"X_{split}"].dtype == np.float64
        assert data[f"y_{split}"].shape == (n,) and data[f"y_{split}"].dtype == np.int64
    assert data["mean_image"].shape == (64,)
    assert data["class_names"] == [str(d) for d in range(10)]
    assert data["image_shape"] == (8, 8)


def test_digits_same_arrays_every_time(no_network):
    a, b = load_dataset("digits"), load_dataset("digits")
    for key in a:
        if isinstance(a[key], np.ndarray):
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def test_digits_train_mean_is_zero_and_bias_column_is_ones():
    data = load_dataset("digits")
    np.testing.assert_allclose(data["X_train"][:, :-1].mean(axis=0), 0.0, atol=1e-12)
    for split in ("train", "val", "test", "dev"):
        np.testing.assert_array_equal(data[f"X_{split}"][:, -1], 1.0)


def test_digits_pixels_scaled_to_unit_interval_without_preprocessing():
    data = load_dataset("digits", subtract_mean=False, bias_trick=False)
    assert data["X_train"].shape == (1257, 64)
    assert data["X_train"].min() == 0.0 and data["X_train"].max() == 1.0
    np.testing.assert_allclose(data["mean_image"], data["X_train"].mean(axis=0))


def test_mean_subtracted_from_every_split_is_the_train_mean():
    raw = load_dataset("digits", subtract_mean=False, bias_trick=False)
    centered = load_dataset("digits", bias_trick=False)
    for split in ("val", "test", "dev"):
        np.testing.assert_allclose(centered[f"X_{split}"], raw[f"X_{split}"] - raw["mean_image"])


def test_test_split_is_fixed_and_seed_changes_train_val_dev():
    a, b = load_dataset("digits", seed=0), load_dataset("digits", seed=1)
    np.testing.assert_array_equal(a["y_test"], b["y_test"])
    np.testing.assert_array_equal(
        a["X_test"][:, :-1] + a["mean_image"], b["X_test"][:, :-1] + b["mean_image"]
    )
    assert not np.array_equal(a["y_train"], b["y_train"])


def test_splits_do_not_overlap_and_dev_is_inside_train():
    data = load_dataset("digits", subtract_mean=False, bias_trick=False)
    rows = {
        split: {r.tobytes() for r in data[f"X_{split}"]}
        for split in ("train", "val", "test", "dev")
    }
    assert rows["dev"] <= rows["train"]
    # Distinct images in different splits (the raw set has a few exact duplicates: allow them).
    assert len(rows["train"] & rows["test"]) <= 2 and len(rows["train"] & rows["val"]) <= 2


def test_custom_sizes_are_honoured():
    data = load_dataset("digits", num_train=100, num_val=10, num_test=20, num_dev=5)
    assert [len(data[f"y_{s}"]) for s in ("train", "val", "test", "dev")] == [100, 10, 20, 5]


@pytest.mark.parametrize(
    ("sizes", "message"),
    [
        ({"num_train": 1400, "num_val": 240}, "training pool has 1497"),
        ({"num_test": 301}, "test split has 300"),
        ({"num_train": 10, "num_dev": 11}, "num_dev"),
        ({"num_train": 0}, "at least 1"),
    ],
)
def test_impossible_sizes_say_what_fits(sizes, message):
    with pytest.raises(DatasetError, match=message):
        load_dataset("digits", **sizes)


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(DatasetError, match="digits, cifar10"):
        load_dataset("mnist")


def test_missing_digits_file_says_where_it_looked(tmp_path):
    with pytest.raises(DatasetError, match=str(tmp_path / "digits.npz").replace("\\", "\\\\")):
        load_dataset("digits", data_dir=tmp_path)


def test_digits_found_through_environment_variable(tmp_path, monkeypatch):
    (tmp_path / "digits.npz").write_bytes((REPO / "data" / "digits.npz").read_bytes())
    monkeypatch.setenv(datasets.DATA_DIR_ENV, str(tmp_path))
    assert datasets.data_dirs()[0] == tmp_path
    assert load_dataset("digits")["X_train"].shape == (1257, 65)


def test_make_digits_script_reproduces_the_committed_file(tmp_path):
    spec = importlib.util.spec_from_file_location("make_digits", REPO / "data" / "make_digits.py")
    make_digits = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_digits)
    with np.load(REPO / "data" / "digits.npz", allow_pickle=False) as npz:
        images, labels = npz["images"], npz["labels"]
    # A fake wheel holding the table in scikit-learn's format, rebuilt from the committed arrays.
    table = "\n".join(
        ",".join(map(str, [*img.ravel(), lab])) for img, lab in zip(images, labels, strict=True)
    )
    import gzip
    import zipfile

    wheel = tmp_path / "fake.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(make_digits.MEMBER, gzip.compress(table.encode()))
    out = tmp_path / "digits.npz"
    assert make_digits.main([str(wheel), "-o", str(out)]) == 0
    assert out.read_bytes() == (REPO / "data" / "digits.npz").read_bytes()


# --------------------------------------------------------------------------- CIFAR-10 format


def test_cifar_not_downloaded_says_how_to_get_it(tmp_path):
    with pytest.raises(DatasetError, match="autograder data cifar10"):
        load_dataset("cifar10", data_dir=tmp_path)


def test_cifar_batch_rows_are_channel_major_and_become_hwc_images(tmp_path):
    root = fixture.write_extracted(tmp_path)
    with open(root / "data_batch_1", "rb") as f:
        raw = pickle.load(f, encoding="latin1")["data"]
    images, labels = load_cifar10_batch(root / "data_batch_1")
    assert images.shape == (4, 32, 32, 3) and images.dtype == np.uint8
    np.testing.assert_array_equal(
        images[1, 2, 3], raw[1, [2 * 32 + 3, 1024 + 2 * 32 + 3, 2048 + 2 * 32 + 3]]
    )
    assert labels.tolist() == [0, 1, 2, 3]


def test_cifar_loads_with_cs231n_conventions(tmp_path):
    fixture.write_extracted(tmp_path)
    data = load_dataset("cifar10", data_dir=tmp_path, **SMALL_CIFAR)
    assert data["X_train"].shape == (15, 3073) and data["X_test"].shape == (6, 3073)
    assert data["X_dev"].shape == (4, 3073) and data["mean_image"].shape == (3072,)
    assert data["image_shape"] == (32, 32, 3) and data["class_names"] == fixture.LABEL_NAMES
    np.testing.assert_allclose(data["X_train"][:, :-1].mean(axis=0), 0.0, atol=1e-12)
    raw = load_dataset(
        "cifar10", data_dir=tmp_path, subtract_mean=False, bias_trick=False, **SMALL_CIFAR
    )
    assert 0.0 <= raw["X_train"].min() and raw["X_train"].max() <= 1.0
    assert raw["y_test"].tolist() == [0, 1, 2, 3, 4, 5]  # the fixed test batch, in order


def test_cifar_default_sizes_need_the_full_dataset(tmp_path):
    fixture.write_extracted(tmp_path)
    with pytest.raises(DatasetError, match="num_train \\+ num_val = 50000"):
        load_dataset("cifar10", data_dir=tmp_path)


def test_cifar_loader_refuses_pickles_that_reference_other_code(tmp_path):
    root = fixture.write_extracted(tmp_path)
    (root / "test_batch").write_bytes(pickle.dumps({"data": print}, protocol=2))
    with pytest.raises(DatasetError, match="refusing to load .*print"):
        load_cifar10_batch(root / "test_batch")


def test_cifar_incomplete_folder_is_reported(tmp_path):
    root = fixture.write_extracted(tmp_path)
    (root / "data_batch_3").unlink()
    with pytest.raises(DatasetError, match="incomplete.*data_batch_3"):
        load_dataset("cifar10", data_dir=tmp_path, **SMALL_CIFAR)


# --------------------------------------------------------------------------- CIFAR-10 download


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[bytes, int]] = {}  # path -> (body, declared Content-Length)

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path not in self.routes:
            self.send_error(404)
            return
        body, length = self.routes[self.path]
        self.send_response(200)
        self.send_header("Content-Type", "application/gzip")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def server():
    """A local HTTP server on 127.0.0.1 (port chosen by the OS); yields (routes, base url)."""
    routes: dict[str, tuple[bytes, int]] = {}
    handler = type("Handler", (_Handler,), {"routes": routes})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield routes, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _nothing_left(data_dir: Path) -> bool:
    return list(data_dir.iterdir()) == []


def test_download_verifies_md5_extracts_and_loads(server, tmp_path):
    routes, base = server
    archive = fixture.make_archive()
    routes["/cifar.tar.gz"] = (archive, len(archive))
    seen = []
    path = download_cifar10(
        tmp_path,
        url=f"{base}/cifar.tar.gz",
        md5=fixture.md5(archive),
        progress=lambda done, total: seen.append((done, total)),
    )
    assert path == tmp_path / CIFAR10_DIRNAME
    assert sorted(p.name for p in tmp_path.iterdir()) == [CIFAR10_DIRNAME]  # no temp files left
    assert seen[-1] == (len(archive), len(archive))
    assert load_dataset("cifar10", data_dir=tmp_path, **SMALL_CIFAR)["X_train"].shape == (15, 3073)


def test_progress_only_grows_and_never_exceeds_the_total(server, tmp_path):
    routes, base = server
    archive = fixture.make_archive()
    routes["/cifar.tar.gz"] = (archive, len(archive))
    seen = []
    download_cifar10(tmp_path, url=f"{base}/cifar.tar.gz", md5=fixture.md5(archive),
                     progress=lambda done, total: seen.append((done, total)))
    done = [d for d, _ in seen]
    assert done == sorted(done) and max(done) == len(archive)
    assert {total for _, total in seen} == {len(archive)}


def test_wrong_md5_is_a_clear_error_and_leaves_nothing(server, tmp_path):
    routes, base = server
    archive = fixture.make_archive()
    routes["/cifar.tar.gz"] = (archive, len(archive))
    with pytest.raises(DatasetError, match="checksum mismatch"):
        download_cifar10(tmp_path, url=f"{base}/cifar.tar.gz", md5="0" * 32)
    assert _nothing_left(tmp_path)


def test_truncated_file_fails_the_checksum_and_leaves_nothing(server, tmp_path):
    routes, base = server
    archive = fixture.make_archive()
    cut = archive[: len(archive) // 2]
    routes["/cifar.tar.gz"] = (cut, len(cut))  # the server itself sends a short file
    with pytest.raises(DatasetError, match="checksum mismatch"):
        download_cifar10(tmp_path, url=f"{base}/cifar.tar.gz", md5=fixture.md5(archive))
    assert _nothing_left(tmp_path)


def test_connection_cut_before_content_length_is_a_clear_error(server, tmp_path):
    routes, base = server
    archive = fixture.make_archive()
    routes["/cifar.tar.gz"] = (archive[:1000], len(archive))
    with pytest.raises(DatasetError, match="cut off|truncated"):
        download_cifar10(tmp_path, url=f"{base}/cifar.tar.gz", md5=fixture.md5(archive))
    assert _nothing_left(tmp_path)


def test_truncated_archive_with_matching_md5_fails_extraction_and_leaves_nothing(server, tmp_path):
    routes, base = server
    cut = fixture.make_archive()[:-200]
    routes["/cifar.tar.gz"] = (cut, len(cut))
    with pytest.raises(DatasetError, match="corrupt or truncated"):
        download_cifar10(tmp_path, url=f"{base}/cifar.tar.gz", md5=fixture.md5(cut))
    assert _nothing_left(tmp_path)


def _member(
    name: str, kind: bytes = tarfile.REGTYPE, size: int = 3, link: str = ""
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, (size if kind == tarfile.REGTYPE else 0), link
    return info


@pytest.mark.parametrize(
    "bad",
    [
        _member("../evil"),
        _member("/etc/evil"),
        _member(f"{CIFAR10_DIRNAME}/../../evil"),
        _member(f"{CIFAR10_DIRNAME}/link", tarfile.SYMTYPE, link="/etc/passwd"),
        _member(f"{CIFAR10_DIRNAME}/hard", tarfile.LNKTYPE, link=f"{CIFAR10_DIRNAME}/readme.html"),
        _member(f"{CIFAR10_DIRNAME}/unexpected.py"),
        _member("elsewhere/data_batch_1"),
    ],
    ids=["dotdot", "absolute", "inner-dotdot", "symlink", "hardlink", "unexpected", "other-dir"],
)
def test_unsafe_archive_members_are_refused_and_nothing_is_written(server, tmp_path, bad):
    routes, base = server
    archive = fixture.make_archive(extra=[bad])
    routes["/cifar.tar.gz"] = (archive, len(archive))
    with pytest.raises(DatasetError, match="refusing"):
        download_cifar10(tmp_path / "data", url=f"{base}/cifar.tar.gz", md5=fixture.md5(archive))
    assert _nothing_left(tmp_path / "data")
    assert not (tmp_path / "evil").exists()


def test_archive_without_the_batches_is_refused(server, tmp_path):
    routes, base = server
    archive = fixture.make_archive(files={"readme.html": b"hi"})
    routes["/cifar.tar.gz"] = (archive, len(archive))
    with pytest.raises(DatasetError, match="missing batches.meta"):
        download_cifar10(tmp_path, url=f"{base}/cifar.tar.gz", md5=fixture.md5(archive))
    assert _nothing_left(tmp_path)


def test_unreachable_server_is_a_clear_error(tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DatasetError, match="could not download"):
        download_cifar10(tmp_path, url=f"http://127.0.0.1:{port}/x.tar.gz")
    assert _nothing_left(tmp_path)


def test_existing_complete_folder_is_kept_without_downloading(tmp_path, no_network):
    fixture.write_extracted(tmp_path)
    assert download_cifar10(tmp_path, url="http://127.0.0.1:9/never") == tmp_path / CIFAR10_DIRNAME


# --------------------------------------------------------------------------- CLI


def _args(tmp_path: Path, url: str) -> argparse.Namespace:
    return argparse.Namespace(name="cifar10", data_dir=str(tmp_path), url=url)


def test_cli_data_downloads_and_returns_0(server, tmp_path, capsys, monkeypatch):
    routes, base = server
    archive = fixture.make_archive()
    routes["/cifar.tar.gz"] = (archive, len(archive))
    monkeypatch.setattr(datasets, "CIFAR10_MD5", fixture.md5(archive))
    assert cli_data(_args(tmp_path, f"{base}/cifar.tar.gz")) == 0
    out = capsys.readouterr().out
    assert "downloaded 100%" in out and "ready" in out
    assert (tmp_path / CIFAR10_DIRNAME / "test_batch").is_file()


def test_cli_data_prints_one_clear_error_and_returns_1(server, tmp_path, capsys):
    routes, base = server
    archive = fixture.make_archive()  # its md5 is not CIFAR-10's published one
    routes["/cifar.tar.gz"] = (archive, len(archive))
    assert cli_data(_args(tmp_path, f"{base}/cifar.tar.gz")) == 1
    err = capsys.readouterr().err
    assert "checksum mismatch" in err and "Traceback" not in err
    assert _nothing_left(tmp_path)


def test_cli_is_wired_to_cli_data(monkeypatch, tmp_path, capsys):
    from autograder import cli

    fixture.write_extracted(tmp_path)
    assert cli.main(["data", "cifar10", "--data-dir", str(tmp_path)]) == 0
    assert "ready" in capsys.readouterr().out


def test_fixture_pickles_use_the_python2_names_the_real_files_use():
    data = fixture.make_batches()["data_batch_1"]
    assert b"numpy.core.multiarray\n_reconstruct" in data and b"_codecs" not in data
    assert isinstance(pickle.loads(data, encoding="latin1")["data"], np.ndarray)
    assert io.BytesIO(data).read(2) == b"\x80\x02"  # protocol 2, as Python 2's cPickle wrote
