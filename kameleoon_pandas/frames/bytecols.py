"""Byte columns: text as NUL-padded ``uint8`` matrices, percent-encoded and hashed column-wise.

A *byte column* of m values is an ``(m, w)`` uint8 matrix, one value per row, left-aligned and
padded with NUL bytes. Wire text never contains NUL (percent-encoding turns it into ``%00``), so
byte columns placed side by side in one matrix become the wire lines once every NUL byte is
deleted (``bytes.replace``). Everything here works on whole arrays: no Python code runs per value
beyond what ``str.join`` and ``len`` do in C.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "hash_matrix",
    "hash_texts",
    "hex16",
    "mix",
    "pack",
    "percent_encode",
    "utf8_buffer",
]

GOLD = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)

#: RFC 3986 unreserved bytes, which ``urllib.parse.quote(v, safe="")`` keeps as they are.
SAFE = np.zeros(256, dtype=bool)
SAFE[
    np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~-", np.uint8)
] = True
_HEX = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, vectorised (uint64 arithmetic wraps, as intended)."""
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def utf8_buffer(
    values: Sequence[str], char_lens: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(the values' UTF-8 bytes end to end as uint8, the byte length of each value).

    ``char_lens`` (each value's ``len``) saves a pass when the caller has it already.
    """
    if char_lens is None:
        char_lens = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    joined = "".join(values)
    if joined.isascii():  # the usual case: one character, one byte
        return np.frombuffer(joined.encode("ascii"), dtype=np.uint8), char_lens
    raw = np.frombuffer(joined.encode("utf-8"), dtype=np.uint8)
    # every character has exactly one byte that is not a continuation byte (10xxxxxx)
    char_starts = np.append(np.flatnonzero((raw & 0xC0) != 0x80), raw.size)
    bounds = char_starts[np.concatenate(([0], np.cumsum(char_lens)))]
    return raw, np.diff(bounds)


def percent_encode(buf: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Percent-encode a byte buffer of values (``quote(v, safe="")``, byte for byte)."""
    unsafe = ~SAFE[buf]
    if not unsafe.any():
        return buf, lens
    step = 1 + 2 * unsafe.astype(np.int64)  # an unsafe byte becomes %XX
    dst = np.cumsum(step)
    out = np.empty(int(dst[-1]), dtype=np.uint8)
    dst -= step
    out[dst] = buf
    at = np.flatnonzero(unsafe)
    d, b = dst[at], buf[at]
    out[d] = ord("%")
    out[d + 1] = _HEX[b >> 4]
    out[d + 2] = _HEX[b & 15]
    seen = np.concatenate(([0], np.cumsum(unsafe)))
    ends = np.cumsum(lens)
    return out, lens + 2 * (seen[ends] - seen[ends - lens])


def pack(buf: np.ndarray, lens: np.ndarray, width: int | None = None) -> np.ndarray:
    """The byte column of values laid end to end in ``buf``: ``(len(lens), width)`` uint8.

    ``width`` defaults to the longest value rounded up to a multiple of 8 (what
    :func:`hash_matrix` reads).
    """
    m = len(lens)
    longest = int(lens.max()) if m else 0
    if width is None:
        width = -(-longest // 8) * 8
    if m and longest * m == buf.size:  # every value as long: a reshape, no scatter
        if width == longest:
            return buf.reshape(m, longest)
        out = np.zeros((m, width), dtype=np.uint8)
        out[:, :longest] = buf.reshape(m, longest)
        return out
    out = np.zeros((m, width), dtype=np.uint8)
    if buf.size:
        # byte p of value i goes to i * width + (p - start_i)
        shift = np.arange(m, dtype=np.int64) * width - (np.cumsum(lens) - lens)
        out.ravel()[np.arange(buf.size, dtype=np.int64) + np.repeat(shift, lens)] = buf
    return out


def hash_matrix(mat: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row's first ``lens`` bytes (rows NUL-padded to a multiple of 8).

    ``h = mix(len * GOLD + sum_k (mix(w_k + K_k) - mix(K_k)))`` over the row's little-endian
    64-bit words ``w_k``, with ``K_k = (k + 1) * GOLD``: a NUL word adds nothing, so the padding
    never changes the hash, and the value is the same on every machine.
    """
    mat = np.ascontiguousarray(mat)
    words = mat.view("<u8")
    h = lens.astype(np.uint64) * GOLD
    for k in range(words.shape[1]):
        key = np.uint64((k + 1) * int(GOLD) % 2**64)
        h += mix(words[:, k] + key) - mix(np.array([key]))[0]
    return mix(h)


def hash_texts(values: Sequence[str]) -> np.ndarray:
    """:func:`hash_matrix` of each string's UTF-8 bytes."""
    if len(values) == 0:
        return np.empty(0, dtype=np.uint64)
    buf, lens = utf8_buffer(values)
    return hash_matrix(pack(buf, lens), lens)


def hex16(h: np.ndarray) -> np.ndarray:
    """16 upper-case hex digits of each uint64, as an ``(m, 16)`` byte column."""
    b = h.astype(">u8").view(np.uint8).reshape(len(h), 8)
    out = np.empty((len(h), 16), dtype=np.uint8)
    out[:, 0::2] = _HEX[b >> 4]
    out[:, 1::2] = _HEX[b & 15]
    return out
