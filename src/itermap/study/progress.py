"""What a running study shows: a live rich display on a terminal, one short line per pack otherwise."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class StudyProgress:
    """Progress of a study in run-epochs (members x epochs), with runs done of total and the current pack."""

    def __init__(self, console: Console | None = None, quiet: bool = False):
        self.console = console or Console()
        self.quiet = quiet
        self.live = self.console.is_terminal and not quiet
        self.bar: Progress | None = None
        self.runs_done = self.runs_total = 0
        self.pack_started = time.time()

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

    def pack(self, label: str, epoch: int, epochs: int, members: int) -> None:
        """A pack starts, or resumes at `epoch` (whose run-epochs count as done)."""
        self.label, self.epochs, self.pack_started = label, epochs, time.time()
        if epoch:
            self.say(f"resuming {label} at epoch {epoch}")
        if self.bar:
            self.bar.update(self.task, advance=epoch * members, description=f"{label} epoch {epoch}/{epochs}")

    def epoch(self, epoch: int, members: int, test_accuracy: float | None) -> None:
        """One epoch of the current pack is committed."""
        if self.bar:
            acc = f" test acc {test_accuracy:.3f}" if test_accuracy is not None else ""
            self.bar.update(self.task, advance=members, description=f"{self.label} epoch {epoch}/{self.epochs}{acc}")

    def pack_done(self, members: int, remaining_units: int, test_accuracy: float | None, diverged: int) -> None:
        """The current pack finished (`remaining_units`: run-epochs skipped because all members diverged)."""
        self.runs_done += members
        acc = f"test acc {test_accuracy:.3f}" if test_accuracy is not None else "no test rows"
        note = f", {diverged} diverged" if diverged else ""
        if self.bar:
            self.bar.update(self.task, advance=remaining_units, runs=self.runs_text())
            self.bar.console.print(f"  {self.label}: {acc}{note}", highlight=False)
        else:
            seconds = time.time() - self.pack_started
            self.say(f"  {self.runs_text()}  {self.label}: {acc}{note} ({seconds:.1f} s)")

    def stop(self) -> None:
        if self.bar:
            self.bar.stop()
            self.bar = None
