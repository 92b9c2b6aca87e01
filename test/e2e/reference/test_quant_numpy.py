#!/usr/bin/python3
"""Self-test of quant_numpy.py (and of check_quantized_blobs.py on synthetic MLIR files).

  test_quant_numpy.py [-v]      exit 0 when every check passes, 1 otherwise

1. NF4 against bitsandbytes' own formulation (bnb_quantize_nf4_flat below, written from
   bitsandbytes' kQuantizeBlockwise / dQuantizeNF4: the tensor flattened, blocks of 64 over the
   flat array, x / absmax mapped by the decision tree of float32 midpoint thresholds,
   `x > threshold` picking the upper value): for matrices whose cols is a multiple of 64, the
   row-blocked codes and absmax of quant_numpy equal it exactly. Where the two formulations
   differ by construction (x exactly on a float32-rounded midpoint, all-zero blocks) the
   difference is asserted, so that it stays documented.
2. intN, NF4 and double-quant edge cases against hand-computed values.
3. Packing, theoretical sizes, scheme strings.
4. check_quantized_blobs.py: identical blobs pass, a changed nibble / scale / renamed key is
   reported.
"""

import os
import subprocess
import sys
import tempfile
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import quant_numpy as qn  # noqa: E402

F32 = np.float32
VERBOSE = "-v" in sys.argv
FAILURES = []


def check(condition, what):
    if not condition:
        FAILURES.append(what)
        print("FAIL: " + what)
    elif VERBOSE:
        print("ok: " + what)


def equal(got, expected, what):
    got, expected = np.asarray(got), np.asarray(expected)
    same = got.shape == expected.shape and np.array_equal(got, expected)
    check(same, what if same else "%s: got %s, expected %s" % (what, got.tolist(),
                                                                 expected.tolist()))


# --- 1. bitsandbytes' NF4 formulation ----------------------------------------------------------

# The literals of bitsandbytes' dQuantizeNF4 (csrc/kernels.cu), float32 constants in C.
BNB_T = {name: F32(value) for name, value in {
    "0": 0.03979014977812767, "1": 0.3893125355243683, "11": 0.6427869200706482,
    "111": 0.8614784181118011, "110": 0.5016634166240692, "10": 0.2035212516784668,
    "101": 0.2920137718319893, "100": 0.1202552504837513, "n": -0.33967943489551544,
    "n1": -0.13791173323988914, "n11": -0.045525018125772476, "n10": -0.23460740596055984,
    "n0": -0.6106329262256622, "n01": -0.4599952697753906, "n00": -0.8480964004993439,
}.items()}


def bnb_dquantize_nf4(x):
    """bitsandbytes' decision tree, vectorized: every comparison is `x > threshold`."""
    t, w = BNB_T, np.where
    upper = w(x > t["1"],
              w(x > t["11"], w(x > t["111"], 0b1111, 0b1110), w(x > t["110"], 0b1101, 0b1100)),
              w(x > t["10"], w(x > t["101"], 0b1011, 0b1010), w(x > t["100"], 0b1001, 0b1000)))
    lower = w(x > t["n"],
              w(x > t["n1"], w(x > t["n11"], 0b0111, 0b0110), w(x > t["n10"], 0b0101, 0b0100)),
              w(x > t["n0"], w(x > t["n01"], 0b0011, 0b0010), w(x > t["n00"], 0b0001, 0b0000)))
    return w(x > t["0"], upper, lower).astype(np.uint8)


def bnb_quantize_nf4_flat(flat, blocksize=64):
    """(codes uint8 [n], absmax float32 [ceil(n/64)]) of a flat float32 array, as bitsandbytes
    quantizes it: blocks over the flat array, x = value / absmax (float32), the tree above. A
    block of zeros gives 0/0 = NaN, which fails every comparison: code 0."""
    flat = np.asarray(flat, F32).reshape(-1)
    blocks = -(-flat.size // blocksize)
    padded = np.zeros(blocks * blocksize, F32)
    padded[:flat.size] = flat
    padded = padded.reshape(blocks, blocksize)
    absmax = np.abs(padded).max(axis=1).astype(F32)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = (padded / absmax[:, None]).astype(F32)
    return bnb_dquantize_nf4(x).reshape(-1)[:flat.size], absmax


def test_nf4_against_bitsandbytes():
    midpoints = (qn.NF4_VALUES[:-1] + qn.NF4_VALUES[1:]) / 2
    equal(np.sort(np.array(list(BNB_T.values()))), midpoints.astype(F32),
          "bitsandbytes' thresholds are the float32 midpoints of the NF4 table")
    rng = np.random.default_rng(1234)
    cases = []
    for rows, cols in ((1, 64), (4, 64), (7, 128), (3, 256), (16, 192), (33, 640)):
        cases.append(rng.standard_normal((rows, cols)).astype(F32) * F32(0.02))
        cases.append(rng.uniform(-3, 3, (rows, cols)).astype(F32))
        cases.append(rng.standard_t(2, (rows, cols)).astype(F32))
    heavy = rng.standard_normal((6, 128)).astype(F32)
    heavy[:, ::64] = -50  # absmax from a negative value, repeated
    cases.append(heavy)
    tiny = (rng.standard_normal((4, 64)) * 1e-30).astype(F32)  # subnormal-range quotients
    cases.append(tiny)
    # Values near every threshold (but not exactly on a float32-rounded one).
    near = np.zeros((1, 64))
    near[0, 0] = 1.0
    near[0, 1:61] = (midpoints[:, None] + np.array([-1e-6, -1e-7, 1e-7, 1e-6])).reshape(-1)
    cases.append(near.astype(F32))
    total = 0
    for w in cases:
        q = qn.quantize(w, "nf4")
        codes, absmax = bnb_quantize_nf4_flat(w.reshape(-1))
        total += w.size
        equal(q["codes"].reshape(-1).astype(np.uint8), codes,
              "nf4 codes == bitsandbytes' for %s" % (w.shape,))
        equal(q["absmax"].reshape(-1), absmax, "nf4 absmax == bitsandbytes' for %s" % (w.shape,))
    check(total > 50000, "compared %d weights against bitsandbytes' formulation" % total)

    # Exactly on a threshold. bitsandbytes compares with f32(midpoint); quant_numpy picks the
    # nearest value, ties to the lower. They agree where the midpoint is a float32, or where
    # f32(midpoint) < midpoint; where f32(midpoint) > midpoint, x = f32(midpoint) is nearer the
    # upper value, which quant_numpy picks and bitsandbytes does not.
    f32_mid = midpoints.astype(F32)
    row = np.zeros(64, F32)
    row[0] = 1.0
    row[1:16] = f32_mid
    row[16:31] = np.nextafter(f32_mid, F32(2))
    q = qn.quantize(row[None], "nf4")["codes"][0]
    bnb = bnb_quantize_nf4_flat(row)[0]
    on = np.arange(15)
    above = f32_mid.astype(np.float64) > midpoints
    equal(q[1:16], np.where(above, on + 1, on), "nf4 on f32(midpoint): nearest, ties lower")
    equal(bnb[1:16], on, "bitsandbytes on f32(midpoint): always the lower value")
    equal(np.nonzero(above)[0], [0, 1, 3, 4, 12, 14],
          "the thresholds where the two formulations differ (x = f32(midpoint) exactly)")
    equal(q[16:31], on + 1, "nf4 just above f32(midpoint): the upper value")
    equal(bnb[16:31], on + 1, "bitsandbytes just above f32(midpoint): the upper value")

    # All-zero block: the spec's code 7 (value 0); bitsandbytes' NaN gives code 0 (value -1,
    # times absmax 0). Both dequantize to zero.
    zero = np.zeros((1, 128), F32)
    zero[0, 64] = 0.5
    q = qn.quantize(zero, "nf4")
    equal(q["codes"][0, :64], np.full(64, 7), "nf4 all-zero block: code 7")
    equal(bnb_quantize_nf4_flat(zero)[0][:64], np.zeros(64), "bitsandbytes all-zero block: 0")
    equal(qn.dequantize(q)[0, :64], np.zeros(64, F32), "nf4 all-zero block dequantizes to 0")


# --- 2. hand-computed edge cases ---------------------------------------------------------------

S02 = F32(0.199951171875)  # float16(float32(3 / 15)): 0.2 rounded to 10 mantissa bits


def test_int4_asymmetric_k172_g64():
    w = np.zeros((2, 172), F32)
    w[0, 0:3] = [-1.0, 2.0, 0.5]          # group 0: lo -1, hi 2
    w[0, 64:67] = [0.625, 0.875, 3.75]    # group 1: lo 0, hi 3.75, s = 0.25 exactly
    # row 0 group 2 (columns 128..171, partial): all zero
    w[1, 171] = -3.0                      # row 1 group 2: lo -3, hi 0; rows 1 groups 0-1 zero
    q = qn.quantize(w, "int4-g64")
    equal(q["scales"].dtype, np.dtype(np.float16), "int4-g64 scales are float16")
    equal(q["scales"].astype(F32), [[S02, 0.25, 0], [0, 0, S02]], "int4-g64 scales")
    # z = rint(1 / 0.19995) = rint(5.0012) = 5; rint(3 / 0.19995) = rint(15.0037) = 15.
    equal(q["zero_points"], [[5, 0, 0], [0, 0, 15]], "int4-g64 zero points (s == 0: z = 0)")
    # -1 -> rint(-5.0012) + 5 = 0; 2 -> rint(10.0024) + 5 = 15; 0.5 -> rint(2.5006) + 5 = 8
    # (with the float32 scale 0.2 it would be rint(2.49999996) + 5 = 7: the f16 rounding counts).
    equal(q["codes"][0, :4], [0, 15, 8, 5], "int4-g64 codes of group 0")
    # 0.625 / 0.25 = 2.5 -> 2 and 0.875 / 0.25 = 3.5 -> 4 (half to even); 3.75 -> 15.
    equal(q["codes"][0, 64:68], [2, 4, 15, 0], "int4-g64 codes of group 1 (half to even)")
    equal(q["codes"][0, 128:], np.zeros(44), "int4-g64 all-zero partial group: q = z = 0")
    equal(q["codes"][1, 170:], [15, 0], "int4-g64 last column belongs to the partial group")
    equal(q["codes"][1, :128], np.zeros(128), "int4-g64 zero groups of row 1")
    d = qn.dequantize(q)
    equal(d[0, :3], [-5 * S02, 10 * S02, 3 * S02], "int4-g64 dequantized group 0")
    equal(d[0, 64:67], [0.5, 1.0, 3.75], "int4-g64 dequantized group 1")
    equal(d[1, 171], -15 * S02, "int4-g64 dequantized partial group")
    packed = qn.stored_components(q)
    equal(packed["data"].shape, (2, 86), "int4 data is [rows, ceil(172*4/8)]")
    equal(packed["zero_points"], [[0x05, 0x00], [0x00, 0x0F]], "int4 zero points packed")
    equal(packed["data"][0, :2], [0xF0, 0x58], "int4 data: element 2j is the low nibble")
    equal(packed["scales"][0], [0x3266, 0x3400, 0x0000], "f16 scale bits (0.19995, 0.25, 0)")


def test_group_larger_than_k():
    w = np.zeros((3, 40), F32)
    w[0, [0, 1, 39]] = [-2.0, 1.0, 0.3]
    w[1] = np.linspace(-1, 1, 40)
    w[2, 5] = 1e-3
    q = qn.quantize(w, "int4-g128")
    equal(q["scales"].shape, (3, 1), "G > K: one group per row")
    equal(q["scales"][0].astype(F32), [S02], "G > K: scale over the whole row")
    # z = rint(2 / 0.19995) = rint(10.0024) = 10; 0.3 -> rint(1.5004) + 10 = 12.
    equal(q["zero_points"][0], [10], "G > K: zero point")
    equal(q["codes"][0, [0, 1, 2, 39]], [0, 15, 10, 12], "G > K: codes")
    ref = qn.quantize(w, "int4-g40")
    for key in ("codes", "scales", "zero_points"):
        equal(q[key], ref[key], "G = 128 > K = 40 equals G = 40: %s" % key)
    equal(qn.theoretical_bytes(3, 40, "int4-g128"), 3 * (20 + 2 + 1), "G > K: bytes")


def test_partial_last_group():
    rng = np.random.default_rng(7)
    w = rng.standard_normal((5, 100)).astype(F32)
    q = qn.quantize(w, "int4-g64-sym")
    equal(q["scales"].shape, (5, 2), "K = 100, G = 64: two groups")
    last = w[:, 64:]
    expected = (np.abs(last).max(axis=1) / F32(7)).astype(F32).astype(np.float16)
    equal(q["scales"][:, 1], expected, "partial last group: scale over columns 64..99")
    first = (np.abs(w[:, :64]).max(axis=1) / F32(7)).astype(F32).astype(np.float16)
    equal(q["scales"][:, 0], first, "first group: scale over columns 0..63")
    # K = 172, G = 64 asymmetric on random data: groups of 64, 64, 44.
    w = rng.standard_normal((4, 172)).astype(F32)
    q = qn.quantize(w, "int4-g64")
    for g, (a, b) in enumerate(((0, 64), (64, 128), (128, 172))):
        lo = np.minimum(F32(0), w[:, a:b].min(axis=1))
        hi = np.maximum(F32(0), w[:, a:b].max(axis=1))
        equal(q["scales"][:, g], ((hi - lo) / F32(15)).astype(F32).astype(np.float16),
              "K = 172, G = 64: scale of group %d from columns %d..%d" % (g, a, b - 1))
    d = qn.dequantize(q)
    step = np.repeat(q["scales"].astype(F32), 64, axis=1)[:, :172]
    check(np.all(np.abs(d - w) <= step * F32(0.5) * F32(1 + 1e-3)),
          "K = 172, G = 64: |w - w'| <= s/2 (no clipping here)")


def test_symmetric():
    w = np.zeros((2, 32), F32)
    w[0, :6] = [-7.0, 2.5, 3.5, -0.5, 7.0, 0.0]     # max|w| = 7: s = 1, z = 8
    q = qn.quantize(w, "int4-g32-sym")
    equal(q["scales"].astype(F32), [[1.0], [0.0]], "sym scales (all-zero row: 0)")
    equal(q["codes"][0, :6], [1, 10, 12, 8, 15, 8], "sym codes (half to even, z = 8)")
    equal(q["codes"][1], np.full(32, 8), "sym all-zero group: q = z = 8")
    check("zero_points" not in qn.stored_components(q), "sym stores no zero points")
    # f16 scale rounding: s = f16(1/7) = 0.142822265625 (float32 1/7 = 0.14285715);
    # w = 2.5/7: w / s = 2.5006 -> 3 (with the float32 scale: 2.5 -> 2).
    w = np.zeros((1, 32), F32)
    w[0, :2] = [1.0, F32(2.5) / F32(7)]
    q = qn.quantize(w, "int4-g32-sym")
    equal(q["scales"].astype(F32), [[0.142822265625]], "sym f16 scale of 1/7")
    equal(q["codes"][0, :2], [15, 11], "sym codes with the rounded f16 scale")
    q32 = qn.quantize(w, "int4-g32-sym-f32")
    equal(q32["codes"][0, :2], [15, 10], "the same with float32 scales")


def test_int8():
    w = np.zeros((4, 10), F32)
    w[0, :4] = [63.5, -10.0, 0.25, 0.75]            # s = 63.5/127 = 0.5
    w[2, 0] = -63.5
    w[3, :] = np.arange(10, dtype=F32)              # s = 9/127
    q = qn.quantize(w, "int8")
    equal(q["scales"].dtype, np.dtype(F32), "int8 scales are float32")
    equal(q["scales"][:3, 0], [0.5, 0.0, 0.5], "int8 per-channel scales")
    equal(q["scales"][3, 0], F32(9) / F32(127), "int8 scale 9/127 in float32")
    equal(q["codes"][0, :5], [255, 108, 128, 130, 128], "int8 codes (z = 128, half to even)")
    equal(q["codes"][1], np.full(10, 128), "int8 all-zero row: q = 128")
    equal(q["codes"][2, 0], 1, "int8 -max -> 1")
    equal(q["codes"][3, [0, 9]], [128, 255], "int8 0 and max")
    equal(qn.dequantize(q)[0, :4], [63.5, -10.0, 0.0, 1.0], "int8 dequantized")


def test_bf16():
    x = np.array([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, -1 - 2 ** -8, 3.4e38,
                  3.0e38], F32)
    got = qn.round_to_bf16(x)
    equal(got[:4], np.array([1.0, 1 + 2 ** -6, 1 + 2 ** -7, -1.0], F32),
          "bf16: ties to even, above the tie rounds up, sign kept")
    equal(got[4], F32(np.inf), "bf16: 3.4e38 is past the largest bf16 (3.3895e38) + half: inf")
    # 3.0e38 = 1.76324 * 2^127; 0.76324 * 128 = 97.69 -> 98: 0x7F62 = 1.765625 * 2^127.
    equal(qn.stored_bits(x[5:], "bf16"), [0x7F62], "bf16: 3.0e38 -> 0x7F62")
    equal(got[5], F32(1.765625 * 2.0 ** 127), "bf16: 3.0e38 -> 1.765625 * 2^127")
    equal(qn.stored_bits(np.array([1.0, -2.0], F32), "bf16"), [0x3F80, 0xC000], "bf16 bits")
    w = np.zeros((1, 32), F32)
    w[0, :2] = [-1.0, 2.0]
    q = qn.quantize(w, "int4-g32-bf16")
    equal(q["scales"], [[0.2001953125]], "bf16 scale of 3/15 (0.2 -> 0.2001953125)")


def test_nf4_hand():
    w = np.zeros((1, 70), F32)
    w[0, :5] = [2.0, -2.0, 1.0, 0.2, -0.18]
    w[0, 64:70] = [0.0, 0.0, 0.0, 0.0, 0.0, -4.0]   # second block (partial): absmax 4
    q = qn.quantize(w, "nf4")
    # x = 1, -1, 0.5 (nearest 0.4407: mid 0.5017), 0.1 (nearest 0.0796: mid 0.1203),
    # -0.09 (nearest -0.09105).
    equal(q["codes"][0, :6], [15, 0, 12, 8, 6, 7], "nf4 codes")
    equal(q["codes"][0, 64:], [7, 7, 7, 7, 7, 0], "nf4 codes of the partial block")
    equal(q["absmax"], [[2.0, 4.0]], "nf4 absmax per block of 64")
    d = qn.dequantize(q)
    equal(d[0, :4], [2.0, -2.0, F32(0.44070982933044434) * F32(2),
                     F32(0.07958029955625534) * F32(2)], "nf4 dequantized")
    packed = qn.stored_components(q)
    equal(packed["data"].shape, (1, 35), "nf4 data [1, 35]")
    equal(packed["data"][0, :3], [0x0F, 0x8C, 0x76], "nf4 nibbles")
    equal(packed["scales"].view(F32), [[2.0, 4.0]], "nf4 scales are float32 absmax")


def test_double_quant_hand():
    # Two blocks, absmax 1 and 3: offset 2, a = [-1, 1], c = 1; 1 -> index 255 (the map's 1.0),
    # -1 -> index 0 (the map's smallest, -(1 + (1 - 0.9/64)) / 2 = -0.99296875).
    w = np.zeros((1, 128), F32)
    w[0, 0] = -1.0
    w[0, 64] = 3.0
    q = qn.quantize(w, "nf4-dq")
    equal(q["absmax_codes"], [[0, 255]], "double-quant codes")
    equal(q["double_quant_scales"], [1.0], "double-quant scales")
    equal(q["double_quant_offset"], F32(2.0), "double-quant offset")
    equal(qn.DYNAMIC_MAP[[0, 127, 128, 254, 255]],
          np.array([-0.99296875, 0.0, 0.55e-6, 0.99296875, 1.0], F32),
          "dynamic map: -0.99296875, 0 at 127, 5.5e-7, 0.99296875, 1")
    equal(qn.dequantize(q)[0, [0, 64]],
          [F32(-1) * (F32(-0.99296875) + F32(2)), F32(3.0)], "double-quant dequantized")
    # Codes come from the exact absmax.
    equal(q["codes"], qn.quantize(w, "nf4")["codes"], "nf4-dq codes use the exact absmax")
    # 300 absmax values: two chunks of 256 (the second partial), each with its own c.
    rng = np.random.default_rng(3)
    w = rng.standard_normal((5, 64 * 60)).astype(F32)
    w[:, ::64] *= np.linspace(1, 4, 300, dtype=F32).reshape(5, 60)
    q = qn.quantize(w, "nf4-dq")
    flat = q["absmax"].reshape(-1)
    offset = F32(np.mean(flat.astype(np.float64)))
    a = (flat - offset).astype(F32)
    equal(q["double_quant_offset"], offset, "offset = mean(absmax) in float32")
    equal(q["double_quant_scales"], [np.abs(a[:256]).max(), np.abs(a[256:]).max()],
          "two chunks: c = max|a| over 0..255 and the partial 256..299")
    y = (a / np.repeat(q["double_quant_scales"], 256)[:300]).astype(F32)
    idx = q["absmax_codes"].reshape(-1).astype(int)
    dist = np.abs(qn.DYNAMIC_MAP[idx].astype(np.float64) - y)
    best = np.abs(qn.DYNAMIC_MAP[None, :].astype(np.float64) - y[:, None]).min(axis=1)
    equal(dist, best, "double-quant codes are the nearest map values")
    check(np.all(np.abs(qn.dequantize_absmax(q["absmax_codes"], q["double_quant_scales"],
                                             offset) - q["absmax"])
                 <= 0.03 * np.abs(a).max()), "dequantized absmax close to the exact")
    equal(qn.theoretical_bytes(5, 64 * 60, "nf4-dq"), 5 * 1920 + 300 + 2 * 4 + 4,
          "nf4-dq bytes: codes + 300 absmax codes + 2 dq scales + offset")
    # All absmax equal: a = 0, c = 0, index of 0 (127), absmax' = offset.
    w = np.zeros((2, 128), F32)
    w[:, ::64] = 0.5
    q = qn.quantize(w, "nf4-dq")
    equal(q["double_quant_scales"], [0.0], "constant absmax: c = 0")
    equal(q["absmax_codes"], np.full((2, 2), 127), "constant absmax: the index of 0")
    equal(qn.dequantize(q), qn.dequantize(qn.quantize(w, "nf4")), "constant absmax: exact")
    # Ties to the lower index: y exactly between map[128] and map[129].
    mid = (qn.DYNAMIC_MAP[128].astype(np.float64) + qn.DYNAMIC_MAP[129]) / 2
    equal(qn.nearest_index(np.array([mid, np.nextafter(mid, 1)]), qn.DYNAMIC_MAP), [128, 129],
          "map midpoint ties to the lower index")


# --- 3. packing, sizes, scheme strings -----------------------------------------------------------

def test_packing_sizes_schemes():
    equal(qn.pack_codes([[1, 2, 3]], 4), [[0x21, 0x03]], "4-bit packing")
    equal(qn.pack_codes([[1, 2, 3, 4, 5]], 3), [[0xD1, 0x58]], "3-bit bit stream")
    equal(qn.pack_codes([[255, 0, 128]], 8), [[255, 0, 128]], "8-bit packing")
    rng = np.random.default_rng(5)
    for bits in range(2, 9):
        codes = rng.integers(0, 2 ** bits, (3, 37))
        packed = qn.pack_codes(codes, bits)
        equal(packed.shape, (3, -(-37 * bits // 8)), "%d-bit packed shape" % bits)
        equal(qn.unpack_codes(packed, 37, bits), codes, "%d-bit unpack(pack)" % bits)
    sizes = {"fp32": 64 * 172 * 4, "int8": 64 * 172 + 64 * 4,
             "int4-g64": 64 * 86 + 64 * 3 * 2 + 64 * 2, "int4-g64-sym": 64 * 86 + 64 * 3 * 2,
             "int4-g32": 64 * 86 + 64 * 6 * 2 + 64 * 3, "int4-g128": 64 * 86 + 64 * 2 * 2 + 64,
             "nf4": 64 * 86 + 64 * 3 * 4, "nf4-dq": 64 * 86 + 64 * 3 + 4 + 4}
    for scheme, size in sizes.items():
        equal(qn.theoretical_bytes(64, 172, scheme), size, "theoretical_bytes(64, 172, %s)"
              % scheme)
    for scheme in qn.ALL_SCHEMES:
        w = rng.standard_normal((6, 172)).astype(F32)
        q = qn.quantize(w, scheme)
        stored = sum(a.nbytes for a in qn.stored_components(q).values()) or w.nbytes
        equal(stored, qn.theoretical_bytes(6, 172, scheme),
              "%s: stored components' bytes == theoretical_bytes" % scheme)
    s = qn.parse_scheme("int8")
    check((s.bits, s.group_size, s.symmetric, s.scale_dtype) == (8, None, True, "f32"), "int8")
    s = qn.parse_scheme("int4-g128")
    check((s.bits, s.group_size, s.symmetric, s.scale_dtype) == (4, 128, False, "f16"),
          "int4-g128")
    s = qn.parse_scheme("int4-g32-sym")
    check((s.bits, s.group_size, s.symmetric, s.scale_dtype) == (4, 32, True, "f16"),
          "int4-g32-sym")
    check(qn.parse_scheme("nf4-dq").double_quant and not qn.parse_scheme("nf4").double_quant,
          "nf4 / nf4-dq")
    s = qn.parse_scheme("int4")
    check((s.group_size, s.symmetric, s.scale_dtype) == (None, True, "f32"),
          "int4 alone: per-channel, symmetric, float32 (the general form's defaults)")
    for bad in ("int4-g0", "int9", "nf4-g64", "int4-g64-sym-f8", "fp16"):
        try:
            qn.parse_scheme(bad)
            check(False, "parse_scheme(%r) rejected" % bad)
        except qn.SchemeError:
            check(True, "parse_scheme(%r) rejected" % bad)
    # llama2c_numpy --quant: projections quantized, embedding/classifier/norms untouched.
    import llama2c_numpy
    ckpt = types.SimpleNamespace(**{n: rng.standard_normal((2, 8, 64)).astype(F32)
                                    for n in llama2c_numpy.PROJECTIONS})
    ckpt.token_embedding = rng.standard_normal((16, 64)).astype(F32)
    before = {k: v.copy() for k, v in vars(ckpt).items()}
    llama2c_numpy.quantize_projections(ckpt, "int4-g32")
    for name in llama2c_numpy.PROJECTIONS:
        equal(getattr(ckpt, name)[1], qn.quantize_dequantize(before[name][1], "int4-g32"),
              "--quant: %s quantized per layer as [out, in]" % name)
    equal(ckpt.token_embedding, before["token_embedding"], "--quant: embedding untouched")


# --- 4. check_quantized_blobs.py on synthetic MLIR ----------------------------------------------

def hex_blob(array, alignment):
    return "0x" + (np.uint32(alignment).tobytes() + np.ascontiguousarray(array).tobytes()).hex(
    ).upper()


def mlir_text(entries, typed):
    """entries: [(key, array, alignment)]; typed: {key: "64x172xf32"} uses in a function."""
    uses = "\n".join("    %%c%d = arith.constant dense_resource<%s> : tensor<%s>" % (i, k, t)
                     for i, (k, t) in enumerate(typed.items()))
    body = ",\n".join('      %s: "%s"' % (k, hex_blob(a, al)) for k, a, al in entries)
    return ("module {\n  func.func @weights() {\n%s\n    return\n  }\n}\n\n{-#\n"
            "  dialect_resources: {\n    builtin: {\n%s\n    }\n  }\n#-}\n" % (uses, body))


def run_checker(*args):
    result = subprocess.run([sys.executable, os.path.join(HERE, "check_quantized_blobs.py")]
                            + list(args), capture_output=True, text=True)
    return result.returncode, result.stdout + result.stderr


def test_blob_checker():
    rng = np.random.default_rng(11)
    # Float weights stored [in, out] as ONNX MatMul weights are; the spec quantizes [out, in].
    names = {"model.layers.0.mlp.up_proj.MatMul.weight": (64, 172),
             "model.layers.0.self_attn.q_proj.MatMul.weight": (64, 64)}
    floats = {n: (rng.standard_normal(s) * 0.05).astype(F32) for n, s in names.items()}
    with tempfile.TemporaryDirectory() as tmp:
        float_path = os.path.join(tmp, "float.mlir")
        with open(float_path, "w") as f:
            f.write(mlir_text([(n, w, 64) for n, w in floats.items()],
                              {n: "%dx%dxf32" % w.shape for n, w in floats.items()}))
        for scheme in qn.ALL_SCHEMES[1:]:
            entries, typed = [], {}
            for n, w in floats.items():
                comps = qn.stored_components(qn.quantize(w.T, scheme))
                for comp, array in comps.items():
                    key = "%s.%s" % (n, comp)
                    entries.append((key, array, 64 if comp != "data" else 1))
            path = os.path.join(tmp, "%s.mlir" % scheme)
            with open(path, "w") as f:
                f.write(mlir_text(entries, typed))
            rc, out = run_checker(path, float_path, "--scheme", scheme, "--float-layout",
                                  "in-out")
            check(rc == 0 and "all quantized weights identical" in out,
                  "checker: %s blobs identical%s" % (scheme, "" if rc == 0 else "\n" + out))
            rc, out = run_checker(path, float_path, "--scheme", scheme, "--float-layout",
                                  "out-in")
            check(rc == 1, "checker: %s with the wrong float layout fails" % scheme)
            rc, out = run_checker(path, float_path, "--scheme", scheme, "--float-layout", "auto")
            check(rc == 0 and out.count("float layout in-out") == 2,
                  "checker: %s --float-layout auto finds in-out\n%s" % (scheme, out))
        # int4-g64: one nibble changed, one scale changed, a renamed key, missing zero points.
        n = "model.layers.0.mlp.up_proj.MatMul.weight"
        w = floats[n].T
        comps = qn.stored_components(qn.quantize(w, "int4-g64"))
        data = comps["data"].copy()
        data[3, 10] ^= 0x10                          # code of column 21 in row 3
        scales = comps["scales"].copy()
        scales[5, 0] ^= 1
        entries = [(n + ".data_1", data, 1), (n + ".scales", scales, 2),
                   (n + ".zero_points", comps["zero_points"], 1), ("other.data_7", data, 1)]
        path = os.path.join(tmp, "bad.mlir")
        with open(path, "w") as f:
            f.write(mlir_text(entries, {n + ".data_1": "172x32xui8"}))
        npy = os.path.join(tmp, "w.npy")
        np.save(npy, w)
        rc, out = run_checker(path, npy, "--scheme", "int4-g64", "--weight", n, "--float-layout",
                              "out-in")
        check(rc == 1 and "[3, 21] code" in out and "[5, 0] scale" in out
              and "zero_points: identical" in out,
              "checker: a changed nibble and scale reported at [3, 21] and [5, 0]\n" + out)
        del entries[2]
        with open(path, "w") as f:
            f.write(mlir_text(entries, {}))
        rc, out = run_checker(path, npy, "--scheme", "int4-g64", "--weight", n, "--float-layout",
                              "out-in")
        check(rc == 1 and "zero_points: MISSING" in out, "checker: missing zero points\n" + out)
        rc, out = run_checker(path, npy, "--scheme", "int4-g64", "--float-layout", "out-in")
        check(rc == 2, "checker: a .npy with several quantized weights is an input error")
        # Square weights alone cannot tell the layout.
        q = "model.layers.0.self_attn.q_proj.MatMul.weight"
        comps = qn.stored_components(qn.quantize(floats[q].T, "nf4"))
        with open(path, "w") as f:
            f.write(mlir_text([(q + "." + c, a, 4) for c, a in comps.items()], {}))
        rc, out = run_checker(path, float_path, "--scheme", "nf4", "--float-layout", "auto")
        check(rc == 2 and "--float-layout" in out, "checker: square-only needs --float-layout")
        rc, out = run_checker(path, float_path, "--scheme", "nf4", "--float-layout", "in-out")
        check(rc == 0, "checker: square with --float-layout in-out\n" + out)


def run_checks(tests, what):
    """Runs every test (a crash counts as a failure); 0 if all checks passed, else 1."""
    for test in tests:
        try:
            test()
        except Exception as e:  # a crash is a failure, not a traceback and exit 1 by accident
            import traceback
            traceback.print_exc()
            FAILURES.append("%s raised %r" % (test.__name__, e))
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES))
        return 1
    print("all %s checks passed" % what)
    return 0


def main():
    return run_checks((test_nf4_against_bitsandbytes, test_int4_asymmetric_k172_g64,
                       test_group_larger_than_k, test_partial_last_group, test_symmetric,
                       test_int8, test_bf16, test_nf4_hand, test_double_quant_hand,
                       test_packing_sizes_schemes, test_blob_checker), "quant_numpy")


if __name__ == "__main__":
    sys.exit(main())
