#!/usr/bin/env python3
"""Dense g'' reference points, beyond the golden file's ~75 per entry, for an accuracy sweep of the kernels.

Usage: /usr/bin/python3 tools/golden/dense_second.py SEED POINTS OUT.json   (needs only python3-mpmath)

For every smooth elementwise activation, with the public and the hidden profiles' params (gen.py's ALT_PARAMS),
POINTS random z (magnitudes 1e-323..1e307, uniform in [-50, 50], [-5, 5] and [-850, 850], normal(0, 3)) and
g''(z) from closed forms of g'' in mpmath (written independently of the service's kernels: gelu_tanh in u, mish
through sech^2(softplus z) sigma(z)), evaluated at 60, 130 and 300 digits (plus |z|/2.3) until two successive
roundings to float64 agree. Also sigmoid a(1-a)(1-2a) and tanh -2a(1-a^2) of random float64 a, exactly
(Fraction). scripts/second-derivative-dense.ts compares the service's kernels with the file.
"""
import json
import random
import sys
from fractions import Fraction

from mpmath import mp, mpf

SELU_A = mpf('1.6732632423543772848170429916717'); SELU_L = mpf('1.0507009873554804934193349852946')

def sig(x): return 1 / (1 + mp.exp(-x))
def sech2(x): return 1 / mp.cosh(x) ** 2

def g2(name, x, P):
    if name == 'sigmoid': return -sig(x) * sig(-x) * mp.tanh(x / 2)
    if name == 'tanh': return -2 * mp.tanh(x) * sech2(x)
    if name == 'tanhshrink': return 2 * mp.tanh(x) * sech2(x)
    if name == 'logsigmoid': return -sig(x) * sig(-x)
    if name == 'elu': return P['alpha'] * mp.exp(x) if x < 0 else mpf(0)
    if name == 'selu': return SELU_L * SELU_A * mp.exp(x) if x < 0 else mpf(0)
    if name == 'celu': return mp.exp(x / P['alpha']) / P['alpha'] if x < 0 else mpf(0)
    if name == 'softplus':
        b = mpf(P['beta']); return b * sig(b * x) * sig(-b * x)
    if name == 'softsign': return -2 * mp.sign(x) / (1 + abs(x)) ** 3
    if name == 'gelu': return mp.npdf(x) * (2 - x * x)
    if name == 'gelu_tanh':
        c = mp.sqrt(2 / mp.pi); k = mpf('0.044715')
        u = c * (x + k * x ** 3); t = mp.tanh(u); up = c * (1 + 3 * k * x * x); upp = 6 * c * k * x
        return sech2(u) * (up + x / 2 * (upp - 2 * t * up * up))
    if name == 'silu': return sig(x) * sig(-x) * (2 - x * mp.tanh(x / 2))
    if name == 'mish':
        sp = mp.log1p(mp.exp(x)) if x < 30 else x + mp.log1p(mp.exp(-x))
        s = sig(x); t = mp.tanh(sp)
        return sech2(sp) * s * (2 + x * (sig(-x) - 2 * t * s))
    raise KeyError(name)

def f64(v):
    if v == 0: return 0.0
    return float(mp.nstr(v, 40, min_fixed=1, max_fixed=0))

def exact(name, z, P):
    prev = None
    for dps in (60, 130, 300):
        with mp.workdps(dps + int(abs(z) / 2.3) if abs(z) < 3000 else dps):
            v = f64(g2(name, mpf(z), P))
        if prev is not None and v == prev: return v
        prev = v
    raise RuntimeError((name, z))

ENTRIES = [('sigmoid', {}), ('tanh', {}), ('tanhshrink', {}), ('logsigmoid', {}), ('elu', {'alpha': 1.0}),
           ('elu', {'alpha': 0.5}), ('elu', {'alpha': 1.7}), ('selu', {}), ('celu', {'alpha': 1.0}), ('celu', {'alpha': 2.0}),
           ('celu', {'alpha': 0.25}), ('softplus', {'beta': 1.0}), ('softplus', {'beta': 2.0}), ('softplus', {'beta': 0.5}),
           ('softsign', {}), ('gelu', {}), ('gelu_tanh', {}), ('silu', {}), ('mish', {})]

def points(rng, n):
    pts = [0.5, -0.5, 1e-320, -1e-320, 5e-324, -5e-324, 700.5, -700.5, 1e6, -1e6, 1e300, -1e300, 1.7976931348623157e308, -1.7976931348623157e308]
    for _ in range(n // 8):
        pts.append(rng.choice([-1, 1]) * rng.uniform(1, 10) * 10 ** rng.uniform(-323, 307.2))
    for _ in range(n // 4): pts.append(rng.uniform(-50, 50))
    for _ in range(n // 4): pts.append(rng.gauss(0, 3))
    for _ in range(n // 8): pts.append(rng.uniform(-850, 850))
    for _ in range(n // 4): pts.append(rng.uniform(-5, 5))
    return pts

def from_output(rng, n):
    sig, th = [], []
    for _ in range(n):
        for a in (rng.uniform(0, 1), 10 ** rng.uniform(-300, 0), 1 - 10 ** rng.uniform(-16, 0),
                  0.5 + rng.uniform(-1e-6, 1e-6)):
            a = min(1.0, max(0.0, a))
            q = Fraction(a)
            sig.append([a, float(q * (1 - q) * (1 - 2 * q))])
            for s in (a, -a):
                q = Fraction(s)
                th.append([s, float(-2 * q * (1 - q * q))])
    return {'sigmoid': sig, 'tanh': th}


def main():
    seed, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rng = random.Random(seed)
    out = []
    for name, P in ENTRIES:
        # 0 is a breakpoint of g'' (elu, selu, celu, softsign): not a point of a smooth sweep
        zs = [z for z in points(rng, n) if z != 0 or name not in ('elu', 'selu', 'celu', 'softsign')]
        out.append({'name': name, 'params': P, 'cases': [[z, exact(name, z, P)] for z in zs]})
        print(name, P, len(zs), file=sys.stderr, flush=True)
    with open(path, 'w') as f:
        json.dump({'activations': out, 'from_output': from_output(rng, n)}, f)


if __name__ == '__main__':
    main()
