// RUN: quant-opt %s --qllm-promote-to-f32 --split-input-file | FileCheck %s

// f16 activations become f32; f16 weights stay f16 and are read through a
// cast (qllm-layout-weights folds it into the stored weight); the function
// type follows.
// CHECK-LABEL: func.func @mixed
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x4xf32>) -> tensor<?x?x3xf32>
// CHECK: %[[W:.*]] = qllm.weight "w" = dense_resource<w> : tensor<4x3xf16>
// CHECK: %[[WF:.*]] = qllm.cast %[[W]] : tensor<4x3xf16> -> tensor<4x3xf32>
// CHECK: %[[N:.*]] = qllm.weight "n" = dense_resource<n> : tensor<4xf16>
// CHECK: %[[NF:.*]] = qllm.cast %[[N]] : tensor<4xf16> -> tensor<4xf32>
// CHECK: %[[R:.*]] = qllm.rms_norm %[[X]], %[[NF]] {{.*}} : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
// CHECK: %[[Y:.*]] = qllm.matmul %[[R]], %[[WF]] : (tensor<?x?x4xf32>, tensor<4x3xf32>) -> tensor<?x?x3xf32>
// CHECK: return %[[Y]] : tensor<?x?x3xf32>
func.func @mixed(%x: tensor<?x?x4xf16>) -> tensor<?x?x3xf16> {
  %w = qllm.weight "w" = dense_resource<w> : tensor<4x3xf16>
  %n = qllm.weight "n" = dense_resource<n> : tensor<4xf16>
  %r = qllm.rms_norm %x, %n {epsilon = 1.0e-5 : f32} : (tensor<?x?x4xf16>, tensor<4xf16>) -> tensor<?x?x4xf16>
  %y = qllm.matmul %r, %w : (tensor<?x?x4xf16>, tensor<4x3xf16>) -> tensor<?x?x3xf16>
  return %y : tensor<?x?x3xf16>
}

// -----

// Casts between activation precisions disappear: the runtime computes in
// f32 throughout (an f32 -> f16 -> f32 round trip is not kept).
// CHECK-LABEL: func.func @casts
// CHECK-SAME: (%[[X:.*]]: tensor<2x4xf32>) -> tensor<2x4xf32>
// CHECK-NOT: qllm.cast
// CHECK: %[[S:.*]] = qllm.silu %[[X]] : tensor<2x4xf32>
// CHECK-NOT: qllm.cast
// CHECK: return %[[S]]
func.func @casts(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %h = qllm.cast %x : tensor<2x4xf32> -> tensor<2x4xf16>
  %s = qllm.silu %h : tensor<2x4xf16>
  %f = qllm.cast %s : tensor<2x4xf16> -> tensor<2x4xf32>
  return %f : tensor<2x4xf32>
}

// -----

// An f32 function is unchanged.
// CHECK-LABEL: func.func @already_f32
// CHECK-NEXT: qllm.weight "w" = dense_resource<w> : tensor<4x3xf32>
// CHECK-NEXT: qllm.matmul
// CHECK-NEXT: return
func.func @already_f32(%x: tensor<2x4xf32>) -> tensor<2x3xf32> {
  %w = qllm.weight "w" = dense_resource<w> : tensor<4x3xf32>
  %y = qllm.matmul %x, %w : (tensor<2x4xf32>, tensor<4x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
