"""The IDX reader and writer: round trips, and one clear DataError for every kind of bad file."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from itermap.data.idx import DataError, read_idx, write_idx

IMAGES = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)


@pytest.mark.parametrize("name", ["x-idx3-ubyte", "x-idx3-ubyte.gz"])
def test_round_trip(tmp_path: Path, name: str) -> None:
    write_idx(tmp_path / name, IMAGES)
    back = read_idx(tmp_path / name, 3)
    assert back.dtype == np.uint8 and back.shape == (2, 3, 4)
    assert np.array_equal(back, IMAGES)
    assert back.flags.writeable  # torch.from_numpy needs no copy and gives no warning


def test_header_is_the_standard_one(tmp_path: Path) -> None:
    write_idx(tmp_path / "x", IMAGES)
    raw = (tmp_path / "x").read_bytes()
    assert raw[:4] == (2051).to_bytes(4, "big")
    assert [int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(3)] == [2, 3, 4]
    assert raw[16:] == IMAGES.tobytes()


def test_gzip_is_deterministic(tmp_path: Path) -> None:
    write_idx(tmp_path / "a.gz", IMAGES)
    write_idx(tmp_path / "b.gz", IMAGES)
    assert (tmp_path / "a.gz").read_bytes() == (tmp_path / "b.gz").read_bytes()
    assert gzip.decompress((tmp_path / "a.gz").read_bytes())[:4] == (2051).to_bytes(4, "big")


def bad_file(tmp_path: Path, kind: str) -> Path:
    """A file of the given kind of badness, named like a real IDX file."""
    good = tmp_path / "good"
    write_idx(good, IMAGES)
    raw = good.read_bytes()
    path = tmp_path / ("train-images-idx3-ubyte.gz" if kind.endswith("gz") else "train-images-idx3-ubyte")
    path.write_bytes(
        {
            "truncated": raw[:-5],
            "trailing bytes": raw + b"\0",
            "header only": raw[:10],
            "empty": b"",
            "labels magic": (2049).to_bytes(4, "big") + raw[4:],
            "truncated gz": gzip.compress(raw)[:-20],
            "not gz": raw,
            "corrupt gz": gzip.compress(raw)[:10] + b"\xff" * 40,
            "negative dimensions": raw[:4] + np.array([-2, -3, 4], ">i4").tobytes() + raw[16:],  # their product fits
            # a product of 24 + 6 * 2**64: int64 arithmetic wraps it to the 24 values the file holds
            "overflowing dimensions": raw[:4] + np.array([1539092, 1484310, 48448661], ">i4").tobytes() + raw[16:],
            "zero images": raw[:4] + np.array([0, 4, 4], ">i4").tobytes(),
        }[kind]
    )
    return path


@pytest.mark.parametrize(
    "kind",
    [
        "truncated",
        "trailing bytes",
        "header only",
        "empty",
        "labels magic",
        "truncated gz",
        "not gz",
        "corrupt gz",
        "negative dimensions",
        "overflowing dimensions",
        "zero images",
    ],
)
def test_bad_file_gives_one_clear_line(tmp_path: Path, kind: str) -> None:
    path = bad_file(tmp_path, kind)
    with pytest.raises(DataError) as err:
        read_idx(path, 3)
    message = str(err.value)
    assert str(path) in message and "ITERMAP_DATA_DIR" in message and "delete it" in message
    assert "\n" not in message
    assert err.value.__context__ is None or err.value.__suppress_context__  # no chained traceback


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="nothing-here"):
        read_idx(tmp_path / "nothing-here", 1)
