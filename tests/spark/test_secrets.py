"""A client secret given as an option never shows: not in a plan, an error, a report or Spark's
event log; the executors' KAMELEOON_* environment is the other way to give it."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pytest

import kameleoon_pandas as kp

from .helpers import PANDAS_WARNING, import_spark

kps = import_spark()

pytestmark = [
    pytest.mark.spark,
    pytest.mark.xdist_group("spark"),
    pytest.mark.filterwarnings(PANDAS_WARNING),
]

WRONG = "wrong-secret-9f8e7d6c"


def test_the_secret_is_not_in_the_plan_the_errors_the_report_or_the_event_log(
    spark, emu, site, spark_events, tmp_path, capsys
) -> None:
    secret = emu.client_secret
    read = (
        spark.read.format("kameleoon")
        .option("what", "maps")
        .option("keys", "k1")
        .option("siteCode", site)
        .option("baseUrl", emu.url)
        .option("clientId", emu.client_id)
        .option("clientSecret", secret)
        .load()
    )
    read.explain(True)
    helper = kps.read_maps(
        spark,
        ["k1"],
        site_code=site,
        options={"baseUrl": emu.url, "clientId": emu.client_id, "clientSecret": secret},
    )
    helper.explain(True)  # the tasks' function holds the options: it shows by name only
    plan = capsys.readouterr().out
    assert "BatchScan kameleoon" in plan and "MapInArrow" in plan
    assert secret not in plan
    assert read.count() == 0

    # a wrong secret: the token endpoint refuses it; the row fails, its reason does not show it
    frame = spark.createDataFrame(pa.table({"visitor_code": ["a"], "goal_id": [1]}))
    report_file = tmp_path / "report.json"
    (
        frame.write.format("kameleoon")
        .option("kind", "conversion")
        .option("key", "visitor_code")
        .option("siteCode", site)
        .option("baseUrl", emu.url)
        .option("clientId", emu.client_id)
        .option("clientSecret", WRONG)
        .option("maxRetries", 0)
        .option("reportPath", str(report_file))
        .mode("append")
        .save()
    )
    report = kps.read_report(report_file)
    assert report.failed_rows == 1 and "401" in report.examples[0]["reason"]
    assert WRONG not in report_file.read_text() and secret not in report_file.read_text()

    # a read whose token request fails raises in its tasks: the error names the client id only
    with pytest.raises(Exception, match="refused the credentials") as refused:
        kps.read_maps(spark, ["k1"], site_code=site, options={"clientSecret": WRONG}).collect()
    assert WRONG not in str(refused.value) and secret not in str(refused.value)

    spark.sparkContext._jsc.sc().listenerBus().waitUntilEmpty()

    logs = "".join(p.read_text(errors="replace") for p in spark_events.rglob("*") if p.is_file())
    assert "kameleoon" in logs  # the plans are there...
    assert secret not in logs and WRONG not in logs  # ...the secrets are not


def test_without_options_the_tasks_use_the_executors_environment(spark, emu, site) -> None:
    # the session's spark.executorEnv.KAMELEOON_* give the URL and the credentials
    frame = spark.createDataFrame(pd.DataFrame({"key": ["e1"], "tier": ["gold"]}))
    report = kps.push_maps(frame, key="key", site_code=site)
    assert report.sent == 1 and report.site_codes == [site]
    got = kps.read_maps(spark, ["e1"], site_code=site).toArrow().to_pylist()
    assert [(r["key"], json.loads(r["fields"])) for r in got] == [("e1", {"tier": "gold"})]
    with emu.client(site_code=site) as client:
        assert kp.read_maps(["e1"], client=client)["tier"].tolist() == ["gold"]
    # no site code anywhere: the task says so
    with pytest.raises(Exception, match="no site code"):
        kps.push_maps(frame, key="key")
