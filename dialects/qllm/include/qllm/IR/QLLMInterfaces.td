//===- QLLMInterfaces.td - qllm interfaces ------------------*- tablegen -*-===//

#ifndef QLLM_INTERFACES_TD
#define QLLM_INTERFACES_TD

include "mlir/IR/OpBase.td"

//===----------------------------------------------------------------------===//
// Quantization scheme interface
//===----------------------------------------------------------------------===//

def QLLM_QuantSchemeAttrInterface : AttrInterface<"QuantSchemeAttrInterface"> {
  let cppNamespace = "::mlir::qllm";
  let description = [{
    A complete description of how a quantized [rows, cols] weight is stored:
    which component tensors it has (packed codes, scales, zero points, group
    index, double-quantization scales) and their shapes and element types.
    The layout comes from the runtime's weight-format library, so the
    compiler and the runtime agree on it by construction.
  }];
  let methods = [
    InterfaceMethod<"Bits of one stored code.", "unsigned", "getCodeBits">,
    InterfaceMethod<
      "The component tensors of a [rows, cols] weight in this scheme.",
      "::qrt::WeightLayout", "getLayout",
      (ins "int64_t":$rows, "int64_t":$cols)>,
  ];
}

#endif // QLLM_INTERFACES_TD
