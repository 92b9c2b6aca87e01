// Every verifier message of the plan-ready IR contract (qllm/IR/
// QLLMPlanAttrs.h): the typed lowering attributes' own checks, and where
// each `qllm.` attribute may sit and what it must agree with. One case each.
// RUN: quant-opt %s -split-input-file -verify-diagnostics

// expected-error @+1 {{max_tokens must be in [1, 2^30], got 0}}
func.func private @f() attributes {qllm.entry = #qllm.entry<max_tokens = 0>}

// -----

// expected-error @+1 {{arena_bytes must be in [0, 2^40], got -4}}
func.func private @f() attributes {qllm.entry = #qllm.entry<max_tokens = 4, arena_bytes = -4>}

// -----

// expected-error @+1 {{batch must be 1 (the runtime runs batch 1), got 2}}
module attributes {qllm.plan = #qllm.plan<batch = 2, max_context = 8>} {}

// -----

// expected-error @+1 {{max_context must be in [1, 2^24], got 0}}
module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 0>} {}

// -----

// expected-error @+1 {{bos must be a token id in [0, 2^31), got -1}}
module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8, bos = -1>} {}

// -----

// expected-error @+1 {{arena offset 1 must be -1 or a multiple of 4 in [0, 2^40], got 6}}
func.func private @f() attributes {a = #qllm.arena<[0, 6]>}

// -----

// expected-error @+1 {{the cache role past_key needs its layer}}
func.func private @f(tensor<4xf32> {qllm.role = #qllm.role<past_key>})

// -----

// expected-error @+1 {{the role tokens has no layer}}
func.func private @f(tensor<4xi64> {qllm.role = #qllm.role<tokens, layer = 0>})

// -----

// expected-error @+1 {{layer must be in [0, 2^20), got -1}}
func.func private @f(tensor<4xf32> {qllm.role = #qllm.role<past_value, layer = -1>})

// -----

// expected-error @+1 {{function '9k' is not a C identifier}}
func.func private @f() attributes {a = #qllm.cuda_launch<function = "9k", grid_x = 1, tokens_per_block = 1, block_x = 32>}

// -----

// expected-error @+1 {{grid_x must be in [1, 2^31 - 1], got 0}}
func.func private @f() attributes {a = #qllm.cuda_launch<function = "k", grid_x = 0, tokens_per_block = 1, block_x = 32>}

// -----

// expected-error @+1 {{tokens_per_block must be in [0, 2^31 - 1], got -1}}
func.func private @f() attributes {a = #qllm.cuda_launch<function = "k", grid_x = 1, tokens_per_block = -1, block_x = 32>}

// -----

// expected-error @+1 {{block_x must be in [1, 1024], got 2048}}
func.func private @f() attributes {a = #qllm.cuda_launch<function = "k", grid_x = 1, tokens_per_block = 1, block_x = 2048>}

// -----

// expected-error @+1 {{shared_bytes must be in [0, 48 KiB], got 49153}}
func.func private @f() attributes {a = #qllm.cuda_launch<function = "k", grid_x = 1, tokens_per_block = 1, block_x = 32, shared_bytes = 49153>}

// -----

// expected-error @+1 {{the CUDA source is empty}}
func.func private @f() attributes {a = #qllm.cuda_code<source = "", kernels = ["k"], archs = ["sm_90"]>}

// -----

// expected-error @+1 {{kernels must list the source's kernels}}
func.func private @f() attributes {a = #qllm.cuda_code<source = "x", kernels = [], archs = ["sm_90"]>}

// -----

// expected-error @+1 {{kernel "k-1" is not a C identifier}}
func.func private @f() attributes {a = #qllm.cuda_code<source = "x", kernels = ["k-1"], archs = ["sm_90"]>}

// -----

// expected-error @+1 {{kernel "k" is listed twice}}
func.func private @f() attributes {a = #qllm.cuda_code<source = "x", kernels = ["k", "k"], archs = ["sm_90"]>}

// -----

// expected-error @+1 {{archs must name at least one architecture}}
func.func private @f() attributes {a = #qllm.cuda_code<source = "x", kernels = ["k"], archs = []>}

// -----

// expected-error @+1 {{arch "sm_9" is not compute_XY (PTX) or sm_XY (a cubin)}}
func.func private @f() attributes {a = #qllm.cuda_code<source = "x", kernels = ["k"], archs = ["sm_9"]>}

// -----

module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%x: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 4, arena_bytes = 256>} {
    // expected-error @+1 {{'qllm.kernel' must be a #qllm.kernel, got "add"}}
    %s = qllm.add %x, %x {qllm.kernel = "add"} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
}

// -----

module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%x: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 4, arena_bytes = 256>} {
    // expected-error @+1 {{cannot run as the matmul kernel}}
    %s = qllm.add %x, %x {qllm.kernel = #qllm.kernel<matmul>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
}

// -----

module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%x: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 4, arena_bytes = 256>} {
    // expected-error @+1 {{has both qllm.kernel and qllm.storage}}
    %s = qllm.add %x, %x {qllm.kernel = #qllm.kernel<add>, qllm.storage = #qllm.storage<view>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
}

// -----

func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  // expected-error @+1 {{has 'qllm.kernel' outside an entry point (a function with qllm.entry)}}
  %s = qllm.add %x, %x {qllm.kernel = #qllm.kernel<add>} : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return %s : tensor<4xf32>
}

// -----

module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%x: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 4, arena_bytes = 256>} {
    %c = qllm.constant dense<[0, 0, 4]> : tensor<3xi64>
    // expected-error @+1 {{'qllm.storage' must be a #qllm.storage, got "view"}}
    %s = qllm.reshape %x, %c {qllm.storage = "view"} : (tensor<1x?x4xf32>, tensor<3xi64>) -> tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
}

// -----

module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%x: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 4, arena_bytes = 256>} {
    // expected-error @+1 {{cannot be stored as a view}}
    %s = qllm.add %x, %x {qllm.storage = #qllm.storage<view>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
}

// -----

module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%x: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 4, arena_bytes = 256>} {
    // expected-error @+1 {{'qllm.arena' must be a #qllm.arena, got array<i64: 0>}}
    %s = qllm.add %x, %x {qllm.arena = array<i64: 0>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
}

// -----

module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%x: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 4, arena_bytes = 256>} {
    // expected-error @+1 {{has 2 qllm.arena offsets for 1 results}}
    %s = qllm.add %x, %x {qllm.arena = #qllm.arena<[0, 64]>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
}

// -----

module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%x: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 4>} {
    // expected-error @+1 {{has arena offsets but its entry point has no arena_bytes (run qllm-plan-memory)}}
    %s = qllm.add %x, %x {qllm.arena = #qllm.arena<[0]>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
}

// -----

module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%x: tensor<1x?x4xf16>) -> tensor<1x?x4xf16> attributes {qllm.entry = #qllm.entry<max_tokens = 4, arena_bytes = 256>} {
    // expected-error @+1 {{result 0 of type 'tensor<1x?x4xf16>' has an arena offset, but arena values are f32 with at most one dynamic (token) dimension}}
    %s = qllm.add %x, %x {qllm.arena = #qllm.arena<[0]>} : (tensor<1x?x4xf16>, tensor<1x?x4xf16>) -> tensor<1x?x4xf16>
    return %s : tensor<1x?x4xf16>
  }
}

// -----

module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%x: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 4, arena_bytes = 256>} {
    // expected-error @+1 {{result 0 at arena offset 240 (64 bytes at 4 tokens) lies outside the arena of 256 bytes}}
    %s = qllm.add %x, %x {qllm.arena = #qllm.arena<[240]>} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
}

// -----

module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%x: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 4, arena_bytes = 256>} {
    // expected-error @+1 {{has 'qllm.layer' but is not an attention}}
    %s = qllm.add %x, %x {qllm.layer = 0 : i64} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
}

// -----

module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%q: tensor<1x?x1x4xf32>, %pk: tensor<1x1x?x4xf32>) -> tensor<1x?x1x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 4, arena_bytes = 256>} {
    // expected-error @+1 {{'qllm.layer' must be an integer in [0, 2^20), got -1 : i64}}
    %o, %k, %v = qllm.attention %q, %q, %q past(%pk, %pk) causal {qllm.layer = -1 : i64} : (tensor<1x?x1x4xf32>, tensor<1x?x1x4xf32>, tensor<1x?x1x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>) -> (tensor<1x?x1x4xf32>, tensor<1x1x?x4xf32>, tensor<1x1x?x4xf32>)
    return %o : tensor<1x?x1x4xf32>
  }
}

// -----

module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%x: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 4, arena_bytes = 256>} {
    // expected-error @+1 {{'qllm.cuda_launches' must be an array of #qllm.cuda_launch}}
    %s = qllm.add %x, %x {qllm.kernel = #qllm.kernel<add>, qllm.cuda_launches = [7]} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
}

// -----

module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%x: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 4, arena_bytes = 256>} {
    // expected-error @+1 {{has CUDA launches but no qllm.kernel}}
    %s = qllm.add %x, %x {qllm.cuda_launches = []} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
}

// -----

module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>} {
  func.func @prefill(%x: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 4, arena_bytes = 256>} {
    // expected-error @+1 {{has a fused_add launch but is not a matmul}}
    %s = qllm.add %x, %x {qllm.kernel = #qllm.kernel<add>, qllm.cuda_launches = [#qllm.cuda_launch<function = "k", grid_x = 1, tokens_per_block = 1, block_x = 64, fused_add = true>]} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
}

// -----

module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>, qllm.cuda_code = #qllm.cuda_code<source = "x", kernels = ["k"], archs = ["sm_90"]>} {
  func.func @prefill(%x: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 4, arena_bytes = 256>} {
    // expected-error @+1 {{launches 'other', which the module's CUDA code does not define}}
    %s = qllm.add %x, %x {qllm.kernel = #qllm.kernel<add>, qllm.cuda_launches = [#qllm.cuda_launch<function = "other", grid_x = 1, tokens_per_block = 1, block_x = 64>]} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
}

// -----

module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>, qllm.cuda_code = #qllm.cuda_code<source = "x", kernels = ["k"], archs = ["sm_90"]>} {
  func.func @prefill(%x: tensor<1x?x4xf32>) -> tensor<1x?x4xf32> attributes {qllm.entry = #qllm.entry<max_tokens = 70000>} {
    // expected-error @+1 {{launches 'k' with a grid y of 70000 at 70000 tokens (at most 65535)}}
    %s = qllm.add %x, %x {qllm.kernel = #qllm.kernel<add>, qllm.cuda_launches = [#qllm.cuda_launch<function = "k", grid_x = 1, tokens_per_block = 1, block_x = 64>]} : (tensor<1x?x4xf32>, tensor<1x?x4xf32>) -> tensor<1x?x4xf32>
    return %s : tensor<1x?x4xf32>
  }
}

// -----

// expected-error @+1 {{'qllm.entry' belongs on a function}}
module attributes {qllm.entry = #qllm.entry<max_tokens = 4>} {}

// -----

// expected-error @+1 {{'qllm.entry' must be a #qllm.entry, got {max_tokens = 4 : i64}}}
func.func private @f() attributes {qllm.entry = {max_tokens = 4 : i64}}

// -----

// expected-error @+1 {{'qllm.plan' belongs on the module}}
func.func private @f() attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8>}

// -----

// expected-error @+1 {{'qllm.plan' must be a #qllm.plan, got {batch = 1 : i64}}}
module attributes {qllm.plan = {batch = 1 : i64}} {}

// -----

// expected-error @+1 {{'qllm.cuda_code' belongs on the module}}
func.func private @f() attributes {qllm.cuda_code = #qllm.cuda_code<source = "x", kernels = ["k"], archs = ["sm_90"]>}

// -----

// expected-error @+1 {{'qllm.cuda_code' must be a #qllm.cuda_code, got "x"}}
module attributes {qllm.cuda_code = "x"} {}

// -----

// expected-error @+1 {{'qllm.source' must be a string, got 7 : i64}}
module attributes {qllm.source = 7 : i64} {}

// -----

// expected-error @+1 {{'qllm.metadata' must be a dictionary, got "x"}}
module attributes {qllm.metadata = "x"} {}

// -----

// expected-error @+1 {{'qllm.weightless' must be a unit attribute, got 1 : i64}}
module attributes {qllm.weightless = 1 : i64} {}

// -----

// expected-error @+1 {{'qllm.role' belongs on a function's arguments and results}}
func.func private @f() attributes {qllm.role = #qllm.role<tokens>}

// -----

// expected-error @+1 {{has an unknown attribute 'qllm.knernel'}}
func.func private @f() attributes {qllm.knernel = 1 : i64}

// -----

// expected-error @+1 {{argument 0: 'qllm.name' must be a string}}
func.func private @f(tensor<4xf32> {qllm.name = 1 : i64})

// -----

// expected-error @+1 {{argument 0: 'qllm.dims' must be an array of strings}}
func.func private @f(tensor<4xf32> {qllm.dims = [1]})

// -----

// expected-error @+1 {{argument 0: 'qllm.dim_roles' must be an array of #qllm.dim}}
func.func private @f(tensor<4xf32> {qllm.dim_roles = ["batch"]})

// -----

// expected-error @+1 {{argument 0: 'qllm.dims' has 1 entries for a rank-2 value}}
func.func private @f(tensor<1x?xi64> {qllm.dims = ["batch"]})

// -----

// expected-error @+1 {{argument 0: 'qllm.role' must be a #qllm.role, got "tokens"}}
func.func private @f(tensor<1x?xi64> {qllm.role = "tokens"})

// -----

// expected-error @+1 {{argument 0: the role logits is a result's}}
func.func private @f(tensor<1x?xi64> {qllm.role = #qllm.role<logits>})

// -----

// expected-error @+1 {{result 0: the role tokens is an argument's}}
func.func private @f() -> (tensor<1x?xi64> {qllm.role = #qllm.role<tokens>})

// -----

// expected-error @+1 {{argument 0: unknown attribute 'qllm.rol'}}
func.func private @f(tensor<1x?xi64> {qllm.rol = #qllm.role<tokens>})

// -----

// expected-error @+1 {{world_size must be in [1, 4096], got 0}}
module attributes {qllm.plan = #qllm.plan<batch = 1, max_context = 8, world_size = 0>} {}

// -----

// expected-error @+1 {{'qllm.unsharded' holds positive integers heads, kv_heads and hidden_dim, not "layers" = 3 : i64}}
module attributes {qllm.unsharded = {layers = 3 : i64}} {}

// -----

func.func @shards_not_weight(%x: tensor<2xf32>) -> tensor<2xf32> {
  // expected-error @+1 {{has 'qllm.shards' but is not a qllm.weight}}
  %y = qllm.add %x, %x {qllm.shards = []} : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
  return %y : tensor<2xf32>
}

// -----

func.func @shards_without_own_value() -> tensor<2xf32> {
  // expected-error @+1 {{'qllm.shards' must list every rank's value, rank 0's being the weight's own}}
  %w = qllm.weight "w" = dense_resource<a> : tensor<2xf32> {qllm.shards = [dense_resource<b> : tensor<2xf32>, dense_resource<c> : tensor<2xf32>]}
  return %w : tensor<2xf32>
}

// -----

func.func @shards_of_another_type() -> tensor<2xf32> {
  // expected-error @+1 {{'qllm.shards' holds a value that is not of the weight's type 'tensor<2xf32>'}}
  %w = qllm.weight "w" = dense_resource<a> : tensor<2xf32> {qllm.shards = [dense_resource<a> : tensor<2xf32>, dense_resource<c> : tensor<3xf32>]}
  return %w : tensor<2xf32>
}
