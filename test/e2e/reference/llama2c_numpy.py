#!/usr/bin/python3
"""An independent numpy forward pass of a llama2.c checkpoint: the reference for end-to-end tests.

Written from the model math in the shared data README (../shared/data/README.md), not from the
ONNX exporter: float32 throughout, one token at a time with a KV cache, RMSNorm (eps 1e-5),
rotary embedding over adjacent pairs (x[2i], x[2i+1]) rotated by pos * 10000^(-2i/head_size),
causal attention scaled by 1/sqrt(head_size) where query head h reads KV head
h // (n_heads / n_kv_heads), FFN w2(silu(w1 x) * (w3 x)), residual adds, final RMSNorm, and the
classifier (the token embedding when the header's vocab_size is positive).

  llama2c_numpy.py CHECKPOINT TOKENIZER --generate N [--prompt-ids 1,2,3]
      greedy decoding: line 1 is the N generated ids, comma-separated (prompt excluded, EOS not
      special, lowest id on ties); then the text as llama2.c prints it (the prompt's pieces after
      its first token, then the generated ones).
  llama2c_numpy.py CHECKPOINT --no-tokenizer --generate N ...     ids only
  llama2c_numpy.py CHECKPOINT [TOKENIZER] --logits 1,2,3 --out LOGITS.npy
      runs the ids and saves the last position's logits, float32 [vocab].
  llama2c_numpy.py CHECKPOINT [TOKENIZER] --all-logits 1,2,3 --out LOGITS.npy
      the logits of every position, float32 [tokens, vocab], from a whole-sequence forward.
  llama2c_numpy.py CHECKPOINT TOKENIZER --perplexity TEXT [--max-docs N]
      the perplexity protocol of the shared data README: TEXT split on <|endoftext|>, documents
      stripped, empty ones dropped, the first N (default 200); each BOS + encode(document)
      truncated to seq_len; NLL (float64 log-softmax) summed over positions 1..T-1 of all
      documents. Prints `perplexity: P (T tokens, D documents)`. The whole-sequence forward
      (causal mask, no KV cache) is a second formulation next to the token-by-token one.
  ... --quant SCHEME
      any mode above with every projection weight (wq, wk, wv, wo, w1, w2, w3 of every layer,
      each [out, in] as stored, so groups run along `in`) replaced by its quantized-dequantized
      value under SCHEME (quant_numpy.py: fp32, int8, int4-g32/-g64/-g128[-sym], nf4, nf4-dq,
      fp4, fp4-dq); the token embedding, the classifier and the norms stay float32.
      SCHEME llm-int8[-t<T>] (LLM.int8(), llm_int8_numpy.py; T the outlier threshold, default
      6, llm-int8-t0 none) quantizes the same projections row-wise to 8 bits and runs every
      projection matmul through llm_int8_numpy.matmul on the activations of that call: the
      whole sequence at once in the whole-sequence forward (so outlier columns are decided
      over all its tokens), one token in the token-by-token one.
  ... --activations auto|f32|int8
      the projections' inputs as the CPU plans of quant-compile's `activations` option take them:
      int8 rounds each row of a projection's input, per block of 32 columns (the last one
      shorter), to rint(x * (127 / max|x|)) (float32 product, ties to even; 0 for an all-zero
      block) times max|x| / 127 before the matmul, and NF4/FP4 code values become
      rint(2047 v) / 2047 (the integer table of the CPU's kernels); f32 leaves them; auto (the
      default) is int8 for integer schemes of 4 or 8 bits and for NF4/FP4 whose groups are 32,
      64, a multiple of 128 or whole rows (int8, int4-g32/-g64/-g128[-sym], nf4[-dq],
      fp4[-dq]), f32 for the rest (fp32, llm-int8, other bit widths and group sizes).
  ... --chunk N
      every projection matmul of the whole-sequence forward takes at most N rows (tokens) at a
      time, as a runtime that prefills N tokens per step does (LLM.int8() then decides outlier
      columns per chunk); attention still reads every earlier position. Default: all at once.
  ... --quant llm-int8[-t<T>] --outlier-stats
      after the mode's output: `outlier columns: C of K (P%) over M matmuls` (C the outlier
      columns summed over the M projection matmul calls, K their columns summed), then one
      line per projection: `  <name>: mean C/call of K columns (M calls)`.
"""

import argparse
import math
import os
import struct
import sys

import numpy as np

F32 = np.float32


class InputError(Exception):
    pass


class Checkpoint:
    FIELDS = ("dim", "hidden_dim", "n_layers", "n_heads", "n_kv_heads", "vocab_size", "seq_len")

    def __init__(self, path):
        if not os.path.isfile(path):
            raise InputError("checkpoint not found: %s" % path)
        with open(path, "rb") as f:
            raw = f.read()
        if len(raw) < 28:
            raise InputError("%s: too short for a llama2.c header" % path)
        header = struct.unpack("<7i", raw[:28])
        for name, value in zip(self.FIELDS, header):
            setattr(self, name, value)
        self.shared_classifier = self.vocab_size > 0
        self.vocab_size = abs(self.vocab_size)
        if min(self.dim, self.hidden_dim, self.n_layers, self.n_heads, self.n_kv_heads,
               self.vocab_size, self.seq_len) <= 0 or self.dim % self.n_heads \
                or self.n_heads % self.n_kv_heads or (self.dim // self.n_heads) % 2:
            raise InputError("%s: not a llama2.c checkpoint header: %s" % (path, list(header)))
        self.head_size = self.dim // self.n_heads
        kv_dim = self.n_kv_heads * self.head_size
        d, h, n, v = self.dim, self.hidden_dim, self.n_layers, self.vocab_size
        layout = [
            ("token_embedding", (v, d)), ("rms_att", (n, d)), ("wq", (n, d, d)),
            ("wk", (n, kv_dim, d)), ("wv", (n, kv_dim, d)), ("wo", (n, d, d)),
            ("rms_ffn", (n, d)), ("w1", (n, h, d)), ("w2", (n, d, h)), ("w3", (n, h, d)),
            ("rms_final", (d,)), ("freq_cis_real", (self.seq_len, self.head_size // 2)),
            ("freq_cis_imag", (self.seq_len, self.head_size // 2)),
        ]
        if not self.shared_classifier:
            layout.append(("wcls", (v, d)))
        floats_needed = sum(int(np.prod(shape)) for _, shape in layout)
        if len(raw) != 28 + 4 * floats_needed:
            raise InputError("%s: %d bytes, but the header %s needs %d" % (
                path, len(raw), list(header), 28 + 4 * floats_needed))
        floats = np.frombuffer(raw, dtype="<f4", offset=28)
        at = 0
        for name, shape in layout:
            count = int(np.prod(shape))
            setattr(self, name, floats[at:at + count].reshape(shape).astype(F32))
            at += count
        if self.shared_classifier:
            self.wcls = self.token_embedding


def read_tokenizer(path, vocab_size):
    if not os.path.isfile(path):
        raise InputError("tokenizer not found: %s" % path)
    with open(path, "rb") as f:
        raw = f.read()
    pieces = []
    at = 4  # max_token_length
    try:
        for _ in range(vocab_size):
            _score, length = struct.unpack_from("<fi", raw, at)
            at += 8
            if length < 0 or at + length > len(raw):
                raise struct.error("bad piece length")
            pieces.append(raw[at:at + length])
            at += length
    except struct.error:
        raise InputError("%s: not a llama2.c tokenizer with %d tokens" % (path, vocab_size))
    return pieces


def decode(pieces, ids, previous):
    """llama2.c's decode: no leading space right after BOS, <0xHH> pieces are raw bytes."""
    out = bytearray()
    for token in ids:
        piece = pieces[token]
        if previous == 1 and piece.startswith(b" "):
            piece = piece[1:]
        if len(piece) == 6 and piece.startswith(b"<0x") and piece.endswith(b">"):
            try:
                piece = bytes([int(piece[3:5], 16)])
            except ValueError:
                pass
        out += piece
        previous = token
    return out.decode("utf-8", errors="replace")


PROJECTIONS = ("wq", "wk", "wv", "wo", "w1", "w2", "w3")


class LlmInt8Projections:
    """The LLM.int8() state of every projection: per name, per layer, the int8 rows CB and the
    float32 row scales s (llm_int8_numpy.quantize_weight_rows), the threshold, and the outlier
    columns of every matmul call so far (`calls[name]`: a list of (outlier columns, columns))."""

    def __init__(self, ckpt, threshold):
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import llm_int8_numpy
        self.lib = llm_int8_numpy
        self.threshold = threshold
        self.weights = {}
        self.calls = {name: [] for name in PROJECTIONS}
        for name in PROJECTIONS:
            per_layer = []
            for w in getattr(ckpt, name):
                CB, _SCB, s = llm_int8_numpy.quantize_weight_rows(w)
                per_layer.append((CB, s))
            self.weights[name] = per_layer

    def dequantized(self, name):
        return np.stack([self.lib.dequantize_weight_rows(CB, s)
                         for CB, s in self.weights[name]]).astype(F32)

    def matmul(self, name, layer, x):
        CB, s = self.weights[name][layer]
        y, cols = self.lib.matmul(x, CB, s, self.threshold)
        self.calls[name].append((len(cols), CB.shape[1]))
        return y

    def summary(self):
        """The --outlier-stats lines."""
        everything = [c for name in PROJECTIONS for c in self.calls[name]]
        outliers = sum(c for c, _ in everything)
        columns = sum(k for _, k in everything)
        lines = ["outlier columns: %d of %d (%.3f%%) over %d matmuls" % (
            outliers, columns, 100.0 * outliers / columns if columns else 0.0, len(everything))]
        for name in PROJECTIONS:
            calls = self.calls[name]
            if calls:
                lines.append("  %s: mean %.3f/call of %d columns (%d calls)" % (
                    name, sum(c for c, _ in calls) / len(calls), calls[0][1], len(calls)))
        return lines


def round_activations(x):
    """x [..., k] (float32) rounded to 8 bits per block of 32 along the last axis and returned
    dequantized (float32): the activations of a plan step with int8_activations."""
    x = np.asarray(x, dtype=F32)
    k = x.shape[-1]
    out = np.empty_like(x)
    for c0 in range(0, k, 32):
        block = x[..., c0:c0 + 32]
        absmax = np.max(np.abs(block), axis=-1, keepdims=True)
        safe = np.where(absmax > 0, absmax, F32(1.0)).astype(F32)
        codes = np.rint(block * (F32(127.0) / safe)).astype(F32)
        codes = np.where(absmax > 0, codes, F32(0.0))
        out[..., c0:c0 + 32] = codes * (safe / F32(127.0))
    return out


def default_int8_activations(scheme):
    """quant-compile's activations=auto: int8 for integer codes of 4 or 8 bits and for NF4/FP4,
    whose groups are 32, 64, a multiple of 128 or whole rows; f32 otherwise."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import quant_numpy
    s = quant_numpy.parse_scheme(scheme)
    if not (s.kind in ("nf4", "fp4") or (s.kind == "int" and s.bits in (4, 8))):
        return False
    return s.group_size is None or s.group_size in (32, 64) or s.group_size % 128 == 0


def quantize_projections(ckpt, scheme, activations="auto"):
    """Replaces every projection of `ckpt` by its quantized-dequantized value (quant_numpy).
    llm-int8 schemes also set ckpt.llm_int8 (LlmInt8Projections), which Model's projections
    then run through."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import quant_numpy
    try:
        scheme = quant_numpy.parse_scheme(scheme)
    except quant_numpy.SchemeError as e:
        raise InputError(str(e))
    if activations not in ("auto", "f32", "int8"):
        raise InputError("--activations is auto, f32 or int8, got %r" % activations)
    if activations == "int8" and scheme.kind == "llm-int8":
        raise InputError("llm-int8 rounds its activations its own way: no --activations int8")
    ckpt.int8_activations = (default_int8_activations(scheme) if activations == "auto"
                             else activations == "int8")
    if scheme.kind == "fp32":
        return
    if scheme.kind == "llm-int8":
        ckpt.llm_int8 = LlmInt8Projections(ckpt, scheme.outlier_threshold)
        for name in PROJECTIONS:
            setattr(ckpt, name, ckpt.llm_int8.dequantized(name))
        return
    table = None
    if ckpt.int8_activations and scheme.kind in ("nf4", "fp4"):
        values = quant_numpy.float4_values(scheme).astype(np.float64)
        table = (np.rint(2047.0 * values) / 2047.0).astype(F32)
    for name in PROJECTIONS:
        weights = getattr(ckpt, name)
        setattr(ckpt, name, np.stack([quant_numpy.quantize_dequantize(w, scheme, table)
                                      for w in weights]).astype(F32))


class Model:
    """chunk: the most rows one projection matmul of forward_sequence takes (None: all)."""

    def __init__(self, ckpt, chunk=None):
        self.c = ckpt
        self.llm_int8 = getattr(ckpt, "llm_int8", None)
        self.int8_activations = getattr(ckpt, "int8_activations", False)
        if chunk is not None and chunk <= 0:
            raise InputError("the chunk size must be positive, got %d" % chunk)
        self.chunk = chunk
        half = ckpt.head_size // 2
        # 10000^(-2i/head_size), as float32 like llama2.c's powf.
        self.freq = (F32(1.0) / np.power(F32(10000.0),
                                         np.arange(0, ckpt.head_size, 2, dtype=F32)
                                         / F32(ckpt.head_size))).astype(F32)
        assert self.freq.shape == (half,)
        kv_dim = ckpt.n_kv_heads * ckpt.head_size
        self.key_cache = np.zeros((ckpt.n_layers, ckpt.seq_len, kv_dim), F32)
        self.value_cache = np.zeros((ckpt.n_layers, ckpt.seq_len, kv_dim), F32)

    def project(self, name, layer, x):
        """x [in] or [T, in] times projection `name` of `layer` ([out, in]): [out] or [T, out].
        Float: W @ x or x @ W^T as before; llm-int8: llm_int8_numpy.matmul on this call's x."""
        if self.chunk is not None and x.ndim == 2 and x.shape[0] > self.chunk:
            return np.concatenate([self.project(name, layer, x[i:i + self.chunk])
                                   for i in range(0, x.shape[0], self.chunk)])
        if self.llm_int8 is not None:
            return self.llm_int8.matmul(name, layer, x)
        if self.int8_activations:
            x = round_activations(x)
        w = getattr(self.c, name)[layer]
        return w @ x if x.ndim == 1 else x @ w.T

    @staticmethod
    def rmsnorm(x, weight):
        scale = F32(1.0) / np.sqrt(np.mean(x * x, dtype=F32) + F32(1e-5))
        return (weight * (scale * x)).astype(F32)

    def rotate(self, vec, n_heads, pos):
        """Rotates adjacent pairs of every head of `vec` ([n_heads * head_size])."""
        angle = F32(pos) * self.freq
        cos, sin = np.cos(angle).astype(F32), np.sin(angle).astype(F32)
        pairs = vec.reshape(n_heads, -1, 2)
        even, odd = pairs[..., 0], pairs[..., 1]
        out = np.empty_like(pairs)
        out[..., 0] = even * cos - odd * sin
        out[..., 1] = even * sin + odd * cos
        return out.reshape(-1)

    def forward(self, token, pos):
        c = self.c
        if pos >= c.seq_len:
            raise InputError("position %d is past the model's seq_len %d" % (pos, c.seq_len))
        hs, kvh = c.head_size, c.n_kv_heads
        group = c.n_heads // kvh
        x = c.token_embedding[token].copy()
        for layer in range(c.n_layers):
            xb = self.rmsnorm(x, c.rms_att[layer])
            q = self.rotate(self.project("wq", layer, xb), c.n_heads, pos)
            self.key_cache[layer, pos] = self.rotate(self.project("wk", layer, xb), kvh, pos)
            self.value_cache[layer, pos] = self.project("wv", layer, xb)
            keys = self.key_cache[layer, :pos + 1].reshape(pos + 1, kvh, hs)
            values = self.value_cache[layer, :pos + 1].reshape(pos + 1, kvh, hs)
            q = q.reshape(kvh, group, hs)  # query head h = kv head h // group
            scores = np.einsum("kgd,tkd->kgt", q, keys) / np.sqrt(F32(hs))
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            att = scores / scores.sum(axis=-1, keepdims=True)
            out = np.einsum("kgt,tkd->kgd", att, values).reshape(-1).astype(F32)
            x = x + self.project("wo", layer, out)
            xb = self.rmsnorm(x, c.rms_ffn[layer])
            h1 = self.project("w1", layer, xb)
            h3 = self.project("w3", layer, xb)
            hidden = (h1 / (F32(1.0) + np.exp(-h1))) * h3
            x = (x + self.project("w2", layer, hidden)).astype(F32)
        x = self.rmsnorm(x, c.rms_final)
        return (c.wcls @ x).astype(F32)


def rotate_sequence(model, x, n_heads):
    """Rotary embedding of x [T, n_heads * head_size] at positions 0..T-1 (adjacent pairs)."""
    t = x.shape[0]
    angle = np.arange(t, dtype=F32)[:, None] * model.freq[None, :]  # [T, half]
    cos, sin = np.cos(angle).astype(F32), np.sin(angle).astype(F32)
    pairs = x.reshape(t, n_heads, -1, 2)
    even, odd = pairs[..., 0], pairs[..., 1]
    out = np.empty_like(pairs)
    out[..., 0] = even * cos[:, None, :] - odd * sin[:, None, :]
    out[..., 1] = even * sin[:, None, :] + odd * cos[:, None, :]
    return out.reshape(t, -1)


# The inputs of a layer's projections that forward_sequence can return instead of the logits:
# q/k/v's, o's, gate/up's (w1/w3), down's (w2).
CAPTURE_POINTS = ("attn_in", "attn_out", "ffn_in", "ffn_hidden")


def forward_sequence(model, tokens, capture=None):
    """Logits [T, vocab] of every position of `tokens`, all positions at once; with
    capture=(layer, point), point in CAPTURE_POINTS, that input of that layer instead."""
    c = model.c
    t = len(tokens)
    if t > c.seq_len:
        raise InputError("%d tokens exceed the model's seq_len %d" % (t, c.seq_len))
    hs, kvh = c.head_size, c.n_kv_heads
    group = c.n_heads // kvh

    def norm(x, weight):
        scale = F32(1.0) / np.sqrt(np.mean(x * x, axis=-1, keepdims=True, dtype=F32) + F32(1e-5))
        return (weight * (scale * x)).astype(F32)

    mask = np.triu(np.full((t, t), -np.inf, dtype=F32), k=1)
    x = c.token_embedding[np.asarray(tokens)].astype(F32)
    def captured(layer, point):
        return capture is not None and capture == (layer, point)

    project = model.project
    for layer in range(c.n_layers):
        xb = norm(x, c.rms_att[layer])
        if captured(layer, "attn_in"):
            return xb
        q = rotate_sequence(model, project("wq", layer, xb), c.n_heads).reshape(t, kvh, group, hs)
        k = rotate_sequence(model, project("wk", layer, xb), kvh).reshape(t, kvh, hs)
        v = project("wv", layer, xb).reshape(t, kvh, hs)
        scores = np.einsum("skgd,tkd->kgst", q, k) / np.sqrt(F32(hs)) + mask
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        att = scores / scores.sum(axis=-1, keepdims=True)
        out = np.einsum("kgst,tkd->skgd", att, v).reshape(t, -1).astype(F32)
        if captured(layer, "attn_out"):
            return out
        x = x + project("wo", layer, out)
        xb = norm(x, c.rms_ffn[layer])
        if captured(layer, "ffn_in"):
            return xb
        h1 = project("w1", layer, xb)
        h3 = project("w3", layer, xb)
        hidden = ((h1 / (F32(1.0) + np.exp(-h1))) * h3).astype(F32)
        if captured(layer, "ffn_hidden"):
            return hidden
        x = (x + project("w2", layer, hidden)).astype(F32)
    if capture is not None:
        raise InputError("nothing to capture at %r" % (capture,))
    return (norm(x, c.rms_final) @ c.wcls.T).astype(F32)


def split_documents(text, limit):
    documents = [d.strip() for d in text.split("<|endoftext|>")]
    documents = [d for d in documents if d]
    return documents[:limit] if limit else documents


def perplexity(model, tokenizer_path, text_path, limit):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from tokenizer_reference import Llama2cTokenizer
    tokenizer = Llama2cTokenizer(tokenizer_path)
    with open(text_path, encoding="utf-8") as f:
        documents = split_documents(f.read(), limit)
    nll, count = 0.0, 0
    for document in documents:
        tokens = ([1] + tokenizer.encode(document))[:model.c.seq_len]
        logits = forward_sequence(model, tokens).astype(np.float64)
        top = logits.max(axis=-1, keepdims=True)
        log_probs = logits - top - np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))
        nll -= float(log_probs[np.arange(len(tokens) - 1), tokens[1:]].sum())
        count += len(tokens) - 1
    return math.exp(nll / count), count, len(documents)


def parse_ids(text, vocab_size, flag):
    try:
        ids = [int(t) for t in text.split(",")]
    except ValueError:
        raise InputError("%s: expected comma-separated ids, got %r" % (flag, text))
    if not ids or any(i < 0 or i >= vocab_size for i in ids):
        raise InputError("%s: ids must be in [0, %d): %r" % (flag, vocab_size, text))
    return ids


def main(argv):
    parser = argparse.ArgumentParser(
        description="Independent numpy reference forward pass of a llama2.c checkpoint "
                    "(float32, KV cache, greedy decoding).",
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n")[-1])
    parser.add_argument("checkpoint", help="llama2.c checkpoint (.bin)")
    parser.add_argument("tokenizer", nargs="?", help="llama2.c tokenizer (tokenizer.bin format)")
    parser.add_argument("--no-tokenizer", action="store_true",
                        help="run without a tokenizer: print ids only")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--generate", type=int, metavar="N", help="greedily generate N tokens")
    mode.add_argument("--logits", metavar="IDS",
                      help="run these comma-separated ids and save the last logits to --out")
    mode.add_argument("--all-logits", metavar="IDS",
                      help="run these ids at once and save every position's logits to --out")
    mode.add_argument("--perplexity", metavar="TEXT",
                      help="perplexity over the documents of TEXT (needs TOKENIZER)")
    parser.add_argument("--max-docs", type=int, default=200,
                        help="documents for --perplexity (default 200, 0: all)")
    parser.add_argument("--prompt-ids", default="1",
                        help="comma-separated prompt ids for --generate (default 1, BOS)")
    parser.add_argument("--out", help="the .npy file that --logits writes")
    parser.add_argument("--quant", metavar="SCHEME", default="fp32",
                        help="quantize-dequantize the projection weights first (default fp32: "
                             "none; int8, int4-g32/-g64/-g128[-sym], nf4, nf4-dq, fp4, fp4-dq); "
                             "llm-int8[-t<T>]: LLM.int8() projection matmuls, outlier "
                             "threshold T (default 6, 0: none)")
    parser.add_argument("--activations", default="auto", choices=("auto", "f32", "int8"),
                        help="the projections' inputs: rounded to 8 bits per block of 32 (int8), "
                             "float (f32), or as quant-compile's default for the scheme (auto)")
    parser.add_argument("--chunk", type=int, metavar="N",
                        help="whole-sequence forward: at most N tokens per projection matmul "
                             "(default: the whole sequence)")
    parser.add_argument("--outlier-stats", action="store_true",
                        help="with --quant llm-int8...: print the outlier columns per matmul")
    args = parser.parse_args(argv)
    if args.no_tokenizer == (args.tokenizer is not None):
        parser.error("give a TOKENIZER or --no-tokenizer (exactly one)")
    if args.generate is not None and args.generate <= 0:
        parser.error("--generate needs a positive count")
    if (args.logits is not None or args.all_logits is not None) and not args.out:
        parser.error("--logits and --all-logits need --out")
    if args.perplexity is not None and args.tokenizer is None:
        parser.error("--perplexity needs a TOKENIZER")
    if args.chunk is not None and args.chunk <= 0:
        parser.error("--chunk needs a positive count")

    try:
        ckpt = Checkpoint(args.checkpoint)
        quantize_projections(ckpt, args.quant, args.activations)
        if args.outlier_stats and getattr(ckpt, "llm_int8", None) is None:
            raise InputError("--outlier-stats needs --quant llm-int8[-t<T>]")
        pieces = None if args.no_tokenizer else read_tokenizer(args.tokenizer, ckpt.vocab_size)
        model = Model(ckpt, chunk=args.chunk)

        def outlier_stats():
            if args.outlier_stats:
                print("\n".join(model.llm_int8.summary()))
            return 0

        if args.perplexity is not None:
            value, tokens, documents = perplexity(model, args.tokenizer, args.perplexity,
                                                  args.max_docs)
            print("perplexity: %.6f (%d tokens, %d documents)" % (value, tokens, documents))
            return outlier_stats()
        if args.all_logits is not None:
            ids = parse_ids(args.all_logits, ckpt.vocab_size, "--all-logits")
            np.save(args.out, forward_sequence(model, ids))
            return outlier_stats()
        if args.logits is not None:
            ids = parse_ids(args.logits, ckpt.vocab_size, "--logits")
            for pos, token in enumerate(ids):
                logits = model.forward(token, pos)
            np.save(args.out, logits.astype(F32))
            return outlier_stats()
        prompt = parse_ids(args.prompt_ids, ckpt.vocab_size, "--prompt-ids")
        if len(prompt) + args.generate - 1 > ckpt.seq_len:
            raise InputError("prompt plus %d tokens exceeds seq_len %d"
                             % (args.generate, ckpt.seq_len))
        for pos, token in enumerate(prompt):
            logits = model.forward(token, pos)
        generated = []
        pos = len(prompt)
        while True:
            generated.append(int(np.argmax(logits)))
            if len(generated) == args.generate:
                break
            logits = model.forward(generated[-1], pos)
            pos += 1
    except InputError as e:
        print("%s: error: %s" % (os.path.basename(sys.argv[0]), e), file=sys.stderr)
        return 2
    print(",".join(map(str, generated)))
    if pieces is not None:
        print(decode(pieces, prompt[1:] + generated, prompt[0]))
    return outlier_stats()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
