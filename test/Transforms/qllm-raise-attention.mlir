// RUN: quant-opt %s --qllm-raise-attention --split-input-file | FileCheck %s

// Hugging Face's attention with a KV cache and grouped heads (4 query heads,
// 2 KV heads): keys and values appended to the past (the `present` results),
// repeated by unsqueeze/expand/reshape, softmax(q k^T / sqrt(d) + mask) v.
// CHECK-LABEL: func.func @gqa_with_cache
// CHECK-SAME: (%[[Q:.*]]: tensor<?x4x?x8xf32>, %[[K:.*]]: tensor<?x2x?x8xf32>, %[[V:.*]]: tensor<?x2x?x8xf32>, %[[PK:.*]]: tensor<?x2x?x8xf32>, %[[PV:.*]]: tensor<?x2x?x8xf32>, %[[BIAS:.*]]: tensor<?x1x?x?xf32>
// CHECK-DAG: %[[QT:.*]] = qllm.transpose %[[Q]] [0, 2, 1, 3] : tensor<?x4x?x8xf32> -> tensor<?x?x4x8xf32>
// CHECK-DAG: %[[KT:.*]] = qllm.transpose %[[K]] [0, 2, 1, 3] : tensor<?x2x?x8xf32> -> tensor<?x?x2x8xf32>
// CHECK-DAG: %[[VT:.*]] = qllm.transpose %[[V]] [0, 2, 1, 3] : tensor<?x2x?x8xf32> -> tensor<?x?x2x8xf32>
// CHECK: %[[O:.*]], %[[PRK:.*]], %[[PRV:.*]] = qllm.attention %[[QT]], %[[KT]], %[[VT]] past(%[[PK]], %[[PV]]) bias(%[[BIAS]]) {scale = 0.353553385 : f32}
// CHECK: %[[OB:.*]] = qllm.transpose %[[O]] [0, 2, 1, 3] : tensor<?x?x4x8xf32> -> tensor<?x4x?x8xf32>
// CHECK: return %[[OB]], %[[PRK]], %[[PRV]]
func.func @gqa_with_cache(%q: tensor<?x4x?x8xf32>, %k: tensor<?x2x?x8xf32>, %v: tensor<?x2x?x8xf32>,
                          %pk: tensor<?x2x?x8xf32>, %pv: tensor<?x2x?x8xf32>, %bias: tensor<?x1x?x?xf32>,
                          %es: tensor<5xi64>, %rs: tensor<4xi64>)
    -> (tensor<?x4x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>) {
  %kc = qllm.concat %pk, %k axis = 2 : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>) -> tensor<?x2x?x8xf32>
  %vc = qllm.concat %pv, %v axis = 2 : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>) -> tensor<?x2x?x8xf32>
  %ku = qllm.unsqueeze %kc axes = [2] : tensor<?x2x?x8xf32> -> tensor<?x2x1x?x8xf32>
  %ke = qllm.expand %ku, %es : (tensor<?x2x1x?x8xf32>, tensor<5xi64>) -> tensor<?x2x2x?x8xf32>
  %kr = qllm.reshape %ke, %rs : (tensor<?x2x2x?x8xf32>, tensor<4xi64>) -> tensor<?x4x?x8xf32>
  %vu = qllm.unsqueeze %vc axes = [2] : tensor<?x2x?x8xf32> -> tensor<?x2x1x?x8xf32>
  %ve = qllm.expand %vu, %es : (tensor<?x2x1x?x8xf32>, tensor<5xi64>) -> tensor<?x2x2x?x8xf32>
  %vr = qllm.reshape %ve, %rs : (tensor<?x2x2x?x8xf32>, tensor<4xi64>) -> tensor<?x4x?x8xf32>
  %kt = qllm.transpose %kr [0, 1, 3, 2] : tensor<?x4x?x8xf32> -> tensor<?x4x8x?xf32>
  %s = qllm.matmul %q, %kt : (tensor<?x4x?x8xf32>, tensor<?x4x8x?xf32>) -> tensor<?x4x?x?xf32>
  %c = qllm.constant dense<2.82842708> : tensor<f32>
  %sc = qllm.div %s, %c : (tensor<?x4x?x?xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
  %sb = qllm.add %sc, %bias : (tensor<?x4x?x?xf32>, tensor<?x1x?x?xf32>) -> tensor<?x4x?x?xf32>
  %p = qllm.softmax %sb axis = 3 : tensor<?x4x?x?xf32>
  %o = qllm.matmul %p, %vr : (tensor<?x4x?x?xf32>, tensor<?x4x?x8xf32>) -> tensor<?x4x?x8xf32>
  return %o, %kc, %vc : tensor<?x4x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>
}

// -----

// No cache, no mask, a multiplicative scale, fp16 softmax computed in f32.
// CHECK-LABEL: func.func @no_cache_fp16
// CHECK: %[[O:.*]], %{{.*}}, %{{.*}} = qllm.attention %{{.*}}, %{{.*}}, %{{.*}} {scale = 1.250000e-01 : f32} : (tensor<1x5x2x16xf16>, tensor<1x5x2x16xf16>, tensor<1x5x2x16xf16>) -> (tensor<1x5x2x16xf16>, tensor<1x2x5x16xf16>, tensor<1x2x5x16xf16>)
// CHECK-NOT: qllm.softmax
func.func @no_cache_fp16(%q: tensor<1x2x5x16xf16>, %k: tensor<1x2x5x16xf16>, %v: tensor<1x2x5x16xf16>) -> tensor<1x2x5x16xf16> {
  %kt = qllm.transpose %k [0, 1, 3, 2] : tensor<1x2x5x16xf16> -> tensor<1x2x16x5xf16>
  %s = qllm.matmul %q, %kt : (tensor<1x2x5x16xf16>, tensor<1x2x16x5xf16>) -> tensor<1x2x5x5xf16>
  %c = qllm.constant dense<0.125> : tensor<f16>
  %sc = qllm.mul %c, %s : (tensor<f16>, tensor<1x2x5x5xf16>) -> tensor<1x2x5x5xf16>
  %s32 = qllm.cast %sc : tensor<1x2x5x5xf16> -> tensor<1x2x5x5xf32>
  %p32 = qllm.softmax %s32 axis = 3 : tensor<1x2x5x5xf32>
  %p = qllm.cast %p32 : tensor<1x2x5x5xf32> -> tensor<1x2x5x5xf16>
  %o = qllm.matmul %p, %v : (tensor<1x2x5x5xf16>, tensor<1x2x5x16xf16>) -> tensor<1x2x5x16xf16>
  return %o : tensor<1x2x5x16xf16>
}

// -----

// Softmax over another axis is not attention.
// CHECK-LABEL: func.func @wrong_axis
// CHECK-NOT: qllm.attention
func.func @wrong_axis(%q: tensor<1x2x5x16xf32>, %k: tensor<1x2x5x16xf32>, %v: tensor<1x2x5x16xf32>) -> tensor<1x2x5x16xf32> {
  %kt = qllm.transpose %k [0, 1, 3, 2] : tensor<1x2x5x16xf32> -> tensor<1x2x16x5xf32>
  %s = qllm.matmul %q, %kt : (tensor<1x2x5x16xf32>, tensor<1x2x16x5xf32>) -> tensor<1x2x5x5xf32>
  %p = qllm.softmax %s axis = 2 : tensor<1x2x5x5xf32>
  %o = qllm.matmul %p, %v : (tensor<1x2x5x5xf32>, tensor<1x2x5x16xf32>) -> tensor<1x2x5x16xf32>
  return %o : tensor<1x2x5x16xf32>
}
