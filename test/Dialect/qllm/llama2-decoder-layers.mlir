// One Llama 2 decoder layer for each weight scheme: the attention block
// (RMSNorm, q/k/v projections, interleaved rotary embedding, causal
// grouped-query attention reading and appending a KV cache, output
// projection, residual) and the SwiGLU MLP (w1/w3, swiglu, w2, residual).
// Dimensions: hidden 256, 8 query heads and 4 KV heads of 32, FFN 688 (the
// w2 input is not a multiple of 128: its last act-order group is partial).
// Weights are dense_resource handles without blobs: only shapes matter here.
//
// RUN: quant-opt %s | quant-opt | FileCheck %s --check-prefix=ROUNDTRIP
// RUN: quant-opt %s --mlir-print-op-generic | quant-opt | FileCheck %s --check-prefix=ROUNDTRIP
// RUN: quant-opt %s --qllm-fuse-dequant-matmul | FileCheck %s --check-prefix=FUSED --implicit-check-not=qllm.dequantize
// RUN: quant-translate --weight-report %s | FileCheck %s --check-prefix=REPORT

// ROUNDTRIP-LABEL: func.func @decoder_layer_int4_g128_act_order
// ROUNDTRIP: qllm.quantized_weight "layers.0.feed_forward.w2" data(%{{.*}} : tensor<256x344xui8>) scales(%{{.*}} : tensor<256x6xf16>) zero_points(%{{.*}} : tensor<256x3xui8>) g_idx(%{{.*}} : tensor<688xi32>) -> !qllm.qtensor<256x688, #qllm.intq<bits = 4, group_size = 128, act_order = true>>
// ROUNDTRIP: qllm.rms_norm
// ROUNDTRIP: qllm.rotary interleaved
// ROUNDTRIP: qllm.attention %{{.*}}, %{{.*}}, %{{.*}} past(%{{.*}}, %{{.*}}) causal
// ROUNDTRIP-SAME: -> (tensor<1x?x8x32xf16>, tensor<1x4x?x32xf16>, tensor<1x4x?x32xf16>)
// ROUNDTRIP: qllm.swiglu %{{.*}}, %{{.*}} : tensor<1x?x688xf16>
// ROUNDTRIP-LABEL: func.func @decoder_layer_nf4_double_quant
// ROUNDTRIP: qllm.quantized_weight "layers.1.feed_forward.w2" data(%{{.*}} : tensor<256x344xui8>) scales(%{{.*}} : tensor<256x11xui8>) double_quant(%{{.*}}, %{{.*}} : tensor<11xf32>, tensor<f32>) -> !qllm.qtensor<256x688, #qllm.nf4<double_quant = true>>
// ROUNDTRIP: qllm.attention
// ROUNDTRIP-LABEL: func.func @decoder_layer_int8_per_channel
// ROUNDTRIP: qllm.quantized_weight "layers.2.feed_forward.w2" data(%{{.*}} : tensor<256x688xui8>) scales(%{{.*}} : tensor<256x1xf32>) -> !qllm.qtensor<256x688, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>>
// ROUNDTRIP: qllm.attention

// Fusion reads every projection straight from its packed weight.
// FUSED-LABEL: func.func @decoder_layer_int4_g128_act_order
// FUSED-COUNT-7: qllm.dequant_matmul {{.*}}#qllm.intq<bits = 4, group_size = 128, act_order = true>>
// FUSED-LABEL: func.func @decoder_layer_nf4_double_quant
// FUSED-COUNT-7: qllm.dequant_matmul {{.*}}#qllm.nf4<double_quant = true>>
// FUSED-LABEL: func.func @decoder_layer_int8_per_channel
// FUSED-COUNT-7: qllm.dequant_matmul {{.*}}#qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>>

// Storage of each scheme: int4 g128 with zero points and g_idx is 4.30
// bits/weight on w2, NF4 double-quant 4.13, int8 per channel 8.05.
// REPORT: weight
// REPORT-SAME: bytes bits/weight
// REPORT: layers.0.attention.wq 256x256 #qllm.intq<bits = 4, group_size = 128, act_order = true> 35072 4.281
// REPORT: layers.0.feed_forward.w2 256x688 #qllm.intq<bits = 4, group_size = 128, act_order = true> 94656 4.299
// REPORT: layers.0.attention_norm.weight 256 f16 512 16.000
// REPORT: layers.1.feed_forward.w2 256x688 #qllm.nf4<double_quant = true> 90928 4.130
// REPORT: layers.2.feed_forward.w2 256x688 #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32> 177152 8.047
// REPORT: total: 27 weights, 2176512 elements, 1499760 bytes, 5.513 bits/weight

// GPTQ-style int4, group 128, act order (g_idx), asymmetric, f16 scales; f16 activations.
func.func @decoder_layer_int4_g128_act_order(%h: tensor<1x?x256xf16>, %pos: tensor<1x?xi64>,
    %past_k: tensor<1x4x?x32xf16>, %past_v: tensor<1x4x?x32xf16>)
    -> (tensor<1x?x256xf16>, tensor<1x4x?x32xf16>, tensor<1x4x?x32xf16>) {
  %wq_d = qllm.weight "layers.0.attention.wq.qweight" = dense_resource<l0_wq_d> : tensor<256x128xui8>
  %wq_s = qllm.weight "layers.0.attention.wq.scales" = dense_resource<l0_wq_s> : tensor<256x2xf16>
  %wq_z = qllm.weight "layers.0.attention.wq.qzeros" = dense_resource<l0_wq_z> : tensor<256x1xui8>
  %wq_g = qllm.weight "layers.0.attention.wq.g_idx" = dense_resource<l0_wq_g> : tensor<256xi32>
  %wq = qllm.quantized_weight "layers.0.attention.wq" data(%wq_d : tensor<256x128xui8>) scales(%wq_s : tensor<256x2xf16>)
         zero_points(%wq_z : tensor<256x1xui8>) g_idx(%wq_g : tensor<256xi32>) -> !qllm.qtensor<256x256, #qllm.intq<bits = 4, group_size = 128, act_order = true>>
  %wk_d = qllm.weight "layers.0.attention.wk.qweight" = dense_resource<l0_wk_d> : tensor<128x128xui8>
  %wk_s = qllm.weight "layers.0.attention.wk.scales" = dense_resource<l0_wk_s> : tensor<128x2xf16>
  %wk_z = qllm.weight "layers.0.attention.wk.qzeros" = dense_resource<l0_wk_z> : tensor<128x1xui8>
  %wk_g = qllm.weight "layers.0.attention.wk.g_idx" = dense_resource<l0_wk_g> : tensor<256xi32>
  %wk = qllm.quantized_weight "layers.0.attention.wk" data(%wk_d : tensor<128x128xui8>) scales(%wk_s : tensor<128x2xf16>)
         zero_points(%wk_z : tensor<128x1xui8>) g_idx(%wk_g : tensor<256xi32>) -> !qllm.qtensor<128x256, #qllm.intq<bits = 4, group_size = 128, act_order = true>>
  %wv_d = qllm.weight "layers.0.attention.wv.qweight" = dense_resource<l0_wv_d> : tensor<128x128xui8>
  %wv_s = qllm.weight "layers.0.attention.wv.scales" = dense_resource<l0_wv_s> : tensor<128x2xf16>
  %wv_z = qllm.weight "layers.0.attention.wv.qzeros" = dense_resource<l0_wv_z> : tensor<128x1xui8>
  %wv_g = qllm.weight "layers.0.attention.wv.g_idx" = dense_resource<l0_wv_g> : tensor<256xi32>
  %wv = qllm.quantized_weight "layers.0.attention.wv" data(%wv_d : tensor<128x128xui8>) scales(%wv_s : tensor<128x2xf16>)
         zero_points(%wv_z : tensor<128x1xui8>) g_idx(%wv_g : tensor<256xi32>) -> !qllm.qtensor<128x256, #qllm.intq<bits = 4, group_size = 128, act_order = true>>
  %wo_d = qllm.weight "layers.0.attention.wo.qweight" = dense_resource<l0_wo_d> : tensor<256x128xui8>
  %wo_s = qllm.weight "layers.0.attention.wo.scales" = dense_resource<l0_wo_s> : tensor<256x2xf16>
  %wo_z = qllm.weight "layers.0.attention.wo.qzeros" = dense_resource<l0_wo_z> : tensor<256x1xui8>
  %wo_g = qllm.weight "layers.0.attention.wo.g_idx" = dense_resource<l0_wo_g> : tensor<256xi32>
  %wo = qllm.quantized_weight "layers.0.attention.wo" data(%wo_d : tensor<256x128xui8>) scales(%wo_s : tensor<256x2xf16>)
         zero_points(%wo_z : tensor<256x1xui8>) g_idx(%wo_g : tensor<256xi32>) -> !qllm.qtensor<256x256, #qllm.intq<bits = 4, group_size = 128, act_order = true>>
  %w1_d = qllm.weight "layers.0.feed_forward.w1.qweight" = dense_resource<l0_w1_d> : tensor<688x128xui8>
  %w1_s = qllm.weight "layers.0.feed_forward.w1.scales" = dense_resource<l0_w1_s> : tensor<688x2xf16>
  %w1_z = qllm.weight "layers.0.feed_forward.w1.qzeros" = dense_resource<l0_w1_z> : tensor<688x1xui8>
  %w1_g = qllm.weight "layers.0.feed_forward.w1.g_idx" = dense_resource<l0_w1_g> : tensor<256xi32>
  %w1 = qllm.quantized_weight "layers.0.feed_forward.w1" data(%w1_d : tensor<688x128xui8>) scales(%w1_s : tensor<688x2xf16>)
         zero_points(%w1_z : tensor<688x1xui8>) g_idx(%w1_g : tensor<256xi32>) -> !qllm.qtensor<688x256, #qllm.intq<bits = 4, group_size = 128, act_order = true>>
  %w3_d = qllm.weight "layers.0.feed_forward.w3.qweight" = dense_resource<l0_w3_d> : tensor<688x128xui8>
  %w3_s = qllm.weight "layers.0.feed_forward.w3.scales" = dense_resource<l0_w3_s> : tensor<688x2xf16>
  %w3_z = qllm.weight "layers.0.feed_forward.w3.qzeros" = dense_resource<l0_w3_z> : tensor<688x1xui8>
  %w3_g = qllm.weight "layers.0.feed_forward.w3.g_idx" = dense_resource<l0_w3_g> : tensor<256xi32>
  %w3 = qllm.quantized_weight "layers.0.feed_forward.w3" data(%w3_d : tensor<688x128xui8>) scales(%w3_s : tensor<688x2xf16>)
         zero_points(%w3_z : tensor<688x1xui8>) g_idx(%w3_g : tensor<256xi32>) -> !qllm.qtensor<688x256, #qllm.intq<bits = 4, group_size = 128, act_order = true>>
  %w2_d = qllm.weight "layers.0.feed_forward.w2.qweight" = dense_resource<l0_w2_d> : tensor<256x344xui8>
  %w2_s = qllm.weight "layers.0.feed_forward.w2.scales" = dense_resource<l0_w2_s> : tensor<256x6xf16>
  %w2_z = qllm.weight "layers.0.feed_forward.w2.qzeros" = dense_resource<l0_w2_z> : tensor<256x3xui8>
  %w2_g = qllm.weight "layers.0.feed_forward.w2.g_idx" = dense_resource<l0_w2_g> : tensor<688xi32>
  %w2 = qllm.quantized_weight "layers.0.feed_forward.w2" data(%w2_d : tensor<256x344xui8>) scales(%w2_s : tensor<256x6xf16>)
         zero_points(%w2_z : tensor<256x3xui8>) g_idx(%w2_g : tensor<688xi32>) -> !qllm.qtensor<256x688, #qllm.intq<bits = 4, group_size = 128, act_order = true>>
  %attn_norm_w = qllm.weight "layers.0.attention_norm.weight" = dense_resource<l0_attn_norm> : tensor<256xf16>
  %x = qllm.rms_norm %h, %attn_norm_w {epsilon = 1.0e-5 : f32} : (tensor<1x?x256xf16>, tensor<256xf16>) -> tensor<1x?x256xf16>
  %q_w = qllm.dequantize %wq : !qllm.qtensor<256x256, #qllm.intq<bits = 4, group_size = 128, act_order = true>> -> tensor<256x256xf16>
  %q = qllm.matmul %x, %q_w transpose_rhs : (tensor<1x?x256xf16>, tensor<256x256xf16>) -> tensor<1x?x256xf16>
  %k_w = qllm.dequantize %wk : !qllm.qtensor<128x256, #qllm.intq<bits = 4, group_size = 128, act_order = true>> -> tensor<128x256xf16>
  %k = qllm.matmul %x, %k_w transpose_rhs : (tensor<1x?x256xf16>, tensor<128x256xf16>) -> tensor<1x?x128xf16>
  %v_w = qllm.dequantize %wv : !qllm.qtensor<128x256, #qllm.intq<bits = 4, group_size = 128, act_order = true>> -> tensor<128x256xf16>
  %v = qllm.matmul %x, %v_w transpose_rhs : (tensor<1x?x256xf16>, tensor<128x256xf16>) -> tensor<1x?x128xf16>
  %q_shape = qllm.constant dense<[1, -1, 8, 32]> : tensor<4xi64>
  %kv_shape = qllm.constant dense<[1, -1, 4, 32]> : tensor<4xi64>
  %q4 = qllm.reshape %q, %q_shape : (tensor<1x?x256xf16>, tensor<4xi64>) -> tensor<1x?x8x32xf16>
  %k4 = qllm.reshape %k, %kv_shape : (tensor<1x?x128xf16>, tensor<4xi64>) -> tensor<1x?x4x32xf16>
  %v4 = qllm.reshape %v, %kv_shape : (tensor<1x?x128xf16>, tensor<4xi64>) -> tensor<1x?x4x32xf16>
  %qr = qllm.rotary interleaved %q4, %pos {base = 1.0e4 : f32} : (tensor<1x?x8x32xf16>, tensor<1x?xi64>) -> tensor<1x?x8x32xf16>
  %kr = qllm.rotary interleaved %k4, %pos {base = 1.0e4 : f32} : (tensor<1x?x4x32xf16>, tensor<1x?xi64>) -> tensor<1x?x4x32xf16>
  %o, %present_k, %present_v = qllm.attention %qr, %kr, %v4 past(%past_k, %past_v) causal
      : (tensor<1x?x8x32xf16>, tensor<1x?x4x32xf16>, tensor<1x?x4x32xf16>, tensor<1x4x?x32xf16>, tensor<1x4x?x32xf16>)
      -> (tensor<1x?x8x32xf16>, tensor<1x4x?x32xf16>, tensor<1x4x?x32xf16>)
  %o_shape = qllm.constant dense<[1, -1, 256]> : tensor<3xi64>
  %o3 = qllm.reshape %o, %o_shape : (tensor<1x?x8x32xf16>, tensor<3xi64>) -> tensor<1x?x256xf16>
  %attn_w = qllm.dequantize %wo : !qllm.qtensor<256x256, #qllm.intq<bits = 4, group_size = 128, act_order = true>> -> tensor<256x256xf16>
  %attn = qllm.matmul %o3, %attn_w transpose_rhs : (tensor<1x?x256xf16>, tensor<256x256xf16>) -> tensor<1x?x256xf16>
  %h1 = qllm.add %h, %attn : (tensor<1x?x256xf16>, tensor<1x?x256xf16>) -> tensor<1x?x256xf16>
  %ffn_norm_w = qllm.weight "layers.0.ffn_norm.weight" = dense_resource<l0_ffn_norm> : tensor<256xf16>
  %x1 = qllm.rms_norm %h1, %ffn_norm_w {epsilon = 1.0e-5 : f32} : (tensor<1x?x256xf16>, tensor<256xf16>) -> tensor<1x?x256xf16>
  %gate_w = qllm.dequantize %w1 : !qllm.qtensor<688x256, #qllm.intq<bits = 4, group_size = 128, act_order = true>> -> tensor<688x256xf16>
  %gate = qllm.matmul %x1, %gate_w transpose_rhs : (tensor<1x?x256xf16>, tensor<688x256xf16>) -> tensor<1x?x688xf16>
  %up_w = qllm.dequantize %w3 : !qllm.qtensor<688x256, #qllm.intq<bits = 4, group_size = 128, act_order = true>> -> tensor<688x256xf16>
  %up = qllm.matmul %x1, %up_w transpose_rhs : (tensor<1x?x256xf16>, tensor<688x256xf16>) -> tensor<1x?x688xf16>
  %act = qllm.swiglu %gate, %up : tensor<1x?x688xf16>
  %down_w = qllm.dequantize %w2 : !qllm.qtensor<256x688, #qllm.intq<bits = 4, group_size = 128, act_order = true>> -> tensor<256x688xf16>
  %down = qllm.matmul %act, %down_w transpose_rhs : (tensor<1x?x688xf16>, tensor<256x688xf16>) -> tensor<1x?x256xf16>
  %h2 = qllm.add %h1, %down : (tensor<1x?x256xf16>, tensor<1x?x256xf16>) -> tensor<1x?x256xf16>
  return %h2, %present_k, %present_v : tensor<1x?x256xf16>, tensor<1x4x?x32xf16>, tensor<1x4x?x32xf16>
}

// QLoRA NF4, blocks of 64, absmax double-quantized in blocks of 256.
func.func @decoder_layer_nf4_double_quant(%h: tensor<1x?x256xf32>, %pos: tensor<1x?xi64>,
    %past_k: tensor<1x4x?x32xf32>, %past_v: tensor<1x4x?x32xf32>)
    -> (tensor<1x?x256xf32>, tensor<1x4x?x32xf32>, tensor<1x4x?x32xf32>) {
  %wq_d = qllm.weight "layers.1.attention.wq.data" = dense_resource<l1_wq_d> : tensor<256x128xui8>
  %wq_a = qllm.weight "layers.1.attention.wq.absmax" = dense_resource<l1_wq_a> : tensor<256x4xui8>
  %wq_as = qllm.weight "layers.1.attention.wq.absmax_scales" = dense_resource<l1_wq_as> : tensor<4xf32>
  %wq_ao = qllm.weight "layers.1.attention.wq.absmax_offset" = dense_resource<l1_wq_ao> : tensor<f32>
  %wq = qllm.quantized_weight "layers.1.attention.wq" data(%wq_d : tensor<256x128xui8>) scales(%wq_a : tensor<256x4xui8>)
         double_quant(%wq_as, %wq_ao : tensor<4xf32>, tensor<f32>) -> !qllm.qtensor<256x256, #qllm.nf4<double_quant = true>>
  %wk_d = qllm.weight "layers.1.attention.wk.data" = dense_resource<l1_wk_d> : tensor<128x128xui8>
  %wk_a = qllm.weight "layers.1.attention.wk.absmax" = dense_resource<l1_wk_a> : tensor<128x4xui8>
  %wk_as = qllm.weight "layers.1.attention.wk.absmax_scales" = dense_resource<l1_wk_as> : tensor<2xf32>
  %wk_ao = qllm.weight "layers.1.attention.wk.absmax_offset" = dense_resource<l1_wk_ao> : tensor<f32>
  %wk = qllm.quantized_weight "layers.1.attention.wk" data(%wk_d : tensor<128x128xui8>) scales(%wk_a : tensor<128x4xui8>)
         double_quant(%wk_as, %wk_ao : tensor<2xf32>, tensor<f32>) -> !qllm.qtensor<128x256, #qllm.nf4<double_quant = true>>
  %wv_d = qllm.weight "layers.1.attention.wv.data" = dense_resource<l1_wv_d> : tensor<128x128xui8>
  %wv_a = qllm.weight "layers.1.attention.wv.absmax" = dense_resource<l1_wv_a> : tensor<128x4xui8>
  %wv_as = qllm.weight "layers.1.attention.wv.absmax_scales" = dense_resource<l1_wv_as> : tensor<2xf32>
  %wv_ao = qllm.weight "layers.1.attention.wv.absmax_offset" = dense_resource<l1_wv_ao> : tensor<f32>
  %wv = qllm.quantized_weight "layers.1.attention.wv" data(%wv_d : tensor<128x128xui8>) scales(%wv_a : tensor<128x4xui8>)
         double_quant(%wv_as, %wv_ao : tensor<2xf32>, tensor<f32>) -> !qllm.qtensor<128x256, #qllm.nf4<double_quant = true>>
  %wo_d = qllm.weight "layers.1.attention.wo.data" = dense_resource<l1_wo_d> : tensor<256x128xui8>
  %wo_a = qllm.weight "layers.1.attention.wo.absmax" = dense_resource<l1_wo_a> : tensor<256x4xui8>
  %wo_as = qllm.weight "layers.1.attention.wo.absmax_scales" = dense_resource<l1_wo_as> : tensor<4xf32>
  %wo_ao = qllm.weight "layers.1.attention.wo.absmax_offset" = dense_resource<l1_wo_ao> : tensor<f32>
  %wo = qllm.quantized_weight "layers.1.attention.wo" data(%wo_d : tensor<256x128xui8>) scales(%wo_a : tensor<256x4xui8>)
         double_quant(%wo_as, %wo_ao : tensor<4xf32>, tensor<f32>) -> !qllm.qtensor<256x256, #qllm.nf4<double_quant = true>>
  %w1_d = qllm.weight "layers.1.feed_forward.w1.data" = dense_resource<l1_w1_d> : tensor<688x128xui8>
  %w1_a = qllm.weight "layers.1.feed_forward.w1.absmax" = dense_resource<l1_w1_a> : tensor<688x4xui8>
  %w1_as = qllm.weight "layers.1.feed_forward.w1.absmax_scales" = dense_resource<l1_w1_as> : tensor<11xf32>
  %w1_ao = qllm.weight "layers.1.feed_forward.w1.absmax_offset" = dense_resource<l1_w1_ao> : tensor<f32>
  %w1 = qllm.quantized_weight "layers.1.feed_forward.w1" data(%w1_d : tensor<688x128xui8>) scales(%w1_a : tensor<688x4xui8>)
         double_quant(%w1_as, %w1_ao : tensor<11xf32>, tensor<f32>) -> !qllm.qtensor<688x256, #qllm.nf4<double_quant = true>>
  %w3_d = qllm.weight "layers.1.feed_forward.w3.data" = dense_resource<l1_w3_d> : tensor<688x128xui8>
  %w3_a = qllm.weight "layers.1.feed_forward.w3.absmax" = dense_resource<l1_w3_a> : tensor<688x4xui8>
  %w3_as = qllm.weight "layers.1.feed_forward.w3.absmax_scales" = dense_resource<l1_w3_as> : tensor<11xf32>
  %w3_ao = qllm.weight "layers.1.feed_forward.w3.absmax_offset" = dense_resource<l1_w3_ao> : tensor<f32>
  %w3 = qllm.quantized_weight "layers.1.feed_forward.w3" data(%w3_d : tensor<688x128xui8>) scales(%w3_a : tensor<688x4xui8>)
         double_quant(%w3_as, %w3_ao : tensor<11xf32>, tensor<f32>) -> !qllm.qtensor<688x256, #qllm.nf4<double_quant = true>>
  %w2_d = qllm.weight "layers.1.feed_forward.w2.data" = dense_resource<l1_w2_d> : tensor<256x344xui8>
  %w2_a = qllm.weight "layers.1.feed_forward.w2.absmax" = dense_resource<l1_w2_a> : tensor<256x11xui8>
  %w2_as = qllm.weight "layers.1.feed_forward.w2.absmax_scales" = dense_resource<l1_w2_as> : tensor<11xf32>
  %w2_ao = qllm.weight "layers.1.feed_forward.w2.absmax_offset" = dense_resource<l1_w2_ao> : tensor<f32>
  %w2 = qllm.quantized_weight "layers.1.feed_forward.w2" data(%w2_d : tensor<256x344xui8>) scales(%w2_a : tensor<256x11xui8>)
         double_quant(%w2_as, %w2_ao : tensor<11xf32>, tensor<f32>) -> !qllm.qtensor<256x688, #qllm.nf4<double_quant = true>>
  %attn_norm_w = qllm.weight "layers.1.attention_norm.weight" = dense_resource<l1_attn_norm> : tensor<256xf32>
  %x = qllm.rms_norm %h, %attn_norm_w {epsilon = 1.0e-5 : f32} : (tensor<1x?x256xf32>, tensor<256xf32>) -> tensor<1x?x256xf32>
  %q_w = qllm.dequantize %wq : !qllm.qtensor<256x256, #qllm.nf4<double_quant = true>> -> tensor<256x256xf32>
  %q = qllm.matmul %x, %q_w transpose_rhs : (tensor<1x?x256xf32>, tensor<256x256xf32>) -> tensor<1x?x256xf32>
  %k_w = qllm.dequantize %wk : !qllm.qtensor<128x256, #qllm.nf4<double_quant = true>> -> tensor<128x256xf32>
  %k = qllm.matmul %x, %k_w transpose_rhs : (tensor<1x?x256xf32>, tensor<128x256xf32>) -> tensor<1x?x128xf32>
  %v_w = qllm.dequantize %wv : !qllm.qtensor<128x256, #qllm.nf4<double_quant = true>> -> tensor<128x256xf32>
  %v = qllm.matmul %x, %v_w transpose_rhs : (tensor<1x?x256xf32>, tensor<128x256xf32>) -> tensor<1x?x128xf32>
  %q_shape = qllm.constant dense<[1, -1, 8, 32]> : tensor<4xi64>
  %kv_shape = qllm.constant dense<[1, -1, 4, 32]> : tensor<4xi64>
  %q4 = qllm.reshape %q, %q_shape : (tensor<1x?x256xf32>, tensor<4xi64>) -> tensor<1x?x8x32xf32>
  %k4 = qllm.reshape %k, %kv_shape : (tensor<1x?x128xf32>, tensor<4xi64>) -> tensor<1x?x4x32xf32>
  %v4 = qllm.reshape %v, %kv_shape : (tensor<1x?x128xf32>, tensor<4xi64>) -> tensor<1x?x4x32xf32>
  %qr = qllm.rotary interleaved %q4, %pos {base = 1.0e4 : f32} : (tensor<1x?x8x32xf32>, tensor<1x?xi64>) -> tensor<1x?x8x32xf32>
  %kr = qllm.rotary interleaved %k4, %pos {base = 1.0e4 : f32} : (tensor<1x?x4x32xf32>, tensor<1x?xi64>) -> tensor<1x?x4x32xf32>
  %o, %present_k, %present_v = qllm.attention %qr, %kr, %v4 past(%past_k, %past_v) causal
      : (tensor<1x?x8x32xf32>, tensor<1x?x4x32xf32>, tensor<1x?x4x32xf32>, tensor<1x4x?x32xf32>, tensor<1x4x?x32xf32>)
      -> (tensor<1x?x8x32xf32>, tensor<1x4x?x32xf32>, tensor<1x4x?x32xf32>)
  %o_shape = qllm.constant dense<[1, -1, 256]> : tensor<3xi64>
  %o3 = qllm.reshape %o, %o_shape : (tensor<1x?x8x32xf32>, tensor<3xi64>) -> tensor<1x?x256xf32>
  %attn_w = qllm.dequantize %wo : !qllm.qtensor<256x256, #qllm.nf4<double_quant = true>> -> tensor<256x256xf32>
  %attn = qllm.matmul %o3, %attn_w transpose_rhs : (tensor<1x?x256xf32>, tensor<256x256xf32>) -> tensor<1x?x256xf32>
  %h1 = qllm.add %h, %attn : (tensor<1x?x256xf32>, tensor<1x?x256xf32>) -> tensor<1x?x256xf32>
  %ffn_norm_w = qllm.weight "layers.1.ffn_norm.weight" = dense_resource<l1_ffn_norm> : tensor<256xf32>
  %x1 = qllm.rms_norm %h1, %ffn_norm_w {epsilon = 1.0e-5 : f32} : (tensor<1x?x256xf32>, tensor<256xf32>) -> tensor<1x?x256xf32>
  %gate_w = qllm.dequantize %w1 : !qllm.qtensor<688x256, #qllm.nf4<double_quant = true>> -> tensor<688x256xf32>
  %gate = qllm.matmul %x1, %gate_w transpose_rhs : (tensor<1x?x256xf32>, tensor<688x256xf32>) -> tensor<1x?x688xf32>
  %up_w = qllm.dequantize %w3 : !qllm.qtensor<688x256, #qllm.nf4<double_quant = true>> -> tensor<688x256xf32>
  %up = qllm.matmul %x1, %up_w transpose_rhs : (tensor<1x?x256xf32>, tensor<688x256xf32>) -> tensor<1x?x688xf32>
  %act = qllm.swiglu %gate, %up : tensor<1x?x688xf32>
  %down_w = qllm.dequantize %w2 : !qllm.qtensor<256x688, #qllm.nf4<double_quant = true>> -> tensor<256x688xf32>
  %down = qllm.matmul %act, %down_w transpose_rhs : (tensor<1x?x688xf32>, tensor<256x688xf32>) -> tensor<1x?x256xf32>
  %h2 = qllm.add %h1, %down : (tensor<1x?x256xf32>, tensor<1x?x256xf32>) -> tensor<1x?x256xf32>
  return %h2, %present_k, %present_v : tensor<1x?x256xf32>, tensor<1x4x?x32xf32>, tensor<1x4x?x32xf32>
}

// int8 per output channel, symmetric, f32 scales.
func.func @decoder_layer_int8_per_channel(%h: tensor<1x?x256xf32>, %pos: tensor<1x?xi64>,
    %past_k: tensor<1x4x?x32xf32>, %past_v: tensor<1x4x?x32xf32>)
    -> (tensor<1x?x256xf32>, tensor<1x4x?x32xf32>, tensor<1x4x?x32xf32>) {
  %wq_d = qllm.weight "layers.2.attention.wq.data" = dense_resource<l2_wq_d> : tensor<256x256xui8>
  %wq_s = qllm.weight "layers.2.attention.wq.scales" = dense_resource<l2_wq_s> : tensor<256x1xf32>
  %wq = qllm.quantized_weight "layers.2.attention.wq" data(%wq_d : tensor<256x256xui8>) scales(%wq_s : tensor<256x1xf32>) -> !qllm.qtensor<256x256, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>>
  %wk_d = qllm.weight "layers.2.attention.wk.data" = dense_resource<l2_wk_d> : tensor<128x256xui8>
  %wk_s = qllm.weight "layers.2.attention.wk.scales" = dense_resource<l2_wk_s> : tensor<128x1xf32>
  %wk = qllm.quantized_weight "layers.2.attention.wk" data(%wk_d : tensor<128x256xui8>) scales(%wk_s : tensor<128x1xf32>) -> !qllm.qtensor<128x256, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>>
  %wv_d = qllm.weight "layers.2.attention.wv.data" = dense_resource<l2_wv_d> : tensor<128x256xui8>
  %wv_s = qllm.weight "layers.2.attention.wv.scales" = dense_resource<l2_wv_s> : tensor<128x1xf32>
  %wv = qllm.quantized_weight "layers.2.attention.wv" data(%wv_d : tensor<128x256xui8>) scales(%wv_s : tensor<128x1xf32>) -> !qllm.qtensor<128x256, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>>
  %wo_d = qllm.weight "layers.2.attention.wo.data" = dense_resource<l2_wo_d> : tensor<256x256xui8>
  %wo_s = qllm.weight "layers.2.attention.wo.scales" = dense_resource<l2_wo_s> : tensor<256x1xf32>
  %wo = qllm.quantized_weight "layers.2.attention.wo" data(%wo_d : tensor<256x256xui8>) scales(%wo_s : tensor<256x1xf32>) -> !qllm.qtensor<256x256, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>>
  %w1_d = qllm.weight "layers.2.feed_forward.w1.data" = dense_resource<l2_w1_d> : tensor<688x256xui8>
  %w1_s = qllm.weight "layers.2.feed_forward.w1.scales" = dense_resource<l2_w1_s> : tensor<688x1xf32>
  %w1 = qllm.quantized_weight "layers.2.feed_forward.w1" data(%w1_d : tensor<688x256xui8>) scales(%w1_s : tensor<688x1xf32>) -> !qllm.qtensor<688x256, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>>
  %w3_d = qllm.weight "layers.2.feed_forward.w3.data" = dense_resource<l2_w3_d> : tensor<688x256xui8>
  %w3_s = qllm.weight "layers.2.feed_forward.w3.scales" = dense_resource<l2_w3_s> : tensor<688x1xf32>
  %w3 = qllm.quantized_weight "layers.2.feed_forward.w3" data(%w3_d : tensor<688x256xui8>) scales(%w3_s : tensor<688x1xf32>) -> !qllm.qtensor<688x256, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>>
  %w2_d = qllm.weight "layers.2.feed_forward.w2.data" = dense_resource<l2_w2_d> : tensor<256x688xui8>
  %w2_s = qllm.weight "layers.2.feed_forward.w2.scales" = dense_resource<l2_w2_s> : tensor<256x1xf32>
  %w2 = qllm.quantized_weight "layers.2.feed_forward.w2" data(%w2_d : tensor<256x688xui8>) scales(%w2_s : tensor<256x1xf32>) -> !qllm.qtensor<256x688, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>>
  %attn_norm_w = qllm.weight "layers.2.attention_norm.weight" = dense_resource<l2_attn_norm> : tensor<256xf32>
  %x = qllm.rms_norm %h, %attn_norm_w {epsilon = 1.0e-5 : f32} : (tensor<1x?x256xf32>, tensor<256xf32>) -> tensor<1x?x256xf32>
  %q_w = qllm.dequantize %wq : !qllm.qtensor<256x256, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>> -> tensor<256x256xf32>
  %q = qllm.matmul %x, %q_w transpose_rhs : (tensor<1x?x256xf32>, tensor<256x256xf32>) -> tensor<1x?x256xf32>
  %k_w = qllm.dequantize %wk : !qllm.qtensor<128x256, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>> -> tensor<128x256xf32>
  %k = qllm.matmul %x, %k_w transpose_rhs : (tensor<1x?x256xf32>, tensor<128x256xf32>) -> tensor<1x?x128xf32>
  %v_w = qllm.dequantize %wv : !qllm.qtensor<128x256, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>> -> tensor<128x256xf32>
  %v = qllm.matmul %x, %v_w transpose_rhs : (tensor<1x?x256xf32>, tensor<128x256xf32>) -> tensor<1x?x128xf32>
  %q_shape = qllm.constant dense<[1, -1, 8, 32]> : tensor<4xi64>
  %kv_shape = qllm.constant dense<[1, -1, 4, 32]> : tensor<4xi64>
  %q4 = qllm.reshape %q, %q_shape : (tensor<1x?x256xf32>, tensor<4xi64>) -> tensor<1x?x8x32xf32>
  %k4 = qllm.reshape %k, %kv_shape : (tensor<1x?x128xf32>, tensor<4xi64>) -> tensor<1x?x4x32xf32>
  %v4 = qllm.reshape %v, %kv_shape : (tensor<1x?x128xf32>, tensor<4xi64>) -> tensor<1x?x4x32xf32>
  %qr = qllm.rotary interleaved %q4, %pos {base = 1.0e4 : f32} : (tensor<1x?x8x32xf32>, tensor<1x?xi64>) -> tensor<1x?x8x32xf32>
  %kr = qllm.rotary interleaved %k4, %pos {base = 1.0e4 : f32} : (tensor<1x?x4x32xf32>, tensor<1x?xi64>) -> tensor<1x?x4x32xf32>
  %o, %present_k, %present_v = qllm.attention %qr, %kr, %v4 past(%past_k, %past_v) causal
      : (tensor<1x?x8x32xf32>, tensor<1x?x4x32xf32>, tensor<1x?x4x32xf32>, tensor<1x4x?x32xf32>, tensor<1x4x?x32xf32>)
      -> (tensor<1x?x8x32xf32>, tensor<1x4x?x32xf32>, tensor<1x4x?x32xf32>)
  %o_shape = qllm.constant dense<[1, -1, 256]> : tensor<3xi64>
  %o3 = qllm.reshape %o, %o_shape : (tensor<1x?x8x32xf32>, tensor<3xi64>) -> tensor<1x?x256xf32>
  %attn_w = qllm.dequantize %wo : !qllm.qtensor<256x256, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>> -> tensor<256x256xf32>
  %attn = qllm.matmul %o3, %attn_w transpose_rhs : (tensor<1x?x256xf32>, tensor<256x256xf32>) -> tensor<1x?x256xf32>
  %h1 = qllm.add %h, %attn : (tensor<1x?x256xf32>, tensor<1x?x256xf32>) -> tensor<1x?x256xf32>
  %ffn_norm_w = qllm.weight "layers.2.ffn_norm.weight" = dense_resource<l2_ffn_norm> : tensor<256xf32>
  %x1 = qllm.rms_norm %h1, %ffn_norm_w {epsilon = 1.0e-5 : f32} : (tensor<1x?x256xf32>, tensor<256xf32>) -> tensor<1x?x256xf32>
  %gate_w = qllm.dequantize %w1 : !qllm.qtensor<688x256, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>> -> tensor<688x256xf32>
  %gate = qllm.matmul %x1, %gate_w transpose_rhs : (tensor<1x?x256xf32>, tensor<688x256xf32>) -> tensor<1x?x688xf32>
  %up_w = qllm.dequantize %w3 : !qllm.qtensor<688x256, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>> -> tensor<688x256xf32>
  %up = qllm.matmul %x1, %up_w transpose_rhs : (tensor<1x?x256xf32>, tensor<688x256xf32>) -> tensor<1x?x688xf32>
  %act = qllm.swiglu %gate, %up : tensor<1x?x688xf32>
  %down_w = qllm.dequantize %w2 : !qllm.qtensor<256x688, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>> -> tensor<256x688xf32>
  %down = qllm.matmul %act, %down_w transpose_rhs : (tensor<1x?x688xf32>, tensor<256x688xf32>) -> tensor<1x?x256xf32>
  %h2 = qllm.add %h1, %down : (tensor<1x?x256xf32>, tensor<1x?x256xf32>) -> tensor<1x?x256xf32>
  return %h2, %present_k, %present_v : tensor<1x?x256xf32>, tensor<1x4x?x32xf32>, tensor<1x4x?x32xf32>
}
