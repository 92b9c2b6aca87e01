//===- WeightRewrite.h - rewriting matmul weights as quantized --*- C++ -*-===//
//
// What every weight-quantizing pass shares (qllm-quantize-weights for round
// to nearest, qllm-gptq): which matmul weights to quantize, the scheme the
// options describe, and the IR rewrite once each weight's stored components
// are computed (qllm.quantized_weight + qllm.dequantize read by the
// matmuls, float originals freed).
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_PASSES_WEIGHTREWRITE_H
#define QUANT_PASSES_WEIGHTREWRITE_H

#include "qllm/IR/QLLMAttrs.h"
#include "qllm/IR/QLLMOps.h"
#include "qrt/core/QuantizedWeight.h"
#include "quant/Passes/Options.h"

#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace mlir::qllm {

/// One distinct weight to quantize (a blob in one orientation), as an [N, K]
/// matrix: rows = output channels, cols = the reduction dimension.
struct WeightJob {
  WeightOp weight; // the first weight op reading the blob (erased by apply)
  std::string name;
  unsigned floatBits = 0; // of the float original's elements
  bool transpose = false;
  int64_t rows = 0, cols = 0;
  qrt::QuantizedWeight result;
  std::string error;
  SmallVector<DenseResourceElementsAttr> components; // created from result

  /// The weight's values as an f32 [rows, cols] matrix.
  std::vector<float> readMatrix() const;
};

/// The weights a quantizing pass rewrites and the matmuls that read them.
class WeightRewriter {
public:
  /// Finds the matmul weights `options` selects (not excluded, not the
  /// output projection unless quantizeOutput), one job per distinct blob and
  /// orientation. `pass` names the pass in errors (a bad exclude regex).
  LogicalResult collect(ModuleOp module, const QuantizeOptions &options,
                        StringRef pass);

  std::vector<WeightJob> &jobs() { return jobs_; }

  /// Reports the errors of failed jobs at their weights; failure if any.
  LogicalResult reportErrors();

  /// With every job's result in `scheme`: creates the component blobs,
  /// rewrites the matmuls to read dequantize(quantized_weight) and frees the
  /// float originals nothing reads any more. With an outlier threshold
  /// (LLM.int8()), each matmul becomes a dequant_matmul with that
  /// outlier_threshold instead: 8-bit activations are a property of the
  /// matmul, which a later fusion of plain dequantize + matmul would lose.
  void apply(QuantSchemeAttrInterface scheme,
             std::optional<float> outlierThreshold = std::nullopt);

  /// Bytes before/after and bits per weight, per weight and in total (also
  /// after apply).
  void printReport(llvm::raw_ostream &os, StringRef method);

private:
  ModuleOp module_;
  std::vector<WeightJob> jobs_;
  SmallVector<std::pair<MatmulOp, size_t>> rewrites_;
};

/// The resource of a weight's blob (what weights sharing a blob share), or
/// null for inline data.
const void *resourceOf(WeightOp weight);

/// Frees the blobs of `dropped` (attributes of weight ops that were erased)
/// that no weight op in `module` holds any more.
void freeUnheldBlobs(ModuleOp module,
                     ArrayRef<DenseResourceElementsAttr> dropped);

/// The scheme attribute the options describe (for method=gptq: IntQuantAttr
/// with `actOrder` as GPTQ stores it), or failure with an error at the
/// module prefixed by `pass`.
FailureOr<QuantSchemeAttrInterface>
buildQuantScheme(ModuleOp module, const QuantizeOptions &options,
                 StringRef pass, bool actOrder = false);

} // namespace mlir::qllm

#endif // QUANT_PASSES_WEIGHTREWRITE_H
