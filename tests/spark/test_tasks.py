"""The pieces a task runs, without a Spark session: chunking by owner, options, schemas."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import kameleoon_pandas as kp
from kameleoon_pandas.frames import schemas

from .helpers import import_spark

kps = import_spark()

from kameleoon_pandas.spark import options, tasks  # noqa: E402
from kameleoon_pandas.spark.schemas import frame_to_batch  # noqa: E402

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]


def batches(owners: list, size: int) -> list[pa.RecordBatch]:
    table = pa.table({"visitor_code": owners, "n": list(range(len(owners)))})
    return table.to_batches(max_chunksize=size)


@pytest.mark.parametrize("batch_size", [1, 3, 7, 100])
def test_chunks_never_split_an_owners_run_and_keep_every_row_once(batch_size) -> None:
    rng = np.random.default_rng(batch_size)
    # sorted by owner, missing ones first (as sortWithinPartitions puts them): one run too
    owners = [None] * 10 + sorted(rng.choice([f"v{i}" for i in range(30)], size=190).tolist())
    got = list(tasks.chunks(iter(batches(owners, batch_size)), 16, ["visitor_code"]))
    assert [r for t in got for r in t.column("n").to_pylist()] == list(range(200))
    seen: set = set()
    for table in got:
        mine = set(table.column("visitor_code").to_pylist())
        assert not mine & seen  # an owner's rows all sit in one chunk
        seen |= mine
    runs = [len(list(g)) for _, g in itertools.groupby(owners)]
    assert all(t.num_rows <= max(16, max(runs)) for t in got)
    assert len(got) >= 200 // (16 + max(runs))


def test_an_owner_longer_than_a_chunk_is_one_chunk_and_without_owners_chunks_are_exact() -> None:
    owners = ["a"] * 5 + ["b"] * 40 + ["c"] * 5
    got = list(tasks.chunks(iter(batches(owners, 4)), 10, ["visitor_code"]))
    assert [t.num_rows for t in got] == [5, 40, 5]
    plain = list(tasks.chunks(iter(batches(owners, 4)), 10, []))
    assert [t.num_rows for t in plain] == [10] * 5


def test_to_pandas_keeps_integers_exact_and_decimals_as_numbers() -> None:
    import decimal

    table = pa.table(
        {
            "id": pa.array([2**60 + 1, None], pa.int64()),
            "flag": pa.array([True, None]),
            "amount": pa.array([decimal.Decimal("1.25"), None], pa.decimal128(10, 2)),
        }
    )
    frame = tasks.to_pandas(table)
    assert frame["id"].dtype == "Int64" and frame["id"][0] == 2**60 + 1
    assert frame["flag"].dtype == "boolean"
    assert frame["amount"].dtype == "float64" and frame["amount"][0] == 1.25


def test_options_are_checked_and_never_echo_the_secret() -> None:
    parsed = options.parse_write_options(
        {"siteCode": "s", "clientSecret": "hush", "clientId": "me", "MaxConcurrency": "4"}
    )
    assert parsed.what == "visitEvents" and "hush" not in repr(parsed)
    assert parsed.client.client_kwargs() == {
        "client_id": "me",
        "client_secret": "hush",
        "max_concurrency": 4,
        "site_code": "s",
    }
    with pytest.raises(kp.ValidationError, match="'maxconcurrency' must be an integer"):
        options.parse_write_options({"maxConcurrency": "many"})
    with pytest.raises(kp.ValidationError, match="'what' must be one of"):
        options.parse_write_options({"what": "events"})
    with pytest.raises(kp.ValidationError, match="'ttlHours' is for what='maps'"):
        options.parse_write_options({"ttlHours": "3"})
    with pytest.raises(kp.ValidationError, match="takes no path"):
        options.parse_write_options({"path": "/tmp/x"})
    assert options.parse_write_options({"key": '["a", "b"]'}).key == ("a", "b")
    assert options.parse_write_options({"key": "a, b"}).key == ("a", "b")


def test_counter_windows_are_fixed_once_on_the_driver() -> None:
    parsed = options.parse_read_options({"what": "productCounters", "freq": "1h"})
    start, end = pd.Timestamp(parsed.loader["start"]), pd.Timestamp(parsed.loader["end"])
    assert end - start == pd.Timedelta(hours=25)  # the last 24 hours, widened to whole hours
    assert start == start.floor("h") and end == end.floor("h")


def test_frames_become_batches_of_the_declared_spark_schema() -> None:
    frame = schemas.conform(
        pd.DataFrame(
            {
                "visitor_code": ["a", "b"],
                "time": pd.to_datetime([1_700_000_000_000, None], unit="ms", utc=True),
                "goal_id": pd.array([3, None], dtype="Int64"),
                "revenue": [1.5, np.nan],
                "metadata": [{"k": [1, 2]}, None],
            }
        ),
        schemas.VISITOR_FEED,
    )
    batch = frame_to_batch(frame, kps.result_schema("visitorFeeds"), rest=None, known=None)
    rows = batch.to_pylist()
    assert batch.schema.field("time").type == pa.timestamp("us", tz="UTC")
    assert rows[0]["goal_id"] == 3 and rows[1]["goal_id"] is None
    assert rows[1]["revenue"] is None  # NaN is missing in Spark, not a number
    assert rows[0]["metadata"] == '{"k": [1, 2]}' and rows[1]["metadata"] is None
    assert rows[0]["time"].timestamp() == 1_700_000_000
