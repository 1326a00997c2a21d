"""The demo's randomness: counter-based hashes (splitmix64) of (key, stream, index), so the same
symbol and session give the same numbers in any process, with no global state."""

import hashlib

import numpy as np


def key(*parts: object) -> int:
    digest = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def splitmix64(values: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = values + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def uniform(keys: np.ndarray, count: int, stream: int) -> np.ndarray:
    """Uniforms in (0, 1), shape (len(keys), count), a pure function of (key, stream, index)."""
    with np.errstate(over="ignore"):
        base = splitmix64(keys.astype(np.uint64) ^ np.uint64(key("stream", stream)))
        counters = np.arange(count, dtype=np.uint64) * np.uint64(0xD1B54A32D192ED03)
        bits = splitmix64(base[:, None] + counters[None, :])
    return ((bits >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0**-53


def normal(keys: np.ndarray, count: int, stream: int) -> np.ndarray:
    u1, u2 = uniform(keys, count, stream), uniform(keys, count, stream + 1000)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)


def unit(*parts: object) -> float:
    """A uniform in (0, 1) that is a pure function of its parts (scalar fast path)."""
    return ((key(*parts) >> 11) + 0.5) * 2.0**-53
