#!/usr/bin/python3
"""Export a Llama 2 decoder to a standard-op ONNX graph shaped like Hugging Face's torch exports.

The weights come from a llama2.c checkpoint (format: ../shared/data/README.md) or are random
(``--random``, any dimensions, e.g. Llama-2-7B's). The graph uses only the default ONNX domain,
opset 17, IR version 8, and only these ops: Gather, Cast, Pow, ReduceMean, Add, Sub, Mul, Div,
Sqrt, Reciprocal, Neg, MatMul, Reshape, Transpose, Shape, Unsqueeze, Concat, Slice, Cos, Sin,
Sigmoid, Softmax, Expand, Range, Equal, Less, Where, Constant.

Every initializer is stored as external data in one file beside the model, ``OUT.onnx.data``
(relative location, explicit offset and length, offsets aligned to 64 bytes). The data file is
written tensor by tensor, in chunks, so memory use stays far below the file size. Small tensors
(scalars, shape pieces, the rotary inverse frequencies) are Constant nodes, as torch emits them.

Interface (dim_param names in brackets; T = total_sequence_length = past + sequence_length)
    inputs   input_ids        int64 [batch_size, sequence_length]
             attention_mask   int64 [batch_size, total_sequence_length]   (1 = attend, 0 = padding)
             position_ids     int64 [batch_size, sequence_length]
             past_key_values.{i}.key / .value
                              DT [batch_size, n_kv_heads, past_sequence_length, head_dim]
    outputs  logits           DT [batch_size, sequence_length, vocab]
             present.{i}.key / .value
                              DT [batch_size, n_kv_heads, total_sequence_length, head_dim]
DT is the model dtype (float32 or float16, ``--dtype``).

Initializers (projection weights are [in, out]: the graph computes MatMul(x, W))
    model.embed_tokens.weight                          [vocab, dim]
    model.layers.{i}.input_layernorm.weight            [dim]
    model.layers.{i}.self_attn.{q,k,v,o}_proj.MatMul.weight   [dim, dim] / [dim, kv_dim]
    model.layers.{i}.post_attention_layernorm.weight   [dim]
    model.layers.{i}.mlp.gate_proj.MatMul.weight       [dim, hidden]   llama2.c w1, transposed
    model.layers.{i}.mlp.up_proj.MatMul.weight         [dim, hidden]   llama2.c w3, transposed
    model.layers.{i}.mlp.down_proj.MatMul.weight       [hidden, dim]   llama2.c w2, transposed
    model.norm.weight                                  [dim]
    lm_head.MatMul.weight                              [dim, vocab]    always its own tensor
With ``--rope rotate_half`` the rows of llama2.c's wq and wk are permuted per head as Hugging
Face's convert_llama_weights_to_hf.py does ([heads, hd/2, 2, in] -> [heads, 2, hd/2, in]) before
the transpose, so that rotate-half rotary gives the same attention as llama2.c's adjacent pairs.

Node names follow torch's exporter: ``{scope}/{OpType}`` with ``_1``, ``_2``... for repeats within
a scope, outputs ``{node}_output_0``. Scopes: /model/embed_tokens, /model (causal mask),
/model/rotary_emb, /model/layers.{i}/{input_layernorm, self_attn, self_attn/{q,k,v,o}_proj,
post_attention_layernorm, mlp, mlp/{gate,up,down}_proj, mlp/act_fn}, /model/layers.{i} (the two
residual Adds), /model/norm, /lm_head. Below, Gather[k] is a Gather (axis 0) with a scalar
int64 Constant index k, Unsqueeze[a] an Unsqueeze whose axes input is the Constant [a], and
C(...) a Constant. The structure, in node order:

Embedding (/model/embed_tokens)
    Gather(model.embed_tokens.weight, input_ids), axis 0                       -> h [B, S, dim]

Causal mask, once (/model)
    Shape(input_ids) -> Gather[1] = S;  Shape_1(attention_mask) -> Gather_1[1] = T
    Sub(T, S) = P;  Range(P, T, C(1)) = query positions [S]
    Range_1(C(0), T, C(1)) = key positions [T]
    Unsqueeze[1](query) [S,1];  Unsqueeze_1[0](key) [1,T];  Less(query, key) = future [S,T]
    Where(future, C(MIN), C(0)) [S,T]
    Equal(attention_mask, C(0)) [B,T];  Unsqueeze_2[1,2] -> [B,1,1,T];  Where_1(., C(MIN), C(0))
    Add(Where, Where_1) = mask, DT [B, 1, S, T]
    MIN is the dtype's finite minimum (-3.4028234663852886e38 / -65504); MIN + MIN overflows to
    -inf, which softmax treats the same.

Rotary angles, once (/model/rotary_emb); inv_freq = C([hd/2] f32, 1 / 10000^(2i/hd))
    Unsqueeze[0,2](inv_freq) [1, hd/2, 1]
    Shape(position_ids) -> Gather[0] -> Unsqueeze_1[0] -> Concat(., C([hd/2, 1]))
    -> Expand(Unsqueeze, Concat) = [B, hd/2, 1]
    Cast(position_ids, to float) -> Unsqueeze_2[1] = [B, 1, S]
    MatMul(Expand, Unsqueeze_2) [B, hd/2, S] -> Transpose(perm [0,2,1]) = freqs [B, S, hd/2]
  rotate_half:  Concat_1(freqs, freqs, axis -1) [B, S, hd] -> Cos, Sin
                (fp16: Cast_1 / Cast_2 to float16) -> Unsqueeze_3[1] = cos, Unsqueeze_4[1] = sin
                [B, 1, S, hd]
  interleaved:  Cos(freqs), Sin(freqs) (fp16: Cast_1 / Cast_2 to float16)
                -> Unsqueeze_3[2,4] = cos, Unsqueeze_4[2,4] = sin [B, S, 1, hd/2, 1]
                (no Concat_1; the trailing 1 is kept because the pair halves are sliced
                without a Squeeze, see below)

RMSNorm (HF LlamaRMSNorm; scopes input_layernorm, post_attention_layernorm, /model/norm)
    [fp16: Cast(x, to float)] Pow(x, C(2.0)) -> ReduceMean(axes [-1], keepdims 1) -> Add(., C(1e-5))
    -> Sqrt -> Reciprocal -> Mul(x, .) [fp16: Cast_1(., to float16)] -> Mul_1(weight, .)
    (f32 constants; the last Mul is Mul_1 in both dtypes)

Decoder layer i (/model/layers.{i}); sa = /model/layers.{i}/self_attn
    input_layernorm RMSNorm(h) = x
    sa/q_proj/MatMul(x, Wq), sa/k_proj/MatMul(x, Wk), sa/v_proj/MatMul(x, Wv)
    sa: Shape(x) -> Gather[0] = B, Gather_1[1] = S -> Unsqueeze[0](B), Unsqueeze_1[0](S)
    head split, for q (n = n_heads), then k, then v (n = n_kv_heads):
        Concat(B, S, C([n]), C([hd])) -> Reshape(proj, .) [B, S, n, hd]
      rotate_half (q, k):
        Transpose(perm [0,2,1,3]) = t [B, n, S, hd]
        Mul(t, cos); Slice(t, [0], [hd/2], axes [-1]) = x1; Slice(t, [hd/2], [INT64_MAX], [-1]) = x2
        Neg(x2) -> Concat(Neg, x1, axis -1) -> Mul(., sin) -> Add(Mul(t, cos), Mul(., sin))
      interleaved (q, k), on [B, S, n, hd] before the transpose:
        Concat(B, S, C([n]), C([hd/2]), C([2])) -> Reshape [B, S, n, hd/2, 2]
        Slice(., [0], [1], [-1]) = x0; Slice(., [1], [2], [-1]) = x1   (each [B, S, n, hd/2, 1])
        Sub(Mul(x0, cos), Mul(x1, sin)) = out0; Add(Mul(x0, sin), Mul(x1, cos)) = out1
        Concat(out0, out1, axis -1) -> Concat(B, S, C([n]), C([hd])) -> Reshape [B, S, n, hd]
        -> Transpose(perm [0,2,1,3])
      v: Transpose(perm [0,2,1,3]) after its Reshape
    KV cache: Concat(past_key_values.{i}.key, k, axis 2) -> output present.{i}.key; same for value
    grouped-query heads (only when n_heads != n_kv_heads), k then v:
        Shape(kv) -> Gather[0] = B', Gather[2] = T' -> Unsqueeze[0] each
        Concat(B', C([n_kv]), C([n_rep]), T', C([hd])); Unsqueeze[2](kv) [B, n_kv, 1, T, hd]
        -> Expand [B, n_kv, n_rep, T, hd]
        Concat(B', C([n_heads]), T', C([hd])) -> Reshape [B, n_heads, T, hd]
    attention:
        Transpose(k, perm [0,1,3,2]) -> MatMul(q, .) -> Div(., C(sqrt(hd)) in DT) -> Add(., mask)
        [fp16: Cast to float] Softmax(axis -1) [fp16: Cast to float16] -> MatMul(., v)
        -> Transpose(perm [0,2,1,3]) -> Concat(B, S, C([dim])) -> Reshape [B, S, dim]
        -> sa/o_proj/MatMul(., Wo)
    /model/layers.{i}/Add(h, attn) = h
    post_attention_layernorm RMSNorm(h) = x
    mlp/gate_proj/MatMul(x, Wgate) = g; mlp/act_fn/Sigmoid(g); mlp/act_fn/Mul(g, Sigmoid)
    mlp/up_proj/MatMul(x, Wup); mlp/Mul(act_fn/Mul, up) -> mlp/down_proj/MatMul(., Wdown)
    /model/layers.{i}/Add_1(h, mlp) = h

Head
    /model/norm RMSNorm(h) -> /lm_head/MatMul(., lm_head.MatMul.weight) -> logits

Weightless mode (``--random --weightless``): the graph is the same and every initializer still
refers to ``OUT.onnx.data`` (location, offset, length as above), but no weight is drawn and the
data file is not written: the model is a few hundred KB whatever its dimensions. It is for
``quant-translate --weightless``, which compiles it without reading weight data into a weightless
plan (the runtime synthesizes the weights; speed measurements only). Anything else that reads the
model needs the missing data file and fails.

Random mode: every tensor has its own generator, numpy's default_rng([seed, crc32(key)]) with key
e.g. "wq.3"; projections and embeddings are normal(0, --init-std) drawn in the ONNX layout
([in, out], before the rotary permutation) row chunk by row chunk; norm weights are
1 + normal(0, --init-std). The classifier is separate from the embedding. ``--write-checkpoint``
also writes the same weights as a llama2.c checkpoint (negative vocab: unshared classifier).
"""

import argparse
import math
import os
import struct
import sys
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8
ALIGNMENT = 64
CHUNK_ELEMENTS = 1 << 22  # floats per chunk when streaming a tensor (16 MiB in float32)
RMS_EPS = 1e-5
ROPE_THETA = 10000.0
INT64_MAX = np.iinfo(np.int64).max
HEADER = struct.Struct("<7i")
VERSIONED_MAGIC = 0x616B3432  # "ak42": llama2.c's versioned export format (not the legacy one)


class UsageError(Exception):
    """A problem with the inputs: reported as `error: ...` with exit code 2."""


class Config:
    def __init__(self, dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len,
                 shared_classifier):
        self.dim = dim
        self.hidden_dim = hidden_dim
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.n_kv_heads = n_kv_heads
        self.vocab_size = vocab_size
        self.seq_len = seq_len
        self.shared_classifier = shared_classifier

    def validate(self):
        for name in ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size",
                     "seq_len"):
            if getattr(self, name) <= 0:
                raise UsageError("%s must be positive, got %d" % (name, getattr(self, name)))
        if self.dim % self.n_heads:
            raise UsageError("dim %d is not a multiple of n_heads %d" % (self.dim, self.n_heads))
        if self.n_heads % self.n_kv_heads:
            raise UsageError("n_heads %d is not a multiple of n_kv_heads %d"
                             % (self.n_heads, self.n_kv_heads))
        if self.head_dim % 2:
            raise UsageError("head_dim %d must be even for rotary embeddings" % self.head_dim)

    @property
    def head_dim(self):
        return self.dim // self.n_heads

    @property
    def kv_dim(self):
        return self.n_kv_heads * self.head_dim

    def llama2c_shape(self, kind):
        """Shape of one layer's (or the global) tensor `kind` in llama2.c's layout."""
        d, h, kv, v = self.dim, self.hidden_dim, self.kv_dim, self.vocab_size
        return {"token_embedding": (v, d), "rms_att": (d,), "wq": (d, d), "wk": (kv, d),
                "wv": (kv, d), "wo": (d, d), "rms_ffn": (d,), "w1": (h, d), "w2": (d, h),
                "w3": (h, d), "rms_final": (d,), "wcls": (v, d)}[kind]


# llama2.c's tensors in file order; True where the tensor has one slice per layer.
LLAMA2C_ORDER = [("token_embedding", False), ("rms_att", True), ("wq", True), ("wk", True),
                 ("wv", True), ("wo", True), ("rms_ffn", True), ("w1", True), ("w2", True),
                 ("w3", True), ("rms_final", False)]


def is_projection(kind):
    """Projections are stored [out, in] by llama2.c and [in, out] in the ONNX graph."""
    return kind in ("wq", "wk", "wv", "wo", "w1", "w2", "w3", "wcls")


def onnx_layout_shape(cfg, kind):
    shape = cfg.llama2c_shape(kind)
    return tuple(reversed(shape)) if is_projection(kind) else shape


def rotate_half_permutation(n_heads, head_dim):
    """Row order of HF's permute(): new row (h, j, k) takes llama2.c row (h, 2k + j)."""
    half = head_dim // 2
    j, k = np.meshgrid(np.arange(2), np.arange(half), indexing="ij")
    within = (2 * k + j).reshape(-1)
    return (np.arange(n_heads)[:, None] * head_dim + within[None, :]).reshape(-1)


# --------------------------------------------------------------------------------------------
# Weight sources. Both yield a tensor as float32 row chunks of its ONNX layout before any
# rotary permutation ("U": the llama2.c tensor, transposed for projections).

class CheckpointSource:
    def __init__(self, path):
        if not os.path.isfile(path):
            raise UsageError("checkpoint not found: %s" % path)
        size = os.path.getsize(path)
        if size < HEADER.size:
            raise UsageError("%s: %d bytes is too short for a llama2.c header" % (path, size))
        with open(path, "rb") as f:
            header = HEADER.unpack(f.read(HEADER.size))
        if header[0] == VERSIONED_MAGIC:
            raise UsageError("%s: llama2.c's versioned export format (magic 'ak42') is not "
                             "supported; use the legacy format (export.py --version 0)" % path)
        dim, hidden, layers, heads, kv_heads, vocab, seq_len = header
        self.cfg = Config(dim, hidden, layers, heads, kv_heads, abs(vocab), seq_len, vocab > 0)
        try:
            self.cfg.validate()
        except UsageError as e:
            raise UsageError("%s: bad header %s: %s" % (path, list(header), e))
        self.offsets = {}
        offset = 0
        for kind, per_layer in LLAMA2C_ORDER:
            self.offsets[kind] = offset
            count = int(np.prod(self.cfg.llama2c_shape(kind)))
            offset += count * (layers if per_layer else 1)
        offset += 2 * seq_len * (self.cfg.head_dim // 2)  # the two unused RoPE tables
        if not self.cfg.shared_classifier:
            self.offsets["wcls"] = offset
            offset += abs(vocab) * dim
        expected = HEADER.size + 4 * offset
        if size != expected:
            raise UsageError(
                "%s: file is %d bytes, but its header %s implies %d bytes" % (
                    path, size, list(header), expected))
        self.floats = np.memmap(path, dtype="<f4", mode="r", offset=HEADER.size, shape=(offset,))

    def llama2c_tensor(self, kind, layer):
        if kind == "wcls" and self.cfg.shared_classifier:
            kind = "token_embedding"
        shape = self.cfg.llama2c_shape(kind)
        count = int(np.prod(shape))
        start = self.offsets[kind] + (layer or 0) * count
        return self.floats[start:start + count].reshape(shape)

    def chunks(self, kind, layer):
        tensor = self.llama2c_tensor(kind, layer)
        if tensor.ndim == 1:
            yield np.array(tensor, dtype=np.float32)
            return
        if not is_projection(kind):
            rows = max(1, CHUNK_ELEMENTS // tensor.shape[1])
            for r0 in range(0, tensor.shape[0], rows):
                yield np.array(tensor[r0:r0 + rows], dtype=np.float32)
            return
        # Rows of the transpose are columns of the llama2.c tensor.
        rows = max(1, CHUNK_ELEMENTS // tensor.shape[0])
        for c0 in range(0, tensor.shape[1], rows):
            yield np.ascontiguousarray(tensor[:, c0:c0 + rows].T, dtype=np.float32)


class RandomSource:
    def __init__(self, cfg, seed, std):
        self.cfg = cfg
        self.seed = seed
        self.std = std

    def chunks(self, kind, layer):
        key = kind if layer is None else "%s.%d" % (kind, layer)
        rng = np.random.default_rng([self.seed, zlib.crc32(key.encode())])
        shape = onnx_layout_shape(self.cfg, kind)
        if len(shape) == 1:
            values = rng.standard_normal(shape[0], dtype=np.float32)
            values *= np.float32(self.std)
            values += np.float32(1.0)
            yield values
            return
        rows = max(1, CHUNK_ELEMENTS // shape[1])
        for r0 in range(0, shape[0], rows):
            chunk = rng.standard_normal((min(rows, shape[0] - r0), shape[1]), dtype=np.float32)
            chunk *= np.float32(self.std)
            yield chunk

    def llama2c_tensor(self, kind, layer):
        """The whole tensor in llama2.c's layout (for --write-checkpoint; small models)."""
        full = np.concatenate(list(self.chunks(kind, layer)))
        return full.T if is_projection(kind) else full


# --------------------------------------------------------------------------------------------
# External data

class ExternalData:
    """Streams initializers into one data file and makes TensorProtos that point into it.

    With ``write=False`` (weightless) only the references are made: the offsets are those the
    file would have, the chunks are never drawn and no file is created."""

    def __init__(self, path, write=True):
        self.path = path
        self.location = os.path.basename(path)
        self.file = open(path, "wb") if write else None
        self.offset = 0

    def add(self, name, shape, np_dtype, onnx_dtype, chunks, column_permutation=None):
        pad = -self.offset % ALIGNMENT
        if pad:
            if self.file:
                self.file.write(b"\0" * pad)
            self.offset += pad
        start = self.offset
        expected = int(np.prod(shape)) * np.dtype(np_dtype).itemsize
        if not self.file:
            self.offset += expected
        for chunk in chunks if self.file else ():
            if column_permutation is not None:
                chunk = chunk[:, column_permutation]
            data = np.ascontiguousarray(chunk, dtype=np.dtype(np_dtype).newbyteorder("<"))
            self.file.write(data.tobytes())
            self.offset += data.nbytes
        length = self.offset - start
        assert length == expected, "%s: wrote %d bytes, expected %d" % (name, length, expected)
        tensor = TensorProto()
        tensor.name = name
        tensor.data_type = onnx_dtype
        tensor.dims.extend(shape)
        tensor.data_location = TensorProto.EXTERNAL
        for key, value in (("location", self.location), ("offset", start), ("length", length)):
            entry = tensor.external_data.add()
            entry.key = key
            entry.value = str(value)
        return tensor

    def close(self):
        if self.file:
            self.file.close()


def write_initializers(source, cfg, args, data, np_dtype, onnx_dtype):
    """Writes every weight in graph order; returns the TensorProtos."""
    q_perm = k_perm = None
    if args.rope == "rotate_half":
        q_perm = rotate_half_permutation(cfg.n_heads, cfg.head_dim)
        k_perm = rotate_half_permutation(cfg.n_kv_heads, cfg.head_dim)
    specs = [("model.embed_tokens.weight", "token_embedding", None, None)]
    for i in range(cfg.n_layers):
        p = "model.layers.%d." % i
        specs += [
            (p + "input_layernorm.weight", "rms_att", i, None),
            (p + "self_attn.q_proj.MatMul.weight", "wq", i, q_perm),
            (p + "self_attn.k_proj.MatMul.weight", "wk", i, k_perm),
            (p + "self_attn.v_proj.MatMul.weight", "wv", i, None),
            (p + "self_attn.o_proj.MatMul.weight", "wo", i, None),
            (p + "post_attention_layernorm.weight", "rms_ffn", i, None),
            (p + "mlp.gate_proj.MatMul.weight", "w1", i, None),
            (p + "mlp.up_proj.MatMul.weight", "w3", i, None),
            (p + "mlp.down_proj.MatMul.weight", "w2", i, None),
        ]
    specs += [("model.norm.weight", "rms_final", None, None),
              ("lm_head.MatMul.weight", "wcls", None, None)]
    tensors = []
    for name, kind, layer, perm in specs:
        tensors.append(data.add(name, onnx_layout_shape(cfg, kind), np_dtype, onnx_dtype,
                                source.chunks(kind, layer), perm))
    return tensors


def write_checkpoint(source, cfg, path):
    """Writes the random weights as a legacy llama2.c checkpoint with an unshared classifier."""
    with open(path, "wb") as f:
        f.write(HEADER.pack(cfg.dim, cfg.hidden_dim, cfg.n_layers, cfg.n_heads, cfg.n_kv_heads,
                            -cfg.vocab_size, cfg.seq_len))
        for kind, per_layer in LLAMA2C_ORDER:
            for layer in (range(cfg.n_layers) if per_layer else [None]):
                f.write(np.ascontiguousarray(source.llama2c_tensor(kind, layer),
                                             dtype="<f4").tobytes())
        half = cfg.head_dim // 2
        freqs = 1.0 / ROPE_THETA ** (np.arange(half) * 2.0 / cfg.head_dim)
        angles = np.arange(cfg.seq_len)[:, None] * freqs[None, :]
        f.write(np.cos(angles).astype("<f4").tobytes())
        f.write(np.sin(angles).astype("<f4").tobytes())
        f.write(np.ascontiguousarray(source.llama2c_tensor("wcls", None), dtype="<f4").tobytes())


# --------------------------------------------------------------------------------------------
# Graph

class GraphBuilder:
    """Appends nodes named like torch's exporter: {scope}/{OpType}[_k], outputs {name}_output_j."""

    def __init__(self):
        self.nodes = []
        self.counts = {}

    def op(self, scope, op_type, inputs, outputs=None, **attrs):
        key = (scope, op_type)
        k = self.counts.get(key, 0)
        self.counts[key] = k + 1
        name = "%s/%s" % (scope, op_type) + ("_%d" % k if k else "")
        if outputs is None:
            outputs = [name + "_output_0"]
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs, name=name, **attrs))
        return outputs[0]

    def const(self, scope, value, dtype):
        array = np.array(value, dtype=dtype)
        tensor = numpy_helper.from_array(array)
        return self.op(scope, "Constant", [], value=tensor)

    def i64(self, scope, value):
        return self.const(scope, value, np.int64)


class LlamaGraph:
    def __init__(self, cfg, fp16, rope):
        self.cfg = cfg
        self.fp16 = fp16
        self.rope = rope
        self.np_dtype = np.float16 if fp16 else np.float32
        self.onnx_dtype = TensorProto.FLOAT16 if fp16 else TensorProto.FLOAT
        self.g = GraphBuilder()

    def rms_norm(self, scope, x, weight):
        g = self.g
        if self.fp16:
            x = g.op(scope, "Cast", [x], to=TensorProto.FLOAT)
        y = g.op(scope, "Pow", [x, g.const(scope, 2.0, np.float32)])
        y = g.op(scope, "ReduceMean", [y], axes=[-1], keepdims=1)
        y = g.op(scope, "Add", [y, g.const(scope, RMS_EPS, np.float32)])
        y = g.op(scope, "Sqrt", [y])
        y = g.op(scope, "Reciprocal", [y])
        y = g.op(scope, "Mul", [x, y])
        if self.fp16:
            y = g.op(scope, "Cast", [y], to=TensorProto.FLOAT16)
        return g.op(scope, "Mul", [weight, y])

    def causal_mask(self):
        g, s = self.g, "/model"
        minimum = np.finfo(self.np_dtype).min
        seq = g.op(s, "Gather", [g.op(s, "Shape", ["input_ids"]), g.i64(s, 1)], axis=0)
        total = g.op(s, "Gather", [g.op(s, "Shape", ["attention_mask"]), g.i64(s, 1)], axis=0)
        past = g.op(s, "Sub", [total, seq])
        query_pos = g.op(s, "Range", [past, total, g.i64(s, 1)])
        key_pos = g.op(s, "Range", [g.i64(s, 0), total, g.i64(s, 1)])
        query_pos = g.op(s, "Unsqueeze", [query_pos, g.i64(s, [1])])
        key_pos = g.op(s, "Unsqueeze", [key_pos, g.i64(s, [0])])
        future = g.op(s, "Less", [query_pos, key_pos])
        future = g.op(s, "Where", [future, g.const(s, minimum, self.np_dtype),
                                   g.const(s, 0, self.np_dtype)])
        padding = g.op(s, "Equal", ["attention_mask", g.i64(s, 0)])
        padding = g.op(s, "Unsqueeze", [padding, g.i64(s, [1, 2])])
        padding = g.op(s, "Where", [padding, g.const(s, minimum, self.np_dtype),
                                    g.const(s, 0, self.np_dtype)])
        return g.op(s, "Add", [future, padding])

    def rotary_angles(self):
        g, s, cfg = self.g, "/model/rotary_emb", self.cfg
        half = cfg.head_dim // 2
        inv_freq = 1.0 / ROPE_THETA ** (np.arange(half, dtype=np.float64) * 2.0 / cfg.head_dim)
        inv_freq = g.const(s, inv_freq, np.float32)
        inv_freq = g.op(s, "Unsqueeze", [inv_freq, g.i64(s, [0, 2])])
        batch = g.op(s, "Gather", [g.op(s, "Shape", ["position_ids"]), g.i64(s, 0)], axis=0)
        batch = g.op(s, "Unsqueeze", [batch, g.i64(s, [0])])
        shape = g.op(s, "Concat", [batch, g.i64(s, [half, 1])], axis=0)
        inv_freq = g.op(s, "Expand", [inv_freq, shape])
        positions = g.op(s, "Cast", ["position_ids"], to=TensorProto.FLOAT)
        positions = g.op(s, "Unsqueeze", [positions, g.i64(s, [1])])
        freqs = g.op(s, "MatMul", [inv_freq, positions])
        freqs = g.op(s, "Transpose", [freqs], perm=[0, 2, 1])
        if self.rope == "rotate_half":
            freqs = g.op(s, "Concat", [freqs, freqs], axis=-1)
            axes = [1]  # [B, 1, S, hd]
        else:
            axes = [2, 4]  # [B, S, 1, hd/2, 1]
        cos = g.op(s, "Cos", [freqs])
        sin = g.op(s, "Sin", [freqs])
        if self.fp16:
            cos = g.op(s, "Cast", [cos], to=TensorProto.FLOAT16)
            sin = g.op(s, "Cast", [sin], to=TensorProto.FLOAT16)
        cos = g.op(s, "Unsqueeze", [cos, g.i64(s, axes)])
        sin = g.op(s, "Unsqueeze", [sin, g.i64(s, axes)])
        return cos, sin

    def apply_rotate_half(self, sa, t, cos, sin):
        g, half = self.g, self.cfg.head_dim // 2
        t_cos = g.op(sa, "Mul", [t, cos])
        x1 = g.op(sa, "Slice", [t, g.i64(sa, [0]), g.i64(sa, [half]), g.i64(sa, [-1])])
        x2 = g.op(sa, "Slice", [t, g.i64(sa, [half]), g.i64(sa, [INT64_MAX]), g.i64(sa, [-1])])
        rotated = g.op(sa, "Concat", [g.op(sa, "Neg", [x2]), x1], axis=-1)
        return g.op(sa, "Add", [t_cos, g.op(sa, "Mul", [rotated, sin])])

    def apply_interleaved(self, sa, t, n, batch, seq, cos, sin):
        g, hd = self.g, self.cfg.head_dim
        shape = g.op(sa, "Concat", [batch, seq, g.i64(sa, [n]), g.i64(sa, [hd // 2]),
                                    g.i64(sa, [2])], axis=0)
        pairs = g.op(sa, "Reshape", [t, shape])
        x0 = g.op(sa, "Slice", [pairs, g.i64(sa, [0]), g.i64(sa, [1]), g.i64(sa, [-1])])
        x1 = g.op(sa, "Slice", [pairs, g.i64(sa, [1]), g.i64(sa, [2]), g.i64(sa, [-1])])
        out0 = g.op(sa, "Sub", [g.op(sa, "Mul", [x0, cos]), g.op(sa, "Mul", [x1, sin])])
        out1 = g.op(sa, "Add", [g.op(sa, "Mul", [x0, sin]), g.op(sa, "Mul", [x1, cos])])
        pairs = g.op(sa, "Concat", [out0, out1], axis=-1)
        shape = g.op(sa, "Concat", [batch, seq, g.i64(sa, [n]), g.i64(sa, [hd])], axis=0)
        return g.op(sa, "Reshape", [pairs, shape])

    def repeat_kv(self, sa, t):
        g, cfg = self.g, self.cfg
        shape = g.op(sa, "Shape", [t])
        batch = g.op(sa, "Unsqueeze", [g.op(sa, "Gather", [shape, g.i64(sa, 0)], axis=0),
                                       g.i64(sa, [0])])
        total = g.op(sa, "Unsqueeze", [g.op(sa, "Gather", [shape, g.i64(sa, 2)], axis=0),
                                       g.i64(sa, [0])])
        n_rep = cfg.n_heads // cfg.n_kv_heads
        expanded = g.op(sa, "Concat", [batch, g.i64(sa, [cfg.n_kv_heads]), g.i64(sa, [n_rep]),
                                       total, g.i64(sa, [cfg.head_dim])], axis=0)
        t = g.op(sa, "Unsqueeze", [t, g.i64(sa, [2])])
        t = g.op(sa, "Expand", [t, expanded])
        merged = g.op(sa, "Concat", [batch, g.i64(sa, [cfg.n_heads]), total,
                                     g.i64(sa, [cfg.head_dim])], axis=0)
        return g.op(sa, "Reshape", [t, merged])

    def decoder_layer(self, i, h, mask, cos, sin):
        g, cfg = self.g, self.cfg
        scope = "/model/layers.%d" % i
        sa = scope + "/self_attn"
        mlp = scope + "/mlp"
        w = "model.layers.%d." % i
        x = self.rms_norm(scope + "/input_layernorm", h, w + "input_layernorm.weight")
        q = g.op(sa + "/q_proj", "MatMul", [x, w + "self_attn.q_proj.MatMul.weight"])
        k = g.op(sa + "/k_proj", "MatMul", [x, w + "self_attn.k_proj.MatMul.weight"])
        v = g.op(sa + "/v_proj", "MatMul", [x, w + "self_attn.v_proj.MatMul.weight"])
        shape = g.op(sa, "Shape", [x])
        batch = g.op(sa, "Gather", [shape, g.i64(sa, 0)], axis=0)
        seq = g.op(sa, "Gather", [shape, g.i64(sa, 1)], axis=0)
        batch = g.op(sa, "Unsqueeze", [batch, g.i64(sa, [0])])
        seq = g.op(sa, "Unsqueeze", [seq, g.i64(sa, [0])])

        def split_heads(t, n):
            shape = g.op(sa, "Concat", [batch, seq, g.i64(sa, [n]), g.i64(sa, [cfg.head_dim])],
                         axis=0)
            return g.op(sa, "Reshape", [t, shape])

        def heads_first(t):
            return g.op(sa, "Transpose", [t], perm=[0, 2, 1, 3])

        rotated = []
        for t, n in ((q, cfg.n_heads), (k, cfg.n_kv_heads)):
            t = split_heads(t, n)
            if self.rope == "rotate_half":
                t = self.apply_rotate_half(sa, heads_first(t), cos, sin)
            else:
                t = heads_first(self.apply_interleaved(sa, t, n, batch, seq, cos, sin))
            rotated.append(t)
        q, k = rotated
        v = heads_first(split_heads(v, cfg.n_kv_heads))
        k = g.op(sa, "Concat", ["past_key_values.%d.key" % i, k], axis=2,
                 outputs=["present.%d.key" % i])
        v = g.op(sa, "Concat", ["past_key_values.%d.value" % i, v], axis=2,
                 outputs=["present.%d.value" % i])
        if cfg.n_heads != cfg.n_kv_heads:
            k = self.repeat_kv(sa, k)
            v = self.repeat_kv(sa, v)
        scores = g.op(sa, "MatMul", [q, g.op(sa, "Transpose", [k], perm=[0, 1, 3, 2])])
        scores = g.op(sa, "Div", [scores, g.const(sa, math.sqrt(cfg.head_dim), self.np_dtype)])
        scores = g.op(sa, "Add", [scores, mask])
        if self.fp16:
            scores = g.op(sa, "Cast", [scores], to=TensorProto.FLOAT)
        probs = g.op(sa, "Softmax", [scores], axis=-1)
        if self.fp16:
            probs = g.op(sa, "Cast", [probs], to=TensorProto.FLOAT16)
        attn = heads_first(g.op(sa, "MatMul", [probs, v]))
        shape = g.op(sa, "Concat", [batch, seq, g.i64(sa, [cfg.dim])], axis=0)
        attn = g.op(sa, "Reshape", [attn, shape])
        attn = g.op(sa + "/o_proj", "MatMul", [attn, w + "self_attn.o_proj.MatMul.weight"])
        h = g.op(scope, "Add", [h, attn])

        x = self.rms_norm(scope + "/post_attention_layernorm", h,
                          w + "post_attention_layernorm.weight")
        gate = g.op(mlp + "/gate_proj", "MatMul", [x, w + "mlp.gate_proj.MatMul.weight"])
        silu = g.op(mlp + "/act_fn", "Mul", [gate, g.op(mlp + "/act_fn", "Sigmoid", [gate])])
        up = g.op(mlp + "/up_proj", "MatMul", [x, w + "mlp.up_proj.MatMul.weight"])
        down = g.op(mlp + "/down_proj", "MatMul",
                    [g.op(mlp, "Mul", [silu, up]), w + "mlp.down_proj.MatMul.weight"])
        return g.op(scope, "Add", [h, down])

    def build(self, initializers):
        g, cfg, dt = self.g, self.cfg, self.onnx_dtype
        kv_shape = lambda length: ["batch_size", cfg.n_kv_heads, length, cfg.head_dim]
        inputs = [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64,
                                          ["batch_size", "sequence_length"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64,
                                          ["batch_size", "total_sequence_length"]),
            helper.make_tensor_value_info("position_ids", TensorProto.INT64,
                                          ["batch_size", "sequence_length"]),
        ]
        outputs = [helper.make_tensor_value_info(
            "logits", dt, ["batch_size", "sequence_length", cfg.vocab_size])]
        for i in range(cfg.n_layers):
            for part in ("key", "value"):
                inputs.append(helper.make_tensor_value_info(
                    "past_key_values.%d.%s" % (i, part), dt, kv_shape("past_sequence_length")))
                outputs.append(helper.make_tensor_value_info(
                    "present.%d.%s" % (i, part), dt, kv_shape("total_sequence_length")))

        h = g.op("/model/embed_tokens", "Gather", ["model.embed_tokens.weight", "input_ids"],
                 axis=0)
        mask = self.causal_mask()
        cos, sin = self.rotary_angles()
        for i in range(cfg.n_layers):
            h = self.decoder_layer(i, h, mask, cos, sin)
        h = self.rms_norm("/model/norm", h, "model.norm.weight")
        g.op("/lm_head", "MatMul", [h, "lm_head.MatMul.weight"], outputs=["logits"])
        return helper.make_graph(g.nodes, "llama2", inputs, outputs, initializer=initializers)


# --------------------------------------------------------------------------------------------

# Llama 2 7B's dimensions (--llama2-7b), by argument name.
LLAMA2_7B_SHAPE = {"dim": 4096, "hidden_dim": 11008, "layers": 32, "heads": 32,
                   "kv_heads": 32, "vocab": 32000, "max_seq_len": 4096}


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Export a Llama 2 model (llama2.c checkpoint or random weights) to a "
                    "standard-op ONNX graph (opset 17) shaped like Hugging Face's torch "
                    "exports, with all weights in OUT.onnx.data. The graph structure is "
                    "documented at the top of this script.",
        epilog="examples:\n"
               "  %(prog)s stories260K.bin -o stories260K.onnx\n"
               "  %(prog)s --random --llama2-7b --layers 2 --seed 0 -o llama2-7b-2l.onnx",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", nargs="?",
                        help="llama2.c checkpoint (.bin, legacy format); omit with --random")
    parser.add_argument("-o", "--output", required=True,
                        help="the ONNX model to write; the weights go to OUTPUT.data beside it")
    parser.add_argument("--dtype", choices=["fp32", "fp16"], default="fp32",
                        help="type of the weights, activations and KV cache (default fp32)")
    parser.add_argument("--rope", choices=["rotate_half", "interleaved"], default="rotate_half",
                        help="rotary convention: rotate_half (Hugging Face; permutes wq/wk rows) "
                             "or interleaved (Meta/llama2.c adjacent pairs) (default rotate_half)")
    parser.add_argument("--max-seq-len", type=int,
                        help="maximum sequence length recorded in the model metadata (default: "
                             "the checkpoint's; required with --random)")
    random = parser.add_argument_group("random weights")
    random.add_argument("--random", action="store_true",
                        help="use random weights of the dimensions below instead of a checkpoint")
    for flag, what in (("--dim", "model width"), ("--hidden-dim", "FFN width"),
                       ("--layers", "decoder layers"), ("--heads", "query heads"),
                       ("--kv-heads", "key/value heads (default: --heads)"),
                       ("--vocab", "vocabulary size")):
        random.add_argument(flag, type=int, help=what)
    random.add_argument("--llama2-7b", action="store_true",
                        help="Llama 2 7B's shape for every dimension not given: dim 4096, "
                             "hidden 11008, 32 layers, 32 heads and key/value heads, "
                             "vocab 32000, 4096 positions")
    random.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    random.add_argument("--init-std", type=float, default=0.02,
                        help="standard deviation of the random weights (default 0.02)")
    random.add_argument("--write-checkpoint", metavar="OUT.bin",
                        help="also write the random weights as a llama2.c checkpoint "
                             "(unshared classifier)")
    random.add_argument("--weightless", action="store_true",
                        help="write only the graph: the initializers refer to OUTPUT.data, "
                             "which is not written (for quant-translate --weightless)")
    args = parser.parse_args(argv)

    if args.random:
        if args.checkpoint:
            parser.error("give either a checkpoint or --random, not both")
        if args.llama2_7b:
            for f, value in LLAMA2_7B_SHAPE.items():
                if getattr(args, f) is None:
                    setattr(args, f, value)
        missing = [f for f in ("dim", "hidden_dim", "layers", "heads", "vocab", "max_seq_len")
                   if getattr(args, f) is None]
        if missing:
            parser.error("--random needs " + ", ".join(
                "--" + f.replace("_", "-") for f in missing))
        if args.kv_heads is None:
            args.kv_heads = args.heads
        if not args.init_std > 0:
            parser.error("--init-std must be positive")
        if args.weightless and args.write_checkpoint:
            parser.error("--weightless draws no weights: it cannot --write-checkpoint")
    else:
        if not args.checkpoint:
            parser.error("give a checkpoint, or --random with dimensions")
        given = [f for f in ("dim", "hidden_dim", "layers", "heads", "kv_heads", "vocab",
                             "write_checkpoint") if getattr(args, f) is not None]
        given += [f for f in ("weightless", "llama2_7b") if getattr(args, f)]
        if given:
            parser.error("--%s only goes with --random" % given[0].replace("_", "-"))
    if args.max_seq_len is not None and args.max_seq_len <= 0:
        parser.error("--max-seq-len must be positive")
    return args


def export(args):
    if args.random:
        cfg = Config(args.dim, args.hidden_dim, args.layers, args.heads, args.kv_heads,
                     args.vocab, args.max_seq_len, False)
        cfg.validate()
        source = RandomSource(cfg, args.seed, args.init_std)
    else:
        source = CheckpointSource(args.checkpoint)
        cfg = source.cfg
    max_seq_len = args.max_seq_len or cfg.seq_len

    out_dir = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(out_dir):
        raise UsageError("output directory does not exist: %s" % out_dir)
    fp16 = args.dtype == "fp16"
    np_dtype = np.float16 if fp16 else np.float32
    onnx_dtype = TensorProto.FLOAT16 if fp16 else TensorProto.FLOAT

    data = ExternalData(args.output + ".data", write=not args.weightless)
    try:
        initializers = write_initializers(source, cfg, args, data, np_dtype, onnx_dtype)
    finally:
        data.close()
    graph = LlamaGraph(cfg, fp16, args.rope).build(initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              ir_version=IR_VERSION, producer_name="quant-opt llama2c_to_onnx")
    metadata = {
        "source": "weightless" if args.weightless
                  else "random(seed=%d, std=%g)" % (args.seed, args.init_std) if args.random
                  else os.path.basename(args.checkpoint),
        "dim": cfg.dim, "hidden_dim": cfg.hidden_dim, "n_layers": cfg.n_layers,
        "n_heads": cfg.n_heads, "n_kv_heads": cfg.n_kv_heads, "head_dim": cfg.head_dim,
        "vocab_size": cfg.vocab_size, "max_seq_len": max_seq_len, "rope": args.rope,
        "rope_theta": ROPE_THETA, "rms_norm_eps": RMS_EPS, "dtype": args.dtype,
    }
    helper.set_model_props(model, {k: str(v) for k, v in metadata.items()})
    # onnx.save writes only the proto: the tensors carry no raw_data, just external references.
    onnx.save(model, args.output)
    if args.weightless:
        # The checker looks for the missing data file: check a copy whose initializers are
        # empty tensors instead.
        checked = onnx.ModelProto()
        checked.CopyFrom(model)
        for tensor in checked.graph.initializer:
            del tensor.external_data[:]
            del tensor.dims[:]
            tensor.dims.append(0)
            tensor.data_location = TensorProto.DEFAULT
        onnx.checker.check_model(checked)
        print("wrote %s (%d nodes, %d initializers; weightless: they refer to %s, %d bytes, "
              "which is not written)" % (args.output, len(graph.node), len(initializers),
                                         args.output + ".data", data.offset))
        return
    onnx.checker.check_model(args.output)

    if args.write_checkpoint:
        write_checkpoint(source, cfg, args.write_checkpoint)
    print("wrote %s (%d nodes, %d initializers) and %s (%d bytes)" % (
        args.output, len(graph.node), len(initializers), args.output + ".data",
        os.path.getsize(args.output + ".data")))


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        export(args)
    except UsageError as e:
        print("%s: error: %s" % (os.path.basename(sys.argv[0]), e), file=sys.stderr)
        return 2
    except OSError as e:
        print("%s: error: %s" % (os.path.basename(sys.argv[0]), e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
