"""df.kam (thin, stateless) and PushReport (text, HTML, errors) without a server."""

from __future__ import annotations

import pandas as pd
import pytest

import kameleoon_pandas as kp
from kameleoon_pandas import PushError, PushReport


def test_importing_the_package_registers_the_accessor_with_docstrings():
    df = pd.DataFrame({"visitor_code": ["v"], "goal_id": [1]})
    assert df.kam.push_events.__doc__ and "conversion" in df.kam.push_events.__doc__
    for name in ("push_product_events", "push_maps", "forget", "plot_counters", "plot_timeline"):
        assert getattr(df.kam, name).__doc__
    assert {
        "push_events",
        "push_product_events",
        "push_maps",
        "forget_visitors",
        "PushReport",
    } <= set(dir(kp))


def test_the_accessor_delegates_to_the_writers():
    df = pd.DataFrame({"visitor_code": ["v", ""], "goal_id": [1, 2]})
    via_accessor = df.kam.push_events("conversion", site_code="s", dry_run=True, progress=False)
    direct = kp.push_events(df, "conversion", site_code="s", dry_run=True, progress=False)
    assert (
        (via_accessor.valid, via_accessor.invalid_rows)
        == (direct.valid, direct.invalid_rows)
        == (1, 1)
    )
    maps = pd.DataFrame({"id": ["k1"], "tier": ["gold"]})
    assert maps.kam.push_maps(key="id", site_code="s", dry_run=True).valid == 1
    assert df.kam.forget(site_code="s", dry_run=True).valid == 1


def test_the_accessor_refuses_duplicate_column_names():
    df = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(AttributeError, match="duplicated"):
        df.kam  # noqa: B018


def test_the_accessor_delegates_plots():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counters = pd.DataFrame(
        {
            "site_code": ["s", "s"],
            "ean": ["A", "B"],
            "window_start": pd.to_datetime(["2024-01-01", "2024-01-01"], utc=True),
            "window_end": pd.to_datetime(["2024-01-02", "2024-01-02"], utc=True),
            "views": pd.array([10, 5], dtype="Int64"),
            "add_to_cart_quantity": pd.array([3, 1], dtype="Int64"),
            "bought_quantity": pd.array([1, 0], dtype="Int64"),
        }
    )
    ax = counters.kam.plot_top_products(metric="views", n=2)
    assert ax.figure is not None
    plt.close("all")


def test_dry_run_needs_no_server_and_reports_what_would_go():
    df = pd.DataFrame({"visitor_code": ["a", "b", "x" * 101], "goal_id": [1, 2, 3]})
    report = kp.push_events(df, "conversion", site_code="s", dry_run=True, progress=True)
    assert report.dry_run and (report.rows, report.valid, report.sent, report.requests) == (
        3,
        2,
        0,
        0,
    )
    assert report.batches == 1 and not report.ok
    assert "dry run" in repr(report)
    with pytest.raises(kp.KameleoonError, match="cannot retry"):
        report.retry()


def test_report_text_html_and_raise():
    invalid = pd.DataFrame({"index": [3], "column": ["revenue"], "reason": ["not a finite number"]})
    failed = pd.DataFrame({"visitor_code": ["<b>x</b>"]}, index=[7])
    failures = pd.DataFrame({"index": [7], "reason": ["POST /visit/events -> 500: boom"]})
    report = PushReport(
        "push_events(conversion)",
        "site<1>",
        rows=3,
        valid=2,
        sent=1,
        invalid=invalid,
        failed=failed,
        failures=failures,
        requests=2,
        elapsed=0.5,
    )
    assert not report.ok and (report.invalid_rows, report.failed_rows) == (1, 1)
    text = repr(report)
    assert "NOT OK" in text and "sent=1" in text and "failed=1" in text and "\n" not in text
    page = report._repr_html_()
    assert "site&lt;1&gt;" in page and "<b>x</b>" not in page and "not a finite number" in page
    with pytest.raises(PushError, match=r"1 invalid row.*revenue.*1 row\(s\) failed: POST") as err:
        report.raise_for_failures()
    assert err.value.report is report
    good = PushReport("push_maps", "s", rows=1, valid=1, sent=1)
    assert good.ok and good.raise_for_failures() is good


@pytest.mark.parametrize(
    "push",
    [
        lambda df, c: kp.push_events(df, "conversion", client=c),
        lambda df, c: kp.push_maps(df, key="visitor_code", client=c),
        lambda df, c: kp.forget_visitors(df, client=c),
    ],
)
def test_writers_refuse_an_async_client_with_a_clear_error(push):
    df = pd.DataFrame({"visitor_code": ["a"], "goal_id": [1]})
    core = kp.AsyncClient("s", base_url="http://127.0.0.1:9")
    with pytest.raises(kp.ValidationError, match="AsyncClient"):
        push(df, core)
