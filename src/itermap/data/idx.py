"""The IDX file format (MNIST's): read with validation, write deterministically.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
one big-endian int32 per dimension, then the values in C order. Only unsigned bytes (type 0x08)
are used here, so the magic number is 2049 for labels [N] and 2051 for images [N, H, W].
"""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

UBYTE = 0x08
FIX = "delete it and download it again, or point ITERMAP_DATA_DIR at a folder with good copies"


class DataError(Exception):
    """A data set is missing, unreadable or malformed; the message names the file and the fix."""


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read an unsigned-byte IDX file of `ndim` dimensions (gzipped when its name ends in .gz)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError; truncated gzip is EOFError
        raise DataError(f"{path}: cannot read ({err}); {FIX}") from None
    magic = (UBYTE << 8) | ndim
    start = 4 + 4 * ndim
    if len(raw) < start or int.from_bytes(raw[:4], "big") != magic:
        found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else "none"
        raise DataError(
            f"{path}: not an IDX file of {ndim} dimension(s) (magic number {found}, expected {magic}); {FIX}"
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, ">i4", count=ndim, offset=4))
    if min(dims) < 1:
        raise DataError(f"{path}: its header says dimensions {dims}; each must be at least 1 (corrupt); {FIX}")
    size = math.prod(dims)  # exact: numpy's product of large dimensions would wrap around
    if len(raw) != start + size:
        raise DataError(
            f"{path}: holds {len(raw) - start} values but its header {dims} says {size} (truncated or corrupt); {FIX}"
        )
    return np.frombuffer(bytearray(raw), np.uint8, count=size, offset=start).reshape(dims)


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file, gzipped (mtime 0: same bytes every time) if `path` ends in .gz."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, UBYTE, array.ndim]) + np.asarray(array.shape, ">i4").tobytes()
    raw = header + array.tobytes()
    if Path(path).suffix == ".gz":
        raw = gzip.compress(raw, compresslevel=6, mtime=0)  # level 9 is 10x slower for 1% smaller
    Path(path).write_bytes(raw)
