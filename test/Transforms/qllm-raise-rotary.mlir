// RUN: quant-opt %s --qllm-raise-rotary --split-input-file | FileCheck %s

// Hugging Face's rotate-half on [batch, heads, seq, head_dim]: cos/sin of
// concat(f, f) with f = transpose(inv_freq @ positions), unsqueezed at the
// head axis. inv_freq = 10000^(-2i/8).
// CHECK-LABEL: func.func @rotate_half_bhsd
// CHECK-SAME: (%[[Q:.*]]: tensor<?x2x?x8xf32> {{.*}}, %[[POS:.*]]: tensor<?x?xi64>
// CHECK: %[[T:.*]] = qllm.transpose %[[Q]] [0, 2, 1, 3] : tensor<?x2x?x8xf32> -> tensor<?x?x2x8xf32>
// CHECK: %[[R:.*]] = qllm.rotary rotate_half %[[T]], %[[POS]] {base = 1.000000e+04 : f32} : (tensor<?x?x2x8xf32>, tensor<?x?xi64>) -> tensor<?x?x2x8xf32>
// CHECK: %[[B:.*]] = qllm.transpose %[[R]] [0, 2, 1, 3]
// CHECK: return %[[B]]
func.func @rotate_half_bhsd(%q: tensor<?x2x?x8xf32> {qllm.name = "q"}, %pos: tensor<?x?xi64> {qllm.name = "pos"}, %es: tensor<3xi64> {qllm.name = "expand_shape"})
    -> (tensor<?x2x?x8xf32> {qllm.name = "out"}) {
  %inv = qllm.constant dense<[[[1.0], [0.1], [0.01], [0.001]]]> : tensor<1x4x1xf32>
  %p = qllm.cast %pos : tensor<?x?xi64> -> tensor<?x?xf32>
  %pu = qllm.unsqueeze %p axes = [1] : tensor<?x?xf32> -> tensor<?x1x?xf32>
  %ie = qllm.expand %inv, %es : (tensor<1x4x1xf32>, tensor<3xi64>) -> tensor<?x4x1xf32>
  %f = qllm.matmul %ie, %pu : (tensor<?x4x1xf32>, tensor<?x1x?xf32>) -> tensor<?x4x?xf32>
  %ft = qllm.transpose %f [0, 2, 1] : tensor<?x4x?xf32> -> tensor<?x?x4xf32>
  %e = qllm.concat %ft, %ft axis = 2 : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
  %c = qllm.cos %e : tensor<?x?x8xf32>
  %s = qllm.sin %e : tensor<?x?x8xf32>
  %cu = qllm.unsqueeze %c axes = [1] : tensor<?x?x8xf32> -> tensor<?x1x?x8xf32>
  %su = qllm.unsqueeze %s axes = [1] : tensor<?x?x8xf32> -> tensor<?x1x?x8xf32>
  %m1 = qllm.mul %q, %cu : (tensor<?x2x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x2x?x8xf32>
  %lo = qllm.slice %q axes = [3] starts = [0] ends = [4] steps = [1] : tensor<?x2x?x8xf32> -> tensor<?x2x?x4xf32>
  %hi = qllm.slice %q axes = [3] starts = [4] ends = [9223372036854775807] steps = [1] : tensor<?x2x?x8xf32> -> tensor<?x2x?x4xf32>
  %nhi = qllm.neg %hi : tensor<?x2x?x4xf32>
  %rot = qllm.concat %nhi, %lo axis = 3 : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x8xf32>
  %m2 = qllm.mul %rot, %su : (tensor<?x2x?x8xf32>, tensor<?x1x?x8xf32>) -> tensor<?x2x?x8xf32>
  %r = qllm.add %m1, %m2 : (tensor<?x2x?x8xf32>, tensor<?x2x?x8xf32>) -> tensor<?x2x?x8xf32>
  return %r : tensor<?x2x?x8xf32>
}

// -----

// Meta's interleaved pairs on [batch, seq, heads, head_dim], with the
// angles written as positions * inv_freq.
// CHECK-LABEL: func.func @interleaved_bshd
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x2x8xf32> {{.*}}, %[[POS:.*]]: tensor<?x?xi64>
// CHECK: %[[R:.*]] = qllm.rotary interleaved %[[X]], %[[POS]] {base = 1.000000e+04 : f32} : (tensor<?x?x2x8xf32>, tensor<?x?xi64>) -> tensor<?x?x2x8xf32>
// CHECK-NEXT: return %[[R]]
func.func @interleaved_bshd(%x: tensor<?x?x2x8xf32> {qllm.name = "x"}, %pos: tensor<?x?xi64> {qllm.name = "pos"})
    -> (tensor<?x?x2x8xf32> {qllm.name = "out"}) {
  %inv = qllm.constant dense<[1.0, 0.1, 0.01, 0.001]> : tensor<4xf32>
  %p = qllm.cast %pos : tensor<?x?xi64> -> tensor<?x?xf32>
  %pu = qllm.unsqueeze %p axes = [2] : tensor<?x?xf32> -> tensor<?x?x1xf32>
  %f = qllm.mul %pu, %inv : (tensor<?x?x1xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
  %c = qllm.cos %f : tensor<?x?x4xf32>
  %s = qllm.sin %f : tensor<?x?x4xf32>
  %cu = qllm.unsqueeze %c axes = [2, 4] : tensor<?x?x4xf32> -> tensor<?x?x1x4x1xf32>
  %su = qllm.unsqueeze %s axes = [2, 4] : tensor<?x?x4xf32> -> tensor<?x?x1x4x1xf32>
  %vs = qllm.constant dense<[0, 0, 2, 4, 2]> : tensor<5xi64>
  %view = qllm.reshape %x, %vs : (tensor<?x?x2x8xf32>, tensor<5xi64>) -> tensor<?x?x2x4x2xf32>
  %x0 = qllm.slice %view axes = [4] starts = [0] ends = [1] steps = [1] : tensor<?x?x2x4x2xf32> -> tensor<?x?x2x4x1xf32>
  %x1 = qllm.slice %view axes = [4] starts = [1] ends = [2] steps = [1] : tensor<?x?x2x4x2xf32> -> tensor<?x?x2x4x1xf32>
  %a = qllm.mul %x0, %cu : (tensor<?x?x2x4x1xf32>, tensor<?x?x1x4x1xf32>) -> tensor<?x?x2x4x1xf32>
  %b = qllm.mul %x1, %su : (tensor<?x?x2x4x1xf32>, tensor<?x?x1x4x1xf32>) -> tensor<?x?x2x4x1xf32>
  %o0 = qllm.sub %a, %b : (tensor<?x?x2x4x1xf32>, tensor<?x?x2x4x1xf32>) -> tensor<?x?x2x4x1xf32>
  %c2 = qllm.mul %x0, %su : (tensor<?x?x2x4x1xf32>, tensor<?x?x1x4x1xf32>) -> tensor<?x?x2x4x1xf32>
  %d = qllm.mul %cu, %x1 : (tensor<?x?x1x4x1xf32>, tensor<?x?x2x4x1xf32>) -> tensor<?x?x2x4x1xf32>
  %o1 = qllm.add %c2, %d : (tensor<?x?x2x4x1xf32>, tensor<?x?x2x4x1xf32>) -> tensor<?x?x2x4x1xf32>
  %cat = qllm.concat %o0, %o1 axis = 4 : (tensor<?x?x2x4x1xf32>, tensor<?x?x2x4x1xf32>) -> tensor<?x?x2x4x2xf32>
  %bs = qllm.constant dense<[0, 0, 2, 8]> : tensor<4xi64>
  %out = qllm.reshape %cat, %bs : (tensor<?x?x2x4x2xf32>, tensor<4xi64>) -> tensor<?x?x2x8xf32>
  return %out : tensor<?x?x2x8xf32>
}

// -----

// Frequencies that are not base^(-2i/d) (here the second one is off): left
// alone, since qllm.rotary could not express them by a base.
// CHECK-LABEL: func.func @not_geometric
// CHECK-NOT: qllm.rotary
func.func @not_geometric(%x: tensor<?x?x2x8xf32>, %pos: tensor<?x?xi64>) -> tensor<?x?x2x8xf32> {
  %inv = qllm.constant dense<[1.0, 0.2, 0.01, 0.001]> : tensor<4xf32>
  %p = qllm.cast %pos : tensor<?x?xi64> -> tensor<?x?xf32>
  %pu = qllm.unsqueeze %p axes = [2] : tensor<?x?xf32> -> tensor<?x?x1xf32>
  %f = qllm.mul %pu, %inv : (tensor<?x?x1xf32>, tensor<4xf32>) -> tensor<?x?x4xf32>
  %e = qllm.concat %f, %f axis = 2 : (tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x8xf32>
  %c = qllm.cos %e : tensor<?x?x8xf32>
  %s = qllm.sin %e : tensor<?x?x8xf32>
  %cu = qllm.unsqueeze %c axes = [2] : tensor<?x?x8xf32> -> tensor<?x?x1x8xf32>
  %su = qllm.unsqueeze %s axes = [2] : tensor<?x?x8xf32> -> tensor<?x?x1x8xf32>
  %m1 = qllm.mul %x, %cu : (tensor<?x?x2x8xf32>, tensor<?x?x1x8xf32>) -> tensor<?x?x2x8xf32>
  %lo = qllm.slice %x axes = [3] starts = [0] ends = [4] steps = [1] : tensor<?x?x2x8xf32> -> tensor<?x?x2x4xf32>
  %hi = qllm.slice %x axes = [3] starts = [4] ends = [8] steps = [1] : tensor<?x?x2x8xf32> -> tensor<?x?x2x4xf32>
  %nhi = qllm.neg %hi : tensor<?x?x2x4xf32>
  %rot = qllm.concat %nhi, %lo axis = 3 : (tensor<?x?x2x4xf32>, tensor<?x?x2x4xf32>) -> tensor<?x?x2x8xf32>
  %m2 = qllm.mul %rot, %su : (tensor<?x?x2x8xf32>, tensor<?x?x1x8xf32>) -> tensor<?x?x2x8xf32>
  %r = qllm.add %m1, %m2 : (tensor<?x?x2x8xf32>, tensor<?x?x2x8xf32>) -> tensor<?x?x2x8xf32>
  return %r : tensor<?x?x2x8xf32>
}

// -----

// Hugging Face's rotary cache (transformers 4.3x, torch.onnx.export): cos and
// sin tables [1, 1, max_pos, d] of concat(f, f), sliced to the sequence
// length at run time, squeezed and gathered by position_ids; base 100 here
// (inv_freq = [1, 0.1] for d = 4). The table's rows become the model's
// max_seq_len.
// CHECK: module attributes {qllm.metadata = {max_seq_len = "4"}}
// CHECK-LABEL: func.func @cos_sin_tables
// CHECK-SAME: (%[[Q:.*]]: tensor<?x2x?x4xf32> {{.*}}, %[[POS:.*]]: tensor<?x?xi64>
// CHECK: %[[T:.*]] = qllm.transpose %[[Q]] [0, 2, 1, 3]
// CHECK: qllm.rotary rotate_half %[[T]], %[[POS]] {base = 1.000000e+02 : f32}
// CHECK-NOT: qllm.gather
module {
func.func @cos_sin_tables(%q: tensor<?x2x?x4xf32> {qllm.name = "q"}, %pos: tensor<?x?xi64> {qllm.name = "position_ids"}, %len: tensor<1xi64> {qllm.name = "len"})
    -> (tensor<?x2x?x4xf32> {qllm.name = "out"}) {
  %cos_table = qllm.constant dense<[[[[1.0, 1.0, 1.0, 1.0], [0.540302277, 0.995004177, 0.540302277, 0.995004177], [-0.416146845, 0.980066597, -0.416146845, 0.980066597], [-0.989992499, 0.955336511, -0.989992499, 0.955336511]]]]> : tensor<1x1x4x4xf32>
  %sin_table = qllm.constant dense<[[[[0.0, 0.0, 0.0, 0.0], [0.841470957, 0.099833414, 0.841470957, 0.099833414], [0.909297407, 0.198669329, 0.909297407, 0.198669329], [0.141120002, 0.295520216, 0.141120002, 0.295520216]]]]> : tensor<1x1x4x4xf32>
  %zero = qllm.constant dense<0> : tensor<1xi64>
  %cs = qllm.dynamic_slice %cos_table[%zero : %len] axes = [2] steps = [1] : (tensor<1x1x4x4xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x1x?x4xf32>
  %ss = qllm.dynamic_slice %sin_table[%zero : %len] axes = [2] steps = [1] : (tensor<1x1x4x4xf32>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x1x?x4xf32>
  %c2 = qllm.squeeze %cs axes = [0, 1] : tensor<1x1x?x4xf32> -> tensor<?x4xf32>
  %s2 = qllm.squeeze %ss axes = [0, 1] : tensor<1x1x?x4xf32> -> tensor<?x4xf32>
  %cg = qllm.gather %c2[%pos] axis = 0 : (tensor<?x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
  %sg = qllm.gather %s2[%pos] axis = 0 : (tensor<?x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
  %cu = qllm.unsqueeze %cg axes = [1] : tensor<?x?x4xf32> -> tensor<?x1x?x4xf32>
  %su = qllm.unsqueeze %sg axes = [1] : tensor<?x?x4xf32> -> tensor<?x1x?x4xf32>
  %m1 = qllm.mul %q, %cu : (tensor<?x2x?x4xf32>, tensor<?x1x?x4xf32>) -> tensor<?x2x?x4xf32>
  %lo = qllm.slice %q axes = [3] starts = [0] ends = [2] steps = [1] : tensor<?x2x?x4xf32> -> tensor<?x2x?x2xf32>
  %hi = qllm.slice %q axes = [3] starts = [2] ends = [9223372036854775807] steps = [1] : tensor<?x2x?x4xf32> -> tensor<?x2x?x2xf32>
  %nhi = qllm.neg %hi : tensor<?x2x?x2xf32>
  %rot = qllm.concat %nhi, %lo axis = 3 : (tensor<?x2x?x2xf32>, tensor<?x2x?x2xf32>) -> tensor<?x2x?x4xf32>
  %m2 = qllm.mul %rot, %su : (tensor<?x2x?x4xf32>, tensor<?x1x?x4xf32>) -> tensor<?x2x?x4xf32>
  %r = qllm.add %m1, %m2 : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  return %r : tensor<?x2x?x4xf32>
}
}

// -----

// The same with a table that is not cos of p * inv_freq (row 3 changed):
// left alone.
// CHECK-LABEL: func.func @not_a_cos_table
// CHECK-NOT: qllm.rotary
// CHECK: qllm.gather
func.func @not_a_cos_table(%q: tensor<?x2x?x4xf32> {qllm.name = "q"}, %pos: tensor<?x?xi64> {qllm.name = "position_ids"})
    -> (tensor<?x2x?x4xf32> {qllm.name = "out"}) {
  %cos_table = qllm.constant dense<[[1.0, 1.0, 1.0, 1.0], [0.540302277, 0.995004177, 0.540302277, 0.995004177], [-0.416146845, 0.980066597, -0.416146845, 0.980066597], [-0.5, 0.955336511, -0.5, 0.955336511]]> : tensor<4x4xf32>
  %sin_table = qllm.constant dense<[[0.0, 0.0, 0.0, 0.0], [0.841470957, 0.099833414, 0.841470957, 0.099833414], [0.909297407, 0.198669329, 0.909297407, 0.198669329], [0.141120002, 0.295520216, 0.141120002, 0.295520216]]> : tensor<4x4xf32>
  %cg = qllm.gather %cos_table[%pos] axis = 0 : (tensor<4x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
  %sg = qllm.gather %sin_table[%pos] axis = 0 : (tensor<4x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
  %cu = qllm.unsqueeze %cg axes = [1] : tensor<?x?x4xf32> -> tensor<?x1x?x4xf32>
  %su = qllm.unsqueeze %sg axes = [1] : tensor<?x?x4xf32> -> tensor<?x1x?x4xf32>
  %m1 = qllm.mul %q, %cu : (tensor<?x2x?x4xf32>, tensor<?x1x?x4xf32>) -> tensor<?x2x?x4xf32>
  %lo = qllm.slice %q axes = [3] starts = [0] ends = [2] steps = [1] : tensor<?x2x?x4xf32> -> tensor<?x2x?x2xf32>
  %hi = qllm.slice %q axes = [3] starts = [2] ends = [9223372036854775807] steps = [1] : tensor<?x2x?x4xf32> -> tensor<?x2x?x2xf32>
  %nhi = qllm.neg %hi : tensor<?x2x?x2xf32>
  %rot = qllm.concat %nhi, %lo axis = 3 : (tensor<?x2x?x2xf32>, tensor<?x2x?x2xf32>) -> tensor<?x2x?x4xf32>
  %m2 = qllm.mul %rot, %su : (tensor<?x2x?x4xf32>, tensor<?x1x?x4xf32>) -> tensor<?x2x?x4xf32>
  %r = qllm.add %m1, %m2 : (tensor<?x2x?x4xf32>, tensor<?x2x?x4xf32>) -> tensor<?x2x?x4xf32>
  return %r : tensor<?x2x?x4xf32>
}
