//===- ReferenceLogits.cpp - logits of a model by reference evaluation ----===//
//
// Runs the model function with the qllm reference evaluator on one token
// sequence (batch 1, no past) and writes the logits as raw little-endian
// float32 [tokens, vocab], the format of `quant-run --dump-logits`. Slow and
// exact (double precision with the model's rounding at op boundaries): it is
// the compiler's own check that import and raising keep a model's meaning.
//
//===----------------------------------------------------------------------===//

#include "quant/Translate/Translations.h"

#include "qllm/Analysis/ReferenceEvaluator.h"
#include "qllm/IR/QLLMOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::qllm;

LogicalResult mlir::qllm::writeReferenceLogits(Operation *root,
                                               ArrayRef<int64_t> tokens,
                                               llvm::raw_ostream &os) {
  func::FuncOp func = findModelFunction(root);
  if (!func)
    return failure();
  if (tokens.empty())
    return root->emitError() << "no tokens given (--reference-tokens)";
  int64_t seq = static_cast<int64_t>(tokens.size());

  ReferenceEvaluator evaluator(/*maxElements=*/int64_t(1) << 26);
  for (BlockArgument arg : func.getArguments()) {
    auto type = dyn_cast<RankedTensorType>(arg.getType());
    auto name = func.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "qllm.name");
    if (!type || !name)
      return emitError(func.getLoc()) << "argument " << arg.getArgNumber()
                              << " has no qllm.name to bind it by";
    StringRef n = name.getValue();
    // Batch 1, no past: every dynamic dimension is the sequence length,
    // except the batch (first) and the past of a cache (0).
    bool cache = n.contains("past");
    SmallVector<int64_t> shape;
    for (int64_t d = 0; d < type.getRank(); ++d) {
      int64_t size = type.getDimSize(d);
      if (ShapedType::isDynamic(size))
        size = d == 0 ? 1 : cache ? 0 : seq;
      shape.push_back(size);
    }
    RefTensor value = RefTensor::filled(shape, 0.0);
    if (n == "input_ids") {
      if (value.numElements() != seq)
        return emitError(func.getLoc()) << "input_ids is not [1, tokens]";
      value.data.assign(tokens.begin(), tokens.end());
    } else if (n == "position_ids") {
      for (int64_t i = 0; i < seq && i < value.numElements(); ++i)
        value.data[i] = static_cast<double>(i);
    } else if (n == "attention_mask") {
      value = RefTensor::filled(shape, 1.0);
    } else if (!cache) {
      return emitError(func.getLoc()) << "cannot bind argument '" << n
                              << "' (expected input_ids, attention_mask, "
                                 "position_ids or past_* caches)";
    }
    evaluator.bind(arg, std::move(value));
  }
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  if (ret.getNumOperands() == 0)
    return emitError(func.getLoc()) << "the function returns nothing";
  FailureOr<RefTensor> logits = evaluator.evaluate(ret.getOperand(0));
  if (failed(logits))
    return emitError(func.getLoc()) << "reference evaluation failed: "
                            << evaluator.getError();
  for (double v : logits->data) {
    float f = static_cast<float>(v);
    os.write(reinterpret_cast<const char *>(&f), sizeof(f));
  }
  return success();
}
