#!/usr/bin/python3
"""Compares two logits files and exits 1 if they differ by more than --atol.

Each file is raw little-endian float32 [tokens, vocab] (quant-translate
--reference-logits, quant-run --dump-logits, ort_generate.js --prefill-logits)
or a .npy array. With --last, only the last position of each is compared (a
file holding one position counts as that position). Prints the max absolute
difference and whether the argmax tokens agree.
"""
import argparse
import sys

import numpy as np


def load(path, vocab):
    if path.endswith(".npy"):
        data = np.load(path).astype(np.float32)
    else:
        data = np.fromfile(path, dtype="<f4")
    return data.reshape(-1, vocab)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--vocab", type=int, required=True)
    parser.add_argument("--atol", type=float, required=True)
    parser.add_argument("--last", action="store_true",
                        help="compare the last position only")
    args = parser.parse_args()
    try:
        a, b = load(args.a, args.vocab), load(args.b, args.vocab)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.last:
        a, b = a[-1:], b[-1:]
    if a.shape != b.shape:
        print(f"error: shapes differ: {a.shape} vs {b.shape}", file=sys.stderr)
        return 1
    diff = float(np.abs(a - b).max())
    same_argmax = bool((a.argmax(-1) == b.argmax(-1)).all())
    print(f"positions {a.shape[0]} max-abs-diff {diff:.3g} "
          f"argmax {'equal' if same_argmax else 'DIFFERENT'}")
    if not np.isfinite(diff) or diff > args.atol:
        print(f"error: max abs difference {diff:.3g} exceeds {args.atol}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
