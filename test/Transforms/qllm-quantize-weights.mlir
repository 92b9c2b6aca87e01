// RUN: quant-opt %s --split-input-file --verify-diagnostics --qllm-quantize-weights='method=int4 group-size=-1 symmetric=true' | FileCheck %s
// RUN: quant-opt %s --split-input-file --verify-diagnostics --qllm-quantize-weights=method=int8 | FileCheck %s --check-prefix=INT8
// RUN: quant-opt %s --split-input-file --verify-diagnostics --qllm-quantize-weights='method=int bits=3 group-size=4' | FileCheck %s --check-prefix=INT3
// RUN: quant-opt %s --split-input-file --verify-diagnostics --qllm-quantize-weights=method=nf4 | FileCheck %s --check-prefix=NF4
// RUN: quant-opt %s --split-input-file --verify-diagnostics --qllm-quantize-weights='method=nf4 group-size=4 double-quant=true double-quant-block-size=2' | FileCheck %s --check-prefix=NF4DQ
// RUN: quant-opt %s --split-input-file --verify-diagnostics --qllm-quantize-weights=method=fp4 | FileCheck %s --check-prefix=FP4
// RUN: quant-opt %s --split-input-file --verify-diagnostics --qllm-quantize-weights=method=llm-int8 | FileCheck %s --check-prefix=LLMINT8
// RUN: quant-opt %s --split-input-file --verify-diagnostics --qllm-quantize-weights='method=int4 quantize-output=true' | FileCheck %s --check-prefix=OUTPUT
// RUN: quant-opt %s --split-input-file --verify-diagnostics --qllm-quantize-weights='method=int4 exclude=^w2$,mlp' | FileCheck %s --check-prefix=EXCLUDE
// RUN: quant-opt %s --split-input-file --verify-diagnostics --qllm-quantize-weights='method=int4 report=true' -o /dev/null 2>&1 | FileCheck %s --check-prefix=REPORT

// RUN: not quant-opt %s --split-input-file --qllm-quantize-weights=method=int5 2>&1 | FileCheck %s --check-prefix=BAD-METHOD
// RUN: not quant-opt %s --split-input-file --qllm-quantize-weights='method=int bits=5' 2>&1 | FileCheck %s --check-prefix=BAD-BITS
// RUN: not quant-opt %s --split-input-file --qllm-quantize-weights='method=int4 bits=8' 2>&1 | FileCheck %s --check-prefix=BAD-METHOD-BITS
// RUN: not quant-opt %s --split-input-file --qllm-quantize-weights='method=int4 double-quant=true' 2>&1 | FileCheck %s --check-prefix=BAD-DQ
// RUN: not quant-opt %s --split-input-file --qllm-quantize-weights='method=int4 group-size=-3' 2>&1 | FileCheck %s --check-prefix=BAD-GROUP
// RUN: not quant-opt %s --split-input-file --qllm-quantize-weights='method=nf4 scale-type=f8' 2>&1 | FileCheck %s --check-prefix=BAD-SCALE
// RUN: not quant-opt %s --split-input-file --qllm-quantize-weights='method=int4 exclude=(' 2>&1 | FileCheck %s --check-prefix=BAD-REGEX
// RUN: not quant-opt %s --split-input-file --qllm-quantize-weights='method=int4 outlier-threshold=3' 2>&1 | FileCheck %s --check-prefix=BAD-THRESHOLD
// RUN: not quant-opt %s --split-input-file --qllm-quantize-weights='method=llm-int8 outlier-threshold=-1' 2>&1 | FileCheck %s --check-prefix=BAD-THRESHOLD-NEG
// RUN: not quant-opt %s --split-input-file --qllm-quantize-weights='method=llm-int8 group-size=64' 2>&1 | FileCheck %s --check-prefix=BAD-LLMINT8-GROUP
// RUN: not quant-opt %s --split-input-file --qllm-quantize-weights='method=fp4 clip-search=true' 2>&1 | FileCheck %s --check-prefix=BAD-FP4-CLIP

// BAD-METHOD: for the --method option: Cannot find option named 'int5'!
// BAD-BITS: error: qllm-quantize-weights: method=int needs bits=2, 3, 4 or 8, got 5
// BAD-METHOD-BITS: error: qllm-quantize-weights: method=int4 has 4-bit codes, got bits=8 (use method=int)
// BAD-DQ: error: qllm-quantize-weights: double-quant applies to nf4 and fp4 only
// BAD-GROUP: error: qllm-quantize-weights: group-size must be positive or -1 (per channel), got -3
// BAD-SCALE: for the --scale-type option: Cannot find option named 'f8'!
// BAD-REGEX: error: qllm-quantize-weights: exclude pattern '(' is not a valid regex
// BAD-THRESHOLD: error: qllm-quantize-weights: outlier-threshold applies to method=llm-int8 only
// BAD-THRESHOLD-NEG: error: qllm-quantize-weights: outlier-threshold must be a finite number >= 0, got -1
// BAD-LLMINT8-GROUP: error: qllm-quantize-weights: llm-int8 has a fixed weight scheme (8-bit codes per channel, symmetric)
// BAD-FP4-CLIP: error: qllm-quantize-weights: clip-search applies to integer schemes, not fp4

// Values, by hand: int4 symmetric per channel, w = [0.7, -1.4, 0, 0.35]:
// s = f16(1.4 / 7) = 0.199951171875 (0x3266), q = rint(w / s) + 8 =
// [12, 1, 8, 10], packed low nibble first: 0x1C, 0xA8. The float original is
// freed (its blob elided), the matmul reads the dequantized [N, K] weight.
// CHECK-LABEL: func.func @values
// CHECK: %[[D:.*]] = qllm.weight "w.data" = dense_resource<[[DATA:w.data.*]]> : tensor<1x2xui8>
// CHECK: %[[S:.*]] = qllm.weight "w.scales" = dense_resource<[[SCALES:w.scales.*]]> : tensor<1x1xf16>
// CHECK: %[[Q:.*]] = qllm.quantized_weight "w" data(%[[D]] : tensor<1x2xui8>) scales(%[[S]] : tensor<1x1xf16>) -> !qllm.qtensor<1x4, #qllm.intq<bits = 4, group_size = per_channel, symmetric = true>>
// CHECK: %[[W:.*]] = qllm.dequantize %[[Q]] : {{.*}} -> tensor<1x4xf32>
// CHECK: qllm.matmul %{{.*}}, %[[W]] transpose_rhs : (tensor<2x4xf32>, tensor<1x4xf32>) -> tensor<2x1xf32>
// CHECK-NOT: qllm.weight "w" =
// CHECK: [[DATA]]: "0x010000001CA8"
// CHECK: [[SCALES]]: "0x020000006632"
//
// FP4 (bitsandbytes' dQuantizeFP4): absmax 1.4, w * (1 / 1.4) = [0.5, -1, 0,
// 0.25] in f32: codes [5, 11, 0, 7] (0.5 = 6/12, sign + 12/12, 0, 3/12),
// packed 0xB5, 0x70; the absmax 1.4 stored as f32 (0x3FB33333).
// FP4-LABEL: func.func @values
// FP4: qllm.quantized_weight "w" data(%{{.*}} : tensor<1x2xui8>) scales(%{{.*}} : tensor<1x1xf32>) -> !qllm.qtensor<1x4, #qllm.fp4<>>
// FP4: [[DATA:w.data.*]]: "0x01000000B570"
// FP4: [[SCALES:w.scales.*]]: "0x040000003333B33F"
//
// LLM.int8() (bitsandbytes' Int8Params): w * f32(127 / 1.4) = [63.5, -127,
// 0, 31.75] in f32, rounded half to even: [64, -127, 0, 32], + 128 =
// 0xC0 0x01 0x80 0xA0 (int8's w / f32(1.4 / 127) gives 63.4999 and 63 for
// the first). The matmul is a dequant_matmul with the outlier threshold.
// LLMINT8-LABEL: func.func @values
// LLMINT8: %[[Q:.*]] = qllm.quantized_weight "w" data(%{{.*}} : tensor<1x4xui8>) scales(%{{.*}} : tensor<1x1xf32>) -> !qllm.qtensor<1x4, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>>
// LLMINT8-NOT: qllm.dequantize
// LLMINT8: qllm.dequant_matmul %{{.*}}, %[[Q]] {outlier_threshold = 6.000000e+00 : f32}
// LLMINT8: w.data{{.*}}: "0x01000000C00180A0"
// LLMINT8: w.scales{{.*}}: "0x040000006C9C343C"
func.func @values(%x: tensor<2x4xf32>) -> tensor<2x1xf32> {
  %w = qllm.weight "w" = dense_resource<w> : tensor<1x4xf32>
  %y = qllm.matmul %x, %w transpose_rhs : (tensor<2x4xf32>, tensor<1x4xf32>) -> tensor<2x1xf32>
  return %y : tensor<2x1xf32>
}
{-#
  dialect_resources: {
    builtin: {
      w: "0x040000003333333F3333B3BF000000003333B33E"
    }
  }
#-}

// -----

// A [K, N] f16 weight read through a cast (ONNX MatMul's layout) becomes a
// [N, K] quantized weight; the matmul now reads it transposed. Method
// defaults: int8 is symmetric per channel with f32 scales, int4 groups of 128
// (larger than K = 4: one group) asymmetric with f16 scales and zero points.
// INT8-LABEL: func.func @kn_f16
// INT8: qllm.quantized_weight "kn" data(%{{.*}} : tensor<2x4xui8>) scales(%{{.*}} : tensor<2x1xf32>) -> !qllm.qtensor<2x4, #qllm.intq<bits = 8, group_size = per_channel, symmetric = true, scale_type = f32>>
// INT8-NOT: qllm.cast
// INT8: qllm.matmul %{{.*}}, %{{.*}} transpose_rhs : (tensor<3x4xf32>, tensor<2x4xf32>) -> tensor<3x2xf32>
// OUTPUT-LABEL: func.func @kn_f16
// OUTPUT: qllm.quantized_weight "kn" data(%{{.*}} : tensor<2x2xui8>) scales(%{{.*}} : tensor<2x1xf16>) zero_points(%{{.*}} : tensor<2x1xui8>) -> !qllm.qtensor<2x4, #qllm.intq<bits = 4, group_size = 128>>
func.func @kn_f16(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %w = qllm.weight "kn" = dense_resource<kn> : tensor<4x2xf16>
  %c = qllm.cast %w : tensor<4x2xf16> -> tensor<4x2xf32>
  %y = qllm.matmul %x, %c : (tensor<3x4xf32>, tensor<4x2xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      kn: "0x02000000003C0040004200440045004600470048"
    }
  }
#-}

// -----

// K = 10 in groups of 4: the last group is partial (3 groups). 3-bit codes
// pack 10 codes into 4 bytes per row; zero points of 3 groups into 2 bytes.
// NF4 blocks of 64 are larger than K: one block. NF4 with double
// quantization stores the absmax as 8-bit codes with second-level scales
// (3 rows x 3 blocks = 9 absmax values in blocks of 2: 5 scales) and an
// offset.
// INT3-LABEL: func.func @partial_group
// INT3: qllm.quantized_weight "w3" data(%{{.*}} : tensor<3x4xui8>) scales(%{{.*}} : tensor<3x3xf16>) zero_points(%{{.*}} : tensor<3x2xui8>) -> !qllm.qtensor<3x10, #qllm.intq<bits = 3, group_size = 4>>
// NF4-LABEL: func.func @partial_group
// NF4: qllm.quantized_weight "w3" data(%{{.*}} : tensor<3x5xui8>) scales(%{{.*}} : tensor<3x1xf32>) -> !qllm.qtensor<3x10, #qllm.nf4<>>
// NF4DQ-LABEL: func.func @partial_group
// NF4DQ: qllm.quantized_weight "w3" data(%{{.*}} : tensor<3x5xui8>) scales(%{{.*}} : tensor<3x3xui8>) double_quant(%{{.*}}, %{{.*}} : tensor<5xf32>, tensor<f32>) -> !qllm.qtensor<3x10, #qllm.nf4<block_size = 4, double_quant = true, double_quant_block_size = 2>>
func.func @partial_group(%x: tensor<1x10xf32>) -> tensor<1x3xf32> {
  %w = qllm.weight "w3" = dense_resource<w3> : tensor<3x10xf32>
  %y = qllm.matmul %x, %w transpose_rhs : (tensor<1x10xf32>, tensor<3x10xf32>) -> tensor<1x3xf32>
  return %y : tensor<1x3xf32>
}
{-#
  dialect_resources: {
    builtin: {
      w3: "0x0400000069F0B03E9155523F0C2FA93EDBCDA6BF67C5673F358BE43EC47509BF28C4143F3CA9BA3E8998963EC3D5E83C62F50B3F41883CBFDED126BE58D8F6BEFC4D193FA6B3223DE4BC95BE272B48BFB4AE83BEC866053CD31B8DBEE2A3A53F58DC803FB0832DC030CBF1BF75F732BE5729D8BE3BC55A3EA4895E3E"
    }
  }
#-}

// -----

// Two matmuls reading one weight share one quantized weight; an embedding
// that reads the same table keeps the float original.
// CHECK-LABEL: func.func @shared
// CHECK: %[[T:.*]] = qllm.weight "t" = dense_resource
// CHECK-COUNT-1: qllm.quantized_weight "t"
// CHECK-NOT: qllm.quantized_weight
// CHECK: qllm.embedding %[[T]]
func.func @shared(%x: tensor<1x4xf32>, %ids: tensor<1x1xi64>) -> (tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x1x4xf32>) {
  %t = qllm.weight "t" = dense_resource<t> : tensor<2x4xf32>
  %a = qllm.matmul %x, %t transpose_rhs : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
  %b = qllm.matmul %x, %t transpose_rhs : (tensor<1x4xf32>, tensor<2x4xf32>) -> tensor<1x2xf32>
  %e = qllm.embedding %t[%ids] : (tensor<2x4xf32>, tensor<1x1xi64>) -> tensor<1x1x4xf32>
  return %a, %b, %e : tensor<1x2xf32>, tensor<1x2xf32>, tensor<1x1x4xf32>
}
{-#
  dialect_resources: {
    builtin: {
      t: "0x04000000AC8A0740B2568EBF7255C1BEC5BC0240548E253F85BE293FEC9503BF21F4D2BF"
    }
  }
#-}

// -----

// The output projection (the matmul computing the logits) keeps its
// precision unless quantize-output; `exclude` regexes keep weights by name.
// CHECK-LABEL: func.func @logits
// CHECK: qllm.quantized_weight "layers.0.w2"
// CHECK-NOT: qllm.quantized_weight "lm_head"
// OUTPUT-LABEL: func.func @logits
// OUTPUT-DAG: qllm.quantized_weight "layers.0.w2"
// OUTPUT-DAG: qllm.quantized_weight "layers.0.mlp.up"
// OUTPUT-DAG: qllm.quantized_weight "lm_head"
// EXCLUDE-LABEL: func.func @logits
// EXCLUDE: qllm.quantized_weight "layers.0.w2"
// EXCLUDE-NOT: qllm.quantized_weight
// Per 2x4 int4 g128 weight: 2 rows x (2 data bytes + 2 scale bytes + 1
// zero-point byte) = 10 bytes for 8 weights.
// REPORT: quantized weights (int4):
// REPORT: w3 3x10 120 24 6.400
// REPORT: layers.0.w2 2x4 32 10 10.000
// REPORT-NEXT: layers.0.mlp.up 2x4 32 10 10.000
// REPORT-NEXT: total: 2 weights, 16 elements, 64 bytes before, 20 bytes after, 10.000 bits/weight
func.func @logits(%x: tensor<1x1x4xf32>) -> (tensor<1x1x2xf32> {qllm.name = "logits"}, tensor<1x1x2xf32>, tensor<1x1x2xf32>) {
  %h = qllm.weight "lm_head" = dense_resource<h> : tensor<2x4xf32>
  %w = qllm.weight "layers.0.w2" = dense_resource<w2> : tensor<2x4xf32>
  %m = qllm.weight "layers.0.mlp.up" = dense_resource<up> : tensor<2x4xf32>
  %a = qllm.matmul %x, %w transpose_rhs : (tensor<1x1x4xf32>, tensor<2x4xf32>) -> tensor<1x1x2xf32>
  %b = qllm.matmul %x, %m transpose_rhs : (tensor<1x1x4xf32>, tensor<2x4xf32>) -> tensor<1x1x2xf32>
  %l = qllm.matmul %x, %h transpose_rhs : (tensor<1x1x4xf32>, tensor<2x4xf32>) -> tensor<1x1x2xf32>
  return %l, %a, %b : tensor<1x1x2xf32>, tensor<1x1x2xf32>, tensor<1x1x2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      h: "0x04000000AC8A0740B2568EBF7255C1BEC5BC0240548E253F85BE293FEC9503BF21F4D2BF",
      w2: "0x04000000AC8A0740B2568EBF7255C1BEC5BC0240548E253F85BE293FEC9503BF21F4D2BF",
      up: "0x04000000AC8A0740B2568EBF7255C1BEC5BC0240548E253F85BE293FEC9503BF21F4D2BF"
    }
  }
#-}

// -----

func.func @nan(%x: tensor<1x2xf32>) -> tensor<1x2xf32> {
  // expected-error @below {{cannot quantize weight 'bad' (2x2 as [N, K]): holds a NaN or infinity at row 0, column 1}}
  %w = qllm.weight "bad" = dense_resource<bad> : tensor<2x2xf32>
  %y = qllm.matmul %x, %w transpose_rhs : (tensor<1x2xf32>, tensor<2x2xf32>) -> tensor<1x2xf32>
  return %y : tensor<1x2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      bad: "0x040000000000803F0000C07F000000000000803F"
    }
  }
#-}

// -----

// In an f16 graph (before qllm-promote-to-f32) the dequantized weight is f16,
// as the matmul computes.
// CHECK-LABEL: func.func @f16_graph
// EXCLUDE-LABEL: func.func @f16_graph
// CHECK: %[[W:.*]] = qllm.dequantize %{{.*}} -> tensor<1x4xf16>
// CHECK: qllm.matmul %{{.*}}, %[[W]] transpose_rhs : (tensor<2x4xf16>, tensor<1x4xf16>) -> tensor<2x1xf16>
func.func @f16_graph(%x: tensor<2x4xf16>) -> tensor<2x1xf16> {
  %w = qllm.weight "h" = dense_resource<h> : tensor<1x4xf16>
  %y = qllm.matmul %x, %w transpose_rhs : (tensor<2x4xf16>, tensor<1x4xf16>) -> tensor<2x1xf16>
  return %y : tensor<2x1xf16>
}
{-#
  dialect_resources: {
    builtin: {
      h: "0x02000000003C004000420044"
    }
  }
#-}
