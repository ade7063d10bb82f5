"""Float32 building blocks for the numba engine: fp16 loads and a vectorisable tanh.

numba has no float16 type on the CPU, so fp16 weights are kept as their uint16 bit
patterns and widened by an LLVM ``fpext`` from ``half``; inside a vectorised loop LLVM
turns that into F16C conversions (``vcvtph2ps``), so half-width weights cost no extra
instructions and halve the bytes streamed per sample.

``math.tanh`` and ``math.exp`` compile to scalar libm calls that stop LLVM from
vectorising the gate loop; at 2 560 gate activations per sample they alone would take
longer than the whole budget. :func:`tanh32` is a rational approximation instead,
``x · P(x²) / Q(x²)`` with degree-6 polynomials, fitted by iteratively reweighted least
squares on [0, 9] (ours; see tests/vocoders/test_wavenet_cpu.py for the error bound it must meet:
below 1e-6 absolute everywhere, evaluated in float32). Beyond ±9, tanh is within 3e-8
of ±1, so inputs are clamped there.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

_P = [np.float32(c) for c in (0.9999999403953552, -0.15887457132339478,
                              0.031426284462213516, 0.00794503465294838,
                              0.0002250820689368993, 1.328010625911702e-06,
                              8.348265967406121e-10)]
_Q = [np.float32(c) for c in (1.0, 0.1744583696126938, -0.043753549456596375,
                              0.024067027494311333, 0.0016273193759843707,
                              2.1281301087583415e-05, 4.948203979893151e-08)]
P0, P1, P2, P3, P4, P5, P6 = _P
Q0, Q1, Q2, Q3, Q4, Q5, Q6 = _Q
CLAMP = np.float32(9.0)
HALF = np.float32(0.5)


@njit(inline="always", fastmath=True)
def tanh32(x):
    """tanh of a float32, within 1e-6 absolute (vectorisable: no libm call)."""
    x = min(max(x, -CLAMP), CLAMP)
    s = x * x
    p = ((((((P6 * s + P5) * s + P4) * s + P3) * s + P2) * s + P1) * s + P0)
    q = ((((((Q6 * s + Q5) * s + Q4) * s + Q3) * s + Q2) * s + Q1) * s + Q0)
    return x * p / q


@njit(inline="always", fastmath=True)
def sigmoid32(x):
    """Logistic sigmoid through tanh: σ(x) = ½ + ½·tanh(x/2)."""
    return HALF + HALF * tanh32(HALF * x)


@intrinsic
def _half_bits_to_float(typingctx, bits):
    """float32 value of the IEEE half whose bit pattern is the uint16 ``bits``."""
    sig = types.float32(types.uint16)

    def codegen(context, builder, signature, args):
        return builder.fpext(builder.bitcast(args[0], ir.HalfType()), ir.FloatType())

    return sig, codegen


def load32(v):
    """Weight element as float32: uint16 holds fp16 bits, anything else is converted."""
    return np.float32(v)


@overload(load32, inline="always")
def _load32(v):
    if isinstance(v, types.Integer) and v.bitwidth == 16 and not v.signed:
        return lambda v: _half_bits_to_float(v)
    return lambda v: np.float32(v)
