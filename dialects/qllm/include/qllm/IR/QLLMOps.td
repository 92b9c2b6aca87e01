//===- QLLMOps.td - qllm operations ------------------------*- tablegen -*-===//

#ifndef QLLM_OPS_TD
#define QLLM_OPS_TD

include "qllm/IR/QLLMDialect.td"
include "qllm/IR/QLLMAttrs.td"
include "qllm/IR/QLLMTypes.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/IR/CommonAttrConstraints.td"
include "mlir/IR/CommonTypeConstraints.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

//===----------------------------------------------------------------------===//
// Type constraints
//===----------------------------------------------------------------------===//

def QLLM_FloatTensor : RankedTensorOf<[F32, F16, BF16]>;
def QLLM_IndexTensor : RankedTensorOf<[I64, I32]>;
def QLLM_NumericTensor : RankedTensorOf<[F32, F16, BF16, I64, I32]>;
def QLLM_BoolTensor : RankedTensorOf<[I1]>;
def QLLM_ComparableTensor : RankedTensorOf<[F32, F16, BF16, I64, I32, I1]>;
def QLLM_ShapeTensor : 1DTensorOf<[I64]>;
def QLLM_ScalarTensor : 0DTensorOf<[I64, I32, F32, F16, BF16]>;
def QLLM_QTensor : Type<CPred<"::llvm::isa<::mlir::qllm::QTensorType>($_self)">,
                        "quantized weight", "::mlir::qllm::QTensorType">;
def QLLM_WeightLike : AnyTypeOf<[QLLM_FloatTensor, QLLM_QTensor]>;

class QLLM_Op<string mnemonic, list<Trait> traits = []>
    : Op<QLLM_Dialect, mnemonic, traits>;

//===----------------------------------------------------------------------===//
// Constants and weights
//===----------------------------------------------------------------------===//

def QLLM_ConstantOp : QLLM_Op<"constant",
    [ConstantLike, Pure, AllTypesMatch<["value", "result"]>]> {
  let summary = "A small inline constant (shapes, indices, scalars)";
  let description = [{
    Holds inline `dense<...>` data, typically shape vectors and scalars from
    ONNX `Constant` nodes. Model weights are `qllm.weight` ops instead.

        %0 = qllm.constant dense<[1, 8]> : tensor<2xi64>
  }];
  let arguments = (ins ElementsAttr:$value);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "attr-dict $value";
  let hasFolder = 1;
  let hasVerifier = 1;
}

def QLLM_WeightOp : QLLM_Op<"weight",
    [Pure, AllTypesMatch<["value", "result"]>]> {
  let summary = "A named model weight stored as a resource blob";
  let description = [{
    A weight of the model, named as in the source model (the ONNX
    initializer's name). The data is a `dense_resource` blob, never inline
    `dense` data, so that large models stay workable; printing with
    `--mlir-elide-resource-strings-if-larger` elides the bytes. A blob may be
    absent (an elided or weightless module); when present its size must match
    the type.

        %w = qllm.weight "layers.0.attention.wq" = dense_resource<wq> : tensor<64x64xf32>
  }];
  let arguments = (ins StrAttr:$name, ElementsAttr:$value);
  let results = (outs AnyStaticShapeTensor:$result);
  let assemblyFormat = "$name `=` $value attr-dict";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Quantized weights
//===----------------------------------------------------------------------===//

def QLLM_QuantizedWeightOp : QLLM_Op<"quantized_weight",
    [Pure, AttrSizedOperandSegments]> {
  let summary = "Assembles a quantized weight from its component tensors";
  let description = [{
    Builds a `!qllm.qtensor` named `name` (the weight it replaces) from the
    tensors its scheme stores (usually `qllm.weight` values). The scheme and the [rows, cols] shape of the result
    type fix each component's shape and element type:

    - `data`: the packed codes, `tensor<rows x ceil(cols*bits/8) x ui8>`, a
      little-endian bit stream per row (for 4 bits, the first element of a
      pair is the low nibble);
    - `scales`: `tensor<rows x groups x scale_type>` (`ui8` codes for NF4 with
      double quantization);
    - `zero_points`: asymmetric `intq` only, packed like the data:
      `tensor<rows x ceil(groups*bits/8) x ui8>`;
    - `g_idx`: `act_order` only, `tensor<cols x i32>`, the group of each column;
    - `double_quant(scales, offset)`: NF4 with double quantization only,
      `tensor<ceil(rows*groups/double_quant_block_size) x f32>` and `tensor<f32>`.

    Example (int4, group 128, asymmetric, act order):

        %q = qllm.quantized_weight "layers.0.wq" data(%d : tensor<64x128xui8>)
               scales(%s : tensor<64x2xf16>) zero_points(%z : tensor<64x1xui8>)
               g_idx(%g : tensor<256xi32>)
               -> !qllm.qtensor<64x256, #qllm.intq<bits = 4, group_size = 128, act_order = true>>
  }];
  let arguments = (ins
    StrAttr:$name,
    AnyRankedTensor:$data,
    AnyRankedTensor:$scales,
    Optional<AnyRankedTensor>:$zero_points,
    Optional<AnyRankedTensor>:$g_idx,
    Optional<AnyRankedTensor>:$double_quant_scales,
    Optional<AnyRankedTensor>:$double_quant_offset
  );
  let results = (outs QLLM_QTensor:$result);
  let assemblyFormat = [{
    $name `data` `(` $data `:` type($data) `)`
    `scales` `(` $scales `:` type($scales) `)`
    (`zero_points` `(` $zero_points^ `:` type($zero_points) `)`)?
    (`g_idx` `(` $g_idx^ `:` type($g_idx) `)`)?
    (`double_quant` `(` $double_quant_scales^ `,` $double_quant_offset `:`
       type($double_quant_scales) `,` type($double_quant_offset) `)`)?
    attr-dict `->` qualified(type($result))
  }];
  let hasVerifier = 1;
}

def QLLM_DequantizeOp : QLLM_Op<"dequantize", [Pure]> {
  let summary = "Floating-point values of a quantized weight";
  let description = [{
    Materializes the weight as a [rows, cols] floating-point tensor. It is
    never constant-folded: folding would undo the quantization.
    `qllm-fuse-dequant-matmul` turns a dequantize feeding a matmul into
    `qllm.dequant_matmul`.
  }];
  let arguments = (ins QLLM_QTensor:$input);
  let results = (outs QLLM_FloatTensor:$result);
  let assemblyFormat =
      "$input attr-dict `:` qualified(type($input)) `->` type($result)";
  let hasVerifier = 1;
}

def QLLM_DequantMatmulOp : QLLM_Op<"dequant_matmul", [Pure]> {
  let summary = "Matmul with a quantized weight, dequantizing on the fly";
  let description = [{
    `result[..., n] = sum_k input[..., k] * dequantize(weight)[n, k]`: the
    input's last dimension is the weight's cols (K); the result replaces it
    with the weight's rows (N). Accumulates in f32.

    `outlier_threshold` (8-bit per-channel symmetric weights only) selects
    LLM.int8(): each row (token) of the input is quantized to 8 bits with
    its own absmax and multiplied with the 8-bit codes in integers, except
    the outlier columns (input columns where some |value| >= the threshold),
    which are multiplied in floating point with the dequantized weight
    columns. A threshold of 0 has no outlier columns (plain 8-bit
    activations).

    `int8_activations` (set by `qllm-select-kernels`, `activations=...`)
    lets the CPU round the input to 8 bits per block of 32 columns (scale
    max|x| / 127) and multiply it with the weight's integer codes (NF4 and
    FP4: round(2047 * value), scale absmax / 2047) by exact integer dot
    products. Only for weights
    the runtime has such kernels for (`qrt::int8ActivationsSupported`: 4 or
    8 bits, groups of 32, 64, a multiple of 128 or whole rows, no act
    order), and not with `outlier_threshold`.
  }];
  let arguments = (ins
    QLLM_FloatTensor:$input,
    QLLM_QTensor:$weight,
    OptionalAttr<F32Attr>:$outlier_threshold,
    UnitAttr:$int8_activations
  );
  let results = (outs QLLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:`
      `(` type($input) `,` qualified(type($weight)) `)` `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// LLM operations
//===----------------------------------------------------------------------===//

def QLLM_EmbeddingOp : QLLM_Op<"embedding", [Pure]> {
  let summary = "Token embedding lookup";
  let description = [{
    `result[i..., :] = table[indices[i...], :]` for a [vocab, dim] table,
    floating-point or quantized.

        %x = qllm.embedding %table[%ids] : (tensor<512x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  }];
  let arguments = (ins QLLM_WeightLike:$table, QLLM_IndexTensor:$indices);
  let results = (outs QLLM_FloatTensor:$result);
  let assemblyFormat = [{
    $table `[` $indices `]` attr-dict `:`
      `(` qualified(type($table)) `,` type($indices) `)` `->` type($result)
  }];
  let hasVerifier = 1;
}

def QLLM_RmsNormOp : QLLM_Op<"rms_norm", [Pure]> {
  let summary = "RMSNorm over the last dimension";
  let description = [{
    `result = input / sqrt(mean(input^2, last axis) + epsilon) * weight`,
    with the mean computed in f32.
  }];
  let arguments = (ins QLLM_FloatTensor:$input, QLLM_FloatTensor:$weight,
                       F32Attr:$epsilon);
  let results = (outs QLLM_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QLLM_RotaryOp : QLLM_Op<"rotary", [Pure, AttrSizedOperandSegments]> {
  let summary = "Rotary position embedding";
  let description = [{
    Rotates pairs of each head's first `rotary_dim` dimensions (all of them
    by default) by an angle `position * theta_i`; the rest pass through.
    `input` is [batch, seq, heads, head_dim], `positions` [batch or 1, seq].

    - `interleaved` pairs adjacent dimensions `(x[2i], x[2i+1])` (llama2.c,
      Meta's reference code);
    - `rotate_half` pairs `(x[i], x[i + rotary_dim/2])` (Hugging Face).

    The angles come either from `base`: `theta_i = base^(-2i/rotary_dim)`, or
    from `cache(cos, sin)` tables of [max_positions, rotary_dim/2] holding
    `cos(p * theta_i)` and `sin(p * theta_i)` (ONNX Runtime's RotaryEmbedding),
    which also expresses scaled variants. Exactly one of the two is given.

        %r = qllm.rotary interleaved %x, %pos {base = 1.0e+04 : f32}
               : (tensor<?x?x8x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8x8xf32>
  }];
  let arguments = (ins
    QLLM_RotaryConvention:$convention,
    QLLM_FloatTensor:$input,
    QLLM_IndexTensor:$positions,
    Optional<QLLM_FloatTensor>:$cos_cache,
    Optional<QLLM_FloatTensor>:$sin_cache,
    OptionalAttr<F32Attr>:$base,
    OptionalAttr<I64Attr>:$rotary_dim
  );
  let results = (outs QLLM_FloatTensor:$result);
  let assemblyFormat = [{
    $convention $input `,` $positions
      (`cache` `(` $cos_cache^ `,` $sin_cache `)`)?
      attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QLLM_AttentionOp : QLLM_Op<"attention", [Pure, AttrSizedOperandSegments]> {
  let summary = "Scaled dot-product attention with grouped KV heads and a KV cache";
  let description = [{
    `query` is [batch, seq, heads, head_dim]; `key` and `value` are
    [batch, seq, kv_heads, head_dim] for the new tokens. `heads` must be a
    multiple of `kv_heads`: query head h reads KV head h / (heads / kv_heads).

    With `past(past_key, past_value)`, [batch, kv_heads, past, head_dim]
    caches, the new keys and values are appended after them: the results
    `present_key` and `present_value` are [batch, kv_heads, past + seq,
    head_dim] and attention runs over all past + seq positions. Without a
    past, the presents hold the new keys and values alone.

    Scores are `scale * q.k` (`scale` defaults to 1/sqrt(head_dim)). With
    `causal`, query i (at absolute position past + i) sees keys 0..past+i.
    `mask(m)` is a [batch, past + seq] padding mask (nonzero keeps a key);
    `bias(b)` is an additive float bias broadcastable to [batch, heads, seq,
    past + seq]. Softmax runs in f32. `output` is [batch, seq, heads, v_dim].
  }];
  let arguments = (ins
    QLLM_FloatTensor:$query,
    QLLM_FloatTensor:$key,
    QLLM_FloatTensor:$value,
    Optional<QLLM_FloatTensor>:$past_key,
    Optional<QLLM_FloatTensor>:$past_value,
    Optional<RankedTensorOf<[I64, I32, I1]>>:$attention_mask,
    Optional<QLLM_FloatTensor>:$attention_bias,
    OptionalAttr<F32Attr>:$scale,
    UnitAttr:$causal
  );
  let results = (outs
    QLLM_FloatTensor:$output,
    QLLM_FloatTensor:$present_key,
    QLLM_FloatTensor:$present_value
  );
  let assemblyFormat = [{
    $query `,` $key `,` $value
      (`past` `(` $past_key^ `,` $past_value `)`)?
      (`mask` `(` $attention_mask^ `)`)?
      (`bias` `(` $attention_bias^ `)`)?
      (`causal` $causal^)?
      attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QLLM_SwiGluOp : QLLM_Op<"swiglu", [Pure, SameOperandsAndResultType]> {
  let summary = "SwiGLU gate: silu(gate) * up";
  let arguments = (ins QLLM_FloatTensor:$gate, QLLM_FloatTensor:$up);
  let results = (outs QLLM_FloatTensor:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($result)";
}

def QLLM_MatmulOp : QLLM_Op<"matmul", [Pure]> {
  let summary = "Batched matrix multiplication";
  let description = [{
    ONNX `MatMul` semantics on operands of rank >= 2: the last two dimensions
    are multiplied, leading (batch) dimensions broadcast. With
    `transpose_rhs`, the rhs's last two dimensions are swapped first, so a
    [N, K] weight (a `Linear` layer's layout) multiplies [..., K]
    activations. Accumulates in f32.
  }];
  let arguments = (ins QLLM_FloatTensor:$lhs, QLLM_FloatTensor:$rhs,
                       UnitAttr:$transpose_rhs);
  let results = (outs QLLM_FloatTensor:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs (`transpose_rhs` $transpose_rhs^)? attr-dict `:`
      functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// Tensor parallelism
//===----------------------------------------------------------------------===//

def QLLM_AllReduceOp : QLLM_Op<"all_reduce", [SameOperandsAndResultType]> {
  let summary = "Sum of a value over every rank of a tensor-parallel plan";
  let description = [{
    After a row-parallel matmul (`qllm-shard-tensor-parallel`), each rank
    holds a partial product over its slice of the reduction dimension; the
    result is their sum, the same on every rank. Not `Pure`: it
    communicates, and every rank must run it in the same order.
  }];
  let arguments = (ins QLLM_FloatTensor:$input);
  let results = (outs QLLM_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def QLLM_AllGatherOp : QLLM_Op<"all_gather", []> {
  let summary = "The last dimension of every rank's value, concatenated";
  let description = [{
    `result[..., r * n + j] = input of rank r [..., j]` for the
    `world_size` ranks (input [..., n] on each), cut to the result's last
    dimension m, (world_size - 1) * n < m <= world_size * n: a
    column-parallel matmul's outputs (the vocabulary, split into parts
    padded to one size) made whole on every rank.
  }];
  let arguments = (ins QLLM_FloatTensor:$input, I64Attr:$world_size);
  let results = (outs QLLM_FloatTensor:$result);
  let assemblyFormat =
      "$input attr-dict `:` functional-type(operands, results)";
  let hasVerifier = 1;
}

def QLLM_SoftmaxOp : QLLM_Op<"softmax", [Pure, SameOperandsAndResultType]> {
  let summary = "Softmax along one axis";
  let arguments = (ins QLLM_FloatTensor:$input, I64Attr:$axis);
  let results = (outs QLLM_FloatTensor:$result);
  let assemblyFormat = "$input `axis` `=` $axis attr-dict `:` type($result)";
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise operations
//===----------------------------------------------------------------------===//

class QLLM_UnaryOp<string mnemonic, Type tensorType, string formula>
    : QLLM_Op<mnemonic, [Pure, Elementwise, SameOperandsAndResultType]> {
  let summary = "Elementwise " # formula;
  let arguments = (ins tensorType:$input);
  let results = (outs tensorType:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
}

def QLLM_NegOp : QLLM_UnaryOp<"neg", QLLM_NumericTensor, "-x">;
def QLLM_SqrtOp : QLLM_UnaryOp<"sqrt", QLLM_FloatTensor, "sqrt(x)">;
def QLLM_RsqrtOp : QLLM_UnaryOp<"rsqrt", QLLM_FloatTensor, "1 / sqrt(x)">;
def QLLM_ReciprocalOp : QLLM_UnaryOp<"reciprocal", QLLM_FloatTensor, "1 / x">;
def QLLM_ExpOp : QLLM_UnaryOp<"exp", QLLM_FloatTensor, "exp(x)">;
def QLLM_LogOp : QLLM_UnaryOp<"log", QLLM_FloatTensor, "log(x)">;
def QLLM_CosOp : QLLM_UnaryOp<"cos", QLLM_FloatTensor, "cos(x)">;
def QLLM_SinOp : QLLM_UnaryOp<"sin", QLLM_FloatTensor, "sin(x)">;
def QLLM_SigmoidOp : QLLM_UnaryOp<"sigmoid", QLLM_FloatTensor, "1 / (1 + exp(-x))">;
def QLLM_TanhOp : QLLM_UnaryOp<"tanh", QLLM_FloatTensor, "tanh(x)">;
def QLLM_SiluOp : QLLM_UnaryOp<"silu", QLLM_FloatTensor, "x * sigmoid(x)">;

class QLLM_BinaryOp<string mnemonic, Type tensorType, string formula>
    : QLLM_Op<mnemonic, [Pure, ResultsBroadcastableShape,
                         SameOperandsAndResultElementType]> {
  let summary = "Elementwise " # formula # " with broadcasting";
  let description = [{
    Operands broadcast as in NumPy and ONNX: shapes are aligned at their last
    dimension and a dimension of 1 stretches to the other's size.
  }];
  let arguments = (ins tensorType:$lhs, tensorType:$rhs);
  let results = (outs tensorType:$result);
  let assemblyFormat = [{
    $lhs `,` $rhs attr-dict `:` functional-type(operands, results)
  }];
  let hasFolder = 1;
}

def QLLM_AddOp : QLLM_BinaryOp<"add", QLLM_NumericTensor, "lhs + rhs">;
def QLLM_SubOp : QLLM_BinaryOp<"sub", QLLM_NumericTensor, "lhs - rhs">;
def QLLM_MulOp : QLLM_BinaryOp<"mul", QLLM_NumericTensor, "lhs * rhs">;
def QLLM_DivOp : QLLM_BinaryOp<"div", QLLM_NumericTensor, "lhs / rhs">;
def QLLM_PowOp : QLLM_BinaryOp<"pow", QLLM_FloatTensor, "lhs ^ rhs">;
def QLLM_MaximumOp : QLLM_BinaryOp<"maximum", QLLM_NumericTensor, "max(lhs, rhs)">;
def QLLM_MinimumOp : QLLM_BinaryOp<"minimum", QLLM_NumericTensor, "min(lhs, rhs)">;

def QLLM_CompareOp : QLLM_Op<"compare",
    [Pure, ResultsBroadcastableShape, SameOperandsElementType]> {
  let summary = "Elementwise comparison with broadcasting, giving i1";
  let arguments = (ins QLLM_ComparePredicate:$predicate,
                       QLLM_ComparableTensor:$lhs, QLLM_ComparableTensor:$rhs);
  let results = (outs QLLM_BoolTensor:$result);
  let assemblyFormat = [{
    $predicate `,` $lhs `,` $rhs attr-dict `:` functional-type(operands, results)
  }];
}

def QLLM_SelectOp : QLLM_Op<"select", [Pure, ResultsBroadcastableShape]> {
  let summary = "Elementwise choice: condition ? on_true : on_false (ONNX Where)";
  let arguments = (ins QLLM_BoolTensor:$condition, AnyRankedTensor:$on_true,
                       AnyRankedTensor:$on_false);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $condition `,` $on_true `,` $on_false attr-dict `:`
      functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QLLM_CastOp : QLLM_Op<"cast", [Pure, SameOperandsAndResultShape]> {
  let summary = "Elementwise conversion of the element type";
  let description = [{
    Floats round to nearest even, floats to integers truncate toward zero,
    integers to i1 test for nonzero.
  }];
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
}

//===----------------------------------------------------------------------===//
// Reductions
//===----------------------------------------------------------------------===//

class QLLM_ReduceOp<string mnemonic, string what>
    : QLLM_Op<mnemonic, [Pure, SameOperandsAndResultElementType]> {
  let summary = "The " # what # " over some axes";
  let description = [{
    Reduces over `axes` (distinct, in [0, rank)). With `keep_dims` the reduced
    dimensions stay as size 1, otherwise they are dropped.
  }];
  let arguments = (ins QLLM_NumericTensor:$input, DenseI64ArrayAttr:$axes,
                       UnitAttr:$keep_dims);
  let results = (outs QLLM_NumericTensor:$result);
  let assemblyFormat = [{
    $input `axes` `=` $axes (`keep_dims` $keep_dims^)? attr-dict `:`
      type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

def QLLM_ReduceMeanOp : QLLM_ReduceOp<"reduce_mean", "mean">;
def QLLM_ReduceSumOp : QLLM_ReduceOp<"reduce_sum", "sum">;
def QLLM_ReduceMaxOp : QLLM_ReduceOp<"reduce_max", "maximum">;

//===----------------------------------------------------------------------===//
// Shape and data movement
//===----------------------------------------------------------------------===//

def QLLM_ReshapeOp : QLLM_Op<"reshape", [Pure]> {
  let summary = "Reshape to a static type, or to a runtime shape";
  let description = [{
    Without `shape`, the result type must be static, with the same number of
    elements as the input. With a `shape` operand (a 1-D i64 tensor of the
    result's rank, ONNX `Reshape` semantics): an entry 0 copies the input's
    dimension at that index and one entry -1 is inferred from the element
    count.
  }];
  let arguments = (ins AnyRankedTensor:$input, Optional<QLLM_ShapeTensor>:$shape);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input (`,` $shape^)? attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def QLLM_UnsqueezeOp : QLLM_Op<"unsqueeze", [Pure, SameOperandsAndResultElementType]> {
  let summary = "Inserts dimensions of size 1";
  let description = [{
    `axes` are distinct positions in the result, in [0, result rank).
  }];
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$axes);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `axes` `=` $axes attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
  let hasFolder = 1;
}

def QLLM_SqueezeOp : QLLM_Op<"squeeze", [Pure, SameOperandsAndResultElementType]> {
  let summary = "Removes dimensions of size 1";
  let description = [{
    `axes` are distinct positions in the input, in [0, input rank); each of
    those dimensions must be 1 (or dynamic, then 1 at run time).
  }];
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$axes);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `axes` `=` $axes attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
  let hasFolder = 1;
}

def QLLM_TransposeOp : QLLM_Op<"transpose", [Pure, SameOperandsAndResultElementType]> {
  let summary = "Permutes dimensions";
  let description = [{
    `result.dim(i) = input.dim(permutation[i])`.
  }];
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$permutation);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input $permutation attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def QLLM_ConcatOp : QLLM_Op<"concat", [Pure, SameOperandsAndResultElementType]> {
  let summary = "Concatenates tensors along one axis";
  let arguments = (ins Variadic<AnyRankedTensor>:$inputs, I64Attr:$axis);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $inputs `axis` `=` $axis attr-dict `:` functional-type($inputs, $result)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def QLLM_SliceOp : QLLM_Op<"slice", [Pure, SameOperandsAndResultElementType]> {
  let summary = "Strided slice (ONNX Slice semantics)";
  let description = [{
    For each `axes[i]`, takes `starts[i]`, `starts[i] + steps[i]`, ... up to
    (excluding) `ends[i]`. Negative starts and ends count from the end of the
    dimension; both are clamped to the dimension (so `ends = INT64_MAX` means
    "to the end"). Steps are nonzero and may be negative.
  }];
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$axes,
                       DenseI64ArrayAttr:$starts, DenseI64ArrayAttr:$ends,
                       DenseI64ArrayAttr:$steps);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `axes` `=` $axes `starts` `=` $starts `ends` `=` $ends
      `steps` `=` $steps attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The first index ONNX Slice semantics read along a dimension of size
    /// `dim` (negative starts count from the end, then clamp).
    static int64_t getStartIndex(int64_t dim, int64_t start, int64_t step);
    /// Elements that ONNX Slice semantics select along a static dimension.
    static int64_t getResultDimSize(int64_t dim, int64_t start, int64_t end,
                                    int64_t step);
  }];
  let hasFolder = 1;
}

def QLLM_DynamicSliceOp : QLLM_Op<"dynamic_slice", [Pure]> {
  let summary = "Slice whose starts and ends are computed at run time";
  let description = [{
    ONNX Slice semantics (see `qllm.slice`) with `starts` and `ends` given as
    1-D integer tensors, one entry per `axes` entry: what torch's exporter
    writes for `table[:seq_len]` with a sequence length read from a shape.
    Sliced dimensions are dynamic in the result; once both bounds are
    constants it canonicalizes to `qllm.slice`.
  }];
  let arguments = (ins AnyRankedTensor:$input,
                       RankedTensorOf<[I64, I32]>:$starts,
                       RankedTensorOf<[I64, I32]>:$ends,
                       DenseI64ArrayAttr:$axes, DenseI64ArrayAttr:$steps);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `[` $starts `:` $ends `]` `axes` `=` $axes `steps` `=` $steps
      attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

def QLLM_SplitOp : QLLM_Op<"split", [Pure, SameOperandsAndResultElementType]> {
  let summary = "Splits a tensor into parts along one axis";
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$axis,
                       DenseI64ArrayAttr:$sizes);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = [{
    $input `axis` `=` $axis `sizes` `=` $sizes attr-dict `:`
      type($input) `->` type($results)
  }];
  let hasVerifier = 1;
}

def QLLM_GatherOp : QLLM_Op<"gather", [Pure]> {
  let summary = "Gathers slices along one axis (ONNX Gather)";
  let description = [{
    The result's shape is `data.shape[:axis] + indices.shape +
    data.shape[axis+1:]`; a negative index counts from the end.
  }];
  let arguments = (ins AnyRankedTensor:$data, QLLM_IndexTensor:$indices,
                       I64Attr:$axis);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $data `[` $indices `]` `axis` `=` $axis attr-dict `:`
      functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def QLLM_ExpandOp : QLLM_Op<"expand", [Pure]> {
  let summary = "Broadcasts to a runtime shape (ONNX Expand)";
  let arguments = (ins AnyRankedTensor:$input, QLLM_ShapeTensor:$shape);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` $shape attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

def QLLM_TileOp : QLLM_Op<"tile", [Pure]> {
  let summary = "Repeats a tensor along each dimension (ONNX Tile)";
  let arguments = (ins AnyRankedTensor:$input, QLLM_ShapeTensor:$repeats);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` $repeats attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def QLLM_ShapeOfOp : QLLM_Op<"shape_of", [Pure]> {
  let summary = "The shape of a tensor as a 1-D i64 tensor";
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs QLLM_ShapeTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def QLLM_FillOp : QLLM_Op<"fill", [Pure]> {
  let summary = "A tensor of a runtime shape filled with one value (ONNX ConstantOfShape)";
  let arguments = (ins QLLM_ShapeTensor:$shape, TypedAttrInterface:$value);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $shape `,` $value attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def QLLM_RangeOp : QLLM_Op<"range", [Pure, SameTypeOperands]> {
  let summary = "start, start + delta, ... up to (excluding) limit (ONNX Range)";
  let arguments = (ins QLLM_ScalarTensor:$start, QLLM_ScalarTensor:$limit,
                       QLLM_ScalarTensor:$delta);
  let results = (outs 1DTensorOf<[I64, I32, F32, F16, BF16]>:$result);
  let assemblyFormat = [{
    $start `,` $limit `,` $delta attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let hasFolder = 1;
}

def QLLM_TriluOp : QLLM_Op<"trilu", [Pure, SameOperandsAndResultType]> {
  let summary = "Keeps the upper or lower triangle of the last two dimensions";
  let description = [{
    With `upper`, keeps elements with `col - row >= diagonal`, otherwise those
    with `col - row <= diagonal`; the rest become zero (ONNX Trilu).
  }];
  let arguments = (ins AnyRankedTensor:$input, UnitAttr:$upper,
                       DefaultValuedAttr<I64Attr, "0">:$diagonal);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input (`upper` $upper^)? `diagonal` `=` $diagonal attr-dict `:` type($result)
  }];
  let hasVerifier = 1;
}

def QLLM_ScatterNdOp : QLLM_Op<"scatter_nd", [Pure]> {
  let summary = "A copy of data with slices replaced by updates (ONNX ScatterND)";
  let description = [{
    `indices` is [..., k]: each index tuple (its last dimension) addresses a
    slice data[i0, ..., ik-1, :, ...]; the result is `data` with those slices
    replaced by the matching slices of `updates` ([indices.shape[:-1],
    data.shape[k:]]). Without reduction: duplicate indices are undefined
    (ONNX), the last write wins here. What torch's exporter writes for a
    slice assignment `x[..., :n] = y`.
  }];
  let arguments = (ins AnyRankedTensor:$data,
                       RankedTensorOf<[I64, I32]>:$indices,
                       AnyRankedTensor:$updates);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $data `[` $indices `]` `,` $updates attr-dict `:`
      functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

#endif // QLLM_OPS_TD
