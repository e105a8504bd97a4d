"""A study as one file: its tidy results as Parquet, with the study's spec, environment and version in the file's
key-value metadata, or as plain CSV; written by `itermap export` and read back as the study folder would be.

Parquet metadata keys (UTF-8 text): `itermap.version` (the itermap that wrote the file), `itermap.spec` (the text of
the study's `study.toml`), `itermap.meta` (JSON: the rest of the store's `meta` table: the study's name, device,
wall time, dates, notes, versions) and `itermap.environment` (JSON: each training session's record, the store's
`sessions`). A file without them (a CSV, or another tool's Parquet) still reads; it then has no spec and no
environment.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from itermap import __version__
from itermap.study.errors import StudyError

FORMATS = {".parquet": "parquet", ".csv": "csv"}
# What the analysis cannot do without; every other column is a config field, an optional run column or ignored.
REQUIRED = [
    "run_id",
    "dataset",
    "family",
    "arch",
    "params",
    "macs",
    "seed",
    "status",
    "epoch",
    "split",
    "metric",
    "value",
]


def is_export(path: str | Path) -> bool:
    """Whether `path` names a study file (by its suffix; a folder is a study folder whatever its name)."""
    return Path(path).suffix.lower() in FORMATS and not Path(path).is_dir()


def write_export(frame: pd.DataFrame, path: Path, fmt: str, meta: dict[str, str], sessions: list[dict]) -> None:
    """Write `frame` as Parquet, with the store's `meta` table and `sessions` in the file's metadata, or as plain CSV."""
    if fmt == "csv":
        frame.to_csv(path, index=False)
        return
    table = pa.Table.from_pandas(frame, preserve_index=False)
    ours = {
        "itermap.version": __version__,
        "itermap.spec": meta.get("spec", ""),
        "itermap.meta": json.dumps({k: v for k, v in meta.items() if k != "spec"}),
        "itermap.environment": json.dumps(sessions),
    }
    pq.write_table(table.replace_schema_metadata({**(table.schema.metadata or {}), **ours}), path)


def read_export(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """A study file's tidy rows and its metadata: `meta` (the store's meta table, `spec` in it), `environment` and
    `version`, empty where absent; a one-line StudyError for an unreadable file, another format or missing columns."""
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise StudyError(f"{path}: not a study folder nor a .parquet or .csv file; give a study folder or an export")
    if not path.is_file():
        raise StudyError(f"{path}: no such file")
    try:
        if fmt == "parquet":
            table = pq.read_table(path)
            frame, raw = table.to_pandas(), table.schema.metadata or {}
        else:
            # numpy_nullable keeps whole-number columns with gaps as integers (Int64), as the folder's frame has them.
            frame, raw = pd.read_csv(path, dtype_backend="numpy_nullable", keep_default_na=True), {}
    except (OSError, pa.ArrowException, pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise StudyError(f"{path}: cannot be read as {fmt} ({reason})") from None
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise StudyError(
            f"{path}: missing column{'s' * (len(missing) > 1)} {', '.join(missing)}; "
            "is it `itermap export DIR` (the results table)?"
        )
    text = {k.decode(): v.decode() for k, v in raw.items() if k.startswith(b"itermap.")}
    return frame, {
        "version": text.get("itermap.version"),
        "meta": json.loads(text.get("itermap.meta", "{}")) | {"spec": text.get("itermap.spec", "")},
        "environment": json.loads(text.get("itermap.environment", "[]")),
    }


def plain(value: object) -> object:
    """A cell as the Python value SQLite would have given: None for a gap, int/float/bool/str, a list for an array."""
    if hasattr(value, "tolist"):  # numpy scalars and arrays (a Parquet list column)
        value = value.tolist()
    if isinstance(value, list):
        return value
    return None if pd.isna(value) else value


def json_columns(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    """The text columns among `columns` that hold JSON (a config field of mixed kinds or of lists, as `column` writes
    it): every value parses and one at least is a list, an object or a quoted string. Plain words ("tanh") are not."""

    def parses(text: str) -> bool:
        try:
            json.loads(text)
        except ValueError:
            return False
        return True

    found = []
    for c in columns:
        values = frame[c].dropna()
        texts = [v for v in values if isinstance(v, str)]
        if texts and len(texts) == len(values) and any(v[:1] in '[{"' for v in texts) and all(map(parses, texts)):
            found.append(c)
    return found
