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

def QLLMAddKvCachePass : Pass<"qllm-add-kv-cache", "::mlir::func::FuncOp"> {
  let summary = "Give a decoder exported without past inputs a KV cache";
  let description = [{
    A plain `input_ids, attention_mask -> logits` export computes causal
    self-attention over its own keys and values: what cached attention
    computes with an empty cache. Once every attention is raised (causal, no
    bias) and none reads a past, each attention gets `past_key_values.N.key`
    and `.value` arguments (N in program order) and its presents become
    `present.N.key`/`.value` results; the attention_mask argument then
    covers past and new keys; rotary positions computed inside the graph,
    checked by evaluation to be 0..seq-1 on every row, are replaced by a
    `position_ids` argument (the runtime supplies absolute positions).
    Other position computations are refused. In a graph with past inputs,
    rotary positions computed from the cache length (past..past+seq-1 by
    evaluation; GroupQueryAttention without position_ids) become the
    `position_ids` input too; nothing else changes. Runs at the end of
    quant-import-cleanup.
  }];
  let dependentDialects = ["::mlir::qllm::QLLMDialect"];
}

def QLLMSplitProjectionsPass : Pass<"qllm-split-projections"> {
  let summary = "Split fused projections (qkv_proj) into one matmul per slice";
  let description = [{
    A `qllm.matmul` by a [K, N] weight, or a `qllm.dequant_matmul` by a
    quantized [N, K] weight (no act order, no double quantization), whose
    result is read only through slices of its last axis (step 1, constant
    bounds) becomes one projection per slice, over a new weight holding the
    matching columns (quantized: rows of each stored component), named
    `<weight>[begin:end]`. This is how fused q/k/v projections (ONNX Runtime
    GenAI's packed GroupQueryAttention) become the separate projections the
    runtime, the quantizers and sharding work on. Weightless modules get
    weightless parts.
  }];
  let dependentDialects = ["::mlir::qllm::QLLMDialect"];
}

def QLLMClassifyDimsPass : Pass<"qllm-classify-dims", "::mlir::func::FuncOp"> {
  let summary = "Classify the dimensions of a model's inputs and outputs";
  let description = [{
    Gives every argument and result of a function with named inputs
    (`qllm.name`, from the importer) the array `qllm.dim_roles`: per
    dimension `#qllm.dim<batch>`, `sequence` (the step's tokens),
    `past_sequence`, `total_sequence` or `other`. The roles come from the
    decoder interface (input_ids and position_ids are [batch, sequence],
    attention_mask [batch, total], past_key_values.N.* [batch, heads, past,
    head_dim], logits [batch, sequence, vocab], present.N.* [batch, heads,
    total, head_dim]); the ONNX dimension names (`qllm.dims`) only carry an
    anchored role to the other dimensions of the same name, whatever the
    names say. Inputs and outputs whose ONNX names say nothing get the
    interface names from structure first (the integer input that indexes
    the embedding is input_ids, a cache concatenated on axis 2 reaching
    q @ k^T is a key, another a value, their concatenations presents, an
    integer input reaching a table gather or the angles is position_ids,
    another the mask, the one float rank-3 result the logits), keeping the
    ONNX name in `qllm.onnx_name`. A function without any of these inputs
    and outputs keeps the roles it has. The first step of
    quant-import-cleanup; the passes that need dimension sizes read these
    roles.
  }];
  let dependentDialects = ["::mlir::qllm::QLLMDialect"];
}

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
    past lengths and padding patterns, sizing the function arguments by the
    roles of their dimensions (`qllm.dim_roles`, from qllm-classify-dims:
    batch, sequence, past, total); if the bias always equals the causal mask
    with the padding of the integer [batch, total] argument (masked entries
    at or below -1e4, kept ones 0), the attention drops the bias and becomes
    `causal` with `mask(attention_mask)`.
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
// Weight rewriting
//===----------------------------------------------------------------------===//

def QLLMQuantizeWeightsPass : Pass<"qllm-quantize-weights", "::mlir::ModuleOp"> {
  let summary = "Quantize matmul weights (round to nearest: int8, intN, NF4)";
  let description = [{
    Rewrites every matmul whose right-hand side is a stored weight (read
    directly or through a cast to f32) into `matmul(x, dequantize(q))
    transpose_rhs`, where `q` is a `qllm.quantized_weight` of the [N, K]
    weight (output channels by the reduction dimension; a [K, N] weight is
    transposed) whose components are new resource blobs named
    `<weight>.data`, `.scales`, `.zero_points`, `.double_quant_scales` and
    `.double_quant_offset`. Float originals that nothing else reads are
    erased and their blobs freed. `qllm-fuse-dequant-matmul` then fuses
    the dequantize into the matmul.

    Methods (round to nearest, algorithms in `quant/Quantize/RoundToNearest.h`):
    `int8` (8 bits, per channel, symmetric, f32 scales by default), `int4`
    (4 bits, groups of 128, asymmetric, f16 scales by default), `int` (any of
    2, 3, 4, 8 `bits`), `nf4` (bitsandbytes NF4, blocks of 64, f32 absmax;
    `double-quant` stores the absmax as 8-bit codes as QLoRA does).

    Left alone: weights whose name matches an `exclude` regex, and the
    output projection (the matmul that computes the `logits` result) unless
    `quantize-output`; embedding tables are not matmul weights. A weight with
    a NaN or an infinity is an error naming it. `report` prints, per weight
    and in total, bytes before and after and bits per weight (scales and zero
    points included) to stderr.

    `clip-search` (integer schemes) quantizes with GPTQ's group rules
    (quant/Quantize/Gptq.h; the same as above for asymmetric schemes) and
    searches each group's range, shrunk by up to 20%, for the smallest
    squared error.

    Options (declared once in quant/Passes/Options.h and shared with
    quant-compile): `method`, `bits`, `group-size`, `symmetric`,
    `scale-type`, `double-quant`, `double-quant-block-size`, `exclude`,
    `quantize-output`, `clip-search`; and `report` (this pass only).
  }];
  let dependentDialects = ["::mlir::qllm::QLLMDialect"];
}

def QLLMFoldActOrderPass : Pass<"qllm-fold-act-order", "::mlir::ModuleOp"> {
  let summary = "Store act-order weights with contiguous groups; permute their inputs";
  let description = [{
    An act-order integer weight (a `g_idx` per column, from GPTQ's act
    order or an imported MatMulNBits) read by `qllm.dequant_matmul`s is
    stored with its columns sorted by group, so that its groups are
    contiguous (no `g_idx`, the fast kernels), when each group then holds
    `group_size` consecutive columns (the last one fewer). Its matmuls read
    the input in the same order: when the input is `swiglu(gate, up)` of two
    integer-weight matmuls (the down projection), the rows of the gate and
    up weights are reordered instead, at no run-time cost; otherwise a
    `qllm.gather` of the input's last dimension, with the order as an i32
    weight `<weight>.perm`, is shared by every matmul reading that input in
    that order (q, k and v). Other weights, and weightless modules, are left
    as they are. Runs after `qllm-fuse-dequant-matmul`.
  }];
  let dependentDialects = ["::mlir::qllm::QLLMDialect"];
}

def QLLMGptqPass : Pass<"qllm-gptq", "::mlir::ModuleOp"> {
  let summary = "Quantize matmul weights with GPTQ, calibrated through the runtime";
  let description = [{
    GPTQ (Frantar et al.) of the weights `qllm-quantize-weights` would
    quantize, into the same `!qllm.qtensor` integer schemes (so every kernel
    runs the result): `bits` (2, 3, 4, 8; default 4), `group-size` (default
    128, -1 per channel), `symmetric`, `scale-type` (default f16).

    The Hessians of each projection's inputs come from running the model
    through our own runtime: a float plan of this module (exported in
    memory, CPU backend, one prefill chunk per sample) runs the calibration
    samples, and a step observer accumulates sum x x^T at the matmuls.
    Projections are solved in plan order, in stages (with `true-sequential`,
    each group of projections sharing an input: q/k/v, o, gate/up, down;
    otherwise a whole layer), each stage calibrated on the model with the
    earlier stages already quantized (their dequantized values written into
    the float plan). The solver is `quant/Quantize/Gptq.h`, the driver
    `quant/Quantize/Calibration.h`.

    Calibration: `calibration` (a text file, required), split into documents
    on `calibration-doc-sep`, tokenized with `tokenizer` (required; the
    entries' tokenizer in quant-compile), `calibration-samples` samples of at
    most `calibration-seqlen` tokens (and the model's context) from document
    `calibration-offset` on: each document as BOS + tokens
    (`calibration-mode=documents`) or random windows of the concatenated
    documents (`windows`, `calibration-seed`).

    GPTQ options (AutoGPTQ / GPTQModel names): `act-order` (desc_act),
    `static-groups`, `damp-percent`, `block-size`, `true-sequential`,
    `clip-search` (search each group's range for the smallest
    Hessian-weighted error). Act order without static groups stores a group
    index (`g_idx`).

    `report` prints per weight: calibration tokens, trace of H, dead inputs,
    dampening used, ||WX - QX||^2 per token of GPTQ and of round to nearest
    (GPTQ's group rules), and seconds; progress goes to stderr when it is a
    terminal. A Hessian that is not positive definite raises the dampening
    (a warning names the weight); NaN or infinity in an activation or a
    weight is an error naming it. `save-hessians` (a directory) writes each
    weight's Hessian as `<weight>.npy`, for the tests.
  }];
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

//===----------------------------------------------------------------------===//
// Lowering to a runtime plan
//===----------------------------------------------------------------------===//

def QLLMGenerateCudaPass : Pass<"qllm-generate-cuda", "::mlir::ModuleOp"> {
  let summary = "Generate the CUDA kernels of the entry points' steps";
  let description = [{
    Lowers every step of plan-ready entry points (kernels chosen, arena
    offsets assigned) to CUDA C++ specialized for its shapes, its weight's
    storage (f32, f16, intN groups, NF4 with or without double quantization)
    and its epilogue: a GEMV for the decode entry (one token), a tiled GEMM
    for prefill, RMSNorm, rotary, KV-cache append + attention, SwiGLU, add,
    embedding. Identical kernels are emitted once.

    Each step op gets `qllm.cuda_launches`, the list of its launches
    (`#qllm.cuda_launch`: function, grid, block); the module gets
    `qllm.cuda_code` (`#qllm.cuda_code`: the translation unit, its kernels,
    and the architectures of `cuda-archs`). Plan export compiles the source
    with NVRTC for each of them.

    With `fuse-epilogues`, a matmul whose only use is the residual add that
    runs right after it computes `x @ w^T + residual` into the add's buffer
    (the launch carries `fused_add`; the add gets no launch), unless the
    add's buffer overlaps the matmul's input.

    Options (quant/Passes/Options.h, shared with quant-compile):
    `fuse-epilogues` (default true), `cuda-archs` (default
    compute_80,sm_80,sm_90).
  }];
  let dependentDialects = ["::mlir::qllm::QLLMDialect"];
}

def QLLMLayoutWeightsPass : Pass<"qllm-layout-weights", "::mlir::ModuleOp"> {
  let summary = "Store weights the way the kernels read them";
  let description = [{
    Rewrites each weight into its runtime layout: a matmul weight [K, N]
    becomes [N, K] ("Linear" layout: one output channel per row, so a GEMV
    streams rows) and `transpose_rhs`; matmul and embedding weights are stored
    in `weight-type` (f32 or f16, a cast to f32 marks f16 storage), norm
    weights and rotary tables in f32. The new blobs keep the weights' names.
  }];
  let options = [
    Option<"weightType", "weight-type", "::mlir::qllm::FloatStorage",
           "::mlir::qllm::FloatStorage::f32",
           "Storage type of matmul and embedding weights: f32 or f16",
           [{::llvm::cl::values(
               clEnumValN(::mlir::qllm::FloatStorage::f32, "f32", "f32"),
               clEnumValN(::mlir::qllm::FloatStorage::f16, "f16", "f16"))}]>,
    Option<"freeOriginals", "free-originals", "bool", "true",
           "Free an original blob once no weight reads it (false when other "
           "modules, e.g. the one a calibration plan was cloned from, share "
           "the blobs)">,
  ];
  let dependentDialects = ["::mlir::qllm::QLLMDialect"];
}

def QLLMShardTensorParallelPass
    : Pass<"qllm-shard-tensor-parallel", "::mlir::ModuleOp"> {
  let summary = "Split every layer across the ranks of a tensor-parallel plan";
  let description = [{
    Megatron-style tensor parallelism for `world-size` ranks, on plan-ready
    entry points (after `qllm-layout-weights`, before kernel selection):
    q, k, v, gate and up are split by output channels (heads and hidden
    units; KV heads whole per rank, or one replicated when there are fewer
    KV heads than ranks), o and down by input channels and followed by a
    `qllm.all_reduce`, the output projection by vocabulary and followed by
    a `qllm.all_gather`; embedding, norms and residuals are replicated.
    Each rank's ops are the same, with its slice's shapes; each split weight
    holds every rank's slice (`qllm.shards`). Stored values are copied, never
    changed: hidden units go to ranks in whole quantization groups (and
    blocks of 32 for 8-bit activations), the last ranks padded with zero
    weights; a split that would still cut a group, an act-order group index
    or a double quantization block is an error naming the weight.
  }];
  let options = [
    Option<"worldSize", "world-size", "int64_t", "1",
           "Ranks to split the model across (1: no split)">,
  ];
  let dependentDialects = ["::mlir::qllm::QLLMDialect",
                           "::mlir::func::FuncDialect"];
}

def QLLMPlanMemoryPass : Pass<"qllm-plan-memory", "::mlir::func::FuncOp"> {
  let summary = "Assign arena offsets to the activations of an entry point";
  let description = [{
    For an entry point (`qllm.entry = #qllm.entry<max_tokens = M>`), sizes
    every activation at M tokens, computes live ranges over the op order and
    packs them into one arena, reusing the bytes of dead values (first fit,
    largest first, 64-byte aligned). Views (reshapes) share their input's
    bytes. Each op gets `qllm.arena = #qllm.arena<[offsets of its
    results]>`, and the entry attribute the arena's size (`arena_bytes`).
  }];
  let dependentDialects = ["::mlir::qllm::QLLMDialect"];
}

def QLLMPromoteToF32Pass : Pass<"qllm-promote-to-f32", "::mlir::func::FuncOp"> {
  let summary = "Compute in f32: promote f16/bf16 activations";
  let description = [{
    The runtime computes in f32 with f32 accumulation. This pass rewrites
    every f16/bf16 activation (arguments, results, op results) to f32 and
    reads f16/bf16 weights and constants through a `qllm.cast` to f32, which
    `qllm-layout-weights` folds into the stored weights.
  }];
  let dependentDialects = ["::mlir::qllm::QLLMDialect"];
}

def QLLMSelectKernelsPass : Pass<"qllm-select-kernels", "::mlir::func::FuncOp"> {
  let summary = "Choose a runtime kernel for every op of an entry point";
  let description = [{
    Annotates each op with `qllm.kernel = #qllm.kernel<...>`, the kernel of
    the target that runs it (`embedding`, `rms_norm`, `matmul`,
    `dequant_matmul`, `rotary`, `attention`, `add`, `swiglu`: a plan step),
    or with `qllm.storage = #qllm.storage<...>`: `view` for reshapes (no data
    movement), `constant` for their shapes, `weight` for weights, their
    storage casts and the `quantized_weight`s that assemble them. An op
    without a kernel is an error naming it and its source location.

    Options (quant/Passes/Options.h, shared with quant-compile): `target`
    (cpu, cuda); `activations` (auto, f32, int8): whether a
    `dequant_matmul` gets `int8_activations` (the CPU rounds its input to 8
    bits and multiplies in integers). `auto` sets it on the cpu target
    wherever the runtime has the kernels (4- and 8-bit integer codes, NF4
    and FP4, in groups of 32, 64, a multiple of 128 or whole rows);
    `int8` for every dequant_matmul, an error for a weight without such a
    kernel or with the cuda target.
  }];
  let dependentDialects = ["::mlir::qllm::QLLMDialect"];
}

def QLLMSpecializeEntriesPass
    : Pass<"qllm-specialize-entries", "::mlir::ModuleOp"> {
  let summary = "Make prefill and decode entry points of a decoder graph";
  let description = [{
    Checks that `@main` has the decoder interface the runtime drives
    (`input_ids`, `position_ids`, an optional `attention_mask`,
    `past_key_values.N.key/value` in, `logits`, `present.N.key/value` out; the
    positions feed only rotary embeddings, the mask and the caches only
    attention), marks each argument and result with its `qllm.role`
    (`#qllm.role<past_key, layer = 0>`) and each attention with its
    `qllm.layer`, and
    replaces `@main` by `@prefill` (up to `prefill-tokens` tokens per step) and
    `@decode` (one token), which share the weights and the KV cache. The batch
    dimension becomes static, `batch` (1 for now), in every type; token and cache
    lengths stay dynamic. The KV cache holds `max-context` positions; the
    plan's parameters are the module attribute `qllm.plan`
    (`#qllm.plan<...>`), each entry's its `qllm.entry` (`#qllm.entry<...>`).

    Options (quant/Passes/Options.h, shared with quant-compile):
    `max-context`, `prefill-tokens`, `bos`, `eos`, `tokenizer`; and `batch`
    (this pass only, 1).
  }];
  let dependentDialects = ["::mlir::qllm::QLLMDialect"];
}

#endif // QUANT_PASSES_TD
