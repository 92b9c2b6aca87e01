// RUN: quant-opt %s --qllm-generate-cuda -split-input-file -verify-diagnostics

// A module without plan-ready entry points.
// expected-error @below {{has no entry points to generate CUDA for (run quant-compile first)}}
module {
  func.func @f(%arg0: tensor<4xf32>) -> tensor<4xf32> {
    return %arg0 : tensor<4xf32>
  }
}

// -----

module {
  // An entry point of the wrong kind does not verify.
  // expected-error @below {{'qllm.entry' must be a #qllm.entry, got {max_tokens = 1 : i64}}}
  func.func @decode(%arg0: tensor<4xf32>) -> tensor<4xf32> attributes {qllm.entry = {max_tokens = 1 : i64}} {
    return %arg0 : tensor<4xf32>
  }
}

// -----

module {
  func.func @decode(%arg0: tensor<4xf32>) -> tensor<4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 1>} {
    // expected-error @below {{has no kernel (run quant-compile, or qllm-select-kernels{target=cuda})}}
    %0 = qllm.add %arg0, %arg0 : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
    return %0 : tensor<4xf32>
  }
}

// -----

module {
  // expected-error @below {{entry takes 70000 tokens per step; CUDA launches take at most 65535 (use prefill-tokens=65535 or fewer)}}
  func.func @prefill(%arg0: tensor<4xf32>) -> tensor<4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 70000>} {
    return %arg0 : tensor<4xf32>
  }
}
