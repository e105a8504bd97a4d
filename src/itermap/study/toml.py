"""A minimal TOML writer for resolved specs (tables, arrays of tables, scalars, nested lists, inline tables)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def value(v: Any) -> str:
    """One TOML value."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (str, Path)):
        return json.dumps(str(v))
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items() if x is not None) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def dumps(doc: dict[str, dict | list[dict]]) -> str:
    """Top-level tables (dicts) and arrays of tables (lists of dicts) as TOML text; None values are left out."""
    out: list[str] = []
    for name, body in doc.items():
        for table in body if isinstance(body, list) else [body]:
            out.append(f"[[{name}]]" if isinstance(body, list) else f"[{name}]")
            out += [f"{k} = {value(v)}" for k, v in table.items() if v is not None]
            out.append("")
    return "\n".join(out)
