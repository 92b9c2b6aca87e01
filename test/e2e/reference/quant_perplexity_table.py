#!/usr/bin/python3
"""Perplexity of a llama2.c checkpoint under every weight quantization scheme, as a markdown table.

Runs llama2c_numpy.py --perplexity --quant SCHEME for each scheme (JOBS processes at a time, one
BLAS thread each) and prints: scheme, perplexity, predicted tokens, the change against fp32 (%),
and the bits per weight of the quantized projections (wq, wk, wv, wo, w1, w2, w3 of every layer),
from quant_numpy.theoretical_bytes: packed codes, scales, zero points and double-quant metadata
(llm-int8: 8 bits and one float32 scale per row, as int8).

  quant_perplexity_table.py [--data DIR] [--checkpoint CKPT --tokenizer TOK --text TEXT]
                            [--max-docs 200] [--jobs 2] [--schemes fp32,int8,...] [--chunk N]

--schemes takes any quant_numpy scheme: the default set (quant_numpy.ALL_SCHEMES) and
bitsandbytes' fp4, fp4-dq, llm-int8[-t<T>] (quant_numpy.BNB_SCHEMES: llm-int8, llm-int8-t0).
--chunk N is passed to llama2c_numpy.py (at most N tokens per projection matmul; it matters
for llm-int8, whose outlier columns are decided per matmul call).

DIR defaults to $QUANT_DATA_DIR, else ../shared/data next to the repository; the fixtures default
to stories260K (models/stories260K/{stories260K.bin,tok512.bin}) and the TinyStories text.
This is a report, not a test: it prints figures and checks nothing.
"""

import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import quant_numpy  # noqa: E402
from llama2c_numpy import PROJECTIONS, Checkpoint  # noqa: E402


def default_data_dir():
    if os.environ.get("QUANT_DATA_DIR"):
        return os.environ["QUANT_DATA_DIR"]
    repo = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
    return os.path.join(os.path.dirname(repo), "shared", "data")


def bits_per_weight(ckpt, scheme):
    total_bytes = total_weights = 0
    for name in PROJECTIONS:
        layers, rows, cols = getattr(ckpt, name).shape
        total_bytes += layers * quant_numpy.theoretical_bytes(rows, cols, scheme)
        total_weights += layers * rows * cols
    return 8.0 * total_bytes / total_weights


def run_scheme(args, scheme):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    command = [sys.executable, os.path.join(HERE, "llama2c_numpy.py"), args.checkpoint,
               args.tokenizer, "--perplexity", args.text, "--max-docs", str(args.max_docs),
               "--quant", scheme] + (["--chunk", str(args.chunk)] if args.chunk else [])
    start = time.time()
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    elapsed = time.time() - start
    m = re.search(r"perplexity: ([0-9.]+) \(([0-9]+) tokens, ([0-9]+) documents\)",
                  result.stdout)
    if result.returncode != 0 or not m:
        raise RuntimeError("%s failed (exit %d):\n%s%s" % (
            " ".join(command), result.returncode, result.stdout, result.stderr))
    return float(m.group(1)), int(m.group(2)), elapsed


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--data", default=default_data_dir())
    parser.add_argument("--checkpoint")
    parser.add_argument("--tokenizer")
    parser.add_argument("--text")
    parser.add_argument("--max-docs", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--schemes", default=",".join(quant_numpy.ALL_SCHEMES))
    parser.add_argument("--chunk", type=int, help="tokens per projection matmul (default: all)")
    args = parser.parse_args(argv)
    args.checkpoint = args.checkpoint or os.path.join(args.data, "models", "stories260K",
                                                      "stories260K.bin")
    args.tokenizer = args.tokenizer or os.path.join(args.data, "models", "stories260K",
                                                    "tok512.bin")
    args.text = args.text or os.path.join(args.data, "text", "tinystories_val_first1000.txt")
    for path in (args.checkpoint, args.tokenizer, args.text):
        if not os.path.isfile(path):
            print("quant_perplexity_table.py: missing fixture %s" % path, file=sys.stderr)
            return 2
    schemes = args.schemes.split(",")
    if "fp32" not in schemes:
        schemes.insert(0, "fp32")
    for scheme in schemes:
        try:
            quant_numpy.parse_scheme(scheme)
        except quant_numpy.SchemeError as e:
            parser.error(str(e))
    ckpt = Checkpoint(args.checkpoint)

    start = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {s: pool.submit(run_scheme, args, s) for s in schemes}
        results = {s: f.result() for s, f in futures.items()}
    wall = time.time() - start

    base = results["fp32"][0]
    print("| scheme | perplexity | tokens | delta vs fp32 | bits/weight (projections) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for scheme in schemes:
        value, tokens, _ = results[scheme]
        print("| %s | %.6f | %d | %+.3f%% | %.3f |" % (
            scheme, value, tokens, 100.0 * (value / base - 1.0), bits_per_weight(ckpt, scheme)))
    print()
    print("%d schemes, %d documents, %d jobs: %.1f s wall (per scheme: %s)" % (
        len(schemes), args.max_docs, args.jobs, wall,
        ", ".join("%s %.1f s" % (s, results[s][2]) for s in schemes)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
