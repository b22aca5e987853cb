"""``%kam`` reads and writes through a real IPython shell against the emulator over loopback.

Every subcommand returns what its function returns called directly; lists come from ``$var``,
a bare name, a literal or a ``%%kam`` cell body; mistakes raise ``UsageError`` and API failures
the library's own errors.
"""

from __future__ import annotations

import pandas as pd
import pytest
from IPython.core.error import UsageError
from pandas.testing import assert_frame_equal

import kameleoon_pandas as kp
from kameleoon_pandas.emulator import serve
from kameleoon_pandas.ipython import _parsing
from kameleoon_pandas.panels import CountersPanel, VisitorFeedPanel

TODAY = pd.Timestamp.now(tz="UTC").floor("D")
START, END = TODAY - pd.Timedelta(days=3), TODAY


def _counters(client, eans, **kwargs):
    return kp.read_product_counters(eans, start=START, end=END, freq="1D", client=client, **kwargs)


# -- loading ----------------------------------------------------------------------------------


def test_load_ext_registers_the_line_and_cell_magic_and_unloads(shell) -> None:
    shell.run_line_magic("load_ext", "kameleoon_pandas")
    magics = shell.magics_manager.magics
    assert "kam" in magics["line"] and "kam" in magics["cell"]
    instance = shell.magics_manager.registry["KameleoonMagics"]
    assert instance in shell.configurables

    shell.run_line_magic("unload_ext", "kameleoon_pandas")
    assert "kam" not in magics["line"] and "kam" not in magics["cell"]
    assert instance not in shell.configurables
    assert "KameleoonMagics" not in shell.magics_manager.registry

    shell.run_line_magic("load_ext", "kameleoon_pandas")  # and back
    assert "kam" in shell.magics_manager.magics["line"]


# -- reading: the same frames as the functions --------------------------------------------------


def test_counters_from_a_variable_a_bare_name_a_literal_and_a_cell(kam, demo_client, ids) -> None:
    eans = ids["eans"][:3]
    expected = _counters(demo_client, eans)
    assert len(expected) == 9
    kam.user_ns.update(c=demo_client, eans=eans, start=START, end=END)
    span = f"--start {START.date()} --end {END.date()} --freq 1D --client c"

    for line in (
        f"counters $eans {span}",
        f"counters eans {span}",
        f"counters {','.join(eans)} {span}",
        f'counters "{" ".join(eans)}" {span}',
        f"counters {eans[0]} {span} {eans[1]},{eans[2]}",  # options between the items
        "counters $eans --start $start --end $end --freq 1D --client $c",
    ):
        assert_frame_equal(kam.run_line_magic("kam", line), expected, obj=line)

    body = "\n".join(f"  {ean}\tproduct {i}\t9.90  " for i, ean in enumerate(eans)) + "\n\n"
    assert_frame_equal(kam.run_cell_magic("kam", f"counters {span}", body), expected)


@pytest.mark.parametrize(
    "variable",
    [
        lambda eans: tuple(eans),
        lambda eans: pd.Series(eans, name="ean"),
        lambda eans: pd.Index(eans),
        lambda eans: pd.DataFrame({"sku": eans}),
        lambda eans: pd.DataFrame({"ean": eans, "name": "x"}),
    ],
    ids=["tuple", "series", "index", "one-column-frame", "frame-with-ean"],
)
def test_products_from_any_list_like(kam, demo_client, ids, variable) -> None:
    eans = ids["eans"][:2]
    kam.user_ns.update(c=demo_client, products=variable(eans))
    got = kam.run_line_magic("kam", "products products --client c")
    assert_frame_equal(got, kp.read_product_data(eans, client=demo_client))


def test_feed_and_maps_with_their_options(kam, demo_client, ids) -> None:
    kam.user_ns["c"] = demo_client
    visitors = ids["visitor_codes"][:2]
    got = kam.run_line_magic(
        "kam", f"feed {','.join(visitors)} --previous 2 --kinds conversion,page --client c"
    )
    expected = kp.read_visitor_feeds(
        visitors, previous_visits=2, kinds=["conversion", "page"], client=demo_client
    )
    assert_frame_equal(got, expected)
    assert len(got) and set(got["kind"]) <= {"conversion", "page"}
    got = kam.run_line_magic("kam", f"feed {visitors[0]} --previous 0 --no-current --client c")
    assert_frame_equal(
        got,
        kp.read_visitor_feeds(
            visitors[:1], previous_visits=0, current_visit=False, client=demo_client
        ),
    )

    keys = ids["map_keys"][:3]
    got = kam.run_cell_magic("kam", "maps --client c", "\n".join(keys))
    assert_frame_equal(got, kp.read_maps(keys, client=demo_client))
    assert list(got["key"]) == keys


def test_site_option_and_output_name(kam, demo_client, demo_server) -> None:
    eans = demo_server.state.identifiers("demosite02")["eans"][:2]
    kam.user_ns["c"] = demo_client
    got = kam.run_line_magic("kam", f"products {','.join(eans)} --site demosite02 --client c -o p")
    assert kam.user_ns["p"] is got
    assert_frame_equal(got, kp.read_product_data(eans, site_code="demosite02", client=demo_client))
    assert set(got["site_code"]) == {"demosite02"}


def test_relative_times_are_taken_from_one_now(kam, demo_client, ids, monkeypatch) -> None:
    now = pd.Timestamp.now(tz="UTC").floor("min")
    monkeypatch.setattr(_parsing, "_now", lambda: now)
    kam.user_ns["c"] = demo_client
    eans = ids["eans"][:2]
    got = kam.run_line_magic("kam", f"counters {','.join(eans)} --start 2d --end 90min --client c")
    expected = kp.read_product_counters(
        eans,
        start=now - pd.Timedelta(days=2),
        end=now - pd.Timedelta(minutes=90),
        client=demo_client,
    )
    assert_frame_equal(got, expected)
    got = kam.run_line_magic(
        "kam", f"counters {eans[0]} --start 3d --end now --freq 1D --no-align --client c"
    )
    expected = kp.read_product_counters(
        eans[:1],
        start=now - pd.Timedelta(days=3),
        end=now,
        freq="1D",
        align=False,
        client=demo_client,
    )
    assert_frame_equal(got, expected)
    assert (got["window_start"].dt.tz_convert("UTC") == got["window_start"]).all()
    assert got["window_start"].iloc[0] == (now - pd.Timedelta(days=3)).as_unit("ms")


def test_panels(kam, demo_client, ids) -> None:
    kam.user_ns.update(c=demo_client, eans=ids["eans"][:3])
    panel = kam.run_line_magic("kam", "panel counters $eans --client c --site demosite02")
    assert isinstance(panel, CountersPanel)
    assert list(panel.site_code.options) == ["demosite02", "demosite01"]
    assert panel.eans.value == ", ".join(ids["eans"][:3])
    visitor = ids["visitor_codes"][0]
    panel = kam.run_line_magic("kam", f"panel feed {visitor} --client c -o feed_panel")
    assert isinstance(panel, VisitorFeedPanel) and kam.user_ns["feed_panel"] is panel
    assert panel.visitor_code.value == visitor
    with pytest.raises(UsageError, match="one visitor"):
        kam.run_line_magic("kam", "panel feed a,b --client c")
    panel = kam.run_cell_magic("kam", "panel counters --client c", "\n".join(ids["eans"][:2]))
    assert panel.eans.value == ", ".join(ids["eans"][:2])


# -- writing: the same reports as the functions --------------------------------------------------


@pytest.fixture(scope="module")
def blank_server():
    with serve() as srv:
        yield srv


def _report_fields(report: kp.PushReport) -> tuple:
    return (
        report.operation,
        report.site_code,
        report.rows,
        report.valid,
        report.sent,
        report.invalid_rows,
        report.failed_rows,
        report.batches,
        report.dry_run,
    )


def test_push_events_dry_run_and_for_real(kam, blank_server, make_client) -> None:
    client = make_client(blank_server)
    orders = pd.DataFrame(
        {"visitor_code": ["kamv0001", "kamv0002", ""], "goal": [7, 7, 7], "amount": [9.5, 3, 1]}
    )
    kam.user_ns.update(orders=orders, c=client)
    line = "push events orders --kind conversion goal_id=goal revenue=amount --site kamsite01"
    report = kam.run_line_magic("kam", line + " --dry-run")
    expected = kp.push_events(
        orders,
        kind="conversion",
        site_code="kamsite01",
        dry_run=True,
        goal_id="goal",
        revenue="amount",
    )
    assert _report_fields(report) == _report_fields(expected)
    assert_frame_equal(report.invalid, expected.invalid)
    assert report.valid == 2 and report.invalid_rows == 1 and report.sent == 0

    report = kam.run_line_magic("kam", line + " --client $c -o pushed")
    assert kam.user_ns["pushed"] is report
    assert report.sent == 2 and report.invalid_rows == 1
    feed = kam.run_line_magic("kam", "feed kamv0001,kamv0002 --site kamsite01 --client c")
    conversions = feed[feed["kind"] == "conversion"]
    assert sorted(conversions["revenue"].tolist()) == [3.0, 9.5]
    assert set(conversions["goal_id"]) == {7}

    with pytest.raises(kp.PushError, match="1 invalid row"):
        kam.run_line_magic("kam", line + " --client c --check")


def test_push_products_maps_and_forget(kam, blank_server, make_client) -> None:
    client = make_client(blank_server)
    sales = pd.DataFrame({"sku": ["KAM-1", "KAM-2"], "quantity": [2, 1]})
    tiers = pd.DataFrame({"id": ["crm:1", "crm:2"], "tier": ["gold", "silver"]})
    gone = pd.DataFrame({"visitor_code": ["kamv0001", "kamv0002"]})
    kam.user_ns.update(sales=sales, tiers=tiers, gone=gone, c=client)
    site = "--site kamsite02 --client c"

    report = kam.run_line_magic("kam", f"push products sales --kind purchase ean=sku {site}")
    expected = kp.push_product_events(
        sales, kind="purchase", site_code="kamsite02", client=client, dry_run=True, ean="sku"
    )
    assert (report.valid, report.rows) == (expected.valid, expected.rows) == (2, 2)
    assert report.sent == 2

    report = kam.run_line_magic("kam", f"push maps $tiers --key-column id --ttl-hours 24 {site}")
    assert report.sent == 2 and report.operation == "push_maps"
    maps = kam.run_line_magic("kam", f"maps crm:1,crm:2 {site}")
    assert_frame_equal(maps, kp.read_maps(["crm:1", "crm:2"], site_code="kamsite02", client=client))
    assert list(maps["tier"]) == ["gold", "silver"]

    report = kam.run_line_magic("kam", f"forget gone --column visitor_code {site} --dry-run")
    assert (report.rows, report.valid, report.dry_run) == (2, 2, True)
    report = kam.run_cell_magic("kam", f"forget {site}", "kamv0001\nkamv0002\n")
    assert report.sent == 2 and report.operation == "forget_visitors"


def test_the_writers_get_key_only_when_given(kam, monkeypatch) -> None:
    from kameleoon_pandas.ipython import magics as magics_module

    calls: list[dict] = []

    def fake(df, **kwargs):
        calls.append(kwargs)
        return kp.PushReport(operation="fake", site_code="s")

    for name in ("push_events", "push_product_events", "push_maps"):
        monkeypatch.setattr(magics_module, name, fake)
    kam.user_ns["df"] = pd.DataFrame({"a": [1]})
    kam.run_line_magic("kam", "push events df --kind conversion goal_id=goal --site s")
    kam.run_line_magic("kam", "push events df --kind conversion --key order_id --site s")
    kam.run_line_magic("kam", "push products df --key order_id,line --site s --dry-run")
    kam.run_line_magic("kam", "push maps df --site s")
    kam.run_line_magic("kam", "push maps df --key-column id --ttl-hours 3 --site s")
    assert "key" not in calls[0] and calls[0]["goal_id"] == "goal"
    assert calls[0]["kind"] == "conversion" and calls[0]["site_code"] == "s"
    assert calls[1]["key"] == "order_id"
    assert calls[2]["key"] == ["order_id", "line"] and calls[2]["dry_run"] is True
    assert "key" not in calls[3] and "ttl_hours" not in calls[3]
    assert (calls[4]["key"], calls[4]["ttl_hours"]) == ("id", 3)


# -- mistakes raise UsageError; the API's failures raise the library's errors -------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "needs a subcommand"),
        ("nosuch a,b", "unknown subcommand 'nosuch'"),
        ("push", "needs what to push"),
        ("push rows df", "unknown 'rows'"),
        ("counters", "which EANs"),
        ("counters a --nosuch", "unrecognized arguments: --nosuch"),
        ("counters $missing", "no variable named 'missing'"),
        ("counters a --start soon", "--start 'soon' is not a time"),
        ('counters a --end "7 fortnights"', "unknown unit 'fortnights'"),
        ("feed a --previous many", "invalid int value"),
        ("feed a --site $eans", r"\$eans holds a list, not text"),
        ("push events nosuchframe --kind conversion", "no variable named 'nosuchframe'"),
        ("push events eans --kind conversion", "is a list, not a DataFrame"),
        ("push events frame goal_id", "not a rename NAME=COLUMN"),
        ("push events frame kind=type", "use --kind"),
        ("push events", "the following arguments are required: DF"),
        ("products a --client eans", "not a kp.Client"),
        ("products a -o 1abc", "not a Python variable name"),
        ("cache sometimes", "invalid choice"),
        ("panel", "the following arguments are required"),
    ],
)
def test_mistakes_raise_usage_error(kam, line: str, message: str) -> None:
    kam.user_ns.update(eans=["a", "b"], frame=pd.DataFrame({"a": [1]}))
    with pytest.raises(UsageError, match=message):
        kam.run_line_magic("kam", line)


def test_cell_bodies_where_none_is_taken(kam) -> None:
    with pytest.raises(UsageError, match="not both"):
        kam.run_cell_magic("kam", "products a,b --site s", "c\nd\n")
    with pytest.raises(UsageError, match="takes no cell body"):
        kam.run_cell_magic("kam", "sites", "a\n")


def test_help_prints_and_does_not_raise(kam, capsys) -> None:
    for line, expected in [
        ("--help", "counters"),
        ("help", "serve"),
        ("counters --help", "usage: %kam counters"),
        ("feed -h", "--previous N"),
        ("push --help", "events,products,maps"),
        ("push events --help", "NAME=COLUMN"),
        ("push maps --help", "--key-column"),
        ("serve --help", "--fault-rate"),
        ("cache --help", "clear"),
    ]:
        assert kam.run_line_magic("kam", line) is None
        out = capsys.readouterr().out
        assert expected in out, line
        assert "example:" in out or line in ("--help", "help", "push --help")
    kam.run_line_magic("pinfo", "%kam")  # %kam? pages the module's reference
    out = capsys.readouterr().out
    for subcommand in ("counters", "push events", "serve", "cache clear", "display_rows"):
        assert subcommand in out, subcommand


def test_a_library_validation_error_is_not_a_usage_error(kam, demo_client) -> None:
    kam.user_ns.update(c=demo_client, numbers=[4017000000000])
    with pytest.raises(kp.ValidationError):
        kam.run_line_magic("kam", "products numbers --client c")  # EANs must be text
    with pytest.raises(kp.ValidationError, match="freq"):
        kam.run_line_magic("kam", "counters a --freq often --client c")


def test_an_unreachable_api_raises_the_library_error(
    kam, closed_port, quick_connect_retries
) -> None:
    with kp.Client(site_code="kamsite", base_url=f"http://127.0.0.1:{closed_port}") as down:
        kam.user_ns["down"] = down
        with pytest.raises(kp.ConnectError):
            kam.run_line_magic("kam", "maps k1,k2 --client down")
        kp.client.set_default_client(down)  # the session's default client, too
        with pytest.raises(kp.ConnectError):
            kam.run_line_magic("kam", "maps k1")


def test_a_failing_server_raises_the_library_error(kam, make_client) -> None:
    with serve(fault_rate=1.0) as failing:
        kam.user_ns["c"] = make_client(failing, retry_budget=0)
        with pytest.raises(kp.APIError):
            kam.run_line_magic("kam", "maps k1 --client c --site s")
