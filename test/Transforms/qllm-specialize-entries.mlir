// RUN: quant-opt %s --qllm-specialize-entries --split-input-file --verify-diagnostics
// RUN: not quant-opt %s --qllm-specialize-entries=batch=2 --split-input-file 2>&1 | FileCheck %s --check-prefix=BATCH

// BATCH: error: batch 2 is not supported yet: the runtime runs batch 1

// The pass's output and its other options: test/Plan/plan-passes.test.

// expected-error @below {{no @main function to specialize}}
module {
  func.func @forward(%x: tensor<2xf32>) -> tensor<2xf32> {
    return %x : tensor<2xf32>
  }
}

// -----

module {
  // expected-error @below {{argument 'hidden_states' is not part of the decoder interface}}
  func.func @main(%x: tensor<?x?x4xf32> {qllm.name = "hidden_states"}) -> (tensor<?x?x4xf32> {qllm.name = "logits"}) {
    return %x : tensor<?x?x4xf32>
  }
}

// -----

module {
  func.func @main(%ids: tensor<?x?xi64> {qllm.name = "input_ids"},
                  %pos: tensor<?x?xi64> {qllm.name = "position_ids"})
      -> (tensor<?x?xi64> {qllm.name = "logits"}) {
    // expected-error @below {{uses the model input 'position_ids' in a way the runtime cannot provide (it feeds positions only to rotary ops)}}
    %s = qllm.add %ids, %pos : (tensor<?x?xi64>, tensor<?x?xi64>) -> tensor<?x?xi64>
    return %s : tensor<?x?xi64>
  }
}

// -----

module {
  func.func @main(%ids: tensor<?x?xi64> {qllm.name = "input_ids"},
                  %pk: tensor<?x1x?x4xf32> {qllm.name = "past_key_values.0.key"},
                  %pv: tensor<?x1x?x4xf32> {qllm.name = "past_key_values.0.value"},
                  %q: tensor<?x?x1x4xf32> {qllm.name = "past_key_values.1.key"})
      -> (tensor<?x?x1x4xf32> {qllm.name = "logits"}) {
    // expected-error @below {{is not causal; the runtime runs causal decoder attention only}}
    %o, %k, %v = qllm.attention %q, %q, %q past(%pk, %pv)
        : (tensor<?x?x1x4xf32>, tensor<?x?x1x4xf32>, tensor<?x?x1x4xf32>, tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>)
        -> (tensor<?x?x1x4xf32>, tensor<?x1x?x4xf32>, tensor<?x1x?x4xf32>)
    return %o : tensor<?x?x1x4xf32>
  }
}

// -----

module {
  // expected-error @below {{result 'present.0.key' is not the present cache of an attention}}
  func.func @main(%ids: tensor<?x?xi64> {qllm.name = "input_ids"})
      -> (tensor<?x?xi64> {qllm.name = "logits"}, tensor<?x?xi64> {qllm.name = "present.0.key"}) {
    %s = qllm.add %ids, %ids : (tensor<?x?xi64>, tensor<?x?xi64>) -> tensor<?x?xi64>
    return %ids, %s : tensor<?x?xi64>, tensor<?x?xi64>
  }
}

// -----

module {
  func.func @main(%ids: tensor<?x?xi64> {qllm.name = "input_ids"},
                  %pk: tensor<?x1x?x4xf32> {qllm.name = "past_key_values.0.key"})
      -> (tensor<?x?xi64> {qllm.name = "logits"}, tensor<?x1x?x4xf32> {qllm.name = "present.0.key"}) {
    // expected-error @below {{uses the model input 'past_key_values.0.key' in a way the runtime cannot provide (it feeds past_key only to attention ops)}}
    return %ids, %pk : tensor<?x?xi64>, tensor<?x1x?x4xf32>
  }
}
