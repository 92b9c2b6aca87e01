// RUN: quant-opt %s --qllm-layout-weights --split-input-file --verify-diagnostics | FileCheck %s
// RUN: not quant-opt %s --qllm-layout-weights=weight-type=int3 --split-input-file 2>&1 | FileCheck %s --check-prefix=TYPE

// TYPE: for the --weight-type option: Cannot find option named 'int3'!

// Norm weights are stored in f32 whatever the model stored: the f16 weight
// read through a cast becomes an f32 weight with the same values.
// CHECK-LABEL: func.func @norm_f16
// CHECK: %[[W:.*]] = qllm.weight "n" = dense_resource<[[BLOB:n.*]]> : tensor<4xf32>
// CHECK-NOT: qllm.cast
// CHECK: qllm.rms_norm %{{.*}}, %[[W]]
// CHECK: [[BLOB]]: "0x040000000000803F0000003F000000400000803F"
func.func @norm_f16(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %n = qllm.weight "n" = dense_resource<n> : tensor<4xf16>
  %c = qllm.cast %n : tensor<4xf16> -> tensor<4xf32>
  %y = qllm.rms_norm %x, %c {epsilon = 1.0e-5 : f32} : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  return %y : tensor<2x4xf32>
}
{-#
  dialect_resources: {
    builtin: {
      n: "0x02000000003C00380040003C"
    }
  }
#-}

// -----

// A weight already in the [N, K] f32 layout keeps its blob.
// CHECK-LABEL: func.func @already_laid_out
// CHECK: %[[W:.*]] = qllm.weight "w" = dense_resource<w> : tensor<2x4xf32>
// CHECK: qllm.matmul %{{.*}}, %[[W]] transpose_rhs
func.func @already_laid_out(%x: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %w = qllm.weight "w" = dense_resource<w> : tensor<2x4xf32>
  %y = qllm.matmul %x, %w transpose_rhs : (tensor<3x4xf32>, tensor<2x4xf32>) -> tensor<3x2xf32>
  return %y : tensor<3x2xf32>
}
{-#
  dialect_resources: {
    builtin: {
      w: "0x040000000000803F0000803F0000803F0000803F0000803F0000803F0000803F0000803F"
    }
  }
#-}

// -----

func.func @nan(%x: tensor<3x2xf32>) -> tensor<3x1xf32> {
  // expected-error @below {{weight 'w' holds a NaN or infinity}}
  %w = qllm.weight "w" = dense_resource<w> : tensor<2x1xf32>
  %y = qllm.matmul %x, %w : (tensor<3x2xf32>, tensor<2x1xf32>) -> tensor<3x1xf32>
  return %y : tensor<3x1xf32>
}
{-#
  dialect_resources: {
    builtin: {
      w: "0x040000000000803F0000C07F"
    }
  }
#-}
