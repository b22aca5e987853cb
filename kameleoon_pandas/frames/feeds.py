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

from ._arrays import object_array, scatter, to_dtype
from .schemas import FEED_FIELDS, FEED_KINDS, STR, VISITOR_FEED, empty_frame

__all__ = ["feed_frame"]


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
    wanted = list(kinds) if kinds is not None else list(FEED_KINDS)
    extra = {"mapping_value": STR} if by == "mapping_value" else None

    # The one pass over events: common columns as lists, kind fields as (rows, values) per column.
    owner: list[int] = []
    visitor: list[Any] = []
    visit_no: list[int] = []
    started: list[Any] = []
    last: list[Any] = []
    kind_col: list[str] = []
    times: list[Any] = []
    field_rows: dict[str, list[int]] = {}
    field_vals: dict[str, list[Any]] = {}
    n = 0

    for index, (key, answer) in enumerate(zip(keys, answers, strict=True)):
        if not answer:
            continue
        for number, visit in _visits(answer):
            code = visit.get("visitorCode") or key
            t_start, t_last = visit.get("timeStarted"), visit.get("timeLastEvent")
            for kind in wanted:
                events = visit.get(FEED_KINDS[kind])
                if not events:
                    continue
                if isinstance(events, Mapping):  # staticDataEvent: one object per visit
                    events = [events]
                fields = FEED_FIELDS[kind]
                for event in events:
                    data = event.get("data") or {}
                    if kind == "custom_data":
                        pairs = list((data.get("valuesCountMap") or {}).items()) or [(None, None)]
                    else:
                        pairs = [(None, None)]
                    for value, count in pairs:
                        owner.append(index)
                        visitor.append(code)
                        visit_no.append(number)
                        started.append(t_start)
                        last.append(t_last)
                        kind_col.append(kind)
                        times.append(event.get("time"))
                        for wire, column in fields.items():
                            got = data.get(wire)
                            if got is not None:
                                field_rows.setdefault(column, []).append(n)
                                field_vals.setdefault(column, []).append(got)
                        if kind == "custom_data" and value is not None:
                            field_rows.setdefault("value", []).append(n)
                            field_vals.setdefault("value", []).append(value)
                            field_rows.setdefault("count", []).append(n)
                            field_vals.setdefault("count", []).append(count)
                        n += 1

    if n == 0:
        return empty_frame(VISITOR_FEED, extra)

    common = {
        "visitor_code": visitor,
        "visit": visit_no,
        "visit_started": started,
        "visit_last_event": last,
        "kind": kind_col,
        "time": times,
    }
    columns: dict[str, Any] = {"site_code": pd.array([site_code] * n, dtype=STR)}
    for name, dtype in VISITOR_FEED.items():
        if name == "site_code":
            continue
        if name in common:
            raw = object_array(common[name])
        else:
            raw = scatter(n, field_rows.get(name, ()), field_vals.get(name, ()))
        columns[name] = to_dtype(raw, dtype)
    if extra:
        columns["mapping_value"] = pd.array(np.asarray(keys, dtype=object)[owner], dtype=STR)
    frame = pd.DataFrame(columns)

    # Visitors in input order, then visit, then time (stable, so ties keep the wire order).
    time_key = frame["time"].array.asi8 if hasattr(frame["time"].array, "asi8") else None
    if time_key is None:  # pragma: no cover - defensive: a column that failed to cast
        return frame
    order = np.lexsort((time_key, np.asarray(visit_no), np.asarray(owner)))
    return frame.take(order).reset_index(drop=True)
