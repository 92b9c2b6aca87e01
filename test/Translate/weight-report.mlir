// RUN: quant-translate --weight-report %s --split-input-file | FileCheck %s

// A weight shared by two functions (prefill and decode entry points) counts
// once; the components of a quantized weight are reported as that weight.
// CHECK: weight
// CHECK-NEXT: tok_embeddings 512x64 f32 131072 32.000
// CHECK-NEXT: w 64x172 #qllm.intq<bits = 4, group_size = 64, symmetric = true> 5888 4.279
// CHECK-NEXT: norm 64 bf16 128 16.000
// CHECK-NEXT: total: 3 weights, 43840 elements, 137088 bytes, 25.016 bits/weight
func.func @prefill(%ids: tensor<1x?xi64>) -> tensor<1x?x64xf32> {
  %t = qllm.weight "tok_embeddings" = dense_resource<emb> : tensor<512x64xf32>
  %x = qllm.embedding %t[%ids] : (tensor<512x64xf32>, tensor<1x?xi64>) -> tensor<1x?x64xf32>
  return %x : tensor<1x?x64xf32>
}
func.func @decode(%ids: tensor<1x1xi64>) -> (tensor<1x1x64xf32>, !qllm.qtensor<64x172, #qllm.intq<bits = 4, group_size = 64, symmetric = true>>, tensor<64xbf16>) {
  %t = qllm.weight "tok_embeddings" = dense_resource<emb> : tensor<512x64xf32>
  %x = qllm.embedding %t[%ids] : (tensor<512x64xf32>, tensor<1x1xi64>) -> tensor<1x1x64xf32>
  // 64 rows x (86 data bytes + 3 f16 scales) = 5888 bytes.
  %d = qllm.weight "w.data" = dense_resource<d> : tensor<64x86xui8>
  %s = qllm.weight "w.scales" = dense_resource<s> : tensor<64x3xf16>
  %q = qllm.quantized_weight "w" data(%d : tensor<64x86xui8>) scales(%s : tensor<64x3xf16>)
         -> !qllm.qtensor<64x172, #qllm.intq<bits = 4, group_size = 64, symmetric = true>>
  %n = qllm.weight "norm" = dense_resource<n> : tensor<64xbf16>
  return %x, %q, %n : tensor<1x1x64xf32>, !qllm.qtensor<64x172, #qllm.intq<bits = 4, group_size = 64, symmetric = true>>, tensor<64xbf16>
}

// -----

// CHECK: total: 0 weights, 0 elements, 0 bytes, 0.000 bits/weight
func.func @no_weights(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
