#!/usr/bin/python3
"""Checks that a compiled model stores the quantized weights of an ONNX model's
MatMulNBits and DequantizeLinear nodes as they are, never requantized.

  check_imported_codes.py COMPILED.mlir MODEL.onnx

COMPILED.mlir is the text of `quant-opt --pass-pipeline=...quant-compile...`
(resources printed as hex). Every `qllm.quantized_weight "NAME"` in it reads
its components (data, scales, zero_points) from `qllm.weight` ops; NAME is the
ONNX weight's initializer name, with `[a:b]` appended when a fused projection
was split (rows a..b of the ONNX weight's N). Expected components, from the
ONNX initializers by the op specifications (numpy, independent of the C++):

MatMulNBits (com.microsoft; B [N, ceil(K/bs), bs*bits/8] uint8, scales [N *
  ceil(K/bs)], zero_points [N, ceil(ceil(K/bs)*bits/8)] uint8):
  data = the first ceil(K*bits/8) bytes of each row of B (the padding of the
  last block dropped), scales as stored, zero points as stored.
DequantizeLinear (x [K, N] int8/uint8/int4/uint4, scale per tensor, per
  column (axis 1) or per block of K (axis 0, block_size); zero point like
  the scale, default 0):
  our codes q[n][k] = x[k][n] + o (o = 2^(bits-1) for signed x, else 0),
  packed per row (4 bits: low nibble first); scales[n][g] = scale of (g, n);
  zero points z + o, stored only when some differ from 2^(bits-1).

Prints one line per weight; exit 0 when all equal, 1 on a difference, 2 on
bad input.
"""

import os
import re
import sys

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_quantized_blobs import InputError, read_mlir  # noqa: E402


def weights_of(path):
    """quantized weight name -> {component: resource key} from the MLIR text."""
    text = open(path, encoding="utf-8", errors="replace").read()
    ssa_key = {}
    for m in re.finditer(r'(%[\w.]+) = qllm\.weight "[^"]*" = dense_resource<([\w."\[\]:-]+)>',
                         text):
        ssa_key[m.group(1)] = m.group(2).strip('"')
    out = {}
    pattern = (r'qllm\.quantized_weight "([^"]*)" data\((%[\w.]+) :[^)]*\) '
               r'scales\((%[\w.]+) :[^)]*\)(?: zero_points\((%[\w.]+) :[^)]*\))?')
    for m in re.finditer(pattern, text):
        parts = {"data": m.group(2), "scales": m.group(3)}
        if m.group(4):
            parts["zero_points"] = m.group(4)
        try:
            out[m.group(1)] = {k: ssa_key[v] for k, v in parts.items()}
        except KeyError as e:
            raise InputError("%s: component %s of %s is not a weight" % (path, e, m.group(1)))
    return out


def pack(codes, bits):
    """[rows, cols] unsigned codes -> [rows, ceil(cols*bits/8)] bytes."""
    codes = np.asarray(codes, dtype=np.uint8)
    if bits == 8:
        return codes
    rows, cols = codes.shape
    if cols % 2:
        codes = np.concatenate([codes, np.zeros((rows, 1), np.uint8)], axis=1)
    return (codes[:, 0::2] | (codes[:, 1::2] << 4)).astype(np.uint8)


def int4_values(tensor):
    """The values of an int4/uint4 TensorProto (raw data, low nibble first)."""
    raw = np.frombuffer(tensor.raw_data, dtype=np.uint8)
    count = int(np.prod(tensor.dims))
    values = np.empty(2 * raw.size, np.int64)
    values[0::2], values[1::2] = raw & 0xF, raw >> 4
    values = values[:count]
    if tensor.data_type == 22:  # INT4
        values = np.where(values >= 8, values - 16, values)
    return values.reshape(tuple(tensor.dims))


def expected_components(model):
    """ONNX weight name -> (bits, {component: uint8/float array [rows, ...]})."""
    inits = {t.name: t for t in model.graph.initializer}

    def array(name):
        t = inits[name]
        if t.data_type in (21, 22):
            return int4_values(t), t.data_type
        return numpy_helper.to_array(t), t.data_type

    out = {}
    for node in model.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "MatMulNBits":
            k, n, bits, bs = attrs["K"], attrs["N"], attrs.get("bits", 4), attrs["block_size"]
            blocks = -(-k // bs)
            b = array(node.input[1])[0].reshape(n, -1)
            comps = {"data": b[:, :-(-(k * bits) // 8)],
                     "scales": array(node.input[2])[0].reshape(n, blocks)}
            if len(node.input) > 3 and node.input[3]:
                comps["zero_points"] = array(node.input[3])[0].reshape(n, -1)
            out[node.input[1]] = (bits, comps)
        elif node.op_type == "DequantizeLinear" and node.input[0] in inits:
            x, dtype = array(node.input[0])
            bits = 4 if dtype in (21, 22) else 8
            signed = dtype in (3, 22)  # INT8, INT4
            offset = (1 << (bits - 1)) if signed else 0
            k, n = x.shape
            scale, _ = array(node.input[1])
            zp = array(node.input[2])[0] if len(node.input) > 2 and node.input[2] else \
                np.zeros(scale.shape, np.int64)
            axis, block = attrs.get("axis", 1), attrs.get("block_size", 0)
            if scale.size == 1 and not block:
                scales, zps = scale.reshape(1, 1).repeat(n, 0), zp.reshape(1, 1).repeat(n, 0)
            elif not block and axis in (1, -1):
                scales, zps = scale.reshape(n, 1), zp.reshape(n, 1)
            elif block and axis == 0:
                scales, zps = scale.T, zp.T
            else:
                raise InputError("%s: a layout the importer refuses" % node.name)
            comps = {"data": pack(x.T.astype(np.int64) + offset, bits),
                     "scales": np.ascontiguousarray(scales)}
            z = zps.astype(np.int64) + offset
            if (z != (1 << (bits - 1))).any():
                comps["zero_points"] = pack(z, bits)
            out[node.input[0]] = (bits, comps)
    return out


def main(argv):
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        resources, _ = read_mlir(argv[0])
        stored = weights_of(argv[0])
        model = onnx.load(argv[1])
        expected = expected_components(model)
    except InputError as e:
        print("check_imported_codes.py: %s" % e, file=sys.stderr)
        return 2
    if not expected:
        print("check_imported_codes.py: %s has no quantized weights" % argv[1], file=sys.stderr)
        return 2
    status, checked = 0, set()
    for name, keys in sorted(stored.items()):
        m = re.fullmatch(r"(.*)\[(\d+):(\d+)\]", name)
        base, rows = (m.group(1), slice(int(m.group(2)), int(m.group(3)))) if m else \
            (name, slice(None))
        if base not in expected:
            print("%s: not a quantized weight of the ONNX model" % name)
            status = 1
            continue
        checked.add(base)
        _, comps = expected[base]
        if set(keys) != set(comps):
            print("%s: stores %s, the ONNX weight has %s" % (name, sorted(keys), sorted(comps)))
            status = 1
            continue
        for comp, want in comps.items():
            want = np.ascontiguousarray(want[rows])
            got = np.frombuffer(resources[keys[comp]], dtype=want.dtype)
            if got.size != want.size or not np.array_equal(got.reshape(want.shape), want):
                print("%s.%s: differs from the ONNX initializer" % (name, comp))
                status = 1
        if status == 0:
            print("%s: %s equal" % (name, ", ".join(sorted(comps))))
    for missing in sorted(set(expected) - checked):
        print("%s: no quantized weight stores it" % missing)
        status = 1
    print("%d of %d ONNX quantized weights stored as they are" % (
        len(checked) if status == 0 else 0, len(expected)))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
