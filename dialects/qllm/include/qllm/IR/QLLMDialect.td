//===- QLLMDialect.td - The qllm dialect -------------------*- tablegen -*-===//

#ifndef QLLM_DIALECT_TD
#define QLLM_DIALECT_TD

include "mlir/IR/OpBase.td"

def QLLM_Dialect : Dialect {
  let name = "qllm";
  let cppNamespace = "::mlir::qllm";
  let summary = "Graph-level LLM operations and quantized weights";
  let description = [{
    The `qllm` dialect describes a large language model at the level its
    exporters and its users think of it: token embeddings, RMSNorm, rotary
    embeddings, attention with a KV cache, SwiGLU, matmuls against weights,
    plus the primitive tensor operations that ONNX graphs are imported as
    before they are raised.

    Weights are `qllm.weight` ops holding `dense_resource` blobs, so a model of
    billions of parameters stays workable and is elided when printed.
    Quantized weights have the type `!qllm.qtensor<RxC, #scheme>`, where the
    scheme attribute (`#qllm.intq`, `#qllm.nf4`) describes the storage
    completely; `qllm.quantized_weight` assembles one from its component
    tensors, whose shapes the scheme fixes.

    Activations are ranked tensors; dynamic dimensions (batch, sequence, past
    sequence) stay dynamic. The attention layout is [batch, seq, heads,
    head_dim] for queries, keys, values and outputs, and [batch, kv_heads,
    seq, head_dim] for KV caches, as in the common ONNX exports.
  }];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let hasConstantMaterializer = 1;
  // The plan-ready IR contract (qllm/IR/QLLMPlanAttrs.h): every `qllm.`
  // attribute is checked where it is attached.
  let hasOperationAttrVerify = 1;
  let hasRegionArgAttrVerify = 1;
  let hasRegionResultAttrVerify = 1;
  let extraClassDeclaration = [{
  private:
    void registerAttributes();
    void registerTypes();
  public:
  }];
}

#endif // QLLM_DIALECT_TD
