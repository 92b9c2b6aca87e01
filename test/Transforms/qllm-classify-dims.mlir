// RUN: quant-opt %s --pass-pipeline='builtin.module(func.func(qllm-classify-dims))' --split-input-file | FileCheck %s

// The roles come from the decoder interface: input_ids [batch, sequence],
// attention_mask [batch, total], a past cache [batch, _, past, _], the
// logits [batch, sequence, _], a present cache [batch, _, total, _].
// CHECK-LABEL: func.func @hugging_face_names
// CHECK-SAME: %{{.*}}: tensor<?x?xi64> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>]
// CHECK-SAME: %{{.*}}: tensor<?x?xi64> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<total_sequence>]
// CHECK-SAME: %{{.*}}: tensor<?x2x?x4xf32> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<other>, #qllm.dim<past_sequence>, #qllm.dim<other>]
// CHECK-SAME: -> (tensor<?x?x8xf32> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>, #qllm.dim<other>]
// CHECK-SAME: tensor<?x2x?x4xf32> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<other>, #qllm.dim<total_sequence>, #qllm.dim<other>]
func.func @hugging_face_names(
    %ids: tensor<?x?xi64> {qllm.dims = ["batch_size", "sequence_length"], qllm.name = "input_ids"},
    %mask: tensor<?x?xi64> {qllm.dims = ["batch_size", "past_sequence_length + sequence_length"], qllm.name = "attention_mask"},
    %pk: tensor<?x2x?x4xf32> {qllm.dims = ["batch_size", "", "past_sequence_length", ""], qllm.name = "past_key_values.0.key"},
    %h: tensor<?x?x8xf32> {qllm.name = "hidden"})
    -> (tensor<?x?x8xf32> {qllm.dims = ["batch_size", "sequence_length", ""], qllm.name = "logits"},
        tensor<?x2x?x4xf32> {qllm.dims = ["batch_size", "", "past_sequence_length + sequence_length", ""], qllm.name = "present.0.key"}) {
  return %h, %pk : tensor<?x?x8xf32>, tensor<?x2x?x4xf32>
}

// -----

// Whatever the names say: an export that calls the batch `N`, the tokens
// `tokens`, the past `P` and the total `T` classifies the same, and the
// names carry the roles to another input (here an extra [N, tokens] one).
// CHECK-LABEL: func.func @other_names
// CHECK-SAME: qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>], {{.*}}qllm.name = "input_ids"
// CHECK-SAME: qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<total_sequence>], {{.*}}qllm.name = "attention_mask"
// CHECK-SAME: qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>], {{.*}}qllm.name = "position_ids"
// CHECK-SAME: qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<other>, #qllm.dim<past_sequence>, #qllm.dim<other>], {{.*}}qllm.name = "past_key_values.0.value"
// CHECK-SAME: qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>], {{.*}}qllm.name = "token_type_ids"
// CHECK-SAME: qllm.dim_roles = [#qllm.dim<other>], {{.*}}qllm.name = "unrelated"
func.func @other_names(
    %ids: tensor<?x?xi64> {qllm.dims = ["N", "tokens"], qllm.name = "input_ids"},
    %mask: tensor<?x?xi64> {qllm.dims = ["N", "T"], qllm.name = "attention_mask"},
    %pos: tensor<?x?xi64> {qllm.dims = ["N", "tokens"], qllm.name = "position_ids"},
    %pv: tensor<?x2x?x4xf32> {qllm.dims = ["N", "", "P", ""], qllm.name = "past_key_values.0.value"},
    %extra: tensor<?x?xi64> {qllm.dims = ["N", "tokens"], qllm.name = "token_type_ids"},
    %other: tensor<?xi64> {qllm.dims = ["seq"], qllm.name = "unrelated"}) -> tensor<?x?xi64> {
  return %ids : tensor<?x?xi64>
}

// -----

// Without past inputs the mask's keys are the sequence: named like it, it
// is still the total (as long as the sequence, with no past); the logits'
// sequence comes from the name. A static batch of 1 is still the batch.
// CHECK-LABEL: func.func @no_past
// CHECK-SAME: tensor<1x?xi64> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>]
// CHECK-SAME: tensor<1x?xi64> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<total_sequence>]
// CHECK-SAME: -> (tensor<1x?x8xf32> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>, #qllm.dim<other>]
func.func @no_past(
    %ids: tensor<1x?xi64> {qllm.dims = ["", "s"], qllm.name = "input_ids"},
    %mask: tensor<1x?xi64> {qllm.dims = ["", "s"], qllm.name = "attention_mask"},
    %h: tensor<1x?x8xf32> {qllm.name = "hidden"})
    -> (tensor<1x?x8xf32> {qllm.dims = ["", "s", ""], qllm.name = "logits"}) {
  return %h : tensor<1x?x8xf32>
}

// -----

// A function without the decoder interface keeps the roles it states.
// CHECK-LABEL: func.func @not_a_decoder
// CHECK-SAME: {qllm.dim_roles = [#qllm.dim<other>, #qllm.dim<sequence>], qllm.name = "q"}
// CHECK-SAME: {qllm.name = "k"}
func.func @not_a_decoder(
    %q: tensor<1x?xf32> {qllm.dim_roles = [#qllm.dim<other>, #qllm.dim<sequence>], qllm.name = "q"},
    %k: tensor<1x?xf32> {qllm.name = "k"}) -> tensor<1x?xf32> {
  return %q : tensor<1x?xf32>
}

// -----

// Names no tool would recognize: the interface roles come from structure.
// The integer [b, s] input that indexes the embedding is input_ids; the
// cache concatenated first on axis 2 whose result reaches q @ k^T as keys is
// a key, the other a value, and their concatenations presents; the integer
// input that indexes a table (angles) is position_ids, the other one the
// mask; the float rank-3 result the logits. The ONNX names are kept.
// CHECK-LABEL: func.func @named_by_structure
// CHECK-SAME: {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>], qllm.dims = ["B", "S"], qllm.name = "input_ids", qllm.onnx_name = "ids"}
// CHECK-SAME: {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<total_sequence>], qllm.dims = ["B", "T"], qllm.name = "attention_mask", qllm.onnx_name = "keep"}
// CHECK-SAME: {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>], qllm.dims = ["B", "S"], qllm.name = "position_ids", qllm.onnx_name = "where"}
// CHECK-SAME: qllm.name = "past_key_values.0.value", qllm.onnx_name = "cache_a"}
// CHECK-SAME: qllm.name = "past_key_values.0.key", qllm.onnx_name = "cache_b"}
// CHECK-SAME: -> (tensor<?x?x16xf32> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>, #qllm.dim<other>], {{.*}}qllm.name = "logits", qllm.onnx_name = "out"}
// CHECK-SAME: qllm.name = "present.0.key", qllm.onnx_name = "cache_b_out"}
func.func @named_by_structure(
    %ids: tensor<?x?xi64> {qllm.dims = ["B", "S"], qllm.name = "ids"},
    %keep: tensor<?x?xi64> {qllm.dims = ["B", "T"], qllm.name = "keep"},
    %where: tensor<?x?xi64> {qllm.dims = ["B", "S"], qllm.name = "where"},
    %va: tensor<?x1x?x4xf32> {qllm.dims = ["B", "", "P", ""], qllm.name = "cache_a"},
    %kb: tensor<?x1x?x4xf32> {qllm.dims = ["B", "", "P", ""], qllm.name = "cache_b"},
    %q: tensor<?x1x?x4xf32> {qllm.name = "q"},
    %new: tensor<?x1x?x4xf32> {qllm.name = "new"})
    -> (tensor<?x?x16xf32> {qllm.dims = ["B", "S", ""], qllm.name = "out"},
        tensor<?x1x?x4xf32> {qllm.dims = ["B", "", "T", ""], qllm.name = "cache_b_out"},
        tensor<?x?xf32> {qllm.name = "masked"},
        tensor<?x1x?x?xf32> {qllm.name = "scores"},
        tensor<?x1x?x4xf32> {qllm.name = "mixed"}) {
  %table = qllm.weight "embed" = dense_resource<embed> : tensor<32x16xf32>
  %x = qllm.gather %table[%ids] axis = 0 : (tensor<32x16xf32>, tensor<?x?xi64>) -> tensor<?x?x16xf32>
  %cos = qllm.weight "cos" = dense_resource<cos> : tensor<8x4xf32>
  %c = qllm.gather %cos[%where] axis = 0 : (tensor<8x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
  %m = qllm.cast %keep : tensor<?x?xi64> -> tensor<?x?xf32>
  %k = qllm.concat %kb, %new axis = 2 : (tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>) -> tensor<?x1x?x4xf32>
  %v = qllm.concat %va, %new axis = 2 : (tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>) -> tensor<?x1x?x4xf32>
  %kt = qllm.transpose %k [0, 1, 3, 2] : tensor<?x1x?x4xf32> -> tensor<?x1x4x?xf32>
  %s = qllm.matmul %q, %kt : (tensor<?x1x?x4xf32>, tensor<?x1x4x?xf32>) -> tensor<?x1x?x?xf32>
  %o = qllm.matmul %s, %v : (tensor<?x1x?x?xf32>, tensor<?x1x?x4xf32>) -> tensor<?x1x?x4xf32>
  return %x, %k, %m, %s, %o : tensor<?x?x16xf32>, tensor<?x1x?x4xf32>, tensor<?x?xf32>, tensor<?x1x?x?xf32>, tensor<?x1x?x4xf32>
}
