// Folders and canonicalization patterns of the qllm dialect.
// RUN: quant-opt %s --canonicalize --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @reshape_identity
// CHECK-SAME: (%[[X:.*]]: tensor<2x3xf32>)
// CHECK-NEXT: return %[[X]]
func.func @reshape_identity(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = qllm.reshape %x : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// CHECK-LABEL: func.func @reshape_of_reshape
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x4xf32>)
// CHECK-NEXT: %[[R:.*]] = qllm.reshape %[[X]] : (tensor<2x3x4xf32>) -> tensor<4x6xf32>
// CHECK-NEXT: return %[[R]]
func.func @reshape_of_reshape(%x: tensor<2x3x4xf32>) -> tensor<4x6xf32> {
  %0 = qllm.reshape %x : (tensor<2x3x4xf32>) -> tensor<24xf32>
  %1 = qllm.reshape %0 : (tensor<24xf32>) -> tensor<4x6xf32>
  return %1 : tensor<4x6xf32>
}

// -----

// A constant shape operand is redundant once the result type is static; a
// dynamic result still needs it.
// CHECK-LABEL: func.func @reshape_constant_shape
// CHECK: qllm.reshape %{{.*}} : (tensor<?x64xf32>) -> tensor<2x8x8xf32>
// CHECK: qllm.reshape %{{.*}}, %{{.*}} : (tensor<?x64xf32>, tensor<3xi64>) -> tensor<?x8x8xf32>
func.func @reshape_constant_shape(%x: tensor<?x64xf32>) -> (tensor<2x8x8xf32>, tensor<?x8x8xf32>) {
  %s = qllm.constant dense<[2, 8, 8]> : tensor<3xi64>
  %0 = qllm.reshape %x, %s : (tensor<?x64xf32>, tensor<3xi64>) -> tensor<2x8x8xf32>
  %d = qllm.constant dense<[-1, 8, 8]> : tensor<3xi64>
  %1 = qllm.reshape %x, %d : (tensor<?x64xf32>, tensor<3xi64>) -> tensor<?x8x8xf32>
  return %0, %1 : tensor<2x8x8xf32>, tensor<?x8x8xf32>
}

// -----

// CHECK-LABEL: func.func @transpose_identity
// CHECK-SAME: (%[[X:.*]]: tensor<2x3xf32>)
// CHECK-NEXT: return %[[X]]
func.func @transpose_identity(%x: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %0 = qllm.transpose %x [0, 1] : tensor<2x3xf32> -> tensor<2x3xf32>
  return %0 : tensor<2x3xf32>
}

// -----

// CHECK-LABEL: func.func @transpose_of_transpose
// CHECK-SAME: (%[[X:.*]]: tensor<2x3x4xf32>)
// CHECK-NEXT: %[[T:.*]] = qllm.transpose %[[X]] [2, 0, 1] : tensor<2x3x4xf32> -> tensor<4x2x3xf32>
// CHECK-NEXT: return %[[T]]
func.func @transpose_of_transpose(%x: tensor<2x3x4xf32>) -> tensor<4x2x3xf32> {
  %0 = qllm.transpose %x [0, 2, 1] : tensor<2x3x4xf32> -> tensor<2x4x3xf32>
  %1 = qllm.transpose %0 [1, 0, 2] : tensor<2x4x3xf32> -> tensor<4x2x3xf32>
  return %1 : tensor<4x2x3xf32>
}

// -----

// Transposes that cancel disappear.
// CHECK-LABEL: func.func @transposes_cancel
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x8x16xf32>)
// CHECK-NEXT: return %[[X]]
func.func @transposes_cancel(%x: tensor<?x?x8x16xf32>) -> tensor<?x?x8x16xf32> {
  %0 = qllm.transpose %x [0, 2, 1, 3] : tensor<?x?x8x16xf32> -> tensor<?x8x?x16xf32>
  %1 = qllm.transpose %0 [0, 2, 1, 3] : tensor<?x8x?x16xf32> -> tensor<?x?x8x16xf32>
  return %1 : tensor<?x?x8x16xf32>
}

// -----

// Static squeeze/unsqueeze become reshapes (and then merge); dynamic ones stay.
// CHECK-LABEL: func.func @static_squeeze_unsqueeze
// CHECK-NEXT: %[[R:.*]] = qllm.reshape %{{.*}} : (tensor<1x64xf32>) -> tensor<64x1xf32>
// CHECK-NEXT: %[[U:.*]] = qllm.unsqueeze %{{.*}} axes = [0] : tensor<?xf32> -> tensor<1x?xf32>
// CHECK-NEXT: return %[[R]], %[[U]]
func.func @static_squeeze_unsqueeze(%x: tensor<1x64xf32>, %y: tensor<?xf32>) -> (tensor<64x1xf32>, tensor<1x?xf32>) {
  %0 = qllm.squeeze %x axes = [0] : tensor<1x64xf32> -> tensor<64xf32>
  %1 = qllm.unsqueeze %0 axes = [1] : tensor<64xf32> -> tensor<64x1xf32>
  %2 = qllm.unsqueeze %y axes = [0] : tensor<?xf32> -> tensor<1x?xf32>
  return %1, %2 : tensor<64x1xf32>, tensor<1x?xf32>
}

// -----

// CHECK-LABEL: func.func @cast_to_same_type
// CHECK-SAME: (%[[X:.*]]: tensor<4xf16>)
// CHECK-NEXT: %[[C:.*]] = qllm.cast %[[X]] : tensor<4xf16> -> tensor<4xf32>
// CHECK-NEXT: return %[[X]], %[[C]]
func.func @cast_to_same_type(%x: tensor<4xf16>) -> (tensor<4xf16>, tensor<4xf32>) {
  %0 = qllm.cast %x : tensor<4xf16> -> tensor<4xf16>
  %1 = qllm.cast %x : tensor<4xf16> -> tensor<4xf32>
  return %0, %1 : tensor<4xf16>, tensor<4xf32>
}

// -----

// CHECK-LABEL: func.func @shape_of
// CHECK-DAG: %[[C:.*]] = qllm.constant dense<[2, 8]> : tensor<2xi64>
// CHECK-DAG: %[[S:.*]] = qllm.shape_of %{{.*}} : tensor<?x8xf32> -> tensor<2xi64>
// CHECK: return %[[C]], %[[S]]
func.func @shape_of(%x: tensor<2x8xf32>, %y: tensor<?x8xf32>) -> (tensor<2xi64>, tensor<2xi64>) {
  %0 = qllm.shape_of %x : tensor<2x8xf32> -> tensor<2xi64>
  %1 = qllm.shape_of %y : tensor<?x8xf32> -> tensor<2xi64>
  return %0, %1 : tensor<2xi64>, tensor<2xi64>
}

// -----

// Dequantizing a constant quantized weight is never folded into a
// floating-point constant: that would undo the quantization.
// CHECK-LABEL: func.func @dequantize_is_not_folded
// CHECK: %[[Q:.*]] = qllm.quantized_weight "w"
// CHECK: %[[W:.*]] = qllm.dequantize %[[Q]]
// CHECK: return %[[W]]
func.func @dequantize_is_not_folded() -> tensor<2x4xf32> {
  %d = qllm.weight "w.data" = dense_resource<d> : tensor<2x2xui8>
  %s = qllm.weight "w.scales" = dense_resource<s> : tensor<2x1xf16>
  %q = qllm.quantized_weight "w" data(%d : tensor<2x2xui8>) scales(%s : tensor<2x1xf16>)
         -> !qllm.qtensor<2x4, #qllm.intq<bits = 4, group_size = 4, symmetric = true>>
  %w = qllm.dequantize %q : !qllm.qtensor<2x4, #qllm.intq<bits = 4, group_size = 4, symmetric = true>> -> tensor<2x4xf32>
  return %w : tensor<2x4xf32>
}

{-#
  dialect_resources: {
    builtin: {
      d: "0x0100000010325476",
      s: "0x02000000003C0038"
    }
  }
#-}
