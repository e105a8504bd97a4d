"""Storage faults, real ones: a full disk (a small tmpfs) and read-only storage (a read-only mount), each mounted in
a user namespace without root. Each gives one line and exit code 2, keeps what was recorded, leaves no temporary
file; a study on read-only storage still reads."""

from __future__ import annotations

import pytest

from .test_store import one_line_error


def no_temporary_files(folder) -> None:
    assert not [p for p in folder.rglob("*.tmp")], "a temporary file was left behind"


@pytest.mark.parametrize("fills", ["checkpoint", "store"])
def test_disk_full_keeps_what_was_recorded(fills, tiny_spec, isolated, cli, metric_rows, tmp_path):
    if fills == "checkpoint":  # store and study.toml fit, the first checkpoint of megabytes does not
        spec, size = tiny_spec(mlp_hidden="[[512]]"), "1500k"
    else:  # no checkpoints: the store's own writes fill the disk, a few epochs in
        spec, size = tiny_spec(epochs=5, limit_train=1500), "200k"
        spec.write_text(spec.read_text().replace("keep_weights", "checkpoint_every = 1000\nkeep_weights"))
    mnt, kept = tmp_path / "mnt", tmp_path / "kept"
    mnt.mkdir()
    full = isolated(
        f"mount -t tmpfs -o size={size} none {mnt} || exit 99\n"
        f"$ITERMAP run {spec} --out {mnt}/s --device cpu; rc=$?; cp -a {mnt}/s {kept}; exit $rc"
    )
    assert full.returncode != 99, full.stderr
    one_line_error(full, "free some space and run the same command again")
    assert "No space left on device" in full.stderr or "disk is full" in full.stderr
    no_temporary_files(kept)
    recorded = metric_rows(kept)
    assert recorded if fills == "store" else True
    resumed = cli("run", spec, "--out", kept, "--device", "cpu")  # where there is space: it finishes the study
    assert resumed.returncode == 0, resumed.stderr
    assert set(recorded) <= set(metric_rows(kept))


def test_read_only_storage_gives_one_line(tiny_spec, isolated, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    proc = isolated(
        f"mount -t tmpfs none {mnt} && mkdir {mnt}/s && mount -o remount,ro {mnt} || exit 99\n"
        f"$ITERMAP run {tiny_spec()} --out {mnt}/s --device cpu"
    )
    one_line_error(proc, "Read-only file system; the storage is read-only: write elsewhere")


@pytest.fixture(scope="module")
def finished(tmp_path_factory, shared_data):
    """A small finished study folder."""
    import itermap
    from itermap.study.spec import parse

    doc = {
        "study": {"name": "done"},
        "data": {"datasets": ["fashion-mnist-mini"], "limit_train": 200, "limit_test": 100},
        "train": {"epochs": 1, "seeds": 2},
        "grid": [{"family": "mlp", "hidden": [[4], [8]]}],
    }
    return itermap.run_study(
        parse(doc, "test"), out=tmp_path_factory.mktemp("finished") / "s", device="cpu", quiet=True
    )


def test_a_study_on_read_only_storage_reads(finished, isolated, tmp_path):
    proc = isolated(
        f"mount --bind {finished} {finished} && mount -o remount,bind,ro {finished} || exit 99\n"
        f"$ITERMAP status {finished} && $ITERMAP export {finished} --format csv --output {tmp_path}/r.csv &&"
        f' python -c \'import itermap; print(len(itermap.load_results("{finished}")), "rows")\' &&'
        f" $ITERMAP report {finished}"
    )
    assert "4 runs" in proc.stdout and "complete" in proc.stdout and "rows ->" in proc.stdout, proc.stderr
    assert (tmp_path / "r.csv").read_text().count("\n") > 4 and " rows\n" in proc.stdout
    one_line_error(proc, "Read-only file system")  # the report is the one command that writes into the folder


def test_export_to_a_bad_place_gives_one_line(finished, isolated, cli, tmp_path):
    one_line_error(cli("export", finished, "--output", tmp_path / "missing" / "r.parquet"), "no folder")
    one_line_error(cli("export", finished, "--output", tmp_path), "is a folder")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    full = isolated(
        f"mount -t tmpfs -o size=8k none {mnt} || exit 99\n"
        f"dd if=/dev/zero of={mnt}/fill bs=1k count=8 2>/dev/null\n"  # a full disk
        f"$ITERMAP export {finished} --format csv --output {mnt}/r.csv; rc=$?; rm {mnt}/fill; ls -A {mnt}; exit $rc"
    )
    one_line_error(full, "No space left on device; free some space")
    assert full.stdout == ""  # no file left behind, not even a partial one
