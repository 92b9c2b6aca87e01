// RUN: quant-opt %s --qllm-raise-embedding | FileCheck %s

// CHECK-LABEL: func.func @embedding
// CHECK: %[[T:.*]] = qllm.weight "tok_embeddings"
// CHECK: qllm.embedding %[[T]][%arg0] : (tensor<512x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
// A gather along another axis, or of a computed tensor, is not a lookup.
// CHECK: qllm.gather %[[T]][%arg1] axis = 1
// CHECK: qllm.gather %arg2[%arg0] axis = 0
func.func @embedding(%ids: tensor<?x?xi64>, %cols: tensor<3xi64>, %t: tensor<512x64xf32>)
    -> (tensor<?x?x64xf32>, tensor<512x3xf32>, tensor<?x?x64xf32>) {
  %table = qllm.weight "tok_embeddings" = dense_resource<emb> : tensor<512x64xf32>
  %0 = qllm.gather %table[%ids] axis = 0 : (tensor<512x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %1 = qllm.gather %table[%cols] axis = 1 : (tensor<512x64xf32>, tensor<3xi64>) -> tensor<512x3xf32>
  %2 = qllm.gather %t[%ids] axis = 0 : (tensor<512x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  return %0, %1, %2 : tensor<?x?x64xf32>, tensor<512x3xf32>, tensor<?x?x64xf32>
}
