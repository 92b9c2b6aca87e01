// A tiny one-layer decoder with the interface the runtime drives (input_ids,
// attention_mask, position_ids, past_key_values.0.* -> logits, present.0.*):
// dim 4, one head of 4, vocab 6, max_seq_len 16. Input of the tests in test/Plan.
module attributes {qllm.metadata = {max_seq_len = "16"}} {
  func.func @main(
      %ids: tensor<?x?xi64> {qllm.dims = ["batch_size", "sequence_length"], qllm.name = "input_ids"},
      %mask: tensor<?x?xi64> {qllm.dims = ["batch_size", "total_sequence_length"], qllm.name = "attention_mask"},
      %pos: tensor<?x?xi64> {qllm.dims = ["batch_size", "sequence_length"], qllm.name = "position_ids"},
      %pk: tensor<?x1x?x4xf32> {qllm.dims = ["batch_size", "", "past_sequence_length", ""], qllm.name = "past_key_values.0.key"},
      %pv: tensor<?x1x?x4xf32> {qllm.dims = ["batch_size", "", "past_sequence_length", ""], qllm.name = "past_key_values.0.value"})
      -> (tensor<?x?x6xf32> {qllm.name = "logits"}, tensor<?x1x?x4xf32> {qllm.name = "present.0.key"},
          tensor<?x1x?x4xf32> {qllm.name = "present.0.value"}) {
    %emb = qllm.weight "emb" = dense_resource<emb> : tensor<6x4xf32>
    %norm = qllm.weight "norm" = dense_resource<norm> : tensor<4xf32>
    %head = qllm.weight "head" = dense_resource<head> : tensor<4x6xf32>
    %heads = qllm.constant dense<[0, 0, 1, 4]> : tensor<4xi64>
    %flat = qllm.constant dense<[0, 0, 4]> : tensor<3xi64>
    %x = qllm.embedding %emb[%ids] : (tensor<6x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
    %n = qllm.rms_norm %x, %norm {epsilon = 1.0e-5 : f32} : (tensor<?x?x4xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
    %h = qllm.reshape %n, %heads : (tensor<?x?x4xf32>, tensor<4xi64>) -> tensor<?x?x1x4xf32>
    %r = qllm.rotary interleaved %h, %pos {base = 1.0e4 : f32} : (tensor<?x?x1x4xf32>, tensor<?x?xi64>) -> tensor<?x?x1x4xf32>
    %o, %k, %v = qllm.attention %r, %r, %h past(%pk, %pv) mask(%mask) causal
        : (tensor<?x?x1x4xf32>, tensor<?x?x1x4xf32>, tensor<?x?x1x4xf32>, tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>, tensor<?x?xi64>)
        -> (tensor<?x?x1x4xf32>, tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>)
    %a = qllm.reshape %o, %flat : (tensor<?x?x1x4xf32>, tensor<3xi64>) -> tensor<?x?x4xf32>
    %g = qllm.swiglu %a, %x : tensor<?x?x4xf32>
    %s = qllm.add %x, %g : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x4xf32>
    %logits = qllm.matmul %s, %head : (tensor<?x?x4xf32>, tensor<4x6xf32>) -> tensor<?x?x6xf32>
    return %logits, %k, %v : tensor<?x?x6xf32>, tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>
  }
}

{-#
  dialect_resources: {
    builtin: {
      emb: "0x04000000000000C00000E0BF0000C0BF0000A0BF000080BF000040BF000000BF000080BE000000000000803E0000003F0000403F0000803F0000A03F0000C03F0000E03F0000004000001040000020400000304000004040000050400000604000007040",
      head: "0x040000000000803F0000603F0000403F0000203F0000003F0000C03E0000803E0000003E00000000000000BE000080BE0000C0BE000000BF000020BF000040BF000060BF000080BF000090BF0000A0BF0000B0BF0000C0BF0000D0BF0000E0BF0000F0BF",
      norm: "0x040000000000803F0000003F000000400000803F"
    }
  }
#-}
