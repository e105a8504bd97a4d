"""The `itermap` command. Each command is a small function over the Python API.

Errors a user can fix (bad spec, missing data, locked or foreign study folder, a full disk or
read-only storage) print one line `error: ...` on stderr and exit with code 2, for every command.
Global options come before the command: `-q` silences progress and info lines, `-v` adds detail
(`plan` lists every run; an error also prints its traceback).
"""

from __future__ import annotations

import errno
import json
import math
import time
import traceback
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from itermap import __version__
from itermap.study.errors import StudyError

if TYPE_CHECKING:
    from itermap.study.plan import Pack, Plan, Run
    from itermap.study.spec import Spec

console = Console()
verbosity = {"level": 0}  # set by the global -q (-1) and -v (1, 2, ...) before each command


SPACE = "free some space and run the same command again: everything recorded is kept"
HINTS = {
    errno.ENOSPC: SPACE,
    errno.EDQUOT: SPACE,
    errno.EROFS: "the storage is read-only: write elsewhere (`run --out DIR`, `export --output FILE`)",
}


def os_error(e: OSError) -> str:
    """An operating system's error (disk full, read-only storage, no such folder) as one line with what to do."""
    where = f"{e.filename}: " if e.filename else ""
    hint = HINTS.get(e.errno) if e.errno is not None else None
    return f"{where}{e.strerror or e}" + (f"; {hint}" if hint else "")


class UserErrorGroup(TyperGroup):
    """Turns user errors raised by any command, and the file system's, into `error: ...` on stderr and exit code 2."""

    def invoke(self, ctx: typer.Context):  # type: ignore[override]  # click calls it with typer's own Context
        try:
            return super().invoke(ctx)
        except Exception as e:
            from itermap.data import DataError  # imported here: it loads torch, which `--help` does not need

            if verbosity["level"] > 0:
                traceback.print_exception(e)
            if isinstance(e, OSError):
                typer.echo(f"error: {os_error(e)}", err=True)
            elif isinstance(e, (StudyError, DataError)):
                typer.echo(f"error: {e}", err=True)
            else:
                raise
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=UserErrorGroup,
    help="Recurrent against feed-forward networks at equal parameter budgets: plan, train and export studies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

StudyArg = Annotated[str, typer.Argument(help="A preset name (see `itermap presets`) or a spec TOML file.")]
FolderArg = Annotated[Path, typer.Argument(help="A study folder (holding results.sqlite).")]
SeedsOpt = Annotated[int | None, typer.Option("--seeds", min=1, help="Override [train] seeds: train seeds 0..N-1.")]
EpochsOpt = Annotated[int | None, typer.Option("--epochs", min=1, help="Override [train] epochs.")]
DatasetsOpt = Annotated[str | None, typer.Option("--datasets", help="Override [data] datasets, comma-separated.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override one key of the spec, KEY=VALUE with a dotted KEY and a TOML VALUE: train.lr=3e-4, "
        "'data.datasets=[\"mnist\"]', 'grid[1].hidden=[8, 16]'; repeat for several.",
    ),
]
DeviceOpt = Annotated[
    str, typer.Option("--device", envvar="ITERMAP_DEVICE", help="cpu, cuda or auto (cuda when available).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")]
PackingOpt = Annotated[
    str,
    typer.Option(
        "--packing",
        help="Which runs train together: auto (the device's cost model), configs (one "
        "configuration per pack) or wide (every width and data set that can share a pack).",
    ),
]
ConcurrencyOpt = Annotated[
    str,
    typer.Option(
        "--concurrency",
        envvar="ITERMAP_CONCURRENCY",
        help="Train N packs at once in this process, a thread each (on a GPU each on its own stream); auto: as "
        "many as fit in the GPU's memory.",
    ),
]


def info(text: str) -> None:
    """An info line: printed unless the global -q is given."""
    if verbosity["level"] >= 0:
        console.print(text, highlight=False)


def print_json(document: object) -> None:
    """One JSON document on stdout (plain text: no colours, no wrapping)."""
    typer.echo(json.dumps(document, indent=2))


def show_version(value: bool) -> None:
    """`--version`: print the version and stop."""
    if value:
        typer.echo(f"itermap {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    verbose: Annotated[
        int,
        typer.Option(
            "--verbose", "-v", count=True, help="More detail: `plan` lists every run; errors show a traceback."
        ),
    ] = 0,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bars nor info lines; results and errors only.")
    ] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=show_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Recurrent against feed-forward networks at equal parameter budgets: plan, train and export studies."""
    verbosity["level"] = -1 if quiet else verbose


def names(datasets: str | None) -> list[str] | None:
    """'a,b' -> ['a', 'b']."""
    return [d.strip() for d in datasets.split(",") if d.strip()] if datasets is not None else None


def duration(seconds: float) -> str:
    """Seconds as '42 s', '12.5 min' or '3.2 h'."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


@app.command()
def presets(as_json: JsonOpt = False) -> None:
    """List the shipped study presets: description, runs and training compute."""
    from itermap.study.estimate import pack_macs
    from itermap.study.plan import make_plan
    from itermap.study.spec import load_spec, preset_names

    plans = {name: make_plan(load_spec(name)) for name in preset_names()}
    if as_json:
        print_json(
            [
                {
                    "name": name,
                    "description": plan.spec.study.description,
                    "runs": len(plan.runs),
                    "packs": len(plan.packs),
                    "epochs": plan.spec.train.epochs,
                    "macs": sum(pack_macs(p) for p in plan.packs),
                }
                for name, plan in plans.items()
            ]
        )
        return
    for name, plan in plans.items():
        macs = sum(pack_macs(p) for p in plan.packs)
        console.print(
            f"[bold]{name}[/bold]: {len(plan.runs)} runs in {len(plan.packs)} packs, "
            f"{plan.spec.train.epochs} epochs, {macs:.2g} multiply-adds of training",
            highlight=False,
        )
        console.print(f"  {plan.spec.study.description}", highlight=False)
    info("Timed estimate on this machine: itermap plan NAME")


@app.command()
def plan(
    study: StudyArg,
    device: DeviceOpt = "auto",
    seeds: SeedsOpt = None,
    epochs: EpochsOpt = None,
    datasets: DatasetsOpt = None,
    sets: SetOpt = None,
    calibrate: Annotated[bool, typer.Option(help="Time a few training steps to estimate the study's duration.")] = True,
    out: Annotated[
        Path | None, typer.Option("--out", help="A study folder: say how many of the runs are done there.")
    ] = None,
    as_json: JsonOpt = False,
    packing: PackingOpt = "auto",
    workers: Annotated[
        int, typer.Option("--workers", min=1, envvar="ITERMAP_WORKERS", help="Estimate for N packs at once (CPU).")
    ] = 1,
    concurrency: ConcurrencyOpt = "1",
    effect: Annotated[
        float | None,
        typer.Option(
            "--effect",
            help="Instead: the seeds each declared comparison needs to detect this gap (accuracy: points) with 80% "
            "power, from --pilot's spread or the preset's published run.",
        ),
    ] = None,
    pilot: Annotated[
        Path | None,
        typer.Option("--pilot", help="With --effect: a finished pilot study (folder or exported file) of this spec."),
    ] = None,
) -> None:
    """Show a study's runs and packs, parameter counts, multiply-adds and estimated time on the chosen device; with
    --effect, the seeds each declared comparison needs."""
    import torch

    from itermap.study.compose import Packing, packed
    from itermap.study.estimate import check_memory, estimate_seconds, pack_macs, wall_seconds
    from itermap.study.plan import make_plan
    from itermap.study.runner import device_name, finished_in, resolve_device, resolve_spec
    from itermap.study.side_by_side import checked

    planned = make_plan(resolve_spec(with_sets(study, sets), seeds, epochs, names(datasets)))
    if effect is not None:
        show_seeds_needed(planned.spec, effect, pilot, as_json)
        return
    if pilot is not None:
        raise StudyError("--pilot gives the spread for --effect: add --effect GAP")
    # Planning for a GPU this machine lacks (a loan to come): its packing and multiply-adds, no timing or memory check.
    absent = device.startswith("cuda") and not torch.cuda.is_available()
    device = device if absent else resolve_device(device)
    the_plan = packed(planned, device, cast(Packing, packing))  # packed() refuses any other value
    if not absent:
        check_memory(the_plan, device)
    if concurrency != "1" and workers > 1:
        raise StudyError(f"--concurrency {concurrency}: packs side by side run in one process; leave out --workers")
    # auto needs the GPU's free memory; for an absent one nothing is timed anyway
    side_by_side = 1 if absent and concurrency == "auto" else checked(concurrency, the_plan.packs, device)
    seconds = estimate_seconds(the_plan, device) if calibrate and not absent else {}
    macs = sum(pack_macs(p) for p in the_plan.packs)
    done = finished_in(the_plan, out) if out is not None else None
    wall = wall_seconds(the_plan, seconds, max(workers, side_by_side)) if seconds else None
    if as_json:
        print_json(plan_document(the_plan, device, seconds, wall, macs, done))
        return
    table = Table("pack", "data set", "arch", "params", "MACs/example", "budget", "seeds", "epochs", "est. time")
    for i, p in enumerate(the_plan.packs, 1):
        for j, (run, seeds_of) in enumerate(configurations(p)):
            est = duration(seconds[p.pack_id]) if seconds and j == 0 else ""
            table.add_row(
                str(i) if j == 0 else "",
                run.dataset,
                run.cfg.arch,
                f"{run.param_count:,}",
                f"{run.macs:,}",
                f"{run.budget:,}" if run.budget else "",
                seeds_text(seeds_of),
                str(run.train.epochs),
                est,
            )
    console.print(table)
    if verbosity["level"] > 0:
        runs = Table("run id", "pack id", "data set", "arch", "seed")
        for p in the_plan.packs:
            for r in p.runs:
                runs.add_row(r.run_id, p.pack_id, r.dataset, r.cfg.arch, seeds_text([seed_of(r)]))
        console.print(runs)
    for note in the_plan.notes:
        console.print(f"note: {note}", highlight=False)
    console.print(
        f"{the_plan.spec.study.name}: {len(the_plan.runs)} runs in {len(the_plan.packs)} packs, "
        f"{macs:.2g} multiply-adds of training",
        highlight=False,
    )
    if absent:
        console.print(
            f"--device {device}: no CUDA device here; packed for it, its time and memory not estimated",
            highlight=False,
            soft_wrap=True,
        )
    if wall is not None:
        at_once = f" with {workers} packs at once" if workers > 1 else ""
        if side_by_side > 1:  # each pack calibrated alone: side by side they share one device
            at_once = f" with {side_by_side} packs side by side (if they overlap fully: a lower bound)"
        console.print(
            f"estimated time on {device_name(device)}{at_once}: {duration(wall)} (from a short calibration; rough)",
            highlight=False,
            soft_wrap=True,
        )
    if done is not None:
        console.print(
            f"{out}: {done} of {len(the_plan.runs)} runs already finished there; `itermap run` trains the "
            f"other {len(the_plan.runs) - done}",
            highlight=False,
        )


def show_seeds_needed(spec: Spec, effect: float, pilot: Path | None, as_json: bool) -> None:
    """`plan --effect`: per declared comparison, the pilot's spread and the seeds that detect `effect`."""
    from itermap.analysis.intervals import MIN_SEEDS
    from itermap.analysis.metrics import metric_of
    from itermap.analysis.pilot import seeds_for_effect
    from itermap.analysis.power import MAX_SEEDS

    found = seeds_for_effect(spec, effect, pilot)
    if as_json:
        print_json(json.loads(found.to_json(orient="records")))
        return
    metric = metric_of(found["metric"].iloc[0])
    unit = "points" if metric.unit == "%" else metric.unit
    table = Table(
        "data set",
        "A",
        "B",
        "at",
        "sizes",
        "pilot seeds",
        f"sd of paired differences ({unit})",
        "alpha",
        f"seeds for {effect:g}",
    )
    for r in found.itertuples():
        needed = "n/a" if math.isnan(r.needed) else f"over {MAX_SEEDS:,}" if math.isinf(r.needed) else f"{r.needed:.0f}"
        table.add_row(
            r.dataset, r.a, r.b, r.at, str(r.sizes), str(r.seeds), metric.text(r.sd_diff), f"{r.alpha:.3g}", needed
        )
    console.print(table)
    console.print(
        f"from the spread of {found['source'].iloc[0]}; 80% power, paired t test at Holm's first-step alpha; a pair "
        f"needs the most seeds any of its sizes needs (n/a: no paired spread; a pilot needs {MIN_SEEDS} seeds)",
        highlight=False,
    )


def seed_of(run: Run) -> int | list[int]:
    """A run's seed, or in a crossed design its [init seed, order seed]."""
    return run.seed if run.order_seed is None else [run.seed, run.order_seed]


def seeds_text(seeds: list[int | list[int]]) -> str:
    """How many seeds (`seed_of` each): "5", or crossed "12 (4 init x 3 order)"; one run's: "7", "init 2, order 1"."""
    pairs = [s for s in seeds if isinstance(s, list)]
    if len(seeds) == 1:
        return f"init {pairs[0][0]}, order {pairs[0][1]}" if pairs else str(seeds[0])
    inits, orders = ({pair[k] for pair in pairs} for k in (0, 1))
    return f"{len(seeds)} ({len(inits)} init x {len(orders)} order)" if pairs else str(len(seeds))


def configurations(pack: Pack) -> list[tuple[Run, list[int | list[int]]]]:
    """A pack's configurations (data set, config, training), each as its first run and the seeds it trains (`seed_of`
    each)."""
    found: dict[tuple, tuple[Run, list[int | list[int]]]] = {}
    for r in pack.runs:
        found.setdefault((r.dataset, r.cfg.model_dump_json(), r.train.model_dump_json()), (r, []))[1].append(seed_of(r))
    return list(found.values())


def plan_document(
    the_plan: Plan, device: str, seconds: dict[str, float], wall: float | None, macs: float, done: int | None
) -> dict:
    """`plan --json`: the study, its runs and packs (sizes, estimated seconds when calibrated) and its notes."""
    packs = [
        {
            "pack_id": p.pack_id,
            "epochs": p.first.train.epochs,
            "run_ids": [r.run_id for r in p.runs],
            "estimated_seconds": seconds.get(p.pack_id),
            "configurations": [
                {
                    "dataset": r.dataset,
                    "arch": r.cfg.arch,
                    "params": r.param_count,
                    "macs": r.macs,
                    "budget": r.budget,
                    "seeds": seeds_of,
                }
                for r, seeds_of in configurations(p)
            ],
        }
        for p in the_plan.packs
    ]
    runs = [
        {
            "run_id": r.run_id,
            "pack_id": p.pack_id,
            "dataset": r.dataset,
            "family": r.cfg.family,
            "arch": r.cfg.arch,
            "params": r.param_count,
            "macs": r.macs,
            "budget": r.budget,
            "seed": r.seed,
            **r.crossed,
            "epochs": r.train.epochs,
        }
        for p in the_plan.packs
        for r in p.runs
    ]
    return {
        "study": the_plan.spec.study.name,
        "device": device,
        "macs": macs,
        "estimated_seconds": wall,
        "finished": done,
        "notes": the_plan.notes,
        "packs": packs,
        "runs": runs,
    }


@app.command()
def run(
    study: StudyArg,
    out: Annotated[Path | None, typer.Option("--out", help="Study folder [default: runs/<name>].")] = None,
    device: DeviceOpt = "auto",
    seeds: SeedsOpt = None,
    epochs: EpochsOpt = None,
    datasets: DatasetsOpt = None,
    sets: SetOpt = None,
    force_new: Annotated[
        bool, typer.Option("--force-new", help="Replace a different study already in the folder.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and the final lines.")] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            envvar="ITERMAP_WORKERS",
            help="Train N packs at once in N processes of one thread each (CPU only; `auto` device means cpu).",
        ),
    ] = 1,
    executor: Annotated[
        str, typer.Option("--executor", help="local (here, or --workers processes) or ray (each pack a Ray task).")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option("--address", help="With --executor ray: the cluster's address [default: a new local Ray]."),
    ] = None,
    shard: Annotated[
        str,
        typer.Option("--shard", help="Train only the i-th of N disjoint parts of the plan (i/N); `merge` joins them."),
    ] = "1/1",
    packing: PackingOpt = "auto",
    concurrency: ConcurrencyOpt = "1",
) -> None:
    """Train a study into its folder; the same command again resumes it after an interruption."""
    train(
        with_sets(study, sets),
        quiet=quiet,
        out=out,
        device=device,
        seeds=seeds,
        epochs=epochs,
        datasets=names(datasets),
        force_new=force_new,
        workers=workers,
        executor=executor,
        address=address,
        shard=shard,
        packing=packing,
        concurrency=concurrency,
    )


def with_sets(study: str, sets: list[str] | None) -> str | Spec:
    """The study as given, or its spec with the `--set` overrides applied and validated."""
    from itermap.study.spec import load_spec

    return load_spec(study, sets) if sets else study


def train(study: str | Spec, *, quiet: bool, **options: Any) -> None:
    """Train a study (`run_study`, its options by keyword), then say where its results are; Ctrl-C: how to resume."""
    from itermap.study.runner import run_study

    try:
        folder = run_study(study, quiet=quiet or verbosity["level"] < 0, **options)
    except KeyboardInterrupt:
        typer.echo("interrupted; run the same command again to resume", err=True)
        raise typer.Exit(130) from None
    console.print(f"results: {folder / 'results.sqlite'}", highlight=False)
    console.print(f"report:  itermap report {folder}", highlight=False)


@app.command()
def merge(
    out: Annotated[Path, typer.Argument(help="A new study folder to write.")],
    shards: Annotated[list[Path], typer.Argument(help="Shard folders written by `itermap run --shard i/N`.")],
) -> None:
    """Join the shard folders of one study into one study folder."""
    from itermap.study.merge import merge_shards

    missing = merge_shards(out, shards)
    console.print(f"merged {len(shards)} shards into {out}", highlight=False)
    if missing:
        console.print(
            f"shards {', '.join(map(str, missing))} are missing: `itermap run SPEC --out {out}` trains their runs",
            highlight=False,
        )


@app.command()
def distill(
    study: Annotated[str, typer.Argument(help="A distillation preset or spec with a [teacher] table.")] = "distill",
    teacher: Annotated[
        Path | None, typer.Option("--teacher", help="A study folder holding the teacher's kept run (with --run).")
    ] = None,
    run_id: Annotated[str | None, typer.Option("--run", help="The teacher's run id (or a unique prefix).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Study folder [default: runs/<name>].")] = None,
    device: DeviceOpt = "auto",
    seeds: SeedsOpt = None,
    epochs: EpochsOpt = None,
    sets: SetOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and the final lines.")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Train the students N packs at once (CPU).")] = 1,
) -> None:
    """Distil a teacher into students: the spec's [teacher] trained first, or a kept run (--teacher DIR --run ID)."""
    from itermap.study.spec import load_spec
    from itermap.study.teacher import with_kept_teacher

    if (teacher is None) != (run_id is None):
        raise StudyError("give the teacher as --teacher DIR --run ID (both), or neither to train the spec's [teacher]")
    spec = load_spec(study, sets or ())
    if teacher is not None and run_id is not None:  # both or neither, checked above
        spec = with_kept_teacher(spec, teacher, run_id)
    elif spec.teacher is None:
        raise StudyError(f"{study}: no [teacher] table; give a kept run as --teacher DIR --run ID")
    train(spec, quiet=quiet, out=out, device=device, seeds=seeds, epochs=epochs, workers=workers)


@app.command()
def status(folder: FolderArg, as_json: JsonOpt = False) -> None:
    """Show a study's done, diverged, running and remaining runs, and when it was last updated."""
    from itermap.analysis.results import study_info

    found = study_info(folder)
    counts = found["counts"]
    complete = counts["done"] + counts["diverged"] == found["runs"]
    if as_json:
        print_json({"folder": str(folder), "complete": complete, **found})
        return
    console.print(f"{found['study']} in {folder}: {found['runs']} runs", highlight=False)
    console.print("  " + ", ".join(f"{n} {s}" for s, n in counts.items()), highlight=False)
    if found["updated"]:
        ago = duration(time.time() - found["updated"])
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(found["updated"]))
        console.print(f"  last update {when} ({ago} ago), wall time {duration(found['wall_seconds'])}", highlight=False)
    console.print(
        "  complete" if complete else "  incomplete: `itermap run` with the same arguments resumes it", highlight=False
    )
    if found["unplanned"]:
        console.print(
            f"  {found['unplanned']} more runs kept from earlier specs, outside the current plan "
            "(itermap.load_results(DIR, all_runs=True) reads them)",
            highlight=False,
        )


class ExportFormat(str, Enum):
    parquet = "parquet"
    csv = "csv"


class ExportTable(str, Enum):
    results = "results"
    finals = "finals"
    summary = "summary"
    comparisons = "comparisons"


class ExportTarget(str, Enum):
    file = "file"
    mlflow = "mlflow"


@app.command()
def export(
    folder: FolderArg,
    table: Annotated[
        ExportTable,
        typer.Option(
            "--table",
            help="results: one row per measured number; finals: per run; summary: per "
            "configuration; comparisons: the report's equal-parameter (or -MACs) comparisons.",
        ),
    ] = ExportTable.results,
    format: Annotated[ExportFormat | None, typer.Option("--format", help="File format [default: parquet].")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="Output file [default: DIR/<table>.<format>].")
    ] = None,
    to: Annotated[
        ExportTarget, typer.Option("--to", help="file: write a table; mlflow: replay the study into MLflow.")
    ] = ExportTarget.file,
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            "--tracking-uri",
            help="MLflow tracking URI (sqlite:///mlflow.db, http://host:5000) "
            "[default: MLflow's own, e.g. MLFLOW_TRACKING_URI].",
        ),
    ] = None,
) -> None:
    """Write a study's tidy results or a derived table as Parquet or CSV, or replay the study into MLflow."""
    if to is ExportTarget.mlflow:
        if table is not ExportTable.results or format is not None or output is not None:
            raise StudyError("--to mlflow replays the whole study; --table, --format and --output are for --to file")
        from itermap.report.tracking import export_mlflow

        counts = export_mlflow(folder, tracking_uri)
        console.print(", ".join(f"{n} {k}" for k, n in counts.items()) + " MLflow runs", highlight=False)
        return
    if tracking_uri is not None:
        raise StudyError("--tracking-uri is for --to mlflow")
    from itermap.analysis.exported import write_export
    from itermap.analysis.results import load_results, open_store
    from itermap.analysis.studies import analyze_studies
    from itermap.study.files import replacing

    format = format or ExportFormat.parquet
    if table is ExportTable.results:  # every run, measured or not yet, so that the file is the whole study
        frame = load_results(folder, unmeasured=True)
    else:
        found = analyze_studies(folder)
        frame = (
            found.table("budgets", "comparisons") if table is ExportTable.comparisons else getattr(found, table.value)
        )
    output = output or folder / f"{table.value}.{format.value}"
    if output.is_dir():
        raise StudyError(
            f"--output {output}: is a folder; give a file name, e.g. {output / f'{table.value}.{format.value}'}"
        )
    if not output.parent.is_dir():
        raise StudyError(f"--output {output}: no folder {output.parent}; create it first, or choose another")
    with open_store(folder) as store:  # the spec, environment and version travel in a Parquet file's metadata
        meta, sessions = (store.meta(), store.sessions()) if table is ExportTable.results else ({}, [])
    with replacing(output) as tmp:
        try:
            write_export(frame, tmp, format.value, meta, sessions)
        except OSError as e:  # pyarrow's errors name no file
            raise OSError(e.errno, e.strerror or str(e), str(output)) from None
    console.print(f"{len(frame)} rows -> {output}", highlight=False)


@app.command()
def report(
    studies: Annotated[
        list[Path],
        typer.Argument(
            help="A study folder or a file written by `itermap export` (.parquet, .csv), or several to compare side "
            "by side (with --out)."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Where to write [default: the study's folder; for FILE.parquet a folder FILE beside it]."
        ),
    ] = None,
    spec: Annotated[
        str | None,
        typer.Option(
            "--spec", help="A preset or spec TOML whose [[compare]] pairs to use [default: the studies' own specs]."
        ),
    ] = None,
    open_: Annotated[bool, typer.Option("--open", help="Open report.html in the default web browser.")] = False,
) -> None:
    """Analyse a study (finished or partial, its folder or its exported file), or several, and write report.html,
    summary.md and figures/."""
    from itermap.report import write_report

    path = write_report(studies, out, spec, say=info)
    console.print(
        f"report:  {path}\nsummary: {path.parent / 'summary.md'}\nfigures: {path.parent / 'figures'}", highlight=False
    )
    if open_:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())


class ConvertForm(str, Enum):
    itermap = "itermap"
    rnn = "rnn"
    tanh_rnn = "tanh-rnn"
    unrolled_tied = "unrolled-tied"
    unrolled_untied = "unrolled-untied"
    mlp = "mlp"


@app.command()
def convert(
    folder: Annotated[
        Path | None, typer.Argument(help="A study folder that kept weights (keep_weights = true).")
    ] = None,
    run_id: Annotated[
        str | None, typer.Option("--run", help="Run id (or a unique prefix) of the weights to convert.")
    ] = None,
    to: Annotated[
        list[ConvertForm] | None,
        typer.Option(
            "--to",
            help="Target form, repeatable; `mlp` of an RNN is its untied unrolling, `rnn` of an MLP "
            "an iterative map reading 3 columns a step, `tanh-rnn` an approximating nn.RNN.",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", help="Output file (default: DIR/converted/<run>-<form>.safetensors).")
    ] = None,
    demo: Annotated[
        bool, typer.Option("--demo", help="Convert a freshly initialised small MLP and RNNs instead.")
    ] = False,
) -> None:
    """Convert a kept run exactly to another form, verify it on the test split, and save its weights."""
    from itermap import convert as conversions

    wide = Console(width=max(console.width, 90))  # the tables' nine columns
    try:
        if demo:
            for title, checks in conversions.demo():
                wide.print(conversions.table(checks, title))
            return
        if folder is None or run_id is None or not to:
            raise ValueError("convert needs DIR --run RUN_ID --to FORM, or --demo")
        if output is not None and len(to) > 1:
            raise ValueError("--output names one file: give one --to with it, or leave --output out")
        done = [conversions.convert_run(folder, run_id, form.value, output) for form in to]
    except ValueError as e:
        raise StudyError(str(e)) from None
    wide.print(conversions.table([check for _, check, _ in done], done[0][0]))
    for _, _, path in done:
        console.print(f"converted weights: {path}", highlight=False, soft_wrap=True)


def main() -> None:
    """Console-script entry point (also `python -m itermap`)."""
    app(prog_name="itermap")


if __name__ == "__main__":
    main()
