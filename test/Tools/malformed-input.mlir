// Malformed input gives a located error and a non-zero exit, never a crash
// (`not` fails if quant-opt crashes instead of exiting with an error).
// RUN: split-file %s %t
// RUN: not quant-opt %t/unknown-op.mlir 2>&1 | FileCheck %s --check-prefix=UNKNOWN
// RUN: not quant-opt %t/truncated.mlir 2>&1 | FileCheck %s --check-prefix=TRUNCATED
// RUN: not quant-opt %t/bad-type.mlir 2>&1 | FileCheck %s --check-prefix=BADTYPE
// RUN: not quant-opt %t/bad-scheme.mlir 2>&1 | FileCheck %s --check-prefix=BADSCHEME
// RUN: not quant-opt %t/verifier.mlir 2>&1 | FileCheck %s --check-prefix=VERIFIER
// RUN: quant-opt %t/valid.mlir --emit-bytecode -o %t/full.mlirbc
// RUN: head -c 40 %t/full.mlirbc > %t/truncated.mlirbc
// RUN: not quant-opt %t/truncated.mlirbc 2>&1 | FileCheck %s --check-prefix=BYTECODE
// RUN: not quant-opt %t/does-not-exist.mlir 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: not quant-translate --weight-report %t/truncated.mlir 2>&1 | FileCheck %s --check-prefix=TRUNCATED

// UNKNOWN: unknown-op.mlir:2:8: error: custom op 'qllm.frobnicate' is unknown
// TRUNCATED: truncated.mlir:2:71: error: expected non-function type
// BADTYPE: bad-type.mlir:1:28: error: unknown type `blah` in dialect `qllm`
// BADSCHEME: bad-scheme.mlir:1:35: error: a quantized weight is a [rows, cols] matrix, got 1 dimensions
// VERIFIER: verifier.mlir:2:8: error: 'qllm.softmax' op axis 5 is out of range [0, 2)
// BYTECODE: truncated.mlirbc{{.*}}error:
// MISSING: cannot open input file '{{.*}}does-not-exist.mlir': No such file or directory

//--- unknown-op.mlir
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = qllm.frobnicate %x : tensor<4xf32>
  return %0 : tensor<4xf32>
}
//--- truncated.mlir
func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = qllm.rms_norm %x, %x {epsilon = 1.0e-5 : f32} : (tensor<4xf32>, tens
//--- bad-type.mlir
func.func private @f(!qllm.blah<4>)
//--- bad-scheme.mlir
func.func private @f(!qllm.qtensor<4, #qllm.nf4<>>)
//--- verifier.mlir
func.func @f(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %0 = qllm.softmax %x axis = 5 : tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}
//--- valid.mlir
func.func @f(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %0 = qllm.softmax %x axis = 1 : tensor<2x4xf32>
  return %0 : tensor<2x4xf32>
}
