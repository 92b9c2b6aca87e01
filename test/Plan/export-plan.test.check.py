#!/usr/bin/python3
"""Checks a plan's weights against the tiny decoder's source values.

usage: export-plan.test.check.py PLAN.json PLAN.qplan f32|f16

Every weight lies at a 64-byte aligned offset after the FlatBuffer; the
embedding table holds arange(24) * 0.25 - 2 as [6, 4]; the head, [4, 6] in the
source with values arange(24) * -0.125 + 1, is stored transposed as [6, 4];
the norm weight stays f32. Values are compared exactly (all are exact in f16).
"""
import json
import sys

import numpy as np

plan_json, plan_file, storage = sys.argv[1:4]
plan = json.load(open(plan_json))
data = open(plan_file, "rb").read()
weights = {w["name"]: w for w in plan["weights"]}
size_prefix = int.from_bytes(data[:4], "little")
assert plan["weights_offset"] % 64 == 0, plan["weights_offset"]
assert plan["weights_offset"] >= size_prefix + 4

def read(name, dtype):
    w = weights[name]
    assert w["offset"] % 64 == 0, (name, w["offset"])
    assert w["offset"] >= plan["weights_offset"]
    return np.frombuffer(data[w["offset"]:w["offset"] + w["size"]], dtype=dtype)

wtype = "<f4" if storage == "f32" else "<f2"
emb = read("emb", wtype).astype(np.float32).reshape(6, 4)
head = read("head", wtype).astype(np.float32).reshape(6, 4)
norm = read("norm", "<f4")
expected_emb = (np.arange(24, dtype=np.float32) * 0.25 - 2).reshape(6, 4)
expected_head = (np.arange(24, dtype=np.float32) * -0.125 + 1).reshape(4, 6).T
assert np.array_equal(emb, expected_emb), emb
assert np.array_equal(head, expected_head), head
assert np.array_equal(norm, np.array([1, 0.5, 2, 1], np.float32)), norm
print("weights ok")
