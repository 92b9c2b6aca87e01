#!/usr/bin/python3
"""Checks a tensor-parallel plan against the unsplit plan of the same model, weight by weight.

  check_tensor_parallel.py WHOLE.qplan SPLIT.qplan --quant-translate PATH

Independent of the compiler: the plans are read through their JSON view (quant-translate
--plan-to-json: steps, weights with file offsets, the sharding table) and the bytes at those offsets,
and every matmul weight is dequantized here with numpy from the storage formats' definitions
(qrt/core/WeightFormat.h, quant_numpy for packing and the 4-bit code tables).

For every matmul step of WHOLE (matched in SPLIT by its name), with R ranks:
  - each rank's weight [n, k] of SPLIT is rank r's (the `rank_weights` map);
  - a column-parallel split (n smaller): the ranks' rows stacked in rank order are WHOLE's rows,
    then zero rows (padding); a row-parallel split (k smaller): the ranks' columns side by side
    are WHOLE's columns, then zero columns; with fewer KV heads than ranks, rank r's k and v
    rows are KV head r * kv_heads / R of WHOLE's (replicated);
  - values are compared exactly (float32 of the stored values): splitting changes no stored value.
Steps: each entry of SPLIT has one AllReduce after every o and down projection (2 per layer) and
one AllGather (the logits), plus one before each Gather that takes a rank's part of an act-order
input order (whose parts, in rank order, must be WHOLE's order then zeros); attention steps have
heads / R query heads.
Prints a summary; exit 0 when everything holds, 1 otherwise, 2 on bad input.
"""

import argparse
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quant_numpy  # noqa: E402

NUMPY_TYPES = {"F32": np.float32, "F16": np.float16, "U8": np.uint8, "I32": np.int32,
               "BF16": np.uint16, "I64": np.int64}
MATMULS = ("MatMul", "DequantMatMul", "Int8MatMul")


class Plan:
    def __init__(self, path, tool):
        text = subprocess.run([tool, "--plan-to-json", path, "-o", "-"], check=True,
                              capture_output=True, text=True).stdout
        self.json = json.loads(text)
        self.path = path
        self.bytes = np.fromfile(path, dtype=np.uint8)
        sharding = self.json.get("sharding") or {}
        self.ranks = sharding.get("world_size", 1)
        self.maps = sharding.get("rank_weights")

    def weight(self, index, rank=0):
        if self.maps:
            index = self.maps[rank][index]
        info = self.json["weights"][index]
        raw = self.bytes[info["offset"]:info["offset"] + info["size"]]
        array = raw.view(NUMPY_TYPES[info["dtype"]]).reshape(info["shape"])
        if info["dtype"] == "BF16":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        return array

    def entries(self):
        return {e["name"]: e for e in self.json["entries"]}


def dequantized(plan, step, rank=0):
    """float32 [rows, cols] of a matmul step's weight on `rank`."""
    weights = [plan.weight(b["weight"], rank) for b in step["inputs"][1:]]
    if step["kernel"] == "MatMul":
        return weights[0].astype(np.float32)
    q = step["quant"]
    rows, cols, bits = q["rows"], q["cols"], q["bits"]
    group = cols if q["group_size"] == -1 else q["group_size"]
    groups = -(-cols // group)
    codes = quant_numpy.unpack_codes(weights[0], cols, bits)
    column_group = np.arange(cols) // group
    if q["kind"] == "IntN":
        if q["act_order"]:
            column_group = weights[-1].astype(np.int64)
        scales = weights[1].astype(np.float32)
        if q["symmetric"]:
            zeros = np.full((rows, groups), 1 << (bits - 1), np.int64)
        else:
            zeros = quant_numpy.unpack_codes(weights[2], groups, bits)
        return ((codes - zeros[:, column_group]).astype(np.float32)
                * scales[:, column_group]).astype(np.float32)
    if q["double_quant"]:
        raise SystemExit("check_tensor_parallel: double quantization is not checked here")
    table = quant_numpy.NF4_F32 if q["kind"] == "NF4" else quant_numpy.FP4_F32
    absmax = weights[1].astype(np.float32)
    return (np.asarray(table, np.float32)[codes] * absmax[:, column_group]).astype(np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("whole")
    parser.add_argument("split")
    parser.add_argument("--quant-translate", required=True)
    args = parser.parse_args()
    try:
        whole = Plan(args.whole, args.quant_translate)
        split = Plan(args.split, args.quant_translate)
    except (OSError, subprocess.CalledProcessError, ValueError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    ranks = split.ranks
    if whole.ranks != 1 or ranks < 2 or not split.maps:
        print("error: expected an unsplit plan and a split one", file=sys.stderr)
        return 2
    failures = []
    checked = {"column": 0, "row": 0, "order": 0, "replicated": 0}
    for name, entry in whole.entries().items():
        other = split.entries().get(name)
        if other is None:
            failures.append("entry %s missing" % name)
            continue
        by_name = {s.get("name"): s for s in other["steps"] if s["kernel"] in MATMULS}
        layers = sum(1 for s in entry["steps"] if s["kernel"] == "Attention")
        kernels = [s["kernel"] for s in other["steps"]]
        # Parts of a permutation (an act-order o projection's input order) gather all heads
        # first: one more all_gather each.
        partial = [s for s in other["steps"] if s["kernel"] == "Gather"
                   and s["inputs"][1]["shape"][0] < s["inputs"][0]["shape"][-1]]
        if (kernels.count("AllReduce") != 2 * layers
                or kernels.count("AllGather") != 1 + len(partial)):
            failures.append("%s: %d all_reduce and %d all_gather steps for %d layers"
                            % (name, kernels.count("AllReduce"), kernels.count("AllGather"),
                               layers))
        gathers = {s.get("name"): s for s in entry["steps"] if s["kernel"] == "Gather"}
        for step in partial:
            order = whole.weight(gathers[step.get("name")]["inputs"][1]["weight"])
            parts = np.concatenate([split.weight(step["inputs"][1]["weight"], r)
                                    for r in range(ranks)])
            if (not np.array_equal(parts[:order.size], order)
                    or np.any(parts[order.size:] != 0)):
                failures.append("%s %s: the ranks' parts of the order are not the order"
                                % (name, step.get("name")))
            else:
                checked["order"] += 1
        heads = {s["heads"] for s in entry["steps"] if s["kernel"] == "Attention"}
        split_heads = {s["heads"] for s in other["steps"] if s["kernel"] == "Attention"}
        if split_heads != {h // ranks for h in heads}:
            failures.append("%s: attention heads %s, expected %s / %d"
                            % (name, sorted(split_heads), sorted(heads), ranks))
        for step in entry["steps"]:
            if step["kernel"] not in MATMULS:
                continue
            part = by_name.get(step.get("name"))
            if part is None:
                failures.append("%s: no step %s in the split plan" % (name, step.get("name")))
                continue
            w = dequantized(whole, step)
            parts = [dequantized(split, part, r) for r in range(ranks)]
            n, k = parts[0].shape
            whole_blocks = w.shape[0] // n if n and w.shape[0] % n == 0 else 0
            if k == w.shape[1] and 0 < whole_blocks < ranks:
                # Fewer KV heads than ranks: rank r keeps block r * blocks / R, replicated.
                same = all(np.array_equal(
                    parts[r].view(np.uint32),
                    w[(r * whole_blocks // ranks) * n:(r * whole_blocks // ranks + 1) * n]
                    .view(np.uint32)) for r in range(ranks))
                if same:
                    checked["replicated"] += 1
                else:
                    failures.append("%s %s: replicated heads differ" % (name, step.get("name")))
                continue
            if n < w.shape[0] and k == w.shape[1]:
                joined, kind = np.vstack(parts), "column"
                rest = joined[w.shape[0]:]
                body = joined[:w.shape[0]]
            elif k < w.shape[1] and n == w.shape[0]:
                joined, kind = np.hstack(parts), "row"
                rest = joined[:, w.shape[1]:]
                body = joined[:, :w.shape[1]]
            else:
                failures.append("%s %s: rank weight %s of whole %s is no split"
                                % (name, step.get("name"), (n, k), w.shape))
                continue
            if body.shape != w.shape or not np.array_equal(body.view(np.uint32),
                                                           w.view(np.uint32)):
                bad = np.argwhere(body != w) if body.shape == w.shape else []
                failures.append("%s %s (%s-parallel): values differ%s"
                                % (name, step.get("name"), kind,
                                   " at %s" % (tuple(bad[0]),) if len(bad) else ""))
            elif rest.size and np.any(rest != 0):
                failures.append("%s %s: padding is not zero" % (name, step.get("name")))
            else:
                checked[kind] += 1
    print("ranks %d: %d column-parallel and %d row-parallel matmul weights split without "
          "changing a stored value" % (ranks, checked["column"], checked["row"]))
    if checked["replicated"]:
        print("ranks %d: %d matmul weights of KV heads replicated (fewer KV heads than ranks)"
              % (ranks, checked["replicated"]))
    if checked["order"]:
        print("ranks %d: %d input orders of act-order weights split into the ranks' parts"
              % (ranks, checked["order"]))
    for f in failures:
        print("FAIL: " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
