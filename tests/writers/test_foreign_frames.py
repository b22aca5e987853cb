"""The writers with polars DataFrames and pyarrow Tables, over loopback against the emulator: the
same events stored as from the pandas frame (the same nonces, so nothing twice), bad rows named by
position and column, and the loaders' own polars / pyarrow frames pushed back unchanged."""

from __future__ import annotations

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import kameleoon_pandas as kp
from kameleoon_pandas import loaders
from kameleoon_pandas.writers import forget_visitors, push_events, push_maps, push_product_events

from .test_push_emulator import FIELDS, all_kinds_frame, events, feed


def as_polars(df: pd.DataFrame) -> pl.DataFrame:
    return pl.from_pandas(df)


def as_pyarrow(df: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(df, preserve_index=False)


CONVERT = [pytest.param(as_polars, id="polars"), pytest.param(as_pyarrow, id="pyarrow")]


@pytest.mark.parametrize("convert", CONVERT)
def test_every_kind_pushed_from_another_frame_reads_back_as_from_pandas(
    client, site, convert
) -> None:
    df = all_kinds_frame()
    other = convert(df)
    assert not isinstance(other, pd.DataFrame)
    report = push_events(other, client=client, site_code=site, progress=False)
    assert report.ok and report.sent == len(df)
    codes = df["visitor_code"].unique()
    stored = feed(client, codes, site)
    # the pandas frame pushed to its own site: the very same events
    report = push_events(df, client=client, site_code=site + "pd", progress=False)
    assert report.ok
    expected = feed(client, codes, site + "pd")
    for kind in FIELDS:
        assert events(stored, kind) == events(expected, kind), kind
    # and the same nonces: the pandas frame pushed where the other went stores nothing new
    assert push_events(df, client=client, site_code=site, progress=False).ok
    assert len(feed(client, codes, site)) == len(stored)


@pytest.mark.parametrize("convert", CONVERT)
def test_bad_rows_are_named_by_position_and_column(client, site, convert) -> None:
    df = pd.DataFrame(
        {
            "visitor_code": ["v1", None, "v3", "v4"],
            "goal_id": pd.array([1, 2, None, 4], dtype="Int64"),
            "revenue": [1.0, 2.0, 3.0, float("nan")],
        }
    )
    report = push_events(convert(df), "conversion", client=client, site_code=site, progress=False)
    assert report.sent == 1 and report.invalid_rows == 3
    invalid = report.invalid.sort_values(["index", "column"]).reset_index(drop=True)
    assert invalid[["index", "column"]].values.tolist() == [
        [1, "visitor_code"],
        [2, "goal_id"],
        [3, "revenue"],
    ]
    # the same report as the pandas frame's
    pandas = push_events(df, "conversion", site_code=site, dry_run=True)
    pd.testing.assert_frame_equal(
        report.invalid.sort_values(["index", "column"]).reset_index(drop=True),
        pandas.invalid.sort_values(["index", "column"]).reset_index(drop=True),
    )


@pytest.mark.parametrize("convert", CONVERT)
def test_product_events_and_maps_from_other_frames(client, site, convert) -> None:
    products = pd.DataFrame(
        {
            "ean": ["E1", "E2"],
            "name": ["One", "Two"],
            "price": [9.5, 12.0],
            "tags": [["a", "b"], None],
        }
    )
    assert push_product_events(
        convert(products), "product_page", client=client, site_code=site, progress=False
    ).ok
    sales = pd.DataFrame({"ean": ["E1", "E1", "E2"], "quantity": [1, 2, 3]})
    assert push_product_events(
        convert(sales), "purchase", client=client, site_code=site, progress=False
    ).ok
    data = loaders.read_product_data(["E1", "E2"], client=client, site_code=site, progress=False)
    assert data["name"].tolist() == ["One", "Two"] and data["tags"].tolist() == [["a", "b"], None]
    counters = loaders.read_product_counters(
        ["E1", "E2"], start="2000-01-01", end="2100-01-01", client=client, site_code=site
    )
    assert counters["views"].tolist() == [1, 1]
    assert counters["bought_quantity"].tolist() == [3, 3]

    maps = pd.DataFrame(
        {"key": ["k1", "k2"], "tier": ["gold", None], "points": [10, 20], "ids": [[1, 2], [3]]}
    )
    assert push_maps(convert(maps), client=client, site_code=site, progress=False).ok
    back = loaders.read_maps(["k1", "k2"], client=client, site_code=site, progress=False)
    assert back["tier"].iloc[0] == "gold" and back["tier"].isna().tolist() == [False, True]
    assert back["points"].tolist() == [10, 20] and back["ids"].tolist() == [[1, 2], [3]]


def test_forget_takes_polars_and_pyarrow_codes(client, site) -> None:
    codes = [f"fg{i}" for i in range(6)]
    frame = pd.DataFrame({"visitor_code": codes, "goal_id": 1})
    assert push_events(frame, "conversion", client=client, site_code=site, progress=False).ok
    for given in (
        pl.Series("visitor_code", codes[:2]),
        pa.array(codes[2:4]),
        pl.DataFrame({"visitor_code": codes[4:]}),
    ):
        report = forget_visitors(given, client=client, site_code=site, progress=False)
        assert report.ok and report.sent == 2
    assert feed(client, codes, site).empty
    bad = forget_visitors(pl.Series(["ok", None, ""]), site_code=site, dry_run=True)
    assert bad.invalid["index"].tolist() == [1, 2]


def test_the_loaders_polars_and_pyarrow_frames_push_back_unchanged(client, site) -> None:
    df = all_kinds_frame()
    assert push_events(df, client=client, site_code=site, progress=False).ok
    codes = list(df["visitor_code"].unique())
    original = feed(client, codes, site)
    unsent = "not sent: 'site_code'"
    for i, options in enumerate(({"backend": "polars"}, {"dtype_backend": "pyarrow"})):
        other = loaders.read_visitor_feeds(
            codes, client=client, site_code=site, progress=False, **options
        )
        copy_site = f"{site}c{i}"
        with pytest.warns(kp.KameleoonWarning, match=unsent):
            report = push_events(other, client=client, site_code=copy_site, progress=False)
        assert report.ok and report.sent == len(original)
        copy = feed(client, codes, copy_site)
        for kind in ("conversion", "page", "custom_data", "experiment", "geolocation"):
            assert sorted(events(copy, kind)) == sorted(events(original, kind)), kind


def test_not_a_frame_is_refused_naming_df_before_anything_is_sent(site) -> None:
    with pytest.raises(kp.ValidationError, match="df must be a pandas, polars or pyarrow"):
        push_events([{"visitor_code": "v"}], "conversion", site_code=site, dry_run=True)
    with pytest.raises(kp.ValidationError, match=r"collect\(\) it first"):
        push_maps(pl.LazyFrame({"key": ["k"]}), site_code=site, dry_run=True)
