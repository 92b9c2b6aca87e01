#!/usr/bin/python3
"""Self-test of gptq_numpy.py: prints one line per check, exits 1 on the first failure.

  test_gptq_numpy.py

1. find_params / quant on hand-computed groups (ties, the symmetric and zero-range rules, the
   float32 / float16 rounding of the scale).
2. gptq against a closed-form sequential OBS solver written here (no Cholesky of H^-1, no lazy
   batches): after columns P = 0..j-1 are quantized, the remaining weights F = j.. are
   w_F + H_FF^-1 H_FP (w_P - q_P), the minimiser of the H-weighted error with q_P fixed.
3. The loss identity loss == trace(e H' e^T) / 2 (e = dead-zeroed W - dequantized, H' the damped
   H), which ties codes, scales, zero points, g_idx and perm together.
4. H = I gives rtn's codes; block size independence (and the stale-W quirk of in-block groups);
   GPTQ beats rtn; dead columns; act order / g_idx; static groups; the damp retry; clip search;
   rtn against quant_numpy.quantize.
"""

import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gptq_numpy as gq  # noqa: E402
import quant_numpy as qn  # noqa: E402

F64 = np.float64


def check(condition, what):
    if not condition:
        print("FAIL: " + what)
        sys.exit(1)
    print("ok: " + what)


def same(got, expected):
    got, expected = np.asarray(got), np.asarray(expected)
    return got.shape == expected.shape and np.array_equal(got, expected)


def problem(seed, rows=32, cols=64, n=512, dead=()):
    """W [rows, cols] float32 and H = 2/n X^T X for correlated inputs X = Z @ M."""
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((rows, cols)).astype(np.float32)
    M = rng.standard_normal((cols, cols)) * 0.3 + np.eye(cols)
    X = rng.standard_normal((n, cols)) @ M
    X[:, list(dead)] = 0.0
    return W, gq.hessian(X)


def damped(H, damp, perm=None):
    """The H of step 5 in ORIGINAL column order: dead diag -> 1, + damp I."""
    H = np.array(H, F64)
    dead = np.diag(H) == 0
    H[dead, dead] = 1.0
    return H + damp * np.eye(H.shape[0])


def dead_zeroed(W, H):
    W = np.array(W, F64)
    W[:, np.diag(H) == 0] = 0.0
    return W


def loss_identity(W, H, r, bits, what):
    e = dead_zeroed(W, H) - gq.dequantize_gptq(r, bits).astype(F64)
    expected = gq.output_error(e, np.zeros_like(e), damped(H, r["damp"]))
    check(np.isfinite(r["loss"]) and abs(r["loss"] - expected) <= 1e-9 * max(1.0, expected),
          "%s: loss %.12g == trace(e H' e^T)/2 %.12g" % (what, r["loss"], expected))


def naive_gptq(W, H, bits, group_size, symmetric, damp_percent=0.01, scale_dtype="f16"):
    """Closed-form sequential OBS, no act order / static groups / clip search. Group params are
    found on the current optimal remaining weights at each group start (block size 1)."""
    rows, cols = W.shape
    W0 = dead_zeroed(W, H)
    Hd = np.array(H, F64)
    dead = np.diag(Hd) == 0
    Hd[dead, dead] = 1.0
    Hd += damp_percent * np.mean(np.diag(Hd)) * np.eye(cols)
    if group_size == -1:
        P = gq.find_params(np.asarray(W, F64), bits, symmetric, scale_dtype)
    q = np.zeros((rows, cols))
    deq = np.zeros((rows, cols))
    for j in range(cols):
        Pc, Fc = np.arange(j), np.arange(j, cols)
        cur = W0[:, Fc] + np.linalg.solve(Hd[np.ix_(Fc, Fc)],
                                          Hd[np.ix_(Fc, Pc)] @ (W0[:, Pc] - deq[:, Pc]).T).T
        if group_size != -1 and j % group_size == 0:
            P = gq.find_params(cur[:, :group_size], bits, symmetric, scale_dtype)
        s, z = P
        q[:, j] = gq.quant(cur[:, :1], s, z, bits)[:, 0]
        deq[:, j] = s * (q[:, j] - z)
    return q.astype(np.int32)


def test_find_params():
    s, z = gq.find_params([[-1.0, 0.5, 2.0]], 4, False, "f32")
    # scale = f32(3/15) = 0.2000000030; zero = rint(1/0.2000000030) = rint(4.99999993) = 5;
    # codes: rint(-4.99999993) + 5 = 0, rint(2.49999996) + 5 = 7, rint(9.99999985) + 5 = 15
    check(s[0] == F64(np.float32(0.2)) and z[0] == 5
          and same(gq.quant(np.array([[-1.0, 0.5, 2.0]]), s, z, 4), [[0, 7, 15]]),
          "asym 4-bit f32 [-1, 0.5, 2]: scale f32(0.2), zero 5, codes [0, 7, 15]")
    s, z = gq.find_params([[-1.0, 0.5, 2.0]], 4, True, "f32")
    # hi = 2, lo = -2, scale = f32(4/15) = 0.26666668 (> 4/15), zero 8;
    # codes: rint(-3.75) + 8 = 4, rint(1.875) + 8 = 10, rint(7.4999996) + 8 = 15
    check(s[0] == F64(np.float32(4 / 15)) and z[0] == 8
          and same(gq.quant(np.array([[-1.0, 0.5, 2.0]]), s, z, 4), [[4, 10, 15]]),
          "sym 4-bit f32 [-1, 0.5, 2]: scale f32(4/15), zero 8, codes [4, 10, 15]")
    x = np.array([[-1.5, 0.25, 0.75, 6.0]])
    s, z = gq.find_params(x, 4, False, "f16")
    # range 7.5 / 15 = 0.5 exactly; zero = rint(3) = 3; 0.25/0.5 = 0.5 -> 0 (ties to even),
    # 0.75/0.5 = 1.5 -> 2
    check(s[0] == 0.5 and z[0] == 3 and same(gq.quant(x, s, z, 4), [[0, 3, 5, 15]]),
          "asym 4-bit exact scale 0.5: zero 3, ties to even, codes [0, 3, 5, 15]")
    s, z = gq.find_params(np.zeros((1, 5)), 4, False, "f16")
    # lo = -1, hi = 1: scale = f16(2/15) = 0.13330078 (< 2/15), zero = rint(7.5018) = 8
    check(s[0] == F64(np.float16(2 / 15)) and z[0] == 8,
          "all-zero row asym f16: scale f16(2/15), zero 8")
    s, z = gq.find_params(np.zeros((1, 5)), 4, False, "f32")
    # f32(2/15) = 0.13333334 (> 2/15): -lo / scale = 7.4999996 -> 7
    check(s[0] == F64(np.float32(2 / 15)) and z[0] == 7,
          "all-zero row asym f32: scale f32(2/15), zero 7 (1/scale just below 7.5)")
    x = np.array([[0.5, 1.5, 3.0]])
    s, z = gq.find_params(x, 4, True, "f32")
    # lo stays 0: scale = f32(3/15), zero 8, codes 8 + [2, 7, 15] clipped -> [10, 15, 15]
    check(s[0] == F64(np.float32(0.2)) and z[0] == 8
          and same(gq.quant(x, s, z, 4), [[10, 15, 15]]),
          "all-positive sym row: scale max/15 (lo stays 0), zero 8, codes [10, 15, 15]")
    x = np.array([[-4.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    s, z = gq.find_params(x, 3, True, "f32")
    # row 0: hi = 4, lo = -4, scale 8/7; row 1: lo = -1, hi = 1 (lo < 0 after the zero rule)
    check(same(s, [F64(np.float32(8 / 7)), F64(np.float32(2 / 7))]) and same(z, [4, 4]),
          "sym 3-bit rows: scales f32(8/7), f32(2/7), zero 4")
    x = np.array([[-3.0, 0.0, 1.0, 30.0]])
    s, z = gq.find_params(x, 2, False, "bf16")
    # (30 + 3) / 3 = 11 exactly (bf16 holds 11); zero = rint(3/11) = 0
    check(s[0] == 11.0 and z[0] == 0 and same(gq.quant(x, s, z, 2), [[0, 0, 0, 3]]),
          "asym 2-bit bf16: scale 11, zero 0, codes [0, 0, 0, 3]")
    # clip search: the top value sits just above an evenly spaced run; shrinking the range
    # to the run (p = 0.94 -> scale 0.2215714) lowers the error of the others
    x = np.array([[0.05, 0.3, 0.55, 0.8, 1.05, 1.3, 1.55, 1.65]])
    s0, z0 = gq.find_params(x, 3, False, "f32")
    s1, z1 = gq.find_params(x, 3, False, "f32", clip_search=True)
    e0 = np.sum((gq.dequant(gq.quant(x, s0, z0, 3), s0, z0) - x) ** 2)
    e1 = np.sum((gq.dequant(gq.quant(x, s1, z1, 3), s1, z1) - x) ** 2)
    grid = []
    for i in range(80):
        p = 1 - i / 100
        si = F64(np.float32(p * 1.65 / 7))
        zi = np.clip(np.rint(0.0 / si), 0, 7)
        qi = np.clip(np.rint(x / si) + zi, 0, 7)
        grid.append((np.sum((si * (qi - zi) - x) ** 2), i, si))
    best = min(grid)  # ties: the lowest i, as "strictly smaller replaces"
    check(s1[0] == best[2] and abs(e1 - best[0]) < 1e-12 and e1 < e0,
          "clip search on an outlier row: the grid minimum (i=%d), error %.4f < %.4f"
          % (best[1], e1, e0))
    # clip search weights: a zero-weighted column is ignored
    # with only the last column weighted, the unshrunk range (which holds 1.65 exactly as
    # code 7) is optimal; with all weight on the first column (0.05), the shrink that best
    # represents 0.05 wins
    c = np.array([0, 0, 0, 0, 0, 0, 0, 1.0])
    s2, _ = gq.find_params(x, 3, False, "f32", clip_search=True, weights=c)
    c = np.array([1, 0, 0, 0, 0, 0, 0, 0.0])
    s3, _ = gq.find_params(x, 3, False, "f32", clip_search=True, weights=c)
    errs = [abs(F64(np.float32((1 - i / 100) * 1.65 / 7)) * np.clip(np.rint(
        0.05 / F64(np.float32((1 - i / 100) * 1.65 / 7))), 0, 7) - 0.05) for i in range(80)]
    check(s2[0] == s0[0] and s3[0] == F64(np.float32((1 - np.argmin(errs) / 100) * 1.65 / 7)),
          "clip search weights: a zero-weighted column is ignored (weights e7: unshrunk; "
          "e0: i=%d)" % np.argmin(errs))
    s4, z4 = gq.find_params(np.zeros((1, 4)), 4, False, "f16", clip_search=True)
    check(s4[0] == F64(np.float16(2 / 15)) and z4[0] == 8,
          "clip search on an all-zero row: every shrink has error 0, the tie keeps i = 0")


def test_identity_h():
    W, _ = problem(1, rows=16, cols=48)
    for bits, G, sym in ((4, 16, False), (3, -1, True), (2, 32, True), (8, 16, False)):
        for act in (False, True):
            r = gq.gptq(W, np.eye(48), bits, G, sym, act_order=act)
            t = gq.rtn(W, bits, G, sym)
            check(same(r["codes"], t["codes"]) and same(r["scales"], t["scales"])
                  and same(r["zero_points"], t["zero_points"]),
                  "H = I, %d-bit G=%d sym=%s act_order=%s: codes/scales/zeros == rtn"
                  % (bits, G, sym, act))


def test_naive():
    for seed, bits, G, sym in ((2, 4, -1, False), (3, 3, -1, True), (4, 4, 16, False),
                               (5, 2, 8, True), (6, 8, 16, False)):
        W, H = problem(seed, rows=12, cols=40, n=256, dead=(7,))
        ref = naive_gptq(W, H, bits, G, sym)
        r = gq.gptq(W, H, bits, G, sym, block_size=1 if G != -1 else 16)
        check(same(r["codes"], ref),
              "seed %d %d-bit G=%d sym=%s: codes == closed-form sequential OBS"
              % (seed, bits, G, sym))


def test_block_size():
    W, H = problem(7)
    for sym in (False, True):
        runs = [gq.gptq(W, H, 4, -1, sym, block_size=b) for b in (1, 7, 128)]
        check(all(same(r["codes"], runs[0]["codes"]) for r in runs),
              "per channel sym=%s: block sizes 1, 7, 128 give the same codes" % sym)
        runs = [gq.gptq(W, H, 4, 32, sym, block_size=b) for b in (1, 8, 16, 32)]
        check(all(same(r["codes"], runs[0]["codes"]) and same(r["scales"], runs[0]["scales"])
                  for r in runs),
              "G=32 sym=%s: block sizes 1, 8, 16, 32 (dividing G) give the same codes/scales"
              % sym)
    a = gq.gptq(W, H, 4, 32, False, block_size=32)
    b = gq.gptq(W, H, 4, 32, False, block_size=64)
    check(same(a["scales"][:, 0], b["scales"][:, 0]) and not same(a["scales"][:, 1],
                                                                  b["scales"][:, 1]),
          "G=32: block 64 finds group 1's params on W from the block start (stale, differs "
          "from block 32)")
    Wp = dead_zeroed(W, H)
    s, z = gq.find_params(Wp[:, 32:64], 4, False, "f16")
    check(same(b["scales"][:, 1], s.astype(np.float32)) and same(b["zero_points"][:, 1], z),
          "G=32 block 64: group 1's params == find_params of the un-updated W[:, 32:64]")


def test_beats_rtn():
    W, H = problem(8)
    for bits in (2, 3, 4, 8):
        for G in (16, -1):
            for sym in (False, True):
                r = gq.gptq(W, H, bits, G, sym)
                e = gq.output_error(W, gq.dequantize_gptq(r, bits), H)
                e0 = gq.output_error(W, gq.dequantize_gptq(gq.rtn(W, bits, G, sym), bits), H)
                check(e < e0, "%d-bit G=%d sym=%s: GPTQ output error %.5g < rtn %.5g"
                      % (bits, G, sym, e, e0))


def test_loss_identity():
    W, H = problem(9, rows=24, cols=72, dead=(3, 40))
    for kw in (dict(bits=4, group_size=16, symmetric=False),
               dict(bits=3, group_size=-1, symmetric=True),
               dict(bits=4, group_size=16, symmetric=True, act_order=True),
               dict(bits=2, group_size=32, symmetric=False, act_order=True, block_size=16),
               dict(bits=4, group_size=16, symmetric=False, act_order=True, static_groups=True),
               dict(bits=4, group_size=-1, symmetric=False, act_order=True),
               dict(bits=4, group_size=16, symmetric=False, clip_search=True),
               dict(bits=4, group_size=16, symmetric=False, act_order=True, clip_search=True),
               dict(bits=3, group_size=-1, symmetric=True, clip_search=True),
               dict(bits=4, group_size=16, symmetric=False, scale_dtype="bf16", damp_percent=0.1)):
        r = gq.gptq(W, H, **kw)
        loss_identity(W, H, r, kw["bits"], "loss identity %s" % kw)


def test_dead():
    W, H = problem(10, rows=16, cols=48, dead=(5,))
    for sym in (False, True):
        for act in (False, True):
            r = gq.gptq(W, H, 4, 16, sym, act_order=act)
            g = gq.column_groups(r)[5]
            deq = gq.dequantize_gptq(r, 4)
            check(r["dead"] == 1 and same(r["codes"][:, 5], r["zero_points"][:, g])
                  and np.all(deq[:, 5] == 0),
                  "dead column sym=%s act_order=%s: dead 1, code = zero point, dequant 0"
                  % (sym, act))
    r = gq.gptq(W, H, 4, -1, False)
    s, z = gq.find_params(W, 4, False, "f16")  # per channel: params of the ORIGINAL W
    check(same(r["scales"][:, 0], s.astype(np.float32)) and same(r["zero_points"][:, 0], z)
          and np.all(gq.dequantize_gptq(r, 4)[:, 5] == 0),
          "per channel: params from W before dead zeroing, dead column dequant 0")


def test_act_order():
    W, H = problem(11, rows=16, cols=72, dead=(10, 20))
    r = gq.gptq(W, H, 4, 16, False, act_order=True)
    d = np.diag(H).copy()
    d[d == 0] = 1
    perm = r["perm"]
    check(same(np.sort(perm), np.arange(72)) and np.all(np.diff(d[perm]) <= 0),
          "act order: perm is a permutation sorting diag(H) (dead -> 1) descending")
    ties = [k for k in perm if k in (10, 20)]
    check(ties == [10, 20], "act order: equal diagonals (the two dead columns) keep index order")
    check(r["stored_act_order"] and same(np.bincount(r["g_idx"]), [16, 16, 16, 16, 8])
          and same(r["g_idx"][perm], np.arange(72) // 16),
          "act order G=16, 72 cols: g_idx[perm[j]] = j // 16, counts [16, 16, 16, 16, 8]")
    e = gq.output_error(W, gq.dequantize_gptq(r, 4), H)
    check(np.isfinite(e) and np.all((r["codes"] >= 0) & (r["codes"] <= 15)),
          "act order: finite output error %.5g, codes in [0, 15]" % e)
    loss_identity(W, H, r, 4, "act order loss identity (g_idx consistent with codes)")
    # the first group's params are those of the 16 highest-diagonal columns (no updates yet)
    s, z = gq.find_params(dead_zeroed(W, H)[:, perm[:16]], 4, False, "f16")
    check(same(r["scales"][:, 0], s.astype(np.float32)) and same(r["zero_points"][:, 0], z),
          "act order: scales[:, 0] == find_params of the first 16 permuted columns")
    st = gq.gptq(W, H, 4, 16, False, act_order=True, static_groups=True)
    Wp = dead_zeroed(W, H)
    ok = st["g_idx"] is None and not st["stored_act_order"] and st["scales"].shape == (16, 5)
    for g in range(5):
        s, z = gq.find_params(Wp[:, g * 16:(g + 1) * 16], 4, False, "f16")
        ok = ok and same(st["scales"][:, g], s.astype(np.float32)) \
            and same(st["zero_points"][:, g], z)
    check(ok, "static groups + act order: g_idx None, params == find_params of the dead-zeroed "
              "contiguous original groups")
    loss_identity(W, H, st, 4, "static groups + act order loss identity")
    pc = gq.gptq(W, H, 4, -1, True, act_order=True)
    check(pc["g_idx"] is None and not pc["stored_act_order"] and pc["scales"].shape == (16, 1)
          and same(pc["zero_points"], np.full((16, 1), 8)),
          "per channel + act order: no g_idx, one group, symmetric zero points 8")


def test_damp_retry():
    rng = np.random.default_rng(12)
    X = rng.standard_normal((8, 24))            # rank 8 < 24
    H = gq.hessian(X)
    m = np.mean(np.diag(H))
    H = H - 0.05 * m * np.eye(24)               # eigenvalues down to -0.05 m
    check(np.min(np.linalg.eigvalsh(H)) < 0 and np.all(np.diag(H) > 0),
          "non-PD H: a negative eigenvalue, positive diagonal")
    W = rng.standard_normal((8, 24)).astype(np.float32)
    r = gq.gptq(W, H, 4, 8, False)
    m2 = np.mean(np.diag(H))
    check(abs(r["damp"] - 0.1 * m2) <= 1e-12 * m2 and np.isfinite(r["loss"]),
          "non-PD H: damp 0.01 fails, retried with 0.1 * mean diag = %.4g" % r["damp"])
    loss_identity(W, H, r, 4, "non-PD H loss identity (with the retried damp)")
    r = gq.gptq(W, H, 4, 8, False, damp_percent=0.2)
    check(abs(r["damp"] - 0.2 * m2) <= 1e-12 * m2, "non-PD H with damp 0.2: no retry")


def test_clip_search():
    W, H = problem(13, rows=32, cols=64)
    c = np.diag(H)
    for bits, G, sym in ((2, 16, False), (3, 16, True), (4, -1, False), (4, 32, True)):
        a = gq.rtn(W, bits, G, sym)
        b = gq.rtn(W, bits, G, sym, clip_search=True)
        bw = gq.rtn(W, bits, G, sym, clip_search=True, weights=c)
        Wd = W.astype(F64)
        ea = (gq.dequantize_gptq(a, bits) - Wd) ** 2
        eb = (gq.dequantize_gptq(b, bits) - Wd) ** 2
        ew = (gq.dequantize_gptq(bw, bits) - Wd) ** 2
        Gs = 64 if G == -1 else G
        per = lambda e, wt: (e * wt).reshape(32, -1, Gs).sum(-1)  # noqa: E731
        check(np.all(per(eb, 1) <= per(ea, 1)) and np.all(per(ew, c) <= per(ea, c))
              and np.sum(eb) < np.sum(ea),
              "%d-bit G=%d sym=%s: clip search error <= plain in every row-group "
              "(weights 1: %.4g < %.4g; weights diag H too)"
              % (bits, G, sym, np.sum(eb), np.sum(ea)))
        check(gq.output_error(W, gq.dequantize_gptq(b, bits), np.eye(64))
              <= gq.output_error(W, gq.dequantize_gptq(a, bits), np.eye(64)),
              "%d-bit G=%d sym=%s: rtn clip search output error (H = I) <= plain"
              % (bits, G, sym))
    r = gq.gptq(W, H, 3, 16, False, clip_search=True)
    e = gq.output_error(W, gq.dequantize_gptq(r, 3), H)
    e0 = gq.output_error(W, gq.dequantize_gptq(gq.gptq(W, H, 3, 16, False), 3), H)
    check(np.isfinite(e), "GPTQ + clip search 3-bit G=16: output error %.5g (plain %.5g)"
          % (e, e0))


def test_rtn_vs_quant_numpy():
    rng = np.random.default_rng(14)
    W = (rng.standard_normal((16, 96)) * 0.05).astype(np.float32)
    for scheme, G in (("int4-g32", 32), ("int3-g16-asym-bf16", 16), ("int8-asym", -1),
                      ("int4-g16-asym-f32", 16)):
        s = qn.parse_scheme(scheme)
        ref = qn.quantize(W, s)
        r = gq.rtn(W, s.bits, G, False, s.scale_dtype)
        rs = np.asarray(ref["scales"]).astype(np.float32)
        # quant_numpy takes (hi - lo) / maxq in float32, gptq_numpy in float64 then rounds to
        # float32: f32 scales may differ by one ulp; f16 / bf16 scales agree
        ulp = np.abs(r["scales"] - rs) <= (np.spacing(rs) if s.scale_dtype == "f32" else 0)
        check(same(r["codes"], ref["codes"]) and same(r["zero_points"], ref["zero_points"])
              and np.all(ulp),
              "asymmetric rtn == quant_numpy.quantize(%s) (%d scale(s) 1 ulp apart)"
              % (scheme, np.sum(r["scales"] != rs)))


def main():
    t0 = time.time()
    test_find_params()
    test_identity_h()
    test_naive()
    test_block_size()
    test_beats_rtn()
    test_loss_identity()
    test_dead()
    test_act_order()
    test_damp_retry()
    test_clip_search()
    test_rtn_vs_quant_numpy()
    print("all gptq_numpy checks passed (%.1f s)" % (time.time() - t0))


if __name__ == "__main__":
    main()
