"""Text columns as UTF-8 bytes, made once per plan: what the nonces hash and the lines carry.

A :class:`Utf8` holds a column of texts as one byte buffer with each value's start and length,
so the nonces (:mod:`.nonces`) hash a text column and the lines (:mod:`.fields`) carry it from
the same bytes, neither with a Python call per value. :func:`column_utf8` makes one:

- from a column whose every present cell is a ``str``: one ``"\\0".join`` and one ``encode``;
  the separators' positions (numpy) give every value's start and length, and a value that
  holds a NUL itself sends the column the slower way (a ``len`` per value);
- from an Arrow-backed text column: Arrow's own buffers, read in place.

The bytes are the value's UTF-8, a lone surrogate written as its three bytes
(``surrogatepass``): such a value is hashed (the nonces take every text) but never sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import bytecols

__all__ = ["Utf8", "column_utf8"]

_SURROGATE = re.compile("[\ud800-\udfff]")
_SAFE_OR_NUL = bytecols.SAFE_BYTES + b"\0"
#: Bytes of a text column in one :meth:`Utf8.matrix` when hashing (bounds its memory).
_HASH_BYTES = 1 << 21
#: Python texts joined at a time: the block's list and its objects stay in the CPU cache.
_TEXT_BLOCK = 4_096


@dataclass
class Utf8:
    """A column of texts as UTF-8 bytes: value ``i`` is ``buf[starts[i] : starts[i] + lens[i]]``.

    Values lie in order and never overlap (``starts`` never decreases). A missing value has
    length 0 and ``present`` False.

    Attributes
    ----------
    buf : numpy.ndarray
        uint8, the bytes of every value (and whatever lies between them).
    starts, lens : numpy.ndarray
        int64 per value: where its bytes start in ``buf``, and how many.
    present : numpy.ndarray
        bool per value: False for a missing cell.
    ascii : bool
        Every byte of ``buf`` is ASCII, so a value's length in characters is its length in
        bytes (False may be pessimistic for a part of a column).
    surrogates : bool
        Some value may hold a lone surrogate (see :meth:`surrogate_rows`).
    step : int or None
        When every value is present, ``width`` bytes long and ``step`` bytes after the one
        before: a strided view is the whole column, no copy needed.
    """

    buf: np.ndarray
    starts: np.ndarray
    lens: np.ndarray
    present: np.ndarray
    ascii: bool
    surrogates: bool = False
    step: int | None = None
    #: ``buf`` holds NUL only between values (never inside one): a NUL is no byte to escape.
    nul_free: bool = False
    _safe: list[bool] = field(default_factory=list)  # memo, shared with slices of the column

    def __len__(self) -> int:
        return len(self.lens)

    @property
    def width(self) -> int:
        """The longest value in bytes (0 when there is none)."""
        return int(self.lens.max()) if len(self.lens) else 0

    # -- parts of the column ---------------------------------------------------------------

    def slice(self, a: int, b: int) -> Utf8:
        """Values ``a`` to ``b`` (views, no copy)."""
        return Utf8(
            self.buf,
            self.starts[a:b],
            self.lens[a:b],
            self.present[a:b],
            self.ascii,
            self.surrogates,
            self.step,
            self.nul_free,
            self._safe,
        )

    def take(self, rows: np.ndarray) -> Utf8:
        """The values at positions ``rows``: a slice for a run, else their bytes gathered."""
        m = len(rows)
        if m and rows[-1] - rows[0] == m - 1 and (m < 2 or bool((np.diff(rows) == 1).all())):
            return self.slice(int(rows[0]), int(rows[-1]) + 1)
        return self._gather(rows)

    def _gather(self, rows: np.ndarray) -> Utf8:
        """The values at positions ``rows``, copied end to end into a new buffer."""
        m = len(rows)
        lens = self.lens[rows]
        present = self.present[rows]
        if self.step is not None and m:  # one width: whole rows of a strided view
            mat = self._strided(len(self))[rows]
            width = mat.shape[1]
            starts = np.arange(m, dtype=np.int64) * width
            return Utf8(
                mat.ravel(),
                starts,
                lens,
                present,
                self.ascii,
                self.surrogates,
                width or None,
                self.nul_free,
            )
        ends = np.cumsum(lens)
        starts = ends - lens
        total = int(ends[-1]) if m else 0
        index = np.int32 if max(total, self.buf.size) < 2**31 else np.int64
        src = np.repeat((self.starts[rows] - starts).astype(index), lens)
        src += np.arange(total, dtype=index)
        return Utf8(
            self.buf[src], starts, lens, present, self.ascii, self.surrogates, None, self.nul_free
        )

    def _strided(self, m: int) -> np.ndarray:
        """The ``(m, width)`` strided view of a one-width column (``step`` set)."""
        assert self.step is not None
        width = int(self.lens[0]) if m else 0
        base = self.buf[int(self.starts[0]) :] if m else self.buf
        need = (m - 1) * self.step + width if m else 0
        assert base.size >= need
        return np.lib.stride_tricks.as_strided(
            base, shape=(m, width), strides=(self.step, 1), writeable=False
        )

    # -- what the column is ---------------------------------------------------------------

    def char_lens(self) -> np.ndarray:
        """Each value's length in characters (``len`` of the text)."""
        if self.ascii:
            return self.lens.copy()
        out = np.zeros(len(self), dtype=np.int64)
        rows = max(1, _HASH_BYTES // max(1, self.width))
        for a in range(0, len(self), rows):
            b = min(a + rows, len(self))
            starts, lens = self.starts[a:b], self.lens[a:b]
            lo, hi = int(starts[0]), int((starts + lens).max())
            # a character has exactly one byte that is not a continuation byte (10xxxxxx)
            heads = np.concatenate(([0], np.cumsum((self.buf[lo:hi] & 0xC0) != 0x80)))
            out[a:b] = heads[starts - lo + lens] - heads[starts - lo]
        return out

    def surrogate_rows(self) -> np.ndarray:
        """Which values hold a lone surrogate (its bytes ``ED A0..BF ..``: no UTF-8 has them)."""
        out = np.zeros(len(self), dtype=bool)
        if not self.surrogates or not len(self):
            return out
        buf = self.buf
        at = np.flatnonzero((buf[:-1] == 0xED) & ((buf[1:] & 0xE0) == 0xA0))
        if at.size:
            row = np.searchsorted(self.starts, at, side="right") - 1
            inside = (row >= 0) & (at < self.starts[np.maximum(row, 0)] + self.lens[row])
            out[row[inside]] = True
        return out

    def safe(self) -> bool:
        """Every byte is unreserved: ``quote(v, safe="")`` keeps every value as it is.

        One C scan of the whole column, remembered (a part of the column shares it).
        """
        if not self._safe:
            base = self.buf.base
            raw = base if isinstance(base, bytes) and len(base) == self.buf.size else None
            if raw is None:
                raw = self.buf.tobytes()
            if self.nul_free:  # a NUL lies between values, never in one
                ok = not raw.translate(None, _SAFE_OR_NUL)
            else:
                ok = raw.isalnum() or not raw.translate(None, bytecols.SAFE_BYTES)
            self._safe.append(ok)
        return self._safe[0]

    # -- the bytes, laid out ----------------------------------------------------------------

    def voids(self) -> np.ndarray:
        """The values of a one-width column (``step`` set) as an ``(len,)`` array of
        ``width``-byte voids: a view of ``buf``, no copy."""
        m = len(self)
        rows = self._strided(m)
        return rows.view(f"V{rows.shape[1]}")[:, 0] if m else np.empty(0, dtype="V1")

    def flat(self) -> tuple[np.ndarray, np.ndarray]:
        """(the values' bytes end to end, each value's length): what
        :func:`..bytecols.percent_encode` takes."""
        m = len(self)
        if not m:
            return np.empty(0, dtype=np.uint8), self.lens
        lo, hi = int(self.starts[0]), int((self.starts + self.lens).max())
        if hi - lo == int(self.lens.sum()):  # already end to end
            return self.buf[lo:hi], self.lens
        if self.step is not None:
            return np.ascontiguousarray(self._strided(m)).ravel(), self.lens
        gathered = self._gather(np.arange(m))
        return gathered.buf, gathered.lens

    def matrix(self, width: int | None = None) -> np.ndarray:
        """The byte column of the values: ``(len, width)`` uint8, NUL-padded.

        ``width`` defaults to the longest value rounded up to a multiple of 8 (what
        :func:`..bytecols.hash_matrix` reads).
        """
        m = len(self)
        longest = self.width
        if width is None:
            width = -(-longest // 8) * 8
        if self.step is not None and m:
            view = self._strided(m)
            if width == longest:
                return np.ascontiguousarray(view)
            out = np.zeros((m, width), dtype=np.uint8)
            out[:, :longest] = view
            return out
        out = np.zeros((m, width), dtype=np.uint8)
        total = int(self.lens.sum())
        if total:
            # byte p of value i goes from starts[i] + p to i * width + p
            index = np.int32 if max(m * width, self.buf.size) < 2**31 else np.int64
            ends = np.cumsum(self.lens).astype(index)
            within = np.arange(total, dtype=index) - np.repeat(ends - self.lens, self.lens)
            src = np.repeat(self.starts.astype(index), self.lens) + within
            dst = np.repeat(np.arange(m, dtype=index) * width, self.lens) + within
            out.ravel()[dst] = self.buf[src]
        return out

    def hashes(self) -> np.ndarray:
        """:func:`..bytecols.hash_matrix` of each value's bytes (a missing one: of none)."""
        m = len(self)
        out = np.empty(m, dtype=np.uint64)
        words = self._words()
        if words is not None:  # one width, whole words: read in place
            return bytecols.hash_words(words, self.lens)
        rows = max(64, min(bytecols.BLOCK, _HASH_BYTES // max(8, self.width)))
        for a in range(0, m, rows):
            part = self.slice(a, min(a + rows, m))
            out[a : a + len(part)] = bytecols.hash_matrix(part.matrix(), part.lens)
        return out

    def _words(self) -> list[np.ndarray] | None:
        """Word ``k`` of every value, one array per ``k``, as views of ``buf`` (unaligned):
        only for one width, a multiple of 8 bytes (else None)."""
        m = len(self)
        if self.step is None or not m or int(self.lens[0]) % 8:
            return None
        start = int(self.starts[0])
        return [
            np.ndarray(
                (m,), dtype="<u8", buffer=self.buf, offset=start + 8 * k, strides=(self.step,)
            )
            for k in range(int(self.lens[0]) // 8)
        ]


# --------------------------------------------------------------------------- making one


def from_texts(values: np.ndarray, present: np.ndarray | None = None) -> Utf8 | None:
    """The :class:`Utf8` of ``values`` (an object array of the present cells' values, in
    order), or None when one is not a ``str``. ``present`` marks the column's present cells
    (all by default)."""
    k = len(values)
    parts: list[bytes] = []
    ascii = True
    surrogates = False
    nuls = 0  # NUL bytes inside the blocks (the separators, unless a value holds one)
    first = 0  # the first value's length in bytes
    uniform = True  # every block so far is values of ``first`` bytes, a NUL between them
    # a block at a time: the block's list, its objects and its bytes stay in the CPU cache
    for a in range(0, k, _TEXT_BLOCK):
        block = values[a : a + _TEXT_BLOCK]
        try:
            joined = "\0".join(block.tolist())
        except TypeError:  # a cell that is no text
            return None
        if not a:
            first = len(values[0].encode("utf-8", "surrogatepass"))
        if joined.isascii():
            part = joined.encode("ascii")
        else:
            ascii = False
            surrogates = surrogates or _SURROGATE.search(joined) is not None
            part = joined.encode("utf-8", "surrogatepass")
        parts.append(part)
        data = np.frombuffer(part, dtype=np.uint8)
        nuls += int(np.count_nonzero(data == 0))
        uniform = uniform and len(part) == len(block) * (first + 1) - 1
        uniform = uniform and bool((data[first :: first + 1] == 0).all())
    raw = b"\0".join(parts)  # and a NUL between blocks
    del parts
    buf = np.frombuffer(raw, dtype=np.uint8)
    nul_free = True
    lens: np.ndarray
    if k == 0:
        starts = lens = np.empty(0, dtype=np.int64)
    elif nuls + (-(-k // _TEXT_BLOCK) - 1) != k - 1:  # a value holds a NUL
        nul_free = False
        texts = values.tolist()
        chars = np.fromiter(map(len, texts), dtype=np.int64, count=k)
        buf, lens = bytecols.utf8_buffer(texts, chars, "".join(texts), errors="surrogatepass")
        starts = np.cumsum(lens) - lens
    elif uniform:  # one width (ids, codes): the separators lie every ``first + 1`` bytes
        starts = np.arange(k, dtype=np.int64) * (first + 1)
        lens = np.full(k, first, dtype=np.int64)
    else:  # a NUL between values, none inside one
        bounds = np.concatenate(([-1], np.flatnonzero(buf == 0), [buf.size]))
        starts = bounds[:-1] + 1
        lens = np.diff(bounds) - 1
    if present is None:
        present = np.ones(k, dtype=bool)
    elif k < len(present):  # missing cells: empty values where the one before ends
        starts, lens = _spread(present, starts, lens)
    step = None
    if uniform and nul_free and k and k == len(present) and first:
        step = first + 1
    elif k and k == len(present) and bool((lens == lens[0]).all()) and lens[0]:
        step = int(lens[0]) + (1 if nul_free else 0)
    return Utf8(
        buf,
        starts.astype(np.int64, copy=False),
        lens.astype(np.int64, copy=False),
        present,
        ascii,
        surrogates,
        step,
        nul_free,
    )


def _spread(
    present: np.ndarray, starts: np.ndarray, lens: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Starts and lengths of the present values spread over every cell: a missing one is an
    empty value where the value before it ends (so starts never decrease)."""
    n = len(present)
    full_starts = np.zeros(n, dtype=np.int64)
    full_lens = np.zeros(n, dtype=np.int64)
    full_starts[present], full_lens[present] = starts, lens
    ends = np.maximum.accumulate(np.where(present, full_starts + full_lens, 0))
    return np.where(present, full_starts, ends), full_lens


def from_arrow(chunked: Any) -> Utf8 | None:
    """The :class:`Utf8` of an Arrow ``string`` or ``large_string`` array, read in place (None
    for another type)."""
    array = chunked.chunk(0) if chunked.num_chunks == 1 else chunked.combine_chunks()
    wide = {"string": False, "utf8": False, "large_string": True, "large_utf8": True}
    if str(array.type) not in wide:
        return None
    n, offset = len(array), array.offset
    validity, offsets_buf, data = array.buffers()[:3]
    dtype = np.int64 if wide[str(array.type)] else np.int32
    if offsets_buf is None:  # an empty array may have no buffers
        offsets = np.zeros(n + 1, dtype=np.int64)
    else:
        view = np.frombuffer(offsets_buf, dtype=dtype)[offset : offset + n + 1]
        offsets = view.astype(np.int64, copy=False)
    buf = np.frombuffer(data, dtype=np.uint8) if data is not None else np.empty(0, np.uint8)
    if array.null_count and validity is not None:
        bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
        present = bits[offset : offset + n].astype(bool)
    else:
        present = np.ones(n, dtype=bool)
    starts, lens = offsets[:-1], np.diff(offsets)
    if not present.all():
        lens[~present] = 0  # a null slot may have bytes: they are no value
    data = buf[offsets[0] : offsets[-1]]
    ascii = not data.size or int(data.max()) < 0x80  # a SIMD scan, no copy
    step = None
    if n and present.all() and bool((lens == lens[0]).all()) and lens[0]:
        step = int(lens[0])
    # Arrow holds valid UTF-8 only: no lone surrogate
    return Utf8(buf, starts, lens, present, ascii, False, step)


def _arrow_of(series: pd.Series) -> Any | None:
    """The Arrow array behind an Arrow-backed text column, else None."""
    dtype = series.dtype
    arrow = (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow") or (
        isinstance(dtype, pd.ArrowDtype) and str(dtype.pyarrow_dtype) in ("string", "large_string")
    )
    if not arrow:
        return None
    return series.array.__arrow_array__()


def column_utf8(series: pd.Series) -> Utf8 | None:
    """The :class:`Utf8` of a column whose every present cell is a ``str``, else None.

    Parameters
    ----------
    series : pandas.Series
        Any column; only text columns (object, ``str``/``string`` or Arrow text dtypes)
        give one.

    Returns
    -------
    Utf8 or None
        The column's texts as UTF-8 bytes (missing cells: present False), or None when the
        column holds something else than texts and missing cells.

    Examples
    --------
    >>> u = column_utf8(pd.Series(["ab", None, "été"], dtype=object))
    >>> u.lens.tolist(), u.present.tolist(), u.char_lens().tolist()
    ([2, 0, 5], [True, False, True], [2, 0, 3])
    >>> column_utf8(pd.Series([1, 2])) is None
    True
    """
    chunked = _arrow_of(series)
    if chunked is not None:
        return from_arrow(chunked)
    dtype = series.dtype
    if not (dtype == np.dtype(object) or isinstance(dtype, pd.StringDtype)):
        return None
    values = series.to_numpy(dtype=object)
    whole = from_texts(values)  # None when a cell is no str (a missing one, a number)
    if whole is not None:
        return whole
    present = series.notna().to_numpy()
    if present.all():
        return None  # a present cell is no text
    return from_texts(values[present], present)
