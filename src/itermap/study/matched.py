"""Parameter-matched designs: solve each family's width so its parameter count hits a budget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from itermap.models import FamilyConfig, family_of
from itermap.study.errors import SpecError
from itermap.study.families import build, config_class

MAX_WIDTH = 1 << 20


@dataclass(frozen=True)
class Solution:
    """A family config whose parameter count is within tolerance of `budget`."""

    budget: int
    cfg: FamilyConfig
    param_count: int

    @property
    def error(self) -> float:
        """Relative distance of the parameter count from the budget."""
        return abs(self.param_count - self.budget) / self.budget


def template(fields: dict[str, Any], where: str):
    """A function width -> config for a matched family entry ({family, layers, ...}; the family's `sized` sets the width)."""
    cls = config_class(fields.get("family"), where)
    try:
        sized = cls.sized(fields, 1)
    except ValueError as e:
        raise SpecError(f"{where}.{e}") from None  # sized's messages start with the key: "layers: ..."
    for key in fields.keys() & sized.keys():
        if sized[key] != fields[key]:
            raise SpecError(f"{where}.{key}: solved from the budget, leave it out")
    make = lambda width: build(cls.sized(fields, width), where)  # noqa: E731
    make(1)  # reports malformed entries before any solving
    return make


def solve(make, budget: int, tolerance: float) -> tuple[Solution | None, str]:
    """The width whose parameter count is nearest `budget` (counts grow with width), and a note when none is within tolerance."""
    count = lambda width: family_of(make(width)).count_params(make(width))  # noqa: E731
    lo, hi = 1, 1
    while count(hi) < budget and hi < MAX_WIDTH:
        lo, hi = hi, hi * 2
    while hi - lo > 1:  # smallest width reaching the budget is in (lo, hi]
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if count(mid) < budget else (lo, mid)
    best = min({lo, hi}, key=lambda w: abs(count(w) - budget))
    found = Solution(budget, make(best), count(best))
    if found.error <= tolerance:
        return found, ""
    return None, (
        f"{found.cfg.group} cannot reach {budget:,} parameters within {tolerance:.0%} "
        f"(nearest: {found.param_count:,} at width {best}); left out"
    )
