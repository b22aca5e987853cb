"""Byte columns: values as NUL-padded ``uint8`` rows, percent-encoded, written and hashed by array.

A *byte column* of m values is an ``(m, w)`` uint8 matrix (or an ``(m,)`` array of ``w``-byte
voids), one value per row, padded with NUL bytes (texts at the right; long numbers may hold
NULs between digit groups). Wire text never contains NUL (percent-encoding turns it into
``%00``), so byte columns placed side by side in one matrix become the wire lines once every
NUL byte is deleted (``bytes.replace``). Everything here works on whole arrays: no Python code
runs per value beyond what ``str.join`` and ``len`` do in C.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "decimal_text",
    "decimals",
    "hash_matrix",
    "hash_texts",
    "hex16",
    "mix",
    "number_hashes",
    "pack",
    "percent_encode",
    "utf8_buffer",
]

GOLD = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)

#: RFC 3986 unreserved bytes, which ``urllib.parse.quote(v, safe="")`` keeps as they are.
_SAFE_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~-"
SAFE = np.zeros(256, dtype=bool)
SAFE[np.frombuffer(_SAFE_BYTES, np.uint8)] = True
_HEX = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)


def mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser, vectorised (uint64 arithmetic wraps, as intended)."""
    x = x ^ (x >> np.uint64(30))  # a new array: the input is left as it is
    if x.ndim == 0:  # a scalar (numpy scalars have no in-place operators)
        x = x * _M1
        x = x ^ (x >> np.uint64(27))
        x = x * _M2
        return x ^ (x >> np.uint64(31))
    x *= _M1
    x ^= x >> np.uint64(27)
    x *= _M2
    x ^= x >> np.uint64(31)
    return x


def utf8_buffer(
    values: Sequence[str],
    char_lens: np.ndarray | None = None,
    joined: str | None = None,
    errors: str = "strict",
) -> tuple[np.ndarray, np.ndarray]:
    """(the values' UTF-8 bytes end to end as uint8, the byte length of each value).

    ``char_lens`` (each value's ``len``) and ``joined`` (``"".join(values)``) save a pass
    when the caller has them already. ``errors="surrogatepass"`` writes a lone surrogate as
    its three bytes (for hashing only: such bytes are no UTF-8 and never go on the wire).
    """
    if char_lens is None:
        char_lens = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    if joined is None:
        joined = "".join(values)
    if joined.isascii():  # the usual case: one character, one byte
        return np.frombuffer(joined.encode("ascii"), dtype=np.uint8), char_lens
    raw = np.frombuffer(joined.encode("utf-8", errors), dtype=np.uint8)
    # every character has exactly one byte that is not a continuation byte (10xxxxxx)
    char_starts = np.append(np.flatnonzero((raw & 0xC0) != 0x80), raw.size)
    bounds = char_starts[np.concatenate(([0], np.cumsum(char_lens)))]
    return raw, np.diff(bounds)


def percent_encode(buf: np.ndarray, lens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Percent-encode a byte buffer of values (``quote(v, safe="")``, byte for byte)."""
    raw = buf.base if isinstance(buf.base, bytes) and len(buf.base) == buf.size else buf.tobytes()
    if raw.isalnum() or not raw.translate(None, _SAFE_BYTES):  # C scans: usually all safe
        return buf, lens
    unsafe = ~SAFE[buf]
    index = np.int32 if 3 * buf.size < 2**31 else np.int64  # half the memory traffic
    step = np.where(unsafe, index(3), index(1))  # an unsafe byte becomes %XX
    dst: np.ndarray = np.cumsum(step, dtype=index)
    out = np.empty(int(dst[-1]), dtype=np.uint8)
    dst -= step  # where each input byte starts in the output
    out[dst] = buf
    at = np.flatnonzero(unsafe)
    d, b = dst[at], buf[at]
    out[d] = ord("%")
    out[d + 1] = _HEX[b >> 4]
    out[d + 2] = _HEX[b & 15]
    bounds = np.concatenate(([0], np.cumsum(lens)))  # the values' bounds in the input...
    moved = dst[np.minimum(bounds, buf.size - 1)].astype(np.int64)  # ...and in the output
    moved[bounds == buf.size] = out.size
    return out, np.diff(moved)


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
        index = np.int32 if max(m * width, buf.size) < 2**31 else np.int64
        rows: np.ndarray = np.arange(m, dtype=index)
        shift = rows * index(width) - (np.cumsum(lens) - lens).astype(index)
        shift = np.repeat(shift, lens)
        shift += np.arange(buf.size, dtype=index)
        out.ravel()[shift] = buf
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


def hash_texts(values: Sequence[str], errors: str = "strict") -> np.ndarray:
    """:func:`hash_matrix` of each string's UTF-8 bytes (``errors`` as :func:`utf8_buffer`)."""
    if len(values) == 0:
        return np.empty(0, dtype=np.uint64)
    buf, lens = utf8_buffer(values, errors=errors)
    return hash_matrix(pack(buf, lens), lens)


#: "0000" .. "FFFF" as 4-byte words: a nonce's 16 digits are four lookups.
_HEX4 = np.frombuffer(b"".join(b"%04X" % i for i in range(65536)), dtype="V4")


def hex16(h: np.ndarray) -> np.ndarray:
    """16 upper-case hex digits of each uint64, as an ``(m, 16)`` byte column."""
    quarters = h.astype(">u8").view(">u2").astype(np.intp)  # most significant first
    return _HEX4.take(quarters).view(np.uint8).reshape(len(h), 16)


# -- numbers ----------------------------------------------------------------------------------

_NUMBER_SALT = np.uint64(0x243F6A8885A308D3)


def number_hashes(values: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each number by its float64 bits (what it is, not how it is written)."""
    return mix(np.ascontiguousarray(values, dtype=np.float64).view(np.uint64) ^ _NUMBER_SALT)


def _digit_table(width: int, keep_zeros: bool) -> tuple[np.ndarray, np.ndarray]:
    """``width``-digit groups as void words, (table, text lengths)."""
    texts = [b"%0*d" % (width, i) for i in range(10**width)]
    if not keep_zeros:  # leading zeros left out, but 0 itself is "0"
        texts = [(t.lstrip(b"0") or b"0").rjust(width, b"\0") for t in texts]
    table = np.frombuffer(b"".join(texts), dtype=f"V{width}")
    return table, np.array([width - t.count(b"\0") for t in texts], dtype=np.int64)


# 0..999 as 3 digits; with the leading zeros dropped (NUL); then all NUL (a group above the number)
_GROUP_FULL, _ = _digit_table(3, True)
_GROUP_LEAD, _GROUP_LEAD_LENS = _digit_table(3, False)
_GROUPS = np.concatenate([_GROUP_FULL, _GROUP_LEAD, np.zeros(1, dtype="V3")])
_GROUP_LENS = np.concatenate([np.full(1000, 3), _GROUP_LEAD_LENS, [0]])


def _fraction_table(decimals: int) -> tuple[np.ndarray, np.ndarray]:
    """Fractions 0 .. 10**decimals - 1 as digits, trailing zeros dropped (but one digit kept)."""
    width = max(decimals, 1)
    texts = [(b"%0*d" % (width, i)).rstrip(b"0") or b"0" for i in range(10**decimals)]
    table = np.frombuffer(b"".join(t.ljust(width, b"\0") for t in texts), dtype=f"V{width}")
    return table, np.array([len(t) for t in texts], dtype=np.int64)


#: The most decimals :func:`decimal_text` writes: up to 4, ``repr`` never uses an exponent.
MAX_DECIMALS = 4
_FRACTIONS = [_fraction_table(d) for d in range(MAX_DECIMALS + 1)]


def decimals(values: np.ndarray) -> int | None:
    """The fewest decimals (0 to :data:`MAX_DECIMALS`) that write every value exactly, or None.

    A value ``v`` is written exactly with ``d`` decimals when it is the float nearest to some
    ``k / 10**d`` with ``|k| < 2**53``; then ``repr(v)`` is that decimal (Python's shortest
    round trip, positional between 1e-4 and 1e16), trailing zeros dropped.
    """
    scaled = np.abs(values)
    for d in range(MAX_DECIMALS + 1):
        if not (scaled * 10.0**d < 2.0**53).all():  # checked first: no overflow below
            return None
        if (np.rint(values * 10.0**d) / 10.0**d == values).all():
            return d
    return None


def _words(texts: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Texts of at most 8 bytes as little-endian uint64 words (left-aligned), and lengths."""
    words = np.array([int.from_bytes(t, "little") for t in texts], dtype=np.uint64)
    return words, np.array([len(t) for t in texts], dtype=np.uint64)


# 0..999 as written ("7"), as a group inside a longer number ("007"); fractions as ".5", ".05"
_LEAD_WORDS, _LEAD_WORD_LENS = _words([b"%d" % i for i in range(1000)])
_LEAD_WORD_SHIFTS = _LEAD_WORD_LENS * np.uint64(8)
_FULL_WORDS, _ = _words([b"%03d" % i for i in range(1000)])
_FRACTION_WORDS = [
    _words([b"." + (b"%0*d" % (d, i)).rstrip(b"0") if d and i else b".0" for i in range(10**d)])
    for d in range(MAX_DECIMALS + 1)
]


def decimal_text(
    values: np.ndarray, decimals: int, point: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``repr(float(v))`` (``point``) or ``str(int(v))`` of finite values, as bytes per row.

    Returns (an ``(m,)`` void array or an ``(m, w)`` byte column, lengths).

    ``decimals`` must come from :func:`decimals` (or be 0 for whole numbers). Digits go three
    at a time through lookup tables. Numbers of up to 8 characters (most) are assembled
    left-aligned in one uint64 by shifts, so each leaves a single run of NUL padding.
    """
    m = len(values)
    negative = np.signbit(values) if point else values < 0  # repr(-0.0) is "-0.0"
    if decimals:
        k = np.rint(np.abs(values) * 10.0**decimals).astype(np.int64)
        whole, frac = np.divmod(k, 10**decimals)
    else:  # whole numbers already
        whole = np.abs(values).astype(np.int64)
        frac = np.zeros(m, dtype=np.int64)
    digits = len(str(int(whole.max()))) if m else 1
    signed = bool(negative.any())
    longest = signed + digits + (1 + max(decimals, 1) if point else 0)
    if longest > 8:
        return _long_decimal_text(negative, whole, frac, decimals, point, digits, signed)
    groups = -(-digits // 3)
    # ``word`` holds the text so far, ``shift`` its length in bits
    if signed:
        word = np.where(negative, np.uint64(ord("-")), np.uint64(0))
        shift = negative.astype(np.uint64) * np.uint64(8)
    elif groups == 1:
        word, shift = _LEAD_WORDS[whole], _LEAD_WORD_SHIFTS[whole]
    else:
        word, shift = np.zeros(m, dtype=np.uint64), np.zeros(m, dtype=np.uint64)
    if groups == 1:  # below 1000: one lookup, the usual case
        if signed:
            word |= _LEAD_WORDS[whole] << shift
            shift += _LEAD_WORD_SHIFTS[whole]
        groups = 0
    for i in range(groups):  # most significant first
        below = 1000 ** (groups - 1 - i)
        q = (whole // below) % 1000
        if i == 0:  # the number's first group for every row with this many groups
            first, inner = whole >= below, np.zeros(m, dtype=bool)
        else:
            first, inner = (whole >= below) & (whole < below * 1000), whole >= below * 1000
        if i == groups - 1:
            first |= whole < below  # 0 is written "0"
        piece = np.where(first, _LEAD_WORDS[q], np.where(inner, _FULL_WORDS[q], np.uint64(0)))
        word |= piece << shift
        shift += np.where(first, _LEAD_WORD_LENS[q], np.where(inner, 3, 0)).astype(
            np.uint64
        ) * np.uint64(8)
    if point:
        words, word_lens = _FRACTION_WORDS[decimals]
        word |= words[frac] << shift
        shift += word_lens[frac] * np.uint64(8)
    lens = (shift >> np.uint64(3)).astype(np.int64)
    # the first ``longest`` bytes of each word, as an (m,) void array (a view, no copy): a
    # padding byte fewer is a run of NUL fewer to delete on many lines
    first_bytes = np.dtype({"names": ["v"], "formats": [f"V{longest}"], "itemsize": 8})
    return word.astype("<u8", copy=False).view(first_bytes)["v"], lens


def _long_decimal_text(
    negative: np.ndarray,
    whole: np.ndarray,
    frac: np.ndarray,
    decimals: int,
    point: bool,
    digits: int,
    signed: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`decimal_text` for longer numbers: groups side by side, NUL where a digit is not."""
    m = len(whole)
    groups = -(-digits // 3)
    parts = [np.where(negative, ord("-"), 0).astype(np.uint8)[:, None]] if signed else []
    lens = negative.astype(np.int64)
    for i in range(groups):  # most significant first
        below = 1000 ** (groups - 1 - i)
        q = (whole // below) % 1000
        # the number's first group drops its leading zeros; a group above the number is NUL
        first = (whole < below * 1000) & ((whole >= below) | (i == groups - 1))
        idx = np.where(first, q + 1000, np.where(whole >= below * 1000, q, 2000))
        parts.append(_GROUPS.take(idx).view(np.uint8).reshape(m, 3))
        lens += _GROUP_LENS[idx]
    if point:
        table, table_lens = _FRACTIONS[decimals]
        parts.append(np.full((m, 1), ord("."), dtype=np.uint8))
        parts.append(table.take(frac).view(np.uint8).reshape(m, table.dtype.itemsize))
        lens += 1 + table_lens[frac]
    return np.concatenate(parts, axis=1), lens
