// RUN: quant-opt %s --qllm-raise-swiglu --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @swiglu
// CHECK-SAME: (%[[G:.*]]: tensor<?x172xf32>, %[[U:.*]]: tensor<?x172xf32>)
// CHECK-NEXT: %[[S:.*]] = qllm.swiglu %[[G]], %[[U]] : tensor<?x172xf32>
// CHECK-NEXT: return %[[S]]
func.func @swiglu(%g: tensor<?x172xf32>, %u: tensor<?x172xf32>) -> tensor<?x172xf32> {
  %0 = qllm.sigmoid %g : tensor<?x172xf32>
  %1 = qllm.mul %g, %0 : (tensor<?x172xf32>, tensor<?x172xf32>) -> tensor<?x172xf32>
  %2 = qllm.mul %1, %u : (tensor<?x172xf32>, tensor<?x172xf32>) -> tensor<?x172xf32>
  return %2 : tensor<?x172xf32>
}

// -----

// Operands in the other order; a silu without an up projection stays silu.
// CHECK-LABEL: func.func @swapped_and_silu
// CHECK: %[[S:.*]] = qllm.swiglu %arg0, %arg1
// CHECK: %[[A:.*]] = qllm.silu %arg1
// CHECK: return %[[S]], %[[A]]
func.func @swapped_and_silu(%g: tensor<8xf16>, %u: tensor<8xf16>) -> (tensor<8xf16>, tensor<8xf16>) {
  %0 = qllm.sigmoid %g : tensor<8xf16>
  %1 = qllm.mul %0, %g : (tensor<8xf16>, tensor<8xf16>) -> tensor<8xf16>
  %2 = qllm.mul %u, %1 : (tensor<8xf16>, tensor<8xf16>) -> tensor<8xf16>
  %3 = qllm.sigmoid %u : tensor<8xf16>
  %4 = qllm.mul %u, %3 : (tensor<8xf16>, tensor<8xf16>) -> tensor<8xf16>
  return %2, %4 : tensor<8xf16>, tensor<8xf16>
}

// -----

// sigmoid of another value: not silu.
// CHECK-LABEL: func.func @not_silu
// CHECK-NOT: qllm.silu
// CHECK-NOT: qllm.swiglu
func.func @not_silu(%a: tensor<8xf32>, %b: tensor<8xf32>) -> tensor<8xf32> {
  %0 = qllm.sigmoid %b : tensor<8xf32>
  %1 = qllm.mul %a, %0 : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
  return %1 : tensor<8xf32>
}
