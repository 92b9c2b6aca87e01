// RUN: quant-opt %s --pass-pipeline='builtin.module(func.func(qllm-select-kernels))' --split-input-file --verify-diagnostics

// Only entry points get kernels; in them, every op needs one.
module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%x: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 8>} {
    // expected-error @below {{has no cpu kernel: no target has a kernel for it}}
    %s = qllm.softmax %x axis = 2 : tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
  // Not an entry point: left alone.
  func.func @helper(%x: tensor<4xf32>) -> tensor<4xf32> {
    %s = qllm.softmax %x axis = 0 : tensor<4xf32>
    return %s : tensor<4xf32>
  }
}

// -----

module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%x: tensor<1x?x4xf32>, %w: tensor<4x4xf32>) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 8>} {
    // expected-error @below {{has no cpu kernel: only activations times a [N, K] weight run (run qllm-layout-weights)}}
    %y = qllm.matmul %x, %w transpose_rhs : (tensor<1x?x4xf32>, tensor<4x4xf32>) -> tensor<1x?x4xf32>
    return %y : tensor<1x?x4xf32>
  }
}

// -----

module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%x: tensor<1x?x4xf32>, %y: tensor<1x1x4xf32>) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 8>} {
    // expected-error @below {{has no cpu kernel: broadcasting additions have no kernel}}
    %s = qllm.add %x, %y : (tensor<1x?x4xf32>, tensor<1x1x4xf32>) -> tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
}
