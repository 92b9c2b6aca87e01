#!/usr/bin/env python3
"""A Hugging Face-style Llama in PyTorch, exported with torch.onnx.export: the
graphs a user gets from transformers 4.3x-era code (a test fixture writer).

    hf_llama_torch.py CHECKPOINT.bin -o MODEL.onnx [--opset 14|17] [--no-past]
                      [--mask expand|triu] [--dtype fp32|fp16]

The model mirrors transformers' modeling_llama.py of versions 4.31-4.37 (the
TorchScript exporter's era), written here from its structure, not imported:
  - RMSNorm computed in float32 between casts, `x * rsqrt(mean(x^2) + eps)`
    (the exporter writes rsqrt as Div(1, Sqrt));
  - rotary embedding from cos/sin tables cached for max_position_embeddings,
    sliced to the sequence length and gathered by position_ids, applied with
    rotate_half (split point computed from the traced shape);
  - grouped KV heads repeated by expand + reshape (repeat_kv);
  - the 4D causal mask built from float-minimum fills (`--mask expand`: 4.31-
    4.36's _make_causal_mask + _expand_mask with Range/Less/Where/Expand;
    `--mask triu`: 4.38's triu + cache_position comparison + the padding
    merge by slice assignment, which exports as Trilu, And and ScatterND);
  - the past concatenated in front of the new keys and values, returned as
    `present.N.key/value` (with past), or no cache at all (`--no-past`: the
    plain `input_ids, attention_mask -> logits` export, position ids computed
    inside the graph);
  - a tied classifier (llama2.c's shared one): one Parameter, which the
    exporter stores twice (the embedding, and the transposed MatMul weight).

The llama2.c checkpoint stores q/k rows for Meta's interleaved rotary; they
are permuted to rotate-half order, as Hugging Face's conversion script does.
Interface (as optimum names it): input_ids [batch, sequence], attention_mask
[batch, past + sequence], position_ids [batch, sequence] (with past),
past_key_values.N.key/value [batch, kv_heads, past, head_dim] -> logits
[batch, sequence, vocab], present.N.key/value.
"""

import argparse
import math
import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama2c_numpy import Checkpoint, InputError  # noqa: E402


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


class RotaryEmbedding(nn.Module):
    def __init__(self, dim, max_position_embeddings, base=10000.0):
        super().__init__()
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        t = torch.arange(max_position_embeddings, dtype=inv_freq.dtype)
        freqs = torch.einsum("i,j->ij", t, inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos_cached", emb.cos()[None, None, :, :], persistent=False)
        self.register_buffer("sin_cached", emb.sin()[None, None, :, :], persistent=False)

    def forward(self, x, seq_len):
        return (self.cos_cached[:, :, :seq_len, ...].to(dtype=x.dtype),
                self.sin_cached[:, :, :seq_len, ...].to(dtype=x.dtype))


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def apply_rotary_pos_emb(q, k, cos, sin, position_ids):
    cos = cos.squeeze(1).squeeze(0)  # [seq, dim]
    sin = sin.squeeze(1).squeeze(0)
    cos = cos[position_ids].unsqueeze(1)  # [batch, 1, seq, dim]
    sin = sin[position_ids].unsqueeze(1)
    return (q * cos) + (rotate_half(q) * sin), (k * cos) + (rotate_half(k) * sin)


def repeat_kv(hidden_states, n_rep):
    batch, num_key_value_heads, slen, head_dim = hidden_states.shape
    if n_rep == 1:
        return hidden_states
    hidden_states = hidden_states[:, :, None, :, :].expand(
        batch, num_key_value_heads, n_rep, slen, head_dim)
    return hidden_states.reshape(batch, num_key_value_heads * n_rep, slen, head_dim)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.hidden_size = cfg.dim
        self.num_heads = cfg.n_heads
        self.head_dim = cfg.dim // cfg.n_heads
        self.num_key_value_heads = cfg.n_kv_heads
        self.num_key_value_groups = self.num_heads // self.num_key_value_heads
        kv = self.num_key_value_heads * self.head_dim
        self.q_proj = nn.Linear(self.hidden_size, self.hidden_size, bias=False)
        self.k_proj = nn.Linear(self.hidden_size, kv, bias=False)
        self.v_proj = nn.Linear(self.hidden_size, kv, bias=False)
        self.o_proj = nn.Linear(self.hidden_size, self.hidden_size, bias=False)
        self.rotary_emb = RotaryEmbedding(self.head_dim, cfg.seq_len)

    def forward(self, hidden_states, attention_mask, position_ids, past_key_value):
        bsz, q_len, _ = hidden_states.size()
        query_states = self.q_proj(hidden_states).view(
            bsz, q_len, self.num_heads, self.head_dim).transpose(1, 2)
        key_states = self.k_proj(hidden_states).view(
            bsz, q_len, self.num_key_value_heads, self.head_dim).transpose(1, 2)
        value_states = self.v_proj(hidden_states).view(
            bsz, q_len, self.num_key_value_heads, self.head_dim).transpose(1, 2)
        kv_seq_len = key_states.shape[-2]
        if past_key_value is not None:
            kv_seq_len += past_key_value[0].shape[-2]
        cos, sin = self.rotary_emb(value_states, seq_len=kv_seq_len)
        query_states, key_states = apply_rotary_pos_emb(
            query_states, key_states, cos, sin, position_ids)
        if past_key_value is not None:
            key_states = torch.cat([past_key_value[0], key_states], dim=2)
            value_states = torch.cat([past_key_value[1], value_states], dim=2)
        present = (key_states, value_states)
        key_states = repeat_kv(key_states, self.num_key_value_groups)
        value_states = repeat_kv(value_states, self.num_key_value_groups)
        attn_weights = torch.matmul(query_states, key_states.transpose(2, 3)) / math.sqrt(
            self.head_dim)
        attn_weights = attn_weights + attention_mask
        attn_weights = nn.functional.softmax(attn_weights, dim=-1, dtype=torch.float32).to(
            query_states.dtype)
        attn_output = torch.matmul(attn_weights, value_states)
        attn_output = attn_output.transpose(1, 2).contiguous()
        attn_output = attn_output.reshape(bsz, q_len, self.hidden_size)
        return self.o_proj(attn_output), present


class MLP(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.dim, cfg.hidden_dim, bias=False)
        self.up_proj = nn.Linear(cfg.dim, cfg.hidden_dim, bias=False)
        self.down_proj = nn.Linear(cfg.hidden_dim, cfg.dim, bias=False)
        self.act_fn = nn.SiLU()

    def forward(self, x):
        return self.down_proj(self.act_fn(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.self_attn = Attention(cfg)
        self.mlp = MLP(cfg)
        self.input_layernorm = RMSNorm(cfg.dim, 1e-5)
        self.post_attention_layernorm = RMSNorm(cfg.dim, 1e-5)

    def forward(self, hidden_states, attention_mask, position_ids, past_key_value):
        residual = hidden_states
        hidden_states = self.input_layernorm(hidden_states)
        hidden_states, present = self.self_attn(
            hidden_states, attention_mask, position_ids, past_key_value)
        hidden_states = residual + hidden_states
        residual = hidden_states
        hidden_states = self.post_attention_layernorm(hidden_states)
        hidden_states = self.mlp(hidden_states)
        return residual + hidden_states, present


def make_causal_mask(input_ids_shape, dtype, device, past_key_values_length):
    """transformers 4.31-4.36 `_make_causal_mask`."""
    bsz, tgt_len = input_ids_shape
    mask = torch.full((tgt_len, tgt_len), torch.finfo(dtype).min, device=device)
    mask_cond = torch.arange(mask.size(-1), device=device)
    mask.masked_fill_(mask_cond < (mask_cond + 1).view(mask.size(-1), 1), 0)
    mask = mask.to(dtype)
    if past_key_values_length > 0:
        mask = torch.cat([torch.zeros(tgt_len, past_key_values_length, dtype=dtype,
                                      device=device), mask], dim=-1)
    return mask[None, None, :, :].expand(bsz, 1, tgt_len, tgt_len + past_key_values_length)


def expand_mask(mask, dtype, tgt_len):
    """transformers 4.31-4.36 `_expand_mask`: [bsz, src] -> [bsz, 1, tgt, src] bias."""
    bsz, src_len = mask.size()
    expanded_mask = mask[:, None, None, :].expand(bsz, 1, tgt_len, src_len).to(dtype)
    inverted_mask = 1.0 - expanded_mask
    return inverted_mask.masked_fill(inverted_mask.to(torch.bool), torch.finfo(dtype).min)


def triu_causal_mask(attention_mask, input_tensor, cache_position):
    """transformers 4.38 `_update_causal_mask` for a dynamic cache."""
    dtype = input_tensor.dtype
    min_dtype = torch.finfo(dtype).min
    sequence_length = input_tensor.shape[1]
    target_length = attention_mask.shape[-1]
    causal_mask = torch.full((sequence_length, target_length), fill_value=min_dtype,
                             dtype=dtype)
    causal_mask = torch.triu(causal_mask, diagonal=1)
    causal_mask *= torch.arange(target_length) > cache_position.reshape(-1, 1)
    causal_mask = causal_mask[None, None, :, :].expand(input_tensor.shape[0], 1, -1, -1)
    causal_mask = causal_mask.clone()
    mask_length = attention_mask.shape[-1]
    padding_mask = causal_mask[..., :mask_length].eq(0.0) * attention_mask[:, None, None, :].eq(0.0)
    causal_mask[..., :mask_length] = causal_mask[..., :mask_length].masked_fill(
        padding_mask, min_dtype)
    return causal_mask


class LlamaForCausalLM(nn.Module):
    def __init__(self, cfg, mask_style):
        super().__init__()
        self.cfg = cfg
        self.mask_style = mask_style
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, 1e-5)
        self.lm_head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)

    def forward(self, input_ids, attention_mask, position_ids=None, past_key_values=None):
        batch_size, seq_length = input_ids.shape
        past_key_values_length = 0
        if past_key_values is not None:
            past_key_values_length = past_key_values[0][0].shape[2]
        if position_ids is None:
            position_ids = torch.arange(past_key_values_length,
                                        seq_length + past_key_values_length, dtype=torch.long)
            position_ids = position_ids.unsqueeze(0).view(-1, seq_length)
        inputs_embeds = self.embed_tokens(input_ids)
        if self.mask_style == "triu":
            cache_position = torch.arange(past_key_values_length,
                                          past_key_values_length + seq_length)
            mask = triu_causal_mask(attention_mask, inputs_embeds, cache_position)
        else:
            mask = make_causal_mask((batch_size, seq_length), inputs_embeds.dtype,
                                    inputs_embeds.device, past_key_values_length)
            mask = expand_mask(attention_mask, inputs_embeds.dtype, seq_length) + mask
        hidden_states = inputs_embeds
        presents = []
        for i, layer in enumerate(self.layers):
            past = past_key_values[i] if past_key_values is not None else None
            hidden_states, present = layer(hidden_states, mask, position_ids, past)
            presents.append(present)
        logits = self.lm_head(self.norm(hidden_states)).float()
        return logits, presents


def rotate_half_rows(w, n_heads):
    """Hugging Face's convert_llama_weights_to_hf `permute`: interleaved pairs
    (x[2i], x[2i+1]) of each head to halves (x[i], x[i + d/2])."""
    out_dim, in_dim = w.shape
    return w.reshape(n_heads, out_dim // n_heads // 2, 2, in_dim).transpose(0, 2, 1, 3).reshape(
        out_dim, in_dim)


def load(ckpt, mask_style):
    model = LlamaForCausalLM(ckpt, mask_style)
    t = lambda a: torch.from_numpy(np.ascontiguousarray(a))  # noqa: E731
    with torch.no_grad():
        model.embed_tokens.weight.copy_(t(ckpt.token_embedding))
        for i, layer in enumerate(model.layers):
            attn = layer.self_attn
            attn.q_proj.weight.copy_(t(rotate_half_rows(ckpt.wq[i], ckpt.n_heads)))
            attn.k_proj.weight.copy_(t(rotate_half_rows(ckpt.wk[i], ckpt.n_kv_heads)))
            attn.v_proj.weight.copy_(t(ckpt.wv[i]))
            attn.o_proj.weight.copy_(t(ckpt.wo[i]))
            layer.mlp.gate_proj.weight.copy_(t(ckpt.w1[i]))
            layer.mlp.down_proj.weight.copy_(t(ckpt.w2[i]))
            layer.mlp.up_proj.weight.copy_(t(ckpt.w3[i]))
            layer.input_layernorm.weight.copy_(t(ckpt.rms_att[i]))
            layer.post_attention_layernorm.weight.copy_(t(ckpt.rms_ffn[i]))
        model.norm.weight.copy_(t(ckpt.rms_final))
    if ckpt.shared_classifier:
        model.lm_head.weight = model.embed_tokens.weight  # tie_word_embeddings
    else:
        with torch.no_grad():
            model.lm_head.weight.copy_(t(ckpt.wcls))
    return model.eval()


class WithPast(nn.Module):
    """optimum's flat interface: past_key_values.N.key/value as separate inputs."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, position_ids, *flat_past):
        past = [(flat_past[2 * i], flat_past[2 * i + 1]) for i in range(len(flat_past) // 2)]
        logits, presents = self.model(input_ids, attention_mask, position_ids, past)
        return (logits,) + tuple(t for kv in presents for t in kv)


class NoPast(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids, attention_mask)[0]


def other_name(name):
    """--other-names: names no tool would recognize (roles from structure)."""
    name = name.replace("input_ids", "tokens").replace("attention_mask", "keep")
    name = name.replace("position_ids", "where").replace("logits", "scores")
    name = name.replace("past_key_values.", "cache_in_").replace("present.", "cache_out_")
    return name.replace(".key", "_k").replace(".value", "_v")


def export(ckpt, path, opset, past, mask_style, dtype, other_names=False, fold=True):
    model = load(ckpt, mask_style)
    if dtype == "fp16":
        model = model.half()
    # Example sizes that differ from each other and from 1, so that no
    # dimension is specialized by the trace.
    batch, seq, past_len = 2, 3, 4
    head_dim = ckpt.dim // ckpt.n_heads
    input_ids = torch.randint(3, ckpt.vocab_size, (batch, seq))
    axes = {"input_ids": {0: "batch_size", 1: "sequence_length"},
            "logits": {0: "batch_size", 1: "sequence_length"}}
    if past:
        attention_mask = torch.ones(batch, past_len + seq, dtype=torch.long)
        position_ids = torch.arange(past_len, past_len + seq).unsqueeze(0).expand(batch, seq)
        past_dtype = torch.float16 if dtype == "fp16" else torch.float32
        flat_past = [torch.randn(batch, ckpt.n_kv_heads, past_len, head_dim).to(past_dtype)
                     for _ in range(2 * ckpt.n_layers)]
        names = ["past_key_values.%d.%s" % (i, kv) for i in range(ckpt.n_layers)
                 for kv in ("key", "value")]
        present = ["present.%d.%s" % (i, kv) for i in range(ckpt.n_layers)
                   for kv in ("key", "value")]
        module, args = WithPast(model), (input_ids, attention_mask, position_ids, *flat_past)
        input_names = ["input_ids", "attention_mask", "position_ids"] + names
        output_names = ["logits"] + present
        axes["attention_mask"] = {0: "batch_size", 1: "past_sequence_length + sequence_length"}
        axes["position_ids"] = {0: "batch_size", 1: "sequence_length"}
        for name in names:
            axes[name] = {0: "batch_size", 2: "past_sequence_length"}
        for name in present:
            axes[name] = {0: "batch_size", 2: "past_sequence_length + sequence_length"}
    else:
        attention_mask = torch.ones(batch, seq, dtype=torch.long)
        module, args = NoPast(model), (input_ids, attention_mask)
        input_names, output_names = ["input_ids", "attention_mask"], ["logits"]
        axes["attention_mask"] = {0: "batch_size", 1: "sequence_length"}
    if other_names:
        input_names = [other_name(n) for n in input_names]
        output_names = [other_name(n) for n in output_names]
        dims = {"batch_size": "B", "sequence_length": "S", "past_sequence_length": "P",
                "past_sequence_length + sequence_length": "T"}
        axes = {other_name(k): {a: dims[d] for a, d in v.items()} for k, v in axes.items()}
    with torch.no_grad():
        torch.onnx.export(module, args, path, opset_version=opset, input_names=input_names,
                          output_names=output_names, dynamic_axes=axes, do_constant_folding=fold)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--no-past", action="store_true")
    parser.add_argument("--mask", choices=("expand", "triu"), default="expand")
    parser.add_argument("--dtype", choices=("fp32", "fp16"), default="fp32")
    parser.add_argument("--no-constant-folding", action="store_true",
                        help="torch.onnx.export(do_constant_folding=False): weights transposed "
                             "and rotary tables computed in the graph")
    parser.add_argument("--other-names", action="store_true",
                        help="name inputs and outputs tokens, keep, where, cache_in_N_k/v, "
                             "scores, cache_out_N_k/v (and dimensions likewise renamed)")
    args = parser.parse_args(argv)
    try:
        ckpt = Checkpoint(args.checkpoint)
    except InputError as e:
        print("hf_llama_torch.py: error: %s" % e, file=sys.stderr)
        return 1
    import warnings
    warnings.filterwarnings("ignore")  # the tracer's warnings about Python control flow
    try:
        export(ckpt, args.output, args.opset, not args.no_past, args.mask, args.dtype,
               args.other_names, not args.no_constant_folding)
    except RuntimeError as e:
        if args.dtype != "fp16":
            raise
        # torch 1.13 on the CPU: "addmm_impl_cpu_" not implemented for 'Half'.
        print("hf_llama_torch.py: error: this torch (%s) cannot trace a float16 model on the "
              "CPU: %s" % (torch.__version__, str(e).splitlines()[0]), file=sys.stderr)
        return 1
    print("wrote %s (opset %d, %s, %s mask, %s%s%s)" % (
        args.output, args.opset, "no past" if args.no_past else "with past", args.mask,
        args.dtype, ", other names" if args.other_names else "",
        ", no constant folding" if args.no_constant_folding else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
