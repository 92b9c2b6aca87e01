#!/usr/bin/python3
"""Self-test of the bitsandbytes schemes of the numpy references: FP4 (quant_numpy "fp4",
"fp4-dq") and LLM.int8() (llm_int8_numpy.py, quant_numpy "llm-int8", llama2c_numpy --quant
llm-int8).

  test_bnb_numpy.py [-v]      exit 0 when every check passes, 1 otherwise

1. FP4: the code table; every code's value round trip; a value exactly on each float32 pivot
   takes the lower magnitude; signed zeros and tiny negatives; all-zero and partial blocks; the
   reciprocal-then-multiply rule against a division (documented differences); a second
   formulation (sorted pivots, searchsorted) on random and near-pivot data; fp4-dq's absmax
   equal to nf4-dq's; sizes.
2. LLM.int8(): weight rows and activation rows by hand (round half to even, SCB == 0, the
   outlier rule: |x| >= t, a whole column zeroed when one token crosses, its other values still
   in their rows' absmax, negative outliers); the matmul by hand; no outliers (t = 6 == t = 0);
   every column an outlier (Y = the float matmul with dequantized weights); SCA == 0 rows;
   the int32 accumulator; injected outliers: t = 6 is far nearer the float result than t = 0.
3. The llama2c_numpy integration on a small random checkpoint: llm-int8 projections, per-call
   outlier statistics, --chunk, the CLI's --outlier-stats line; quant_perplexity_table's bits.
"""

import math
import os
import struct
import subprocess
import sys
import tempfile
import types

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import llama2c_numpy  # noqa: E402
import llm_int8_numpy as li  # noqa: E402
import quant_numpy as qn  # noqa: E402

# The checks' bookkeeping is test_quant_numpy's (one list of failures).
from test_quant_numpy import FAILURES, check, equal, run_checks  # noqa: E402

F32 = np.float32
F64 = np.float64


def fp4_codes_of(row):
    """FP4 codes of one row (one or more blocks)."""
    return qn.quantize(np.asarray(row, F32)[None, :], "fp4")["codes"][0]


# --- 1. FP4 ------------------------------------------------------------------------------------

# float32(v / 12); 4/12 is 0.33333334 in float32 (0.3333333, as often written, is not).
FP4_TABLE = [0.0, 0.0052083335, 0.6666667, 1.0, 0.33333334, 0.5, 0.16666667, 0.25,
             -0.0, -0.0052083335, -0.6666667, -1.0, -0.33333334, -0.5, -0.16666667, -0.25]
# Magnitude codes in ascending value: 0, 0.0052, 0.1667, 0.25, 0.3333, 0.5, 0.6667, 1.
FP4_ASCENDING = [0, 1, 6, 7, 4, 5, 2, 3]
# The pivots in ascending order with the magnitude code on each side.
FP4_PIVOT_SIDES = [("001", 0, 1), ("01", 1, 6), ("011", 6, 7), ("1", 7, 4), ("101", 4, 5),
                   ("11", 5, 2), ("111", 2, 3)]


def test_fp4_table():
    values = qn.fp4_codes()
    equal(values, np.array(FP4_TABLE, F32), "FP4 table (bitsandbytes' values / 12, float32)")
    bnb = np.array([0, 0.0625, 8, 12, 4, 6, 2, 3, -0.0, -0.0625, -8, -12, -4, -6, -2, -3], F32)
    equal(values, bnb / F32(12), "FP4 table: float32 division of bitsandbytes' values by 12")
    equal(np.signbit(values), [False] * 8 + [True] * 8, "FP4 table: codes 8..15 are negative")
    equal(values[8:], -values[:8], "FP4 table: code + 8 is the negated value")
    equal(values[FP4_ASCENDING], np.sort(values[:8]), "FP4 magnitudes in ascending order")
    pivots = np.array([qn.FP4_PIVOTS[name] for name, _, _ in FP4_PIVOT_SIDES])
    mids = (values[FP4_ASCENDING][:-1].astype(F64) + values[FP4_ASCENDING][1:]) / 2
    check(np.all(np.abs(pivots - mids) < 1e-6),
          "FP4 pivots are the midpoints of adjacent magnitudes (to 1e-6)")
    equal(pivots, np.array([0.00260417, 0.0859375, 0.20833333, 0.29166667, 0.4166667,
                            0.583333, 0.8333333], F32), "FP4 pivots: bitsandbytes' literals")
    equal(qn.theoretical_bytes(64, 172, "fp4"), qn.theoretical_bytes(64, 172, "nf4"),
          "fp4 bytes == nf4 bytes")
    equal(qn.theoretical_bytes(64, 172, "fp4-dq"), qn.theoretical_bytes(64, 172, "nf4-dq"),
          "fp4-dq bytes == nf4-dq bytes")
    s = qn.parse_scheme("fp4-dq")
    check((s.kind, s.bits, s.group_size, s.double_quant) == ("fp4", 4, 64, True), "fp4-dq")
    check(not qn.parse_scheme("fp4").double_quant, "fp4 has no double quantization")


def test_fp4_round_trip():
    values = qn.fp4_codes()
    for absmax in (1.0, 3.0, 0.37, 1e-3, 250.0):
        absmax = F32(absmax)
        row = np.zeros(64, F32)
        row[0] = absmax                                  # code 3: the block's absmax
        row[1:17] = (values * absmax).astype(F32)
        codes = fp4_codes_of(row)
        expected = np.arange(16)
        expected[8] = 0                                  # -0.0: x < 0 is false, code 0
        equal(codes[1:17], expected, "FP4 value[code] * absmax -> code (absmax %g)" % absmax)
        deq = qn.dequantize(qn.quantize(row[None], "fp4"))[0]
        equal(deq[1:17], np.where(expected == 0, F32(0), row[1:17]),
              "FP4 round trip dequantizes to value[code] * absmax (absmax %g)" % absmax)


def test_fp4_pivots():
    # absmax 1: x = w exactly (1 / 1 = 1), so w can sit on a pivot.
    for name, lower, upper in FP4_PIVOT_SIDES:
        p = qn.FP4_PIVOTS[name]
        above = np.nextafter(p, F32(2))
        below = np.nextafter(p, F32(0))
        codes = fp4_codes_of([1.0, p, above, below, -p, -above])
        equal(codes, [3, lower, upper, lower, lower + 8, upper + 8],
              "FP4 pivot %s (%r): on it -> %d, above -> %d, negatives + 8"
              % (name, float(p), lower, upper))


def test_fp4_zeros_and_blocks():
    absmax = F32(4.0)
    codes = fp4_codes_of([absmax, 0.0, -0.0, F32(-1e-9) * absmax, F32(1e-9) * absmax,
                          F32(-0.003) * absmax, F32(0.003) * absmax])
    equal(codes, [3, 0, 0, 8, 0, 9, 1], "FP4 zeros: +0 -> 0, -0.0 -> 0, -1e-9 absmax -> 8, "
                                        "-0.003 absmax -> 9")
    # Hand block: absmax 2, x = 1, -1, .5, .25, -.15, .1, .005, -.002.
    w = np.zeros((2, 70), F32)
    w[0, :8] = [2.0, -2.0, 1.0, 0.5, -0.3, 0.2, 0.01, -0.004]
    # columns 64..69 of row 0: the partial block, absmax 0.75 from a negative value.
    w[0, 64:70] = [-0.75, 0.375, 0.5, 0.0, 0.1, -0.3]
    # row 1: block 0 all zero, the partial block absmax 1.
    w[1, 64] = 1.0
    w[1, 69] = -0.5
    q = qn.quantize(w, "fp4")
    equal(q["codes"][0, :8], [3, 11, 5, 7, 14, 6, 1, 8], "FP4 hand codes of block 0")
    # x = -1, .5, .6667 (on no pivot: 0.5/0.75 -> 2), 0, .1333 -> 6, -.4 -> 4 + 8.
    equal(q["codes"][0, 64:], [11, 5, 2, 0, 6, 12], "FP4 hand codes of the partial block")
    equal(q["absmax"], [[2.0, 0.75], [0.0, 1.0]], "FP4 absmax per block (partial included)")
    equal(q["codes"][1, :64], np.zeros(64), "FP4 all-zero block: codes 0")
    equal(q["codes"][1, 64:], [3, 0, 0, 0, 0, 13], "FP4 row 1 partial block")
    d = qn.dequantize(q)
    v = qn.fp4_codes()
    equal(d[0, :8], (v[[3, 11, 5, 7, 14, 6, 1, 8]] * F32(2)).astype(F32),
          "FP4 dequantized = value[code] * absmax")
    equal(d[1, :64], np.zeros(64, F32), "FP4 all-zero block dequantizes to 0 (no NaN)")
    codes, absmax = qn.quantize_fp4_block(w[0, 64:70])
    equal(codes, q["codes"][0, 64:], "quantize_fp4_block == the partial block of quantize")
    equal(absmax, F32(0.75), "quantize_fp4_block absmax")
    packed = qn.stored_components(q)
    equal(packed["data"][0, :4], [0xB3, 0x75, 0x6E, 0x81], "FP4 nibbles, low first")
    equal(packed["scales"].view(F32), [[2.0, 0.75], [0.0, 1.0]], "FP4 scales: float32 absmax")


def test_fp4_reciprocal():
    # bitsandbytes multiplies by 1 / absmax. With absmax 3, 1/3 rounds up in float32, and
    # w = 0.875, 2.5, 0.625 (x = 3.5/12, 10/12, 2.5/12: real midpoints) land just above the
    # float32 pivots: the upper magnitude. A division would give 0.29166666 etc.: the lower.
    w = np.array([3.0, 0.875, 2.5, 0.625], F32)
    equal(fp4_codes_of(w), [3, 4, 3, 7], "FP4 reciprocal rule on real midpoints (absmax 3)")
    equal(qn.dquantize_fp4((w / F32(3)).astype(F32)), [3, 7, 2, 6],
          "the same with a division: the lower magnitudes (documented difference)")


def fp4_by_search(w):
    """A second formulation: per block the magnitude rank is the number of pivots strictly
    below |x| (searchsorted, side left), mapped to its code; sign 8 when x < 0."""
    rows, cols = w.shape
    out = np.zeros((rows, cols), np.int32)
    pivots = np.sort(np.array(list(qn.FP4_PIVOTS.values()), F32))
    for r in range(rows):
        for b in range(0, cols, 64):
            block = w[r, b:b + 64]
            absmax = np.abs(block).max()
            if absmax == 0:
                continue
            x = (block * (F32(1) / absmax)).astype(F32)
            rank = np.searchsorted(pivots, np.abs(x), side="left")
            out[r, b:b + 64] = np.array(FP4_ASCENDING)[rank] + np.where(x < 0, 8, 0)
    return out


def test_fp4_second_formulation():
    rng = np.random.default_rng(4)
    cases = [rng.standard_normal((5, 172)).astype(F32) * F32(0.02),
             rng.uniform(-3, 3, (7, 128)).astype(F32), rng.standard_t(2, (9, 100)).astype(F32)]
    near = np.zeros((2, 64), F32)
    near[:, 0] = 1.0
    pivots = np.array(list(qn.FP4_PIVOTS.values()), F32)
    near[0, 1:8], near[0, 8:15] = pivots, np.nextafter(pivots, F32(2))
    near[0, 15:22], near[1, 1:8] = np.nextafter(pivots, F32(0)), -pivots
    near[1, 8:15] = -np.nextafter(pivots, F32(2))
    cases.append(near)
    zero_block = rng.standard_normal((3, 192)).astype(F32)
    zero_block[1, 64:128] = 0
    cases.append(zero_block)
    for w in cases:
        equal(qn.quantize(w, "fp4")["codes"], fp4_by_search(w),
              "FP4 decision tree == sorted-pivot search for %s" % (w.shape,))
    # Dequantization error is at most half the widest gap (1 - 0.6667) times absmax.
    w = cases[1]
    d = qn.quantize_dequantize(w, "fp4")
    absmax = np.repeat(qn.quantize(w, "fp4")["absmax"], 64, axis=1)[:, :w.shape[1]]
    check(np.all(np.abs(d - w) <= absmax * F32(1 / 6 + 1e-6)), "FP4 |w - w'| <= absmax / 6")


def test_fp4_double_quant():
    rng = np.random.default_rng(8)
    w = rng.standard_normal((5, 64 * 60)).astype(F32)
    w[:, ::64] *= np.linspace(1, 4, 300, dtype=F32).reshape(5, 60)
    q, n = qn.quantize(w, "fp4-dq"), qn.quantize(w, "nf4-dq")
    for key in ("absmax", "absmax_codes", "double_quant_scales", "double_quant_offset"):
        equal(q[key], n[key], "fp4-dq %s == nf4-dq's" % key)
    equal(q["codes"], qn.quantize(w, "fp4")["codes"], "fp4-dq codes use the exact absmax")
    absmax = qn.dequantize_absmax(q["absmax_codes"], q["double_quant_scales"],
                                  q["double_quant_offset"])
    expected = (qn.fp4_codes()[q["codes"]] * np.repeat(absmax, 64, axis=1)).astype(F32)
    equal(qn.dequantize(q), expected, "fp4-dq dequantized = FP4[code] * decoded absmax")
    for scheme in ("fp4", "fp4-dq", "llm-int8", "llm-int8-t0"):
        w = rng.standard_normal((6, 172)).astype(F32)
        stored = sum(a.nbytes for a in qn.stored_components(qn.quantize(w, scheme)).values())
        equal(stored, qn.theoretical_bytes(6, 172, scheme),
              "%s: stored components' bytes == theoretical_bytes" % scheme)


# --- 2. LLM.int8() -----------------------------------------------------------------------------

def test_weight_rows():
    W = np.zeros((4, 7), F32)
    W[0] = [127.0, 2.5, 3.5, -2.5, -0.5, 0.5, 1.5]     # 127 / 127 = 1: exact ties
    W[2, :4] = [-63.5, 10.0, 0.25, 0.75]                 # 127 / 63.5 = 2
    W[3, :2] = [1.0, np.nextafter(F32(5.5) / F32(127), F32(0))]   # see below
    CB, SCB, s = li.quantize_weight_rows(W)
    equal(CB.dtype, np.dtype(np.int8), "CB is int8")
    equal(CB[0], [127, 2, 4, -2, 0, 0, 2], "CB: round half to even (2.5, 3.5, -2.5, +-0.5)")
    equal(CB[1], np.zeros(7), "CB: SCB == 0 row is zero")
    equal(CB[2, :4], [-127, 20, 0, 2], "CB: -absmax -> -127, 0.5 -> 0, 1.5 -> 2")
    equal(SCB, [127.0, 0.0, 63.5, 1.0], "SCB = max |w| per row")
    equal(s, [1.0, 0.0, 0.5, F32(1) / F32(127)], "s = SCB / 127 in float32")
    # w = the float32 below f32(5.5 / 127): w * 127 = 5.4999995 -> 5 (bitsandbytes multiplies
    # by 127 / SCB); quant_numpy's int8 divides by s = f32(1 / 127): 5.5 -> 6 (half to even).
    # The two rules differ on near-ties (none among stories260K's 226560 projection weights).
    equal(CB[3, :2], [127, 5], "CB: w * (127 / SCB), not w / s")
    equal(qn.quantize(W, "int8")["codes"][3, 1] - 128, 6, "int8 (w / s) gives 6 there")
    q = qn.quantize(W, "llm-int8")
    equal(q["codes"], CB.astype(np.int32) + 128, "quant_numpy llm-int8 codes = CB + 128")
    equal(q["scales"], s[:, None], "quant_numpy llm-int8 scales = s")
    equal(qn.dequantize(q), (CB.astype(F32) * s[:, None]).astype(F32), "llm-int8 w' = CB * s")
    equal(li.dequantize_weight_rows(CB, s), qn.dequantize(q), "dequantize_weight_rows")
    sizes = qn.theoretical_bytes(64, 172, "llm-int8"), qn.theoretical_bytes(64, 172, "int8")
    equal(sizes, (64 * 172 + 64 * 4,) * 2, "llm-int8 bytes: 1 per weight + a float32 per row")
    for text, threshold in (("llm-int8", 6.0), ("llm-int8-t0", 0.0), ("llm-int8-t3.5", 3.5),
                            ("llm-int8-t12", 12.0)):
        s_ = qn.parse_scheme(text)
        check((s_.kind, s_.bits, s_.outlier_threshold) == ("llm-int8", 8, threshold),
              "parse_scheme(%r): threshold %g" % (text, threshold))
    for bad in ("llm-int8-t", "llm-int8-t-1", "llm-int8-g64", "llm-int4", "fp4-g64", "fp8"):
        try:
            qn.parse_scheme(bad)
            check(False, "parse_scheme(%r) rejected" % bad)
        except qn.SchemeError:
            check(True, "parse_scheme(%r) rejected" % bad)


# Two tokens, threshold 6: row 0 crosses at column 1 (7.0), row 1 at column 3 (-6.0, equality,
# negative). Row 1's 4.0 in outlier column 1 is not an outlier element: it is row 1's absmax.
X_HAND = np.array([[1.0, 7.0, -2.0, 0.5],
                   [1.0, 4.0, 0.25, -6.0]], F32)
# Weights with SCB = 127: s = 1 and CB = W.
W_HAND = np.array([[127.0, 1.0, 2.0, -3.0],
                   [-4.0, 10.0, 0.0, 127.0]], F32)


def test_activations():
    CA, SCA, cols = li.quantize_activations(X_HAND, 6.0)
    equal(cols, [1, 3], "outlier columns: |x| >= 6 (7.0, and -6.0 exactly)")
    equal(SCA, [2.0, 4.0], "SCA: outlier elements excluded, the rest of an outlier column kept")
    # Row 0: 127 / 2 = 63.5: 1 -> 63.5 -> 64 (half to even), -2 -> -127. Row 1: 127 / 4 = 31.75:
    # 1 -> 31.75 -> 32, 0.25 -> 7.9375 -> 8. Columns 1 and 3 zero in both rows.
    equal(CA, [[64, 0, -127, 0], [32, 0, 8, 0]], "CA by hand, outlier columns zeroed")
    equal(CA.dtype, np.dtype(np.int8), "CA is int8")
    below = np.nextafter(F32(6), F32(0))
    _, _, cols = li.quantize_activations(np.array([[below, -below, 6.0, -6.0]], F32), 6.0)
    equal(cols, [2, 3], "threshold: |x| == t is an outlier, just below is not")
    CA0, SCA0, cols0 = li.quantize_activations(X_HAND, 0.0)
    equal(cols0, np.zeros(0), "t = 0: no outlier columns")
    equal(SCA0, [7.0, 6.0], "t = 0: SCA over the whole row")
    expected = np.rint((X_HAND * (F32(127) / SCA0)[:, None]).astype(F32))
    equal(CA0, expected.astype(np.int8), "t = 0: CA = rint(x * (127 / SCA))")
    # Ties in CA: SCA = 127/32 (exact), 127 / SCA = 32; x * 32 = 2.5, 3.5, -2.5, 0.5, -1.5.
    x = np.array([[127 / 32, 2.5 / 32, 3.5 / 32, -2.5 / 32, 0.5 / 32, -1.5 / 32]], F32)
    for t in (0.0, 6.0):
        CA, SCA, _ = li.quantize_activations(x, t)
        equal(SCA, [127 / 32], "tie row: SCA = 127/32 (t = %g)" % t)
        equal(CA, [[127, 2, 4, -2, 0, -2]], "CA: round half to even (t = %g)" % t)
    # SCA == 0: a zero row, and a row whose only non-zeros are outliers.
    x = np.array([[0.0, 0.0, 0.0], [0.0, -8.0, 0.0], [1.0, 2.0, 3.0]], F32)
    with np.errstate(all="raise"):
        CA, SCA, cols = li.quantize_activations(x, 6.0)
    equal(SCA, [0.0, 0.0, 3.0], "SCA == 0 for a zero row and an outliers-only row")
    equal(CA, [[0, 0, 0], [0, 0, 0], [42, 0, 127]], "SCA == 0 rows are zero (col 1 outlier)")


def float_matmul(X, CB, s):
    """X @ (CB * s)^T in float64, rounded to float32."""
    return (X.astype(F64) @ li.dequantize_weight_rows(CB, s).astype(F64).T).astype(F32)


def test_matmul_hand():
    CB, SCB, s = li.quantize_weight_rows(W_HAND)
    equal(CB, W_HAND.astype(np.int8), "hand weights: CB = W (SCB = 127)")
    equal(s, [1.0, 1.0], "hand weights: s = 1")
    Y, cols = li.matmul(X_HAND, CB, s, 6.0)
    equal(cols, [1, 3], "matmul returns the outlier columns")
    # acc = CA @ CB^T: [64, 0, -127, 0] . [127, 1, 2, -3] = 8128 - 254 = 7874, . [-4, 10, 0,
    # 127] = -256; [32, 0, 8, 0]: 4064 + 16 = 4080, -128.
    acc = np.array([[7874, -256], [4080, -128]])
    equal(li.int8_accumulate(*li.quantize_activations(X_HAND, 6.0)[:1], CB), acc, "acc by hand")
    # Outlier part: columns 1, 3: 7 * 1 + 0.5 * -3 = 5.5, 7 * 10 + 0.5 * 127 = 133.5;
    # 4 * 1 + -6 * -3 = 22, 4 * 10 + -6 * 127 = -722.
    outlier = np.array([[5.5, 133.5], [22.0, -722.0]])
    row_scale = (np.array([2.0, 4.0], F32) / F32(127)).astype(F32)
    first = ((acc.astype(F32) * row_scale[:, None]).astype(F32) * s[None, :]).astype(F32)
    equal(Y, (first.astype(F64) + outlier).astype(F32), "Y by hand (t = 6)")
    ref = float_matmul(X_HAND, CB, s)
    check(np.all(np.abs(Y - ref) <= 0.02 * np.abs(ref).max()), "hand Y near the float matmul")
    y1, cols1 = li.matmul(X_HAND[0], CB, s, 6.0)
    equal(cols1, [1], "one token: its own outlier columns only")
    equal(y1, li.matmul(X_HAND[:1], CB, s, 6.0)[0][0], "a 1-D x equals its [1, k] row")


def test_matmul_cases():
    rng = np.random.default_rng(21)
    W = rng.standard_normal((24, 40)).astype(F32)
    CB, _, s = li.quantize_weight_rows(W)
    X = rng.uniform(-5.9, 5.9, (6, 40)).astype(F32)
    Y6, c6 = li.matmul(X, CB, s, 6.0)
    Y0, c0 = li.matmul(X, CB, s, 0.0)
    equal(c6, np.zeros(0), "no |x| >= 6: no outlier columns")
    equal(Y6, Y0, "no outliers: t = 6 gives exactly the t = 0 result")
    Xz = X.copy()
    Xz[1] = 0
    for t in (0.0, 6.0):
        with np.errstate(all="raise"):
            Yz, _ = li.matmul(Xz, CB, s, t)
        equal(Yz[1], np.zeros(24, F32), "a zero token gives a zero output row (t = %g)" % t)
    # Every column an outlier (one token crosses everywhere): CA = 0, Y = the float matmul.
    Xa = X.copy()
    Xa[2] = np.where(np.arange(40) % 2, F32(9.0), F32(-6.0))
    CA, SCA, cols = li.quantize_activations(Xa, 6.0)
    equal(cols, np.arange(40), "every column an outlier")
    equal(CA, np.zeros_like(CA), "every column an outlier: CA all zero")
    equal(SCA[2], F32(0), "the all-outlier token: SCA 0")
    Ya, _ = li.matmul(Xa, CB, s, 6.0)
    equal(Ya, float_matmul(Xa, CB, s), "every column an outlier: Y = X @ (CB s)^T in float")
    # One column crosses in one token only: that column is float for every token.
    Xo = X.copy()
    Xo[4, 7] = F32(-30.0)
    Yo, co = li.matmul(Xo, CB, s, 6.0)
    equal(co, [7], "a negative outlier in one token: column 7")
    keep = np.delete(np.arange(40), 7)
    CAk, SCAk, _ = li.quantize_activations(Xo[:, keep], 0.0)
    acc = li.int8_accumulate(CAk, CB[:, keep])
    expected = (((acc.astype(F32) * (SCAk / F32(127)).astype(F32)[:, None]).astype(F32)
                 * s[None, :]).astype(F32).astype(F64)
                + np.outer(Xo[:, 7].astype(F64), li.dequantize_weight_rows(CB, s)[:, 7]))
    # The other tokens' values in column 7 are below their absmax here, so dropping the column
    # from the int8 part changes no SCA but token 4's.
    SCAo = li.quantize_activations(Xo, 6.0)[1]
    equal(SCAo, np.abs(np.where(np.abs(Xo) >= 6, 0, Xo)).max(axis=1),
          "SCA counts column 7's non-outlier values")
    if np.array_equal(SCAo, SCAk):
        equal(Yo, expected.astype(F32), "column 7 in float, the rest int8 (every token)")
    else:
        check(False, "test data: column 7 held a row absmax")
    # Overflow guard: 127 * 127 * k > 2^31 - 1 for k = 133200.
    k = 133200
    try:
        li.int8_accumulate(np.full((1, k), 127, np.int8), np.full((1, k), 127, np.int8))
        check(False, "int32 overflow detected")
    except OverflowError:
        check(True, "int32 overflow detected")
    equal(li.int8_accumulate(np.full((1, 133000), 127, np.int8),
                             np.full((1, 133000), -127, np.int8)), [[-127 * 127 * 133000]],
          "int32 accumulation fits for k = 133000")


def test_injected_outliers():
    rng = np.random.default_rng(5)
    m, k, n = 32, 256, 64
    X = rng.standard_normal((m, k)).astype(F32)
    columns = [3, 77, 200]
    X[:, columns] = np.where(rng.random((m, 3)) < 0.5, F32(-20.0), F32(20.0))
    # W exactly representable (integers / 128, a +-127 in every row: SCB = 127/128, s = 1/128),
    # so that X W^T differs from Y by the activation quantization only.
    CB_W = rng.integers(-127, 128, (n, k))
    CB_W[np.arange(n), rng.integers(0, k, n)] = 127
    W = (CB_W / 128.0).astype(F32)
    CB, _, s = li.quantize_weight_rows(W)
    equal(li.dequantize_weight_rows(CB, s), W, "test weights are exactly representable")
    exact = X.astype(F64) @ W.astype(F64).T
    Y6, c6 = li.matmul(X, CB, s, 6.0)
    Y0, _ = li.matmul(X, CB, s, 0.0)
    equal(c6, columns, "injected outlier columns found")
    e6, e0 = np.linalg.norm(Y6 - exact), np.linalg.norm(Y0 - exact)
    check(e6 < e0 / 5, "injected outliers: ||Y(t=6) - XW^T|| = %.4f < ||Y(t=0) - XW^T|| / 5 = "
          "%.4f" % (e6, e0 / 5))
    # Random weights: against the original float W, the weights' own rounding (amplified 20x
    # on the outlier columns) bounds the gain; against the dequantized weights it is as large.
    W = (rng.standard_normal((n, k)) * 0.05).astype(F32)
    CB, _, s = li.quantize_weight_rows(W)
    Y6, Y0 = li.matmul(X, CB, s, 6.0)[0], li.matmul(X, CB, s, 0.0)[0]
    dequantized = float_matmul(X, CB, s)
    e6, e0 = np.linalg.norm(Y6 - dequantized), np.linalg.norm(Y0 - dequantized)
    check(e6 < e0 / 5, "random W: ||Y(t=6) - X(CB s)^T|| = %.4f < ||Y(t=0) - X(CB s)^T|| / 5 "
          "= %.4f" % (e6, e0 / 5))
    exact = X.astype(F64) @ W.astype(F64).T
    e6, e0 = np.linalg.norm(Y6 - exact), np.linalg.norm(Y0 - exact)
    ew = np.linalg.norm(dequantized - exact)
    check(e6 < e0 and e6 < 1.1 * ew, "random W against XW^T: t = 6 error %.4f < t = 0's %.4f, "
          "about the weight rounding's %.4f" % (e6, e0, ew))


# --- 3. llama2c_numpy ----------------------------------------------------------------------------

def tiny_checkpoint(rng, dim=16, hidden=24, layers=2, heads=4, kv_heads=2, vocab=32, seq=24):
    hs = dim // heads
    kv = kv_heads * hs
    shapes = [("token_embedding", (vocab, dim)), ("rms_att", (layers, dim)),
              ("wq", (layers, dim, dim)), ("wk", (layers, kv, dim)), ("wv", (layers, kv, dim)),
              ("wo", (layers, dim, dim)), ("rms_ffn", (layers, dim)),
              ("w1", (layers, hidden, dim)), ("w2", (layers, dim, hidden)),
              ("w3", (layers, hidden, dim)), ("rms_final", (dim,)),
              ("freq_cis_real", (seq, hs // 2)), ("freq_cis_imag", (seq, hs // 2))]
    arrays = {}
    for name, shape in shapes:
        if name.startswith("rms"):
            arrays[name] = (1.0 + 0.2 * rng.standard_normal(shape)).astype(F32)
        else:
            arrays[name] = (0.3 * rng.standard_normal(shape)).astype(F32)
    # Channels that make large activations (LLM.int8()'s outlier features): large norm weights.
    arrays["rms_att"][:, 5] = 8.0
    arrays["rms_ffn"][:, 9] = 8.0
    header = struct.pack("<7i", dim, hidden, layers, heads, kv_heads, vocab, seq)
    raw = header + b"".join(arrays[name].astype("<f4").tobytes() for name, _ in shapes)
    return raw


def test_llama2c_integration():
    rng = np.random.default_rng(9)
    raw = tiny_checkpoint(rng)
    tokens = [1, 5, 9, 3, 30, 7, 2, 11, 17, 4, 22, 8]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tiny.bin")
        with open(path, "wb") as f:
            f.write(raw)
        ckpt = llama2c_numpy.Checkpoint(path)
        float_wq = ckpt.wq.copy()
        embedding = ckpt.token_embedding.copy()
        llama2c_numpy.quantize_projections(ckpt, "llm-int8")
        state = ckpt.llm_int8
        check(state.threshold == 6.0, "llm-int8: threshold 6")
        CB, s = state.weights["wq"][1]
        CB1, _, s1 = li.quantize_weight_rows(float_wq[1])
        equal(CB, CB1, "llm-int8: CB of wq, layer 1")
        equal(s, s1, "llm-int8: s of wq, layer 1")
        equal(ckpt.wq[1], li.dequantize_weight_rows(CB, s), "llm-int8: ckpt.wq = CB * s")
        equal(ckpt.token_embedding, embedding, "llm-int8: embedding untouched")
        model = llama2c_numpy.Model(ckpt)
        logits = llama2c_numpy.forward_sequence(model, tokens)
        calls = state.calls
        check(all(len(calls[n]) == 2 for n in llama2c_numpy.PROJECTIONS),
              "forward_sequence: one matmul call per projection per layer")
        total = sum(c for n in llama2c_numpy.PROJECTIONS for c, _ in calls[n])
        check(total > 0, "the tiny model has outlier columns (%d)" % total)
        # The same by hand for layer 0's wq: the normed embeddings of every token at once.
        c = ckpt
        x = c.token_embedding[tokens]
        xb = (c.rms_att[0] * ((F32(1) / np.sqrt(np.mean(x * x, axis=-1, keepdims=True,
                                                        dtype=F32) + F32(1e-5))) * x))
        cols = li.outlier_columns(xb.astype(F32), 6.0)
        equal(calls["wq"][0], (len(cols), 16), "wq call 0: its outlier count over all tokens")
        summary = state.summary()
        k_total = 2 * (16 * 6 + 24)
        check(summary[0] == "outlier columns: %d of %d (%.3f%%) over 14 matmuls"
              % (total, k_total, 100.0 * total / k_total), "summary line: " + summary[0])
        check(len(summary) == 8 and summary[6].startswith("  w2: mean "), "per projection lines")

        # Chunks of 1 token: the same outlier decisions as token-by-token decoding.
        chunked = llama2c_numpy.Model(ckpt, chunk=1)
        state.calls = {n: [] for n in llama2c_numpy.PROJECTIONS}
        seq1 = llama2c_numpy.forward_sequence(chunked, tokens)
        seq_calls = {n: list(v) for n, v in state.calls.items()}
        check(all(len(v) == 2 * len(tokens) for v in seq_calls.values()),
              "--chunk 1: one call per token per projection per layer")
        state.calls = {n: [] for n in llama2c_numpy.PROJECTIONS}
        stepper = llama2c_numpy.Model(ckpt)
        steps = np.stack([stepper.forward(t, pos) for pos, t in enumerate(tokens)])
        # forward orders the calls token-major, forward_sequence layer-major: compare sorted.
        check(all(sorted(seq_calls[n]) == sorted(state.calls[n]) for n in seq_calls),
              "--chunk 1: the outlier counts of token-by-token decoding")
        check(np.allclose(seq1, steps, rtol=0, atol=2e-4 * np.abs(steps).max()),
              "--chunk 1 logits == token-by-token logits (max diff %.2e)"
              % np.abs(seq1 - steps).max())
        chunk5 = llama2c_numpy.Model(ckpt, chunk=5)
        state.calls = {n: [] for n in llama2c_numpy.PROJECTIONS}
        llama2c_numpy.forward_sequence(chunk5, tokens)
        check(all(len(v) == 2 * 3 for v in state.calls.values()), "--chunk 5: 12 rows, 3 calls")
        check(not np.array_equal(seq1, logits), "chunking changes the llm-int8 result here")
        # t = 0: row-wise, so chunking changes nothing but float rounding.
        ckpt0 = llama2c_numpy.Checkpoint(path)
        llama2c_numpy.quantize_projections(ckpt0, "llm-int8-t0")
        whole = llama2c_numpy.forward_sequence(llama2c_numpy.Model(ckpt0), tokens)
        per = llama2c_numpy.forward_sequence(llama2c_numpy.Model(ckpt0, chunk=1), tokens)
        check(np.allclose(whole, per, rtol=0, atol=1e-5 * np.abs(whole).max()),
              "llm-int8-t0: chunking changes nothing (row-wise activations)")
        check(sum(c for v in ckpt0.llm_int8.calls.values() for c, _ in v) == 0,
              "llm-int8-t0: no outlier columns")
        # The float path with chunks equals the whole-sequence one.
        ckptf = llama2c_numpy.Checkpoint(path)
        whole = llama2c_numpy.forward_sequence(llama2c_numpy.Model(ckptf), tokens)
        per = llama2c_numpy.forward_sequence(llama2c_numpy.Model(ckptf, chunk=5), tokens)
        check(np.allclose(whole, per, rtol=0, atol=1e-5 * np.abs(whole).max()),
              "fp32: chunking changes nothing")

        # The CLI.
        def cli(*args):
            r = subprocess.run([sys.executable, os.path.join(HERE, "llama2c_numpy.py"), path,
                                "--no-tokenizer"] + list(args), capture_output=True, text=True)
            return r.returncode, r.stdout, r.stderr
        out = os.path.join(tmp, "logits.npy")
        ids = ",".join(map(str, tokens))
        rc, stdout, stderr = cli("--all-logits", ids, "--out", out, "--quant", "llm-int8",
                                 "--outlier-stats")
        check(rc == 0 and stdout.splitlines()[0] == summary[0],
              "CLI --outlier-stats prints the summary line\n" + stdout + stderr)
        equal(np.load(out), logits, "CLI --all-logits --quant llm-int8 == forward_sequence")
        rc, stdout, stderr = cli("--all-logits", ids, "--out", out, "--quant", "llm-int8",
                                 "--chunk", "1")
        equal(np.load(out), seq1, "CLI --chunk 1")
        rc, _, stderr = cli("--all-logits", ids, "--out", out, "--outlier-stats")
        check(rc == 2 and "--outlier-stats needs" in stderr, "--outlier-stats without llm-int8")
        rc, _, stderr = cli("--all-logits", ids, "--out", out, "--chunk", "0")
        check(rc == 2, "--chunk 0 rejected")

    import quant_perplexity_table as table
    shapes = types.SimpleNamespace(**{n: np.zeros((2, 64, 172), F32)
                                      for n in llama2c_numpy.PROJECTIONS})
    bits = table.bits_per_weight(shapes, "llm-int8")
    check(math.isclose(bits, 8 + 32 / 172), "table: llm-int8 = 8 + 32/cols bits (%.4f)" % bits)
    check(table.bits_per_weight(shapes, "fp4") == table.bits_per_weight(shapes, "nf4"),
          "table: fp4 bits == nf4 bits")


def test_blob_checker():
    """check_quantized_blobs.py on fp4, fp4-dq and llm-int8 blobs from quant_numpy itself."""
    import test_quant_numpy as tq
    rng = np.random.default_rng(13)
    name = "model.layers.0.mlp.up_proj.MatMul.weight"
    w = (rng.standard_normal((64, 172)) * 0.05).astype(F32)   # [in, out], as ONNX stores it
    with tempfile.TemporaryDirectory() as tmp:
        float_path = os.path.join(tmp, "float.mlir")
        with open(float_path, "w") as f:
            f.write(tq.mlir_text([(name, w, 64)], {name: "64x172xf32"}))
        for scheme in ("fp4", "fp4-dq", "llm-int8"):
            comps = qn.stored_components(qn.quantize(w.T, scheme))
            path = os.path.join(tmp, "%s.mlir" % scheme)
            with open(path, "w") as f:
                f.write(tq.mlir_text([("%s.%s" % (name, c), a, 4) for c, a in comps.items()],
                                     {}))
            rc, out = tq.run_checker(path, float_path, "--scheme", scheme, "--float-layout",
                                     "in-out")
            check(rc == 0, "checker: %s blobs identical\n%s" % (scheme, out))
            if scheme == "llm-int8":
                scales = comps["scales"].copy()
                scales[3, 0] ^= 1
                comps["scales"] = scales
                with open(path, "w") as f:
                    f.write(tq.mlir_text([("%s.%s" % (name, c), a, 4)
                                          for c, a in comps.items()], {}))
                rc, out = tq.run_checker(path, float_path, "--scheme", scheme,
                                         "--float-layout", "in-out")
                check(rc == 1 and "[3, 0] scale" in out, "checker: llm-int8 scale change\n"
                      + out)


def main():
    return run_checks((test_fp4_table, test_fp4_round_trip, test_fp4_pivots,
                       test_fp4_zeros_and_blocks, test_fp4_reciprocal,
                       test_fp4_second_formulation, test_fp4_double_quant, test_weight_rows,
                       test_activations, test_matmul_hand, test_matmul_cases,
                       test_injected_outliers, test_llama2c_integration, test_blob_checker),
                      "bitsandbytes (fp4, llm-int8)")


if __name__ == "__main__":
    sys.exit(main())
