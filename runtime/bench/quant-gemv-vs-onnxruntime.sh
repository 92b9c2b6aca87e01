#!/usr/bin/env bash
# Fused int4 dequantize-GEMV of the CPU runtime against onnxruntime's
# com.microsoft MatMulNBits and the machine's read bandwidth, same machine,
# same run (a benchmark, not a test):
#   runtime/bench/quant-gemv-vs-onnxruntime.sh [-r ROUNDS] [-t THREADS]
# Weights: 4 bits, groups (blocks) of 128, asymmetric (zero points), on the
# Llama-2-7B MLP shapes N=11008,K=4096 and N=4096,K=11008, with 16 layers'
# worth of distinct random weights cycled (>= 360 MB, far past the caches);
# M=1.
#  - ours: dequantMatmul through qrt-cpu-bench, with 8-bit activations
#    (QuantGEMV/a8/int4-g128-asym-f16 rows, quant-compile's default for
#    this scheme; integer dot products like ORT's accuracy_level 4) and with
#    f32 activations (QuantGEMV/int4-g128-asym-f16); f16 scales; and its
#    ReadBandwidth rows (a 1 GiB streaming sum);
#  - onnxruntime-node 1.30: one model per shape of 16 MatMulNBits nodes
#    (bits 4, block_size 128, accuracy_level 4, uint8 zero points; scales
#    f32, the type of its input) that all read x [1, K], built with
#    python3-onnx; session creation (weight prepacking) is not timed
#    (ort_matmulnbits.js).
# Both use T threads (default: all cores); each round runs both sides in
# turn, and the table shows each side's best round. GB/s counts the packed
# weight bytes each side reads (codes, scales, zero points): ours stores f16
# scales, onnxruntime f32, so the time per GEMV is the like-for-like figure.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${QUANT_BUILD_DIR:-$root/build}"
rounds=3 threads="$(nproc)"
while [ $# -gt 0 ]; do
  case "$1" in
    -r) rounds="$2"; shift 2 ;;
    -t) threads="$2"; shift 2 ;;
    *) echo "usage: $0 [-r ROUNDS] [-t THREADS]" >&2; exit 2 ;;
  esac
done

"$root/tools/scripts/install-deps.sh" >/dev/null
"$root/tools/scripts/build.sh" qrt-cpu-bench >/dev/null
work="$build/bench/quant-gemv"
mkdir -p "$work"
layers=16

# The onnxruntime models: x [1, K] -> y_l [1, N] = MatMulNBits(x, B_l, scales_l, zero_points_l).
/usr/bin/python3 - "$work" "$layers" <<'PY'
import os, sys
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

work, layers = sys.argv[1], int(sys.argv[2])
block, bits = 128, 4
for n, k in ((11008, 4096), (4096, 11008)):
    path = f"{work}/matmulnbits-{n}x{k}.onnx"
    if os.path.exists(path):
        continue
    rng = np.random.default_rng(n)
    blocks = (k + block - 1) // block
    nodes, inits, outputs = [], [], []
    for l in range(layers):
        inits += [
            numpy_helper.from_array(
                rng.integers(0, 256, (n, blocks, block * bits // 8), dtype=np.uint8), f"B{l}"),
            numpy_helper.from_array(
                rng.uniform(0.002, 0.02, n * blocks).astype(np.float32), f"scales{l}"),
            numpy_helper.from_array(
                rng.integers(0, 256, n * ((blocks * bits + 7) // 8), dtype=np.uint8), f"zp{l}"),
        ]
        nodes.append(helper.make_node(
            "MatMulNBits", ["x", f"B{l}", f"scales{l}", f"zp{l}"], [f"y{l}"],
            domain="com.microsoft", name=f"layer{l}", K=k, N=n, bits=bits, block_size=block,
            accuracy_level=4))
        outputs.append(helper.make_tensor_value_info(f"y{l}", TensorProto.FLOAT, [1, n]))
    graph = helper.make_graph(
        nodes, "matmulnbits", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, k])],
        outputs, inits)
    model = helper.make_model(graph, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    onnx.save(model, path)
PY

rm -f "$work"/ours-*.json "$work/ort.jsonl"
for round in $(seq 1 "$rounds"); do
  QRT_BENCH_THREADS="$threads" "$build/bin/qrt-cpu-bench" \
    --benchmark_filter='^(ReadBandwidth/1GiB|QuantGEMV/(a8/)?int4-g128-asym-f16/)' \
    --benchmark_format=json --benchmark_out="$work/ours-$round.json" \
    --benchmark_out_format=json >/dev/null
  for shape in 11008x4096 4096x11008; do
    k="${shape#*x}"
    printf '{"shape": "%s", "result": ' "$shape" >> "$work/ort.jsonl"
    NODE_PATH="$build/npm/node_modules" node "$root/runtime/bench/ort_matmulnbits.js" \
      "$work/matmulnbits-$shape.onnx" --k "$k" --nodes "$layers" --threads "$threads" \
      | tr -d '\n' >> "$work/ort.jsonl"
    echo '}' >> "$work/ort.jsonl"
  done
done

/usr/bin/python3 - "$work" "$rounds" "$threads" <<'PY'
import json, sys
work, rounds, threads = sys.argv[1], int(sys.argv[2]), sys.argv[3]
block = 128
best_bw, ours, isa = 0.0, {}, "?"
for r in range(1, rounds + 1):
    report = json.load(open(f"{work}/ours-{r}.json"))
    isa = report["context"].get("qrt_isa", isa)
    for b in report["benchmarks"]:
        name = b["name"]
        if name.startswith("ReadBandwidth"):
            best_bw = max(best_bw, b["GB/s"])
        elif name.startswith("QuantGEMV"):
            parts = name.split("/")
            a8 = parts[1] == "a8"
            k, n = (int(v) for v in parts[3 if a8 else 2].split("x"))  # K x N
            ours.setdefault((n, k, a8), []).append(b["us/token"] * 1e-6)
ort = {}
for line in open(f"{work}/ort.jsonl"):
    entry = json.loads(line)
    k, n = (int(v) for v in entry["shape"].split("x")[::-1])  # N x K -> K, N
    ort.setdefault((n, k), []).append(entry["result"]["seconds_per_gemv"])

def packed_bytes(n, k, scale_bytes):
    blocks = (k + block - 1) // block
    return n * (k + 1) // 2 + n * blocks * scale_bytes + n * ((blocks * 4 + 7) // 8)

print(f"int4 g128 asymmetric GEMV, M=1, {threads} threads, {rounds} rounds (best shown), "
      f"16 distinct weights cycled; ours: isa {isa}, f16 scales; onnxruntime: MatMulNBits "
      f"accuracy_level 4, f32 scales")
print(f"read bandwidth (ReadBandwidth, best): {best_bw:.1f} GB/s")
print(f"{'N x K':>13} | {'ours':>9} | {'ours us':>8} {'GB/s':>6} {'of BW':>6} | {'ORT us':>8} "
      f"{'GB/s':>6} {'of BW':>6} | {'ours vs ORT':>11}")
for n, k in ((11008, 4096), (4096, 11008)):
    for a8 in (True, False):
        t_ours, t_ort = min(ours[(n, k, a8)]), min(ort[(n, k)])
        g_ours = packed_bytes(n, k, 2) / t_ours * 1e-9
        g_ort = packed_bytes(n, k, 4) / t_ort * 1e-9
        print(f"{n:>5} x {k:<5} | {'a8' if a8 else 'f32 act.':>9} | {t_ours * 1e6:8.1f} "
              f"{g_ours:6.1f} {g_ours / best_bw:6.2f} | {t_ort * 1e6:8.1f} {g_ort:6.1f} "
              f"{g_ort / best_bw:6.2f} | {t_ort / t_ours:10.2f}x")
print("GB/s: packed weight bytes per GEMV (codes + scales + zero points) / time; "
      "'ours vs ORT': ORT time / our time (higher: ours faster)")
PY
