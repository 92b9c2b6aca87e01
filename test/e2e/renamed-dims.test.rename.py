#!/usr/bin/python3
"""Renames the symbolic dimensions of an exported decoder.

usage: renamed-dims.test.rename.py IN.onnx OUT.onnx

batch_size -> N, sequence_length -> tokens, past_sequence_length -> P, and
the total length (however the exporter wrote it) -> T, in every input and
output; the weights are embedded in OUT.onnx.
"""
import sys

import onnx

NAMES = {"batch_size": "N", "sequence_length": "tokens",
         "past_sequence_length": "P", "total_sequence_length": "T",
         "past_sequence_length + sequence_length": "T"}

model = onnx.load(sys.argv[1])
seen = set()
for value in list(model.graph.input) + list(model.graph.output):
    for dim in value.type.tensor_type.shape.dim:
        if dim.HasField("dim_param") and dim.dim_param in NAMES:
            dim.dim_param = NAMES[dim.dim_param]
            seen.add(dim.dim_param)
onnx.save(model, sys.argv[2])
print("renamed: " + ", ".join(sorted(seen)))
