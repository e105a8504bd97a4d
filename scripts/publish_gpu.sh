#!/usr/bin/env bash
# The long presets, one after another, on the device machine inside a time budget, each exported into $OUT as
# Parquet with the study's spec, environment and version in the file's metadata (itermap.spec, ...).
#
# Prepare as in scripts/gpu_check.sh's header (.whl and .data, carried; tomli-w is among the wheels there since
# study.toml is written with it). Then run `bash scripts/publish_gpu.sh` there with
# carry [".whl", ".data"] and a timeout_s of BUDGET plus a minute or so (a cut run gets 30 s to stop).
#
# Each preset trains into runs/<preset>: ignored by git, so kept on the machine while it stays warm, and the next
# call resumes a preset the budget cut (`itermap run` into its folder trains only what is left). $OUT is emptied
# before each call, so every call exports each preset it reaches again, finished or not (a partial export
# holds the unmeasured runs too). Presets left when under 20 s of the budget remain are skipped.
# A machine is lent for minutes and comes back bare, so a cut preset also comes back as its study folder,
# $OUT/<preset>.study.tar.gz: the store and the spec, less the checkpoints of the packs it was training (large; those
# packs train again from their first epoch). To go on in a later session, unpack it here, `mkdir -p runs && tar xzf
# <files_at>/<preset>.study.tar.gz -C runs`, and carry "runs/<preset>" with .whl and .data: its finished packs are
# not trained again. (At most one preset is cut a call, so $OUT holds at most 6 exports, 1 study and the log.)
# Knobs: PRESETS (in this order), DEVICE, BUDGET (seconds for the whole script), OUT. Output: one line per
# preset, a closing table, $OUT/publish.log; exit 0 when every preset finished or was cut or skipped by the
# budget, 1 when a run failed otherwise or an export failed (the other presets still run and export).
# DEVICE=cpu PRESETS="quick distill-quick" BUDGET=400 OUT=publish-check runs the same here, to check the script.
set -euo pipefail
PRESETS=${PRESETS:-seed2020 matched depth windows sparsity distill}
DEVICE=${DEVICE:-cuda}
BUDGET=${BUDGET:-540}
OUT=${OUT:-/tmp/publish}
RESERVE=15   # seconds of each run's share kept back for its export
MIN_LEFT=20  # a preset is not started with fewer seconds than this for its run
GRACE=30     # after SIGINT at the budget, seconds before timeout kills a run that has not stopped
MAX_BYTES=$((16 * 1024 * 1024))  # the device tool brings back at most 8 files of 16 MiB
mkdir -p "$OUT" runs
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit
fi
export PYTHONPATH="$PWD/src:/tmp/site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export ITERMAP_DATA_DIR="${ITERMAP_DATA_DIR:-$PWD/.data}"
log="$OUT/publish.log"
: >"$log"
say() { echo "$@" | tee -a "$log"; }
warn() { echo "warning: $*" | tee -a "$log" >&2; }

say "$(python3 -m itermap --version) on $DEVICE; budget ${BUDGET} s; presets: $PRESETS"
failed=0
table=()
for p in $PRESETS; do
  t0=$SECONDS
  left=$((BUDGET - SECONDS - RESERVE))
  if ((left < MIN_LEFT)); then
    table+=("$p skipped - 0 - -")
    say "$p: skipped, $((BUDGET - SECONDS)) s left of the budget"
    continue
  fi
  # SIGINT at the budget: itermap stops at once (the store keeps every finished epoch) and exits 130; timeout
  # then exits 124 (137 if it had to kill). Either is a cut, resumed by the next call; any other code is an error.
  say "== $p (up to ${left} s)"
  rc=0
  timeout --signal=INT --kill-after=$GRACE "$left" python3 -m itermap run "$p" --device "$DEVICE" --out "runs/$p" \
    2>&1 | tee -a "$log" || rc=${PIPESTATUS[0]}
  case $rc in
    0) state=finished ;;
    124 | 137) state=partial ;;
    *) state="failed($rc)" failed=1 ;;
  esac
  # Whatever the run left, finished or cut: its done (or diverged) of planned runs, then its export.
  counts=- rows=- size=-
  if [ -f "runs/$p/results.sqlite" ]; then
    counts=$(python3 -m itermap status "runs/$p" --json | python3 -c 'import json, sys; d = json.load(sys.stdin)
print("%d/%d %d" % (d["counts"]["done"] + d["counts"]["diverged"], d["runs"], d["complete"]))') || counts="? 0"
    read -r counts complete <<<"$counts"
    [ "$state" = finished ] && [ "$complete" = 0 ] && state=partial  # exit 0 short of every run
    [ "$state" = partial ] && [ "$complete" = 1 ] && state=finished  # cut just after its last run
    if python3 -m itermap -q export "runs/$p" --format parquet --output "$OUT/$p.parquet" 2>&1 | tee -a "$log"; then
      rows=$(python3 -c 'import sys, pyarrow.parquet as pq; print(pq.read_metadata(sys.argv[1]).num_rows)' "$OUT/$p.parquet")
      bytes=$(stat -c %s "$OUT/$p.parquet")
      size=$(awk -v b="$bytes" 'BEGIN { printf "%.2f", b / 1048576 }')
      if ((bytes > MAX_BYTES)); then warn "$OUT/$p.parquet is $size MiB, over the 16 MiB the device tool brings back"; fi
    else
      warn "$p: export failed"
      failed=1
    fi
  fi
  if [ "$state" = partial ] && [ -d "runs/$p" ]; then  # (no folder: cut before the run made one)
    if tar czf "$OUT/$p.study.tar.gz" -C runs --exclude="$p/checkpoints" --exclude="$p/.lock" "$p"; then
      bytes=$(stat -c %s "$OUT/$p.study.tar.gz")
      say "$p: its study folder, less checkpoints, in $OUT/$p.study.tar.gz ($((bytes / 1024)) KiB) to resume it later"
      if ((bytes > MAX_BYTES)); then warn "$OUT/$p.study.tar.gz is over the 16 MiB the device tool brings back"; fi
    else
      warn "$p: its study folder could not be archived"
      failed=1
    fi
  fi
  table+=("$p $state $counts $((SECONDS - t0)) $rows $size")
  say "$p: $state, $counts runs, $((SECONDS - t0)) s, $rows rows, $size MiB"
done

files=$(find "$OUT" -maxdepth 1 -type f | wc -l)
if ((files > 8)); then warn "$files files in $OUT; the device tool brings back at most 8"; fi
say "== summary ($SECONDS s of ${BUDGET} s)"
{
  printf '%-14s %-12s %-9s %6s %9s %8s\n' preset state runs seconds rows MiB
  for r in "${table[@]}"; do printf '%-14s %-12s %-9s %6s %9s %8s\n' $r; done
} | tee -a "$log"
exit $failed
