"""The metrics a study records, declared once: which way is better, and how a reader sees them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """One metric as the store names it (`accuracy`), and how it is shown."""

    name: str
    higher_is_better: bool
    label: str  # "Accuracy"
    unit: str  # "%", "nats"
    scale: float  # displayed value = scale * stored value
    digits: int  # decimals shown in tables

    def text(self, value: float) -> str:
        """A value as tables show it: 0.9731 -> "97.31" for accuracy, "0.0815" for cross-entropy."""
        return f"{self.scale * value:.{self.digits}f}"


METRICS = {
    m.name: m
    for m in (
        Metric("accuracy", True, "Accuracy", "%", 100.0, 2),
        Metric("cross_entropy", False, "Cross-entropy", "nats", 1.0, 4),
        Metric("agreement", True, "Agreement with the teacher", "%", 100.0, 2),
        Metric("teacher_kl", False, "KL(teacher || student)", "nats", 1.0, 4),
        # What a tied or partly tied unrolled net does with its steps (models/unrolled.py `dynamics`, final epoch).
        # The spectra have no better side: "lower" is the contracting one.
        Metric("spectral_norm", False, "Spectral norm of the recurrent weights", "", 1.0, 3),
        Metric("spectral_radius", False, "Spectral radius of the recurrent weights", "", 1.0, 3),
        Metric("residual_d", False, "Fixed-point residual at d", "", 1.0, 4),
        Metric("residual_2d", False, "Fixed-point residual at 2d", "", 1.0, 4),
        Metric("accuracy_2d", True, "Accuracy at step 2d", "%", 100.0, 2),
        Metric("accuracy_4d", True, "Accuracy at step 4d", "%", 100.0, 2),
    )
}
SPLITS = ("train", "test", "validation")


def metric_of(column: str) -> Metric:
    """The metric of a column named `metric` or `split_metric` ("test_accuracy" -> accuracy)."""
    split, _, rest = column.partition("_")
    return METRICS[rest] if split in SPLITS and rest in METRICS else METRICS[column]
