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
    "hash_words",
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
SAFE_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.~-"
SAFE = np.zeros(256, dtype=bool)
SAFE[np.frombuffer(SAFE_BYTES, np.uint8)] = True
_HEX = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)


#: Values mixed (and texts hashed) a block at a time: a block's temporaries stay in the CPU
#: cache, which makes the uint64 arithmetic on a long column about three times faster.
BLOCK = 32_768
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


def mix(
    x: np.ndarray, xor: np.uint64 | np.ndarray | None = None, out: np.ndarray | None = None
) -> np.ndarray:
    """splitmix64's finaliser of ``x ^ xor``, vectorised (uint64 arithmetic wraps, as intended).

    Parameters
    ----------
    x : numpy.ndarray
        uint64 values (or a numpy uint64 scalar); left as they are unless ``out`` is ``x``.
    xor : numpy.uint64 or numpy.ndarray, optional
        A salt (one value, or one per element) mixed in first: ``mix(x, s)`` is
        ``mix(x ^ s)`` without the temporary.
    out : numpy.ndarray, optional
        Where the result goes (``x`` itself for in place); a new array by default.

    Returns
    -------
    numpy.ndarray
        The mixed values (``out`` when given).

    Examples
    --------
    >>> int(mix(np.array([1], dtype=np.uint64))[0]) == 0x5692161D100B05E5
    True
    """
    if x.ndim != 1:  # a scalar or a matrix: plain numpy (numpy scalars have no in-place ops)
        if xor is not None:
            x = x ^ xor
        with np.errstate(over="ignore"):  # a scalar's product warns; arrays wrap silently
            x = x ^ (x >> _S30)
            x = x * _M1
            x = x ^ (x >> _S27)
            x = x * _M2
            x = x ^ (x >> _S31)
        if out is not None:
            out[...] = x
            return out
        return x
    n = len(x)
    if out is None:
        out = np.empty(n, dtype=np.uint64)
    tmp = np.empty(min(n, BLOCK), dtype=np.uint64)
    rows = xor if isinstance(xor, np.ndarray) and xor.ndim == 1 else None  # a salt per row
    for a in range(0, n, BLOCK):
        b = min(a + BLOCK, n)
        o, t = out[a:b], tmp[: b - a]
        if xor is None:
            np.copyto(o, x[a:b])
        else:
            np.bitwise_xor(x[a:b], xor if rows is None else rows[a:b], out=o)
        np.right_shift(o, _S30, out=t)
        o ^= t
        o *= _M1
        np.right_shift(o, _S27, out=t)
        o ^= t
        o *= _M2
        np.right_shift(o, _S31, out=t)
        o ^= t
    return out


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
    if raw.isalnum() or not raw.translate(None, SAFE_BYTES):  # C scans: usually all safe
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
    words = np.ascontiguousarray(mat).view("<u8")
    return hash_words([words[:, k] for k in range(words.shape[1])], lens)


def hash_words(words: Sequence[np.ndarray], lens: np.ndarray) -> np.ndarray:
    """:func:`hash_matrix` from each row's words, given as one array per word position.

    The same value as ``hash_matrix`` of the rows the words make, without laying them out:
    a column of texts of one width is hashed in place (see ``encode.utf8``).

    Parameters
    ----------
    words : sequence of numpy.ndarray
        ``words[k]``: word ``k`` (8 bytes, little-endian ``uint64``) of every row; any strides,
        aligned or not. A row's words past its end are NUL (zero).
    lens : numpy.ndarray
        Each row's length in bytes.

    Returns
    -------
    numpy.ndarray
        One uint64 hash per row.

    Examples
    --------
    >>> mat = np.zeros((2, 8), dtype=np.uint8)  # "abcdefgh" and "12345", NUL-padded
    >>> mat[0], mat[1, :5] = list(b"abcdefgh"), list(b"12345")
    >>> lens = np.array([8, 5])
    >>> words = mat.view("<u8")[:, 0]
    >>> bool((hash_words([words], lens) == hash_matrix(mat, lens)).all())
    True
    """
    keys = (np.arange(1, len(words) + 1, dtype=np.uint64) * GOLD).tolist()
    # every row has every word (NUL ones add nothing): the - mix(K_k) terms are one constant
    h = lens.astype(np.uint64) * GOLD
    h -= mix(np.array(keys, dtype=np.uint64)).sum(dtype=np.uint64)
    t = np.empty(len(h), dtype=np.uint64)
    for w, key in zip(words, keys, strict=True):
        np.add(w, np.uint64(key), out=t)
        h += mix(t, out=t)
    return mix(h, out=h)


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
    if not len(values):
        return 0
    top = float(np.abs(values).max())
    head = values[:256]  # a few values first: most ``d`` that fail, fail there
    for d in range(MAX_DECIMALS + 1):
        scale = 10.0**d
        if not top * scale < 2.0**53:  # checked first: no overflow below
            return None
        if not (np.rint(head * scale) / scale == head).all():
            continue
        if (np.rint(values * scale) / scale == values).all():
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


#: Decimals up to which :func:`decimal_text` looks numbers below 1000 up whole.
_SMALL_DECIMALS = 2
_SMALL_TEXTS: dict[int, tuple[np.ndarray, np.ndarray]] = {}


def _small_texts(decimals: int) -> tuple[np.ndarray, np.ndarray]:
    """``repr`` of ``k / 10**decimals`` for every ``k`` below ``1000 * 10**decimals``, as
    left-aligned uint64 words and lengths (made on first use: 800 kB for 2 decimals)."""
    if decimals not in _SMALL_TEXTS:
        whole, frac = np.divmod(np.arange(1000 * 10**decimals), 10**decimals)
        words, word_lens = _FRACTION_WORDS[decimals]
        text = _LEAD_WORDS[whole] | (words[frac] << _LEAD_WORD_SHIFTS[whole])
        lens = (_LEAD_WORD_LENS[whole] + word_lens[frac]).astype(np.uint8)
        _SMALL_TEXTS[decimals] = (text.astype("<u8"), lens)
    return _SMALL_TEXTS[decimals]


def decimal_text(
    values: np.ndarray, decimals: int, point: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """``repr(float(v))`` (``point``) or ``str(int(v))`` of finite values, as bytes per row.

    ``values`` are floats, or (without ``point``) integers below ``2**53`` in magnitude.

    Returns (an ``(m,)`` void array or an ``(m, w)`` byte column, lengths).

    ``decimals`` must come from :func:`decimals` (or be 0 for whole numbers). Digits go three
    at a time through lookup tables. Numbers of up to 8 characters (most) are assembled
    left-aligned in one uint64 by shifts, so each leaves a single run of NUL padding.
    """
    m = len(values)
    negative = np.signbit(values) if point else values < 0  # repr(-0.0) is "-0.0"
    signed = bool(negative.any())
    scaled = np.rint(np.abs(values) * 10.0**decimals) if decimals else np.abs(values)
    k = scaled.astype(np.int64, copy=False)
    top = int(k.max()) if m else 0
    if point and not signed and decimals <= _SMALL_DECIMALS and top < 1000 * 10**decimals:
        # the usual price or amount: one lookup of the whole text (see _small_texts)
        words, word_lens = _small_texts(decimals)
        longest = len(str(top // 10**decimals)) + 1 + max(decimals, 1)
        first_bytes = np.dtype({"names": ["v"], "formats": [f"V{longest}"], "itemsize": 8})
        return words.take(k).view(first_bytes)["v"], word_lens.take(k).astype(np.int64)
    if decimals:
        whole, frac = np.divmod(k, 10**decimals)
    else:  # whole numbers already
        whole = k
        frac = np.zeros(m, dtype=np.int64)
    digits = len(str(int(whole.max()))) if m else 1
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
