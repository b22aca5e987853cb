"""Map answers (``GET /map/maps``) -> one row per key: ``site_code, key``, one column per field.

Fields keep their own names, in the order first seen; nested values stay Python objects. Keys the
API did not answer are left out (the loader warns with their count). Pure: no I/O.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Mapping, Sequence
from typing import Any, cast

import numpy as np
import pandas as pd

from ._arrays import infer_dtype, missing_array, object_array, scatter, to_dtype
from .schemas import MAP_KEYS, STR, Schema, empty_frame

__all__ = ["RecordColumns", "maps_columns", "maps_frame"]


class RecordColumns:
    """``{key: record}`` answers gathered as they arrive, then one row per key with a record.

    :meth:`add` walks each answer's records once (per field: the entries holding it, their
    values), so a loader can call it as each answer arrives while others are in flight;
    :meth:`frame` then places and casts whole columns. The frame is that of one merged answer:
    rows in ``keys`` order, a key answered twice takes its last answer, and fields come in the
    order first seen along the rows.

    ``known`` maps wire field names to (column, dtype): those columns are always present, in that
    order. Other fields follow, named by ``rename(field)`` (default: unchanged), dtype inferred.
    """

    def __init__(
        self,
        *,
        keys: Sequence[str],
        key_column: str,
        leading: Schema,
        site_code: str,
        known: Mapping[str, tuple[str, str]] | None = None,
        rename: Any = None,
    ) -> None:
        self._keys = list(keys)
        self._position = {key: i for i, key in enumerate(self._keys)}
        self._key_column = key_column
        self._leading = leading
        self._site_code = site_code
        self._known = dict(known or {})
        self._rename = rename
        # One entry per (key, answer): the key's position, and whether its record is a mapping.
        self._entry_keys: list[int] = []
        self._entry_ok: list[bool] = []
        # Per field: the entries holding a value for it, the values, and the field's place in
        # its record (to order fields first seen within one row as the record orders them).
        self._rows: dict[str, list[int]] = {}
        self._values: dict[str, list[Any]] = {}
        self._places: dict[str, list[int]] = {}

    def add(self, answer: Mapping[str, Any]) -> None:
        """One answer, ``{key: record}``; keys not asked for are ignored."""
        if not self._add_uniform(answer):
            self._add_any(answer)

    def _add_uniform(self, answer: Mapping[str, Any]) -> bool:
        """The usual answer, walked field by field at C speed: every key asked for, every
        record a dict with the same fields in the same order. False (nothing added) else."""
        records = list(answer.values())
        at = list(map(self._position.get, answer))
        if not records or None in at or set(map(type, records)) != {dict}:
            return False
        orders = set(map(tuple, records))
        if len(orders) != 1:
            return False
        base = len(self._entry_keys)
        self._entry_keys += cast(list[int], at)  # no None: checked above
        self._entry_ok += [True] * len(at)
        entries = range(base, base + len(at))
        for place, field in enumerate(orders.pop()):
            values = list(map(operator.itemgetter(field), records))
            held = list(map(operator.is_not, values, itertools.repeat(None)))
            if not all(held):
                values = list(itertools.compress(values, held))
                if not values:
                    continue
                rows = list(itertools.compress(entries, held))
            else:
                rows = list(entries)
            self._rows.setdefault(field, []).extend(rows)
            self._values.setdefault(field, []).extend(values)
            self._places.setdefault(field, []).extend([place] * len(rows))
        return True

    def _add_any(self, answer: Mapping[str, Any]) -> None:
        """Any answer, record by record."""
        position = self._position
        rows, values, places = self._rows, self._values, self._places
        for key, record in answer.items():
            at = position.get(key)
            if at is None:
                continue
            entry = len(self._entry_keys)
            self._entry_keys.append(at)
            ok = isinstance(record, Mapping)
            self._entry_ok.append(ok)
            if not ok:
                continue
            for place, (field, value) in enumerate(record.items()):
                if value is not None:
                    rows.setdefault(field, []).append(entry)
                    values.setdefault(field, []).append(value)
                    places.setdefault(field, []).append(place)

    def frame_of(self, answer: Mapping[str, Any]) -> tuple[pd.DataFrame, list[str]]:
        """:meth:`add` ``answer``, then :meth:`frame`: the frame of one whole answer."""
        self.add(answer)
        return self.frame()

    def frame(self) -> tuple[pd.DataFrame, list[str]]:
        """One row per key with a record (in ``keys`` order), and the keys left out."""
        entry_keys = np.asarray(self._entry_keys, dtype=np.intp)
        # A key's last entry wins, as in a dict merge of the answers in the order added
        # (maximum.at: plain fancy assignment does not promise which repeated index wins).
        last = np.full(len(self._keys), -1, dtype=np.intp)
        np.maximum.at(last, entry_keys, np.arange(len(entry_keys), dtype=np.intp))
        ok = np.asarray(self._entry_ok, dtype=bool)
        has_record = np.zeros(len(self._keys), dtype=bool)
        answered = last >= 0
        has_record[answered] = ok[last[answered]]
        present = np.flatnonzero(has_record)
        n = len(present)
        # The row of each entry: its key's rank among the keys with a record, if it won.
        row_of_entry = np.full(len(entry_keys), -1, dtype=np.intp)
        row_of_entry[last[present]] = np.arange(n, dtype=np.intp)

        fields: dict[str, tuple[np.ndarray, list[Any]]] = {}
        firsts: list[tuple[int, int, str]] = []
        for field, entries in self._rows.items():
            rows = row_of_entry[np.asarray(entries, dtype=np.intp)]
            keep = rows >= 0
            if not keep.any():
                continue
            values = self._values[field]
            if not keep.all():
                values = [v for v, k in zip(values, keep.tolist(), strict=True) if k]
                place = np.asarray(self._places[field], dtype=np.intp)[keep]
                rows = rows[keep]
            else:
                place = np.asarray(self._places[field], dtype=np.intp)
            first = int(np.argmin(rows))
            firsts.append((int(rows[first]), int(place[first]), field))
            fields[field] = (rows, values)
        order = [field for _, _, field in sorted(firsts)]

        keys = self._keys
        keys_present = [keys[i] for i in present.tolist()]
        missing = [keys[i] for i in np.flatnonzero(~has_record).tolist()]
        known, rename = self._known, self._rename
        columns: dict[str, Any] = {
            "site_code": pd.array([self._site_code], dtype=STR).take(np.zeros(n, dtype=np.intp)),
            self._key_column: to_dtype(object_array(keys_present), STR),
        }
        for field, (column, dtype) in known.items():
            held = fields.get(field)
            columns[column] = (
                missing_array(n, dtype) if held is None else to_dtype(scatter(n, *held), dtype)
            )
        for field in order:
            if field in known:
                continue
            column = rename(field) if rename else field
            if column in columns:  # a clash with a declared or earlier column: keep the wire name
                column = field
            while column in columns:  # ...and if that is taken too, underscores until it is free
                column += "_"
            raw = scatter(n, *fields[field])
            columns[column] = to_dtype(raw, infer_dtype(raw))
        if n == 0:
            return empty_frame(self._leading, dict(known.values())), missing
        return pd.DataFrame(columns), missing


def maps_columns(*, keys: Sequence[str], site_code: str) -> RecordColumns:
    """The :class:`RecordColumns` of map answers: ``site_code, key``, then the fields."""
    return RecordColumns(keys=keys, key_column="key", leading=MAP_KEYS, site_code=site_code)


def maps_frame(
    answer: Mapping[str, Any], *, keys: Sequence[str], site_code: str
) -> tuple[pd.DataFrame, list[str]]:
    """One row per known key: ``site_code, key``, then one column per field (first seen order)."""
    return maps_columns(keys=keys, site_code=site_code).frame_of(answer)
