"""The session side of ``%kam``: serve, sites, cache, ``%config`` traits, display, no secrets."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from IPython.utils.capture import capture_output
from pandas.testing import assert_frame_equal

import kameleoon_pandas as kp
from kameleoon_pandas.client import resolve_client, set_default_client

from .conftest import SECRET


def _everything(captured) -> str:
    """Everything a user would see of captured output: streams and rich outputs."""
    parts = [captured.stdout, captured.stderr]
    for output in captured.outputs:
        parts += [str(value) for value in output.data.values()]
    return "\n".join(parts)


# -- %kam serve ---------------------------------------------------------------------------------


def test_serve_points_the_session_at_an_emulator_until_stop(kam, magics, make_client) -> None:
    before = kp.Client(site_code="before", base_url="http://127.0.0.1:9")
    set_default_client(before)
    with capture_output() as captured:
        srv = kam.run_line_magic("kam", "serve --seed demo --seed-number 0 -o srv")
    assert kam.user_ns["srv"] is srv and srv.site_codes == ["demosite01", "demosite02"]
    text = _everything(captured)
    assert srv.url in text and "demosite01, demosite02" in text
    assert SECRET not in text

    default = resolve_client(None)
    assert default is not before
    assert (default.settings.base_url, default.site_codes) == (srv.url, srv.site_codes)
    assert kam.run_line_magic("kam", "sites") == ["demosite01", "demosite02"]

    eans = srv.state.identifiers("demosite01")["eans"][:3]
    got = kam.run_line_magic("kam", f"counters {','.join(eans)} --start 2d --freq 1D")
    direct = make_client(srv)
    today = pd.Timestamp.now(tz="UTC")
    start = got["window_start"].min()
    assert (
        today - pd.Timedelta(days=2, minutes=1)
        < start
        < today - pd.Timedelta(days=2) + pd.Timedelta(minutes=1)
    )
    expected = kp.read_product_counters(
        eans, start=start, end=got["window_end"].max(), freq="1D", client=direct
    )
    assert_frame_equal(got, expected)
    assert got["views"].sum() > 0

    with capture_output() as captured:
        assert kam.run_line_magic("kam", "serve --stop") is None
    assert "stopped" in captured.stdout
    assert resolve_client(None) is before  # the default client of before
    assert default.closed and magics._server is None
    with capture_output() as captured:
        kam.run_line_magic("kam", "serve --stop")
    assert "no emulator is running" in captured.stdout
    before.close()


def test_serve_again_replaces_the_emulator_and_unload_stops_it(kam, magics) -> None:
    with capture_output():
        first = kam.run_line_magic("kam", "serve --require-auth --latency-ms 1")
        assert first.options.require_auth and first.options.latency_ms == 1
        second = kam.run_line_magic("kam", "serve --port 0")
    assert second.url != first.url and not second.options.require_auth
    assert resolve_client(None).settings.base_url == second.url
    with pytest.warns(kp.KameleoonWarning, match="unknown"):  # the new one answers
        assert kam.run_line_magic("kam", "maps nokey --site s").empty
    kam.run_line_magic("unload_ext", "kameleoon_pandas")
    assert magics._server is None
    assert resolve_client(None).settings.base_url != second.url


def test_serve_switches_a_site_code_it_does_not_serve_and_restores_it(
    kam, magics, monkeypatch
) -> None:
    kam.run_line_magic("config", 'KameleoonMagics.site_code = "realsite"')
    with capture_output() as captured:
        kam.run_line_magic("kam", "serve --seed demo")
    assert "'demosite01' until --stop" in captured.stdout
    assert magics.site_code == "demosite01"
    frame = kam.run_line_magic("kam", "maps config:banner")
    assert list(frame["site_code"]) == ["demosite01"]
    with capture_output():
        kam.run_line_magic("kam", "serve --stop")
    assert magics.site_code == "realsite"


def test_a_custom_emulator_secret_is_never_printed(kam) -> None:
    with capture_output() as captured:
        srv = kam.run_line_magic("kam", "serve --client-secret s3cr3t-kam-value --require-auth")
        kam.run_line_magic("kam", "sites")
        kam.run_line_magic("kam", "serve --help")
        kam.run_line_magic("kam", "cache")
        kam.run_cell("%kam sites\nget_ipython().run_line_magic('kam', 'serve --stop')")
    assert srv.client_secret == "s3cr3t-kam-value"
    assert "s3cr3t-kam-value" not in _everything(captured)


# -- %kam cache ----------------------------------------------------------------------------------


def test_cache_on_serves_repeats_from_the_cache_then_clear_and_off(
    kam, demo_server, make_client, tmp_path
) -> None:
    set_default_client(make_client(demo_server, timeout=20.0))
    eans = demo_server.state.identifiers("demosite01")["eans"][:2]
    path = tmp_path / "answers.sqlite"
    with capture_output() as captured:
        kam.run_line_magic("kam", "cache")
        kam.run_line_magic("kam", f"cache on --path {path} --ttl 600")
    assert "cache off" in captured.stdout and f"cache on: {path}" in captured.stdout
    client = resolve_client(None)
    assert client.cache is not None and client.cache.ttl == 600
    assert client.settings.timeout == 20.0 and client.settings.base_url == demo_server.url

    first = kam.run_line_magic("kam", f"products {','.join(eans)}")
    assert (client.cache.hits, client.cache.misses) == (0, 1)
    again = kam.run_line_magic("kam", f"products {','.join(eans)}")
    assert client.cache.hits == 1
    assert_frame_equal(first, again)
    with capture_output() as captured:
        kam.run_line_magic("kam", "cache")
        kam.run_line_magic("kam", "cache on")
    assert "1 hits, 1 misses" in captured.stdout and "already on" in captured.stdout

    with capture_output() as captured:
        kam.run_line_magic("kam", "cache clear")
    assert "cache cleared" in captured.stdout
    kam.run_line_magic("kam", f"products {','.join(eans)}")
    assert (client.cache.hits, client.cache.misses) == (1, 2)  # fetched again

    with capture_output() as captured:
        kam.run_line_magic("kam", "cache off")
        kam.run_line_magic("kam", "cache clear")
    assert "cache off" in captured.stdout and "nothing to clear" in captured.stdout
    off = resolve_client(None)
    assert off.cache is None and off.settings.timeout == 20.0
    assert client.closed  # the one %kam cache on built
    assert SECRET not in _everything(captured)


def test_cache_on_uses_the_default_place(kam, demo_server, make_client, tmp_path) -> None:
    set_default_client(make_client(demo_server))
    with capture_output():
        kam.run_line_magic("kam", "cache on")
    path = resolve_client(None).settings.cache_path
    assert path == str(tmp_path / "cache" / "kameleoon-pandas" / "http-cache.sqlite")


# -- %config KameleoonMagics ---------------------------------------------------------------------


def test_config_traits_round_trip(kam, magics, demo_client, demo_server, caplog) -> None:
    assert (magics.site_code, magics.progress, magics.display_rows) == (None, None, None)
    kam.run_line_magic("config", 'KameleoonMagics.site_code = "demosite02"')
    kam.run_line_magic("config", "KameleoonMagics.progress = False")
    kam.run_line_magic("config", "KameleoonMagics.display_rows = 6")
    assert (magics.site_code, magics.progress, magics.display_rows) == ("demosite02", False, 6)
    with capture_output() as captured:
        kam.run_line_magic("config", "KameleoonMagics")
    assert "site_code" in captured.stdout and "demosite02" in captured.stdout
    assert "display_rows" in captured.stdout

    kam.user_ns["c"] = demo_client
    eans = demo_server.state.identifiers("demosite02")["eans"][:2]
    got = kam.run_line_magic("kam", f"products {','.join(eans)} --client c")
    assert set(got["site_code"]) == {"demosite02"}
    with pytest.warns(kp.KameleoonWarning, match="unknown"):  # the demo sites share no EAN
        got = kam.run_line_magic("kam", f"products {eans[0]} --client c --site demosite01")
    assert got.empty  # --site wins
    kam.run_line_magic("config", "KameleoonMagics.display_rows = 0")  # refused, as %config does
    assert magics.display_rows == 6 and "should not be less than 1" in caplog.text


def test_site_code_defaults_to_the_environment(shell, monkeypatch) -> None:
    monkeypatch.setenv("KAMELEOON_SITE_CODE", "envsite01")
    shell.run_line_magic("load_ext", "kameleoon_pandas")
    assert shell.magics_manager.registry["KameleoonMagics"].site_code == "envsite01"


def test_progress_trait_and_flag_reach_the_function(kam, magics, monkeypatch) -> None:
    from kameleoon_pandas.ipython import magics as magics_module

    seen: list = []
    monkeypatch.setattr(
        magics_module, "read_maps", lambda keys, **kw: seen.append(kw) or pd.DataFrame()
    )
    kam.run_line_magic("kam", "maps k")
    magics.progress = True
    kam.run_line_magic("kam", "maps k")
    kam.run_line_magic("kam", "maps k --no-progress --site s2")
    assert [kw["progress"] for kw in seen] == [None, True, False]
    assert [kw["site_code"] for kw in seen] == [None, None, "s2"]
    assert all(kw["client"] is None for kw in seen)


# -- display_rows --------------------------------------------------------------------------------


def test_display_rows_limits_what_is_shown_not_what_is_returned(kam, demo_client, ids) -> None:
    kam.user_ns.update(c=demo_client, eans=ids["eans"][:3])
    kam.run_line_magic("config", "KameleoonMagics.display_rows = 4")
    line = "%kam counters $eans --start 3d --freq 6h --client c -o counters"
    with capture_output() as captured:
        result = kam.run_cell(line)
    result.raise_error()
    counters = kam.user_ns["counters"]
    assert result.result is counters and len(counters) >= 36
    shown = captured.stdout
    assert f"[{len(counters)} rows x 7 columns]" in shown
    assert len([ln for ln in shown.splitlines() if "demosite01" in ln]) == 4

    with capture_output() as captured:
        kam.run_cell("counters")  # the same frame in a later cell: pandas' own display
    assert len([ln for ln in captured.stdout.splitlines() if "demosite01" in ln]) == len(counters)

    frame = kam.run_line_magic("kam", "counters $eans --start 3d --freq 6h --client c")
    html = kam.display_formatter.format(frame)[0]["text/html"]
    assert html.count("<tr") == 1 + 4 + 1  # header, 4 rows, the "..." row
    other = frame.copy()
    assert kam.display_formatter.format(other)[0]["text/html"].count("<tr") == 1 + len(other)

    kam.run_line_magic("unload_ext", "kameleoon_pandas")  # the formatters are given back
    assert pd.DataFrame not in kam.display_formatter.formatters["text/html"].type_printers


def test_no_secret_in_any_output(kam, demo_server, make_client) -> None:
    set_default_client(make_client(demo_server))
    with capture_output() as captured:
        for cell in (
            "%kam sites",
            "%kam cache",
            "%config KameleoonMagics",
            "%kam maps config:banner",
            "%kam --help",
            "%kam nosuch",
            "%kam maps k --client nosuch",
            "%kam panel counters",
            "kp_client = __import__('kameleoon_pandas').client.resolve_client(None); kp_client",
        ):
            kam.run_cell(cell)
    text = _everything(captured)
    assert "UsageError" in text and "nosuch" in text  # the errors were shown
    assert SECRET not in text
    assert os.environ.get("KAMELEOON_CLIENT_SECRET") is None
