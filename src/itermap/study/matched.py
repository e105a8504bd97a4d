"""Parameter-matched designs: solve each family's width so its parameter count hits a budget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from itermap.models import family
from itermap.study.errors import SpecError
from itermap.study.families import build, config_class, group_of, is_list_field

MAX_WIDTH = 1 << 20


@dataclass(frozen=True)
class Solution:
    """A family config whose parameter count is within tolerance of `budget`."""

    budget: int
    cfg: BaseModel
    params: int

    @property
    def error(self) -> float:
        """Relative distance of the parameter count from the budget."""
        return abs(self.params - self.budget) / self.budget


def template(fields: dict[str, Any], where: str):
    """A function width -> config for a matched family entry ({family, layers, ...}; the width is solved)."""
    cls = config_class(fields.get("family"), where)
    if "hidden" in fields:
        raise SpecError(f"{where}.hidden: solved from the budget, leave it out")
    fixed = dict(fields)
    if is_list_field(cls, "hidden"):  # MLP-like: `layers` hidden layers, all of the solved width
        layers = fixed.pop("layers", 1)
        if not isinstance(layers, int) or isinstance(layers, bool) or layers < 1:
            raise SpecError(f"{where}.layers: a whole number >= 1 of hidden layers to size (got {layers!r})")
        make = lambda width: build({**fixed, "hidden": [width] * layers}, where)  # noqa: E731
    else:
        make = lambda width: build({**fixed, "hidden": width}, where)  # noqa: E731
    make(1)  # reports malformed entries before any solving
    return make


def solve(make, budget: int, tolerance: float) -> tuple[Solution | None, str]:
    """The width whose parameter count is nearest `budget` (counts grow with width), and a note when none is within tolerance."""
    count = lambda width: family(make(width)).count_params(make(width))  # noqa: E731
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
        f"{group_of(found.cfg)} cannot reach {budget:,} parameters within {tolerance:.0%} "
        f"(nearest: {found.params:,} at width {best}); left out"
    )
