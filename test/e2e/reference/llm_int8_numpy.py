#!/usr/bin/python3
"""An independent numpy reference for LLM.int8() (Dettmers et al., 2022; bitsandbytes'
`load_in_8bit`), with float32 activations.

Written from the semantics of bitsandbytes' default backend (int8_vectorwise_quant,
int8_mixed_scaled_mm, int8_mm_dequant), sharing no code with the C++. `rint` is
round-half-to-even; every quantity is float32 unless told.

Weights W [n, k] (n output rows), quantize_weight_rows:
  SCB[r] = max_c |W[r, c]|;  CB = rint(W * (127 / SCB[r])) as int8 in [-127, 127], 127 / SCB in
  float32 (a row with SCB == 0 is all zero); the stored scale s[r] = SCB[r] / 127 (float32
  division); the dequantized weight is CB * s.

Activations X [m, k] of one matmul call (m tokens at once), threshold t >= 0,
quantize_activations:
  t > 0: outlier elements are |X| >= t; the outlier columns are the columns holding an outlier
  element in any of the m rows. t == 0: no outliers.
  SCA[i] = max_c |X[i, c]| with the outlier ELEMENTS counted as 0 (a non-outlier value of an
  outlier column still counts); CA = rint(X * (127 / SCA[i])) as int8 (127 / SCA in float32,
  the product in float32), then every outlier column set to 0 in every row; a row with
  SCA == 0 is all zero.

matmul(X, CB, s, t):
  acc = CA @ CB^T, exact in int32;
  Y[i, j] = (float32(acc[i, j]) * float32(SCA[i] / 127)) * s[j]      (float32, in that order)
          + sum over outlier columns c of X[i, c] * (CB[j, c] * s[j])
  The outlier sum takes the float32 dequantized weight CB * s; its products and sum are float64
  (exact products), and Y is the float32 of (the float32 first term + that float64 sum).
"""

import numpy as np

F32 = np.float32
INT8_MAX = 127
DEFAULT_THRESHOLD = 6.0
INT32_MAX = 2 ** 31 - 1


def quantize_weight_rows(W):
    """(CB int8 [n, k], SCB float32 [n], s float32 [n]) of W [n, k]."""
    W = np.asarray(W, dtype=F32)
    if W.ndim != 2:
        raise ValueError("expected a 2-D weight [n, k], got shape %s" % (W.shape,))
    SCB = np.abs(W).max(axis=1).astype(F32) if W.shape[1] else np.zeros(W.shape[0], F32)
    with np.errstate(divide="ignore", invalid="ignore"):
        multiplier = (F32(INT8_MAX) / SCB).astype(F32)
        scaled = (W * multiplier[:, None]).astype(F32)
    CB = np.where(SCB[:, None] == 0, F32(0), np.rint(scaled))
    assert np.all(np.abs(CB) <= INT8_MAX), "weight codes out of [-127, 127]"
    s = (SCB / F32(INT8_MAX)).astype(F32)
    return CB.astype(np.int8), SCB, s


def dequantize_weight_rows(CB, s):
    """CB * s (float32) [n, k]."""
    return (np.asarray(CB).astype(F32) * np.asarray(s, F32)[:, None]).astype(F32)


def outlier_columns(X, threshold):
    """Indices (ascending, int64) of the columns of X [m, k] with some |x| >= threshold; none
    when threshold == 0."""
    X = np.asarray(X, dtype=F32)
    if threshold < 0:
        raise ValueError("the outlier threshold must be >= 0, got %r" % threshold)
    if threshold == 0:
        return np.zeros(0, np.int64)
    return np.flatnonzero((np.abs(X) >= F32(threshold)).any(axis=0)).astype(np.int64)


def quantize_activations(X, threshold):
    """(CA int8 [m, k], SCA float32 [m], outlier_cols int64) of X [m, k]."""
    X = np.asarray(X, dtype=F32)
    if X.ndim != 2:
        raise ValueError("expected activations [m, k], got shape %s" % (X.shape,))
    cols = outlier_columns(X, threshold)
    if threshold > 0:
        inliers = np.where(np.abs(X) >= F32(threshold), F32(0), X)
    else:
        inliers = X
    SCA = np.abs(inliers).max(axis=1).astype(F32) if X.shape[1] else np.zeros(X.shape[0], F32)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        multiplier = (F32(INT8_MAX) / SCA).astype(F32)
        scaled = (inliers * multiplier[:, None]).astype(F32)
    CA = np.where(SCA[:, None] == 0, F32(0), np.rint(scaled))
    CA[:, cols] = 0
    assert np.all(np.abs(CA) <= INT8_MAX), "activation codes out of [-127, 127]"
    return CA.astype(np.int8), SCA, cols


def int8_accumulate(CA, CB):
    """CA [m, k] @ CB [n, k]^T, exact, int64 [m, n]; raises unless it fits int32."""
    acc = np.asarray(CA, np.int64) @ np.asarray(CB, np.int64).T
    if acc.size and np.abs(acc).max() > INT32_MAX:
        raise OverflowError("int8 accumulation does not fit int32")
    return acc


def matmul(X, CB, s, threshold):
    """(Y float32 [m, n], outlier_cols) of X [m, k] (or [k]: Y [n]) with the quantized weight
    (CB [n, k], s [n]) under the outlier threshold."""
    X = np.asarray(X, dtype=F32)
    vector = X.ndim == 1
    if vector:
        X = X[None, :]
    CB = np.asarray(CB)
    s = np.asarray(s, F32)
    if X.shape[1] != CB.shape[1]:
        raise ValueError("activations [%d, %d] do not match the weight [%d, %d]"
                         % (X.shape + CB.shape))
    CA, SCA, cols = quantize_activations(X, threshold)
    acc = int8_accumulate(CA, CB)
    row_scale = (SCA / F32(INT8_MAX)).astype(F32)
    Y = ((acc.astype(F32) * row_scale[:, None]).astype(F32) * s[None, :]).astype(F32)
    if cols.size:
        w_outliers = dequantize_weight_rows(CB[:, cols], s).astype(np.float64)  # [n, c]
        outlier_part = X[:, cols].astype(np.float64) @ w_outliers.T
        Y = (Y.astype(np.float64) + outlier_part).astype(F32)
    return (Y[0] if vector else Y), cols
