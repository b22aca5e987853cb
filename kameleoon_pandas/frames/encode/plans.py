"""Event plans: a frame checked, its events ordered, then encoded slice by slice into bodies.

:func:`plan_visit_events` and :func:`plan_product_events` check a frame's structure (columns,
kinds, ``key=``), hash every row for its nonce (:mod:`.nonces`) and return an
:class:`EventPlan`; its :meth:`~EventPlan.batches` encode :data:`SLICE_ROWS` events at a time
(fields, nonce, line matrix) and cut them into :class:`Batch` es under the body limit. A feed's
custom data value rows are grouped back into one event each here, and
:meth:`EventPlan.unsent` names the columns no event sends.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd

from ..._contract import EVENT_BODY_LIMIT, INT64_MAX, MAX_ID_LENGTH
from ..._exceptions import ValidationError
from .. import bytecols
from .fields import _column_texts, _encode_field, _Factor, _int_column, _take, _to_bool
from .kinds import (
    _PRODUCT_ALIASES,
    _VISIT_ALIASES,
    PRODUCT_KINDS,
    VISIT_KINDS,
    FieldSpec,
    KindSpec,
    attribute_columns_left_out,
    attribute_fields,
)
from .lines import (
    _expand,
    _flat_lines,
    _line_matrix,
    _rows_that_fit,
    _Scratch,
    _Slot,
    _text_slot,
    _TooWide,
    _width,
)
from .nonces import (
    _NONCE_RE,
    _seed,
    content_hashes,
    event_hash,
    key_hashes,
    nonce_hashes,
    repeated,
    value_hashes,
)
from .problems import _Problems
from .utf8 import Utf8, column_utf8
from .values import json_text

#: Rows encoded at a time: bounds the memory of the encoding to a few MB whatever the frame.
SLICE_ROWS = 65_536
#: Field types sent as texts (their columns' bytes are made once per plan, :mod:`.utf8`).
_TEXT_TYPES = {"str", "id"}


@dataclass
class Batch:
    """One request body and the events it carries."""

    body: bytes
    events: np.ndarray  # event ids (see EventPlan.rows_of)

    def split(self) -> tuple[Batch, Batch]:
        """Two halves by line count (for a 413)."""
        lines = self.body.rstrip(b"\n").split(b"\n")
        half = len(lines) // 2
        return (
            Batch(b"\n".join(lines[:half]), self.events[:half]),
            Batch(b"\n".join(lines[half:]), self.events[half:]),
        )


@dataclass
class EventPlan:
    """A validated, ordered set of events from one frame, encoded slice by slice on demand.

    ``invalid`` (DataFrame: index, column, reason) fills as slices are encoded; after iterating
    :meth:`batches` to the end it holds every problem of the frame.
    """

    frame: pd.DataFrame
    columns: dict[str, pd.Series]
    kinds: dict[str, KindSpec]
    row_kind: np.ndarray  # int8 per row: the position of its kind in ``kinds``, -1 when invalid
    identity: list[FieldSpec]
    site_code: str
    #: schema name -> the frame's column label that gives it
    names: dict[str, Hashable] = field(default_factory=dict)
    #: the ``key=`` columns (frame labels), empty without
    key: tuple[Hashable, ...] = ()
    kind_given: bool = False  # kind= was passed: a ``kind`` column is not read
    events: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # lead row per event
    members: dict[int, np.ndarray] = field(default_factory=dict)  # lead row -> member rows
    #: the hash each event's nonce derives from (:mod:`.nonces`), read at the event's lead row
    event_hashes: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    #: each row's event (its lead row)
    lead_of: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    #: the 64 bits of each lead row's nonce (its event hash mixed with its kind's seed)
    nonce_bits: np.ndarray = field(default_factory=lambda: np.empty(0, np.uint64))
    #: rows refused before encoding (a missing or duplicate key)
    refused: np.ndarray = field(default_factory=lambda: np.empty(0, bool))
    #: lead row -> valuesCountMap text (built once per plan, looked up per slice)
    extra_pieces: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))
    problems: _Problems = field(default_factory=_Problems)
    #: schema name -> the column's texts as UTF-8 bytes (None: not a text column), made once
    #: per plan for the text fields sent; the nonces hash the same bytes
    texts: dict[str, Utf8 | None] = field(default_factory=dict)
    _factors: dict[tuple[str, str, str], _Factor] = field(default_factory=dict)
    _scratch: _Scratch = field(default_factory=_Scratch)
    _segments: list[_Scratch] = field(default_factory=list)

    def kind_code(self, name: str) -> int:
        return list(self.kinds).index(name)

    def texts_of(self, name: str) -> Utf8 | None:
        """The column ``name``'s texts as UTF-8 bytes (made on first use), or None when it
        is not a text column (or absent)."""
        if name not in self.texts:
            series = self.columns.get(name)
            # an ``ArrowDtype`` text column is refused as "not a text" (fields._column_texts):
            # its lines must stay what they were, so its bytes are not read here
            arrow = series is not None and isinstance(series.dtype, pd.ArrowDtype)
            self.texts[name] = None if series is None or arrow else column_utf8(series)
        return self.texts[name]

    def _sent_fields(self) -> list[FieldSpec]:
        """The fields the events of the frame's kinds may send (identity first)."""
        specs = list(self.kinds.values())
        out = list(self.identity)
        for code in _distinct(self.row_kind):
            if code >= 0:
                spec = specs[code]
                out += attribute_fields(self.columns) if spec.name == "product_page" else []
                out += spec.fields
        return out

    def rows_of(self, events: np.ndarray) -> np.ndarray:
        """Row positions carried by the given events (custom data groups expand)."""
        if not self.members:
            return np.asarray(events, dtype=np.int64)
        parts = [self.members.get(int(e), np.array([e])) for e in events]
        return np.concatenate(parts) if parts else np.empty(0, np.int64)

    @property
    def invalid(self) -> pd.DataFrame:
        return self.problems.frame(self.frame.index)

    def invalid_rows(self) -> np.ndarray:
        return self.problems.bad_positions()

    def nonces_of(self, rows: np.ndarray) -> list[str]:
        """The nonce each row's event is sent with (derived; a ``nonce`` column aside)."""
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return []
        text = bytecols.hex16(self.nonce_bits[self.lead_of[rows]]).tobytes().decode("ascii")
        return [text[i : i + 16] for i in range(0, len(text), 16)]

    def batches(
        self,
        limit: int = EVENT_BODY_LIMIT,
        slice_rows: int = SLICE_ROWS,
        max_lines: int | None = None,
    ) -> Iterator[Batch]:
        """Bodies of at most ``limit`` bytes (and ``max_lines`` lines), in event order."""
        start, rows = 0, slice_rows
        while start < len(self.events):
            lead = self.events[start : start + rows]
            mark = self.problems.mark()
            try:
                lines, width, lens, ok = self._encode_slice(lead)
            except _TooWide:  # very long texts: fewer rows at a time, as often as needed
                self.problems.rollback(mark)
                rows = max(1, len(lead) // 2)
                continue
            start += len(lead)
            # as many rows next time as fit this slice's line width (back up after a long one)
            rows = _rows_that_fit(width, slice_rows)
            if not ok.all():
                if self.members:  # a refused event refuses every row it was built from
                    for e in lead[~ok].tolist():
                        others = self.members.get(e, np.empty(0, np.int64))
                        others = others[others != e]
                        self.problems.add(others, "value", "another row of this event is invalid")
                if lines.ndim == 2:  # the flat lines hold the rows still ok only
                    lines = lines[ok]
                lens, lead = lens[ok], lead[ok]
            yield from _chunk(lines, lens, lead, limit, max_lines)

    # -- what is not sent --------------------------------------------------------------------

    def unsent(self) -> list[tuple[Hashable, str | None]]:
        """The frame's columns that no event sends nor the plan uses, each with a hint.

        Used: the identity, ``kind`` (unless ``kind=`` was given), ``nonce``, the ``key=``
        columns, the fields of the kinds the frame's rows have, and for custom data ``value``,
        ``count`` and ``visit``; ``time`` when it is a datetime column (it orders the events).
        A column with no value at all loses nothing and is not named.
        """
        specs = list(self.kinds.values())
        present = [specs[c] for c in _distinct(self.row_kind) if c >= 0]
        used = {f.column for f in self.identity} | {"nonce"}
        if not self.kind_given:
            used.add("kind")
        product = "product_page" in self.kinds
        for spec in present:
            if spec.name == "product_page":
                used |= {f.column for f in attribute_fields(self.columns)}
            used |= {f.column for f in spec.fields}
            if spec.name == "custom_data":
                used |= {"value", "count", "visit"}
        time = self.columns.get("time")
        if time is not None and pd.api.types.is_datetime64_any_dtype(time.dtype):
            used.add("time")
        labels = {self.names[n] for n in used if n in self.names} | set(self.key)
        kinds = {spec.name for spec in present}
        out: list[tuple[Hashable, str | None]] = []
        for i, label in enumerate(self.frame.columns):
            if label in labels or not self.frame.iloc[:, i].notna().any():
                continue
            out.append((label, _hint(label, self.frame.iloc[:, i], kinds, self, product)))
        return out

    # -- encoding one slice -----------------------------------------------------------------

    def _encode_slice(self, lead: np.ndarray) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
        """(lines, bytes per row of their layout, each line's length, which rows are ok).

        The lines are the ok rows' lines end to end (1-D, see :func:`.lines._flat_lines`) or
        a line matrix of every row (2-D, NUL-padded: :func:`_chunk` deletes the NULs).
        """
        m = len(lead)
        codes = self.row_kind[lead]
        specs = list(self.kinds.values())
        if m and (codes == codes[0]).all():  # the usual case: one kind, no copying
            elements, lens, ok = self._encode_kind(specs[codes[0]], lead)
            flat = _flat_lines(elements, lens, ok, self._segments)
            parts = _parts(elements)
            width = sum(_width(p) for p in parts)
            if flat is not None:
                return flat, width, lens, ok
            return _line_matrix(parts, m, self._scratch), width, lens, ok
        kinds = []
        for code in np.unique(codes):
            sel = np.flatnonzero(codes == code)
            elements, sub_lens, sub_ok = self._encode_kind(specs[code], lead[sel])
            kinds.append((sel, _line_matrix(_parts(elements), len(sel)), sub_lens, sub_ok))
        width = max(sub.shape[1] for _, sub, _, _ in kinds)
        matrix = np.zeros((m, width), dtype=np.uint8)  # NUL after a line's end adds nothing
        lens = np.zeros(m, dtype=np.int64)
        ok = np.ones(m, dtype=bool)
        for sel, sub, sub_lens, sub_ok in kinds:
            matrix[sel, : sub.shape[1]] = sub
            lens[sel] = sub_lens
            ok[sel] = sub_ok
        return matrix, width, lens, ok

    def _encode_kind(
        self, spec: KindSpec, rows: np.ndarray
    ) -> tuple[list[bytes | np.ndarray | _Slot], np.ndarray, np.ndarray]:
        """The parts of the lines of ``rows`` (all of kind ``spec``), in line order, each line's
        length (newline included) and which rows are ok."""
        m = len(rows)
        slots: list[_Slot] = []
        ok = ~self.refused[rows]
        # identity: visitor_code, else mapping_value (visit events) / ean (product events)
        ident, ident_ok = self._identity_slot(rows)
        ok &= ident_ok
        slots.append(ident)
        any_field = np.zeros(m, dtype=bool)
        fields = spec.fields
        if spec.name == "product_page":
            fields = attribute_fields(self.columns)
        for fspec in fields:
            slot, present, valid = _encode_field(
                fspec,
                self.columns.get(fspec.column),
                rows,
                self.problems,
                self._factors,
                self.texts_of(fspec.column) if fspec.type in _TEXT_TYPES else None,
            )
            slots.append(slot)
            ok &= valid
            any_field |= present
        if spec.at_least_one:
            none = ~any_field & ok
            if none.any():
                names = ", ".join(f.column for f in spec.fields)
                self.problems.add(rows[none], spec.name, f"no field given (one of {names})")
                ok &= ~none
        if spec.name == "custom_data":
            pieces = self.extra_pieces.reindex(rows).fillna("").to_numpy(dtype=object)
            slots.append(_text_slot(pieces, pieces != "", "valuesCountMap", escape=False))
        # the nonce: from the key or the row's content (never its label), unless given
        nonces = bytecols.hex16(_take(self.nonce_bits, rows))
        head = f"eventType={spec.event_type}".encode()
        lens = np.full(m, len(head) + len("&nonce=") + 16 + 1, dtype=np.int64)
        for slot in slots:
            lens += slot.lens
        given = self.columns.get("nonce")
        if given is not None:
            ok &= self._given_nonces(_take(given, rows), rows, nonces)
        # Line layout (parameter order is free): eventType first, the nonce last.
        return [head, *slots, b"&nonce=", nonces, b"\n"], lens, ok

    def _given_nonces(self, given: pd.Series, rows: np.ndarray, nonces: np.ndarray) -> np.ndarray:
        """Put the ``nonce`` column's values in place of the derived ones; the rows still ok."""
        has = given.notna().to_numpy()
        if not has.any():
            return np.ones(len(rows), dtype=bool)
        text = given.astype("string").str.strip()
        good = text.str.fullmatch(_NONCE_RE.pattern).to_numpy(dtype=bool, na_value=False)
        bad = has & ~good
        self.problems.add(
            rows[bad], str(self.names.get("nonce", "nonce")), "not 16 hexadecimal characters"
        )
        use = np.flatnonzero(has & good)
        if use.size:
            chosen = "".join(text.to_numpy(dtype=object, na_value="")[use].tolist())
            nonces[use] = np.frombuffer(chosen.encode("ascii"), dtype=np.uint8).reshape(-1, 16)
        return ~bad

    def _identity_slot(self, rows: np.ndarray) -> tuple[_Slot, np.ndarray]:
        m = len(rows)
        first, *rest = self.identity
        p, present, valid = _encode_field(
            FieldSpec(first.column, first.wire, "id"),
            self.columns.get(first.column),
            rows,
            self.problems,
            texts=self.texts_of(first.column),
        )
        if not rest:
            missing = ~present & valid
            if missing.any():
                self.problems.add(rows[missing], first.column, "missing value")
                valid = valid & ~missing
            return p, valid
        # visitor_code, else mapping_value, row by row
        second = rest[0]
        sub = np.flatnonzero(~present & valid)
        if sub.size == 0:
            return p, valid
        q, q_present, q_valid = _encode_field(
            FieldSpec(second.column, second.wire, "id"),
            self.columns.get(second.column),
            rows[sub],
            self.problems,
            texts=self.texts_of(second.column),
        )
        parts: list[bytes | np.ndarray] = [
            _expand(c, np.arange(m), m) if isinstance(c, bytes) else c for c in p.parts
        ]
        parts += [_expand(c, sub, m) for c in q.parts]
        lens = p.lens.copy()
        lens[sub] = q.lens
        valid = valid.copy()
        valid[sub] &= q_valid
        missing = np.zeros(m, dtype=bool)
        missing[sub] = ~q_present & q_valid
        if missing.any():
            self.problems.add(
                rows[missing], f"{first.column}/{second.column}", "missing value (neither given)"
            )
            valid &= ~missing
        return _Slot(parts, lens, packed=False), valid


def _parts(elements: list[bytes | np.ndarray | _Slot]) -> list[bytes | np.ndarray]:
    """A line's parts with its slots opened: what :func:`.lines._line_matrix` lays out."""
    out: list[bytes | np.ndarray] = []
    for e in elements:
        out += e.parts if isinstance(e, _Slot) else [e]
    return out


def _chunk(
    lines: np.ndarray, lens: np.ndarray, lead: np.ndarray, limit: int, max_lines: int | None
) -> Iterator[Batch]:
    """Greedy runs of lines under ``limit`` bytes: a body is its lines' bytes (for a line
    matrix, its rows' bytes less the NULs)."""
    n = len(lens)
    if n == 0:
        return
    ends = np.cumsum(lens)
    start = 0
    while start < n:
        base = ends[start - 1] if start else 0
        stop = int(np.searchsorted(ends, base + limit, side="right"))
        stop = max(stop, start + 1)  # a single over-long line still goes (the server says 413)
        if max_lines:
            stop = min(stop, start + max_lines)
        if lines.ndim == 1:  # the lines end to end already
            body = lines[base : ends[stop - 1]].tobytes()
            broken = b"\0" in body  # a padding left uncovered (one memchr: cheap)
        else:
            body = lines[start:stop].tobytes().replace(b"\0", b"")
            broken = len(body) != ends[stop - 1] - base  # a NUL in the wire text
        if broken:  # pragma: no cover - wire text never holds a NUL
            raise AssertionError("a line holds a NUL byte")
        yield Batch(body, lead[start:stop])
        start = stop


# --------------------------------------------------------------------------- building plans


def _resolve_columns(
    df: pd.DataFrame, mapping: Mapping[str, str], known: set[str] | None
) -> tuple[dict[str, pd.Series], dict[str, Hashable]]:
    """(schema name -> the frame's column, schema name -> its label), after ``**columns``."""
    if not isinstance(df, pd.DataFrame):
        raise ValidationError(f"expected a pandas DataFrame, got {type(df).__name__}")
    dupes = df.columns[df.columns.duplicated()].tolist()
    if dupes:
        raise ValidationError(f"duplicate column names: {dupes}")
    for name, source in mapping.items():
        if known is not None and name not in known:
            raise ValidationError(
                f"unknown column parameter {name}={source!r}: expected one of {sorted(known)}"
            )
        if source not in df.columns:
            raise ValidationError(f"{name}={source!r}: the frame has no column {source!r}")
    sources = set(mapping.values())
    out: dict[str, pd.Series] = {}
    names: dict[str, Hashable] = {}
    for c in df.columns:
        if c not in sources:
            out[str(c)], names[str(c)] = df[c], c
    for name, source in mapping.items():
        out[name], names[name] = df[source], source  # the mapping wins over a schema-named column
    return out, names


def _key_columns(df: pd.DataFrame, key: Hashable | Sequence[Hashable] | None) -> tuple:
    """``key=`` as a tuple of the frame's column labels (checked)."""
    if key is None:
        return ()
    labels = tuple(key) if isinstance(key, (list, tuple)) else (key,)
    if not labels:
        raise ValidationError("key= names no column: give a column name or a list of them")
    missing = [k for k in labels if k not in df.columns]
    if missing:
        raise ValidationError(f"key={key!r}: the frame has no column {missing[0]!r}")
    if len(set(labels)) != len(labels):
        raise ValidationError(f"key={key!r} names a column twice")
    return labels


def _row_kinds(
    df: pd.DataFrame,
    kind: str | None,
    columns: dict[str, pd.Series],
    kinds: Mapping[str, KindSpec],
    aliases: Mapping[str, str],
    problems: _Problems,
) -> np.ndarray:
    """int8 per row: the position of the row's kind in ``kinds``; -1 (and a problem) if unknown."""
    names = list(kinds)
    if kind is not None:
        name = aliases.get(str(kind).replace("-", "_").lower())
        if name is None:
            raise ValidationError(f"unknown kind {kind!r}: expected one of {names}")
        return np.full(len(df), names.index(name), dtype=np.int8)
    if "kind" not in columns:
        raise ValidationError(
            f"no kind: pass kind= (one of {names}) or give the frame a 'kind' column"
        )
    codes, uniques = pd.factorize(columns["kind"].astype("string"), use_na_sentinel=True)
    lookup = [
        names.index(aliases[k])
        if (k := str(u).strip().replace("-", "_").lower()) in aliases
        else -1
        for u in uniques.tolist()
    ]
    out = np.append(np.array(lookup, dtype=np.int8), np.int8(-2)).take(codes)
    problems.add(np.flatnonzero(out == -2), "kind", "missing kind")
    problems.add(np.flatnonzero(out == -1), "kind", f"unknown kind (known: {', '.join(names)})")
    out[out < 0] = -1
    return out


def _require_columns(
    columns: dict[str, pd.Series], row_kind: np.ndarray, kinds: Mapping[str, KindSpec]
) -> None:
    missing = []
    specs = list(kinds.values())
    present_kinds = [specs[c].name for c in _distinct(row_kind) if c >= 0]
    for name in present_kinds:
        for f in kinds[name].fields:
            if f.required and f.column not in columns:
                missing.append(f"{f.column!r} (required by {name})")
    if "custom_data" in present_kinds and "value" not in columns:
        missing.append("'value' (required by custom_data)")
    if missing:
        raise ValidationError("missing columns: " + ", ".join(missing))


def _hash_rows(plan: EventPlan) -> None:
    """Each row's nonce hash (from ``key=`` or its content and rank); a missing key value
    refuses the row."""
    df = plan.frame
    n = len(df)
    plan.refused = np.zeros(n, dtype=bool)
    plan.lead_of = np.arange(n, dtype=np.int64)
    # the text columns sent, as UTF-8 bytes once: their lines and their hashes read them
    texts: dict[Hashable, Utf8] = {}
    for f in plan._sent_fields():
        if f.type in _TEXT_TYPES and f.column in plan.names:
            utf8 = plan.texts_of(f.column)
            if utf8 is not None:
                texts[plan.names[f.column]] = utf8
    if not plan.key:
        plan.event_hashes = content_hashes(df, texts)
        return
    for label in plan.key:
        missing = df[label].isna().to_numpy()
        plan.problems.add(np.flatnonzero(missing), str(label), "missing key value")
        plan.refused |= missing
    plan.event_hashes = key_hashes(df, plan.key, texts)


def _finish(plan: EventPlan) -> None:
    """Each row's nonce bits (from its event's hash and its kind); then, with ``key=``, events
    of one kind sharing a key are all refused: which of them is right is not guessed."""
    seeds = np.array([_seed(plan.site_code, name) for name in plan.kinds], dtype=np.uint64)
    kinds = _distinct(plan.row_kind)
    if len(kinds) == 1:  # one kind (the usual case): one seed for every row
        seed: np.uint64 | np.ndarray = seeds[max(kinds[0], 0)]
    else:
        seed = seeds[np.maximum(plan.row_kind, 0)]
    plan.nonce_bits = nonce_hashes(plan.event_hashes, seed)
    events = plan.events
    if not plan.key or len(events) < 2 or _increasing_ints(plan.frame, plan.key):
        return
    # the nonces themselves: equal within a kind exactly when the keys are
    again = repeated(plan.nonce_bits[events])
    if again is None:
        return
    dup = again & ~plan.refused[events]
    if dup.any():
        label = "/".join(map(str, plan.key))
        plan.problems.add(
            events[dup], label, "duplicate key: another row of this kind has the same key"
        )
        plan.refused[events[dup]] = True


def _increasing_ints(df: pd.DataFrame, key: tuple[Hashable, ...]) -> bool:
    """One key column of numpy integers, strictly increasing (order ids, the usual export):
    no two rows share a key, so no sort is needed to find duplicates (an integer's key hash
    and nonce are one-to-one with it)."""
    if len(key) != 1:
        return False
    column = df[key[0]]
    if not (isinstance(column.dtype, np.dtype) and column.dtype.kind in "iu"):
        return False
    values = column.to_numpy()
    return bool((values[1:] > values[:-1]).all())


def plan_visit_events(
    df: pd.DataFrame,
    kind: str | None = None,
    *,
    site_code: str,
    columns: Mapping[str, str] = {},
    key: Hashable | Sequence[Hashable] | None = None,
) -> EventPlan:
    """Validate the structure of ``df`` and plan its visit events (raises on missing columns)."""
    known = {f.column for spec in VISIT_KINDS.values() for f in spec.fields}
    known |= {"visitor_code", "mapping_value", "kind", "nonce", "value", "count", "time", "visit"}
    cols, names = _resolve_columns(df, columns, known)
    keys = _key_columns(df, key)
    if "visitor_code" not in cols and "mapping_value" not in cols:
        raise ValidationError("missing columns: 'visitor_code' or 'mapping_value'")
    problems = _Problems()
    row_kind = _row_kinds(df, kind, cols, VISIT_KINDS, _VISIT_ALIASES, problems)
    _require_columns(cols, row_kind, VISIT_KINDS)
    identity = [FieldSpec("visitor_code", "visitorCode", "id", True)]
    if "mapping_value" in cols:
        identity.append(FieldSpec("mapping_value", "mappingValue", "id", True))
    if "visitor_code" not in cols:
        identity = identity[1:]
    plan = EventPlan(
        df,
        cols,
        dict(VISIT_KINDS),
        row_kind,
        identity,
        site_code,
        names=names,
        key=keys,
        kind_given=kind is not None,
        problems=problems,
    )
    _hash_rows(plan)
    plan.events = _order(df, cols, row_kind)
    if (row_kind == plan.kind_code("custom_data")).any():
        _group_custom_data(plan)
    _finish(plan)
    return plan


def plan_product_events(
    df: pd.DataFrame,
    kind: str | None = None,
    *,
    site_code: str,
    columns: Mapping[str, str] = {},
    key: Hashable | Sequence[Hashable] | None = None,
) -> EventPlan:
    """Validate the structure of ``df`` and plan its product events (raises on missing columns)."""
    cols, names = _resolve_columns(df, columns, None)  # any name: product attributes are open
    keys = _key_columns(df, key)
    if "ean" not in cols:
        raise ValidationError("missing columns: 'ean'")
    problems = _Problems()
    row_kind = _row_kinds(df, kind, cols, PRODUCT_KINDS, _PRODUCT_ALIASES, problems)
    if (row_kind == list(PRODUCT_KINDS).index("product_page")).any():
        _check_attribute_names(cols, names)
    identity = [FieldSpec("ean", "ean", "id", True)]
    plan = EventPlan(
        df,
        cols,
        dict(PRODUCT_KINDS),
        row_kind,
        identity,
        site_code,
        names=names,
        key=keys,
        kind_given=kind is not None,
        problems=problems,
    )
    _hash_rows(plan)
    plan.events = _order(df, cols, row_kind)
    _finish(plan)
    return plan


def _check_attribute_names(cols: dict[str, pd.Series], names: dict[str, Hashable]) -> None:
    """Two columns may not become one attribute, nor a name that cannot go on a line."""
    seen: dict[str, Hashable] = {}
    for f in attribute_fields(cols):
        label = names.get(f.column, f.column)
        try:
            quote(f.wire, safe="")
        except UnicodeEncodeError:
            raise ValidationError(
                f"column {label!r}: the name is not encodable as UTF-8 (a lone surrogate)"
            ) from None
        if f.wire in seen:
            raise ValidationError(
                f"columns {seen[f.wire]!r} and {label!r} would both be the product attribute "
                f"{f.wire!r}: rename or drop one"
            )
        seen[f.wire] = label


def _distinct(codes: np.ndarray) -> list[int]:
    """The distinct kind codes of the rows (one pass when every row has one kind)."""
    if len(codes) and bool((codes == codes[0]).all()):
        return [int(codes[0])]
    return [int(c) for c in np.unique(codes)]


def _order(df: pd.DataFrame, cols: dict[str, pd.Series], row_kind: np.ndarray) -> np.ndarray:
    valid = np.flatnonzero(row_kind >= 0).astype(np.int64, copy=False)
    time = cols.get("time")
    if time is None or not pd.api.types.is_datetime64_any_dtype(time.dtype):
        return valid
    t = time.iloc[valid].to_numpy(dtype="datetime64[ns]")
    order = np.argsort(t, kind="stable")  # NaT sorts last in numpy
    return valid[order].astype(np.int64)


def _group_custom_data(plan: EventPlan) -> None:
    """Put a feed's value rows back into one event per group (see the package docstring)."""
    cols = plan.columns
    rows = plan.events[plan.row_kind[plan.events] == plan.kind_code("custom_data")]
    problems = plan.problems
    texts = _column_texts(cols["value"].iloc[rows], identifier=False)
    values, present = np.asarray(texts.values, dtype=object), texts.present
    keep = present.copy()
    for mask, reason in texts.bad:
        problems.add(rows[mask], "value", reason)
        keep &= ~mask
    problems.add(rows[~present], "value", "missing value")
    if "mapping_identifier" in cols:
        # each value of a mapping identifier event becomes a mapping value: an identifier
        truthy, _, _ = _to_bool(cols["mapping_identifier"].iloc[rows])
        lens = np.zeros(len(rows), dtype=np.int64)
        lens[keep] = [len(v) for v in values[keep]]
        long = keep & truthy & (lens > MAX_ID_LENGTH)
        problems.add(rows[long], "value", f"a mapping value longer than {MAX_ID_LENGTH} characters")
        keep &= ~long
    if "count" in cols:
        c, c_present, c_bad = _int_column(cols["count"].iloc[rows])
        wrong = np.zeros(len(rows), dtype=bool)
        for mask, _ in c_bad:
            wrong |= mask
        wrong |= c_present & ~wrong & (c < 0)
        problems.add(rows[wrong], "count", "not a count (a whole number >= 0)")
        keep &= ~wrong
        counts = np.where(c_present & ~wrong, c, 1).astype(np.int64)
    else:
        counts = np.ones(len(rows), dtype=np.int64)
    # the grouping columns by their value hashes: any cell groups (a list, an unhashable
    # object), and 101 and 101.0 are one value, as in the nonces
    key_frame: dict[str, Any] = {}
    for name in (
        "visitor_code",
        "mapping_value",
        "custom_data_index",
        "overwrite",
        "mapping_identifier",
        "nonce",
        "visit",
        "time",
    ):
        if name in cols:
            key_frame[name] = value_hashes(cols[name].iloc[rows])
    for i, label in enumerate(plan.key):  # rows of one event share their key
        key_frame[f"\0key{i}"] = value_hashes(plan.frame[label].iloc[rows])
    gid = pd.DataFrame(key_frame).groupby(list(key_frame), sort=False).ngroup().to_numpy()
    dropped = []
    members: dict[int, np.ndarray] = {}
    pieces: dict[int, str] = {}
    # Events of one value (the usual case) need no grouping: one JSON text per distinct pair.
    single = np.bincount(gid)[gid] == 1
    dropped.extend(rows[single & ~keep].tolist())
    one = np.flatnonzero(single & keep)
    memo: dict[tuple[str, int], str] = {}
    pairs = zip(rows[one].tolist(), values[one].tolist(), counts[one].tolist(), strict=True)
    for lead, v, n in pairs:
        text = memo.get((v, n))
        if text is None:
            text = memo[v, n] = quote(json_text({v: n}), safe="")
        pieces[lead] = text  # a one-row event has no members entry: rows_of gives the lead
    several = np.flatnonzero(~single)
    order = several[np.argsort(gid[several], kind="stable")]
    bounds = np.flatnonzero(np.diff(gid[order])) + 1
    for group in np.split(order, bounds) if order.size else ():
        lead = int(rows[group[0]])
        good = group[keep[group]]
        vmap: dict[str, int] = {}
        if good.size == group.size:
            for v, n in zip(values[good].tolist(), counts[good].tolist(), strict=True):
                vmap[v] = vmap.get(v, 0) + n
            if any(n > INT64_MAX for n in vmap.values()):
                problems.add(rows[good], "count", "the counts of a value add up beyond 64 bits")
                good = good[:0]
        if good.size < group.size:
            # one bad value spoils the event: refuse the whole group, nothing goes half-sent
            problems.add(rows[good], "value", "another row of this event is invalid")
            dropped.extend(int(r) for r in rows[group])
            continue
        pieces[lead] = quote(json_text(vmap), safe="")
        members[lead] = rows[group]
        plan.lead_of[rows[group]] = lead
        if not plan.key:  # the event is all its rows: any of them changed, a new event
            plan.event_hashes[lead] = event_hash(plan.event_hashes[rows[group]])
        dropped.extend(int(r) for r in rows[group[1:]])
    plan.members = members
    plan.extra_pieces = pd.Series(pieces, dtype=object)
    if dropped:
        plan.events = plan.events[~np.isin(plan.events, np.array(dropped, dtype=np.int64))]


# --------------------------------------------------------------------------- hints


#: The hint for a ``site_code`` column, which no writer reads.
SITE_CODE_HINT = "the site comes from site_code= or the client's default, never a column"
_TIME_LIKE = re.compile(r"time|date|_at$|^at$|timestamp|when|day|hour|^ts$|_ts$|created|updated")
_REVENUE_LIKE = re.compile(r"amount|revenue|price|total|turnover|sales|paid|cost|eur|usd|value")
_QUANTITY_LIKE = re.compile(r"qty|quantit|units|count|number_of|n_items|items")
_KEY_LIKE = re.compile(r"order|transaction|receipt|invoice|^id$|_id$|^ref|_ref$|reference")


def _hint(
    label: Hashable, column: pd.Series, kinds: set[str], plan: EventPlan, product: bool
) -> str | None:
    """A likely meaning of a column no event sends, in a few words (or None)."""
    name = str(label).lower()
    if name == "site_code":
        return SITE_CODE_HINT
    if pd.api.types.is_datetime64_any_dtype(column.dtype) or _TIME_LIKE.search(name):
        return "the Data API stamps events when it receives them"
    if product:
        if name in attribute_columns_left_out(plan.columns) or name in {"visitor_code"}:
            return "a parameter of the event itself, not a product attribute"
        if _QUANTITY_LIKE.search(name) and kinds & {"add_to_cart", "purchase"}:
            return f"map it with quantity={label!r}"
        if kinds and "product_page" not in kinds:
            return "product attributes go with product_page events"
    else:
        if "conversion" in kinds and "revenue" not in plan.names and _REVENUE_LIKE.search(name):
            return f"map it with revenue={label!r}"
        readers = [
            spec.name for spec in VISIT_KINDS.values() if name in {f.column for f in spec.fields}
        ]
        if name in ("value", "count"):
            readers = ["custom_data"]
        if readers:
            return f"read by {' and '.join(readers)} events only"
    if not plan.key and _KEY_LIKE.search(name):
        return f"key={label!r} if it identifies each event"
    return None


def describe_unsent(unsent: Sequence[tuple[Any, str | None]]) -> str:
    """``'amount' (map it with revenue='amount'), 'store'``: the text of the warning."""
    return ", ".join(f"{label!r}" + (f" ({hint})" if hint else "") for label, hint in unsent)
