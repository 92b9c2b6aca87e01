//===- Options.cpp - names of the compiler's closed choices ---------------===//

#include "quant/Passes/Options.h"

llvm::StringRef mlir::qllm::nameOf(WeightMethod method) {
  switch (method) {
  case WeightMethod::fp32:
    return "fp32";
  case WeightMethod::fp16:
    return "fp16";
  case WeightMethod::int8:
    return "int8";
  case WeightMethod::int4:
    return "int4";
  case WeightMethod::intN:
    return "int";
  case WeightMethod::nf4:
    return "nf4";
  case WeightMethod::fp4:
    return "fp4";
  case WeightMethod::gptq:
    return "gptq";
  case WeightMethod::llmInt8:
    return "llm-int8";
  }
  return "?";
}

llvm::StringRef mlir::qllm::nameOf(Target target) {
  return target == Target::cuda ? "cuda" : "cpu";
}
