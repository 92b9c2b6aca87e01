// Round trip of the plan-ready IR contract's attributes (qllm/IR/
// QLLMPlanAttrs.h), through the custom and the generic form, on a small
// entry point as the lowering passes leave it.
// RUN: quant-opt %s | quant-opt | FileCheck %s
// RUN: quant-opt %s --mlir-print-op-generic | quant-opt | FileCheck %s

// CHECK: module attributes {qllm.cuda_code = #qllm.cuda_code<source = "// code", kernels = ["k_add", "k_norm"], archs = ["compute_80", "sm_90"]>, qllm.plan = #qllm.plan<batch = 1, max_context = 8, bos = 3, eos = 0, tokenizer = "tok.bin">}
module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8, bos = 3, eos = 0, tokenizer = "tok.bin">,
                   qllm.cuda_code = #qllm.cuda_code<source = "// code", kernels = ["k_add", "k_norm"], archs = ["compute_80", "sm_90"]>} {
  // CHECK-LABEL: func.func @prefill
  // CHECK-SAME: qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>, #qllm.dim<other>], qllm.role = #qllm.role<tokens>
  // CHECK-SAME: qllm.role = #qllm.role<past_key, layer = 2>
  // CHECK-SAME: qllm.role = #qllm.role<logits>
  // CHECK-SAME: attributes {qllm.entry = #qllm.entry<max_tokens = 4, arena_bytes = 256>}
  func.func @prefill(%x: tensor<1x?x4xf32> {qllm.role = #qllm.role<tokens>, qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>, #qllm.dim<other>]},
                     %pk: tensor<1x1x?x4xf32> {qllm.role = #qllm.role<past_key, layer = 2>})
      -> (tensor<1x?x4xf32> {qllm.role = #qllm.role<logits>})
      attributes {qllm.entry = #qllm.entry<max_tokens = 4, arena_bytes = 256>} {
    // CHECK: qllm.weight "n" {{.*}}{qllm.storage = #qllm.storage<weight>}
    %w = qllm.weight "n" = dense_resource<n> : tensor<4xf32> {qllm.storage = #qllm.storage<weight>}
    // CHECK: qllm.constant {{.*}}{qllm.storage = #qllm.storage<constant>}
    %c = qllm.constant {qllm.storage = #qllm.storage<constant>} dense<[0, 0, 4]> : tensor<3xi64>
    // CHECK: qllm.rms_norm {{.*}}qllm.arena = #qllm.arena<[0]>, qllm.cuda_launches = [#qllm.cuda_launch<function = "k_norm", grid_x = 1, tokens_per_block = 1, block_x = 64>], qllm.kernel = #qllm.kernel<rms_norm>}
    %n = qllm.rms_norm %x, %w {epsilon = 1.0e-5 : f32, qllm.kernel = #qllm.kernel<rms_norm>, qllm.arena = #qllm.arena<[0]>,
                                qllm.cuda_launches = [#qllm.cuda_launch<function = "k_norm", grid_x = 1, tokens_per_block = 1, block_x = 64>]}
        : (tensor<1x?x4xf32>, tensor<4xf32>) -> tensor<1x?x4xf32>
    // CHECK: qllm.reshape {{.*}}{qllm.arena = #qllm.arena<[0]>, qllm.storage = #qllm.storage<view>}
    %v = qllm.reshape %n, %c {qllm.storage = #qllm.storage<view>, qllm.arena = #qllm.arena<[0]>} : (tensor<1x?x4xf32>, tensor<3xi64>) -> tensor<1x?x4xf32>
    // CHECK: qllm.add {{.*}}qllm.cuda_launches = [#qllm.cuda_launch<function = "k_add", grid_x = 2, tokens_per_block = 0, block_x = 32, shared_bytes = 1024>]
    %s = qllm.add %v, %x {qllm.kernel = #qllm.kernel<add>, qllm.arena = #qllm.arena<[64]>,
                          qllm.cuda_launches = [#qllm.cuda_launch<function = "k_add", grid_x = 2, tokens_per_block = 0, block_x = 32, shared_bytes = 1024>]}
        : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
}

{-#
  dialect_resources: {
    builtin: {
      n: "0x040000000000803F0000003F000000400000803F"
    }
  }
#-}
