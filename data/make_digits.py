"""Build data/digits.npz from the digits table shipped inside a scikit-learn wheel.

Usage:  python data/make_digits.py path/to/scikit_learn-*.whl [-o data/digits.npz]

The wheel is only read as a zip archive (zipfile + gzip + numpy): the kit never depends on
scikit-learn. The table `sklearn/datasets/data/digits.csv.gz` has 1797 rows of 64 pixel values
(0..16, an 8x8 image row by row) followed by the label (0..9). The output holds

    images       uint8 (1797, 8, 8)   pixel values 0..16, in the table's row order
    labels       int64 (1797,)        0..9
    class_names  <U1   (10,)          "0" .. "9"

The archive is written with fixed zip timestamps, so running the script again gives a
byte-identical file (and the sha256 recorded in data/README.md stays valid).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import sys
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "sklearn/datasets/data/digits.csv.gz"
NUM_IMAGES = 1797
# A constant date inside the zip makes the output reproducible byte for byte.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def read_table(wheel: Path) -> np.ndarray:
    """The digits table as an int array (1797, 65): 64 pixels, then the label."""
    with zipfile.ZipFile(wheel) as zf:
        raw = gzip.decompress(zf.read(MEMBER))
    table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.int64)
    if table.shape != (NUM_IMAGES, 65):
        raise ValueError(f"{wheel}:{MEMBER}: expected shape ({NUM_IMAGES}, 65), got {table.shape}")
    if (
        table[:, :64].min() < 0
        or table[:, :64].max() > 16
        or not set(table[:, 64]) <= set(range(10))
    ):
        raise ValueError(f"{wheel}:{MEMBER}: pixel values must be 0..16 and labels 0..9")
    return table


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like np.savez_compressed, but with fixed timestamps (reproducible bytes)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buf.getvalue(), compresslevel=9)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="a scikit-learn wheel (.whl)")
    parser.add_argument("-o", "--out", type=Path, default=Path(__file__).with_name("digits.npz"))
    args = parser.parse_args(argv)
    table = read_table(args.wheel)
    write_npz(
        args.out,
        {
            "images": table[:, :64].astype(np.uint8).reshape(NUM_IMAGES, 8, 8),
            "labels": table[:, 64].astype(np.int64),
            "class_names": np.array([str(d) for d in range(10)]),
        },
    )
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes), sha256 {digest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
