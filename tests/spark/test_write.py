"""Writes through the "kameleoon" format and the kp.spark.push_* helpers, against the emulator
over loopback: counts, exactly once across task retries, content nonces across partitions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

import kameleoon_pandas as kp

from .helpers import PANDAS_WARNING, import_spark, nonces, posts, spark_frame, stored_events

kps = import_spark()

pytestmark = [
    pytest.mark.spark,
    pytest.mark.xdist_group("spark"),
    pytest.mark.filterwarnings(PANDAS_WARNING),
]


def orders(n: int, start: int = 0, visitors: int = 40) -> pd.DataFrame:
    i = np.arange(start, start + n)
    return pd.DataFrame(
        {
            "order_id": [f"SO-{k:05d}" for k in i],
            "customer": [f"cust-{k % visitors:03d}" for k in i],
            "goal": 901,
            "amount": np.round(10 + (i % 97) * 1.25, 2),
        }
    )


def customers(frame: pd.DataFrame) -> list[str]:
    return sorted(frame["customer"].unique())


def test_the_format_pushes_each_partition_and_commits_one_report(
    spark, emu, site, creds, tmp_path
) -> None:
    a, b = orders(300), orders(200, start=300)
    df = spark_frame(spark, a, b)
    before = posts(emu, "/visit/events")
    report_file = tmp_path / "report.json"
    (
        df.write.format("kameleoon")
        .option("kind", "conversion")
        .option("key", "order_id")
        .option("siteCode", site)
        .option("column.visitor_code", "customer")
        .option("column.goal_id", "goal")
        .option("column.revenue", "amount")
        .options(**creds)
        .option("rowsPerPush", "120")
        .option("reportPath", str(report_file))
        .mode("append")
        .save()
    )
    report = kps.read_report(report_file)
    assert kps.last_write_report() is not None
    assert (report.status, report.tasks, report.site_codes) == ("committed", 2, [site])
    assert (report.rows, report.valid, report.sent) == (500, 500, 500)
    assert (report.invalid_rows, report.failed_rows) == (0, 0)
    assert report.operation == "push_events(conversion)" and report.ok
    # 120 rows a push: partitions of 300 and 200 rows make 3 + 2 requests
    assert report.requests == posts(emu, "/visit/events") - before == 5
    feed = kp.read_visitor_feeds(
        customers(pd.concat([a, b])), kinds=["conversion"], client=emu.client(), site_code=site
    )
    assert len(feed) == 500
    assert feed["revenue"].sum() == pytest.approx(pd.concat([a, b])["amount"].sum())
    assert set(feed["goal_id"]) == {901}


def test_a_task_that_dies_after_its_first_request_is_retried_and_stores_nothing_twice(
    spark, emu, site, creds
) -> None:
    a, b = orders(250), orders(150, start=250)
    df = spark_frame(spark, a, b)
    before = posts(emu, "/visit/events")
    (
        df.write.format("kameleoon")
        .option("kind", "conversion")
        .option("key", "order_id")
        .option("siteCode", site)
        .option("column.visitor_code", "customer")
        .option("column.goal_id", "goal")
        .option("column.revenue", "amount")
        .options(**creds)
        .option("rowsPerPush", "50")
        # each task's first attempt raises once it has made one request; Spark retries it
        .option("testFault", "afterRequests=1,attempts=1")
        .mode("append")
        .save()
    )
    report = kps.last_write_report()
    assert report is not None and report.status == "committed"
    assert (report.rows, report.sent, report.tasks) == (400, 400, 2)
    # the retried attempts sent everything (5 + 3 bodies); the dead ones one body each
    assert posts(emu, "/visit/events") - before == 8 + 2
    rows = stored_events(emu, site, customers(pd.concat([a, b])))
    assert len(rows) == 400  # the first 50 rows of each partition were sent twice, stored once
    assert len(set(nonces(rows))) == 400


def test_a_job_that_fails_for_good_aborts_and_says_what_was_sent(
    spark, emu, site, creds, tmp_path
) -> None:
    big, small = orders(300), orders(20, start=300)
    df = spark_frame(spark, big, small)
    report_file = tmp_path / "abort.json"
    with pytest.raises(Exception, match="stopped after sending 150 rows in 3 requests"):
        (
            df.write.format("kameleoon")
            .option("kind", "conversion")
            .option("key", "order_id")
            .option("siteCode", site)
            .option("column.visitor_code", "customer")
            .option("column.goal_id", "goal")
            .options(**creds)
            .option("rowsPerPush", "50")
            .option("testFault", "afterRequests=3,attempts=9,partitions=0")
            .option("reportPath", str(report_file))
            .mode("append")
            .save()
        )
    report = kps.read_report(report_file)
    assert report.status == "aborted" and not report.ok
    assert (report.tasks, report.failed_tasks) == (1, 1)
    assert (report.rows, report.sent) == (20, 20)  # the small partition finished
    with pytest.raises(kps.SparkPushError, match="aborted"):
        report.raise_for_failures()
    # both attempts of the big partition sent its first 150 rows: stored once
    assert len(stored_events(emu, site, customers(pd.concat([big, small])))) == 150 + 20


def test_without_key_the_format_refuses_and_the_helper_stores_every_identical_row(
    spark, emu, site, client
) -> None:
    # 4 identical rows per visitor, spread over 3 partitions by round robin
    rows = pd.DataFrame({"visitor_code": ["v1", "v2", "v3"] * 4, "goal_id": 7, "revenue": 9.5})
    df = spark.createDataFrame(rows).repartition(3)
    with pytest.raises(Exception, match=r"need option\('key', \.\.\.\)"):
        df.write.format("kameleoon").option("kind", "conversion").option("siteCode", site).mode(
            "append"
        ).save()
    report = kps.push_events(df, "conversion", client=client)
    assert report.sent == 12 and report.ok
    stored = stored_events(emu, site, ["v1", "v2", "v3"])
    assert len(stored) == 12  # not 3 (ranked 0 in each partition) nor 9
    # the nonces are pandas' own for the whole frame: pushing it from pandas stores nothing new
    again = kp.push_events(rows, "conversion", client=client)
    assert again.sent == 12
    assert len(stored_events(emu, site, ["v1", "v2", "v3"])) == 12


def test_invalid_and_failed_rows_go_to_parquet_and_the_warnings_come_back(
    spark, emu, site, client, tmp_path
) -> None:
    frame = orders(60)
    frame.loc[[3, 17], "customer"] = ""  # refused: empty identifier
    frame.loc[40, "amount"] = np.nan  # refused: a lost amount is not 0
    frame["channel"] = "pos"  # not sent: warned once, from the tasks
    df = spark_frame(spark, frame.iloc[:30], frame.iloc[30:])
    emu.options.fault_rate = 1.0  # every push fails: the valid rows are failed rows
    emu.options.faults = ("500",)
    out = tmp_path / "bad"
    with pytest.warns(kp.KameleoonWarning, match="not sent: 'channel'"):
        report = kps.push_events(
            df,
            "conversion",
            key="order_id",
            client=client,
            options={"maxRetries": 0, "retryBudget": 0},
            invalid_path=str(out),
            visitor_code="customer",
            goal_id="goal",
            revenue="amount",
        )
    assert (report.rows, report.invalid_rows, report.failed_rows, report.sent) == (60, 3, 57, 0)
    assert not report.ok and len(report.invalid_files) == 2
    bad = pq.read_table(out).to_pandas()
    assert len(bad) == 60 and set(bad["order_id"]) == set(frame["order_id"])
    invalid = bad[bad["kameleoon_status"] == "invalid"].set_index("order_id")
    assert sorted(invalid.index) == ["SO-00003", "SO-00017", "SO-00040"]
    # the cells and reasons are the pandas writer's own
    dry = kp.push_events(
        frame.drop(columns="channel"),
        "conversion",
        key="order_id",
        site_code=site,
        dry_run=True,
        visitor_code="customer",
        goal_id="goal",
        revenue="amount",
    ).invalid.set_index("index")
    for row, order in [(3, "SO-00003"), (40, "SO-00040")]:
        assert invalid.loc[order, "kameleoon_column"] == dry.loc[row, "column"]
        assert invalid.loc[order, "kameleoon_reason"] == dry.loc[row, "reason"]
    assert "empty identifier" in invalid.loc["SO-00003", "kameleoon_reason"]
    failed = bad[bad["kameleoon_status"] == "failed"]
    assert len(failed) == 57 and failed["kameleoon_reason"].str.contains("500").all()
    assert {e["status"] for e in report.examples} == {"invalid", "failed"}
    with pytest.raises(kps.SparkPushError, match="invalid=3 failed=57"):
        report.raise_for_failures()


def test_product_events_maps_and_forget_through_the_helpers(
    spark, emu, site, client, creds
) -> None:
    sales = pd.DataFrame({"sku": ["SKU-1", "SKU-2", "SKU-1", "SKU-1"], "quantity": [2, 1, 2, 5]})
    report = kps.push_product_events(
        spark.createDataFrame(sales).repartition(2), "purchase", client=client, ean="sku"
    )
    assert report.sent == 4 and report.operation == "push_product_events(purchase)"
    counters = kp.read_product_counters(
        ["SKU-1", "SKU-2"], start="2000-01-01", end="2100-01-01", client=client
    )
    assert dict(zip(counters["ean"], counters["bought_quantity"], strict=True)) == {
        "SKU-1": 9,  # the two identical rows (2, 2) both count
        "SKU-2": 1,
    }
    tiers = pd.DataFrame({"id": ["k1", "k2", "k3"], "tier": ["gold", "silver", None]})
    maps = kps.push_maps(spark.createDataFrame(tiers), key="id", ttl_hours=24, client=client)
    assert maps.sent == 3
    # k3 has no field with a value: an empty map, which deletes the key (as in pandas)
    with pytest.warns(kp.KameleoonWarning, match="1 of 3 keys are unknown"):
        stored_maps = kp.read_maps(["k1", "k2", "k3"], client=client)
    assert stored_maps.set_index("key")["tier"].to_dict() == {"k1": "gold", "k2": "silver"}
    kp.push_events(
        pd.DataFrame({"visitor_code": ["f1", "f2"], "goal_id": [1, 1]}), "conversion", client=client
    )
    gone = kps.forget_visitors(
        spark.createDataFrame(pd.DataFrame({"code": ["f1", "f1"], "other": [1, 2]})),
        visitor_code="code",
        client=client,
    )
    assert gone.sent == 2 and gone.operation == "forget_visitors"
    assert [r[0] for r in stored_events(emu, site, ["f1", "f2"])] == ["f2"]


def test_bad_arguments_are_refused_on_the_driver_before_any_task(spark, site) -> None:
    df = spark.createDataFrame(orders(5))
    with pytest.raises(kp.ValidationError, match="key='nope': the frame has no column"):
        kps.push_events(df, "conversion", key="nope", site_code=site, visitor_code="customer")
    with pytest.raises(kp.ValidationError, match="no 'visitor_code' or 'mapping_value' column"):
        kps.push_events(df, "conversion", site_code=site)
    with pytest.raises(kp.ValidationError, match="has no option 'rowsperbatch'"):
        kps.push_maps(df, key="order_id", site_code=site, options={"rowsPerBatch": 5})
    with pytest.raises(kp.ValidationError, match="expected a Spark DataFrame"):
        kps.forget_visitors(orders(2), site_code=site)  # a pandas frame
    with pytest.raises(Exception, match="only appends"):
        df.write.format("kameleoon").option("key", "order_id").mode("overwrite").save()


def test_a_dry_run_validates_in_the_tasks_and_sends_nothing(spark, emu, site) -> None:
    frame = orders(30).astype({"goal": float})
    frame.loc[5, "goal"] = -1.5  # not an integer: refused
    before = emu.request_count
    report = kps.push_events(
        spark.createDataFrame(frame),
        "conversion",
        key=["order_id"],
        site_code=site,
        dry_run=True,
        visitor_code="customer",
        goal_id="goal",
        revenue="amount",
    )
    assert (report.valid, report.invalid_rows, report.sent, report.requests) == (29, 1, 0, 0)
    assert report.dry_run and "dry run" in report.summary()
    assert emu.request_count == before
    assert json.loads(json.dumps(report.to_dict()))["valid"] == 29


def test_with_a_nonce_column_and_no_key_a_row_without_a_nonce_is_refused(spark, site) -> None:
    frame = pd.DataFrame(
        {
            "visitor_code": ["a", "b", "c"],
            "goal_id": [1, 1, 1],
            "nonce": ["00000000000000a1", None, "00000000000000c3"],
        }
    )
    (
        spark.createDataFrame(frame)
        .write.format("kameleoon")
        .option("kind", "conversion")
        .option("siteCode", site)
        .option("dryRun", "true")
        .mode("append")
        .save()
    )
    report = kps.last_write_report()
    assert report is not None and (report.valid, report.invalid_rows) == (2, 1)
    assert report.examples == [
        {
            "status": "invalid",
            "column": "nonce",
            "reason": "missing nonce (without key=, every row needs one)",
        }
    ]
