// Weight blobs print in full by default and are elided on request, leaving a
// module that still parses and verifies (a weightless module).
// RUN: quant-opt %s | FileCheck %s --check-prefix=FULL
// RUN: %quant-opt-print %s --mlir-elide-resource-strings-if-larger=16 | FileCheck %s --check-prefix=ELIDED
// RUN: %quant-opt-print %s --mlir-elide-resource-strings-if-larger=16 | quant-opt | FileCheck %s --check-prefix=ELIDED

// FULL: qllm.weight "layers.0.attention_norm.weight" = dense_resource<norm> : tensor<8xf32>
// FULL: norm: "0x040000000000803F0000004000004040000080400000A0400000C0400000E04000000041"

// ELIDED: qllm.weight "layers.0.attention_norm.weight" = dense_resource<norm> : tensor<8xf32>
// ELIDED-NOT: 0x04000000
func.func @f() -> tensor<8xf32> {
  %0 = qllm.weight "layers.0.attention_norm.weight" = dense_resource<norm> : tensor<8xf32>
  return %0 : tensor<8xf32>
}

{-#
  dialect_resources: {
    builtin: {
      norm: "0x040000000000803F0000004000004040000080400000A0400000C0400000E04000000041"
    }
  }
#-}
