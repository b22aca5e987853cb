"""Visitor feeds (``GET /visit/visitor`` answers) -> the long ``VISITOR_FEED`` frame.

One row per event; custom data gives one row per value of ``valuesCountMap`` with its count;
``visit`` is 0 for the current visit, 1 for the most recent previous one, and so on. Rows come
in the order of the visitors asked for, then by visit, then by time. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ._arrays import object_array, to_dtype
from .schemas import FEED_FIELDS, FEED_KINDS, STR, VISITOR_FEED, empty_frame

__all__ = ["FeedColumns", "feed_frame"]


def _visits(answer: Mapping[str, Any]) -> list[tuple[int, Mapping[str, Any]]]:
    visits: list[tuple[int, Mapping[str, Any]]] = []
    current = answer.get("currentVisit")
    if isinstance(current, Mapping) and current:
        visits.append((0, current))
    previous = answer.get("previousVisits") or []
    visits.extend(
        (number, v) for number, v in enumerate(previous, start=1) if isinstance(v, Mapping)
    )
    return visits


class FeedColumns:
    """Visitor feed answers gathered as they arrive, then the one long ``VISITOR_FEED`` frame.

    :meth:`add` reads each answer's events into per-kind columns of plain values right away (a
    few comprehensions per visit), so a loader calling it as each answer arrives does that work
    while the other visitors are in flight, and the answers' JSON objects are freed at once
    instead of piling up for the garbage collector to scan; :meth:`frame` then casts each column
    once and orders the rows.
    """

    def __init__(
        self,
        *,
        keys: Sequence[str],
        site_code: str,
        kinds: Sequence[str] | None = None,
        by: str = "visitor_code",
    ) -> None:
        self._keys = list(keys)
        self._site_code = site_code
        self._wanted = list(kinds) if kinds is not None else list(FEED_KINDS)
        self._by = by
        # Per kind, per column: the values of its events so far (lists of plain values).
        self._columns: dict[str, dict[str, list[Any]]] = {
            kind: {name: [] for name in _kind_columns(kind)} for kind in self._wanted
        }

    def add(self, index: int, answer: Mapping[str, Any]) -> None:
        """The answer for ``keys[index]``."""
        if not answer:
            return
        key = self._keys[index]
        for number, visit in _visits(answer):
            code = visit.get("visitorCode") or key
            t_start, t_last = visit.get("timeStarted"), visit.get("timeLastEvent")
            for kind in self._wanted:
                events = visit.get(FEED_KINDS[kind])
                if not events:
                    continue
                if isinstance(events, Mapping):  # staticDataEvent: one object per visit
                    events = [events]
                n = len(events)
                columns = self._columns[kind]
                columns["owner"] += [index] * n
                columns["visit"] += [number] * n
                columns["visitor_code"] += [code] * n
                columns["visit_started"] += [t_start] * n
                columns["visit_last_event"] += [t_last] * n
                columns["time"] += [event.get("time") for event in events]
                datas = [event.get("data") or {} for event in events]
                for wire, name in FEED_FIELDS[kind].items():
                    columns[name] += [data.get(wire) for data in datas]
                if kind == "custom_data":  # exploded into value/count rows by frame()
                    columns["pairs"] += [
                        list((data.get("valuesCountMap") or {}).items()) for data in datas
                    ]

    def frame(self) -> pd.DataFrame:
        """The long frame: visitors in input order, then visit, then time (stable)."""
        extra = {"mapping_value": STR} if self._by == "mapping_value" else None
        parts = [self._kind_rows(kind) for kind in self._wanted if self._columns[kind]["owner"]]
        n = sum(len(part["kind"]) for part in parts)
        if n == 0:
            return empty_frame(VISITOR_FEED, extra)

        def column(name: str) -> np.ndarray:
            out = np.full(n, None, dtype=object)
            start = 0
            for part in parts:
                stop = start + len(part["kind"])
                if name in part:
                    out[start:stop] = part[name]
                start = stop
            return out

        owner = np.concatenate([part["owner"] for part in parts])
        columns: dict[str, Any] = {
            "site_code": pd.array([self._site_code], dtype=STR).take(np.zeros(n, dtype=np.intp))
        }
        for name, dtype in VISITOR_FEED.items():
            if name == "site_code":
                continue
            if name == "visit":
                visit = np.concatenate([part["visit"] for part in parts])
                columns[name] = pd.arrays.IntegerArray(visit, np.zeros(n, dtype=bool))
            elif name == "kind":
                codes = np.concatenate([part["kind"] for part in parts])
                columns[name] = pd.array(self._wanted, dtype=STR).take(codes)
            else:
                columns[name] = to_dtype(column(name), dtype)
        if extra:
            columns["mapping_value"] = pd.array(self._keys, dtype=STR).take(owner)
        frame = pd.DataFrame(columns)

        # Visitors in input order, then visit, then time (stable, so ties keep the wire order:
        # kinds in the asked order, then each kind's events as sent).
        time_key = frame["time"].array.asi8 if hasattr(frame["time"].array, "asi8") else None
        if time_key is None:  # pragma: no cover - defensive: a column that failed to cast
            return frame
        order = np.lexsort((time_key, columns["visit"].to_numpy(), owner))
        return frame.take(order).reset_index(drop=True)

    def _kind_rows(self, kind: str) -> dict[str, np.ndarray]:
        """The rows of one kind, column by column: ``owner``, ``visit``, ``kind`` (its index in
        the asked kinds) as int arrays, the other columns as object arrays."""
        gathered = self._columns[kind]
        count = len(gathered["owner"])
        rows: dict[str, np.ndarray] = {
            "owner": np.fromiter(gathered["owner"], np.intp, count),
            "visit": np.fromiter(gathered["visit"], np.int64, count),
        }
        for name, values in gathered.items():
            if name not in rows and name != "pairs":
                rows[name] = object_array(values)
        if kind == "custom_data":  # one row per value of valuesCountMap (one row if none)
            pairs = gathered["pairs"]
            repeats = np.fromiter((len(p) or 1 for p in pairs), dtype=np.intp, count=len(pairs))
            rows = {name: np.repeat(values, repeats) for name, values in rows.items()}
            flat = [pair for p in pairs for pair in (p or [(None, None)])]
            rows["value"] = object_array([value for value, _ in flat])
            counts = object_array([count for _, count in flat])
            counts[rows["value"] == None] = None  # noqa: E711 - elementwise: no value, no count
            rows["count"] = counts
        rows["kind"] = np.full(len(rows["time"]), self._wanted.index(kind), dtype=np.intp)
        return rows


def _kind_columns(kind: str) -> list[str]:
    """The columns :meth:`FeedColumns.add` gathers for one kind."""
    names = ["owner", "visit", "visitor_code", "visit_started", "visit_last_event", "time"]
    names += FEED_FIELDS[kind].values()
    if kind == "custom_data":
        names.append("pairs")
    return names


def feed_frame(
    answers: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
    site_code: str,
    kinds: Sequence[str] | None = None,
    by: str = "visitor_code",
) -> pd.DataFrame:
    """The long feed frame of ``answers[i]``, the answer for ``keys[i]``.

    ``by="mapping_value"``: the keys are mapping values; ``visitor_code`` comes from each visit
    (the key when the visit does not say) and a trailing ``mapping_value`` column is added.
    """
    if len(answers) != len(keys):
        raise ValueError(f"{len(answers)} answers for {len(keys)} keys")
    columns = FeedColumns(keys=keys, site_code=site_code, kinds=kinds, by=by)
    for index, answer in enumerate(answers):
        columns.add(index, answer)
    return columns.frame()
