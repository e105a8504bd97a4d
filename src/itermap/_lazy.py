"""Package attributes imported on first use, so that `import itermap` stays light."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy(package: str, table: dict[str, str]) -> Callable[[str], Any]:
    """A module-level `__getattr__` for `package` that imports `name` from `table[name]` when first asked for
    ("module", or "module:attribute" where the module names it otherwise)."""

    def __getattr__(name: str) -> Any:
        if name in table:
            module, _, attribute = table[name].partition(":")
            return getattr(importlib.import_module(module), attribute or name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
