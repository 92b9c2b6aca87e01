#!/usr/bin/python3
"""Checks the compiler's GPTQ weights against the independent numpy GPTQ (gptq_numpy.py).

  check_gptq.py GPTQ.mlir FLOAT.mlir --hessians DIR --bits B --group-size G [--symmetric]
                [--act-order] [--static-groups] [--clip-search] [--damp-percent P]
                [--block-size N] [--scale-type f16] --float-layout in-out|out-in
                [--max-code-diff F] [--max-rows N]

The compiler wrote each weight's Hessian (the one its solver used, 2/n sum x x^T) to
DIR/<weight>.npy (qllm-gptq save-hessians=DIR). Given the same Hessian and the float weight,
gptq_numpy quantizes it again; per weight this prints the fraction of codes, scales, zero points
(and g_idx) that differ. GPTQ feeds each rounding back into the columns after it, so one
rounding tie decided the other way (float64 sums in another order) changes that row's later
columns: the check allows at most --max-code-diff (default 0.001) of the codes to differ and
counts the rows where they do. It also checks, for every weight, that GPTQ's output error
trace((W - Q) H (W - Q)^T) / 2 (per calibration token) is below that of round to nearest with
the same group rules (gptq_numpy.rtn). Exit 0: all within bounds; 1: not; 2: bad input.
"""

import argparse
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_quantized_blobs as blobs  # noqa: E402
import gptq_numpy  # noqa: E402
import quant_numpy  # noqa: E402


def hessian_file(directory, name):
    return os.path.join(directory, re.sub(r"[^A-Za-z0-9._-]", "_", name) + ".npy")


def stored_components(resources, name, rows, cols, args, stored_act_order):
    groups = 1 if args.group_size == -1 else -(-cols // args.group_size)
    def blob(suffix):
        key = blobs.find_key(resources, name + suffix, "quantized")
        if key is None:
            raise blobs.InputError("no resource %s%s" % (name, suffix))
        return resources[key]
    data = np.frombuffer(blob(".data"), np.uint8).reshape(rows, -1)
    codes = quant_numpy.unpack_codes(data, cols, args.bits)
    scale_dtype = {"f32": "<f4", "f16": "<f2"}[args.scale_type]
    scales = np.frombuffer(blob(".scales"), scale_dtype).astype(np.float64).reshape(rows, groups)
    if args.symmetric:
        zeros = np.full((rows, groups), 1 << (args.bits - 1))
    else:
        packed = np.frombuffer(blob(".zero_points"), np.uint8).reshape(rows, -1)
        zeros = quant_numpy.unpack_codes(packed, groups, args.bits)
    g_idx = np.frombuffer(blob(".g_idx"), "<i4") if stored_act_order else None
    return codes.astype(np.int64), scales, zeros.astype(np.int64), g_idx


def dequantize(codes, scales, zeros, g_idx, group_size):
    cols = codes.shape[1]
    group = g_idx if g_idx is not None else (
        np.zeros(cols, np.int64) if group_size == -1 else np.arange(cols) // group_size)
    return (scales[:, group] * (codes - zeros[:, group])).astype(np.float32)


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("gptq")
    p.add_argument("float")
    p.add_argument("--hessians")
    p.add_argument("--rtn", action="store_true",
                   help="the weights are round to nearest with GPTQ's group rules "
                   "(qllm-quantize-weights clip-search=true): compare with gptq_numpy.rtn, "
                   "unweighted, no Hessians")
    p.add_argument("--bits", type=int, required=True)
    p.add_argument("--group-size", type=int, required=True)
    p.add_argument("--symmetric", action="store_true")
    p.add_argument("--act-order", action="store_true")
    p.add_argument("--static-groups", action="store_true")
    p.add_argument("--clip-search", action="store_true")
    p.add_argument("--damp-percent", type=float, default=0.01)
    p.add_argument("--block-size", type=int, default=128)
    p.add_argument("--scale-type", default="f16", choices=["f32", "f16"])
    p.add_argument("--float-layout", required=True, choices=["in-out", "out-in"])
    p.add_argument("--max-code-diff", type=float, default=0.001)
    p.add_argument("--max-rows", type=int, default=0,
                   help="check only the first N rows of each weight (0: all)")
    args = p.parse_args(argv)
    if not args.rtn and not args.hessians:
        p.error("--hessians is required (unless --rtn)")
    try:
        resources, _ = blobs.read_mlir(args.gptq)
        float_resources, float_types = blobs.read_mlir(args.float)
        names = blobs.quantized_weight_names(resources)
        if not names:
            raise blobs.InputError("%s has no quantized weight" % args.gptq)
        stored_act_order = (args.act_order and not args.static_groups
                            and args.group_size != -1)
        ok = True
        total_codes = total_diff = 0
        for name in names:
            w = blobs.float_weight_from_mlir(float_resources, float_types, name, args.float)
            if args.float_layout == "in-out":
                w = np.ascontiguousarray(w.T)
            rows, cols = w.shape
            if args.rtn:
                h = np.eye(cols)
            else:
                path = hessian_file(args.hessians, name)
                if not os.path.isfile(path):
                    raise blobs.InputError("no Hessian %s" % path)
                h = np.load(path)
            codes, scales, zeros, g_idx = stored_components(resources, name, rows, cols, args,
                                                            stored_act_order)
            got = dequantize(codes, scales, zeros, g_idx, args.group_size)
            n = rows if args.max_rows <= 0 else min(rows, args.max_rows)
            if args.rtn:
                ref = gptq_numpy.rtn(w[:n], args.bits, args.group_size, args.symmetric,
                                     scale_dtype=args.scale_type, clip_search=args.clip_search)
            else:
                ref = gptq_numpy.gptq(w[:n], h, args.bits, args.group_size, args.symmetric,
                                      act_order=args.act_order,
                                      static_groups=args.static_groups,
                                      damp_percent=args.damp_percent,
                                      block_size=args.block_size,
                                      clip_search=args.clip_search,
                                      scale_dtype=args.scale_type)
            code_diff = codes[:n] != ref["codes"]
            rows_diff = int(code_diff.any(axis=1).sum())
            scale_diff = int((scales[:n] != ref["scales"].astype(np.float64)).sum())
            zero_diff = int((zeros[:n] != ref["zero_points"]).sum())
            gidx_ok = (g_idx is None) == (ref["g_idx"] is None) and (
                g_idx is None or np.array_equal(g_idx, ref["g_idx"]))
            fraction = code_diff.mean()
            total_codes += code_diff.size
            total_diff += int(code_diff.sum())
            err_gptq = gptq_numpy.output_error(w, got, h)
            plain = gptq_numpy.rtn(w, args.bits, args.group_size, args.symmetric,
                                   scale_dtype=args.scale_type, clip_search=args.clip_search,
                                   weights=np.diag(h) if args.clip_search else None)
            err_rtn = gptq_numpy.output_error(w, gptq_numpy.dequantize_gptq(plain, args.bits), h)
            if args.rtn:  # the same method on both sides: compare with plain rtn
                plain = gptq_numpy.rtn(w, args.bits, args.group_size, args.symmetric,
                                       scale_dtype=args.scale_type)
                err_rtn = gptq_numpy.output_error(
                    w, gptq_numpy.dequantize_gptq(plain, args.bits), h)
                good = fraction <= args.max_code_diff and err_gptq <= err_rtn
            else:
                good = fraction <= args.max_code_diff and gidx_ok and err_gptq < err_rtn
            ok &= bool(good)
            print("%s [%dx%d]: codes differ %d/%d (%d rows), scales %d, zero points %d, g_idx %s; "
                  "error gptq %.4g < rtn %.4g: %s" % (
                      name, rows, cols, int(code_diff.sum()), code_diff.size, rows_diff,
                      scale_diff, zero_diff, "same" if gidx_ok else "DIFFERENT", err_gptq,
                      err_rtn, "OK" if good else "FAIL"))
        print("%d weights, %d of %d codes differ (%.5f%%): %s" % (
            len(names), total_diff, total_codes, 100.0 * total_diff / max(total_codes, 1),
            "all GPTQ weights agree" if ok else "MISMATCH"))
        return 0 if ok else 1
    except blobs.InputError as e:
        print("check_gptq.py: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
