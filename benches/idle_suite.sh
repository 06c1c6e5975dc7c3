#!/usr/bin/env bash
# Every benchmark of issues 9 (speed, threads, generation) and 11 (rustrnn.torch.convert), in one run,
# for an idle machine. Run from the repository root with a release build of rustrnn installed in a
# python that also has torch:
#
#   bash benches/idle_suite.sh /path/to/python [out-dir]      (out-dir: benches/out/idle-<UTC time>)
#
# Prints the time, `uptime` and the CPU (lscpu) before and after, and writes every table as markdown
# under out-dir (summary.md collects them, ready for benches/RESULTS.md). About 9-11 minutes on 2
# Zen 3 cores when idle; each part has a time limit so the whole run stays under 12 minutes (a part
# that hits its limit says so in summary.md). QUICK=1 runs a few-second smoke test of every part.
set -u
PY=${1:?usage: bash benches/idle_suite.sh /path/to/python [out-dir]}
OUT=${2:-benches/out/idle-$(date -u +%Y%m%dT%H%M%SZ)}
QUICK=${QUICK:-0}
mkdir -p "$OUT"
SUMMARY="$OUT/summary.md"
cd "$(dirname "$0")/.."

"$PY" -c "import torch, rustrnn._native" || { echo "idle_suite: $PY needs torch and rustrnn" >&2; exit 1; }

machine() {
    echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC'); uptime: $(uptime)"
}

# part NAME LIMIT_S COMMAND...: runs COMMAND under a time limit, its output to OUT/NAME.txt and the summary.
part() {
    local name=$1 limit=$2
    shift 2
    local t0=$SECONDS
    echo "== $name (limit ${limit}s): $*" >&2
    timeout --signal=INT "$limit" "$@" >"$OUT/$name.txt" 2>&1
    local rc=$?
    {
        echo
        echo "### $name"
        echo
        echo "\`$*\` — $((SECONDS - t0)) s, exit $rc$([ $rc = 124 ] && echo ' (TIME LIMIT: incomplete)'); $(uptime)"
        echo
        grep -v '^#' "$OUT/$name.txt" | grep -E '^\||tokens/s|samples/s|GFLOP|uptime|^torch|^rustrnn|^fit|^gen|error|Error' || true
    } >>"$SUMMARY"
    cat "$OUT/$name.txt" >&2
}

if [ "$QUICK" = 1 ]; then
    R=(--repeat 1 --warmup 0); GROUPS_=("small=60=lstm:20:32:64:128,gru:20:1:32:64"); SCALE=(--shapes lstm:50:32:128:256 --repeat 1)
    E2E=(--steps 2 --tokens 50 --repeat 1); CONV=(--steps 2 --repeat 1); GEN=(--tokens 50 --repeat 1)
else
    R=(--repeat 4 --warmup 1)
    GROUPS_=("main=100=main" "deepbench=130=deepbench" "batch1=30=batch1" "manytoone=40=manytoone"); SCALE=(--repeat 7)
    E2E=(--steps 10 --tokens 500 --repeat 2); CONV=(--steps 8 --repeat 2); GEN=(--tokens 500 --repeat 2)
fi

{
    echo "## Idle-machine suite (benches/idle_suite.sh)"
    echo
    machine
    echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p'), family $(lscpu | sed -n 's/^CPU family: *//p') model $(lscpu | sed -n 's/^Model: *//p'), $(nproc) cores"
    echo "- git: $(git describe --always --dirty --abbrev=12 2>/dev/null); python: $PY"
    "$PY" - <<'EOF'
import rustrnn, torch
from rustrnn import _native
peaks = {isa: _native._fma_peak_gflops(isa, "float32") for isa in _native._supported_isas()}
print(f"- rustrnn {rustrnn.__version__} kernel path {rustrnn.get_isa()}, flush-to-zero {rustrnn.get_flush_denormal()}; "
      f"torch {torch.__version__}")
print("- measured 1-core FP32 FMA peak (GFLOP/s): " + ", ".join(f"{k} {v:.1f}" for k, v in peaks.items() if v))
EOF
} >"$SUMMARY"
cat "$SUMMARY" >&2

# Issue 9: thread scaling of rustrnn alone (1 vs 2 threads interleaved), then every cell against PyTorch.
part thread_scaling 100 "$PY" benches/thread_scaling.py "${SCALE[@]}"
# One run per shape group, so that a group hitting its limit loses only its own table.
for group in "${GROUPS_[@]}"; do
    name=${group%%=*}; rest=${group#*=}; limit=${rest%%=*}; shapes=${rest#*=}
    part "compare_torch_$name" "$limit" "$PY" benches/compare_torch.py --shapes "$shapes" --threads 1,2 "${R[@]}" \
        --markdown "$OUT/compare_torch_$name.md"
    [ -f "$OUT/compare_torch_$name.md" ] && { echo; cat "$OUT/compare_torch_$name.md"; } >>"$SUMMARY"
done
# Issue 9: end-to-end fit and generation (rustrnn), and PyTorch's generation step loop (the 30x reference).
part e2e_1thread 55 "$PY" benches/e2e.py --threads 1 "${E2E[@]}"
part e2e_2threads 55 "$PY" benches/e2e.py --threads 2 "${E2E[@]}"
part torch_generate 35 "$PY" benches/torch_generate.py --threads 1 2 "${GEN[@]}"
# Issue 11: a torch training loop before and after rustrnn.torch.convert (LSTM and GRU, 1 and 2 threads).
part torch_convert 140 "$PY" benches/torch_convert.py --threads 1 2 "${CONV[@]}"

{
    echo
    echo "### End"
    echo
    machine
    echo
    echo "The compare_torch tables with their environment: $OUT/compare_torch_*.md; raw outputs: $OUT/*.txt."
} >>"$SUMMARY"
echo "idle_suite: wrote $SUMMARY" >&2
cat "$SUMMARY"
