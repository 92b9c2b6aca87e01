#!/usr/bin/python3
"""Compares quant-run's KL divergence figures (--stats-json of a --kl-divergence run) with
kl_numpy.py's (--json), and checks the expected magnitude.

  check_kl.py OURS.json NUMPY.json --name NAME [--below X] [--between LO HI]

Checks: the same token count; mean KL, its 99th percentile and top-1 agreement within 1% (relative,
plus 1e-6 absolute; agreement 0.002 absolute) of numpy's; both perplexities within 1e-4
(relative); mean KL below X, or within [LO, HI]. Prints one line; exit 1 on any failure.
"""

import argparse
import json
import sys


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("ours")
    parser.add_argument("numpy")
    parser.add_argument("--name", required=True)
    parser.add_argument("--below", type=float)
    parser.add_argument("--between", type=float, nargs=2)
    args = parser.parse_args(argv)
    ours = json.load(open(args.ours))
    ref = json.load(open(args.numpy))
    failures = []

    def near(a, b, rel, what, absolute=1e-6):
        if abs(a - b) > rel * abs(b) + absolute:
            failures.append("%s %.6g, numpy %.6g" % (what, a, b))

    if ours["tokens"] != ref["tokens"]:
        failures.append("%d tokens, numpy %d" % (ours["tokens"], ref["tokens"]))
    near(ours["kl_divergence"], ref["kl"], 0.01, "mean KL")
    near(ours["kl_divergence_p99"], ref["p99"], 0.01, "99th percentile")
    near(ours["top1_agreement"], ref["top1"], 0.0, "top-1 agreement", 0.002)
    near(ours["perplexity"], ref["ppl"], 1e-4, "perplexity")
    near(ours["perplexity_base"], ref["ppl_base"], 1e-4, "base perplexity")
    kl = ours["kl_divergence"]
    if args.below is not None and not kl < args.below:
        failures.append("mean KL %.6g is not below %g" % (kl, args.below))
    if args.between and not args.between[0] <= kl <= args.between[1]:
        failures.append("mean KL %.6g is outside [%g, %g]" % (kl, *args.between))
    print("%s: KL %.6f (numpy %.6f), top-1 %.4f (numpy %.4f) over %d tokens: %s" % (
        args.name, kl, ref["kl"], ours["top1_agreement"], ref["top1"], ours["tokens"],
        "FAILED: " + "; ".join(failures) if failures else "ok"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
