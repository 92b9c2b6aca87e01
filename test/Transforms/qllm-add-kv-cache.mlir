// RUN: quant-opt %s --qllm-add-kv-cache --split-input-file --verify-diagnostics | FileCheck %s

// A decoder exported without past inputs (torch.onnx.export of
// `input_ids, attention_mask -> logits`), raised: positions are
// range(0, seq) reshaped to [-1, seq]. It gains past_key_values/present
// for each attention in order, a position_ids argument that replaces the
// computed positions, and its mask covers past + new keys.
// CHECK-LABEL: func.func @no_past
// CHECK-SAME: %[[IDS:.*]]: tensor<?x?xi64> {{{.*}}qllm.name = "input_ids"}
// CHECK-SAME: %[[MASK:.*]]: tensor<?x?xi64> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<total_sequence>], qllm.dims = ["batch_size", "past_sequence_length + sequence_length"], qllm.name = "attention_mask"}
// CHECK-SAME: %[[POS:[^:]*]]: tensor<?x?xi64> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>], {{.*}}qllm.name = "position_ids"}
// CHECK-SAME: %[[K0:[^:]*]]: tensor<?x2x?x4xf32> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<other>, #qllm.dim<past_sequence>, #qllm.dim<other>], {{.*}}qllm.name = "past_key_values.0.key"}
// CHECK-SAME: %[[V0:[^:]*]]: tensor<?x2x?x4xf32> {{{.*}}qllm.name = "past_key_values.0.value"}
// CHECK-SAME: %[[K1:[^:]*]]: tensor<?x2x?x4xf32> {{{.*}}qllm.name = "past_key_values.1.key"}
// CHECK-SAME: %[[V1:[^:]*]]: tensor<?x2x?x4xf32> {{{.*}}qllm.name = "past_key_values.1.value"}
// CHECK-SAME: -> (tensor<?x?x2x4xf32> {qllm.name = "logits"}, tensor<?x2x?x4xf32> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<other>, #qllm.dim<total_sequence>, #qllm.dim<other>], {{.*}}qllm.name = "present.0.key"}
// CHECK-SAME: qllm.name = "present.1.value"}
// CHECK: %[[Q:.*]] = qllm.rotary rotate_half %{{.*}}, %[[POS]]
// CHECK: %[[O:.*]], %[[PK0:.*]], %[[PV0:.*]] = qllm.attention %[[Q]], %{{.*}}, %{{.*}} past(%[[K0]], %[[V0]]) mask(%[[MASK]]) causal
// CHECK: %[[O1:.*]], %[[PK1:.*]], %[[PV1:.*]] = qllm.attention %[[O]], %{{.*}}, %{{.*}} past(%[[K1]], %[[V1]]) mask(%[[MASK]]) causal
// CHECK: return %[[O1]], %[[PK0]], %[[PV0]], %[[PK1]], %[[PV1]]
func.func @no_past(
    %ids: tensor<?x?xi64> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>], qllm.dims = ["batch_size", "sequence_length"], qllm.name = "input_ids"},
    %mask: tensor<?x?xi64> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<total_sequence>], qllm.dims = ["batch_size", "sequence_length"], qllm.name = "attention_mask"},
    %x: tensor<?x?x2x4xf32> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>, #qllm.dim<other>, #qllm.dim<other>], qllm.name = "x"})
    -> (tensor<?x?x2x4xf32> {qllm.name = "logits"}) {
  %zero = qllm.constant dense<0> : tensor<i64>
  %one = qllm.constant dense<1> : tensor<i64>
  %minus1 = qllm.constant dense<-1> : tensor<1xi64>
  %shape = qllm.shape_of %ids : tensor<?x?xi64> -> tensor<2xi64>
  %seq = qllm.gather %shape[%one] axis = 0 : (tensor<2xi64>, tensor<i64>) -> tensor<i64>
  %seq1 = qllm.reshape %seq : (tensor<i64>) -> tensor<1xi64>
  %range = qllm.range %zero, %seq, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %view = qllm.concat %minus1, %seq1 axis = 0 : (tensor<1xi64>, tensor<1xi64>) -> tensor<2xi64>
  %row = qllm.unsqueeze %range axes = [0] : tensor<?xi64> -> tensor<1x?xi64>
  %pos = qllm.reshape %row, %view : (tensor<1x?xi64>, tensor<2xi64>) -> tensor<?x?xi64>
  %q = qllm.rotary rotate_half %x, %pos {base = 1.000000e+04 : f32} : (tensor<?x?x2x4xf32>, tensor<?x?xi64>) -> tensor<?x?x2x4xf32>
  %o, %k, %v = qllm.attention %q, %x, %x mask(%mask) causal : (tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?xi64>) -> (tensor<?x?x2x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>)
  %o1, %k1, %v1 = qllm.attention %o, %x, %x mask(%mask) causal : (tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?xi64>) -> (tensor<?x?x2x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>)
  return %o1 : tensor<?x?x2x4xf32>
}

// -----

// Positions that start at 1 are not an empty cache's: refused.
func.func @positions_from_one(
    %ids: tensor<?x?xi64> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>], qllm.name = "input_ids"},
    %x: tensor<?x?x2x4xf32> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>, #qllm.dim<other>, #qllm.dim<other>], qllm.name = "x"})
    -> (tensor<?x?x2x4xf32> {qllm.name = "logits"}) {
  %one = qllm.constant dense<1> : tensor<i64>
  %shape = qllm.shape_of %ids : tensor<?x?xi64> -> tensor<2xi64>
  %seq = qllm.gather %shape[%one] axis = 0 : (tensor<2xi64>, tensor<i64>) -> tensor<i64>
  %end = qllm.add %seq, %one : (tensor<i64>, tensor<i64>) -> tensor<i64>
  %range = qllm.range %one, %end, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  // expected-error @+1 {{computes rotary positions that are not 0..seq-1 on each row; cannot add a KV cache to a model without past inputs}}
  %pos = qllm.unsqueeze %range axes = [0] : tensor<?xi64> -> tensor<1x?xi64>
  %q = qllm.rotary rotate_half %x, %pos {base = 1.000000e+04 : f32} : (tensor<?x?x2x4xf32>, tensor<1x?xi64>) -> tensor<?x?x2x4xf32>
  %o, %k, %v = qllm.attention %q, %x, %x causal : (tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>) -> (tensor<?x?x2x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>)
  return %o : tensor<?x?x2x4xf32>
}

// -----

// Already cached (an export with past inputs): unchanged.
// CHECK-LABEL: func.func @with_past
// CHECK-SAME: (%{{[^:]*}}: tensor<?x?x2x4xf32> {qllm.name = "x"}, %{{[^:]*}}: tensor<?x2x?x4xf32> {qllm.name = "past_key_values.0.key"}, %{{[^:]*}}: tensor<?x2x?x4xf32> {qllm.name = "past_key_values.0.value"})
// CHECK-SAME: -> (tensor<?x?x2x4xf32> {qllm.name = "logits"})
func.func @with_past(%x: tensor<?x?x2x4xf32> {qllm.name = "x"}, %pk: tensor<?x2x?x4xf32> {qllm.name = "past_key_values.0.key"}, %pv: tensor<?x2x?x4xf32> {qllm.name = "past_key_values.0.value"})
    -> (tensor<?x?x2x4xf32> {qllm.name = "logits"}) {
  %o, %k, %v = qllm.attention %x, %x, %x past(%pk, %pv) causal : (tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> (tensor<?x?x2x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>)
  return %o : tensor<?x?x2x4xf32>
}

// -----

// Cached already, positions computed from the cache length (GroupQuery-
// Attention without position_ids: past + 0..seq-1): they become a
// position_ids input; the cache interface is unchanged.
// CHECK-LABEL: func.func @positions_from_past
// CHECK-SAME: %[[PK:[^:]*]]: tensor<?x2x?x4xf32> {{{.*}}qllm.name = "past_key_values.0.key"}
// CHECK-SAME: %[[POS:[^:]*]]: tensor<?x?xi64> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>], {{.*}}qllm.name = "position_ids"}
// CHECK: qllm.rotary rotate_half %{{.*}}, %[[POS]]
func.func @positions_from_past(
    %x: tensor<?x?x2x4xf32> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>, #qllm.dim<other>, #qllm.dim<other>], qllm.name = "x"},
    %pk: tensor<?x2x?x4xf32> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<other>, #qllm.dim<past_sequence>, #qllm.dim<other>], qllm.name = "past_key_values.0.key"},
    %pv: tensor<?x2x?x4xf32> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<other>, #qllm.dim<past_sequence>, #qllm.dim<other>], qllm.name = "past_key_values.0.value"})
    -> (tensor<?x?x2x4xf32> {qllm.name = "logits"}) {
  %zero = qllm.constant dense<0> : tensor<i64>
  %one = qllm.constant dense<1> : tensor<i64>
  %two = qllm.constant dense<2> : tensor<i64>
  %ps = qllm.shape_of %pk : tensor<?x2x?x4xf32> -> tensor<4xi64>
  %past = qllm.gather %ps[%two] axis = 0 : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %xs = qllm.shape_of %x : tensor<?x?x2x4xf32> -> tensor<4xi64>
  %seq = qllm.gather %xs[%one] axis = 0 : (tensor<4xi64>, tensor<i64>) -> tensor<i64>
  %range = qllm.range %zero, %seq, %one : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %shifted = qllm.add %range, %past : (tensor<?xi64>, tensor<i64>) -> tensor<?xi64>
  %pos = qllm.unsqueeze %shifted axes = [0] : tensor<?xi64> -> tensor<1x?xi64>
  %q = qllm.rotary rotate_half %x, %pos {base = 1.000000e+04 : f32} : (tensor<?x?x2x4xf32>, tensor<1x?xi64>) -> tensor<?x?x2x4xf32>
  %o, %k, %v = qllm.attention %q, %x, %x past(%pk, %pv) causal : (tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> (tensor<?x?x2x4xf32>, tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>)
  return %o : tensor<?x?x2x4xf32>
}
