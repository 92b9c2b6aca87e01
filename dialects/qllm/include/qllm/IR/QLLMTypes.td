//===- QLLMTypes.td - qllm types ---------------------------*- tablegen -*-===//

#ifndef QLLM_TYPES_TD
#define QLLM_TYPES_TD

include "qllm/IR/QLLMAttrs.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/BuiltinTypeInterfaces.td"

def QLLM_QTensorType : TypeDef<QLLM_Dialect, "QTensor"> {
  let mnemonic = "qtensor";
  let summary = "A quantized weight matrix";
  let description = [{
    A [rows, cols] weight stored in a quantization scheme: rows are output
    channels, cols the reduction dimension that groups and blocks run along.
    The value stands for the whole quantized weight (all its component
    tensors); `qllm.dequantize` gives its floating-point values and
    `qllm.dequant_matmul` multiplies by it without materializing them.

    Example: `!qllm.qtensor<4096x11008, #qllm.intq<bits = 4, group_size = 128>>`
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t", "[rows, cols]">:$shape,
    "::mlir::qllm::QuantSchemeAttrInterface":$scheme
  );
  let assemblyFormat = "`<` custom<StaticShape>($shape) `,` $scheme `>`";
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    int64_t getRows() const { return getShape()[0]; }
    int64_t getCols() const { return getShape()[1]; }
    /// Component tensors of this weight.
    ::qrt::WeightLayout getLayout() const {
      return getScheme().getLayout(getRows(), getCols());
    }
  }];
}

#endif // QLLM_TYPES_TD
