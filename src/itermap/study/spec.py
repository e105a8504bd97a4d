"""Study specs: the TOML file a researcher writes, validated with pydantic into a `Spec`.

Malformed specs raise `SpecError` with one line naming the file, the dotted key
(e.g. `grid[1].layers`) and what is allowed.
"""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Sequence
from copy import deepcopy
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    PrivateAttr,
    ValidationError,
    field_validator,
)

from itermap.study.errors import SpecError
from itermap.train import TrainConfig
from itermap.train.config import INT64

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib

PRESETS = Path(__file__).parent / "presets"


class StudySection(BaseModel):
    """[study]: a name (also the default folder, runs/<name>) and a description."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=100)
    description: str = ""


class DataSection(BaseModel):
    """[data]: the data sets, where they live, optional subsets (first N examples) for quick studies, and a validation
    split: `validation` training images held out of training (stratified by class, drawn from `validation_seed`, the
    same for every run) and evaluated with the test split."""

    model_config = ConfigDict(extra="forbid")
    datasets: list[str] = Field(min_length=1)
    data_dir: Path | None = None
    limit_train: PositiveInt | None = None
    limit_test: PositiveInt | None = None
    validation: PositiveInt | None = None
    validation_seed: int = Field(0, ge=0, lt=INT64)

    @field_validator("datasets")
    @classmethod
    def _known(cls, names: list[str]) -> list[str]:
        from itermap.data import DATASETS

        for name in names:
            if name not in DATASETS:
                raise ValueError(f"unknown data set {name!r}; allowed: {', '.join(DATASETS)}")
        if len(set(names)) != len(names):
            raise ValueError("a data set is listed twice")
        return names


def crossed(seeds: dict) -> dict[str, int]:
    """`seeds = { init = N, order = M }`: N initialisations crossed with M data orders, N x M runs per configuration."""
    whole = lambda n: isinstance(n, int) and not isinstance(n, bool) and 1 <= n < INT64  # noqa: E731
    if set(seeds) != {"init", "order"} or not all(whole(n) for n in seeds.values()):
        raise ValueError("cross seeds as { init = N, order = M }, N and M whole numbers >= 1")
    return {"init": seeds["init"], "order": seeds["order"]}


STUDY_WIDE = ("seeds", "checkpoint_every", "keep_weights")  # [train] keys that no grid or matched entry overrides


class TrainSection(TrainConfig):
    """[train]: the trainer's settings plus seeds, checkpoint interval and whether to keep final weights.

    The trainer's settings are the defaults of every [[grid]] and [[matched]] entry, which may override
    any of them in its own `train` sub-table (a list there is an axis).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    seeds: Any = 3
    checkpoint_every: PositiveInt = 1
    keep_weights: bool = False

    @field_validator("seeds")
    @classmethod
    def _seeds(cls, seeds: Any) -> int | list[int] | dict[str, int]:
        if isinstance(seeds, int) and not isinstance(seeds, bool) and seeds > 0:
            return seeds
        if isinstance(seeds, dict):
            return crossed(seeds)
        if (
            isinstance(seeds, list)
            and seeds
            and all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s < INT64 for s in seeds)
            and len(set(seeds)) == len(seeds)
        ):
            return seeds
        raise ValueError(
            "give a number of seeds >= 1, a non-empty list of distinct integers from 0 to 2**63 - 1, "
            "or { init = N, order = M } to cross N initialisations with M data orders"
        )

    @property
    def seed_list(self) -> list[int]:
        """The seeds to train: 0..n-1 for `seeds = n`, the list, or a crossed design's init seeds 0..N-1."""
        if isinstance(self.seeds, dict):
            return list(range(self.seeds["init"]))
        return list(range(self.seeds)) if isinstance(self.seeds, int) else list(self.seeds)

    @property
    def seed_pairs(self) -> list[tuple[int, int | None]]:
        """Each run's (init seed, data-order seed): (s, None) where one seed drives both, every (i, j) with i < N and
        j < M for `seeds = { init = N, order = M }`."""
        if isinstance(self.seeds, dict):
            return list(itertools.product(range(self.seeds["init"]), range(self.seeds["order"])))
        return [(s, None) for s in self.seed_list]

    def trainer_fields(self) -> dict[str, Any]:
        """The trainer's settings, as the base that grid and matched entries override."""
        return self.model_dump(exclude=set(STUDY_WIDE))


class MatchedSection(BaseModel):
    """[[matched]]: each family's width solved to hit each parameter budget within `tolerance`."""

    model_config = ConfigDict(extra="forbid")
    budgets: list[PositiveInt] = Field(min_length=1)
    families: list[dict[str, Any]] = Field(min_length=1)
    tolerance: float = Field(0.03, gt=0, lt=1)
    train: dict[str, Any] = {}


class AnalysisSection(BaseModel):
    """[analysis]: how a study with a validation split and a tuned [grid.train] axis picks each configuration's runs:
    the setting with the best mean validation metric at the final epoch, or at each run's best validation epoch."""

    model_config = ConfigDict(extra="forbid")
    select: Literal["final", "best-validation-epoch"] = "final"


Selector = str | dict[str, Any]  # a group ("rnn-1"), or a table: { group = "rnn-1", lr = 1e-3 }


class CompareSection(BaseModel):
    """[[compare]]: groups `a` and `b` compared at equal parameters and/or equal multiply-adds per example; `headline`
    marks the study's confirmatory question (the report labels every other pair exploratory); `effect` the gap worth
    detecting (the report says how many seeds would detect it); `margin` the gap within which the two count as
    equivalent (two one-sided tests, Holm-adjusted with the other tests)."""

    model_config = ConfigDict(extra="forbid")
    a: Selector
    b: Selector
    at: list[Literal["params", "macs"]] = ["params"]
    headline: bool = False
    effect: PositiveFloat | None = None  # the gap of interest, in display units (accuracy: points): seeds to detect it
    margin: PositiveFloat | None = None  # display units: "equivalent within margin" when both one-sided tests reject

    @field_validator("at", mode="before")
    @classmethod
    def _one_or_many(cls, at: Any) -> Any:
        return [at] if isinstance(at, str) else at

    @field_validator("a", "b")
    @classmethod
    def _selector(cls, sel: Selector) -> Selector:
        if isinstance(sel, dict) and not isinstance(sel.get("group"), str):
            raise ValueError('a table selects a group by its `group` key, e.g. { group = "rnn-1", lr = 0.001 }')
        return sel


class Spec(BaseModel):
    """A whole study: [study], [data], [train], [[grid]], [[matched]], [[compare]] tables, an optional [teacher] and
    [analysis]."""

    model_config = ConfigDict(extra="forbid")
    study: StudySection
    data: DataSection
    train: TrainSection = TrainSection()
    grid: list[dict[str, Any]] = []
    matched: list[MatchedSection] = []
    compare: list[CompareSection] = []
    teacher: dict[str, Any] | None = None  # a distillation's teacher (study/teacher.py)
    analysis: AnalysisSection = AnalysisSection()
    _origin: str = PrivateAttr("spec")  # the file (or "command line") that messages name

    @property
    def origin(self) -> str:
        return self._origin

    def to_toml(self) -> str:
        """The spec as TOML text (what study.toml holds); a validation seed without a split, and an [analysis] at its
        defaults, are left out (a study without them reads as it did before they existed)."""
        unused = {"data": {"validation_seed"}} if self.data.validation is None else {}
        doc = without_none(self.model_dump(mode="json", exclude=unused))
        if self.analysis == AnalysisSection():
            doc.pop("analysis")
        keys = ("study", "data", "train", "grid", "matched", "compare", "teacher", "analysis")
        return tomli_w.dumps({k: doc[k] for k in keys if doc.get(k, [])})

    def with_overrides(
        self, seeds: int | None = None, epochs: int | None = None, datasets: list[str] | None = None
    ) -> Spec:
        """The spec with the command line's --seeds, --epochs and --datasets applied (and validated).

        --epochs sets the epochs of every entry, also of those that set their own in a `train` sub-table.
        """
        doc = self.model_dump()
        if seeds is not None:
            doc["train"]["seeds"] = seeds
        if epochs is not None:
            doc["train"]["epochs"] = epochs
            for entry in [*doc["grid"], *doc["matched"], *([doc["teacher"]] if doc["teacher"] else [])]:
                if isinstance(entry.get("train"), dict) and "epochs" in entry["train"]:
                    entry["train"]["epochs"] = epochs
        if datasets is not None:
            doc["data"]["datasets"] = datasets
        spec = parse(doc, "command line")
        spec._origin = self.origin
        return spec


def without_none(value: Any) -> Any:
    """`value` with every None-valued key left out, at any depth (TOML has no null: an unset key is absent)."""
    if isinstance(value, dict):
        return {k: without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_none(v) for v in value]
    return value


def preset_names() -> list[str]:
    """Names of the presets shipped in the package."""
    return sorted(p.stem for p in PRESETS.glob("*.toml"))


def locate(study: str | Path) -> Path:
    """A spec file from a path or a preset name."""
    path = Path(study)
    if path.is_file():
        return path
    if path.exists():
        kind = "a folder" if path.is_dir() else "not a regular file"
        raise SpecError(f"{study}: {kind}; give a spec's TOML file, or a preset: {', '.join(preset_names())}")
    if str(study) in preset_names():
        return PRESETS / f"{study}.toml"
    if path.suffix == ".toml" or path.parent != Path("."):
        raise SpecError(f"{study}: no such file")
    raise SpecError(f"{study!r} is neither a spec file nor a preset; presets: {', '.join(preset_names())}")


def parse_text(text: str, origin: str) -> Spec:
    """Validate a spec given as TOML text (a study's stored spec); `origin` names it in messages."""
    try:
        return parse(tomllib.loads(text), origin)
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{origin}: invalid TOML: {e}") from None


KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*)(?:\[(\d+)\])?")  # one step of a dotted key: `train`, `grid[1]`


def _slot(table: Any, steps: list[str], i: int, where: str) -> tuple[Any, str | int]:
    """The container and key step `i` of a dotted key names: (table, "lr"), or (the `grid` list, 1) for `grid[1]`."""
    if not isinstance(table, dict):
        raise SpecError(f"{where}: {'.'.join(steps[:i])} is a value, not a table")
    match = KEY.fullmatch(steps[i])
    assert match is not None  # set_value checked every step against KEY
    name, index = match.groups()
    if index is None:
        return table, name
    entries = table.get(name)
    count = len(entries) if isinstance(entries, list) else 0
    if int(index) >= count:
        raise SpecError(f"{where}: the spec has {count} [[{name}]] tables" + (f" (0 to {count - 1})" if count else ""))
    return entries, int(index)


def set_value(doc: dict, assignment: str) -> None:
    """Apply one `--set KEY=VALUE` to a spec document in place: KEY dotted (`train.lr`, `grid[1].hidden`), VALUE
    TOML (`3e-4`, `[8, 16]`, `"mnist"`), or a bare word taken as text (`every-step`)."""
    key, eq, text = assignment.partition("=")
    where, steps = f"--set {assignment}", key.strip().split(".")
    if not eq or not all(KEY.fullmatch(s) for s in steps):
        raise SpecError(f"{where}: give KEY=VALUE with a dotted KEY, e.g. train.lr=3e-4 or 'grid[1].hidden=[8, 16]'")
    try:
        value = tomllib.loads(f"v = {text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = text.strip()  # a bare word: the spec's validation says whether text is allowed there
    table = doc
    for i in range(len(steps) - 1):
        holder, slot = _slot(table, steps, i, where)
        if isinstance(slot, str):
            holder.setdefault(slot, {})
        table = holder[slot]
    holder, slot = _slot(table, steps, len(steps) - 1, where)
    holder[slot] = value


def load_spec(study: str | Path, sets: Sequence[str] = ()) -> Spec:
    """Read and validate a spec from a TOML path or a preset name, with `--set KEY=VALUE` overrides applied to the
    document before it is validated (so they are checked exactly as the file is)."""
    path = locate(study)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a byte-order mark some editors write is not TOML
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: invalid TOML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"{path}: cannot read: {e}") from None
    data_dir = doc.get("data", {}).get("data_dir") if isinstance(doc.get("data"), dict) else None
    if isinstance(data_dir, str) and not Path(data_dir).expanduser().is_absolute():
        doc["data"]["data_dir"] = data_dir = str((path.parent / data_dir).resolve())  # relative to the spec file
    if isinstance(data_dir, str) and not Path(data_dir).expanduser().is_dir():
        raise SpecError(
            f"{path}: data.data_dir: not a folder (got {data_dir!r}); give the folder that holds "
            "mnist/ and fashion-mnist/"
        )
    if not sets:
        return parse(doc, str(path))
    parse(deepcopy(doc), str(path))  # the file's own mistakes are the file's
    for assignment in sets:
        set_value(doc, assignment)
    return parse(doc, f"{path} with --set {' --set '.join(sets)}")


def parse(doc: dict, origin: str) -> Spec:
    """Validate a spec document's tables; `origin` names it in messages (planning checks the grids, `make_plan`)."""
    try:
        spec = Spec.model_validate(doc)
    except ValidationError as e:
        raise SpecError(f"{origin}: {describe(e)}") from None
    spec._origin = origin
    return spec


def dotted(loc: tuple, prefix: str = "") -> str:
    """('grid', 1, 'layers') -> 'grid[1].layers'."""
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def describe(error: ValidationError, model: type[BaseModel] | None = None, prefix: str = "", hide: tuple = ()) -> str:
    """The first problem of a pydantic error on `model` as 'key: what is wrong (got value)'."""
    first = error.errors()[0]
    key, kind = dotted(first["loc"], prefix), first["type"]
    if kind == "extra_forbidden":
        fields = [f for f in _fields_at(model or Spec, first["loc"]) if f not in hide]
        return f"{key}: unknown key" + (f"; allowed: {', '.join(fields)}" if fields else "")
    if kind == "missing":
        return f"{key}: missing"
    msg = first["msg"].removeprefix("Value error, ")
    return f"{key}: {msg} (got {first['input']!r})"


def _fields_at(model: Any, loc: tuple) -> list[str]:
    """Keys allowed in the table that holds `loc`'s last key (for 'unknown key' messages)."""
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation
        args = getattr(annotation, "__args__", ())
        model = next((a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return []
    return list(model.model_fields)
