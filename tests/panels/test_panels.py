"""The panels against the demo emulator: set controls, click Load, wait, look at the output."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import threading

import ipywidgets as widgets
import pytest

from kameleoon_pandas.demo import demo_identifiers
from kameleoon_pandas.panels import CountersPanel, VisitorFeedPanel


@pytest.fixture(scope="module")
def ids(demo_server) -> dict[str, list[str]]:
    return demo_identifiers(demo_server.state, "demosite01", visitors=50)


def _kinds(outputs) -> list[str]:
    return [next(k for k in o["data"] if k != "text/plain") for o in outputs]


def _png(output) -> bytes:
    return base64.b64decode(output["data"]["image/png"])


def test_counters_panel_loads_plot_and_table(demo_client, ids) -> None:
    panel = CountersPanel(client=demo_client, eans=ids["eans"])
    assert isinstance(panel, widgets.VBox)
    assert list(panel.site_code.options) == ["demosite01", "demosite02"]
    panel.preset.value = "Last 7 days"
    panel.window_size.value = "1 day"
    panel.metric.value = "bought_quantity"
    panel.top_n.value = 5
    panel.load_button.click()
    frame = panel.wait()

    assert "Error" not in panel.status.value, panel.status.value
    assert _kinds(panel.output.outputs) == ["image/png", "text/html"]
    assert _png(panel.output.outputs[0]).startswith(b"\x89PNG")
    table = panel.output.outputs[1]["data"]["text/html"]
    assert table.count("<tr") == 1 + 5  # header and the top 5
    assert frame is panel.frame and frame["window_start"].nunique() == 7
    assert set(frame["ean"]) == set(ids["eans"])
    assert frame["site_code"].eq("demosite01").all()
    assert "200 EANs × 7 windows" in panel.status.value
    assert not panel.load_button.disabled
    assert panel.progress.layout.visibility == "hidden"


def test_counters_panel_follows_the_site_code_and_custom_range(demo_client, demo_server) -> None:
    eans = demo_identifiers(demo_server.state, "demosite02")["eans"][:20]
    panel = CountersPanel(client=demo_client, eans=eans)
    panel.site_code.value = "demosite02"
    panel.preset.value = "Custom range"
    assert not panel.start_date.disabled
    today = panel.end_date.value
    panel.start_date.value = today - dt.timedelta(days=2)
    panel.window_size.value = "6 hours"
    panel.load_button.click()
    frame = panel.wait()
    assert frame is not None, panel.status.value
    assert frame["site_code"].eq("demosite02").all()
    assert frame["window_start"].nunique() == 3 * 4  # three whole days in 6-hour windows
    assert frame["views"].sum() > 0


def test_counters_panel_shows_errors_in_the_status_line(demo_client, demo_server) -> None:
    panel = CountersPanel(client=demo_client)
    panel.load_button.click()  # no EANs
    assert panel.wait() is None
    assert "Error" in panel.status.value and "EANs" in panel.status.value
    assert panel.output.outputs == ()

    # A failing call: the server refuses more than 100 characters in an EAN.
    panel.eans.value = "x" * 101
    panel.load_button.click()
    assert panel.wait() is None
    assert "ValidationError" in panel.status.value or "BadRequest" in panel.status.value
    assert not panel.load_button.disabled


def test_site_codes_come_from_argument_client_or_environment(demo_client, monkeypatch) -> None:
    assert list(CountersPanel(demo_client, site_codes=["a", "b"]).site_code.options) == ["a", "b"]
    assert list(VisitorFeedPanel(demo_client).site_code.options) == demo_client.site_codes
    monkeypatch.setenv("KAMELEOON_SITE_CODES", "s1, s2")
    assert list(VisitorFeedPanel().site_code.options) == ["s1", "s2"]
    monkeypatch.delenv("KAMELEOON_SITE_CODES")
    empty = CountersPanel()
    assert empty.site_code.options == () and "KAMELEOON_SITE_CODES" in empty.status.value


def test_visitor_feed_panel_draws_timeline_and_events(demo_client, ids) -> None:
    panel = VisitorFeedPanel(client=demo_client)
    code = ids["visitor_codes"][0]
    panel.visitor_code.value = code
    panel.kinds.value = ("page", "conversion", "static_data")
    panel.previous_visits.value = 3
    panel.load_button.click()
    feed = panel.wait()
    assert feed is not None, panel.status.value
    assert set(feed["kind"]) <= {"page", "conversion", "static_data"}
    assert feed["visitor_code"].eq(code).all()
    assert feed["visit"].max() <= 3
    assert _kinds(panel.output.outputs) == ["image/png", "text/html"]
    html = panel.output.outputs[1]["data"]["text/html"]
    assert html.count("<tr") == 1 + len(feed)
    assert f"{len(feed):,} events" in panel.status.value


def test_visitor_feed_panel_by_mapping_value(demo_client, ids) -> None:
    panel = VisitorFeedPanel(client=demo_client)
    panel.by.value = "mapping_value"
    panel.visitor_code.value = ids["mapping_values"][0]
    panel.load_button.click()
    feed = panel.wait()
    assert feed is not None and len(feed) > 0, panel.status.value
    assert _kinds(panel.output.outputs) == ["image/png", "text/html"]


def test_visitor_feed_panel_unknown_visitor_and_missing_code(demo_client) -> None:
    panel = VisitorFeedPanel(client=demo_client, visitor_code="nobody-at-all")
    panel.load_button.click()
    feed = panel.wait()
    assert feed is not None and feed.empty
    assert "no events" in panel.status.value and panel.output.outputs == ()

    panel.visitor_code.value = "  "
    panel.load_button.click()
    assert panel.wait() is None and "enter a visitor code" in panel.status.value


def test_panels_never_show_the_secret(demo_client, demo_server, ids) -> None:
    secret = demo_server.client_secret
    counters = CountersPanel(client=demo_client, eans=ids["eans"][:10])
    counters.load_button.click()
    counters.wait()
    feed = VisitorFeedPanel(client=demo_client, visitor_code=ids["visitor_codes"][0])
    feed.load_button.click()
    feed.wait()
    for panel in (counters, feed):
        states = widgets.Widget.get_manager_state(drop_defaults=False)
        text = json.dumps(states, default=str) + repr(panel) + json.dumps(panel.output.outputs)
        assert secret not in text


def test_inside_a_running_loop_the_result_is_shown_on_the_loop_thread(demo_client, ids) -> None:
    """As in a kernel: Load returns at once, and the panel updates from the loop, not the worker."""
    panel = VisitorFeedPanel(client=demo_client, visitor_code=ids["visitor_codes"][1])
    shown_on: list[str] = []
    panel.output.observe(lambda _: shown_on.append(threading.current_thread().name), "outputs")

    async def main() -> None:
        panel.load_button.click()
        assert panel.load_button.disabled  # the click returned while the load runs
        while not panel.future.done() or panel.load_button.disabled:
            await asyncio.sleep(0.01)  # the loop stays free meanwhile

    asyncio.run(main())
    assert shown_on == [threading.current_thread().name]
    assert [o["output_type"] for o in panel.output.outputs] == ["display_data"] * 2


def test_wait_inside_a_running_loop_shows_the_result_and_keeps_the_final_status(
    demo_client, ids
) -> None:
    """``panel.load(); panel.wait()`` in one notebook cell: the loop is blocked meanwhile."""
    panel = CountersPanel(client=demo_client, eans=ids["eans"][:30])

    async def main() -> None:
        panel.load()
        frame = panel.wait()  # blocks the loop: the panel shows the result from here
        assert frame is not None and panel.output.outputs
        await asyncio.sleep(0.05)  # now the queued progress updates run: they must not win

    asyncio.run(main())
    assert panel.status.value.startswith("demosite01: 30 EANs"), panel.status.value
    assert panel.progress.layout.visibility == "hidden"
