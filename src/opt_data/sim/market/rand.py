"""Deterministic randomness keyed by meaning, not by call order.

Every random quantity in the market is a pure function of ``(seed, what, who, when)``: the
key is hashed with BLAKE2b, so answers never depend on Python's per-process ``hash()``
randomisation, on which contract was asked about first, or on how many draws came before.
"""

from __future__ import annotations

import math
from hashlib import blake2b
from statistics import NormalDist

import numpy as np

_STD_NORMAL = NormalDist()
_TWO_64 = float(2**64)


def key64(*parts: object) -> int:
    """A 64-bit integer digest of ``parts`` (ints, strs, floats, dates), stable across processes."""
    text = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(blake2b(text.encode(), digest_size=8).digest(), "little")


def unit(*parts: object) -> float:
    """A uniform draw in the open interval (0, 1) keyed by ``parts``."""
    return (key64(*parts) + 0.5) / _TWO_64


def normal(*parts: object) -> float:
    """A standard normal draw keyed by ``parts``."""
    return _STD_NORMAL.inv_cdf(unit(*parts))


def lognormal(sigma: float, *parts: object) -> float:
    """A mean-one lognormal factor with log-sd ``sigma`` keyed by ``parts``."""
    return math.exp(sigma * normal(*parts) - 0.5 * sigma * sigma)


def generator(*parts: object) -> np.random.Generator:
    """A numpy generator whose stream is fixed by ``parts`` (for whole paths at once)."""
    return np.random.Generator(np.random.PCG64(key64(*parts)))
