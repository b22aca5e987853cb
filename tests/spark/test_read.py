"""Reads through the "kameleoon" format and the kp.spark.read_* helpers: the pandas loaders'
rows, in the declared schemas as Spark types, fetched by partition."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pytest

import kameleoon_pandas as kp
from kameleoon_pandas.frames import schemas

from .helpers import PANDAS_WARNING, import_spark

kps = import_spark()

from pyspark.sql.types import LongType, StringType, TimestampType  # noqa: E402

pytestmark = [
    pytest.mark.spark,
    pytest.mark.xdist_group("spark"),
    pytest.mark.filterwarnings(PANDAS_WARNING),
]

VISITORS = [f"r{i:02d}" for i in range(12)]
EANS = ["E-1", "E-2", "E-3"]


@pytest.fixture(scope="module")
def seeded(emu) -> str:
    """A site with conversions, pages and custom data for 12 visitors, products and maps."""
    site = "sparkreads"
    with emu.client(site_code=site) as client:
        n = len(VISITORS)
        kp.push_events(
            pd.DataFrame(
                {"visitor_code": VISITORS * 2, "goal_id": [5] * n + [6] * n, "revenue": 2.5}
            ),
            "conversion",
            client=client,
        )
        kp.push_events(
            pd.DataFrame({"visitor_code": VISITORS, "href": "https://shop.example/cart"}),
            "page",
            client=client,
        )
        kp.push_events(
            pd.DataFrame(
                {
                    "visitor_code": VISITORS[:3] * 2,
                    "custom_data_index": 3,
                    "value": ["gold"] * 3 + ["vip"] * 3,
                }
            ),
            "custom_data",
            client=client,
        )
        kp.push_product_events(
            pd.DataFrame({"ean": EANS, "name": ["a", "b", "c"], "price": [1.0, 2.5, None]}).assign(
                colour=["red", None, "blue"]
            ),
            "product_page",
            client=client,
        )
        kp.push_product_events(
            pd.DataFrame({"ean": ["E-1", "E-1", "E-2"], "quantity": [1, 3, 2]}),
            "purchase",
            key=None,
            client=client,
        )
        kp.push_maps(
            pd.DataFrame({"key": ["m1", "m2"], "tier": ["gold", "silver"], "points": [10, 20]}),
            client=client,
        )
    return site


def as_pandas(df) -> pd.DataFrame:
    """A Spark result through Arrow (not PySpark's pandas path)."""
    return df.toArrow().to_pandas(types_mapper=pd.ArrowDtype)


def normalised(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Values only (a common dtype), sorted, for comparing a Spark and a pandas result."""
    out = frame.astype(object).where(frame.notna(), None)
    for column in out.columns:
        out[column] = out[column].map(lambda v: v.isoformat() if isinstance(v, pd.Timestamp) else v)
    return out.sort_values(by, kind="stable").reset_index(drop=True)


def json_column(values: pd.Series) -> list:
    return [None if v is None or v is pd.NA else json.loads(v) for v in values]


def test_the_format_reads_feeds_by_partition_as_the_pandas_loader_does(
    spark, emu, creds, seeded
) -> None:
    df = (
        spark.read.format("kameleoon")
        .option("what", "visitorFeeds")
        .option("keys", json.dumps(VISITORS))
        .option("numPartitions", 3)
        .option("siteCode", seeded)
        .options(**creds)
        .load()
    )
    assert df.schema == kps.result_schema("visitorFeeds")
    assert df.schema["time"].dataType == TimestampType()
    assert df.schema["goal_id"].dataType == LongType()
    assert df.schema["referrers_indices"].dataType == StringType()  # JSON text
    got = as_pandas(df)
    want = kp.read_visitor_feeds(VISITORS, client=emu.client(), site_code=seeded)
    assert len(got) == len(want) == 12 * 3 + 6
    assert list(got.columns) == list(schemas.VISITOR_FEED)
    key = ["visitor_code", "kind", "goal_id", "value"]
    plain = [c for c in got.columns if c not in ("referrers_indices", "metadata")]
    pd.testing.assert_frame_equal(normalised(got[plain], key), normalised(want[plain], key))
    # nested values are their JSON text
    pages = got[got["kind"] == "page"]
    assert json_column(pages["referrers_indices"]) == [[]] * 12


def test_the_helpers_read_a_dataframe_of_keys_and_lists(spark, emu, client, seeded) -> None:
    pandas_client = emu.client(site_code=seeded)
    codes = spark.createDataFrame(pa.table({"code": VISITORS[:4] + VISITORS[:2]}))
    feeds = kps.read_visitor_feeds(
        spark, codes, kinds=["conversion"], client=pandas_client, num_partitions=2
    )
    got = as_pandas(feeds)
    assert sorted(got["visitor_code"]) == sorted(VISITORS[:4] * 2)  # duplicates asked once
    assert set(got["kind"]) == {"conversion"}

    counters = kps.read_product_counters(
        spark, EANS, start="2000-01-01", end="2100-01-01", freq="10000D", client=pandas_client
    )
    assert counters.schema == kps.result_schema("productCounters")
    want = kp.read_product_counters(
        EANS, start="2000-01-01", end="2100-01-01", freq="10000D", client=pandas_client
    )
    got_counters = as_pandas(counters)  # one Spark job for both checks
    key = ["ean", "window_start"]
    pd.testing.assert_frame_equal(normalised(got_counters, key), normalised(want, key))
    assert got_counters.groupby("ean")["bought_quantity"].sum().to_dict() == {
        "E-1": 4,
        "E-2": 2,
        "E-3": 0,
    }


def test_open_results_get_a_json_column_or_the_schema_asked_for(spark, emu, creds, seeded) -> None:
    pandas_client = emu.client(site_code=seeded)
    products = as_pandas(kps.read_product_data(spark, EANS, client=pandas_client)).set_index("ean")
    assert products.loc["E-2", "price"] == 2.5 and pd.isna(products.loc["E-3", "price"])
    assert json_column(products["other_attributes"]) == [
        {"colour": "red"},
        None,
        {"colour": "blue"},
    ]
    maps = (
        spark.read.format("kameleoon")
        .option("what", "maps")
        .option("keys", "m1,m2,unknown")
        .option("siteCode", seeded)
        .options(**creds)
        .load()
    )
    fields = as_pandas(maps).set_index("key")["fields"]
    assert {k: json.loads(v) for k, v in fields.items()} == {
        "m1": {"tier": "gold", "points": 10},
        "m2": {"tier": "silver", "points": 20},
    }
    typed = kps.read_maps(
        spark, ["m2", "m1"], client=pandas_client, schema="key string, points bigint, tier string"
    )
    assert as_pandas(typed).sort_values("key").to_dict("list") == {
        "key": ["m1", "m2"],
        "points": [10, 20],
        "tier": ["gold", "silver"],
    }


def test_bad_read_options_are_refused_on_the_driver(spark, seeded) -> None:
    with pytest.raises(kp.ValidationError, match="option 'freq' is not an option of"):
        kps.read_visitor_feeds(spark, VISITORS, site_code=seeded, options={"freq": "1h"})
    with pytest.raises(kp.ValidationError, match=r"visitor_codes\[1\] is an empty string"):
        kps.read_visitor_feeds(spark, ["ok", ""], site_code=seeded)
    with pytest.raises(kp.ValidationError, match="say which holds the keys with column="):
        kps.read_maps(spark, spark.createDataFrame(pa.table({"a": ["x"], "b": ["y"]})))
    with pytest.raises(Exception, match="option 'what' must be one of"):
        spark.read.format("kameleoon").option("what", "nothing").load()
