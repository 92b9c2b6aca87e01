#!/usr/bin/python3
"""Perplexity and size of a llama2.c model under every weight scheme: our plans against the
independent numpy reference (a report; with --check, also the acceptance checks).

  tools/scripts/quant-table.py [--checkpoint CKPT --tokenizer TOK --text TEXT] [--max-docs 200]
                               [--schemes fp32,int8,...] [--gptq] [--jobs 2] [--json OUT] [--check]

For each scheme: exports the checkpoint to ONNX (python/llama2c_to_onnx.py), compiles it with
`quant-translate --onnx-to-plan --compile-options=...`, measures perplexity with
`quant-run --perplexity` (the protocol of ../shared/data/README.md), and runs
test/e2e/reference/llama2c_numpy.py --perplexity --quant SCHEME, whose quantizer
(test/e2e/reference/quant_numpy.py) shares no code with the compiler. The quantized bytes that
`quant-run --info` reports are compared with the scheme's theoretical size
(quant_numpy.theoretical_bytes over the projections). Prints a markdown table.

--gptq adds GPTQ rows (qllm-gptq, calibrated on documents 200-327 of TEXT, each at most 256
tokens) next to the round-to-nearest rows of the same storage; their numpy reference is
test/e2e/reference/gptq_reference.py (numpy model, numpy GPTQ, the same calibration).

A scheme name may end in @f32 or @int8: the same weights with quant-compile's `activations=f32` or
`activations=int8` (and the numpy reference's --activations); without it, both take the scheme's
default (8-bit activations for 4- and 8-bit integer codes, NF4 and FP4; docs/quantization.md). The last column
says which the plan has.

--check fails (exit 1) unless: int8 is within 0.2% of fp32 (ours), every scheme is within 0.5% of
the numpy reference of the same scheme, quantized bytes are within 1% of the theoretical size,
and (with --gptq) GPTQ int4 g128 has perplexity <= 3.88.
Needs a build (QUANT_BUILD_DIR, default build/) with quant-translate and quant-run; the fixtures
default to stories260K under QUANT_DATA_DIR (default ../shared/data).
"""

import argparse
import concurrent.futures
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
REFERENCE = os.path.join(ROOT, "test", "e2e", "reference")
sys.path.insert(0, REFERENCE)

import quant_numpy  # noqa: E402
from llama2c_numpy import PROJECTIONS, Checkpoint  # noqa: E402

# quant-compile options of each scheme name of quant_numpy.
COMPILE_OPTIONS = {
    "fp32": "method=fp32",
    "int8": "method=int8",
    "int4-g32": "method=int4 group-size=32",
    "int4-g64": "method=int4 group-size=64",
    "int4-g128": "method=int4 group-size=128",
    "int4-g32-sym": "method=int4 group-size=32 symmetric=true",
    "int4-g64-sym": "method=int4 group-size=64 symmetric=true",
    "int4-g128-sym": "method=int4 group-size=128 symmetric=true",
    "nf4": "method=nf4",
    "nf4-dq": "method=nf4 double-quant=true",
    "fp4": "method=fp4",
    "fp4-dq": "method=fp4 double-quant=true",
    "llm-int8": "method=llm-int8 outlier-threshold=6.0",
    "llm-int8-t0": "method=llm-int8 outlier-threshold=0",
    "int3-g128": "method=int bits=3 group-size=128",
    "int4-asym-f16": "method=int4 group-size=-1",
}
# The schemes of the default table (the RTN rows that GPTQ rows compare with
# are added with --gptq).
DEFAULT_SCHEMES = ("fp32", "int8", "int4-g32", "int4-g64", "int4-g128", "int4-g32-sym",
                   "int4-g64-sym", "int4-g128-sym", "nf4", "nf4-dq", "fp4", "fp4-dq",
                   "llm-int8", "llm-int8-t0")

# GPTQ: name -> (qllm-gptq options, gptq_reference.py options, the round-to-nearest scheme of
# the same storage). Calibration: CALIBRATION below, the same for both.
GPTQ = {
    "gptq-int4-g128": ("group-size=128", "--group-size 128", "int4-g128"),
    "gptq-int4-g128-act": ("group-size=128 act-order=true", "--group-size 128 --act-order",
                           "int4-g128"),
    "gptq-int4-g128-act-static": ("group-size=128 act-order=true static-groups=true",
                                  "--group-size 128 --act-order --static-groups", "int4-g128"),
    "gptq-int4-g128-clip": ("group-size=128 clip-search=true", "--group-size 128 --clip-search",
                            "int4-g128"),
    "gptq-int4-g32": ("group-size=32", "--group-size 32", "int4-g32"),
    "gptq-int4-g32-act": ("group-size=32 act-order=true", "--group-size 32 --act-order",
                          "int4-g32"),
    "gptq-int4-g32-clip": ("group-size=32 clip-search=true", "--group-size 32 --clip-search",
                           "int4-g32"),
    "gptq-int4-g128-sym": ("group-size=128 symmetric=true", "--group-size 128 --symmetric",
                           "int4-g128-sym"),
    "gptq-int3-g128": ("bits=3 group-size=128", "--bits 3 --group-size 128", "int3-g128"),
    "gptq-int4-perchannel": ("group-size=-1", "--group-size -1", "int4-asym-f16"),
}
# Documents 200-327 (after the 200 evaluated), each at most 256 tokens.
CALIBRATION = dict(offset=200, samples=128, seqlen=256)
for name, (options, _, _) in GPTQ.items():
    COMPILE_OPTIONS[name] = ("method=gptq %s calibration={text} calibration-offset=%d "
                             "calibration-samples=%d calibration-seqlen=%d "
                             "calibration-mode=documents" % (
                                 options, CALIBRATION["offset"], CALIBRATION["samples"],
                                 CALIBRATION["seqlen"]))
PERPLEXITY = re.compile(r"perplexity: ([0-9.]+) \(([0-9]+) tokens, ([0-9]+) documents\)")


def split_scheme(name):
    """'int4-g128@f32' -> ('int4-g128', 'f32'); no suffix -> (name, 'auto')."""
    base, _, activations = name.partition("@")
    return base, activations or "auto"


def compile_options(scheme):
    base, activations = split_scheme(scheme)
    options = COMPILE_OPTIONS[base]
    return options if activations == "auto" else options + " activations=" + activations


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise RuntimeError("%s failed (exit %d):\n%s%s" % (" ".join(command), result.returncode,
                                                             result.stdout, result.stderr))
    return result.stdout


def perplexity_of(output, what):
    m = PERPLEXITY.search(output)
    if not m:
        raise RuntimeError("%s printed no perplexity:\n%s" % (what, output))
    return float(m.group(1)), int(m.group(2)), int(m.group(3))


def theoretical(ckpt, scheme):
    scheme = split_scheme(scheme)[0]
    if scheme in GPTQ:  # stored as its round-to-nearest scheme (act order folded)
        scheme = GPTQ[scheme][2]
    total = weights = 0
    for name in PROJECTIONS:
        layers, rows, cols = getattr(ckpt, name).shape
        total += layers * quant_numpy.theoretical_bytes(rows, cols, scheme)
        weights += layers * rows * cols
    return total, weights


def ours(args, work, scheme):
    bin_dir = os.path.join(args.build, "bin")
    plan = os.path.join(work, scheme + ".qplan")
    run([os.path.join(bin_dir, "quant-translate"), "--onnx-to-plan", args.onnx,
         "--compile-options=" + compile_options(scheme).format(text=args.text) +
         " tokenizer=" + args.tokenizer,
         "-o", plan])
    info = run([os.path.join(bin_dir, "quant-run"), plan, "--info"])
    m = re.search(r"quantized: ([0-9]+) matrices \(([^)]*)\), ([0-9]+) weights in ([0-9]+) bytes",
                  info)
    quantized = int(m.group(4)) if m else 0
    activations = ("llm-int8" if m and "outlier threshold" in m.group(2) else
                   "int8 (blocks of 32)" if m and "8-bit activations" in m.group(2) else "f32")
    start = time.time()
    stats = os.path.join(work, scheme + ".stats.json")
    out = run([os.path.join(bin_dir, "quant-run"), plan, "--perplexity", args.text,
               "--max-docs", str(args.max_docs), "-q", "--threads", "1", "--stats-json", stats])
    ppl, tokens, docs = perplexity_of(out, "quant-run " + scheme)
    with open(stats) as f:
        figures = json.load(f)
    row = {"ppl": ppl, "tokens": tokens, "docs": docs, "plan_quantized_bytes": quantized,
           "activations": activations,
           "plan_bytes": os.path.getsize(plan), "seconds": time.time() - start}
    # LLM.int8(): the outlier columns quant-run counted at every int8 matmul.
    for key in ("llm_int8_matmul_calls", "llm_int8_columns", "llm_int8_outlier_columns"):
        if key in figures:
            row[key] = figures[key]
    return row


def reference(args, scheme):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    start = time.time()
    if scheme in GPTQ:
        out = run([sys.executable, os.path.join(REFERENCE, "gptq_reference.py"), args.checkpoint,
                   args.tokenizer, "--calibration", args.text,
                   "--offset", str(CALIBRATION["offset"]),
                   "--samples", str(CALIBRATION["samples"]),
                   "--seqlen", str(CALIBRATION["seqlen"]),
                   "--perplexity", args.text, "--max-docs", str(args.max_docs)]
                  + GPTQ[scheme][1].split(), env=env)
    else:
        base, activations = split_scheme(scheme)
        out = run([sys.executable, os.path.join(REFERENCE, "llama2c_numpy.py"), args.checkpoint,
                   args.tokenizer, "--perplexity", args.text, "--max-docs", str(args.max_docs),
                   "--quant", base, "--activations", activations], env=env)
    ppl, tokens, docs = perplexity_of(out, "numpy " + scheme)
    return {"ppl": ppl, "tokens": tokens, "docs": docs, "seconds": time.time() - start}


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    data = os.environ.get("QUANT_DATA_DIR") or os.path.join(os.path.dirname(ROOT), "shared",
                                                             "data")
    parser.add_argument("--checkpoint",
                        default=os.path.join(data, "models/stories260K/stories260K.bin"))
    parser.add_argument("--tokenizer", default=os.path.join(data, "models/stories260K/tok512.bin"))
    parser.add_argument("--text", default=os.path.join(data, "text/tinystories_val_first1000.txt"))
    parser.add_argument("--max-docs", type=int, default=200)
    parser.add_argument("--schemes", default=",".join(DEFAULT_SCHEMES))
    parser.add_argument("--gptq", action="store_true",
                        help="add the GPTQ rows (and their round-to-nearest rows); slow: the "
                        "numpy GPTQ reference takes minutes per row")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--build", default=os.environ.get("QUANT_BUILD_DIR",
                                                          os.path.join(ROOT, "build")))
    parser.add_argument("--json", help="also write the figures as JSON here")
    parser.add_argument("--check", action="store_true", help="apply the acceptance checks")
    args = parser.parse_args(argv)
    schemes = args.schemes.split(",")
    if args.gptq:
        for name, (_, _, rtn) in GPTQ.items():
            for s in (rtn, name):
                if s not in schemes:
                    schemes.append(s)
    for s in schemes:
        if split_scheme(s)[0] not in COMPILE_OPTIONS or split_scheme(s)[1] not in (
                "auto", "f32", "int8"):
            parser.error("unknown scheme %r (%s)" % (s, ", ".join(COMPILE_OPTIONS)))
    if args.check and "fp32" not in schemes:
        schemes.insert(0, "fp32")

    ckpt = Checkpoint(args.checkpoint)
    began = time.time()
    with tempfile.TemporaryDirectory() as work:
        args.onnx = os.path.join(work, "model.onnx")
        run([sys.executable, os.path.join(ROOT, "python", "llama2c_to_onnx.py"), args.checkpoint,
             "-o", args.onnx])
        with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            mine = {s: pool.submit(ours, args, work, s) for s in schemes}
            refs = {s: pool.submit(reference, args, s) for s in schemes}
            rows = {s: {"scheme": s, "options": compile_options(s), "ours": mine[s].result(),
                        "numpy": refs[s].result()} for s in schemes}

    failures = []
    fp32 = rows.get("fp32", {}).get("ours", {}).get("ppl")
    print("| scheme | quant-compile options | bits/weight | quantized bytes (plan / theory) "
          "| perplexity (quant-run) | numpy reference | ours vs numpy | vs fp32 "
          "| vs round to nearest | activations |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for s in schemes:
        row = rows[s]
        bytes_theory, weights = theoretical(ckpt, s)
        row["theoretical_bytes"] = bytes_theory
        row["bits_per_weight"] = 8.0 * bytes_theory / weights
        o, n = row["ours"], row["numpy"]
        row["vs_numpy"] = (o["ppl"] - n["ppl"]) / n["ppl"]
        row["vs_fp32"] = (o["ppl"] - fp32) / fp32 if fp32 else None
        plan_bytes = o["plan_quantized_bytes"] if s != "fp32" else bytes_theory
        row["bytes_ratio"] = plan_bytes / bytes_theory
        rtn = rows.get(GPTQ[s][2]) if s in GPTQ else None
        row["vs_rtn"] = ((o["ppl"] - rtn["ours"]["ppl"]) / rtn["ours"]["ppl"]
                         if rtn else None)
        options = row["options"].replace(" calibration={text}", "")
        print("| %s | `%s` | %.3f | %s / %d | %.6f | %.6f | %+.4f%% | %s | %s | %s |" % (
            s, options, row["bits_per_weight"],
            "(float)" if s == "fp32" else str(plan_bytes), bytes_theory, o["ppl"],
            n["ppl"], 100 * row["vs_numpy"],
            "%+.3f%%" % (100 * row["vs_fp32"]) if fp32 else "-",
            "%+.3f%%" % (100 * row["vs_rtn"]) if rtn else "-", o["activations"]))
        if o["tokens"] != n["tokens"] or o["docs"] != n["docs"]:
            failures.append("%s: %d tokens / %d documents, numpy %d / %d" % (
                s, o["tokens"], o["docs"], n["tokens"], n["docs"]))
        if abs(row["vs_numpy"]) > 0.005:
            failures.append("%s: %.6f is %.3f%% from numpy's %.6f (limit 0.5%%)" % (
                s, o["ppl"], 100 * row["vs_numpy"], n["ppl"]))
        if abs(row["bytes_ratio"] - 1) > 0.01:
            failures.append("%s: %d quantized bytes, theory %d" % (s, plan_bytes, bytes_theory))
        if s == "gptq-int4-g128" and o["ppl"] > 3.88:
            failures.append("gptq-int4-g128: %.6f > 3.88" % o["ppl"])
        if s == "int8" and fp32 and abs(row["vs_fp32"]) > 0.002:
            failures.append("int8: %.6f is %.3f%% from fp32 %.6f (limit 0.2%%)" % (
                o["ppl"], 100 * row["vs_fp32"], fp32))
    for s in schemes:
        o = rows[s]["ours"]
        if "llm_int8_columns" in o:
            print("\n%s: %d of %d input columns (%.3f%%) were outlier columns over %d int8 "
                  "matmuls (quant-run --stats-json)" % (
                      s, o["llm_int8_outlier_columns"], o["llm_int8_columns"],
                      100.0 * o["llm_int8_outlier_columns"] / max(1, o["llm_int8_columns"]),
                      o["llm_int8_matmul_calls"]))
    tokens = rows[schemes[0]]["ours"]["tokens"]
    docs = rows[schemes[0]]["ours"]["docs"]
    print("\n%d predicted tokens, %d documents; %.0f s" % (tokens, docs, time.time() - began))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    if args.check:
        for failure in failures:
            print("FAILED: " + failure, file=sys.stderr)
        if failures:
            return 1
        print("checks passed: int8 within 0.2% of fp32, every scheme within 0.5% of numpy, "
              "quantized bytes within 1% of theory")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
