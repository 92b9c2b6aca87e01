#!/usr/bin/python3
"""Compares the same-named .npy files of two directories.

  compare_npy.py DIR_A DIR_B [DIR_A2 DIR_B2 ...] [--rtol R] [--atol A]

DIR_B is the reference. Both directories must hold the same set of .npy files, and each pair
must agree in shape and dtype. Floating-point values must satisfy |a - b| <= atol + rtol * |b|
elementwise (NaNs and infinities must sit at the same places); integers and booleans must be
equal. The default tolerances depend on the dtype: rtol 1e-5, atol 1e-6 for float32 and
float64, rtol 1e-2, atol 1e-3 for float16; --rtol and --atol replace them for every dtype.
Prints one line per file, in name order (pairs in the order given):

  NAME: DTYPE SHAPE max abs error E

and exits 1 with a message naming the file and the first problem on any mismatch (after
printing the lines of the files that matched), 2 on bad usage.
"""

import argparse
import os
import sys

import numpy as np


DEFAULT_TOLERANCES = {"float16": (1e-2, 1e-3), "float32": (1e-5, 1e-6), "float64": (1e-5, 1e-6)}


class Mismatch(Exception):
    pass


def npy_names(directory):
    if not os.path.isdir(directory):
        raise Mismatch("%s is not a directory" % directory)
    return sorted(f[:-4] for f in os.listdir(directory) if f.endswith(".npy"))


def compare_file(name, path_a, path_b, rtol, atol):
    a, b = np.load(path_a), np.load(path_b)
    if a.dtype != b.dtype:
        raise Mismatch("%s: dtype %s in %s but %s in %s" % (name, a.dtype, path_a, b.dtype, path_b))
    if a.shape != b.shape:
        raise Mismatch("%s: shape %s in %s but %s in %s"
                       % (name, a.shape, path_a, b.shape, path_b))
    if a.dtype.kind == "f":
        default_rtol, default_atol = DEFAULT_TOLERANCES.get(a.dtype.name, (1e-5, 1e-6))
        rtol = default_rtol if rtol is None else rtol
        atol = default_atol if atol is None else atol
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        nan_a, nan_b = np.isnan(a64), np.isnan(b64)
        if (nan_a != nan_b).any():
            index = tuple(int(i) for i in np.argwhere(nan_a != nan_b)[0])
            raise Mismatch("%s: NaN at %s in only one of the two (%r vs %r)"
                           % (name, index, a64[index], b64[index]))
        inf = np.isinf(a64) | np.isinf(b64)
        if (a64[inf] != b64[inf]).any():
            index = tuple(int(i) for i in np.argwhere(inf & (a64 != b64))[0])
            raise Mismatch("%s: infinity at %s differs (%r vs %r)"
                           % (name, index, a64[index], b64[index]))
        finite = ~(nan_a | inf)
        diff = np.abs(np.where(finite, a64, 0.0) - np.where(finite, b64, 0.0))
        error = float(diff.max()) if diff.size else 0.0
        bad = diff > atol + rtol * np.abs(np.where(finite, b64, 0.0))
        if bad.any():
            index = tuple(int(i) for i in np.argwhere(bad)[0])
            worst = np.unravel_index(int(np.argmax(diff)), diff.shape)
            worst = tuple(int(i) for i in worst)
            raise Mismatch("%s: %d of %d values differ beyond rtol %g + atol %g; first at %s: "
                           "%r vs %r; max abs error %.3g at %s"
                           % (name, int(bad.sum()), bad.size, rtol, atol, index, a64[index],
                              b64[index], error, worst))
    else:
        if a.dtype.kind not in "biu":
            raise Mismatch("%s: unsupported dtype %s" % (name, a.dtype))
        unequal = a != b
        error = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max()) if a.size else 0.0
        if unequal.any():
            index = tuple(int(i) for i in np.argwhere(unequal)[0])
            raise Mismatch("%s: %d of %d values differ; first at %s: %r vs %r"
                           % (name, int(unequal.sum()), unequal.size, index, a[index], b[index]))
    return "%s: %s %s max abs error %.3g" % (name, a.dtype, a.shape, error)


def compare_dirs(dir_a, dir_b, rtol, atol):
    names_a, names_b = npy_names(dir_a), npy_names(dir_b)
    if names_a != names_b:
        only_a = sorted(set(names_a) - set(names_b))
        only_b = sorted(set(names_b) - set(names_a))
        raise Mismatch("%s and %s hold different files (only in the first: %s; only in the "
                       "second: %s)" % (dir_a, dir_b, only_a, only_b))
    if not names_a:
        raise Mismatch("%s holds no .npy files" % dir_a)
    for name in names_a:
        print(compare_file(name, os.path.join(dir_a, name + ".npy"),
                           os.path.join(dir_b, name + ".npy"), rtol, atol))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="+", metavar="DIR")
    parser.add_argument("--rtol", type=float, default=None)
    parser.add_argument("--atol", type=float, default=None)
    args = parser.parse_args(argv)
    if len(args.dirs) % 2:
        parser.error("directories come in pairs (DIR_A DIR_B)")
    try:
        for i in range(0, len(args.dirs), 2):
            compare_dirs(args.dirs[i], args.dirs[i + 1], args.rtol, args.atol)
    except Mismatch as e:
        sys.stdout.flush()
        sys.stderr.write("compare_npy.py: error: %s\n" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
