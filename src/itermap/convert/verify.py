"""Verifying a conversion: two forms run on the same images, compared logit by logit, with their costs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from rich import box
from rich.table import Table

from itermap.convert.forms import Cost, Form, convert, family_form
from itermap.data import load, views
from itermap.models import MLPConfig, RNNConfig, family_of


@dataclass(frozen=True)
class Verification:
    """Two forms run on the same images: their costs, max |logit difference|, and prediction agreement."""

    source: Cost
    target: Cost
    max_abs_diff: float
    agreement: float  # fraction of examples whose argmax agrees
    examples: int


@torch.no_grad()
def logits(form: Form, images: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    """A form's logits [N, C] on scaled images [N, H, W], in chunks, in the form's own dtype."""
    dtype = next(form.module.parameters()).dtype
    form.module.eval()
    return torch.cat([form.module(form.view(x.to(dtype))) for x in images.split(chunk)])


def verify(source: Form, target: Form, images: torch.Tensor) -> Verification:
    """Run both forms on scaled images [N, H, W] and compare their logits."""
    a, b = logits(source, images), logits(target, images)
    agree = (a.argmax(-1) == b.argmax(-1)).double().mean().item()
    return Verification(source.cost, target.cost, (a - b).abs().max().item(), agree, len(images))


def table(checks: list[Verification], title: str) -> Table:
    """A rich table: the source form once, then each target with its logit difference and agreement."""
    caption = f"MACs: multiply-adds per example. Logits compared on {checks[0].examples:,} images."
    t = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 0, 0, 1))
    for col in ("form", "stored", "distinct", "nonzero", "MACs", "depth", "steps", "max |Δ|", "agree"):
        t.add_column(col, justify="left" if col == "form" else "right", no_wrap=True)

    def row(c: Cost, diff: str, agree: str) -> None:
        t.add_row(c.form, *(f"{v:,}" for v in (c.stored, c.distinct, c.nonzero, c.macs, c.depth, c.steps)), diff, agree)

    row(checks[0].source, "", "")
    for v in checks:
        row(v.target, f"{v.max_abs_diff:.1e}", f"{100 * v.agreement:.2f}%")
    return t


def scaled_test_split(
    dataset: str, scaling: str, dtype: torch.dtype, data_dir: str | Path | None = None
) -> torch.Tensor:
    """A data set's whole test split [N, H, W], scaled as a run with `scaling` was trained."""
    data = load(dataset, data_dir)
    mean, std = (data.mean, data.std) if scaling == "standardize" else (0.0, 1.0)
    return views.scale(data.test_images, mean, std, dtype)


def demo(dtype: torch.dtype = torch.float64) -> list[tuple[str, list[Verification]]]:
    """Every conversion of a fresh small MLP and two RNNs, verified on the embedded Fashion-MNIST test images."""
    images = scaled_test_split("fashion-mnist-mini", "standardize", dtype)
    rnn_targets = ("itermap", "unrolled-tied", "unrolled-untied")
    cases = [
        (MLPConfig(hidden=[16, 8]), ("itermap",)),
        (RNNConfig(hidden=8, layers=1, window=7), rnn_targets),
        (RNNConfig(hidden=8, layers=2, window=7), rnn_targets),
    ]
    out = []
    for cfg, targets in cases:
        params = family_of(cfg).init(cfg, 0, dtype)
        source = family_form(cfg, params)
        title = (
            f"{cfg.arch}, window {cfg.window} ({cfg.window_count} steps)" if isinstance(cfg, RNNConfig) else cfg.arch
        )
        out.append((title, [verify(source, convert(cfg, params, to), images) for to in targets]))
    return out
