// Round trip of every qllm op, type and attribute, through the custom and
// the generic form.
// RUN: quant-opt %s | quant-opt | FileCheck %s
// RUN: quant-opt %s --mlir-print-op-generic | quant-opt | FileCheck %s

// CHECK-LABEL: func.func @constants_and_weights
func.func @constants_and_weights() -> (tensor<2xi64>, tensor<4x2xf32>, tensor<3xf16>) {
  // CHECK: qllm.constant dense<[1, 8]> : tensor<2xi64>
  %0 = qllm.constant dense<[1, 8]> : tensor<2xi64>
  // CHECK: qllm.weight "layers.0.wq" = dense_resource<wq> : tensor<4x2xf32>
  %1 = qllm.weight "layers.0.wq" = dense_resource<wq> : tensor<4x2xf32>
  // CHECK: qllm.weight "norm" = dense_resource<norm> : tensor<3xf16>
  %2 = qllm.weight "norm" = dense_resource<norm> : tensor<3xf16>
  return %0, %1, %2 : tensor<2xi64>, tensor<4x2xf32>, tensor<3xf16>
}

// CHECK-LABEL: func.func @int4_group128_act_order
func.func @int4_group128_act_order(%x: tensor<?x?x256xf16>) -> tensor<?x?x64xf16> {
  %d = qllm.weight "w.data" = dense_resource<d> : tensor<64x128xui8>
  %s = qllm.weight "w.scales" = dense_resource<s> : tensor<64x2xf16>
  %z = qllm.weight "w.zero_points" = dense_resource<z> : tensor<64x1xui8>
  %g = qllm.weight "w.g_idx" = dense_resource<g> : tensor<256xi32>
  // CHECK: qllm.quantized_weight "w" data(%{{.*}} : tensor<64x128xui8>) scales(%{{.*}} : tensor<64x2xf16>) zero_points(%{{.*}} : tensor<64x1xui8>) g_idx(%{{.*}} : tensor<256xi32>) -> !qllm.qtensor<64x256, #qllm.intq<bits = 4, group_size = 128, act_order = true>>
  %q = qllm.quantized_weight "w" data(%d : tensor<64x128xui8>) scales(%s : tensor<64x2xf16>)
         zero_points(%z : tensor<64x1xui8>) g_idx(%g : tensor<256xi32>)
         -> !qllm.qtensor<64x256, #qllm.intq<bits = 4, group_size = 128, act_order = true>>
  // CHECK: qllm.dequant_matmul %{{.*}}, %{{.*}} : (tensor<?x?x256xf16>, !qllm.qtensor<64x256, #qllm.intq<bits = 4, group_size = 128, act_order = true>>) -> tensor<?x?x64xf16>
  %y = qllm.dequant_matmul %x, %q : (tensor<?x?x256xf16>, !qllm.qtensor<64x256, #qllm.intq<bits = 4, group_size = 128, act_order = true>>) -> tensor<?x?x64xf16>
  return %y : tensor<?x?x64xf16>
}

// A 3-bit symmetric scheme with a partial last group (172 = 64 + 64 + 44)
// and bf16 scales.
// CHECK-LABEL: func.func @int3_partial_group
func.func @int3_partial_group() -> tensor<10x172xf32> {
  %d = qllm.weight "w3.data" = dense_resource<d3> : tensor<10x65xui8>
  %s = qllm.weight "w3.scales" = dense_resource<s3> : tensor<10x3xbf16>
  // CHECK: -> !qllm.qtensor<10x172, #qllm.intq<bits = 3, group_size = 64, symmetric = true, scale_type = bf16>>
  %q = qllm.quantized_weight "w3" data(%d : tensor<10x65xui8>) scales(%s : tensor<10x3xbf16>)
         -> !qllm.qtensor<10x172, #qllm.intq<bits = 3, group_size = 64, symmetric = true, scale_type = bf16>>
  // CHECK: qllm.dequantize %{{.*}} : !qllm.qtensor<10x172, #qllm.intq<bits = 3, group_size = 64, symmetric = true, scale_type = bf16>> -> tensor<10x172xf32>
  %w = qllm.dequantize %q : !qllm.qtensor<10x172, #qllm.intq<bits = 3, group_size = 64, symmetric = true, scale_type = bf16>> -> tensor<10x172xf32>
  return %w : tensor<10x172xf32>
}

// CHECK-LABEL: func.func @int2_group_larger_than_row
func.func @int2_group_larger_than_row() -> !qllm.qtensor<4x30, #qllm.intq<bits = 2, group_size = 256>> {
  %d = qllm.weight "w2.data" = dense_resource<d2> : tensor<4x8xui8>
  %s = qllm.weight "w2.scales" = dense_resource<s2> : tensor<4x1xf16>
  %z = qllm.weight "w2.zero_points" = dense_resource<z2> : tensor<4x1xui8>
  // CHECK: !qllm.qtensor<4x30, #qllm.intq<bits = 2, group_size = 256>>
  %q = qllm.quantized_weight "w2" data(%d : tensor<4x8xui8>) scales(%s : tensor<4x1xf16>)
         zero_points(%z : tensor<4x1xui8>) -> !qllm.qtensor<4x30, #qllm.intq<bits = 2, group_size = 256>>
  return %q : !qllm.qtensor<4x30, #qllm.intq<bits = 2, group_size = 256>>
}

// CHECK-LABEL: func.func @int8_per_channel_outliers
func.func @int8_per_channel_outliers(%x: tensor<1x?x172xf16>) -> tensor<1x?x64xf16> {
  %d = qllm.weight "w8.data" = dense_resource<d8> : tensor<64x172xui8>
  %s = qllm.weight "w8.scales" = dense_resource<s8> : tensor<64x1xf32>
  // CHECK: !qllm.qtensor<64x172, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>>
  %q = qllm.quantized_weight "w8" data(%d : tensor<64x172xui8>) scales(%s : tensor<64x1xf32>)
         -> !qllm.qtensor<64x172, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>>
  // CHECK: qllm.dequant_matmul %{{.*}}, %{{.*}} {outlier_threshold = 6.000000e+00 : f32}
  %y = qllm.dequant_matmul %x, %q {outlier_threshold = 6.0 : f32}
         : (tensor<1x?x172xf16>, !qllm.qtensor<64x172, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>>) -> tensor<1x?x64xf16>
  // 8-bit activations in blocks of 32 (qllm-select-kernels sets them).
  // CHECK: qllm.dequant_matmul %{{.*}}, %{{.*}} {int8_activations}
  %a = qllm.dequant_matmul %x, %q {int8_activations}
         : (tensor<1x?x172xf16>, !qllm.qtensor<64x172, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>>) -> tensor<1x?x64xf16>
  // A threshold of 0: 8-bit activations without outlier columns.
  // CHECK: qllm.dequant_matmul %{{.*}}, %{{.*}} {outlier_threshold = 0.000000e+00 : f32}
  %z = qllm.dequant_matmul %x, %q {outlier_threshold = 0.0 : f32}
         : (tensor<1x?x172xf16>, !qllm.qtensor<64x172, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>>) -> tensor<1x?x64xf16>
  return %y : tensor<1x?x64xf16>
}

// CHECK-LABEL: func.func @fp4_schemes
func.func @fp4_schemes() -> (!qllm.qtensor<8x100, #qllm.fp4<>>, !qllm.qtensor<8x100, #qllm.fp4<block_size = 32, double_quant = true, double_quant_block_size = 8>>) {
  %d = qllm.weight "fp.data" = dense_resource<fd> : tensor<8x50xui8>
  %s = qllm.weight "fp.absmax" = dense_resource<fs> : tensor<8x2xf32>
  // CHECK: -> !qllm.qtensor<8x100, #qllm.fp4<>>
  %a = qllm.quantized_weight "fp" data(%d : tensor<8x50xui8>) scales(%s : tensor<8x2xf32>)
         -> !qllm.qtensor<8x100, #qllm.fp4<>>
  %c = qllm.weight "fq.absmax" = dense_resource<fc> : tensor<8x4xui8>
  %e = qllm.weight "fq.dq_scales" = dense_resource<fe> : tensor<4xf32>
  %o = qllm.weight "fq.dq_offset" = dense_resource<fo> : tensor<f32>
  // CHECK: -> !qllm.qtensor<8x100, #qllm.fp4<block_size = 32, double_quant = true, double_quant_block_size = 8>>
  %b = qllm.quantized_weight "fq" data(%d : tensor<8x50xui8>) scales(%c : tensor<8x4xui8>)
         double_quant(%e, %o : tensor<4xf32>, tensor<f32>)
         -> !qllm.qtensor<8x100, #qllm.fp4<block_size = 32, double_quant = true, double_quant_block_size = 8>>
  return %a, %b : !qllm.qtensor<8x100, #qllm.fp4<>>, !qllm.qtensor<8x100, #qllm.fp4<block_size = 32, double_quant = true, double_quant_block_size = 8>>
}

// CHECK-LABEL: func.func @nf4_schemes
func.func @nf4_schemes() -> (!qllm.qtensor<128x256, #qllm.nf4<>>, !qllm.qtensor<128x256, #qllm.nf4<double_quant = true>>, !qllm.qtensor<8x100, #qllm.nf4<block_size = 32, scale_type = f16>>) {
  %d = qllm.weight "nf.data" = dense_resource<nd> : tensor<128x128xui8>
  %s = qllm.weight "nf.absmax" = dense_resource<ns> : tensor<128x4xf32>
  // CHECK: -> !qllm.qtensor<128x256, #qllm.nf4<>>
  %a = qllm.quantized_weight "nf" data(%d : tensor<128x128xui8>) scales(%s : tensor<128x4xf32>)
         -> !qllm.qtensor<128x256, #qllm.nf4<>>
  %qs = qllm.weight "nfdq.absmax" = dense_resource<qs> : tensor<128x4xui8>
  %dqs = qllm.weight "nfdq.absmax_scales" = dense_resource<dqs> : tensor<2xf32>
  %off = qllm.weight "nfdq.absmax_offset" = dense_resource<off> : tensor<f32>
  // CHECK: qllm.quantized_weight "nfdq" data(%{{.*}} : tensor<128x128xui8>) scales(%{{.*}} : tensor<128x4xui8>) double_quant(%{{.*}}, %{{.*}} : tensor<2xf32>, tensor<f32>) -> !qllm.qtensor<128x256, #qllm.nf4<double_quant = true>>
  %b = qllm.quantized_weight "nfdq" data(%d : tensor<128x128xui8>) scales(%qs : tensor<128x4xui8>)
         double_quant(%dqs, %off : tensor<2xf32>, tensor<f32>)
         -> !qllm.qtensor<128x256, #qllm.nf4<double_quant = true>>
  %d2 = qllm.weight "nf32.data" = dense_resource<nd2> : tensor<8x50xui8>
  %s2 = qllm.weight "nf32.absmax" = dense_resource<ns2> : tensor<8x4xf16>
  // CHECK: -> !qllm.qtensor<8x100, #qllm.nf4<block_size = 32, scale_type = f16>>
  %c = qllm.quantized_weight "nf32" data(%d2 : tensor<8x50xui8>) scales(%s2 : tensor<8x4xf16>)
         -> !qllm.qtensor<8x100, #qllm.nf4<block_size = 32, scale_type = f16>>
  return %a, %b, %c : !qllm.qtensor<128x256, #qllm.nf4<>>, !qllm.qtensor<128x256, #qllm.nf4<double_quant = true>>, !qllm.qtensor<8x100, #qllm.nf4<block_size = 32, scale_type = f16>>
}

// CHECK-LABEL: func.func @llm_ops
func.func @llm_ops(%ids: tensor<?x?xi64>, %pos: tensor<?x?xi64>,
                   %pk: tensor<?x4x?x8xf32>, %pv: tensor<?x4x?x8xf32>,
                   %mask: tensor<?x?xi64>, %bias: tensor<?x1x?x?xf32>)
    -> (tensor<?x?x8x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>) {
  %table = qllm.weight "tok_embeddings" = dense_resource<emb> : tensor<512x64xf32>
  // CHECK: qllm.embedding %{{.*}}[%{{.*}}] : (tensor<512x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %x = qllm.embedding %table[%ids] : (tensor<512x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %g = qllm.weight "norm" = dense_resource<norm> : tensor<64xf32>
  // CHECK: qllm.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.99999974E-6 : f32} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %n = qllm.rms_norm %x, %g {epsilon = 1.0e-5 : f32} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
  %wq = qllm.weight "wq" = dense_resource<wq> : tensor<64x64xf32>
  // CHECK: qllm.matmul %{{.*}}, %{{.*}} transpose_rhs : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
  %q0 = qllm.matmul %n, %wq transpose_rhs : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
  %wk = qllm.weight "wk" = dense_resource<wk> : tensor<64x32xf32>
  // CHECK: qllm.matmul %{{.*}}, %{{.*}} : (tensor<?x?x64xf32>, tensor<64x32xf32>) -> tensor<?x?x32xf32>
  %k0 = qllm.matmul %n, %wk : (tensor<?x?x64xf32>, tensor<64x32xf32>) -> tensor<?x?x32xf32>
  %shq = qllm.constant dense<[0, 0, 8, 8]> : tensor<4xi64>
  %shk = qllm.constant dense<[0, 0, 4, 8]> : tensor<4xi64>
  %q1 = qllm.reshape %q0, %shq : (tensor<?x?x64xf32>, tensor<4xi64>) -> tensor<?x?x8x8xf32>
  %k1 = qllm.reshape %k0, %shk : (tensor<?x?x32xf32>, tensor<4xi64>) -> tensor<?x?x4x8xf32>
  // CHECK: qllm.rotary interleaved %{{.*}}, %{{.*}} {base = 1.000000e+04 : f32} : (tensor<?x?x8x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8x8xf32>
  %q2 = qllm.rotary interleaved %q1, %pos {base = 1.0e4 : f32} : (tensor<?x?x8x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8x8xf32>
  %cos = qllm.weight "cos_cache" = dense_resource<cos> : tensor<2048x2xf32>
  %sin = qllm.weight "sin_cache" = dense_resource<sin> : tensor<2048x2xf32>
  // CHECK: qllm.rotary rotate_half %{{.*}}, %{{.*}} cache(%{{.*}}, %{{.*}}) {rotary_dim = 4 : i64} : (tensor<?x?x4x8xf32>, tensor<?x?xi64>, tensor<2048x2xf32>, tensor<2048x2xf32>) -> tensor<?x?x4x8xf32>
  %k2 = qllm.rotary rotate_half %k1, %pos cache(%cos, %sin) {rotary_dim = 4 : i64} : (tensor<?x?x4x8xf32>, tensor<?x?xi64>, tensor<2048x2xf32>, tensor<2048x2xf32>) -> tensor<?x?x4x8xf32>
  // CHECK: qllm.attention %{{.*}}, %{{.*}}, %{{.*}} past(%{{.*}}, %{{.*}}) mask(%{{.*}}) bias(%{{.*}}) causal {scale = 3.535530e-01 : f32} : (tensor<?x?x8x8xf32>, tensor<?x?x4x8xf32>, tensor<?x?x4x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x?xi64>, tensor<?x1x?x?xf32>) -> (tensor<?x?x8x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>)
  %o, %pk1, %pv1 = qllm.attention %q2, %k2, %k2 past(%pk, %pv) mask(%mask) bias(%bias) causal {scale = 0.353553 : f32}
      : (tensor<?x?x8x8xf32>, tensor<?x?x4x8xf32>, tensor<?x?x4x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>, tensor<?x?xi64>, tensor<?x1x?x?xf32>)
      -> (tensor<?x?x8x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>)
  return %o, %pk1, %pv1 : tensor<?x?x8x8xf32>, tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>
}

// CHECK-LABEL: func.func @attention_without_cache
func.func @attention_without_cache(%q: tensor<1x5x2x4xf16>, %k: tensor<1x5x1x4xf16>, %v: tensor<1x5x1x6xf16>)
    -> tensor<1x5x2x6xf16> {
  // CHECK: qllm.attention %{{.*}}, %{{.*}}, %{{.*}} causal : (tensor<1x5x2x4xf16>, tensor<1x5x1x4xf16>, tensor<1x5x1x6xf16>) -> (tensor<1x5x2x6xf16>, tensor<1x1x5x4xf16>, tensor<1x1x5x6xf16>)
  %o, %pk, %pv = qllm.attention %q, %k, %v causal
      : (tensor<1x5x2x4xf16>, tensor<1x5x1x4xf16>, tensor<1x5x1x6xf16>) -> (tensor<1x5x2x6xf16>, tensor<1x1x5x4xf16>, tensor<1x1x5x6xf16>)
  return %o : tensor<1x5x2x6xf16>
}

// CHECK-LABEL: func.func @activations
func.func @activations(%a: tensor<2x?xf32>, %b: tensor<2x?xf32>) -> tensor<2x?xf32> {
  // CHECK: qllm.swiglu %{{.*}}, %{{.*}} : tensor<2x?xf32>
  %0 = qllm.swiglu %a, %b : tensor<2x?xf32>
  // CHECK: qllm.softmax %{{.*}} axis = 1 : tensor<2x?xf32>
  %1 = qllm.softmax %0 axis = 1 : tensor<2x?xf32>
  // CHECK: qllm.neg %{{.*}} : tensor<2x?xf32>
  %2 = qllm.neg %1 : tensor<2x?xf32>
  // CHECK: qllm.sqrt
  %3 = qllm.sqrt %2 : tensor<2x?xf32>
  // CHECK: qllm.rsqrt
  %4 = qllm.rsqrt %3 : tensor<2x?xf32>
  // CHECK: qllm.reciprocal
  %5 = qllm.reciprocal %4 : tensor<2x?xf32>
  // CHECK: qllm.exp
  %6 = qllm.exp %5 : tensor<2x?xf32>
  // CHECK: qllm.log
  %7 = qllm.log %6 : tensor<2x?xf32>
  // CHECK: qllm.cos
  %8 = qllm.cos %7 : tensor<2x?xf32>
  // CHECK: qllm.sin
  %9 = qllm.sin %8 : tensor<2x?xf32>
  // CHECK: qllm.sigmoid
  %10 = qllm.sigmoid %9 : tensor<2x?xf32>
  // CHECK: qllm.tanh
  %11 = qllm.tanh %10 : tensor<2x?xf32>
  // CHECK: qllm.silu %{{.*}} : tensor<2x?xf32>
  %12 = qllm.silu %11 : tensor<2x?xf32>
  return %12 : tensor<2x?xf32>
}

// CHECK-LABEL: func.func @binary_broadcast
func.func @binary_broadcast(%a: tensor<2x3xf32>, %b: tensor<3xf32>, %i: tensor<4xi64>, %j: tensor<i64>)
    -> (tensor<2x3xf32>, tensor<4xi64>, tensor<2x3xi1>) {
  // CHECK: qllm.add %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %0 = qllm.add %a, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: qllm.sub
  %1 = qllm.sub %0, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: qllm.mul
  %2 = qllm.mul %1, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: qllm.div
  %3 = qllm.div %2, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: qllm.pow
  %4 = qllm.pow %3, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: qllm.maximum
  %5 = qllm.maximum %4, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: qllm.minimum
  %6 = qllm.minimum %5, %b : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  // CHECK: qllm.add %{{.*}}, %{{.*}} : (tensor<4xi64>, tensor<i64>) -> tensor<4xi64>
  %7 = qllm.add %i, %j : (tensor<4xi64>, tensor<i64>) -> tensor<4xi64>
  // CHECK: qllm.compare lt, %{{.*}}, %{{.*}} : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xi1>
  %8 = qllm.compare lt, %6, %a : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xi1>
  // CHECK: qllm.compare eq
  %9 = qllm.compare eq, %6, %a : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xi1>
  // CHECK: qllm.compare ne
  %10 = qllm.compare ne, %6, %a : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xi1>
  // CHECK: qllm.compare le
  %11 = qllm.compare le, %6, %a : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xi1>
  // CHECK: qllm.compare gt
  %12 = qllm.compare gt, %6, %a : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xi1>
  // CHECK: qllm.compare ge
  %13 = qllm.compare ge, %6, %a : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xi1>
  // CHECK: qllm.select %{{.*}}, %{{.*}}, %{{.*}} : (tensor<2x3xi1>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  %14 = qllm.select %13, %6, %b : (tensor<2x3xi1>, tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
  return %14, %7, %8 : tensor<2x3xf32>, tensor<4xi64>, tensor<2x3xi1>
}

// CHECK-LABEL: func.func @casts_and_reductions
func.func @casts_and_reductions(%a: tensor<2x?x64xf16>) -> (tensor<2x?x1xf32>, tensor<2xf32>, tensor<2x?xf32>) {
  // CHECK: qllm.cast %{{.*}} : tensor<2x?x64xf16> -> tensor<2x?x64xf32>
  %0 = qllm.cast %a : tensor<2x?x64xf16> -> tensor<2x?x64xf32>
  // CHECK: qllm.reduce_mean %{{.*}} axes = [2] keep_dims : tensor<2x?x64xf32> -> tensor<2x?x1xf32>
  %1 = qllm.reduce_mean %0 axes = [2] keep_dims : tensor<2x?x64xf32> -> tensor<2x?x1xf32>
  // CHECK: qllm.reduce_sum %{{.*}} axes = [1, 2] : tensor<2x?x64xf32> -> tensor<2xf32>
  %2 = qllm.reduce_sum %0 axes = [1, 2] : tensor<2x?x64xf32> -> tensor<2xf32>
  // CHECK: qllm.reduce_max %{{.*}} axes = [2] : tensor<2x?x64xf32> -> tensor<2x?xf32>
  %3 = qllm.reduce_max %0 axes = [2] : tensor<2x?x64xf32> -> tensor<2x?xf32>
  return %1, %2, %3 : tensor<2x?x1xf32>, tensor<2xf32>, tensor<2x?xf32>
}

// CHECK-LABEL: func.func @shape_ops
func.func @shape_ops(%a: tensor<?x?x64xf32>, %s: tensor<4xi64>, %r: tensor<3xi64>)
    -> (tensor<1x?x?x64xf32>, tensor<?x?xf32>, tensor<?x64x?xf32>, tensor<?x?x128xf32>) {
  // CHECK: qllm.reshape %{{.*}} : (tensor<2x32xf32>) -> tensor<64xf32>
  %c = qllm.weight "c" = dense_resource<c> : tensor<2x32xf32>
  %0 = qllm.reshape %c : (tensor<2x32xf32>) -> tensor<64xf32>
  // CHECK: qllm.unsqueeze %{{.*}} axes = [0] : tensor<?x?x64xf32> -> tensor<1x?x?x64xf32>
  %1 = qllm.unsqueeze %a axes = [0] : tensor<?x?x64xf32> -> tensor<1x?x?x64xf32>
  // CHECK: qllm.squeeze %{{.*}} axes = [0] : tensor<1x?x?x64xf32> -> tensor<?x?x64xf32>
  %2 = qllm.squeeze %1 axes = [0] : tensor<1x?x?x64xf32> -> tensor<?x?x64xf32>
  // CHECK: qllm.transpose %{{.*}} [0, 2, 1] : tensor<?x?x64xf32> -> tensor<?x64x?xf32>
  %3 = qllm.transpose %2 [0, 2, 1] : tensor<?x?x64xf32> -> tensor<?x64x?xf32>
  // CHECK: qllm.concat %{{.*}}, %{{.*}} axis = 2 : (tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x128xf32>
  %4 = qllm.concat %2, %a axis = 2 : (tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x128xf32>
  // CHECK: qllm.slice %{{.*}} axes = [2] starts = [32] ends = [9223372036854775807] steps = [1] : tensor<?x?x64xf32> -> tensor<?x?x32xf32>
  %5 = qllm.slice %a axes = [2] starts = [32] ends = [9223372036854775807] steps = [1] : tensor<?x?x64xf32> -> tensor<?x?x32xf32>
  // CHECK: qllm.slice %{{.*}} axes = [2] starts = [-1] ends = [-9223372036854775807] steps = [-2] : tensor<?x?x64xf32> -> tensor<?x?x32xf32>
  %6 = qllm.slice %a axes = [2] starts = [-1] ends = [-9223372036854775807] steps = [-2] : tensor<?x?x64xf32> -> tensor<?x?x32xf32>
  // CHECK: qllm.slice %{{.*}} axes = [0] starts = [-1] ends = [-9223372036854775807] steps = [-1] : tensor<0x4xf32> -> tensor<0x4xf32>
  %empty = qllm.weight "empty" = dense_resource<empty> : tensor<0x4xf32>
  %emptyslice = qllm.slice %empty axes = [0] starts = [-1] ends = [-9223372036854775807] steps = [-1] : tensor<0x4xf32> -> tensor<0x4xf32>
  // CHECK: qllm.split %{{.*}} axis = 2 sizes = [16, 48] : tensor<?x?x64xf32> -> tensor<?x?x16xf32>, tensor<?x?x48xf32>
  %7:2 = qllm.split %a axis = 2 sizes = [16, 48] : tensor<?x?x64xf32> -> tensor<?x?x16xf32>, tensor<?x?x48xf32>
  %shape = qllm.shape_of %a : tensor<?x?x64xf32> -> tensor<3xi64>
  %idx = qllm.constant dense<1> : tensor<i64>
  // CHECK: qllm.gather %{{.*}}[%{{.*}}] axis = 0 : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  %8 = qllm.gather %shape[%idx] axis = 0 : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
  // CHECK: qllm.expand %{{.*}}, %{{.*}} : (tensor<?x?x64xf32>, tensor<4xi64>) -> tensor<1x?x?x64xf32>
  %9 = qllm.expand %a, %s : (tensor<?x?x64xf32>, tensor<4xi64>) -> tensor<1x?x?x64xf32>
  // CHECK: qllm.tile %{{.*}}, %{{.*}} : (tensor<?x?x64xf32>, tensor<3xi64>) -> tensor<?x?x?xf32>
  %10 = qllm.tile %a, %r : (tensor<?x?x64xf32>, tensor<3xi64>) -> tensor<?x?x?xf32>
  // CHECK: qllm.fill %{{.*}}, -6.550400e+04 : f16 : (tensor<4xi64>) -> tensor<?x?x?x?xf16>
  %11 = qllm.fill %s, -65504.0 : f16 : (tensor<4xi64>) -> tensor<?x?x?x?xf16>
  // CHECK: qllm.fill %{{.*}}, 1 : i64 : (tensor<4xi64>) -> tensor<?x?x?x?xi64>
  %12 = qllm.fill %s, 1 : i64 : (tensor<4xi64>) -> tensor<?x?x?x?xi64>
  %zero = qllm.constant dense<0> : tensor<i64>
  %one = qllm.constant dense<1> : tensor<i64>
  // CHECK: qllm.range %{{.*}}, %{{.*}}, %{{.*}} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %13 = qllm.range %zero, %8, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %m = qllm.fill %r, -3.4e38 : f32 : (tensor<3xi64>) -> tensor<?x?x?xf32>
  // CHECK: qllm.trilu %{{.*}} upper diagonal = 1 : tensor<?x?x?xf32>
  %14 = qllm.trilu %m upper diagonal = 1 : tensor<?x?x?xf32>
  // CHECK: qllm.trilu %{{.*}} diagonal = 0 : tensor<?x?xf32>
  %sq = qllm.reshape %a, %r : (tensor<?x?x64xf32>, tensor<3xi64>) -> tensor<?x?x?xf32>
  %t2 = qllm.reduce_max %sq axes = [2] : tensor<?x?x?xf32> -> tensor<?x?xf32>
  %15 = qllm.trilu %t2 diagonal = 0 : tensor<?x?xf32>
  return %1, %15, %3, %4 : tensor<1x?x?x64xf32>, tensor<?x?xf32>, tensor<?x64x?xf32>, tensor<?x?x128xf32>
}

// Slices with run-time bounds and ScatterND.
// CHECK-LABEL: func.func @runtime_slice_and_scatter
func.func @runtime_slice_and_scatter(%t: tensor<1x1x512x8xf32>, %s: tensor<1xi64>, %e: tensor<1xi64>, %d: tensor<4x3xf32>, %i: tensor<2x1xi64>, %u: tensor<2x3xf32>) -> (tensor<1x1x?x8xf32>, tensor<4x3xf32>) {
  // CHECK: qllm.dynamic_slice %{{.*}}[%{{.*}} : %{{.*}}] axes = [2] steps = [1] : (tensor<1x1x512x8xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x1x?x8xf32>
  %0 = qllm.dynamic_slice %t[%s : %e] axes = [2] steps = [1] : (tensor<1x1x512x8xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x1x?x8xf32>
  // CHECK: qllm.scatter_nd %{{.*}}[%{{.*}}], %{{.*}} : (tensor<4x3xf32>, tensor<2x1xi64>, tensor<2x3xf32>) -> tensor<4x3xf32>
  %1 = qllm.scatter_nd %d[%i], %u : (tensor<4x3xf32>, tensor<2x1xi64>, tensor<2x3xf32>) -> tensor<4x3xf32>
  return %0, %1 : tensor<1x1x?x8xf32>, tensor<4x3xf32>
}

// Tensor parallelism: a rank's partial sum, and every rank's part gathered
// (the vocabulary 7 split 4 + 3).
// CHECK-LABEL: func.func @collectives
func.func @collectives(%x: tensor<1x?x8xf32>, %l: tensor<1x?x4xf32>) -> (tensor<1x?x8xf32>, tensor<1x?x7xf32>) {
  // CHECK: qllm.all_reduce %{{.*}} : tensor<1x?x8xf32>
  %0 = qllm.all_reduce %x : tensor<1x?x8xf32>
  // CHECK: qllm.all_gather %{{.*}} {world_size = 2 : i64} : (tensor<1x?x4xf32>) -> tensor<1x?x7xf32>
  %1 = qllm.all_gather %l {world_size = 2 : i64} : (tensor<1x?x4xf32>) -> tensor<1x?x7xf32>
  return %0, %1 : tensor<1x?x8xf32>, tensor<1x?x7xf32>
}
