#!/usr/bin/python3
"""GPTQ of a llama2.c checkpoint end to end in numpy: calibration, sequential solving, perplexity.

The independent counterpart of the compiler's qllm-gptq (sharing no code with it): the model is
llama2c_numpy's (float32, whole-sequence forward), the solver gptq_numpy's, the tokenizer
tokenizer_reference's. Calibration follows the pass's documents mode: the text split on
<|endoftext|>, documents stripped, empty ones dropped; documents OFFSET, OFFSET + 1, ... as
BOS + encode(document), truncated to SEQLEN (and the model's seq_len), SAMPLES of them.
Projections are solved in execution order and in true-sequential stages (q/k/v, o, gate/up
(w1/w3), down (w2) of each layer): each stage's Hessian H = 2/n sum x x^T (n: tokens of all
samples, float64) comes from a forward in which the earlier stages are already quantized.

  gptq_reference.py CHECKPOINT TOKENIZER --calibration TEXT --offset 200 --samples 128
                    --seqlen 256 --bits 4 --group-size 128 [--symmetric] [--act-order]
                    [--static-groups] [--clip-search] [--scale-type f16]
                    [--perplexity TEXT --max-docs 200] [--hessians DIR [--rtol R]]

--perplexity prints `perplexity: P (T tokens, D documents)` of the quantized model (the
protocol of llama2c_numpy). --hessians compares each stage's Hessian with the one the compiler
saved (DIR/<weight>.npy, qllm-gptq save-hessians=DIR): prints the largest relative difference
max|H - H'| / max|H| per weight and fails above --rtol (default 1e-4). The compiler's weights
are named as our ONNX exporter names them (model.layers.L.self_attn.q_proj.MatMul.weight, ...).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gptq_numpy  # noqa: E402
import llama2c_numpy  # noqa: E402
from tokenizer_reference import Llama2cTokenizer  # noqa: E402

F32 = np.float32

# Checkpoint array -> the exporter's weight name (format with the layer).
NAMES = {
    "wq": "model.layers.%d.self_attn.q_proj.MatMul.weight",
    "wk": "model.layers.%d.self_attn.k_proj.MatMul.weight",
    "wv": "model.layers.%d.self_attn.v_proj.MatMul.weight",
    "wo": "model.layers.%d.self_attn.o_proj.MatMul.weight",
    "w1": "model.layers.%d.mlp.gate_proj.MatMul.weight",
    "w3": "model.layers.%d.mlp.up_proj.MatMul.weight",
    "w2": "model.layers.%d.mlp.down_proj.MatMul.weight",
}
# The stages of a layer, in execution order: the input each group of projections reads.
STAGES = (("attn_in", ("wq", "wk", "wv")), ("attn_out", ("wo",)),
          ("ffn_in", ("w1", "w3")), ("ffn_hidden", ("w2",)))


def calibration_samples(tokenizer, text_path, offset, samples, seqlen):
    with open(text_path, encoding="utf-8") as f:
        documents = llama2c_numpy.split_documents(f.read(), 0)
    chosen = documents[offset:offset + samples]
    return [([1] + tokenizer.encode(d))[:seqlen] for d in chosen]


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("tokenizer")
    p.add_argument("--calibration", required=True)
    p.add_argument("--offset", type=int, default=0)
    p.add_argument("--samples", type=int, default=128)
    p.add_argument("--seqlen", type=int, default=2048)
    p.add_argument("--bits", type=int, default=4)
    p.add_argument("--group-size", type=int, default=128)
    p.add_argument("--symmetric", action="store_true")
    p.add_argument("--act-order", action="store_true")
    p.add_argument("--static-groups", action="store_true")
    p.add_argument("--clip-search", action="store_true")
    p.add_argument("--damp-percent", type=float, default=0.01)
    p.add_argument("--block-size", type=int, default=128)
    p.add_argument("--scale-type", default="f16")
    p.add_argument("--perplexity")
    p.add_argument("--max-docs", type=int, default=200)
    p.add_argument("--activations", default="auto", choices=("auto", "f32", "int8"),
                   help="--perplexity: the projections' inputs rounded to 8 bits per block of 32 "
                        "(llama2c_numpy.round_activations) or not; auto as quant-compile's "
                        "default (int8 for 4 and 8 bits with groups of 32, 64, a multiple of 128 "
                        "or per channel). With act order the plan rounds its permuted input, "
                        "which this reference does not model: auto is f32 there.")
    p.add_argument("--hessians")
    p.add_argument("--rtol", type=float, default=1e-4)
    args = p.parse_args(argv)

    ckpt = llama2c_numpy.Checkpoint(args.checkpoint)
    model = llama2c_numpy.Model(ckpt)
    tokenizer = Llama2cTokenizer(args.tokenizer)
    samples = calibration_samples(tokenizer, args.calibration, args.offset, args.samples,
                                  min(args.seqlen, ckpt.seq_len))
    ok = True
    for layer in range(ckpt.n_layers):
        for point, arrays in STAGES:
            xs = [llama2c_numpy.forward_sequence(model, s, capture=(layer, point)).astype(np.float64)
                  for s in samples]
            x = np.concatenate(xs)
            h = 2.0 / x.shape[0] * (x.T @ x)
            for array in arrays:
                name = NAMES[array] % layer
                if args.hessians:
                    saved = np.load(os.path.join(args.hessians, name + ".npy"))
                    rel = float(np.abs(saved - h).max() / np.abs(h).max())
                    good = rel <= args.rtol
                    ok &= good
                    print("%s: Hessian [%d tokens] max relative difference %.2e: %s"
                          % (name, x.shape[0], rel, "OK" if good else "FAIL"))
                w = getattr(ckpt, array)
                result = gptq_numpy.gptq(w[layer], h, args.bits, args.group_size, args.symmetric,
                                         act_order=args.act_order,
                                         static_groups=args.static_groups,
                                         damp_percent=args.damp_percent,
                                         block_size=args.block_size,
                                         clip_search=args.clip_search,
                                         scale_dtype=args.scale_type)
                w = w.copy()
                w[layer] = gptq_numpy.dequantize_gptq(result, args.bits)
                setattr(ckpt, array, w)
    if args.perplexity:
        # The calibration above ran with float activations, as the compiler's calibration plan
        # (float weights) does.
        groups = args.group_size
        model.int8_activations = (
            args.activations == "int8" or
            (args.activations == "auto" and not args.act_order and args.bits in (4, 8) and
             (groups <= 0 or groups in (32, 64) or groups % 128 == 0)))
        ppl, tokens, docs = llama2c_numpy.perplexity(model, args.tokenizer, args.perplexity,
                                                     args.max_docs)
        print("perplexity: %.6f (%d tokens, %d documents)" % (ppl, tokens, docs))
    if args.hessians:
        print("all Hessians agree" if ok else "Hessians DIFFER")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
