#!/usr/bin/python3
"""An independent numpy reference for the weight quantization schemes of the compiler.

Written from the specification of the weight-quantization pass, sharing no code with the C++.
A weight W is float32 [out, in] (rows = output channels, cols = K = in); groups run along the
columns of a row: group g holds columns [g*G, min((g+1)*G, K)), the last one may be partial,
G >= K gives one group, per-channel means one group per row. `round` is round-half-to-even
(np.rint) and stored(x) is x rounded to nearest-even in the scale type (float32, float16 or
bfloat16).

  intN asymmetric   lo = min(0, min w), hi = max(0, max w) over the group;
                    s = stored((hi - lo) / (2^bits - 1)) (the division in float32);
                    z = clip(rint(-lo / s), 0, 2^bits - 1); q = clip(rint(w / s) + z, 0, 2^bits - 1);
                    w' = (q - z) * s. When s == 0, z = 0 and q = z (see ZERO_SCALE_ZERO_POINT).
  intN symmetric    s = stored(max|w| / (2^(bits-1) - 1)); z = 2^(bits-1) (not stored);
                    q and w' as above; when s == 0, q = z.
  nf4               blocks of 64 along each row (the last partial); absmax = max|w| (float32);
                    code = index of the NF4 value nearest to w / absmax (float32 division, ties to
                    the lower index; 7, the value 0, when absmax == 0); w' = NF4[code] * absmax.
  nf4-dq            nf4 codes from the exact absmax, then over the row-major [rows, blocks] absmax:
                    offset = mean(absmax) (accumulated in float64, rounded to float32);
                    a = absmax - offset; in consecutive chunks of 256: c = max|a|; index of the
                    nearest (ties lower) value of bitsandbytes' signed dynamic 8-bit map to a / c
                    (0's index when c == 0); absmax' = map[idx] * c + offset; w' = NF4[code] * absmax'.
  fp4               bitsandbytes' quant_type="fp4": blocks and absmax as nf4; x = w * (1 / absmax)
                    (float32 reciprocal, then float32 product); code = sign + magnitude, sign 8
                    when x < 0 (-0.0 gets 0), the magnitude from |x| by bitsandbytes' decision
                    tree (dQuantizeFP4) of strict `>` comparisons with float32 pivots (a value
                    on a pivot takes the lower magnitude); all codes 0 when absmax == 0;
                    w' = FP4[code] * absmax, FP4 = [0, 0.0625, 8, 12, 4, 6, 2, 3, -0, -0.0625,
                    -8, -12, -4, -6, -2, -3] / 12 (float32).
  fp4-dq            fp4 codes from the exact absmax, the absmax double-quantized as for nf4-dq.
  llm-int8          LLM.int8()'s weights (llm_int8_numpy.quantize_weight_rows): per row
                    SCB = max|w|, CB = rint(w * (127 / SCB)) (127 / SCB in float32) in
                    [-127, 127], s = SCB / 127 (float32); w' = CB * s. Stored as int8
                    (per-channel, symmetric, float32 scales): code CB + 128, scale s. The
                    activation side (outlier threshold) lives in llm_int8_numpy.matmul and
                    llama2c_numpy; quantize/dequantize here see the weights only.

Scheme strings (parse_scheme):
  fp32                        no quantization
  int8                        8 bits, per-channel, symmetric, float32 scales
  int4-g32 / -g64 / -g128     4 bits, groups of G, asymmetric, float16 scales
  int4-g32-sym / ...          the same, symmetric
  nf4, nf4-dq                 NF4 in blocks of 64; nf4-dq with QLoRA double quantization
  fp4, fp4-dq                 bitsandbytes' FP4 in blocks of 64; fp4-dq double-quantized
  llm-int8[-t<T>]             LLM.int8(): 8-bit row-wise weights, outlier threshold T (default
                              6; llm-int8-t0: no outliers, plain row-wise int8 activations)
  General form: int<2..8>[-g<G>][-sym|-asym][-f32|-f16|-bf16]; without -g: per-channel,
  symmetric and float32 unless told; with -g: asymmetric and float16 unless told.

Stored components (quantize's dict; the compiler's blob names in brackets):
  codes          int32 [rows, cols]                        [<w>.data, packed, pack_codes]
  scales         [rows, groups] in the scale dtype (bf16: float32 values, raw bits via
                 stored_bits)                              [<w>.scales]
  zero_points    int32 [rows, groups]; stored only when asymmetric  [<w>.zero_points, packed]
  absmax         nf4, fp4: float32 [rows, blocks]          [<w>.scales]
  absmax_codes   nf4-dq, fp4-dq: uint8 [rows, blocks]      [<w>.scales]
  double_quant_scales  -dq: float32 [ceil(rows*blocks/256)]  [<w>.double_quant_scales]
  double_quant_offset  -dq: float32 scalar                 [<w>.double_quant_offset]
  llm-int8: codes, scales (float32 [rows, 1]) and zero_points (128, not stored) as int8.
"""

import math
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llm_int8_numpy  # noqa: E402

F32 = np.float32

# bitsandbytes' NF4 table (bitsandbytes/functional.py, csrc dDequantizeNF4); each entry is a
# float32 value written as the shortest float64 repr of it.
NF4_VALUES = np.array([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
], dtype=np.float64)
NF4_F32 = NF4_VALUES.astype(F32)
NF4_ZERO_CODE = 7
NF4_BLOCK = 64
DOUBLE_QUANT_BLOCK = 256

# bitsandbytes' FP4 table (its get_4bit_type("fp4"): 1 sign, 2 exponent, 1 mantissa bits, the
# largest magnitude 12 scaled to 1), by code; float32.
FP4_F32 = (np.array([0, 0.0625, 8, 12, 4, 6, 2, 3, -0.0, -0.0625, -8, -12, -4, -6, -2, -3],
                    dtype=F32) / F32(12)).astype(F32)
FP4_SIGN = 8
# The float32 literals of bitsandbytes' dQuantizeFP4 (csrc/kernels.cu), the midpoints between
# adjacent magnitudes, as C rounds them (0.583333 has only 6 digits there).
FP4_PIVOTS = {name: F32(literal) for name, literal in (
    ("1", "0.29166667"), ("11", "0.583333"), ("111", "0.8333333"), ("101", "0.4166667"),
    ("01", "0.0859375"), ("011", "0.20833333"), ("001", "0.00260417"))}
FLOAT4_BLOCK = NF4_BLOCK  # nf4 and fp4 share blocks, absmax and double quantization
FLOAT4_KINDS = ("nf4", "fp4")
INT_KINDS = ("int", "llm-int8")

# What the spec leaves open for an asymmetric group whose scale is 0 (an all-zero group, or a
# range that underflows the scale type): rint(-lo / 0) is undefined, so z = 0 and q = z = 0.
ZERO_SCALE_ZERO_POINT = 0

SCALE_DTYPES = {"f32": 4, "f16": 2, "bf16": 2}


class SchemeError(ValueError):
    pass


class Scheme:
    """kind: 'fp32', 'int', 'nf4', 'fp4' or 'llm-int8'. group_size None means per-channel (one
    group per row). outlier_threshold: llm-int8's activation threshold (0: no outliers)."""

    def __init__(self, name, kind, bits=32, group_size=None, symmetric=False, scale_dtype="f32",
                 double_quant=False, outlier_threshold=None):
        self.name, self.kind, self.bits = name, kind, bits
        self.group_size, self.symmetric = group_size, symmetric
        self.scale_dtype, self.double_quant = scale_dtype, double_quant
        self.outlier_threshold = outlier_threshold

    def groups(self, cols):
        """Groups (int, llm-int8) or blocks (nf4, fp4) per row of a [rows, cols] weight."""
        if self.kind in FLOAT4_KINDS:
            return -(-cols // FLOAT4_BLOCK)
        if self.kind in INT_KINDS:
            return 1 if self.group_size is None else -(-cols // self.group_size)
        return 0

    def group_width(self, cols):
        if self.kind in FLOAT4_KINDS:
            return FLOAT4_BLOCK
        return cols if self.group_size is None else self.group_size

    def __repr__(self):
        return "Scheme(%s)" % self.name


def parse_scheme(text):
    if isinstance(text, Scheme):
        return text
    if text == "fp32":
        return Scheme(text, "fp32")
    if text in ("nf4", "nf4-dq", "fp4", "fp4-dq"):
        return Scheme(text, text[:3], bits=4, group_size=FLOAT4_BLOCK, scale_dtype="f32",
                      double_quant=text.endswith("-dq"))
    m = re.fullmatch(r"llm-int8(?:-t((?:0|[1-9][0-9]*)(?:\.[0-9]+)?))?", text)
    if m:
        threshold = float(m.group(1)) if m.group(1) else llm_int8_numpy.DEFAULT_THRESHOLD
        return Scheme(text, "llm-int8", bits=8, group_size=None, symmetric=True,
                      scale_dtype="f32", outlier_threshold=threshold)
    m = re.fullmatch(r"int([2-8])(?:-g([1-9][0-9]*))?(-sym|-asym)?(?:-(f32|f16|bf16))?", text)
    if not m:
        raise SchemeError("unknown quantization scheme %r (fp32, int8, int4-g{32,64,128}[-sym], "
                          "nf4, nf4-dq, fp4, fp4-dq, llm-int8[-t<threshold>], or "
                          "int<bits>[-g<G>][-sym|-asym][-f32|-f16|-bf16])" % text)
    bits = int(m.group(1))
    group = int(m.group(2)) if m.group(2) else None
    symmetric = m.group(3) == "-sym" if m.group(3) else group is None
    scale = m.group(4) or ("f32" if group is None else "f16")
    return Scheme(text, "int", bits=bits, group_size=group, symmetric=symmetric,
                  scale_dtype=scale)


# --- rounding to the scale type ---------------------------------------------------------------

def round_to_bf16(x):
    """float32 -> the nearest bfloat16 (ties to even), returned as float32 values."""
    bits = np.ascontiguousarray(x, dtype=F32).view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    nan = np.isnan(x)
    out = rounded.astype(np.uint32).view(F32).copy()
    out[nan] = np.nan
    return out


def stored(x, scale_dtype):
    """x (float32) rounded to the scale type; an array of that numpy dtype (float32 for bf16)."""
    x = np.asarray(x, dtype=F32)
    if scale_dtype == "f32":
        return x.copy()
    if scale_dtype == "f16":
        return x.astype(np.float16)  # numpy rounds float32 -> float16 to nearest even
    if scale_dtype == "bf16":
        return round_to_bf16(x)
    raise SchemeError("unknown scale type %r" % scale_dtype)


def stored_bits(values, scale_dtype):
    """The raw little-endian storage of scales: uint32 (f32) or uint16 (f16, bf16) words."""
    values = np.ascontiguousarray(values)
    if scale_dtype == "f32":
        return values.astype(F32).view(np.uint32)
    if scale_dtype == "f16":
        return values.astype(np.float16).view(np.uint16)
    if scale_dtype == "bf16":
        return (round_to_bf16(values.astype(F32)).view(np.uint32) >> 16).astype(np.uint16)
    raise SchemeError("unknown scale type %r" % scale_dtype)


def from_stored_bits(words, scale_dtype):
    words = np.asarray(words)
    if scale_dtype == "f32":
        return words.astype(np.uint32).view(F32)
    if scale_dtype == "f16":
        return words.astype(np.uint16).view(np.float16)
    if scale_dtype == "bf16":
        return (words.astype(np.uint32) << 16).view(F32)
    raise SchemeError("unknown scale type %r" % scale_dtype)


# --- nearest value of a sorted table, ties to the lower index ----------------------------------

def nearest_index(x, table):
    """Index of the entry of the ascending float32 `table` nearest to each float32 x, ties to the
    lower index. Compares x with the exact midpoints (float32 + float32 is exact in float64)."""
    table = np.asarray(table, dtype=np.float64)
    midpoints = (table[:-1] + table[1:]) / 2.0
    # side='left': the number of midpoints strictly below x, so x == midpoint picks the lower.
    return np.searchsorted(midpoints, np.asarray(x, dtype=np.float64), side="left")


def dynamic_map_signed():
    """bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): for
    i in 0..6 the midpoints of linspace(0.1, 1, 2^i + 1) times 10^(i-6), both signs, plus 0 and 1;
    computed in float64, sorted, rounded to float32 (256 values)."""
    data = []
    for i in range(7):
        bounds = np.linspace(0.1, 1.0, 2 ** i + 1)
        means = (bounds[:-1] + bounds[1:]) / 2.0
        data += list(10.0 ** (i - 6) * means)
        data += list(-(10.0 ** (i - 6)) * means)
    data += [0.0, 1.0]
    values = np.array(sorted(data), dtype=np.float64).astype(F32)
    assert values.shape == (256,) and np.all(np.diff(values) > 0)
    return values


DYNAMIC_MAP = dynamic_map_signed()


# --- quantization ------------------------------------------------------------------------------

def _grouped(w, width):
    """w [rows, cols] -> [rows, groups, width], zero-padded (zeros change no min, max or max|w|
    of a group, since lo <= 0 <= hi)."""
    rows, cols = w.shape
    groups = -(-cols // width)
    padded = np.zeros((rows, groups * width), F32)
    padded[:, :cols] = w
    return padded.reshape(rows, groups, width)


def _quantize_int(w, scheme):
    rows, cols = w.shape
    width = scheme.group_width(cols)
    qmax = 2 ** scheme.bits - 1
    wg = _grouped(w, width)
    if scheme.symmetric:
        half = 2 ** (scheme.bits - 1)
        scales = stored(np.abs(wg).max(axis=-1) / F32(half - 1), scheme.scale_dtype)
        zero_points = np.full((rows, wg.shape[1]), half, np.int32)
    else:
        lo = np.minimum(F32(0), wg.min(axis=-1))
        hi = np.maximum(F32(0), wg.max(axis=-1))
        scales = stored((hi - lo) / F32(qmax), scheme.scale_dtype)
        s = scales.astype(F32)
        with np.errstate(divide="ignore", invalid="ignore"):
            zero_points = np.clip(np.rint(-lo / s), 0, qmax)
        zero_points = np.where(s == 0, ZERO_SCALE_ZERO_POINT, zero_points).astype(np.int32)
    s = scales.astype(F32)[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.clip(np.rint(wg / s) + zero_points[..., None].astype(F32), 0, qmax)
    q = np.where(s == 0, zero_points[..., None], q).astype(np.int32)
    return {"codes": q.reshape(rows, -1)[:, :cols], "scales": scales, "zero_points": zero_points}


def _nf4_codes(wg, absmax):
    with np.errstate(divide="ignore", invalid="ignore"):
        x = (wg / absmax[..., None]).astype(F32)
    codes = nearest_index(x, NF4_F32).astype(np.int32)
    return np.where(absmax[..., None] == 0, NF4_ZERO_CODE, codes)


def fp4_codes():
    """bitsandbytes' FP4 code values, float32 [16], by code (value[code] * absmax)."""
    return FP4_F32.copy()


def dquantize_fp4(x):
    """bitsandbytes' dQuantizeFP4 on float32 x (= w * (1 / absmax)): the 4-bit code of each.
    NaN (0 * inf of an all-zero block) fails every comparison: code 0."""
    x = np.asarray(x, dtype=F32)
    p, w = FP4_PIVOTS, np.where
    a = np.abs(x)
    magnitude = w(a > p["1"],
                  w(a > p["11"], w(a > p["111"], 3, 2), w(a > p["101"], 5, 4)),
                  w(a > p["01"], w(a > p["011"], 7, 6), w(a > p["001"], 1, 0)))
    return (magnitude + w(x < 0, FP4_SIGN, 0)).astype(np.int32)


def _fp4_codes(wg, absmax):
    with np.errstate(divide="ignore", invalid="ignore"):
        reciprocal = (F32(1) / absmax).astype(F32)
        x = (wg * reciprocal[..., None]).astype(F32)
    return np.where(absmax[..., None] == 0, 0, dquantize_fp4(x)).astype(np.int32)


def quantize_fp4_block(block):
    """(codes int32 [n], absmax float32) of one block (any length) of weights."""
    block = np.asarray(block, dtype=F32).reshape(-1)
    absmax = np.abs(block).max().astype(F32) if block.size else F32(0)
    return _fp4_codes(block[None, :], np.array([absmax], F32))[0], absmax


def float4_values(scheme):
    """The code value table of a 4-bit float scheme (NF4_F32 or FP4_F32)."""
    return FP4_F32 if parse_scheme(scheme).kind == "fp4" else NF4_F32


def _quantize_llm_int8(w):
    CB, _SCB, s = llm_int8_numpy.quantize_weight_rows(w)
    rows = w.shape[0]
    return {"codes": CB.astype(np.int32) + 128, "scales": s.reshape(rows, 1),
            "zero_points": np.full((rows, 1), 128, np.int32)}


def _double_quantize(absmax):
    flat = absmax.reshape(-1)
    offset = F32(np.mean(flat, dtype=np.float64))
    a = (flat - offset).astype(F32)
    chunks = -(-a.size // DOUBLE_QUANT_BLOCK)
    padded = np.zeros(chunks * DOUBLE_QUANT_BLOCK, F32)
    padded[:a.size] = a
    padded = padded.reshape(chunks, DOUBLE_QUANT_BLOCK)
    c = np.abs(padded).max(axis=-1).astype(F32)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = (padded / c[:, None]).astype(F32)
    y = np.where(c[:, None] == 0, F32(0), y)
    idx = nearest_index(y, DYNAMIC_MAP).reshape(-1)[:a.size].astype(np.uint8)
    return idx.reshape(absmax.shape), c, offset


def dequantize_absmax(absmax_codes, double_quant_scales, offset):
    flat = np.asarray(absmax_codes).reshape(-1)
    c = np.repeat(np.asarray(double_quant_scales, F32), DOUBLE_QUANT_BLOCK)[:flat.size]
    values = (DYNAMIC_MAP[flat] * c).astype(F32) + F32(offset)
    return values.astype(F32).reshape(np.shape(absmax_codes))


def quantize(w, scheme):
    """The stored components of w ([rows, cols], converted to float32) under `scheme` (a Scheme
    or a scheme string); see the module docstring."""
    scheme = parse_scheme(scheme)
    w = np.asarray(w, dtype=F32)
    if w.ndim != 2:
        raise SchemeError("expected a 2-D weight [out, in], got shape %s" % (w.shape,))
    if scheme.kind == "fp32":
        return {"scheme": scheme, "shape": w.shape, "weight": w.copy()}
    out = {"scheme": scheme, "shape": w.shape}
    if scheme.kind == "int":
        out.update(_quantize_int(w, scheme))
        return out
    if scheme.kind == "llm-int8":
        out.update(_quantize_llm_int8(w))
        return out
    wg = _grouped(w, FLOAT4_BLOCK)
    absmax = np.abs(wg).max(axis=-1).astype(F32)
    codes = _fp4_codes(wg, absmax) if scheme.kind == "fp4" else _nf4_codes(wg, absmax)
    out["codes"] = codes.reshape(w.shape[0], -1)[:, :w.shape[1]]
    out["absmax"] = absmax
    if scheme.double_quant:
        idx, c, offset = _double_quantize(absmax)
        out["absmax_codes"] = idx
        out["double_quant_scales"] = c
        out["double_quant_offset"] = offset
    return out


def dequantize(q, float4_table=None):
    """float32 [rows, cols] from quantize's dict. float4_table: the 16 code values of a 4-bit float
    scheme to use instead of its own (float4_values)."""
    scheme = q["scheme"]
    rows, cols = q["shape"]
    if scheme.kind == "fp32":
        return q["weight"].copy()
    width = scheme.group_width(cols)
    groups = scheme.groups(cols)
    codes = np.zeros((rows, groups * width), np.int32)
    codes[:, :cols] = q["codes"]
    codes = codes.reshape(rows, groups, width)
    if scheme.kind in INT_KINDS:
        s = np.asarray(q["scales"]).astype(F32)[..., None]
        z = q["zero_points"][..., None]
        w = (codes - z).astype(F32) * s
    else:
        if scheme.double_quant:
            absmax = dequantize_absmax(q["absmax_codes"], q["double_quant_scales"],
                                       q["double_quant_offset"])
        else:
            absmax = q["absmax"]
        table = float4_values(scheme) if float4_table is None else float4_table
        w = table[codes] * absmax[..., None]
    return w.astype(F32).reshape(rows, -1)[:, :cols]


def quantize_dequantize(w, scheme, float4_table=None):
    return dequantize(quantize(w, scheme), float4_table)


# --- storage -----------------------------------------------------------------------------------

def pack_codes(codes, bits):
    """[rows, n] codes -> uint8 [rows, ceil(n*bits/8)]: a little-endian bit stream per row, code i
    in bits [i*bits, (i+1)*bits) (4 bits: element 2j is the low nibble of byte j)."""
    codes = np.asarray(codes, dtype=np.int64)
    rows, n = codes.shape
    if codes.size and (codes.min() < 0 or codes.max() >= 2 ** bits):
        raise ValueError("codes out of range for %d bits" % bits)
    stream = ((codes[..., None] >> np.arange(bits)) & 1).astype(np.uint8).reshape(rows, n * bits)
    nbytes = -(-n * bits // 8)
    padded = np.zeros((rows, nbytes * 8), np.uint8)
    padded[:, :n * bits] = stream
    return np.packbits(padded, axis=1, bitorder="little")


def unpack_codes(packed, n, bits):
    packed = np.asarray(packed, dtype=np.uint8)
    stream = np.unpackbits(packed, axis=1, bitorder="little")[:, :n * bits]
    stream = stream.reshape(packed.shape[0], n, bits).astype(np.int64)
    return (stream << np.arange(bits)).sum(axis=-1).astype(np.int32)


def stored_components(q):
    """The arrays the compiler stores, keyed by blob suffix (data, scales, zero_points,
    double_quant_scales, double_quant_offset), as the numpy arrays whose little-endian bytes
    they are."""
    scheme = q["scheme"]
    rows, cols = q["shape"]
    if scheme.kind == "fp32":
        return {}
    out = {"data": pack_codes(q["codes"], scheme.bits)}
    if scheme.kind in INT_KINDS:
        out["scales"] = stored_bits(q["scales"], scheme.scale_dtype)
        if not scheme.symmetric:
            out["zero_points"] = pack_codes(q["zero_points"], scheme.bits)
    elif scheme.double_quant:
        out["scales"] = q["absmax_codes"].astype(np.uint8)
        out["double_quant_scales"] = q["double_quant_scales"].astype(F32).view(np.uint32)
        out["double_quant_offset"] = np.array([q["double_quant_offset"]], F32).view(np.uint32)
    else:
        out["scales"] = q["absmax"].astype(F32).view(np.uint32)
    return out


def theoretical_bytes(rows, cols, scheme):
    """Bytes of a [rows, cols] weight: packed codes (ceil(cols*bits/8) per row) + scales
    (nf4-dq, fp4-dq: 1-byte absmax codes) + zero points (asymmetric, ceil(groups*bits/8) per
    row) + double-quant scales (4 B per 256 absmax, rounded up) + double-quant offset (4 B).
    llm-int8: as int8 (one byte per weight, one float32 scale per row)."""
    scheme = parse_scheme(scheme)
    if scheme.kind == "fp32":
        return rows * cols * 4
    groups = scheme.groups(cols)
    total = rows * -(-cols * scheme.bits // 8)
    if scheme.kind in INT_KINDS:
        total += rows * groups * SCALE_DTYPES[scheme.scale_dtype]
        if not scheme.symmetric:
            total += rows * -(-groups * scheme.bits // 8)
    elif scheme.double_quant:
        total += rows * groups + 4 * math.ceil(rows * groups / DOUBLE_QUANT_BLOCK) + 4
    else:
        total += rows * groups * 4
    return total


ALL_SCHEMES = ("fp32", "int8", "int4-g32", "int4-g64", "int4-g128", "int4-g32-sym",
               "int4-g64-sym", "int4-g128-sym", "nf4", "nf4-dq")
# bitsandbytes' other schemes; not in ALL_SCHEMES (the compiler's default set).
BNB_SCHEMES = ("fp4", "fp4-dq", "llm-int8", "llm-int8-t0")
