//===- Passes.td - quant-opt passes ------------------------*- tablegen -*-===//
//
// Passes over the qllm dialect, grouped by stage and alphabetical within a
// stage. Dialect passes are flagged `qllm-`, pipelines `quant-`.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_PASSES_TD
#define QUANT_PASSES_TD

include "mlir/Pass/PassBase.td"

//===----------------------------------------------------------------------===//
// Raising: primitive-op patterns of imported graphs into LLM ops
//===----------------------------------------------------------------------===//

def QLLMRaiseAttentionPass : Pass<"qllm-raise-attention"> {
  let summary = "Raise matmul/softmax attention with a KV-cache concat into qllm.attention";
  let description = [{
    Recognizes scaled dot-product attention written with primitive ops, as
    Hugging Face exports it: `softmax(q @ k^T / c + bias) @ v` over [batch,
    heads, seq, head_dim] tensors, where k and v may be the concatenation of
    a past cache and the new keys/values (the KV-cache append, whose results
    are the `present` outputs) and may be repeated from fewer KV heads
    (`repeat_kv`: unsqueeze, expand, reshape). The match becomes one
    `qllm.attention` on [batch, seq, heads, head_dim] operands (transposes
    around it cancel under canonicalization); the additive bias is kept as
    its `bias` operand for `qllm-raise-attention-mask`.
  }];
  let dependentDialects = ["::mlir::qllm::QLLMDialect"];
}

def QLLMRaiseAttentionMaskPass : Pass<"qllm-raise-attention-mask", "::mlir::func::FuncOp"> {
  let summary = "Replace an attention bias that is a causal + padding mask by `causal mask(...)`";
  let description = [{
    Exporters build the causal mask as a subgraph of shape and comparison
    ops from the `attention_mask` input. This pass evaluates such a bias
    subgraph with the qllm reference evaluator for several batch, sequence and
    past lengths and padding patterns, binding the function arguments whose
    dimensions are named (`qllm.dims`: batch, sequence, past, total); if the
    bias always equals the causal mask with the padding of `attention_mask`
    (masked entries at or below -1e4, kept ones 0), the attention drops the
    bias and becomes `causal` with `mask(attention_mask)`.
  }];
  let dependentDialects = ["::mlir::qllm::QLLMDialect"];
}

def QLLMRaiseEmbeddingPass : Pass<"qllm-raise-embedding"> {
  let summary = "Raise gather of rows of a weight matrix into qllm.embedding";
  let dependentDialects = ["::mlir::qllm::QLLMDialect"];
}

def QLLMRaiseRmsNormPass : Pass<"qllm-raise-rms-norm"> {
  let summary = "Raise x * rsqrt(mean(x^2) + eps) * w into qllm.rms_norm";
  let description = [{
    Recognizes RMSNorm over the last dimension written as
    `w * (x * reciprocal(sqrt(reduce_mean(pow(x, 2)) + eps)))` and its
    variants (`rsqrt`, division by the square root, `x * x`, either operand
    order, casts to f32 and back around the normalization as in fp16
    exports).
  }];
  let dependentDialects = ["::mlir::qllm::QLLMDialect"];
}

def QLLMRaiseRotaryPass : Pass<"qllm-raise-rotary"> {
  let summary = "Raise rotary position embeddings (both conventions) into qllm.rotary";
  let description = [{
    Recognizes the rotate-half form of Hugging Face,
    `x * cos + concat(-x2, x1) * sin` with cos/sin of `concat(f, f)`, and the
    interleaved form of Meta's reference code, which views the head as
    [head_dim/2, 2] pairs and rotates each pair. In both the angles
    `f = positions * inv_freq` must come from a position tensor and a
    constant inverse-frequency vector `base^(-2i/d)`; the base is recovered
    from it and checked for every entry.
  }];
  let dependentDialects = ["::mlir::qllm::QLLMDialect"];
}

def QLLMRaiseSwiGluPass : Pass<"qllm-raise-swiglu"> {
  let summary = "Raise x * sigmoid(x) into qllm.silu and silu(g) * u into qllm.swiglu";
  let dependentDialects = ["::mlir::qllm::QLLMDialect"];
}

//===----------------------------------------------------------------------===//
// Fusion
//===----------------------------------------------------------------------===//

def QLLMFuseDequantMatmulPass : Pass<"qllm-fuse-dequant-matmul"> {
  let summary = "Fuse dequantize + matmul into qllm.dequant_matmul";
  let description = [{
    Rewrites `qllm.matmul %x, (qllm.dequantize %q) transpose_rhs` into
    `qllm.dequant_matmul %x, %q`, so kernels read the packed weight instead
    of a dequantized copy. A dequantized weight that has other users stays
    for them; one left without users is removed.
  }];
  let dependentDialects = ["::mlir::qllm::QLLMDialect"];
}

#endif // QUANT_PASSES_TD
