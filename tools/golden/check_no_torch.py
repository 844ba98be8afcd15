#!/usr/bin/env python3
"""Checks that the generators write the same mpmath references without PyTorch as with it.

Usage:
    python3 tools/golden/check_no_torch.py [--seed N] [--against DIR | --generate]

Runs gen.py and gen_network.py in the running interpreter (which needs mpmath and numpy, not torch), with
`import torch` failing as it does where PyTorch is not installed, into a temporary folder, and compares each
file with DIR's (default: test/fixtures/golden, the committed seed-1 files, made with PyTorch). A file written
without torch must equal DIR's with the PyTorch columns taken out, field by field: same keys in the same
order, same list lengths, every number the same float64 (sign of zero included). DIR must have the PyTorch
columns (else the comparison proves nothing) and torch_error.json, which the run without torch must not
write. --generate first makes DIR with the running interpreter, which then needs torch (for seeds whose
output is not committed). Exits 0 when everything agrees, 1 with the first differences otherwise.

The inputs must agree too, and numpy draws activations.json's log-uniform random points (10 ** U(-15, 3))
through its array power, which differs between numpy builds: run this with the numpy that made DIR (for the
fixtures: Debian 12's python3-numpy 1.24.2, /usr/bin/python3 on this machine).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "test", "fixtures", "golden")

# The PyTorch columns per file, written out here rather than read from the generators: this list is what
# the check holds them to (README.md and gen.py's docstring name the same fields).
TORCH_COLUMNS = {
    "activations.json": ("torch_call", "torch_value", "torch_derivative"),
    "softmax.json": (),
    "output_layer.json": ("max_abs_z", "expected", "torch_vs_mpmath_normwise_rel_dev"),
    "network.json": ("expected", "torch_vs_mpmath_normwise_rel_dev"),
}
TORCH_ONLY_FILE = "torch_error.json"


# Runs a generator as a script in an interpreter where `import torch` fails as if torch were not installed
# (None in sys.modules), whether or not it is: the path a machine without PyTorch takes, not --no-torch.
HIDE_TORCH = ("import os, runpy, sys; sys.modules['torch'] = None; sys.argv = sys.argv[1:]; "
              "sys.path.insert(0, os.path.dirname(sys.argv[0])); runpy.run_path(sys.argv[0], run_name='__main__')")


def run(script, seed, out, hide_torch):
    cmd = [sys.executable] + (["-c", HIDE_TORCH] if hide_torch else [])
    cmd += [os.path.join(HERE, script), "--seed", str(seed), "--out", out]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if done.returncode != 0:
        sys.exit("%s failed (exit %d):\n%s" % (" ".join(cmd), done.returncode, done.stdout))
    return done.stdout


def strip(v, keys, found):
    """v without the keys (at any depth); counts each key taken out in found."""
    if isinstance(v, dict):
        out = {}
        for k, u in v.items():
            if k in keys:
                found[k] = found.get(k, 0) + 1
            else:
                out[k] = strip(u, keys, found)
        return out
    if isinstance(v, list):
        return [strip(u, keys, found) for u in v]
    return v


def differences(a, b, path="$"):
    """Where a (without torch) and b (with torch, stripped) differ: a list of (path, a, b)."""
    if type(a) is not type(b):
        return [(path, a, b)]
    if isinstance(a, dict):
        if list(a) != list(b):
            return [(path + " keys", list(a), list(b))]
        return [d for k in a for d in differences(a[k], b[k], "%s.%s" % (path, k))]
    if isinstance(a, list):
        if len(a) != len(b):
            return [(path + " length", len(a), len(b))]
        return [d for i, (u, w) in enumerate(zip(a, b)) for d in differences(u, w, "%s[%d]" % (path, i))]
    if isinstance(a, float) and not (a == b and math.copysign(1.0, a) == math.copysign(1.0, b)):
        return [(path, a, b)]
    return [] if a == b else [(path, a, b)]


def np_version():
    import numpy
    return numpy.__version__


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1)
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--against", default=None, help="files made with PyTorch (default: the fixtures)")
    where.add_argument("--generate", action="store_true", help="make them first (needs torch)")
    args = ap.parse_args()
    if args.against is None and not args.generate and args.seed != 1:
        sys.exit("the committed fixtures are seed 1: give --against DIR or --generate for seed %d" % args.seed)
    with tempfile.TemporaryDirectory(prefix="golden-check-") as tmp:
        plain = os.path.join(tmp, "no-torch")
        ref = args.against or os.path.normpath(FIXTURES)
        if args.generate:
            ref = os.path.join(tmp, "torch")
            for script in ("gen.py", "gen_network.py"):
                run(script, args.seed, ref, hide_torch=False)
        logs = [run(script, args.seed, plain, hide_torch=True) for script in ("gen.py", "gen_network.py")]
        failures = []
        if "torch is not importable" not in logs[0]:
            failures.append("gen.py's log does not say that torch is not importable:\n" + logs[0])
        if os.path.exists(os.path.join(plain, TORCH_ONLY_FILE)):
            failures.append("%s written without torch" % TORCH_ONLY_FILE)
        if not os.path.exists(os.path.join(ref, TORCH_ONLY_FILE)):
            failures.append("%s has no %s: not made with torch" % (ref, TORCH_ONLY_FILE))
        for name, columns in TORCH_COLUMNS.items():
            with open(os.path.join(plain, name)) as f:
                without = json.load(f)
            with open(os.path.join(ref, name)) as f:
                found = {}
                stripped = strip(json.load(f), set(columns), found)
            leaked = {}
            strip(without, set(columns), leaked)
            if leaked:
                failures.append("%s without torch has PyTorch columns %s" % (name, sorted(leaked)))
            missing = [c for c in columns if c not in found]
            if missing:
                failures.append("%s in %s lacks the PyTorch columns %s" % (name, ref, missing))
            diffs = differences(without, stripped)
            for path, a, b in diffs[:5]:
                failures.append("%s %s: %r without torch, %r with" % (name, path, a, b))
            if len(diffs) > 5:
                failures.append("%s: %d more differences" % (name, len(diffs) - 5))
            if any(path.endswith(".z") for path, _, _ in diffs):
                failures.append("%s: the inputs (z) differ, not only the references: numpy's array power "
                                "(random points 10 ** U(-15, 3)) differs between numpy builds; numpy %s here, the "
                                "fixtures reproduce with Debian 12's 1.24.2 (see the docstring)" % (name, np_version()))
            print("%-18s %s; PyTorch columns left out: %s" % (
                name, "same references" if not diffs else "%d DIFFERENCES" % len(diffs),
                ", ".join("%s x%d" % (k, found[k]) for k in columns if k in found) or "none (it has none)"))
    if failures:
        print("\n".join(["FAILED:"] + failures))
        sys.exit(1)
    print("seed %d: the references written without torch are those written with it (%s)" % (args.seed, ref))


if __name__ == "__main__":
    main()
