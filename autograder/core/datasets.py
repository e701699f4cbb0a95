"""Datasets for the notebooks: the committed digits set and CIFAR-10 (docs/datasets.md).

`load_dataset(name)` returns ready-to-train float64 splits with the CS231n conventions: a fixed
test split, a validation split taken from the training pool, a "dev" subset of the training
split for quick experiments, the mean image of the training split subtracted from every split,
and (bias trick) a trailing column of ones. A notebook switches datasets by changing one string.

`download_cifar10()` (CLI: `autograder data cifar10`) fetches the python version of CIFAR-10 with
pooch, checks its published MD5 (`known_hash`) and extracts it under `data/` with tarfile's
"data" filter, atomically: a failed or corrupt download leaves neither a half-written
`cifar-10-batches-py/` nor temporary files behind. It is the kit's only use of the network.
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from autograder.core.config import REPO_ROOT

if TYPE_CHECKING:  # tarfile (and gzip, zlib) only in _extract: the config loader imports this
    import tarfile  # module for DATASETS, in the grader before its first dispatch too

DATASETS = ("digits", "cifar10")
DATA_DIR_ENV = "AUTOGRADER_DATA_DIR"  # overrides where datasets are looked for and downloaded

DIGITS_FILE = "digits.npz"
DIGITS_MAX_PIXEL = 16.0
DIGITS_SHAPE = (8, 8)
# The digits test split must not move when a student changes `seed`, or test images would leak
# into training: it comes from one shuffle with this constant seed, done once.
DIGITS_TEST_SEED = 20240101
DIGITS_NUM_TEST_POOL = 300

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"  # published on the CIFAR-10 page
CIFAR10_DIRNAME = "cifar-10-batches-py"
CIFAR10_TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR10_REQUIRED = (*CIFAR10_TRAIN_BATCHES, "test_batch", "batches.meta")
CIFAR10_MEMBERS = frozenset((*CIFAR10_REQUIRED, "readme.html"))  # all the archive may hold
CIFAR10_MAX_PIXEL = 255.0
CIFAR10_SHAPE = (32, 32, 3)

# name -> (num_train, num_val, num_test, num_dev) when the caller gives None
DEFAULT_SPLITS = {
    "digits": (1257, 240, 300, 100),
    "cifar10": (49000, 1000, 1000, 500),
}

DOWNLOAD_CHUNK = 1 << 16
DOWNLOAD_TIMEOUT_S = 60


class DatasetError(Exception):
    """A dataset cannot be loaded or downloaded; the message says what to do about it."""


# --------------------------------------------------------------------------- where data lives


def data_dirs(data_dir: str | Path | None = None) -> list[Path]:
    """The folders searched for datasets, in order.

    `data_dir` when given; otherwise $AUTOGRADER_DATA_DIR (if set), `<repo>/data`, and `./data`
    (the last one so that a non-editable install still finds a checkout's data from its root).
    """
    if data_dir is not None:
        return [Path(data_dir)]
    candidates = [Path(os.environ[DATA_DIR_ENV])] if os.environ.get(DATA_DIR_ENV) else []
    candidates += [REPO_ROOT / "data", Path.cwd() / "data"]
    unique: list[Path] = []
    for path in candidates:
        if path.resolve() not in [u.resolve() for u in unique]:
            unique.append(path)
    return unique


def download_dir(data_dir: str | Path | None = None) -> Path:
    """Where a download goes: `data_dir`, else $AUTOGRADER_DATA_DIR, else the checkout's data/."""
    if data_dir is not None:
        return Path(data_dir)
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV])
    repo_data = REPO_ROOT / "data"
    return repo_data if repo_data.is_dir() else Path.cwd() / "data"


def _looked_in(dirs: list[Path], what: str) -> str:
    return ", ".join(str(d / what) for d in dirs)


# --------------------------------------------------------------------------- raw loaders


def load_digits_raw(data_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The committed digits set: images uint8 (1797, 8, 8) in 0..16, labels int64 (1797,), names."""
    dirs = data_dirs(data_dir)
    for folder in dirs:
        path = folder / DIGITS_FILE
        if path.is_file():
            try:
                with np.load(path, allow_pickle=False) as npz:
                    names = [str(n) for n in npz["class_names"]]
                    return npz["images"], npz["labels"].astype(np.int64), names
            except (OSError, ValueError, KeyError) as exc:
                raise DatasetError(
                    f"{path}: not a valid digits file ({exc}); restore it from git."
                ) from None
    raise DatasetError(
        f"The digits dataset was not found; looked for {_looked_in(dirs, DIGITS_FILE)}. "
        f"Run from the kit's folder, or set {DATA_DIR_ENV} to the folder holding {DIGITS_FILE}."
    )


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles only the numpy arrays, lists and dicts a CIFAR-10 batch is made of.

    The batches are pickles by format. Unpickling is acceptable only for this dataset, which the
    instructor or student downloads themselves and whose MD5 is verified before extraction; the
    allow-list below is a second line of defence (nothing from a submission is ever unpickled).
    """

    _RECONSTRUCT = np.ndarray((0,)).__reduce__()[0]  # numpy's private array rebuilder
    _ALLOWED = {
        (
            "numpy.core.multiarray",
            "_reconstruct",
        ): _RECONSTRUCT,  # how numpy 1.x (the files) names it
        ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,  # how numpy 2.x names it
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}") from None


def _read_pickle(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            # The batches were written by Python 2; latin1 is how numpy arrays survive that.
            obj = _CifarUnpickler(f, encoding="latin1").load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise DatasetError(
            f"{path}: not a CIFAR-10 batch ({exc}); run `autograder data cifar10` again."
        ) from None
    if not isinstance(obj, dict):
        raise DatasetError(f"{path}: not a CIFAR-10 batch; run `autograder data cifar10` again.")
    return obj


def load_cifar10_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file: images uint8 (N, 32, 32, 3) (height, width, RGB), labels int64 (N,)."""
    path = Path(path)
    batch = _read_pickle(path)
    try:
        data = np.asarray(batch["data"], dtype=np.uint8)
        labels = np.asarray(batch["labels"], dtype=np.int64)
        # Each row is 1024 red, then 1024 green, then 1024 blue values, row-major.
        images = data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    except (KeyError, ValueError) as exc:
        raise DatasetError(
            f"{path}: unexpected batch content ({exc}); run `autograder data cifar10` again."
        ) from None
    if len(images) != len(labels):
        raise DatasetError(f"{path}: {len(images)} images but {len(labels)} labels.")
    return np.ascontiguousarray(images), labels


def find_cifar10(data_dir: str | Path | None = None) -> Path:
    """The extracted `cifar-10-batches-py/` folder, or a DatasetError saying how to get it."""
    dirs = data_dirs(data_dir)
    for folder in dirs:
        root = folder / CIFAR10_DIRNAME
        if root.is_dir():
            missing = [n for n in CIFAR10_REQUIRED if not (root / n).is_file()]
            if missing:
                raise DatasetError(
                    f"{root} is incomplete (missing {', '.join(missing)}): delete it and run "
                    f"`autograder data cifar10` (or `make cifar10`)."
                )
            return root
    raise DatasetError(
        f"CIFAR-10 is not downloaded (looked for {_looked_in(dirs, CIFAR10_DIRNAME)}). "
        f"Run `autograder data cifar10` (or `make cifar10`) to download it (about 163 MB)."
    )


def load_cifar10_raw(
    data_dir: str | Path | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """CIFAR-10 as uint8 images (N, 32, 32, 3): X_train, y_train, X_test, y_test, class names."""
    root = find_cifar10(data_dir)
    parts = [load_cifar10_batch(root / name) for name in CIFAR10_TRAIN_BATCHES]
    X_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    X_test, y_test = load_cifar10_batch(root / "test_batch")
    meta = _read_pickle(root / "batches.meta")
    names = [str(n) for n in meta.get("label_names", [])]
    if not names:
        raise DatasetError(
            f"{root / 'batches.meta'}: no label_names; run `autograder data cifar10` again."
        )
    return X_train, y_train, X_test, y_test, names


# --------------------------------------------------------------------------- load_dataset


def _split_sizes(
    name: str, sizes: tuple[int | None, ...], pool: int, test_pool: int
) -> tuple[int, ...]:
    """Fill in defaults and check the requested sizes fit the data; errors say what fits."""
    num_train, num_val, num_test, num_dev = (
        default if given is None else int(given)
        for given, default in zip(sizes, DEFAULT_SPLITS[name], strict=True)
    )
    if min(num_train, num_val, num_test, num_dev) < 0:
        raise DatasetError("split sizes must be >= 0")
    if num_train < 1:
        raise DatasetError("num_train must be at least 1 (the mean image is computed on it)")
    if num_train + num_val > pool:
        raise DatasetError(
            f"{name}: num_train + num_val = {num_train + num_val}, "
            f"but the training pool has {pool} images"
        )
    if num_test > test_pool:
        raise DatasetError(
            f"{name}: num_test = {num_test}, but the test split has {test_pool} images"
        )
    if num_dev > num_train:
        raise DatasetError(f"{name}: num_dev = {num_dev} must not exceed num_train = {num_train}")
    return num_train, num_val, num_test, num_dev


def _digits_pools(data_dir: str | Path | None) -> tuple[np.ndarray, ...]:
    """Digits as (pool images, pool labels, test images, test labels, names); test is fixed."""
    images, labels, names = load_digits_raw(data_dir)
    order = np.random.RandomState(DIGITS_TEST_SEED).permutation(len(images))
    test, pool = order[:DIGITS_NUM_TEST_POOL], order[DIGITS_NUM_TEST_POOL:]
    return images[pool], labels[pool], images[test], labels[test], names


def _to_rows(images: np.ndarray, scale: float, bias_trick: bool) -> np.ndarray:
    """uint8 images (N, ...) -> float64 (N, D) in [0, 1], plus a last column of ones if asked.

    Filled in place into one preallocated array: for CIFAR-10 a copy is 1.2 GB.
    """
    flat = images.reshape(len(images), -1)
    X = np.empty((len(flat), flat.shape[1] + int(bias_trick)), dtype=np.float64)
    np.divide(flat, scale, out=X[:, : flat.shape[1]])
    if bias_trick:
        X[:, -1] = 1.0
    return X


def load_dataset(
    name: str = "digits",
    num_train: int | None = None,
    num_val: int | None = None,
    num_test: int | None = None,
    num_dev: int | None = None,
    subtract_mean: bool = True,
    bias_trick: bool = True,
    seed: int = 0,
    data_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Load a dataset as float64 train/val/test/dev splits (CS231n conventions).

    Inputs:
    - name: "digits" (committed, offline, 8x8 gray) or "cifar10" (downloaded, 32x32 RGB).
    - num_train, num_val, num_test, num_dev: split sizes; None takes the dataset's default
      (digits 1257 / 240 / 300 / 100, cifar10 49000 / 1000 / 1000 / 500).
    - subtract_mean: subtract the training split's mean image from every split.
    - bias_trick: append a column of ones to every X (so W of shape (D + 1, C) holds the bias).
    - seed: shuffles the training pool before val is taken from it, and picks dev. The test split
      never depends on it.
    - data_dir: folder holding digits.npz / cifar-10-batches-py (default: see `data_dirs`).

    Returns a dict with:
    - X_train, X_val, X_test, X_dev: float64 (N, D) or (N, D + 1) with the bias trick; pixels
      scaled to [0, 1] before the mean is subtracted. D = 64 (digits) or 3072 (cifar10).
    - y_train, y_val, y_test, y_dev: int64 (N,) class indices in 0..C-1.
    - mean_image: float64 (D,), the training split's mean (returned even if not subtracted).
    - class_names: list of C str.  image_shape: (8, 8) or (32, 32, 3), to reshape a row of X.
    """
    if name not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known datasets: {', '.join(DATASETS)}")
    if name == "digits":
        X_pool, y_pool, X_test_all, y_test_all, names = _digits_pools(data_dir)
        scale, image_shape = DIGITS_MAX_PIXEL, DIGITS_SHAPE
    else:
        X_pool, y_pool, X_test_all, y_test_all, names = load_cifar10_raw(data_dir)
        scale, image_shape = CIFAR10_MAX_PIXEL, CIFAR10_SHAPE
    num_train, num_val, num_test, num_dev = _split_sizes(
        name, (num_train, num_val, num_test, num_dev), len(X_pool), len(X_test_all)
    )
    rng = np.random.RandomState(seed)
    order = rng.permutation(len(X_pool))
    train_idx, val_idx = order[:num_train], order[num_train : num_train + num_val]
    dev_idx = rng.choice(num_train, num_dev, replace=False)

    # Index the uint8 arrays first: converting the whole pool to float64 would cost 8x its size.
    X_train = _to_rows(X_pool[train_idx], scale, bias_trick)
    D = X_train.shape[1] - int(bias_trick)
    mean_image = X_train[:, :D].mean(axis=0)
    splits = {
        "train": (X_train, y_pool[train_idx]),
        "val": (_to_rows(X_pool[val_idx], scale, bias_trick), y_pool[val_idx]),
        "test": (_to_rows(X_test_all[:num_test], scale, bias_trick), y_test_all[:num_test]),
    }
    data: dict[str, Any] = {}
    for split, (X, y) in splits.items():
        if subtract_mean:
            X[:, :D] -= mean_image  # in place: these arrays are ours
        data[f"X_{split}"], data[f"y_{split}"] = X, y.astype(np.int64)
    # dev rows are copies of (already centered) train rows
    data["X_dev"], data["y_dev"] = X_train[dev_idx], data["y_train"][dev_idx]
    data.update(mean_image=mean_image, class_names=list(names), image_shape=tuple(image_shape))
    return data


# --------------------------------------------------------------------------- CIFAR-10 download

Progress = Callable[[int, int | None], None]  # (bytes so far, total bytes or None)
ARCHIVE_NAME = "cifar-10-python.tar.gz"


class _ProgressBar:
    """The progress-bar object pooch's HTTPDownloader drives (`total`, `update`, `reset`,
    `close`), turned into `progress(bytes_so_far, total_or_None)` calls."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.total = 0  # set by pooch from Content-Length (0 when unknown)
        self.done = 0

    def update(self, size: int) -> None:
        # pooch counts whole chunks, the last one too: never report more than the total
        self.done = min(self.done + size, self.total) if self.total else self.done + size
        self.progress(self.done, self.total or None)

    def reset(self) -> None:
        self.done = 0

    def close(self) -> None:
        pass


def _fetch(url: str, md5: str, into: Path, progress: Progress | None) -> Path:
    """Download `url` into the folder `into` with pooch, verified against `md5` before it gets
    its final name; the archive's path. Every failure is a DatasetError saying what to do."""
    import pooch
    import requests

    pooch.get_logger().setLevel("WARNING")  # its "Downloading ..." line: we print our own
    downloader = pooch.HTTPDownloader(
        progressbar=_ProgressBar(progress) if progress else False,
        chunk_size=DOWNLOAD_CHUNK, timeout=DOWNLOAD_TIMEOUT_S,
    )
    try:
        path = pooch.retrieve(url, known_hash=f"md5:{md5.lower()}", fname=ARCHIVE_NAME,
                              path=into, downloader=downloader)
    except ValueError:  # pooch's hash check failed (it deleted the download)
        raise DatasetError(
            f"checksum mismatch for {url}: what was received does not have the published "
            f"MD5 {md5}. The download is corrupt or incomplete; try again."
        ) from None
    except (requests.exceptions.ChunkedEncodingError, requests.exceptions.ContentDecodingError):
        raise DatasetError(
            f"the download from {url} was cut off before the end (truncated); try again."
        ) from None
    except (requests.exceptions.RequestException, OSError) as exc:  # refused, 404, timeout, SSL
        raise DatasetError(
            f"could not download {url}: {exc}; check your connection and try again."
        ) from None
    return Path(path)


def _safe_members(tar: tarfile.TarFile, archive: str) -> list[tarfile.TarInfo]:
    """The archive's expected regular files; anything that could escape the folder is refused."""
    files = []
    for member in tar.getmembers():
        name = member.name.rstrip("/")
        parts = Path(name).parts
        if name.startswith(("/", "\\")) or ".." in parts or (parts and parts[0] != CIFAR10_DIRNAME):
            raise DatasetError(
                f"{archive}: unexpected path {member.name!r} in the archive; refusing it."
            )
        if not (member.isfile() or member.isdir()):
            raise DatasetError(
                f"{archive}: {member.name!r} is a link or special file; refusing it."
            )
        if member.isfile():
            if len(parts) != 2 or parts[1] not in CIFAR10_MEMBERS:
                raise DatasetError(
                    f"{archive}: unexpected file {member.name!r} in the archive; refusing it."
                )
            files.append(member)
    missing = set(CIFAR10_REQUIRED) - {Path(m.name).name for m in files}
    if missing:
        raise DatasetError(
            f"{archive}: not the CIFAR-10 archive (missing {', '.join(sorted(missing))})."
        )
    return files


def _extract(archive: Path, into: Path, label: str) -> Path:
    """Extract the expected members of `archive` into `into/cifar-10-batches-py`; return it.

    `label` names the archive in error messages (its temporary file name would mean nothing).
    The members are checked first (`_safe_members`), then extracted with tarfile's "data"
    filter, which also refuses links, devices and paths outside `into` and drops file modes.
    """
    import gzip
    import tarfile
    import zlib

    # The filter exists from Python 3.12 and in the security releases of 3.10 and 3.11; on an
    # older patch release the checked members (regular files with known names) are safe as is.
    safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            tar.extractall(into, members=_safe_members(tar, label), **safe)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        # Other OSErrors are real disk problems (full, permissions): cli_data reports those.
        raise DatasetError(
            f"{label}: the archive is corrupt or truncated ({exc}); try again."
        ) from None
    return into / CIFAR10_DIRNAME


def download_cifar10(
    data_dir: str | Path | None = None,
    url: str = CIFAR10_URL,
    md5: str = CIFAR10_MD5,
    progress: Progress | None = None,
) -> Path:
    """Download, verify (MD5) and extract CIFAR-10's python version; return its folder.

    The archive goes to a temporary file inside `data_dir` and is extracted into a temporary
    folder there, renamed into place only when complete; on any failure both are removed, so
    `data_dir/cifar-10-batches-py` is either complete or absent. The archive is not kept.
    An existing complete folder is kept as is (nothing is downloaded).
    `progress(bytes_so_far, total_or_None)` is called while downloading.
    """
    folder = download_dir(data_dir)
    final = folder / CIFAR10_DIRNAME
    if final.exists():
        return find_cifar10(folder)  # complete: done; incomplete: a DatasetError saying so
    folder.mkdir(parents=True, exist_ok=True)
    # One private folder next to the destination for the archive and the extraction, removed
    # whatever happens: the renamed folder is the only thing a run can leave behind.
    workdir = Path(tempfile.mkdtemp(dir=folder, prefix=".cifar10-"))
    try:
        archive = _fetch(url, md5, workdir / "download", progress)
        extracted = _extract(archive, workdir / "extract", label=url)
        os.replace(extracted, final)  # atomic on one filesystem: the folder appears complete
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return final


def _print_progress() -> Progress:
    """A progress callback printing every 10% (or every 10 MB when the size is unknown)."""
    last = [-1]

    def report(done: int, total: int | None) -> None:
        step = done * 10 // total if total else done // (10 << 20)
        if step != last[0]:
            last[0] = step
            where = f"{100 * done // total}%" if total else f"{done >> 20} MB"
            print(f"  downloaded {where}", flush=True)

    return report


def cli_data(args: argparse.Namespace) -> int:
    """`autograder data cifar10 [--data-dir D]`: 0 when the dataset is in place, 1 on error."""
    if args.name != "cifar10":
        print(f"autograder data: unknown dataset {args.name!r}; known: cifar10", file=sys.stderr)
        return 1
    url = getattr(args, "url", None) or CIFAR10_URL
    folder = download_dir(getattr(args, "data_dir", None))
    if (folder / CIFAR10_DIRNAME).exists():
        print(f"CIFAR-10 is already in {folder / CIFAR10_DIRNAME}; checking it.")
    else:
        print(f"Downloading CIFAR-10 from {url} into {folder} ...", flush=True)
    try:
        path = download_cifar10(folder, url=url, md5=CIFAR10_MD5, progress=_print_progress())
    except DatasetError as exc:
        print(f"autograder data: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"autograder data: cannot write in {folder}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"CIFAR-10 is ready in {path}. Use it with load_dataset('cifar10').")
    return 0
