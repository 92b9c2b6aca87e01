#!/usr/bin/python3
"""Test-fixture ONNX graphs of a trained llama2.c checkpoint (stories260K) in the forms that
other exporters write (a fixture writer; weights inline in the .onnx, ~1 MB for stories260K).

    onnx_variants.py CHECKPOINT --variant NAME -o OUT.onnx [--pad-head-dim D] [--check]

prints `wrote OUT (variant NAME, N nodes)`; N counts the nodes of every graph, If branches
included. --check then reads OUT back and dequantizes its quantized weights with numpy, from the
operator specifications below, and prints one line per quantized weight with the largest error
against the checkpoint's float32 weight in units of half a quantization step (<= 1 passes); the
exit status is 1 if any is above.

The model math is the shared data README's (../shared/data/README.md): RMSNorm eps 1e-5, rotary
over adjacent pairs (x[2i], x[2i+1]) by pos * 10000^(-2i/head_dim) (Meta's interleaved
convention), grouped-query attention, SwiGLU FFN, shared classifier. Checkpoint projections are
[out, in]; every graph multiplies MatMul(x, W) with W = [in, out] = [K, N].

Variants
--------
gqa-packed
    ONNX Runtime GenAI model-builder layout (its builder.py for CPU fp32; opset 14 + com.microsoft
    1, IR 7; node names /model/layers.{i}/attn/..., outputs {node}/output_0, Constant nodes
    /model/constants/...): inputs input_ids, attention_mask, past_key_values.{i}.key/value
    [batch, kv_heads, past, head_dim] (no position_ids: GroupQueryAttention rotates itself),
    outputs logits, present.{i}.key/value.
    * attention_mask -> ReduceSum(axes [1], keepdims 0) -> Sub 1 -> Cast int32 = seqlens_k [batch];
      Shape(attention_mask) -> Gather 1 -> Cast int32 = total_sequence_length (scalar). The GQA
      spec: seqlens_k "1D Tensor of shape (batch_size). Equivalent to (total_sequence_lengths -
      1)"; total_sequence_length "Scalar tensor equivalent to the maximum total sequence length
      (past + new) of the batch". (The model builder leaves ReduceSum's keepdims at 1, which gives
      [batch, 1]; ORT accepts that too, but the spec says 1-D, so this writes [batch].)
    * layer 0's input norm is SimplifiedLayerNormalization (default ai.onnx domain, as ORT
      registers it and the builder writes it; axis -1, stash_type 1); every later norm is
      com.microsoft SkipSimplifiedLayerNormalization(input, skip, gamma) whose output 3
      (input_skip_bias_sum, "Sum of the input and skip inputs") carries the residual stream; the
      final norm is one more SkipSimplifiedLayerNormalization with output 0 only.
    * ONE packed MatMul qkv_proj, W = [dim, dim + 2 kv_dim] (q columns, then k, then v), feeding
      GroupQueryAttention's `query` with `key`/`value` left empty: "Query with shape (batch_size,
      sequence_length, hidden_size), or packed QKV with shape (batch_size, sequence_length, d)
      where d is (num_heads * head_size + 2 * kv_num_heads * head_size)". do_rotary 1 with
      cos_cache/sin_cache initializers "2D tensor with shape (max_sequence_length, head_size /
      2)" (cos/sin of pos * inv_freq[i], pos < 512).
    * rotary_interleaved 1 ("Rotate using interleaved pattern"): ORT's rotary kernel then rotates
      pairs (x[2i], x[2i+1]) by cache column i, which is llama2.c's convention, so the
      checkpoint's wq/wk rows are used as stored. (The model builder writes rotary_interleaved 0
      for Hugging Face weights, whose q/k rows were permuted to rotate-half order by the HF
      converter; either choice computes the same model.)
    * MLP: gate MatMul -> Sigmoid -> Mul(gate, Sigmoid) (SiLU) ; up MatMul ; Mul ; down MatMul.
      Final norm, lm_head MatMul -> logits.
    * ONNX Runtime's GroupQueryAttention kernels refuse rotary caches unless head_size is a
      multiple of 16 ("head_size shall be a multiple of 16", and cos_cache's dimension 1 a
      multiple of 8): a restriction of the implementation, not of the spec, which stories260K's
      head_dim 8 hits. The default output keeps head_dim 8 (what the spec and the model say);
      --pad-head-dim 16 writes the same model with every q/k/v head zero-padded to 16 dimensions
      (zero qkv columns, zero o_proj rows, padded rotary pairs at angle 0, `scale` still
      1/sqrt(8), caches [batch, kv_heads, T, 16]), which ONNX Runtime runs and which computes the
      same logits. (With int4 the padded o_proj's blocks of 32 hold 16 real rows, so its
      quantization differs from the unpadded fixture's.)
gqa-packed-int4
    gqa-packed with qkv, o, gate, up and down as com.microsoft MatMulNBits (bits 4, block_size 32,
    accuracy_level 4, K, N; named {MatMul}_Q4 with {weight}_Q4 / _scales / _zero_points, as ORT's
    MatMul4BitsQuantizer names them); lm_head stays fp32. The MatMulNBits spec: B "Packed uint8
    tensor of shape (N, k_blocks, blob_size), where k_blocks = ceil(K / block_size) and blob_size
    = (block_size * bits / 8)", "for 4 bits, the first 4 bits are stored in the lower 4 bits of a
    byte"; scales (N, k_blocks); zero_points "Packed (uint8) format has shape (N, ceil(k_blocks *
    bits / 8)), and it uses same bit-packing method as Input B"; dequantized = (q - zp) * scale.
    Since B always holds whole blocks, a K that is not a multiple of 32 (stories260K's down
    projection, K = 172: 6 blocks, the last holding 12 real rows) is padded: like ORT's quantizer
    (which np.pad's the weight with zeros to k_blocks * block_size rows) the padding is zeros,
    so the padding codes equal the block's zero point. Quantization is round-to-nearest
    asymmetric per block of 32 along K with the range widened to include 0 (as ORT's does):
    scale = (max - min) / 15, zp = rint(-min / scale), q = clip(rint(w / scale + zp), 0, 15).
optimum-merged
    Hugging Face optimum's older decoder_model_merged.onnx: inputs input_ids, attention_mask,
    position_ids, past_key_values.{i}.key/value, use_cache_branch (bool [1], as optimum declares
    it); one If(use_cache_branch) whose then_branch is the with-past decoder and else_branch the
    no-past decoder, both torch.onnx.export graphs (opset 14) of hf_llama_torch.py's
    Hugging Face-style model with the SAME weights. The no-past decoder is exported here with its
    present.* outputs (optimum's decoder_model.onnx has them: the new keys/values), through a
    small wrapper around hf_llama_torch's classes. Branch node names and outputs are prefixed
    (with_past/, no_past/) to keep them unique; all initializers move to the outer graph, those
    with equal contents merged into one, and both branches read them from the outer scope (ONNX
    If: then_branch "Has N outputs: values you wish to be live-out to the enclosing scope. The
    number of outputs must match the number of outputs in the else_branch"; subgraphs may read
    outer-scope values). Nested If nodes of the torch exports are renamed the same way. The
    no-past branch ignores position_ids and the past inputs (the caller feeds zero-length pasts
    there).
qdq-int8
    opset 13 (IR 7), this project's llama2c layout (python/llama2c_to_onnx.py's default
    interface: input_ids, attention_mask, position_ids, past_key_values.* -> logits, present.*;
    rotate_half rotary with wq/wk rows permuted per head like Hugging Face's converter; RMSNorm
    from Pow/ReduceMean/Add/Sqrt/Reciprocal/Mul; causal + padding mask; KV concat; repeat_kv by
    Unsqueeze/Expand/Reshape; SwiGLU), built here, with every projection weight a
    DequantizeLinear(quantized initializer, scale, zero point) feeding the MatMul
    ("y = (x - x_zero_point) * x_scale"): q/k/v/o per-axis symmetric int8 (axis 1 of [K, N],
    scale and int8 zero point (zeros) of shape [N]: "for per per-axis dequantization it is a 1-D
    Tensor"; scale = max|w| / 127 per column, codes in [-127, 127]), gate/up/down per-tensor uint8
    (scalar scale and uint8 zero point, range widened to include 0, scale = (max - min) / 255).
    lm_head stays fp32.
qdq-int4-blocked
    qdq-int8's graph at opset 21 (IR 10; ReduceMean takes axes as an input from opset 18) with
    every projection weight int4 (TensorProto INT4 = 22, signed), DequantizeLinear axis 0,
    block_size 32 (blocks along K), scale [ceil(K / 32), N], no zero point ("Zero point is 0 when
    it's not specified"); symmetric, scale = max|w| / 7 per block, codes in [-7, 7]. Two codes per
    byte in raw_data, row-major over [K, N] (an even count here; onnx.proto: "uint4 and int4
    values must be packed to 4bitx2, the first element is stored in the 4 LSB and the second
    element is stored in the 4 MSB"). The spec's blocked
    granularity: y_scale shape "(D0, ..., ceil(Di/B), ..., Dn)" and block_size's "accepted range
    is [ceil(Di/Si), ceil(Di/(Si-1))-1]": the int4 tensor keeps its real K (172 for the down
    projection, no padding) and its last block is partial: rows 160..171 read scale row 5
    (k // block_size). 172 / 6 gives the range [29, 34], so 32 is valid. onnx 1.12 does not know
    INT4 or opset 21: the tensors are built field by field and the checker is not run for this
    variant.

The gqa variants use contrib ops in the default domain (SimplifiedLayerNormalization), which
onnx's checker rejects, so the checker runs for qdq-int8 and optimum-merged only. Every variant
decodes with test/e2e/ort_generate.js (onnxruntime-node), the gqa ones with --pad-head-dim 16 and
--head-dim 16 there (see above).
"""

import argparse
import collections
import math
import os
import sys
import tempfile
import warnings

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama2c_numpy import Checkpoint, InputError  # noqa: E402

F32 = np.float32
VARIANTS = ("gqa-packed", "gqa-packed-int4", "optimum-merged", "qdq-int8", "qdq-int4-blocked")
RMS_EPS = 1e-5
ROPE_BASE = 10000.0
INT4 = 22   # TensorProto.INT4 (onnx >= 1.16); onnx 1.12 has no enum name for it
BLOCK = 32


# ------------------------------------------------------------------------------------------------
# Checkpoint weights in the graphs' [K, N] = [in, out] layout.

def kn(w):
    """A llama2.c projection [out, in] as the MatMul weight [in, out]."""
    return np.ascontiguousarray(np.asarray(w, dtype=F32).T)


def inv_freq(head_dim):
    """10000^(-2i/head_dim) in float32, as llama2.c (and the numpy reference) compute it."""
    return (F32(1.0) / np.power(F32(ROPE_BASE), np.arange(0, head_dim, 2, dtype=F32)
                                / F32(head_dim))).astype(F32)


def rotate_half_order(w, n_heads):
    """Rows of a q/k projection [heads * hd, in] reordered from adjacent pairs to halves: within
    each head, new row j * hd/2 + i is old row 2i + j, so that rotate-half rotary on the new rows
    equals adjacent-pair rotary on the old ones."""
    out_dim, in_dim = w.shape
    hd = out_dim // n_heads
    return w.reshape(n_heads, hd // 2, 2, in_dim).transpose(0, 2, 1, 3).reshape(out_dim, in_dim)


# ------------------------------------------------------------------------------------------------
# Quantizers (numpy, round to nearest even) and their spec dequantizers (for --check).

def quant_asym(w, levels):
    """Asymmetric round-to-nearest, one group per slice along the last axis: returns (codes in
    [0, levels], scale, zero point), the range [min, max] widened to include 0 so that the zero
    point is a code and 0 is exact; |w - (q - zp) * scale| <= scale / 2."""
    lo = np.minimum(w.min(axis=-1, keepdims=True), 0).astype(np.float64)
    hi = np.maximum(w.max(axis=-1, keepdims=True), 0).astype(np.float64)
    scale = ((hi - lo) / levels).astype(F32)
    s = scale.astype(np.float64)
    safe = np.where(s > 0, s, 1.0)
    zp = np.where(s > 0, np.clip(np.rint(-lo / safe), 0, levels), 0)
    q = np.where(s > 0, np.clip(np.rint(w / safe + zp), 0, levels), zp)
    return q.astype(np.int64), scale, zp.astype(np.int64)


def quant_sym(w, qmax):
    """Symmetric round-to-nearest over the last axis: scale = max|w| / qmax, codes in
    [-qmax, qmax]."""
    scale = (np.abs(w).max(axis=-1, keepdims=True).astype(np.float64) / qmax).astype(F32)
    s = scale.astype(np.float64)
    safe = np.where(s > 0, s, 1.0)
    q = np.where(s > 0, np.clip(np.rint(w / safe), -qmax, qmax), 0)
    return q.astype(np.int64), scale


def pack_nibbles(codes):
    """Flat 4-bit codes (signed or unsigned ints) -> bytes, two a byte, the first in the low
    nibble; an odd count leaves the last high nibble 0."""
    codes = np.asarray(codes, dtype=np.int64).reshape(-1) & 0xF
    if codes.size % 2:
        codes = np.append(codes, 0)
    return (codes[0::2] | (codes[1::2] << 4)).astype(np.uint8)


def unpack_nibbles(packed, count, signed):
    packed = np.asarray(packed, dtype=np.uint8).reshape(-1)
    codes = np.empty(packed.size * 2, dtype=np.int64)
    codes[0::2] = packed & 0xF
    codes[1::2] = packed >> 4
    codes = codes[:count]
    return np.where(codes >= 8, codes - 16, codes) if signed else codes


def matmul_nbits_quantize(w_kn, block=BLOCK):
    """MatMulNBits (bits 4) inputs for W [K, N]: B [N, k_blocks, block/2] uint8, scales
    [N, k_blocks] float32, zero_points [N, ceil(k_blocks / 2)] uint8. K is zero-padded to whole
    blocks (as ORT's quantizer does)."""
    k, n = w_kn.shape
    k_blocks = -(-k // block)
    padded = np.zeros((n, k_blocks * block), dtype=F32)
    padded[:, :k] = w_kn.T
    blocks = padded.reshape(n, k_blocks, block)
    q, scale, zp = quant_asym(blocks, 15)
    b = pack_nibbles(q).reshape(n, k_blocks, block // 2)
    zp = zp.reshape(n, k_blocks)
    if k_blocks % 2:
        zp = np.concatenate([zp, np.zeros((n, 1), np.int64)], axis=1)
    zero_points = pack_nibbles(zp).reshape(n, -1)
    return b, scale.reshape(n, k_blocks), zero_points


def matmul_nbits_dequantize(b, scales, zero_points, k, n, block_size):
    """The MatMulNBits spec: W[k, n] = (q - zp) * scale of block k // block_size; [K, N]."""
    k_blocks = -(-k // block_size)
    q = unpack_nibbles(b, n * k_blocks * block_size, signed=False).reshape(n, k_blocks, block_size)
    zp = unpack_nibbles(zero_points, zero_points.size * 2, signed=False).reshape(n, -1)
    zp = zp[:, :k_blocks]
    w = (q - zp[:, :, None]).astype(F32) * scales.reshape(n, k_blocks)[:, :, None]
    steps = np.repeat(scales.reshape(n, k_blocks), block_size, axis=1)
    return w.reshape(n, -1)[:, :k].T, steps[:, :k].T


# ------------------------------------------------------------------------------------------------
# A small graph builder.

class Graph:
    def __init__(self):
        self.nodes = []
        self.initializers = []
        self.names = collections.Counter()
        self.constants = {}

    def op(self, op_type, inputs, scope="", name=None, outputs=None, domain=None, **attrs):
        """Appends a node; returns its output name (a list when `outputs` names several).
        Default name `{scope}/{op_type}` (`_1`, `_2`... on repeats), outputs `{name}/output_0`."""
        if name is None:
            base = "%s/%s" % (scope, op_type)
            count = self.names[base]
            self.names[base] += 1
            name = base if count == 0 else "%s_%d" % (base, count)
        if outputs is None:
            outputs = ["%s/output_0" % name]
        self.nodes.append(helper.make_node(op_type, inputs, outputs, name=name, domain=domain,
                                           **attrs))
        return outputs[0] if len(outputs) == 1 else outputs

    def const(self, value, dtype):
        """A Constant node (one per distinct value), as /model/constants/{dtype}/{shape}/{v}."""
        array = np.array(value, dtype=dtype)
        key = (array.dtype.str, array.shape, array.tobytes())
        if key not in self.constants:
            shape = "0D" if array.ndim == 0 else "%dD" % array.ndim
            text = ",".join(str(v) for v in array.reshape(-1).tolist())
            output = "/model/constants/%s/%s/%s" % (array.dtype.name.upper(), shape, text)
            self.nodes.append(helper.make_node(
                "Constant", [], [output], name=output.replace("constants", "constant_nodes"),
                value=numpy_helper.from_array(array, output.replace("constants", "numpy_helper"))))
            self.constants[key] = output
        return self.constants[key]

    def init(self, name, array):
        array = np.asarray(array)  # (np.ascontiguousarray would make a scalar 1-D)
        self.initializers.append(numpy_helper.from_array(
            array if array.flags.c_contiguous else array.copy(), name))
        return name

    def raw_init(self, name, data_type, dims, raw):
        """An initializer built field by field (for types onnx 1.12 does not know)."""
        tensor = TensorProto()
        tensor.name = name
        tensor.data_type = data_type
        tensor.dims.extend(dims)
        tensor.raw_data = bytes(raw)
        self.initializers.append(tensor)
        return name


def io_specs(ckpt, position_ids, head_dim=None):
    hd = head_dim or ckpt.head_size
    kv = lambda length: ["batch_size", ckpt.n_kv_heads, length, hd]  # noqa: E731
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64,
                                            ["batch_size", "sequence_length"]),
              helper.make_tensor_value_info("attention_mask", TensorProto.INT64,
                                            ["batch_size", "total_sequence_length"])]
    if position_ids:
        inputs.append(helper.make_tensor_value_info("position_ids", TensorProto.INT64,
                                                    ["batch_size", "sequence_length"]))
    outputs = [helper.make_tensor_value_info(
        "logits", TensorProto.FLOAT, ["batch_size", "sequence_length", ckpt.vocab_size])]
    for i in range(ckpt.n_layers):
        for part in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(
                "past_key_values.%d.%s" % (i, part), TensorProto.FLOAT,
                kv("past_sequence_length")))
            outputs.append(helper.make_tensor_value_info(
                "present.%d.%s" % (i, part), TensorProto.FLOAT, kv("total_sequence_length")))
    return inputs, outputs


# ------------------------------------------------------------------------------------------------
# gqa-packed / gqa-packed-int4: the ORT GenAI model builder's layout.

def pad_heads(w_kn, n_heads, head_dim, padded, axis):
    """Zero-pads every head of a [K, N] weight from head_dim to `padded` dimensions: axis 1 (the
    q/k/v outputs) or axis 0 (o_proj's inputs)."""
    if padded == head_dim:
        return w_kn
    w = w_kn if axis == 1 else w_kn.T
    k = w.shape[0]
    out = np.zeros((k, n_heads, padded), F32)
    out[:, :, :head_dim] = w.reshape(k, n_heads, head_dim)
    out = out.reshape(k, n_heads * padded)
    return np.ascontiguousarray(out if axis == 1 else out.T)


def build_gqa(ckpt, int4, pad_head_dim=None):
    g = Graph()
    c = ckpt
    hd = c.head_size
    hp = pad_head_dim or hd  # the head size the graph declares (see --pad-head-dim)
    originals = {}  # quantized weight name -> float32 [K, N] original

    def matmul(basename, x, w_kn):
        weight = basename[1:].replace("/", ".") + ".weight"
        k, n = w_kn.shape
        if not int4:
            return g.op("MatMul", [x, g.init(weight, w_kn)], name=basename)
        b, scales, zero_points = matmul_nbits_quantize(w_kn)
        names = [g.init(weight + "_Q4", b), g.init(weight + "_scales", scales),
                 g.init(weight + "_zero_points", zero_points)]
        originals[weight] = w_kn
        # The quantizer keeps the MatMul's output name.
        return g.op("MatMulNBits", [x] + names, name=basename + "_Q4",
                    outputs=["%s/output_0" % basename], domain="com.microsoft",
                    K=k, N=n, bits=4, block_size=BLOCK, accuracy_level=ACCURACY_LEVEL)

    # Attention mask reformatting for GroupQueryAttention.
    sub = "/model/attn_mask_reformat/attn_mask_subgraph"
    one = g.const([1], np.int64)
    total = g.op("ReduceSum", ["attention_mask", one], name=sub + "/ReduceSum", keepdims=0)
    seqlens_k = g.op("Cast", [g.op("Sub", [total, one], name=sub + "/Sub")],
                     name=sub + "/Sub/Cast", to=TensorProto.INT32)
    shape = g.op("Shape", ["attention_mask"], name=sub + "/Shape")
    total_len = g.op("Gather", [shape, g.const(1, np.int64)], name=sub + "/Gather", axis=0)
    total_len = g.op("Cast", [total_len], name=sub + "/Gather/Cast", to=TensorProto.INT32)

    # Column i rotates the pair (2i, 2i+1) (rotary_interleaved 1); padded pairs get angle 0.
    angles = np.zeros((c.seq_len, hp // 2), F32)
    angles[:, :hd // 2] = np.arange(c.seq_len, dtype=F32)[:, None] * inv_freq(hd)[None, :]
    g.init("cos_cache", np.cos(angles).astype(F32))
    g.init("sin_cache", np.sin(angles).astype(F32))

    h = g.op("Gather", [g.init("model.embed_tokens.weight", c.token_embedding), "input_ids"],
             name="/model/embed_tokens/Gather", axis=0)
    root, skip = h, h

    def norm(layer, location, weight, last=False):
        """(Skip)SimplifiedLayerNormalization: returns the normalized output; the residual sum
        (output 3) becomes the next norm's root input."""
        nonlocal root
        prefix = "/model/layers.%d/%s_layernorm" % (layer, location)
        gamma = g.init("model.layers.%d.%s_layernorm.weight" % (layer, location), weight)
        if skip is root:  # the first norm: nothing to add yet
            return g.op("SimplifiedLayerNormalization", [root, gamma], name=prefix + "/LayerNorm",
                        outputs=[prefix + "/output_0"], axis=-1, epsilon=RMS_EPS, stash_type=1)
        outputs = [prefix + "/output_0"] if last else [prefix + "/output_0", "", "",
                                                       prefix + "/output_3"]
        result = g.op("SkipSimplifiedLayerNormalization", [root, skip, gamma],
                      name=prefix + "/SkipLayerNorm", outputs=outputs, domain="com.microsoft",
                      epsilon=RMS_EPS)
        if last:
            return result
        root = result[3]
        return result[0]

    for i in range(c.n_layers):
        scope = "/model/layers.%d" % i
        x = norm(i, "input", c.rms_att[i])
        w_qkv = np.concatenate([pad_heads(kn(c.wq[i]), c.n_heads, hd, hp, axis=1),
                                pad_heads(kn(c.wk[i]), c.n_kv_heads, hd, hp, axis=1),
                                pad_heads(kn(c.wv[i]), c.n_kv_heads, hd, hp, axis=1)], axis=1)
        qkv = matmul(scope + "/attn/qkv_proj/MatMul", x, w_qkv)
        attn = g.op("GroupQueryAttention",
                    [qkv, "", "", "past_key_values.%d.key" % i, "past_key_values.%d.value" % i,
                     seqlens_k, total_len, "cos_cache", "sin_cache"],
                    name=scope + "/attn/GroupQueryAttention",
                    outputs=[scope + "/attn/GroupQueryAttention/output_0",
                             "present.%d.key" % i, "present.%d.value" % i],
                    domain="com.microsoft", num_heads=c.n_heads, kv_num_heads=c.n_kv_heads,
                    scale=1.0 / math.sqrt(hd), do_rotary=1, rotary_interleaved=1)[0]
        skip = matmul(scope + "/attn/o_proj/MatMul", attn,
                      pad_heads(kn(c.wo[i]), c.n_heads, hd, hp, axis=0))
        x = norm(i, "post_attention", c.rms_ffn[i])
        gate = matmul(scope + "/mlp/gate_proj/MatMul", x, kn(c.w1[i]))
        up = matmul(scope + "/mlp/up_proj/MatMul", x, kn(c.w3[i]))
        act = g.op("Sigmoid", [gate], name=scope + "/mlp/act_fn/Sigmoid")
        act = g.op("Mul", [gate, act], name=scope + "/mlp/act_fn/Mul")
        hidden = g.op("Mul", [act, up], name=scope + "/mlp/Mul")
        skip = matmul(scope + "/mlp/down_proj/MatMul", hidden, kn(c.w2[i]))
    x = norm(c.n_layers, "final_norm", c.rms_final, last=True)
    g.op("MatMul", [x, g.init("lm_head.MatMul.weight", kn(c.wcls))], name="/lm_head/MatMul",
         outputs=["logits"])

    inputs, outputs = io_specs(c, position_ids=False, head_dim=hp)
    graph = helper.make_graph(g.nodes, "main_graph", inputs, outputs, initializer=g.initializers)
    model = helper.make_model(graph, ir_version=7, opset_imports=[
        helper.make_opsetid("", 14), helper.make_opsetid("com.microsoft", 1)],
        producer_name="quant-opt onnx_variants (onnxruntime-genai model-builder layout)")
    return model, originals


# ------------------------------------------------------------------------------------------------
# qdq-int8 / qdq-int4-blocked: the llama2c layout with DequantizeLinear weights.

def quantized_weight(g, scope, weight, w_kn, scheme, originals):
    """A DequantizeLinear node for one projection weight; returns the dequantized output name."""
    k, n = w_kn.shape
    if scheme == "int8-axis":
        q, scale = quant_sym(w_kn.T, 127)  # one group per column n
        inputs = [g.init(weight + "_quantized", q.T.astype(np.int8)),
                  g.init(weight + "_scale", scale.reshape(n)),
                  g.init(weight + "_zero_point", np.zeros(n, np.int8))]
        attrs = {"axis": 1}
    elif scheme == "uint8-tensor":
        q, scale, zp = quant_asym(w_kn.reshape(1, -1), 255)
        inputs = [g.init(weight + "_quantized", q.reshape(k, n).astype(np.uint8)),
                  g.init(weight + "_scale", scale.reshape(())),
                  g.init(weight + "_zero_point", zp.reshape(()).astype(np.uint8))]
        attrs = {}
    elif scheme == "int4-blocked":
        k_blocks = -(-k // BLOCK)
        codes = np.empty((k, n), np.int64)
        scales = np.empty((k_blocks, n), F32)
        for b in range(k_blocks):  # the last block may be partial (rows 32 b .. K - 1)
            q, scale = quant_sym(w_kn[b * BLOCK:(b + 1) * BLOCK].T, 7)
            codes[b * BLOCK:(b + 1) * BLOCK] = q.T
            scales[b] = scale.reshape(n)
        inputs = [g.raw_init(weight + "_quantized", INT4, [k, n], pack_nibbles(codes)),
                  g.init(weight + "_scale", scales)]
        attrs = {"axis": 0, "block_size": BLOCK}
    else:
        raise ValueError(scheme)
    originals[weight] = w_kn
    return g.op("DequantizeLinear", inputs, scope=scope, **attrs)


def build_qdq(ckpt, int4):
    g = Graph()
    c = ckpt
    opset = 21 if int4 else 13
    hd = c.head_size
    rep = c.n_heads // c.n_kv_heads
    originals = {}
    MIN = np.finfo(np.float32).min
    i64 = lambda v: g.const(v, np.int64)  # noqa: E731
    f32 = lambda v: g.const(v, np.float32)  # noqa: E731

    def projection(scope, x, weight, w_kn, scheme):
        if int4:
            scheme = "int4-blocked"
        w = quantized_weight(g, scope, weight, w_kn, scheme, originals)
        return g.op("MatMul", [x, w], scope=scope)

    def rms_norm(scope, x, weight_name, weight):
        gamma = g.init(weight_name, weight)
        sq = g.op("Pow", [x, f32(2.0)], scope=scope)
        if opset >= 18:
            mean = g.op("ReduceMean", [sq, i64([-1])], scope=scope, keepdims=1)
        else:
            mean = g.op("ReduceMean", [sq], scope=scope, axes=[-1], keepdims=1)
        inv = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [mean, f32(RMS_EPS)], scope=scope)],
                                       scope=scope)], scope=scope)
        return g.op("Mul", [gamma, g.op("Mul", [x, inv], scope=scope)], scope=scope)

    h = g.op("Gather", [g.init("model.embed_tokens.weight", c.token_embedding), "input_ids"],
             scope="/model/embed_tokens", axis=0)

    # Causal + padding mask [B, 1, S, T]: key t is hidden from query s (at P + s) when t > P + s
    # or attention_mask[t] == 0.
    seq = g.op("Gather", [g.op("Shape", ["input_ids"], scope="/model"), i64(1)], scope="/model",
               axis=0)
    total = g.op("Gather", [g.op("Shape", ["attention_mask"], scope="/model"), i64(1)],
                 scope="/model", axis=0)
    past = g.op("Sub", [total, seq], scope="/model")
    query_pos = g.op("Range", [past, total, i64(1)], scope="/model")
    key_pos = g.op("Range", [i64(0), total, i64(1)], scope="/model")
    future = g.op("Less", [g.op("Unsqueeze", [query_pos, i64([1])], scope="/model"),
                           g.op("Unsqueeze", [key_pos, i64([0])], scope="/model")],
                  scope="/model")
    causal = g.op("Where", [future, f32(MIN), f32(0.0)], scope="/model")
    padding = g.op("Unsqueeze", [g.op("Equal", ["attention_mask", i64(0)], scope="/model"),
                                 i64([1, 2])], scope="/model")
    padding = g.op("Where", [padding, f32(MIN), f32(0.0)], scope="/model")
    mask = g.op("Add", [causal, padding], scope="/model")

    # Rotary tables from position_ids (rotate-half: the angle table repeated twice).
    rot = "/model/rotary_emb"
    positions = g.op("Unsqueeze", [g.op("Cast", ["position_ids"], scope=rot, to=TensorProto.FLOAT),
                                   i64([-1])], scope=rot)
    freqs = g.op("Mul", [positions, g.init("model.rotary_emb.inv_freq", inv_freq(hd))], scope=rot)
    emb = g.op("Concat", [freqs, freqs], scope=rot, axis=-1)
    cos = g.op("Unsqueeze", [g.op("Cos", [emb], scope=rot), i64([1])], scope=rot)
    sin = g.op("Unsqueeze", [g.op("Sin", [emb], scope=rot), i64([1])], scope=rot)

    def heads(sa, t, n):
        t = g.op("Reshape", [t, i64([0, 0, n, hd])], scope=sa)
        return g.op("Transpose", [t], scope=sa, perm=[0, 2, 1, 3])

    def rotate(sa, t):
        x1 = g.op("Slice", [t, i64([0]), i64([hd // 2]), i64([-1])], scope=sa)
        x2 = g.op("Slice", [t, i64([hd // 2]), i64([hd]), i64([-1])], scope=sa)
        rotated = g.op("Concat", [g.op("Neg", [x2], scope=sa), x1], scope=sa, axis=-1)
        return g.op("Add", [g.op("Mul", [t, cos], scope=sa),
                            g.op("Mul", [rotated, sin], scope=sa)], scope=sa)

    def repeat_kv(sa, t):
        if rep == 1:
            return t
        t = g.op("Unsqueeze", [t, i64([2])], scope=sa)
        t = g.op("Expand", [t, i64([1, 1, rep, 1, 1])], scope=sa)
        return g.op("Reshape", [t, i64([0, c.n_heads, -1, hd])], scope=sa)

    for i in range(c.n_layers):
        scope = "/model/layers.%d" % i
        sa, mlp = scope + "/self_attn", scope + "/mlp"
        w = "model.layers.%d." % i
        x = rms_norm(scope + "/input_layernorm", h, w + "input_layernorm.weight", c.rms_att[i])
        q = projection(sa + "/q_proj", x, w + "self_attn.q_proj.MatMul.weight",
                       kn(rotate_half_order(c.wq[i], c.n_heads)), "int8-axis")
        k = projection(sa + "/k_proj", x, w + "self_attn.k_proj.MatMul.weight",
                       kn(rotate_half_order(c.wk[i], c.n_kv_heads)), "int8-axis")
        v = projection(sa + "/v_proj", x, w + "self_attn.v_proj.MatMul.weight", kn(c.wv[i]),
                       "int8-axis")
        q = rotate(sa, heads(sa, q, c.n_heads))
        k = rotate(sa, heads(sa, k, c.n_kv_heads))
        v = heads(sa, v, c.n_kv_heads)
        k = g.op("Concat", ["past_key_values.%d.key" % i, k], scope=sa, axis=2,
                 outputs=["present.%d.key" % i])
        v = g.op("Concat", ["past_key_values.%d.value" % i, v], scope=sa, axis=2,
                 outputs=["present.%d.value" % i])
        k, v = repeat_kv(sa, k), repeat_kv(sa, v)
        scores = g.op("MatMul", [q, g.op("Transpose", [k], scope=sa, perm=[0, 1, 3, 2])], scope=sa)
        scores = g.op("Div", [scores, f32(math.sqrt(hd))], scope=sa)
        probs = g.op("Softmax", [g.op("Add", [scores, mask], scope=sa)], scope=sa, axis=-1)
        attn = g.op("Transpose", [g.op("MatMul", [probs, v], scope=sa)], scope=sa,
                    perm=[0, 2, 1, 3])
        attn = g.op("Reshape", [attn, i64([0, 0, c.dim])], scope=sa)
        attn = projection(sa + "/o_proj", attn, w + "self_attn.o_proj.MatMul.weight",
                          kn(c.wo[i]), "int8-axis")
        h = g.op("Add", [h, attn], scope=scope)
        x = rms_norm(scope + "/post_attention_layernorm", h, w + "post_attention_layernorm.weight",
                     c.rms_ffn[i])
        gate = projection(mlp + "/gate_proj", x, w + "mlp.gate_proj.MatMul.weight", kn(c.w1[i]),
                          "uint8-tensor")
        act = g.op("Mul", [gate, g.op("Sigmoid", [gate], scope=mlp + "/act_fn")],
                   scope=mlp + "/act_fn")
        up = projection(mlp + "/up_proj", x, w + "mlp.up_proj.MatMul.weight", kn(c.w3[i]),
                        "uint8-tensor")
        down = projection(mlp + "/down_proj", g.op("Mul", [act, up], scope=mlp),
                          w + "mlp.down_proj.MatMul.weight", kn(c.w2[i]), "uint8-tensor")
        h = g.op("Add", [h, down], scope=scope)
    x = rms_norm("/model/norm", h, "model.norm.weight", c.rms_final)
    g.op("MatMul", [x, g.init("lm_head.MatMul.weight", kn(c.wcls))], scope="/lm_head",
         outputs=["logits"])

    inputs, outputs = io_specs(c, position_ids=True)
    graph = helper.make_graph(g.nodes, "llama2_qdq", inputs, outputs, initializer=g.initializers)
    model = helper.make_model(graph, ir_version=10 if int4 else 7,
                              opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="quant-opt onnx_variants (llama2c layout, QDQ)")
    return model, originals


# ------------------------------------------------------------------------------------------------
# optimum-merged: two torch exports of hf_llama_torch.py's model under one If.

def export_torch_decoders(ckpt, directory):
    """Writes with_past.onnx (hf_llama_torch.export) and no_past.onnx (the same model without a
    past, but with present.* outputs: optimum's decoder_model.onnx); returns their paths."""
    import torch
    import hf_llama_torch as hf

    warnings.filterwarnings("ignore")  # the tracer's warnings about Python control flow
    with_past = os.path.join(directory, "with_past.onnx")
    hf.export(ckpt, with_past, 14, True, "expand", "fp32")

    class NoPastWithPresents(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask):
            logits, presents = self.model(input_ids, attention_mask)
            return (logits,) + tuple(t for kv in presents for t in kv)

    model = hf.load(ckpt, "expand")
    no_past = os.path.join(directory, "no_past.onnx")
    present = ["present.%d.%s" % (i, kv) for i in range(ckpt.n_layers) for kv in ("key", "value")]
    axes = {"input_ids": {0: "batch_size", 1: "sequence_length"},
            "attention_mask": {0: "batch_size", 1: "sequence_length"},
            "logits": {0: "batch_size", 1: "sequence_length"}}
    axes.update({name: {0: "batch_size", 2: "sequence_length"} for name in present})
    input_ids = torch.randint(3, ckpt.vocab_size, (2, 3))
    attention_mask = torch.ones(2, 3, dtype=torch.long)
    with torch.no_grad():
        torch.onnx.export(NoPastWithPresents(model), (input_ids, attention_mask), no_past,
                          opset_version=14, input_names=["input_ids", "attention_mask"],
                          output_names=["logits"] + present, dynamic_axes=axes,
                          do_constant_folding=True)
    return with_past, no_past


def rename_graph(graph, prefix, renamed, name=None):
    """A copy of `graph` with every node name and node output prefixed, nested subgraphs (the
    torch exports have If nodes) included; `renamed` maps the names visible from outside it
    (outer-scope values, initializers moved out) to their new names."""
    renamed = dict(renamed)
    for node in graph.node:
        for output in node.output:
            if output:
                renamed[output] = prefix + output
    nodes = []
    for node in graph.node:
        copy = onnx.NodeProto()
        copy.CopyFrom(node)
        copy.name = prefix + (node.name or node.op_type)
        copy.input[:] = [renamed.get(n, n) for n in node.input]
        copy.output[:] = [renamed.get(n, n) for n in node.output]
        for attr in copy.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                attr.g.CopyFrom(rename_graph(attr.g, prefix, renamed))
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    sub.CopyFrom(rename_graph(sub, prefix, renamed))
        nodes.append(copy)

    def values(infos):
        out = []
        for value in infos:
            copy = onnx.ValueInfoProto()
            copy.CopyFrom(value)
            copy.name = renamed.get(value.name, value.name)
            out.append(copy)
        return out

    return helper.make_graph(nodes, name or graph.name, values(graph.input),
                             values(graph.output), initializer=list(graph.initializer),
                             value_info=values(graph.value_info))


def as_branch(graph, prefix, outer_inits, by_content):
    """Turns an exported decoder graph into an If branch: no inputs (they are the outer graph's),
    node names and node outputs prefixed, initializers moved to `outer_inits` (one per content,
    renamed on a name clash)."""
    renamed = {}
    for tensor in graph.initializer:
        key = (tensor.data_type, tuple(tensor.dims), numpy_helper.to_array(tensor).tobytes())
        if key not in by_content:
            name = tensor.name
            if name in outer_inits:
                name = prefix + name
            copy = TensorProto()
            copy.CopyFrom(tensor)
            copy.name = name
            outer_inits[name] = copy
            by_content[key] = name
        renamed[tensor.name] = by_content[key]
    stripped = onnx.GraphProto()
    stripped.CopyFrom(graph)
    del stripped.input[:]
    del stripped.initializer[:]
    return rename_graph(stripped, prefix, renamed, name=graph.name + "_" + prefix.rstrip("/"))


def build_optimum_merged(ckpt):
    with tempfile.TemporaryDirectory() as directory:
        with_past_path, no_past_path = export_torch_decoders(ckpt, directory)
        with_past = onnx.load(with_past_path)
        no_past = onnx.load(no_past_path)
    with_names = [o.name for o in with_past.graph.output]
    no_names = [o.name for o in no_past.graph.output]
    if with_names != no_names:
        raise InputError("the two exports' outputs differ: %s vs %s" % (with_names, no_names))
    outer_inits, by_content = {}, {}
    then_branch = as_branch(with_past.graph, "with_past/", outer_inits, by_content)
    else_branch = as_branch(no_past.graph, "no_past/", outer_inits, by_content)
    if_node = helper.make_node("If", ["use_cache_branch"], with_names, name="optimum::if",
                               then_branch=then_branch, else_branch=else_branch)
    weights = {t.name for t in with_past.graph.initializer}
    inputs = [i for i in with_past.graph.input if i.name not in weights]
    inputs.append(helper.make_tensor_value_info("use_cache_branch", TensorProto.BOOL, [1]))
    _, outputs = io_specs(ckpt, position_ids=True)
    graph = helper.make_graph([if_node], "merged_decoder", inputs, outputs,
                              initializer=list(outer_inits.values()))
    model = helper.make_model(graph, ir_version=with_past.ir_version,
                              opset_imports=list(with_past.opset_import),
                              producer_name="quant-opt onnx_variants (optimum merged decoder)")
    return model, {}


# ------------------------------------------------------------------------------------------------
# --check: dequantize what was written, following the specs, against the checkpoint.

def int4_array(tensor):
    count = int(np.prod(tensor.dims))
    return unpack_nibbles(np.frombuffer(tensor.raw_data, np.uint8), count,
                          signed=True).reshape(tuple(tensor.dims))


def check(model, originals):
    """Returns lines `name: max |error| / (step / 2) = r (scheme)` and whether all r <= 1."""
    inits = {t.name: t for t in model.graph.initializer}
    lines, ok = [], True
    for node in model.graph.node:
        if node.op_type == "MatMulNBits":
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            b, scales, zp = (numpy_helper.to_array(inits[n]) for n in node.input[1:4])
            w, steps = matmul_nbits_dequantize(b, scales, zp, attrs["K"], attrs["N"],
                                               attrs["block_size"])
            name, scheme = node.input[1][:-len("_Q4")], "MatMulNBits uint4 block %d" % \
                attrs["block_size"]
        elif node.op_type == "DequantizeLinear":
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            x = inits[node.input[0]]
            q = (int4_array(x) if x.data_type == INT4 else numpy_helper.to_array(x)).astype(
                np.int64)
            scale = numpy_helper.to_array(inits[node.input[1]]).astype(F32)
            zp = (numpy_helper.to_array(inits[node.input[2]]).astype(np.int64)
                  if len(node.input) > 2 and node.input[2] else np.zeros_like(scale, np.int64))
            axis = attrs.get("axis", 1)
            if scale.ndim == 0:  # per tensor
                steps = np.broadcast_to(scale, q.shape)
                scheme = "per-tensor"
            elif attrs.get("block_size", 0):  # blocked: scale index k // block_size on `axis`
                index = np.arange(q.shape[axis]) // attrs["block_size"]
                scale, zp = np.take(scale, index, axis=axis), np.take(zp, index, axis=axis)
                steps = scale
                scheme = "blocked axis %d block %d" % (axis, attrs["block_size"])
            else:  # per axis: a 1-D scale along `axis`
                shape = [1] * q.ndim
                shape[axis] = -1
                scale, zp = scale.reshape(shape), zp.reshape(shape)
                steps = np.broadcast_to(scale, q.shape)
                scheme = "per-axis %d" % axis
            w = (q - zp).astype(F32) * scale
            name = node.input[0][:-len("_quantized")]
            scheme = "DequantizeLinear %s %s" % (
                {INT4: "int4", TensorProto.INT8: "int8", TensorProto.UINT8: "uint8"}[x.data_type],
                scheme)
        else:
            continue
        original = originals[name]
        half = np.asarray(steps, np.float64) / 2
        error = np.abs(w.astype(np.float64) - original)
        ratio = float(np.max(np.where(half > 0, error / np.where(half > 0, half, 1),
                                      np.where(error > 0, np.inf, 0))))
        # float32 rounding of (q - zp) * scale: allow a relative 1e-5 of half a step.
        ok = ok and ratio <= 1 + 1e-5
        lines.append("  %s: max |error| / (step / 2) = %.4f (%s, [%d, %d])" % (
            name, ratio, scheme, original.shape[0], original.shape[1]))
    return lines, ok


def count_nodes(graph):
    total = 0
    for node in graph.node:
        total += 1
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                total += count_nodes(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                total += sum(count_nodes(sub) for sub in attr.graphs)
    return total


BUILDERS = {
    "gqa-packed": lambda c, pad: build_gqa(c, int4=False, pad_head_dim=pad),
    "gqa-packed-int4": lambda c, pad: build_gqa(c, int4=True, pad_head_dim=pad),
    "optimum-merged": lambda c, pad: build_optimum_merged(c),
    "qdq-int8": lambda c, pad: build_qdq(c, int4=False),
    "qdq-int4-blocked": lambda c, pad: build_qdq(c, int4=True),
}
CHECKED = ("qdq-int8", "optimum-merged")
# MatMulNBits' accuracy_level (--accuracy-level): 4, as the model builder
# writes it, lets ONNX Runtime round activations to int8; 0 computes in float.
ACCURACY_LEVEL = 4  # the others use ops onnx 1.12's checker rejects


def main(argv):
    parser = argparse.ArgumentParser(
        description="Write a llama2.c checkpoint as an ONNX test fixture in another exporter's "
                    "form (variants described at the top of this script).")
    parser.add_argument("checkpoint", help="llama2.c checkpoint (.bin)")
    parser.add_argument("--variant", required=True, choices=VARIANTS)
    parser.add_argument("-o", "--output", required=True, help="the .onnx to write")
    parser.add_argument("--pad-head-dim", type=int, metavar="D",
                        help="gqa variants: zero-pad every head to D dimensions (ONNX Runtime's "
                             "CPU GroupQueryAttention needs a multiple of 16 with do_rotary; the "
                             "model computes the same)")
    parser.add_argument("--accuracy-level", type=int, default=4, choices=(0, 1, 2, 3, 4),
                        help="gqa-packed-int4: MatMulNBits' accuracy_level (default 4, as the "
                             "model builder writes; 0: onnxruntime computes in float)")
    parser.add_argument("--check", action="store_true",
                        help="read OUTPUT back and check its quantized weights dequantize to "
                             "within half a step of the checkpoint's")
    args = parser.parse_args(argv)
    global ACCURACY_LEVEL
    ACCURACY_LEVEL = args.accuracy_level
    prog = os.path.basename(sys.argv[0])
    try:
        ckpt = Checkpoint(args.checkpoint)
        if args.pad_head_dim is not None:
            if not args.variant.startswith("gqa-"):
                raise InputError("--pad-head-dim is for the gqa variants")
            if args.pad_head_dim < ckpt.head_size or args.pad_head_dim % 2:
                raise InputError("--pad-head-dim must be even and at least the head size %d"
                                 % ckpt.head_size)
        model, originals = BUILDERS[args.variant](ckpt, args.pad_head_dim)
    except InputError as e:
        print("%s: error: %s" % (prog, e), file=sys.stderr)
        return 2
    onnx.save(model, args.output)
    if args.variant in CHECKED:
        onnx.checker.check_model(args.output)
    print("wrote %s (variant %s, %d nodes)" % (args.output, args.variant,
                                                count_nodes(model.graph)))
    if args.check:
        lines, ok = check(onnx.load(args.output), originals)
        print("check: %d quantized weights%s" % (len(lines), ", all within half a step"
                                                 if ok else ", SOME BEYOND HALF A STEP"))
        for line in lines:
            print(line)
        if not ok:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
