#!/usr/bin/python3
"""KL divergence of a quantized llama2.c model against the float one, in numpy.

  kl_numpy.py CHECKPOINT TOKENIZER --text FILE --quant SCHEME [--activations auto|f32|int8]
              [--max-docs N] [--json OUT]

An independent reference of `quant-run PLAN --kl-divergence BASE --perplexity FILE` (sharing no
code with the C++): for each of the first N documents of FILE (split on <|endoftext|>, stripped,
empty ones dropped), the tokens BOS + encode(document), truncated to the model's context, run
through llama2c_numpy.forward_sequence twice: with the float checkpoint (the base) and with its
projections quantized by SCHEME (quant_numpy / llm_int8_numpy, as `--quant` does). Per predicted
token t (every token but a document's last): KL(base || plan) = sum_v p_base(v) (log p_base(v) -
log p_plan(v)) with float64 log-softmaxes (the plan's projection inputs rounded as
llama2c_numpy.py's --activations says, by default as quant-compile's default for SCHEME), whether the argmaxes agree, and the negative
log-likelihoods of the next token. Prints

  kl: MEAN stderr SE p99 P99 top1 AGREEMENT ppl_base PB ppl PLAN tokens T documents D

(SE the sample standard deviation over sqrt(T); P99 the nearest-rank 0.99 quantile).
"""

import argparse
import copy
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import llama2c_numpy  # noqa: E402
from tokenizer_reference import Llama2cTokenizer  # noqa: E402


def log_softmax(logits):
    logits = logits.astype(np.float64)
    top = logits.max(axis=-1, keepdims=True)
    return logits - top - np.log(np.exp(logits - top).sum(axis=-1, keepdims=True))


def model_for(checkpoint, scheme, activations="auto"):
    """A llama2c_numpy model of `checkpoint` with SCHEME applied as its --quant does."""
    ckpt = copy.deepcopy(checkpoint)
    llama2c_numpy.quantize_projections(ckpt, scheme, activations)
    return llama2c_numpy.Model(ckpt)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint")
    parser.add_argument("tokenizer")
    parser.add_argument("--text", required=True)
    parser.add_argument("--quant", required=True)
    parser.add_argument("--activations", default="auto", choices=("auto", "f32", "int8"))
    parser.add_argument("--max-docs", type=int, default=200)
    parser.add_argument("--json")
    args = parser.parse_args(argv)

    checkpoint = llama2c_numpy.Checkpoint(args.checkpoint)
    base = model_for(checkpoint, "fp32")
    plan = model_for(checkpoint, args.quant, args.activations)
    tokenizer = Llama2cTokenizer(args.tokenizer)
    with open(args.text, encoding="utf-8") as f:
        documents = llama2c_numpy.split_documents(f.read(), args.max_docs)

    kls, same, nll_base, nll_plan = [], 0, 0.0, 0.0
    for document in documents:
        tokens = ([1] + tokenizer.encode(document))[:checkpoint.seq_len]
        lb = log_softmax(llama2c_numpy.forward_sequence(base, tokens))[:-1]
        lp = log_softmax(llama2c_numpy.forward_sequence(plan, tokens))[:-1]
        kls.extend((np.exp(lb) * (lb - lp)).sum(axis=-1).tolist())
        same += int((lb.argmax(axis=-1) == lp.argmax(axis=-1)).sum())
        following = np.asarray(tokens[1:])
        rows = np.arange(len(following))
        nll_base -= float(lb[rows, following].sum())
        nll_plan -= float(lp[rows, following].sum())

    kl = np.asarray(kls)
    n = len(kl)
    result = {
        "kl": float(kl.mean()),
        "stderr": float(kl.std(ddof=1) / math.sqrt(n)),
        "p99": float(np.sort(kl)[max(1, math.ceil(0.99 * n)) - 1]),
        "top1": same / n,
        "ppl_base": math.exp(nll_base / n),
        "ppl": math.exp(nll_plan / n),
        "tokens": n,
        "documents": len(documents),
    }
    print("kl: %(kl).6f stderr %(stderr).6f p99 %(p99).6f top1 %(top1).6f ppl_base %(ppl_base).6f "
          "ppl %(ppl).6f tokens %(tokens)d documents %(documents)d" % result)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
