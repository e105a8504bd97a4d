"""Converting a study's kept run: read its weights and config, convert, verify on its test split, save."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from itermap.convert.forms import Form, convert, family_form
from itermap.convert.verify import Verification, scaled_test_split, verify
from itermap.models import FamilyConfig, parse_config
from itermap.models.stacked import Params

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI
    import tomli as tomllib


def save(form: Form, path) -> None:
    """Write a form's weights as safetensors, with the form's name and config as metadata."""
    tensors = {k: v.detach().contiguous() for k, v in form.weights.items()}
    save_file(tensors, str(path), metadata={"form": form.name, "config": json.dumps(form.config)})


def kept_weights(folder: Path, run_id: str) -> Path:
    """DIR/weights/<run_id>.safetensors, where `run_id` may be a unique prefix of the id."""
    kept = sorted((Path(folder) / "weights").glob("*.safetensors"))
    matches = [p for p in kept if p.stem == run_id] or [p for p in kept if p.stem.startswith(run_id)]
    if len(matches) != 1:
        found = "no" if not matches else f"{len(matches)}"
        hint = "" if kept else "; a study keeps final weights with `keep_weights = true` in [train]"
        raise ValueError(f"{found} kept weights in {Path(folder) / 'weights'} match run {run_id!r}{hint}")
    return matches[0]


def load_run(path: Path) -> tuple[FamilyConfig, Params, dict]:
    """A kept run's family config, params and resolved run config (dataset, model, train, seed)."""
    try:
        with safe_open(str(path), "pt") as f:
            run = json.loads(f.metadata()["config"])
            params = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, TypeError, KeyError, ValueError) as e:  # damaged, or no run's config in its metadata
        raise ValueError(
            f"{path}: not readable as a run's kept weights ({e}); move it aside and run the study "
            "again: it trains that run again to keep its weights"
        ) from None
    return parse_config(run["model"]), params, run


def data_dir_of(folder: Path) -> str | None:
    """Where the study in `folder` found its data: [data] data_dir of its study.toml (absolute there), if any."""
    spec = Path(folder) / "study.toml"
    return tomllib.loads(spec.read_text()).get("data", {}).get("data_dir") if spec.exists() else None


def convert_run(folder: Path, run_id: str, to: str, output: Path | None = None) -> tuple[str, Verification, Path]:
    """Convert a kept run to form `to`, verify on its data set's test split, save; returns (title, check, path)."""
    path = kept_weights(folder, run_id)
    cfg, params, run = load_run(path)
    source, target = family_form(cfg, params), convert(cfg, params, to)
    dtype = next(iter(params.values())).dtype
    images = scaled_test_split(run["dataset"], run["train"]["scaling"], dtype, data_dir_of(folder))
    check = verify(source, target, images)
    output = Path(output) if output else Path(folder) / "converted" / f"{path.stem}-{to}.safetensors"
    output.parent.mkdir(parents=True, exist_ok=True)
    save(target, output)
    return f"{path.stem} ({cfg.arch}), {run['dataset']} test split", check, output
