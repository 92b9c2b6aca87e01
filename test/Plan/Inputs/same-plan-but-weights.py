"""same-plan-but-weights.py WEIGHTLESS.json FULL.json: checks that a weightless plan is the plan
with weights (both printed by quant-translate --plan-to-json) without its weight bytes: the same
model, entries and steps, the same weights (name, type, shape, size) in the same order, every
weightless offset and checksum 0. Prints `same plan, N weights` or fails naming the difference."""

import json
import sys


def main(weightless_path, full_path):
    with open(weightless_path) as f:
        weightless = json.load(f)
    with open(full_path) as f:
        full = json.load(f)
    assert weightless.get("weightless") is True, "the first plan is not weightless"
    assert "weightless" not in full, "the second plan is weightless"
    assert weightless["weights_size"] == 0, weightless["weights_size"]
    for key in ("model", "kv_cache", "entries", "targets"):
        assert weightless[key] == full[key], "plans differ in %s" % key
    assert len(weightless["weights"]) == len(full["weights"]), "weight counts differ"
    for w, f in zip(weightless["weights"], full["weights"]):
        for key in ("index", "name", "dtype", "shape", "size"):
            assert w[key] == f[key], "weight %s differs in %s: %r vs %r" % (
                f["name"], key, w[key], f[key])
        assert w["offset"] == 0 and int(w["checksum"], 16) == 0, w
    print("same plan, %d weights" % len(full["weights"]))


if __name__ == "__main__":
    main(*sys.argv[1:])
