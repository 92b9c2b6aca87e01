// RUN: quant-opt %s --qllm-raise-rms-norm --split-input-file | FileCheck %s

// Hugging Face's LlamaRMSNorm: w * (x * reciprocal(sqrt(mean(x^2) + eps))).
// CHECK-LABEL: func.func @hf_reciprocal_sqrt
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x64xf32>, %[[W:.*]]: tensor<64xf32>)
// CHECK-NEXT: %[[N:.*]] = qllm.rms_norm %[[X]], %[[W]] {epsilon = 9.99999974E-6 : f32} : (tensor<?x?x64xf32>, tensor<64xf32>) -> tensor<?x?x64xf32>
// CHECK-NEXT: return %[[N]]
func.func @hf_reciprocal_sqrt(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) -> tensor<?x?x64xf32> {
  %two = qllm.constant dense<2.0> : tensor<f32>
  %eps = qllm.constant dense<1.0e-5> : tensor<f32>
  %0 = qllm.pow %x, %two : (tensor<?x?x64xf32>, tensor<f32>) -> tensor<?x?x64xf32>
  %1 = qllm.reduce_mean %0 axes = [2] keep_dims : tensor<?x?x64xf32> -> tensor<?x?x1xf32>
  %2 = qllm.add %1, %eps : (tensor<?x?x1xf32>, tensor<f32>) -> tensor<?x?x1xf32>
  %3 = qllm.sqrt %2 : tensor<?x?x1xf32>
  %4 = qllm.reciprocal %3 : tensor<?x?x1xf32>
  %5 = qllm.mul %x, %4 : (tensor<?x?x64xf32>, tensor<?x?x1xf32>) -> tensor<?x?x64xf32>
  %6 = qllm.mul %w, %5 : (tensor<64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  return %6 : tensor<?x?x64xf32>
}

// -----

// rsqrt, x * x, eps on the left, weight on the right.
// CHECK-LABEL: func.func @rsqrt_square
// CHECK: qllm.rms_norm %{{.*}}, %{{.*}} {epsilon = 9.99999997E-7 : f32}
// CHECK-NOT: qllm.rsqrt
func.func @rsqrt_square(%x: tensor<4x16xf32>, %w: tensor<16xf32>) -> tensor<4x16xf32> {
  %eps = qllm.constant dense<1.0e-6> : tensor<f32>
  %0 = qllm.mul %x, %x : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %1 = qllm.reduce_mean %0 axes = [1] keep_dims : tensor<4x16xf32> -> tensor<4x1xf32>
  %2 = qllm.add %eps, %1 : (tensor<f32>, tensor<4x1xf32>) -> tensor<4x1xf32>
  %3 = qllm.rsqrt %2 : tensor<4x1xf32>
  %4 = qllm.mul %3, %x : (tensor<4x1xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %5 = qllm.mul %4, %w : (tensor<4x16xf32>, tensor<16xf32>) -> tensor<4x16xf32>
  return %5 : tensor<4x16xf32>
}

// -----

// Division by the root.
// CHECK-LABEL: func.func @divide
// CHECK: qllm.rms_norm
// CHECK-NOT: qllm.div
func.func @divide(%x: tensor<4x16xf32>, %w: tensor<16xf32>) -> tensor<4x16xf32> {
  %two = qllm.constant dense<2.0> : tensor<f32>
  %eps = qllm.constant dense<1.0e-6> : tensor<f32>
  %0 = qllm.pow %x, %two : (tensor<4x16xf32>, tensor<f32>) -> tensor<4x16xf32>
  %1 = qllm.reduce_mean %0 axes = [1] keep_dims : tensor<4x16xf32> -> tensor<4x1xf32>
  %2 = qllm.add %1, %eps : (tensor<4x1xf32>, tensor<f32>) -> tensor<4x1xf32>
  %3 = qllm.sqrt %2 : tensor<4x1xf32>
  %4 = qllm.div %x, %3 : (tensor<4x16xf32>, tensor<4x1xf32>) -> tensor<4x16xf32>
  %5 = qllm.mul %w, %4 : (tensor<16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  return %5 : tensor<4x16xf32>
}

// -----

// fp16 exports normalize in f32 and cast back before the weight: the casts
// are absorbed (rms_norm computes in f32).
// CHECK-LABEL: func.func @fp16_casts
// CHECK-SAME: (%[[X:.*]]: tensor<?x64xf16>, %[[W:.*]]: tensor<64xf16>)
// CHECK-NEXT: %[[N:.*]] = qllm.rms_norm %[[X]], %[[W]] {{.*}} : (tensor<?x64xf16>, tensor<64xf16>) -> tensor<?x64xf16>
// CHECK-NEXT: return %[[N]]
func.func @fp16_casts(%x: tensor<?x64xf16>, %w: tensor<64xf16>) -> tensor<?x64xf16> {
  %two = qllm.constant dense<2.0> : tensor<f32>
  %eps = qllm.constant dense<1.0e-5> : tensor<f32>
  %x32 = qllm.cast %x : tensor<?x64xf16> -> tensor<?x64xf32>
  %0 = qllm.pow %x32, %two : (tensor<?x64xf32>, tensor<f32>) -> tensor<?x64xf32>
  %1 = qllm.reduce_mean %0 axes = [1] keep_dims : tensor<?x64xf32> -> tensor<?x1xf32>
  %2 = qllm.add %1, %eps : (tensor<?x1xf32>, tensor<f32>) -> tensor<?x1xf32>
  %3 = qllm.sqrt %2 : tensor<?x1xf32>
  %4 = qllm.reciprocal %3 : tensor<?x1xf32>
  %5 = qllm.mul %x32, %4 : (tensor<?x64xf32>, tensor<?x1xf32>) -> tensor<?x64xf32>
  %6 = qllm.cast %5 : tensor<?x64xf32> -> tensor<?x64xf16>
  %7 = qllm.mul %w, %6 : (tensor<64xf16>, tensor<?x64xf16>) -> tensor<?x64xf16>
  return %7 : tensor<?x64xf16>
}

// -----

// Not RMSNorm: the mean runs over the first axis, and eps is not a constant.
// CHECK-LABEL: func.func @not_rms_norm
// CHECK-NOT: qllm.rms_norm
func.func @not_rms_norm(%x: tensor<4x16xf32>, %w: tensor<16xf32>, %eps: tensor<f32>) -> (tensor<4x16xf32>, tensor<4x16xf32>) {
  %two = qllm.constant dense<2.0> : tensor<f32>
  %c = qllm.constant dense<1.0e-6> : tensor<f32>
  %0 = qllm.pow %x, %two : (tensor<4x16xf32>, tensor<f32>) -> tensor<4x16xf32>
  %1 = qllm.reduce_mean %0 axes = [0] keep_dims : tensor<4x16xf32> -> tensor<1x16xf32>
  %2 = qllm.add %1, %c : (tensor<1x16xf32>, tensor<f32>) -> tensor<1x16xf32>
  %3 = qllm.rsqrt %2 : tensor<1x16xf32>
  %4 = qllm.mul %x, %3 : (tensor<4x16xf32>, tensor<1x16xf32>) -> tensor<4x16xf32>
  %5 = qllm.mul %w, %4 : (tensor<16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %6 = qllm.reduce_mean %0 axes = [1] keep_dims : tensor<4x16xf32> -> tensor<4x1xf32>
  %7 = qllm.add %6, %eps : (tensor<4x1xf32>, tensor<f32>) -> tensor<4x1xf32>
  %8 = qllm.rsqrt %7 : tensor<4x1xf32>
  %9 = qllm.mul %x, %8 : (tensor<4x16xf32>, tensor<4x1xf32>) -> tensor<4x16xf32>
  %10 = qllm.mul %w, %9 : (tensor<16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  return %5, %10 : tensor<4x16xf32>, tensor<4x16xf32>
}

// -----

// torch.onnx.export's rsqrt: w * (x * (1 / sqrt(mean(x^2) + eps))), between
// float-to-float casts (transformers computes the norm in float32).
// CHECK-LABEL: func.func @torch_one_over_sqrt
// CHECK-SAME: (%[[X:.*]]: tensor<?x?x64xf32>, %[[W:.*]]: tensor<64xf32>)
// CHECK-NEXT: %[[N:.*]] = qllm.rms_norm %[[X]], %[[W]] {epsilon = 9.99999974E-6 : f32}
// CHECK-NEXT: return %[[N]]
func.func @torch_one_over_sqrt(%x: tensor<?x?x64xf32>, %w: tensor<64xf32>) -> tensor<?x?x64xf32> {
  %two = qllm.constant dense<2.0> : tensor<f32>
  %eps = qllm.constant dense<1.0e-5> : tensor<f32>
  %one = qllm.constant dense<1.0> : tensor<f32>
  %xf = qllm.cast %x : tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  %0 = qllm.pow %xf, %two : (tensor<?x?x64xf32>, tensor<f32>) -> tensor<?x?x64xf32>
  %1 = qllm.reduce_mean %0 axes = [2] keep_dims : tensor<?x?x64xf32> -> tensor<?x?x1xf32>
  %2 = qllm.add %1, %eps : (tensor<?x?x1xf32>, tensor<f32>) -> tensor<?x?x1xf32>
  %3 = qllm.sqrt %2 : tensor<?x?x1xf32>
  %4 = qllm.div %one, %3 : (tensor<f32>, tensor<?x?x1xf32>) -> tensor<?x?x1xf32>
  %5 = qllm.mul %xf, %4 : (tensor<?x?x64xf32>, tensor<?x?x1xf32>) -> tensor<?x?x64xf32>
  %6 = qllm.cast %5 : tensor<?x?x64xf32> -> tensor<?x?x64xf32>
  %7 = qllm.mul %w, %6 : (tensor<64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  return %7 : tensor<?x?x64xf32>
}

// -----

// 2 / sqrt(...) is not a normalization.
// CHECK-LABEL: func.func @two_over_sqrt
// CHECK-NOT: qllm.rms_norm
func.func @two_over_sqrt(%x: tensor<4x16xf32>, %w: tensor<16xf32>) -> tensor<4x16xf32> {
  %eps = qllm.constant dense<1.0e-5> : tensor<f32>
  %two = qllm.constant dense<2.0> : tensor<f32>
  %0 = qllm.mul %x, %x : (tensor<4x16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  %1 = qllm.reduce_mean %0 axes = [1] keep_dims : tensor<4x16xf32> -> tensor<4x1xf32>
  %2 = qllm.add %1, %eps : (tensor<4x1xf32>, tensor<f32>) -> tensor<4x1xf32>
  %3 = qllm.sqrt %2 : tensor<4x1xf32>
  %4 = qllm.div %two, %3 : (tensor<f32>, tensor<4x1xf32>) -> tensor<4x1xf32>
  %5 = qllm.mul %x, %4 : (tensor<4x16xf32>, tensor<4x1xf32>) -> tensor<4x16xf32>
  %6 = qllm.mul %w, %5 : (tensor<16xf32>, tensor<4x16xf32>) -> tensor<4x16xf32>
  return %6 : tensor<4x16xf32>
}
