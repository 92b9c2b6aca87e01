// RUN: quant-opt %s --pass-pipeline='builtin.module(func.func(qllm-select-kernels, qllm-plan-memory))' --split-input-file --verify-diagnostics

// Offsets and reuse on a whole decoder: test/Plan/plan-passes.test.

// Activations must be f32 by the time memory is planned.
module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%x: tensor<1x?x4xf16> {qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<sequence>, #qllm.dim<other>]}) -> tensor<1x?x4xf16> attributes {qllm.entry = #qllm.entry<max_tokens = 8>} {
    // expected-error @below {{produces 'tensor<1x?x4xf16>'; plan activations are f32 (run qllm-promote-to-f32)}}
    %s = qllm.swiglu %x, %x : tensor<1x?x4xf16>
    return %s : tensor<1x?x4xf16>
  }
}

// -----

// A dimension the runtime cannot size: the past length.
module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%x: tensor<1x?x4xf32> {qllm.dims = ["batch", "past_sequence_length", ""], qllm.dim_roles = [#qllm.dim<batch>, #qllm.dim<past_sequence>, #qllm.dim<other>]}) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 8>} {
    // expected-error @below {{dimension 1 of 'tensor<1x?x4xf32>' is neither the batch nor the tokens of a step (it traces to the input dimension 'past_sequence_length' (past_sequence)); the runtime cannot size it}}
    %s = qllm.swiglu %x, %x : tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
}

// -----

// The roles come from qllm-classify-dims, not from the names.
module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%x: tensor<1x?x4xf32> {qllm.dims = ["batch", "sequence", ""]}) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 8>} {
    // expected-error @below {{dimension 1 of 'tensor<1x?x4xf32>' is neither the batch nor the tokens of a step (the model's input dimensions are not classified (run qllm-classify-dims)); the runtime cannot size it}}
    %s = qllm.swiglu %x, %x : tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
}

// -----

// An entry point in a module that qllm-specialize-entries did not plan.
module {
  // expected-error @below {{is not a specialized entry point (run qllm-specialize-entries first)}}
  func.func @prefill(%x: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 8>} {
    %s = qllm.swiglu %x, %x : tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
}
