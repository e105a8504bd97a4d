#!/usr/bin/env bash
# The GPU checks (issues 15, 16 and 25) as one command for the device machine.
#
# Prepare, here in the repo root, once per session (.whl and .data are ignored by git and travel with `carry`;
# the machine has PyTorch, typer, rich, pandas, scipy, matplotlib and safetensors, but not these):
#   echo /.whl/ >> .git/info/exclude; echo /.data/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#     pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
#     pooch==1.9.0 platformdirs==4.14.8 tomli-w==1.2.0 typing-extensions==4.16.0   # pydantic needs >= 4.16
#   mkdir -p .data && cp -r ../shared/data/. .data/
# Then run `bash scripts/gpu_check.sh` there with carry [".whl", ".data"] and a timeout that leaves a rerun.
#
# What it does: the sections named in SECTIONS (default: all six, in this order), each's output under $OUT:
#   tests       the CUDA tests: capture, GC, the fused recurrence against autograd, an iterative map's W as one
#               matrix, packs side by side (tests.log);
#   orders      a pack's forward and backward in each order of its family, each captured as a graph: an RNN's
#               layered, wavefront and fused (Triton, at five block shapes), a sparse map's blocks and matrix
#               (orders.log);
#   protocol    `itermap run seed2020 --concurrency ${CONCURRENCY:-auto}` (packs side by side, each on its own
#               stream) into runs/seed2020-check under PROTOCOL_SECONDS (default 300; it resumes if cut), then each
#               pack's seconds, and the study exported to $OUT/seed2020.parquet (protocol.log);
#   throughput  the pack against the per-model torch.nn loop on the same device, for each packing (throughput.log);
#   fixed       the cost model's F / c, packs of 1, 16 and 100 members fitted per configuration, its `fixed_macs:`
#               line the number for FIXED_MACS in study/compose.py (fixed_cost.log);
#   plans       `itermap plan` of each long preset on the device with --concurrency auto: its packs, multiply-adds
#               and wall time estimated from a calibration measured there (plans.log; about 10 s a preset).
# Sized for a 15-minute device session (a start takes minutes of it): first SECTIONS="tests orders protocol"
# with timeout_s 540, then, while the machine is warm, SECTIONS="throughput fixed plans".
# DEVICE=cpu STEPS=2 PROTOCOL_SECONDS=60 runs the same here, to check the script itself.
set -uo pipefail
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-30}
SECTIONS=${SECTIONS:-tests orders protocol throughput fixed plans}
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit
fi
export PYTHONPATH="$PWD/src:/tmp/site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export ITERMAP_DATA_DIR="${ITERMAP_DATA_DIR:-$PWD/.data}"

python3 -c "import torch, itermap; print('itermap', itermap.__version__, 'torch', torch.__version__,
  'cuda', torch.cuda.is_available() and torch.cuda.get_device_name())" | tee "$OUT/machine.log"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv | tee -a "$OUT/machine.log"

want() { [[ " $SECTIONS " == *" $1 "* ]]; }

if want tests; then
  echo "== tests"
  python3 -m pytest -q -p no:cacheprovider -n 0 -rs tests/train/test_capture.py tests/train/test_gc.py \
    tests/models/test_fused.py tests/models/test_itermap.py tests/study/test_side_by_side.py 2>&1 | tee "$OUT/tests.log"
fi

if want orders; then
  echo "== orders"
  python3 benchmarks/orders.py --device "$DEVICE" --steps "$STEPS" --repeats 3 2>&1 | tee "$OUT/orders.log"
fi

if want protocol; then
  echo "== seed2020"
  study=runs/seed2020-check
  start=$(date +%s)
  timeout --signal=INT --kill-after=30 "${PROTOCOL_SECONDS:-300}" python3 -m itermap -q run seed2020 \
    --device "$DEVICE" --out "$study" --concurrency "${CONCURRENCY:-auto}" 2>&1 | tee "$OUT/protocol.log"
  echo "seed2020 (--concurrency ${CONCURRENCY:-auto}): exit ${PIPESTATUS[0]} after $(( $(date +%s) - start )) s" \
    | tee -a "$OUT/protocol.log"
  python3 -m itermap status "$study" 2>&1 | tee -a "$OUT/protocol.log"
  python3 - "$study/results.sqlite" <<'PY' 2>&1 | tee -a "$OUT/protocol.log"
import sqlite3, sys
rows = sqlite3.connect(sys.argv[1]).execute(
    "SELECT pack_id, min(arch), max(arch), count(*), max(seconds), max(epochs_done) FROM runs GROUP BY pack_id"
).fetchall()
for pack, first, last, n, seconds, epochs in sorted(rows, key=lambda r: -r[4]):
    if epochs:
        print(f"pack {pack[:12]} {first}..{last}: {n} runs, {seconds:.1f} s over {epochs} epochs")
print(f"{sum(1 for r in rows if not r[5])} of {len(rows)} packs not started")
PY
  python3 -m itermap -q export "$study" --format parquet --output "$OUT/seed2020.parquet" 2>&1 | tee -a "$OUT/protocol.log"
fi

if want throughput; then
  echo "== throughput"
  python3 benchmarks/throughput.py --device "$DEVICE" --batch-sizes 64 --steps "$STEPS" --warmup 5 \
    --packings configs auto --repeats 2 2>&1 | tee "$OUT/throughput.log"
fi

if want fixed; then
  echo "== fixed cost"
  python3 benchmarks/fixed_cost.py --device "$DEVICE" --steps "$STEPS" --repeats 2 --members 1 16 100 2>&1 \
    | tee "$OUT/fixed_cost.log"
fi

if want plans; then
  echo "== plans"
  for p in seed2020 matched depth windows sparsity distill; do
    python3 -m itermap plan "$p" --device "$DEVICE" --concurrency auto 2>&1 | tail -2
  done | tee "$OUT/plans.log"
fi
