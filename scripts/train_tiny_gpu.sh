#!/usr/bin/env bash
# LiveSense-Tiny on one GPU: the same recipe as scripts/train_tiny.py (same curriculum,
# model and loss), bf16 autocast, batches built by CPU worker processes.
#
#   bash scripts/train_tiny_gpu.sh DATA MINUTES OUT [RUN:LR ...]
#
# DATA: a cache folder built here first (scripts/train_tiny.py --build-only builds it; the
# GPU box needs no speech engines then). Each RUN:LR trains one model (default size) at
# that peak learning rate, all runs side by side on the one GPU (a 15M-parameter model
# leaves most of it idle). Each writes OUT/RUN.pt.part_* : the weights only, float16,
# in 16 MB pieces; join them with `cat OUT/RUN.pt.part_* > ckpt.pt` and export here with
#   python scripts/train_tiny.py --data DATA --ckpt ckpt.pt --export-only
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$1; MINUTES=$2; OUT=$3; shift 3
RUNS=("${@:-a:2e-3}")
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1
ncpu=${NCPU:-$(nproc)}
workers=$(( (ncpu - ${#RUNS[@]}) / ${#RUNS[@]} ))
[ "$workers" -lt 1 ] && workers=1
pids=()
for r in "${RUNS[@]}"; do
  name=${r%%:*}; lr=${r#*:}
  python3 scripts/train_tiny.py --data "$DATA" --ckpt "$DATA/$name.pt" --device "${DEVICE:-cuda}" --workers "$workers" \
    --batch 128 --steps 1000000 --minutes "$MINUTES" --lr "$lr" --no-export \
    --codebooks models/lsc1/lsc1_codebooks.npz > "$OUT/$name.log" 2>&1 &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
for r in "${RUNS[@]}"; do
  name=${r%%:*}
  tail -c 2000 "$OUT/$name.log" | tr '\r' '\n' | grep -v '^$' | tail -4 || true
  [ -f "$DATA/$name.pt" ] || continue
  python3 - "$DATA/$name.pt" "$OUT/$name.pt" <<'EOF'
import sys, torch
ck = torch.load(sys.argv[1], map_location="cpu", weights_only=False)
ck.pop("opt", None)  # weights only: the optimizer state is twice their size
ck["model"] = {k: (v.half() if v.is_floating_point() and not k.endswith("masks") else v)
               for k, v in ck["model"].items()}
torch.save(ck, sys.argv[2])
print(sys.argv[2], "step", ck["step"], "last", ck["history"][-1] if ck["history"] else None)
EOF
  split -b 16000000 "$OUT/$name.pt" "$OUT/$name.pt.part_" && rm "$OUT/$name.pt"
done
exit $rc
