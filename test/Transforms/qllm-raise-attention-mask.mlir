// RUN: quant-opt %s --pass-pipeline='builtin.module(func.func(qllm-classify-dims, qllm-raise-attention-mask))' --split-input-file | FileCheck %s

// The samples size each argument by its dimensions' roles: qllm-classify-dims
// finds them from the decoder interface (input_ids, attention_mask, the past
// cache) and carries them to other arguments through the ONNX dimension
// names; a function without that interface states them itself.

// The additive mask of a Hugging Face-style export: future keys (key
// position > past + query position) and padded keys (attention_mask == 0)
// get the dtype's minimum. The pass evaluates it for several batch, sequence,
// past and padding cases and finds it is `causal` + `mask(attention_mask)`.
// CHECK-LABEL: func.func @causal_and_padding
// CHECK-SAME: %[[MASK:[^:]*]]: tensor<?x?xi64> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<total_sequence>], qllm.dims = ["batch_size", "total_sequence_length"], qllm.name = "attention_mask"}
// CHECK: qllm.attention %{{.*}}, %{{.*}}, %{{.*}} past(%{{.*}}, %{{.*}}) mask(%[[MASK]]) causal {scale = 0.353553385 : f32}
func.func @causal_and_padding(
    %ids: tensor<?x?xi64> {qllm.dims = ["batch_size", "sequence_length"], qllm.name = "input_ids"},
    %mask: tensor<?x?xi64> {qllm.dims = ["batch_size", "total_sequence_length"], qllm.name = "attention_mask"},
    %q: tensor<?x?x4x8xf32> {qllm.dims = ["batch_size", "sequence_length", "", ""], qllm.name = "q"},
    %k: tensor<?x?x2x8xf32> {qllm.dims = ["batch_size", "sequence_length", "", ""], qllm.name = "k"},
    %pk: tensor<?x2x?x8xf32> {qllm.dims = ["batch_size", "", "past_sequence_length", ""], qllm.name = "past_key_values.0.key"})
    -> tensor<?x?x4x8xf32> {
  %zero = qllm.constant dense<0> : tensor<i64>
  %one = qllm.constant dense<1> : tensor<i64>
  %min = qllm.constant dense<-3.40282347E+38> : tensor<f32>
  %fzero = qllm.constant dense<0.0> : tensor<f32>
  %ids_shape = qllm.shape_of %ids : tensor<?x?xi64> -> tensor<2xi64>
  %mask_shape = qllm.shape_of %mask : tensor<?x?xi64> -> tensor<2xi64>
  %s = qllm.gather %ids_shape[%one] axis = 0 : (tensor<2xi64>, tensor<i64>) -> tensor<i64>
  %t = qllm.gather %mask_shape[%one] axis = 0 : (tensor<2xi64>, tensor<i64>) -> tensor<i64>
  %p = qllm.sub %t, %s : (tensor<i64>, tensor<i64>) -> tensor<i64>
  %qpos = qllm.range %p, %t, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %kpos = qllm.range %zero, %t, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %qcol = qllm.unsqueeze %qpos axes = [1] : tensor<?xi64> -> tensor<?x1xi64>
  %krow = qllm.unsqueeze %kpos axes = [0] : tensor<?xi64> -> tensor<1x?xi64>
  %future = qllm.compare lt, %qcol, %krow : (tensor<?x1xi64>, tensor<1x?xi64>) -> tensor<?x?xi1>
  %causal = qllm.select %future, %min, %fzero : (tensor<?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32>
  %padded = qllm.compare eq, %mask, %zero : (tensor<?x?xi64>, tensor<i64>) -> tensor<?x?xi1>
  %padded4 = qllm.unsqueeze %padded axes = [1, 2] : tensor<?x?xi1> -> tensor<?x1x1x?xi1>
  %padding = qllm.select %padded4, %min, %fzero : (tensor<?x1x1x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x1x1x?xf32>
  %bias = qllm.add %causal, %padding : (tensor<?x?xf32>, tensor<?x1x1x?xf32>) -> tensor<?x1x?x?xf32>
  %o, %prk, %prv = qllm.attention %q, %k, %k past(%pk, %pk) bias(%bias) {scale = 0.353553385 : f32}
      : (tensor<?x?x4x8xf32>, tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>, tensor<?x1x?x?xf32>)
      -> (tensor<?x?x4x8xf32>, tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>)
  return %o : tensor<?x?x4x8xf32>
}

// -----

// A causal mask that ignores attention_mask (values of the arguments do not
// matter, only their shapes): `causal` without a mask.
// CHECK-LABEL: func.func @causal_only
// CHECK: qllm.attention %{{.*}}, %{{.*}}, %{{.*}} causal {scale
func.func @causal_only(
    %q: tensor<1x?x2x8xf32> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>, #qllm.dim<other>, #qllm.dim<other>], qllm.name = "q"})
    -> tensor<1x?x2x8xf32> {
  %one = qllm.constant dense<1> : tensor<i64>
  %zero = qllm.constant dense<0> : tensor<i64>
  %min = qllm.constant dense<-1.0e+30> : tensor<f32>
  %fzero = qllm.constant dense<0.0> : tensor<f32>
  %shape = qllm.shape_of %q : tensor<1x?x2x8xf32> -> tensor<4xi64>
  %s = qllm.gather %shape[%one] axis = 0 : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %pos = qllm.range %zero, %s, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %col = qllm.unsqueeze %pos axes = [1] : tensor<?xi64> -> tensor<?x1xi64>
  %row = qllm.unsqueeze %pos axes = [0] : tensor<?xi64> -> tensor<1x?xi64>
  %future = qllm.compare gt, %row, %col : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %m = qllm.select %future, %min, %fzero : (tensor<?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32>
  %bias = qllm.unsqueeze %m axes = [0, 1] : tensor<?x?xf32> -> tensor<1x1x?x?xf32>
  %o, %pk, %pv = qllm.attention %q, %q, %q bias(%bias) {scale = 1.0 : f32}
      : (tensor<1x?x2x8xf32>, tensor<1x?x2x8xf32>, tensor<1x?x2x8xf32>, tensor<1x1x?x?xf32>)
      -> (tensor<1x?x2x8xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>)
  return %o : tensor<1x?x2x8xf32>
}

// -----

// A bias that is not a mask (a learned bias read from an input) stays.
// CHECK-LABEL: func.func @real_bias
// CHECK: qllm.attention %{{.*}}, %{{.*}}, %{{.*}} bias(%{{.*}}) {scale
// CHECK-NOT: causal
func.func @real_bias(
    %q: tensor<1x?x2x8xf32> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>, #qllm.dim<other>, #qllm.dim<other>], qllm.name = "q"},
    %b: tensor<1x2x?x?xf32> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<other>, #qllm.dim<sequence>, #qllm.dim<sequence>], qllm.name = "position_bias"})
    -> tensor<1x?x2x8xf32> {
  %o, %pk, %pv = qllm.attention %q, %q, %q bias(%b) {scale = 1.0 : f32}
      : (tensor<1x?x2x8xf32>, tensor<1x?x2x8xf32>, tensor<1x?x2x8xf32>, tensor<1x2x?x?xf32>)
      -> (tensor<1x?x2x8xf32>, tensor<1x2x?x8xf32>, tensor<1x2x?x8xf32>)
  return %o : tensor<1x?x2x8xf32>
}
