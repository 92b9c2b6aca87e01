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

// -----

// Integer shape arithmetic folds to constants.
// CHECK-LABEL: func.func @fold_shape_arithmetic
// CHECK-DAG: %[[A:.*]] = qllm.constant dense<[4, 7, 2]> : tensor<3xi64>
// CHECK-DAG: %[[B:.*]] = qllm.constant dense<8> : tensor<2xi64>
// CHECK-DAG: %[[C:.*]] = qllm.constant dense<[0, 1, 2, 3]> : tensor<4xi64>
// CHECK-DAG: %[[D:.*]] = qllm.constant dense<1.000000e+00> : tensor<2x3xf32>
// CHECK: return %[[A]], %[[B]], %[[C]], %[[D]]
func.func @fold_shape_arithmetic() -> (tensor<3xi64>, tensor<2xi64>, tensor<4xi64>, tensor<2x3xf32>) {
  %shape = qllm.constant dense<[2, 7, 4]> : tensor<3xi64>
  %i0 = qllm.constant dense<0> : tensor<i64>
  %i2 = qllm.constant dense<[2]> : tensor<1xi64>
  %g = qllm.gather %shape[%i2] axis = 0 : (tensor<3xi64>, tensor<1xi64>) -> tensor<1xi64>
  %mid = qllm.slice %shape axes = [0] starts = [1] ends = [2] steps = [1] : tensor<3xi64> -> tensor<1xi64>
  %first = qllm.gather %shape[%i0] axis = 0 : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %first1 = qllm.unsqueeze %first axes = [0] : tensor<i64> -> tensor<1xi64>
  %a = qllm.concat %g, %mid, %first1 axis = 0 : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<3xi64>
  %three = qllm.constant dense<3> : tensor<i64>
  %x = qllm.mul %first1, %three : (tensor<1xi64>, tensor<i64>) -> tensor<1xi64>
  %y = qllm.add %x, %i2 : (tensor<1xi64>, tensor<1xi64>) -> tensor<1xi64>
  %y32 = qllm.cast %y : tensor<1xi64> -> tensor<1xi32>
  %y64 = qllm.cast %y32 : tensor<1xi32> -> tensor<1xi64>
  %z = qllm.sub %y64, %i0 : (tensor<1xi64>, tensor<i64>) -> tensor<1xi64>
  %w = qllm.div %z, %three : (tensor<1xi64>, tensor<i64>) -> tensor<1xi64>
  %eight = qllm.constant dense<[8]> : tensor<1xi64>
  %b0 = qllm.sub %y64, %i0 : (tensor<1xi64>, tensor<i64>) -> tensor<1xi64>
  %b = qllm.concat %b0, %eight axis = 0 : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %four = qllm.constant dense<4> : tensor<i64>
  %one = qllm.constant dense<1> : tensor<i64>
  %c = qllm.range %i0, %four, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<4xi64>
  %fs = qllm.constant dense<[2, 3]> : tensor<2xi64>
  %d = qllm.fill %fs, 1.0 : f32 : (tensor<2xi64>) -> tensor<2x3xf32>
  return %a, %b, %c, %d : tensor<3xi64>, tensor<2xi64>, tensor<4xi64>, tensor<2x3xf32>
}

// -----

// Shape subgraphs fold while batch and sequence stay dynamic: each shape
// entry that copies the reshape input's dimension at the same position (here
// through the matmul that produced it) becomes 0, and the subgraph dies.
// CHECK-LABEL: func.func @fold_dynamic_reshape_shape
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x64xf32>, %[[W:.*]]: tensor<64x64xf32>)
// CHECK-DAG: %[[S:.*]] = qllm.constant dense<[0, 0, 8, 8]> : tensor<4xi64>
// CHECK-DAG: %[[Y:.*]] = qllm.matmul %[[X]], %[[W]]
// CHECK: %[[R:.*]] = qllm.reshape %[[Y]], %[[S]] : (tensor<?x?x64xf32>, tensor<4xi64>) -> tensor<?x?x8x8xf32>
// CHECK-NOT: qllm.shape_of
// CHECK: return %[[R]]
func.func @fold_dynamic_reshape_shape(%x: tensor<?x?x64xf32>, %w: tensor<64x64xf32>) -> tensor<?x?x8x8xf32> {
  %y = qllm.matmul %x, %w : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
  %shape = qllm.shape_of %x : tensor<?x?x64xf32> -> tensor<3xi64>
  %i0 = qllm.constant dense<0> : tensor<i64>
  %i1 = qllm.constant dense<1> : tensor<i64>
  %b = qllm.gather %shape[%i0] axis = 0 : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %s = qllm.gather %shape[%i1] axis = 0 : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %b1 = qllm.unsqueeze %b axes = [0] : tensor<i64> -> tensor<1xi64>
  %s1 = qllm.unsqueeze %s axes = [0] : tensor<i64> -> tensor<1xi64>
  %eight = qllm.constant dense<[8]> : tensor<1xi64>
  %new = qllm.concat %b1, %s1, %eight, %eight axis = 0 : (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<4xi64>
  %r = qllm.reshape %y, %new : (tensor<?x?x64xf32>, tensor<4xi64>) -> tensor<?x?x8x8xf32>
  return %r : tensor<?x?x8x8xf32>
}

// -----

// The same dimension in another position, or of an unrelated tensor, is not
// provably a copy: the shape stays a runtime value.
// CHECK-LABEL: func.func @no_fold_other_dims
// CHECK: qllm.shape_of %arg1
// CHECK: qllm.reshape %arg0, %{{.*}} : (tensor<?x?x64xf32>, tensor<4xi64>) -> tensor<?x?x8x8xf32>
func.func @no_fold_other_dims(%x: tensor<?x?x64xf32>, %z: tensor<?x?x64xf32>) -> tensor<?x?x8x8xf32> {
  %shape = qllm.shape_of %z : tensor<?x?x64xf32> -> tensor<3xi64>
  %pick = qllm.constant dense<[0, 1]> : tensor<2xi64>
  %bs = qllm.gather %shape[%pick] axis = 0 : (tensor<3xi64>, tensor<2xi64>) -> tensor<2xi64>
  %eight = qllm.constant dense<[8, 8]> : tensor<2xi64>
  %new = qllm.concat %bs, %eight axis = 0 : (tensor<2xi64>, tensor<2xi64>) -> tensor<4xi64>
  %r = qllm.reshape %x, %new : (tensor<?x?x64xf32>, tensor<4xi64>) -> tensor<?x?x8x8xf32>
  return %r : tensor<?x?x8x8xf32>
}

// -----

// Expand entries that copy the input's dimension become 1 (keep).
// CHECK-LABEL: func.func @fold_expand_shape
// CHECK: %[[S:.*]] = qllm.constant dense<[1, 4, 2, 1, 8]> : tensor<5xi64>
// CHECK: qllm.expand %{{.*}}, %[[S]]
func.func @fold_expand_shape(%k: tensor<?x4x?x8xf32>) -> tensor<?x4x2x?x8xf32> {
  %ku = qllm.unsqueeze %k axes = [2] : tensor<?x4x?x8xf32> -> tensor<?x4x1x?x8xf32>
  %shape = qllm.shape_of %k : tensor<?x4x?x8xf32> -> tensor<4xi64>
  %i0 = qllm.constant dense<[0]> : tensor<1xi64>
  %i2 = qllm.constant dense<[2]> : tensor<1xi64>
  %b = qllm.gather %shape[%i0] axis = 0 : (tensor<4xi64>, tensor<1xi64>) -> tensor<1xi64>
  %t = qllm.gather %shape[%i2] axis = 0 : (tensor<4xi64>, tensor<1xi64>) -> tensor<1xi64>
  %mid = qllm.constant dense<[4, 2]> : tensor<2xi64>
  %d = qllm.constant dense<[8]> : tensor<1xi64>
  %new = qllm.concat %b, %mid, %t, %d axis = 0 : (tensor<1xi64>, tensor<2xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<5xi64>
  %e = qllm.expand %ku, %new : (tensor<?x4x1x?x8xf32>, tensor<5xi64>) -> tensor<?x4x2x?x8xf32>
  return %e : tensor<?x4x2x?x8xf32>
}

// -----

// Reshapes back and forth through copies of dynamic dimensions cancel.
// CHECK-LABEL: func.func @reshape_round_trip
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x1x16xf16>)
// CHECK-NEXT: return %[[X]]
func.func @reshape_round_trip(%x: tensor<?x?x1x16xf16>) -> tensor<?x?x1x16xf16> {
  %flat = qllm.constant dense<[0, 0, 16]> : tensor<3xi64>
  %heads = qllm.constant dense<[0, 0, 1, 16]> : tensor<4xi64>
  %0 = qllm.reshape %x, %flat : (tensor<?x?x1x16xf16>, tensor<3xi64>) -> tensor<?x?x16xf16>
  %1 = qllm.reshape %0, %heads : (tensor<?x?x16xf16>, tensor<4xi64>) -> tensor<?x?x1x16xf16>
  return %1 : tensor<?x?x1x16xf16>
}

// -----

// dynamic_slice whose bounds fold becomes slice (keeping its result type).
// CHECK-LABEL: func.func @dynamic_slice_constant_bounds
// CHECK-SAME: (%[[X:.*]]: tensor<1x1x512x8xf32>)
// CHECK-NEXT: %[[S:.*]] = qllm.slice %[[X]] axes = [2] starts = [0] ends = [16] steps = [1] : tensor<1x1x512x8xf32> -> tensor<1x1x?x8xf32>
// CHECK-NEXT: return %[[S]]
func.func @dynamic_slice_constant_bounds(%x: tensor<1x1x512x8xf32>) -> tensor<1x1x?x8xf32> {
  %s = qllm.constant dense<0> : tensor<1xi64>
  %e = qllm.constant dense<16> : tensor<1xi64>
  %0 = qllm.dynamic_slice %x[%s : %e] axes = [2] steps = [1] : (tensor<1x1x512x8xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x1x?x8xf32>
  return %0 : tensor<1x1x?x8xf32>
}

// -----

// A run-time end stays.
// CHECK-LABEL: func.func @dynamic_slice_runtime_end
// CHECK: qllm.dynamic_slice
func.func @dynamic_slice_runtime_end(%x: tensor<1x1x512x8xf32>, %e: tensor<1xi64>) -> tensor<1x1x?x8xf32> {
  %s = qllm.constant dense<0> : tensor<1xi64>
  %0 = qllm.dynamic_slice %x[%s : %e] axes = [2] steps = [1] : (tensor<1x1x512x8xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x1x?x8xf32>
  return %0 : tensor<1x1x?x8xf32>
}

// -----

// A 2-D rhs transposed in the graph is read in place (transpose_rhs flips).
// CHECK-LABEL: func.func @matmul_rhs_transpose
// CHECK-SAME: (%[[X:.*]]: tensor<?x4xf32>, %[[W:.*]]: tensor<3x4xf32>)
// CHECK-NEXT: %[[Y:.*]] = qllm.matmul %[[X]], %[[W]] transpose_rhs : (tensor<?x4xf32>, tensor<3x4xf32>) -> tensor<?x3xf32>
// CHECK-NEXT: return %[[Y]]
func.func @matmul_rhs_transpose(%x: tensor<?x4xf32>, %w: tensor<3x4xf32>) -> tensor<?x3xf32> {
  %t = qllm.transpose %w [1, 0] : tensor<3x4xf32> -> tensor<4x3xf32>
  %y = qllm.matmul %x, %t : (tensor<?x4xf32>, tensor<4x3xf32>) -> tensor<?x3xf32>
  return %y : tensor<?x3xf32>
}
