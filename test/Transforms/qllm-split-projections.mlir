// RUN: quant-opt %s --qllm-split-projections --split-input-file | FileCheck %s

// A fused projection read through slices of its last axis (ONNX Runtime
// GenAI's qkv_proj): one matmul per slice over that slice's weight columns.
// W is [K = 2, N = 4] = [[1, 2, 3, 4], [5, 6, 7, 8]]; parts [0:1] and [1:4].
// CHECK-LABEL: func.func @fused
// CHECK-SAME: (%[[X:.*]]: tensor<?x2xf32>)
// CHECK-DAG: %[[A:.*]] = qllm.weight "w[0:1]" = dense_resource<[[KA:[^>]*]]> : tensor<2x1xf32>
// CHECK-DAG: %[[B:.*]] = qllm.weight "w[1:4]" = dense_resource<[[KB:[^>]*]]> : tensor<2x3xf32>
// CHECK-DAG: %[[YA:.*]] = qllm.matmul %[[X]], %[[A]] : (tensor<?x2xf32>, tensor<2x1xf32>) -> tensor<?x1xf32>
// CHECK-DAG: %[[YB:.*]] = qllm.matmul %[[X]], %[[B]] : (tensor<?x2xf32>, tensor<2x3xf32>) -> tensor<?x3xf32>
// CHECK: return %[[YA]], %[[YB]]
func.func @fused(%x: tensor<?x2xf32>) -> (tensor<?x1xf32>, tensor<?x3xf32>) {
  %w = qllm.weight "w" = dense_resource<w> : tensor<2x4xf32>
  %y = qllm.matmul %x, %w : (tensor<?x2xf32>, tensor<2x4xf32>) -> tensor<?x4xf32>
  %a = qllm.slice %y axes = [1] starts = [0] ends = [1] steps = [1] : tensor<?x4xf32> -> tensor<?x1xf32>
  %b = qllm.slice %y axes = [1] starts = [1] ends = [9223372036854775807] steps = [1] : tensor<?x4xf32> -> tensor<?x3xf32>
  return %a, %b : tensor<?x1xf32>, tensor<?x3xf32>
}

// The columns [1, 5] and [[2, 3, 4], [6, 7, 8]]; the fused weight is gone.
// CHECK: dialect_resources
// CHECK-NOT: {{^ *}}w: "
// CHECK-DAG: "0x040000000000803F0000A040"
// CHECK-DAG: "0x040000000000004000004040000080400000C0400000E04000000041"
{-#
  dialect_resources: {
    builtin: {
      w: "0x040000000000803F0000004000004040000080400000A0400000C0400000E04000000041"
    }
  }
#-}

// -----

// A quantized [N = 4, K = 2] weight (MatMulNBits): rows of each component.
// CHECK-LABEL: func.func @quantized
// CHECK: %[[D:.*]] = qllm.weight "d[1:4]" = dense_resource<{{.*}}> : tensor<3x1xui8>
// CHECK: %[[S:.*]] = qllm.weight "s[1:4]" = dense_resource<{{.*}}> : tensor<3x1xf16>
// CHECK: %[[Z:.*]] = qllm.weight "z[1:4]" = dense_resource<{{.*}}> : tensor<3x1xui8>
// CHECK: %[[Q:.*]] = qllm.quantized_weight "q[1:4]" data(%[[D]] : tensor<3x1xui8>) scales(%[[S]] : tensor<3x1xf16>) zero_points(%[[Z]] : tensor<3x1xui8>) -> !qllm.qtensor<3x2, #qllm.intq<bits = 4, group_size = 32>>
// CHECK: qllm.dequant_matmul %{{.*}}, %[[Q]] : (tensor<?x2xf32>, !qllm.qtensor<3x2, #qllm.intq<bits = 4, group_size = 32>>) -> tensor<?x3xf32>
// CHECK-DAG: "0x01000000436587"
// CHECK-DAG: "0x02000000004000420044"
// CHECK-DAG: "0x01000000020304"
func.func @quantized(%x: tensor<?x2xf32>) -> (tensor<?x1xf32>, tensor<?x3xf32>) {
  %d = qllm.weight "d" = dense_resource<d> : tensor<4x1xui8>
  %s = qllm.weight "s" = dense_resource<s> : tensor<4x1xf16>
  %z = qllm.weight "z" = dense_resource<z> : tensor<4x1xui8>
  %q = qllm.quantized_weight "q" data(%d : tensor<4x1xui8>) scales(%s : tensor<4x1xf16>) zero_points(%z : tensor<4x1xui8>) -> !qllm.qtensor<4x2, #qllm.intq<bits = 4, group_size = 32>>
  %y = qllm.dequant_matmul %x, %q : (tensor<?x2xf32>, !qllm.qtensor<4x2, #qllm.intq<bits = 4, group_size = 32>>) -> tensor<?x4xf32>
  %a = qllm.slice %y axes = [1] starts = [0] ends = [1] steps = [1] : tensor<?x4xf32> -> tensor<?x1xf32>
  %b = qllm.slice %y axes = [1] starts = [1] ends = [4] steps = [1] : tensor<?x4xf32> -> tensor<?x3xf32>
  return %a, %b : tensor<?x1xf32>, tensor<?x3xf32>
}
{-#
  dialect_resources: {
    builtin: {
      d: "0x0100000021436587",
      s: "0x02000000003C004000420044",
      z: "0x0100000001020304"
    }
  }
#-}

// -----

// The whole projection is read too: left fused.
// CHECK-LABEL: func.func @also_read_whole
// CHECK: qllm.matmul %{{.*}}, %{{.*}} : (tensor<?x2xf32>, tensor<2x4xf32>) -> tensor<?x4xf32>
// CHECK-NOT: qllm.matmul
func.func @also_read_whole(%x: tensor<?x2xf32>) -> (tensor<?x1xf32>, tensor<?x4xf32>) {
  %w = qllm.weight "w" = dense_resource<w> : tensor<2x4xf32>
  %y = qllm.matmul %x, %w : (tensor<?x2xf32>, tensor<2x4xf32>) -> tensor<?x4xf32>
  %a = qllm.slice %y axes = [1] starts = [0] ends = [1] steps = [1] : tensor<?x4xf32> -> tensor<?x1xf32>
  return %a, %y : tensor<?x1xf32>, tensor<?x4xf32>
}
{-#
  dialect_resources: {
    builtin: {
      w: "0x040000000000803F0000004000004040000080400000A0400000C0400000E04000000041"
    }
  }
#-}
