"""Event plans: a frame checked, its events ordered, then encoded slice by slice into bodies.

:func:`plan_visit_events` and :func:`plan_product_events` check a frame's structure (columns,
kinds, index) and return an :class:`EventPlan`; its :meth:`~EventPlan.batches` encode
:data:`SLICE_ROWS` events at a time (fields, nonce, line matrix) and cut them into
:class:`Batch` es under the body limit. A feed's custom data value rows are grouped back into
one event each here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..._contract import EVENT_BODY_LIMIT
from ..._exceptions import ValidationError
from .. import bytecols
from .fields import _encode_field, _Factor, _take, _to_float, _to_object_strings
from .kinds import (
    _PRODUCT_ALIASES,
    _VISIT_ALIASES,
    PRODUCT_KINDS,
    VISIT_KINDS,
    FieldSpec,
    KindSpec,
    attribute_fields,
)
from .lines import (
    _expand,
    _json_text,
    _line_matrix,
    _rows_that_fit,
    _Scratch,
    _Slot,
    _text_slot,
    _TooWide,
)
from .nonces import _GOLD, _NONCE_RE, _hash_labels, _mix, _seed
from .problems import _Problems

#: Rows encoded at a time: bounds the memory of the encoding to a few MB whatever the frame.
SLICE_ROWS = 65_536


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
    events: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # lead row per event
    members: dict[int, np.ndarray] = field(default_factory=dict)  # lead row -> member rows
    #: lead row -> valuesCountMap text (built once per plan, looked up per slice)
    extra_pieces: pd.Series = field(default_factory=lambda: pd.Series(dtype=object))
    problems: _Problems = field(default_factory=_Problems)
    _factors: dict[tuple[str, str, str], _Factor] = field(default_factory=dict)
    _scratch: _Scratch = field(default_factory=_Scratch)

    def kind_code(self, name: str) -> int:
        return list(self.kinds).index(name)

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
                matrix, lens, ok = self._encode_slice(lead)
            except _TooWide:  # very long texts: fewer rows at a time, as often as needed
                self.problems.rollback(mark)
                rows = max(1, len(lead) // 2)
                continue
            start += len(lead)
            # as many rows next time as fit this slice's line width (back up after a long one)
            rows = _rows_that_fit(matrix.shape[1], slice_rows)
            if not ok.all():
                if self.members:  # a refused event refuses every row it was built from
                    for e in lead[~ok].tolist():
                        others = self.members.get(e, np.empty(0, np.int64))
                        others = others[others != e]
                        self.problems.add(others, "value", "another row of this event is invalid")
                matrix, lens, lead = matrix[ok], lens[ok], lead[ok]
            yield from _chunk(matrix, lens, lead, limit, max_lines)

    # -- encoding one slice -----------------------------------------------------------------

    def _encode_slice(self, lead: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m = len(lead)
        codes = self.row_kind[lead]
        specs = list(self.kinds.values())
        if m and (codes == codes[0]).all():  # the usual case: one kind, no copying
            return self._encode_kind(specs[codes[0]], lead, self._scratch)
        parts = []
        for code in np.unique(codes):
            sel = np.flatnonzero(codes == code)
            parts.append((sel, *self._encode_kind(specs[code], lead[sel])))
        width = max(sub.shape[1] for _, sub, _, _ in parts)
        matrix = np.zeros((m, width), dtype=np.uint8)  # NUL after a line's end adds nothing
        lens = np.zeros(m, dtype=np.int64)
        ok = np.ones(m, dtype=bool)
        for sel, sub, sub_lens, sub_ok in parts:
            matrix[sel, : sub.shape[1]] = sub
            lens[sel] = sub_lens
            ok[sel] = sub_ok
        return matrix, lens, ok

    def _encode_kind(
        self, spec: KindSpec, rows: np.ndarray, scratch: _Scratch | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The line matrix of ``rows`` (all of kind ``spec``): lengths include the newline.

        With ``scratch`` the matrix is only valid until the next slice is encoded.
        """
        m = len(rows)
        slots: list[_Slot] = []
        ok = np.ones(m, dtype=bool)
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
                fspec, self.columns.get(fspec.column), rows, self.problems, self._factors
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
        # the nonce: derived from seed, label and every field, unless a nonce column gives it
        h = _mix(_hash_labels(self.frame.index[rows]) ^ _seed(self.site_code, spec.name))
        head = f"eventType={spec.event_type}".encode()
        lens = np.full(m, len(head) + len("&nonce=") + 16 + 1, dtype=np.int64)
        for slot in slots:
            h = h * _GOLD + slot.hashes  # an odd multiplier: each step keeps every bit of h
            lens += slot.lens
        nonces = bytecols.hex16(_mix(h))
        given = self.columns.get("nonce")
        if given is not None:
            ok &= self._given_nonces(_take(given, rows), rows, nonces)
        # Line layout (parameter order is free): eventType first, the nonce last.
        parts = [head, *(p for slot in slots for p in slot.parts), b"&nonce=", nonces, b"\n"]
        return _line_matrix(parts, m, scratch), lens, ok

    def _given_nonces(self, given: pd.Series, rows: np.ndarray, nonces: np.ndarray) -> np.ndarray:
        """Put the ``nonce`` column's values in place of the derived ones; the rows still ok."""
        has = given.notna().to_numpy()
        if not has.any():
            return np.ones(len(rows), dtype=bool)
        text = given.astype("string").str.strip()
        good = text.str.fullmatch(_NONCE_RE.pattern).to_numpy(dtype=bool, na_value=False)
        bad = has & ~good
        self.problems.add(rows[bad], "nonce", "not 16 hexadecimal characters")
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
        )
        parts: list[bytes | np.ndarray] = [
            _expand(c, np.arange(m), m) if isinstance(c, bytes) else c for c in p.parts
        ]
        parts += [_expand(c, sub, m) for c in q.parts]
        lens, hashes = p.lens.copy(), p.hashes.copy()
        lens[sub], hashes[sub] = q.lens, q.hashes
        valid = valid.copy()
        valid[sub] &= q_valid
        missing = np.zeros(m, dtype=bool)
        missing[sub] = ~q_present & q_valid
        if missing.any():
            self.problems.add(
                rows[missing], f"{first.column}/{second.column}", "missing value (neither given)"
            )
            valid &= ~missing
        return _Slot(parts, lens, hashes), valid


def _chunk(
    matrix: np.ndarray, lens: np.ndarray, lead: np.ndarray, limit: int, max_lines: int | None
) -> Iterator[Batch]:
    """Greedy runs of lines under ``limit`` bytes: a body is its rows' bytes less the NULs."""
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
        body = matrix[start:stop].tobytes().replace(b"\0", b"")
        if len(body) != ends[stop - 1] - base:  # pragma: no cover - a NUL in the wire text
            raise AssertionError("a line holds a NUL byte")
        yield Batch(body, lead[start:stop])
        start = stop


# --------------------------------------------------------------------------- building plans


def _resolve_columns(
    df: pd.DataFrame, mapping: Mapping[str, str], known: set[str] | None
) -> dict[str, pd.Series]:
    """Schema name -> the frame's column, after ``**columns`` renames."""
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
    out = {str(c): df[c] for c in df.columns if c not in sources}
    for name, source in mapping.items():
        out[name] = df[source]  # the mapping wins over a column of the schema name
    return out


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
    present_kinds = [specs[c].name for c in np.unique(row_kind) if c >= 0]
    for name in present_kinds:
        for f in kinds[name].fields:
            if f.required and f.column not in columns:
                missing.append(f"{f.column!r} (required by {name})")
    if "custom_data" in present_kinds and "value" not in columns:
        missing.append("'value' (required by custom_data)")
    if missing:
        raise ValidationError("missing columns: " + ", ".join(missing))


def _check_index(df: pd.DataFrame, cols: dict[str, pd.Series]) -> None:
    # Nonces derive from the index label: two equal rows under one label would be one event.
    if "nonce" not in cols and df.index.has_duplicates:
        dupes = df.index[df.index.duplicated()].unique()[:5].tolist()
        raise ValidationError(
            f"the index has duplicate labels (e.g. {dupes}): nonces are derived from the label, "
            "so equal rows under one label would count once. Give unique labels (for example "
            "df.reset_index(drop=True), keeping them stable if you push again) or a 'nonce' column"
        )


def plan_visit_events(
    df: pd.DataFrame, kind: str | None = None, *, site_code: str, columns: Mapping[str, str] = {}
) -> EventPlan:
    """Validate the structure of ``df`` and plan its visit events (raises on missing columns)."""
    known = {f.column for spec in VISIT_KINDS.values() for f in spec.fields}
    known |= {"visitor_code", "mapping_value", "kind", "nonce", "value", "count", "time", "visit"}
    cols = _resolve_columns(df, columns, known)
    _check_index(df, cols)
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
    plan = EventPlan(df, cols, dict(VISIT_KINDS), row_kind, identity, site_code, problems=problems)
    plan.events = _order(df, cols, row_kind)
    if (row_kind == plan.kind_code("custom_data")).any():
        _group_custom_data(plan)
    return plan


def plan_product_events(
    df: pd.DataFrame, kind: str | None = None, *, site_code: str, columns: Mapping[str, str] = {}
) -> EventPlan:
    """Validate the structure of ``df`` and plan its product events (raises on missing columns)."""
    cols = _resolve_columns(df, columns, None)  # any name: product attributes are open
    _check_index(df, cols)
    if "ean" not in cols:
        raise ValidationError("missing columns: 'ean'")
    problems = _Problems()
    row_kind = _row_kinds(df, kind, cols, PRODUCT_KINDS, _PRODUCT_ALIASES, problems)
    identity = [FieldSpec("ean", "ean", "id", True)]
    plan = EventPlan(
        df, cols, dict(PRODUCT_KINDS), row_kind, identity, site_code, problems=problems
    )
    plan.events = _order(df, cols, row_kind)
    return plan


def _order(df: pd.DataFrame, cols: dict[str, pd.Series], row_kind: np.ndarray) -> np.ndarray:
    valid = np.flatnonzero(row_kind >= 0)
    time = cols.get("time")
    if time is None or not pd.api.types.is_datetime64_any_dtype(time.dtype):
        return valid.astype(np.int64)
    t = time.iloc[valid].to_numpy(dtype="datetime64[ns]")
    order = np.argsort(t, kind="stable")  # NaT sorts last in numpy
    return valid[order].astype(np.int64)


def _group_custom_data(plan: EventPlan) -> None:
    """Put a feed's value rows back into one event per group (see the package docstring)."""
    cols = plan.columns
    rows = plan.events[plan.row_kind[plan.events] == plan.kind_code("custom_data")]
    problems = plan.problems
    values, present = _to_object_strings(cols["value"].iloc[rows])
    if not present.all():
        problems.add(rows[~present], "value", "missing value")
    counts_ok = np.ones(len(rows), dtype=bool)
    if "count" in cols:
        c, c_present, conv = _to_float(cols["count"].iloc[rows])
        bad = c_present & (~conv | ~np.isfinite(c) | (np.floor(c) != c) | (c < 0))
        problems.add(rows[bad], "count", "not a count (a whole number >= 0)")
        counts_ok = ~bad
        counts = np.where(c_present & ~bad, c, 1).astype(np.int64)
    else:
        counts = np.ones(len(rows), dtype=np.int64)
    keep = present & counts_ok
    key_frame = {}
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
            key_frame[name] = cols[name].iloc[rows].astype(object).to_numpy()
    gid = (
        pd.DataFrame(key_frame)
        .groupby(list(key_frame), sort=False, dropna=False)
        .ngroup()
        .to_numpy()
    )
    dropped = []
    members: dict[int, np.ndarray] = {}
    texts: dict[int, str] = {}
    # Events of one value (the usual case) need no grouping: one JSON text per distinct pair.
    single = np.bincount(gid)[gid] == 1
    dropped.extend(rows[single & ~keep].tolist())
    one = np.flatnonzero(single & keep)
    memo: dict[tuple[str, int], str] = {}
    pairs = zip(rows[one].tolist(), values[one].tolist(), counts[one].tolist(), strict=True)
    for lead, v, n in pairs:
        text = memo.get((v, n))
        if text is None:
            text = memo[v, n] = _json_text({v: n})
        texts[lead] = text  # a one-row event has no members entry: rows_of gives the lead
    several = np.flatnonzero(~single)
    order = several[np.argsort(gid[several], kind="stable")]
    bounds = np.flatnonzero(np.diff(gid[order])) + 1
    for group in np.split(order, bounds) if order.size else ():
        lead = int(rows[group[0]])
        good = group[keep[group]]
        if good.size < group.size:
            # one bad value spoils the event: refuse the whole group, nothing goes half-sent
            problems.add(rows[good], "value", "another row of this event is invalid")
            dropped.extend(int(r) for r in rows[group])
            continue
        vmap: dict[str, int] = {}
        for v, n in zip(values[good].tolist(), counts[good].tolist(), strict=True):
            vmap[v] = vmap.get(v, 0) + n
        texts[lead] = _json_text(vmap)
        members[lead] = rows[group]
        dropped.extend(int(r) for r in rows[group[1:]])
    plan.members = members
    plan.extra_pieces = pd.Series(texts, dtype=object)
    if dropped:
        plan.events = plan.events[~np.isin(plan.events, np.array(dropped, dtype=np.int64))]
