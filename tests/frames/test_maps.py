"""frames.maps: map answers -> one typed row per key (no I/O)."""

from __future__ import annotations

from kameleoon_pandas.frames.maps import maps_frame
from kameleoon_pandas.frames.schemas import MAP_KEYS


def test_maps_frame_fields_in_first_seen_order() -> None:
    answer = {"k1": {"b": 1.5, "nested": {"x": [1]}}, "k2": {"a": True, "b": 2}}
    frame, missing = maps_frame(answer, keys=["k2", "k1", "k3"], site_code="s")
    assert missing == ["k3"]
    assert frame.columns.tolist() == ["site_code", "key", "a", "b", "nested"]
    assert frame["key"].tolist() == ["k2", "k1"]
    assert str(frame["a"].dtype) == "boolean" and str(frame["b"].dtype) == "float64"
    assert frame["nested"].tolist() == [None, {"x": [1]}]
    empty, _ = maps_frame({}, keys=[], site_code="s")
    assert dict(empty.dtypes.astype(str)) == dict(MAP_KEYS)


def test_field_names_that_clash_with_columns_never_overwrite_each_other() -> None:
    answer = {"k": {"key_": 1, "key": 2, "site_code": 3, "site_code_": 4}}
    frame, _ = maps_frame(answer, keys=["k"], site_code="s")
    assert frame.columns.is_unique
    row = frame.iloc[0]
    assert (row["site_code"], row["key"]) == ("s", "k")
    # every field value is still there, under its own column
    fields = frame.drop(columns=["site_code", "key"]).iloc[0]
    assert sorted(fields.tolist()) == [1, 2, 3, 4]
