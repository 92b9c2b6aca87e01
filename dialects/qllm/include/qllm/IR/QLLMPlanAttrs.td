//===- QLLMPlanAttrs.td - the plan-ready IR contract -------*- tablegen -*-===//
//
// What the lowering passes leave for plan export (and for each other): typed
// attributes, attached under the names of qllm/IR/QLLMPlanAttrs.h and checked
// by the dialect (QLLMDialect::verifyOperationAttribute and the region
// argument/result hooks), so that damaged plan-ready IR gives a located
// error instead of a crash in a later pass or in export.
//
//===----------------------------------------------------------------------===//

#ifndef QLLM_PLANATTRS_TD
#define QLLM_PLANATTRS_TD

include "qllm/IR/QLLMDialect.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

//===----------------------------------------------------------------------===//
// Kernels and storage
//===----------------------------------------------------------------------===//

def QLLM_Kernel : I32EnumAttr<"Kernel",
    "a runtime kernel: one step of a plan", [
  // The values are those of the plan schema's Kernel (qrt::fb::Kernel), one
  // to one; plan export checks it at compile time.
  I32EnumAttrCase<"embedding", 0>,
  I32EnumAttrCase<"rms_norm", 1>,
  I32EnumAttrCase<"matmul", 2>,
  I32EnumAttrCase<"rotary", 3>,
  I32EnumAttrCase<"attention", 4>,
  I32EnumAttrCase<"add", 5>,
  I32EnumAttrCase<"swiglu", 6>,
  I32EnumAttrCase<"dequant_matmul", 7>,
  I32EnumAttrCase<"gather", 8>,
  I32EnumAttrCase<"int8_matmul", 9>,
  I32EnumAttrCase<"all_reduce", 10>,
  I32EnumAttrCase<"all_gather", 11>
]> {
  let cppNamespace = "::mlir::qllm";
  let genSpecializedAttr = 0;
}

def QLLM_KernelAttr : EnumAttr<QLLM_Dialect, QLLM_Kernel, "kernel"> {
  let summary = "The runtime kernel that runs an op (attribute `qllm.kernel`)";
  let description = [{
    Set by `qllm-select-kernels` on every op of an entry point that becomes a
    plan step. Each kernel runs exactly one op kind: `embedding` a
    `qllm.embedding`, `rms_norm` a `qllm.rms_norm`, `matmul` a `qllm.matmul`,
    `dequant_matmul` a `qllm.dequant_matmul`, `rotary` a `qllm.rotary`,
    `attention` a `qllm.attention`, `add` a `qllm.add`, `swiglu` a
    `qllm.swiglu`, `gather` a `qllm.gather` that permutes the last
    dimension with an i32 index weight (act order folded at compile time),
    `int8_matmul` a `qllm.dequant_matmul` with an `outlier_threshold`
    (LLM.int8(): 8-bit activations), `all_reduce` a `qllm.all_reduce` and
    `all_gather` a `qllm.all_gather` (tensor parallelism).
  }];
  let assemblyFormat = "`<` $value `>`";
}

def QLLM_Storage : I32EnumAttr<"Storage",
    "how an op of an entry point that is not a step is stored", [
  // Read from the plan's weights (a weight, its storage cast, the
  // quantized_weight that assembles stored components).
  I32EnumAttrCase<"weight", 0>,
  // A compile-time constant (a reshape's shape).
  I32EnumAttrCase<"constant", 1>,
  // An alias of its input's bytes (a reshape).
  I32EnumAttrCase<"view", 2>
]> {
  let cppNamespace = "::mlir::qllm";
  let genSpecializedAttr = 0;
}

def QLLM_StorageAttr : EnumAttr<QLLM_Dialect, QLLM_Storage, "storage"> {
  let summary = "How an op that is not a plan step is stored (attribute `qllm.storage`)";
  let assemblyFormat = "`<` $value `>`";
}

//===----------------------------------------------------------------------===//
// Entry points and the plan
//===----------------------------------------------------------------------===//

def QLLM_EntryAttr : AttrDef<QLLM_Dialect, "Entry"> {
  let mnemonic = "entry";
  let summary = "A plan entry point (attribute `qllm.entry` of a function)";
  let description = [{
    `qllm-specialize-entries` marks the prefill and decode functions with the
    tokens a step takes at most (`max_tokens`, 1 to 2^30);
    `qllm-plan-memory` adds the bytes of the entry's activation arena
    (`arena_bytes`, at most 2^40), which every `qllm.arena` offset of the
    function lies in.
  }];
  let parameters = (ins
    "int64_t":$max_tokens,
    OptionalParameter<"std::optional<int64_t>">:$arena_bytes
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def QLLM_PlanAttr : AttrDef<QLLM_Dialect, "Plan"> {
  let mnemonic = "plan";
  let summary = "The plan's parameters (attribute `qllm.plan` of the module)";
  let description = [{
    Set by `qllm-specialize-entries`: the batch (1), the KV-cache positions
    (`max_context`, 1 to 2^24), the BOS and EOS token ids, and the tokenizer
    file the runtime uses by default. `qllm-shard-tensor-parallel` sets
    `world_size`, the ranks the entries' ops are one slice of (1: not
    split).
  }];
  let parameters = (ins
    "int64_t":$batch,
    "int64_t":$max_context,
    DefaultValuedParameter<"int64_t", "1", "BOS token id">:$bos,
    DefaultValuedParameter<"int64_t", "2", "EOS token id">:$eos,
    StringRefParameter<"tokenizer file", [{""}]>:$tokenizer,
    DefaultValuedParameter<"int64_t", "1", "tensor-parallel ranks">:$world_size
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def QLLM_ArenaAttr : AttrDef<QLLM_Dialect, "Arena"> {
  let mnemonic = "arena";
  let summary = "Arena offsets of an op's results (attribute `qllm.arena`)";
  let description = [{
    Set by `qllm-plan-memory`: per result, its byte offset in the entry's
    activation arena (a multiple of 4), or -1 for a result that does not live
    there (an attention's present keys and values: the KV cache).
  }];
  let parameters = (ins ArrayRefParameter<"int64_t">:$offsets);
  let assemblyFormat = "`<` `[` $offsets `]` `>`";
  let genVerifyDecl = 1;
}

//===----------------------------------------------------------------------===//
// The decoder interface: roles of arguments, results and dimensions
//===----------------------------------------------------------------------===//

def QLLM_InterfaceRole : I32EnumAttr<"InterfaceRole",
    "the part an entry point's argument or result plays for the runtime", [
  I32EnumAttrCase<"tokens", 0>,
  I32EnumAttrCase<"positions", 1>,
  I32EnumAttrCase<"mask", 2>,
  I32EnumAttrCase<"past_key", 3>,
  I32EnumAttrCase<"past_value", 4>,
  I32EnumAttrCase<"logits", 5>,
  I32EnumAttrCase<"present_key", 6>,
  I32EnumAttrCase<"present_value", 7>
]> {
  let cppNamespace = "::mlir::qllm";
  let genSpecializedAttr = 0;
}

def QLLM_RoleAttr : AttrDef<QLLM_Dialect, "Role"> {
  let mnemonic = "role";
  let summary = "An argument's or result's role (attribute `qllm.role`)";
  let description = [{
    Set by `qllm-specialize-entries` on every argument and result of an entry
    point: `tokens`, `positions`, `mask`, `past_key`/`past_value` (arguments)
    and `logits`, `present_key`/`present_value` (results); the caches carry
    their decoder layer, e.g. `#qllm.role<past_key, layer = 3>`.
  }];
  let parameters = (ins
    EnumParameter<QLLM_InterfaceRole>:$role,
    OptionalParameter<"std::optional<int64_t>">:$layer
  );
  let assemblyFormat = "`<` $role (`,` `layer` `=` $layer^)? `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// past_key, past_value, present_key or present_value.
    bool isCache() const;
    /// tokens, positions, mask, past_key or past_value.
    bool isInput() const;
  }];
}

def QLLM_DimRole : I32EnumAttr<"DimRole",
    "what a dimension of a model input or output counts", [
  // The batch.
  I32EnumAttrCase<"batch", 0>,
  // The tokens of the step (the new sequence).
  I32EnumAttrCase<"sequence", 1>,
  // The positions already in the KV cache.
  I32EnumAttrCase<"past_sequence", 2>,
  // Past and new positions together (an attention mask's keys).
  I32EnumAttrCase<"total_sequence", 3>,
  // Anything else (heads, head size, vocabulary, a static size).
  I32EnumAttrCase<"other", 4>
]> {
  let cppNamespace = "::mlir::qllm";
  let genSpecializedAttr = 0;
}

def QLLM_DimRoleAttr : EnumAttr<QLLM_Dialect, QLLM_DimRole, "dim"> {
  let summary = "The role of one dimension (in `qllm.dim_roles`)";
  let description = [{
    `qllm-classify-dims` gives every argument and result of `@main` the array
    `qllm.dim_roles`, one `#qllm.dim<...>` per dimension, from the decoder
    interface itself (input_ids is [batch, sequence], a past cache's third
    dimension its past length, ...) and the ONNX dimension names that link
    the inputs' dimensions, never from what the names say.
  }];
  let assemblyFormat = "`<` $value `>`";
}

//===----------------------------------------------------------------------===//
// The CUDA target
//===----------------------------------------------------------------------===//

def QLLM_CudaLaunchAttr : AttrDef<QLLM_Dialect, "CudaLaunch"> {
  let mnemonic = "cuda_launch";
  let summary = "One CUDA kernel launch of a step (in `qllm.cuda_launches`)";
  let description = [{
    Set by `qllm-generate-cuda`: a function of the module's generated CUDA
    code, its grid (`grid_x` in [1, 2^31 - 1]; tokens on grid y,
    `tokens_per_block` per block, 0 for one block row), its block (`block_x`
    in [1, 1024]) and dynamic shared memory (at most 48 KiB). `fused_add`: a
    matmul's launch that also adds the residual of the add right after it
    (which then has no launch of its own).
  }];
  let parameters = (ins
    StringRefParameter<"kernel function">:$function,
    "int64_t":$grid_x,
    "int64_t":$tokens_per_block,
    "int64_t":$block_x,
    DefaultValuedParameter<"int64_t", "0">:$shared_bytes,
    DefaultValuedParameter<"bool", "false">:$fused_add
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

def QLLM_CudaCodeAttr : AttrDef<QLLM_Dialect, "CudaCode"> {
  let mnemonic = "cuda_code";
  let summary = "The module's generated CUDA code (attribute `qllm.cuda_code`)";
  let description = [{
    Set by `qllm-generate-cuda`: the CUDA C++ translation unit of every
    step's kernels, the kernels it defines, and the architectures plan
    export compiles it for with NVRTC (`compute_XY`: PTX the driver JITs for
    any later GPU; `sm_XY`: a cubin).
  }];
  let parameters = (ins
    StringRefParameter<"CUDA C++ source">:$source,
    "::mlir::ArrayAttr":$kernels,
    "::mlir::ArrayAttr":$archs
  );
  let assemblyFormat = "`<` struct(params) `>`";
  let genVerifyDecl = 1;
}

#endif // QLLM_PLANATTRS_TD
