// Every verifier message of the qllm dialect, one case each.
// RUN: quant-opt %s -split-input-file -verify-diagnostics

//===----------------------------------------------------------------------===//
// Scheme attributes and the qtensor type
//===----------------------------------------------------------------------===//

// expected-error @+1 {{invalid #qllm.intq scheme: bits must be 2, 3, 4 or 8, got 5}}
func.func private @f() attributes {scheme = #qllm.intq<bits = 5, group_size = 32>}

// -----

// expected-error @+1 {{invalid #qllm.intq scheme: group size must be positive or per_channel, got 0}}
func.func private @f() attributes {scheme = #qllm.intq<bits = 4, group_size = 0>}

// -----

// expected-error @+1 {{invalid #qllm.intq scheme: act_order needs a group size: with one group per channel there is no group index}}
func.func private @f() attributes {scheme = #qllm.intq<bits = 4, group_size = per_channel, act_order = true>}

// -----

// expected-error @+1 {{scale_type must be f32, f16 or bf16, got 'f64'}}
func.func private @f() attributes {scheme = #qllm.intq<bits = 4, group_size = 2, scale_type = f64>}

// -----

// expected-error @+2 {{expected a group size: an integer or per_channel}}
// expected-error @+1 {{failed to parse QLLM_IntQuantAttr parameter 'group_size'}}
func.func private @f() attributes {scheme = #qllm.intq<bits = 4, group_size = per_row>}

// -----

// expected-error @+1 {{invalid #qllm.nf4 scheme: block size must be positive, got 0}}
func.func private @f() attributes {scheme = #qllm.nf4<block_size = 0>}

// -----

// expected-error @+1 {{invalid #qllm.nf4 scheme: double-quantization block size must be positive, got 0}}
func.func private @f() attributes {scheme = #qllm.nf4<double_quant = true, double_quant_block_size = 0>}

// -----

// expected-error @+1 {{double_quant_block_size is set but double_quant is false}}
func.func private @f() attributes {scheme = #qllm.nf4<double_quant_block_size = 128>}

// -----

// expected-error @+1 {{scale_type has no meaning with double_quant = true (absmax is stored as 8-bit codes with f32 scales)}}
func.func private @f() attributes {scheme = #qllm.nf4<double_quant = true, scale_type = f16>}

// -----

// expected-error @+1 {{scale_type must be f32, f16 or bf16, got 'f64'}}
func.func private @f() attributes {scheme = #qllm.nf4<scale_type = f64>}

// -----

// expected-error @+1 {{a quantized weight is a [rows, cols] matrix, got 3 dimensions}}
func.func private @f(!qllm.qtensor<4x4x4, #qllm.nf4<>>)

// -----

// expected-error @+1 {{quantized weight dimensions must be positive, got 0}}
func.func private @f(!qllm.qtensor<0x4, #qllm.nf4<>>)

//===----------------------------------------------------------------------===//
// Constants and weights
//===----------------------------------------------------------------------===//

// -----

func.func @f() -> tensor<2xf32> {
  // expected-error @+1 {{'qllm.constant' op holds inline dense data only; model weights are qllm.weight ops with dense_resource blobs}}
  %0 = qllm.constant dense_resource<blob> : tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @f() -> tensor<2xf32> {
  // expected-error @+1 {{'qllm.weight' op needs a non-empty name}}
  %0 = qllm.weight "" = dense_resource<blob> : tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @f() -> tensor<2xf32> {
  // expected-error @+1 {{'qllm.weight' op weight 'w' must be a dense_resource blob, not inline data}}
  %0 = qllm.weight "w" = dense<[1.0, 2.0]> : tensor<2xf32>
  return %0 : tensor<2xf32>
}

// -----

func.func @f() -> tensor<2xf32> {
  // expected-error @+1 {{'qllm.weight' op weight 'w' blob holds 4 bytes but 'tensor<2xf32>' needs 8}}
  %0 = qllm.weight "w" = dense_resource<short> : tensor<2xf32>
  return %0 : tensor<2xf32>
}

{-#
  dialect_resources: {
    builtin: {
      short: "0x040000000000803F"
    }
  }
#-}

//===----------------------------------------------------------------------===//
// Quantized weights
//===----------------------------------------------------------------------===//

// -----

func.func @f(%d: tensor<4x2xui8>, %s: tensor<4x1xf16>) {
  // expected-error @+1 {{'qllm.quantized_weight' op needs zero_points: the scheme is asymmetric}}
  %q = qllm.quantized_weight "w" data(%d : tensor<4x2xui8>) scales(%s : tensor<4x1xf16>)
         -> !qllm.qtensor<4x4, #qllm.intq<bits = 4, group_size = 4>>
  return
}

// -----

func.func @f(%d: tensor<4x2xui8>, %s: tensor<4x1xf16>, %z: tensor<4x1xui8>) {
  // expected-error @+1 {{'qllm.quantized_weight' op has zero_points but the scheme has no stored zero points}}
  %q = qllm.quantized_weight "w" data(%d : tensor<4x2xui8>) scales(%s : tensor<4x1xf16>) zero_points(%z : tensor<4x1xui8>)
         -> !qllm.qtensor<4x4, #qllm.intq<bits = 4, group_size = 4, symmetric = true>>
  return
}

// -----

func.func @f(%d: tensor<4x2xui8>, %s: tensor<4x2xf16>) {
  // expected-error @+1 {{'qllm.quantized_weight' op needs g_idx: the scheme uses act_order}}
  %q = qllm.quantized_weight "w" data(%d : tensor<4x2xui8>) scales(%s : tensor<4x2xf16>)
         -> !qllm.qtensor<4x4, #qllm.intq<bits = 4, group_size = 2, symmetric = true, act_order = true>>
  return
}

// -----

func.func @f(%d: tensor<4x2xui8>, %s: tensor<4x2xf16>, %g: tensor<4xi32>) {
  // expected-error @+1 {{'qllm.quantized_weight' op has g_idx but the scheme does not use act_order}}
  %q = qllm.quantized_weight "w" data(%d : tensor<4x2xui8>) scales(%s : tensor<4x2xf16>) g_idx(%g : tensor<4xi32>)
         -> !qllm.qtensor<4x4, #qllm.intq<bits = 4, group_size = 2, symmetric = true>>
  return
}

// -----

func.func @f(%d: tensor<4x2xui8>, %s: tensor<4x1xui8>) {
  // expected-error @+1 {{'qllm.quantized_weight' op needs double_quant_scales: the scheme uses double quantization}}
  %q = qllm.quantized_weight "w" data(%d : tensor<4x2xui8>) scales(%s : tensor<4x1xui8>)
         -> !qllm.qtensor<4x4, #qllm.nf4<double_quant = true>>
  return
}

// -----

func.func @f(%d: tensor<4x2xui8>, %s: tensor<4x1xui8>, %dq: tensor<1xf32>) {
  // expected-error @+1 {{'qllm.quantized_weight' op needs double_quant_offset: the scheme uses double quantization}}
  %q = "qllm.quantized_weight"(%d, %s, %dq) <{name = "w", operandSegmentSizes = array<i32: 1, 1, 0, 0, 1, 0>}>
         : (tensor<4x2xui8>, tensor<4x1xui8>, tensor<1xf32>) -> !qllm.qtensor<4x4, #qllm.nf4<double_quant = true>>
  return
}

// -----

func.func @f(%d: tensor<4x2xui8>, %s: tensor<4x1xf32>, %dq: tensor<1xf32>, %off: tensor<f32>) {
  // expected-error @+1 {{'qllm.quantized_weight' op has double_quant_scales but the scheme has no double quantization}}
  %q = qllm.quantized_weight "w" data(%d : tensor<4x2xui8>) scales(%s : tensor<4x1xf32>) double_quant(%dq, %off : tensor<1xf32>, tensor<f32>)
         -> !qllm.qtensor<4x4, #qllm.nf4<>>
  return
}

// -----

func.func @f(%d: tensor<4x2xui8>, %s: tensor<4x1xf32>, %off: tensor<f32>) {
  // expected-error @+1 {{'qllm.quantized_weight' op has double_quant_offset but the scheme has no double quantization}}
  %q = "qllm.quantized_weight"(%d, %s, %off) <{name = "w", operandSegmentSizes = array<i32: 1, 1, 0, 0, 0, 1>}>
         : (tensor<4x2xui8>, tensor<4x1xf32>, tensor<f32>) -> !qllm.qtensor<4x4, #qllm.nf4<>>
  return
}

// -----

func.func @f(%d: tensor<4x4xui8>, %s: tensor<4x1xf16>, %z: tensor<4x1xui8>) {
  // expected-error @+1 {{'qllm.quantized_weight' op data must be 'tensor<4x2xui8>' for a 4x4 weight in #qllm.intq<bits = 4, group_size = 4>, got 'tensor<4x4xui8>'}}
  %q = qllm.quantized_weight "w" data(%d : tensor<4x4xui8>) scales(%s : tensor<4x1xf16>) zero_points(%z : tensor<4x1xui8>)
         -> !qllm.qtensor<4x4, #qllm.intq<bits = 4, group_size = 4>>
  return
}

// -----

func.func @f(%d: tensor<4x2xui8>, %s: tensor<4x1xf32>, %z: tensor<4x1xui8>) {
  // expected-error @+1 {{'qllm.quantized_weight' op scales must be 'tensor<4x1xf16>' for a 4x4 weight in #qllm.intq<bits = 4, group_size = 4>, got 'tensor<4x1xf32>'}}
  %q = qllm.quantized_weight "w" data(%d : tensor<4x2xui8>) scales(%s : tensor<4x1xf32>) zero_points(%z : tensor<4x1xui8>)
         -> !qllm.qtensor<4x4, #qllm.intq<bits = 4, group_size = 4>>
  return
}

// -----

func.func @f(%q: !qllm.qtensor<4x4, #qllm.nf4<>>) -> tensor<4x8xf32> {
  // expected-error @+1 {{'qllm.dequantize' op result shape must be [4, 4], got [4, 8]}}
  %w = qllm.dequantize %q : !qllm.qtensor<4x4, #qllm.nf4<>> -> tensor<4x8xf32>
  return %w : tensor<4x8xf32>
}

// -----

func.func @f(%x: tensor<f32>, %q: !qllm.qtensor<4x4, #qllm.nf4<>>) {
  // expected-error @+1 {{'qllm.dequant_matmul' op input must have rank >= 1}}
  %y = qllm.dequant_matmul %x, %q : (tensor<f32>, !qllm.qtensor<4x4, #qllm.nf4<>>) -> tensor<4xf32>
  return
}

// -----

func.func @f(%x: tensor<2x8xf32>, %q: !qllm.qtensor<4x6, #qllm.nf4<>>) {
  // expected-error @+1 {{'qllm.dequant_matmul' op input's last dimension (8) must equal the weight's cols (6)}}
  %y = qllm.dequant_matmul %x, %q : (tensor<2x8xf32>, !qllm.qtensor<4x6, #qllm.nf4<>>) -> tensor<2x4xf32>
  return
}

// -----

func.func @f(%x: tensor<2x6xf32>, %q: !qllm.qtensor<4x6, #qllm.nf4<>>) {
  // expected-error @+1 {{'qllm.dequant_matmul' op result shape must be [2, 4], got [2, 6]}}
  %y = qllm.dequant_matmul %x, %q : (tensor<2x6xf32>, !qllm.qtensor<4x6, #qllm.nf4<>>) -> tensor<2x6xf32>
  return
}

// -----

func.func @f(%x: tensor<2x6xf32>, %q: !qllm.qtensor<4x6, #qllm.nf4<>>) {
  // expected-error @+1 {{'qllm.dequant_matmul' op result element type 'f16' must match the input's 'f32'}}
  %y = qllm.dequant_matmul %x, %q : (tensor<2x6xf32>, !qllm.qtensor<4x6, #qllm.nf4<>>) -> tensor<2x4xf16>
  return
}

// -----

func.func @f(%x: tensor<2x6xf16>, %q: !qllm.qtensor<4x6, #qllm.intq<bits = 8, group_size = per_channel>>) {
  // expected-error @+1 {{'qllm.dequant_matmul' op outlier_threshold (LLM.int8) needs an 8-bit per-channel symmetric weight, got #qllm.intq<bits = 8, group_size = per_channel>}}
  %y = qllm.dequant_matmul %x, %q {outlier_threshold = 6.0 : f32} : (tensor<2x6xf16>, !qllm.qtensor<4x6, #qllm.intq<bits = 8, group_size = per_channel>>) -> tensor<2x4xf16>
  return
}

// -----

func.func @f(%x: tensor<2x6xf16>, %q: !qllm.qtensor<4x6, #qllm.intq<bits = 4, group_size = per_channel, symmetric = true>>) {
  // expected-error @+1 {{'qllm.dequant_matmul' op outlier_threshold (LLM.int8) needs an 8-bit per-channel symmetric weight, got #qllm.intq<bits = 4, group_size = per_channel, symmetric = true>}}
  %y = qllm.dequant_matmul %x, %q {outlier_threshold = 6.0 : f32} : (tensor<2x6xf16>, !qllm.qtensor<4x6, #qllm.intq<bits = 4, group_size = per_channel, symmetric = true>>) -> tensor<2x4xf16>
  return
}

// -----

func.func @f(%x: tensor<2x6xf16>, %q: !qllm.qtensor<4x6, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true>>) {
  // expected-error @+1 {{'qllm.dequant_matmul' op outlier_threshold must be finite and >= 0, got -1}}
  %y = qllm.dequant_matmul %x, %q {outlier_threshold = -1.0 : f32} : (tensor<2x6xf16>, !qllm.qtensor<4x6, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true>>) -> tensor<2x4xf16>
  return
}

// -----

func.func @f(%x: tensor<2x6xf32>, %q: !qllm.qtensor<4x6, #qllm.intq<bits = 3, group_size = 32>>) {
  // expected-error @+1 {{'qllm.dequant_matmul' op int8_activations: #qllm.intq<bits = 3, group_size = 32> has no 8-bit-activation kernel (4 or 8 bits, groups of 32, 64, a multiple of 128 or whole rows, no act order)}}
  %y = qllm.dequant_matmul %x, %q {int8_activations} : (tensor<2x6xf32>, !qllm.qtensor<4x6, #qllm.intq<bits = 3, group_size = 32>>) -> tensor<2x4xf32>
  return
}

// -----

func.func @f(%x: tensor<2x6xf32>, %q: !qllm.qtensor<4x6, #qllm.intq<bits = 4, group_size = 96>>) {
  // expected-error @+1 {{'qllm.dequant_matmul' op int8_activations: #qllm.intq<bits = 4, group_size = 96> has no 8-bit-activation kernel}}
  %y = qllm.dequant_matmul %x, %q {int8_activations} : (tensor<2x6xf32>, !qllm.qtensor<4x6, #qllm.intq<bits = 4, group_size = 96>>) -> tensor<2x4xf32>
  return
}

// -----

func.func @f(%x: tensor<2x6xf32>, %q: !qllm.qtensor<4x6, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true>>) {
  // expected-error @+1 {{'qllm.dequant_matmul' op int8_activations and outlier_threshold exclude each other}}
  %y = qllm.dequant_matmul %x, %q {int8_activations, outlier_threshold = 6.0 : f32} : (tensor<2x6xf32>, !qllm.qtensor<4x6, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true>>) -> tensor<2x4xf32>
  return
}

//===----------------------------------------------------------------------===//
// LLM operations
//===----------------------------------------------------------------------===//

// -----

func.func @f(%t: tensor<512xf32>, %ids: tensor<1x3xi64>) {
  // expected-error @+1 {{'qllm.embedding' op table must be [vocab, dim], got rank 1}}
  %x = qllm.embedding %t[%ids] : (tensor<512xf32>, tensor<1x3xi64>) -> tensor<1x3xf32>
  return
}

// -----

func.func @f(%t: tensor<512x64xf32>, %ids: tensor<1x3xi64>) {
  // expected-error @+1 {{'qllm.embedding' op result shape must be [1, 3, 64], got [1, 3, 32]}}
  %x = qllm.embedding %t[%ids] : (tensor<512x64xf32>, tensor<1x3xi64>) -> tensor<1x3x32xf32>
  return
}

// -----

func.func @f(%t: tensor<512x64xf16>, %ids: tensor<1x3xi64>) {
  // expected-error @+1 {{'qllm.embedding' op result element type 'f32' must match the table's 'f16'}}
  %x = qllm.embedding %t[%ids] : (tensor<512x64xf16>, tensor<1x3xi64>) -> tensor<1x3x64xf32>
  return
}

// -----

func.func @f(%x: tensor<f32>, %w: tensor<1xf32>) {
  // expected-error @+1 {{'qllm.rms_norm' op input must have rank >= 1}}
  %y = qllm.rms_norm %x, %w {epsilon = 1.0e-5 : f32} : (tensor<f32>, tensor<1xf32>) -> tensor<f32>
  return
}

// -----

func.func @f(%x: tensor<2x64xf32>, %w: tensor<1x64xf32>) {
  // expected-error @+1 {{'qllm.rms_norm' op weight must be 1-D, got rank 2}}
  %y = qllm.rms_norm %x, %w {epsilon = 1.0e-5 : f32} : (tensor<2x64xf32>, tensor<1x64xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @f(%x: tensor<2x64xf32>, %w: tensor<32xf32>) {
  // expected-error @+1 {{'qllm.rms_norm' op weight has 32 elements but the normalized (last) dimension is 64}}
  %y = qllm.rms_norm %x, %w {epsilon = 1.0e-5 : f32} : (tensor<2x64xf32>, tensor<32xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @f(%x: tensor<2x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'qllm.rms_norm' op result type 'tensor<2x64xf16>' must equal the input type 'tensor<2x64xf32>'}}
  %y = qllm.rms_norm %x, %w {epsilon = 1.0e-5 : f32} : (tensor<2x64xf32>, tensor<64xf32>) -> tensor<2x64xf16>
  return
}

// -----

func.func @f(%x: tensor<2x64xf32>, %w: tensor<64xf32>) {
  // expected-error @+1 {{'qllm.rms_norm' op epsilon must be non-negative}}
  %y = qllm.rms_norm %x, %w {epsilon = -1.0 : f32} : (tensor<2x64xf32>, tensor<64xf32>) -> tensor<2x64xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x64xf32>, %p: tensor<1x4xi64>) {
  // expected-error @+1 {{'qllm.rotary' op input must be [batch, seq, heads, head_dim], got rank 3}}
  %y = qllm.rotary interleaved %x, %p {base = 1.0e4 : f32} : (tensor<1x4x64xf32>, tensor<1x4xi64>) -> tensor<1x4x64xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x2x8xf32>, %p: tensor<1x4xi64>) {
  // expected-error @+1 {{'qllm.rotary' op result type 'tensor<1x4x2x8xf16>' must equal the input type 'tensor<1x4x2x8xf32>'}}
  %y = qllm.rotary interleaved %x, %p {base = 1.0e4 : f32} : (tensor<1x4x2x8xf32>, tensor<1x4xi64>) -> tensor<1x4x2x8xf16>
  return
}

// -----

func.func @f(%x: tensor<2x4x2x8xf32>, %p: tensor<3x4xi64>) {
  // expected-error @+1 {{'qllm.rotary' op positions must be [batch or 1, seq] = [2 or 1, 4], got [3, 4]}}
  %y = qllm.rotary interleaved %x, %p {base = 1.0e4 : f32} : (tensor<2x4x2x8xf32>, tensor<3x4xi64>) -> tensor<2x4x2x8xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x2x8xf32>, %p: tensor<1x4xi64>) {
  // expected-error @+1 {{'qllm.rotary' op rotary_dim (5) must be positive, even and at most head_dim (8)}}
  %y = qllm.rotary interleaved %x, %p {base = 1.0e4 : f32, rotary_dim = 5 : i64} : (tensor<1x4x2x8xf32>, tensor<1x4xi64>) -> tensor<1x4x2x8xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x2x8xf32>, %p: tensor<1x4xi64>, %c: tensor<16x4xf32>) {
  // expected-error @+1 {{'qllm.rotary' op cos and sin caches come together}}
  %y = "qllm.rotary"(%x, %p, %c) <{convention = 0 : i32, operandSegmentSizes = array<i32: 1, 1, 1, 0>}>
         : (tensor<1x4x2x8xf32>, tensor<1x4xi64>, tensor<16x4xf32>) -> tensor<1x4x2x8xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x2x8xf32>, %p: tensor<1x4xi64>, %c: tensor<16x4xf32>) {
  // expected-error @+1 {{'qllm.rotary' op has both base and cache(cos, sin); give one}}
  %y = qllm.rotary interleaved %x, %p cache(%c, %c) {base = 1.0e4 : f32} : (tensor<1x4x2x8xf32>, tensor<1x4xi64>, tensor<16x4xf32>, tensor<16x4xf32>) -> tensor<1x4x2x8xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x2x8xf32>, %p: tensor<1x4xi64>) {
  // expected-error @+1 {{'qllm.rotary' op needs either base or cache(cos, sin)}}
  %y = qllm.rotary rotate_half %x, %p : (tensor<1x4x2x8xf32>, tensor<1x4xi64>) -> tensor<1x4x2x8xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x2x8xf32>, %p: tensor<1x4xi64>) {
  // expected-error @+1 {{'qllm.rotary' op base must be positive, got -1}}
  %y = qllm.rotary rotate_half %x, %p {base = -1.0 : f32} : (tensor<1x4x2x8xf32>, tensor<1x4xi64>) -> tensor<1x4x2x8xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x2x8xf32>, %p: tensor<1x4xi64>, %c: tensor<16x4xf32>, %s: tensor<16x4xf16>) {
  // expected-error @+1 {{'qllm.rotary' op cos and sin caches must have the same type}}
  %y = qllm.rotary rotate_half %x, %p cache(%c, %s) : (tensor<1x4x2x8xf32>, tensor<1x4xi64>, tensor<16x4xf32>, tensor<16x4xf16>) -> tensor<1x4x2x8xf32>
  return
}

// -----

func.func @f(%x: tensor<1x4x2x8xf32>, %p: tensor<1x4xi64>, %c: tensor<16x8xf32>) {
  // expected-error @+1 {{'qllm.rotary' op cache tables must be [max_positions, rotary_dim/2 = 4], got [16, 8]}}
  %y = qllm.rotary rotate_half %x, %p cache(%c, %c) : (tensor<1x4x2x8xf32>, tensor<1x4xi64>, tensor<16x8xf32>, tensor<16x8xf32>) -> tensor<1x4x2x8xf32>
  return
}

// -----

func.func @f(%q: tensor<1x4x64xf32>, %k: tensor<1x4x1x8xf32>) {
  // expected-error @+1 {{'qllm.attention' op query must be [batch, seq, heads, head_dim], got rank 3}}
  %o:3 = qllm.attention %q, %k, %k : (tensor<1x4x64xf32>, tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>) -> (tensor<1x4x64xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x4x2x8xf32>, %k: tensor<1x5x1x8xf32>) {
  // expected-error @+1 {{'qllm.attention' op key shape must be [1, 4, 1, 8], got [1, 5, 1, 8]}}
  %o:3 = qllm.attention %q, %k, %k : (tensor<1x4x2x8xf32>, tensor<1x5x1x8xf32>, tensor<1x5x1x8xf32>) -> (tensor<1x4x2x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x4x2x8xf32>, %k: tensor<1x4x1x8xf32>, %v: tensor<1x4x2x8xf32>) {
  // expected-error @+1 {{'qllm.attention' op value shape must be [1, 4, 1, 8], got [1, 4, 2, 8]}}
  %o:3 = qllm.attention %q, %k, %v : (tensor<1x4x2x8xf32>, tensor<1x4x1x8xf32>, tensor<1x4x2x8xf32>) -> (tensor<1x4x2x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x4x8x8xf32>, %k: tensor<1x4x3x8xf32>) {
  // expected-error @+1 {{'qllm.attention' op query heads (8) must be a multiple of KV heads (3)}}
  %o:3 = qllm.attention %q, %k, %k : (tensor<1x4x8x8xf32>, tensor<1x4x3x8xf32>, tensor<1x4x3x8xf32>) -> (tensor<1x4x8x8xf32>, tensor<1x3x4x8xf32>, tensor<1x3x4x8xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x4x2x8xf32>, %k: tensor<1x4x1x8xf32>, %pk: tensor<1x1x3x8xf32>) {
  // expected-error @+1 {{'qllm.attention' op past_key and past_value come together}}
  %o:3 = "qllm.attention"(%q, %k, %k, %pk) <{operandSegmentSizes = array<i32: 1, 1, 1, 1, 0, 0, 0>}>
      : (tensor<1x4x2x8xf32>, tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>, tensor<1x1x3x8xf32>) -> (tensor<1x4x2x8xf32>, tensor<1x1x7x8xf32>, tensor<1x1x7x8xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x4x2x8xf32>, %k: tensor<1x4x1x8xf32>, %pk: tensor<1x3x8xf32>) {
  // expected-error @+1 {{'qllm.attention' op past caches must be [batch, kv_heads, past, head_dim]}}
  %o:3 = qllm.attention %q, %k, %k past(%pk, %pk) : (tensor<1x4x2x8xf32>, tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>, tensor<1x3x8xf32>, tensor<1x3x8xf32>) -> (tensor<1x4x2x8xf32>, tensor<1x1x7x8xf32>, tensor<1x1x7x8xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x4x2x8xf32>, %k: tensor<1x4x1x8xf32>, %pk: tensor<1x2x3x8xf32>) {
  // expected-error @+1 {{'qllm.attention' op past_key shape must be [1, 1, 3, 8], got [1, 2, 3, 8]}}
  %o:3 = qllm.attention %q, %k, %k past(%pk, %pk) : (tensor<1x4x2x8xf32>, tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>, tensor<1x2x3x8xf32>, tensor<1x2x3x8xf32>) -> (tensor<1x4x2x8xf32>, tensor<1x1x7x8xf32>, tensor<1x1x7x8xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x4x2x8xf32>, %k: tensor<1x4x1x8xf32>, %pk: tensor<1x1x3x8xf32>, %pv: tensor<1x1x3x4xf32>) {
  // expected-error @+1 {{'qllm.attention' op past_value shape must be [1, 1, 3, 8], got [1, 1, 3, 4]}}
  %o:3 = qllm.attention %q, %k, %k past(%pk, %pv) : (tensor<1x4x2x8xf32>, tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>, tensor<1x1x3x8xf32>, tensor<1x1x3x4xf32>) -> (tensor<1x4x2x8xf32>, tensor<1x1x7x8xf32>, tensor<1x1x7x8xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x4x2x8xf32>, %k: tensor<1x4x1x8xf32>, %pk: tensor<1x1x3x8xf16>) {
  // expected-error @+1 {{'qllm.attention' op past caches must have the query's element type 'f32'}}
  %o:3 = qllm.attention %q, %k, %k past(%pk, %pk) : (tensor<1x4x2x8xf32>, tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>, tensor<1x1x3x8xf16>, tensor<1x1x3x8xf16>) -> (tensor<1x4x2x8xf32>, tensor<1x1x7x8xf32>, tensor<1x1x7x8xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x4x2x8xf32>, %k: tensor<1x4x1x8xf32>) {
  // expected-error @+1 {{'qllm.attention' op output shape must be [1, 4, 2, 8], got [1, 4, 16]}}
  %o:3 = qllm.attention %q, %k, %k : (tensor<1x4x2x8xf32>, tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>) -> (tensor<1x4x16xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x4x2x8xf32>, %k: tensor<1x4x1x8xf32>, %pk: tensor<1x1x3x8xf32>) {
  // expected-error @+1 {{'qllm.attention' op present_key shape must be [1, 1, 7, 8], got [1, 1, 4, 8]}}
  %o:3 = qllm.attention %q, %k, %k past(%pk, %pk) : (tensor<1x4x2x8xf32>, tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>, tensor<1x1x3x8xf32>, tensor<1x1x3x8xf32>) -> (tensor<1x4x2x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x7x8xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x4x2x8xf32>, %k: tensor<1x4x1x8xf32>) {
  // expected-error @+1 {{'qllm.attention' op present_value shape must be [1, 1, 4, 8], got [1, 4, 1, 8]}}
  %o:3 = qllm.attention %q, %k, %k : (tensor<1x4x2x8xf32>, tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>) -> (tensor<1x4x2x8xf32>, tensor<1x1x4x8xf32>, tensor<1x4x1x8xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x4x2x8xf32>, %k: tensor<1x4x1x8xf16>) {
  // expected-error @+1 {{'qllm.attention' op keys, values and results must have the query's element type 'f32', got 'f16'}}
  %o:3 = qllm.attention %q, %k, %k : (tensor<1x4x2x8xf32>, tensor<1x4x1x8xf16>, tensor<1x4x1x8xf16>) -> (tensor<1x4x2x8xf32>, tensor<1x1x4x8xf16>, tensor<1x1x4x8xf16>)
  return
}

// -----

func.func @f(%q: tensor<1x4x2x8xf32>, %k: tensor<1x4x1x8xf32>, %pk: tensor<1x1x3x8xf32>, %m: tensor<1x4xi64>) {
  // expected-error @+1 {{'qllm.attention' op attention mask shape must be [1, 7], got [1, 4]}}
  %o:3 = qllm.attention %q, %k, %k past(%pk, %pk) mask(%m) : (tensor<1x4x2x8xf32>, tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>, tensor<1x1x3x8xf32>, tensor<1x1x3x8xf32>, tensor<1x4xi64>) -> (tensor<1x4x2x8xf32>, tensor<1x1x7x8xf32>, tensor<1x1x7x8xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x4x2x8xf32>, %k: tensor<1x4x1x8xf32>, %b: tensor<1x1x4x5xf32>) {
  // expected-error @+1 {{'qllm.attention' op attention bias must broadcast to [batch, heads, seq, past + seq] = [1, 2, 4, 4], got [1, 1, 4, 5]}}
  %o:3 = qllm.attention %q, %k, %k bias(%b) : (tensor<1x4x2x8xf32>, tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>, tensor<1x1x4x5xf32>) -> (tensor<1x4x2x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>)
  return
}

// -----

func.func @f(%q: tensor<1x4x2x8xf32>, %k: tensor<1x4x1x8xf32>) {
  // expected-error @+1 {{'qllm.attention' op scale must be positive, got 0}}
  %o:3 = qllm.attention %q, %k, %k causal {scale = 0.0 : f32} : (tensor<1x4x2x8xf32>, tensor<1x4x1x8xf32>, tensor<1x4x1x8xf32>) -> (tensor<1x4x2x8xf32>, tensor<1x1x4x8xf32>, tensor<1x1x4x8xf32>)
  return
}

// -----

func.func @f(%a: tensor<4xf32>, %b: tensor<4x4xf32>) {
  // expected-error @+1 {{'qllm.matmul' op operands must have rank >= 2, got 1 and 2}}
  %y = qllm.matmul %a, %b : (tensor<4xf32>, tensor<4x4xf32>) -> tensor<4xf32>
  return
}

// -----

func.func @f(%a: tensor<2x4xf32>, %b: tensor<4x4xf16>) {
  // expected-error @+1 {{'qllm.matmul' op operands and result must share one element type}}
  %y = qllm.matmul %a, %b : (tensor<2x4xf32>, tensor<4x4xf16>) -> tensor<2x4xf32>
  return
}

// -----

func.func @f(%a: tensor<2x4xf32>, %b: tensor<5x4xf32>) {
  // expected-error @+1 {{'qllm.matmul' op contraction dimensions differ: lhs has K = 4, rhs has 5}}
  %y = qllm.matmul %a, %b : (tensor<2x4xf32>, tensor<5x4xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @f(%a: tensor<3x2x4xf32>, %b: tensor<2x4x4xf32>) {
  // expected-error @+1 {{'qllm.matmul' op batch dimensions [3] and [2] do not broadcast}}
  %y = qllm.matmul %a, %b : (tensor<3x2x4xf32>, tensor<2x4x4xf32>) -> tensor<3x2x4xf32>
  return
}

// -----

func.func @f(%a: tensor<2x4xf32>, %b: tensor<6x4xf32>) {
  // expected-error @+1 {{'qllm.matmul' op result shape must be [2, 6], got [2, 4]}}
  %y = qllm.matmul %a, %b transpose_rhs : (tensor<2x4xf32>, tensor<6x4xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @f(%a: tensor<2x4xf32>) {
  // expected-error @+1 {{'qllm.softmax' op axis 2 is out of range [0, 2)}}
  %y = qllm.softmax %a axis = 2 : tensor<2x4xf32>
  return
}

//===----------------------------------------------------------------------===//
// Elementwise and reductions
//===----------------------------------------------------------------------===//

// -----

func.func @f(%a: tensor<2x3xf32>, %b: tensor<2x4xf32>) {
  // expected-error @+1 {{'qllm.add' op operands don't have broadcast-compatible shapes}}
  %y = qllm.add %a, %b : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>
  return
}

// -----

func.func @f(%c: tensor<2xi1>, %a: tensor<2xf32>, %b: tensor<2xf16>) {
  // expected-error @+1 {{'qllm.select' op on_true, on_false and result must share one element type}}
  %y = qllm.select %c, %a, %b : (tensor<2xi1>, tensor<2xf32>, tensor<2xf16>) -> tensor<2xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'qllm.reduce_mean' op needs at least one axis}}
  %y = qllm.reduce_mean %a axes = [] : tensor<2x3xf32> -> tensor<2x3xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'qllm.reduce_sum' op axis -1 is out of range [0, 2)}}
  %y = qllm.reduce_sum %a axes = [-1] : tensor<2x3xf32> -> tensor<2xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'qllm.reduce_max' op axis 1 appears twice}}
  %y = qllm.reduce_max %a axes = [1, 1] : tensor<2x3xf32> -> tensor<2xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'qllm.reduce_mean' op result shape must be [2, 1], got [2]}}
  %y = qllm.reduce_mean %a axes = [1] keep_dims : tensor<2x3xf32> -> tensor<2xf32>
  return
}

//===----------------------------------------------------------------------===//
// Shape and data movement
//===----------------------------------------------------------------------===//

// -----

func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'qllm.reshape' op cannot change the element type}}
  %y = qllm.reshape %a : (tensor<2x3xf32>) -> tensor<6xf16>
  return
}

// -----

func.func @f(%a: tensor<?x3xf32>, %s: tensor<3xi64>) {
  // expected-error @+1 {{'qllm.reshape' op shape operand has 3 entries but the result has rank 2}}
  %y = qllm.reshape %a, %s : (tensor<?x3xf32>, tensor<3xi64>) -> tensor<?x3xf32>
  return
}

// -----

func.func @f(%a: tensor<?x3xf32>) {
  // expected-error @+1 {{'qllm.reshape' op a reshape to 'tensor<?xf32>' (dynamic dimensions) needs a shape operand}}
  %y = qllm.reshape %a : (tensor<?x3xf32>) -> tensor<?xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'qllm.reshape' op element count changes from 6 to 8}}
  %y = qllm.reshape %a : (tensor<2x3xf32>) -> tensor<8xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'qllm.unsqueeze' op result rank must be 2 + 1, got 4}}
  %y = qllm.unsqueeze %a axes = [0] : tensor<2x3xf32> -> tensor<1x2x3x1xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'qllm.unsqueeze' op result shape must be [2, 1, 3], got [1, 2, 3]}}
  %y = qllm.unsqueeze %a axes = [1] : tensor<2x3xf32> -> tensor<1x2x3xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'qllm.squeeze' op cannot squeeze dimension 0 of size 2}}
  %y = qllm.squeeze %a axes = [0] : tensor<2x3xf32> -> tensor<3xf32>
  return
}

// -----

func.func @f(%a: tensor<1x3xf32>) {
  // expected-error @+1 {{'qllm.squeeze' op result shape must be [3], got [1]}}
  %y = qllm.squeeze %a axes = [0] : tensor<1x3xf32> -> tensor<1xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'qllm.transpose' op permutation must be a permutation of 0..1}}
  %y = qllm.transpose %a [1, 1] : tensor<2x3xf32> -> tensor<3x3xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>) {
  // expected-error @+1 {{'qllm.transpose' op result shape must be [3, 2], got [2, 3]}}
  %y = qllm.transpose %a [1, 0] : tensor<2x3xf32> -> tensor<2x3xf32>
  return
}

// -----

func.func @f() {
  // expected-error @+1 {{'qllm.concat' op expected 1 or more operands, but found 0}}
  %y = qllm.concat axis = 0 : () -> tensor<2xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>, %b: tensor<3xf32>) {
  // expected-error @+1 {{'qllm.concat' op inputs must share one rank, got 2 and 1}}
  %y = qllm.concat %a, %b axis = 0 : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<3x3xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>, %b: tensor<2x4xf32>) {
  // expected-error @+1 {{'qllm.concat' op inputs differ in dimension 1 (3 vs 4)}}
  %y = qllm.concat %a, %b axis = 0 : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @f(%a: tensor<2x3xf32>, %b: tensor<2x4xf32>) {
  // expected-error @+1 {{'qllm.concat' op result shape must be [2, 7], got [2, 8]}}
  %y = qllm.concat %a, %b axis = 1 : (tensor<2x3xf32>, tensor<2x4xf32>) -> tensor<2x8xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>) {
  // expected-error @+1 {{'qllm.slice' op axes, starts, ends and steps must have the same length}}
  %y = qllm.slice %a axes = [1] starts = [0, 0] ends = [4] steps = [1] : tensor<2x8xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>) {
  // expected-error @+1 {{'qllm.slice' op step on axis 1 must be nonzero}}
  %y = qllm.slice %a axes = [1] starts = [0] ends = [4] steps = [0] : tensor<2x8xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>) {
  // expected-error @+1 {{'qllm.slice' op result shape must be [2, 3], got [2, 4]}}
  %y = qllm.slice %a axes = [1] starts = [-3] ends = [9223372036854775807] steps = [1] : tensor<2x8xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>) {
  // expected-error @+1 {{'qllm.split' op has 2 sizes but 1 results}}
  %y = qllm.split %a axis = 1 sizes = [4, 4] : tensor<2x8xf32> -> tensor<2x4xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>) {
  // expected-error @+1 {{'qllm.split' op sizes must be non-negative, got -4}}
  %y:2 = qllm.split %a axis = 1 sizes = [12, -4] : tensor<2x8xf32> -> tensor<2x12xf32>, tensor<2x4xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>) {
  // expected-error @+1 {{'qllm.split' op sizes add up to 6 but dimension 1 is 8}}
  %y:2 = qllm.split %a axis = 1 sizes = [4, 2] : tensor<2x8xf32> -> tensor<2x4xf32>, tensor<2x2xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>) {
  // expected-error @+1 {{'qllm.split' op result shape must be [2, 2], got [2, 3]}}
  %y:2 = qllm.split %a axis = 1 sizes = [6, 2] : tensor<2x8xf32> -> tensor<2x6xf32>, tensor<2x3xf32>
  return
}

// -----

func.func @f(%a: tensor<3xi64>, %i: tensor<i64>) {
  // expected-error @+1 {{'qllm.gather' op result element type must match the data's}}
  %y = qllm.gather %a[%i] axis = 0 : (tensor<3xi64>, tensor<i64>) -> tensor<i32>
  return
}

// -----

func.func @f(%a: tensor<3x4xf32>, %i: tensor<2xi64>) {
  // expected-error @+1 {{'qllm.gather' op result shape must be [3, 2], got [2, 4]}}
  %y = qllm.gather %a[%i] axis = 1 : (tensor<3x4xf32>, tensor<2xi64>) -> tensor<2x4xf32>
  return
}

// -----

func.func @f(%a: tensor<3xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{'qllm.expand' op result element type must match the input's}}
  %y = qllm.expand %a, %s : (tensor<3xf32>, tensor<2xi64>) -> tensor<?x3xf16>
  return
}

// -----

func.func @f(%a: tensor<3xf32>, %s: tensor<2xi64>) {
  // expected-error @+1 {{'qllm.expand' op result rank must be max(input rank 1, shape entries 2), got 3}}
  %y = qllm.expand %a, %s : (tensor<3xf32>, tensor<2xi64>) -> tensor<?x?x3xf32>
  return
}

// -----

func.func @f(%a: tensor<3xf32>, %r: tensor<1xi64>) {
  // expected-error @+1 {{'qllm.tile' op result must have the input's rank and element type}}
  %y = qllm.tile %a, %r : (tensor<3xf32>, tensor<1xi64>) -> tensor<?x?xf32>
  return
}

// -----

func.func @f(%a: tensor<3xf32>, %r: tensor<2xi64>) {
  // expected-error @+1 {{'qllm.tile' op repeats has 2 entries but the input has rank 1}}
  %y = qllm.tile %a, %r : (tensor<3xf32>, tensor<2xi64>) -> tensor<?xf32>
  return
}

// -----

func.func @f(%a: tensor<?x3xf32>) {
  // expected-error @+1 {{'qllm.shape_of' op result must have one entry per input dimension (2), got 3}}
  %y = qllm.shape_of %a : tensor<?x3xf32> -> tensor<3xi64>
  return
}

// -----

func.func @f(%s: tensor<2xi64>) {
  // expected-error @+1 {{'qllm.fill' op value must be an integer or float scalar}}
  %y = qllm.fill %s, dense<1.0> : tensor<1xf32> : (tensor<2xi64>) -> tensor<?x?xf32>
  return
}

// -----

func.func @f(%s: tensor<2xi64>) {
  // expected-error @+1 {{'qllm.fill' op value type 'f16' must be the result's element type 'f32'}}
  %y = qllm.fill %s, 1.0 : f16 : (tensor<2xi64>) -> tensor<?x?xf32>
  return
}

// -----

func.func @f(%s: tensor<2xi64>) {
  // expected-error @+1 {{'qllm.fill' op shape has 2 entries but the result has rank 3}}
  %y = qllm.fill %s, 1.0 : f32 : (tensor<2xi64>) -> tensor<?x?x?xf32>
  return
}

// -----

func.func @f(%a: tensor<i64>) {
  // expected-error @+1 {{'qllm.range' op result element type must match the operands'}}
  %y = qllm.range %a, %a, %a : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xf32>
  return
}

// -----

func.func @f(%a: tensor<4xf32>) {
  // expected-error @+1 {{'qllm.trilu' op input must have rank >= 2}}
  %y = qllm.trilu %a diagonal = 0 : tensor<4xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>, %s: tensor<2xi64>, %e: tensor<1xi64>) {
  // expected-error @+1 {{'qllm.dynamic_slice' op starts must be a 1-D tensor of 1 entries (one per axis)}}
  %y = qllm.dynamic_slice %a[%s : %e] axes = [1] steps = [1] : (tensor<2x8xf32>, tensor<2xi64>, tensor<1xi64>) -> tensor<2x?xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>, %s: tensor<1xi64>) {
  // expected-error @+1 {{'qllm.dynamic_slice' op step on axis 1 must be nonzero}}
  %y = qllm.dynamic_slice %a[%s : %s] axes = [1] steps = [0] : (tensor<2x8xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x?xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>, %s: tensor<1xi64>) {
  // expected-error @+1 {{'qllm.dynamic_slice' op result shape must be [2, ?], got [3, ?]}}
  %y = qllm.dynamic_slice %a[%s : %s] axes = [1] steps = [1] : (tensor<2x8xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<3x?xf32>
  return
}

// -----

func.func @f(%a: tensor<2x8xf32>, %s: tensor<1xi64>) {
  // expected-error @+1 {{'qllm.dynamic_slice' op axes and steps must have the same length}}
  %y = qllm.dynamic_slice %a[%s : %s] axes = [1] steps = [1, 1] : (tensor<2x8xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x?xf32>
  return
}

// -----

func.func @f(%d: tensor<4x3xf32>, %i: tensor<2x3xi64>, %u: tensor<2xf32>) {
  // expected-error @+1 {{'qllm.scatter_nd' op the last dimension of indices must be static and in [1, rank of data]}}
  %y = qllm.scatter_nd %d[%i], %u : (tensor<4x3xf32>, tensor<2x3xi64>, tensor<2xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @f(%d: tensor<4x3xf32>, %i: tensor<2x1xi64>, %u: tensor<2x4xf32>) {
  // expected-error @+1 {{'qllm.scatter_nd' op updates shape must be [2, 3], got [2, 4]}}
  %y = qllm.scatter_nd %d[%i], %u : (tensor<4x3xf32>, tensor<2x1xi64>, tensor<2x4xf32>) -> tensor<4x3xf32>
  return
}

// -----

func.func @f(%d: tensor<4x3xf32>, %i: tensor<2x1xi64>, %u: tensor<2x3xf16>) {
  // expected-error @+1 {{'qllm.scatter_nd' op data, updates and result must have one element type}}
  %y = qllm.scatter_nd %d[%i], %u : (tensor<4x3xf32>, tensor<2x1xi64>, tensor<2x3xf16>) -> tensor<4x3xf32>
  return
}

// -----

func.func @all_gather_too_small(%x: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> {
  // expected-error @+1 {{'qllm.all_gather' op makes 2 parts of 4 into 4 (needs (world_size - 1) * n < m <= world_size * n)}}
  %y = qllm.all_gather %x {world_size = 2 : i64} : (tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
  return %y : tensor<1x?x4xf32>
}

// -----

func.func @all_gather_other_dims(%x: tensor<1x?x4xf32>) -> tensor<2x?x8xf32> {
  // expected-error @+1 {{'qllm.all_gather' op gathers the last dimension only}}
  %y = qllm.all_gather %x {world_size = 2 : i64} : (tensor<1x?x4xf32>) -> tensor<2x?x8xf32>
  return %y : tensor<2x?x8xf32>
}

// -----

func.func @all_gather_no_ranks(%x: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> {
  // expected-error @+1 {{'qllm.all_gather' op world_size must be positive, got 0}}
  %y = qllm.all_gather %x {world_size = 0 : i64} : (tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
  return %y : tensor<1x?x4xf32>
}
