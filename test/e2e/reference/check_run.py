#!/usr/bin/python3
"""Checks of quant-run's results in the end-to-end tests.

  check_run.py perplexity A.txt B.txt --rtol R
      the last `perplexity: P (T tokens, D documents)` line of each file: the
      token and document counts are equal and the perplexities within R
      (relative); prints both.
  check_run.py recompute IDS LOGITS.f32 --vocab V [--prompt-length P]
      IDS: comma-separated ids (the prompt's P tokens, then what decoding with
      the KV cache generated greedily); LOGITS: the logits of one forward over
      the whole sequence (no cache reuse). Each generated id must be the argmax
      (lowest id on ties) of the recomputed logits before it.
"""
import argparse
import re
import sys

import numpy as np


def last_perplexity(path):
    found = None
    for line in open(path, encoding="utf-8"):
        m = re.match(r"perplexity: ([0-9.]+) \(([0-9]+) tokens, ([0-9]+) documents\)", line)
        if m:
            found = (float(m.group(1)), int(m.group(2)), int(m.group(3)))
    if found is None:
        sys.exit("%s: no perplexity line" % path)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["perplexity", "recompute"])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--rtol", type=float)
    parser.add_argument("--vocab", type=int)
    parser.add_argument("--prompt-length", type=int, default=1)
    args = parser.parse_args()
    if args.mode == "perplexity":
        (pa, ta, da), (pb, tb, db) = last_perplexity(args.a), last_perplexity(args.b)
        rel = abs(pa - pb) / pb
        print("perplexity %.6f vs %.6f: relative difference %.2e over %d tokens, %d documents"
              % (pa, pb, rel, ta, da))
        if (ta, da) != (tb, db):
            sys.exit("token/document counts differ: %s vs %s" % ((ta, da), (tb, db)))
        if rel > args.rtol:
            sys.exit("relative difference %.2e exceeds %.2e" % (rel, args.rtol))
        return 0
    ids = [int(t) for t in open(args.a).read().replace(" ", ",").strip().split(",") if t]
    logits = np.fromfile(args.b, dtype="<f4").reshape(-1, args.vocab)
    if logits.shape[0] != len(ids) - 1:
        sys.exit("expected logits of %d positions, got %d" % (len(ids) - 1, logits.shape[0]))
    mismatches = [i for i in range(args.prompt_length, len(ids))
                  if int(np.argmax(logits[i - 1])) != ids[i]]
    print("recompute: %d generated tokens, %d differ" % (len(ids) - args.prompt_length,
                                                          len(mismatches)))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
