#!/usr/bin/python3
"""Checks the quantized weights that the compiler stored in an MLIR file against quant_numpy.

  check_quantized_blobs.py QUANTIZED.mlir FLOAT.mlir|FLOAT.npy --scheme SCHEME
                           --float-layout out-in|in-out|auto [--weight NAME ...] [--show N]

QUANTIZED.mlir holds, in `dialect_resources: { builtin: { KEY: "0x..." } }` (hex; the first 4 bytes
are the alignment, little-endian uint32, the rest the little-endian data), for each quantized
weight NAME:
  NAME.data                  uint8 [rows, ceil(cols*bits/8)]: per row a little-endian bit stream,
                             code i in bits [i*bits, (i+1)*bits) (4 bits: element 2j is the low
                             nibble of byte j)
  NAME.scales                [rows, groups] in the scale type (nf4, fp4: float32 absmax; nf4-dq,
                             fp4-dq: the uint8 codes of the absmax; llm-int8: as int8)
  NAME.zero_points           asymmetric intN only: uint8 [rows, ceil(groups*bits/8)], packed
  NAME.double_quant_scales   nf4-dq, fp4-dq: float32 [ceil(rows*blocks/256)]
  NAME.double_quant_offset   nf4-dq, fp4-dq: float32 scalar
MLIR may have renamed a key to KEY_<n> when KEY was taken: a key matches NAME.data exactly or with
such a suffix (the exact key wins; two suffixed candidates are an error).

The float weight comes from FLOAT.mlir (resource NAME, or NAME_<n>, its shape and element type
f32/f16/bf16 from a `dense_resource<NAME> : tensor<...>` use) or from FLOAT.npy (one weight: give
its NAME with --weight when QUANTIZED.mlir has several). The spec quantizes W as [out, in]
(groups along `in`); ONNX MatMul weights are [in, out]: --float-layout (required) says how the
float weights are stored, in-out transposing them first. auto infers it from the compiler's
output: for every non-square weight, the orientation under which the sizes (and declared shapes)
of all its components fit, if only one does; square weights take the layout the non-square ones
agreed on (an error when there is none or they disagree). auto trusts the compiler's orientation,
so it cannot catch a pass that quantizes the wrong axis: tests should name the layout.

Every weight is quantized again with quant_numpy and its stored components compared bit for bit.
Prints one line per component; on a difference, the first --show (default 10) differing positions
(row, column/group, stored, expected). Exit 0: all identical; 1: a difference; 2: bad input.
"""

import argparse
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quant_numpy  # noqa: E402


class InputError(Exception):
    pass


KEY = r'(?:"(?:[^"\\]|\\.)*"|[A-Za-z_$.0-9][A-Za-z0-9_$.\-]*)'


def unquote(key):
    if key.startswith('"'):
        return re.sub(r"\\(.)", r"\1", key[1:-1])
    return key


def builtin_block(text, path):
    """The text between the braces of `builtin: {...}` inside `dialect_resources`."""
    at = text.find("dialect_resources")
    if at < 0:
        raise InputError("%s: no dialect_resources section" % path)
    m = re.compile(r"builtin\s*:\s*\{").search(text, at)
    if not m:
        raise InputError("%s: no builtin resources" % path)
    depth, i, in_string = 1, m.end(), False
    while i < len(text) and depth:
        ch = text[i]
        if in_string:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        i += 1
    if depth:
        raise InputError("%s: unterminated builtin resources" % path)
    return text[m.end():i - 1]


def read_mlir(path):
    """(resources: key -> bytes without the alignment word, types: key -> (shape, element type))."""
    if not os.path.isfile(path):
        raise InputError("file not found: %s" % path)
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    resources = {}
    for m in re.finditer(r"(%s)\s*:\s*\"([^\"]*)\"" % KEY, builtin_block(text, path)):
        key, value = unquote(m.group(1)), m.group(2)
        if not value.startswith("0x"):
            raise InputError("%s: resource %s is not a hex blob (%.20s...): print it without "
                             "--mlir-elide-resource-strings-if-larger" % (path, key, value))
        try:
            blob = bytes.fromhex(value[2:])
        except ValueError:
            raise InputError("%s: resource %s: bad hex" % (path, key))
        if len(blob) < 4:
            raise InputError("%s: resource %s: shorter than its alignment word" % (path, key))
        resources[key] = blob[4:]
    types = {}
    for m in re.finditer(r"dense_resource<(%s)>\s*:\s*tensor<([^>]*)>" % KEY, text):
        dims = m.group(2).split("x")
        try:
            shape = tuple(int(d) for d in dims[:-1])
        except ValueError:
            continue
        types[unquote(m.group(1))] = (shape, dims[-1].strip())
    return resources, types


def find_key(keys, name, what):
    """The key `name`, or the single `name_<n>`; None when absent."""
    if name in keys:
        return name
    pattern = re.compile(re.escape(name) + r"_[0-9]+")
    matches = sorted(k for k in keys if pattern.fullmatch(k))
    if len(matches) > 1:
        raise InputError("%s: several resources could be %s: %s" % (what, name,
                                                                       ", ".join(matches)))
    return matches[0] if matches else None


def quantized_weight_names(keys):
    names = set()
    for key in keys:
        m = re.fullmatch(r"(.+)\.data(?:_[0-9]+)?", key)
        if m:
            names.add(m.group(1))
    return sorted(names)


ELEMENT_TYPES = {"f32": np.dtype("<f4"), "f16": np.dtype("<f2")}


def float_weight_from_mlir(resources, types, name, path):
    key = find_key(resources, name, path)
    if key is None:
        raise InputError("%s: no resource %s" % (path, name))
    if key not in types:
        raise InputError("%s: resource %s has no dense_resource<...> : tensor<...> use to give "
                         "its shape" % (path, key))
    shape, element = types[key]
    blob = resources[key]
    if element == "bf16":
        words = np.frombuffer(blob, dtype="<u2")
        values = (words.astype(np.uint32) << 16).view(np.float32)
    elif element in ELEMENT_TYPES:
        values = np.frombuffer(blob, dtype=ELEMENT_TYPES[element])
    else:
        raise InputError("%s: %s has element type %s (expected f32, f16 or bf16)"
                         % (path, key, element))
    if values.size != int(np.prod(shape)) or len(shape) != 2:
        raise InputError("%s: %s: %d values for tensor<%s>" % (
            path, key, values.size, "x".join(map(str, shape)) + "x" + element))
    return values.astype(np.float32).reshape(shape)


def first_differences(got, expected, show, label):
    got, expected = np.atleast_2d(got), np.atleast_2d(expected)
    where = np.argwhere(got != expected)
    lines = []
    for row, col in where[:show]:
        lines.append("    [%d, %d] %s: stored %s, expected %s" % (
            row, col, label, got[row, col], expected[row, col]))
    if len(where) > show:
        lines.append("    ... %d differing positions in all" % len(where))
    return lines


def compare_weight(name, w, scheme, resources, types, show):
    """Lines of the report and whether everything matched."""
    q = quant_numpy.quantize(w, scheme)
    expected = quant_numpy.stored_components(q)
    rows, cols = w.shape
    groups = scheme.groups(cols)
    ok = True
    lines = []
    for component, want in expected.items():
        key = find_key(resources, "%s.%s" % (name, component), "quantized file")
        label = "%s.%s" % (name, component)
        if key is None:
            lines.append("%s: MISSING" % label)
            ok = False
            continue
        blob = resources[key]
        if len(blob) != want.nbytes:
            lines.append("%s: %d bytes, expected %d (%s %s)" % (
                label, len(blob), want.nbytes, "x".join(map(str, want.shape)), want.dtype))
            ok = False
            continue
        got = np.frombuffer(blob, dtype=want.dtype.newbyteorder("<")).reshape(want.shape)
        if key in types:
            shape = types[key][0]
            if int(np.prod(shape)) != want.size:
                lines.append("%s: declared tensor<%s> but expected %d elements" % (
                    label, "x".join(map(str, shape)), want.size))
                ok = False
                continue
        if np.array_equal(got, want):
            lines.append("%s: identical (%s %s)" % (label, "x".join(map(str, want.shape)),
                                                     want.dtype))
            continue
        ok = False
        lines.append("%s: DIFFERS" % label)
        if component == "data":
            lines += first_differences(quant_numpy.unpack_codes(got, cols, scheme.bits),
                                       q["codes"], show, "code")
        elif component == "zero_points":
            lines += first_differences(quant_numpy.unpack_codes(got, groups, scheme.bits),
                                       q["zero_points"], show, "zero point")
        elif component == "scales" and scheme.kind in quant_numpy.INT_KINDS:
            lines += first_differences(
                quant_numpy.from_stored_bits(got, scheme.scale_dtype).astype(np.float32),
                quant_numpy.from_stored_bits(want, scheme.scale_dtype).astype(np.float32),
                show, "scale")
        elif component == "scales" and not scheme.double_quant:
            lines += first_differences(got.view(np.float32), want.view(np.float32), show,
                                       "absmax")
        elif component == "scales":
            lines += first_differences(got, want, show, "absmax code")
        else:
            lines += first_differences(got.view(np.float32).reshape(1, -1),
                                       want.view(np.float32).reshape(1, -1), show, component)
    return ok, lines


def orient(weights, fitting, layout):
    """Transposes the float weights as the layout says; auto as in the module docstring."""
    if layout == "auto":
        votes = set()
        for name, w in weights.items():
            if w.shape[0] != w.shape[1] and len(fitting[name]) == 1:
                votes |= fitting[name]
        if len(votes) != 1:
            raise InputError("cannot tell whether the float weights are [out, in] or [in, out] "
                             "(%s): give --float-layout" % (
                                 "non-square weights disagree" if votes else "no non-square "
                                 "weight with a known data size"))
        layout = votes.pop()
    if layout == "in-out":
        weights = {n: np.ascontiguousarray(w.T) for n, w in weights.items()}
    return weights, layout


def fitting_layouts(name, w, scheme, resources, types):
    """The layouts of the float weight under which every stored component of NAME has the
    expected size (and, where declared, element count and leading dimension)."""
    fits = set()
    for layout, oriented in (("out-in", w), ("in-out", w.T)):
        rows, cols = oriented.shape
        probe = quant_numpy.stored_components(
            quant_numpy.quantize(np.zeros((rows, cols), np.float32), scheme))
        ok = True
        for component, want in probe.items():
            key = find_key(resources, "%s.%s" % (name, component), "quantized file")
            if key is None or len(resources[key]) != want.nbytes:
                ok = False
            elif key in types and (int(np.prod(types[key][0])) != want.size
                                   or (len(types[key][0]) == 2
                                       and types[key][0][0] != want.shape[0])):
                ok = False
        if ok:
            fits.add(layout)
    return fits


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("quantized", help="MLIR text with the quantized weights' resources")
    parser.add_argument("float", help="MLIR text with the float weights, or one weight as .npy")
    parser.add_argument("--scheme", required=True, help="int8, int4-g64, nf4-dq, ...")
    parser.add_argument("--weight", action="append", help="check only this weight (repeatable)")
    parser.add_argument("--float-layout", choices=("out-in", "in-out", "auto"), required=True,
                        help="the float weights are [out, in] (as the spec quantizes them) or "
                             "[in, out] (ONNX MatMul); auto: inferred, see below")
    parser.add_argument("--show", type=int, default=10)
    args = parser.parse_args(argv)
    try:
        scheme = quant_numpy.parse_scheme(args.scheme)
        if scheme.kind == "fp32":
            raise InputError("--scheme fp32 stores no quantized components")
        resources, types = read_mlir(args.quantized)
        names = args.weight or quantized_weight_names(resources)
        if not names:
            raise InputError("%s: no <weight>.data resource" % args.quantized)
        if args.float.endswith(".npy"):
            if len(names) != 1:
                raise InputError("a .npy holds one weight, but %s has %d (%s): pick one with "
                                 "--weight" % (args.quantized, len(names), ", ".join(names)))
            w = np.load(args.float)
            if w.ndim != 2:
                raise InputError("%s: expected a 2-D weight, got shape %s" % (args.float,
                                                                             w.shape))
            weights = {names[0]: w.astype(np.float32)}
        else:
            float_resources, float_types = read_mlir(args.float)
            weights = {n: float_weight_from_mlir(float_resources, float_types, n, args.float)
                       for n in names}
        fitting = {}
        if args.float_layout == "auto":
            fitting = {n: fitting_layouts(n, w, scheme, resources, types)
                       for n, w in weights.items()}
        weights, layout = orient(weights, fitting, args.float_layout)
        all_ok = True
        for name in names:
            ok, lines = compare_weight(name, weights[name], scheme, resources, types, args.show)
            all_ok &= ok
            print("%s [%dx%d, %s, float layout %s]: %s" % (
                name, weights[name].shape[0], weights[name].shape[1], scheme.name, layout,
                "OK" if ok else "MISMATCH"))
            for line in lines:
                print("  " + line)
    except (InputError, quant_numpy.SchemeError, OSError, ValueError) as e:
        print("check_quantized_blobs.py: error: %s" % e, file=sys.stderr)
        return 2
    print("all quantized weights identical" if all_ok else "MISMATCH")
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
