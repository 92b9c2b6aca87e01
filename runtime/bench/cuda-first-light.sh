#!/usr/bin/env bash
# CUDA first light: the checks and benchmarks that need an NVIDIA GPU (a
# benchmark and a check list, not a CI test).
#
#   runtime/bench/cuda-first-light.sh prepare   # here: build + plans -> build/gpu/
#   runtime/bench/cuda-first-light.sh run [DIR] # on the GPU machine, from the bundle
#
# prepare builds quant-run and writes into build/gpu/ (about 10 MB; carry it
# to the GPU machine): quant-run with the shared libraries it needs beyond
# glibc/libstdc++ (lib/), stories260K plans compiled with target=cuda (fp32,
# int8, int4 g128, nf4 with double quantization), a weightless
# Llama-2-7B-shaped int4 g128 plan (all 32 layers, embedding and output
# projection f16; the runtime synthesizes its 3.6 GB of weights), the bytes a decode step of it reads, and these
# scripts.
#
# run (DIR defaults to the script's own folder) prints, and writes to
# $OUT/first-light.txt when $OUT is set:
#  1. the device and its device-to-device copy bandwidth (quant-run
#     --cuda-bandwidth and torch's copy);
#  2. per stories260K plan: max |logit difference| CUDA vs CPU over a
#     32-token prompt (tolerance 2e-3; the logits are O(10)) and whether
#     greedy 128-token generations are identical;
#  3. the fused int4 g128 GEMV on 11008x4096 and 4096x11008 inside the 7B
#     decode (quant-run --cuda-profile), in GB/s and as a fraction of the
#     copy bandwidth, next to torch's fp16 matmul on the same shapes;
#  4. decode tokens/s of the 7B-shaped plan against the bytes-per-token
#     limit (copy bandwidth / bytes read per token), with the decode step
#     replayed as one CUDA graph (the default) and with its kernels launched
#     one by one (--no-cuda-graph); profiling (3.) launches one by one too.
set -euo pipefail
mode="${1:-}"
here="$(cd "$(dirname "$0")" && pwd)"

prepare() {
  local root build data gpu
  root="$(cd "$here/../.." && pwd)"
  build="${QUANT_BUILD_DIR:-$root/build}"
  data="${QUANT_DATA_DIR:-$(dirname "$root")/shared/data}"
  gpu="$build/gpu"
  "$root/tools/scripts/build.sh" quant-translate quant-run >/dev/null
  rm -rf "$gpu" && mkdir -p "$gpu/lib" "$gpu/work"
  cp "$build/bin/quant-run" "$gpu/"
  # Shared libraries other than the C and C++ runtimes.
  ldd "$build/bin/quant-run" | awk '/=> \// {print $3}' |
    grep -vE '/(libc|libm|libstdc\+\+|libgcc_s|ld-linux)[.-]' |
    while read -r lib; do cp -L "$lib" "$gpu/lib/"; done
  cp "$here/cuda-first-light.sh" "$here/torch_matmul.py" "$gpu/"
  cp "$data/models/stories260K/tok512.bin" "$gpu/"
  /usr/bin/python3 "$root/python/llama2c_to_onnx.py" \
    "$data/models/stories260K/stories260K.bin" -o "$gpu/work/stories260K.onnx" >/dev/null
  local name options
  for spec in "fp32:method=fp32" "int8:method=int8" \
              "int4-g128:method=int4 group-size=128" \
              "nf4-dq:method=nf4 double-quant=true"; do
    name="${spec%%:*}" options="${spec#*:}"
    "$build/bin/quant-translate" --onnx-to-plan "$gpu/work/stories260K.onnx" \
      --compile-options="$options target=cuda tokenizer=tok512.bin" \
      -o "$gpu/stories260K-$name.qplan"
  done
  /usr/bin/python3 "$root/python/llama2c_to_onnx.py" --random --weightless --llama2-7b \
    -o "$gpu/work/llama7b.onnx" >/dev/null
  "$build/bin/quant-translate" --onnx-to-plan --weightless "$gpu/work/llama7b.onnx" \
    --compile-options="method=int4 group-size=128 float-weights=f16 target=cuda" \
    -o "$gpu/llama7b-int4.qplan"
  # Bytes one decode step reads: every weight once, except the embedding
  # table, of which it reads one row.
  "$build/bin/quant-translate" --plan-to-json "$gpu/llama7b-int4.qplan" > "$gpu/work/llama7b.json"
  /usr/bin/python3 - "$gpu/work/llama7b.json" > "$gpu/llama7b-int4.bytes" <<'PY'
import json, math, sys
plan = json.load(open(sys.argv[1]))
sizes = {"F32": 4, "F16": 2, "BF16": 2, "I32": 4, "I64": 8, "U8": 1}
weights = plan["weights"]
def size(w):
    return math.prod(w["shape"]) * sizes[w["dtype"]]
total = sum(size(w) for w in weights)
decode = next(e for e in plan["entries"] if e["max_tokens"] == 1)
table = decode["steps"][0]["inputs"][0]["weight"]
row = weights[table]["shape"][1] * sizes[weights[table]["dtype"]]
print(total - size(weights[table]) + row)
PY
  rm -rf "$gpu/work"
  du -sh "$gpu"
  echo "prepared $gpu; on the GPU machine: build/gpu/cuda-first-light.sh run"
}

run() {
  local dir="${1:-$here}" report
  report="${OUT:-$dir}/first-light.txt"
  export LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  local qr="$dir/quant-run"
  # FIRST_LIGHT_DEVICE=cpu checks the script's plumbing where there is no
  # GPU (CUDA-only steps are skipped; the comparisons are then CPU vs CPU).
  local dev="${FIRST_LIGHT_DEVICE:-cuda}"
  {
    if [ "$dev" = cuda ]; then
      echo "== device and copy bandwidth"
      nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
      "$qr" --cuda-bandwidth
      "${PYTHON:-python3}" "$dir/torch_matmul.py" | tee "$dir/torch.txt"
    fi

    echo "== stories260K: CUDA vs CPU"
    local prompt="1,403,407,261,378,101,379,383,261,265,399,309,270,270,266,280,290,261,381,396,272,328,320,260,291,327,261,486,273,379,260,402"
    for plan in "$dir"/stories260K-*.qplan; do
      "$qr" "$plan" --device "$dev" --tokenizer "$dir/tok512.bin" --tokens "$prompt" \
        --dump-logits "$dir/cuda.logits" -q
      "$qr" "$plan" --device cpu --tokenizer "$dir/tok512.bin" --tokens "$prompt" \
        --dump-logits "$dir/cpu.logits" -q
      "$qr" "$plan" --device "$dev" --tokenizer "$dir/tok512.bin" --tokens 1 -n 128 \
        --print-ids -q > "$dir/cuda.ids"
      "$qr" "$plan" --device cpu --tokenizer "$dir/tok512.bin" --tokens 1 -n 128 \
        --print-ids -q > "$dir/cpu.ids"
      "${PYTHON:-python3}" - "$plan" "$dir" <<'PY'
import os, sys
import numpy as np
plan, d = sys.argv[1], sys.argv[2]
a = np.fromfile(os.path.join(d, "cuda.logits"), dtype=np.float32)
b = np.fromfile(os.path.join(d, "cpu.logits"), dtype=np.float32)
same = open(os.path.join(d, "cuda.ids")).read() == open(os.path.join(d, "cpu.ids")).read()
diff = float(np.max(np.abs(a - b))) if a.size == b.size and a.size else float("nan")
print("%-28s logits max|diff| %.3g (max |logit| %.3g, tol 2e-3): %s; greedy 128 tokens %s" % (
    os.path.basename(plan), diff, float(np.max(np.abs(b))), "ok" if diff <= 2e-3 else "FAIL",
    "identical" if same else "DIFFER"))
PY
    done

    [ "$dev" = cuda ] || return 0
    echo "== Llama-2-7B-shaped int4 g128 (weightless): fused GEMV and decode"
    local llama=("$dir/llama7b-int4.qplan" --device cuda --tokens 1,450,4996 -n 128
                 --print-ids --context 512)
    # Per-kernel times (profiling times each launch: no CUDA graph).
    "$qr" "${llama[@]}" --cuda-profile > /dev/null 2> "$dir/profile.txt"
    # Decode speed: the decode step as one CUDA graph, then kernel by kernel.
    "$qr" "${llama[@]}" --stats-json "$dir/decode.json" -q > /dev/null
    "$qr" "${llama[@]}" --no-cuda-graph --stats-json "$dir/decode-launches.json" -q > /dev/null
    "$qr" --cuda-bandwidth > "$dir/bandwidth.txt"
    "${PYTHON:-python3}" - "$dir" <<'PY'
import json, os, re, sys
d = sys.argv[1]
copy = float(re.search(r"([0-9.]+) GB/s", open(os.path.join(d, "bandwidth.txt")).read()).group(1))
torch = dict(re.findall(r"torch-fp16 (\d+x\d+): .*?([0-9.]+) GB/s", open(os.path.join(d, "torch.txt")).read()))
profile = open(os.path.join(d, "profile.txt")).read()
def int4_g128_bytes(rows, cols):
    groups = -(-cols // 128)
    return rows * (cols // 2) + rows * groups * 2 + rows * (-(-groups // 2))
print("copy bandwidth (quant-run --cuda-bandwidth; bytes read + written per second): %.1f GB/s" % copy)
for shape in ("11008x4096", "4096x11008"):
    rows, cols = (int(v) for v in shape.split("x"))
    m = re.search(r"qrt_gemv_int4_g128_f16_%s\S*\s+(\d+)\s+([0-9.]+)\s+([0-9.]+)" % shape, profile)
    if not m:
        print("%s: no GEMV in the profile" % shape)
        continue
    mean_us = float(m.group(3))
    gbs = int4_g128_bytes(rows, cols) / (mean_us * 1e-6) / 1e9
    print("int4 g128 GEMV %s: %.1f us, %.1f GB/s = %.2f of copy bandwidth; torch fp16 %s GB/s = %.2f" % (
        shape, mean_us, gbs, gbs / copy, torch.get(shape, "?"),
        float(torch[shape]) / copy if shape in torch else float("nan")))
s = json.load(open(os.path.join(d, "decode.json")))
per_token = int(open(os.path.join(d, "llama7b-int4.bytes")).read())
limit = copy * 1e9 / per_token
tps = s["decode_tokens_per_second"]
print("decode: %.1f tok/s; %.3f GB read per token -> limit %.1f tok/s at copy bandwidth; %.2f of the limit" % (
    tps, per_token / 1e9, limit, tps / limit))
n = json.load(open(os.path.join(d, "decode-launches.json")))
plain = n["decode_tokens_per_second"]
print("decode --no-cuda-graph: %.1f tok/s; %.2f of the limit; the graph (cuda_graph %s, %d graph launches): %.2fx, %.1f us less per token" % (
    plain, plain / limit, json.dumps(s.get("cuda_graph")), s.get("cuda_graph_launches", 0),
    tps / plain, (1 / plain - 1 / tps) * 1e6))
PY
    head -25 "$dir/profile.txt"
  } 2>&1 | tee "$report"
}

case "$mode" in
  prepare) prepare ;;
  run) shift; run "$@" ;;
  *) echo "usage: $0 prepare | run [DIR]" >&2; exit 2 ;;
esac
