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
