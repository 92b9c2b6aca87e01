#!/usr/bin/env python3
"""torch fp16 matmul baseline for the CUDA GEMV benchmark (GPU machines only).

For each N x K weight (Llama-2-7B MLP shapes by default), times
y = x @ W^T with x [1, K] fp16 and W [N, K] fp16 (torch.nn.functional.linear,
cuBLAS) with CUDA events over many weight copies cycled so the weights come
from HBM, not L2, and prints one line per shape:

  torch-fp16 NxK: T us, G GB/s (weights read once per call)

Also measures the device-to-device copy bandwidth of a 1 GiB buffer the
same way (read + write bytes / time), the baseline the benchmark states
fractions of:

  copy: G GB/s
"""
import argparse
import sys

try:
    import torch
except ImportError:
    sys.exit("torch_matmul.py: needs torch with CUDA")


def time_ms(fn, iters):
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start.record()
    for _ in range(iters):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / iters


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", default="11008x4096,4096x11008",
                        help="comma-separated NxK (default Llama-2-7B MLP)")
    parser.add_argument("--iters", type=int, default=200)
    parser.add_argument("--copies", type=int, default=16,
                        help="distinct weights cycled (defeats the L2 cache)")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("torch_matmul.py: no CUDA device")
    device = torch.device("cuda")
    print("device:", torch.cuda.get_device_name(0))

    src = torch.empty(1 << 30, dtype=torch.uint8, device=device)
    dst = torch.empty_like(src)
    ms = time_ms(lambda: dst.copy_(src), 20)
    print("copy: %.1f GB/s" % (2 * src.numel() / (ms * 1e-3) / 1e9))
    del src, dst

    for shape in args.shapes.split(","):
        n, k = (int(v) for v in shape.split("x"))
        weights = [torch.randn(n, k, dtype=torch.float16, device=device) * 0.02
                   for _ in range(args.copies)]
        x = torch.randn(1, k, dtype=torch.float16, device=device)
        state = {"i": 0}

        def call():
            w = weights[state["i"] % len(weights)]
            state["i"] += 1
            torch.nn.functional.linear(x, w)

        ms = time_ms(call, args.iters)
        print("torch-fp16 %dx%d: %.1f us, %.1f GB/s" %
              (n, k, ms * 1e3, 2.0 * n * k / (ms * 1e-3) / 1e9))


if __name__ == "__main__":
    main()
