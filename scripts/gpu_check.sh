#!/usr/bin/env bash
# The GPU checks of issue 15 (and the start of issue 16) as one command for the device machine.
#
# Prepare, here in the repo root, once per session (.whl and .data are ignored by git and travel with `carry`;
# the machine has PyTorch, typer, rich, pandas, scipy, matplotlib and safetensors, but not these):
#   echo /.whl/ >> .git/info/exclude; echo /.data/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#     pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
#     pooch==1.9.0 platformdirs==4.14.8 tomli-w==1.2.0
#   mkdir -p .data && cp -r ../shared/data/. .data/
# Then run `bash scripts/gpu_check.sh` there with carry [".whl", ".data"] and a timeout that leaves a rerun.
#
# What it does, each step's output under $OUT: the trainer's tests, the CUDA capture tests among them
# (tests.log); the pack against the per-model torch.nn loop on the same device, for each packing (throughput.log);
# the cost model's F / c, packs of 1 to 100 members fitted per configuration, its `fixed_macs:` line the number for
# FIXED_MACS in study/compose.py (fixed_cost.log); an RNN pack's forward and backward in each order of models/rnn.py,
# layered, wavefront and fused (Triton), each captured as a graph (recurrence.log); with PROTOCOL=1, then `itermap run seed2020 --concurrency
# ${CONCURRENCY:-auto}` (packs side by side, each on its own stream) under a time limit (protocol.log; the study
# resumes if cut).
# DEVICE=cpu STEPS=2 runs the same steps here, to check the script itself.
set -uo pipefail
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-30}
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

echo "== tests"
python3 -m pytest -q -p no:cacheprovider -n 0 -rs tests/train tests/models/test_fused.py tests/study/test_side_by_side.py 2>&1 | tee "$OUT/tests.log"

echo "== throughput"
python3 benchmarks/throughput.py --device "$DEVICE" --batch-sizes 64 --steps "$STEPS" --warmup 5 \
  --packings configs auto --repeats 2 2>&1 | tee "$OUT/throughput.log"

echo "== fixed cost"
python3 benchmarks/fixed_cost.py --device "$DEVICE" --steps "$STEPS" --repeats 2 --members 1 16 100 2>&1 \
  | tee "$OUT/fixed_cost.log"

echo "== recurrence"
python3 benchmarks/recurrence.py --device "$DEVICE" --steps "$STEPS" --repeats 3 2>&1 | tee "$OUT/recurrence.log"

if [ "${PROTOCOL:-0}" = 1 ]; then
  echo "== seed2020"
  start=$(date +%s)
  timeout "${PROTOCOL_SECONDS:-300}" python3 -m itermap -q run seed2020 --device "$DEVICE" --out "$OUT/seed2020" \
    --concurrency "${CONCURRENCY:-auto}" 2>&1 | tee "$OUT/protocol.log"
  echo "seed2020 (--concurrency ${CONCURRENCY:-auto}): exit ${PIPESTATUS[0]} after $(( $(date +%s) - start )) s" \
    | tee -a "$OUT/protocol.log"
  python3 -m itermap status "$OUT/seed2020" 2>&1 | tee -a "$OUT/protocol.log"
fi
