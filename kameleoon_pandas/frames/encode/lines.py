"""Slots and line assembly: each field's bytes for a slice, laid side by side into lines.

A :class:`_Slot` is one wire parameter over a slice's rows: byte columns (:mod:`..bytecols`) or
constant bytes, and each row's length. :func:`_line_matrix` lays a line's
parts into one ``(m, width)`` byte matrix, a record per line; a body is a run of its rows with
the NUL padding deleted. Also here: the cell budget that splits a slice of very long texts, and
the text of one number or boolean, and a parameter's name as it goes on the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

import numpy as np

from .. import bytecols
from .utf8 import Utf8
from .values import float_text

#: Cells (rows x bytes) of one slice's line matrix, beyond which the slice is split: bounds the
#: encoder's memory when a column holds very long texts.
_MAX_CELLS = 16 * 2**20


class _TooWide(Exception):
    """A slice's byte columns would pass :data:`_MAX_CELLS`: encode it in halves."""


def _check_cells(m: int, width: int) -> None:
    if m > 1 and m * width > _MAX_CELLS:
        raise _TooWide


def _rows_that_fit(width: int, most: int) -> int:
    """Rows of lines ``width`` bytes wide that fit :data:`_MAX_CELLS` (at least 1, at most
    ``most``)."""
    return max(1, min(most, _MAX_CELLS // max(1, width)))


@dataclass
class _Slot:
    """One wire parameter for m rows, as it goes on the line.

    ``parts`` are byte columns (``(m, w)`` uint8, NUL-padded, see :mod:`..bytecols`) or bytes the
    same on every row, in line order: ``b"&goalId="`` and the values, or both in one column.
    ``lens`` are the bytes each row adds (0 when the parameter is left out).
    """

    parts: list[bytes | np.ndarray]
    lens: np.ndarray
    #: each row's bytes start the slot and run unbroken, NUL padding after them (False when
    #: NULs may lie between them, as in long numbers: only the line matrix takes that)
    packed: bool = True


def _absent_slot(m: int) -> _Slot:
    return _Slot([], np.zeros(m, np.int64))


def _prefix(wire: str) -> str:
    """``&name=`` of a parameter, its name percent-encoded (open product attribute names)."""
    return f"&{quote(wire, safe='')}="


def _text_slot(
    values: np.ndarray | list[str],
    present: np.ndarray,
    wire: str,
    escape: bool = True,
    char_lens: np.ndarray | None = None,
    joined: str | None = None,
) -> _Slot:
    """The slot of (mostly distinct) strings: one pass over all their bytes, no row loop.

    ``char_lens`` (each value's ``len``) and ``joined`` (all of them end to end), when the
    caller has them, save a pass.
    """
    name = _prefix(wire).encode()
    m = len(values)
    every = bool(present.all())
    idx = None if every else np.flatnonzero(present)
    if not every:
        values = np.asarray(values, dtype=object)[idx]
        char_lens = None if char_lens is None else char_lens[idx]
        joined = None
    texts: list[str] = values if isinstance(values, list) else values.tolist()
    buf, lens = bytecols.utf8_buffer(texts, char_lens, joined)
    if escape:
        buf, lens = bytecols.percent_encode(buf, lens)
    longest = int(lens.max()) if len(lens) else 0
    _check_cells(m, len(name) + longest)
    mat = bytecols.pack(buf, lens, longest)
    if every:
        return _Slot([name, mat], lens + len(name))
    full = np.zeros((m, len(name) + longest), dtype=np.uint8)
    assert idx is not None
    if len(idx):
        full[idx, : len(name)] = np.frombuffer(name, dtype=np.uint8)
        full[idx, len(name) :] = mat
    out_lens = np.zeros(m, dtype=np.int64)
    out_lens[idx] = lens + len(name)
    return _Slot([full], out_lens)


def _utf8_slot(texts: Utf8, keep: np.ndarray, wire: str) -> _Slot:
    """The slot of a text column held as UTF-8 bytes (:mod:`.utf8`): the ``keep`` rows' values,
    percent-encoded.

    Values of one width with nothing to escape (ids, hex codes) go as a strided view of the
    column's bytes: the line matrix copies them straight from there.
    """
    name = _prefix(wire).encode()
    m = len(texts)
    every = bool(keep.all())
    idx = np.flatnonzero(keep)
    sub = texts if every else texts.take(idx)
    part: np.ndarray
    if sub.step is not None and sub.safe():
        part, lens = sub.voids(), sub.lens
        longest = part.dtype.itemsize
    else:
        buf, lens = sub.flat()
        buf, lens = bytecols.percent_encode(buf, lens)
        longest = int(lens.max()) if len(lens) else 0
        part = bytecols.pack(buf, lens, longest)
    _check_cells(m, len(name) + longest)
    if every:
        return _Slot([name, part], lens + len(name))
    out_lens = np.zeros(m, dtype=np.int64)
    out_lens[idx] = lens + len(name)
    return _Slot([_expand(name, idx, m), _expand(part, idx, m)], out_lens)


def _width(part: bytes | np.ndarray) -> int:
    """Bytes per row of a part: a constant, an ``(m, w)`` byte column or an ``(m,)`` void array."""
    if isinstance(part, bytes):
        return len(part)
    return part.dtype.itemsize if part.ndim == 1 else part.shape[1]


def _expand(part: bytes | np.ndarray, rows: np.ndarray, m: int) -> np.ndarray:
    """A part of ``len(rows)`` rows as a byte column of m rows (NUL elsewhere)."""
    if isinstance(part, bytes):
        part = np.frombuffer(part, dtype=np.uint8)
    elif part.ndim == 1:
        part = np.ascontiguousarray(part).view(np.uint8).reshape(len(part), -1)
    out = np.zeros((m, part.shape[-1]), dtype=np.uint8)
    out[rows] = part
    return out


@dataclass
class _Scratch:
    """The last slice's line matrix, kept for the next: same layout, same constants, so only
    the columns that change are written (and no fresh pages are touched)."""

    key: tuple = ()
    rows: np.ndarray | None = None


def _line_matrix(
    parts: list[bytes | np.ndarray], m: int, scratch: _Scratch | None = None
) -> np.ndarray:
    """The ``(m, width)`` byte matrix of lines from their parts in order (NUL = nothing).

    With ``scratch`` the matrix is the scratch's memory, valid until the next call.
    """
    merged: list[bytes | np.ndarray] = []
    for part in parts:
        if isinstance(part, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] += part
        elif _width(part):  # skip what is empty
            merged.append(part)
    widths = [_width(p) for p in merged]
    _check_cells(m, sum(widths))
    # one record of void fields per line: a part is copied as a whole per row, not byte by byte
    layout = np.dtype(
        {
            "names": [f"p{i}" for i in range(len(merged))],
            "formats": [f"V{w}" for w in widths],
            "offsets": np.cumsum([0, *widths[:-1]]).tolist(),
            "itemsize": sum(widths),
        }
    )
    key = (layout, *(p if isinstance(p, bytes) else None for p in merged))
    kept = scratch.rows if scratch is not None and scratch.key == key else None
    if kept is not None and len(kept) >= m:
        out, fresh = kept[:m], False
    else:
        out, fresh = np.empty(m, dtype=layout), True
        if scratch is not None:
            scratch.key, scratch.rows = key, out
    for i, (part, width) in enumerate(zip(merged, widths, strict=True)):
        if isinstance(part, bytes):
            if fresh:
                out[f"p{i}"] = np.void(part)
        elif part.ndim == 1:
            out[f"p{i}"] = part
        else:
            out[f"p{i}"] = np.ascontiguousarray(part).view(f"V{width}")[:, 0]
    return out.view(np.uint8).reshape(m, sum(widths))


def _segment_voids(
    parts: list[bytes | np.ndarray], width: int, m: int, scratch: _Scratch
) -> np.ndarray:
    """A segment's parts side by side, one ``width``-byte void per row."""
    if len(parts) == 1 and not isinstance(parts[0], bytes):
        part = parts[0]
        if part.ndim == 1:
            return part
        return np.ascontiguousarray(part).view(f"V{width}")[:, 0]
    return _line_matrix(parts, m, scratch).view(f"V{width}")[:, 0]


def _flat_lines(
    elements: list[bytes | np.ndarray | _Slot],
    lens: np.ndarray,
    keep: np.ndarray,
    scratch: list[_Scratch],
) -> np.ndarray | None:
    """The lines of the rows ``keep`` end to end, without padding (uint8), or None when a slot
    is not packed or a padding would reach the next line (the line matrix does those).

    ``scratch`` keeps memory from one slice to the next (the result is valid until the next
    call with it).

    ``elements`` are a line's parts in order: constant bytes, byte columns of one width, and
    slots. Parts of one width run together into a *segment* up to and with the next slot of
    varying length; each segment is written whole at its offset in each line (one void per
    row), left to right, so the NUL padding that ends a segment is overwritten by the next
    segment and the lines come out as they go on the wire, no NUL to delete.
    """
    m = len(lens)
    # (parts, width, the slot that ends it or None, bytes before that slot)
    segments: list[tuple[list[bytes | np.ndarray], int, _Slot | None, int]] = []
    shortest: list[int] = []  # each segment's shortest length
    parts: list[bytes | np.ndarray] = []
    width = 0
    for element in elements:
        if not isinstance(element, _Slot):
            parts.append(element)
            width += _width(element)
            continue
        if not element.packed:
            return None
        slot_width = sum(_width(p) for p in element.parts)
        if not slot_width:
            continue  # a parameter no row has
        parts += element.parts
        width += slot_width
        least = int(element.lens.min()) if m else slot_width
        if least < slot_width:  # of varying length: it ends the segment
            segments.append((parts, width, element, width - slot_width))
            shortest.append(width - slot_width + least)
            parts, width = [], 0
    if parts:
        segments.append((parts, width, None, width))
        shortest.append(width)
    idx = None if keep.all() else np.flatnonzero(keep)
    line = lens if idx is None else lens[idx]
    if not len(line):
        return np.empty(0, dtype=np.uint8)
    # A segment's padding must stay within its own line, covered by the rest of the line:
    # sure when its widest padding fits the shortest rest, else checked line by line.
    for k, (_, seg_width, _, _) in enumerate(segments):
        if seg_width - shortest[k] > sum(shortest[k + 1 :]) and not _padding_fits(
            segments, k, line, idx
        ):
            return None
    ends = np.cumsum(line)
    while len(scratch) <= len(segments):
        scratch.append(_Scratch())
    # the lines' memory (scratch[0]): the last slice's when big enough, no fresh pages to touch
    memory = scratch[0].rows
    if memory is None or memory.size < ends[-1]:
        memory = scratch[0].rows = np.empty(int(ends[-1] * 1.25), dtype=np.uint8)
    flat = memory[: int(ends[-1])]
    at = ends - line  # where each line starts, then each segment
    for (seg_parts, seg_width, slot, fixed), kept in zip(segments, scratch[1:], strict=False):
        voids = _segment_voids(seg_parts, seg_width, m, kept)
        if idx is not None:
            voids = voids[idx]
        # every offset of ``flat`` as the start of a void of the segment's width
        view = np.ndarray(
            (flat.size - seg_width + 1,), dtype=voids.dtype, buffer=flat, strides=(1,)
        )
        view[at] = voids
        at += fixed
        if slot is not None:
            at += slot.lens if idx is None else slot.lens[idx]
    return flat


def _padding_fits(
    segments: list[tuple[list[bytes | np.ndarray], int, _Slot | None, int]],
    k: int,
    line: np.ndarray,
    idx: np.ndarray | None,
) -> bool:
    """Segment ``k``'s padding ends within each line (line by line)."""
    before = np.zeros(len(line), dtype=np.int64)
    for _, _, slot, fixed in segments[:k]:
        before += fixed
        if slot is not None:
            before += slot.lens if idx is None else slot.lens[idx]
    return bool((before + segments[k][1] <= line).all())


def _float_text(value: float) -> str:
    # "1e+16": a bare "+" would reach the server as a space
    return float_text(value).replace("+", "%2B")


def _int_text(value: int) -> str:
    return str(int(value))


def _bool_text(value: bool) -> str:
    return "true" if value else "false"
