"""The core section of every report: each configuration's numbers, and each group's curves against size."""

from __future__ import annotations

import matplotlib
import pandas as pd

from itermap.analysis.overview import Analysis
from itermap.report import tables as fmt
from itermap.report.figures import STYLE, Drawn, capacity_figure, efficiency_figure, metric_figure, profile_figure

QUESTION = None  # every study: the configurations, whatever the questions


def figures(an: Analysis, dataset: str) -> list[Drawn]:
    """Test accuracy and cross-entropy against parameters (and accuracy against multiply-adds), capacity,
    efficiency and performance profiles."""
    missing = int(an.summary.loc[an.summary["dataset"] == dataset, "missing"].sum())
    partial = f" [partial: {missing} runs missing]" if missing else ""
    compared = f"{dataset}: {{}} against {{}}, one curve per group{partial}"
    with matplotlib.rc_context(STYLE):
        return [
            Drawn(
                "test-accuracy",
                metric_figure(an, dataset, "test", "accuracy", compared.format("final test accuracy", "parameters")),
                "Final test accuracy against parameters (log scale): line and band are the mean over seeds and its "
                "95% t interval (the seeds' range below 5 seeds), interpolated monotonically in log parameters; "
                "dots are single seeds.",
            ),
            Drawn(
                "test-accuracy-macs",
                metric_figure(
                    an, dataset, "test", "accuracy", compared.format("final test accuracy", "multiply-adds"), "macs"
                ),
                "Final test accuracy against multiply-adds per example (log scale): equal compute rather than "
                "equal parameters (an RNN applies its weights once per step); drawn as the accuracy figure.",
            ),
            Drawn(
                "test-cross-entropy",
                metric_figure(
                    an, dataset, "test", "cross_entropy", compared.format("final test cross-entropy", "parameters")
                ),
                "Final test cross-entropy against parameters, drawn as the accuracy figure.",
            ),
            Drawn(
                "capacity",
                capacity_figure(an, dataset),
                "Capacity: final train accuracy and cross-entropy against parameters.",
            ),
            Drawn(
                "efficiency",
                efficiency_figure(an, dataset),
                "Efficiency: mean test accuracy per 1,000 parameters (the 2020 definition) and per log10 parameter.",
            ),
            Drawn(
                "profiles",
                profile_figure(an, dataset),
                "Performance profiles (run-score distributions, as rliable): the share of a group's finished runs, "
                "over all its sizes, whose final test accuracy exceeds each threshold; the dotted line marks each "
                "group's interquartile mean over those runs.",
            ),
        ]


def tables(an: Analysis, dataset: str) -> list[tuple[str, pd.DataFrame]]:
    """The configurations' table: seeds, divergence, and each metric's mean and spread."""
    return [("Configurations", fmt.configurations(an.summary, dataset))]
