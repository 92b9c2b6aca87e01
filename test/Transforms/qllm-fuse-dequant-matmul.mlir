// RUN: quant-opt %s --qllm-fuse-dequant-matmul --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @int4_act_order
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x256xf16>, %[[Q:.*]]: !qllm.qtensor
// CHECK-NOT: qllm.dequantize
// CHECK: %[[Y:.*]] = qllm.dequant_matmul %[[X]], %[[Q]] : (tensor<?x?x256xf16>, !qllm.qtensor<64x256, #qllm.intq<bits = 4, group_size = 128, act_order = true>>) -> tensor<?x?x64xf16>
// CHECK-NOT: qllm.dequantize
// CHECK: return %[[Y]]
func.func @int4_act_order(%x: tensor<?x?x256xf16>, %q: !qllm.qtensor<64x256, #qllm.intq<bits = 4, group_size = 128, act_order = true>>) -> tensor<?x?x64xf16> {
  %w = qllm.dequantize %q : !qllm.qtensor<64x256, #qllm.intq<bits = 4, group_size = 128, act_order = true>> -> tensor<64x256xf16>
  %y = qllm.matmul %x, %w transpose_rhs : (tensor<?x?x256xf16>, tensor<64x256xf16>) -> tensor<?x?x64xf16>
  return %y : tensor<?x?x64xf16>
}

// -----

// CHECK-LABEL: func.func @nf4_double_quant
// CHECK: qllm.dequant_matmul %{{.*}}, %{{.*}} : (tensor<1x7x128xf32>, !qllm.qtensor<32x128, #qllm.nf4<double_quant = true>>) -> tensor<1x7x32xf32>
func.func @nf4_double_quant(%x: tensor<1x7x128xf32>, %q: !qllm.qtensor<32x128, #qllm.nf4<double_quant = true>>) -> tensor<1x7x32xf32> {
  %w = qllm.dequantize %q : !qllm.qtensor<32x128, #qllm.nf4<double_quant = true>> -> tensor<32x128xf32>
  %y = qllm.matmul %x, %w transpose_rhs : (tensor<1x7x128xf32>, tensor<32x128xf32>) -> tensor<1x7x32xf32>
  return %y : tensor<1x7x32xf32>
}

// -----

// CHECK-LABEL: func.func @int8_per_channel
// CHECK: qllm.dequant_matmul %{{.*}}, %{{.*}} : (tensor<4x172xf32>, !qllm.qtensor<64x172, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>>) -> tensor<4x64xf32>
func.func @int8_per_channel(%x: tensor<4x172xf32>, %q: !qllm.qtensor<64x172, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>>) -> tensor<4x64xf32> {
  %w = qllm.dequantize %q : !qllm.qtensor<64x172, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>> -> tensor<64x172xf32>
  %y = qllm.matmul %x, %w transpose_rhs : (tensor<4x172xf32>, tensor<64x172xf32>) -> tensor<4x64xf32>
  return %y : tensor<4x64xf32>
}

// -----

// A dequantized weight with another user stays for that user; both matmuls
// that read it as a [N, K] weight are fused.
// CHECK-LABEL: func.func @shared_dequantize
// CHECK-SAME: (%[[X:.*]]: tensor<2x16xf32>, %[[Q:.*]]: !qllm.qtensor
// CHECK-DAG: %[[W:.*]] = qllm.dequantize %[[Q]]
// CHECK-DAG: %[[Y0:.*]] = qllm.dequant_matmul %[[X]], %[[Q]]
// CHECK-DAG: %[[Y1:.*]] = qllm.dequant_matmul %[[X]], %[[Q]]
// CHECK: return %[[Y0]], %[[Y1]], %[[W]]
func.func @shared_dequantize(%x: tensor<2x16xf32>, %q: !qllm.qtensor<8x16, #qllm.intq<bits = 4, group_size = 8>>)
    -> (tensor<2x8xf32>, tensor<2x8xf32>, tensor<8x16xf32>) {
  %w = qllm.dequantize %q : !qllm.qtensor<8x16, #qllm.intq<bits = 4, group_size = 8>> -> tensor<8x16xf32>
  %y0 = qllm.matmul %x, %w transpose_rhs : (tensor<2x16xf32>, tensor<8x16xf32>) -> tensor<2x8xf32>
  %y1 = qllm.matmul %x, %w transpose_rhs : (tensor<2x16xf32>, tensor<8x16xf32>) -> tensor<2x8xf32>
  return %y0, %y1, %w : tensor<2x8xf32>, tensor<2x8xf32>, tensor<8x16xf32>
}

// -----

// Without transpose_rhs the dequantized [N, K] weight is multiplied as a
// [K', N'] matrix: not the fused op's contraction, so it stays.
// CHECK-LABEL: func.func @not_a_linear_layout
// CHECK: %[[W:.*]] = qllm.dequantize
// CHECK: qllm.matmul %{{.*}}, %[[W]] :
// CHECK-NOT: qllm.dequant_matmul
func.func @not_a_linear_layout(%x: tensor<2x8xf32>, %q: !qllm.qtensor<8x16, #qllm.intq<bits = 4, group_size = 8>>) -> tensor<2x16xf32> {
  %w = qllm.dequantize %q : !qllm.qtensor<8x16, #qllm.intq<bits = 4, group_size = 8>> -> tensor<8x16xf32>
  %y = qllm.matmul %x, %w : (tensor<2x8xf32>, tensor<8x16xf32>) -> tensor<2x16xf32>
  return %y : tensor<2x16xf32>
}

// -----

// The remaining schemes of qllm-quantize-weights: NF4 without double
// quantization, asymmetric 3-bit groups (zero points), and a partial last
// group (K = 172 in groups of 64).
// CHECK-LABEL: func.func @nf4_int3_partial
// CHECK-NOT: qllm.dequantize
// CHECK: qllm.dequant_matmul %{{.*}}, %{{.*}} : (tensor<1x1x64xf32>, !qllm.qtensor<172x64, #qllm.nf4<>>) -> tensor<1x1x172xf32>
// CHECK: qllm.dequant_matmul %{{.*}}, %{{.*}} : (tensor<1x1x172xf32>, !qllm.qtensor<64x172, #qllm.intq<bits = 3, group_size = 64>>) -> tensor<1x1x64xf32>
func.func @nf4_int3_partial(%x: tensor<1x1x64xf32>, %a: !qllm.qtensor<172x64, #qllm.nf4<>>, %b: !qllm.qtensor<64x172, #qllm.intq<bits = 3, group_size = 64>>) -> tensor<1x1x64xf32> {
  %wa = qllm.dequantize %a : !qllm.qtensor<172x64, #qllm.nf4<>> -> tensor<172x64xf32>
  %h = qllm.matmul %x, %wa transpose_rhs : (tensor<1x1x64xf32>, tensor<172x64xf32>) -> tensor<1x1x172xf32>
  %wb = qllm.dequantize %b : !qllm.qtensor<64x172, #qllm.intq<bits = 3, group_size = 64>> -> tensor<64x172xf32>
  %y = qllm.matmul %h, %wb transpose_rhs : (tensor<1x1x172xf32>, tensor<64x172xf32>) -> tensor<1x1x64xf32>
  return %y : tensor<1x1x64xf32>
}
