#!/usr/bin/python3
"""An independent numpy reference for GPTQ weight quantization (Frantar et al., 2022).

Written from the specification of the GPTQ pass, sharing no code with the C++. W is float32
[rows, cols] (rows = output channels, cols = inputs), H float64 [cols, cols], H = 2/n sum x x^T.
All arithmetic is float64 (W and H are converted at the start); `rint` is round-half-to-even and
stored(s) is s rounded to float32 and then to the scale type (f32 / f16 / bf16, nearest-even,
quant_numpy.stored), kept as the float64 of that value. maxq = 2^bits - 1, half = 2^(bits-1).

find_params(x) for x [rows, k] (one pair per row):
  lo = min(min x, 0), hi = max(max x, 0);
  symmetric: hi = max(|lo|, hi); lo = -hi where lo < 0 (an all-non-negative row keeps lo = 0);
  lo == hi == 0: lo = -1, hi = +1;
  scale = stored((hi - lo) / maxq); zero = half (symmetric) or clip(rint(-lo / scale), 0, maxq).
  clip search (column weights c [k]; all ones unless told): for i in 0..79, p = 1 - i/100, the
  range (p lo, p hi) gives (scale_i, zero_i) as above; err_i = sum_j c_j (dq(q(x_j)) - x_j)^2 per
  row; a row keeps the first i with the smallest err_i (i = 0 is the unshrunk range).
  q(x) = clip(rint(x / scale) + zero, 0, maxq); dq(q) = scale * (q - zero). A scale that
  underflows the scale type to 0 (not covered by the GPTQ rules) follows quant_numpy: zero = 0
  (asymmetric; half when symmetric) and q = zero.

gptq():
  1. per channel (group_size == -1): P0 = find_params(W) on the ORIGINAL W (before step 2).
  2. dead = diag(H) == 0; H[dead, dead] = 1; W[:, dead] = 0.
  3. static groups: params of contiguous original groups [gG, (g+1)G) of the dead-zeroed W.
  4. act order: perm = argsort(-diag(H), stable); W = W[:, perm]; H = H[perm][:, perm].
  5. damp = damp_percent * mean(diag H); H += damp I; Hinv = H^-1 via Cholesky; U = upper
     Cholesky factor of Hinv (Hinv = U^T U). A failed Cholesky multiplies damp_percent by 10 and
     retries from the undamped H, 6 tries at most (then LinAlgError).
  6. blocks [i1, i2) of block_size columns: W1 = W[:, i1:i2] copy, U1 = U[i1:i2, i1:i2]; for
     column j = i1 + i: params (P0; static: group of original column (perm[j] or j) // G;
     otherwise recomputed when j % G == 0 as find_params(W[:, j:j+G]) from W as it stands at
     the START of the block -- the in-block updates live in W1 only, as in the reference code);
     q = q(w), deq = dq(q), loss += sum((w - deq)^2) / U1[i,i]^2 / 2,
     err = (w - deq) / U1[i,i], W1[:, i:] -= err U1[i, i:], Err1[:, i] = err;
     after the block W[:, i2:] -= Err1 U[i1:i2, i2:].
     Clip-search weights are diag of the original H (before dead/damp): of columns j..j+G of
     the permuted order for recomputed groups, of the original columns for P0 / static groups.
  7. codes are returned in the original column order (codes[:, perm[j]] = Q[:, j]). Non-static
     groups under act order: permuted position j is in group j // G, g_idx[perm[j]] = j // G,
     scales[:, g] are the params found at permuted position gG (stored_act_order = True, the
     only case with a g_idx). Otherwise group g = original columns [gG, (g+1)G) (per channel:
     one group). groups = ceil(cols / G), or 1 per channel.

Identity used by the self-test: with e = W' - dq(Q) (W' the dead-zeroed W) and H' the damped H
of step 5, loss == trace(e H' e^T) / 2 exactly (e = U^T err row by row), so the reported loss
pins down the codes, scales, zero points and g_idx together.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from quant_numpy import stored  # noqa: E402

F64 = np.float64
CLIP_GRID = 80          # shrink factors p = 1 - i/100, i = 0..79
CHOLESKY_TRIES = 6


def _stored64(x, scale_dtype):
    """float64 values -> float64 of the value rounded to the scale type (via float32)."""
    return np.asarray(stored(np.asarray(x, F64), scale_dtype), dtype=np.float32).astype(F64)


def _zero_point(lo, scale, bits, symmetric):
    maxq = 2 ** bits - 1
    if symmetric:
        return np.full(scale.shape, float(2 ** (bits - 1)))
    with np.errstate(divide="ignore", invalid="ignore"):
        zero = np.clip(np.rint(-lo / scale), 0, maxq)
    return np.where(scale == 0, 0.0, zero)


def quant(x, scale, zero, bits):
    """Codes (float64) of x [rows, k] with per-row scale, zero [rows]."""
    maxq = 2 ** bits - 1
    s, z = scale[:, None], zero[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.clip(np.rint(x / s) + z, 0, maxq)
    return np.where(s == 0, z, q)


def dequant(q, scale, zero):
    return scale[:, None] * (q - zero[:, None])


def find_params(x, bits, symmetric, scale_dtype="f16", clip_search=False, weights=None):
    """(scale, zero) float64 [rows] of x [rows, k]; see the module docstring."""
    x = np.asarray(x, F64)
    maxq = 2 ** bits - 1
    lo = np.minimum(x.min(axis=1), 0.0)
    hi = np.maximum(x.max(axis=1), 0.0)
    if symmetric:
        hi = np.maximum(np.abs(lo), hi)
        lo = np.where(lo < 0, -hi, lo)
    both_zero = (lo == 0) & (hi == 0)
    lo = np.where(both_zero, -1.0, lo)
    hi = np.where(both_zero, 1.0, hi)
    scale = _stored64((hi - lo) / maxq, scale_dtype)
    zero = _zero_point(lo, scale, bits, symmetric)
    if not clip_search:
        return scale, zero
    c = np.ones(x.shape[1]) if weights is None else np.asarray(weights, F64)
    best = np.full(x.shape[0], np.inf)
    for i in range(CLIP_GRID):
        p = 1.0 - i / 100.0
        lo1, hi1 = p * lo, p * hi
        scale1 = _stored64((hi1 - lo1) / maxq, scale_dtype)
        zero1 = _zero_point(lo1, scale1, bits, symmetric)
        d = dequant(quant(x, scale1, zero1, bits), scale1, zero1) - x
        err = (d * d) @ c
        better = err < best
        best = np.where(better, err, best)
        scale = np.where(better, scale1, scale)
        zero = np.where(better, zero1, zero)
    return scale, zero


def _upper_cholesky_of_inverse(H):
    """U upper with H^-1 = U^T U; raises LinAlgError when H (or H^-1) is not PD."""
    L = np.linalg.cholesky(H)                       # H = L L^T
    Linv = np.linalg.solve(L, np.eye(H.shape[0]))
    Hinv = Linv.T @ Linv
    return np.linalg.cholesky(Hinv).T               # Hinv = L2 L2^T, U = L2^T


def _result(codes, scales, zeros, g_idx, stored_act_order, perm, damp, dead, loss, bits,
            group_size, symmetric, scale_dtype):
    return {
        "codes": codes.astype(np.int32),
        "scales": np.asarray(scales, F64).astype(np.float32),
        "zero_points": np.asarray(zeros).astype(np.int32),
        "g_idx": None if g_idx is None else np.asarray(g_idx, np.int32),
        "stored_act_order": stored_act_order,
        "perm": perm,
        "damp": damp,
        "dead": dead,
        "loss": loss,
        # not part of the stored format; used by dequantize_gptq
        "bits": bits,
        "group_size": group_size,
        "symmetric": symmetric,
        "scale_dtype": scale_dtype,
    }


def gptq(W, H, bits, group_size, symmetric, act_order=False, static_groups=False,
         damp_percent=0.01, block_size=128, clip_search=False, scale_dtype="f16"):
    """W: float32 [rows, cols]. H: float64 [cols, cols]. group_size: positive, or -1 per channel.
    Returns a dict: codes int32 [rows, cols] (original column order), scales float32
    [rows, groups] (values of the scale type), zero_points int32 [rows, groups] (half when
    symmetric), g_idx int32 [cols] or None, stored_act_order, perm (or None), damp (absolute),
    dead (count), loss (sum of the GPTQ losses); see the module docstring for the rules."""
    W = np.array(W, dtype=F64)
    H = np.array(H, dtype=F64)
    rows, cols = W.shape
    assert H.shape == (cols, cols)
    assert group_size == -1 or group_size > 0
    per_channel = group_size == -1
    G = cols if per_channel else group_size
    groups = 1 if per_channel else -(-cols // G)
    diag0 = np.diag(H).copy()                       # original diag, for clip search weights

    def params(x, c):
        return find_params(x, bits, symmetric, scale_dtype, clip_search, c)

    if per_channel:
        P0 = params(W, diag0)

    dead = np.diag(H) == 0
    H[dead, dead] = 1.0
    W[:, dead] = 0.0

    static = static_groups and not per_channel
    if static:
        static_params = [params(W[:, g * G:(g + 1) * G], diag0[g * G:(g + 1) * G])
                         for g in range(groups)]

    perm = None
    if act_order:
        perm = np.argsort(-np.diag(H), kind="stable")
        W = W[:, perm]
        H = H[perm][:, perm]
    diag_perm = diag0 if perm is None else diag0[perm]

    percent = damp_percent
    for attempt in range(CHOLESKY_TRIES):
        damp = percent * np.mean(np.diag(H))
        Hd = H + damp * np.eye(cols)
        try:
            U = _upper_cholesky_of_inverse(Hd)
            break
        except np.linalg.LinAlgError:
            if attempt == CHOLESKY_TRIES - 1:
                raise
            percent *= 10.0

    Q = np.zeros((rows, cols))
    scales = np.zeros((rows, groups))
    zeros = np.zeros((rows, groups))
    if per_channel:
        scales[:, 0], zeros[:, 0] = P0
    elif static:
        for g, (s, z) in enumerate(static_params):
            scales[:, g], zeros[:, g] = s, z

    loss = 0.0
    P = P0 if per_channel else None
    for i1 in range(0, cols, block_size):
        i2 = min(i1 + block_size, cols)
        W1 = W[:, i1:i2].copy()
        Err1 = np.zeros_like(W1)
        U1 = U[i1:i2, i1:i2]
        for i in range(i2 - i1):
            j = i1 + i
            w = W1[:, i]
            d = U1[i, i]
            if static:
                P = static_params[(perm[j] if act_order else j) // G]
            elif not per_channel and j % G == 0:
                P = params(W[:, j:j + G], diag_perm[j:j + G])
                scales[:, j // G], zeros[:, j // G] = P
            s, z = P
            q = quant(w[:, None], s, z, bits)[:, 0]
            deq = s * (q - z)
            Q[:, j] = q
            loss += float(np.sum((w - deq) ** 2) / d ** 2 / 2)
            err = (w - deq) / d
            W1[:, i:] -= np.outer(err, U1[i, i:])
            Err1[:, i] = err
        W[:, i2:] -= Err1 @ U[i1:i2, i2:]

    codes = np.zeros((rows, cols))
    stored_act_order = bool(act_order and not static and not per_channel)
    g_idx = None
    if act_order:
        codes[:, perm] = Q
        if stored_act_order:
            g_idx = np.zeros(cols, np.int32)
            g_idx[perm] = np.arange(cols) // G
    else:
        codes = Q
    return _result(codes, scales, zeros, g_idx, stored_act_order, perm, float(damp),
                   int(dead.sum()), loss, bits, group_size, symmetric, scale_dtype)


def column_groups(result):
    """Group index of every original column: g_idx, or contiguous groups of G (0 per channel)."""
    cols = result["codes"].shape[1]
    if result["g_idx"] is not None:
        return np.asarray(result["g_idx"], np.int64)
    if result["group_size"] == -1:
        return np.zeros(cols, np.int64)
    return np.arange(cols) // result["group_size"]


def dequantize_gptq(result, bits):
    """float32 [rows, cols]: scale * (code - zero) of each column's group."""
    g = column_groups(result)
    s = result["scales"].astype(F64)[:, g]
    z = result["zero_points"].astype(F64)[:, g]
    return (s * (result["codes"].astype(F64) - z)).astype(np.float32)


def output_error(W, Wq, H):
    """trace((W - Wq) H (W - Wq)^T) / 2 = mean over tokens of ||(W - Wq) x||^2 when
    H = 2/n sum x x^T."""
    E = np.asarray(W, F64) - np.asarray(Wq, F64)
    return float(np.einsum("ij,jk,ik->", E, np.asarray(H, F64), E) / 2)


def rtn(W, bits, group_size, symmetric, scale_dtype="f16", clip_search=False, weights=None):
    """Round to nearest with the same find_params / quant on contiguous groups (no error
    feedback); weights (length cols) are the clip-search column weights (all ones if None).
    Returns a dict like gptq's (g_idx None, perm None, loss 0)."""
    W = np.asarray(W, F64)
    rows, cols = W.shape
    G = cols if group_size == -1 else group_size
    groups = 1 if group_size == -1 else -(-cols // G)
    c = np.ones(cols) if weights is None else np.asarray(weights, F64)
    codes = np.zeros((rows, cols))
    scales = np.zeros((rows, groups))
    zeros = np.zeros((rows, groups))
    for g in range(groups):
        cs = slice(g * G, min((g + 1) * G, cols))
        s, z = find_params(W[:, cs], bits, symmetric, scale_dtype, clip_search, c[cs])
        scales[:, g], zeros[:, g] = s, z
        codes[:, cs] = quant(W[:, cs], s, z, bits)
    return _result(codes, scales, zeros, None, False, None, 0.0, 0, 0.0, bits, group_size,
                   symmetric, scale_dtype)


def hessian(X):
    """H = 2/n X^T X (float64) for inputs X [n, cols]."""
    X = np.asarray(X, F64)
    return 2.0 / X.shape[0] * (X.T @ X)


__all__ = ["find_params", "quant", "dequant", "gptq", "dequantize_gptq", "output_error", "rtn",
           "hessian", "column_groups"]
