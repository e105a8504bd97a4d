"""What a running study shows: a live rich display on a terminal, one short line per pack otherwise."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


@dataclass
class Training:
    """A pack in training, as the display shows it."""

    label: str
    epochs: int
    epoch: int
    test_accuracy: float | None = None
    started: float = field(default_factory=time.time)


class StudyProgress:
    """Progress of a study in run-epochs (members x epochs), with runs done of total and the packs in training."""

    def __init__(self, console: Console | None = None, quiet: bool = False):
        self.console = console or Console()
        self.quiet = quiet
        self.live = self.console.is_terminal and not quiet
        self.bar: Progress | None = None
        self.runs_done = self.runs_total = 0
        self.training: dict[str, Training] = {}  # the packs in training, by pack id

    def say(self, text: str) -> None:
        """A message line (kept above the live display)."""
        if not self.quiet:
            self.console.print(text, highlight=False, soft_wrap=True)

    def start(self, runs_done: int, runs_total: int, units_done: int, units_total: int) -> None:
        self.runs_done, self.runs_total = runs_done, runs_total
        if self.live:
            self.bar = Progress(
                TextColumn("{task.fields[runs]}"),
                BarColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.bar.start()
            self.task = self.bar.add_task("", total=units_total, completed=units_done, runs=self.runs_text())
        self.say(f"{runs_total - runs_done} of {runs_total} runs to train")

    def runs_text(self) -> str:
        return f"runs {self.runs_done}/{self.runs_total}"

    def pack(self, key: str, label: str, epoch: int, epochs: int, members: int) -> None:
        """Pack `key` starts, or resumes at `epoch` (whose run-epochs count as done)."""
        self.training[key] = Training(label, epochs, epoch)
        if epoch:
            self.say(f"resuming {label} at epoch {epoch}")
        if self.bar:
            self.bar.update(self.task, advance=epoch * members, description=self.describe())

    def epoch(self, key: str, epoch: int, members: int, test_accuracy: float | None) -> None:
        """One epoch of pack `key` is committed."""
        self.training[key].epoch, self.training[key].test_accuracy = epoch, test_accuracy
        if self.bar:
            self.bar.update(self.task, advance=members, description=self.describe())

    def pack_done(
        self, key: str, members: int, remaining_units: int, test_accuracy: float | None, diverged: int
    ) -> None:
        """Pack `key` finished (`remaining_units`: run-epochs skipped because all members diverged)."""
        pack = self.training.pop(key)
        self.runs_done += members
        acc = f"test acc {test_accuracy:.3f}" if test_accuracy is not None else "no test rows"
        note = f", {diverged} diverged" if diverged else ""
        if self.bar:
            self.bar.update(self.task, advance=remaining_units, runs=self.runs_text(), description=self.describe())
            self.bar.console.print(f"  {pack.label}: {acc}{note}", highlight=False)
        else:
            seconds = time.time() - pack.started
            self.say(f"  {self.runs_text()}  {pack.label}: {acc}{note} ({seconds:.1f} s)")

    def describe(self) -> str:
        """The packs in training: one with its epoch and test accuracy, several by name."""
        if len(self.training) != 1:
            names = [p.label.split(" on ")[0] for p in self.training.values()]
            shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
            return f"{len(names)} packs training: {shown}" if names else ""
        pack = next(iter(self.training.values()))
        acc = f" test acc {pack.test_accuracy:.3f}" if pack.test_accuracy is not None else ""
        return f"{pack.label} epoch {pack.epoch}/{pack.epochs}{acc}"

    def stop(self) -> None:
        if self.bar:
            self.bar.stop()
            self.bar = None
